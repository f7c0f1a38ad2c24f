//! Shared checks for the musefs fuzz targets.
//!
//! Every parser target feeds arbitrary bytes to a probe. When the probe
//! accepts the file, the same checks the mount relies on are applied to it:
//! the audio range lies inside the file, synthesis with the probe's own tags
//! and pictures succeeds, `served_len` equals the sum of the segments, the
//! assembled file's audio bytes are the original's, random `read_at` ranges
//! equal slices of the whole, and the served file probes again with the same
//! audio length.

use musefs::format::{self, ArtSource, PictureRef, Probe, Segment, SynthInput, TagValue};
use musefs::library::layout::Layout;
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// An in-memory backing file (no temp files in the hot loop).
pub struct Mem<'a>(pub &'a [u8]);

impl FileExt for Mem<'_> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(src) = self.0.get(off..) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }

    fn write_at(&self, _buf: &[u8], _offset: u64) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::PermissionDenied))
    }
}

/// Largest served file the checks assemble in memory.
const MAX_ASSEMBLE: u64 = 64 << 20;

/// Read the whole served file through `Layout::read_at`.
pub fn assemble(layout: &Layout, backing: &[u8], art: &dyn ArtSource) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; layout.len() as usize];
    let n = layout.read_at(0, &mut out, &Mem(backing), art)?;
    assert_eq!(
        n as u64,
        layout.len(),
        "read_at of the whole file was short"
    );
    Ok(out)
}

/// A few `read_at` ranges derived from `seed` must equal slices of `whole`.
pub fn check_ranges(
    layout: &Layout,
    whole: &[u8],
    backing: &[u8],
    art: &dyn ArtSource,
    mut seed: u64,
) {
    let len = whole.len() as u64;
    for _ in 0..4 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let off = if len == 0 {
            0
        } else {
            (seed >> 16) % (len + 8)
        };
        let n = ((seed >> 40) % 9000) as usize;
        let mut buf = vec![0u8; n];
        let got = layout
            .read_at(off, &mut buf, &Mem(backing), art)
            .expect("a range read failed where the whole-file read succeeded");
        let s = (off.min(len)) as usize;
        let e = (s + n).min(whole.len());
        assert_eq!(got, e - s, "short read at {off}+{n} of {len}");
        assert_eq!(&buf[..got], &whole[s..e], "range {off}+{n} differs");
    }
}

/// The pictures of a probe as store rows: ids 1.., bytes in an art table.
pub fn picture_table(p: &Probe) -> (Vec<PictureRef>, HashMap<i64, Arc<[u8]>>) {
    let mut refs = Vec::new();
    let mut art = HashMap::new();
    for (i, pic) in p.pictures.iter().enumerate() {
        let id = i as i64 + 1;
        refs.push(PictureRef {
            art_id: id,
            picture_type: pic.picture_type,
            mime: pic.mime.clone(),
            description: pic.description.clone(),
            width: pic.width,
            height: pic.height,
            depth: pic.depth,
            colors: pic.colors,
            len: pic.data.len() as u64,
        });
        art.insert(id, Arc::from(pic.data.as_slice()));
    }
    (refs, art)
}

fn seed_of(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The probe output must be servable: see the module documentation.
/// `reprobe` parses a served file with the same parser.
pub fn check_probe(
    data: &[u8],
    probe: Result<Probe, format::FormatError>,
    reprobe: impl Fn(&[u8]) -> Result<Probe, format::FormatError>,
) {
    let Ok(p) = probe else { return };
    let file_len = data.len() as u64;
    let end = p
        .audio_offset
        .checked_add(p.audio_len)
        .expect("audio range overflows");
    assert!(
        end <= file_len,
        "audio range {}+{} past {file_len}",
        p.audio_offset,
        p.audio_len
    );
    assert!(p.tags.len() <= format::limits::MAX_TAGS);
    assert!(p.pictures.len() <= format::limits::MAX_PICTURES);
    for t in &p.tags {
        assert!(!t.key.is_empty(), "empty tag key");
        if let TagValue::Text(v) = &t.value {
            assert!(v.len() <= format::limits::MAX_TAG_VALUE_BYTES);
        }
    }
    for pic in &p.pictures {
        assert!(pic.data.len() <= format::limits::MAX_PICTURE_BYTES);
    }
    let (refs, art) = picture_table(&p);
    let input = SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags: &p.tags,
        pictures: &refs,
        art: &art,
    };
    let segs = format::synthesize(&input)
        .unwrap_or_else(|e| panic!("a probed {} file cannot be synthesised: {e}", p.container));
    let sum: u64 = segs.iter().map(Segment::len).sum();
    let served = format::served_len(&input).expect("served_len failed where synthesis succeeded");
    assert_eq!(served, sum, "served_len disagrees with the segments");
    if sum > MAX_ASSEMBLE {
        return;
    }
    let layout = Layout::new(segs);
    let whole = assemble(&layout, data, &art).expect("reading the served file failed");
    check_ranges(&layout, &whole, data, &art, seed_of(data));
    // The audio payload is served verbatim (Ogg pages may be renumbered).
    let mut pos = 0u64;
    for s in layout.segments() {
        if let Segment::Backing { offset, len } = s {
            let a = &whole[pos as usize..(pos + len) as usize];
            assert_eq!(a, &data[*offset as usize..(*offset + *len) as usize]);
        }
        pos += s.len();
    }
    let q = reprobe(&whole)
        .unwrap_or_else(|e| panic!("the served {} file does not probe again: {e}", p.container));
    assert_eq!(
        q.audio_len, p.audio_len,
        "audio length changed by synthesis"
    );
    assert_eq!(q.container, p.container);
}
