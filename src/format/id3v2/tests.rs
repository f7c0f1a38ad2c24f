//! Unit and property tests of the ID3v2 reader and writer.

use super::read::{Parsed, deunsync, parse_tag};
use super::{build, keys, skip_len, syncsafe, to_syncsafe};
use crate::format::{PictureRef, Segment, Tag, TagValue, limits};
use proptest::prelude::*;
use std::io::Cursor;

/// Concatenate segments; Art segments are filled from `art`.
fn assemble(segs: &[Segment], art: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segs {
        match s {
            Segment::Inline(b) => out.extend_from_slice(b),
            Segment::Art { offset, len, .. } => {
                out.extend_from_slice(&art[*offset as usize..(*offset + *len) as usize])
            }
            Segment::OggRenumber(_) => unreachable!("only Ogg renumbers pages"),
            Segment::Backing { .. } => panic!("no backing in a tag"),
        }
    }
    out
}

fn parse(buf: &[u8]) -> Parsed {
    let mut p = Parsed::default();
    parse_tag(buf, &mut p).unwrap();
    p
}

fn texts(p: &Parsed) -> Vec<(String, String)> {
    p.tags
        .iter()
        .filter_map(|t| match &t.value {
            TagValue::Text(v) => Some((t.key.clone(), v.clone())),
            TagValue::Binary(_) => None,
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Unsynchronise: insert 0x00 after every 0xFF that precedes 0x00 or >= 0xE0, and after a final 0xFF.
fn unsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        out.push(b);
        if b == 0xff && data.get(i + 1).is_none_or(|&n| n == 0 || n >= 0xe0) {
            out.push(0);
        }
    }
    out
}

fn frame23(id: &[u8; 4], flags: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut f = id.to_vec();
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&flags);
    f.extend_from_slice(body);
    f
}

fn frame24(id: &[u8; 4], flags: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut f = id.to_vec();
    f.extend_from_slice(&to_syncsafe(body.len() as u32));
    f.extend_from_slice(&flags);
    f.extend_from_slice(body);
    f
}

fn tag(major: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut t = vec![b'I', b'D', b'3', major, 0, flags];
    t.extend_from_slice(&to_syncsafe(body.len() as u32));
    t.extend_from_slice(body);
    t
}

fn latin1(s: &str) -> Vec<u8> {
    let mut b = vec![0u8];
    b.extend(s.chars().map(|c| c as u8));
    b
}

#[test]
fn v23_tag_level_unsync_and_extended_header() {
    // "ÿà" in Latin-1 is FF E0: a false sync that unsynchronisation must escape.
    let mut frames = frame23(b"TIT2", [0, 0], &latin1("a\u{ff}\u{e0}b\u{ff}"));
    frames.extend(frame23(b"TPE1", [0, 0], &latin1("Artist")));
    let mut body = vec![0, 0, 0, 6, 0, 0, 0, 0, 0, 0]; // extended header, no CRC
    body.extend(frames);
    body.extend([0u8; 16]); // padding
    let raw = unsync(&body);
    assert!(raw.len() > body.len(), "fixture must contain false syncs");
    assert_eq!(deunsync(&raw), body);
    let p = parse(&tag(3, 0x80 | 0x40, &raw));
    assert_eq!(
        texts(&p),
        pairs(&[("title", "a\u{ff}\u{e0}b\u{ff}"), ("artist", "Artist")])
    );
}

#[test]
fn v24_frame_unsync_data_length_grouping_and_ext_header() {
    let text = latin1("x\u{ff}\u{f0}y");
    let mut body = Vec::new();
    body.extend_from_slice(&to_syncsafe(text.len() as u32));
    body.extend(unsync(&text));
    let mut frames = frame24(b"TIT2", [0, 0x03], &body);
    let mut grouped = vec![7u8];
    grouped.extend(latin1("Grouped"));
    frames.extend(frame24(b"TALB", [0, 0x40], &grouped));
    let mut tagbody = vec![0, 0, 0, 6, 1, 0]; // v2.4 extended header (size includes itself)
    tagbody.extend(frames);
    let p = parse(&tag(4, 0x40, &tagbody));
    assert_eq!(
        texts(&p),
        pairs(&[("title", "x\u{ff}\u{f0}y"), ("album", "Grouped")])
    );
}

#[test]
fn compressed_and_encrypted_frames_are_skipped() {
    let mut f3 = frame23(b"TIT2", [0, 0x80], &[0, 0, 0, 9, 0x78, 0x9c, 1, 2, 3]);
    f3.extend(frame23(b"TPE1", [0, 0x40], &[1, 2, 3, 4]));
    f3.extend(frame23(b"TALB", [0, 0], &latin1("kept")));
    let p = parse(&tag(3, 0, &f3));
    assert_eq!(texts(&p), pairs(&[("album", "kept")]));
    assert_eq!(p.skipped, 2);
    let mut f4 = frame24(b"TIT2", [0, 0x09], &[0, 0, 0, 9, 0x78, 0x9c, 1, 2, 3]);
    f4.extend(frame24(b"TPE1", [0, 0x04], &[1, 2, 3, 4]));
    f4.extend(frame24(b"TALB", [0, 0], &latin1("kept")));
    let p = parse(&tag(4, 0, &f4));
    assert_eq!(texts(&p), pairs(&[("album", "kept")]));
}

