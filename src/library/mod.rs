//! The core: the virtual tree, track layouts and reads, as plain Rust types.
//!
//! Nothing here knows fuser; the adapter in `fuse.rs` maps these calls and
//! [`LibError`] onto FUSE replies. Everything is testable without a kernel.

pub mod cache;
pub mod confine;
pub mod layout;
mod state;
pub mod template;
pub mod tree;

use crate::format::{self, ArtSource, Container, FormatError, Segment, SynthInput};
use crate::store::{Stamp, Store, StoreError, TrackRow};
use arc_swap::ArcSwap;
use cache::WeightedCache;
use layout::Layout;
pub use state::{Refresh, State, TrackEntry};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use template::{RenderOptions, Template};
use tree::NodeKind;

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
    /// Fallbacks, default value and skip rule for template fields.
    pub render: RenderOptions,
    pub uid: u32,
    pub gid: u32,
    pub file_mode: u16,
    pub dir_mode: u16,
    /// Byte budget of the header (layout) cache.
    pub layout_cache_bytes: usize,
    /// Byte budget of the picture cache.
    pub art_cache_bytes: usize,
    /// Library roots backing files must lie below (see [`confine`]); tracks
    /// elsewhere are left out of the view and refused at open. Empty = no
    /// confinement (tests and tools; the service passes its `library` paths).
    pub roots: Vec<PathBuf>,
}

