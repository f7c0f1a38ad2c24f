//! Native FLAC: `fLaC`, metadata blocks, then frames.
//!
//! Probe keeps STREAMINFO, SEEKTABLE, CUESHEET and APPLICATION blocks
//! byte-exact as structural rows, reads VORBIS_COMMENT and PICTURE blocks as
//! tags and pictures, and steps over a leading ID3v2 tag. Synthesis emits
//! `fLaC`, the structural blocks in their original order, a fresh
//! VORBIS_COMMENT, one PICTURE block per picture (bytes streamed from the
//! store), then the audio frames verbatim.

use super::{
    FormatError, Picture, PictureRef, Probe, Segment, Source, Structural, SynthInput, Tag, id3v2,
    limits, read_vec, vorbis_comment,
};
use std::io::SeekFrom;

const STREAMINFO: u8 = 0;
const PADDING: u8 = 1;
const APPLICATION: u8 = 2;
const SEEKTABLE: u8 = 3;
const VORBIS_COMMENT: u8 = 4;
const CUESHEET: u8 = 5;
const PICTURE: u8 = 6;

/// Largest body a metadata block header can describe (24-bit length).
pub const MAX_BLOCK_LEN: usize = (1 << 24) - 1;

/// Most metadata blocks read from one file (each kept block becomes a
/// structural row: millions of empty blocks in a 64 MiB header would
/// otherwise cost gigabytes).
pub const MAX_BLOCKS: usize = 4096;

/// Structural kind for kept blocks: `flac.block` rows hold the 1-byte block
/// type followed by the block body, in file order.
pub const KIND_BLOCK: &str = "flac.block";
/// Structural kind for the original Vorbis comment vendor string.
pub const KIND_VENDOR: &str = "flac.vendor";

fn err(reason: impl Into<String>) -> FormatError {
    FormatError::malformed("flac", reason)
}

/// Probe a native FLAC file (optionally behind an ID3v2 tag).
pub fn probe(src: &mut dyn Source, file_len: u64) -> Result<Probe, FormatError> {
    let start = id3v2::skip_len(src)?;
    src.seek(SeekFrom::Start(start))?;
    let magic = read_vec(src, 4, "FLAC signature")?;
    if magic != b"fLaC" {
        return Err(err("missing fLaC signature"));
    }
    let mut pos = start + 4;
    let mut tags = Vec::new();
    let mut pictures = Vec::new();
    let mut structural = Vec::new();
    let mut seen_streaminfo = false;
    let mut seen_comment = false;
    for blocks in 1.. {
        if blocks > MAX_BLOCKS {
            return Err(FormatError::Limit(format!(
                "more than {MAX_BLOCKS} FLAC metadata blocks"
            )));
        }
        let h = read_vec(src, 4, "metadata block header")?;
        let last = h[0] & 0x80 != 0;
        let kind = h[0] & 0x7f;
        let len = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
        pos += 4;
        if pos + len > file_len {
            return Err(err("metadata block runs past end of file"));
        }
        if pos + len - start > limits::MAX_HEADER_BYTES {
            return Err(FormatError::Limit(
                "FLAC metadata larger than 64 MiB".into(),
            ));
        }
        match kind {
            STREAMINFO | SEEKTABLE | CUESHEET | APPLICATION => {
                let body = read_vec(src, len, "metadata block")?;
                if kind == STREAMINFO {
                    if seen_streaminfo || !structural.is_empty() || len != 34 {
                        return Err(err("STREAMINFO must come first and be 34 bytes"));
                    }
                    seen_streaminfo = true;
                }
                let mut data = Vec::with_capacity(body.len() + 1);
                data.push(kind);
                data.extend_from_slice(&body);
                structural.push(Structural {
                    kind: KIND_BLOCK.into(),
                    data,
                });
            }
            VORBIS_COMMENT if !seen_comment => {
                seen_comment = true;
                let body = read_vec(src, len, "VORBIS_COMMENT")?;
                let c = vorbis_comment::parse(&body)?;
                structural.push(Structural {
                    kind: KIND_VENDOR.into(),
                    data: c.vendor.into_bytes(),
                });
                tags = c.tags;
            }
            PICTURE => {
                let body = read_vec(src, len, "PICTURE")?;
                match parse_picture(&body) {
                    Ok(p) if pictures.len() < limits::MAX_PICTURES => pictures.push(p),
                    _ => {} // an unreadable picture is dropped, the file is still served
                }
            }
            PADDING | VORBIS_COMMENT | 7..=126 => {
                src.seek(SeekFrom::Current(len as i64))?;
            }
            _ => return Err(err("invalid metadata block type 127")),
        }
        pos += len;
        if last {
            break;
        }
    }
    if !seen_streaminfo {
        return Err(err("no STREAMINFO block"));
    }
    Ok(Probe {
        container: super::Container::Flac,
        audio_offset: pos,
        audio_len: file_len - pos,
        tags,
        pictures,
        structural,
    })
}

