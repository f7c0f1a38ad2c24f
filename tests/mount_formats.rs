//! Every container family through a real mount: files made by ffmpeg, a
//! title edited with SQL, then mutagen (tags), ffmpeg (decoded PCM) and
//! random preads (against the whole served file) check what the kernel serves.

mod common;
use common::*;
use std::os::unix::fs::FileExt;
use std::process::Command;

fn encode(path: &std::path::Path, codec: &[&str]) {
    let mut c = Command::new("ffmpeg");
    c.args([
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1.5",
    ])
    .args(codec)
    .args([
        "-metadata",
        "title=Original",
        "-metadata",
        "album=Formats",
        "-metadata",
        "artist=Enc",
    ])
    .arg(path);
    run(&mut c);
}

fn mutagen_title(path: &std::path::Path) -> String {
    require("python3");
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, mutagen\n\
         f = mutagen.File(sys.argv[1], easy=True)\n\
         t = f.tags or {}\n\
         v = t['TIT2'].text if 'TIT2' in t else t.get('title', ['<none>'])\n\
         print(v[0])",
        )
        .arg(path));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn every_format_is_retagged_through_the_kernel() {
    require("ffmpeg");
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let files: &[(&str, &[&str], &str)] = &[
        (
            "a.mp3",
            &["-c:a", "libmp3lame", "-id3v2_version", "3"],
            "mp3",
        ),
        ("b.m4a", &["-c:a", "aac"], "m4a"),
        ("c.opus", &["-c:a", "libopus"], "opus"),
        ("d.ogg", &["-c:a", "libvorbis"], "ogg"),
        ("e.wav", &["-c:a", "pcm_s16le"], "wav"),
        ("f.flac", &["-c:a", "flac"], "flac"),
        ("g.oga", &["-c:a", "flac", "-f", "ogg"], "ogg"),
    ];
    for (name, codec, _) in files {
        encode(&music.join(name), codec);
    }
    let before: Vec<String> = files
        .iter()
        .map(|f| sha256_file(&music.join(f.0)))
        .collect();
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
    sql(
        &db,
        "UPDATE tags SET value = 'Edited ' || (SELECT format FROM tracks t WHERE t.id = track_id) WHERE key = 'title'",
    );
    let mnt = tmp.path().join("mnt");
    let _m = Mount::start(&db, &mnt, &["--template", "$album/%lower{$title}"]);
    let served = list_files(&mnt);
    assert_eq!(served.len(), files.len(), "{served:?}");
    for (i, (name, _, ext)) in files.iter().enumerate() {
        let orig = music.join(name);
        let fmt = sql(
            &db,
            &format!("SELECT format FROM tracks WHERE path LIKE '%/{name}'"),
        );
        let fmt = fmt.trim();
        let want_title = format!("Edited {fmt}");
        let rel = served
            .iter()
            .find(|p| p.ends_with(&format!("{}.{ext}", want_title.to_lowercase())))
            .unwrap_or_else(|| panic!("{name}: no served file in {served:?}"));
        let path = mnt.join(rel);
        assert_eq!(mutagen_title(&path), want_title, "{name}");
        assert_eq!(
            pcm_hash(&path),
            pcm_hash(&orig),
            "{name}: decoded audio differs"
        );
        // Random preads equal slices of the whole served file.
        let whole = std::fs::read(&path).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64 ^ i as u64;
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = (x as usize) % whole.len();
            let len = 1 + (x >> 32) as usize % 9000;
            let mut buf = vec![0u8; len];
            let n = f.read_at(&mut buf, off as u64).unwrap();
            assert_eq!(
                &buf[..n],
                &whole[off..(off + len).min(whole.len())],
                "{name} @{off}"
            );
        }
        assert_eq!(
            sha256_file(&orig),
            before[i],
            "{name}: backing file changed"
        );
    }
}
