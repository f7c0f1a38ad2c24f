//! MP4 audio (M4A/M4B) against real encoders and independent readers:
//! fixtures made by ffmpeg, served files checked with mutagen (tags, covers,
//! chapters), ffprobe (format, duration, chapters) and ffmpeg's decoder (PCM).

use musefs::format::{self, Container, PictureRef, Probe, Segment, SynthInput, Tag, TagValue};
use musefs::library::layout::Layout;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

fn require(tool: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{tool} is required by this test");
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A picture made by ffmpeg (`png` or `mjpeg` by extension); `noise` makes
/// it large (incompressible).
fn make_picture(path: &Path, size: &str, noise: bool) {
    require("ffmpeg");
    let filter = if noise { ",noise=alls=80:allf=t" } else { "" };
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=1:duration=1{filter}"))
        .args(["-frames:v", "1"])
        .arg(path));
}

struct Encode<'a> {
    seconds: f32,
    tags: &'a [(&'a str, &'a str)],
    cover: Option<&'a Path>,
    chapters: Option<&'a Path>,
    faststart: bool,
    ipod: bool,
}

/// Encode AAC in MP4 with ffmpeg: a sine tone, tags, optional cover and chapters.
fn encode(path: &Path, e: &Encode<'_>) {
    require("ffmpeg");
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=523:duration={}:sample_rate=44100",
            e.seconds
        ));
    let mut maps = vec!["-map", "0:a"];
    if let Some(cover) = e.cover {
        c.arg("-i").arg(cover);
        maps.extend([
            "-map",
            "1",
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
        ]);
    }
    if let Some(ch) = e.chapters {
        c.arg("-i").arg(ch);
        let idx = if e.cover.is_some() { "2" } else { "1" };
        c.args(["-map_chapters", idx]);
    }
    c.args(&maps).args(["-c:a", "aac", "-b:a", "96k"]);
    for (k, v) in e.tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    if e.faststart {
        c.args(["-movflags", "+faststart"]);
    }
    if e.ipod {
        c.args(["-f", "ipod"]);
    }
    c.arg(path);
    run(&mut c);
}

fn probe_file(p: &Path) -> Probe {
    let ext = p
        .extension()
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    let mut f = std::fs::File::open(p).unwrap();
    let len = f.metadata().unwrap().len();
    format::probe(&mut f, len, &ext).unwrap()
}

/// sha256 of the PCM ffmpeg decodes from the audio stream.
fn pcm_hash(p: &Path) -> String {
    require("ffmpeg");
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0:a", "-f", "s16le", "-"]));
    assert!(
        out.stdout.len() > 10_000,
        "no PCM decoded from {}",
        p.display()
    );
    sha256(&out.stdout)
}

/// ffprobe's view: format name, duration, the audio stream, chapters
/// (covers show up as extra video streams and are checked with mutagen).
fn ffprobe(p: &Path) -> String {
    require("ffprobe");
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_chapters", "-show_entries"])
        .arg("format=format_name,duration:stream=codec_name,codec_type,duration_ts,sample_rate,channels:chapter=start,end:chapter_tags=title")
        .args(["-of", "default=nw=1"])
        .arg(p));
    String::from_utf8(out.stdout).unwrap()
}

const MUTAGEN_DUMP: &str = r#"
import sys, hashlib
from mutagen.mp4 import MP4, MP4Cover
f = MP4(sys.argv[1])
def esc(s):
    return s.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t')
out = []
for k, vs in (f.tags or {}).items():
    for v in (vs if isinstance(vs, list) else [vs]):
        if k == 'covr':
            fmt = {MP4Cover.FORMAT_JPEG: 'jpeg', MP4Cover.FORMAT_PNG: 'png'}.get(v.imageformat, str(int(v.imageformat)))
            out.append((k, fmt + ' ' + hashlib.sha256(bytes(v)).hexdigest()))
        elif isinstance(v, tuple):
            out.append((k, '%d/%d' % v))
        elif isinstance(v, bool):
            out.append((k, str(int(v))))
        elif isinstance(v, bytes):
            out.append((k, esc(v.decode('utf-8'))))
        else:
            out.append((k, esc(str(v))))
for c in (f.chapters or []):
    out.append(('chapter', '%.3f %s' % (c.start, c.title)))
out.sort(key=lambda kv: kv[0])
for k, v in out:
    print(k + '\t' + v)
"#;

