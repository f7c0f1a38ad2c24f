//! The scanner through the real binary: interruption, moved files, prune and
//! picture GC, skip and failure reasons, bad paths, the store lock. Fixtures
//! come from ffmpeg; the store is inspected with the sqlite3 shell.

mod common;
use common::*;
use musefs::store::Store;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scan(db: &Path, args: &[&str]) -> Output {
    let mut a = vec!["scan", "--db", s(db)];
    a.extend_from_slice(args);
    musefs(&a)
}

fn scan_ok(db: &Path, args: &[&str]) -> String {
    let o = scan(db, args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn count(db: &Path, q: &str) -> i64 {
    sql(db, q).trim().parse().unwrap()
}

fn integrity(db: &Path) {
    assert_eq!(sql(db, "PRAGMA integrity_check").trim(), "ok");
    assert_eq!(sql(db, "PRAGMA foreign_key_check").trim(), "");
    // Every track is whole: structure and tags written with it.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM tracks WHERE id NOT IN (SELECT track_id FROM structural) \
             OR id NOT IN (SELECT track_id FROM tags WHERE key = 'title') \
             OR fingerprint IS NULL"
        ),
        0
    );
}

/// `n` small FLAC files with different audio (consecutive 0.1 s slices of
/// noise cut by ffmpeg's segment muxer), each titled by its number.
fn many_flacs(dir: &Path, n: usize) -> Vec<PathBuf> {
    require("ffmpeg");
    std::fs::create_dir_all(dir).unwrap();
    let seg = dir.join(".seg");
    std::fs::create_dir_all(&seg).unwrap();
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "anoisesrc=d={}:c=pink:r=8000:a=0.1",
            n as f64 * 0.1 + 1.0
        ))
        .args(["-ac", "1", "-sample_fmt", "s16", "-c:a", "flac"])
        .args(["-metadata", "title=Slice", "-metadata", "album=Noise"])
        .args(["-f", "segment", "-segment_time", "0.1"])
        .args(["-segment_format", "flac"])
        .arg(seg.join("%05d.flac")));
    let mut names: Vec<_> = std::fs::read_dir(&seg)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= n, "ffmpeg made {} segments", names.len());
    let out: Vec<PathBuf> = names
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, p)| {
            let to = dir.join(format!("{i:05}.flac"));
            std::fs::rename(p, &to).unwrap();
            to
        })
        .collect();
    std::fs::remove_dir_all(&seg).unwrap();
    out
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Start a scan, wait until it has committed at least `min_rows` tracks,
/// then send `sig`; returns the exit code and the rows then in the store.
fn interrupt_scan(db: &Path, music: &Path, sig: i32, min_rows: i64) -> (Option<i32>, String) {
    // Counted before the scan starts: while it runs, the file may exist
    // before its schema is committed.
    let before = if db.exists() {
        count(db, "SELECT count(*) FROM tracks")
    } else {
        0
    };
    let mut child = Command::new(BIN)
        .args([
            "scan",
            "--jobs",
            "1",
            "--batch",
            "3",
            "--db",
            s(db),
            s(music),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan finished before it could be interrupted; give it more files"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "scan stalled");
        let conn = db
            .exists()
            .then(|| {
                rusqlite::Connection::open_with_flags(
                    db,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .ok()
            })
            .flatten();
        let rows: i64 = conn
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))
                    .ok()
            })
            .unwrap_or(0);
        if rows >= before + min_rows {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out))
}

