//! WAV end to end: fixtures made by ffmpeg (LIST/INFO), mutagen (an `id3 `
//! chunk after the data) and by hand (extra chunks), probed and re-tagged by
//! musefs, the served file assembled with `Layout::read_at` and checked with
//! independent readers: mutagen's WAVE reader, ffprobe, ffmpeg's PCM decode
//! and Python's `wave` module. A missing tool fails the test.

mod tools;
use tools::*;

use musefs::format::{
    self, Container, FormatError, PictureRef, Probe, Segment, SynthInput, Tag, TagValue,
};
use musefs::library::layout::Layout;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use std::sync::Arc;

type Arts = HashMap<i64, Arc<[u8]>>;

/// ffprobe's format name, duration and title tag.
fn ffprobe(p: &Path) -> (String, String, String) {
    let out = String::from_utf8(run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:format_tags=title",
            "-of",
            "default=nw=1",
            p.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_owned()
    };
    (get("format_name"), get("duration"), get("TAG:title"))
}

/// Python's own RIFF/WAVE reader: parameters and a hash of the frames.
fn python_wave(p: &Path) -> String {
    python(
        r#"
import sys, wave, hashlib
w = wave.open(sys.argv[1], "rb")
print(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(),
      hashlib.sha256(w.readframes(w.getnframes())).hexdigest())
"#,
        &[p.to_str().unwrap()],
    )
}

/// mutagen's view of the `id3 ` chunk: sorted `ID|desc|lang|v1;v2` lines.
const MUTAGEN_DUMP: &str = r#"
import sys, hashlib
from mutagen.wave import WAVE
f = WAVE(sys.argv[1])
t = f.tags
print("version", ".".join(map(str, t.version)) if t is not None else "none")
h = lambda s: s.encode("utf-8").hex() or "-"
for f in (t.values() if t is not None else []):
    fid = f.FrameID
    if fid == "APIC":
        print("pic", int(f.type), h(f.mime), h(f.desc), hashlib.sha256(f.data).hexdigest())
    elif fid in ("COMM", "USLT"):
        texts = f.text if isinstance(f.text, list) else [f.text]
        print("frame", fid, h(f.desc), f.lang, *[h(x) for x in texts])
    elif fid == "TXXX":
        print("frame", fid, h(f.desc), "-", *[h(x) for x in f.text])
    elif hasattr(f, "text"):
        print("frame", fid, "-", "-", *[h(str(x)) for x in f.text])
    else:
        print("other", fid)
"#;

fn mutagen_frames(p: &Path) -> (String, Vec<String>) {
    let out = python(MUTAGEN_DUMP, &[p.to_str().unwrap()]);
    let mut version = String::new();
    let mut items = Vec::new();
    for line in out.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "version" => version = w[1].to_owned(),
            "pic" => items.push(format!(
                "pic|{}|{}|{}|{}",
                w[1],
                unhex(w[2]),
                unhex(w[3]),
                w[4]
            )),
            "frame" => {
                let texts: Vec<String> = w[4..].iter().map(|x| unhex(x)).collect();
                let lang = if w[3] == "-" { "" } else { w[3] };
                items.push(format!(
                    "{}|{}|{}|{}",
                    w[1],
                    unhex(w[2]),
                    lang,
                    texts.join(";")
                ));
            }
            _ => items.push(line.to_owned()),
        }
    }
    items.sort();
    (version, items)
}

fn probe_file(p: &Path) -> Result<Probe, FormatError> {
    let mut f = File::open(p).unwrap();
    let len = f.metadata().unwrap().len();
    format::probe(&mut f, len, "wav")
}

fn text<'a>(p: &'a Probe, key: &str) -> Vec<&'a str> {
    p.tags
        .iter()
        .filter(|t| t.key == key)
        .filter_map(|t| match &t.value {
            TagValue::Text(s) => Some(s.as_str()),
            TagValue::Binary(_) => None,
        })
        .collect()
}

