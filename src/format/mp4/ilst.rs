//! iTunes-style metadata items (`moov/udta/meta/ilst`) and the canonical tag
//! keys they map to, in both directions.
//!
//! Reading never fails a probe: an item that cannot be understood is kept
//! whole as an opaque `mp4:` tag, or dropped when it is broken.

use super::boxes::{Body, FourCc, Node, be32, children};
use super::genres::GENRES;
use crate::format::{Picture, PictureRef, Tag, TagValue, limits};

/// Text atoms (data type 1, UTF-8).
const TEXT: &[(&FourCc, &str)] = &[
    (b"\xa9nam", "title"),
    (b"\xa9ART", "artist"),
    (b"aART", "albumartist"),
    (b"\xa9alb", "album"),
    (b"\xa9day", "date"),
    (b"\xa9gen", "genre"),
    (b"\xa9wrt", "composer"),
    (b"\xa9cmt", "comment"),
    (b"\xa9lyr", "lyrics"),
    (b"\xa9too", "encoder"),
    (b"cprt", "copyright"),
    (b"\xa9grp", "grouping"),
    (b"desc", "description"),
    (b"sonm", "titlesort"),
    (b"soar", "artistsort"),
    (b"soaa", "albumartistsort"),
    (b"soal", "albumsort"),
    (b"soco", "composersort"),
    (b"\xa9wrk", "work"),
    (b"\xa9mvn", "movement"),
];

/// Integer atoms (data type 21, big-endian, the given width in bytes).
const INTS: &[(&FourCc, &str, usize)] = &[
    (b"tmpo", "bpm", 2),
    (b"cpil", "compilation", 1),
    (b"pgap", "gapless", 1),
    (b"shwm", "showmovement", 1),
    (b"\xa9mvi", "movementnumber", 2),
    (b"\xa9mvc", "movementtotal", 2),
];

/// Number pairs (data type 0): atom, number key, total key, payload length.
const PAIRS: &[(&FourCc, &str, &str, usize)] = &[
    (b"trkn", "tracknumber", "tracktotal", 8),
    (b"disk", "discnumber", "disctotal", 6),
];

/// The `mean` of iTunes freeform atoms.
pub const ITUNES_MEAN: &str = "com.apple.iTunes";

/// Freeform (`----:com.apple.iTunes:NAME`) atoms whose conventional names
/// carry upper-case letters. Other freeform names without upper-case ASCII
/// map to a key equal to the name.
const FREEFORM: &[(&str, &str)] = &[
    ("musicbrainz_trackid", "MusicBrainz Track Id"),
    ("musicbrainz_albumid", "MusicBrainz Album Id"),
    ("musicbrainz_artistid", "MusicBrainz Artist Id"),
    ("musicbrainz_albumartistid", "MusicBrainz Album Artist Id"),
    ("musicbrainz_releasegroupid", "MusicBrainz Release Group Id"),
    ("musicbrainz_releasetrackid", "MusicBrainz Release Track Id"),
    ("musicbrainz_workid", "MusicBrainz Work Id"),
    ("musicbrainz_discid", "MusicBrainz Disc Id"),
    (
        "musicbrainz_originalalbumid",
        "MusicBrainz Original Album Id",
    ),
    (
        "musicbrainz_originalartistid",
        "MusicBrainz Original Artist Id",
    ),
    ("releasestatus", "MusicBrainz Album Status"),
    ("releasetype", "MusicBrainz Album Type"),
    ("releasecountry", "MusicBrainz Album Release Country"),
    ("acoustid_id", "Acoustid Id"),
    ("acoustid_fingerprint", "Acoustid Fingerprint"),
    ("musicip_puid", "MusicIP PUID"),
    ("barcode", "BARCODE"),
    ("catalognumber", "CATALOGNUMBER"),
    ("label", "LABEL"),
    ("isrc", "ISRC"),
    ("asin", "ASIN"),
    ("media", "MEDIA"),
    ("script", "SCRIPT"),
    ("language", "LANGUAGE"),
    ("artists", "ARTISTS"),
    ("conductor", "CONDUCTOR"),
    ("lyricist", "LYRICIST"),
    ("remixer", "REMIXER"),
    ("producer", "PRODUCER"),
    ("engineer", "ENGINEER"),
    ("mixer", "MIXER"),
    ("djmixer", "DJMIXER"),
    ("mood", "MOOD"),
    ("license", "LICENSE"),
    ("subtitle", "SUBTITLE"),
    ("discsubtitle", "DISCSUBTITLE"),
];

