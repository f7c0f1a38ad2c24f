//! Walking skeleton, end to end: FLAC files made by ffmpeg are scanned, a tag
//! is edited with plain SQL, the store is mounted through the kernel, and
//! independent tools read the result.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

struct Lib {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    music: std::path::PathBuf,
    db: std::path::PathBuf,
}

fn library() -> Lib {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let music = root.join("music");
    let cover = root.join("cover.png");
    make_png(&cover);
    make_flac(
        &music.join("a/one.flac"),
        2.0,
        440,
        &[
            ("title", "One"),
            ("artist", "Ann"),
            ("album_artist", "Ann"),
            ("album", "First"),
            ("track", "1"),
        ],
        Some(&cover),
    );
    make_flac(
        &music.join("a/two.flac"),
        1.5,
        550,
        &[
            ("title", "Two"),
            ("artist", "Ann"),
            ("album_artist", "Ann"),
            ("album", "First"),
            ("track", "2"),
        ],
        None,
    );
    make_flac(
        &music.join("b/c/three.flac"),
        1.0,
        660,
        &[("title", "Three"), ("album", "Loose")],
        None,
    );
    let db = root.join("store.db");
    Lib {
        _tmp: tmp,
        root,
        music,
        db,
    }
}

fn scan(l: &Lib) {
    let out = musefs(&[
        "scan",
        "--db",
        l.db.to_str().unwrap(),
        l.music.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 added"));
}

fn originals(l: &Lib) -> Vec<(std::path::PathBuf, String)> {
    ["a/one.flac", "a/two.flac", "b/c/three.flac"]
        .iter()
        .map(|p| {
            let p = l.music.join(p);
            let h = sha256_file(&p);
            (p, h)
        })
        .collect()
}

#[test]
fn retagged_flac_through_the_kernel() {
    require("metaflac");
    let l = library();
    let before = originals(&l);
    scan(&l);
    let one = l.music.join("a/one.flac");
    sql(
        &l.db,
        &format!(
            "UPDATE tags SET value = 'Uno (edited)' WHERE key = 'title' AND track_id = \
             (SELECT id FROM tracks WHERE path = '{}');\
             INSERT INTO tags(track_id, key, ordinal, value) SELECT id, 'genre', 0, 'Jazz' \
             FROM tracks WHERE path = '{0}';\
             INSERT INTO tags(track_id, key, ordinal, value) SELECT id, 'genre', 1, 'Bop' \
             FROM tracks WHERE path = '{0}';",
            one.display()
        ),
    );
    let mnt = l.root.join("mnt");
    let mut m = Mount::start(&l.db, &mnt, &[]);

    // The tree follows the default template.
    assert_eq!(
        list_files(&mnt),
        vec![
            "Ann/First/1 - Uno (edited).flac",
            "Ann/First/2 - Two.flac",
            "Unknown/Loose/Unknown - Three.flac",
        ]
    );
    let served = mnt.join("Ann/First/1 - Uno (edited).flac");
    let tags = metaflac_tags(&served);
    for want in [
        "TITLE=Uno (edited)",
        "GENRE=Jazz",
        "GENRE=Bop",
        "ARTIST=Ann",
        "TRACKNUMBER=1",
    ] {
        assert!(
            tags.contains(&want.to_string()),
            "{want} missing from {tags:?}"
        );
    }
    assert!(!tags.iter().any(|t| t == "TITLE=One"));
    // The picture survives, byte for byte.
    let pic = run(std::process::Command::new("metaflac")
        .arg("--export-picture-to=-")
        .arg(&served))
    .stdout;
    assert_eq!(pic, std::fs::read(l.root.join("cover.png")).unwrap());
    // STREAMINFO is kept (metaflac agrees on sample counts and MD5).
    for f in [
        "--show-total-samples",
        "--show-md5sum",
        "--show-sample-rate",
    ] {
        let a = run(std::process::Command::new("metaflac").arg(f).arg(&served)).stdout;
        let b = run(std::process::Command::new("metaflac").arg(f).arg(&one)).stdout;
        assert_eq!(a, b, "{f}");
    }
    // Audio decodes identically, for every file.
    for (orig, served) in [
        (one.clone(), served.clone()),
        (
            l.music.join("a/two.flac"),
            mnt.join("Ann/First/2 - Two.flac"),
        ),
        (
            l.music.join("b/c/three.flac"),
            mnt.join("Unknown/Loose/Unknown - Three.flac"),
        ),
    ] {
        assert_eq!(pcm_hash(&orig), pcm_hash(&served), "{}", served.display());
    }
    // flac's own decoder verifies the MD5 of the decoded audio.
    require("flac");
    run(std::process::Command::new("flac")
        .args(["-t", "-s"])
        .arg(&served));

    assert_eq!(m.stop().code(), Some(0), "{}", m.log_text());
    assert!(!is_mounted(&mnt));
    // The originals were never touched.
    for (p, h) in before {
        assert_eq!(sha256_file(&p), h, "{} changed", p.display());
    }
}

#[test]
fn edits_while_mounted_become_visible() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let _m = Mount::start(&l.db, &mnt, &[]);
    let old = mnt.join("Ann/First/2 - Two.flac");
    assert!(old.exists());
    sql(
        &l.db,
        "UPDATE tags SET value = 'Deux' WHERE key = 'title' AND value = 'Two'",
    );
    let new = mnt.join("Ann/First/2 - Deux.flac");
    assert!(
        wait_until(Duration::from_secs(2), || new.exists() && !old.exists()),
        "renamed file did not appear: {:?}",
        list_files(&mnt)
    );
    assert!(metaflac_tags(&new).contains(&"TITLE=Deux".to_string()));
}

#[test]
fn structure_only_serves_original_bytes() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let _m = Mount::start(
        &l.db,
        &mnt,
        &["--mode", "structure-only", "--template", "$album/$title"],
    );
    assert_eq!(
        list_files(&mnt),
        vec!["First/One.flac", "First/Two.flac", "Loose/Three.flac"]
    );
    assert_eq!(
        sha256_file(&mnt.join("First/One.flac")),
        sha256_file(&l.music.join("a/one.flac"))
    );
}

