//! The virtual directory tree.
//!
//! Inode numbers are derived, never allocated: a file's inode is its track id
//! plus one (track ids are AUTOINCREMENT, never reused), a directory's is a
//! hash of its full path with the top bit set. Both are therefore stable
//! across rebuilds and across restarts of the daemon for unchanged paths.

use std::collections::HashMap;

pub const ROOT_INO: u64 = 1;
const DIR_BIT: u64 = 1 << 63;

/// Longest name a component may have, in bytes.
pub const NAME_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Children as node indices, sorted by name.
    Dir(Vec<u32>),
    /// Index into the snapshot's track table.
    File(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub ino: u64,
    pub parent: u32,
    pub name: Box<str>,
    pub kind: NodeKind,
}

/// An immutable tree.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    by_ino: HashMap<u64, u32>,
    dirs: usize,
}

/// Inode of a file node for a track.
pub fn file_ino(track_id: i64) -> u64 {
    (track_id as u64).wrapping_add(1) & !DIR_BIT
}

fn fnv1a(parts: &[&str], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Replace `/` and control characters, cut to `max` bytes on a char boundary.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// Build a file name from a stem and extension, at most [`NAME_MAX`] bytes,
/// the extension kept. `suffix` is the clash marker (e.g. ` (2)`).
pub fn file_name(stem: &str, suffix: &str, ext: &str) -> String {
    let tail = format!("{suffix}.{ext}");
    let mut stem = sanitize(stem, NAME_MAX.saturating_sub(tail.len()));
    if stem.is_empty() || stem == "." || stem == ".." {
        stem = "_".into();
    }
    stem + &tail
}

/// Accumulates paths, then freezes into a [`Tree`].
#[derive(Debug)]
pub struct TreeBuilder {
    nodes: Vec<Node>,
    by_ino: HashMap<u64, u32>,
    /// (dir node, name) -> child node, for building.
    index: HashMap<(u32, Box<str>), u32>,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        let root = Node {
            ino: ROOT_INO,
            parent: 0,
            name: "".into(),
            kind: NodeKind::Dir(Vec::new()),
        };
        let mut by_ino = HashMap::new();
        by_ino.insert(ROOT_INO, 0);
        TreeBuilder {
            nodes: vec![root],
            by_ino,
            index: HashMap::new(),
        }
    }

    fn dir_path(&self, mut idx: u32) -> Vec<&str> {
        let mut v = Vec::new();
        while idx != 0 {
            v.push(&*self.nodes[idx as usize].name);
            idx = self.nodes[idx as usize].parent;
        }
        v.reverse();
        v
    }

    fn child_dir(&mut self, parent: u32, name: &str) -> u32 {
        // An existing directory of this name is reused; if a file holds the
        // name, the directory takes a marked name.
        let mut n = 1;
        let mut candidate = name.to_owned();
        loop {
            match self.index.get(&(parent, Box::from(candidate.as_str()))) {
                None => break,
                Some(&c) if matches!(self.nodes[c as usize].kind, NodeKind::Dir(_)) => return c,
                Some(_) => {
                    n += 1;
                    candidate = format!("{} ({n})", sanitize(name, NAME_MAX - 8));
                }
            }
        }
        let mut path = self.dir_path(parent);
        path.push(&candidate);
        let mut salt = 0;
        let ino = loop {
            let ino = fnv1a(&path, salt) | DIR_BIT;
            if ino != ROOT_INO && !self.by_ino.contains_key(&ino) {
                break ino;
            }
            salt += 1;
        };
        self.push(parent, candidate.into(), ino, NodeKind::Dir(Vec::new()))
    }

    fn push(&mut self, parent: u32, name: Box<str>, ino: u64, kind: NodeKind) -> u32 {
        let idx = self.nodes.len() as u32;
        self.nodes.push(Node {
            ino,
            parent,
            name: name.clone(),
            kind,
        });
        self.by_ino.insert(ino, idx);
        self.index.insert((parent, name), idx);
        if let NodeKind::Dir(children) = &mut self.nodes[parent as usize].kind {
            children.push(idx);
        }
        idx
    }

    /// Insert a track. `dirs` are raw directory components (sanitised here;
    /// empty, `.` and `..` are dropped), `stem` the raw file stem.
    /// Call in ascending track-id order for deterministic clash names.
    /// Returns the file's name as inserted.
    pub fn insert(
        &mut self,
        dirs: &[String],
        stem: &str,
        ext: &str,
        track_id: i64,
        track_index: u32,
    ) -> String {
        let mut cur = 0u32;
        for d in dirs {
            let s = sanitize(d, NAME_MAX);
            if s.is_empty() || s == "." || s == ".." {
                continue;
            }
            cur = self.child_dir(cur, &s);
        }
        let mut n = 1;
        let name = loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!(" ({n})")
            };
            let name = file_name(stem, &suffix, ext);
            if !self.index.contains_key(&(cur, Box::from(name.as_str()))) {
                break name;
            }
            n += 1;
        };
        let ino = file_ino(track_id);
        self.push(cur, name.clone().into(), ino, NodeKind::File(track_index));
        name
    }

    pub fn finish(mut self) -> Tree {
        let mut dirs = 0;
        let names: Vec<Box<str>> = self.nodes.iter().map(|n| n.name.clone()).collect();
        for n in &mut self.nodes {
            if let NodeKind::Dir(children) = &mut n.kind {
                dirs += 1;
                children.sort_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
                children.shrink_to_fit();
            }
        }
        Tree {
            nodes: self.nodes,
            by_ino: self.by_ino,
            dirs,
        }
    }
}

