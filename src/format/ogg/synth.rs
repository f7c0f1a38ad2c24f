//! Synthesis: rebuild the header packets with the new comments and pictures,
//! lay them out on pages, and serve the audio pages after them.

use super::page::{self, PageHeader, PagePlan};
use super::{
    Codec, KIND_FLAC_BLOCK, KIND_IDENT, KIND_OPUS_EXTRA, KIND_SETUP, KIND_STREAM, KIND_VENDOR,
    Renumber, StreamInfo, b64,
};
use crate::format::{
    ArtSource, Container, FormatError, PictureRef, Segment, SynthInput, Tag, TagValue, flac,
    limits, structural, vorbis_comment,
};
use std::collections::HashMap;
use std::sync::Arc;

const PICTURE_KEY: &[u8] = b"METADATA_BLOCK_PICTURE=";
/// A vendor string longer than this is replaced (it came from a hostile file).
const MAX_VENDOR: usize = 64 * 1024;

/// A piece of the header packets after the first one.
enum Piece {
    Bytes(Vec<u8>),
    /// Picture bytes, verbatim (the data of an Ogg FLAC PICTURE block).
    Art {
        art_id: i64,
        len: u64,
    },
    /// A whole FLAC PICTURE block body (prefix + picture bytes), base64-encoded.
    B64 {
        prefix: Vec<u8>,
        art_id: i64,
        len: u64,
    },
}

/// The header packets: the first (identification) packet, then the rest as
/// pieces laid back to back, with each packet's length.
struct Plan {
    stream: StreamInfo,
    first: Vec<u8>,
    pieces: Vec<Piece>,
    packet_lens: Vec<u64>,
}

fn codec_of(c: Container) -> Result<Codec, FormatError> {
    match c {
        Container::OggOpus => Ok(Codec::Opus),
        Container::OggVorbis => Ok(Codec::Vorbis),
        Container::OggFlac => Ok(Codec::Flac),
        other => Err(FormatError::Unsupported(format!(
            "{other} is not an Ogg container"
        ))),
    }
}

fn encodable(t: &Tag) -> Option<(&str, &str)> {
    match &t.value {
        TagValue::Text(v)
            if vorbis_comment::valid_key(&t.key) && t.key != "metadata_block_picture" =>
        {
            Some((&t.key, v))
        }
        _ => None,
    }
}

/// The longest prefix of `tags` whose comment list stays within `cap` bytes.
fn fitting_tags<'a>(vendor: &str, tags: &'a [Tag], cap: u64) -> &'a [Tag] {
    let mut size = 8 + vendor.len() as u64;
    for (i, t) in tags.iter().enumerate() {
        if let Some((k, v)) = encodable(t) {
            let s = 4 + k.len() as u64 + 1 + v.len() as u64;
            if size + s > cap {
                return &tags[..i];
            }
            size += s;
        }
    }
    tags
}

/// Encode a comment list with `extra` more entries announced in its count
/// (the caller appends them).
fn comment_list(vendor: &str, tags: &[Tag], extra: usize) -> Vec<u8> {
    let mut c = vorbis_comment::encode(vendor, tags, &[]);
    let at = 4 + vendor.len();
    if let Some(b) = c.get_mut(at..at + 4) {
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) + extra as u32;
        b.copy_from_slice(&n.to_le_bytes());
    }
    c
}

fn flac_block_header(kind: u8, last: bool, len: u64) -> [u8; 4] {
    let l = (len as u32).to_be_bytes();
    [kind | if last { 0x80 } else { 0 }, l[1], l[2], l[3]]
}

fn piece_len(p: &Piece) -> u64 {
    match p {
        Piece::Bytes(b) => b.len() as u64,
        Piece::Art { len, .. } => *len,
        Piece::B64 { prefix, len, .. } => b64::encoded_len(prefix.len() as u64 + len),
    }
}

fn packet_len(p: &[Piece]) -> u64 {
    p.iter().map(piece_len).sum()
}

/// Largest padding added to keep the original page count.
const MAX_PADDING: u64 = 64 * 1024;

/// Extra lacing values needed so that the packets can fill every one of the
/// original header pages (each page needs at least one), or `None` when no
/// padding is wanted: already enough, or more would be needed than is worth it.
fn lacing_shortfall(packets: &[Vec<Piece>], want_pages: u64) -> Option<u64> {
    let total: u64 = packets
        .iter()
        .map(|p| page::lacing_count(packet_len(p)))
        .sum();
    let short = want_pages.checked_sub(total).filter(|&s| s > 0)?;
    (short * 255 <= MAX_PADDING).then_some(short)
}

