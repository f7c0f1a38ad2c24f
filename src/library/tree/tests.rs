use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn clashes_are_numbered_by_track_id() {
    let mut t = Tree::new();
    t.upsert(5, &s(&["A", "B"]), "01 - T", "flac");
    t.upsert(2, &s(&["A", "B"]), "01 - T", "flac");
    t.upsert(9, &s(&["A", "B"]), "01 - T", "flac");
    assert_eq!(
        t.files(),
        vec![
            ("A/B/01 - T (2).flac".to_string(), 5),
            ("A/B/01 - T (3).flac".to_string(), 9),
            ("A/B/01 - T.flac".to_string(), 2),
        ]
    );
    assert_eq!(t.file_count(), 3);
    assert_eq!(t.dir_count(), 3);
    let root = t.node(ROOT_INO).unwrap();
    let a = t.child(root, "A").unwrap();
    let b = t.child(a, "B").unwrap();
    let f = t.child(b, "01 - T (2).flac").unwrap();
    assert_eq!(f.ino, file_ino(5));
    assert_eq!(t.path_of(f), "A/B/01 - T (2).flac");
    t.remove(2);
    assert_eq!(
        t.files(),
        vec![
            ("A/B/01 - T (2).flac".to_string(), 9),
            ("A/B/01 - T.flac".to_string(), 5)
        ]
    );
}

#[test]
fn dir_inodes_are_stable_and_dot_components_dropped() {
    let build = || {
        let mut t = Tree::new();
        t.upsert(9, &s(&["X", ".", "..", "", "Y/Z"]), "t", "mp3");
        t
    };
    let (t1, t2) = (build(), build());
    assert_eq!(t1.files(), vec![("X/Y_Z/t.mp3".to_string(), 9)]);
    let x1 = t1.child(t1.node(ROOT_INO).unwrap(), "X").unwrap().ino;
    let x2 = t2.child(t2.node(ROOT_INO).unwrap(), "X").unwrap().ino;
    assert_eq!(x1, x2);
    assert_ne!(x1 & DIR_BIT, 0);
}

#[test]
fn empty_directories_are_pruned_and_reported() {
    let mut t = Tree::new();
    t.upsert(1, &s(&["A", "B"]), "x", "flac");
    t.take_gone();
    t.remove(1);
    assert_eq!(t.dir_count(), 1);
    let gone: BTreeSet<String> = t
        .take_gone()
        .into_iter()
        .map(|g| g.name.to_string())
        .collect();
    assert_eq!(
        gone,
        ["A", "B", "x.flac"].iter().map(|x| x.to_string()).collect()
    );
}

#[test]
fn long_names_keep_extension_on_char_boundary() {
    let stem = "é".repeat(300);
    let n = file_name(&stem, " (2)", "flac");
    assert!(n.len() <= NAME_MAX);
    assert!(n.ends_with(" (2).flac"));
}

#[test]
fn files_avoid_directory_names_and_suffix_lookalikes() {
    let mut t = Tree::new();
    t.upsert(1, &s(&[]), "x", "flac");
    t.upsert(2, &s(&[]), "x", "flac");
    // A track literally named "x (2)" takes its base name; the clash moves on.
    t.upsert(3, &s(&[]), "x (2)", "flac");
    let names: Vec<String> = t.files().into_iter().map(|f| f.0).collect();
    assert_eq!(names, vec!["x (2).flac", "x (3).flac", "x.flac"]);
    // A directory named like a file wins the name.
    t.upsert(4, &s(&["x.flac"]), "inner", "flac");
    let files = t.files();
    assert!(files.contains(&("x.flac/inner.flac".to_string(), 4)));
    assert!(!files.iter().any(|(p, _)| p == "x.flac"));
}

/// The naming rule, computed from scratch with plain maps.
fn reference(tracks: &BTreeMap<i64, (Vec<String>, String)>) -> Vec<(String, i64)> {
    let mut dirs: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut groups: BTreeMap<(Vec<String>, String), Vec<i64>> = BTreeMap::new();
    for (&id, (d, stem)) in tracks {
        let d = clean_dirs(d);
        for i in 1..=d.len() {
            dirs.insert(d[..i].to_vec());
        }
        groups
            .entry((d, file_name(stem, "", "flac")))
            .or_default()
            .push(id);
    }
    let mut out = Vec::new();
    for ((d, base), ids) in &groups {
        let reserved = |name: &str| {
            (name != base && groups.contains_key(&(d.clone(), name.to_string()))) || {
                let mut p = d.clone();
                p.push(name.to_string());
                dirs.contains(&p)
            }
        };
        let stem = &base[..base.len() - 5];
        let mut n = 1;
        for &id in ids {
            let name = loop {
                let c = if n == 1 {
                    base.clone()
                } else {
                    file_name(stem, &format!(" ({n})"), "flac")
                };
                n += 1;
                if !reserved(&c) {
                    break c;
                }
            };
            let mut p = d.clone();
            p.push(name);
            out.push((p.join("/"), id));
        }
    }
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Put(i64, Vec<String>, String),
    Remove(i64),
}

fn comp() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("A".to_string()),
        Just("B".to_string()),
        Just("x.flac".to_string()),
        Just(".".to_string()),
        Just("".to_string()),
    ]
}

fn stem() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x".to_string()),
        Just("x (2)".to_string()),
        Just("x (3)".to_string()),
        Just("y".to_string()),
        Just("A".to_string()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (1i64..12, proptest::collection::vec(comp(), 0..3), stem())
            .prop_map(|(i, d, s)| Edit::Put(i, d, s)),
        1 => (1i64..12).prop_map(Edit::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn incremental_equals_full_rebuild_and_reference(edits in proptest::collection::vec(edit(), 1..40)) {
        let mut t = Tree::new();
        let mut model: BTreeMap<i64, (Vec<String>, String)> = BTreeMap::new();
        for e in &edits {
            match e {
                Edit::Put(id, d, s) => { t.upsert(*id, d, s, "flac"); model.insert(*id, (d.clone(), s.clone())); }
                Edit::Remove(id) => { t.remove(*id); model.remove(id); }
            }
        }
        let mut fresh = Tree::new();
        for (id, (d, s)) in model.iter().rev() {
            fresh.upsert(*id, d, s, "flac");
        }
        prop_assert_eq!(t.files(), fresh.files());
        prop_assert_eq!(t.files(), reference(&model));
        prop_assert_eq!(t.dir_count(), fresh.dir_count());
        prop_assert_eq!(t.file_count(), model.len());
        // Every node is reachable through lookups by name, and names are unique per dir.
        for (path, id) in t.files() {
            let mut n = t.node(ROOT_INO).unwrap();
            for part in path.split('/') {
                n = t.child(n, part).expect("reachable");
            }
            prop_assert_eq!(n.ino, file_ino(id));
        }
    }
}

#[test]
fn members_stay_sorted_and_inline_when_single() {
    let mut m = Members::default();
    assert!(m.is_empty());
    m.insert(5);
    assert!(matches!(m, Members::One(5)));
    m.insert(5);
    assert_eq!(m.as_slice(), &[5]);
    m.insert(2);
    m.insert(9);
    m.insert(7);
    assert_eq!(m.as_slice(), &[2, 5, 7, 9]);
    m.remove(5);
    m.remove(42);
    assert_eq!(m.as_slice(), &[2, 7, 9]);
    m.remove(2);
    m.remove(9);
    assert!(matches!(m, Members::One(7)));
    m.remove(7);
    assert!(m.is_empty());
}
