//! Store maintenance: the advisory lock that keeps `vacuum` away from a
//! running mount or scan, compaction, and garbage collection of pictures.
//!
//! The lock is an `flock(2)` on `<store>.lock`, a file next to the store
//! (never on the store itself: closing a second descriptor of the database
//! would drop SQLite's own POSIX locks). A mount, a scan and a revalidate
//! hold it shared; `vacuum` takes it exclusively and refuses when it is
//! busy. Every attempt is non-blocking. The lock file is created on first
//! use and never deleted (deleting it would let two processes lock two
//! different files of the same name).

use super::{Result, Stamp, Store};
use crate::format::Container;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "store {store} is in use: a mount, scan or revalidate holds {lock}; stop it and try again"
    )]
    Busy { store: PathBuf, lock: PathBuf },
    #[error(
        "store {store} is being compacted (`musefs vacuum` holds {lock}); try again when it finishes"
    )]
    Vacuuming { store: PathBuf, lock: PathBuf },
    #[error("cannot open lock file {lock}: {source}")]
    Io {
        lock: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a [`StoreLock`] is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// A held advisory lock on a store; released on drop (or when the process exits).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
    mode: LockMode,
}

impl StoreLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

/// The lock file of a store: `<store>.lock`.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

fn open_lock_file(lock: &Path) -> std::result::Result<File, LockError> {
    if let Some(dir) = lock.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
            lock: lock.to_owned(),
            source,
        })?;
    }
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock);
    match rw {
        Ok(f) => Ok(f),
        // A read-only view of the store's directory (a sandboxed mount):
        // flock works on a descriptor opened for reading.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM)
            ) =>
        {
            File::open(lock).map_err(|source| LockError::Io {
                lock: lock.to_owned(),
                source,
            })
        }
        Err(source) => Err(LockError::Io {
            lock: lock.to_owned(),
            source,
        }),
    }
}

fn take(store: &Path, mode: LockMode) -> std::result::Result<StoreLock, LockError> {
    let lock = lock_path(store);
    let file = open_lock_file(&lock)?;
    let r = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match r {
        Ok(()) => Ok(StoreLock {
            _file: file,
            path: lock,
            mode,
        }),
        Err(TryLockError::WouldBlock) => Err(match mode {
            LockMode::Shared => LockError::Vacuuming {
                store: store.to_owned(),
                lock,
            },
            LockMode::Exclusive => LockError::Busy {
                store: store.to_owned(),
                lock,
            },
        }),
        Err(TryLockError::Error(source)) => Err(LockError::Io { lock, source }),
    }
}

/// What `vacuum` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacuumReport {
    /// Store plus WAL size before, in bytes.
    pub before: u64,
    /// Store plus WAL size after, in bytes.
    pub after: u64,
}

/// A track as `revalidate` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTrack {
    pub id: i64,
    pub path: String,
    pub container: Option<Container>,
    pub stamp: Stamp,
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

impl Store {
    /// Take the store's lock shared (mount, scan, revalidate), without waiting.
    /// Fails with [`LockError::Vacuuming`] while a vacuum holds it.
    pub fn lock_shared(store: &Path) -> std::result::Result<StoreLock, LockError> {
        take(store, LockMode::Shared)
    }

    /// Take the store's lock exclusively (vacuum), without waiting. Fails with
    /// [`LockError::Busy`] while anyone else holds it.
    pub fn lock_exclusive(store: &Path) -> std::result::Result<StoreLock, LockError> {
        take(store, LockMode::Exclusive)
    }

    /// Size of the store file plus its WAL, in bytes.
    pub fn disk_size(&self) -> u64 {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        file_len(&self.path) + file_len(Path::new(&wal))
    }

