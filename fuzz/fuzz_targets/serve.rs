//! Fuzz the serve path end to end with hostile store rows: a real store
//! (CHECK constraints and foreign keys off, as a hostile writer can), real
//! backing files, symbolic links and a FIFO, the library confined to one
//! root; then refresh, getattr, open and read every file.
//!
//! Checks: nothing panics or hangs; a path outside the root, through a
//! symbolic link, or not a regular file is never opened (the secret file
//! outside the root is reachable by every such path); every successful read
//! returns exactly what the size promises, and chunked reads agree with a
//! whole-file read.
//!
//! Input: a control block (decoded with `arbitrary`) followed by the backing
//! file's bytes; seeds are media files behind zero control bytes.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use musefs::format::{self, Container};
use musefs::library::template::Template;
use musefs::library::tree::file_ino;
use musefs::library::{Library, Mode, Options};
use rusqlite::{Connection, params};
use std::io::Cursor;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CONTROL: usize = 512;
const SECRET: &[u8] = b"\x01musefs-fuzz-SECRET-outside-the-root\x02";

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Backing,
    Missing,
    Relative,
    DotDot,
    Outside,
    SymlinkFile,
    SymlinkDir,
    Fifo,
    Directory,
    Long,
}

impl PathKind {
    /// May a read of this track ever succeed?
    fn servable(self) -> bool {
        matches!(self, PathKind::Backing)
    }

    /// Must the lexical check keep it out of the view?
    fn lexically_refused(self) -> bool {
        matches!(
            self,
            PathKind::Relative | PathKind::DotDot | PathKind::Outside
        )
    }
}

