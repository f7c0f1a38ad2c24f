use super::boxes::{self, Node, be32, be64};
use super::*;
use crate::format::{NoArt, Picture, Tag, TagValue};
use proptest::prelude::*;
use std::io::Cursor;

const AUDIO: &[u8] = b"AUDIO-FRAMES-0123456789-AUDIO-FRAMES-abcdefghij";

fn data(type_code: u32, value: &[u8]) -> Node {
    let mut p = type_code.to_be_bytes().to_vec();
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(value);
    Node::raw(b"data", p)
}

fn item(kind: &[u8; 4], datas: Vec<Node>) -> Node {
    Node::container(kind, Vec::new(), datas)
}

fn freeform(mean: &str, name: &str, datas: Vec<Node>) -> Node {
    let mut kids = vec![
        Node::raw(b"mean", [&[0u8; 4][..], mean.as_bytes()].concat()),
        Node::raw(b"name", [&[0u8; 4][..], name.as_bytes()].concat()),
    ];
    kids.extend(datas);
    item(b"----", kids)
}

fn hdlr(kind: &[u8; 4]) -> Node {
    let mut p = vec![0u8; 8];
    p.extend_from_slice(kind);
    p.extend_from_slice(&[0; 13]);
    Node::raw(b"hdlr", p)
}

fn offsets_box(wide: bool, offs: &[u64]) -> Node {
    let mut p = vec![0u8; 4];
    p.extend_from_slice(&(offs.len() as u32).to_be_bytes());
    for &o in offs {
        if wide {
            p.extend_from_slice(&o.to_be_bytes());
        } else {
            p.extend_from_slice(&(o as u32).to_be_bytes());
        }
    }
    Node::raw(if wide { b"co64" } else { b"stco" }, p)
}

fn trak(handler: &[u8; 4], offs: &[u64], wide: bool) -> Node {
    let stbl = Node::container(
        b"stbl",
        vec![],
        vec![Node::raw(b"stsd", vec![0; 16]), offsets_box(wide, offs)],
    );
    let minf = Node::container(b"minf", vec![], vec![stbl]);
    let mdia = Node::container(
        b"mdia",
        vec![],
        vec![Node::raw(b"mdhd", vec![0; 24]), hdlr(handler), minf],
    );
    Node::container(b"trak", vec![], vec![Node::raw(b"tkhd", vec![0; 84]), mdia])
}

struct Spec {
    moov_first: bool,
    /// Tracks: handler and chunk offsets relative to the mdat payload.
    traks: Vec<([u8; 4], Vec<u64>)>,
    items: Vec<Node>,
    /// Extra `udta` children kept verbatim (e.g. chapters).
    udta_extra: Vec<Node>,
    moov_extra: Vec<Node>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            moov_first: true,
            traks: vec![(*b"soun", vec![0, 20])],
            items: vec![],
            udta_extra: vec![],
            moov_extra: vec![],
        }
    }
}

fn ftyp() -> Vec<u8> {
    Node::raw(b"ftyp", b"M4A \0\0\0\0M4A mp42isom".to_vec()).to_bytes()
}

fn moov_for(spec: &Spec, payload_at: u64) -> Node {
    let mut kids = vec![Node::raw(b"mvhd", vec![0; 100])];
    for (h, rel) in &spec.traks {
        let abs: Vec<u64> = rel.iter().map(|r| payload_at + r).collect();
        kids.push(trak(h, &abs, false));
    }
    let mut udta = vec![];
    if !spec.items.is_empty() {
        udta.push(ilst::meta_box(spec.items.clone()));
    }
    udta.extend(spec.udta_extra.clone());
    if !udta.is_empty() {
        kids.push(Node::container(b"udta", vec![], udta));
    }
    kids.extend(spec.moov_extra.clone());
    Node::container(b"moov", vec![], kids)
}

