//! The virtual directory tree, updated in place in O(changed).
//!
//! Inode numbers are derived, never allocated: a file's inode is its track id
//! plus one (track ids are AUTOINCREMENT, never reused), a directory's is a
//! hash of its full path with the top bit set. Both are therefore stable
//! across rebuilds, incremental updates and restarts for unchanged paths.
//!
//! Names: every track wants a *base name* (`stem.ext`) in a directory. The
//! tracks wanting the same base name in the same directory form a group;
//! ordered by track id, the first gets the base name and the others
//! ` (2)`, ` (3)`, ... skipping any name that is another group's base name
//! or a directory's name. The result depends only on the set of tracks, so
//! incremental updates and full rebuilds give identical trees.

use std::collections::HashMap;
use std::sync::Arc;

pub const ROOT_INO: u64 = 1;
const DIR_BIT: u64 = 1 << 63;
const ROOT: u32 = 0;

/// Longest name a component may have, in bytes.
pub const NAME_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Children as node indices, sorted by name.
    Dir(Vec<u32>),
    /// The track id.
    File(i64),
    /// A removed node waiting for reuse.
    Free,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub ino: u64,
    pub parent: u32,
    pub name: Arc<str>,
    pub kind: NodeKind,
}

/// A kernel-visible name that went away or changed (for cache invalidation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GoneName {
    pub parent_ino: u64,
    pub name: Arc<str>,
}

/// The track ids of one naming group, ascending. Almost every group has one
/// member, kept inline: a `Vec` would cost a heap block per track.
#[derive(Debug, Clone)]
enum Members {
    One(i64),
    Many(Vec<i64>),
}

impl Default for Members {
    fn default() -> Self {
        Members::Many(Vec::new())
    }
}

