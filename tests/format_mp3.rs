//! MP3 end to end: fixtures made by ffmpeg (and mutagen / hand-built tags),
//! probed and re-tagged by musefs, the served file assembled with
//! `Layout::read_at` and checked with independent readers (mutagen, ffprobe,
//! ffmpeg's PCM decode). A missing tool fails the test.

mod tools;
use tools::*;

use musefs::format::{
    self, Container, FormatError, PictureRef, Probe, Segment, SynthInput, Tag, TagValue,
};
use musefs::library::layout::Layout;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use std::sync::Arc;

/// (format_name, duration) as ffprobe reports them.
fn ffprobe(p: &Path) -> (String, String) {
    let out = String::from_utf8(run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration",
            "-of",
            "default=nw=1",
            p.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("ffprobe gave no {k}: {out}"))
            .to_owned()
    };
    (get("format_name"), get("duration"))
}

/// mutagen's view of the ID3 tag: one sorted line per frame, texts decoded.
const MUTAGEN_DUMP: &str = r#"
import sys, hashlib
import mutagen.id3 as m
from mutagen.mp3 import MP3
t = m.ID3(sys.argv[1], translate=False)
print("version", ".".join(map(str, t.version)))
h = lambda s: s.encode("utf-8").hex() or "-"
for f in t.values():
    fid = f.FrameID
    if fid == "APIC":
        print("pic", int(f.type), h(f.mime), h(f.desc), hashlib.sha256(f.data).hexdigest())
    elif fid in ("COMM", "USLT"):
        texts = f.text if isinstance(f.text, list) else [f.text]
        print("frame", fid, h(f.desc), f.lang, *[h(x) for x in texts])
    elif fid == "TXXX":
        print("frame", fid, h(f.desc), "-", *[h(x) for x in f.text])
    elif fid == "PRIV":
        print("priv", h(f.owner), f.data.hex() or "-")
    elif fid == "POPM":
        print("popm", h(f.email), f.rating, getattr(f, "count", 0))
    elif hasattr(f, "text"):
        print("frame", fid, "-", "-", *[h(str(x)) for x in f.text])
    else:
        print("other", fid)
if len(sys.argv) > 2:
    print("length", round(MP3(sys.argv[1]).info.length, 3))
"#;

/// Lines like `TIT2|desc|lang|v1;v2`, `pic|3|image/png|Front|<sha>`, sorted.
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
            "priv" => items.push(format!("PRIV|{}|{}", unhex(w[1]), w[2])),
            "popm" => items.push(format!("POPM|{}|{}|{}", unhex(w[1]), w[2], w[3])),
            _ => items.push(line.to_owned()),
        }
    }
    items.sort();
    (version, items)
}

fn probe_file(p: &Path) -> Result<Probe, FormatError> {
    let mut f = File::open(p).unwrap();
    let len = f.metadata().unwrap().len();
    format::probe(&mut f, len, "mp3")
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

/// Synthesize, assemble the served file through `Layout::read_at`, check
/// random ranges against the whole, and write it to `out`.
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
    for s in &segs {
        if let Segment::Backing { offset, len } = s {
            assert_eq!(
                (*offset, *len),
                (p.audio_offset, p.audio_len),
                "audio is one Backing segment"
            );
        }
    }
    for pic in pics {
        assert!(
            segs.contains(&Segment::Art {
                art_id: pic.art_id,
                offset: 0,
                len: pic.len
            }),
            "pictures are streamed as Art segments"
        );
    }
    let layout = Layout::new(segs);
    let backing = File::open(src).unwrap();
    let mut whole = vec![0u8; layout.len() as usize];
    let mut pos = 0;
    while pos < whole.len() {
        let end = (pos + 65536).min(whole.len());
        let n = layout
            .read_at(pos as u64, &mut whole[pos..end], &backing, art)
            .unwrap();
        assert!(n > 0);
        pos += n;
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let off = (seed >> 33) % (whole.len() as u64 + 10);
        let len = ((seed >> 13) % 5000) as usize;
        let mut buf = vec![0u8; len];
        let n = layout.read_at(off, &mut buf, &backing, art).unwrap();
        let s = (off as usize).min(whole.len());
        let e = (s + len).min(whole.len());
        assert_eq!(&buf[..n], &whole[s..e], "read_at({off}, {len})");
    }
    std::fs::write(out, &whole).unwrap();
    whole
}

