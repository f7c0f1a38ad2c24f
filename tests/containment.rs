//! Containment through a real (in-process) mount: a writer of the store
//! points tracks at files outside the library root, through symbolic links,
//! through `..`, and at a FIFO. None of them may be served; each refusal is
//! logged; the same rows without confinement would leak the file (control).

mod common;
use common::*;
use musefs::library::template::Template;
use musefs::library::{Library, Mode, Options};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Everything logged by this test binary (the mount's warnings included).
fn log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct W(&'static Mutex<Vec<u8>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || W(buf))
            .try_init();
        buf
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&log().lock().unwrap()).into_owned()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    lib: PathBuf,
    outside: PathBuf,
    db: PathBuf,
}

/// Copy the scanned row of `from` (with its structural rows and tags) to a
/// new track at `path` titled `title`: what a hostile writer of the store
/// can do with plain SQL.
fn clone_row(db: &Path, from: &Path, path: &str, title: &str) {
    let from = from.to_str().unwrap();
    sql(
        db,
        &format!(
            "PRAGMA ignore_check_constraints = ON;
             INSERT INTO tracks(path, format, audio_offset, audio_length, file_size, mtime_ns,
                                ctime_ns, inode)
             SELECT '{path}', format, audio_offset, audio_length, file_size, mtime_ns, ctime_ns,
                    inode FROM tracks WHERE path = '{from}';
             INSERT INTO structural(track_id, kind, ordinal, data)
             SELECT last_insert_rowid(), kind, ordinal, data FROM structural
             WHERE track_id = (SELECT id FROM tracks WHERE path = '{from}');
             INSERT INTO tags(track_id, key, ordinal, value)
             VALUES ((SELECT id FROM tracks WHERE path = '{path}'), 'title', 0, '{title}');"
        ),
    );
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let lib = root.join("lib");
    let outside = root.join("outside");
    make_flac(&lib.join("a.flac"), 0.5, 440, &[("title", "Inside")], None);
    make_flac(
        &outside.join("secret.flac"),
        0.5,
        550,
        &[("title", "Secret")],
        None,
    );
    std::os::unix::fs::symlink(outside.join("secret.flac"), lib.join("link.flac")).unwrap();
    std::os::unix::fs::symlink(&outside, lib.join("dirlink")).unwrap();
    nix::unistd::mkfifo(
        &lib.join("fifo.flac"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let db = root.join("store.db");
    for dir in [&lib, &outside] {
        let out = musefs(&["scan", "--db", db.to_str().unwrap(), dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secret = outside.join("secret.flac");
    let l = lib.to_str().unwrap();
    clone_row(&db, &secret, &format!("{l}/link.flac"), "ViaLink");
    clone_row(
        &db,
        &secret,
        &format!("{l}/dirlink/secret.flac"),
        "ViaDirLink",
    );
    clone_row(
        &db,
        &secret,
        &format!("{l}/../outside/secret.flac"),
        "ViaDotDot",
    );
    clone_row(&db, &secret, &format!("{l}/fifo.flac"), "Fifo");
    clone_row(&db, &secret, "outside/secret.flac", "Relative");
    Fixture {
        _tmp: tmp,
        root,
        lib,
        outside,
        db,
    }
}

fn options(f: &Fixture, roots: Vec<PathBuf>) -> Options {
    let mut o = Options::new(
        f.db.clone(),
        Template::parse("$title").unwrap(),
        Mode::Synthesis,
    );
    o.roots = roots;
    o
}

fn names(lib: &Library) -> Vec<String> {
    lib.view()
        .tree
        .files()
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn a_store_writer_cannot_make_the_mount_serve_host_files() {
    log();
    let f = fixture();
    let lib = Arc::new(Library::open(options(&f, vec![f.lib.clone()])).unwrap());
    // Outside the root lexically: not in the view, with a problem entry each.
    let shown = names(&lib);
    assert_eq!(
        shown,
        [
            "Fifo.flac",
            "Inside.flac",
            "ViaDirLink.flac",
            "ViaLink.flac"
        ],
        "{shown:?}"
    );
    let problems: Vec<String> = lib.view().problems().values().cloned().collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    for want in [
        "outside/secret.flac\" refused: outside the library roots",
        "../outside/secret.flac\" refused: not a normalised path",
        "\"outside/secret.flac\" refused: not an absolute path",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "{want}: {problems:?}"
        );
    }
    assert!(log_text().contains("track not served"), "{}", log_text());

    // Through the kernel: the inside track reads; every other one is EIO,
    // the FIFO without hanging.
    let mnt = f.root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let handle = musefs::fuse::mount(
        lib.clone(),
        &musefs::fuse::MountOptions {
            mountpoint: mnt.clone(),
            allow_other: false,
            threads: 2,
            metrics_file: None,
        },
    )
    .unwrap();
    let inside = std::fs::read(mnt.join("Inside.flac")).unwrap();
    assert!(inside.starts_with(b"fLaC"));
    for name in ["ViaLink.flac", "ViaDirLink.flac", "Fifo.flac"] {
        let p = mnt.join(name);
        let t = Instant::now();
        let r = std::thread::spawn(move || std::fs::read(p)).join().unwrap();
        assert!(
            matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EIO)),
            "{name}: {:?}",
            r.map(|b| b.len())
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            t.elapsed()
        );
    }
    let text = log_text();
    for want in [
        "lib/link.flac: refused to serve: a component below the library root is a symbolic link",
        "lib/dirlink/secret.flac: refused to serve: a component below the library root is a symbolic link",
        "lib/fifo.flac: refused to serve: not a regular file",
    ] {
        assert!(text.contains(want), "missing log line {want:?}:\n{text}");
    }
    handle.unmount().unwrap();
}

#[test]
fn without_roots_the_same_rows_would_leak_the_file() {
    // The control for the test above: with confinement off (roots empty),
    // the symlinked row serves the secret file's audio.
    let f = fixture();
    let lib = Library::open(options(&f, Vec::new())).unwrap();
    let secret = std::fs::read(f.outside.join("secret.flac")).unwrap();
    let id = lib
        .view()
        .tree
        .files()
        .into_iter()
        .find(|(p, _)| p == "ViaLink.flac")
        .unwrap()
        .1;
    let fh = lib.open_file(musefs::library::tree::file_ino(id)).unwrap();
    let size = lib
        .getattr(musefs::library::tree::file_ino(id))
        .unwrap()
        .size;
    let mut buf = vec![0u8; size as usize];
    assert_eq!(lib.read(&fh, 0, &mut buf).unwrap() as u64, size);
    let p = musefs::format::probe(
        &mut std::io::Cursor::new(&secret),
        secret.len() as u64,
        "flac",
    )
    .unwrap();
    assert!(buf.ends_with(&secret[p.audio_offset as usize..]));
    // And a root that is itself a symbolic link is trusted configuration.
    let via = f.root.join("via");
    std::os::unix::fs::symlink(&f.lib, &via).unwrap();
    let lib = Library::open(options(&f, vec![via.clone()])).unwrap();
    assert!(names(&lib).is_empty(), "{:?}", names(&lib)); // rows name lib/, not via/
    sql(
        &f.db,
        &format!(
            "UPDATE tracks SET path = '{}/a.flac' WHERE path = '{}/a.flac'",
            via.display(),
            f.lib.display()
        ),
    );
    lib.refresh().unwrap();
    assert_eq!(names(&lib), ["Inside.flac"]);
    let id = lib.view().tree.files()[0].1;
    assert!(lib.open_file(musefs::library::tree::file_ino(id)).is_ok());
}
