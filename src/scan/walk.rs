//! Walking the scan roots: which files are candidates, which are skipped and why.
//!
//! Symbolic links below a root are not followed unless asked. When they are,
//! a link is resolved to its real path (that is the path stored), and every
//! directory and file is visited once by (device, inode), so cycles and
//! several links to one file cannot make duplicates. Directories are always
//! tracked by (device, inode), which also stops bind-mount loops.

use crate::format;
use std::collections::{BTreeMap, HashSet};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub const SKIP_NOT_AUDIO: &str = "not an audio file (extension)";
pub const SKIP_SYMLINK: &str = "symlink, not followed (see --follow-symlinks)";
pub const SKIP_BROKEN_LINK: &str = "broken symlink";
pub const SKIP_DUPLICATE: &str = "already reached by another path (symlink or hard link)";
pub const SKIP_LOOP: &str = "directory already visited (symlink cycle or duplicate)";
pub const SKIP_SPECIAL: &str = "not a regular file (FIFO, socket or device)";
pub const SKIP_NOT_UTF8: &str = "path is not valid UTF-8";

/// A file the walk found.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: String,
    /// Metadata from the walk, when it had to stat the entry anyway.
    pub meta: Option<Metadata>,
}

/// The walk's result.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<Found>,
    pub skipped: BTreeMap<String, u64>,
    /// Directories that could not be read, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

impl Walked {
    fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_owned()).or_default() += 1;
    }
}

struct Walker<'a> {
    follow: bool,
    out: Walked,
    dirs: HashSet<(u64, u64)>,
    files: HashSet<(u64, u64)>,
    stack: Vec<PathBuf>,
    stop: &'a AtomicBool,
    progress: &'a mut dyn FnMut(u64),
}

fn id(m: &Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(format::is_candidate_extension)
}

impl Walker<'_> {
    fn push_file(&mut self, path: PathBuf, meta: Option<Metadata>) {
        if !is_audio_name(&path) {
            self.out.skip(SKIP_NOT_AUDIO);
            return;
        }
        if self.follow
            && let Some(m) = &meta
            && !self.files.insert(id(m))
        {
            self.out.skip(SKIP_DUPLICATE);
            return;
        }
        match path.into_os_string().into_string() {
            Ok(path) => {
                self.out.files.push(Found { path, meta });
                if self.out.files.len().is_multiple_of(1024) {
                    (self.progress)(self.out.files.len() as u64);
                }
            }
            Err(_) => self.out.skip(SKIP_NOT_UTF8),
        }
    }

    fn enter_dir(&mut self, path: PathBuf, meta: &Metadata) {
        if self.dirs.insert(id(meta)) {
            self.stack.push(path);
        } else {
            self.out.skip(SKIP_LOOP);
        }
    }

    /// A symlink met inside a directory (only when following).
    fn follow_link(&mut self, link: PathBuf) {
        let (real, meta) = match std::fs::canonicalize(&link)
            .and_then(|r| std::fs::metadata(&r).map(|m| (r, m)))
        {
            Ok(x) => x,
            Err(_) => {
                self.out.skip(SKIP_BROKEN_LINK);
                return;
            }
        };
        if meta.is_dir() {
            self.enter_dir(real, &meta);
        } else if meta.is_file() {
            self.push_file(real, Some(meta));
        } else {
            self.out.skip(SKIP_SPECIAL);
        }
    }

    fn walk_dir(&mut self, dir: PathBuf) {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.out
                    .failed
                    .push((dir, format!("cannot read directory: {e}")));
                return;
            }
        };
        let mut entries = Vec::new();
        for e in rd {
            match e {
                Ok(e) => entries.push(e),
                Err(e) => {
                    self.out
                        .failed
                        .push((dir.clone(), format!("cannot read directory: {e}")));
                    break;
                }
            }
        }
        entries.sort_by_key(|e| e.file_name());
        // Push subdirectories in reverse so they are walked in name order.
        let mut subdirs = Vec::new();
        for e in entries {
            let path = e.path();
            let ft = match e.file_type() {
                Ok(t) => t,
                Err(err) => {
                    self.out.failed.push((path, format!("cannot stat: {err}")));
                    continue;
                }
            };
            if ft.is_dir() {
                match e.metadata() {
                    Ok(m) => subdirs.push((path, m)),
                    Err(err) => self.out.failed.push((path, format!("cannot stat: {err}"))),
                }
            } else if ft.is_file() {
                // Stat only when someone needs it (following links dedups by inode).
                let meta = if self.follow { e.metadata().ok() } else { None };
                self.push_file(path, meta);
            } else if ft.is_symlink() {
                if self.follow {
                    self.follow_link(path);
                } else {
                    self.out.skip(SKIP_SYMLINK);
                }
            } else {
                self.out.skip(SKIP_SPECIAL);
            }
        }
        for (path, meta) in subdirs.into_iter().rev() {
            self.enter_dir(path, &meta);
        }
    }

    fn run(&mut self) {
        while let Some(dir) = self.stack.pop() {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.walk_dir(dir);
        }
    }
}

/// Walk `roots` (absolute, canonical paths). A root that is a file is a
/// candidate whatever its extension says.
pub fn walk(
    roots: &[PathBuf],
    follow: bool,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(u64),
) -> Walked {
    let mut w = Walker {
        follow,
        out: Walked::default(),
        dirs: HashSet::new(),
        files: HashSet::new(),
        stack: Vec::new(),
        stop,
        progress,
    };
    for root in roots {
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {
                w.enter_dir(root.clone(), &m);
                w.run();
            }
            Ok(m) if m.is_file() => {
                if !follow || w.files.insert(id(&m)) {
                    match root.clone().into_os_string().into_string() {
                        Ok(path) => w.out.files.push(Found {
                            path,
                            meta: Some(m),
                        }),
                        Err(_) => w.out.skip(SKIP_NOT_UTF8),
                    }
                }
            }
            Ok(_) => w.out.skip(SKIP_SPECIAL),
            Err(e) => w
                .out
                .failed
                .push((root.clone(), format!("cannot stat: {e}"))),
        }
    }
    let mut out = w.out;
    // Overlapping roots name some files twice.
    out.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out.files.dedup_by(|a, b| a.path == b.path);
    out
}
