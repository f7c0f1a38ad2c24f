//! Fault injection against a real mount: backing read errors (a FUSE
//! filesystem of the test's own that fails reads on demand), backing files
//! changed or removed mid-read, a corrupted store, a store locked by a long
//! writer, the store deleted while mounted, and a full disk during a scan.
//! Every case has one documented outcome (docs/SECURITY.md, "Faults"): EIO
//! for the read, a clear error for the command, nothing lost in the store,
//! and the mount stays up.

mod common;
use common::*;
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen, Request,
};
use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

// ---- a backing filesystem that fails on demand ------------------------------

const NORMAL: u8 = 0;
/// Reads touching bytes at or after `from` fail with EIO.
const EIO_FROM: u8 = 1;
/// Every read returns at most 997 bytes (short reads; retrying is correct).
const SHORT: u8 = 2;
/// End of file at `from` (the file lost its tail without changing size).
const EOF_FROM: u8 = 3;

struct FaultFs {
    data: Vec<u8>,
    mode: Arc<AtomicU8>,
    from: Arc<AtomicU64>,
}

const FILE_INO: u64 = 2;

impl FaultFs {
    fn attr(&self, ino: u64) -> FileAttr {
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let dir = ino == 1;
        FileAttr {
            ino: INodeNo(ino),
            size: if dir { 0 } else { self.data.len() as u64 },
            blocks: self.data.len().div_ceil(512) as u64,
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            kind: if dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if dir { 0o755 } else { 0o644 },
            nlink: if dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            flags: 0,
            blksize: 4096,
        }
    }
}