#[test]
fn interrupted_scan_is_consistent_and_the_rerun_completes() {
    require("sqlite3");
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    let db = tmp.path().join("store.db");
    let n = 5000;
    many_flacs(&music, n);

    let (code, out) = interrupt_scan(&db, &music, libc::SIGINT, 20);
    assert_eq!(code, Some(130), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    integrity(&db);
    let first = count(&db, "SELECT count(*) FROM tracks");
    assert!(first >= 20 && first < n as i64, "{first} rows after SIGINT");

    // SIGTERM behaves the same.
    let (code, out) = interrupt_scan(&db, &music, libc::SIGTERM, 20);
    assert_eq!(code, Some(130), "{out}");
    integrity(&db);
    let second = count(&db, "SELECT count(*) FROM tracks");
    assert!(
        second > first && second < n as i64,
        "{second} rows after SIGTERM"
    );

    let out = scan_ok(&db, &[s(&music)]);
    assert!(
        out.contains(&format!("{} added", n as i64 - second))
            && out.contains(&format!("{second} unchanged")),
        "{out}"
    );
    integrity(&db);
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), n as i64);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT fingerprint) FROM tracks"),
        n as i64
    );
    // Track ids follow path order, whatever the interruptions and workers did.
    let ids = sql(&db, "SELECT path FROM tracks ORDER BY id");
    let in_id_order: Vec<&str> = ids.lines().collect();
    let mut sorted = in_id_order.clone();
    sorted.sort();
    assert_eq!(in_id_order, sorted);
}

fn library(root: &Path) -> (PathBuf, PathBuf) {
    let music = root.join("music");
    let cover_a = root.join("a.png");
    make_png(&cover_a);
    let cover_b = root.join("b.png");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=c=red:size=32x32:rate=1:duration=1")
        .args(["-frames:v", "1"])
        .arg(&cover_b));
    make_flac(
        &music.join("x/one.flac"),
        1.0,
        440,
        &[("title", "One"), ("album", "X")],
        Some(&cover_a),
    );
    make_flac(
        &music.join("x/two.flac"),
        1.0,
        550,
        &[("title", "Two"), ("album", "X")],
        Some(&cover_a),
    );
    make_flac(
        &music.join("y/three.flac"),
        1.0,
        660,
        &[("title", "Three"), ("album", "Y")],
        Some(&cover_b),
    );
    (music, root.join("store.db"))
}

fn id_of(db: &Path, path: &Path) -> i64 {
    count(
        db,
        &format!(
            "SELECT id FROM tracks WHERE path = '{}'",
            std::fs::canonicalize(path).unwrap().display()
        ),
    )
}

fn tag(db: &Path, id: i64, key: &str) -> String {
    sql(
        db,
        &format!("SELECT value FROM tags WHERE track_id = {id} AND key = '{key}'"),
    )
    .trim()
    .to_owned()
}

#[test]
fn moved_file_keeps_its_row_and_curated_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, db) = library(tmp.path());
    let out = scan_ok(&db, &[s(&music)]);
    assert!(out.contains("3 added"), "{out}");
    let one = music.join("x/one.flac");
    let id = id_of(&db, &one);
    sql(
        &db,
        &format!("UPDATE tags SET value = 'Curated' WHERE track_id = {id} AND key = 'title'"),
    );
    let sha = sha256_file(&one);

    // Move it to another directory, and copy another file (a copy is new).
    let moved = music.join("elsewhere/renamed.flac");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&one, &moved).unwrap();
    std::fs::copy(music.join("x/two.flac"), music.join("x/two-copy.flac")).unwrap();
    let out = scan_ok(&db, &[s(&music)]);
    assert!(out.contains("1 added") && out.contains("1 moved"), "{out}");
    assert_eq!(id_of(&db, &moved), id);
    assert_eq!(tag(&db, id, "title"), "Curated");
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM track_art WHERE track_id = {id}")
        ),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 4);
    assert_eq!(
        sha256_file(&moved),
        sha,
        "the scanner changed a backing file"
    );

    // Moved with --checksum full: the full fingerprint is written, and a
    // later move is still recognised.
    let again = music.join("again.flac");
    std::fs::rename(&moved, &again).unwrap();
    let out = scan_ok(&db, &["--checksum", "full", s(&music)]);
    assert!(out.contains("1 moved"), "{out}");
    assert_eq!(id_of(&db, &again), id);
    assert_eq!(
        sql(
            &db,
            &format!("SELECT hex(substr(fingerprint, 1, 1)) FROM tracks WHERE id = {id}")
        )
        .trim(),
        "02"
    );
    let last = music.join("y/last.flac");
    std::fs::rename(&again, &last).unwrap();
    let out = scan_ok(&db, &["--checksum", "full", s(&music)]);
    assert!(out.contains("1 moved"), "{out}");
    assert_eq!(id_of(&db, &last), id);
    assert_eq!(tag(&db, id, "title"), "Curated");
}