fn plan(input: &SynthInput<'_>) -> Result<Plan, FormatError> {
    let codec = codec_of(input.container)?;
    let stream = structural(input.structural, KIND_STREAM)
        .and_then(StreamInfo::decode)
        .ok_or_else(|| FormatError::MissingStructural("Ogg stream numbers".into()))?;
    if stream.header_pages == 0 {
        return Err(FormatError::MissingStructural(
            "Ogg header page count".into(),
        ));
    }
    let want_pages = u64::from(stream.header_pages) - 1;
    let mut first = structural(input.structural, KIND_IDENT)
        .ok_or_else(|| FormatError::MissingStructural("Ogg identification packet".into()))?
        .to_vec();
    let magic: &[u8] = match codec {
        Codec::Opus => b"OpusHead",
        Codec::Vorbis => b"\x01vorbis",
        Codec::Flac => b"\x7fFLAC",
    };
    if !first.starts_with(magic) || (codec == Codec::Flac && first.len() < 51) {
        return Err(FormatError::MissingStructural(
            "Ogg identification packet of the wrong codec".into(),
        ));
    }
    let vendor = structural(input.structural, KIND_VENDOR)
        .filter(|v| v.len() <= MAX_VENDOR)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "musefs".into());
    let tags = fitting_tags(&vendor, input.tags, flac::MAX_BLOCK_LEN as u64);
    let mut packets: Vec<Vec<Piece>> = Vec::new();
    match codec {
        Codec::Opus | Codec::Vorbis => {
            let extra = structural(input.structural, KIND_OPUS_EXTRA).unwrap_or_default();
            let (head, setup, tail): (&[u8], Option<&[u8]>, &[u8]) = if codec == Codec::Opus {
                (b"OpusTags", None, extra)
            } else {
                let setup = structural(input.structural, KIND_SETUP)
                    .ok_or_else(|| FormatError::MissingStructural("Vorbis setup".into()))?;
                (b"\x03vorbis", Some(setup), &[1])
            };
            let budget = limits::MAX_HEADER_BYTES.saturating_sub(
                head.len() as u64
                    + tail.len() as u64
                    + setup.map_or(0, |s| s.len() as u64)
                    + MAX_PADDING,
            );
            // Pictures that fit the budget after the tags, in order.
            let mut used = fitting_len(&vendor, tags);
            let mut pics: Vec<(&PictureRef, Vec<u8>)> = Vec::new();
            for p in input.pictures {
                let prefix = flac::picture_prefix(p);
                let entry =
                    4 + PICTURE_KEY.len() as u64 + b64::encoded_len(prefix.len() as u64 + p.len);
                if p.len > u64::from(u32::MAX) || used + entry > budget {
                    continue;
                }
                used += entry;
                pics.push((p, prefix));
            }
            let mut bytes = head.to_vec();
            bytes.extend(comment_list(&vendor, tags, pics.len()));
            let mut comment = vec![Piece::Bytes(bytes)];
            for (p, prefix) in pics {
                let b64_len = b64::encoded_len(prefix.len() as u64 + p.len);
                let mut e = ((PICTURE_KEY.len() as u64 + b64_len) as u32)
                    .to_le_bytes()
                    .to_vec();
                e.extend_from_slice(PICTURE_KEY);
                comment.push(Piece::Bytes(e));
                comment.push(Piece::B64 {
                    prefix,
                    art_id: p.art_id,
                    len: p.len,
                });
            }
            comment.push(Piece::Bytes(tail.to_vec()));
            packets.push(comment);
            if let Some(s) = setup {
                packets.push(vec![Piece::Bytes(s.to_vec())]);
            }
            // Zero padding after the comments (after Vorbis' framing bit; an
            // Opus padding byte has its low bit clear) keeps the page count.
            // Preserved Opus extra data must stay last, so it gets none.
            if extra.is_empty()
                && let Some(short) = lacing_shortfall(&packets, want_pages)
            {
                packets[0].push(Piece::Bytes(vec![0; (short * 255) as usize]));
            }
        }
        Codec::Flac => {
            let blocks: Vec<&[u8]> = input
                .structural
                .iter()
                .filter(|s| s.kind == KIND_FLAC_BLOCK && !s.data.is_empty())
                .filter(|s| s.data.len() - 1 <= flac::MAX_BLOCK_LEN)
                .map(|s| s.data.as_slice())
                .collect();
            let comment = comment_list(&vendor, tags, 0);
            let mut used = comment.len() as u64 + 4 + MAX_PADDING;
            used += blocks.iter().map(|b| b.len() as u64 + 3).sum::<u64>();
            let mut c = flac_block_header(4, false, comment.len() as u64).to_vec();
            c.extend(comment);
            packets.push(vec![Piece::Bytes(c)]);
            for b in blocks {
                let mut v = flac_block_header(b[0], false, b.len() as u64 - 1).to_vec();
                v.extend_from_slice(&b[1..]);
                packets.push(vec![Piece::Bytes(v)]);
            }
            for p in input.pictures {
                let prefix = flac::picture_prefix(p);
                let body = prefix.len() as u64 + p.len;
                if body > flac::MAX_BLOCK_LEN as u64 || used + 4 + body > limits::MAX_HEADER_BYTES {
                    continue;
                }
                used += 4 + body;
                let mut v = flac_block_header(6, false, body).to_vec();
                v.extend(prefix);
                packets.push(vec![
                    Piece::Bytes(v),
                    Piece::Art {
                        art_id: p.art_id,
                        len: p.len,
                    },
                ]);
            }
            // A PADDING block packet of `4 + n` bytes takes `(4 + n) / 255 + 1`
            // lacing values: one sized to fill the missing ones keeps the page count.
            if let Some(short) = lacing_shortfall(&packets, want_pages) {
                let n = ((short - 1) * 255).max(4) - 4;
                let mut v = flac_block_header(1, false, n).to_vec();
                v.resize(4 + n as usize, 0);
                packets.push(vec![Piece::Bytes(v)]);
            }
            let count = u16::try_from(packets.len())
                .map_err(|_| FormatError::Limit("too many Ogg FLAC metadata blocks".into()))?;
            first[7..9].copy_from_slice(&count.to_be_bytes());
            if let Some(Piece::Bytes(b)) = packets.last_mut().and_then(|p| p.first_mut())
                && let Some(t) = b.first_mut()
            {
                *t |= 0x80;
            }
        }
    }
    let packet_lens = packets.iter().map(|p| packet_len(p)).collect();
    Ok(Plan {
        stream,
        first,
        pieces: packets.into_iter().flatten().collect(),
        packet_lens,
    })
}