impl Filesystem for FaultFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent.0 == 1 && name == "track.flac" {
            reply.entry(&Duration::ZERO, &self.attr(FILE_INO), Generation(0));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match ino.0 {
            1 | FILE_INO => reply.attr(&Duration::ZERO, &self.attr(ino.0)),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // Direct I/O: every read reaches us (no page cache in between).
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let len = self.data.len() as u64;
        let from = self.from.load(Ordering::SeqCst);
        let start = offset.min(len) as usize;
        let mut end = (offset + u64::from(size)).min(len) as usize;
        match self.mode.load(Ordering::SeqCst) {
            EIO_FROM if end as u64 > from => return reply.error(Errno::EIO),
            SHORT => end = end.min(start + 997),
            EOF_FROM => end = end.min(from.max(offset) as usize).max(start),
            _ => {}
        }
        reply.data(&self.data[start..end]);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino.0 != 1 {
            return reply.error(Errno::ENOTDIR);
        }
        let entries = [
            (1, FileType::Directory, "."),
            (1, FileType::Directory, ".."),
            (FILE_INO, FileType::RegularFile, "track.flac"),
        ];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// A FLAC file of pink noise (incompressible enough that offsets far into
/// the audio exist and lie beyond the kernel's read-ahead window).
fn make_noise_flac(path: &Path, seconds: f32, tags: &[(&str, &str)]) {
    require("ffmpeg");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("anoisesrc=d={seconds}:c=pink:r=44100:a=0.3"))
        .args(["-c:a", "flac"]);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    run(c.arg(path));
}

fn eio(r: std::io::Result<usize>) -> bool {
    matches!(r, Err(e) if e.raw_os_error() == Some(libc::EIO))
}

fn read_all_at(f: &std::fs::File, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match f.read_at(&mut buf[done..], off + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    buf.truncate(done);
    Ok(buf)
}

fn scan(db: &Path, dir: &Path) -> std::process::Output {
    musefs(&["scan", "--db", db.to_str().unwrap(), dir.to_str().unwrap()])
}

#[test]
fn backing_read_errors_are_eio_and_the_mount_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.flac");
    make_noise_flac(&src, 3.0, &[("title", "Faulty"), ("album", "F")]);
    let data = std::fs::read(&src).unwrap();
    let p =
        musefs::format::probe(&mut std::io::Cursor::new(&data), data.len() as u64, "flac").unwrap();
    let audio = data[p.audio_offset as usize..].to_vec();

    let mode = Arc::new(AtomicU8::new(NORMAL));
    let from = Arc::new(AtomicU64::new(u64::MAX));
    let faulty = tmp.path().join("faulty");
    std::fs::create_dir_all(&faulty).unwrap();
    let mut cfg = fuser::Config::default();
    cfg.mount_options = vec![
        fuser::MountOption::RO,
        fuser::MountOption::FSName("faultfs".into()),
    ];
    let session = fuser::Session::new(
        FaultFs {
            data: data.clone(),
            mode: mode.clone(),
            from: from.clone(),
        },
        &faulty,
        &cfg,
    )
    .unwrap()
    .spawn()
    .unwrap();
    assert_eq!(std::fs::read(faulty.join("track.flac")).unwrap(), data);

    // A second, healthy track: the mount must keep serving it throughout.
    let music = tmp.path().join("music");
    make_flac(
        &music.join("ok.flac"),
        0.5,
        330,
        &[("title", "Healthy"), ("album", "F")],
        None,
    );
    let db = tmp.path().join("store.db");
    assert!(scan(&db, &faulty).status.success());
    assert!(scan(&db, &music).status.success());
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    let served = mnt.join("Faulty.flac");
    let healthy = mnt.join("Healthy.flac");
    let size = std::fs::metadata(&served).unwrap().len();
    let head = size - audio.len() as u64;
    let f = std::fs::File::open(&served).unwrap();

    // 1. EIO from the backing file, in the middle of the audio: the read
    //    fails with EIO; the header (no backing bytes) still reads.
    mode.store(EIO_FROM, Ordering::SeqCst);
    from.store(p.audio_offset + 20_000, Ordering::SeqCst);
    assert!(read_all_at(&f, 0, head as usize).is_ok());
    let mut buf = vec![0u8; 64 * 1024];
    assert!(eio(f.read_at(&mut buf, head + 40_000)), "EIO expected");
    assert!(
        std::fs::read(&healthy).is_ok(),
        "the mount must keep serving"
    );

    // 2. The backing file ends early (size unchanged): EIO, never zeros.
    mode.store(EOF_FROM, Ordering::SeqCst);
    assert!(
        eio(f.read_at(&mut buf, head + 60_000)),
        "EIO expected at a short file"
    );

    // 3. Short reads are retried: the right bytes.
    mode.store(SHORT, Ordering::SeqCst);
    let tail = read_all_at(&f, head, audio.len()).unwrap();
    assert!(tail == audio, "short backing reads served wrong bytes");

    // 4. Healthy again: the whole file is right.
    mode.store(NORMAL, Ordering::SeqCst);
    let whole = std::fs::read(&served).unwrap();
    assert!(whole.ends_with(&audio));
    assert!(m.child.try_wait().unwrap().is_none(), "the mount died");
    assert!(
        m.log_text().contains("EIO"),
        "no warning logged: {}",
        m.log_text()
    );
    drop(f);
    m.stop();
    session.umount_and_join().unwrap();
}

/// Three served files with their backing paths.
fn library(tmp: &Path, n: usize) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let music = tmp.join("music");
    let mut paths = Vec::new();
    for i in 0..n {
        let p = music.join(format!("{i}.flac"));
        make_noise_flac(&p, 4.0, &[("title", &format!("T{i}"))]);
        paths.push(p);
    }
    let db = tmp.join("store.db");
    assert!(scan(&db, &music).status.success());
    (music, db, paths)
}

