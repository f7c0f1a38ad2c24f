//! Unit and property tests over hand-built Ogg files.

use super::page::{self, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, PageHeader};
use super::*;
use crate::format::{
    ArtSource, Container, PictureRef, Segment, Structural, SynthInput, Tag, flac, vorbis_comment,
};
use crate::library::layout::Layout;
use proptest::prelude::*;
use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::Arc;

const SERIAL: u32 = 0x0bad_cafe;

/// Lay packets on pages like a muxer: the first alone on a BOS page, the
/// other header packets on as few pages as possible, then `audio` pages of
/// fake data, the last with EOS. Pages are sealed with correct CRCs.
fn build(header: &[Vec<u8>], audio: &[usize], serial: u32, seq0: u32) -> (Vec<u8>, u64, u64) {
    build_spread(header, audio, serial, seq0, 0)
}

/// Like `build`, with the header packets after the first spread over
/// `spread` pages when they have enough lacing values for that.
fn build_spread(
    header: &[Vec<u8>],
    audio: &[usize],
    serial: u32,
    seq0: u32,
    spread: u64,
) -> (Vec<u8>, u64, u64) {
    let lens: Vec<u64> = header[1..].iter().map(|p| p.len() as u64).collect();
    let plan = page::plan_pages(header[0].len() as u64, &lens, spread).unwrap();
    let stream: Vec<u8> = header[1..].concat();
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut seq = seq0;
    for (k, pp) in plan.iter().enumerate() {
        let body: &[u8] = if k == 0 {
            &header[0]
        } else {
            let b = &stream[pos..pos + pp.body_len() as usize];
            pos += b.len();
            b
        };
        out.extend(seal(
            pp.flags,
            pp.granule,
            serial,
            seq,
            pp.lacing.clone(),
            body,
        ));
        seq += 1;
    }
    let audio_offset = out.len() as u64;
    for (i, &n) in audio.iter().enumerate() {
        let mut lacing = vec![255u8; n / 255];
        lacing.push((n % 255) as u8);
        let body: Vec<u8> = (0..n).map(|k| (k * 13 + i * 7) as u8).collect();
        let flags = if i + 1 == audio.len() { FLAG_EOS } else { 0 };
        out.extend(seal(
            flags,
            (i as u64 + 1) * 960,
            serial,
            seq,
            lacing,
            &body,
        ));
        seq += 1;
    }
    let len = out.len() as u64 - audio_offset;
    (out, audio_offset, len)
}

fn seal(flags: u8, granule: u64, serial: u32, seq: u32, lacing: Vec<u8>, body: &[u8]) -> Vec<u8> {
    let mut p = page::build_header(&PageHeader {
        flags,
        granule,
        serial,
        seq,
        crc: 0,
        lacing,
    });
    p.extend_from_slice(body);
    let c = page::page_crc(&p);
    p[22..26].copy_from_slice(&c.to_le_bytes());
    p
}

fn opus_head() -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    h
}

fn picture_block(data: &[u8], desc: &str) -> Vec<u8> {
    let mut b = flac::picture_prefix(&pic_ref(0, data.len() as u64, desc));
    b.extend_from_slice(data);
    b
}

fn pic_ref(art_id: i64, len: u64, desc: &str) -> PictureRef {
    PictureRef {
        art_id,
        picture_type: 3,
        mime: "image/png".into(),
        description: desc.into(),
        width: 2,
        height: 3,
        depth: 24,
        colors: 0,
        len,
    }
}

fn b64_comment(block: &[u8]) -> String {
    let mut e = Vec::new();
    b64::encode_into(block, &mut e);
    format!("METADATA_BLOCK_PICTURE={}", String::from_utf8(e).unwrap())
}

fn tags(kv: &[(&str, &str)]) -> Vec<Tag> {
    kv.iter().map(|(k, v)| Tag::text(k, v)).collect()
}

fn opus_file(kv: &[(&str, &str)], pic: Option<&[u8]>) -> (Vec<u8>, u64, u64) {
    let extra: Vec<String> = pic
        .map(|d| b64_comment(&picture_block(d, "cover")))
        .into_iter()
        .collect();
    let mut t = b"OpusTags".to_vec();
    t.extend(vorbis_comment::encode("libopus test", &tags(kv), &extra));
    build(&[opus_head(), t], &[1000, 3000, 200], SERIAL, 0)
}

