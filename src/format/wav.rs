//! RIFF/WAVE.
//!
//! Probe walks the chunks: `fmt `, `fact` and other descriptive chunks before
//! `data` are kept byte-exact as `wav.chunk` structural rows (4-byte ID +
//! body, file order); tags come from `LIST`/`INFO` and from an `id3 `/`ID3 `
//! chunk (ID3 wins on conflicts), wherever they are. Synthesis regenerates
//! the front: RIFF header, the kept chunks, a new `LIST`/`INFO`, an `id3 `
//! chunk holding an ID3v2.4 tag with every tag and picture, then the `data`
//! chunk header and the payload verbatim. Chunks after `data` are dropped.
//! See docs/formats/wav.md.

use super::{
    Container, FormatError, Probe, Segment, Source, Structural, SynthInput, Tag, TagValue, id3v2,
    limits, mp3, read_up_to, read_vec,
};
use std::io::SeekFrom;

/// Structural kind: a chunk kept byte-exact (4-byte ID followed by the body).
pub const KIND_CHUNK: &str = "wav.chunk";

/// Largest chunk kept byte-exact (other than the audio).
const MAX_KEPT_CHUNK: u64 = 1024 * 1024;
/// Most chunks looked at in one file.
const MAX_CHUNKS: usize = 4096;

/// `LIST`/`INFO` item IDs with a canonical key. `IPRT` is read as a track
/// number too but never written.
pub const INFO_KEYS: &[(&[u8; 4], &str)] = &[
    (b"INAM", "title"),
    (b"IART", "artist"),
    (b"IPRD", "album"),
    (b"ICMT", "comment"),
    (b"ICRD", "date"),
    (b"IGNR", "genre"),
    (b"ITRK", "tracknumber"),
    (b"ICOP", "copyright"),
    (b"ISFT", "encoder"),
    (b"ITCH", "encodedby"),
    (b"ILNG", "language"),
    (b"IMED", "media"),
    (b"IENG", "engineer"),
];

/// Chunks that carry nothing worth keeping (padding) or that synthesis
/// regenerates.
const DROPPED: &[&[u8; 4]] = &[
    b"JUNK", b"junk", b"PAD ", b"FLLR", b"id3 ", b"ID3 ", b"data",
];

fn err(reason: impl Into<String>) -> FormatError {
    FormatError::malformed("wav", reason)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Decode an INFO string: NUL-terminated, UTF-8 if valid, else Latin-1.
fn info_text(b: &[u8]) -> String {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    match std::str::from_utf8(b) {
        Ok(s) => s.trim_end().to_owned(),
        Err(_) => b
            .iter()
            .map(|&c| char::from(c))
            .collect::<String>()
            .trim_end()
            .to_owned(),
    }
}

/// Parse the items of a `LIST` chunk of type `INFO` (body after "INFO").
pub fn parse_info(mut b: &[u8]) -> Vec<Tag> {
    let mut tags = Vec::new();
    while b.len() >= 8 && tags.len() < limits::MAX_TAGS {
        let id = [b[0], b[1], b[2], b[3]];
        let size = le32(&b[4..8]) as usize;
        let Some(v) = b.get(8..8 + size) else {
            break;
        };
        let value = info_text(v);
        b = b.get(8 + size + (size & 1)..).unwrap_or(&[]);
        if value.is_empty() || value.len() > limits::MAX_TAG_VALUE_BYTES {
            continue;
        }
        let key = match INFO_KEYS.iter().find(|(i, _)| **i == id) {
            Some((_, k)) => (*k).to_owned(),
            None if &id == b"IPRT" => "tracknumber".to_owned(),
            None if id.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') => {
                format!("riff:{}", String::from_utf8_lossy(&id).to_ascii_lowercase())
            }
            None => continue,
        };
        match value.split_once('/').filter(|_| key == "tracknumber") {
            Some((n, t)) => {
                for (k, v) in [("tracknumber", n), ("tracktotal", t)] {
                    if !v.is_empty() {
                        tags.push(Tag::text(k, v));
                    }
                }
            }
            None => tags.push(Tag::text(&key, &value)),
        }
    }
    tags
}