/// (ID, size, offset of the body) of every top-level chunk; asserts that the
/// RIFF size and the chunk sizes (with pad bytes) add up to the file.
fn chunks(b: &[u8]) -> Vec<(String, usize, usize)> {
    let le = |p: usize| u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize;
    assert_eq!(&b[..4], b"RIFF");
    assert_eq!(le(4), b.len() - 8, "RIFF size");
    let mut out = Vec::new();
    let mut pos = 12;
    while pos < b.len() {
        let size = le(pos + 4);
        out.push((
            String::from_utf8_lossy(&b[pos..pos + 4]).into_owned(),
            size,
            pos + 8,
        ));
        pos += 8 + size + size % 2;
    }
    assert_eq!(pos, b.len(), "chunks end exactly at the end of the file");
    out
}

fn serve(
    src: &Path,
    p: &Probe,
    tags: &[Tag],
    pics: &[PictureRef],
    art: &Arts,
    out: &Path,
) -> Vec<u8> {
    let input = SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags,
        pictures: pics,
        art,
    };
    let segs = format::synthesize(&input).unwrap();
    assert_eq!(
        format::served_len(&input).unwrap(),
        segs.iter().map(Segment::len).sum::<u64>()
    );
    let backing: Vec<&Segment> = segs
        .iter()
        .filter(|s| matches!(s, Segment::Backing { .. }))
        .collect();
    assert_eq!(
        backing,
        [&Segment::Backing {
            offset: p.audio_offset,
            len: p.audio_len
        }],
        "the payload is one Backing segment"
    );
    for pic in pics {
        assert!(segs.contains(&Segment::Art {
            art_id: pic.art_id,
            offset: 0,
            len: pic.len
        }));
    }
    let layout = Layout::new(segs);
    let file = File::open(src).unwrap();
    let mut whole = vec![0u8; layout.len() as usize];
    let mut pos = 0;
    while pos < whole.len() {
        let end = (pos + 65536).min(whole.len());
        let n = layout
            .read_at(pos as u64, &mut whole[pos..end], &file, art)
            .unwrap();
        assert!(n > 0);
        pos += n;
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let off = (seed >> 33) % (whole.len() as u64 + 10);
        let len = ((seed >> 13) % 5000) as usize;
        let mut buf = vec![0u8; len];
        let n = layout.read_at(off, &mut buf, &file, art).unwrap();
        let s = (off as usize).min(whole.len());
        let e = (s + len).min(whole.len());
        assert_eq!(&buf[..n], &whole[s..e], "read_at({off}, {len})");
    }
    std::fs::write(out, &whole).unwrap();
    whole
}

fn new_tags() -> Vec<Tag> {
    [
        ("title", "Neuer Titel \u{e4}"),
        ("artist", "Artist A"),
        ("artist", "Artist B"),
        ("album", "New Album"),
        ("date", "2020"),
        ("genre", "Ambient"),
        ("comment", "a comment"),
        ("tracknumber", "7"),
        ("tracktotal", "10"),
        ("my custom key", "custom value"),
    ]
    .iter()
    .map(|(k, v)| Tag::text(k, v))
    .collect()
}