/// Prefix of opaque items kept verbatim.
pub const RAW_PREFIX: &str = "mp4:";

const TYPE_IMPLICIT: u32 = 0;
const TYPE_UTF8: u32 = 1;
const TYPE_UTF16: u32 = 2;
const TYPE_JPEG: u32 = 13;
const TYPE_PNG: u32 = 14;
const TYPE_SINT: u32 = 21;
const TYPE_UINT: u32 = 22;
const TYPE_BMP: u32 = 27;

/// Tags and pictures read from an `ilst` payload.
#[derive(Debug, Default)]
pub struct Items {
    pub tags: Vec<Tag>,
    pub pictures: Vec<Picture>,
}

struct Data<'a> {
    type_code: u32,
    value: &'a [u8],
}

/// Children of one item: `mean`, `name` (freeform only) and `data` atoms.
struct Item<'a> {
    mean: Option<&'a [u8]>,
    name: Option<&'a [u8]>,
    data: Vec<Data<'a>>,
}

fn parse_item(payload: &[u8]) -> Option<Item<'_>> {
    let mut it = Item {
        mean: None,
        name: None,
        data: Vec::new(),
    };
    for c in children(payload) {
        let (kind, p) = c.ok()?;
        match &kind {
            b"data" => {
                // type indicator (set byte + 24-bit type), locale, value
                let t = be32(p, 0)? & 0x00ff_ffff;
                it.data.push(Data {
                    type_code: t,
                    value: p.get(8..)?,
                });
            }
            b"mean" => it.mean = Some(p.get(4..)?),
            b"name" => it.name = Some(p.get(4..)?),
            _ => {}
        }
    }
    Some(it)
}

fn text_of(d: &Data<'_>) -> Option<String> {
    if d.value.len() > limits::MAX_TAG_VALUE_BYTES {
        return None;
    }
    match d.type_code {
        TYPE_UTF8 => Some(String::from_utf8_lossy(d.value).into_owned()),
        TYPE_UTF16 => {
            let units = d
                .value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            Some(
                char::decode_utf16(units)
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            )
        }
        _ => None,
    }
}

