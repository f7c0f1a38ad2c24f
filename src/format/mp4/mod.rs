//! MPEG-4 audio (M4A/M4B): unfragmented ISO base media files with one audio
//! track.
//!
//! Probe walks the top-level boxes, keeps `ftyp` and `moov` (minus the
//! iTunes `meta` box under `udta`) as structural rows, reads the `ilst`
//! items as tags and `covr` pictures, and reports the `mdat` payload as the
//! audio range. Synthesis serves `ftyp`, a rebuilt `moov` with a fresh
//! `udta/meta/ilst` (pictures streamed from the store), an `mdat` header and
//! the untouched `mdat` payload, keeping the original order of `moov` and
//! `mdat`. Every chunk offset (`stco`/`co64`) is shifted by the distance the
//! payload moved; `stco` tables are widened to `co64` if a shifted offset
//! would not fit 32 bits. Other top-level boxes (`free`, `wide`, `skip`,
//! `uuid`, top-level `meta`, ...) are dropped.

mod boxes;
mod genres;
mod ilst;
#[cfg(test)]
mod tests;

use super::{
    Container, FormatError, PictureRef, Probe, Segment, Source, Structural, SynthInput, limits,
    read_up_to, read_vec,
};
use boxes::{Emitter, Node, err};
use std::io::SeekFrom;

/// Structural kind: the original `ftyp` box, verbatim.
pub const KIND_FTYP: &str = "mp4.ftyp";
/// Structural kind: the `moov` box without its iTunes metadata (`meta`
/// with handler `mdir` under `udta`), chunk offsets as in the backing file.
pub const KIND_MOOV: &str = "mp4.moov";
/// Structural kind: one byte, [`MOOV_FIRST`] or [`MOOV_LAST`].
pub const KIND_LAYOUT: &str = "mp4.layout";
/// `moov` comes before `mdat` ("fast start").
pub const MOOV_FIRST: u8 = 0;
/// `moov` follows `mdat`.
pub const MOOV_LAST: u8 = 1;

/// Most top-level boxes walked before giving up.
pub const MAX_TOP_BOXES: usize = 4096;
/// Largest `ftyp` box accepted.
pub const MAX_FTYP: u64 = 4096;

/// Top-level boxes that only occur in fragmented or segmented files.
const FRAGMENTED: [&[u8; 4]; 5] = [b"moof", b"mfra", b"sidx", b"styp", b"ssix"];

struct Top {
    ftyp: Option<Vec<u8>>,
    moov: Option<(u64, Vec<u8>)>,
    /// (box offset, payload offset, payload length)
    mdat: Option<(u64, u64, u64)>,
}

/// Walk the top-level boxes.
fn walk(src: &mut dyn Source, file_len: u64) -> Result<Top, FormatError> {
    let mut top = Top {
        ftyp: None,
        moov: None,
        mdat: None,
    };
    let mut pos = 0u64;
    let mut count = 0usize;
    while file_len - pos >= 8 {
        count += 1;
        if count > MAX_TOP_BOXES {
            return Err(FormatError::Limit(format!(
                "more than {MAX_TOP_BOXES} top-level boxes"
            )));
        }
        let remaining = file_len - pos;
        src.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 8];
        if read_up_to(src, &mut h)? < 8 {
            return Err(err("file shorter than its stated length"));
        }
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let kind = [h[4], h[5], h[6], h[7]];
        let (hlen, size) = match size32 {
            0 => (8u64, remaining),
            1 => {
                let mut l = [0u8; 8];
                if remaining < 16 || read_up_to(src, &mut l)? < 8 {
                    return Err(err("truncated 64-bit box size"));
                }
                (16, u64::from_be_bytes(l))
            }
            n => (8, u64::from(n)),
        };
        if size < hlen {
            return Err(err(format!(
                "top-level box '{}' has size {size}, smaller than its header",
                boxes::show(&kind)
            )));
        }
        if size > remaining {
            return Err(err(format!(
                "top-level box '{}' runs past the end of the file",
                boxes::show(&kind)
            )));
        }
        match &kind {
            b"ftyp" => {
                if top.ftyp.is_some() {
                    return Err(err("two ftyp boxes"));
                }
                if size < 16 {
                    return Err(err("ftyp box too short"));
                }
                if size > MAX_FTYP {
                    return Err(FormatError::Limit(format!("ftyp box of {size} bytes")));
                }
                src.seek(SeekFrom::Start(pos))?;
                top.ftyp = Some(read_vec(src, size, "ftyp box")?);
            }
            b"moov" => {
                if top.moov.is_some() {
                    return Err(err("two moov boxes"));
                }
                if size > limits::MAX_HEADER_BYTES {
                    return Err(FormatError::Limit(format!("moov box of {size} bytes")));
                }
                src.seek(SeekFrom::Start(pos))?;
                top.moov = Some((pos, read_vec(src, size, "moov box")?));
            }
            b"mdat" => {
                if top.mdat.is_some() {
                    return Err(FormatError::Unsupported(
                        "MP4 files with several mdat boxes".into(),
                    ));
                }
                top.mdat = Some((pos, pos + hlen, size - hlen));
            }
            k if FRAGMENTED.contains(&k) => {
                return Err(FormatError::Unsupported(format!(
                    "fragmented MP4 (top-level '{}' box)",
                    boxes::show(k)
                )));
            }
            _ => {}
        }
        pos += size;
    }
    Ok(top)
}