fn cover(dir: &Path) -> PathBuf {
    let p = dir.join("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=48x32:duration=1",
        "-frames:v",
        "1",
        p.to_str().unwrap(),
    ]);
    p
}

fn new_tags() -> Vec<Tag> {
    let mut tags: Vec<Tag> = [
        ("title", "New Title \u{2603}"),
        ("artist", "Artist A"),
        ("artist", "Artist B"),
        ("albumartist", "The Band"),
        ("album", "New Album"),
        ("tracknumber", "5"),
        ("tracktotal", "12"),
        ("discnumber", "1"),
        ("disctotal", "2"),
        ("date", "2021-03-04"),
        ("genre", "Jazz"),
        ("composer", "Comp Oser"),
        ("comment", "a comment"),
        ("comment:notes", "note text"),
        ("lyrics", "la la la"),
        ("isrc", "USRC17607839"),
        ("label", "Lbl"),
        ("bpm", "120"),
        ("compilation", "1"),
        ("artistsort", "A, Artist"),
        ("musicbrainz_albumid", "abc-123"),
        ("my custom key", "custom value"),
    ]
    .iter()
    .map(|(k, v)| Tag::text(k, v))
    .collect();
    tags.push(Tag {
        key: "id3:priv".into(),
        value: TagValue::Binary(b"owner@example\x00\x01\x02\xff\x00".to_vec()),
    });
    tags
}

/// What mutagen must report for [`new_tags`] and the pictures.
fn expected_frames(pics: &[(PictureRef, &[u8])]) -> Vec<String> {
    let mut v: Vec<String> = [
        "TIT2|||New Title \u{2603}",
        "TPE1|||Artist A;Artist B",
        "TPE2|||The Band",
        "TALB|||New Album",
        "TRCK|||5/12",
        "TPOS|||1/2",
        "TDRC|||2021-03-04",
        "TCON|||Jazz",
        "TCOM|||Comp Oser",
        "COMM||eng|a comment",
        "COMM|notes|eng|note text",
        "USLT||eng|la la la",
        "TSRC|||USRC17607839",
        "TPUB|||Lbl",
        "TBPM|||120",
        "TCMP|||1",
        "TSOP|||A, Artist",
        "TXXX|MusicBrainz Album Id||abc-123",
        "TXXX|my custom key||custom value",
        "PRIV|owner@example|0102ff00",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (p, data) in pics {
        v.push(format!(
            "pic|{}|{}|{}|{}",
            p.picture_type,
            p.mime,
            p.description,
            sha256(data)
        ));
    }
    v.sort();
    v
}

type Arts = HashMap<i64, Arc<[u8]>>;

fn new_pictures(dir: &Path) -> (Vec<(PictureRef, Vec<u8>)>, Arts) {
    let png = std::fs::read(cover(dir)).unwrap();
    let jpg_path = dir.join("back.jpg");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=40x40:duration=1",
        "-frames:v",
        "1",
        jpg_path.to_str().unwrap(),
    ]);
    let jpg = std::fs::read(&jpg_path).unwrap();
    let mk = |art_id, picture_type, mime: &str, description: &str, len| PictureRef {
        art_id,
        picture_type,
        mime: mime.into(),
        description: description.into(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len,
    };
    let pics = vec![
        (
            mk(11, 3, "image/png", "Front", png.len() as u64),
            png.clone(),
        ),
        (
            mk(12, 4, "image/jpeg", "Back \u{e9}", jpg.len() as u64),
            jpg.clone(),
        ),
    ];
    let mut art: Arts = HashMap::new();
    art.insert(11, png.into());
    art.insert(12, jpg.into());
    (pics, art)
}