/// Size of the comment list holding `tags` (as `fitting_tags` counts it).
fn fitting_len(vendor: &str, tags: &[Tag]) -> u64 {
    8 + vendor.len() as u64
        + tags
            .iter()
            .filter_map(encodable)
            .map(|(k, v)| 4 + k.len() as u64 + 1 + v.len() as u64)
            .sum::<u64>()
}

fn page_layout(plan: &Plan) -> Result<Vec<PagePlan>, FormatError> {
    page::plan_pages(
        plan.first.len() as u64,
        &plan.packet_lens,
        u64::from(plan.stream.header_pages) - 1,
    )
    .ok_or_else(|| FormatError::MissingStructural("Ogg identification packet too large".into()))
}

/// Served size: header pages from packet lengths only, plus the audio.
pub fn served_len(input: &SynthInput<'_>) -> Result<u64, FormatError> {
    let plan = plan(input)?;
    let pages = page_layout(&plan)?;
    Ok(pages
        .iter()
        .map(|p| p.header_len() + p.body_len())
        .sum::<u64>()
        + input.audio_len)
}

/// A piece with its bytes at hand.
enum Ready {
    Bytes(Vec<u8>),
    Art { art_id: i64, data: Arc<[u8]> },
}

impl Ready {
    fn bytes(&self) -> &[u8] {
        match self {
            Ready::Bytes(b) => b,
            Ready::Art { data, .. } => data,
        }
    }
}