/// The handler type of a `trak` (`soun`, `vide`, `text`, ...).
fn handler(trak: &Node) -> Option<[u8; 4]> {
    let hdlr = trak.child(b"mdia")?.child(b"hdlr")?;
    hdlr.payload().get(8..12)?.try_into().ok()
}

/// Check the track set and sample tables we know how to serve.
fn check_tracks(moov: &Node) -> Result<(), FormatError> {
    if moov.child(b"mvex").is_some() {
        return Err(FormatError::Unsupported(
            "fragmented MP4 (moov has mvex)".into(),
        ));
    }
    let mut audio = 0;
    for trak in moov.kids().iter().filter(|k| &k.kind == b"trak") {
        match handler(trak).as_ref() {
            Some(b"soun") => audio += 1,
            Some(b"vide") => {
                return Err(FormatError::Unsupported(
                    "MP4 files with a video track".into(),
                ));
            }
            Some(_) => {} // chapter text, subtitles, timecode: kept as they are
            None => return Err(err("track without a handler")),
        }
    }
    if audio != 1 {
        return Err(FormatError::Unsupported(format!(
            "MP4 files with {audio} audio tracks (exactly one is served)"
        )));
    }
    let mut res = Ok(());
    boxes::for_each_stbl(moov, &mut |stbl| {
        if stbl.child(b"saio").is_some() {
            res = Err(FormatError::Unsupported(
                "MP4 sample auxiliary offsets (saio)".into(),
            ));
        }
    });
    res
}

/// Remove every iTunes `meta` box (handler `mdir`) from `moov/udta`,
/// returning the first one's `ilst` payload. An emptied `udta` is removed.
fn take_ilst(moov: &mut Node) -> Option<Vec<u8>> {
    let kids = moov.kids_mut()?;
    let ui = kids.iter().position(|k| &k.kind == b"udta")?;
    let udta = kids[ui].kids_mut()?;
    let mut ilst = None;
    udta.retain(|k| {
        if &k.kind != b"meta" {
            return true;
        }
        match ilst::meta_parts(k.payload()) {
            Some((h, list)) if &h == b"mdir" => {
                if ilst.is_none() {
                    ilst = Some(list.unwrap_or_default().to_vec());
                }
                false
            }
            _ => true,
        }
    });
    if udta.is_empty() {
        kids.remove(ui);
    }
    ilst
}

/// Probe an MP4 file. `ext_hint` (lower-case extension) picks M4B for `m4b`.
pub fn probe(src: &mut dyn Source, file_len: u64, ext_hint: &str) -> Result<Probe, FormatError> {
    let top = walk(src, file_len)?;
    let ftyp = top.ftyp.ok_or_else(|| err("no ftyp box"))?;
    let (moov_pos, moov_bytes) = top.moov.ok_or_else(|| err("no moov box"))?;
    let (mdat_pos, audio_offset, audio_len) = top.mdat.ok_or_else(|| err("no mdat box"))?;
    let mut moov = Node::parse(&moov_bytes)?;
    drop(moov_bytes);
    check_tracks(&moov)?;
    if let Some((lo, hi)) = boxes::offset_range(&moov)?
        && (lo < audio_offset || hi > audio_offset + audio_len)
    {
        return Err(FormatError::Unsupported(
            "MP4 chunk offsets outside the mdat box".into(),
        ));
    }
    let items = take_ilst(&mut moov)
        .map(|l| ilst::read(&l))
        .unwrap_or_default();
    let major = ftyp.get(8..12);
    let container = if ext_hint.eq_ignore_ascii_case("m4b") || major == Some(b"M4B ") {
        Container::M4b
    } else {
        Container::M4a
    };
    let layout = if moov_pos < mdat_pos {
        MOOV_FIRST
    } else {
        MOOV_LAST
    };
    Ok(Probe {
        container,
        audio_offset,
        audio_len,
        tags: items.tags,
        pictures: items.pictures,
        structural: vec![
            Structural {
                kind: KIND_FTYP.into(),
                data: ftyp,
            },
            Structural {
                kind: KIND_MOOV.into(),
                data: moov.to_bytes(),
            },
            Structural {
                kind: KIND_LAYOUT.into(),
                data: vec![layout],
            },
        ],
    })
}