#[test]
fn backing_files_changed_or_removed_mid_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, db, backing) = library(tmp.path(), 4);
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    let served: Vec<PathBuf> = (0..4).map(|i| mnt.join(format!("T{i}.flac"))).collect();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let open = |i: usize| {
        let f = std::fs::File::open(&served[i]).unwrap();
        let mut b = [0u8; 4096];
        assert_eq!(f.read_at(&mut b, 0).unwrap(), 4096);
        f
    };
    let handles: Vec<std::fs::File> = (0..4).map(open).collect();
    let mut buf = vec![0u8; 8192];
    let far = |i: usize| size(&served[i]) - 10_000;

    // 0: modified in place (same size): EIO, also for a new open.
    {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&backing[0])
            .unwrap();
        f.write_all_at(
            b"\x00\x01\x02",
            std::fs::metadata(&backing[0]).unwrap().len() - 500,
        )
        .unwrap();
    }
    assert!(eio(handles[0].read_at(&mut buf, far(0))));
    assert!(
        matches!(std::fs::File::open(&served[0]), Err(e) if e.raw_os_error() == Some(libc::EIO))
    );
    // 1: truncated: EIO.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&backing[1])
        .unwrap()
        .set_len(5000)
        .unwrap();
    assert!(eio(handles[1].read_at(&mut buf, far(1))));
    // 2: replaced by another file (rename over it): the open handle keeps
    //    serving the file it opened, unchanged; a new open fails with EIO.
    let before = std::fs::read(&served[2]).unwrap();
    std::fs::copy(&backing[3], music.join("new.tmp")).unwrap();
    std::fs::rename(music.join("new.tmp"), &backing[2]).unwrap();
    assert_eq!(read_all_at(&handles[2], 0, before.len()).unwrap(), before);
    assert!(
        matches!(std::fs::File::open(&served[2]), Err(e) if e.raw_os_error() == Some(libc::EIO))
    );
    // 3: removed: the open handle keeps serving; a new open fails with EIO.
    let before = std::fs::read(&served[3]).unwrap();
    std::fs::remove_file(&backing[3]).unwrap();
    assert_eq!(read_all_at(&handles[3], 0, before.len()).unwrap(), before);
    assert!(
        matches!(std::fs::File::open(&served[3]), Err(e) if e.raw_os_error() == Some(libc::EIO))
    );
    assert!(m.child.try_wait().unwrap().is_none(), "the mount died");

    // A rescan brings the file changed in place back, and names the one
    // that is now broken.
    let out = scan(&db, &music);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1.flac: malformed flac file"), "{err}");
    let now = std::fs::read(&backing[0]).unwrap();
    let p =
        musefs::format::probe(&mut std::io::Cursor::new(&now), now.len() as u64, "flac").unwrap();
    let audio = &now[p.audio_offset as usize..];
    assert!(
        audio.ends_with(b"\x00\x01\x02") || audio[audio.len() - 500..].starts_with(b"\x00\x01\x02")
    );
    let ok = wait_until(Duration::from_secs(3), || {
        std::fs::read(&served[0]).is_ok_and(|b| b.ends_with(audio))
    });
    assert!(
        ok,
        "{:?}\n{}",
        std::fs::read(&served[0]).map(|b| b.len()),
        m.log_text()
    );
    m.stop();
}

#[test]
fn a_corrupted_store_is_a_clear_error_and_the_mount_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (_music, db, _) = library(tmp.path(), 2);
    // Checkpoint so the store is one file, then keep a pristine copy.
    sql(&db, "PRAGMA wal_checkpoint(TRUNCATE)");
    let pristine = std::fs::read(&db).unwrap();
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    let t0 = mnt.join("T0.flac");
    let before = std::fs::read(&t0).unwrap();

    // Scribble over the header and a few pages in place.
    {
        let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.write_all_at(&[0x5a; 100], 0).unwrap();
        f.write_all_at(&[0xa5; 3000], 4096).unwrap();
    }
    let out = musefs(&[
        "tag",
        "show",
        "--db",
        db.to_str().unwrap(),
        t0.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("corrupt or not an SQLite database"), "{err}");
    // The mount serves what it has; new work fails with EIO at worst.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read(&t0).unwrap(), before);
    let _ = std::fs::read(mnt.join("T1.flac"));
    assert!(m.child.try_wait().unwrap().is_none(), "the mount died");

    // Restored: edits work and show again.
    std::fs::write(&db, &pristine).unwrap();
    sql(
        &db,
        "UPDATE tags SET value = 'Back' WHERE key = 'title' AND value = 'T1'",
    );
    assert!(
        wait_until(Duration::from_secs(5), || mnt.join("Back.flac").exists()),
        "{}",
        m.log_text()
    );
    m.stop();
}