/// A small structurally valid MP4 file (fake audio frames).
fn sample(spec: &Spec) -> Vec<u8> {
    let ftyp = ftyp();
    let free = Node::raw(b"free", vec![0; 8]).to_bytes();
    let moov_len = moov_for(spec, 0).size();
    let mut f = ftyp.clone();
    let payload_at =
        ftyp.len() as u64 + free.len() as u64 + if spec.moov_first { moov_len } else { 0 } + 8;
    let moov = moov_for(spec, payload_at).to_bytes();
    if spec.moov_first {
        f.extend_from_slice(&moov);
    }
    f.extend_from_slice(&free);
    f.extend_from_slice(&((AUDIO.len() + 8) as u32).to_be_bytes());
    f.extend_from_slice(b"mdat");
    f.extend_from_slice(AUDIO);
    if !spec.moov_first {
        f.extend_from_slice(&moov);
    }
    f
}

fn probe_bytes(f: &[u8], ext: &str) -> Result<Probe, FormatError> {
    probe(&mut Cursor::new(f), f.len() as u64, ext)
}

fn pic_ref(art_id: i64, mime: &str, len: usize) -> PictureRef {
    PictureRef {
        art_id,
        picture_type: 3,
        mime: mime.into(),
        description: String::new(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len: len as u64,
    }
}

fn synth(p: &Probe, tags: &[Tag], pics: &[PictureRef]) -> Vec<Segment> {
    synthesize(&SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags,
        pictures: pics,
        art: &NoArt,
    })
    .unwrap()
}

/// Concatenate segments: art bytes from `arts` (by id), backing from `file`.
fn assemble(segs: &[Segment], file: &[u8], arts: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segs {
        match s {
            Segment::Inline(b) => out.extend_from_slice(b),
            Segment::Art {
                art_id,
                offset,
                len,
            } => {
                let a = &arts.iter().find(|(id, _)| id == art_id).unwrap().1;
                out.extend_from_slice(&a[*offset as usize..(*offset + *len) as usize]);
            }
            Segment::Backing { offset, len } => {
                out.extend_from_slice(&file[*offset as usize..(*offset + *len) as usize])
            }
        }
    }
    out
}

/// Every chunk offset of every track of a whole file, absolute.
fn all_offsets(f: &[u8]) -> Vec<u64> {
    let mut pos = 0;
    while pos < f.len() {
        let (kind, _, size) = boxes::header(&f[pos..]).unwrap();
        if &kind == b"moov" {
            let moov = Node::parse(&f[pos..pos + size]).unwrap();
            let mut v = vec![];
            boxes::for_each_stbl(&moov, &mut |stbl| {
                for k in stbl.kids() {
                    let wide = &k.kind == b"co64";
                    if wide || &k.kind == b"stco" {
                        v.extend(boxes::chunk_offsets(k.payload(), wide).unwrap());
                    }
                }
            });
            return v;
        }
        pos += size;
    }
    panic!("no moov");
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::text(k, v)
}