fn uint_of(d: &Data<'_>) -> Option<u64> {
    if !matches!(d.type_code, TYPE_IMPLICIT | TYPE_SINT | TYPE_UINT)
        || !matches!(d.value.len(), 1 | 2 | 4 | 8)
    {
        return None;
    }
    Some(d.value.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
}

fn texts(item: &Item<'_>) -> Option<Vec<String>> {
    item.data.iter().map(text_of).collect()
}

/// Canonical key for a freeform atom, when it has one.
fn freeform_key(mean: &[u8], name: &[u8]) -> Option<String> {
    if mean != ITUNES_MEAN.as_bytes() {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    if let Some((key, _)) = FREEFORM.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
        return Some((*key).to_owned());
    }
    let plain = !name.is_empty()
        && name.len() <= 255
        && !name.bytes().any(|b| b.is_ascii_uppercase())
        && !name.starts_with(RAW_PREFIX);
    plain.then(|| name.to_owned())
}

fn raw_key(kind: &FourCc, item: Option<&Item<'_>>) -> String {
    let mut k = String::from(RAW_PREFIX);
    for &b in kind {
        match b {
            0xa9 => k.push('©'),
            0x21..=0x7e if b != b'%' => k.push(b.to_ascii_lowercase() as char),
            _ => k.push_str(&format!("%{b:02x}")),
        }
    }
    if let Some(Item {
        mean: Some(m),
        name: Some(n),
        ..
    }) = item
    {
        k.push(':');
        k.push_str(&String::from_utf8_lossy(m).to_ascii_lowercase());
        k.push(':');
        k.push_str(&String::from_utf8_lossy(n).to_ascii_lowercase());
    }
    if k.len() > 255 {
        let mut end = 255;
        while !k.is_char_boundary(end) {
            end -= 1;
        }
        k.truncate(end);
    }
    k
}

fn sniff_mime(type_code: u32, b: &[u8]) -> &'static str {
    match type_code {
        TYPE_JPEG => return "image/jpeg",
        TYPE_PNG => return "image/png",
        TYPE_BMP => return "image/bmp",
        _ => {}
    }
    if b.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if b.starts_with(b"GIF8") {
        "image/gif"
    } else if b.starts_with(b"BM") {
        "image/bmp"
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}

fn push(tags: &mut Vec<Tag>, key: &str, value: String) {
    if tags.len() < limits::MAX_TAGS {
        tags.push(Tag {
            key: key.to_owned(),
            value: TagValue::Text(value),
        });
    }
}

/// Read the items of an `ilst` payload.
pub fn read(ilst: &[u8]) -> Items {
    let mut out = Items::default();
    let has_text_genre = children(ilst).any(|c| matches!(c, Ok((k, _)) if &k == b"\xa9gen"));
    for c in children(ilst) {
        let Ok((kind, payload)) = c else { break };
        let Some(item) = parse_item(payload) else {
            continue; // a broken item is dropped
        };
        if read_known(&kind, &item, has_text_genre, &mut out) {
            continue;
        }
        if payload.len() + 8 <= limits::MAX_TAG_VALUE_BYTES && out.tags.len() < limits::MAX_TAGS {
            let mut raw = Vec::with_capacity(payload.len() + 8);
            raw.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
            raw.extend_from_slice(&kind);
            raw.extend_from_slice(payload);
            out.tags.push(Tag {
                key: raw_key(&kind, Some(&item)),
                value: TagValue::Binary(raw),
            });
        }
    }
    out
}

/// Map a known item to tags or pictures; false when it must be kept raw.
fn read_known(kind: &FourCc, item: &Item<'_>, has_text_genre: bool, out: &mut Items) -> bool {
    if item.data.is_empty() {
        return false;
    }
    if kind == b"covr" {
        for d in &item.data {
            if d.value.is_empty()
                || d.value.len() > limits::MAX_PICTURE_BYTES
                || out.pictures.len() >= limits::MAX_PICTURES
            {
                continue;
            }
            out.pictures.push(Picture {
                picture_type: 3,
                mime: sniff_mime(d.type_code, d.value).to_owned(),
                description: String::new(),
                width: 0,
                height: 0,
                depth: 0,
                colors: 0,
                data: d.value.to_vec(),
            });
        }
        return true;
    }
    if kind == b"----" {
        let (Some(mean), Some(name)) = (item.mean, item.name) else {
            return false;
        };
        let (Some(key), Some(vals)) = (freeform_key(mean, name), texts(item)) else {
            return false;
        };
        for v in vals {
            push(&mut out.tags, &key, v);
        }
        return true;
    }
    if let Some((_, key)) = TEXT.iter().find(|(a, _)| *a == kind) {
        let Some(vals) = texts(item) else {
            return false;
        };
        for v in vals {
            push(&mut out.tags, key, v);
        }
        return true;
    }
    if let Some((_, key, _)) = INTS.iter().find(|(a, _, _)| *a == kind) {
        let Some(vals) = item.data.iter().map(uint_of).collect::<Option<Vec<_>>>() else {
            return false;
        };
        for v in vals {
            push(&mut out.tags, key, v.to_string());
        }
        return true;
    }
    if let Some((_, nkey, tkey, _)) = PAIRS.iter().find(|(a, ..)| *a == kind) {
        let d = &item.data[0];
        if item.data.len() != 1 || d.type_code != TYPE_IMPLICIT || d.value.len() < 6 {
            return false;
        }
        let n = u16::from_be_bytes([d.value[2], d.value[3]]);
        let t = u16::from_be_bytes([d.value[4], d.value[5]]);
        if n > 0 {
            push(&mut out.tags, nkey, n.to_string());
        }
        if t > 0 {
            push(&mut out.tags, tkey, t.to_string());
        }
        return true;
    }
    if kind == b"gnre" {
        if has_text_genre {
            return true; // the text genre wins; the numeric one is dropped
        }
        let d = &item.data[0];
        let Some(name) = uint_of(d)
            .and_then(|n| usize::try_from(n).ok()?.checked_sub(1))
            .and_then(|i| GENRES.get(i))
        else {
            return false;
        };
        push(&mut out.tags, "genre", (*name).to_owned());
        return true;
    }
    false
}

/// One item being built: its type, freeform name, and data atoms.
struct Building {
    kind: FourCc,
    name: Option<String>,
    data: Vec<Node>,
}

fn data_atom(type_code: u32, value: &[u8]) -> Node {
    let mut p = Vec::with_capacity(8 + value.len());
    p.extend_from_slice(&type_code.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(value);
    Node::raw(b"data", p)
}

fn full_box_string(kind: &FourCc, s: &str) -> Node {
    let mut p = vec![0u8; 4];
    p.extend_from_slice(s.as_bytes());
    Node::raw(kind, p)
}

/// Parse a decimal number, leading zeros and surrounding blanks allowed.
fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Collects items in the order of their keys' first appearance.
#[derive(Default)]
struct Builder {
    items: Vec<Building>,
    raws: Vec<(usize, Node)>,
}

impl Builder {
    fn slot(&mut self, kind: &FourCc, name: Option<&str>) -> &mut Building {
        let pos = self
            .items
            .iter()
            .position(|b| &b.kind == kind && b.name.as_deref() == name);
        let i = pos.unwrap_or_else(|| {
            self.items.push(Building {
                kind: *kind,
                name: name.map(str::to_owned),
                data: Vec::new(),
            });
            self.items.len() - 1
        });
        &mut self.items[i]
    }

    fn add(&mut self, kind: &FourCc, name: Option<&str>, data: Node) {
        self.slot(kind, name).data.push(data);
    }

    fn freeform(&mut self, key: &str, value: &str) {
        let name = FREEFORM
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, n)| *n);
        self.add(b"----", Some(name), data_atom(TYPE_UTF8, value.as_bytes()));
    }

    fn finish(self) -> Vec<Node> {
        let mut nodes: Vec<Node> = Vec::with_capacity(self.items.len() + self.raws.len());
        let mut raws = self.raws.into_iter().peekable();
        for (i, b) in self.items.into_iter().enumerate() {
            while let Some((_, n)) = raws.next_if(|(at, _)| *at <= i) {
                nodes.push(n);
            }
            let mut kids = Vec::with_capacity(b.data.len() + 2);
            if let Some(name) = &b.name {
                kids.push(full_box_string(b"mean", ITUNES_MEAN));
                kids.push(full_box_string(b"name", name));
            }
            kids.extend(b.data);
            nodes.push(Node::container(&b.kind, Vec::new(), kids));
        }
        nodes.extend(raws.map(|(_, n)| n));
        nodes
    }
}