/// Re-tag `src` with the new tags and pictures and check the served file
/// with mutagen, ffprobe, the PCM decode and our own probe.
fn retag_and_check(dir: &Path, src: &Path) {
    let before = file_sha(src);
    let p = probe_file(src).unwrap();
    let (pics, art) = new_pictures(dir);
    let refs: Vec<PictureRef> = pics.iter().map(|(p, _)| p.clone()).collect();
    let tags = new_tags();
    let out = dir.join("served.mp3");
    serve(src, &p, &tags, &refs, &art, &out);

    let (version, frames) = mutagen_frames(&out);
    assert_eq!(version, "2.4.0");
    let pic_data: Vec<(PictureRef, &[u8])> = pics
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect();
    assert_eq!(frames, expected_frames(&pic_data));

    let (fmt_src, dur_src) = ffprobe(src);
    let (fmt_out, dur_out) = ffprobe(&out);
    assert_eq!(fmt_src, "mp3");
    assert_eq!(fmt_out, "mp3");
    assert_eq!(dur_out, dur_src);
    assert_eq!(pcm_sha(&out), pcm_sha(src));

    let q = probe_file(&out).unwrap();
    let mut want = tags.clone();
    want.sort_by(|a, b| a.key.cmp(&b.key));
    let mut got = q.tags.clone();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, want);
    assert_eq!(q.pictures.len(), 2);
    assert_eq!(q.pictures[1].data, pics[1].1);
    assert_eq!(q.audio_len, p.audio_len);
    assert_eq!(file_sha(src), before, "the original file must not change");
}

#[test]
fn ffmpeg_v23_with_cover_and_id3v1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let png = cover(d);
    let src = d.join("in.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-i",
        png.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-c:v",
        "copy",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
        "-write_id3v1",
        "1",
        "-metadata",
        "title=Old Title",
        "-metadata",
        "artist=Old Artist",
        "-metadata",
        "album=Old Album",
        "-metadata",
        "track=3/9",
        "-metadata",
        "date=1999",
        "-metadata",
        "genre=Rock",
        "-metadata",
        "comment=old comment",
        "-metadata",
        "custom_key=xyz",
        src.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&src).unwrap();
    assert_eq!(
        &bytes[bytes.len() - 128..bytes.len() - 125],
        b"TAG",
        "fixture has ID3v1"
    );
    let p = probe_file(&src).unwrap();
    assert_eq!(p.container, Container::Mp3);
    assert_eq!(
        p.audio_offset + p.audio_len,
        bytes.len() as u64 - 128,
        "ID3v1 is not audio"
    );
    assert!(format::mp3::frame_len(&bytes[p.audio_offset as usize..]).is_some());
    assert_eq!(text(&p, "title"), ["Old Title"]);
    assert_eq!(text(&p, "artist"), ["Old Artist"]);
    assert_eq!(text(&p, "album"), ["Old Album"]);
    assert_eq!(text(&p, "tracknumber"), ["3"]);
    assert_eq!(text(&p, "tracktotal"), ["9"]);
    assert_eq!(text(&p, "genre"), ["Rock"]);
    assert_eq!(text(&p, "comment"), ["old comment"]);
    assert_eq!(text(&p, "custom_key"), ["xyz"]);
    assert!(text(&p, "date")[0].starts_with("1999"));
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].data, std::fs::read(&png).unwrap());
    assert_eq!(p.pictures[0].mime, "image/png");
    assert_eq!(
        p.pictures[0].picture_type, 0,
        "ffmpeg writes picture type 0 (other)"
    );
    retag_and_check(d, &src);
}

#[test]
fn ffmpeg_v24_without_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("in.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:duration=1.5",
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-q:a",
        "4",
        "-metadata",
        "title=T24",
        "-metadata",
        "album_artist=AA",
        src.to_str().unwrap(),
    ]);
    let p = probe_file(&src).unwrap();
    assert_eq!(text(&p, "title"), ["T24"]);
    assert_eq!(text(&p, "albumartist"), ["AA"]);
    assert_eq!(
        p.audio_offset + p.audio_len,
        std::fs::metadata(&src).unwrap().len()
    );
    retag_and_check(d, &src);
}