fn texts(tags: &[Tag], key: &str) -> Vec<String> {
    tags.iter()
        .filter(|t| t.key == key)
        .filter_map(|t| match &t.value {
            TagValue::Text(s) => Some(s.clone()),
            TagValue::Binary(_) => None,
        })
        .collect()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

#[test]
fn probe_maps_every_kind_of_item() {
    let items = vec![
        item(b"\xa9nam", vec![data(1, b"Title")]),
        item(b"\xa9ART", vec![data(1, b"A"), data(2, &utf16("B\u{e9}"))]),
        item(b"trkn", vec![data(0, &[0, 0, 0, 3, 0, 9, 0, 0])]),
        item(b"disk", vec![data(0, &[0, 0, 0, 0, 0, 2])]),
        item(b"tmpo", vec![data(21, &[0, 120])]),
        item(b"cpil", vec![data(21, &[1])]),
        item(b"pgap", vec![data(21, &[0])]),
        item(b"gnre", vec![data(0, &[0, 9])]),
        freeform(
            "com.apple.iTunes",
            "MusicBrainz Album Id",
            vec![data(1, b"mbid")],
        ),
        freeform(
            "com.apple.iTunes",
            "replaygain_track_gain",
            vec![data(1, b"-6.5 dB")],
        ),
        freeform(
            "com.apple.iTunes",
            "iTunSMPB",
            vec![data(1, b" 00000000 00000840")],
        ),
        freeform("org.example", "thing", vec![data(1, b"x")]),
        item(b"stik", vec![data(21, &[2])]),
        item(
            b"covr",
            vec![
                data(13, b"\xff\xd8\xffJPEG"),
                data(0, b"\x89PNG\r\n\x1a\nPNG"),
            ],
        ),
    ];
    let f = sample(&Spec {
        items,
        ..Spec::default()
    });
    let p = probe_bytes(&f, "m4a").unwrap();
    assert_eq!(p.container, Container::M4a);
    assert_eq!(&f[p.audio_offset as usize..][..p.audio_len as usize], AUDIO);
    assert_eq!(texts(&p.tags, "title"), ["Title"]);
    assert_eq!(texts(&p.tags, "artist"), ["A", "B\u{e9}"]);
    assert_eq!(texts(&p.tags, "tracknumber"), ["3"]);
    assert_eq!(texts(&p.tags, "tracktotal"), ["9"]);
    assert!(texts(&p.tags, "discnumber").is_empty());
    assert_eq!(texts(&p.tags, "disctotal"), ["2"]);
    assert_eq!(texts(&p.tags, "bpm"), ["120"]);
    assert_eq!(texts(&p.tags, "compilation"), ["1"]);
    assert_eq!(texts(&p.tags, "gapless"), ["0"]);
    assert_eq!(texts(&p.tags, "genre"), ["Jazz"]);
    assert_eq!(texts(&p.tags, "musicbrainz_albumid"), ["mbid"]);
    assert_eq!(texts(&p.tags, "replaygain_track_gain"), ["-6.5 dB"]);
    let raw: Vec<&str> = p
        .tags
        .iter()
        .filter(|t| matches!(t.value, TagValue::Binary(_)))
        .map(|t| t.key.as_str())
        .collect();
    assert_eq!(
        raw,
        [
            "mp4:----:com.apple.itunes:itunsmpb",
            "mp4:----:org.example:thing",
            "mp4:stik"
        ]
    );
    assert_eq!(p.pictures.len(), 2);
    assert_eq!(p.pictures[0].mime, "image/jpeg");
    assert_eq!(p.pictures[1].mime, "image/png");
    assert_eq!(p.pictures[1].data, b"\x89PNG\r\n\x1a\nPNG");
    assert!(p.pictures.iter().all(|p: &Picture| p.picture_type == 3));
    // The stored moov no longer holds the iTunes metadata.
    let moov = format::structural(&p.structural, KIND_MOOV).unwrap();
    assert!(!moov.windows(4).any(|w| w == b"ilst"));
}

use crate::format;

#[test]
fn raw_items_and_chapters_survive_byte_exact() {
    let smpb = freeform(
        "com.apple.iTunes",
        "iTunSMPB",
        vec![data(1, b" 00000000 00000840")],
    );
    let stik = item(b"stik", vec![data(21, &[2])]);
    let chpl = Node::raw(
        b"chpl",
        b"\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\x03One".to_vec(),
    );
    let f = sample(&Spec {
        items: vec![
            item(b"\xa9nam", vec![data(1, b"T")]),
            smpb.clone(),
            stik.clone(),
        ],
        udta_extra: vec![chpl.clone()],
        ..Spec::default()
    });
    let p = probe_bytes(&f, "m4b").unwrap();
    assert_eq!(p.container, Container::M4b);
    let mut tags = p.tags.clone();
    tags.push(tag("album", "New"));
    let out = assemble(&synth(&p, &tags, &[]), &f, &[]);
    for needle in [smpb.to_bytes(), stik.to_bytes(), chpl.to_bytes()] {
        assert!(out.windows(needle.len()).any(|w| w == needle.as_slice()));
    }
    let q = probe_bytes(&out, "m4b").unwrap();
    assert_eq!(q.tags, tags);
    // A second round is a fixed point.
    let again = assemble(&synth(&q, &q.tags, &[]), &out, &[]);
    assert_eq!(again, out);
}

#[test]
fn numeric_genre_yields_to_text_genre() {
    let f = sample(&Spec {
        items: vec![
            item(b"gnre", vec![data(0, &[0, 1])]),
            item(b"\xa9gen", vec![data(1, b"Own")]),
        ],
        ..Spec::default()
    });
    let p = probe_bytes(&f, "m4a").unwrap();
    assert_eq!(p.tags, vec![tag("genre", "Own")]);
}

#[test]
fn unrepresentable_values_fall_back_to_freeform() {
    let f = sample(&Spec::default());
    let p = probe_bytes(&f, "m4a").unwrap();
    let tags = vec![
        tag("tracknumber", "A1"),
        tag("bpm", "120.5"),
        tag("compilation", "yes"),
        tag("discnumber", "0"),
    ];
    let out = assemble(&synth(&p, &tags, &[]), &f, &[]);
    let q = probe_bytes(&out, "m4a").unwrap();
    let mut got = q.tags.clone();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let mut want = tags.clone();
    want.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, want);
    assert!(!out.windows(4).any(|w| w == b"trkn" || w == b"tmpo"));
}