impl Options {
    pub fn new(db: PathBuf, template: Template, mode: Mode) -> Options {
        Options {
            db,
            template,
            mode,
            render: RenderOptions::default(),
            uid: 0,
            gid: 0,
            file_mode: 0o444,
            dir_mode: 0o555,
            layout_cache_bytes: 64 << 20,
            art_cache_bytes: 64 << 20,
            roots: Vec::new(),
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

/// An open file: the backing file with the stamp it must keep, and the
/// layout of the version it serves.
///
/// All handles of an inode share the kernel's page cache, so every read
/// serves the track's *current* version: when a retag lands, the handle
/// moves to the new layout at the next read (the kernel's cached pages and
/// size are invalidated at the same time). One read is always answered from
/// one layout, never from two versions.
#[derive(Debug)]
pub struct OpenFile {
    pub track_id: i64,
    layout: ArcSwap<(i64, Arc<Layout>)>,
    pub backing: File,
    pub path: String,
    pub stamp: Stamp,
}

impl OpenFile {
    /// The layout currently served by this handle.
    pub fn layout(&self) -> Arc<Layout> {
        self.layout.load().1.clone()
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
    opts: ArcSwap<Options>,
    state: RwLock<State>,
    /// The read connection and the identity (device, inode) of the store
    /// file it opened, to notice the file being replaced.
    conn: Mutex<Option<(Store, Option<FileId>)>>,
    /// The store file has gone missing (warned once; the last view is kept).
    store_missing: std::sync::atomic::AtomicBool,
    layouts: WeightedCache<(i64, i64), Layout>,
    art: WeightedCache<i64, [u8]>,
    /// Kernel invalidations owed for refreshes not yet reported.
    pending: Mutex<Refresh>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("opts", &self.opts).finish()
    }
}

impl Library {
    /// Open the store read-only and build the first view.
    pub fn open(opts: Options) -> Result<Library> {
        let store = Store::open_ro(&opts.db)?;
        Self::build(opts, Some(store))
    }

    /// Like [`Library::open`], but a store that does not exist yet gives an
    /// empty view that fills in when the store appears (a service may start
    /// before the first scan has finished). Other errors still fail.
    pub fn open_or_wait(opts: Options) -> Result<Library> {
        match Store::open_ro(&opts.db) {
            Ok(store) => Self::build(opts, Some(store)),
            Err(StoreError::NotFound(p)) => {
                tracing::info!(store = %p.display(), "store does not exist yet; serving an empty tree until it appears");
                Self::build(opts, None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn build(opts: Options, store: Option<Store>) -> Result<Library> {
        let id = file_id(&opts.db);
        let lib = Library {
            layouts: WeightedCache::new(opts.layout_cache_bytes),
            art: WeightedCache::new(opts.art_cache_bytes),
            opts: ArcSwap::from_pointee(opts),
            state: RwLock::new(State::default()),
            conn: Mutex::new(store.map(|s| (s, id))),
            store_missing: Default::default(),
            pending: Mutex::new(Refresh::default()),
        };
        lib.refresh()?;
        lib.take_pending();
        Ok(lib)
    }

    pub fn options(&self) -> Arc<Options> {
        self.opts.load_full()
    }

    /// Replace the options (e.g. a new template) and rebuild the whole view.
    pub fn reload(&self, opts: Options) -> Result<Refresh> {
        self.opts.store(Arc::new(opts));
        self.state_mut().force_full();
        self.refresh()
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Read access to the current view (tree and tracks).
    pub fn view(&self) -> RwLockReadGuard<'_, State> {
        self.state()
    }

    /// Run `f` on the read connection, (re)opening it when needed: after a
    /// corrupt-store error, and when the store file was replaced by another
    /// (a new store at the same path; the view is then rebuilt in full).
    /// While the file is missing the open connection keeps serving the last
    /// state it saw (the deleted file stays readable through it).
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        use std::sync::atomic::Ordering;
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let db = self.opts.load().db.clone();
        let now = file_id(&db);
        match (&*guard, now) {
            (Some(_), None) if !self.store_missing.swap(true, Ordering::Relaxed) => {
                tracing::warn!(
                    store = %db.display(),
                    "the store file is gone; serving the last state read from it"
                );
            }
            (Some((_, was)), Some(id)) if *was != Some(id) => {
                tracing::warn!(store = %db.display(), "the store file was replaced; reopening it");
                *guard = None;
            }
            _ => {}
        }
        if guard.is_none() {
            *guard = Some((Store::open_ro(&db)?, now));
            self.store_missing.store(false, Ordering::Relaxed);
            // A new connection's data_version is unrelated to the old one's.
            self.state_mut().force_full();
        }
        let r = f(&guard.as_ref().expect("just opened").0);
        if matches!(r, Err(LibError::Store(StoreError::Corrupt(_)))) {
            *guard = None; // reopen next time (the file may have been replaced)
        }
        r
    }

    /// Invalidations owed to the kernel by every refresh since the last call
    /// (refreshes also happen inside requests that raced a store commit).
    pub fn take_pending(&self) -> Refresh {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Bring the view up to date with the store: O(changed) through the
    /// change log, or a full rebuild on first use, after `reload`, or when
    /// most of the library changed. Returns what the kernel must forget
    /// (also accumulated for [`Library::take_pending`]).
    pub fn refresh(&self) -> Result<Refresh> {
        let r = match self.refresh_inner() {
            // Still waiting for a store that does not exist yet.
            Err(LibError::Store(StoreError::NotFound(_))) if self.state().track_count() == 0 => {
                return Ok(Refresh::default());
            }
            r => r?,
        };
        if r.full {
            release_free_memory();
        }
        if !r.is_empty() {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            p.inodes.extend_from_slice(&r.inodes);
            p.gone.extend(r.gone.iter().cloned());
            p.tracks += r.tracks;
            p.full |= r.full;
        }
        Ok(r)
    }

    fn refresh_inner(&self) -> Result<Refresh> {
        let opts = self.options();
        self.with_store(|store| {
            let dv = store.data_version()?;
            let (full, watermark) = {
                let st = self.state();
                if !st.needs_full() && st.data_version() == Some(dv) {
                    return Ok(Refresh::default());
                }
                (st.needs_full(), st.watermark())
            };
            if full {
                let rows = store.load_library(opts.mode == Mode::Synthesis)?;
                let mut st = self.state_mut();
                Ok(st.rebuild(rows, &opts, dv))
            } else {
                let (ids, w) = store.changes_since(watermark)?;
                let total = self.state().track_count();
                if ids.len() > 2000 && ids.len() > total / 4 {
                    let rows = store.load_library(opts.mode == Mode::Synthesis)?;
                    return Ok(self.state_mut().rebuild(rows, &opts, dv));
                }
                let mut details = Vec::with_capacity(ids.len());
                for id in &ids {
                    details.push((*id, store.track_detail(*id)?));
                }
                Ok(self.state_mut().apply(details, &opts, w, dv))
            }
        })
    }

    fn attr_of(&self, st: &State, opts: &Options, node: &tree::Node) -> Result<Attr> {
        match node.kind {
            NodeKind::Dir(_) => Ok(Attr {
                ino: node.ino,
                kind: Kind::Dir,
                size: 0,
                perm: opts.dir_mode,
                nlink: 2 + st.tree.subdir_count(node) as u32,
                uid: opts.uid,
                gid: opts.gid,
                mtime: UNIX_EPOCH,
            }),
            NodeKind::File(id) => {
                let t = st.track(id).ok_or(LibError::NotFound)?;
                Ok(Attr {
                    ino: node.ino,
                    kind: Kind::File,
                    size: t.size,
                    perm: opts.file_mode,
                    nlink: 1,
                    uid: opts.uid,
                    gid: opts.gid,
                    mtime: ns_to_time(t.row.stamp.mtime_ns.max(t.row.tags_edited_ns)),
                })
            }
            NodeKind::Free => Err(LibError::NotFound),
        }
    }

    pub fn lookup(&self, parent: u64, name: &str) -> Result<Attr> {
        let opts = self.opts.load();
        let st = self.state();
        let dir = st.tree.node(parent).ok_or(LibError::NotFound)?;
        if !matches!(dir.kind, NodeKind::Dir(_)) {
            return Err(LibError::NotADirectory);
        }
        let child = st.tree.child(dir, name).ok_or(LibError::NotFound)?;
        self.attr_of(&st, &opts, child)
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        let opts = self.opts.load();
        let st = self.state();
        let node = st.tree.node(ino).ok_or(LibError::NotFound)?;
        self.attr_of(&st, &opts, node)
    }

    /// Directory entries from position `offset` (0 = start; `.` and `..` first).
    /// `emit` returns true when the reply buffer is full.
    pub fn readdir(
        &self,
        ino: u64,
        offset: u64,
        mut emit: impl FnMut(u64, DirEntry) -> bool,
    ) -> Result<()> {
        self.walk_dir(ino, offset, |next, e, _| emit(next, e))
    }

    /// Like [`Library::readdir`], with each entry's attributes (for
    /// READDIRPLUS: one request lists a directory and answers the lookups
    /// that `ls -l` and media scanners would otherwise send per entry).
    pub fn readdir_plus(
        &self,
        ino: u64,
        offset: u64,
        mut emit: impl FnMut(u64, DirEntry, &Attr) -> bool,
    ) -> Result<()> {
        let opts = self.opts.load();
        self.walk_dir(ino, offset, |next, e, st| {
            let Some(node) = st.tree.node(e.ino) else {
                return false;
            };
            match self.attr_of(st, &opts, node) {
                Ok(a) => emit(next, e, &a),
                Err(_) => false,
            }
        })
    }

    fn walk_dir(
        &self,
        ino: u64,
        offset: u64,
        mut emit: impl FnMut(u64, DirEntry, &State) -> bool,
    ) -> Result<()> {
        let st = self.state();
        let dir = st.tree.node(ino).ok_or(LibError::NotFound)?;
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
                ino: st.tree.parent_ino(dir),
                kind: Kind::Dir,
                name: "..".into(),
            },
        ];
        let children = st.tree.children(dir).map(|c| DirEntry {
            ino: c.ino,
            kind: match c.kind {
                NodeKind::Dir(_) => Kind::Dir,
                _ => Kind::File,
            },
            name: c.name.to_string(),
        });
        for (i, e) in dots
            .into_iter()
            .chain(children)
            .enumerate()
            .skip(offset as usize)
        {
            if emit(i as u64 + 1, e, &st) {
                break;
            }
        }
        Ok(())
    }

    /// Open a file: check the backing file is the one scanned, fix the layout.
    /// An open that races a store commit waits for the view to catch up (the
    /// service's refresh loop) and retries a bounded number of times.
    pub fn open_file(&self, ino: u64) -> Result<OpenFile> {
        let mut attempt = 0;
        loop {
            match self.open_once(ino) {
                Err(LibError::Stale { why, .. }) if why == STORE_MOVED && attempt < 10 => {
                    attempt += 1;
                    self.catch_up(attempt)?;
                }
                r => return r,
            }
        }
    }

    fn open_once(&self, ino: u64) -> Result<OpenFile> {
        let row = {
            let st = self.state();
            let node = st.tree.node(ino).ok_or(LibError::NotFound)?;
            match node.kind {
                NodeKind::File(id) => st.track(id).ok_or(LibError::NotFound)?.row.clone(),
                NodeKind::Dir(_) => return Err(LibError::IsADirectory),
                NodeKind::Free => return Err(LibError::NotFound),
            }
        };
        let backing =
            confine::open(&row.path, &self.opts.load().roots).map_err(|e| LibError::Backing {
                path: row.path.clone(),
                source: e.into(),
            })?;
        check_stamp(&backing, &row.path, &row.stamp)?;
        let layout = match self.opts.load().mode {
            Mode::StructureOnly => Arc::new(Layout::new(vec![Segment::Backing {
                offset: 0,
                len: row.stamp.size,
            }])),
            Mode::Synthesis => self.layout_for(&row)?,
        };
        Ok(OpenFile {
            track_id: row.id,
            layout: ArcSwap::from_pointee((row.content_version, layout)),
            backing,
            path: row.path,
            stamp: row.stamp,
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
        if let Some(why) = d.problem {
            return Err(LibError::Format {
                path: row.path.clone(),
                source: FormatError::malformed("store row", why),
            });
        }
        if d.track.content_version != row.content_version || d.track.stamp != row.stamp {
            // The store moved on since the view was built; the next refresh catches up.
            return Err(LibError::Stale {
                path: row.path.clone(),
                why: STORE_MOVED.into(),
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

    /// Read from an open file. The backing file is re-checked first, so a
    /// handle held across a change of the backing file fails with EIO
    /// instead of serving bytes from another version.
    pub fn read(&self, fh: &OpenFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        check_stamp(&fh.backing, &fh.path, &fh.stamp)?;
        let layout = self.current_layout(fh)?;
        layout
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

    /// The layout for the track's current version (the handle's own when the
    /// track left the view or the mode serves original bytes).
    fn current_layout(&self, fh: &OpenFile) -> Result<Arc<Layout>> {
        let held = fh.layout.load_full();
        if self.opts.load().mode == Mode::StructureOnly {
            return Ok(held.1.clone());
        }
        let mut attempt = 0;
        loop {
            let row = {
                let st = self.state();
                match st.track(fh.track_id) {
                    Some(t) if t.row.content_version != held.0 => t.row.clone(),
                    _ => return Ok(held.1.clone()),
                }
            };
            if row.stamp != fh.stamp {
                return Err(LibError::Stale {
                    path: fh.path.clone(),
                    why: "rescanned since this file was opened".into(),
                });
            }
            match self.layout_for(&row) {
                Err(LibError::Stale { why, .. }) if why == STORE_MOVED && attempt < 10 => {
                    attempt += 1;
                    self.catch_up(attempt)?;
                }
                r => {
                    let layout = r?;
                    fh.layout
                        .store(Arc::new((row.content_version, layout.clone())));
                    return Ok(layout);
                }
            }
        }
    }

    /// A request found the store ahead of the view: bring the view up to date
    /// here (the kernel invalidations are left for the refresh loop).
    fn catch_up(&self, attempt: u64) -> Result<()> {
        if attempt > 3 {
            std::thread::sleep(Duration::from_millis(2 * attempt));
        }
        self.refresh().map(drop)
    }

    /// (files, directories) in the view.
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state();
        (st.tree.file_count(), st.tree.dir_count())
    }

    /// Header cache (hits, misses, bytes held).
    pub fn header_cache_stats(&self) -> (u64, u64, u64) {
        let (h, m) = self.layouts.stats();
        (h, m, self.layouts.weight() as u64)
    }

    /// The track id behind a file node.
    pub fn track_id_of(&self, ino: u64) -> Option<i64> {
        match self.state().tree.node(ino)?.kind {
            NodeKind::File(id) => Some(id),
            _ => None,
        }
    }

    /// The container of a file node (for diagnostics).
    pub fn container_of(&self, ino: u64) -> Option<Container> {
        let st = self.state();
        match st.tree.node(ino)?.kind {
            NodeKind::File(id) => st.track(id).map(|t| t.row.container),
            _ => None,
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

/// Hand freed heap pages back to the kernel. A full rebuild loads every
/// track's tags and structural rows from the store, renders the tree and then
/// frees those rows; glibc keeps the freed pages mapped, which left about
/// 1.4 KB per track resident for the life of the mount. Trimming after a
/// full rebuild (rare: first build, reload, mass change) costs a few ms.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only returns free pages
    // of the allocator's heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Device and inode of a file.
type FileId = (u64, u64);

/// Device and inode of a file, if it exists.
fn file_id(p: &std::path::Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

const STORE_MOVED: &str = "the store changed while opening; retry";

/// Open a backing file read-only without updating its atime where allowed.
/// Only regular files are opened (a FIFO cannot hang the caller); no root
/// confinement (see [`confine::open`] for that).
pub fn open_backing(path: &str) -> io::Result<File> {
    confine::open(path, &[]).map_err(io::Error::from)
}

/// A layout is valid only while the backing file is the one scanned.
pub fn check_stamp(file: &File, path: &str, want: &Stamp) -> Result<()> {
    let meta = file.metadata().map_err(|source| LibError::Backing {
        path: path.to_owned(),
        source,
    })?;
    let now = Stamp::of(&meta);
    if now == *want {
        return Ok(());
    }
    let why = if now.inode != want.inode {
        "replaced by another file"
    } else if now.size != want.size {
        "size changed"
    } else {
        "modified"
    };
    Err(LibError::Stale {
        path: path.to_owned(),
        why: why.into(),
    })
}

#[cfg(test)]
mod tests;