#[test]
fn force_rereads_tags_and_a_changed_file_keeps_them() {
    require("metaflac");
    let tmp = tempfile::tempdir().unwrap();
    let (music, db) = library(tmp.path());
    scan_ok(&db, &[s(&music)]);
    let two = music.join("x/two.flac");
    let id = id_of(&db, &two);
    sql(
        &db,
        &format!("UPDATE tags SET value = 'Curated' WHERE track_id = {id} AND key = 'title'"),
    );
    // The file itself is retagged (its header grows): a plain scan re-reads
    // its structure but keeps the store's tags.
    run(Command::new("metaflac")
        .arg("--set-tag=COMMENT=a much longer comment than before, to move the audio")
        .arg(&two));
    let out = scan_ok(&db, &[s(&music)]);
    assert!(
        out.contains("1 updated") && out.contains("2 unchanged"),
        "{out}"
    );
    assert_eq!(tag(&db, id, "title"), "Curated");
    assert_eq!(tag(&db, id, "comment"), "");
    let off = count(
        &db,
        &format!("SELECT audio_offset FROM tracks WHERE id = {id}"),
    );
    let len = count(
        &db,
        &format!("SELECT audio_length FROM tracks WHERE id = {id}"),
    );
    let size = std::fs::metadata(&two).unwrap().len() as i64;
    assert_eq!(off + len, size);
    // --force overwrites the curated value with the file's.
    let out = scan_ok(&db, &["--force", s(&music)]);
    assert!(out.contains("3 re-read with --force"), "{out}");
    assert_eq!(tag(&db, id, "title"), "Two");
    assert!(tag(&db, id, "comment").starts_with("a much longer"));
}