#[test]
fn combined_track_number_and_leading_zeros() {
    let f = sample(&Spec::default());
    let p = probe_bytes(&f, "m4a").unwrap();
    let out = assemble(
        &synth(
            &p,
            &[tag("tracknumber", "03/12"), tag("discnumber", "2")],
            &[],
        ),
        &f,
        &[],
    );
    let q = probe_bytes(&out, "m4a").unwrap();
    assert_eq!(
        q.tags,
        vec![
            tag("tracknumber", "3"),
            tag("tracktotal", "12"),
            tag("discnumber", "2")
        ]
    );
}

#[test]
fn data_atom_types_are_right() {
    let f = sample(&Spec::default());
    let p = probe_bytes(&f, "m4a").unwrap();
    let tags = [
        tag("title", "T"),
        tag("bpm", "90"),
        tag("compilation", "1"),
        tag("tracknumber", "1"),
    ];
    let pics = [pic_ref(1, "image/jpeg", 3), pic_ref(2, "image/png", 3)];
    let arts = [(1, b"JPG".to_vec()), (2, b"PNG".to_vec())];
    let out = assemble(&synth(&p, &tags, &pics), &f, &arts);
    let find = |atom: &[u8]| {
        let i = out.windows(4).position(|w| w == atom).unwrap();
        // item header, then the data atom: size, "data", type indicator
        assert_eq!(&out[i + 8..i + 12], b"data");
        be32(&out, i + 12).unwrap()
    };
    assert_eq!(find(b"\xa9nam"), 1);
    assert_eq!(find(b"tmpo"), 21);
    assert_eq!(find(b"cpil"), 21);
    assert_eq!(find(b"trkn"), 0);
    assert_eq!(find(b"covr"), 13);
    let i = out.windows(3).position(|w| w == b"PNG").unwrap();
    assert_eq!(be32(&out, i - 8).unwrap(), 14);
    let i = out.windows(4).position(|w| w == b"tmpo").unwrap();
    assert_eq!(&out[i + 20..i + 22], &[0, 90]);
}