fn vorbis_file(kv: &[(&str, &str)], pic: Option<&[u8]>) -> (Vec<u8>, u64, u64) {
    let mut ident = b"\x01vorbis".to_vec();
    ident.resize(30, 1);
    let extra: Vec<String> = pic
        .map(|d| b64_comment(&picture_block(d, "cover")))
        .into_iter()
        .collect();
    let mut c = b"\x03vorbis".to_vec();
    c.extend(vorbis_comment::encode("Xiph test", &tags(kv), &extra));
    c.push(1);
    let mut setup = b"\x05vorbis".to_vec();
    setup.extend((0..700u32).map(|i| (i * 31) as u8));
    build(&[ident, c, setup], &[500, 4000, 90], SERIAL, 0)
}

fn flac_file(kv: &[(&str, &str)], pic: Option<&[u8]>) -> (Vec<u8>, u64, u64) {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let c = vorbis_comment::encode("reference libFLAC", &tags(kv), &[]);
    let mut b = vec![4, 0, 0, 0];
    b[1..4].copy_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
    b.extend(c);
    blocks.push(b);
    let seek = vec![
        3u8, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0,
    ];
    blocks.push(seek);
    if let Some(d) = pic {
        let body = picture_block(d, "cover");
        let mut v = vec![6u8, 0, 0, 0];
        v[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend(body);
        blocks.push(v);
    }
    blocks.push(vec![1, 0, 0, 3, 0, 0, 0]);
    let last = blocks.len() - 1;
    blocks[last][0] |= 0x80;
    let mut ident = b"\x7fFLAC\x01\x00".to_vec();
    ident.extend_from_slice(&(blocks.len() as u16).to_be_bytes());
    ident.extend_from_slice(b"fLaC\x00\x00\x00\x22");
    ident.extend((0..34u8).map(|i| i.wrapping_mul(5)));
    let mut all = vec![ident];
    all.extend(blocks);
    build(&all, &[2000, 60000, 5], SERIAL, 0)
}

fn probe_bytes(f: &[u8]) -> Result<crate::format::Probe, FormatError> {
    probe(&mut Cursor::new(f), f.len() as u64)
}

/// Assemble the served file through the real layout code.
fn assemble(segs: Vec<Segment>, original: &[u8], art: &dyn ArtSource) -> Vec<u8> {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(original).unwrap();
    let layout = Layout::new(segs);
    let mut out = vec![0u8; layout.len() as usize];
    let n = layout.read_at(0, &mut out, &f, art).unwrap();
    assert_eq!(n, out.len());
    out
}

/// Walk every page: capture pattern, CRC, one serial, consecutive sequence
/// numbers from 0, BOS only first, EOS only last. Returns the page headers.
fn check_pages(f: &[u8]) -> Vec<PageHeader> {
    let mut pos = 0usize;
    let mut out: Vec<PageHeader> = Vec::new();
    while pos < f.len() {
        let h = page::parse_header(&f[pos..]).expect("page header");
        let len = h.page_len();
        assert_eq!(
            page::page_crc(&f[pos..pos + len]),
            h.crc,
            "CRC of page {}",
            out.len()
        );
        assert_eq!(h.seq, out.len() as u32, "sequence");
        assert_eq!(h.serial, SERIAL);
        assert_eq!(h.flags & FLAG_BOS != 0, pos == 0);
        assert_eq!(h.flags & FLAG_EOS != 0, pos + len == f.len());
        let continued = out.last().is_some_and(|p| p.lacing.last() == Some(&255));
        assert_eq!(h.flags & FLAG_CONTINUED != 0, continued, "continuation");
        out.push(h);
        pos += len;
    }
    out
}

#[test]
fn probes_each_codec() {
    let png = b"\x89PNG fake image".to_vec();
    for (f, container) in [
        (
            opus_file(&[("TITLE", "Song"), ("artist", "Me")], Some(&png)),
            Container::OggOpus,
        ),
        (
            vorbis_file(&[("TITLE", "Song"), ("artist", "Me")], Some(&png)),
            Container::OggVorbis,
        ),
        (
            flac_file(&[("TITLE", "Song"), ("artist", "Me")], Some(&png)),
            Container::OggFlac,
        ),
    ] {
        let (bytes, aoff, alen) = f;
        let p = probe_bytes(&bytes).unwrap();
        assert_eq!(p.container, container);
        assert_eq!((p.audio_offset, p.audio_len), (aoff, alen));
        assert_eq!(p.tags, tags(&[("title", "Song"), ("artist", "Me")]));
        assert_eq!(p.pictures.len(), 1, "{container}");
        assert_eq!(p.pictures[0].data, png);
        assert_eq!(p.pictures[0].description, "cover");
        assert_eq!((p.pictures[0].width, p.pictures[0].height), (2, 3));
        let s = StreamInfo::decode(structural(&p, KIND_STREAM)).unwrap();
        assert_eq!(s.serial, SERIAL);
        assert_eq!(s.first_audio_seq, s.header_pages);
    }
}

fn structural<'a>(p: &'a crate::format::Probe, kind: &str) -> &'a [u8] {
    crate::format::structural(&p.structural, kind).unwrap()
}

