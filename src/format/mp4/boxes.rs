//! ISO base media boxes: bounded parsing into a small tree and serialisation
//! into segments.
//!
//! Only the containers on the way to the sample tables and the user data
//! (`moov`, `trak`, `mdia`, `minf`, `stbl`, `udta`) are descended into; every
//! other box is kept as its raw payload. Headers are re-encoded on output
//! (8 bytes, or 16 with a 64-bit size when the box is that large).

use crate::format::{FormatError, Segment};

pub type FourCc = [u8; 4];

/// Boxes the tree descends into (all plain containers without a prefix).
const CONTAINERS: [&FourCc; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta"];
/// Deepest container nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Most boxes accepted in one parsed tree.
pub const MAX_BOXES: usize = 1 << 17;

pub fn err(reason: impl Into<String>) -> FormatError {
    FormatError::malformed("mp4", reason)
}

pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// A box header found at the start of `data`: type, header length, total
/// length (header included). Size 0 means "to the end of `data`".
pub fn header(data: &[u8]) -> Result<(FourCc, usize, usize), FormatError> {
    let h = data.get(..8).ok_or_else(|| err("truncated box header"))?;
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let kind = [h[4], h[5], h[6], h[7]];
    let (hlen, size) = match size32 {
        0 => (8usize, data.len() as u64),
        1 => (
            16,
            be64(data, 8).ok_or_else(|| err("truncated 64-bit box size"))?,
        ),
        n => (8, u64::from(n)),
    };
    if size < hlen as u64 {
        return Err(err(format!(
            "box '{}' has size {size}, smaller than its header",
            show(&kind)
        )));
    }
    if size > data.len() as u64 {
        return Err(err(format!(
            "box '{}' of {size} bytes runs past its container",
            show(&kind)
        )));
    }
    Ok((kind, hlen, size as usize))
}

/// A printable rendering of a box type for messages.
pub fn show(kind: &FourCc) -> String {
    kind.iter()
        .map(|&b| match b {
            0xa9 => '©',
            0x20..=0x7e => b as char,
            _ => '?',
        })
        .collect()
}

/// Iterate the boxes packed in `data`: `(type, payload)` pairs. Fewer than 8
/// trailing bytes (e.g. QuickTime's 32-bit zero terminator) end the walk.
pub fn children(data: &[u8]) -> Children<'_> {
    Children { data, pos: 0 }
}

pub struct Children<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<(FourCc, &'a [u8]), FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        if rest.len() < 8 {
            return None;
        }
        match header(rest) {
            Ok((kind, hlen, size)) => {
                self.pos += size;
                Some(Ok((kind, &rest[hlen..size])))
            }
            Err(e) => {
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}

/// One box of a parsed tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: FourCc,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The payload, kept verbatim.
    Raw(Vec<u8>),
    /// A container: `prefix` bytes (e.g. a full box's version and flags),
    /// then child boxes.
    Container { prefix: Vec<u8>, kids: Vec<Node> },
    /// A `data` atom whose value is a picture streamed from the store:
    /// payload = type indicator, locale, then `len` picture bytes.
    Art {
        type_code: u32,
        art_id: i64,
        len: u64,
    },
}

impl Node {
    pub fn raw(kind: &FourCc, payload: Vec<u8>) -> Node {
        Node {
            kind: *kind,
            body: Body::Raw(payload),
        }
    }

    pub fn container(kind: &FourCc, prefix: Vec<u8>, kids: Vec<Node>) -> Node {
        Node {
            kind: *kind,
            body: Body::Container { prefix, kids },
        }
    }

    /// Parse one box (the whole of `data`) into a tree.
    pub fn parse(data: &[u8]) -> Result<Node, FormatError> {
        let (kind, hlen, size) = header(data)?;
        if size != data.len() {
            return Err(err("box length disagrees with its stored size"));
        }
        let mut count = 1;
        let body = parse_body(&kind, &data[hlen..], 0, &mut count)?;
        Ok(Node { kind, body })
    }

    pub fn payload_len(&self) -> u64 {
        match &self.body {
            Body::Raw(v) => v.len() as u64,
            Body::Container { prefix, kids } => {
                prefix.len() as u64 + kids.iter().map(Node::size).sum::<u64>()
            }
            Body::Art { len, .. } => 8 + len,
        }
    }