/// Pictures that fit: each below the picture cap, the lot within the header
/// budget left after the rest of `moov`.
fn fitting_pictures(pictures: &[PictureRef], mut budget: u64) -> Vec<&PictureRef> {
    let mut out = Vec::new();
    for p in pictures {
        if out.len() >= limits::MAX_PICTURES || p.len == 0 {
            continue;
        }
        if p.len > limits::MAX_PICTURE_BYTES as u64 || p.len + 16 > budget {
            continue;
        }
        budget -= p.len + 16;
        out.push(p);
    }
    out
}

/// Build the served MP4 file.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    let ftyp = super::structural(input.structural, KIND_FTYP)
        .ok_or_else(|| FormatError::MissingStructural("MP4 ftyp".into()))?;
    let (kind, _, size) = boxes::header(ftyp)?;
    if &kind != b"ftyp" || size != ftyp.len() || size < 16 {
        return Err(err("stored ftyp is not an ftyp box"));
    }
    let moov_bytes = super::structural(input.structural, KIND_MOOV)
        .ok_or_else(|| FormatError::MissingStructural("MP4 moov".into()))?;
    if moov_bytes.len() as u64 > limits::MAX_HEADER_BYTES {
        return Err(FormatError::Limit("stored moov larger than 64 MiB".into()));
    }
    let mut moov = Node::parse(moov_bytes)?;
    if &moov.kind != b"moov" {
        return Err(err("stored moov is not a moov box"));
    }
    let moov_first = super::structural(input.structural, KIND_LAYOUT) != Some(&[MOOV_LAST]);

    let text_items = ilst::build(input.tags, &[]);
    let base = moov.size() + text_items.iter().map(Node::size).sum::<u64>() + 256;
    let pics = fitting_pictures(
        input.pictures,
        limits::MAX_HEADER_BYTES.saturating_sub(base),
    );
    let items = ilst::build(input.tags, &pics);
    if !items.is_empty() {
        let meta = ilst::meta_box(items);
        let kids = moov
            .kids_mut()
            .ok_or_else(|| err("moov is not a container"))?;
        match kids.iter_mut().find(|k| &k.kind == b"udta") {
            Some(udta) => udta
                .kids_mut()
                .ok_or_else(|| err("udta is not a container"))?
                .push(meta),
            None => kids.push(Node::container(b"udta", Vec::new(), vec![meta])),
        }
    }

    let mdat_hlen: u64 = if input.audio_len.saturating_add(8) > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let payload_at =
        |moov: &Node| ftyp.len() as u64 + mdat_hlen + if moov_first { moov.size() } else { 0 };
    let mut delta = i128::from(payload_at(&moov)) - i128::from(input.audio_offset);
    if boxes::stco_overflows(&moov, delta)? {
        boxes::widen_stco(&mut moov)?;
        delta = i128::from(payload_at(&moov)) - i128::from(input.audio_offset);
    }
    boxes::shift_offsets(&mut moov, delta)?;

    let mut out = Emitter::default();
    out.bytes(ftyp);
    if moov_first {
        moov.emit(&mut out);
    }
    if mdat_hlen == 8 {
        out.bytes(&((input.audio_len + 8) as u32).to_be_bytes());
        out.bytes(b"mdat");
    } else {
        out.bytes(&1u32.to_be_bytes());
        out.bytes(b"mdat");
        out.bytes(&input.audio_len.saturating_add(16).to_be_bytes());
    }
    out.segment(Segment::Backing {
        offset: input.audio_offset,
        len: input.audio_len,
    });
    if !moov_first {
        moov.emit(&mut out);
    }
    Ok(out.finish())
}