#[derive(Arbitrary, Debug)]
enum Val {
    Text(String),
    Blob(Vec<u8>),
    Long(u8, u32),
    /// Text that is not UTF-8.
    BadUtf8(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Track {
    /// 0 = the probed container, else a container; 200.. = a bogus name.
    format: u8,
    path: PathKind,
    /// Use the fuzzer's audio range as is, not relative to the probe.
    raw_range: bool,
    audio: (i64, i64),
    size_delta: i8,
    stamp_wrong: bool,
    drop_probe_tags: bool,
    tags: Vec<(String, Val, u8)>,
    replace_structural: bool,
    structural: Vec<(u8, Vec<u8>)>,
    /// (art index, picture type, description); a missing index = missing art.
    pics: Vec<(u8, i64, String)>,
    content_version: i64,
}

#[derive(Arbitrary, Debug)]
struct Input {
    tracks: Vec<Track>,
    arts: Vec<(String, Vec<u8>, i64)>,
    structure_only: bool,
    nested_template: bool,
    reads: Vec<(u64, u16)>,
}

const KINDS: &[&str] = &[
    format::flac::KIND_BLOCK,
    format::flac::KIND_VENDOR,
    format::wav::KIND_CHUNK,
    format::mp4::KIND_FTYP,
    format::mp4::KIND_MOOV,
    format::mp4::KIND_LAYOUT,
    format::ogg::KIND_STREAM,
    format::ogg::KIND_IDENT,
    format::ogg::KIND_VENDOR,
    format::ogg::KIND_SETUP,
    format::ogg::KIND_OPUS_EXTRA,
    format::ogg::KIND_FLAC_BLOCK,
];

/// An empty store, created once; each run starts from a copy.
fn template_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("musefs-fuzz-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("template.db");
        let _ = std::fs::remove_file(&p);
        drop(musefs::store::Store::open_rw(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.execute_batch("PRAGMA journal_mode = DELETE;").unwrap();
        drop(c);
        p
    })
}

fn scratch_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

fuzz_target!(|data: &[u8]| {
    let (ctl, backing) = data.split_at(data.len().min(CONTROL));
    let Ok(inp) = Input::arbitrary(&mut Unstructured::new(ctl)) else {
        return;
    };
    if std::env::var_os("MUSEFS_FUZZ_DEBUG").is_some() {
        eprintln!("{inp:#?}\nbacking: {} bytes", backing.len());
    }
    run(&inp, backing);
});

fn run(inp: &Input, content: &[u8]) {
    let tmp = tempfile::Builder::new()
        .prefix("musefs-fuzz-")
        .tempdir_in(scratch_base())
        .unwrap();
    let t = tmp.path();
    let lib = t.join("lib");
    let outside = t.join("outside");
    std::fs::create_dir_all(lib.join("dir")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret.flac");
    let mut secret_bytes = content.to_vec();
    secret_bytes.extend_from_slice(SECRET);
    std::fs::write(&secret, &secret_bytes).unwrap();
    std::os::unix::fs::symlink(&secret, lib.join("link.flac")).unwrap();
    std::os::unix::fs::symlink(&outside, lib.join("dirlink")).unwrap();
    nix::unistd::mkfifo(
        &lib.join("fifo.flac"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();

    let probe = format::probe(&mut Cursor::new(content), content.len() as u64, "m4a").ok();
    let db = t.join("store.db");
    std::fs::copy(template_db(), &db).unwrap();
    let c = Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; BEGIN;")
        .unwrap();
    for (i, (mime, bytes, w)) in inp.arts.iter().take(4).enumerate() {
        let _ = c.execute(
            "INSERT INTO art(id, sha256, mime, width, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![i as i64 + 1, vec![i as u8; 32], mime, w, bytes],
        );
    }
    let mut kinds = Vec::new();
    for (n, tr) in inp.tracks.iter().take(4).enumerate() {
        let id = n as i64 + 1;
        let (path, stat_of): (String, Option<PathBuf>) = match tr.path {
            PathKind::Backing => {
                let p = lib.join(format!("a/{n}.bin"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, content).unwrap();
                (p.to_str().unwrap().into(), Some(p))
            }
            PathKind::Missing => (lib.join("none.flac").to_str().unwrap().into(), None),
            PathKind::Relative => ("lib/x.flac".into(), None),
            PathKind::DotDot => (
                format!("{}/../outside/secret.flac", lib.display()),
                Some(secret.clone()),
            ),
            PathKind::Outside => (secret.to_str().unwrap().into(), Some(secret.clone())),
            PathKind::SymlinkFile => (
                lib.join("link.flac").to_str().unwrap().into(),
                Some(secret.clone()),
            ),
            PathKind::SymlinkDir => (
                lib.join("dirlink/secret.flac").to_str().unwrap().into(),
                Some(secret.clone()),
            ),
            PathKind::Fifo => (
                lib.join("fifo.flac").to_str().unwrap().into(),
                Some(lib.join("fifo.flac")),
            ),
            PathKind::Directory => (
                lib.join("dir").to_str().unwrap().into(),
                Some(lib.join("dir")),
            ),
            PathKind::Long => (format!("{}/{}", lib.display(), "x/".repeat(3000)), None),
        };
        kinds.push((id, tr.path));
        let meta = stat_of.and_then(|p| std::fs::metadata(p).ok());
        let real_size = meta
            .as_ref()
            .map_or(content.len() as i64, |m| m.size() as i64);
        let (mtime, ctime, inode) = meta.as_ref().map_or((1, 1, 1), |m| {
            (
                m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                m.ctime() * 1_000_000_000 + m.ctime_nsec(),
                m.ino() as i64,
            )
        });
        let format = match tr.format {
            0 => probe
                .as_ref()
                .map_or("flac", |p| p.container.as_str())
                .to_owned(),
            n @ 1..=199 => Container::ALL[n as usize % Container::ALL.len()]
                .as_str()
                .to_owned(),
            n => format!("bogus{n}"),
        };
        let (off, len) = match (&probe, tr.raw_range) {
            (Some(p), false) => (
                (p.audio_offset as i64).saturating_add(tr.audio.0 % 16),
                (p.audio_len as i64).saturating_add(tr.audio.1 % 16),
            ),
            _ => tr.audio,
        };
        let _ = c.execute(
            "INSERT INTO tracks(id, path, format, audio_offset, audio_length, file_size, mtime_ns,
                                ctime_ns, inode, content_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                path,
                format,
                off,
                len,
                real_size.saturating_add(i64::from(tr.size_delta)),
                mtime + i64::from(tr.stamp_wrong),
                ctime,
                inode,
                tr.content_version,
            ],
        );
        if let Some(p) = probe.as_ref() {
            if !tr.replace_structural {
                for (o, s) in p.structural.iter().enumerate() {
                    let _ = c.execute(
                        "INSERT INTO structural(track_id, kind, ordinal, data) VALUES (?1, ?2, ?3, ?4)",
                        params![id, s.kind, o as i64, s.data],
                    );
                }
            }
            if !tr.drop_probe_tags {
                for (o, tag) in p.tags.iter().enumerate() {
                    let (v, b): (String, Option<Vec<u8>>) = match &tag.value {
                        format::TagValue::Text(s) => (s.clone(), None),
                        format::TagValue::Binary(b) => (String::new(), Some(b.clone())),
                    };
                    let _ = c.execute(
                        "INSERT INTO tags(track_id, key, ordinal, value, value_blob)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, tag.key, 1000 + o as i64, v, b],
                    );
                }
            }
        }
        for (o, (k, d)) in tr.structural.iter().take(8).enumerate() {
            let _ = c.execute(
                "INSERT INTO structural(track_id, kind, ordinal, data) VALUES (?1, ?2, ?3, ?4)",
                params![id, KINDS[*k as usize % KINDS.len()], 100 + o as i64, d],
            );
        }
        for (k, v, ord) in tr.tags.iter().take(16) {
            let r = match v {
                Val::Text(s) => c.execute(
                    "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, ?2, ?3, ?4)",
                    params![id, k, ord, s],
                ),
                Val::Blob(b) => c.execute(
                    "INSERT INTO tags(track_id, key, ordinal, value_blob) VALUES (?1, ?2, ?3, ?4)",
                    params![id, k, ord, b],
                ),
                Val::Long(ch, n) => c.execute(
                    "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, ?2, ?3, printf('%.*c', ?4, ?5))",
                    params![id, k, ord, i64::from(*n % (3 << 20)), char::from(*ch & 0x7f).to_string()],
                ),
                Val::BadUtf8(b) => c.execute(
                    "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, ?2, ?3, CAST(?4 AS TEXT))",
                    params![id, k, ord, b],
                ),
            };
            let _ = r;
        }
        for (o, (art, ty, desc)) in tr.pics.iter().take(4).enumerate() {
            let _ = c.execute(
                "INSERT INTO track_art(track_id, ordinal, art_id, picture_type, description)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, o as i64, i64::from(*art % 6), ty, desc],
            );
        }
    }
    c.execute_batch("COMMIT").unwrap();
    drop(c);

    let template = if inp.nested_template {
        "$album/${tracknumber} - $title"
    } else {
        "$title"
    };
    let mut opts = Options::new(db, Template::parse(template).unwrap(), Mode::Synthesis);
    if inp.structure_only {
        opts.mode = Mode::StructureOnly;
    }
    opts.roots = vec![lib.clone()];
    let Ok(library) = Library::open(opts) else {
        return;
    };
    let files = library.view().tree.files();
    for (id, kind) in &kinds {
        if kind.lexically_refused() {
            assert!(
                files.iter().all(|(_, f)| f != id),
                "track {id} ({kind:?}) outside the root is in the view"
            );
        }
    }
    for (_, id) in files {
        let kind = kinds.iter().find(|(k, _)| *k == id).map(|k| k.1).unwrap();
        let ino = file_ino(id);
        let Ok(attr) = library.getattr(ino) else {
            continue;
        };
        let fh = match library.open_file(ino) {
            Ok(fh) => fh,
            Err(_) => continue,
        };
        assert!(kind.servable(), "track {id} ({kind:?}) was opened");
        // Whole file, in one read when small.
        if attr.size > 16 << 20 {
            continue;
        }
        let mut whole = vec![0u8; attr.size as usize + 7];
        let Ok(n) = library.read(&fh, 0, &mut whole) else {
            continue;
        };
        assert_eq!(
            n as u64, attr.size,
            "a whole read returned {n} of {} bytes",
            attr.size
        );
        whole.truncate(n);
        if inp.structure_only {
            assert!(whole == content, "structure-only mode served other bytes");
        }
        for (off, len) in inp.reads.iter().take(8) {
            let off = off % (attr.size + 8);
            let mut buf = vec![0u8; usize::from(*len)];
            if let Ok(got) = library.read(&fh, off, &mut buf) {
                let s = off.min(attr.size) as usize;
                let e = (s + buf.len()).min(n);
                assert_eq!(got, e - s);
                assert_eq!(&buf[..got], &whole[s..e], "read {off}+{len} differs");
            }
        }
    }
}