/// Probe a RIFF/WAVE file.
pub fn probe(src: &mut dyn Source, file_len: u64) -> Result<Probe, FormatError> {
    src.seek(SeekFrom::Start(0))?;
    let mut h = [0u8; 12];
    let n = read_up_to(src, &mut h)?;
    if n >= 4 && (&h[..4] == b"RF64" || &h[..4] == b"BW64") {
        return Err(FormatError::Unsupported(
            "RF64/BW64 WAV files (64-bit sizes)".into(),
        ));
    }
    if n < 12 || &h[..4] != b"RIFF" || &h[8..12] != b"WAVE" {
        return Err(FormatError::Unrecognised);
    }
    if file_len > u64::from(u32::MAX) + 8 {
        return Err(FormatError::Unsupported(
            "WAV files larger than 4 GiB".into(),
        ));
    }
    let mut pos = 12u64;
    let mut structural = Vec::new();
    let mut kept_bytes = 0u64;
    let mut info_tags = Vec::new();
    let mut id3 = id3v2::Parsed::default();
    let mut seen_id3 = false;
    let mut data: Option<(u64, u64)> = None;
    let mut has_fmt = false;
    for _ in 0..MAX_CHUNKS {
        if pos + 8 > file_len {
            break;
        }
        src.seek(SeekFrom::Start(pos))?;
        let ch = read_vec(src, 8, "chunk header")?;
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size = u64::from(le32(&ch[4..8]));
        let body_at = pos + 8;
        if &id == b"data" {
            let len = size.min(file_len - body_at);
            if data.is_none() {
                data = Some((body_at, len));
            }
            pos = body_at + len + (len & 1);
            continue;
        }
        let after_data = data.is_some();
        if body_at + size > file_len {
            if after_data {
                break; // a truncated trailing chunk: ignore it
            }
            return Err(err(format!(
                "chunk {:?} runs past the end of the file",
                String::from_utf8_lossy(&id)
            )));
        }
        pos = body_at + size + (size & 1);
        if &id == b"LIST" {
            if size > limits::MAX_HEADER_BYTES {
                continue;
            }
            let body = read_vec(src, size, "LIST chunk")?;
            if body.starts_with(b"INFO") {
                info_tags.extend(parse_info(&body[4..]));
                continue;
            }
            if !after_data
                && size <= MAX_KEPT_CHUNK
                && kept_bytes + size <= limits::MAX_HEADER_BYTES
            {
                kept_bytes += size;
                structural.push(chunk_row(&id, &body));
            }
            continue;
        }
        if &id == b"id3 " || &id == b"ID3 " {
            if seen_id3 || size > limits::MAX_HEADER_BYTES {
                continue;
            }
            seen_id3 = true;
            let body = read_vec(src, size, "id3 chunk")?;
            if body.starts_with(b"ID3") {
                id3v2::parse_tag(&body, &mut id3)?;
            }
            continue;
        }
        if after_data || DROPPED.contains(&&id) {
            continue;
        }
        if &id == b"fmt " {
            if has_fmt {
                continue;
            }
            if !(16..=MAX_KEPT_CHUNK).contains(&size) {
                return Err(err("fmt chunk has a bad size"));
            }
            has_fmt = true;
        } else if size > MAX_KEPT_CHUNK || kept_bytes + size > limits::MAX_HEADER_BYTES {
            continue; // too big to keep in the store: dropped
        }
        kept_bytes += size;
        let body = read_vec(src, size, "chunk")?;
        structural.push(chunk_row(&id, &body));
    }
    if !has_fmt {
        return Err(err("no fmt chunk"));
    }
    let Some((audio_offset, audio_len)) = data else {
        return Err(err("no data chunk"));
    };
    let mut tags = id3.tags;
    mp3::merge_missing(&mut tags, info_tags);
    Ok(Probe {
        container: Container::Wav,
        audio_offset,
        audio_len,
        tags,
        pictures: id3.pictures,
        structural,
    })
}

fn chunk_row(id: &[u8; 4], body: &[u8]) -> Structural {
    let mut data = Vec::with_capacity(4 + body.len());
    data.extend_from_slice(id);
    data.extend_from_slice(body);
    Structural {
        kind: KIND_CHUNK.into(),
        data,
    }
}

