//! The core: the virtual tree, track layouts and reads, as plain Rust types.
//!
//! Nothing here knows fuser; the adapter in `fuse.rs` maps these calls and
//! [`LibError`] onto FUSE replies. Everything is testable without a kernel.

pub mod cache;
pub mod layout;
pub mod template;
pub mod tree;

use crate::format::{self, ArtSource, Container, FormatError, NoArt, SynthInput, Tag, TagValue};
use crate::store::{LibraryRows, Stamp, Store, StoreError, TrackRow};
use arc_swap::ArcSwap;
use cache::WeightedCache;
use layout::Layout;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use template::Template;
use tree::{NodeKind, ROOT_INO, Tree, TreeBuilder};

/// How files are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fresh metadata from the store + the untouched audio bytes.
    Synthesis,
    /// The original bytes unchanged, under the templated tree.
    StructureOnly,
}

/// Options for a library view.
#[derive(Debug, Clone)]
pub struct Options {
    pub db: PathBuf,
    pub template: Template,
    pub mode: Mode,
    /// Value used for a field missing from a track.
    pub default_fallback: String,
    pub uid: u32,
    pub gid: u32,
    pub file_mode: u16,
    pub dir_mode: u16,
    /// Byte budget of the header (layout) cache.
    pub layout_cache_bytes: usize,
    /// Byte budget of the picture cache.
    pub art_cache_bytes: usize,
}

impl Options {
    pub fn new(db: PathBuf, template: Template, mode: Mode) -> Options {
        Options {
            db,
            template,
            mode,
            default_fallback: "Unknown".into(),
            uid: 0,
            gid: 0,
            file_mode: 0o444,
            dir_mode: 0o555,
            layout_cache_bytes: 64 << 20,
            art_cache_bytes: 64 << 20,
        }
    }
}

