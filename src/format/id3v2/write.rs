//! Building one ID3v2.4 tag (UTF-8 text) from canonical tags and picture refs.

use super::keys;
use super::to_syncsafe;
use crate::format::{PictureRef, Segment, Tag, TagValue};
use std::collections::HashMap;

/// Largest frame body the 28-bit syncsafe size can describe.
const MAX_FRAME: usize = (1 << 28) - 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Group {
    Text([u8; 4]),
    Txxx(String),
    Comm(String),
}

enum Out {
    /// Values joined with NUL in one frame.
    Grouped(Group, Vec<String>),
    /// TRCK/TPOS placeholder, filled at the end.
    Counter([u8; 4]),
    /// A complete frame body.
    Body([u8; 4], Vec<u8>),
}

/// Valid four-character frame ID from the part after `id3:`.
fn frame_id(s: &str) -> Option<[u8; 4]> {
    let b = s.as_bytes();
    (b.len() == 4
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    .then(|| [b[0], b[1], b[2], b[3]].map(|c| c.to_ascii_uppercase()))
}

fn frame(id: &[u8; 4], body: &[u8]) -> Option<Vec<u8>> {
    if body.len() > MAX_FRAME {
        return None;
    }
    let mut f = Vec::with_capacity(10 + body.len());
    f.extend_from_slice(id);
    f.extend_from_slice(&to_syncsafe(body.len() as u32));
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(body);
    Some(f)
}

/// Text-frame body: UTF-8 encoding byte, optional prefix (language,
/// description), then NUL-separated values.
fn text_body(prefix: &[u8], values: &[String]) -> Vec<u8> {
    let mut b =
        Vec::with_capacity(1 + prefix.len() + values.iter().map(|v| v.len() + 1).sum::<usize>());
    b.push(3);
    b.extend_from_slice(prefix);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            b.push(0);
        }
        b.extend_from_slice(v.as_bytes());
    }
    b
}

fn described(lang: bool, desc: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + desc.len());
    if lang {
        p.extend_from_slice(b"eng");
    }
    p.extend_from_slice(desc.as_bytes());
    p.push(0);
    p
}

/// The body of every text-bearing frame, in first-appearance order.
fn text_frames(tags: &[Tag]) -> Vec<Vec<u8>> {
    let mut outs: Vec<Out> = Vec::new();
    let mut index: HashMap<Group, usize> = HashMap::new();
    let mut counters: HashMap<[u8; 4], (Vec<String>, Vec<String>)> = HashMap::new();
    let has_label = tags.iter().any(|t| t.key == "label");
    for tag in tags {
        let key = tag.key.as_str();
        let value = match &tag.value {
            TagValue::Binary(body) => {
                if let Some(id) = key.strip_prefix("id3:").and_then(frame_id) {
                    outs.push(Out::Body(id, body.clone()));
                }
                continue;
            }
            TagValue::Text(v) => v,
        };
        if key.is_empty() || key.contains('\0') {
            continue;
        }
        let values: Vec<String> = value
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            continue;
        }
        let counter = match key {
            "tracknumber" | "tracktotal" => Some((*b"TRCK", key == "tracktotal")),
            "discnumber" | "disctotal" => Some((*b"TPOS", key == "disctotal")),
            _ => None,
        };
        if let Some((id, is_total)) = counter {
            let e = counters.entry(id).or_insert_with(|| {
                outs.push(Out::Counter(id));
                Default::default()
            });
            if is_total { &mut e.1 } else { &mut e.0 }.extend(values);
            continue;
        }
        if let Some(desc) = key.strip_prefix("lyrics").and_then(|r| {
            if r.is_empty() {
                Some("")
            } else {
                r.strip_prefix(':')
            }
        }) {
            let prefix = described(true, keys::comm_desc(desc));
            for v in &values {
                outs.push(Out::Body(
                    *b"USLT",
                    text_body(&prefix, std::slice::from_ref(v)),
                ));
            }
            continue;
        }
        let group = if let Some(desc) = key.strip_prefix("comment").and_then(|r| {
            if r.is_empty() {
                Some("")
            } else {
                r.strip_prefix(':')
            }
        }) {
            Group::Comm(keys::comm_desc(desc).to_owned())
        } else if let Some(id) = keys::text_frame_for_key(key) {
            Group::Text(id)
        } else if let Some(id) = key
            .strip_prefix("id3:")
            .and_then(frame_id)
            .filter(|id| id[0] == b'T' && id != b"TXXX")
        {
            Group::Text(id)
        } else if let Some((_, id)) = keys::WRITE_ALIASES
            .iter()
            .find(|(k, _)| *k == key)
            .filter(|_| !has_label)
        {
            Group::Text(**id)
        } else {
            Group::Txxx(keys::txxx_for_key(key).to_owned())
        };
        match index.get(&group) {
            Some(&i) => {
                if let Out::Grouped(_, vs) = &mut outs[i] {
                    vs.extend(values);
                }
            }
            None => {
                index.insert(group.clone(), outs.len());
                outs.push(Out::Grouped(group, values));
            }
        }
    }
    outs.into_iter()
        .filter_map(|o| match o {
            Out::Grouped(Group::Text(id), vs) => frame(&id, &text_body(&[], &vs)),
            Out::Grouped(Group::Txxx(d), vs) => {
                frame(b"TXXX", &text_body(&described(false, &d), &vs))
            }
            Out::Grouped(Group::Comm(d), vs) => {
                frame(b"COMM", &text_body(&described(true, &d), &vs))
            }
            Out::Body(id, b) => frame(&id, &b),
            Out::Counter(id) => {
                let (nums, totals) = counters.remove(&id).unwrap_or_default();
                let mut vs = nums;
                match (vs.first_mut(), totals.first()) {
                    (Some(n), Some(t)) => *n = format!("{n}/{t}"),
                    (None, Some(t)) => vs.push(format!("/{t}")),
                    _ => {}
                }
                frame(&id, &text_body(&[], &vs))
            }
        })
        .collect()
}