    /// Total encoded size, header included.
    pub fn size(&self) -> u64 {
        let p = self.payload_len();
        p + header_len(p)
    }

    pub fn kids(&self) -> &[Node] {
        match &self.body {
            Body::Container { kids, .. } => kids,
            _ => &[],
        }
    }

    pub fn kids_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.body {
            Body::Container { kids, .. } => Some(kids),
            _ => None,
        }
    }

    pub fn child(&self, kind: &FourCc) -> Option<&Node> {
        self.kids().iter().find(|n| &n.kind == kind)
    }

    pub fn payload(&self) -> &[u8] {
        match &self.body {
            Body::Raw(v) => v,
            _ => &[],
        }
    }

    /// Append this box's bytes (and picture references) to `out`.
    pub fn emit(&self, out: &mut Emitter) {
        let p = self.payload_len();
        if header_len(p) == 8 {
            out.bytes(&((p + 8) as u32).to_be_bytes());
            out.bytes(&self.kind);
        } else {
            out.bytes(&1u32.to_be_bytes());
            out.bytes(&self.kind);
            out.bytes(&(p + 16).to_be_bytes());
        }
        match &self.body {
            Body::Raw(v) => out.bytes(v),
            Body::Container { prefix, kids } => {
                out.bytes(prefix);
                for k in kids {
                    k.emit(out);
                }
            }
            Body::Art {
                type_code,
                art_id,
                len,
            } => {
                out.bytes(&type_code.to_be_bytes());
                out.bytes(&[0; 4]);
                out.art(*art_id, *len);
            }
        }
    }

    /// The encoded bytes of a tree without pictures.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Emitter::default();
        self.emit(&mut out);
        let mut v = Vec::new();
        for s in out.finish() {
            if let Segment::Inline(b) = s {
                v.extend_from_slice(&b);
            }
        }
        v
    }
}

fn header_len(payload: u64) -> u64 {
    if payload + 8 <= u64::from(u32::MAX) {
        8
    } else {
        16
    }
}

fn parse_body(
    kind: &FourCc,
    payload: &[u8],
    depth: usize,
    count: &mut usize,
) -> Result<Body, FormatError> {
    if !CONTAINERS.contains(&kind) {
        return Ok(Body::Raw(payload.to_vec()));
    }
    if depth >= MAX_DEPTH {
        return Err(FormatError::Limit("MP4 boxes nested too deeply".into()));
    }
    let mut kids = Vec::new();
    for c in children(payload) {
        let (k, p) = c?;
        *count += 1;
        if *count > MAX_BOXES {
            return Err(FormatError::Limit(format!(
                "more than {MAX_BOXES} boxes in moov"
            )));
        }
        let body = parse_body(&k, p, depth + 1, count)?;
        kids.push(Node { kind: k, body });
    }
    Ok(Body::Container {
        prefix: Vec::new(),
        kids,
    })
}

/// Collects served bytes, splitting inline runs around streamed pictures.
#[derive(Debug, Default)]
pub struct Emitter {
    segs: Vec<Segment>,
    cur: Vec<u8>,
}

impl Emitter {
    pub fn bytes(&mut self, b: &[u8]) {
        self.cur.extend_from_slice(b);
    }

    pub fn art(&mut self, art_id: i64, len: u64) {
        self.flush();
        self.segs.push(Segment::Art {
            art_id,
            offset: 0,
            len,
        });
    }

    pub fn segment(&mut self, s: Segment) {
        self.flush();
        self.segs.push(s);
    }

    fn flush(&mut self) {
        if !self.cur.is_empty() {
            self.segs
                .push(Segment::Inline(std::mem::take(&mut self.cur)));
        }
    }

    pub fn finish(mut self) -> Vec<Segment> {
        self.flush();
        self.segs
    }
}

/// Visit every sample table (`stbl`) under `moov`.
pub fn for_each_stbl<'a>(node: &'a Node, f: &mut dyn FnMut(&'a Node)) {
    if &node.kind == b"stbl" {
        f(node);
        return;
    }
    for k in node.kids() {
        for_each_stbl(k, f);
    }
}

fn for_each_stbl_mut(
    node: &mut Node,
    f: &mut dyn FnMut(&mut Node) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    if &node.kind == b"stbl" {
        return f(node);
    }
    if let Some(kids) = node.kids_mut() {
        for k in kids {
            for_each_stbl_mut(k, f)?;
        }
    }
    Ok(())
}

