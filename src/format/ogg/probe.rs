//! Probing: read the header pages, reassemble the header packets, check the
//! last page of the file, and turn the packets into tags, pictures and
//! structural rows.

use super::page::{self, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, HEADER_FIXED, MAX_PAGE, PageHeader};
use super::{
    Codec, KIND_FLAC_BLOCK, KIND_IDENT, KIND_OPUS_EXTRA, KIND_SETUP, KIND_STREAM, KIND_VENDOR,
    MAX_FLAC_BLOCKS, MAX_HEADER_PAGES, StreamInfo, b64, err,
};
use crate::format::{
    FormatError, Picture, Probe, Source, Structural, Tag, flac, limits, read_up_to, read_vec,
    vorbis_comment,
};
use std::io::SeekFrom;

const CHAINED: &str = "chained Ogg streams are not supported";
const MULTIPLEXED: &str =
    "multiplexed Ogg streams (more than one logical stream) are not supported";

/// Read and CRC-check one whole page at `pos`.
fn read_page(
    src: &mut dyn Source,
    pos: u64,
    file_len: u64,
) -> Result<(PageHeader, Vec<u8>), FormatError> {
    if pos + HEADER_FIXED as u64 > file_len {
        return Err(err("truncated page header"));
    }
    src.seek(SeekFrom::Start(pos))?;
    let mut page = read_vec(src, HEADER_FIXED as u64, "Ogg page header")?;
    if &page[0..4] != b"OggS" {
        return Err(err(format!("no Ogg page at offset {pos}")));
    }
    let nseg = u64::from(page[26]);
    page.extend(read_vec(src, nseg, "Ogg lacing table")?);
    let h = page::parse_header(&page).map_err(|_| err(format!("bad Ogg page at offset {pos}")))?;
    let body = h.body_len() as u64;
    if pos + h.header_len() as u64 + body > file_len {
        return Err(err("page runs past end of file"));
    }
    page.extend(read_vec(src, body, "Ogg page body")?);
    if page::page_crc(&page) != h.crc {
        return Err(err(format!("CRC mismatch in the page at offset {pos}")));
    }
    Ok((h, page))
}

/// Identify the codec from the first packet; returns the number of header
/// packets (`None`: FLAC with an unknown count, ended by the last-block flag).
fn identify(first: &[u8]) -> Result<(Codec, Option<usize>), FormatError> {
    if first.starts_with(b"OpusHead") {
        if first.len() < 19 {
            return Err(err("OpusHead too short"));
        }
        if first[8] >> 4 != 0 {
            return Err(FormatError::Unsupported(format!(
                "Opus mapping version {}",
                first[8]
            )));
        }
        return Ok((Codec::Opus, Some(2)));
    }
    if first.starts_with(b"\x01vorbis") {
        if first.len() < 30 {
            return Err(err("Vorbis identification header too short"));
        }
        return Ok((Codec::Vorbis, Some(3)));
    }
    if first.starts_with(b"\x7fFLAC") {
        if first.len() < 51 || &first[9..13] != b"fLaC" || first[13] & 0x7f != 0 {
            return Err(err("bad Ogg FLAC mapping header"));
        }
        if first[5] != 1 {
            return Err(FormatError::Unsupported(format!(
                "Ogg FLAC mapping version {}.{}",
                first[5], first[6]
            )));
        }
        let n = usize::from(u16::from_be_bytes([first[7], first[8]]));
        return Ok((Codec::Flac, (n > 0).then_some(n + 1)));
    }
    let shown: String = first
        .iter()
        .take(8)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    Err(FormatError::Unsupported(format!(
        "Ogg stream with codec '{shown}' (only Opus, Vorbis and FLAC are supported)"
    )))
}

/// The header packets and where they end.
struct Headers {
    codec: Codec,
    packets: Vec<Vec<u8>>,
    serial: u32,
    pages: u64,
    end: u64,
}