/// Errors of the core; the adapter maps each to one errno.
#[derive(Debug, thiserror::Error)]
pub enum LibError {
    #[error("no such entry")]
    NotFound,
    #[error("not a directory")]
    NotADirectory,
    #[error("is a directory")]
    IsADirectory,
    #[error("backing file {path} changed since it was scanned ({why}); run `musefs scan` again")]
    Stale { path: String, why: String },
    #[error("backing file {path}: {source}")]
    Backing {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot build {path}: {source}")]
    Format {
        path: String,
        #[source]
        source: FormatError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

pub type Result<T> = std::result::Result<T, LibError>;

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Attributes of a node, in plain types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: Kind,
    pub size: u64,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: Kind,
    pub name: String,
}

/// A track as the snapshot holds it.
#[derive(Debug, Clone)]
pub struct TrackEntry {
    pub row: TrackRow,
    /// Served size.
    pub size: u64,
}

/// An immutable view: tree + tracks. Replaced wholesale on refresh.
#[derive(Debug)]
pub struct Snapshot {
    pub tree: Tree,
    pub tracks: Vec<TrackEntry>,
    /// Tracks that could not be served, with the reason.
    pub problems: Vec<(i64, String)>,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot {
            tree: Tree::empty(),
            tracks: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// An open file: the layout it serves (fixed for the handle's lifetime) and
/// the backing file.
#[derive(Debug)]
pub struct OpenFile {
    pub track_id: i64,
    pub layout: Arc<Layout>,
    pub backing: File,
    pub path: String,
}

fn first_text<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find_map(|t| match &t.value {
        TagValue::Text(s) if t.key == key => Some(s.as_str()),
        _ => None,
    })
}

/// Build a snapshot from store rows (pure; no I/O).
pub fn build_snapshot(rows: LibraryRows, opts: &Options) -> Snapshot {
    let mut problems = rows.rejected;
    let mut tracks = Vec::with_capacity(rows.tracks.len());
    let mut builder = TreeBuilder::new();
    for (i, row) in rows.tracks.into_iter().enumerate() {
        let tags = &rows.tags[i];
        let size = match opts.mode {
            Mode::StructureOnly => row.stamp.size,
            Mode::Synthesis => {
                let input = SynthInput {
                    container: row.container,
                    audio_offset: row.audio_offset,
                    audio_len: row.audio_len,
                    structural: &rows.structural[i],
                    tags,
                    pictures: &rows.pictures[i],
                    art: &NoArt,
                };
                match format::served_len(&input) {
                    Ok(n) => n,
                    Err(e) => {
                        problems.push((row.id, e.to_string()));
                        continue;
                    }
                }
            }
        };
        let Some(comps) = opts.template.render(
            |k| first_text(tags, k),
            &template::RenderOptions::new(opts.default_fallback.as_str()),
        ) else {
            continue;
        };
        let (stem, dirs) = comps.split_last().expect("render yields a component");
        builder.insert(
            dirs,
            stem,
            row.container.extension(),
            row.id,
            tracks.len() as u32,
        );
        tracks.push(TrackEntry { row, size });
    }
    Snapshot {
        tree: builder.finish(),
        tracks,
        problems,
    }
}

fn ns_to_time(ns: i64) -> SystemTime {
    if ns <= 0 {
        UNIX_EPOCH
    } else {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    }
}

/// The library view served by a mount.
pub struct Library {
    opts: Options,
    snap: ArcSwap<Snapshot>,
    conn: Mutex<Option<Store>>,
    layouts: WeightedCache<(i64, i64), Layout>,
    art: WeightedCache<i64, [u8]>,
    last_data_version: Mutex<Option<i64>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("opts", &self.opts).finish()
    }
}

impl Library {
    /// Open the store read-only and build the first snapshot.
    pub fn open(opts: Options) -> Result<Library> {
        let store = Store::open_ro(&opts.db)?;
        let lib = Library {
            layouts: WeightedCache::new(opts.layout_cache_bytes),
            art: WeightedCache::new(opts.art_cache_bytes),
            opts,
            snap: ArcSwap::from_pointee(Snapshot::empty()),
            conn: Mutex::new(Some(store)),
            last_data_version: Mutex::new(None),
        };
        lib.refresh()?;
        Ok(lib)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.load_full()
    }

    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Store::open_ro(&self.opts.db)?);
        }
        f(guard.as_ref().expect("just opened"))
    }

    /// Rebuild the snapshot if the store changed since the last build.
    /// Returns the track ids whose served content or path changed (empty if
    /// nothing changed).
    pub fn refresh(&self) -> Result<Vec<i64>> {
        let (dv, rows) = self.with_store(|s| {
            let dv = s.data_version()?;
            if *self
                .last_data_version
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                == Some(dv)
            {
                return Ok((dv, None));
            }
            Ok((dv, Some(s.load_library(self.opts.mode == Mode::Synthesis)?)))
        })?;
        let Some(rows) = rows else {
            return Ok(Vec::new());
        };
        let new = build_snapshot(rows, &self.opts);
        for (id, why) in &new.problems {
            tracing::warn!(track_id = id, "track not served: {why}");
        }
        let old = self.snap.load_full();
        let changed = diff(&old, &new);
        self.snap.store(Arc::new(new));
        *self
            .last_data_version
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(dv);
        Ok(changed)
    }

    fn attr_of(&self, snap: &Snapshot, node: &tree::Node) -> Attr {
        match node.kind {
            NodeKind::Dir(_) => Attr {
                ino: node.ino,
                kind: Kind::Dir,
                size: 0,
                perm: self.opts.dir_mode,
                nlink: 2 + snap.tree.subdir_count(node) as u32,
                uid: self.opts.uid,
                gid: self.opts.gid,
                mtime: UNIX_EPOCH,
            },
            NodeKind::File(t) => {
                let t = &snap.tracks[t as usize];
                Attr {
                    ino: node.ino,
                    kind: Kind::File,
                    size: t.size,
                    perm: self.opts.file_mode,
                    nlink: 1,
                    uid: self.opts.uid,
                    gid: self.opts.gid,
                    mtime: ns_to_time(t.row.stamp.mtime_ns.max(t.row.tags_edited_ns)),
                }
            }
        }
    }

    pub fn lookup(&self, parent: u64, name: &str) -> Result<Attr> {
        let snap = self.snapshot();
        let dir = snap.tree.node(parent).ok_or(LibError::NotFound)?;
        if !matches!(dir.kind, NodeKind::Dir(_)) {
            return Err(LibError::NotADirectory);
        }
        let child = snap.tree.child(dir, name).ok_or(LibError::NotFound)?;
        Ok(self.attr_of(&snap, child))
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        let snap = self.snapshot();
        let node = snap.tree.node(ino).ok_or(LibError::NotFound)?;
        Ok(self.attr_of(&snap, node))
    }

    /// Directory entries from position `offset` (0 = start; `.` and `..` first).
    pub fn readdir(
        &self,
        ino: u64,
        offset: u64,
        mut emit: impl FnMut(u64, DirEntry) -> bool,
    ) -> Result<()> {
        let snap = self.snapshot();
        let dir = snap.tree.node(ino).ok_or(LibError::NotFound)?;
        if !matches!(dir.kind, NodeKind::Dir(_)) {
            return Err(LibError::NotADirectory);
        }
        let dots = [
            DirEntry {
                ino: dir.ino,
                kind: Kind::Dir,
                name: ".".into(),
            },
            DirEntry {
                ino: snap.tree.parent_ino(dir),
                kind: Kind::Dir,
                name: "..".into(),
            },
        ];
        let children = snap.tree.children(dir).map(|c| DirEntry {
            ino: c.ino,
            kind: match c.kind {
                NodeKind::Dir(_) => Kind::Dir,
                NodeKind::File(_) => Kind::File,
            },
            name: c.name.to_string(),
        });
        for (i, e) in dots
            .into_iter()
            .chain(children)
            .enumerate()
            .skip(offset as usize)
        {
            if emit(i as u64 + 1, e) {
                break;
            }
        }
        Ok(())
    }

    /// Open a file: check the backing file is the one scanned, fix the layout.
    pub fn open_file(&self, ino: u64) -> Result<OpenFile> {
        let snap = self.snapshot();
        let node = snap.tree.node(ino).ok_or(LibError::NotFound)?;
        let NodeKind::File(t) = node.kind else {
            return Err(LibError::IsADirectory);
        };
        let entry = &snap.tracks[t as usize];
        let row = &entry.row;
        let backing = open_backing(&row.path).map_err(|source| LibError::Backing {
            path: row.path.clone(),
            source,
        })?;
        check_stamp(&backing, row)?;
        let layout = match self.opts.mode {
            Mode::StructureOnly => Arc::new(Layout::new(vec![format::Segment::Backing {
                offset: 0,
                len: row.stamp.size,
            }])),
            Mode::Synthesis => self.layout_for(row)?,
        };
        Ok(OpenFile {
            track_id: row.id,
            layout,
            backing,
            path: row.path.clone(),
        })
    }

    fn layout_for(&self, row: &TrackRow) -> Result<Arc<Layout>> {
        let key = (row.id, row.content_version);
        if let Some(l) = self.layouts.get(&key) {
            return Ok(l);
        }
        let detail = self.with_store(|s| Ok(s.track_detail(row.id)?))?;
        let Some(d) = detail else {
            return Err(LibError::NotFound);
        };
        if d.track.content_version != row.content_version || d.track.stamp != row.stamp {
            // The store moved on since this snapshot; the next refresh catches up.
            return Err(LibError::Stale {
                path: row.path.clone(),
                why: "store changed while opening".into(),
            });
        }
        let segs = format::synthesize(&SynthInput {
            container: d.track.container,
            audio_offset: d.track.audio_offset,
            audio_len: d.track.audio_len,
            structural: &d.structural,
            tags: &d.tags,
            pictures: &d.pictures,
            art: self,
        })
        .map_err(|source| LibError::Format {
            path: row.path.clone(),
            source,
        })?;
        let layout = Layout::new(segs);
        let weight = layout.inline_bytes();
        Ok(self.layouts.insert(key, Arc::new(layout), weight))
    }

    /// Read from an open file.
    pub fn read(&self, fh: &OpenFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        fh.layout
            .read_at(offset, buf, &fh.backing, self)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::UnexpectedEof {
                    LibError::Stale {
                        path: fh.path.clone(),
                        why: "file is shorter than scanned".into(),
                    }
                } else {
                    LibError::Backing {
                        path: fh.path.clone(),
                        source,
                    }
                }
            })
    }

    /// Statistics for `statfs`: (files, dirs).
    pub fn counts(&self) -> (usize, usize) {
        let s = self.snapshot();
        (s.tree.file_count(), s.tree.dir_count())
    }

    /// The container of a track (for diagnostics).
    pub fn container_of(&self, ino: u64) -> Option<Container> {
        let snap = self.snapshot();
        match snap.tree.node(ino)?.kind {
            NodeKind::File(t) => Some(snap.tracks[t as usize].row.container),
            NodeKind::Dir(_) => None,
        }
    }
}