#[test]
fn v22_frames_upgrade() {
    let f = |id: &[u8; 3], body: &[u8]| {
        let mut v = id.to_vec();
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    };
    let mut frames = f(b"TT2", &latin1("T"));
    frames.extend(f(b"TP1", &latin1("A")));
    frames.extend(f(b"TRK", &latin1("2/10")));
    frames.extend(f(b"COM", b"\x00engdesc\x00text"));
    frames.extend(f(b"PIC", b"\x00PNG\x03cover\x00\x89PNGDATA"));
    frames.extend(f(b"UFI", b"owner\x00id"));
    frames.extend(f(b"CRM", b"whatever"));
    let p = parse(&tag(2, 0, &frames));
    assert_eq!(
        texts(&p),
        pairs(&[
            ("title", "T"),
            ("artist", "A"),
            ("tracknumber", "2"),
            ("tracktotal", "10"),
            ("comment:desc", "text"),
        ])
    );
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].mime, "image/png");
    assert_eq!(p.pictures[0].picture_type, 3);
    assert_eq!(p.pictures[0].description, "cover");
    assert_eq!(p.pictures[0].data, b"\x89PNGDATA");
    let ufid = p.tags.iter().find(|t| t.key == "id3:ufid").unwrap();
    assert_eq!(ufid.value, TagValue::Binary(b"owner\x00id".to_vec()));
}

#[test]
fn encodings_multi_values_dates_genres() {
    let utf16: Vec<u8> = {
        let mut b = vec![1u8];
        for s in ["Ä", "Б"] {
            b.extend_from_slice(&[0xff, 0xfe]);
            for u in s.encode_utf16() {
                b.extend_from_slice(&u.to_le_bytes());
            }
            b.extend_from_slice(&[0, 0]);
        }
        b
    };
    let mut frames = frame23(b"TPE1", [0, 0], &utf16);
    let mut be = vec![2u8];
    for u in "ß".encode_utf16() {
        be.extend_from_slice(&u.to_be_bytes());
    }
    frames.extend(frame23(b"TALB", [0, 0], &be));
    frames.extend(frame23(b"TYER", [0, 0], &latin1("1999")));
    frames.extend(frame23(b"TDAT", [0, 0], &latin1("3112")));
    frames.extend(frame23(b"TIME", [0, 0], &latin1("2359")));
    frames.extend(frame23(b"TORY", [0, 0], &latin1("1970")));
    frames.extend(frame23(b"TCON", [0, 0], &latin1("(17)(8)")));
    frames.extend(frame23(b"TSIZ", [0, 0], &latin1("1234")));
    let p = parse(&tag(3, 0, &frames));
    assert_eq!(
        texts(&p),
        pairs(&[
            ("artist", "Ä"),
            ("artist", "Б"),
            ("album", "ß"),
            ("genre", "Rock"),
            ("genre", "Jazz"),
            ("date", "1999-12-31T23:59"),
            ("originaldate", "1970"),
        ])
    );
}

#[test]
fn v24_with_big_endian_frame_sizes() {
    let long = "y".repeat(300);
    let mut frames = frame23(b"TIT2", [0, 0], &latin1(&long));
    frames.extend(frame23(b"TPE1", [0, 0], &latin1("A")));
    let p = parse(&tag(4, 0, &frames));
    assert_eq!(texts(&p), pairs(&[("title", &long), ("artist", "A")]));
}

fn pic(art_id: i64, len: u64) -> PictureRef {
    PictureRef {
        art_id,
        picture_type: 3,
        mime: "image/png".into(),
        description: "Front".into(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len,
    }
}

#[test]
fn build_round_trips_mapped_keys() {
    let tags = vec![
        Tag::text("title", "T"),
        Tag::text("artist", "A1"),
        Tag::text("tracknumber", "3"),
        Tag::text("artist", "A2"),
        Tag::text("tracktotal", "12"),
        Tag::text("comment", "c1"),
        Tag::text("comment:itunnorm", "norm"),
        Tag::text("lyrics", "la la"),
        Tag::text("musicbrainz_albumid", "mbid"),
        Tag::text("my custom", "v"),
        Tag::text("id3:tflt", "MPG/3"),
        Tag {
            key: "id3:priv".into(),
            value: TagValue::Binary(b"owner\x00\x01\x02".to_vec()),
        },
    ];
    let art = b"\x89PNG0123456789".to_vec();
    let segs = build(&tags, &[pic(5, art.len() as u64)], limits::MAX_HEADER_BYTES);
    assert!(segs.contains(&Segment::Art {
        art_id: 5,
        offset: 0,
        len: art.len() as u64
    }));
    let bytes = assemble(&segs, &art);
    assert_eq!(super::read::tag_len(&bytes), Some(bytes.len()));
    assert!(bytes.windows(8).any(|w| w == b"iTunNORM"));
    assert!(bytes.windows(20).any(|w| w == b"MusicBrainz Album Id"));
    let p = parse(&bytes);
    let mut want = tags.clone();
    want.sort_by(|a, b| a.key.cmp(&b.key));
    let mut got = p.tags.clone();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, want);
    assert_eq!(p.pictures[0].data, art);
    assert_eq!(p.pictures[0].description, "Front");
}