#[test]
fn changed_backing_file_gives_eio_not_stale_bytes() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let _m = Mount::start(&l.db, &mnt, &[]);
    let served = mnt.join("Ann/First/2 - Two.flac");
    std::fs::read(&served).unwrap();
    // Append to the backing file behind musefs' back.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(l.music.join("a/two.flac"))
        .unwrap();
    f.write_all(b"junk").unwrap();
    drop(f);
    // Drop the kernel's cached pages so the read reaches musefs.
    run(std::process::Command::new("sh")
        .arg("-c")
        .arg("echo 1 > /proc/sys/vm/drop_caches"));
    let err = std::fs::read(&served).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
}

fn fails_with(args: &[&str], needle: &str) {
    let out = musefs(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(err.trim().lines().count(), 1, "not a one-line error: {err}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let db = d.join("s.db");
    let dbs = db.to_str().unwrap();
    fails_with(
        &["scan", "--db", dbs, "/nonexistent/music"],
        "/nonexistent/music: no such file",
    );
    fails_with(
        &["mount", "--db", dbs, d.join("missing").to_str().unwrap()],
        "does not exist",
    );
    // A real store, but the mountpoint is missing.
    std::fs::create_dir(d.join("m")).unwrap();
    make_flac(&d.join("m/x.flac"), 0.5, 300, &[("title", "x")], None);
    assert!(
        musefs(&["scan", "--db", dbs, d.join("m").to_str().unwrap()])
            .status
            .success()
    );
    fails_with(
        &["mount", "--db", dbs, d.join("nowhere").to_str().unwrap()],
        "mountpoint",
    );
    // Not a musefs store.
    let other = d.join("other.db");
    sql(&other, "CREATE TABLE x(y);");
    fails_with(
        &[
            "mount",
            "--db",
            other.to_str().unwrap(),
            d.to_str().unwrap(),
        ],
        "not a musefs store",
    );
    fails_with(
        &[
            "scan",
            "--db",
            other.to_str().unwrap(),
            d.join("m").to_str().unwrap(),
        ],
        "not a musefs store",
    );
    // Garbage.
    let junk = d.join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    fails_with(
        &["mount", "--db", junk.to_str().unwrap(), d.to_str().unwrap()],
        "corrupt",
    );
    // A bad template points at the column.
    fails_with(
        &[
            "mount",
            "--db",
            dbs,
            "--template",
            "${oops",
            d.to_str().unwrap(),
        ],
        "column 1",
    );
    let _ = Path::new(dbs);
}

#[test]
fn vacuum_refuses_while_mounted() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let mut m = Mount::start(&l.db, &mnt, &[]);
    let out = musefs(&["vacuum", "--db", l.db.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(m.stop().code(), Some(0));
    let out = musefs(&["vacuum", "--db", l.db.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dry_run_lists_what_the_mount_shows() {
    let l = library();
    scan(&l);
    let tmpl = "%first{$albumartist}/$albumartist/[$date - ]$album/%pad{2,$tracknumber} $title";
    let out = musefs(&[
        "mount",
        "--db",
        l.db.to_str().unwrap(),
        "--template",
        tmpl,
        "--dry-run",
        "--limit",
        "0",
        "/nonexistent-mountpoint-is-fine-for-a-dry-run",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("3 tracks in "));
    let listed: Vec<String> = lines.map(str::to_owned).collect();
    let mnt = l.root.join("mnt");
    let _m = Mount::start(&l.db, &mnt, &["--template", tmpl]);
    assert_eq!(list_files(&mnt), listed);
    assert!(
        listed.contains(&"A/Ann/First/01 One.flac".to_string()),
        "{listed:?}"
    );
}

#[test]
fn ownership_modes_and_other_users() {
    require("setpriv");
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    // The temp dir must be traversable by the second user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(l.root.as_path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |path: &Path| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
            .arg(path)
            .output()
            .unwrap()
    };
    let file = mnt.join("Ann/First/2 - Two.flac");
    {
        let _m = Mount::start(
            &l.db,
            &mnt,
            &[
                "--allow-other",
                "--owner",
                "0",
                "--group",
                "0",
                "--file-mode",
                "0440",
                "--dir-mode",
                "0555",
            ],
        );
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o440);
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
        let denied = as_nobody(&file);
        assert!(!denied.status.success(), "nobody read a 0440 root file");
        assert!(String::from_utf8_lossy(&denied.stderr).contains("Permission denied"));
    }
    {
        let _m = Mount::start(&l.db, &mnt, &["--allow-other", "--file-mode", "0444"]);
        let ok = as_nobody(&file);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(ok.stdout, std::fs::read(&file).unwrap());
        // statfs answers with the file count.
        let out = run(std::process::Command::new("stat")
            .args(["-f", "-c", "%c %l"])
            .arg(&mnt));
        let text = String::from_utf8(out.stdout).unwrap();
        // 3 files and 5 directories (the root, Ann, Ann/First, Unknown, Unknown/Loose).
        assert!(text.starts_with("8 255"), "{text}");
    }
}

#[test]
fn mtime_follows_tag_edits() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let _m = Mount::start(&l.db, &mnt, &[]);
    let served = mnt.join("Ann/First/2 - Two.flac");
    let backing = std::fs::metadata(l.music.join("a/two.flac"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        std::fs::metadata(&served).unwrap().modified().unwrap(),
        backing
    );
    std::thread::sleep(Duration::from_millis(20));
    sql(
        &l.db,
        "INSERT INTO tags(track_id, key, ordinal, value) SELECT id, 'mood', 0, 'calm' FROM tracks WHERE path LIKE '%two.flac'",
    );
    assert!(wait_until(Duration::from_secs(2), || {
        std::fs::metadata(&served).unwrap().modified().unwrap() > backing
    }));
}

fn drop_caches() {
    std::fs::write("/proc/sys/vm/drop_caches", "1").unwrap();
}

#[test]
fn every_backing_change_gives_eio_never_stale_bytes() {
    use std::os::unix::fs::FileExt;
    type Mutation = fn(&Path);
    let cases: [(&str, Mutation); 5] = [
        ("append", |p| {
            let f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
            f.write_all_at(b"junk", std::fs::metadata(p).unwrap().len())
                .unwrap();
        }),
        ("truncate", |p| {
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(std::fs::metadata(p).unwrap().len() / 2).unwrap();
        }),
        ("same-size rewrite, mtime restored", |p| {
            let meta = std::fs::metadata(p).unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.write_all_at(b"\x00\x01\x02\x03", meta.len() - 100)
                .unwrap();
            f.set_modified(meta.modified().unwrap()).unwrap();
        }),
        ("delete", |p| std::fs::remove_file(p).unwrap()),
        ("replace by rename", |p| {
            let tmp = p.with_extension("new");
            std::fs::copy(p, &tmp).unwrap();
            std::fs::rename(&tmp, p).unwrap();
        }),
    ];
    for (what, mutate) in cases {
        let l = library();
        scan(&l);
        let mnt = l.root.join("mnt");
        let _m = Mount::start(&l.db, &mnt, &[]);
        let served = mnt.join("Ann/First/2 - Two.flac");
        let held = std::fs::File::open(&served).unwrap();
        let mut buf = vec![0u8; 4096];
        held.read_at(&mut buf, 0).unwrap();
        mutate(&l.music.join("a/two.flac"));
        drop_caches();
        // A fresh open and a handle held across the change both fail.
        let err = std::fs::read(&served).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EIO),
            "{what}: open+read: {err}"
        );
        let err = held.read_at(&mut buf, 8192).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EIO),
            "{what}: held handle: {err}"
        );
    }
}

#[test]
fn metrics_file_counts_requests() {
    let l = library();
    scan(&l);
    let mnt = l.root.join("mnt");
    let prom = l.root.join("musefs.prom");
    let _m = Mount::start(&l.db, &mnt, &["--metrics-file", prom.to_str().unwrap()]);
    let data = std::fs::read(mnt.join("Ann/First/2 - Two.flac")).unwrap();
    let value = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(12), || {
            let t = std::fs::read_to_string(&prom).unwrap_or_default();
            value(&t, "musefs_read_bytes_total") >= data.len() as u64
        }),
        "{}",
        std::fs::read_to_string(&prom).unwrap_or_default()
    );
    let t = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(value(&t, "musefs_tracks"), 3);
    assert!(value(&t, "musefs_opens_total") >= 1);
    assert!(value(&t, "musefs_resident_memory_bytes") > 0);
    assert!(t.contains("musefs_errors_total{errno=\"EIO\"} 0"));
}