impl ArtSource for Library {
    fn art_bytes(&self, art_id: i64) -> io::Result<Arc<[u8]>> {
        if let Some(a) = self.art.get(&art_id) {
            return Ok(a);
        }
        let data = self
            .with_store(|s| Ok(s.art_data(art_id)?))
            .map_err(|e| io::Error::other(e.to_string()))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "picture removed from store"))?;
        let len = data.len();
        Ok(self.art.insert(art_id, Arc::from(data), len))
    }
}

/// Track ids whose path or served content differ between two snapshots.
fn diff(old: &Snapshot, new: &Snapshot) -> Vec<i64> {
    use std::collections::HashMap;
    let old_by_id: HashMap<i64, (&TrackEntry, String)> = old
        .tree
        .files()
        .into_iter()
        .map(|(p, t)| (old.tracks[t as usize].row.id, (&old.tracks[t as usize], p)))
        .collect();
    let mut changed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (p, t) in new.tree.files() {
        let e = &new.tracks[t as usize];
        seen.insert(e.row.id);
        match old_by_id.get(&e.row.id) {
            Some((o, op)) if o.row == e.row && o.size == e.size && *op == p => {}
            _ => changed.push(e.row.id),
        }
    }
    changed.extend(old_by_id.keys().filter(|id| !seen.contains(id)));
    changed.sort_unstable();
    changed
}

/// Open a backing file read-only without updating its atime where allowed.
pub fn open_backing(path: &str) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME | libc::O_CLOEXEC)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path),
        r => r,
    }
}

/// A layout is valid only while the backing file is the one scanned.
pub fn check_stamp(file: &File, row: &TrackRow) -> Result<()> {
    let meta = file.metadata().map_err(|source| LibError::Backing {
        path: row.path.clone(),
        source,
    })?;
    let now = Stamp::of(&meta);
    if now == row.stamp {
        return Ok(());
    }
    let why = if now.inode != row.stamp.inode {
        "replaced by another file"
    } else if now.size != row.stamp.size {
        "size changed"
    } else {
        "modified"
    };
    Err(LibError::Stale {
        path: row.path.clone(),
        why: why.into(),
    })
}

#[doc(hidden)]
pub fn root_ino() -> u64 {
    ROOT_INO
}