fn expected_frames(pics: &[(PictureRef, Vec<u8>)]) -> Vec<String> {
    let mut v: Vec<String> = [
        "TIT2|||Neuer Titel \u{e4}",
        "TPE1|||Artist A;Artist B",
        "TALB|||New Album",
        "TDRC|||2020",
        "TCON|||Ambient",
        "COMM||eng|a comment",
        "TRCK|||7/10",
        "TXXX|my custom key||custom value",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (p, d) in pics {
        v.push(format!(
            "pic|{}|{}|{}|{}",
            p.picture_type,
            p.mime,
            p.description,
            sha256(d)
        ));
    }
    v.sort();
    v
}

fn new_pictures(dir: &Path) -> (Vec<(PictureRef, Vec<u8>)>, Arts) {
    let path = dir.join("new-cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=24x24:duration=1",
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    let png = std::fs::read(&path).unwrap();
    let pic = PictureRef {
        art_id: 21,
        picture_type: 3,
        mime: "image/png".into(),
        description: "Cover".into(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len: png.len() as u64,
    };
    let mut art: Arts = HashMap::new();
    art.insert(21, png.clone().into());
    (vec![(pic, png)], art)
}

/// Re-tag `src` and check the served file with every oracle. Returns the
/// served bytes.
fn retag_and_check(dir: &Path, src: &Path) -> Vec<u8> {
    let before = file_sha(src);
    let p = probe_file(src).unwrap();
    assert_eq!(p.container, Container::Wav);
    let (pics, art) = new_pictures(dir);
    let refs: Vec<PictureRef> = pics.iter().map(|(p, _)| p.clone()).collect();
    let tags = new_tags();
    let out = dir.join("served.wav");
    let bytes = serve(src, &p, &tags, &refs, &art, &out);

    let ids: Vec<String> = chunks(&bytes).into_iter().map(|c| c.0).collect();
    assert_eq!(ids.last().map(String::as_str), Some("data"));
    assert!(ids.contains(&"LIST".to_string()) && ids.contains(&"id3 ".to_string()));

    let (version, frames) = mutagen_frames(&out);
    assert_eq!(version, "2.4.0");
    assert_eq!(frames, expected_frames(&pics));

    let (fmt_src, dur_src, _) = ffprobe(src);
    let (fmt_out, dur_out, title) = ffprobe(&out);
    assert_eq!((fmt_src.as_str(), fmt_out.as_str()), ("wav", "wav"));
    assert_eq!(dur_out, dur_src);
    assert_eq!(title, "Neuer Titel \u{e4}");
    assert_eq!(pcm_sha(&out), pcm_sha(src));

    let q = probe_file(&out).unwrap();
    let mut got = q.tags.clone();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let mut want = tags;
    want.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, want);
    assert_eq!(q.pictures[0].data, pics[0].1);
    assert_eq!(q.structural, p.structural, "kept chunks are byte-exact");
    assert_eq!(q.audio_len, p.audio_len);
    assert_eq!(file_sha(src), before, "the original file must not change");
    bytes
}

/// Insert a chunk right before the `data` chunk and fix the RIFF size.
fn insert_before_data(bytes: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    let data_at = chunks(bytes).iter().find(|c| c.0 == "data").unwrap().2 - 8;
    let mut c = id.to_vec();
    c.extend_from_slice(&(body.len() as u32).to_le_bytes());
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    bytes.splice(data_at..data_at, c);
    let riff = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
}

#[test]
fn info_list_id3_chunk_after_data_and_custom_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("in.wav");
    let cover = d.join("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=32x32:duration=1",
        "-frames:v",
        "1",
        cover.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
        "-metadata",
        "title=Info Title",
        "-metadata",
        "artist=Info Artist",
        "-metadata",
        "album=Info Album",
        "-metadata",
        "track=2",
        src.to_str().unwrap(),
    ]);
    python(
        r#"
import sys
import mutagen.id3 as m
from mutagen.wave import WAVE
f = WAVE(sys.argv[1])
f.add_tags()
f.tags.add(m.TIT2(encoding=3, text=["ID3 Title"]))
f.tags.add(m.TXXX(encoding=3, desc="mood2", text=["calm"]))
f.tags.add(m.APIC(encoding=3, mime="image/png", type=3, desc="front", data=open(sys.argv[2], "rb").read()))
f.save()
"#,
        &[src.to_str().unwrap(), cover.to_str().unwrap()],
    );
    let mut bytes = std::fs::read(&src).unwrap();
    insert_before_data(&mut bytes, b"cust", b"odd");
    std::fs::write(&src, &bytes).unwrap();
    let ids: Vec<String> = chunks(&bytes).into_iter().map(|c| c.0).collect();
    assert_eq!(
        ids,
        ["fmt ", "LIST", "cust", "data", "id3 "],
        "fixture layout"
    );

    let p = probe_file(&src).unwrap();
    let data = chunks(&bytes).into_iter().find(|c| c.0 == "data").unwrap();
    assert_eq!(
        (p.audio_offset, p.audio_len),
        (data.2 as u64, data.1 as u64)
    );
    assert_eq!(
        text(&p, "title"),
        ["ID3 Title"],
        "the id3 chunk wins over INFO"
    );
    assert_eq!(text(&p, "artist"), ["Info Artist"]);
    assert_eq!(text(&p, "album"), ["Info Album"]);
    assert_eq!(text(&p, "tracknumber"), ["2"]);
    assert_eq!(text(&p, "mood2"), ["calm"]);
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].data, std::fs::read(&cover).unwrap());
    let kept: Vec<&[u8]> = p.structural.iter().map(|s| &s.data[..4]).collect();
    assert_eq!(kept, [b"fmt ".as_slice(), b"cust"]);

    let served = retag_and_check(d, &src);
    let ids: Vec<String> = chunks(&served).into_iter().map(|c| c.0).collect();
    assert_eq!(ids, ["fmt ", "cust", "LIST", "id3 ", "data"]);
    assert_eq!(python_wave(&d.join("served.wav")), python_wave(&src));
}

