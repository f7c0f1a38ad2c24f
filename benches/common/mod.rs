//! Shared helpers for the benchmarks: a store of N tracks populated through
//! the library API (probe each backing file once, upsert with generated tags
//! in one transaction), which is far faster than `musefs scan` of N files.
#![allow(dead_code)]

use musefs::format::{self, Probe, Tag, TagValue};
use musefs::store::{NewTrack, Stamp, Store};
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Tracks per album and albums per artist of the generated library.
pub const PER_ALBUM: usize = 10;
pub const PER_ARTIST: usize = 10;

/// The generated tags of track `i`: artist `i / 100`, album `i / 10`.
pub fn tags_for(i: usize) -> Vec<Tag> {
    let album = i / PER_ALBUM;
    let artist = album / PER_ARTIST;
    let t = |k: &str, v: String| Tag {
        key: k.into(),
        value: TagValue::Text(v),
    };
    vec![
        t("album", format!("Album {album:06}")),
        t("albumartist", format!("Artist {artist:05}")),
        t("artist", format!("Artist {artist:05}")),
        t("date", format!("{}", 1960 + artist % 60)),
        t(
            "genre",
            ["Rock", "Jazz", "Folk", "Electronic"][artist % 4].into(),
        ),
        t("title", format!("Song number {i} of the benchmark library")),
        t("tracknumber", format!("{:02}", i % PER_ALBUM + 1)),
        t("tracktotal", format!("{PER_ALBUM}")),
    ]
}

/// Encode a small FLAC file with ffmpeg (`seconds` of white noise, so the
/// size is close to the PCM size: ~172 KiB per second).
pub fn make_flac(path: &Path, seconds: f64) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).expect("create fixture directory");
    }
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "anoisesrc=d={seconds}:c=white:r=44100:a=0.5,aformat=channel_layouts=stereo"
        ))
        .args(["-c:a", "flac", "-sample_fmt", "s16"])
        .args(["-metadata", "title=seed", "-metadata", "artist=seed"])
        .arg(path)
        .status()
        .expect("ffmpeg is required by the benchmarks");
    assert!(st.success(), "ffmpeg failed to encode {}", path.display());
}

/// Probe one backing file as the scanner would.
pub fn probe_file(path: &Path) -> (Stamp, Probe) {
    let f = musefs::library::open_backing(path.to_str().expect("utf-8 path")).expect("open");
    let stamp = Stamp::of(&f.metadata().expect("stat"));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let probe = format::probe(&mut BufReader::new(f), stamp.size, &ext).expect("probe");
    (stamp, probe)
}

/// `n` hard links (or copies when `copy`) of `src` under `dir`, 1000 per
/// sub-directory. Returns their paths.
pub fn replicate(src: &Path, dir: &Path, n: usize, copy: bool) -> Vec<PathBuf> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let sub = dir.join(format!("{:04}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&sub).expect("create corpus directory");
        }
        let p = sub.join(format!("t{i:06}.flac"));
        if !p.exists() && (copy || std::fs::hard_link(src, &p).is_err()) {
            std::fs::copy(src, &p).expect("copy corpus file");
        }
        out.push(std::path::absolute(&p).expect("absolute path"));
    }
    out
}

/// Write one track per file into the store at `db` with [`tags_for`] tags.
/// Files sharing an inode (hard links) are probed once.
pub fn populate(db: &Path, files: &[PathBuf]) {
    let store = Store::open_rw(db).expect("open store");
    let mut probes: HashMap<u64, (Stamp, Probe)> = HashMap::new();
    let mut w = store.writer().expect("write transaction");
    for (i, p) in files.iter().enumerate() {
        let ino = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).expect("stat").ino()
        };
        let (stamp, base) = probes.entry(ino).or_insert_with(|| probe_file(p));
        let mut probe = base.clone();
        probe.tags = tags_for(i);
        w.upsert(
            &NewTrack {
                path: p.to_str().expect("utf-8 path"),
                stamp: *stamp,
                probe: &probe,
            },
            true,
        )
        .expect("upsert");
    }
    w.commit().expect("commit");
}

/// A store of `n` tracks (hard links of one small FLAC) in `dir`. Each store
/// links its own copy of the seed: adding links changes the inode's ctime,
/// which would make the stamps of another store's tracks stale.
pub fn library_of(dir: &Path, n: usize) -> PathBuf {
    let seed = dir.join("seed.flac");
    if !seed.exists() {
        make_flac(&seed, 0.2);
    }
    let files_dir = dir.join(format!("files-{n}"));
    std::fs::create_dir_all(&files_dir).expect("create corpus directory");
    let own = files_dir.join("seed.flac");
    if !own.exists() {
        std::fs::copy(&seed, &own).expect("copy seed");
    }
    let files = replicate(&own, &files_dir, n, false);
    let db = dir.join(format!("store-{n}.db"));
    if !db.exists() {
        populate(&db, &files);
    }
    db
}

/// Retag one track the way an external writer would: a plain SQL UPDATE on
/// its own connection (the store's triggers log the change).
pub fn retag_on(c: &rusqlite::Connection, track_id: i64, title: &str) {
    c.busy_timeout(std::time::Duration::from_secs(5)).ok();
    let n = c
        .execute(
            "UPDATE tags SET value = ?1 WHERE track_id = ?2 AND key = 'title'",
            rusqlite::params![title, track_id],
        )
        .expect("retag");
    assert_eq!(n, 1, "track {track_id} has one title");
}

/// A FLAC file of about `bytes` bytes built by hand: the metadata blocks of
/// a small ffmpeg-encoded noise file followed by its audio frames repeated.
/// The STREAMINFO still describes the small file; musefs never decodes
/// audio (the probe reads metadata blocks only), so this is enough to
/// measure the read path. Returns the audio offset.
pub fn make_big_flac(path: &Path, bytes: u64) -> u64 {
    use std::io::Write;
    let seed = path.with_extension("seed.flac");
    make_flac(&seed, 2.0);
    let (_, probe) = probe_file(&seed);
    let data = std::fs::read(&seed).expect("read seed");
    let _ = std::fs::remove_file(&seed);
    let off = probe.audio_offset as usize;
    let (head, frames) = data.split_at(off);
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    f.write_all(head).expect("write");
    let mut written = head.len() as u64;
    while written < bytes {
        let n = (bytes - written).min(frames.len() as u64) as usize;
        f.write_all(&frames[..n]).expect("write");
        written += n as u64;
    }
    f.flush().expect("flush");
    off as u64
}