fn read_headers(src: &mut dyn Source, file_len: u64) -> Result<Headers, FormatError> {
    let mut pos = 0u64;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut open = false;
    let mut serial = 0u32;
    let mut codec = None;
    let mut need: Option<usize> = None;
    let mut pages = 0u64;
    let mut total = 0u64;
    let done =
        |packets: &Vec<Vec<u8>>, need: Option<usize>| need.is_some_and(|n| packets.len() >= n);
    loop {
        if pages >= MAX_HEADER_PAGES {
            return Err(FormatError::Limit(format!(
                "more than {MAX_HEADER_PAGES} Ogg header pages"
            )));
        }
        let (h, data) = read_page(src, pos, file_len)?;
        if pages == 0 {
            if h.flags & FLAG_BOS == 0 {
                return Err(err("first page is not a beginning-of-stream page"));
            }
            serial = h.serial;
        } else if h.serial != serial {
            return Err(FormatError::Unsupported(MULTIPLEXED.into()));
        } else if h.flags & FLAG_BOS != 0 {
            return Err(err("second beginning-of-stream page for the same stream"));
        }
        if (h.flags & FLAG_CONTINUED != 0) != open {
            return Err(err(format!(
                "continuation flag of the page at offset {pos} does not match its packets"
            )));
        }
        if h.flags & FLAG_EOS != 0 {
            return Err(FormatError::Unsupported(
                "Ogg stream ends inside its header packets (no audio)".into(),
            ));
        }
        let body = &data[h.header_len()..];
        let mut off = 0usize;
        for &l in &h.lacing {
            if done(&packets, need) {
                return Err(FormatError::Unsupported(
                    "an Ogg page mixes the last header packet and audio data".into(),
                ));
            }
            let l = usize::from(l);
            partial.extend_from_slice(&body[off..off + l]);
            off += l;
            total += l as u64;
            if total > limits::MAX_HEADER_BYTES {
                return Err(FormatError::Limit(
                    "Ogg header packets larger than 64 MiB".into(),
                ));
            }
            if l == 255 {
                open = true;
                continue;
            }
            open = false;
            packets.push(std::mem::take(&mut partial));
            let last = packets.last().map(Vec::as_slice).unwrap_or_default();
            if packets.len() == 1 {
                let (c, n) = identify(last)?;
                codec = Some(c);
                need = n;
            } else if codec == Some(Codec::Flac) {
                if packets.len() > MAX_FLAC_BLOCKS {
                    return Err(FormatError::Limit(
                        "too many Ogg FLAC header packets".into(),
                    ));
                }
                if need.is_none() && last.first().is_some_and(|b| b & 0x80 != 0) {
                    need = Some(packets.len());
                }
            }
        }
        if pages == 0 && (packets.len() != 1 || open) {
            return Err(err(
                "the first page must hold exactly the identification header",
            ));
        }
        pos += data.len() as u64;
        pages += 1;
        if done(&packets, need) {
            break;
        }
    }
    let codec = codec.ok_or_else(|| err("no identification header"))?;
    Ok(Headers {
        codec,
        packets,
        serial,
        pages,
        end: pos,
    })
}

/// Find the last valid page (capture pattern, parsable header, matching CRC)
/// in the tail of the file, at or after `region_start`. Returns its start
/// offset and header. A small window is tried first for a page ending exactly
/// at the end of the file (the common case, and cheap when scanning a
/// library); then a window large enough for any page plus trailing non-Ogg
/// bytes.
fn last_page(
    src: &mut dyn Source,
    region_start: u64,
    file_len: u64,
) -> Result<Option<(u64, PageHeader)>, FormatError> {
    for (win, exact_end) in [(16 * 1024, true), (2 * MAX_PAGE as u64, false)] {
        let win = (file_len - region_start).min(win);
        let start = file_len - win;
        src.seek(SeekFrom::Start(start))?;
        let mut buf = vec![0u8; win as usize];
        let n = read_up_to(src, &mut buf)?;
        buf.truncate(n);
        let mut i = buf.len().saturating_sub(HEADER_FIXED);
        loop {
            if buf[i..].starts_with(b"OggS")
                && let Ok(h) = page::parse_header(&buf[i..])
                && let Some(p) = buf.get(i..i + h.page_len())
                && (!exact_end || i + h.page_len() == buf.len())
                && page::page_crc(p) == h.crc
            {
                return Ok(Some((start + i as u64, h)));
            }
            if i == 0 {
                break;
            }
            i -= 1;
        }
    }
    Ok(None)
}

