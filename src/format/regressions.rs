//! Regression tests for inputs found by fuzzing (fuzz/, scripts/fuzz): each
//! test replays the shape of one crash or limit violation and checks that it
//! is now a clear error (or a served file), never a panic.

use super::*;
use std::collections::HashMap;

fn input<'a>(
    container: Container,
    audio_offset: u64,
    audio_len: u64,
    structural: &'a [Structural],
    tags: &'a [Tag],
    pictures: &'a [PictureRef],
    art: &'a dyn ArtSource,
) -> SynthInput<'a> {
    SynthInput {
        container,
        audio_offset,
        audio_len,
        structural,
        tags,
        pictures,
        art,
    }
}

/// fuzz/synth: an audio range of u64::MAX + u64::MAX (a hostile store row)
/// made the segment lengths overflow u64.
#[test]
fn synthesis_refuses_an_audio_range_past_any_file() {
    let art: HashMap<i64, Arc<[u8]>> = HashMap::new();
    let tags = [Tag::text("title", "x")];
    for c in Container::ALL {
        for (off, len) in [
            (u64::MAX, u64::MAX),
            (1, u64::MAX),
            (MAX_FILE_LEN, 1),
            (0, MAX_FILE_LEN), // plus any header: larger than a file can be
        ] {
            let i = input(c, off, len, &[], &tags, &[], &art);
            let r = synthesize(&i);
            assert!(
                matches!(r, Err(FormatError::Limit(_))) || (len == MAX_FILE_LEN && r.is_err()),
                "{c} {off}+{len}: {:?}",
                synthesize(&i)
            );
            assert!(served_len(&i).is_err(), "{c} {off}+{len}");
        }
    }
}

/// Concatenate a synthesised file (inline and backing segments only).
fn assemble(segs: &[Segment], backing: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segs {
        match s {
            Segment::Inline(b) => out.extend_from_slice(b),
            Segment::Backing { offset, len } => {
                out.extend_from_slice(&backing[*offset as usize..(*offset + *len) as usize])
            }
            other => panic!("unexpected segment {other:?}"),
        }
    }
    out
}

fn probe_mp3(f: &[u8]) -> Result<Probe, FormatError> {
    mp3::probe(&mut std::io::Cursor::new(f), f.len() as u64)
}

/// A small MP3: an ID3v2.3 tag (TIT2 "T") and three MPEG-1 Layer III frames.
fn small_mp3() -> Vec<u8> {
    let frame = b"TIT2\x00\x00\x00\x02\x00\x00\x00T";
    let mut f = b"ID3\x03\x00\x00".to_vec();
    f.extend_from_slice(&id3v2::to_syncsafe(frame.len() as u32));
    f.extend_from_slice(frame);
    for i in 0..3u8 {
        f.extend_from_slice(&[0xff, 0xfb, 0x90, 0x64]);
        f.extend(std::iter::repeat_n(i + 1, 413));
    }
    f
}

fn id3v1_block(title: &str) -> Vec<u8> {
    let mut t = b"TAG".to_vec();
    t.extend_from_slice(title.as_bytes());
    t.resize(128, 0);
    t
}

/// fuzz/mp3: an ID3v1-looking block followed by an appended ID3v2 tag (with
/// footer). The probe stripped only the appended tag, so the audio range
/// ended in "TAG..." and the served file (audio range last) read as having
/// an ID3v1 tag: a different audio length, here no MPEG sync at all.
#[test]
fn mp3_audio_range_never_ends_in_a_trailing_tag() {
    let mut f = small_mp3();
    let audio_end = f.len() as u64;
    f.extend(id3v1_block("inner"));
    f.extend_from_slice(b"ID3\x04\x00\x10\x00\x00\x00\x003DI\x04\x00\x10\x00\x00\x00\x00");
    let p = probe_mp3(&f).unwrap();
    assert_eq!(p.audio_offset + p.audio_len, audio_end);
    assert!(p.tags.contains(&Tag::text("title", "T")));
    let segs = synthesize(&input(
        Container::Mp3,
        p.audio_offset,
        p.audio_len,
        &p.structural,
        &p.tags,
        &[],
        &NoArt,
    ))
    .unwrap();
    let served = assemble(&segs, &f);
    let q = probe_mp3(&served).unwrap();
    assert_eq!(q.audio_len, p.audio_len);
}

/// The stripping loop is bounded: too many trailing tags is a limit error.
#[test]
fn mp3_too_many_trailing_tags_is_a_limit() {
    let mut f = small_mp3();
    for _ in 0..mp3::MAX_TRAILING_TAGS {
        f.extend(id3v1_block("x"));
    }
    assert!(probe_mp3(&f).is_ok());
    f.extend(id3v1_block("x"));
    assert!(matches!(probe_mp3(&f), Err(FormatError::Limit(_))));
}

/// Review while fuzzing (limits): every kept FLAC block becomes a structural
/// row, and nothing bounded their number; 16 million empty APPLICATION
/// blocks fit in the 64 MiB header limit and cost gigabytes of rows.
#[test]
fn flac_metadata_block_count_is_limited() {
    let file = |n: usize| {
        let mut f = b"fLaC\x00\x00\x00\x22".to_vec();
        f.extend_from_slice(&[0x10; 34]);
        for _ in 0..n {
            f.extend_from_slice(&[2, 0, 0, 0]); // empty APPLICATION block
        }
        f.extend_from_slice(&[0x81, 0, 0, 0]); // last: empty PADDING
        f.extend_from_slice(b"\xff\xf8frames");
        f
    };
    let probe = |f: &[u8]| flac::probe(&mut std::io::Cursor::new(f), f.len() as u64);
    let p = probe(&file(100)).unwrap();
    assert_eq!(p.structural.len(), 101); // STREAMINFO and 100 blocks (no comment: no vendor)
    assert!(matches!(
        probe(&file(flac::MAX_BLOCKS)),
        Err(FormatError::Limit(_))
    ));
}
