//! Core tests without a kernel: incremental refresh against full rebuilds.

use super::*;
use crate::format::{Container, Probe, Structural, Tag};
use crate::store::NewTrack;
use proptest::prelude::*;

fn probe(title: &str, album: &str) -> Probe {
    let mut si = vec![0u8; 35];
    si[0] = 0; // STREAMINFO
    Probe {
        container: Container::Flac,
        audio_offset: 100,
        audio_len: 900,
        tags: vec![Tag::text("title", title), Tag::text("album", album)],
        pictures: vec![],
        structural: vec![Structural {
            kind: "flac.block".into(),
            data: si,
        }],
    }
}

fn add(store: &Store, n: u32, title: &str, album: &str) {
    let p = probe(title, album);
    let mut w = store.writer().unwrap();
    w.upsert(
        &NewTrack {
            path: &format!("/music/{n}.flac"),
            stamp: Stamp {
                size: 1000,
                mtime_ns: 1,
                ctime_ns: 1,
                inode: u64::from(n),
            },
            probe: &p,
        },
        false,
    )
    .unwrap();
    w.commit().unwrap();
}

fn opts(db: &std::path::Path) -> Options {
    Options::new(
        db.to_owned(),
        Template::parse("$album/$title").unwrap(),
        Mode::Synthesis,
    )
}

fn view(lib: &Library) -> Vec<(String, i64, u64)> {
    let st = lib.view();
    st.tree
        .files()
        .into_iter()
        .map(|(p, id)| (p, id, st.track(id).unwrap().size))
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Title(u8, u8),
    Album(u8, u8),
    AddTag(u8, u8),
    DropTags(u8),
    Delete(u8),
    Add(u32, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0u8..8, 0u8..4).prop_map(|(t, v)| Edit::Title(t, v)),
        (0u8..8, 0u8..3).prop_map(|(t, v)| Edit::Album(t, v)),
        (0u8..8, 0u8..50).prop_map(|(t, v)| Edit::AddTag(t, v)),
        (0u8..8).prop_map(Edit::DropTags),
        (0u8..8).prop_map(Edit::Delete),
        (100u32..110, 0u8..4).prop_map(|(n, v)| Edit::Add(n, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn incremental_refresh_equals_full_rebuild(batches in proptest::collection::vec(
        proptest::collection::vec(edit(), 1..6), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let store = Store::open_rw(&db).unwrap();
        for n in 0..8 {
            add(&store, n, &format!("T{}", n % 3), "A");
        }
        let lib = Library::open(opts(&db)).unwrap();
        for batch in batches {
            for e in batch {
                let c = store.conn();
                // Edits may hit deleted tracks or existing keys: ignore those errors.
                let _ = match e {
                    Edit::Title(t, v) => c.execute(
                        "UPDATE tags SET value = ?2 WHERE key = 'title' AND track_id = ?1",
                        rusqlite::params![i64::from(t) + 1, format!("T{v}")]),
                    Edit::Album(t, v) => c.execute(
                        "UPDATE tags SET value = ?2 WHERE key = 'album' AND track_id = ?1",
                        rusqlite::params![i64::from(t) + 1, format!("Al{v}")]),
                    Edit::AddTag(t, v) => c.execute(
                        "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, 'genre', ?2, 'g')",
                        rusqlite::params![i64::from(t) + 1, i64::from(v)]),
                    Edit::DropTags(t) => c.execute("DELETE FROM tags WHERE track_id = ?1",
                        [i64::from(t) + 1]),
                    Edit::Delete(t) => c.execute("DELETE FROM tracks WHERE id = ?1",
                        [i64::from(t) + 1]),
                    Edit::Add(n, v) => { add(&store, n, &format!("T{v}"), "A"); Ok(0) }
                };
            }
            let r = lib.refresh().unwrap();
            prop_assert!(!r.full);
            let fresh = Library::open(opts(&db)).unwrap();
            prop_assert_eq!(view(&lib), view(&fresh));
        }
    }
}

#[test]
fn refresh_reports_renames_and_content_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = Store::open_rw(&db).unwrap();
    add(&store, 1, "One", "A");
    add(&store, 2, "Two", "A");
    let lib = Library::open(opts(&db)).unwrap();
    assert!(lib.refresh().unwrap().is_empty());
    store
        .conn()
        .execute(
            "UPDATE tags SET value = 'Uno' WHERE track_id = 1 AND key = 'title'",
            [],
        )
        .unwrap();
    let r = lib.refresh().unwrap();
    assert_eq!(r.tracks, 1);
    assert_eq!(r.inodes, vec![tree::file_ino(1)]);
    assert_eq!(r.gone.len(), 1);
    assert_eq!(&*r.gone[0].name, "One.flac");
    // A new template rebuilds everything and reports the old names gone.
    let mut o = opts(&db);
    o.template = Template::parse("$title").unwrap();
    let r = lib.reload(o).unwrap();
    assert!(r.full);
    assert_eq!(
        view(&lib).into_iter().map(|v| v.0).collect::<Vec<_>>(),
        vec!["Two.flac", "Uno.flac"]
    );
    assert!(r.gone.iter().any(|g| &*g.name == "A"));
}

#[test]
fn readdir_plus_lists_like_readdir_with_the_attributes_of_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = Store::open_rw(&db).unwrap();
    add(&store, 1, "One", "A");
    add(&store, 2, "Two", "A");
    add(&store, 3, "Three", "B");
    let lib = Library::open(opts(&db)).unwrap();
    for ino in [tree::ROOT_INO, lib.lookup(tree::ROOT_INO, "A").unwrap().ino] {
        let mut plain = Vec::new();
        lib.readdir(ino, 0, |next, e| {
            plain.push((next, e));
            false
        })
        .unwrap();
        let mut plus = Vec::new();
        lib.readdir_plus(ino, 0, |next, e, a| {
            plus.push((next, e, *a));
            false
        })
        .unwrap();
        assert_eq!(plain.len(), plus.len());
        assert!(plain.len() >= 4, "dots and at least two children");
        for ((n1, e1), (n2, e2, a)) in plain.iter().zip(&plus) {
            assert_eq!((n1, e1), (n2, e2));
            assert_eq!(a.ino, e2.ino);
            if e2.name != "." && e2.name != ".." {
                assert_eq!(*a, lib.lookup(ino, &e2.name).unwrap());
            } else {
                assert_eq!(*a, lib.getattr(e2.ino).unwrap());
            }
        }
        // Resuming from an offset skips exactly the entries already sent.
        let mut rest = Vec::new();
        lib.readdir_plus(ino, 3, |next, e, _| {
            rest.push((next, e));
            false
        })
        .unwrap();
        assert_eq!(rest.len(), plain.len() - 3);
        assert_eq!(rest[0], plain[3]);
    }
    assert!(matches!(
        lib.readdir_plus(tree::file_ino(1), 0, |_, _, _| false),
        Err(LibError::NotADirectory)
    ));
}