/// Tags, covers and chapters as mutagen reads them: `key\tvalue` lines,
/// sorted by key (values of one key in file order).
fn mutagen(p: &Path) -> Vec<String> {
    require("python3");
    let out = run(Command::new("python3").arg("-c").arg(MUTAGEN_DUMP).arg(p));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn lines(pairs: &[(&str, String)]) -> Vec<String> {
    let mut v: Vec<(&str, String)> = pairs.to_vec();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v.into_iter()
        .map(|(k, val)| format!("{k}\t{}", val.replace('\\', "\\\\").replace('\n', "\\n")))
        .collect()
}

/// Assemble the served file from segments into `out`, checking random
/// `read_at` ranges against the whole.
fn assemble(
    segs: Vec<Segment>,
    backing: &Path,
    art: &HashMap<i64, Arc<[u8]>>,
    out: &Path,
) -> Vec<u8> {
    let total: u64 = segs.iter().map(Segment::len).sum();
    let layout = Layout::new(segs);
    assert_eq!(layout.len(), total, "served_len != sum of segments");
    let f = std::fs::File::open(backing).unwrap();
    let mut whole = vec![0u8; total as usize];
    assert_eq!(layout.read_at(0, &mut whole, &f, art).unwrap(), whole.len());
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = x % (total + 10);
        let len = ((x >> 32) % 70_000) as usize;
        let mut buf = vec![0u8; len];
        let n = layout.read_at(off, &mut buf, &f, art).unwrap();
        let s = (off as usize).min(whole.len());
        let e = (s + len).min(whole.len());
        assert_eq!(&buf[..n], &whole[s..e], "read_at({off}, {len})");
    }
    std::fs::File::create(out)
        .unwrap()
        .write_all(&whole)
        .unwrap();
    whole
}