/// Parse the body of a FLAC PICTURE block (also the payload of Ogg
/// `METADATA_BLOCK_PICTURE` after base64 decoding).
pub fn parse_picture(b: &[u8]) -> Result<Picture, FormatError> {
    let mut pos = 0usize;
    let u32_at = |pos: &mut usize| -> Result<u32, FormatError> {
        let s = b
            .get(*pos..*pos + 4)
            .ok_or_else(|| err("truncated PICTURE block"))?;
        *pos += 4;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let picture_type = u32_at(&mut pos)?;
    let mlen = u32_at(&mut pos)? as usize;
    let mime = b
        .get(pos..pos.saturating_add(mlen))
        .ok_or_else(|| err("truncated PICTURE mime"))?;
    let mime = String::from_utf8_lossy(mime).into_owned();
    pos += mlen;
    let dlen = u32_at(&mut pos)? as usize;
    let desc = b
        .get(pos..pos.saturating_add(dlen))
        .ok_or_else(|| err("truncated PICTURE description"))?;
    let description = String::from_utf8_lossy(desc).into_owned();
    pos += dlen;
    let width = u32_at(&mut pos)?;
    let height = u32_at(&mut pos)?;
    let depth = u32_at(&mut pos)?;
    let colors = u32_at(&mut pos)?;
    let len = u32_at(&mut pos)? as usize;
    if len > limits::MAX_PICTURE_BYTES {
        return Err(FormatError::Limit(format!("picture of {len} bytes")));
    }
    let data = b
        .get(pos..pos.saturating_add(len))
        .ok_or_else(|| err("truncated PICTURE data"))?
        .to_vec();
    Ok(Picture {
        picture_type,
        mime,
        description,
        width,
        height,
        depth,
        colors,
        data,
    })
}

/// The bytes of a PICTURE block body up to (not including) the picture data,
/// which the caller appends or streams.
pub fn picture_prefix(p: &PictureRef) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + p.mime.len() + p.description.len());
    out.extend_from_slice(&p.picture_type.to_be_bytes());
    out.extend_from_slice(&(p.mime.len() as u32).to_be_bytes());
    out.extend_from_slice(p.mime.as_bytes());
    out.extend_from_slice(&(p.description.len() as u32).to_be_bytes());
    out.extend_from_slice(p.description.as_bytes());
    for v in [p.width, p.height, p.depth, p.colors] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&(p.len as u32).to_be_bytes());
    out
}

fn block_header(kind: u8, last: bool, len: usize) -> [u8; 4] {
    let l = (len as u32).to_be_bytes();
    [kind | if last { 0x80 } else { 0 }, l[1], l[2], l[3]]
}