fn fetch(
    art: &dyn ArtSource,
    cache: &mut HashMap<i64, Arc<[u8]>>,
    art_id: i64,
    len: u64,
) -> Result<Arc<[u8]>, FormatError> {
    let data = match cache.get(&art_id) {
        Some(d) => d.clone(),
        None => {
            let d = art.art_bytes(art_id)?;
            cache.insert(art_id, d.clone());
            d
        }
    };
    if data.len() as u64 != len {
        return Err(FormatError::Io(std::io::Error::other(format!(
            "picture {art_id} has {} bytes, expected {len}",
            data.len()
        ))));
    }
    Ok(data)
}

/// Collects segments, merging adjacent inline bytes.
#[derive(Default)]
struct Out {
    segs: Vec<Segment>,
    buf: Vec<u8>,
}

impl Out {
    fn inline(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn art(&mut self, art_id: i64, offset: u64, len: u64) {
        if !self.buf.is_empty() {
            self.segs
                .push(Segment::Inline(std::mem::take(&mut self.buf)));
        }
        self.segs.push(Segment::Art {
            art_id,
            offset,
            len,
        });
    }

    fn finish(mut self) -> Vec<Segment> {
        if !self.buf.is_empty() {
            self.segs.push(Segment::Inline(self.buf));
        }
        self.segs
    }
}

/// Build the served file.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    let plan = plan(input)?;
    let pages = page_layout(&plan)?;
    let mut cache = HashMap::new();
    let mut ready = Vec::with_capacity(plan.pieces.len());
    for piece in &plan.pieces {
        ready.push(match piece {
            Piece::Bytes(b) => Ready::Bytes(b.clone()),
            Piece::Art { art_id, len } => Ready::Art {
                art_id: *art_id,
                data: fetch(input.art, &mut cache, *art_id, *len)?,
            },
            Piece::B64 {
                prefix,
                art_id,
                len,
            } => {
                let data = fetch(input.art, &mut cache, *art_id, *len)?;
                let mut block = Vec::with_capacity(prefix.len() + data.len());
                block.extend_from_slice(prefix);
                block.extend_from_slice(&data);
                let mut enc = Vec::new();
                b64::encode_into(&block, &mut enc);
                Ready::Bytes(enc)
            }
        });
    }

    let n_orig = plan.stream.header_pages;
    let base = plan.stream.first_audio_seq.wrapping_sub(n_orig);
    let mut out = Out::default();
    // (piece index, offset in piece) of the next body byte.
    let mut cur = (0usize, 0u64);
    for (k, pp) in pages.iter().enumerate() {
        let mut h = build_page_header(pp, plan.stream.serial, base.wrapping_add(k as u32));
        let mut crc = page::crc_update(0, &h);
        // Body spans: (piece index, start, len).
        let mut spans: Vec<(usize, u64, u64)> = Vec::new();
        if k == 0 {
            crc = page::crc_update(crc, &plan.first);
        } else {
            let mut want = pp.body_len();
            while want > 0 {
                let (i, off) = cur;
                let piece = ready
                    .get(i)
                    .ok_or_else(|| FormatError::Limit("Ogg page plan overran".into()))?;
                let avail = piece.bytes().len() as u64 - off;
                let n = avail.min(want);
                if n > 0 {
                    spans.push((i, off, n));
                    crc = page::crc_update(crc, &piece.bytes()[off as usize..(off + n) as usize]);
                }
                want -= n;
                cur = if off + n == piece.bytes().len() as u64 {
                    (i + 1, 0)
                } else {
                    (i, off + n)
                };
            }
        }
        h[22..26].copy_from_slice(&crc.to_le_bytes());
        out.inline(&h);
        if k == 0 {
            out.inline(&plan.first);
        }
        for (i, off, n) in spans {
            match &ready[i] {
                Ready::Bytes(b) => out.inline(&b[off as usize..(off + n) as usize]),
                Ready::Art { art_id, .. } => out.art(*art_id, off, n),
            }
        }
    }
    let delta = (pages.len() as u32).wrapping_sub(n_orig);
    let mut segs = out.finish();
    segs.push(if delta == 0 {
        Segment::Backing {
            offset: input.audio_offset,
            len: input.audio_len,
        }
    } else {
        Segment::OggRenumber(Renumber::new(input.audio_offset, input.audio_len, delta))
    });
    Ok(segs)
}

fn build_page_header(pp: &PagePlan, serial: u32, seq: u32) -> Vec<u8> {
    page::build_header(&PageHeader {
        flags: pp.flags,
        granule: pp.granule,
        serial,
        seq,
        crc: 0,
        lacing: pp.lacing.clone(),
    })
}