/// Build the `ilst` items for a tag set and pictures (whose bytes are
/// streamed: each becomes an art `data` atom). Pictures are expected to be
/// filtered by the caller; front covers are placed first.
pub fn build(tags: &[Tag], pictures: &[&PictureRef]) -> Vec<Node> {
    let mut b = Builder::default();
    let has = |k: &str| tags.iter().any(|t| t.key == k);
    // Number pairs: (number, total) and whether the item has been placed.
    let mut pairs: Vec<(Option<u16>, Option<u16>)> = vec![(None, None); PAIRS.len()];
    for tag in tags.iter().take(limits::MAX_TAGS) {
        let key = tag.key.as_str();
        let v = match &tag.value {
            TagValue::Binary(raw) => {
                if key.starts_with(RAW_PREFIX)
                    && let Some(n) = raw_item(raw)
                {
                    let at = b.items.len();
                    b.raws.push((at, n));
                }
                continue;
            }
            TagValue::Text(v) => v,
        };
        if key.is_empty() || key.starts_with(RAW_PREFIX) || v.len() > limits::MAX_TAG_VALUE_BYTES {
            continue;
        }
        if let Some((atom, _)) = TEXT.iter().find(|(_, k)| *k == key) {
            b.add(atom, None, data_atom(TYPE_UTF8, v.as_bytes()));
        } else if let Some((atom, _, width)) = INTS.iter().find(|(_, k, _)| *k == key) {
            match number(v).filter(|n| *n < 1 << (8 * width)) {
                Some(n) => {
                    let be = n.to_be_bytes();
                    b.add(atom, None, data_atom(TYPE_SINT, &be[8 - width..]));
                }
                None => b.freeform(key, v),
            }
        } else if let Some(i) = PAIRS
            .iter()
            .position(|(_, nk, tk, _)| *nk == key || *tk == key)
        {
            let (atom, nkey, tkey, _) = PAIRS[i];
            let is_num = key == nkey;
            let (num_s, total_s) = match v.split_once('/') {
                Some((n, t)) if is_num && !has(tkey) => (n, Some(t)),
                _ => (v.as_str(), None),
            };
            let fit = |s: &str| {
                number(s)
                    .filter(|n| (1..=65535).contains(n))
                    .map(|n| n as u16)
            };
            let slot = if is_num {
                &mut pairs[i].0
            } else {
                &mut pairs[i].1
            };
            match (slot.is_none(), fit(num_s), total_s.map(fit)) {
                (true, Some(n), None | Some(Some(_))) => {
                    *slot = Some(n);
                    if let Some(Some(t)) = total_s.map(fit) {
                        pairs[i].1 = Some(t);
                    }
                    b.slot(atom, None);
                }
                _ => b.freeform(key, v),
            }
        } else {
            b.freeform(key, v);
        }
    }
    for (i, (n, t)) in pairs.into_iter().enumerate() {
        let (atom, _, _, len) = PAIRS[i];
        if n.is_none() && t.is_none() {
            continue;
        }
        let mut v = vec![0u8; len];
        v[2..4].copy_from_slice(&n.unwrap_or(0).to_be_bytes());
        v[4..6].copy_from_slice(&t.unwrap_or(0).to_be_bytes());
        b.add(atom, None, data_atom(TYPE_IMPLICIT, &v));
    }
    let mut pics: Vec<&&PictureRef> = pictures.iter().collect();
    pics.sort_by_key(|p| p.picture_type != 3);
    for p in pics {
        let type_code = match p.mime.to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" => TYPE_JPEG,
            "image/png" => TYPE_PNG,
            "image/bmp" => TYPE_BMP,
            _ => TYPE_IMPLICIT,
        };
        b.add(
            b"covr",
            None,
            Node {
                kind: *b"data",
                body: Body::Art {
                    type_code,
                    art_id: p.art_id,
                    len: p.len,
                },
            },
        );
    }
    b.finish()
}