/// The entries of a chunk offset table (`stco` when `wide` is false,
/// `co64` when true), checked against the payload length.
pub fn chunk_offsets(
    payload: &[u8],
    wide: bool,
) -> Result<impl Iterator<Item = u64> + '_, FormatError> {
    let count = be32(payload, 4).ok_or_else(|| err("truncated chunk offset table"))? as usize;
    let w = if wide { 8 } else { 4 };
    let need = count
        .checked_mul(w)
        .and_then(|n| n.checked_add(8))
        .ok_or_else(|| err("chunk offset table too large"))?;
    if need > payload.len() {
        return Err(err("chunk offset table longer than its box"));
    }
    Ok((0..count).map(move |i| {
        let at = 8 + i * w;
        if wide {
            be64(payload, at).unwrap_or(0)
        } else {
            u64::from(be32(payload, at).unwrap_or(0))
        }
    }))
}

/// Lowest and highest chunk offset over all tracks, if any.
pub fn offset_range(moov: &Node) -> Result<Option<(u64, u64)>, FormatError> {
    let mut range: Option<(u64, u64)> = None;
    let mut res = Ok(());
    for_each_stbl(moov, &mut |stbl| {
        for k in stbl.kids() {
            let wide = match &k.kind {
                b"stco" => false,
                b"co64" => true,
                _ => continue,
            };
            match chunk_offsets(k.payload(), wide) {
                Ok(it) => {
                    for o in it {
                        range = Some(match range {
                            None => (o, o),
                            Some((lo, hi)) => (lo.min(o), hi.max(o)),
                        });
                    }
                }
                Err(e) => res = Err(e),
            }
        }
    });
    res.map(|()| range)
}

/// Whether shifting every `stco` entry by `delta` would leave 32 bits.
pub fn stco_overflows(moov: &Node, delta: i128) -> Result<bool, FormatError> {
    let mut over = false;
    let mut res = Ok(());
    for_each_stbl(moov, &mut |stbl| {
        for k in stbl.kids().iter().filter(|k| &k.kind == b"stco") {
            match chunk_offsets(k.payload(), false) {
                Ok(mut it) => {
                    over |= it.any(|o| i128::from(o) + delta > i128::from(u32::MAX));
                }
                Err(e) => res = Err(e),
            }
        }
    });
    res.map(|()| over)
}

/// Rewrite every `stco` as an equivalent `co64`.
pub fn widen_stco(moov: &mut Node) -> Result<(), FormatError> {
    for_each_stbl_mut(moov, &mut |stbl| {
        for k in stbl.kids_mut().into_iter().flatten() {
            if &k.kind != b"stco" {
                continue;
            }
            let p = k.payload();
            let offs: Vec<u64> = chunk_offsets(p, false)?.collect();
            let mut v = Vec::with_capacity(8 + offs.len() * 8);
            v.extend_from_slice(&p[..8]);
            for o in offs {
                v.extend_from_slice(&o.to_be_bytes());
            }
            *k = Node::raw(b"co64", v);
        }
        Ok(())
    })
}

/// Add `delta` to every chunk offset.
pub fn shift_offsets(moov: &mut Node, delta: i128) -> Result<(), FormatError> {
    for_each_stbl_mut(moov, &mut |stbl| {
        for k in stbl.kids_mut().into_iter().flatten() {
            let wide = match &k.kind {
                b"stco" => false,
                b"co64" => true,
                _ => continue,
            };
            let Body::Raw(p) = &mut k.body else { continue };
            let count = chunk_offsets(p, wide)?.count();
            let w = if wide { 8 } else { 4 };
            for i in 0..count {
                let at = 8 + i * w;
                let cell = &mut p[at..at + w];
                let old = if wide {
                    be64(cell, 0).unwrap_or(0)
                } else {
                    u64::from(be32(cell, 0).unwrap_or(0))
                };
                let new = i128::from(old) + delta;
                let bad = || err("chunk offset out of range after shifting");
                if wide {
                    let n = u64::try_from(new).map_err(|_| bad())?;
                    cell.copy_from_slice(&n.to_be_bytes());
                } else {
                    let n = u32::try_from(new).map_err(|_| bad())?;
                    cell.copy_from_slice(&n.to_be_bytes());
                }
            }
        }
        Ok(())
    })
}