    /// Compact the store: checkpoint the WAL, rebuild the file without free
    /// pages, truncate the WAL. Track and picture ids are kept (every table
    /// has an explicit key). The caller must hold the exclusive lock.
    pub fn vacuum(&self) -> Result<VacuumReport> {
        let before = self.disk_size();
        self.conn
            .execute_batch(
                "PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE); VACUUM; \
                 PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .map_err(|e| self.err(e))?;
        Ok(VacuumReport {
            before,
            after: self.disk_size(),
        })
    }

    /// Delete pictures no track links to; returns how many went.
    pub fn gc_art(&self) -> Result<u64> {
        self.conn
            .execute(
                "DELETE FROM art WHERE NOT EXISTS \
                 (SELECT 1 FROM track_art ta WHERE ta.art_id = art.id)",
                [],
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Every track's path and stamp, by ascending id.
    pub fn stored_tracks(&self) -> Result<Vec<StoredTrack>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, path, format, file_size, mtime_ns, ctime_ns, inode FROM tracks \
                 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(StoredTrack {
                    id: r.get(0)?,
                    path: r.get(1)?,
                    container: Container::parse(&r.get::<_, String>(2)?),
                    stamp: Stamp {
                        size: r.get::<_, i64>(3)? as u64,
                        mtime_ns: r.get(4)?,
                        ctime_ns: r.get(5)?,
                        inode: r.get::<_, i64>(6)? as u64,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// SQLite's `integrity_check` plus `foreign_key_check`: empty when the
    /// store is sound, otherwise one line per problem.
    pub fn check_integrity(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.err(e))?;
        for r in st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
        {
            let line = r.map_err(|e| self.err(e))?;
            if line != "ok" {
                out.push(line);
            }
        }
        let mut st = self
            .conn
            .prepare("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
            .map_err(|e| self.err(e))?;
        for r in st
            .query_map([], |r| {
                Ok(format!(
                    "foreign key: {} row {:?} -> {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?
                ))
            })
            .map_err(|e| self.err(e))?
        {
            out.push(r.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_refused_while_shared_held_and_vice_versa() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("s.db");
        let a = Store::lock_shared(&db).unwrap();
        let b = Store::lock_shared(&db).unwrap();
        assert_eq!(a.mode(), LockMode::Shared);
        assert!(matches!(
            Store::lock_exclusive(&db),
            Err(LockError::Busy { .. })
        ));
        drop(a);
        assert!(Store::lock_exclusive(&db).is_err());
        drop(b);
        let x = Store::lock_exclusive(&db).unwrap();
        assert!(matches!(
            Store::lock_shared(&db),
            Err(LockError::Vacuuming { .. })
        ));
        assert_eq!(x.path(), d.path().join("s.db.lock"));
        drop(x);
        Store::lock_shared(&db).unwrap();
    }

    #[test]
    fn vacuum_and_gc_keep_referenced_art() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open_rw(&d.path().join("s.db")).unwrap();
        let c = s.conn();
        c.execute_batch(
            "INSERT INTO art(sha256, mime, data) VALUES (zeroblob(32), 'image/png', x'01');
             INSERT INTO art(sha256, mime, data) VALUES (randomblob(32), 'image/png', x'02');
             INSERT INTO tracks(path, format, audio_offset, audio_length, file_size, mtime_ns,
                 ctime_ns, inode) VALUES ('/a.flac', 'flac', 0, 1, 1, 0, 0, 1);
             INSERT INTO track_art(track_id, art_id) VALUES (1, 1);",
        )
        .unwrap();
        assert_eq!(s.gc_art().unwrap(), 1);
        assert_eq!(s.gc_art().unwrap(), 0);
        let r = s.vacuum().unwrap();
        assert!(r.after > 0);
        assert!(s.check_integrity().unwrap().is_empty());
        assert_eq!(s.stored_tracks().unwrap().len(), 1);
    }

    #[test]
    fn a_refused_file_rolls_back_alone() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open_rw(&d.path().join("s.db")).unwrap();
        let ins = |w: &mut crate::store::ScanWriter<'_>, path: &str, size: i64| {
            w.file(|w| {
                w.exec(
                    "INSERT INTO tracks(path, format, audio_offset, audio_length, file_size, \
                     mtime_ns, ctime_ns, inode) VALUES (?1, 'flac', 0, 10, ?2, 0, 0, 1)",
                    rusqlite::params![path, size],
                )?;
                w.exec(
                    "INSERT INTO tags(track_id, key, value) VALUES (last_insert_rowid(), 't', 'v')",
                    [],
                )
            })
        };
        let mut w = s.writer().unwrap();
        ins(&mut w, "/a.flac", 10).unwrap();
        // file_size < audio range: the CHECK refuses the second row.
        let e = ins(&mut w, "/b.flac", 5).unwrap_err();
        assert!(e.is_per_row(), "{e}");
        ins(&mut w, "/c.flac", 10).unwrap();
        w.commit().unwrap();
        let paths: Vec<String> = s
            .stored_tracks()
            .unwrap()
            .into_iter()
            .map(|t| t.path)
            .collect();
        assert_eq!(paths, ["/a.flac", "/c.flac"]);
        let tags: i64 = s
            .conn()
            .query_row("SELECT count(*) FROM tags", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tags, 2);
    }
}
