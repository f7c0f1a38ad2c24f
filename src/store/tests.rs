use super::*;
use crate::format::{Container, Picture, Probe, Structural, Tag};

fn probe_with(tags: &[(&str, &str)]) -> Probe {
    Probe {
        container: Container::Flac,
        audio_offset: 100,
        audio_len: 900,
        tags: tags.iter().map(|(k, v)| Tag::text(k, v)).collect(),
        pictures: vec![Picture {
            picture_type: 3,
            mime: "image/png".into(),
            description: "front".into(),
            width: 1,
            height: 1,
            depth: 24,
            colors: 0,
            data: b"PNG".to_vec(),
        }],
        structural: vec![Structural {
            kind: "flac.block".into(),
            data: vec![0; 35],
        }],
    }
}

fn stamp() -> Stamp {
    Stamp {
        size: 1000,
        mtime_ns: 1,
        ctime_ns: 2,
        inode: 3,
    }
}

fn new_store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open_rw(&d.path().join("s.db")).unwrap();
    (d, s)
}

fn add(s: &Store, path: &str, tags: &[(&str, &str)]) -> i64 {
    let p = probe_with(tags);
    let mut w = s.writer().unwrap();
    w.upsert(
        &NewTrack {
            path,
            stamp: stamp(),
            probe: &p,
        },
        false,
    )
    .unwrap();
    w.commit().unwrap();
    s.track_id_by_path(path).unwrap().unwrap()
}

fn version(s: &Store, id: i64) -> i64 {
    s.conn()
        .query_row(
            "SELECT content_version FROM tracks WHERE id=?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn tag_and_art_edits_bump_version_and_log_changes() {
    let (_d, s) = new_store();
    let id = add(&s, "/m/a.flac", &[("title", "A")]);
    let v0 = version(&s, id);
    let w0 = s.change_watermark().unwrap();
    s.conn()
        .execute(
            "UPDATE tags SET value='B' WHERE track_id=?1 AND key='title'",
            [id],
        )
        .unwrap();
    assert!(version(&s, id) > v0);
    assert!(s.change_watermark().unwrap() > w0);
    let v1 = version(&s, id);
    s.conn()
        .execute("DELETE FROM track_art WHERE track_id=?1", [id])
        .unwrap();
    assert!(version(&s, id) > v1);
    let logged: i64 = s
        .conn()
        .query_row(
            "SELECT count(*) FROM changes WHERE seq > ?1 AND track_id = ?2",
            [w0, id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(logged >= 1);
}

#[test]
fn checks_reject_malformed_rows() {
    let (_d, s) = new_store();
    let id = add(&s, "/m/a.flac", &[]);
    let c = s.conn();
    assert!(
        c.execute(
            "INSERT INTO tags(track_id,key,value) VALUES (?1,'Title','x')",
            [id]
        )
        .is_err()
    );
    assert!(
        c.execute(
            "INSERT INTO tags(track_id,key,value) VALUES (?1,'','x')",
            [id]
        )
        .is_err()
    );
    assert!(
        c.execute(
            "INSERT INTO tags(track_id,key,value) VALUES (999,'title','x')",
            []
        )
        .is_err()
    );
    assert!(
        c.execute("UPDATE tracks SET audio_length = 5000 WHERE id=?1", [id])
            .is_err()
    );
    assert!(
        c.execute("UPDATE tracks SET format = 'aiff' WHERE id=?1", [id])
            .is_err()
    );
    assert!(c.execute("UPDATE art SET mime = 'image/gif'", []).is_err());
    assert!(
        c.execute(
            "INSERT INTO track_art(track_id,ordinal,art_id,picture_type) VALUES (?1,5,1,99)",
            [id]
        )
        .is_err()
    );
}

#[test]
fn art_is_deduplicated() {
    let (_d, s) = new_store();
    add(&s, "/m/a.flac", &[]);
    add(&s, "/m/b.flac", &[]);
    let n: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM art", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn rescan_keeps_curated_tags_unless_forced() {
    let (_d, s) = new_store();
    let id = add(&s, "/m/a.flac", &[("title", "Orig")]);
    s.conn()
        .execute("UPDATE tags SET value='Curated' WHERE track_id=?1", [id])
        .unwrap();
    let p = probe_with(&[("title", "Orig")]);
    let mut st = stamp();
    st.mtime_ns = 99;
    for (force, want) in [(false, "Curated"), (true, "Orig")] {
        let mut w = s.writer().unwrap();
        w.upsert(
            &NewTrack {
                path: "/m/a.flac",
                stamp: st,
                probe: &p,
            },
            force,
        )
        .unwrap();
        w.commit().unwrap();
        let v: String = s
            .conn()
            .query_row(
                "SELECT value FROM tags WHERE track_id=?1 AND key='title'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, want);
    }
}

#[test]
fn load_library_returns_rows_in_id_order() {
    let (_d, s) = new_store();
    add(&s, "/m/a.flac", &[("title", "A"), ("artist", "X")]);
    add(&s, "/m/b.flac", &[("title", "B")]);
    let rows = s.load_library(true).unwrap();
    assert_eq!(rows.tracks.len(), 2);
    assert_eq!(rows.tags[0].len(), 2);
    assert_eq!(rows.pictures[1][0].len, 3);
    assert_eq!(rows.structural[0][0].data.len(), 35);
    let d = s.track_detail(rows.tracks[1].id).unwrap().unwrap();
    assert_eq!(d.tags, vec![Tag::text("title", "B")]);
    assert_eq!(s.art_data(d.pictures[0].art_id).unwrap().unwrap(), b"PNG");
}

#[test]
fn refuses_foreign_newer_and_corrupt_files() {
    let d = tempfile::tempdir().unwrap();
    // Another program's database.
    let other = d.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    assert!(matches!(
        Store::open_ro(&other),
        Err(StoreError::NotAStore(_))
    ));
    assert!(matches!(
        Store::open_rw(&other),
        Err(StoreError::NotAStore(_))
    ));
    // A newer schema.
    let newer = d.path().join("newer.db");
    drop(Store::open_rw(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let e = Store::open_ro(&newer).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
    // Not a database at all.
    let junk = d.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    assert!(matches!(Store::open_ro(&junk), Err(StoreError::Corrupt(_))));
    // Missing.
    assert!(matches!(
        Store::open_ro(&d.path().join("missing.db")),
        Err(StoreError::NotFound(_))
    ));
}
