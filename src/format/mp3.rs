//! MPEG audio (MP3) with ID3v2 tags.
//!
//! Probe reads every leading ID3v2 tag (v2.2/2.3/2.4), notes trailing tags
//! (ID3v1, Lyrics3v2, APEv2, an appended ID3v2.4 tag with footer) and leaves
//! them out of the audio range, and confirms that MPEG audio frames follow
//! the leading tag. Synthesis emits one ID3v2.4 tag followed by the audio
//! range verbatim (the Xing/LAME/VBRI frame is the first audio frame and is
//! part of it). See docs/formats/mp3.md.

use super::{
    Container, FormatError, Probe, Segment, Source, SynthInput, Tag, TagValue, id3v2, limits,
    read_up_to, read_vec,
};
use std::io::SeekFrom;

/// How far past the leading tag the first MPEG frame may start.
const SYNC_WINDOW: usize = 64 * 1024;

/// True when the bytes start with an MPEG audio frame sync.
pub fn looks_like_mpeg_audio(magic: &[u8]) -> bool {
    magic.len() >= 2 && magic[0] == 0xff && magic[1] & 0xe0 == 0xe0
}

/// Length in bytes of the MPEG audio frame whose header is `h`, or None when
/// `h` is not a valid header (free-format streams are not recognised).
pub fn frame_len(h: &[u8]) -> Option<usize> {
    let h = h.get(..4)?;
    if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 0 MPEG2.5, 1 reserved, 2 MPEG2, 3 MPEG1
    let layer = (h[1] >> 1) & 3; // 1 III, 2 II, 3 I
    let br_idx = usize::from(h[2] >> 4);
    let sr_idx = usize::from((h[2] >> 2) & 3);
    let pad = usize::from((h[2] >> 1) & 1);
    if version == 1 || layer == 0 || br_idx == 0 || br_idx == 15 || sr_idx == 3 || h[3] & 3 == 2 {
        return None;
    }
    const V1: [[u16; 15]; 3] = [
        [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
    ];
    const V2: [[u16; 15]; 2] = [
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let li = usize::from(3 - layer); // 0 I, 1 II, 2 III
    let kbps = usize::from(if version == 3 {
        V1[li][br_idx]
    } else {
        V2[li.min(1)][br_idx]
    });
    let sr = match version {
        3 => [44100usize, 48000, 32000][sr_idx],
        2 => [22050, 24000, 16000][sr_idx],
        _ => [11025, 12000, 8000][sr_idx],
    };
    let bps = kbps * 1000;
    Some(match li {
        0 => (12 * bps / sr + pad) * 4,
        2 if version != 3 => 72 * bps / sr + pad,
        _ => 144 * bps / sr + pad,
    })
}

/// Do two headers describe the same stream (version, layer, sample rate)?
fn same_stream(a: &[u8], b: &[u8]) -> bool {
    a[1] & 0xfe == b[1] & 0xfe && a[2] & 0x0c == b[2] & 0x0c
}

/// Confirm that MPEG audio starts within [`SYNC_WINDOW`] of `start`: a valid
/// frame header followed by another of the same stream (or by the end).
fn confirm_sync(src: &mut dyn Source, start: u64, end: u64) -> Result<(), FormatError> {
    let avail = end.saturating_sub(start);
    let want = avail.min((SYNC_WINDOW + 8192) as u64) as usize;
    src.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; want];
    let n = read_up_to(src, &mut buf)?;
    buf.truncate(n);
    for i in 0..buf.len().min(SYNC_WINDOW) {
        let Some(len) = frame_len(&buf[i..]) else {
            continue;
        };
        let next = i + len;
        if let Some(nh) = buf.get(next..next + 4) {
            if frame_len(nh).is_some() && same_stream(&buf[i..], nh) {
                return Ok(());
            }
        } else if next as u64 >= avail.saturating_sub(4) && (i == 0 || next as u64 <= avail) {
            return Ok(()); // the only (or last, possibly truncated) frame
        }
    }
    Err(FormatError::Unrecognised)
}

fn read_at(src: &mut dyn Source, pos: u64, len: usize) -> Result<Vec<u8>, FormatError> {
    src.seek(SeekFrom::Start(pos))?;
    read_vec(src, len as u64, "trailing tag")
}

/// What sits at the end of the file after the audio.
#[derive(Debug, Default)]
struct Trailing {
    /// Where the audio ends.
    end: u64,
    id3v1: Option<Vec<u8>>,
    /// An appended ID3v2 tag (with footer): its offset and length.
    id3v2: Option<(u64, u64)>,
    /// APE tag items: offset and length of the item area.
    ape: Option<(u64, u64)>,
}

/// Most trailing tags stripped from the end of a file.
pub const MAX_TRAILING_TAGS: usize = 64;

fn trailing(src: &mut dyn Source, start: u64, file_len: u64) -> Result<Trailing, FormatError> {
    let mut t = Trailing {
        end: file_len,
        ..Trailing::default()
    };
    // Strip tags from the end until none is recognised, so the audio range
    // never ends in bytes that look like a tag (the served file puts the
    // audio range at its end, where a reader would take them for one).
    for _ in 0..=MAX_TRAILING_TAGS {
        let room = t.end - start;
        if room >= 128 {
            let v1 = read_at(src, t.end - 128, 128)?;
            if v1.starts_with(b"TAG") {
                t.end -= 128;
                if t.end >= start + 227 && read_at(src, t.end - 227, 4)? == b"TAG+" {
                    t.end -= 227;
                }
                t.id3v1.get_or_insert(v1);
                continue;
            }
        }
        let room = t.end - start;
        if room >= 32 {
            let f = read_at(src, t.end - 32, 32)?;
            if f.starts_with(b"APETAGEX") {
                let size = u64::from(u32::from_le_bytes([f[12], f[13], f[14], f[15]]));
                let flags = u32::from_le_bytes([f[20], f[21], f[22], f[23]]);
                let total = size + if flags & 0x8000_0000 != 0 { 32 } else { 0 };
                if size >= 32 && total <= room {
                    t.end -= total;
                    if t.ape.is_none() {
                        let items_at = t.end + total - size;
                        t.ape = Some((items_at, size - 32));
                    }
                    continue;
                }
            }
        }
        if room >= 15 {
            let f = read_at(src, t.end - 15, 15)?;
            if &f[6..] == b"LYRICS200" && f[..6].iter().all(u8::is_ascii_digit) {
                let n: u64 = String::from_utf8_lossy(&f[..6]).parse().unwrap_or(u64::MAX);
                if n.saturating_add(15) <= room {
                    t.end -= n + 15;
                    continue;
                }
            }
        }
        if room >= 20 {
            let f = read_at(src, t.end - 10, 10)?;
            if f.starts_with(b"3DI") && f[6..10].iter().all(|b| b & 0x80 == 0) {
                let total = u64::from(id3v2::syncsafe([f[6], f[7], f[8], f[9]])) + 20;
                if total <= room {
                    t.end -= total;
                    t.id3v2 = Some((t.end, total));
                    continue;
                }
            }
        }
        return Ok(t);
    }
    Err(FormatError::Limit(format!(
        "more than {MAX_TRAILING_TAGS} tags at the end of the file"
    )))
}

/// Text of an ID3v1 field: Latin-1, cut at the first NUL, trailing spaces trimmed.
fn v1_text(b: &[u8]) -> String {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    let s: String = b.iter().map(|&c| char::from(c)).collect();
    s.trim_end().to_owned()
}

/// Tags of an ID3v1(.1) tag, used only for keys the ID3v2 tag lacks.
fn v1_tags(v1: &[u8]) -> Vec<Tag> {
    let mut out = Vec::new();
    let Some(v1) = v1.get(..128) else {
        return out;
    };
    for (key, range) in [
        ("title", 3..33),
        ("artist", 33..63),
        ("album", 63..93),
        ("date", 93..97),
    ] {
        out.push(Tag::text(key, &v1_text(&v1[range])));
    }
    let v11 = v1[125] == 0 && v1[126] != 0;
    out.push(Tag::text(
        "comment",
        &v1_text(&v1[97..if v11 { 125 } else { 127 }]),
    ));
    if v11 {
        out.push(Tag::text("tracknumber", &v1[126].to_string()));
    }
    if let Some(g) = id3v2::keys::GENRES.get(usize::from(v1[127])) {
        out.push(Tag::text("genre", g));
    }
    out.retain(|t| t.value != TagValue::Text(String::new()));
    out
}

/// Text items of an APEv2 tag (the item area between header and footer),
/// used only for keys the ID3v2 tag lacks. Binary and link items are skipped.
fn ape_tags(mut b: &[u8]) -> Vec<Tag> {
    let mut out = Vec::new();
    while b.len() >= 9 && out.len() < limits::MAX_TAGS {
        let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let flags = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let Some(nul) = b[8..].iter().position(|&c| c == 0) else {
            break;
        };
        let key = String::from_utf8_lossy(&b[8..8 + nul]).to_ascii_lowercase();
        let start = 8 + nul + 1;
        let Some(value) = b.get(start..start.saturating_add(len)) else {
            break;
        };
        b = &b[start + len..];
        if (flags >> 1) & 3 != 0
            || key.is_empty()
            || key.len() > 255
            || len > limits::MAX_TAG_VALUE_BYTES
        {
            continue;
        }
        let key = match key.as_str() {
            "year" => "date",
            "track" => "tracknumber",
            "disc" => "discnumber",
            "album artist" => "albumartist",
            k => k,
        };
        for v in String::from_utf8_lossy(value)
            .split('\0')
            .filter(|v| !v.is_empty())
        {
            match v
                .split_once('/')
                .filter(|_| key == "tracknumber" || key == "discnumber")
            {
                Some((n, total)) => {
                    let tkey = if key == "tracknumber" {
                        "tracktotal"
                    } else {
                        "disctotal"
                    };
                    for (k, v) in [(key, n), (tkey, total)] {
                        if !v.is_empty() {
                            out.push(Tag::text(k, v));
                        }
                    }
                }
                None => out.push(Tag::text(key, v)),
            }
        }
    }
    out
}

/// Probe an MP3 file.
pub fn probe(src: &mut dyn Source, file_len: u64) -> Result<Probe, FormatError> {
    let (mut parsed, start) = id3v2::read_leading(src, file_len)?;
    let t = trailing(src, start, file_len)?;
    confirm_sync(src, start, t.end)?;
    if let Some((pos, len)) = t.id3v2
        && len <= limits::MAX_HEADER_BYTES
    {
        let buf = read_at(src, pos, len as usize)?;
        let mut appended = id3v2::Parsed::default();
        if id3v2::parse_tag(&buf, &mut appended).is_ok() {
            merge_missing(&mut parsed.tags, appended.tags);
            for p in appended.pictures {
                if parsed.pictures.len() < limits::MAX_PICTURES {
                    parsed.pictures.push(p);
                }
            }
        }
    }

    if let Some((pos, len)) = t.ape
        && len <= limits::MAX_HEADER_BYTES
    {
        let buf = read_at(src, pos, len as usize)?;
        merge_missing(&mut parsed.tags, ape_tags(&buf));
    }
    if let Some(v1) = &t.id3v1 {
        merge_missing(&mut parsed.tags, v1_tags(v1));
    }
    Ok(Probe {
        container: Container::Mp3,
        audio_offset: start,
        audio_len: t.end - start,
        tags: parsed.tags,
        pictures: parsed.pictures,
        structural: Vec::new(),
    })
}

/// Append the tags of `extra` whose keys `tags` does not have yet.
pub fn merge_missing(tags: &mut Vec<Tag>, extra: Vec<Tag>) {
    let have: std::collections::HashSet<String> = tags.iter().map(|t| t.key.clone()).collect();
    for t in extra {
        if !have.contains(&t.key) && tags.len() < limits::MAX_TAGS {
            tags.push(t);
        }
    }
}

/// Build the served MP3: one ID3v2.4 tag (omitted when empty), then the audio.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    let mut segs = id3v2::build(input.tags, input.pictures, limits::MAX_HEADER_BYTES);
    if segs.iter().map(Segment::len).sum::<u64>() <= 10 {
        segs.clear();
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
    use crate::format::PictureRef;
    use proptest::prelude::*;
    use std::io::Cursor;

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames.
    const HDR: [u8; 4] = [0xff, 0xfb, 0x90, 0x64];

    fn frames(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            v.extend_from_slice(&HDR);
            v.extend((0..413).map(|j| (i * 7 + j) as u8));
        }
        v
    }

    fn v23_tag(frames: &[(&[u8; 4], &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (id, text) in frames {
            body.extend_from_slice(*id);
            body.extend_from_slice(&(text.len() as u32 + 1).to_be_bytes());
            body.extend_from_slice(&[0, 0, 0]);
            body.extend_from_slice(text.as_bytes());
        }
        body.extend_from_slice(&[0; 20]);
        let mut t = b"ID3\x03\x00\x00".to_vec();
        t.extend_from_slice(&id3v2::to_syncsafe(body.len() as u32));
        t.extend(body);
        t
    }

    fn id3v1(title: &str, genre: u8, track: u8) -> Vec<u8> {
        let mut t = b"TAG".to_vec();
        let mut field = |s: &str, n: usize| {
            let mut b = s.as_bytes().to_vec();
            b.resize(n, 0);
            t.extend(b);
        };
        field(title, 30);
        field("v1 artist", 30);
        field("", 30);
        field("1987", 4);
        field("v1 comment", 28);
        t.push(0);
        t.push(track);
        t.push(genre);
        t
    }

    fn ape() -> Vec<u8> {
        let item = b"\x03\x00\x00\x00\x00\x00\x00\x00Foo\x00bar";
        let size = (item.len() + 32) as u32;
        let mut v = b"APETAGEX".to_vec();
        let hf = |v: &mut Vec<u8>, flags: u32| {
            v.extend_from_slice(&2000u32.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&flags.to_le_bytes());
            v.extend_from_slice(&[0; 8]);
        };
        hf(&mut v, 0xa000_0000);
        v.extend_from_slice(item);
        v.extend_from_slice(b"APETAGEX");
        hf(&mut v, 0x8000_0000);
        v
    }

    fn probe_bytes(f: &[u8]) -> Result<Probe, FormatError> {
        crate::format::probe(&mut Cursor::new(f), f.len() as u64, "mp3")
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_len(&HDR), Some(417));
        assert_eq!(frame_len(&[0xff, 0xfb, 0x92, 0x64]), Some(418)); // padded
        assert_eq!(frame_len(&[0xff, 0xf3, 0x80, 0x64]), Some(208)); // MPEG-2 L3 64k 22.05k: 72*64000/22050
        assert_eq!(frame_len(&[0xff, 0xfd, 0x90, 0x64]), Some(522)); // MPEG-1 L2 160k 44.1k
        assert_eq!(frame_len(&[0xff, 0xff, 0x90, 0x64]), Some(78 * 4)); // MPEG-1 L1 288k 44.1k
        assert_eq!(frame_len(&[0xff, 0xf1, 0x50, 0x80]), None); // AAC ADTS (layer 0)
        assert_eq!(frame_len(&[0xff, 0xfb, 0xf0, 0x64]), None); // bad bitrate
        assert_eq!(frame_len(&[0xff, 0xfb, 0x9c, 0x64]), None); // bad sample rate
    }

    #[test]
    fn probe_excludes_trailing_tags_and_uses_v1_as_fallback() {
        let audio = frames(5);
        let mut f = v23_tag(&[(b"TIT2", "v2 title"), (b"TRCK", "4/9")]);
        let start = f.len() as u64;
        f.extend(&audio);
        f.extend(ape());
        f.extend(id3v1("v1 title", 17, 7));
        let p = probe_bytes(&f).unwrap();
        assert_eq!(p.container, Container::Mp3);
        assert_eq!(p.audio_offset, start);
        assert_eq!(p.audio_len, audio.len() as u64);
        let got: Vec<(&str, &TagValue)> =
            p.tags.iter().map(|t| (t.key.as_str(), &t.value)).collect();
        let t = |s: &str| TagValue::Text(s.into());
        assert_eq!(
            got,
            vec![
                ("title", &t("v2 title")),
                ("tracknumber", &t("4")),
                ("tracktotal", &t("9")),
                ("foo", &t("bar")),
                ("artist", &t("v1 artist")),
                ("date", &t("1987")),
                ("comment", &t("v1 comment")),
                ("genre", &t("Rock")),
            ]
        );
    }

    #[test]
    fn bare_mpeg_stream_and_junk() {
        let audio = frames(3);
        let p = probe_bytes(&audio).unwrap();
        assert_eq!((p.audio_offset, p.audio_len), (0, audio.len() as u64));
        assert!(p.tags.is_empty());
        // A tag followed by junk that is not MPEG audio.
        let mut f = v23_tag(&[(b"TIT2", "x")]);
        f.extend((0..5000u32).map(|i| (i * 31 % 251) as u8 & 0x7f));
        assert!(matches!(probe_bytes(&f), Err(FormatError::Unrecognised)));
        // A tag followed by nothing.
        assert!(matches!(
            probe_bytes(&v23_tag(&[(b"TIT2", "x")])),
            Err(FormatError::Unrecognised)
        ));
        // Some junk between the tag and the first frame stays in the audio range.
        let mut f = v23_tag(&[(b"TIT2", "x")]);
        let start = f.len() as u64;
        f.extend([0u8; 100]);
        f.extend(&audio);
        let p = probe_bytes(&f).unwrap();
        assert_eq!(
            (p.audio_offset, p.audio_len),
            (start, audio.len() as u64 + 100)
        );
    }

    #[test]
    fn hostile_files_error_not_panic() {
        let mut f = v23_tag(&[(b"TIT2", "title"), (b"TPE1", "artist")]);
        f.extend(frames(2));
        f.extend(id3v1("t", 1, 1));
        for cut in 0..f.len() {
            let _ = probe_bytes(&f[..cut]);
        }
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0xff;
            let _ = probe_bytes(&g);
        }
        // A tag claiming more bytes than the file has.
        let mut g = b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f".to_vec();
        g.extend(frames(1));
        assert!(probe_bytes(&g).is_err());
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

    fn synth(p: &Probe, tags: &[Tag], pics: &[PictureRef]) -> Vec<Segment> {
        synthesize(&SynthInput {
            container: Container::Mp3,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags,
            pictures: pics,
            art: &crate::format::NoArt,
        })
        .unwrap()
    }

    proptest! {
        #[test]
        fn synthesis_round_trips(
            values in prop::collection::vec("[^\u{0}/]{1,30}", 0..6),
            art_len in 0u64..300,
            trailer in any::<bool>(),
        ) {
            let audio = frames(4);
            let mut f = v23_tag(&[(b"TIT2", "old")]);
            f.extend(&audio);
            if trailer {
                f.extend(id3v1("t", 1, 1));
            }
            let p = probe_bytes(&f).unwrap();
            let keys = ["title", "artist", "album", "comment", "x-custom", "lyrics"];
            let tags: Vec<Tag> = values.iter().zip(keys).map(|(v, k)| Tag::text(k, v)).collect();
            let art: Vec<u8> = (0..art_len).map(|i| i as u8).collect();
            let pics: Vec<PictureRef> = (art_len > 0).then(|| PictureRef {
                art_id: 1, picture_type: 3, mime: "image/jpeg".into(), description: "d".into(),
                width: 0, height: 0, depth: 0, colors: 0, len: art_len,
            }).into_iter().collect();
            let segs = synth(&p, &tags, &pics);
            let out = assemble(&segs, &f, &art);
            prop_assert_eq!(segs.iter().map(Segment::len).sum::<u64>(), out.len() as u64);
            prop_assert_eq!(
                crate::format::served_len(&SynthInput {
                    container: Container::Mp3, audio_offset: p.audio_offset, audio_len: p.audio_len,
                    structural: &[], tags: &tags, pictures: &pics, art: &crate::format::NoArt,
                }).unwrap(),
                out.len() as u64
            );
            prop_assert!(out.ends_with(&audio));
            let q = probe_bytes(&out).unwrap();
            prop_assert_eq!(&q.tags, &tags);
            prop_assert_eq!(&out[q.audio_offset as usize..], &audio[..]);
            prop_assert_eq!(q.pictures.len(), pics.len());
            if let Some(pic) = q.pictures.first() {
                prop_assert_eq!(&pic.data, &art);
            }
        }
    }

    #[test]
    fn binary_frames_are_reemitted_verbatim() {
        let mut f = v23_tag(&[(b"TIT2", "t")]);
        // Splice a PRIV frame into the tag by rebuilding it.
        let mut body = f[10..].to_vec();
        let priv_body = b"owner\x00\xff\x00\x01";
        let mut frame = b"PRIV".to_vec();
        frame.extend_from_slice(&(priv_body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(priv_body);
        body.splice(0..0, frame);
        f.truncate(6);
        f.extend_from_slice(&id3v2::to_syncsafe(body.len() as u32));
        f.extend(body);
        f.extend(frames(2));
        let p = probe_bytes(&f).unwrap();
        let priv_tag = p.tags.iter().find(|t| t.key == "id3:priv").unwrap();
        assert_eq!(priv_tag.value, TagValue::Binary(priv_body.to_vec()));
        let out = assemble(&synth(&p, &p.tags, &[]), &f, &[]);
        assert!(out.windows(priv_body.len()).any(|w| w == priv_body));
        assert_eq!(probe_bytes(&out).unwrap().tags, p.tags);
    }
}
