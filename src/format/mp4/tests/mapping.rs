//! Tag and picture mapping, layouts and chunk offsets.

use super::*;
use crate::format::mp4::boxes::{be32, be64};
use crate::format::{self, Picture, Segment, Structural, SynthInput};

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