#[test]
fn flac_keeps_seektable_and_drops_padding() {
    let (f, ..) = flac_file(&[("title", "x")], None);
    let p = probe_bytes(&f).unwrap();
    let blocks: Vec<&Structural> = p
        .structural
        .iter()
        .filter(|s| s.kind == KIND_FLAC_BLOCK)
        .collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].data[0], 3);
    assert_eq!(structural(&p, KIND_VENDOR), b"reference libFLAC");
}

#[test]
fn opus_extra_data_is_kept_only_when_flagged() {
    for (tail, kept) in [(&[1u8, 9, 9][..], true), (&[0u8; 40][..], false)] {
        let mut t = b"OpusTags".to_vec();
        t.extend(vorbis_comment::encode("v", &tags(&[("title", "x")]), &[]));
        t.extend_from_slice(tail);
        let (f, ..) = build(&[opus_head(), t], &[100], SERIAL, 0);
        let p = probe_bytes(&f).unwrap();
        let got = crate::format::structural(&p.structural, KIND_OPUS_EXTRA);
        assert_eq!(got.is_some(), kept);
        if kept {
            assert_eq!(got.unwrap(), tail);
            let segs = synthesize(&input(&p, &p.tags, &[])).unwrap();
            let out = assemble(segs, &f, &HashMap::<i64, Arc<[u8]>>::new());
            assert_eq!(out, f, "unchanged tags rebuild the same bytes");
        }
    }
}

fn input<'a>(
    p: &'a crate::format::Probe,
    tags: &'a [Tag],
    pics: &'a [PictureRef],
) -> SynthInput<'a> {
    SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags,
        pictures: pics,
        art: &crate::format::NoArt,
    }
}

#[test]
fn same_tags_rebuild_identical_files() {
    for (f, ..) in [
        opus_file(&[("TITLE", "a")], None),
        vorbis_file(&[("TITLE", "a")], None),
    ] {
        let p = probe_bytes(&f).unwrap();
        let segs = synthesize(&input(&p, &p.tags, &[])).unwrap();
        assert!(matches!(segs.last(), Some(Segment::Backing { .. })));
        let out = assemble(segs, &f, &HashMap::<i64, Arc<[u8]>>::new());
        assert_eq!(out, f);
    }
}

#[test]
fn rejects_chained_and_multiplexed() {
    let (a, ..) = opus_file(&[("title", "a")], None);
    // Chained: a second stream with another serial follows.
    let mut t = b"OpusTags".to_vec();
    t.extend(vorbis_comment::encode("v", &[], &[]));
    let (b, ..) = build(&[opus_head(), t.clone()], &[100], SERIAL + 1, 0);
    let chained = [a.clone(), b].concat();
    let e = probe_bytes(&chained).unwrap_err().to_string();
    assert!(e.contains("chained Ogg streams are not supported"), "{e}");
    // Multiplexed: two BOS pages at the start.
    let first = page::parse_header(&a).unwrap().page_len();
    let other = seal(FLAG_BOS, 0, SERIAL + 5, 0, vec![19], &opus_head());
    let mux = [&a[..first], &other, &a[first..]].concat();
    let e = probe_bytes(&mux).unwrap_err().to_string();
    assert!(e.contains("multiplexed"), "{e}");
}

