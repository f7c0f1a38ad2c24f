//! Ogg Opus, Ogg Vorbis and FLAC-in-Ogg end to end.
//!
//! Fixtures come from real encoders (ffmpeg with libopus, libvorbis and its
//! FLAC encoder in Ogg; the `flac` tool for Ogg FLAC with a PICTURE block);
//! covers and a 100 KB lyrics comment are added by mutagen, so the probe also
//! reads files another tagger wrote. Each served file is assembled through
//! `Layout::read_at` and checked by tools we did not write: mutagen (tags,
//! pictures, and every page's sequence number and CRC), ffprobe (format,
//! codec, duration) and ffmpeg (decoded PCM equal to the original's, no
//! demuxer or decoder complaints).

use musefs::format::{self, ArtSource, PictureRef, Segment, SynthInput, Tag, TagValue};
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
    assert!(ok, "{tool} is required by this test and is not installed");
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Opus,
    Vorbis,
    Flac,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Opus => "opus",
            Kind::Vorbis => "vorbis",
            Kind::Flac => "flac",
        }
    }

    fn container(self) -> format::Container {
        match self {
            Kind::Opus => format::Container::OggOpus,
            Kind::Vorbis => format::Container::OggVorbis,
            Kind::Flac => format::Container::OggFlac,
        }
    }
}

/// Encode 4 s of a stereo sine with ffmpeg.
fn encode(dir: &Path, kind: Kind, tags: &[(&str, &str)]) -> PathBuf {
    require("ffmpeg");
    let (name, args): (&str, &[&str]) = match kind {
        Kind::Opus => ("in.opus", &["-c:a", "libopus", "-b:a", "64k"]),
        Kind::Vorbis => ("in.ogg", &["-c:a", "libvorbis", "-q:a", "2"]),
        Kind::Flac => ("in.ogg", &["-c:a", "flac", "-f", "ogg"]),
    };
    let path = dir.join(name);
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:duration=4:sample_rate=48000")
        .args(["-ac", "2"]);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    run(c.args(args).arg(&path));
    path
}

/// A PNG made by ffmpeg: flat (tiny) or noisy (large, ~140 KB at 320x320).
fn png(path: &Path, size: u32, noisy: bool) -> Vec<u8> {
    require("ffmpeg");
    let src = if noisy {
        format!("nullsrc=s={size}x{size},geq=random(1)*255:128:128")
    } else {
        format!("testsrc=size={size}x{size}:rate=1:duration=1")
    };
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", &src])
        .args(["-frames:v", "1"])
        .arg(path));
    std::fs::read(path).unwrap()
}