fn pic(art_id: i64, mime: &str, data: &[u8]) -> PictureRef {
    PictureRef {
        art_id,
        picture_type: 3,
        mime: mime.into(),
        description: String::new(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        len: data.len() as u64,
    }
}

fn text(tags: &[Tag], key: &str) -> Vec<String> {
    tags.iter()
        .filter(|t| t.key == key)
        .map(|t| match &t.value {
            TagValue::Text(s) => s.clone(),
            TagValue::Binary(_) => "<binary>".into(),
        })
        .collect()
}

/// The new tag set written into every served file.
fn new_tags() -> Vec<Tag> {
    [
        ("title", "Nouveau titre ünï 🎵"),
        ("artist", "First Artist"),
        ("artist", "Second Artist"),
        ("album", "New Album"),
        ("albumartist", "Various"),
        ("date", "2021-05-06"),
        ("genre", "Ambient"),
        ("composer", "Comp"),
        ("comment", "a comment"),
        ("lyrics", "line one\nline two"),
        ("tracknumber", "4"),
        ("tracktotal", "12"),
        ("discnumber", "1"),
        ("disctotal", "2"),
        ("bpm", "128"),
        ("compilation", "1"),
        ("titlesort", "Titre"),
        (
            "musicbrainz_trackid",
            "0b1c2d3e-0000-4000-8000-123456789abc",
        ),
        ("my custom key", "custom value"),
    ]
    .iter()
    .map(|(k, v)| Tag::text(k, v))
    .collect()
}

/// What mutagen must show for [`new_tags`] plus the covers.
fn expected_mutagen(covers: &[(&str, &[u8])], extra: &[(&str, String)]) -> Vec<String> {
    let mut v: Vec<(&str, String)> = vec![
        ("©nam", "Nouveau titre ünï 🎵".into()),
        ("©ART", "First Artist".into()),
        ("©ART", "Second Artist".into()),
        ("©alb", "New Album".into()),
        ("aART", "Various".into()),
        ("©day", "2021-05-06".into()),
        ("©gen", "Ambient".into()),
        ("©wrt", "Comp".into()),
        ("©cmt", "a comment".into()),
        ("©lyr", "line one\nline two".into()),
        ("trkn", "4/12".into()),
        ("disk", "1/2".into()),
        ("tmpo", "128".into()),
        ("cpil", "1".into()),
        ("sonm", "Titre".into()),
        (
            "----:com.apple.iTunes:MusicBrainz Track Id",
            "0b1c2d3e-0000-4000-8000-123456789abc".into(),
        ),
        ("----:com.apple.iTunes:my custom key", "custom value".into()),
    ];
    for (fmt, data) in covers {
        v.push(("covr", format!("{fmt} {}", sha256(data))));
    }
    v.extend(extra.iter().cloned());
    lines(&v)
}

struct Served {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// Probe `src`, synthesise it with the new tags and `pics`, assemble and
/// check everything independent tools can tell.
fn serve_and_check(
    dir: &Path,
    src: &Path,
    pics: &[(&str, &str, Vec<u8>)],
    extra_expected: &[(&str, String)],
) -> (Probe, Served) {
    serve_and_check_with(dir, src, pics, &[], extra_expected)
}

/// [`serve_and_check`] with `extra_tags` appended to the new tag set.
fn serve_and_check_with(
    dir: &Path,
    src: &Path,
    pics: &[(&str, &str, Vec<u8>)],
    extra_tags: &[Tag],
    extra_expected: &[(&str, String)],
) -> (Probe, Served) {
    let before = sha256(&std::fs::read(src).unwrap());
    let p = probe_file(src);
    let mut tags = new_tags();
    tags.extend_from_slice(extra_tags);
    let mut art: HashMap<i64, Arc<[u8]>> = HashMap::new();
    let mut refs = Vec::new();
    for (i, (_, mime, data)) in pics.iter().enumerate() {
        let id = 100 + i as i64;
        art.insert(id, data.clone().into());
        refs.push(pic(id, mime, data));
    }
    let input = SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags: &tags,
        pictures: &refs,
        art: &format::NoArt,
    };
    let segs = format::synthesize(&input).unwrap();
    assert_eq!(
        format::served_len(&input).unwrap(),
        segs.iter().map(Segment::len).sum::<u64>()
    );
    assert!(
        segs.iter()
            .any(|s| matches!(s, Segment::Backing { offset, len }
        if *offset == p.audio_offset && *len == p.audio_len))
    );
    let ext = src.extension().unwrap().to_str().unwrap();
    let out = dir.join(format!("served.{ext}"));
    let bytes = assemble(segs, src, &art, &out);

    let covers: Vec<(&str, &[u8])> = pics.iter().map(|(f, _, d)| (*f, d.as_slice())).collect();
    assert_eq!(mutagen(&out), expected_mutagen(&covers, extra_expected));
    assert_eq!(ffprobe(&out), ffprobe(src), "ffprobe view changed");
    assert_eq!(pcm_hash(&out), pcm_hash(src), "decoded audio changed");
    assert_eq!(
        sha256(&std::fs::read(src).unwrap()),
        before,
        "backing file changed"
    );

    // Our own probe reads the served file back to the same tags and pictures.
    let q = probe_file(&out);
    assert_eq!(q.container, p.container);
    let mut want = tags.clone();
    want.sort_by(|a, b| a.key.cmp(&b.key));
    let mut got = q.tags.clone();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, want);
    assert_eq!(q.pictures.len(), pics.len());
    for (qp, (_, mime, data)) in q.pictures.iter().zip(pics) {
        assert_eq!(&qp.data, data);
        assert_eq!(&qp.mime, mime);
    }
    assert_eq!(
        &bytes[q.audio_offset as usize..][..q.audio_len as usize],
        &std::fs::read(src).unwrap()[p.audio_offset as usize..][..p.audio_len as usize]
    );
    (p, Served { path: out, bytes })
}

fn layout_of(p: &Probe) -> u8 {
    format::structural(&p.structural, "mp4.layout").unwrap()[0]
}

