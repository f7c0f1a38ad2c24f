//! Reading ID3v2.2/2.3/2.4 tags into canonical tags and pictures.

use super::keys;
use super::syncsafe;
use crate::format::{FormatError, Picture, Tag, TagValue, limits};
use std::borrow::Cow;

/// Most frames looked at in one tag (hostile tags may hold millions of tiny frames).
pub const MAX_FRAMES: usize = 2 * limits::MAX_TAGS;

/// Tags and pictures read from one or more ID3v2 tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub tags: Vec<Tag>,
    pub pictures: Vec<Picture>,
    /// Frames seen but not kept (compressed, encrypted, unreadable, over a limit).
    pub skipped: usize,
}

fn err(reason: impl Into<String>) -> FormatError {
    FormatError::malformed("id3v2", reason)
}

/// Undo unsynchronisation: drop every 0x00 that follows 0xFF.
pub fn deunsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev_ff = false;
    for &b in data {
        if !(prev_ff && b == 0) {
            out.push(b);
        }
        prev_ff = b == 0xff;
    }
    out
}

fn valid_id(id: &[u8]) -> bool {
    id.iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Total size (header + body + footer) of the tag at the start of `buf`.
pub fn tag_len(buf: &[u8]) -> Option<usize> {
    let h = buf.get(..10)?;
    if &h[..3] != b"ID3" {
        return None;
    }
    let footer = if h[3] == 4 && h[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + syncsafe([h[6], h[7], h[8], h[9]]) as usize + footer)
}

/// Parse one complete tag (header included) and append what it holds to `out`.
/// Tags of unknown major versions (or compressed v2.2 tags) yield nothing.
pub fn parse_tag(buf: &[u8], out: &mut Parsed) -> Result<(), FormatError> {
    let h = buf
        .get(..10)
        .filter(|h| &h[..3] == b"ID3")
        .ok_or_else(|| err("missing ID3 header"))?;
    let (major, flags) = (h[3], h[5]);
    if h[6..10].iter().any(|b| b & 0x80 != 0) {
        return Err(err("tag size is not syncsafe"));
    }
    let size = syncsafe([h[6], h[7], h[8], h[9]]) as usize;
    let body = buf
        .get(10..10 + size)
        .ok_or_else(|| err("tag runs past the end of the file"))?;
    if !(2..=4).contains(&major) || (major == 2 && flags & 0x40 != 0) {
        out.skipped += 1;
        return Ok(());
    }
    let tag_unsync = flags & 0x80 != 0;
    // v2.2/2.3 unsynchronise the whole tag body (extended header included);
    // v2.4 does it per frame.
    let body: Cow<[u8]> = if tag_unsync && major < 4 {
        Cow::Owned(deunsync(body))
    } else {
        Cow::Borrowed(body)
    };
    let mut start = 0usize;
    if major >= 3 && flags & 0x40 != 0 {
        let b = body
            .get(..4)
            .ok_or_else(|| err("truncated extended header"))?;
        start = if major == 3 {
            4usize.saturating_add(be_u32(b) as usize)
        } else {
            syncsafe([b[0], b[1], b[2], b[3]]) as usize
        };
        if start > body.len() || (major == 4 && start < 6) {
            return Err(err("bad extended header size"));
        }
    }
    let frames = &body[start..];
    if major == 2 {
        parse_frames_v22(frames, out);
    } else {
        let ss = major == 4 && (walk_ok(frames, true) || !walk_ok(frames, false));
        parse_frames(frames, major, ss, tag_unsync, out);
    }
    Ok(())
}

/// Does walking the frames with this size interpretation end cleanly
/// (at the end of the data or in padding)? Used to detect v2.4 tags written
/// with plain big-endian frame sizes, which some old encoders did.
fn walk_ok(frames: &[u8], syncsafe_sizes: bool) -> bool {
    let mut pos = 0usize;
    for _ in 0..MAX_FRAMES {
        let Some(h) = frames.get(pos..pos + 10) else {
            return pos == frames.len() || frames[pos..].iter().all(|&b| b == 0);
        };
        if h[0] == 0 {
            return true;
        }
        if !valid_id(&h[..4]) {
            return false;
        }
        if syncsafe_sizes && h[4..8].iter().any(|b| b & 0x80 != 0) {
            return false;
        }
        let size = if syncsafe_sizes {
            syncsafe([h[4], h[5], h[6], h[7]])
        } else {
            be_u32(&h[4..8])
        } as usize;
        pos = match pos.checked_add(10 + size) {
            Some(p) if p <= frames.len() => p,
            _ => return false,
        };
    }
    true
}

fn parse_frames(frames: &[u8], major: u8, ss: bool, tag_unsync: bool, out: &mut Parsed) {
    let mut pos = 0usize;
    let mut dates = Dates::default();
    for _ in 0..MAX_FRAMES {
        let Some(h) = frames.get(pos..pos + 10) else {
            break;
        };
        if h[0] == 0 || !valid_id(&h[..4]) {
            break; // padding, or junk we cannot walk past
        }
        let size = if ss {
            syncsafe([h[4], h[5], h[6], h[7]])
        } else {
            be_u32(&h[4..8])
        } as usize;
        let Some(raw) = frames.get(pos + 10..(pos + 10).saturating_add(size)) else {
            out.skipped += 1;
            break; // truncated frame
        };
        pos += 10 + size;
        let id = [h[0], h[1], h[2], h[3]];
        let fl = h[9];
        let body: Option<Cow<[u8]>> = if major == 3 {
            let skip = if fl & 0x20 != 0 { 1 } else { 0 };
            if fl & 0xc0 != 0 {
                None // compressed or encrypted
            } else {
                raw.get(skip..).map(Cow::Borrowed)
            }
        } else if fl & 0x0c != 0 {
            None
        } else {
            let skip = usize::from(fl & 0x40 != 0) + if fl & 0x01 != 0 { 4 } else { 0 };
            raw.get(skip..).map(|b| {
                if fl & 0x02 != 0 || tag_unsync {
                    Cow::Owned(deunsync(b))
                } else {
                    Cow::Borrowed(b)
                }
            })
        };
        match body {
            Some(b) => frame(&id, &b, false, &mut dates, out),
            None => out.skipped += 1,
        }
    }
    dates.finish(out);
}

fn parse_frames_v22(frames: &[u8], out: &mut Parsed) {
    let mut pos = 0usize;
    let mut dates = Dates::default();
    for _ in 0..MAX_FRAMES {
        let Some(h) = frames.get(pos..pos + 6) else {
            break;
        };
        if h[0] == 0 || !valid_id(&h[..3]) {
            break;
        }
        let size = u32::from_be_bytes([0, h[3], h[4], h[5]]) as usize;
        let Some(body) = frames.get(pos + 6..pos + 6 + size) else {
            out.skipped += 1;
            break;
        };
        pos += 6 + size;
        match keys::upgrade_v22(&h[..3]) {
            Some(id) => frame(&id, body, true, &mut dates, out),
            None => out.skipped += 1,
        }
    }
    dates.finish(out);
}

/// ID3v2.3 date parts, folded into `date`/`originaldate` at the end of a tag.
#[derive(Default)]
struct Dates {
    tyer: Option<String>,
    tdat: Option<String>,
    time: Option<String>,
    tory: Option<String>,
}

impl Dates {
    fn finish(self, out: &mut Parsed) {
        let has = |k: &str, out: &Parsed| out.tags.iter().any(|t| t.key == k);
        if let Some(y) = self.tyer.filter(|_| !has("date", out)) {
            let mut d = y;
            let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
            if let Some(dm) = self.tdat.filter(|s| digits(s)) {
                d = format!("{d}-{}-{}", &dm[2..4], &dm[0..2]);
                if let Some(hm) = self.time.filter(|s| digits(s)) {
                    d = format!("{d}T{}:{}", &hm[0..2], &hm[2..4]);
                }
            }
            push_text(out, "date", d);
        }
        if let Some(y) = self.tory.filter(|_| !has("originaldate", out)) {
            push_text(out, "originaldate", y);
        }
    }
}

fn push_text(out: &mut Parsed, key: &str, value: String) {
    if value.is_empty()
        || value.len() > limits::MAX_TAG_VALUE_BYTES
        || key.is_empty()
        || key.len() > 255
        || out.tags.len() >= limits::MAX_TAGS
    {
        out.skipped += usize::from(!value.is_empty());
        return;
    }
    out.tags.push(Tag {
        key: key.to_owned(),
        value: TagValue::Text(value),
    });
}

/// Decode text in an ID3 encoding (0 Latin-1, 1 UTF-16 with BOM, 2 UTF-16BE, 3 UTF-8).
pub fn decode(enc: u8, b: &[u8]) -> String {
    match enc {
        0 => b.iter().map(|&c| char::from(c)).collect(),
        1 | 2 => {
            let (le, b) = match b {
                [0xff, 0xfe, rest @ ..] => (true, rest),
                [0xfe, 0xff, rest @ ..] => (false, rest),
                _ => (enc == 1, b),
            };
            let units = b.chunks_exact(2).map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            });
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Split at the first terminator of the encoding: (text, rest after it).
/// Without a terminator the whole input is the text.
fn split_term(enc: u8, b: &[u8]) -> (&[u8], &[u8]) {
    if enc == 1 || enc == 2 {
        let mut i = 0;
        while i + 1 < b.len() {
            if b[i] == 0 && b[i + 1] == 0 {
                return (&b[..i], &b[i + 2..]);
            }
            i += 2;
        }
        (b, &[])
    } else {
        match b.iter().position(|&c| c == 0) {
            Some(i) => (&b[..i], &b[i + 1..]),
            None => (b, &[]),
        }
    }
}

/// All terminator-separated strings of a text field; empty strings dropped.
fn decode_list(enc: u8, mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !b.is_empty() && out.len() < limits::MAX_TAGS {
        let (s, rest) = split_term(enc, b);
        let s = decode(enc, s);
        if !s.is_empty() {
            out.push(s);
        }
        b = rest;
    }
    out
}

/// Read one frame (already upgraded to a four-character ID) into `out`.
fn frame(id: &[u8; 4], b: &[u8], v22: bool, dates: &mut Dates, out: &mut Parsed) {
    let idl = String::from_utf8_lossy(id).to_ascii_lowercase();
    match id {
        b"APIC" => match picture(b, v22) {
            Some(p) if out.pictures.len() < limits::MAX_PICTURES => out.pictures.push(p),
            _ => out.skipped += 1,
        },
        b"TXXX" => {
            let Some((&enc, rest)) = b.split_first() else {
                return;
            };
            let (desc, text) = split_term(enc, rest);
            let desc = decode(enc, desc);
            if desc.is_empty() || desc.contains('\0') {
                out.skipped += 1;
                return;
            }
            let key = keys::key_for_txxx(&desc);
            for v in decode_list(enc, text) {
                push_text(out, &key, v);
            }
        }
        b"COMM" | b"USLT" => {
            let Some((&enc, rest)) = b.split_first() else {
                return;
            };
            let Some(rest) = rest.get(3..) else {
                out.skipped += 1;
                return;
            };
            let (desc, text) = split_term(enc, rest);
            let desc = decode(enc, desc).to_ascii_lowercase();
            let base = if id == b"COMM" { "comment" } else { "lyrics" };
            let key = if desc.is_empty() {
                base.to_owned()
            } else {
                format!("{base}:{desc}")
            };
            if id == b"COMM" {
                for v in decode_list(enc, text) {
                    push_text(out, &key, v);
                }
            } else {
                push_text(out, &key, decode(enc, split_term(enc, text).0));
            }
        }
        _ if keys::DROPPED.contains(&id) || id == b"TYER" || id == b"TORY" => {
            let v = text_values(b).into_iter().next();
            match id {
                b"TYER" => dates.tyer = v,
                b"TDAT" => dates.tdat = v,
                b"TIME" => dates.time = v,
                b"TORY" => dates.tory = v,
                _ => out.skipped += 1,
            }
        }
        b"TRCK" | b"TPOS" => {
            let (num, total) = if id == b"TRCK" {
                ("tracknumber", "tracktotal")
            } else {
                ("discnumber", "disctotal")
            };
            for v in text_values(b) {
                match v.split_once('/') {
                    Some((n, t)) => {
                        push_text(out, num, n.to_owned());
                        push_text(out, total, t.to_owned());
                    }
                    None => push_text(out, num, v),
                }
            }
        }
        b"TCON" => {
            for v in text_values(b) {
                for g in keys::resolve_genre(&v) {
                    push_text(out, "genre", g);
                }
            }
        }
        b"IPLS" => {
            for v in text_values(b) {
                push_text(out, "id3:tipl", v);
            }
        }
        _ if id[0] == b'T' => {
            let key = keys::key_for_text_frame(id).map_or(format!("id3:{idl}"), str::to_owned);
            for v in text_values(b) {
                push_text(out, &key, v);
            }
        }
        _ => {
            if b.len() > limits::MAX_TAG_VALUE_BYTES || out.tags.len() >= limits::MAX_TAGS {
                out.skipped += 1;
                return;
            }
            out.tags.push(Tag {
                key: format!("id3:{idl}"),
                value: TagValue::Binary(b.to_vec()),
            });
        }
    }
}

fn text_values(b: &[u8]) -> Vec<String> {
    match b.split_first() {
        Some((&enc, rest)) => decode_list(enc, rest),
        None => Vec::new(),
    }
}

/// Parse an APIC (or v2.2 PIC) frame body.
fn picture(b: &[u8], v22: bool) -> Option<Picture> {
    let (&enc, rest) = b.split_first()?;
    let (mime, rest) = if v22 {
        let fmt = rest.get(..3)?;
        let m = match &fmt.to_ascii_uppercase()[..] {
            b"PNG" => "image/png".to_owned(),
            b"JPG" => "image/jpeg".to_owned(),
            other => format!("image/{}", String::from_utf8_lossy(other).to_lowercase()),
        };
        (m, &rest[3..])
    } else {
        let (m, rest) = split_term(0, rest);
        (decode(0, m), rest)
    };
    let (&ptype, rest) = rest.split_first()?;
    let (desc, data) = split_term(enc, rest);
    if mime == "-->" || data.is_empty() || data.len() > limits::MAX_PICTURE_BYTES {
        return None; // a link to an external file, or no picture at all
    }
    let mime = if mime.is_empty() || !mime.contains('/') {
        sniff_mime(data, &mime)
    } else {
        mime
    };
    Some(Picture {
        picture_type: u32::from(ptype),
        mime,
        description: decode(enc, desc),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        data: data.to_vec(),
    })
}

/// A MIME type for pictures whose frame gave none (or a bare "PNG"/"jpg").
fn sniff_mime(data: &[u8], given: &str) -> String {
    if data.starts_with(b"\x89PNG") {
        "image/png".into()
    } else if data.starts_with(b"\xff\xd8") {
        "image/jpeg".into()
    } else if data.starts_with(b"GIF8") {
        "image/gif".into()
    } else if given.eq_ignore_ascii_case("jpg") {
        "image/jpeg".into()
    } else if !given.is_empty() && given.is_ascii() {
        format!("image/{}", given.to_ascii_lowercase())
    } else {
        "application/octet-stream".into()
    }
}
