//! In-process scanner tests on hand-built FLAC files (the integration tests
//! in tests/scan.rs use ffmpeg fixtures and the real binary).

use super::*;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

fn ids_by_path(store: &Store) -> Result<HashMap<String, i64>, StoreError> {
    Ok(store
        .known_stamps()?
        .into_iter()
        .map(|(p, (id, _))| (p, id))
        .collect())
}

/// A minimal FLAC file: STREAMINFO, a Vorbis comment, optionally a picture
/// of `pic` bytes, then `audio` as the frames.
fn flac(title: &str, pic: usize, audio: &[u8]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u8, last: bool, body: &[u8]) {
        out.push(kind | if last { 0x80 } else { 0 });
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(body);
    }
    let mut out = b"fLaC".to_vec();
    block(&mut out, 0, false, &[0x11; 34]);
    let mut vc = Vec::new();
    vc.extend_from_slice(&4u32.to_le_bytes());
    vc.extend_from_slice(b"test");
    vc.extend_from_slice(&1u32.to_le_bytes());
    let c = format!("TITLE={title}");
    vc.extend_from_slice(&(c.len() as u32).to_le_bytes());
    vc.extend_from_slice(c.as_bytes());
    block(&mut out, 4, pic == 0, &vc);
    if pic > 0 {
        let mut p = Vec::new();
        p.extend_from_slice(&3u32.to_be_bytes());
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(b"image/png");
        p.extend_from_slice(&0u32.to_be_bytes());
        for v in [1u32, 1, 24, 0, pic as u32] {
            p.extend_from_slice(&v.to_be_bytes());
        }
        p.extend(std::iter::repeat_n(0xab, pic));
        block(&mut out, 6, true, &p);
    }
    out.extend_from_slice(audio);
    out
}

fn audio(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn setup(n: usize, pic: usize) -> (tempfile::TempDir, PathBuf, Store) {
    let d = tempfile::tempdir().unwrap();
    let music = d.path().join("music");
    for i in 0..n {
        let dir = music.join(format!("d{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{i:03}.flac")),
            flac(&format!("T{i}"), pic, &audio(i as u32, 3000 + i * 50)),
        )
        .unwrap();
    }
    let store = Store::open_rw(&d.path().join("s.db")).unwrap();
    (d, music, store)
}

fn paths_by_id(store: &Store) -> Vec<String> {
    let mut v: Vec<(i64, String)> = ids_by_path(store)
        .unwrap()
        .into_iter()
        .map(|(p, id)| (id, p))
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

#[test]
fn large_pictures_pass_the_memory_budget_in_order() {
    // 24 files with 3 MiB pictures: 72 MiB of results through a 64 MiB queue.
    let (_d, music, store) = setup(24, 3 << 20);
    let stop = AtomicBool::new(false);
    let mut opts = ScanOptions::new(vec![music]);
    opts.jobs = 4;
    opts.batch = 7;
    let r = scan(&store, &opts, &stop, |_| {}).unwrap();
    assert_eq!((r.added, r.failed.len()), (24, 0), "{r:?}");
    let ids = paths_by_id(&store);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ids follow path order");
    let art: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM art", [], |r| r.get(0))
        .unwrap();
    assert_eq!(art, 1, "one picture, deduplicated");
}

#[test]
fn stop_commits_a_prefix_and_the_next_scan_continues() {
    let (_d, music, store) = setup(60, 0);
    let stop = AtomicBool::new(false);
    let mut opts = ScanOptions::new(vec![music]);
    opts.batch = 4;
    let r = scan(&store, &opts, &stop, |p| {
        if p.phase == Phase::Probing && p.done >= 10 {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(r.interrupted);
    let first = paths_by_id(&store);
    assert!(first.len() >= 10 && first.len() < 60, "{}", first.len());
    stop.store(false, Ordering::Relaxed);
    let r = scan(&store, &opts, &stop, |_| {}).unwrap();
    assert!(!r.interrupted);
    assert_eq!(r.added + first.len() as u64, 60);
    assert_eq!(r.unchanged, first.len() as u64);
    let all = paths_by_id(&store);
    assert_eq!(&all[..first.len()], &first[..]);
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn moved_file_reattaches_and_copies_do_not() {
    let (d, music, store) = setup(3, 100);
    let stop = AtomicBool::new(false);
    let opts = ScanOptions::new(vec![music.clone()]);
    scan(&store, &opts, &stop, |_| {}).unwrap();
    let old = music.join("d1/001.flac");
    let id = ids_by_path(&store).unwrap()[old.to_str().unwrap()];
    let new = music.join("d2/moved.flac");
    std::fs::rename(&old, &new).unwrap();
    std::fs::copy(music.join("d0/000.flac"), music.join("d0/copy.flac")).unwrap();
    let r = scan(&store, &opts, &stop, |_| {}).unwrap();
    assert_eq!((r.moved, r.added, r.unchanged), (1, 1, 2), "{r:?}");
    let ids = ids_by_path(&store).unwrap();
    assert_eq!(ids[new.to_str().unwrap()], id);
    assert_eq!(ids.len(), 4);
    // Gone files below the roots are counted.
    std::fs::remove_file(&new).unwrap();
    let r = scan(&store, &opts, &stop, |_| {}).unwrap();
    assert_eq!(r.missing, 1);
    drop(d);
}

#[test]
fn a_key_the_store_cannot_hold_is_dropped_not_fatal() {
    let (_d, music, store) = setup(2, 0);
    let mut f = flac("x", 0, &audio(99, 5000));
    let at = f.windows(5).position(|w| w == b"TITLE").unwrap();
    f[at] = 0; // key "\0ITLE"
    std::fs::write(music.join("d0/nul.flac"), f).unwrap();
    let stop = AtomicBool::new(false);
    let r = scan(&store, &ScanOptions::new(vec![music]), &stop, |_| {}).unwrap();
    assert_eq!((r.added, r.failed.len()), (3, 0), "{r:?}");
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn scanned_rows_are_clean_and_later_tag_inserts_still_bump() {
    let (_d, music, store) = setup(2, 10);
    let stop = AtomicBool::new(false);
    scan(&store, &ScanOptions::new(vec![music]), &stop, |_| {}).unwrap();
    let q = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    // One log entry per new track, no bump for the tags it was built with.
    assert_eq!(q("SELECT count(*) FROM changes"), 2);
    assert_eq!(q("SELECT max(content_version) FROM tracks"), 1);
    assert_eq!(q("SELECT min(tags_edited_ns) FROM tracks"), 0);
    assert_eq!(q("SELECT max(tags_edited_ns) FROM tracks"), 0);
    let w = store.change_watermark().unwrap();
    store
        .conn()
        .execute_batch(
            "INSERT INTO tags(track_id, key, ordinal, value) VALUES (1, 'genre', 0, 'Jazz');
             INSERT INTO track_art(track_id, ordinal, art_id) VALUES (2, 5, 1);",
        )
        .unwrap();
    assert_eq!(q("SELECT content_version FROM tracks WHERE id = 1"), 2);
    assert_eq!(q("SELECT content_version FROM tracks WHERE id = 2"), 2);
    assert!(q("SELECT min(tags_edited_ns) FROM tracks") > 0);
    assert!(store.change_watermark().unwrap() > w);
}
