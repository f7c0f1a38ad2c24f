//! Fuzz synthesis and `read_at` with hostile store rows: arbitrary audio
//! ranges, structural rows, tags and pictures (missing art included), in
//! memory. Optionally starts from a real probe of the backing bytes so the
//! mutations land near valid inputs.
//!
//! Input: a fixed-size control block (decoded with `arbitrary`) followed by
//! the backing file's bytes, so seeds are real media files behind
//! [`CONTROL`] zero bytes (which select "start from the probe, change nothing").
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use musefs::format::{
    self, Container, PictureRef, Segment, Structural, SynthInput, Tag, TagValue, flac, mp4, ogg,
    wav,
};
use musefs::library::layout::Layout;
use musefs_fuzz::Mem;
use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

const KINDS: &[&str] = &[
    flac::KIND_BLOCK,
    flac::KIND_VENDOR,
    wav::KIND_CHUNK,
    mp4::KIND_FTYP,
    mp4::KIND_MOOV,
    mp4::KIND_LAYOUT,
    ogg::KIND_STREAM,
    ogg::KIND_IDENT,
    ogg::KIND_VENDOR,
    ogg::KIND_SETUP,
    ogg::KIND_OPUS_EXTRA,
    ogg::KIND_FLAC_BLOCK,
];

#[derive(Arbitrary, Debug)]
enum Val {
    Text(String),
    Binary(Vec<u8>),
    /// A long value made of one repeated byte (oversized tags).
    Long(u8, u32),
}

#[derive(Arbitrary, Debug)]
struct Pic {
    /// Index into the art table; past its end = missing art.
    art: u8,
    picture_type: u32,
    mime: String,
    description: String,
    dims: [u32; 4],
    /// Lie about the length (the store computes it, but a hostile store can
    /// change the bytes under a built view).
    len_delta: Option<i64>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    container: u8,
    /// Ignore the probe of the backing bytes (zero = use it).
    raw: bool,
    audio_offset: u64,
    audio_len: u64,
    /// Added to the probed offset / length when starting from a probe.
    deltas: (i32, i32),
    structural: Vec<(u8, Vec<u8>)>,
    /// Replace (true) or append to the probed structural rows.
    replace: bool,
    tags: Vec<(String, Val)>,
    repeat_tags: u16,
    pictures: Vec<Pic>,
    art: Vec<Vec<u8>>,
    reads: Vec<(u64, u16)>,
}

/// Bytes of control data before the backing file.
const CONTROL: usize = 256;

fuzz_target!(|data: &[u8]| {
    let (ctl, backing) = data.split_at(data.len().min(CONTROL));
    let Ok(inp) = Input::arbitrary(&mut Unstructured::new(ctl)) else {
        return;
    };
    if std::env::var_os("MUSEFS_FUZZ_DEBUG").is_some() {
        eprintln!("{inp:#?}\nbacking: {} bytes", backing.len());
    }
    run(inp, backing);
});

fn run(inp: Input, backing_bytes: &[u8]) {
    let mut container = Container::ALL[inp.container as usize % Container::ALL.len()];
    let mut audio_offset = inp.audio_offset;
    let mut audio_len = inp.audio_len;
    let mut structural: Vec<Structural> = inp
        .structural
        .iter()
        .map(|(k, d)| Structural {
            kind: KINDS[*k as usize % KINDS.len()].to_owned(),
            data: d.clone(),
        })
        .collect();
    if !inp.raw
        && let Ok(p) = format::probe(
            &mut Cursor::new(backing_bytes),
            backing_bytes.len() as u64,
            "m4a",
        )
    {
        container = p.container;
        audio_offset = p
            .audio_offset
            .saturating_add_signed(i64::from(inp.deltas.0));
        audio_len = p.audio_len.saturating_add_signed(i64::from(inp.deltas.1));
        if !inp.replace {
            let mut s = p.structural;
            s.extend(structural);
            structural = s;
        }
    }
    let mut tags: Vec<Tag> = inp
        .tags
        .iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: match v {
                Val::Text(s) => TagValue::Text(s.clone()),
                Val::Binary(b) => TagValue::Binary(b.clone()),
                Val::Long(c, n) => TagValue::Text(
                    char::from(*c & 0x7f)
                        .to_string()
                        .repeat(*n as usize % (3 << 20)),
                ),
            },
        })
        .collect();
    // Many tags (a store may hold any number).
    if let Some(t) = tags.first().cloned().filter(|t| match &t.value {
        TagValue::Text(s) => s.len() < 256,
        TagValue::Binary(b) => b.len() < 256,
    }) {
        for _ in 0..inp.repeat_tags % 20_000 {
            tags.push(t.clone());
        }
    }
    let art: HashMap<i64, Arc<[u8]>> = inp
        .art
        .iter()
        .enumerate()
        .map(|(i, d)| (i as i64, Arc::from(d.as_slice())))
        .collect();
    let pictures: Vec<PictureRef> = inp
        .pictures
        .iter()
        .map(|p| {
            let real = art.get(&i64::from(p.art)).map_or(16, |d| d.len() as u64);
            PictureRef {
                art_id: i64::from(p.art),
                picture_type: p.picture_type,
                mime: p.mime.clone(),
                description: p.description.clone(),
                width: p.dims[0],
                height: p.dims[1],
                depth: p.dims[2],
                colors: p.dims[3],
                len: real.saturating_add_signed(p.len_delta.unwrap_or(0)),
            }
        })
        .collect();
    let honest = inp.pictures.iter().all(|p| p.len_delta.is_none());
    let input = SynthInput {
        container,
        audio_offset,
        audio_len,
        structural: &structural,
        tags: &tags,
        pictures: &pictures,
        art: &art,
    };
    let served = format::served_len(&input);
    let Ok(segs) = format::synthesize(&input) else {
        return;
    };
    if std::env::var_os("MUSEFS_FUZZ_DEBUG").is_some() {
        eprintln!("container {container:?} audio {audio_offset}+{audio_len}\n{segs:#?}");
    }
    let sum = segs
        .iter()
        .try_fold(0u64, |a, s| a.checked_add(s.len()))
        .expect("segment lengths overflow u64");
    // What getattr reports (computed without art) must be what reads serve.
    if honest {
        assert_eq!(
            served.expect("served_len failed where synthesis succeeded"),
            sum
        );
    }
    for s in &segs {
        if let Segment::Inline(b) = s {
            assert!(
                b.len() as u64 <= 2 * format::limits::MAX_HEADER_BYTES,
                "inline {}",
                b.len()
            );
        }
    }
    let layout = Layout::new(segs);
    assert_eq!(layout.len(), sum);
    let backing = Mem(backing_bytes);
    if sum <= 16 << 20
        && let Ok(whole) = musefs_fuzz::assemble(&layout, backing_bytes, &art)
    {
        musefs_fuzz::check_ranges(&layout, &whole, backing_bytes, &art, sum ^ audio_len);
    }
    for (off, n) in inp.reads.iter().take(8) {
        let off = if sum == 0 { *off } else { off % (sum + 16) };
        let mut buf = vec![0u8; usize::from(*n)];
        if let Ok(got) = layout.read_at(off, &mut buf, &backing, &art) {
            assert!(got <= buf.len());
            assert_eq!(got as u64, (sum.saturating_sub(off)).min(buf.len() as u64));
        }
    }
}