#[test]
fn odd_data_length_mono_u8() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("odd.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1:sample_rate=8000",
        "-ac",
        "1",
        "-c:a",
        "pcm_u8",
        "-af",
        "atrim=end_sample=1001",
        src.to_str().unwrap(),
    ]);
    let p = probe_file(&src).unwrap();
    assert_eq!(p.audio_len, 1001);
    let served = retag_and_check(d, &src);
    assert_eq!(served.len() % 2, 0);
    assert_eq!(
        *served.last().unwrap(),
        0,
        "pad byte after the odd data chunk"
    );
    assert_eq!(chunks(&served).last().unwrap().1, 1001);
    let w = python_wave(&d.join("served.wav"));
    assert!(w.starts_with("1 1 8000 1001 "), "{w}");
    assert_eq!(w, python_wave(&src));
}

#[test]
fn float_wav_keeps_fact_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("float.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=0.5",
        "-c:a",
        "pcm_f32le",
        src.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&src).unwrap();
    let fact = chunks(&bytes)
        .into_iter()
        .find(|c| c.0 == "fact")
        .expect("ffmpeg wrote fact");
    let served = retag_and_check(d, &src);
    let sfact = chunks(&served).into_iter().find(|c| c.0 == "fact").unwrap();
    assert_eq!(
        &served[sfact.2 - 8..sfact.2 + sfact.1],
        &bytes[fact.2 - 8..fact.2 + fact.1],
        "fact chunk byte-exact"
    );
    let fmt = chunks(&bytes).into_iter().find(|c| c.0 == "fmt ").unwrap();
    let sfmt = chunks(&served).into_iter().find(|c| c.0 == "fmt ").unwrap();
    assert_eq!(
        &served[sfmt.2..sfmt.2 + sfmt.1],
        &bytes[fmt.2..fmt.2 + fmt.1]
    );
}

#[test]
fn rf64_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rf64.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=0.2",
        "-rf64",
        "always",
        src.to_str().unwrap(),
    ]);
    assert_eq!(&std::fs::read(&src).unwrap()[..4], b"RF64");
    let mut f = File::open(&src).unwrap();
    let len = f.metadata().unwrap().len();
    let e = format::wav::probe(&mut f, len).unwrap_err();
    assert!(matches!(e, FormatError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("RF64"));
    assert!(probe_file(&src).is_err());
}