#[test]
fn organization_alias_and_caps() {
    let tags = vec![Tag::text("organization", "Lbl")];
    let p = parse(&assemble(&build(&tags, &[], 1 << 20), &[]));
    assert_eq!(texts(&p), pairs(&[("label", "Lbl")]));
    // A picture that does not fit under the cap is left out; text that fits stays.
    let segs = build(&[Tag::text("title", "t")], &[pic(1, 5000)], 1000);
    assert!(segs.iter().all(|s| !matches!(s, Segment::Art { .. })));
    let p = parse(&assemble(&segs, &[]));
    assert_eq!(texts(&p), pairs(&[("title", "t")]));
}

#[test]
fn truncated_and_corrupt_tags_do_not_panic() {
    let tags = vec![Tag::text("title", "Title"), Tag::text("comment:x", "y")];
    let art = vec![0xffu8; 40];
    let bytes = assemble(&build(&tags, &[pic(1, 40)], 1 << 20), &art);
    for cut in 0..bytes.len() {
        let mut p = Parsed::default();
        let _ = parse_tag(&bytes[..cut], &mut p);
    }
    for i in 10..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xa5;
        let mut p = Parsed::default();
        let _ = parse_tag(&b, &mut p);
    }
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "title",
            "artist",
            "album",
            "albumartist",
            "date",
            "composer",
            "comment",
            "comment:notes",
            "lyrics",
            "lyrics:verse",
            "isrc",
            "label",
            "musicbrainz_artistid",
            "id3:town",
        ])
        .prop_map(str::to_owned),
        "[a-z][a-z0-9_ ]{0,14}".prop_filter("special keys", |k| {
            !matches!(
                k.as_str(),
                "tracknumber"
                    | "tracktotal"
                    | "discnumber"
                    | "disctotal"
                    | "organization"
                    | "genre"
            )
        }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_tags_round_trip(
        tags in prop::collection::vec(
            (key_strategy(), "[^\u{0}]{1,40}").prop_map(|(k, v)| Tag { key: k, value: TagValue::Text(v) }),
            0..24),
        track in prop::option::of((1u32..100, prop::option::of(1u32..100))),
        bin in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..3),
        npics in 0usize..3,
    ) {
        let mut tags = tags;
        if let Some((n, t)) = track {
            tags.push(Tag::text("tracknumber", &n.to_string()));
            if let Some(t) = t {
                tags.push(Tag::text("tracktotal", &t.to_string()));
            }
        }
        for b in bin {
            tags.push(Tag { key: "id3:priv".into(), value: TagValue::Binary(b) });
        }
        let art: Vec<u8> = (0..=255u8).collect();
        let pics: Vec<PictureRef> = (0..npics).map(|i| pic(i as i64, 10 + i as u64 * 50)).collect();
        let segs = build(&tags, &pics, limits::MAX_HEADER_BYTES);
        let bytes = assemble(&segs, &art);
        prop_assert_eq!(segs.iter().map(Segment::len).sum::<u64>(), bytes.len() as u64);
        let p = parse(&bytes);
        let mut want = tags.clone();
        want.sort_by(|a, b| a.key.cmp(&b.key));
        let mut got = p.tags.clone();
        got.sort_by(|a, b| a.key.cmp(&b.key));
        prop_assert_eq!(got, want);
        prop_assert_eq!(p.pictures.len(), npics);
        for (i, q) in p.pictures.iter().enumerate() {
            prop_assert_eq!(&q.data[..], &art[..10 + i * 50]);
        }
    }

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..400), major in 2u8..5, flags in any::<u8>()) {
        let mut p = Parsed::default();
        let _ = parse_tag(&tag(major, flags, &body), &mut p);
        prop_assert!(p.tags.len() <= limits::MAX_TAGS);
    }
}

#[test]
fn genre_values_resolve() {
    assert_eq!(keys::resolve_genre("(52)"), vec!["Electronic"]);
}

#[test]
fn syncsafe_round_trip() {
    for v in [0u32, 1, 127, 128, 300_000, (1 << 28) - 1] {
        assert_eq!(syncsafe(to_syncsafe(v)), v);
    }
}

#[test]
fn skips_tag_with_footer() {
    let mut f = b"ID3\x04\x00\x10".to_vec();
    f.extend_from_slice(&to_syncsafe(5));
    f.extend_from_slice(&[0; 5]);
    f.extend_from_slice(b"3DI\x04\x00\x10\x00\x00\x00\x05");
    f.extend_from_slice(b"fLaC");
    assert_eq!(skip_len(&mut Cursor::new(f)).unwrap(), 25);
}