#[test]
fn tagged_m4a_with_cover_moov_after_mdat() {
    let d = tempfile::tempdir().unwrap();
    let cover = d.path().join("cover.png");
    make_picture(&cover, "64x64", false);
    let src = d.path().join("a.m4a");
    encode(
        &src,
        &Encode {
            seconds: 3.0,
            tags: &[
                ("title", "Old Title"),
                ("artist", "Old Artist"),
                ("album", "Old Album"),
                ("track", "3/9"),
                ("disc", "1/2"),
                ("genre", "Jazz"),
                ("date", "2020"),
                ("comment", "old comment"),
                ("album_artist", "Old Album Artist"),
                ("composer", "Old Composer"),
                ("grouping", "Old Grouping"),
                ("lyrics", "Old lyrics"),
                ("copyright", "(c) Old"),
                ("description", "Old description"),
                ("compilation", "1"),
                ("gapless_playback", "1"),
                ("tmpo", "99"),
            ],
            cover: Some(&cover),
            chapters: None,
            faststart: false,
            ipod: false,
        },
    );
    let p = probe_file(&src);
    assert_eq!(p.container, Container::M4a);
    assert_eq!(layout_of(&p), 1, "ffmpeg's default puts moov after mdat");
    assert_eq!(text(&p.tags, "title"), ["Old Title"]);
    assert_eq!(text(&p.tags, "artist"), ["Old Artist"]);
    assert_eq!(text(&p.tags, "album"), ["Old Album"]);
    assert_eq!(text(&p.tags, "tracknumber"), ["3"]);
    assert_eq!(text(&p.tags, "tracktotal"), ["9"]);
    assert_eq!(text(&p.tags, "discnumber"), ["1"]);
    assert_eq!(text(&p.tags, "disctotal"), ["2"]);
    assert_eq!(text(&p.tags, "genre"), ["Jazz"]);
    assert_eq!(text(&p.tags, "date"), ["2020"]);
    assert_eq!(text(&p.tags, "comment"), ["old comment"]);
    assert_eq!(text(&p.tags, "albumartist"), ["Old Album Artist"]);
    assert_eq!(text(&p.tags, "composer"), ["Old Composer"]);
    assert_eq!(text(&p.tags, "grouping"), ["Old Grouping"]);
    assert_eq!(text(&p.tags, "lyrics"), ["Old lyrics"]);
    assert_eq!(text(&p.tags, "copyright"), ["(c) Old"]);
    assert_eq!(text(&p.tags, "description"), ["Old description"]);
    assert_eq!(text(&p.tags, "compilation"), ["1"]);
    assert_eq!(text(&p.tags, "gapless"), ["1"]);
    assert_eq!(text(&p.tags, "bpm"), ["99"]);
    assert_eq!(text(&p.tags, "encoder").len(), 1);
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].data, std::fs::read(&cover).unwrap());
    assert_eq!(p.pictures[0].mime, "image/png");
    assert_eq!(p.pictures[0].picture_type, 3);

    let jpeg_path = d.path().join("back.jpg");
    make_picture(&jpeg_path, "96x80", false);
    let png = std::fs::read(&cover).unwrap();
    let jpeg = std::fs::read(&jpeg_path).unwrap();
    let (_, served) = serve_and_check(
        d.path(),
        &src,
        &[("png", "image/png", png), ("jpeg", "image/jpeg", jpeg)],
        &[],
    );
    // moov stays after mdat: the served file ends with the moov box.
    let q = probe_file(&served.path);
    assert_eq!(layout_of(&q), 1);
    assert!(q.audio_offset < 64, "mdat follows ftyp directly");
}

#[test]
fn faststart_m4a_moov_before_mdat() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("fast.m4a");
    encode(
        &src,
        &Encode {
            seconds: 4.0,
            tags: &[("title", "Fast"), ("artist", "Starter")],
            cover: None,
            chapters: None,
            faststart: true,
            ipod: false,
        },
    );
    let p = probe_file(&src);
    assert_eq!(layout_of(&p), 0, "faststart puts moov first");
    assert_eq!(text(&p.tags, "title"), ["Fast"]);
    assert!(p.pictures.is_empty());
    // A large cover grows moov a lot: every chunk offset must move with mdat.
    let big = d.path().join("big.png");
    make_picture(&big, "640x480", true);
    let big = std::fs::read(&big).unwrap();
    assert!(big.len() > 300_000);
    let (_, served) = serve_and_check(d.path(), &src, &[("png", "image/png", big)], &[]);
    let q = probe_file(&served.path);
    assert_eq!(layout_of(&q), 0);
    assert!(q.audio_offset > p.audio_offset + 300_000);
    assert_eq!(served.bytes.len() as u64, q.audio_offset + q.audio_len);
}

#[test]
fn faststart_without_any_tags_or_pictures() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("plain.m4a");
    encode(
        &src,
        &Encode {
            seconds: 1.5,
            tags: &[],
            cover: None,
            chapters: None,
            faststart: true,
            ipod: false,
        },
    );
    let p = probe_file(&src);
    let input = SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags: &[],
        pictures: &[],
        art: &format::NoArt,
    };
    let segs = format::synthesize(&input).unwrap();
    let out = d.path().join("served.m4a");
    assemble(segs, &src, &HashMap::new(), &out);
    assert_eq!(mutagen(&out), Vec::<String>::new());
    assert_eq!(ffprobe(&out), ffprobe(&src));
    assert_eq!(pcm_hash(&out), pcm_hash(&src));
}

const CHAPTERS: &str = ";FFMETADATA1\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=Opening\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=Second part\n";