#[test]
fn revalidate_updates_reports_and_prunes_missing_tracks_and_art() {
    require("metaflac");
    let tmp = tempfile::tempdir().unwrap();
    let (music, db) = library(tmp.path());
    scan_ok(&db, &[s(&music)]);
    assert_eq!(count(&db, "SELECT count(*) FROM art"), 2);
    let one = music.join("x/one.flac");
    let id_one = id_of(&db, &one);
    sql(
        &db,
        &format!("UPDATE tags SET value = 'Kept' WHERE track_id = {id_one} AND key = 'title'"),
    );
    run(Command::new("metaflac")
        .arg("--set-tag=GENRE=Changed")
        .arg(&one));
    std::fs::remove_file(music.join("y/three.flac")).unwrap();

    let reval = |extra: &[&str]| {
        let mut a = vec!["revalidate", "--db", s(&db)];
        a.extend_from_slice(extra);
        musefs(&a)
    };
    let o = reval(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("3 tracks checked: 1 unchanged, 1 updated, 1 missing"),
        "{out}"
    );
    assert_eq!(tag(&db, id_one, "title"), "Kept");
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 3);

    let o = reval(&["--prune"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("pruned 1 tracks and 1 unused pictures"),
        "{}",
        text(&o)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 2);
    // The cover the two remaining tracks share is kept.
    assert_eq!(count(&db, "SELECT count(*) FROM art"), 1);
    integrity(&db);

    // Every file gone (an unmounted disk looks like this): refused.
    std::fs::rename(&music, tmp.path().join("elsewhere")).unwrap();
    let o = reval(&["--prune"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the music disk mounted"));
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 2);
    let o = reval(&["--prune", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM art"), 0);
}

#[test]
fn every_skip_and_failure_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, db) = library(tmp.path());
    let good = std::fs::read(music.join("x/one.flac")).unwrap();
    std::fs::write(music.join("truncated.flac"), &good[..200]).unwrap();
    std::fs::write(music.join("notes.txt"), "hello").unwrap();
    std::fs::write(music.join("fake.mp3"), "not audio at all").unwrap();
    symlink(music.join("x/one.flac"), music.join("link.flac")).unwrap();
    symlink(music.join("nowhere.flac"), music.join("dangling.flac")).unwrap();
    let fifo = music.join("pipe.flac");
    run(Command::new("mkfifo").arg(&fifo));
    // A name that is not UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let bad_name = music.join(std::ffi::OsStr::from_bytes(b"bad-\xff.flac"));
    std::fs::write(&bad_name, &good).unwrap();
    // An unreadable file. Root reads it anyway (CAP_DAC_OVERRIDE), so as root
    // this sub-case checks that it is scanned like any other file.
    let locked = music.join("locked.flac");
    std::fs::copy(music.join("y/three.flac"), &locked).unwrap();
    std::fs::write(
        &locked,
        [&std::fs::read(&locked).unwrap()[..], b"differs"].concat(),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;

    let o = scan(&db, &[s(&music)]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "skipped 1: not an audio file (extension)",
        "skipped 2: symlink, not followed (see --follow-symlinks)",
        "skipped 1: not a regular file (FIFO, socket or device)",
        "skipped 1: path is not valid UTF-8",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{all}");
    }
    assert!(err.contains("truncated.flac: malformed flac file"), "{all}");
    assert!(err.contains("fake.mp3: "), "{all}");
    if root {
        assert!(
            std::fs::read(&locked).is_ok(),
            "root should read a mode-0 file"
        );
        assert!(out.contains("4 added") && out.contains("2 failed"), "{all}");
    } else {
        assert!(
            err.contains("locked.flac: cannot open: Permission denied"),
            "{all}"
        );
        assert!(out.contains("3 added") && out.contains("3 failed"), "{all}");
    }

    // Following links: the link to one.flac is a duplicate of the real
    // file, the dangling one is reported, and a cycle is cut.
    symlink(&music, music.join("x/loop")).unwrap();
    let o = scan(&db, &["--follow-symlinks", s(&music)]);
    let all = text(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        "skipped 1: already reached by another path (symlink or hard link)",
        "skipped 1: broken symlink",
        "skipped 1: directory already visited (symlink cycle or duplicate)",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{all}");
    }
    assert!(!sql(&db, "SELECT path FROM tracks").contains("link.flac"));
    assert!(!sql(&db, "SELECT path FROM tracks").contains("/loop/"));
    integrity(&db);
}

#[test]
fn bad_paths_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("sub/store.db");
    let o = scan(&db, &[s(&tmp.path().join("missing"))]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing: no such file or directory"));
    assert!(!db.exists());
    // A relative path and a single file both work; paths are stored absolute.
    let f = tmp.path().join("one.flac");
    make_flac(&f, 0.5, 300, &[("title", "Solo")], None);
    let o = Command::new(BIN)
        .current_dir(tmp.path())
        .args(["scan", "--db", s(&db), "one.flac", "./one.flac"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        sql(&db, "SELECT path FROM tracks").trim(),
        std::fs::canonicalize(&f).unwrap().to_str().unwrap()
    );
    // Revalidate and vacuum on a store that does not exist.
    let none = tmp.path().join("none.db");
    for cmd in ["revalidate", "vacuum"] {
        let o = musefs(&[cmd, "--db", s(&none)]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
        assert!(!none.exists());
    }
    // Not a store: refused, untouched.
    let other = tmp.path().join("other.db");
    sql(&other, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    let before = std::fs::read(&other).unwrap();
    let o = scan(&other, &[s(&f)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a musefs store"));
    assert_eq!(std::fs::read(&other).unwrap(), before);
}

#[test]
fn vacuum_refuses_while_the_store_is_held() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, db) = library(tmp.path());
    scan_ok(&db, &[s(&music)]);
    // What a mount or a scan holds while it runs.
    let held = Store::lock_shared(&db).unwrap();
    let o = musefs(&["vacuum", "--db", s(&db)]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is in use"),
        "{}",
        text(&o)
    );
    // Scans share the lock: one runs while the store is held.
    scan_ok(&db, &[s(&music)]);
    drop(held);
    // While vacuum holds it, a scan is refused the same way.
    let x = Store::lock_exclusive(&db).unwrap();
    let o = scan(&db, &[s(&music)]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("being compacted"));
    drop(x);
    sql(&db, "DELETE FROM tags WHERE key = 'album'");
    let o = musefs(&["vacuum", "--db", s(&db)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(" -> "));
    integrity(&db);
    assert_eq!(count(&db, "SELECT count(*) FROM tracks"), 3);
}
