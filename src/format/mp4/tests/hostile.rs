//! Hostile and unsupported input: errors, never panics.

use super::*;
use crate::format::{FormatError, Structural, SynthInput};

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
