//! Concurrency stress through a real mount: 32 readers doing random preads
//! checked against an oracle, a writer retagging every track and removing
//! and re-adding tracks, and directory walkers, all at once. Zero wrong
//! bytes, zero hangs, the mount's memory stable.
//!
//! Runs for MUSEFS_STRESS_SECS seconds (default 30); set it higher for a
//! longer run, e.g. `MUSEFS_STRESS_SECS=600 cargo test --release --test stress`.
//! The mount's caches are 2 MiB each so they fill early and the RSS plateau
//! shows in a short run; MUSEFS_STRESS_CACHE_MIB sets another size.

mod common;
use common::*;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const READERS: u64 = 32;
const WALKERS: u64 = 2;
/// A thread whose last operation finished longer ago than this is hung.
const HANG: Duration = Duration::from_secs(15);

fn ffmpeg(out: &Path, codec: &[&str], tags: &[(&str, String)], seconds: f32, freq: u32) {
    require("ffmpeg");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency={freq}:duration={seconds}:sample_rate=44100"
        ))
        .args(codec);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    run(c.arg(out));
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn now_ms(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

#[test]
fn readers_writer_and_walkers_at_once() {
    let secs: u64 = std::env::var("MUSEFS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    // 12 stable tracks in four containers, 4 tracks the writer removes and re-adds.
    let kinds: [(&str, &[&str]); 4] = [
        ("flac", &["-c:a", "flac"]),
        ("mp3", &["-c:a", "libmp3lame", "-b:a", "64k"]),
        (
            "m4a",
            &["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart"],
        ),
        ("wav", &["-c:a", "pcm_s16le"]),
    ];
    let mut n = 0;
    for (ext, codec) in kinds {
        for _ in 0..3 {
            n += 1;
            let tags = [("album", "Stable".to_owned()), ("track", n.to_string())];
            ffmpeg(
                &music.join(format!("stable/{n}.{ext}")),
                codec,
                &tags,
                1.5,
                200 + 37 * n,
            );
        }
    }
    for c in 1..=4 {
        let tags = [("album", "Churn".to_owned()), ("track", c.to_string())];
        ffmpeg(
            &music.join(format!("churn/{c}.flac")),
            &["-c:a", "flac"],
            &tags,
            0.5,
            900 + c,
        );
    }
    let db = tmp.path().join("store.db");
    let out = musefs(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        music.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mnt = tmp.path().join("mnt");
    let writer = musefs::store::Store::open_rw(&db).unwrap();
    let stable_ids: Vec<i64> = {
        let mut st = writer
            .conn()
            .prepare("SELECT id FROM tracks WHERE path LIKE '%/stable/%' ORDER BY id")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(stable_ids.len(), 12);
    writer
        .conn()
        .execute_batch(
            "CREATE TEMP TABLE saved_tracks AS SELECT * FROM tracks WHERE path LIKE '%/churn/%';
             CREATE TEMP TABLE saved_struct AS SELECT * FROM structural
                 WHERE track_id IN (SELECT id FROM saved_tracks);
             CREATE TEMP TABLE saved_tags AS SELECT * FROM tags
                 WHERE track_id IN (SELECT id FROM saved_tracks);",
        )
        .unwrap();
    let churn_paths: Vec<String> = {
        let mut st = writer
            .conn()
            .prepare("SELECT path FROM saved_tracks ORDER BY path")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    // Fixed-width values keep every header the same size across generations.
    let set_generation = |g: u64| {
        let c = writer.conn();
        c.execute_batch("BEGIN").unwrap();
        for id in &stable_ids {
            c.execute(
                "DELETE FROM tags WHERE track_id = ?1 AND key IN ('title', 'comment')",
                [id],
            )
            .unwrap();
            c.execute(
                "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, 'title', 0, ?2), (?1, 'comment', 0, ?3)",
                rusqlite::params![id, format!("title{g:08}"), format!("comment{g:08}")],
            )
            .unwrap();
        }
        c.execute_batch("COMMIT").unwrap();
    };
    // Generation 0 lands before the mount starts: adding the fields changes
    // the files' sizes, and a size change racing the kernel's attribute
    // cache is a separate case (`size_changing_retags_never_cut_reads`).
    set_generation(0);
    // Small caches, so they fill early and the RSS plateau shows within a
    // short run (a leak keeps growing past it).
    let cfg = tmp.path().join("mount.toml");
    let mib: usize = std::env::var("MUSEFS_STRESS_CACHE_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    std::fs::write(
        &cfg,
        format!("header_cache_mib = {mib}\nart_cache_mib = {mib}\n"),
    )
    .unwrap();
    let mut m = Mount::start(
        &db,
        &mnt,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--template",
            "$album/$tracknumber",
        ],
    );
    let pid = m.child.id();

    // The oracle: every stable file at generation 0, once the mount shows it.
    let paths: Vec<PathBuf> = (1..=12).map(|i| mnt.join(format!("Stable/{i}"))).collect();
    let mut served = Vec::new();
    for p in &paths {
        let dir = p.parent().unwrap();
        let stem = p.file_name().unwrap().to_str().unwrap().to_owned();
        let found = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|e| e.file_stem().unwrap().to_str().unwrap() == stem)
            .unwrap();
        served.push(found);
    }
    let oracle: Vec<Vec<u8>> = served
        .iter()
        .map(|p| {
            let mut b = Vec::new();
            // The kernel's cached size may lag the view until the refresh
            // loop's invalidation lands: wait for two identical full reads
            // 300 ms apart, both at generation 0.
            let ok = wait_until(Duration::from_secs(10), || {
                let first = std::fs::read(p).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                b = std::fs::read(p).unwrap();
                let f = digit_fields(&b);
                first == b && f.len() >= 2 && f.iter().all(|&o| &b[o..o + 8] == b"00000000")
            });
            assert!(ok, "{}: fields {:?}", p.display(), digit_fields(&b));
            b
        })
        .collect();
    let fields: Vec<Vec<usize>> = oracle.iter().map(|o| digit_fields(o)).collect();

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let preads = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let walks = Arc::new(AtomicU64::new(0));
    let churn_reads = Arc::new(AtomicU64::new(0));
    let beats: Arc<Vec<AtomicU64>> =
        Arc::new((0..READERS + WALKERS).map(|_| AtomicU64::new(0)).collect());
    let mut threads = Vec::new();
    for r in 0..READERS {
        let (served, oracle, fields) = (served.clone(), oracle.clone(), fields.clone());
        let (stop, preads, bytes, beats) =
            (stop.clone(), preads.clone(), bytes.clone(), beats.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((r + 1) * 0x1000_0001));
            let mut files: Vec<std::fs::File> = served
                .iter()
                .map(|p| std::fs::File::open(p).unwrap())
                .collect();
            while !stop.load(Ordering::Relaxed) {
                let i = (rng.next() % served.len() as u64) as usize;
                if rng.next().is_multiple_of(64) {
                    files[i] = std::fs::File::open(&served[i]).unwrap(); // reopen
                }
                let len = oracle[i].len();
                let off = (rng.next() as usize) % len;
                let n = 1 + (rng.next() as usize) % 70_000;
                let mut buf = vec![0u8; n];
                let got = files[i].read_at(&mut buf, off as u64).expect("pread");
                if got != n.min(len - off) {
                    let now = std::fs::read(&served[i]).unwrap_or_default();
                    panic!(
                        "{}: read {off}+{n} of {len} returned {got} bytes; the file now has {} \
                         bytes, fields {:?}, differing from the oracle at {:?}",
                        served[i].display(),
                        now.len(),
                        digit_fields(&now),
                        now.iter().zip(&oracle[i]).position(|(a, b)| a != b)
                    );
                }
                if let Err(e) = check_chunk(&oracle[i], &fields[i], off, &buf[..got]) {
                    panic!("{}: read {off}+{got}: {e}", served[i].display());
                }
                preads.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(got as u64, Ordering::Relaxed);
                beats[r as usize].store(now_ms(t0), Ordering::Relaxed);
            }
        }));
    }
    for w in 0..WALKERS {
        let (mnt, stop, walks, churn_reads, beats) = (
            mnt.clone(),
            stop.clone(),
            walks.clone(),
            churn_reads.clone(),
            beats.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let slot = (READERS + w) as usize;
            while !stop.load(Ordering::Relaxed) {
                // The stable directory must always list all 12 files.
                let stable = std::fs::read_dir(mnt.join("Stable")).unwrap().count();
                assert_eq!(stable, 12, "the stable directory lost files");
                // Churn files come and go: ENOENT (gone) is fine, wrong sizes are not.
                if let Ok(rd) = std::fs::read_dir(mnt.join("Churn")) {
                    for e in rd.flatten() {
                        let p = e.path();
                        let Ok(meta) = std::fs::metadata(&p) else {
                            continue;
                        };
                        match std::fs::read(&p) {
                            Ok(b) => {
                                assert_eq!(b.len() as u64, meta.len(), "{}", p.display());
                                assert!(b.starts_with(b"fLaC"));
                                churn_reads.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => assert!(
                                e.raw_os_error() == Some(libc::ENOENT),
                                "{}: {e}",
                                p.display()
                            ),
                        }
                    }
                }
                walks.fetch_add(1, Ordering::Relaxed);
                beats[slot].store(now_ms(t0), Ordering::Relaxed);
            }
        }));
    }

    // The writer (this thread) and the monitor.
    let mut generation = 0;
    let mut churn_ops = 0;
    let mut rss: Vec<u64> = Vec::new();
    let mut next_sample = Instant::now();
    let mut rng = Rng(42);
    while t0.elapsed() < Duration::from_secs(secs) {
        generation += 1;
        set_generation(generation);
        if generation.is_multiple_of(4) {
            let p = &churn_paths[(rng.next() % churn_paths.len() as u64) as usize];
            let c = writer.conn();
            let present: bool = c
                .query_row("SELECT count(*) FROM tracks WHERE path = ?1", [p], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
                > 0;
            if present {
                c.execute("DELETE FROM tracks WHERE path = ?1", [p])
                    .unwrap();
            } else {
                c.execute_batch("BEGIN").unwrap();
                c.execute(
                    "INSERT INTO tracks(path, format, audio_offset, audio_length, file_size,
                         mtime_ns, ctime_ns, inode)
                     SELECT path, format, audio_offset, audio_length, file_size, mtime_ns,
                         ctime_ns, inode FROM saved_tracks WHERE path = ?1",
                    [p],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO structural(track_id, kind, ordinal, data)
                     SELECT last_insert_rowid(), kind, ordinal, data FROM saved_struct
                     WHERE track_id = (SELECT id FROM saved_tracks WHERE path = ?1)",
                    [p],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO tags(track_id, key, ordinal, value, value_blob)
                     SELECT (SELECT id FROM tracks WHERE path = ?1), key, ordinal, value, value_blob
                     FROM saved_tags WHERE track_id = (SELECT id FROM saved_tracks WHERE path = ?1)",
                    [p],
                )
                .unwrap();
                c.execute_batch("COMMIT").unwrap();
            }
            churn_ops += 1;
        }
        if Instant::now() >= next_sample {
            rss.push(rss_kib(pid));
            next_sample += Duration::from_millis(500);
            let now = now_ms(t0);
            for (i, b) in beats.iter().enumerate() {
                let last = b.load(Ordering::Relaxed);
                assert!(
                    now.saturating_sub(last) < HANG.as_millis() as u64,
                    "thread {i} made no progress for {} ms (hang)",
                    now - last
                );
            }
            assert!(
                threads.iter().all(|t| !t.is_finished()),
                "a worker stopped early (see its panic above)"
            );
            assert!(m.child.try_wait().unwrap().is_none(), "the mount died");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .expect("a worker saw wrong bytes, a lost file or an error");
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (p, b) = (
        preads.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
    );
    let third = rss.len() / 3;
    let early = rss[..third.max(1)].iter().max().copied().unwrap_or(0);
    let late = rss[rss.len() - third.max(1)..]
        .iter()
        .max()
        .copied()
        .unwrap_or(0);
    eprintln!(
        "stress: {elapsed:.1} s, {p} preads checked ({:.0}/s, {:.1} MiB), {generation} retag \
         commits, {churn_ops} track removals/additions, {} walks, {} churn-file reads; mount RSS \
         {} KiB at start, max {} KiB early, {} KiB late, {} KiB at end",
        p as f64 / elapsed,
        b as f64 / (1 << 20) as f64,
        walks.load(Ordering::Relaxed),
        churn_reads.load(Ordering::Relaxed),
        rss.first().copied().unwrap_or(0),
        early,
        late,
        rss.last().copied().unwrap_or(0),
    );
    assert!(p > 1000, "too few reads checked: {p}");
    assert!(generation > 20 && churn_ops > 3);
    // Memory stable: the last third of the run holds no more than the
    // first third plus slack (the caches are bounded; a leak grows).
    assert!(
        late <= early + early / 4 + 16 * 1024,
        "mount RSS grew from {early} KiB to {late} KiB"
    );
    m.stop();
}

/// A retag that changes a file's size races the kernel's cached size: reads
/// between the store commit and the kernel invalidation can return the new
/// version's bytes cut to the old size (or the old bytes to the new size).
/// Every whole-file read must equal one version exactly.
#[test]
#[ignore = "known race between a size-changing retag and the kernel's attribute cache; see docs/SECURITY.md"]
fn size_changing_retags_never_cut_reads() {
    let secs: u64 = std::env::var("MUSEFS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    let tags = [("album", "A".to_owned()), ("track", "1".to_owned())];
    ffmpeg(&music.join("1.flac"), &["-c:a", "flac"], &tags, 1.0, 440);
    let db = tmp.path().join("store.db");
    let out = musefs(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        music.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let writer = musefs::store::Store::open_rw(&db).unwrap();
    let set = |title: &str| {
        let c = writer.conn();
        c.execute_batch("BEGIN; DELETE FROM tags WHERE key = 'title';")
            .unwrap();
        c.execute(
            "INSERT INTO tags(track_id, key, value) VALUES (1, 'title', ?1)",
            [title],
        )
        .unwrap();
        c.execute_batch("COMMIT").unwrap();
    };
    let titles = ["short", "a much longer title, a much longer title"];
    let mnt = tmp.path().join("mnt");
    let mut versions = Vec::new();
    for t in titles {
        set(t);
        let mut m = Mount::start(&db, &mnt, &["--template", "$album/$tracknumber"]);
        versions.push(std::fs::read(mnt.join("A/1.flac")).unwrap());
        m.stop();
    }
    let _m = Mount::start(&db, &mnt, &["--template", "$album/$tracknumber"]);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, p, versions) = (stop.clone(), mnt.join("A/1.flac"), versions.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let b = std::fs::read(&p).unwrap();
                if !versions.contains(&b) {
                    let prefix_of: Vec<usize> = (0..2)
                        .filter(|&v| versions[v].starts_with(&b) || b.starts_with(&versions[v]))
                        .map(|v| versions[v].len())
                        .collect();
                    panic!(
                        "read {} bytes, matching no version (sizes {} and {}); a prefix of / \
                         extends the version of size {prefix_of:?}",
                        b.len(),
                        versions[0].len(),
                        versions[1].len()
                    );
                }
                n += 1;
            }
            n
        })
    };
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < Duration::from_secs(secs) && !reader.is_finished() {
        i += 1;
        set(titles[i % 2]);
        std::thread::sleep(Duration::from_millis(3));
    }
    stop.store(true, Ordering::Relaxed);
    let n = reader.join().expect("a read matched neither version");
    eprintln!("{i} retags, {n} whole-file reads, all consistent");
}