/// Unsynchronise a tag body (insert 0x00 after 0xFF where needed).
fn unsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        out.push(b);
        if b == 0xff && data.get(i + 1).is_none_or(|&n| n == 0 || n >= 0xe0) {
            out.push(0);
        }
    }
    out
}

fn syncsafe(v: usize) -> [u8; 4] {
    [
        (v >> 21) as u8 & 0x7f,
        (v >> 14) as u8 & 0x7f,
        (v >> 7) as u8 & 0x7f,
        v as u8 & 0x7f,
    ]
}

fn frame23(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut f = id.to_vec();
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(body);
    f
}

#[test]
fn hand_built_unsynchronised_v23_tag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = d.join("raw.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=500:duration=1",
        "-c:a",
        "libmp3lame",
        "-id3v2_version",
        "0",
        raw.to_str().unwrap(),
    ]);
    let audio = std::fs::read(&raw).unwrap();
    assert_eq!(audio[0], 0xff, "ffmpeg wrote no tag");
    // Latin-1 text with false syncs (ÿ = 0xFF followed by 0xE0/0xFF) and a
    // picture full of 0xFF bytes.
    let mut body = frame23(b"TIT2", b"\x00Sync\xff\xe0Title\xff");
    body.extend(frame23(b"TPE1", b"\x00Artist\xff\xff\xfb"));
    let mut apic = b"\x00image/jpeg\x00\x03cover\x00".to_vec();
    let pic_data: Vec<u8> = (0..600u32)
        .map(|i| if i % 3 == 0 { 0xff } else { (i % 256) as u8 })
        .collect();
    apic.extend(&pic_data);
    body.extend(frame23(b"APIC", &apic));
    body.extend([0u8; 32]);
    let body = unsync(&body);
    let mut file = b"ID3\x03\x00\x80".to_vec();
    file.extend(syncsafe(body.len()));
    file.extend(body);
    let start = file.len() as u64;
    file.extend(&audio);
    let src = d.join("unsync.mp3");
    std::fs::write(&src, &file).unwrap();

    let p = probe_file(&src).unwrap();
    assert_eq!((p.audio_offset, p.audio_len), (start, audio.len() as u64));
    assert_eq!(text(&p, "title"), ["Sync\u{ff}\u{e0}Title\u{ff}"]);
    assert_eq!(text(&p, "artist"), ["Artist\u{ff}\u{ff}\u{fb}"]);
    assert_eq!(p.pictures[0].data, pic_data);
    assert_eq!(p.pictures[0].description, "cover");
    // mutagen reads the same fixture the same way.
    let (version, frames) = mutagen_frames(&src);
    assert_eq!(version, "2.3.0");
    let mut want = vec![
        format!("TIT2|||{}", text(&p, "title")[0]),
        format!("TPE1|||{}", text(&p, "artist")[0]),
        format!("pic|3|image/jpeg|cover|{}", sha256(&pic_data)),
    ];
    want.sort();
    assert_eq!(frames, want);
    retag_and_check(d, &src);
}

const MUTAGEN_WRITE: &str = r#"
import sys
import mutagen.id3 as m, mutagen.apev2 as a
t = m.ID3()
t.add(m.TIT2(encoding=1, text=["Utf16 Title"]))
t.add(m.TPE1(encoding=1, text=["One", "Two"]))
t.add(m.TYER(encoding=0, text=["2001"]))
t.add(m.TDAT(encoding=0, text=["0605"]))
t.add(m.COMM(encoding=1, lang="deu", desc="", text=["Kommentar"]))
t.add(m.USLT(encoding=1, lang="eng", desc="v1", text="line one\nline two"))
t.add(m.TXXX(encoding=1, desc="MusicBrainz Artist Id", text=["mb-artist"]))
t.add(m.POPM(email="rater@example", rating=200, count=7))
t.add(m.PRIV(owner="WM/Provider", data=b"\x00\x01\xff"))
t.save(sys.argv[1], v2_version=3, v1=0)
ape = a.APEv2()
ape["Title"] = "ape title"
ape["Catalog"] = "CAT-1"
ape.save(sys.argv[1])
"#;