/// APIC frame header and body up to the picture bytes (which the caller streams).
pub fn apic_prefix(p: &PictureRef) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + p.mime.len() + p.description.len());
    body.push(3);
    body.extend_from_slice(p.mime.replace('\0', "").as_bytes());
    body.push(0);
    body.push(u8::try_from(p.picture_type).unwrap_or(0));
    body.extend_from_slice(p.description.replace('\0', "").as_bytes());
    body.push(0);
    let mut f = Vec::with_capacity(10 + body.len());
    f.extend_from_slice(b"APIC");
    f.extend_from_slice(&to_syncsafe((body.len() as u64 + p.len) as u32));
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&body);
    f
}

/// Build one ID3v2.4 tag as segments (Inline bytes, picture bytes as
/// [`Segment::Art`]) no longer than `max_len` in total: frames that would
/// push it past the cap are left out (text first, then pictures).
pub fn build(tags: &[Tag], pictures: &[PictureRef], max_len: u64) -> Vec<Segment> {
    let mut total = 10u64;
    let mut head = Vec::new();
    for f in text_frames(tags) {
        if total + f.len() as u64 <= max_len {
            total += f.len() as u64;
            head.extend_from_slice(&f);
        }
    }
    let mut segs = Vec::with_capacity(1 + pictures.len() * 2);
    let mut pending = head;
    for p in pictures {
        let prefix = apic_prefix(p);
        let flen = prefix.len() as u64 + p.len;
        if p.len == 0 || flen - 10 > MAX_FRAME as u64 || total + flen > max_len {
            continue;
        }
        total += flen;
        pending.extend_from_slice(&prefix);
        segs.push(Segment::Inline(std::mem::take(&mut pending)));
        segs.push(Segment::Art {
            art_id: p.art_id,
            offset: 0,
            len: p.len,
        });
    }
    if !pending.is_empty() {
        segs.push(Segment::Inline(pending));
    }
    let mut header = Vec::with_capacity(10);
    header.extend_from_slice(b"ID3\x04\x00\x00");
    header.extend_from_slice(&to_syncsafe((total - 10) as u32));
    match segs.first_mut() {
        Some(Segment::Inline(b)) => {
            header.extend_from_slice(b);
            *b = header;
        }
        _ => segs.insert(0, Segment::Inline(header)),
    }
    segs
}