fn python(script: &str, args: &[&str]) -> Output {
    require("python3");
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python oracle failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Add a cover (METADATA_BLOCK_PICTURE) and optionally a long LYRICS comment
/// with mutagen. Args: path kind png desc lyrics_len.
const MUTAGEN_TAG: &str = r#"
import sys, base64
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.oggflac import OggFLAC
from mutagen.flac import Picture
path, kind, png, desc, lyrics = sys.argv[1:6]
f = {'opus': OggOpus, 'vorbis': OggVorbis, 'flac': OggFLAC}[kind](path)
if png:
    p = Picture()
    p.type = 3
    p.mime = 'image/png'
    p.desc = desc
    p.data = open(png, 'rb').read()
    f['metadata_block_picture'] = [base64.b64encode(p.write()).decode('ascii')]
if int(lyrics):
    f['lyrics'] = ['la la ' * (int(lyrics) // 6)]
f.save()
"#;

/// Check a served file against expectations (JSON file, argv[3]) with
/// mutagen: tags in order, pictures, and every page (one serial, sequence
/// numbers 0, 1, 2, ..., bytes equal to what mutagen writes for the page,
/// which recomputes the CRC). For Ogg FLAC, PICTURE metadata block packets.
const ORACLE: &str = r#"
import sys, json, base64, hashlib, struct
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.oggflac import OggFLAC
from mutagen.flac import Picture
from mutagen.ogg import OggPage
path, kind, expected = sys.argv[1:4]
exp = json.load(open(expected))
f = {'opus': OggOpus, 'vorbis': OggVorbis, 'flac': OggFLAC}[kind](path)
tags = [[k.lower(), v] for k, v in f.tags if k.lower() != 'metadata_block_picture']
pics = []
def add(p):
    pics.append({'type': p.type, 'mime': p.mime, 'desc': p.desc, 'width': p.width,
                 'height': p.height, 'sha256': hashlib.sha256(p.data).hexdigest()})
for k, v in f.tags:
    if k.lower() == 'metadata_block_picture':
        add(Picture(base64.b64decode(v)))
data = open(path, 'rb').read()
pages = []
with open(path, 'rb') as fh:
    while True:
        try:
            pages.append(OggPage(fh))
        except EOFError:
            break
for i, pg in enumerate(pages):
    assert pg.sequence == i, ('page sequence', i, pg.sequence)
    assert pg.serial == pages[0].serial, ('serial', i)
    assert pg.first == (i == 0), ('BOS flag', i)
    assert pg.write() == data[pg.offset:pg.offset + pg.size], ('page bytes/CRC', i)
assert pages[-1].last, 'EOS flag on the last page'
assert pages[-1].offset + pages[-1].size == len(data), 'trailing bytes'
if kind == 'flac':
    count = struct.unpack('>H', pages[0].packets[0][7:9])[0]
    pkts = []
    for pg in pages:
        for j, pk in enumerate(pg.packets):
            if j == 0 and pg.continued:
                pkts[-1] += pk
            else:
                pkts.append(pk)
        if len(pkts) > count and pg.complete:
            break
    for pk in pkts[1:count + 1]:
        if pk[0] & 0x7f == 6:
            add(Picture(pk[4:]))
got = {'tags': tags, 'pictures': pics}
if got != {'tags': exp['tags'], 'pictures': exp['pictures']}:
    print(json.dumps(got)[:3000])
    print(json.dumps(exp)[:3000])
    sys.exit('mismatch between served file and expectation')
print(len(pages))
"#;

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn expectation(tags: &[Tag], pics: &[(PictureRef, Vec<u8>)]) -> String {
    let t: Vec<String> = tags
        .iter()
        .map(|t| match &t.value {
            TagValue::Text(v) => format!("[{},{}]", json_str(&t.key), json_str(v)),
            TagValue::Binary(_) => unreachable!(),
        })
        .collect();
    let p: Vec<String> = pics
        .iter()
        .map(|(r, d)| {
            format!(
                "{{\"type\":{},\"mime\":{},\"desc\":{},\"width\":{},\"height\":{},\"sha256\":\"{}\"}}",
                r.picture_type,
                json_str(&r.mime),
                json_str(&r.description),
                r.width,
                r.height,
                sha256_hex(d)
            )
        })
        .collect();
    format!(
        "{{\"tags\":[{}],\"pictures\":[{}]}}",
        t.join(","),
        p.join(",")
    )
}

/// ffprobe's view: container, codec, duration.
fn ffprobe(path: &Path) -> String {
    require("ffprobe");
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0"])
        .args([
            "-show_entries",
            "format=format_name,duration:stream=codec_name",
        ])
        .args(["-of", "default=nw=1"])
        .arg(path));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Decoded PCM (s16le) hash; ffmpeg must not complain (it reports CRC
/// mismatches and broken pages on stderr).
fn pcm_hash(path: &Path) -> String {
    require("ffmpeg");
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-f", "s16le", "-"]));
    assert!(
        out.stderr.is_empty(),
        "ffmpeg complained about {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 100_000);
    sha256_hex(&out.stdout)
}

fn ffmpeg_null_is_silent(path: &Path) {
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"]));
    assert!(
        out.stderr.is_empty(),
        "ffmpeg -f null reported: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pic(art_id: i64, desc: &str, size: u32, data: &[u8]) -> (PictureRef, Vec<u8>) {
    (
        PictureRef {
            art_id,
            picture_type: 3,
            mime: "image/png".into(),
            description: desc.into(),
            width: size,
            height: size,
            depth: 24,
            colors: 0,
            len: data.len() as u64,
        },
        data.to_vec(),
    )
}

/// Probe `orig`, serve it with new tags and pictures, check the served file
/// with every oracle, and return the segments (to see how audio is served).
fn serve_and_check(
    dir: &Path,
    orig: &Path,
    kind: Kind,
    new_tags: &[Tag],
    pics: &[(PictureRef, Vec<u8>)],
) -> Vec<Segment> {
    let before = sha256_hex(&std::fs::read(orig).unwrap());
    let mut file = std::fs::File::open(orig).unwrap();
    let file_len = file.metadata().unwrap().len();
    let ext = orig.extension().unwrap().to_str().unwrap();
    let p = format::probe(&mut file, file_len, ext).unwrap();
    assert_eq!(p.container, kind.container());

    let table: HashMap<i64, Arc<[u8]>> = pics
        .iter()
        .map(|(r, d)| (r.art_id, Arc::from(d.as_slice())))
        .collect();
    let refs: Vec<PictureRef> = pics.iter().map(|(r, _)| r.clone()).collect();
    let input = SynthInput {
        container: p.container,
        audio_offset: p.audio_offset,
        audio_len: p.audio_len,
        structural: &p.structural,
        tags: new_tags,
        pictures: &refs,
        art: &table,
    };
    let segs = format::synthesize(&input).unwrap();
    let no_art = SynthInput {
        art: &format::NoArt,
        ..input
    };
    let served_len = format::served_len(&no_art).unwrap();
    let layout = Layout::new(segs.clone());
    assert_eq!(layout.len(), served_len);
    assert_eq!(
        segs.iter().map(Segment::len).sum::<u64>(),
        served_len,
        "served_len == sum of segment lengths"
    );
    let mut whole = vec![0u8; served_len as usize];
    assert_eq!(
        layout.read_at(0, &mut whole, &file, &table).unwrap(),
        whole.len()
    );
    let served = dir.join(format!("served.{ext}"));
    std::fs::File::create(&served)
        .unwrap()
        .write_all(&whole)
        .unwrap();

    // Random ranges equal slices of the whole file.
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ served_len;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = x % served_len;
        let len = ((x >> 32) % 70_000) as usize;
        let mut buf = vec![0u8; len];
        let n = layout.read_at(off, &mut buf, &file, &table).unwrap();
        let end = (off as usize + len).min(whole.len());
        assert_eq!(
            &buf[..n],
            &whole[off as usize..end],
            "read_at({off}, {len})"
        );
    }

    // Our own probe reads back the new tags and pictures.
    let q = format::probe(&mut std::io::Cursor::new(&whole), whole.len() as u64, ext).unwrap();
    assert_eq!(q.tags, new_tags);
    assert_eq!(q.pictures.len(), pics.len());

    // mutagen: tags, pictures, pages.
    let exp = dir.join("expected.json");
    std::fs::write(&exp, expectation(new_tags, pics)).unwrap();
    python(
        ORACLE,
        &[served.to_str().unwrap(), kind.name(), exp.to_str().unwrap()],
    );
    // ffprobe: same container, codec and duration as the original.
    let info = ffprobe(&served);
    assert_eq!(info, ffprobe(orig));
    assert!(
        info.contains(&format!("codec_name={}", kind.name())),
        "{info}"
    );
    assert!(info.contains("format_name=ogg"), "{info}");
    // ffmpeg: identical PCM, no complaints.
    assert_eq!(pcm_hash(&served), pcm_hash(orig));
    ffmpeg_null_is_silent(&served);
    // The original is untouched.
    assert_eq!(sha256_hex(&std::fs::read(orig).unwrap()), before);
    segs
}

fn new_tags() -> Vec<Tag> {
    vec![
        Tag::text("title", "Nouveau titre ✓"),
        Tag::text("artist", "First"),
        Tag::text("artist", "Second"),
        Tag::text("album", "An Album"),
        Tag::text("tracknumber", "3"),
        Tag::text("comment", "line one\nline two = still the value"),
    ]
}

fn audio_is_plain(segs: &[Segment]) -> bool {
    matches!(segs.last(), Some(Segment::Backing { .. }))
}

fn audio_is_renumbered(segs: &[Segment]) -> bool {
    matches!(segs.last(), Some(Segment::OggRenumber(_)))
}

/// Original with tags and a small cover; the probe sees both.
fn tagged_fixture(dir: &Path, kind: Kind) -> PathBuf {
    let path = encode(
        dir,
        kind,
        &[("title", "Original"), ("artist", "Orig Artist")],
    );
    let cover = dir.join("orig.png");
    png(&cover, 32, false);
    python(
        MUTAGEN_TAG,
        &[
            path.to_str().unwrap(),
            kind.name(),
            cover.to_str().unwrap(),
            "original cover",
            "0",
        ],
    );
    let mut f = std::fs::File::open(&path).unwrap();
    let len = f.metadata().unwrap().len();
    let p = format::probe(&mut f, len, "ogg").unwrap();
    let title: Vec<&Tag> = p.tags.iter().filter(|t| t.key == "title").collect();
    assert_eq!(title, [&Tag::text("title", "Original")]);
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].description, "original cover");
    assert_eq!(p.pictures[0].data, std::fs::read(&cover).unwrap());
    path
}

fn retag_small(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let orig = tagged_fixture(dir.path(), kind);
    let cover = png(&dir.path().join("new.png"), 64, false);
    let segs = serve_and_check(
        dir.path(),
        &orig,
        kind,
        &new_tags(),
        &[pic(11, "new cover", 64, &cover)],
    );
    assert!(audio_is_plain(&segs), "headers fit the original pages");
}

fn retag_big_picture(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let orig = tagged_fixture(dir.path(), kind);
    let big = png(&dir.path().join("big.png"), 320, true);
    assert!(big.len() > 100_000, "noisy PNG is large: {}", big.len());
    let small = png(&dir.path().join("small.png"), 48, false);
    let segs = serve_and_check(
        dir.path(),
        &orig,
        kind,
        &new_tags(),
        &[pic(1, "big", 320, &big), pic(2, "back", 48, &small)],
    );
    assert!(
        audio_is_renumbered(&segs),
        "more header pages than the original"
    );
    // And no pictures, no tags at all.
    let segs = serve_and_check(dir.path(), &orig, kind, &[], &[]);
    assert!(audio_is_plain(&segs));
}

#[test]
fn opus_retag_keeps_the_page_count() {
    retag_small(Kind::Opus);
}

#[test]
fn opus_big_picture_renumbers_audio_pages() {
    retag_big_picture(Kind::Opus);
}

#[test]
fn vorbis_retag_keeps_the_page_count() {
    retag_small(Kind::Vorbis);
}

#[test]
fn vorbis_big_picture_renumbers_audio_pages() {
    retag_big_picture(Kind::Vorbis);
}

#[test]
fn ogg_flac_retag_keeps_the_page_count() {
    retag_small(Kind::Flac);
}

#[test]
fn ogg_flac_big_picture_renumbers_audio_pages() {
    retag_big_picture(Kind::Flac);
}

/// An original whose comment packet spans several pages (100 KB of lyrics
/// and a large cover written by mutagen).
#[test]
fn comment_spanning_several_pages() {
    for kind in [Kind::Opus, Kind::Vorbis] {
        let dir = tempfile::tempdir().unwrap();
        let path = encode(dir.path(), kind, &[("title", "Long")]);
        let cover = dir.path().join("big.png");
        let big = png(&cover, 320, true);
        python(
            MUTAGEN_TAG,
            &[
                path.to_str().unwrap(),
                kind.name(),
                cover.to_str().unwrap(),
                "big",
                "100000",
            ],
        );
        let mut f = std::fs::File::open(&path).unwrap();
        let len = f.metadata().unwrap().len();
        let p = format::probe(&mut f, len, "ogg").unwrap();
        let lyrics = p.tags.iter().find(|t| t.key == "lyrics").unwrap();
        let TagValue::Text(l) = &lyrics.value else {
            panic!()
        };
        assert!(l.len() >= 99_990);
        assert_eq!(p.pictures[0].data, big);
        let stream = format::structural(&p.structural, format::ogg::KIND_STREAM).unwrap();
        let header_pages = u32::from_le_bytes(stream[4..8].try_into().unwrap());
        assert!(header_pages > 3, "the comment spans pages: {header_pages}");
        // Small new tags: fits in the original (many) pages.
        let segs = serve_and_check(dir.path(), &path, kind, &new_tags(), &[]);
        assert!(audio_is_plain(&segs));
        // The same long lyrics, a new title and the big cover back.
        let mut tags = new_tags();
        tags.push(lyrics.clone());
        let segs = serve_and_check(
            dir.path(),
            &path,
            kind,
            &tags,
            &[pic(5, "big again", 320, &big)],
        );
        assert!(audio_is_plain(&segs), "fits in the original pages");
    }
}

/// Ogg FLAC written by the reference `flac` tool: every metadata block on its
/// own page, a PICTURE block, a SEEKTABLE and padding.
#[test]
fn ogg_flac_from_the_flac_tool_with_a_picture_block() {
    require("flac");
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("in.wav");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=330:duration=4:sample_rate=44100")
        .args(["-ac", "2", "-c:a", "pcm_s16le"])
        .arg(&wav));
    let cover_path = dir.path().join("cover.png");
    let cover = png(&cover_path, 40, false);
    let oga = dir.path().join("in.oga");
    run(Command::new("flac")
        .args([
            "-s",
            "-f",
            "--ogg",
            "-T",
            "TITLE=From flac",
            "-T",
            "ARTIST=Tool",
        ])
        .arg(format!("--picture={}", cover_path.display()))
        .arg("-o")
        .arg(&oga)
        .arg(&wav));
    let mut f = std::fs::File::open(&oga).unwrap();
    let len = f.metadata().unwrap().len();
    let p = format::probe(&mut f, len, "oga").unwrap();
    assert_eq!(p.container, format::Container::OggFlac);
    assert_eq!(
        p.tags,
        vec![Tag::text("title", "From flac"), Tag::text("artist", "Tool")]
    );
    assert_eq!(p.pictures.len(), 1);
    assert_eq!(p.pictures[0].data, cover);
    // A SEEKTABLE is kept as a structural row.
    assert!(
        p.structural
            .iter()
            .any(|s| s.kind == format::ogg::KIND_FLAC_BLOCK && s.data[0] == 3)
    );
    let small = png(&dir.path().join("s.png"), 24, false);
    let segs = serve_and_check(
        dir.path(),
        &oga,
        Kind::Flac,
        &new_tags(),
        &[pic(3, "front", 24, &small)],
    );
    assert!(audio_is_plain(&segs), "padding keeps libFLAC's page count");
    let big = png(&dir.path().join("b.png"), 320, true);
    let segs = serve_and_check(
        dir.path(),
        &oga,
        Kind::Flac,
        &new_tags(),
        &[
            pic(4, "big", 320, &big),
            pic(5, "big too", 320, &big),
            pic(3, "front", 24, &small),
        ],
    );
    assert!(audio_is_renumbered(&segs), "more pages than libFLAC wrote");
    // Picture bytes are streamed from the store, not copied into the header.
    let streamed: u64 = segs
        .iter()
        .filter_map(|s| match s {
            Segment::Art { art_id: 4, len, .. } => Some(*len),
            _ => None,
        })
        .sum();
    assert_eq!(streamed, big.len() as u64);
}

#[test]
fn chained_streams_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = encode(dir.path(), Kind::Opus, &[("title", "a")]);
    let a_bytes = std::fs::read(&a).unwrap();
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&b_dir).unwrap();
    let b = encode(&b_dir, Kind::Opus, &[("title", "b")]);
    let chained = [a_bytes, std::fs::read(&b).unwrap()].concat();
    let e = format::probe(
        &mut std::io::Cursor::new(&chained),
        chained.len() as u64,
        "opus",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("chained Ogg streams are not supported"),
        "{e}"
    );
}

/// Reading a served file never touches picture bytes for its size.
#[test]
fn served_len_needs_no_picture_bytes() {
    struct Refuse;
    impl ArtSource for Refuse {
        fn art_bytes(&self, _: i64) -> std::io::Result<Arc<[u8]>> {
            panic!("served_len must not fetch pictures")
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for kind in [Kind::Opus, Kind::Vorbis, Kind::Flac] {
        let path = encode(dir.path(), kind, &[("title", "x")]);
        let mut f = std::fs::File::open(&path).unwrap();
        let len = f.metadata().unwrap().len();
        let p = format::probe(&mut f, len, "ogg").unwrap();
        let data = vec![1u8; 300_000];
        let pics = [pic(9, "", 1, &data).0];
        let tags = new_tags();
        let input = SynthInput {
            container: p.container,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags: &tags,
            pictures: &pics,
            art: &Refuse,
        };
        let n = format::served_len(&input).unwrap();
        let table: HashMap<i64, Arc<[u8]>> = [(9, Arc::from(data.as_slice()))].into();
        let segs = format::synthesize(&SynthInput {
            art: &table,
            ..input
        })
        .unwrap();
        assert_eq!(n, segs.iter().map(Segment::len).sum::<u64>());
    }
}