#[test]
fn mutagen_v23_with_apev2_and_id3v1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("in.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=700:duration=1",
        "-c:a",
        "libmp3lame",
        "-metadata",
        "title=replaced",
        src.to_str().unwrap(),
    ]);
    python(MUTAGEN_WRITE, &[src.to_str().unwrap()]);
    // An ID3v1.1 tag after the APEv2 tag: genre 0 (Blues), track 4.
    let mut bytes = std::fs::read(&src).unwrap();
    let mut v1 = b"TAGv1 title".to_vec();
    v1.resize(125, 0);
    v1.extend([0, 4, 0]);
    bytes.extend(v1);
    std::fs::write(&src, &bytes).unwrap();
    let ape_at = bytes
        .windows(8)
        .position(|w| w == b"APETAGEX")
        .expect("APEv2 tag written");
    assert_eq!(&bytes[bytes.len() - 128..bytes.len() - 125], b"TAG");
    let p = probe_file(&src).unwrap();
    assert_eq!(
        p.audio_offset + p.audio_len,
        ape_at as u64,
        "APEv2 and ID3v1 are not audio"
    );
    assert_eq!(text(&p, "title"), ["Utf16 Title"]);
    // mutagen joins v2.3 multi-values with "/" (its default v23_sep); "/" is
    // also legitimate inside names (AC/DC), so it is not split.
    assert_eq!(text(&p, "artist"), ["One/Two"]);
    assert_eq!(text(&p, "date"), ["2001-05-06"]);
    assert_eq!(text(&p, "comment"), ["Kommentar"]);
    assert_eq!(text(&p, "lyrics:v1"), ["line one\nline two"]);
    assert_eq!(text(&p, "musicbrainz_artistid"), ["mb-artist"]);
    assert_eq!(
        text(&p, "genre"),
        ["Blues"],
        "ID3v1 fills keys the ID3v2 tag lacks"
    );
    assert_eq!(text(&p, "tracknumber"), ["4"]);
    assert_eq!(
        text(&p, "catalog"),
        ["CAT-1"],
        "APEv2 items fill keys the ID3v2 tag lacks"
    );
    let popm = p
        .tags
        .iter()
        .find(|t| t.key == "id3:popm")
        .expect("POPM kept");
    assert_eq!(
        popm.value,
        TagValue::Binary(b"rater@example\x00\xc8\x00\x00\x00\x07".to_vec())
    );

    // Serve the probed tags unchanged: binary frames come back byte-exact.
    let out = d.join("same.mp3");
    let art = HashMap::new();
    serve(&src, &p, &p.tags, &[], &art, &out);
    let (_, frames) = mutagen_frames(&out);
    assert!(
        frames.contains(&"POPM|rater@example|200|7".to_string()),
        "{frames:?}"
    );
    assert!(
        frames.contains(&"PRIV|WM/Provider|0001ff".to_string()),
        "{frames:?}"
    );
    assert!(
        frames.contains(&"TDRC|||2001-05-06".to_string()),
        "{frames:?}"
    );
    assert!(
        frames.contains(&"COMM||eng|Kommentar".to_string()),
        "{frames:?}"
    );
    assert!(
        frames.contains(&"USLT|v1|eng|line one\nline two".to_string()),
        "{frames:?}"
    );
    assert!(
        !std::fs::read(&out)
            .unwrap()
            .windows(8)
            .any(|w| w == b"APETAGEX")
    );
    assert_eq!(pcm_sha(&out), pcm_sha(&src));
    retag_and_check(d, &src);
}

#[test]
fn junk_after_a_tag_is_unrecognised() {
    let mut f = b"ID3\x04\x00\x00\x00\x00\x00\x0bTIT2\x00\x00\x00\x01\x00\x00\x00".to_vec();
    f.extend((0..20000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8 & 0xdf));
    let mut c = std::io::Cursor::new(&f);
    assert!(matches!(
        format::probe(&mut c, f.len() as u64, "mp3"),
        Err(FormatError::Unrecognised)
    ));
}