impl Members {
    fn as_slice(&self) -> &[i64] {
        match self {
            Members::One(id) => std::slice::from_ref(id),
            Members::Many(v) => v,
        }
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Insert keeping ascending order (no-op if present).
    fn insert(&mut self, id: i64) {
        match self {
            Members::Many(v) if v.is_empty() => *self = Members::One(id),
            Members::One(x) if *x == id => {}
            Members::One(x) => *self = Members::Many(vec![(*x).min(id), (*x).max(id)]),
            Members::Many(v) => {
                if let Err(pos) = v.binary_search(&id) {
                    v.insert(pos, id);
                }
            }
        }
    }

    fn remove(&mut self, id: i64) {
        match self {
            Members::One(x) if *x == id => *self = Members::default(),
            Members::One(_) => {}
            Members::Many(v) => {
                v.retain(|&x| x != id);
                if let [only] = v[..] {
                    *self = Members::One(only);
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Placement {
    dir: u32,
    base: Arc<str>,
}

/// The tree.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    by_ino: HashMap<u64, u32>,
    groups: HashMap<(u32, Arc<str>), Members>,
    placement: HashMap<i64, Placement>,
    dirs: usize,
    /// Names removed or renamed since the last `take_gone`.
    gone: Vec<GoneName>,
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

/// Split `stem (n).ext` into (`stem.ext`, n) when it has that shape.
fn parse_suffixed(name: &str) -> Option<String> {
    let dot = name.rfind('.')?;
    let (head, ext) = name.split_at(dot);
    let head = head.strip_suffix(')')?;
    let open = head.rfind(" (")?;
    let digits = &head[open + 2..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{}{ext}", &head[..open]))
}

/// The sanitised directory components of a rendered path (empty, `.`, `..` dropped).
pub fn clean_dirs(dirs: &[String]) -> Vec<String> {
    dirs.iter()
        .map(|d| sanitize(d, NAME_MAX))
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .collect()
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    pub fn new() -> Tree {
        let root = Node {
            ino: ROOT_INO,
            parent: ROOT,
            name: "".into(),
            kind: NodeKind::Dir(Vec::new()),
        };
        let mut by_ino = HashMap::new();
        by_ino.insert(ROOT_INO, ROOT);
        Tree {
            nodes: vec![root],
            free: Vec::new(),
            by_ino,
            groups: HashMap::new(),
            placement: HashMap::new(),
            dirs: 1,
            gone: Vec::new(),
        }
    }

    pub fn empty() -> Tree {
        Tree::new()
    }

    // ---- reading ----

    pub fn node(&self, ino: u64) -> Option<&Node> {
        self.by_ino.get(&ino).map(|&i| &self.nodes[i as usize])
    }

    pub fn parent_ino(&self, node: &Node) -> u64 {
        self.nodes[node.parent as usize].ino
    }

    fn children_of(&self, idx: u32) -> &[u32] {
        match &self.nodes[idx as usize].kind {
            NodeKind::Dir(c) => c,
            _ => &[],
        }
    }

    fn find_child(&self, dir: u32, name: &str) -> Result<usize, usize> {
        self.children_of(dir)
            .binary_search_by(|&c| (*self.nodes[c as usize].name).cmp(name))
    }

    /// Find a child by name in a directory node.
    pub fn child(&self, dir: &Node, name: &str) -> Option<&Node> {
        let idx = *self.by_ino.get(&dir.ino)?;
        let i = self.find_child(idx, name).ok()?;
        Some(&self.nodes[self.children_of(idx)[i] as usize])
    }

    /// Children of a directory node, sorted by name.
    pub fn children<'a>(&'a self, dir: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        let slice: &[u32] = match &dir.kind {
            NodeKind::Dir(c) => c,
            _ => &[],
        };
        slice.iter().map(|&c| &self.nodes[c as usize])
    }

    /// Number of subdirectories of a directory (for `nlink`).
    pub fn subdir_count(&self, dir: &Node) -> usize {
        self.children(dir)
            .filter(|c| matches!(c.kind, NodeKind::Dir(_)))
            .count()
    }

    /// Directories, the root included.
    pub fn dir_count(&self) -> usize {
        self.dirs
    }

    pub fn file_count(&self) -> usize {
        self.placement.len()
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

    /// Every file's path and track id, sorted by path.
    pub fn files(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = self
            .nodes
            .iter()
            .filter_map(|n| match n.kind {
                NodeKind::File(id) => Some((self.path_of(n), id)),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    /// Names that disappeared or changed since the last call.
    pub fn take_gone(&mut self) -> Vec<GoneName> {
        std::mem::take(&mut self.gone)
    }

    // ---- writing ----

    fn alloc(&mut self, node: Node) -> u32 {
        let ino = node.ino;
        let idx = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.by_ino.insert(ino, idx);
        idx
    }

    fn link(&mut self, dir: u32, child: u32) {
        let name = self.nodes[child as usize].name.clone();
        let pos = self.find_child(dir, &name).unwrap_or_else(|p| p);
        if let NodeKind::Dir(c) = &mut self.nodes[dir as usize].kind {
            c.insert(pos, child);
        }
    }

    fn unlink(&mut self, dir: u32, child: u32) {
        let name = self.nodes[child as usize].name.clone();
        if let Ok(pos) = self.find_child(dir, &name)
            && let NodeKind::Dir(c) = &mut self.nodes[dir as usize].kind
        {
            c.remove(pos);
        }
        self.gone.push(GoneName {
            parent_ino: self.nodes[dir as usize].ino,
            name,
        });
    }

    fn dir_path(&self, mut idx: u32) -> Vec<&str> {
        let mut v = Vec::new();
        while idx != ROOT {
            v.push(&*self.nodes[idx as usize].name);
            idx = self.nodes[idx as usize].parent;
        }
        v.reverse();
        v
    }

    /// Is `name` reserved in `dir` (a group's base name or a directory)?
    fn reserved(&self, dir: u32, name: &str, except_group: &str) -> bool {
        if name != except_group && self.groups.contains_key(&(dir, Arc::from(name))) {
            return true;
        }
        matches!(self.find_child(dir, name), Ok(i)
            if matches!(self.nodes[self.children_of(dir)[i] as usize].kind, NodeKind::Dir(_)))
    }

    fn ensure_dir(&mut self, parent: u32, name: &str) -> u32 {
        if let Ok(i) = self.find_child(parent, name) {
            let c = self.children_of(parent)[i];
            if matches!(self.nodes[c as usize].kind, NodeKind::Dir(_)) {
                return c;
            }
        }
        let mut path = self.dir_path(parent);
        path.push(name);
        let mut salt = 0;
        let ino = loop {
            let ino = fnv1a(&path, salt) | DIR_BIT;
            if !self.by_ino.contains_key(&ino) {
                break ino;
            }
            salt += 1;
        };
        let name: Arc<str> = name.into();
        // A file holding this name must move aside: directories win.
        let holder = self
            .find_child(parent, &name)
            .ok()
            .map(|i| self.children_of(parent)[i]);
        let idx = self.alloc(Node {
            ino,
            parent,
            name: name.clone(),
            kind: NodeKind::Dir(Vec::new()),
        });
        self.dirs += 1;
        if let Some(h) = holder {
            self.unlink(parent, h);
            self.link(parent, idx);
            if let NodeKind::File(id) = self.nodes[h as usize].kind {
                self.free_node(h);
                let base = self.placement[&id].base.clone();
                self.reassign(parent, &base);
            }
        } else {
            self.link(parent, idx);
        }
        self.touch_related(parent, &name);
        idx
    }

    fn free_node(&mut self, idx: u32) {
        let ino = self.nodes[idx as usize].ino;
        if self.by_ino.get(&ino) == Some(&idx) {
            self.by_ino.remove(&ino);
        }
        self.nodes[idx as usize].kind = NodeKind::Free;
        self.free.push(idx);
    }

    /// A name appeared or vanished in `dir`: the group of that base name and
    /// a group whose suffixed names it could shadow may need new names.
    fn touch_related(&mut self, dir: u32, name: &str) {
        let mut keys = vec![Arc::<str>::from(name)];
        if let Some(base) = parse_suffixed(name) {
            keys.push(base.into());
        }
        for k in keys {
            if self.groups.contains_key(&(dir, k.clone())) {
                self.reassign(dir, &k);
            }
        }
    }

    /// Give every member of the group `(dir, base)` its deterministic name.
    fn reassign(&mut self, dir: u32, base: &Arc<str>) {
        let members = self
            .groups
            .get(&(dir, base.clone()))
            .map(|m| m.as_slice().to_vec())
            .unwrap_or_default();
        let (stem, ext) = match base.rfind('.') {
            Some(d) => (&base[..d], &base[d + 1..]),
            None => (&base[..], ""),
        };
        // Phase 1: choose names.
        let mut targets: Vec<(i64, Arc<str>)> = Vec::with_capacity(members.len());
        let mut n = 1u64;
        for &id in &members {
            let name: Arc<str> = loop {
                let candidate: Arc<str> = if n == 1 {
                    base.clone()
                } else {
                    file_name(stem, &format!(" ({n})"), ext).into()
                };
                n += 1;
                let held_by_other_group = matches!(self.find_child(dir, &candidate), Ok(i)
                    if matches!(self.nodes[self.children_of(dir)[i] as usize].kind,
                        NodeKind::File(other) if self.placement.get(&other)
                            .is_none_or(|p| p.dir != dir || p.base != *base)));
                if !self.reserved(dir, &candidate, base) && !held_by_other_group {
                    break candidate;
                }
            };
            targets.push((id, name));
        }
        // Phase 2: take renamed members out while names are still unique.
        let mut moving = Vec::new();
        for (id, name) in &targets {
            if let Some(&idx) = self.by_ino.get(&file_ino(*id))
                && self.nodes[idx as usize].parent == dir
                && self.nodes[idx as usize].name != *name
            {
                self.unlink(dir, idx);
                moving.push(idx);
            }
        }
        // Phase 3: link under the new names.
        for (id, name) in targets {
            let ino = file_ino(id);
            match self.by_ino.get(&ino).copied() {
                Some(idx) if self.nodes[idx as usize].parent == dir => {
                    if moving.contains(&idx) {
                        self.nodes[idx as usize].name = name;
                        self.link(dir, idx);
                    }
                }
                _ => {
                    let idx = self.alloc(Node {
                        ino,
                        parent: dir,
                        name,
                        kind: NodeKind::File(id),
                    });
                    self.link(dir, idx);
                }
            }
        }
    }

    /// Add (or move) a track. `dirs` are raw directory components, `stem` the
    /// raw file stem.
    pub fn upsert(&mut self, track_id: i64, dirs: &[String], stem: &str, ext: &str) {
        let mut cur = ROOT;
        for d in clean_dirs(dirs) {
            cur = self.ensure_dir(cur, &d);
        }
        let base: Arc<str> = file_name(stem, "", ext).into();
        if let Some(p) = self.placement.get(&track_id)
            && p.dir == cur
            && p.base == base
        {
            return;
        }
        self.remove(track_id);
        // `remove` may have pruned directories on our path: re-walk.
        let mut cur = ROOT;
        for d in clean_dirs(dirs) {
            cur = self.ensure_dir(cur, &d);
        }
        let key = (cur, base.clone());
        let new_group = !self.groups.contains_key(&key);
        self.groups.entry(key).or_default().insert(track_id);
        self.placement.insert(
            track_id,
            Placement {
                dir: cur,
                base: base.clone(),
            },
        );
        if new_group {
            // A file of another group may hold this base name as its suffixed name.
            if let Ok(i) = self.find_child(cur, &base) {
                let c = self.children_of(cur)[i];
                if let NodeKind::File(other) = self.nodes[c as usize].kind
                    && let Some(p) = self.placement.get(&other).cloned()
                {
                    self.unlink(cur, c);
                    self.free_node(c);
                    self.reassign(cur, &base);
                    self.reassign(cur, &p.base);
                }
            }
            self.touch_related(cur, &base);
        }
        self.reassign(cur, &base);
    }

    /// Remove a track (no-op if absent); empty directories are pruned.
    pub fn remove(&mut self, track_id: i64) {
        let Some(p) = self.placement.remove(&track_id) else {
            return;
        };
        let key = (p.dir, p.base.clone());
        let mut group_gone = false;
        if let Some(g) = self.groups.get_mut(&key) {
            g.remove(track_id);
            if g.is_empty() {
                self.groups.remove(&key);
                group_gone = true;
            }
        }
        if let Some(&idx) = self.by_ino.get(&file_ino(track_id)) {
            self.unlink(p.dir, idx);
            self.free_node(idx);
        }
        self.reassign(p.dir, &p.base);
        if group_gone {
            self.touch_related(p.dir, &p.base);
        }
        self.prune(p.dir);
    }

    fn prune(&mut self, mut dir: u32) {
        while dir != ROOT && self.children_of(dir).is_empty() {
            let parent = self.nodes[dir as usize].parent;
            let name = self.nodes[dir as usize].name.clone();
            self.unlink(parent, dir);
            self.free_node(dir);
            self.dirs -= 1;
            self.touch_related(parent, &name);
            dir = parent;
        }
    }
}

#[cfg(test)]
mod tests;