#[test]
fn rejects_header_and_audio_on_one_page() {
    // OpusTags and an audio packet share page 1.
    let mut t = b"OpusTags".to_vec();
    t.extend(vorbis_comment::encode("v", &[], &[]));
    let mut lacing = vec![t.len() as u8, 10];
    let mut body = t.clone();
    body.extend_from_slice(&[0xfc; 10]);
    let f = [
        seal(FLAG_BOS, 0, SERIAL, 0, vec![19], &opus_head()),
        seal(0, 960, SERIAL, 1, std::mem::take(&mut lacing), &body),
        seal(FLAG_EOS, 1920, SERIAL, 2, vec![3], &[1, 2, 3]),
    ]
    .concat();
    let e = probe_bytes(&f).unwrap_err().to_string();
    assert!(e.contains("mixes the last header packet and audio"), "{e}");
}

#[test]
fn bad_crc_and_other_codecs_are_errors() {
    let (mut f, ..) = vorbis_file(&[("title", "x")], None);
    f[100] ^= 0x40;
    assert!(probe_bytes(&f).unwrap_err().to_string().contains("CRC"));
    let (f, ..) = build(
        &[b"Speex   xxxxxxxxxxxxxxxxxxxx".to_vec(), vec![1]],
        &[10],
        SERIAL,
        0,
    );
    let e = probe_bytes(&f).unwrap_err();
    assert!(matches!(e, FormatError::Unsupported(_)), "{e}");
}

#[test]
fn truncated_and_corrupt_files_error_not_panic() {
    let png = vec![7u8; 600];
    for (f, ..) in [
        opus_file(&[("title", "x")], Some(&png)),
        vorbis_file(&[("title", "x")], Some(&png)),
        flac_file(&[("title", "x")], Some(&png)),
    ] {
        let p = probe_bytes(&f).unwrap();
        let cuts = (0..f.len().min(p.audio_offset as usize + 600)).chain((0..f.len()).step_by(997));
        for cut in cuts {
            if let Ok(p) = probe_bytes(&f[..cut]) {
                assert!(p.audio_offset + p.audio_len <= cut as u64);
            }
        }
        // Flip bytes (and re-seal CRCs so the parser sees the damage).
        for i in (0..f.len().min(2500)).step_by(3) {
            let mut g = f.clone();
            g[i] ^= 0xff;
            reseal(&mut g);
            let _ = probe_bytes(&g);
        }
    }
}

/// Recompute the CRC of every page that still parses.
fn reseal(f: &mut [u8]) {
    let mut pos = 0;
    while let Ok(h) = page::parse_header(&f[pos..]) {
        let len = h.page_len();
        if pos + len > f.len() {
            return;
        }
        let c = page::page_crc(&f[pos..pos + len]);
        f[pos + 22..pos + 26].copy_from_slice(&c.to_le_bytes());
        pos += len;
    }
}

fn arts(pics: &[(i64, Vec<u8>)]) -> HashMap<i64, Arc<[u8]>> {
    pics.iter()
        .map(|(id, d)| (*id, Arc::from(d.as_slice())))
        .collect()
}

/// Synthesize with new tags and pictures, check the served file page by page
/// and through the probe, and return it with the segments.
fn round_trip(
    f: &[u8],
    new_tags: &[Tag],
    pics: &[(i64, Vec<u8>)],
) -> (Vec<u8>, Vec<Segment>, crate::format::Probe) {
    let p = probe_bytes(f).unwrap();
    let refs: Vec<PictureRef> = pics
        .iter()
        .map(|(id, d)| pic_ref(*id, d.len() as u64, &format!("pic {id}")))
        .collect();
    let table = arts(pics);
    let mut inp = input(&p, new_tags, &refs);
    inp.art = &table;
    let segs = synthesize(&inp).unwrap();
    let total: u64 = segs.iter().map(Segment::len).sum();
    assert_eq!(served_len(&input(&p, new_tags, &refs)).unwrap(), total);
    let out = assemble(segs.clone(), f, &table);
    assert_eq!(out.len() as u64, total);
    check_pages(&out);
    let q = probe_bytes(&out).unwrap();
    assert_eq!(q.container, p.container);
    assert_eq!(q.tags, new_tags);
    assert_eq!(q.pictures.len(), pics.len());
    for (qp, (id, d)) in q.pictures.iter().zip(pics) {
        assert_eq!(&qp.data, d);
        assert_eq!(qp.description, format!("pic {id}"));
    }
    // Audio pages: identical apart from sequence numbers and CRCs.
    let a = &f[p.audio_offset as usize..];
    let b = &out[q.audio_offset as usize..];
    assert_eq!(a.len(), b.len());
    let pa = pages_of(a);
    let pb = pages_of(b);
    assert_eq!(pa.len(), pb.len());
    for ((sa, la), (sb, lb)) in pa.iter().zip(&pb) {
        assert_eq!((sa, la), (sb, lb));
        assert_eq!(a[*sa..sa + 18], b[*sb..sb + 18]);
        assert_eq!(a[sa + 26..sa + la], b[sb + 26..sb + lb]);
    }
    (out, segs, q)
}