#[test]
fn moov_last_files_keep_moov_last_and_offsets_follow() {
    for moov_first in [true, false] {
        let spec = Spec {
            moov_first,
            traks: vec![(*b"soun", vec![0, 10, 30]), (*b"text", vec![40])],
            items: vec![item(b"\xa9nam", vec![data(1, b"short")])],
            ..Spec::default()
        };
        let f = sample(&spec);
        let p = probe_bytes(&f, "m4a").unwrap();
        assert_eq!(
            format::structural(&p.structural, KIND_LAYOUT),
            Some(&[if moov_first { MOOV_FIRST } else { MOOV_LAST }][..])
        );
        let tags = vec![tag("title", &"long ".repeat(300))];
        let pics = [pic_ref(5, "image/png", 5000)];
        let arts = [(5, vec![7u8; 5000])];
        let segs = synth(&p, &tags, &pics);
        assert!(
            segs.iter()
                .any(|s| matches!(s, Segment::Art { art_id: 5, .. }))
        );
        let out = assemble(&segs, &f, &arts);
        let q = probe_bytes(&out, "m4a").unwrap();
        let before: Vec<u64> = all_offsets(&f).iter().map(|o| o - p.audio_offset).collect();
        let after: Vec<u64> = all_offsets(&out)
            .iter()
            .map(|o| o - q.audio_offset)
            .collect();
        assert_eq!(before, after);
        for o in all_offsets(&out) {
            let r = (o - q.audio_offset) as usize;
            assert_eq!(out[o as usize], AUDIO[r]);
        }
        if !moov_first {
            assert_eq!(q.audio_offset, ftyp().len() as u64 + 8);
        }
    }
}

#[test]
fn stco_is_widened_when_shifted_offsets_overflow() {
    // A ~4 GiB payload whose last chunk sits just below the 32-bit limit.
    let last = u64::from(u32::MAX) - 1100;
    let spec = Spec {
        traks: vec![(*b"soun", vec![0, last])],
        ..Spec::default()
    };
    let audio_offset = 1000;
    let structural = vec![
        Structural {
            kind: KIND_FTYP.into(),
            data: ftyp(),
        },
        Structural {
            kind: KIND_MOOV.into(),
            data: moov_for(&spec, audio_offset).to_bytes(),
        },
        Structural {
            kind: KIND_LAYOUT.into(),
            data: vec![MOOV_FIRST],
        },
    ];
    let mk = |tags: &[Tag]| {
        synthesize(&SynthInput {
            container: Container::M4a,
            audio_offset,
            audio_len: last + 64,
            structural: &structural,
            tags,
            pictures: &[],
            art: &NoArt,
        })
        .unwrap()
    };
    for (tags, wide) in [
        (vec![], false),
        (vec![tag("comment", &"y".repeat(2000))], true),
    ] {
        let segs = mk(&tags);
        let Segment::Inline(head) = &segs[0] else {
            panic!("header first")
        };
        assert_eq!(
            segs[1],
            Segment::Backing {
                offset: audio_offset,
                len: last + 64
            }
        );
        let payload_at = head.len() as u64;
        let name: &[u8] = if wide { b"co64" } else { b"stco" };
        let other: &[u8] = if wide { b"stco" } else { b"co64" };
        assert!(!head.windows(4).any(|w| w == other));
        let i = head.windows(4).position(|w| w == name).unwrap();
        let got: Vec<u64> = boxes::chunk_offsets(&head[i + 4..], wide)
            .unwrap()
            .collect();
        assert_eq!(got, [payload_at, payload_at + last]);
        assert_eq!(wide, payload_at + last > u64::from(u32::MAX));
    }
}

#[test]
fn huge_mdat_gets_a_64_bit_header() {
    let f = sample(&Spec::default());
    let p = probe_bytes(&f, "m4a").unwrap();
    let audio_len = 5u64 << 30;
    let segs = synthesize(&SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len,
        structural: &p.structural,
        tags: &[],
        pictures: &[],
        art: &NoArt,
    })
    .unwrap();
    let Segment::Inline(head) = &segs[0] else {
        panic!()
    };
    let h = &head[head.len() - 16..];
    assert_eq!(be32(h, 0), Some(1));
    assert_eq!(&h[4..8], b"mdat");
    assert_eq!(be64(h, 8), Some(audio_len + 16));
    let total: u64 = segs.iter().map(Segment::len).sum();
    assert_eq!(total, head.len() as u64 + audio_len);
}