/// An opaque item kept by the probe: a whole box whose size field matches.
fn raw_item(raw: &[u8]) -> Option<Node> {
    let size = be32(raw, 0)? as usize;
    if size != raw.len() || size < 8 {
        return None;
    }
    let kind: FourCc = raw[4..8].try_into().ok()?;
    Some(Node::raw(&kind, raw[8..].to_vec()))
}

/// The fresh `meta` box (handler `mdir`) around `items`.
pub fn meta_box(items: Vec<Node>) -> Node {
    let mut hdlr = vec![0u8; 8];
    hdlr.extend_from_slice(b"mdirappl");
    hdlr.extend_from_slice(&[0; 9]);
    Node::container(
        b"meta",
        vec![0; 4],
        vec![
            Node::raw(b"hdlr", hdlr),
            Node::container(b"ilst", Vec::new(), items),
        ],
    )
}

/// The handler type and `ilst` payload of a `meta` payload, accepting both
/// the ISO full-box form and the QuickTime form without version and flags.
pub fn meta_parts(meta: &[u8]) -> Option<(FourCc, Option<&[u8]>)> {
    let body = if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..)?
    };
    let mut handler = None;
    let mut ilst = None;
    for c in children(body) {
        let (kind, p) = c.ok()?;
        match &kind {
            b"hdlr" => handler = p.get(8..12).and_then(|h| h.try_into().ok()),
            b"ilst" if ilst.is_none() => ilst = Some(p),
            _ => {}
        }
    }
    Some((handler?, ilst))
}