#[test]
fn a_long_writer_blocks_other_writers_not_the_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let (_music, db, _) = library(tmp.path(), 2);
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    // A writer holds the write lock for 8 s with an uncommitted edit.
    let hold = {
        let db = db.clone();
        std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&db).unwrap();
            c.execute_batch(
                "BEGIN IMMEDIATE; UPDATE tags SET value = 'Later' WHERE key = 'title' AND value = 'T0';",
            )
            .unwrap();
            std::thread::sleep(Duration::from_secs(8));
            c.execute_batch("COMMIT").unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // Reads are not blocked (WAL readers never wait for the writer).
    let t = Instant::now();
    for _ in 0..5 {
        std::fs::read(mnt.join("T0.flac")).unwrap();
        std::fs::read(mnt.join("T1.flac")).unwrap();
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "reads waited for the writer"
    );
    // Another writer waits for its busy timeout, then fails clearly.
    let t = Instant::now();
    let out = musefs(&[
        "tag",
        "set",
        "--db",
        db.to_str().unwrap(),
        "-t",
        "genre=X",
        mnt.join("T1.flac").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success(),
        "a second writer got through the lock"
    );
    assert!(err.contains("locked") || err.contains("busy"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(30));
    hold.join().unwrap();
    // The held edit lands once committed; nothing else was lost.
    assert!(wait_until(Duration::from_secs(3), || mnt
        .join("Later.flac")
        .exists()));
    assert!(mnt.join("T1.flac").exists());
    m.stop();
}

#[test]
fn the_store_deleted_while_mounted_then_recreated() {
    let tmp = tempfile::tempdir().unwrap();
    let (music, db, _) = library(tmp.path(), 2);
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    let t1 = std::fs::read(mnt.join("T1.flac")).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    // The last state stays served (also files not opened before).
    std::thread::sleep(Duration::from_millis(500));
    assert!(std::fs::read(mnt.join("T0.flac")).is_ok());
    assert_eq!(std::fs::read(mnt.join("T1.flac")).unwrap(), t1);
    assert!(m.child.try_wait().unwrap().is_none(), "the mount died");
    // A new store at the same path is picked up.
    let out = scan(&db, &music);
    assert!(out.status.success());
    sql(
        &db,
        "UPDATE tags SET value = 'Fresh' WHERE key = 'title' AND value = 'T0'",
    );
    assert!(
        wait_until(Duration::from_secs(5), || mnt.join("Fresh.flac").exists()),
        "{}",
        m.log_text()
    );
    assert!(m.log_text().contains("store file"), "{}", m.log_text());
    m.stop();
}

/// A small tmpfs mounted for the test (root is available on these machines).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir));
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_full_during_scan_loses_nothing() {
    require("mount");
    let tmp = tempfile::tempdir().unwrap();
    let small = Tmpfs::new(&tmp.path().join("small"), "192k");
    let db = small.0.join("store.db");
    // A first scan that fits.
    let first = tmp.path().join("first");
    make_flac(&first.join("a.flac"), 0.5, 440, &[("title", "Kept")], None);
    assert!(scan(&db, &first).status.success());
    // Then a library whose pictures cannot fit.
    let big = tmp.path().join("big");
    let cover = tmp.path().join("noise.png");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("nullsrc=s=256x256,format=rgb24,geq=r=random(1)*255:g=random(2)*255:b=random(3)*255")
        .args(["-frames:v", "1"])
        .arg(&cover));
    assert!(std::fs::metadata(&cover).unwrap().len() > 50_000);
    for i in 0..4 {
        // Distinct covers (content-addressed art would share one).
        let c = tmp.path().join(format!("c{i}.png"));
        let mut bytes = std::fs::read(&cover).unwrap();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        std::fs::write(&c, &bytes).unwrap();
        make_flac(
            &big.join(format!("{i}.flac")),
            0.2,
            500,
            &[("title", &format!("B{i}"))],
            Some(&c),
        );
    }
    let mnt = tmp.path().join("mnt");
    let mut m = Mount::start(&db, &mnt, &["--template", "$title"]);
    let out = scan(&db, &big);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success(), "the scan should not fit in 192k");
    assert!(err.contains("full") || err.contains("no space"), "{err}");
    // The store is intact and still holds the first scan.
    let check = sql(
        &db,
        "PRAGMA integrity_check; SELECT count(*) FROM tracks WHERE path LIKE '%/first/a.flac';",
    );
    assert_eq!(check, "ok\n1\n");
    assert!(mnt.join("Kept.flac").exists());
    let mut f = std::fs::File::open(mnt.join("Kept.flac")).unwrap();
    let mut b = Vec::new();
    f.read_to_end(&mut b).unwrap();
    assert!(m.child.try_wait().unwrap().is_none(), "the mount died");
    m.stop();
    drop(small);
    let _ = ErrorKind::Other;
    let _ = std::io::stdout().flush();
}