impl Tree {
    pub fn empty() -> Tree {
        TreeBuilder::new().finish()
    }

    pub fn node(&self, ino: u64) -> Option<&Node> {
        self.by_ino.get(&ino).map(|&i| &self.nodes[i as usize])
    }

    pub fn parent_ino(&self, node: &Node) -> u64 {
        self.nodes[node.parent as usize].ino
    }

    /// Find a child by name in a directory node.
    pub fn child(&self, dir: &Node, name: &str) -> Option<&Node> {
        let NodeKind::Dir(children) = &dir.kind else {
            return None;
        };
        children
            .binary_search_by(|&c| (*self.nodes[c as usize].name).cmp(name))
            .ok()
            .map(|i| &self.nodes[children[i] as usize])
    }

    /// Children of a directory node, sorted by name.
    pub fn children<'a>(&'a self, dir: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        let slice: &[u32] = match &dir.kind {
            NodeKind::Dir(c) => c,
            NodeKind::File(_) => &[],
        };
        slice.iter().map(|&c| &self.nodes[c as usize])
    }

    /// Number of subdirectories of a directory (for `nlink`).
    pub fn subdir_count(&self, dir: &Node) -> usize {
        self.children(dir)
            .filter(|c| matches!(c.kind, NodeKind::Dir(_)))
            .count()
    }

    pub fn dir_count(&self) -> usize {
        self.dirs
    }

    pub fn file_count(&self) -> usize {
        self.nodes.len() - self.dirs
    }

    /// Full path of a node relative to the root.
    pub fn path_of(&self, node: &Node) -> String {
        let mut parts = Vec::new();
        let mut n = node;
        while n.ino != ROOT_INO {
            parts.push(&*n.name);
            n = &self.nodes[n.parent as usize];
        }
        parts.reverse();
        parts.join("/")
    }

    /// Every file's path and track index, depth-first in name order.
    pub fn files(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![(0u32, String::new())];
        while let Some((idx, prefix)) = stack.pop() {
            for c in self
                .children(&self.nodes[idx as usize])
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let p = if prefix.is_empty() {
                    c.name.to_string()
                } else {
                    format!("{prefix}/{}", c.name)
                };
                match c.kind {
                    NodeKind::File(t) => out.push((p, t)),
                    NodeKind::Dir(_) => stack.push((self.by_ino[&c.ino], p)),
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn clashes_are_numbered_in_insertion_order() {
        let mut b = TreeBuilder::new();
        assert_eq!(
            b.insert(&s(&["A", "B"]), "01 - T", "flac", 1, 0),
            "01 - T.flac"
        );
        assert_eq!(
            b.insert(&s(&["A", "B"]), "01 - T", "flac", 2, 1),
            "01 - T (2).flac"
        );
        assert_eq!(
            b.insert(&s(&["A", "B"]), "01 - T", "flac", 5, 2),
            "01 - T (3).flac"
        );
        let t = b.finish();
        assert_eq!(t.file_count(), 3);
        assert_eq!(t.dir_count(), 3);
        let root = t.node(ROOT_INO).unwrap();
        let a = t.child(root, "A").unwrap();
        let bdir = t.child(a, "B").unwrap();
        let f = t.child(bdir, "01 - T (2).flac").unwrap();
        assert_eq!(f.ino, file_ino(2));
        assert_eq!(t.path_of(f), "A/B/01 - T (2).flac");
    }

    #[test]
    fn dir_inodes_are_stable_and_dot_components_dropped() {
        let build = || {
            let mut b = TreeBuilder::new();
            b.insert(&s(&["X", ".", "..", "", "Y/Z"]), "t", "mp3", 9, 0);
            b.finish()
        };
        let (t1, t2) = (build(), build());
        let f1 = &t1.files();
        assert_eq!(f1, &vec![("X/Y_Z/t.mp3".to_string(), 0)]);
        let x1 = t1.child(t1.node(ROOT_INO).unwrap(), "X").unwrap().ino;
        let x2 = t2.child(t2.node(ROOT_INO).unwrap(), "X").unwrap().ino;
        assert_eq!(x1, x2);
        assert_ne!(x1 & DIR_BIT, 0);
    }

    #[test]
    fn long_names_keep_extension_on_char_boundary() {
        let stem = "é".repeat(300);
        let n = file_name(&stem, " (2)", "flac");
        assert!(n.len() <= NAME_MAX);
        assert!(n.ends_with(" (2).flac"));
    }
}
