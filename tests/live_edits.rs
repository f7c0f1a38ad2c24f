//! Live edits through a real mount: `musefs tag`, pictures, and reads racing
//! a writer that retags in a loop.

mod common;
use common::*;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn setup(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    for i in 0..n {
        make_flac(
            &music.join(format!("{i}.flac")),
            1.0,
            300 + 50 * i as u32,
            &[
                ("title", &format!("T{i}")),
                ("album", "Alb"),
                ("track", &format!("{}", i + 1)),
            ],
            None,
        );
    }
    let db = tmp.path().join("store.db");
    let out = musefs(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        music.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    (tmp, music, db)
}

fn tag(db: &Path, args: &[&str]) -> String {
    let mut a = vec!["tag"];
    a.push(args[0]);
    a.extend(["--db", db.to_str().unwrap()]);
    a.extend(&args[1..]);
    let out = musefs(&a);
    assert!(
        out.status.success(),
        "musefs {a:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tag_tool_edits_show_up_in_the_mount() {
    let (tmp, music, db) = setup(2);
    let mnt = tmp.path().join("mnt");
    let _m = Mount::start(&db, &mnt, &["--template", "$album/$tracknumber"]);
    let served = mnt.join("Alb/1.flac");
    // Address the track through the mount.
    tag(
        &db,
        &[
            "set",
            "-t",
            "genre=Rock",
            "-t",
            "genre=Pop",
            "-t",
            "title=New",
            served.to_str().unwrap(),
        ],
    );
    assert!(
        wait_until(Duration::from_secs(2), || metaflac_tags(&served)
            .contains(&"TITLE=New".into())),
        "{:?}",
        metaflac_tags(&served)
    );
    let tags = metaflac_tags(&served);
    assert!(tags.contains(&"GENRE=Rock".into()) && tags.contains(&"GENRE=Pop".into()));
    assert_eq!(
        tag(&db, &["get", "genre", served.to_str().unwrap()]),
        "Rock\nPop\n"
    );
    // Address it through the backing file; add a picture.
    let png = tmp.path().join("c.png");
    make_png(&png);
    let backing = music.join("0.flac");
    tag(
        &db,
        &[
            "set",
            "--picture",
            png.to_str().unwrap(),
            "--type",
            "back",
            backing.to_str().unwrap(),
        ],
    );
    let pic = || {
        std::process::Command::new("metaflac")
            .args(["--export-picture-to=-"])
            .arg(&served)
            .output()
            .unwrap()
            .stdout
    };
    let want = std::fs::read(&png).unwrap();
    assert!(wait_until(Duration::from_secs(2), || pic() == want));
    let shown = tag(&db, &["show", served.to_str().unwrap()]);
    assert!(
        shown.contains("picture 0: type back (4), image/png"),
        "{shown}"
    );
    tag(
        &db,
        &["rm", "-k", "genre", "--pictures", served.to_str().unwrap()],
    );
    assert!(wait_until(Duration::from_secs(2), || {
        !metaflac_tags(&served)
            .iter()
            .any(|t| t.starts_with("GENRE="))
            && pic().is_empty()
    }));
    // Bad input: a clear error naming the problem.
    let out = musefs(&[
        "tag",
        "set",
        "--db",
        db.to_str().unwrap(),
        "-t",
        "novalue",
        served.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected KEY=VALUE"));
    let out = musefs(&[
        "tag",
        "show",
        "--db",
        db.to_str().unwrap(),
        "/nonexistent.flac",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

#[test]
fn idle_mount_follows_sql_within_a_fraction_of_a_second() {
    let (tmp, _music, db) = setup(1);
    let mnt = tmp.path().join("mnt");
    let _m = Mount::start(&db, &mnt, &[]);
    let old = mnt.join("Unknown/Alb/1 - T0.flac");
    assert!(old.exists());
    // Nobody touches the mount between the commit and the check below.
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    sql(&db, "UPDATE tags SET value = 'Live' WHERE key = 'title'");
    let new = mnt.join("Unknown/Alb/1 - Live.flac");
    assert!(wait_until(Duration::from_secs(2), || new.exists()));
    let took = t0.elapsed();
    eprintln!("visible after {took:?} (includes the sqlite3 process start)");
    assert!(metaflac_tags(&new).contains(&"TITLE=Live".into()));
}

#[test]
fn reads_racing_a_retagging_writer_never_mix_versions() {
    let (tmp, music, db) = setup(3);
    let mnt = tmp.path().join("mnt");
    let _m = Mount::start(&db, &mnt, &["--template", "$album/$tracknumber"]);
    let writer = musefs::store::Store::open_rw(&db).unwrap();
    // Fixed-width values keep the header size, so offsets are stable across
    // generations and any byte range has exactly one right answer per generation.
    let set_generation = |generation: u64| {
        let c = writer.conn();
        c.execute_batch("BEGIN").unwrap();
        c.execute("DELETE FROM tags WHERE key IN ('title', 'comment')", [])
            .unwrap();
        for id in 1..=3 {
            c.execute(
                "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, 'title', 0, ?2), (?1, 'comment', 0, ?3)",
                rusqlite::params![id, format!("title{generation:08}"), format!("comment{generation:08}")],
            )
            .unwrap();
        }
        c.execute_batch("COMMIT").unwrap();
    };
    set_generation(0);
    std::thread::sleep(Duration::from_millis(300));
    // The oracle: the served file at generation 0, read once; later generations
    // differ only in the digits.
    let paths: Vec<PathBuf> = (1..=3).map(|i| mnt.join(format!("Alb/{i}.flac"))).collect();
    let oracle: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    for (i, o) in oracle.iter().enumerate() {
        let b = std::fs::read(music.join(format!("{i}.flac"))).unwrap();
        let p =
            musefs::format::probe(&mut std::io::Cursor::new(o), o.len() as u64, "flac").unwrap();
        assert!(b.ends_with(&o[p.audio_offset as usize..]));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..4u64 {
        let (paths, stop, checked, oracle) =
            (paths.clone(), stop.clone(), checked.clone(), oracle.clone());
        let fields: Vec<Vec<usize>> = oracle.iter().map(|o| digit_fields(o)).collect();
        assert!(fields.iter().all(|f| f.len() == 2), "{fields:?}");
        readers.push(std::thread::spawn(move || {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (r + 1);
            let mut rand = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let files: Vec<std::fs::File> = paths
                .iter()
                .map(|p| std::fs::File::open(p).unwrap())
                .collect();
            while !stop.load(Ordering::Relaxed) {
                let i = (rand() % 3) as usize;
                let len = oracle[i].len();
                let off = (rand() as usize) % len;
                let n = 1 + (rand() as usize) % 70_000;
                let mut buf = vec![0u8; n];
                let got = files[i].read_at(&mut buf, off as u64).expect("pread");
                assert_eq!(got, n.min(len - off), "short read at {off}+{n} of {len}");
                if let Err(e) = check_chunk(&oracle[i], &fields[i], off, &buf[..got]) {
                    panic!("read {off}+{got} of file {i}: {e}");
                }
                checked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t0 = Instant::now();
    let mut generation = 0;
    while t0.elapsed() < Duration::from_secs(4) {
        generation += 1;
        set_generation(generation);
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader saw wrong bytes");
    }
    let n = checked.load(Ordering::Relaxed);
    eprintln!("{generation} commits, {n} preads checked");
    assert!(n > 100, "too few reads checked: {n}");
}