fn expect_unsupported(f: &[u8]) {
    match probe_bytes(f, "m4a") {
        Err(FormatError::Unsupported(_)) => {}
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn unsupported_shapes_are_refused_clearly() {
    // Fragmented: a moof box, or mvex in moov.
    let mut f = sample(&Spec::default());
    f.extend_from_slice(&Node::raw(b"moof", vec![0; 8]).to_bytes());
    expect_unsupported(&f);
    expect_unsupported(&sample(&Spec {
        moov_extra: vec![Node::raw(b"mvex", vec![0; 8])],
        ..Spec::default()
    }));
    // Two audio tracks, a video track, no audio track.
    for traks in [
        vec![(*b"soun", vec![0]), (*b"soun", vec![8])],
        vec![(*b"soun", vec![0]), (*b"vide", vec![8])],
        vec![(*b"text", vec![0])],
    ] {
        expect_unsupported(&sample(&Spec {
            traks,
            ..Spec::default()
        }));
    }
    // Chunk offsets outside mdat.
    expect_unsupported(&sample(&Spec {
        traks: vec![(*b"soun", vec![0, 1000])],
        ..Spec::default()
    }));
    // Two mdat boxes.
    let mut f = sample(&Spec::default());
    f.extend_from_slice(&Node::raw(b"mdat", vec![1; 8]).to_bytes());
    expect_unsupported(&f);
}

#[test]
fn hostile_box_sizes_are_errors() {
    let good = sample(&Spec::default());
    let ftyp_len = ftyp().len();
    // The moov box starts right after ftyp.
    for bad in [
        &[0u8, 0, 0, 1][..],       // 64-bit size ...
        &[0, 0, 0, 4],             // smaller than a header
        &[0, 0, 0, 7],             // smaller than a header
        &[0xff, 0xff, 0xff, 0xff], // past EOF
    ] {
        let mut f = good.clone();
        f[ftyp_len..ftyp_len + 4].copy_from_slice(bad);
        assert!(probe_bytes(&f, "m4a").is_err(), "{bad:?}");
    }
    // 64-bit size smaller than its 16-byte header.
    let mut f = good.clone();
    f[ftyp_len..ftyp_len + 4].copy_from_slice(&[0, 0, 0, 1]);
    let mut tail = f.split_off(ftyp_len + 8);
    f.extend_from_slice(&8u64.to_be_bytes());
    f.append(&mut tail);
    assert!(probe_bytes(&f, "m4a").is_err());
    // Size 0 on the last box (mdat to end of file) is fine.
    let mut f = good.clone();
    let at = f.len() - AUDIO.len() - 8;
    f[at..at + 4].copy_from_slice(&[0; 4]);
    let p = probe_bytes(&f, "m4a").unwrap();
    assert_eq!(p.audio_len, AUDIO.len() as u64);
    // Size 0 on moov swallows mdat: no mdat.
    let mut f = good.clone();
    f[ftyp_len..ftyp_len + 4].copy_from_slice(&[0; 4]);
    assert!(probe_bytes(&f, "m4a").is_err());
}

#[test]
fn huge_claimed_moov_is_refused_without_reading() {
    // A moov claiming 1 GiB in a (claimed) 2 GiB file: refused before any allocation.
    let mut f = ftyp();
    f.extend_from_slice(&(1u32 << 30).to_be_bytes());
    f.extend_from_slice(b"moov");
    let r = probe(&mut Cursor::new(&f), 2 << 30, "m4a");
    assert!(matches!(r, Err(FormatError::Limit(_))), "{r:?}");
}

#[test]
fn deep_nesting_and_box_floods_hit_limits() {
    let mut deep = trak(b"soun", &[0], false);
    for _ in 0..20 {
        deep = Node::container(b"trak", vec![], vec![deep]);
    }
    let f = sample(&Spec {
        moov_extra: vec![deep],
        ..Spec::default()
    });
    assert!(matches!(probe_bytes(&f, "m4a"), Err(FormatError::Limit(_))));
    let flood: Vec<Node> = (0..boxes::MAX_BOXES)
        .map(|_| Node::raw(b"free", vec![]))
        .collect();
    let f = sample(&Spec {
        moov_extra: vec![Node::container(b"udta", vec![], flood)],
        ..Spec::default()
    });
    assert!(matches!(probe_bytes(&f, "m4a"), Err(FormatError::Limit(_))));
}

#[test]
fn truncations_never_panic() {
    let f = sample(&Spec {
        items: vec![
            item(b"\xa9nam", vec![data(1, b"T")]),
            item(b"covr", vec![data(14, b"PNGPNG")]),
        ],
        ..Spec::default()
    });
    for cut in 0..f.len() {
        if let Ok(p) = probe_bytes(&f[..cut], "m4a") {
            assert!(p.audio_offset + p.audio_len <= cut as u64);
        }
    }
}

#[test]
fn hostile_structural_rows_are_errors() {
    let f = sample(&Spec::default());
    let p = probe_bytes(&f, "m4a").unwrap();
    let with = |kind: &str, data: Vec<u8>| {
        let mut s = p.structural.clone();
        s.retain(|r| r.kind != kind);
        if !data.is_empty() {
            s.push(Structural {
                kind: kind.into(),
                data,
            });
        }
        synthesize(&SynthInput {
            container: p.container,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &s,
            tags: &[],
            pictures: &[],
            art: &NoArt,
        })
    };
    assert!(with(KIND_FTYP, vec![]).is_err());
    assert!(with(KIND_MOOV, vec![]).is_err());
    assert!(with(KIND_FTYP, b"\0\0\0\x09ftypX".to_vec()).is_err());
    assert!(with(KIND_MOOV, b"\0\0\0\x08free".to_vec()).is_err());
    assert!(with(KIND_MOOV, b"\0\0\0\x10moov\0\0\0\x09stco".to_vec()).is_err());
    // An stco whose count exceeds its box.
    let bad = Node::container(
        b"moov",
        vec![],
        vec![Node::container(
            b"stbl",
            vec![],
            vec![Node::raw(b"stco", b"\0\0\0\0\xff\xff\xff\xff".to_vec())],
        )],
    );
    assert!(with(KIND_MOOV, bad.to_bytes()).is_err());
    // An offset below the audio start cannot be shifted below zero.
    let neg = moov_for(&Spec::default(), 0);
    let r = synthesize(&SynthInput {
        container: p.container,
        audio_offset: 1 << 40,
        audio_len: 8,
        structural: &[
            Structural {
                kind: KIND_FTYP.into(),
                data: ftyp(),
            },
            Structural {
                kind: KIND_MOOV.into(),
                data: neg.to_bytes(),
            },
        ],
        tags: &[],
        pictures: &[],
        art: &NoArt,
    });
    assert!(r.is_err());
}

#[test]
fn quicktime_style_meta_without_version_is_read() {
    let mut hd = vec![0u8; 8];
    hd.extend_from_slice(b"mdir");
    hd.extend_from_slice(&[0; 13]);
    let meta = Node::container(
        b"meta",
        vec![],
        vec![
            Node::raw(b"hdlr", hd),
            Node::container(
                b"ilst",
                vec![],
                vec![item(b"\xa9alb", vec![data(1, b"QT")])],
            ),
        ],
    );
    let f = sample(&Spec {
        udta_extra: vec![meta],
        ..Spec::default()
    });
    let p = probe_bytes(&f, "m4a").unwrap();
    assert_eq!(p.tags, vec![tag("album", "QT")]);
}

#[test]
fn m4b_by_brand() {
    let mut f = sample(&Spec::default());
    f[8..12].copy_from_slice(b"M4B ");
    assert_eq!(probe_bytes(&f, "mp4").unwrap().container, Container::M4b);
    assert_eq!(probe_bytes(&f, "m4b").unwrap().container, Container::M4b);
    f[8..12].copy_from_slice(b"M4A ");
    assert_eq!(probe_bytes(&f, "mp4").unwrap().container, Container::M4a);
}

const KEYS: &[&str] = &[
    "title",
    "artist",
    "albumartist",
    "album",
    "date",
    "genre",
    "composer",
    "comment",
    "lyrics",
    "encoder",
    "copyright",
    "grouping",
    "description",
    "titlesort",
    "artistsort",
    "albumsort",
    "work",
    "musicbrainz_trackid",
    "musicbrainz_albumid",
    "label",
    "isrc",
    "replaygain_track_gain",
];

fn arb_tag() -> impl Strategy<Value = Tag> {
    let special = prop_oneof![
        (1u16..=65535).prop_map(|n| tag("tracknumber", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("tracktotal", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("discnumber", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("disctotal", &n.to_string())),
        any::<u16>().prop_map(|n| tag("bpm", &n.to_string())),
        (0u8..=1).prop_map(|n| tag("compilation", &n.to_string())),
    ];
    let known = (proptest::sample::select(KEYS), "\\PC{0,40}").prop_map(|(k, v)| tag(k, &v));
    let custom = ("[a-z][a-z _.]{0,15}", "[A-Za-z ]{0,20}").prop_filter_map(
        "key with a special mapping",
        |(k, v)| {
            let mapped = [
                "tracknumber",
                "tracktotal",
                "discnumber",
                "disctotal",
                "bpm",
            ]
            .contains(&k.as_str())
                || [
                    "compilation",
                    "gapless",
                    "showmovement",
                    "movementnumber",
                    "movementtotal",
                ]
                .contains(&k.as_str());
            (!mapped).then(|| tag(&k, &v))
        },
    );
    prop_oneof![special, known, custom]
}

fn grouped(tags: &[Tag]) -> std::collections::BTreeMap<String, Vec<TagValue>> {
    let mut m = std::collections::BTreeMap::<String, Vec<TagValue>>::new();
    for t in tags {
        m.entry(t.key.clone()).or_default().push(t.value.clone());
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn synthesis_round_trips_through_probe(
        tags in proptest::collection::vec(arb_tag(), 0..25),
        pics in proptest::collection::vec(
            (proptest::bool::ANY, proptest::collection::vec(any::<u8>(), 1..300)), 0..4),
        moov_first in proptest::bool::ANY,
    ) {
        // One value per pair/int key: the atom holds a single number.
        let mut seen = std::collections::HashSet::new();
        let tags: Vec<Tag> = tags.into_iter().filter(|t| {
            !["tracknumber", "tracktotal", "discnumber", "disctotal", "bpm", "compilation"]
                .contains(&t.key.as_str()) || seen.insert(t.key.clone())
        }).collect();
        let f = sample(&Spec { moov_first, ..Spec::default() });
        let p = probe_bytes(&f, "m4a").unwrap();
        let refs: Vec<PictureRef> = pics.iter().enumerate().map(|(i, (png, d))| {
            pic_ref(i as i64, if *png { "image/png" } else { "image/jpeg" }, d.len())
        }).collect();
        let arts: Vec<(i64, Vec<u8>)> =
            pics.iter().enumerate().map(|(i, (_, d))| (i as i64, d.clone())).collect();
        let input = SynthInput {
            container: p.container,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags: &tags,
            pictures: &refs,
            art: &NoArt,
        };
        let segs = synthesize(&input).unwrap();
        prop_assert_eq!(
            format::served_len(&input).unwrap(),
            segs.iter().map(Segment::len).sum::<u64>()
        );
        let out = assemble(&segs, &f, &arts);
        let q = probe_bytes(&out, "m4a").unwrap();
        prop_assert_eq!(grouped(&q.tags), grouped(&tags));
        prop_assert_eq!(q.pictures.len(), pics.len());
        for (qp, (png, d)) in q.pictures.iter().zip(&pics) {
            prop_assert_eq!(&qp.data, d);
            prop_assert_eq!(&qp.mime, if *png { "image/png" } else { "image/jpeg" });
        }
        prop_assert_eq!(&out[q.audio_offset as usize..][..q.audio_len as usize], AUDIO);
        for o in all_offsets(&out) {
            prop_assert!(o >= q.audio_offset && o < q.audio_offset + q.audio_len);
        }
        let rel_in: Vec<u64> = all_offsets(&f).iter().map(|o| o - p.audio_offset).collect();
        let rel_out: Vec<u64> = all_offsets(&out).iter().map(|o| o - q.audio_offset).collect();
        prop_assert_eq!(rel_in, rel_out);
    }
}