#[test]
fn m4b_audiobook_with_chapters() {
    let d = tempfile::tempdir().unwrap();
    let ch = d.path().join("chapters.txt");
    std::fs::write(&ch, CHAPTERS).unwrap();
    let cover = d.path().join("cover.jpg");
    make_picture(&cover, "48x48", false);
    let src = d.path().join("book.m4b");
    encode(
        &src,
        &Encode {
            seconds: 3.0,
            tags: &[
                ("title", "A Book"),
                ("artist", "An Author"),
                ("media_type", "2"),
            ],
            cover: Some(&cover),
            chapters: Some(&ch),
            faststart: false,
            ipod: true,
        },
    );
    let original_view = ffprobe(&src);
    assert!(
        original_view.contains("title=Second part"),
        "{original_view}"
    );
    let p = probe_file(&src);
    assert_eq!(p.container, Container::M4b);
    assert_eq!(text(&p.tags, "title"), ["A Book"]);
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].mime, "image/jpeg");
    // The media kind (stik = 2, audiobook) has no canonical key: kept opaque.
    let stik: Vec<Tag> = p
        .tags
        .iter()
        .filter(|t| t.key == "mp4:stik")
        .cloned()
        .collect();
    assert_eq!(stik.len(), 1);
    assert!(matches!(&stik[0].value, TagValue::Binary(b) if b.len() == 25 && b[24] == 2));
    let jpeg = std::fs::read(&cover).unwrap();
    // Chapters (the chpl list and the chapter text track) survive untouched.
    let chapters = [
        ("chapter", "0.000 Opening".to_string()),
        ("chapter", "1.500 Second part".to_string()),
    ];
    let mut extra = chapters.to_vec();
    extra.push(("stik", "2".to_string()));
    serve_and_check_with(
        d.path(),
        &src,
        &[("jpeg", "image/jpeg", jpeg)],
        &stik,
        &extra,
    );
}

#[test]
fn faststart_m4b_with_chapters_by_brand_or_extension() {
    let d = tempfile::tempdir().unwrap();
    let ch = d.path().join("chapters.txt");
    std::fs::write(&ch, CHAPTERS).unwrap();
    let src = d.path().join("book.m4b");
    encode(
        &src,
        &Encode {
            seconds: 3.0,
            tags: &[("title", "Fast Book")],
            cover: None,
            chapters: Some(&ch),
            faststart: true,
            ipod: true,
        },
    );
    let p = probe_file(&src);
    assert_eq!(p.container, Container::M4b);
    assert_eq!(layout_of(&p), 0);
    let chapters = [
        ("chapter", "0.000 Opening".to_string()),
        ("chapter", "1.500 Second part".to_string()),
    ];
    serve_and_check(d.path(), &src, &[], &chapters);
    // The same bytes named .m4a are an M4A.
    let as_m4a = d.path().join("book.m4a");
    std::fs::copy(&src, &as_m4a).unwrap();
    assert_eq!(probe_file(&as_m4a).container, Container::M4a);
}

#[test]
fn hostile_variants_of_a_real_file_never_panic() {
    let d = tempfile::tempdir().unwrap();
    let cover = d.path().join("cover.png");
    make_picture(&cover, "16x16", false);
    let src = d.path().join("h.m4a");
    encode(
        &src,
        &Encode {
            seconds: 0.5,
            tags: &[("title", "x"), ("track", "1/2")],
            cover: Some(&cover),
            chapters: None,
            faststart: true,
            ipod: false,
        },
    );
    let f = std::fs::read(&src).unwrap();
    let good = probe_file(&src);
    let probe_bytes = |b: &[u8]| {
        let mut c = std::io::Cursor::new(b);
        format::probe(&mut c, b.len() as u64, "m4a")
    };
    // Truncations: an error, or (cut inside the audio) a probe that stays in bounds.
    let mut errors = 0;
    for cut in (0..f.len()).step_by(7) {
        match probe_bytes(&f[..cut]) {
            Ok(p) => assert!(p.audio_offset + p.audio_len <= cut as u64),
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0);
    // Corrupted size fields: every 4-byte window overwritten with hostile sizes.
    let moov_end = good.audio_offset as usize;
    for at in (0..moov_end.saturating_sub(4)).step_by(3) {
        for v in [0u32, 1, 7, 0xffff_ffff, 0x7fff_fff0] {
            let mut g = f.clone();
            g[at..at + 4].copy_from_slice(&v.to_be_bytes());
            if let Ok(p) = probe_bytes(&g) {
                assert!(p.audio_offset + p.audio_len <= g.len() as u64);
                // Whatever was accepted must also synthesise without panicking.
                let _ = format::synthesize(&SynthInput {
                    container: p.container,
                    audio_offset: p.audio_offset,
                    audio_len: p.audio_len,
                    structural: &p.structural,
                    tags: &p.tags,
                    pictures: &[],
                    art: &format::NoArt,
                });
            }
        }
    }
}