fn pages_of(b: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let l = page::parse_header(&b[pos..]).unwrap().page_len();
        v.push((pos, l));
        pos += l;
    }
    v
}

#[test]
fn synthesis_keeps_page_count_when_it_fits() {
    for (f, ..) in [
        opus_file(&[("title", "old")], Some(&[1; 100])),
        vorbis_file(&[("title", "old")], None),
        flac_file(&[("title", "old")], None),
    ] {
        let new = tags(&[("title", "new"), ("genre", "Jazz"), ("artist", "A=B")]);
        let (_, segs, q) = round_trip(&f, &new, &[(4, vec![9; 3000])]);
        assert!(matches!(segs.last(), Some(Segment::Backing { .. })));
        let s = StreamInfo::decode(structural(&q, KIND_STREAM)).unwrap();
        assert_eq!(s.first_audio_seq, s.header_pages);
    }
}

#[test]
fn big_pictures_renumber_the_audio_pages() {
    let big = (0..200_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>();
    for (f, ..) in [
        opus_file(&[("title", "old")], None),
        vorbis_file(&[("title", "old")], None),
        flac_file(&[("title", "old")], None),
    ] {
        let new = tags(&[("title", "new")]);
        let (_, segs, q) = round_trip(&f, &new, &[(1, big.clone()), (2, vec![5; 70_000])]);
        assert!(matches!(segs.last(), Some(Segment::OggRenumber(_))));
        let s = StreamInfo::decode(structural(&q, KIND_STREAM)).unwrap();
        assert!(s.header_pages > 3);
        // Back to small tags: padding keeps the page count of the large header.
        let (f2, ..) = round_trip(&f, &new, &[(1, big.clone())]);
        let (_, segs, q) = round_trip(&f2, &tags(&[("title", "small")]), &[]);
        assert!(matches!(segs.last(), Some(Segment::Backing { .. })));
        assert!(q.pictures.is_empty());
    }
}

#[test]
fn far_shrinking_headers_renumber_downwards() {
    // A 300 KB comment spread over 400 pages; new small tags would need
    // more padding than is worth it, so the audio pages move down.
    let lyrics = "x".repeat(300_000);
    let (f, ..) = build_spread(
        &[opus_head(), tags_packet(&lyrics)],
        &[100, 200],
        SERIAL,
        0,
        400,
    );
    assert_eq!(check_pages(&f).len(), 403);
    let p = probe_bytes(&f).unwrap();
    assert_eq!(
        p.tags[0].value,
        crate::format::TagValue::Text(lyrics.clone())
    );
    let (out, segs, _) = round_trip(&f, &tags(&[("title", "small")]), &[]);
    let Some(Segment::OggRenumber(r)) = segs.last() else {
        panic!("expected renumbering")
    };
    assert_eq!(r.seq_delta(), 1u32.wrapping_sub(400));
    assert_eq!(check_pages(&out).len(), 4);
    // Moderate shrinking pads instead.
    let (f, ..) = build_spread(&[opus_head(), tags_packet(&lyrics)], &[100], SERIAL, 0, 100);
    let (out, segs, _) = round_trip(&f, &tags(&[("title", "small")]), &[]);
    assert!(matches!(segs.last(), Some(Segment::Backing { .. })));
    assert_eq!(check_pages(&out).len(), 102);
}

fn tags_packet(lyrics: &str) -> Vec<u8> {
    let mut t = b"OpusTags".to_vec();
    t.extend(vorbis_comment::encode(
        "v",
        &tags(&[("lyrics", lyrics)]),
        &[],
    ));
    t
}

#[test]
fn flac_pictures_are_streamed_from_the_store() {
    let (f, ..) = flac_file(&[("title", "old")], None);
    let (_, segs, _) = round_trip(&f, &tags(&[("title", "x")]), &[(3, vec![8; 150_000])]);
    let art: u64 = segs
        .iter()
        .filter_map(|s| match s {
            Segment::Art { art_id: 3, len, .. } => Some(*len),
            _ => None,
        })
        .sum();
    assert_eq!(art, 150_000);
}

#[test]
fn served_len_never_reads_pictures() {
    let (f, ..) = opus_file(&[], None);
    let p = probe_bytes(&f).unwrap();
    let refs = vec![pic_ref(1, 1_000_000, "")];
    // NoArt would fail any fetch.
    let n = served_len(&input(&p, &[], &refs)).unwrap();
    assert!(n > 1_000_000 * 4 / 3);
    assert!(synthesize(&input(&p, &[], &refs)).is_err());
}

#[test]
fn missing_structural_is_an_error() {
    let (f, ..) = vorbis_file(&[], None);
    let p = probe_bytes(&f).unwrap();
    for drop in [KIND_STREAM, KIND_IDENT, KIND_SETUP] {
        let st: Vec<Structural> = p
            .structural
            .iter()
            .filter(|s| s.kind != drop)
            .cloned()
            .collect();
        let mut inp = input(&p, &[], &[]);
        inp.structural = &st;
        assert!(
            matches!(synthesize(&inp), Err(FormatError::MissingStructural(_))),
            "{drop}"
        );
    }
    let mut inp = input(&p, &[], &[]);
    inp.container = Container::OggOpus;
    assert!(synthesize(&inp).is_err());
}

fn tag_strategy() -> impl Strategy<Value = Vec<Tag>> {
    proptest::collection::vec(("[a-z][a-z0-9_ ]{0,11}", "\\PC{0,40}"), 0..12).prop_map(|kv| {
        kv.into_iter()
            .filter(|(k, _)| k != "metadata_block_picture")
            .map(|(k, v)| Tag::text(&k, &v))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn arbitrary_tags_round_trip(
        codec in 0usize..3,
        new in tag_strategy(),
        long in proptest::option::of(0usize..140_000),
        pic_sizes in proptest::collection::vec(1usize..90_000, 0..3),
    ) {
        let (f, ..) = match codec {
            0 => opus_file(&[("title", "t")], None),
            1 => vorbis_file(&[("title", "t")], None),
            _ => flac_file(&[("title", "t")], None),
        };
        let mut new = new;
        if let Some(n) = long {
            new.push(Tag::text("lyrics", &"la ".repeat(n / 3)));
        }
        let pics: Vec<(i64, Vec<u8>)> = pic_sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (i as i64 + 10, (0..n).map(|k| (k * 3 + i) as u8).collect()))
            .collect();
        round_trip(&f, &new, &pics);
    }
}

#[test]
fn audio_range_ends_with_the_last_page() {
    // A large last page (outside the small tail window) and trailing junk.
    let mut t = b"OpusTags".to_vec();
    t.extend(vorbis_comment::encode("v", &[], &[]));
    let (f, aoff, alen) = build(&[opus_head(), t], &[100, 60_000], SERIAL, 0);
    let p = probe_bytes(&f).unwrap();
    assert_eq!((p.audio_offset, p.audio_len), (aoff, alen));
    let mut junk = f.clone();
    junk.extend_from_slice(b"TAG not an ogg page, e.g. an ID3v1 tag");
    let p = probe_bytes(&junk).unwrap();
    assert_eq!((p.audio_offset, p.audio_len), (aoff, alen));
    // Junk larger than any page plus the window is refused, not misread.
    let mut lots = f.clone();
    lots.extend(vec![0u8; 2 * page::MAX_PAGE]);
    assert!(probe_bytes(&lots).is_err());
}
