//! Unit tests on small synthetic files built with the box tree.

mod hostile;
mod mapping;
mod prop;

use super::boxes::{self, Node};
use super::*;
use crate::format::{NoArt, Tag, TagValue};
use std::io::Cursor;

const AUDIO: &[u8] = b"AUDIO-FRAMES-0123456789-AUDIO-FRAMES-abcdefghij";

pub(super) fn data(type_code: u32, value: &[u8]) -> Node {
    let mut p = type_code.to_be_bytes().to_vec();
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(value);
    Node::raw(b"data", p)
}

pub(super) fn item(kind: &[u8; 4], datas: Vec<Node>) -> Node {
    Node::container(kind, Vec::new(), datas)
}

pub(super) fn freeform(mean: &str, name: &str, datas: Vec<Node>) -> Node {
    let mut kids = vec![
        Node::raw(b"mean", [&[0u8; 4][..], mean.as_bytes()].concat()),
        Node::raw(b"name", [&[0u8; 4][..], name.as_bytes()].concat()),
    ];
    kids.extend(datas);
    item(b"----", kids)
}

pub(super) fn hdlr(kind: &[u8; 4]) -> Node {
    let mut p = vec![0u8; 8];
    p.extend_from_slice(kind);
    p.extend_from_slice(&[0; 13]);
    Node::raw(b"hdlr", p)
}

pub(super) fn offsets_box(wide: bool, offs: &[u64]) -> Node {
    let mut p = vec![0u8; 4];
    p.extend_from_slice(&(offs.len() as u32).to_be_bytes());
    for &o in offs {
        if wide {
            p.extend_from_slice(&o.to_be_bytes());
        } else {
            p.extend_from_slice(&(o as u32).to_be_bytes());
        }
    }
    Node::raw(if wide { b"co64" } else { b"stco" }, p)
}

pub(super) fn trak(handler: &[u8; 4], offs: &[u64], wide: bool) -> Node {
    let stbl = Node::container(
        b"stbl",
        vec![],
        vec![Node::raw(b"stsd", vec![0; 16]), offsets_box(wide, offs)],
    );
    let minf = Node::container(b"minf", vec![], vec![stbl]);
    let mdia = Node::container(
        b"mdia",
        vec![],
        vec![Node::raw(b"mdhd", vec![0; 24]), hdlr(handler), minf],
    );
    Node::container(b"trak", vec![], vec![Node::raw(b"tkhd", vec![0; 84]), mdia])
}

pub(super) struct Spec {
    pub moov_first: bool,
    /// Tracks: handler and chunk offsets relative to the mdat payload.
    pub traks: Vec<([u8; 4], Vec<u64>)>,
    pub items: Vec<Node>,
    /// Extra `udta` children kept verbatim (e.g. chapters).
    pub udta_extra: Vec<Node>,
    pub moov_extra: Vec<Node>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            moov_first: true,
            traks: vec![(*b"soun", vec![0, 20])],
            items: vec![],
            udta_extra: vec![],
            moov_extra: vec![],
        }
    }
}

pub(super) fn ftyp() -> Vec<u8> {
    Node::raw(b"ftyp", b"M4A \0\0\0\0M4A mp42isom".to_vec()).to_bytes()
}

pub(super) fn moov_for(spec: &Spec, payload_at: u64) -> Node {
    let mut kids = vec![Node::raw(b"mvhd", vec![0; 100])];
    for (h, rel) in &spec.traks {
        let abs: Vec<u64> = rel.iter().map(|r| payload_at + r).collect();
        kids.push(trak(h, &abs, false));
    }
    let mut udta = vec![];
    if !spec.items.is_empty() {
        udta.push(ilst::meta_box(spec.items.clone()));
    }
    udta.extend(spec.udta_extra.clone());
    if !udta.is_empty() {
        kids.push(Node::container(b"udta", vec![], udta));
    }
    kids.extend(spec.moov_extra.clone());
    Node::container(b"moov", vec![], kids)
}

/// A small structurally valid MP4 file (fake audio frames).
pub(super) fn sample(spec: &Spec) -> Vec<u8> {
    let ftyp = ftyp();
    let free = Node::raw(b"free", vec![0; 8]).to_bytes();
    let moov_len = moov_for(spec, 0).size();
    let mut f = ftyp.clone();
    let payload_at =
        ftyp.len() as u64 + free.len() as u64 + if spec.moov_first { moov_len } else { 0 } + 8;
    let moov = moov_for(spec, payload_at).to_bytes();
    if spec.moov_first {
        f.extend_from_slice(&moov);
    }
    f.extend_from_slice(&free);
    f.extend_from_slice(&((AUDIO.len() + 8) as u32).to_be_bytes());
    f.extend_from_slice(b"mdat");
    f.extend_from_slice(AUDIO);
    if !spec.moov_first {
        f.extend_from_slice(&moov);
    }
    f
}

pub(super) fn probe_bytes(f: &[u8], ext: &str) -> Result<Probe, FormatError> {
    probe(&mut Cursor::new(f), f.len() as u64, ext)
}

pub(super) fn pic_ref(art_id: i64, mime: &str, len: usize) -> PictureRef {
    PictureRef {
        art_id,
        picture_type: 3,
        mime: mime.into(),
        description: String::new(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len: len as u64,
    }
}

pub(super) fn synth(p: &Probe, tags: &[Tag], pics: &[PictureRef]) -> Vec<Segment> {
    synthesize(&SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags,
        pictures: pics,
        art: &NoArt,
    })
    .unwrap()
}

/// Concatenate segments: art bytes from `arts` (by id), backing from `file`.
pub(super) fn assemble(segs: &[Segment], file: &[u8], arts: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segs {
        match s {
            Segment::Inline(b) => out.extend_from_slice(b),
            Segment::Art {
                art_id,
                offset,
                len,
            } => {
                let a = &arts.iter().find(|(id, _)| id == art_id).unwrap().1;
                out.extend_from_slice(&a[*offset as usize..(*offset + *len) as usize]);
            }
            Segment::OggRenumber(_) => unreachable!("only Ogg renumbers pages"),
            Segment::Backing { offset, len } => {
                out.extend_from_slice(&file[*offset as usize..(*offset + *len) as usize])
            }
        }
    }
    out
}

/// Every chunk offset of every track of a whole file, absolute.
pub(super) fn all_offsets(f: &[u8]) -> Vec<u64> {
    let mut pos = 0;
    while pos < f.len() {
        let (kind, _, size) = boxes::header(&f[pos..]).unwrap();
        if &kind == b"moov" {
            let moov = Node::parse(&f[pos..pos + size]).unwrap();
            let mut v = vec![];
            boxes::for_each_stbl(&moov, &mut |stbl| {
                for k in stbl.kids() {
                    let wide = &k.kind == b"co64";
                    if wide || &k.kind == b"stco" {
                        v.extend(boxes::chunk_offsets(k.payload(), wide).unwrap());
                    }
                }
            });
            return v;
        }
        pos += size;
    }
    panic!("no moov");
}

pub(super) fn tag(k: &str, v: &str) -> Tag {
    Tag::text(k, v)
}

pub(super) fn texts(tags: &[Tag], key: &str) -> Vec<String> {
    tags.iter()
        .filter(|t| t.key == key)
        .filter_map(|t| match &t.value {
            TagValue::Text(s) => Some(s.clone()),
            TagValue::Binary(_) => None,
        })
        .collect()
}

pub(super) fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}