/// Parse a Vorbis comment list: tags and vendor through the shared parser,
/// pictures from `METADATA_BLOCK_PICTURE` (any size up to the picture cap),
/// and the offset where the list ends.
fn comments(data: &[u8]) -> Result<(vorbis_comment::Comments, Vec<Picture>, usize), FormatError> {
    let parsed = vorbis_comment::parse(data)?;
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8], FormatError> {
        let s = data
            .get(pos..pos.saturating_add(n))
            .ok_or_else(|| err("truncated comment header"))?;
        pos += n;
        Ok(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let vlen = u32_of(take(4)?);
    take(vlen)?;
    let count = u32_of(take(4)?);
    let mut pictures = Vec::new();
    const KEY: &[u8] = b"METADATA_BLOCK_PICTURE=";
    let max_b64 = b64::encoded_len(limits::MAX_PICTURE_BYTES as u64 + 65536) as usize;
    for _ in 0..count {
        let len = u32_of(take(4)?);
        let entry = take(len)?;
        if entry.len() > KEY.len()
            && entry[..KEY.len()].eq_ignore_ascii_case(KEY)
            && entry.len() - KEY.len() <= max_b64
            && pictures.len() < limits::MAX_PICTURES
            && let Some(raw) = b64::decode(&entry[KEY.len()..])
            && let Ok(p) = flac::parse_picture(&raw)
        {
            pictures.push(p);
        }
    }
    Ok((parsed, pictures, pos))
}

/// Probe an Ogg Opus, Ogg Vorbis or Ogg FLAC file.
pub fn probe(src: &mut dyn Source, file_len: u64) -> Result<Probe, FormatError> {
    let hs = read_headers(src, file_len)?;
    let audio_offset = hs.end;
    // The first audio page: same stream, not a new beginning, starts fresh.
    if audio_offset + HEADER_FIXED as u64 > file_len {
        return Err(FormatError::Unsupported(
            "Ogg stream without audio pages".into(),
        ));
    }
    src.seek(SeekFrom::Start(audio_offset))?;
    let fixed = read_vec(src, HEADER_FIXED as u64, "first audio page header")?;
    if &fixed[0..4] != b"OggS" || fixed[4] != 0 {
        return Err(err("no Ogg page after the header pages"));
    }
    let first_serial = u32::from_le_bytes([fixed[14], fixed[15], fixed[16], fixed[17]]);
    if first_serial != hs.serial {
        return Err(FormatError::Unsupported(MULTIPLEXED.into()));
    }
    if fixed[5] & FLAG_BOS != 0 {
        return Err(FormatError::Unsupported(CHAINED.into()));
    }
    if fixed[5] & FLAG_CONTINUED != 0 {
        return Err(err("first audio page continues a header packet"));
    }
    let first_audio_seq = u32::from_le_bytes([fixed[18], fixed[19], fixed[20], fixed[21]]);
    // The last page must belong to the same stream; it also ends the audio
    // range (anything after it is not Ogg and is not served).
    let (last_start, last) = last_page(src, audio_offset, file_len)?
        .ok_or_else(|| err("no valid Ogg page at the end of the file"))?;
    if last.serial != hs.serial || (last_start > audio_offset && last.flags & FLAG_BOS != 0) {
        return Err(FormatError::Unsupported(format!(
            "{CHAINED} (the last page belongs to another logical stream)"
        )));
    }
    let audio_end = last_start + last.page_len() as u64;

    let mut structural = Vec::new();
    let stream = StreamInfo {
        serial: hs.serial,
        header_pages: hs.pages as u32,
        first_audio_seq,
    };
    structural.push(Structural {
        kind: KIND_STREAM.into(),
        data: stream.encode(),
    });
    let mut packets = hs.packets.into_iter();
    let ident = packets.next().unwrap_or_default();
    structural.push(Structural {
        kind: KIND_IDENT.into(),
        data: ident,
    });
    let mut tags: Vec<Tag> = Vec::new();
    let mut pictures: Vec<Picture> = Vec::new();
    let container = match hs.codec {
        Codec::Opus => {
            let p = packets.next().unwrap_or_default();
            let body = p
                .strip_prefix(b"OpusTags")
                .ok_or_else(|| err("second Opus packet is not OpusTags"))?;
            let (c, pics, end) = comments(body)?;
            structural.push(vendor_row(c.vendor));
            tags = c.tags;
            pictures = pics;
            let rest = &body[end..];
            if rest.first().is_some_and(|b| b & 1 == 1) {
                structural.push(Structural {
                    kind: KIND_OPUS_EXTRA.into(),
                    data: rest.to_vec(),
                });
            }
            crate::format::Container::OggOpus
        }
        Codec::Vorbis => {
            let c = packets.next().unwrap_or_default();
            let body = c
                .strip_prefix(b"\x03vorbis")
                .ok_or_else(|| err("second Vorbis packet is not the comment header"))?;
            let (c, pics, _) = comments(body)?;
            structural.push(vendor_row(c.vendor));
            tags = c.tags;
            pictures = pics;
            let setup = packets.next().unwrap_or_default();
            if !setup.starts_with(b"\x05vorbis") {
                return Err(err("third Vorbis packet is not the setup header"));
            }
            structural.push(Structural {
                kind: KIND_SETUP.into(),
                data: setup,
            });
            crate::format::Container::OggVorbis
        }
        Codec::Flac => {
            let mut seen_comment = false;
            for p in packets {
                if p.len() < 4 {
                    return Err(err("Ogg FLAC metadata packet too short"));
                }
                let kind = p[0] & 0x7f;
                let len = u32::from_be_bytes([0, p[1], p[2], p[3]]) as usize;
                if len != p.len() - 4 {
                    return Err(err(
                        "Ogg FLAC metadata block length does not match its packet",
                    ));
                }
                let body = &p[4..];
                match kind {
                    4 if !seen_comment => {
                        seen_comment = true;
                        let (c, pics, _) = comments(body)?;
                        structural.push(vendor_row(c.vendor));
                        tags = c.tags;
                        pictures.extend(pics);
                    }
                    6 => {
                        if let Ok(pic) = flac::parse_picture(body)
                            && pictures.len() < limits::MAX_PICTURES
                        {
                            pictures.push(pic);
                        }
                    }
                    0 => return Err(err("second STREAMINFO block in Ogg FLAC")),
                    1 | 4 => {} // padding and extra comment blocks are dropped
                    127 => return Err(err("invalid metadata block type 127")),
                    _ => {
                        let mut data = Vec::with_capacity(body.len() + 1);
                        data.push(kind);
                        data.extend_from_slice(body);
                        structural.push(Structural {
                            kind: KIND_FLAC_BLOCK.into(),
                            data,
                        });
                    }
                }
            }
            crate::format::Container::OggFlac
        }
    };
    Ok(Probe {
        container,
        audio_offset,
        audio_len: audio_end - audio_offset,
        tags,
        pictures,
        structural,
    })
}

fn vendor_row(vendor: String) -> Structural {
    Structural {
        kind: KIND_VENDOR.into(),
        data: vendor.into_bytes(),
    }
}