fn push_chunk(out: &mut Vec<u8>, id: &[u8], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// The body of a `LIST` chunk of type `INFO` for the tags, or None when no
/// tag maps to an INFO item. Several values of a key are joined with "; ".
pub fn info_chunk(tags: &[Tag]) -> Option<Vec<u8>> {
    let values = |key: &str| -> Vec<&str> {
        tags.iter()
            .filter(|t| t.key == key)
            .filter_map(|t| match &t.value {
                TagValue::Text(v) if !v.is_empty() => Some(v.as_str()),
                _ => None,
            })
            .collect()
    };
    let mut items: Vec<([u8; 4], String)> = Vec::new();
    for (id, key) in INFO_KEYS {
        let v = values(key);
        if !v.is_empty() {
            items.push((**id, v.join("; ")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        let Some(id) = t.key.strip_prefix("riff:") else {
            continue;
        };
        let b = id.as_bytes();
        if b.len() == 4
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ')
            && seen.insert(id)
        {
            let v = values(&t.key);
            if !v.is_empty() {
                items.push((
                    [b[0], b[1], b[2], b[3]].map(|c| c.to_ascii_uppercase()),
                    v.join("; "),
                ));
            }
        }
    }
    if items.is_empty() {
        return None;
    }
    let mut body = b"INFO".to_vec();
    for (id, v) in items {
        let mut s = v.replace('\0', "").into_bytes();
        s.truncate(limits::MAX_TAG_VALUE_BYTES);
        s.push(0);
        push_chunk(&mut body, &id, &s);
    }
    Some(body)
}

/// Build the served WAV file.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    let chunks: Vec<&[u8]> = input
        .structural
        .iter()
        .filter(|s| s.kind == KIND_CHUNK && s.data.len() >= 4)
        .map(|s| s.data.as_slice())
        .collect();
    if !chunks.iter().any(|c| c.starts_with(b"fmt ")) {
        return Err(FormatError::MissingStructural("WAV fmt chunk".into()));
    }
    let mut head = b"RIFF\0\0\0\0WAVE".to_vec();
    for c in &chunks {
        push_chunk(&mut head, &c[..4], &c[4..]);
    }
    if let Some(info) = info_chunk(input.tags) {
        push_chunk(&mut head, b"LIST", &info);
    }
    let mut segs = Vec::new();
    let tag = id3v2::build(input.tags, input.pictures, limits::MAX_HEADER_BYTES);
    let tag_len: u64 = tag.iter().map(Segment::len).sum();
    let mut tail = Vec::new();
    if tag_len > 10 {
        head.extend_from_slice(b"id3 ");
        head.extend_from_slice(&(tag_len as u32).to_le_bytes());
        segs.push(Segment::Inline(std::mem::take(&mut head)));
        segs.extend(tag);
        if tag_len % 2 == 1 {
            tail.push(0);
        }
    }
    if input.audio_len > u64::from(u32::MAX) {
        return Err(FormatError::Unsupported(
            "WAV data larger than 4 GiB".into(),
        ));
    }
    tail.extend_from_slice(b"data");
    tail.extend_from_slice(&(input.audio_len as u32).to_le_bytes());
    // Merge the tail into the last inline segment when it directly precedes.
    match segs.last_mut() {
        Some(Segment::Inline(b)) => b.extend_from_slice(&tail),
        _ if !head.is_empty() => {
            head.extend_from_slice(&tail);
            segs.push(Segment::Inline(head));
        }
        _ => segs.push(Segment::Inline(tail)),
    }
    segs.push(Segment::Backing {
        offset: input.audio_offset,
        len: input.audio_len,
    });
    if input.audio_len % 2 == 1 {
        segs.push(Segment::Inline(vec![0]));
    }
    let total: u64 = segs.iter().map(Segment::len).sum();
    let riff = u32::try_from(total - 8)
        .map_err(|_| FormatError::Unsupported("served WAV file larger than 4 GiB".into()))?;
    match segs.first_mut() {
        Some(Segment::Inline(b)) => b[4..8].copy_from_slice(&riff.to_le_bytes()),
        _ => return Err(err("internal: RIFF header missing")),
    }
    Ok(segs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PictureRef;
    use proptest::prelude::*;
    use std::io::Cursor;

    const FMT: [u8; 16] = [1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0];

    fn chunk(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_chunk(&mut v, id, body);
        v
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut f = b"RIFF".to_vec();
        f.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        f.extend_from_slice(b"WAVE");
        f.extend(body);
        f
    }

    fn id3_v23_title(title: &str) -> Vec<u8> {
        let mut frame = b"TIT2".to_vec();
        frame.extend_from_slice(&(title.len() as u32 + 1).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0]);
        frame.extend_from_slice(title.as_bytes());
        let mut t = b"ID3\x03\x00\x00".to_vec();
        t.extend_from_slice(&id3v2::to_syncsafe(frame.len() as u32));
        t.extend(frame);
        t
    }

    const AUDIO: &[u8] = b"\x80\x81\x82\x83\x84\x85\x86";

    fn sample() -> Vec<u8> {
        let mut info = b"INFO".to_vec();
        info.extend(chunk(b"INAM", b"Info Title\0"));
        info.extend(chunk(b"IART", b"Info Artist\0"));
        info.extend(chunk(b"ITRK", b"3/9\0"));
        info.extend(chunk(b"IXYZ", b"other\0"));
        riff(&[
            chunk(b"fmt ", &FMT),
            chunk(b"cust", b"abc"),
            chunk(b"JUNK", &[0; 6]),
            chunk(b"LIST", &info),
            chunk(b"data", AUDIO),
            chunk(b"id3 ", &id3_v23_title("ID3 Title")),
            chunk(b"smpl", b"after data"),
        ])
    }

    fn texts(tags: &[Tag]) -> Vec<(String, String)> {
        tags.iter()
            .map(|t| match &t.value {
                TagValue::Text(v) => (t.key.clone(), v.clone()),
                TagValue::Binary(_) => (t.key.clone(), "<binary>".into()),
            })
            .collect()
    }

    #[test]
    fn probe_reads_info_and_id3_and_keeps_chunks() {
        let f = sample();
        let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(p.container, Container::Wav);
        let a = p.audio_offset as usize;
        assert_eq!(&f[a..a + p.audio_len as usize], AUDIO);
        let want: Vec<(String, String)> = [
            ("title", "ID3 Title"),
            ("artist", "Info Artist"),
            ("tracknumber", "3"),
            ("tracktotal", "9"),
            ("riff:ixyz", "other"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(texts(&p.tags), want);
        let ids: Vec<&[u8]> = p.structural.iter().map(|s| &s.data[..4]).collect();
        assert_eq!(ids, vec![b"fmt ".as_slice(), b"cust"]);
        assert_eq!(&p.structural[1].data[4..], b"abc");
    }

    fn assemble(segs: &[Segment], backing: &[u8], art: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in segs {
            match s {
                Segment::Inline(b) => out.extend_from_slice(b),
                Segment::Art { offset, len, .. } => {
                    out.extend_from_slice(&art[*offset as usize..(*offset + *len) as usize])
                }
                Segment::OggRenumber(_) => unreachable!("only Ogg renumbers pages"),
                Segment::Backing { offset, len } => {
                    out.extend_from_slice(&backing[*offset as usize..(*offset + *len) as usize])
                }
            }
        }
        out
    }

    fn synth(p: &Probe, tags: &[Tag], pics: &[PictureRef]) -> Result<Vec<Segment>, FormatError> {
        synthesize(&SynthInput {
            container: Container::Wav,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags,
            pictures: pics,
            art: &crate::format::NoArt,
        })
    }

    fn sorted(mut t: Vec<Tag>) -> Vec<Tag> {
        t.sort_by(|a, b| a.key.cmp(&b.key));
        t
    }

    #[test]
    fn synthesis_layout() {
        let f = sample();
        let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
        let tags = vec![Tag::text("title", "New"), Tag::text("riff:ixyz", "kept")];
        let art = b"PICTURE".to_vec(); // odd length: the id3 chunk needs a pad byte
        let pics = vec![PictureRef {
            art_id: 1,
            picture_type: 3,
            mime: "image/png".into(),
            description: String::new(),
            width: 0,
            height: 0,
            depth: 0,
            colors: 0,
            len: art.len() as u64,
        }];
        let segs = synth(&p, &tags, &pics).unwrap();
        assert!(matches!(segs.last(), Some(Segment::Inline(b)) if b == &[0]));
        let out = assemble(&segs, &f, &art);
        assert_eq!(le32(&out[4..8]) as usize, out.len() - 8);
        // Walk the chunks: every size and pad must line up.
        let mut pos = 12;
        let mut ids = Vec::new();
        while pos < out.len() {
            let size = le32(&out[pos + 4..pos + 8]) as usize;
            ids.push(String::from_utf8_lossy(&out[pos..pos + 4]).into_owned());
            pos += 8 + size + size % 2;
        }
        assert_eq!(pos, out.len());
        assert_eq!(ids, ["fmt ", "cust", "LIST", "id3 ", "data"]);
        let q = probe(&mut Cursor::new(&out), out.len() as u64).unwrap();
        assert_eq!(sorted(q.tags), sorted(tags));
        assert_eq!(q.pictures[0].data, art);
        assert_eq!(q.structural, p.structural);
        let a = q.audio_offset as usize;
        assert_eq!(&out[a..a + q.audio_len as usize], AUDIO);
        // Without tags there is no LIST and no id3 chunk.
        let out = assemble(&synth(&p, &[], &[]).unwrap(), &f, &[]);
        assert_eq!(out.len(), 12 + 24 + 12 + 8 + 8);
        assert!(matches!(
            synth(
                &Probe {
                    structural: vec![],
                    ..p
                },
                &[],
                &[]
            ),
            Err(FormatError::MissingStructural(_))
        ));
    }

    #[test]
    fn rf64_big_and_broken_files() {
        let mut f = sample();
        f[..4].copy_from_slice(b"RF64");
        assert!(matches!(
            probe(&mut Cursor::new(&f), f.len() as u64),
            Err(FormatError::Unsupported(_))
        ));
        let f = sample();
        assert!(matches!(
            probe(&mut Cursor::new(&f), 5 << 30),
            Err(FormatError::Unsupported(_))
        ));
        let no_data = riff(&[chunk(b"fmt ", &FMT)]);
        assert!(probe(&mut Cursor::new(&no_data), no_data.len() as u64).is_err());
        let no_fmt = riff(&[chunk(b"data", AUDIO)]);
        assert!(probe(&mut Cursor::new(&no_fmt), no_fmt.len() as u64).is_err());
        for cut in 0..f.len() {
            let _ = probe(&mut Cursor::new(&f[..cut]), cut as u64);
        }
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0xff;
            let _ = probe(&mut Cursor::new(&g), g.len() as u64);
        }
        // A data chunk claiming more than the file holds is clamped.
        let mut g = riff(&[chunk(b"fmt ", &FMT), chunk(b"data", AUDIO)]);
        let n = g.len();
        g[n - 12..n - 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let p = probe(&mut Cursor::new(&g), g.len() as u64).unwrap();
        assert_eq!(p.audio_len, 8); // 7 bytes + the pad byte, which is now data
    }

    proptest! {
        #[test]
        fn arbitrary_tags_round_trip(
            tags in prop::collection::vec(
                (prop::sample::select(vec!["title", "artist", "album", "comment", "date",
                    "genre", "copyright", "x custom", "riff:isbj", "lyrics"]),
                 "[^\u{0}/]{1,30}")
                    .prop_map(|(k, v)| Tag::text(k, &v)),
                0..12),
            art_len in 0u64..40,
        ) {
            let tags: Vec<Tag> = tags
                .into_iter()
                .filter(|t| match &t.value {
                    // Numeric genres are ID3v1 references ("0" reads back as Blues).
                    TagValue::Text(v) if t.key == "genre" => {
                        id3v2::keys::resolve_genre(v) == [v.clone()]
                    }
                    _ => true,
                })
                .collect();
            let f = sample();
            let p = probe(&mut Cursor::new(&f), f.len() as u64).unwrap();
            let art: Vec<u8> = (0..art_len).map(|i| i as u8).collect();
            let pics: Vec<PictureRef> = (art_len > 0).then(|| PictureRef {
                art_id: 1, picture_type: 0, mime: "image/jpeg".into(), description: "x".into(),
                width: 0, height: 0, depth: 0, colors: 0, len: art_len,
            }).into_iter().collect();
            let segs = synth(&p, &tags, &pics).unwrap();
            let out = assemble(&segs, &f, &art);
            prop_assert_eq!(segs.iter().map(Segment::len).sum::<u64>(), out.len() as u64);
            prop_assert_eq!(le32(&out[4..8]) as usize, out.len() - 8);
            let q = probe(&mut Cursor::new(&out), out.len() as u64).unwrap();
            prop_assert_eq!(sorted(q.tags), sorted(tags));
            prop_assert_eq!(q.pictures.len(), pics.len());
            let a = q.audio_offset as usize;
            prop_assert_eq!(&out[a..a + q.audio_len as usize], AUDIO);
        }
    }
}