/// Build the served FLAC file.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    let blocks: Vec<&[u8]> = input
        .structural
        .iter()
        .filter(|s| s.kind == KIND_BLOCK && !s.data.is_empty())
        .map(|s| s.data.as_slice())
        .collect();
    if blocks.first().map(|b| b[0]) != Some(STREAMINFO) {
        return Err(FormatError::MissingStructural("FLAC STREAMINFO".into()));
    }
    let vendor = super::structural(input.structural, KIND_VENDOR)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "musefs".into());
    let tags: Vec<Tag> = input.tags.to_vec();
    let mut comment = vorbis_comment::encode(&vendor, &tags, &[]);
    if comment.len() > MAX_BLOCK_LEN {
        // Drop values from the end until the block fits: a valid file beats a failed read.
        let mut keep = tags.len();
        while comment.len() > MAX_BLOCK_LEN && keep > 0 {
            keep -= 1;
            comment = vorbis_comment::encode(&vendor, &tags[..keep], &[]);
        }
    }
    let pictures: Vec<&PictureRef> = input
        .pictures
        .iter()
        .filter(|p| {
            (p.len as usize) < MAX_BLOCK_LEN
                && 32 + p.mime.len() + p.description.len() + p.len as usize <= MAX_BLOCK_LEN
        })
        .collect();

    let mut head = Vec::with_capacity(comment.len() + 256);
    head.extend_from_slice(b"fLaC");
    for b in &blocks {
        head.extend_from_slice(&block_header(b[0], false, b.len() - 1));
        head.extend_from_slice(&b[1..]);
    }
    head.extend_from_slice(&block_header(
        VORBIS_COMMENT,
        pictures.is_empty(),
        comment.len(),
    ));
    head.extend_from_slice(&comment);
    let mut segs = Vec::with_capacity(2 + pictures.len() * 2);
    for (i, p) in pictures.iter().enumerate() {
        let prefix = picture_prefix(p);
        let last = i + 1 == pictures.len();
        head.extend_from_slice(&block_header(PICTURE, last, prefix.len() + p.len as usize));
        head.extend_from_slice(&prefix);
        segs.push(Segment::Inline(std::mem::take(&mut head)));
        segs.push(Segment::Art {
            art_id: p.art_id,
            offset: 0,
            len: p.len,
        });
    }
    if !head.is_empty() {
        segs.push(Segment::Inline(head));
    }
    segs.push(Segment::Backing {
        offset: input.audio_offset,
        len: input.audio_len,
    });
    Ok(segs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Container, TagValue};
    use std::io::Cursor;

    /// A minimal structurally valid FLAC file (fake frames).
    pub(crate) fn sample(tags: &[(&str, &str)], picture: Option<&[u8]>) -> Vec<u8> {
        let mut f = b"fLaC".to_vec();
        let mut si = vec![0u8; 34];
        si[0..2].copy_from_slice(&4096u16.to_be_bytes());
        f.extend_from_slice(&block_header(STREAMINFO, false, 34));
        f.extend_from_slice(&si);
        let t: Vec<Tag> = tags.iter().map(|(k, v)| Tag::text(k, v)).collect();
        let c = vorbis_comment::encode("test", &t, &[]);
        f.extend_from_slice(&block_header(VORBIS_COMMENT, false, c.len()));
        f.extend_from_slice(&c);
        if let Some(data) = picture {
            let p = PictureRef {
                art_id: 0,
                picture_type: 3,
                mime: "image/png".into(),
                description: "front".into(),
                width: 1,
                height: 1,
                depth: 24,
                colors: 0,
                len: data.len() as u64,
            };
            let mut body = picture_prefix(&p);
            body.extend_from_slice(data);
            f.extend_from_slice(&block_header(PICTURE, false, body.len()));
            f.extend_from_slice(&body);
        }
        f.extend_from_slice(&block_header(PADDING, true, 10));
        f.extend_from_slice(&[0; 10]);
        f.extend_from_slice(b"\xff\xf8AUDIOFRAMES");
        f
    }

    #[test]
    fn probe_finds_audio_tags_pictures() {
        let f = sample(&[("TITLE", "Song"), ("artist", "Me")], Some(b"PNGDATA"));
        let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(p.container, Container::Flac);
        assert_eq!(&f[p.audio_offset as usize..], b"\xff\xf8AUDIOFRAMES");
        assert_eq!(p.tags[0].key, "title");
        assert_eq!(p.tags[0].value, TagValue::Text("Song".into()));
        assert_eq!(p.pictures.len(), 1);
        assert_eq!(p.pictures[0].data, b"PNGDATA");
        assert_eq!(p.pictures[0].description, "front");
    }

    #[test]
    fn probe_steps_over_id3() {
        let mut f = b"ID3\x03\x00\x00\x00\x00\x00\x04abcd".to_vec();
        f.extend(sample(&[("title", "x")], None));
        let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(&f[p.audio_offset as usize..], b"\xff\xf8AUDIOFRAMES");
    }

    #[test]
    fn truncated_files_error_not_panic() {
        let f = sample(&[("title", "x")], Some(b"PIC"));
        for cut in 0..f.len() - 13 {
            let r = probe(&mut Cursor::new(&f[..cut]), cut as u64);
            assert!(r.is_err() || r.unwrap().audio_offset <= cut as u64);
        }
    }

    #[test]
    fn synthesis_round_trips_through_probe() {
        let f = sample(&[("title", "old")], None);
        let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        let tags = vec![Tag::text("title", "new"), Tag::text("genre", "Jazz")];
        let art = b"IMAGEBYTES".to_vec();
        let pics = vec![PictureRef {
            art_id: 7,
            picture_type: 3,
            mime: "image/jpeg".into(),
            description: "".into(),
            width: 0,
            height: 0,
            depth: 0,
            colors: 0,
            len: art.len() as u64,
        }];
        let segs = synthesize(&SynthInput {
            container: Container::Flac,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags: &tags,
            pictures: &pics,
            art: &crate::format::NoArt,
        })
        .unwrap();
        let mut out = Vec::new();
        for s in &segs {
            match s {
                Segment::Inline(b) => out.extend_from_slice(b),
                Segment::Art { offset, len, .. } => {
                    out.extend_from_slice(&art[*offset as usize..(*offset + *len) as usize])
                }
                Segment::Backing { offset, len } => {
                    out.extend_from_slice(&f[*offset as usize..(*offset + *len) as usize])
                }
                Segment::OggRenumber(_) => panic!("FLAC synthesis never renumbers Ogg pages"),
            }
        }
        let q = probe(&mut Cursor::new(&out), out.len() as u64).unwrap();
        assert_eq!(q.tags, tags);
        assert_eq!(q.pictures[0].data, art);
        assert_eq!(q.pictures[0].mime, "image/jpeg");
        assert_eq!(q.structural, p.structural);
        assert_eq!(&out[q.audio_offset as usize..], b"\xff\xf8AUDIOFRAMES");
    }
}
