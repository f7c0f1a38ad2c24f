//! The SQLite store: schema, migrations, and typed access.
//!
//! This layer knows SQL and nothing about FUSE or byte layouts of formats.
//! The external-writer contract lives in `docs/STORE.md`.

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod edit;
pub mod maintenance;
mod read;
pub mod schema;
mod write;

pub use read::{ArtMeta, LibraryRows, TrackDetail, TrackRow};
pub use write::{NewTrack, ScanWriter, Upsert};

/// Identity of a backing file at scan time; a layout is valid only while it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            size: meta.size(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            inode: meta.ino(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {0} does not exist (run `musefs scan` first, or pass --db)")]
    NotFound(PathBuf),
    #[error("{0} is not a musefs store (it is an SQLite database of another program)")]
    NotAStore(PathBuf),
    #[error("{0} is corrupt or not an SQLite database")]
    Corrupt(PathBuf),
    #[error(
        "store {path} has schema version {found}, newer than this musefs supports ({supported}); upgrade musefs"
    )]
    TooNew {
        path: PathBuf,
        found: i32,
        supported: i32,
    },
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create store directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An open store connection.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && matches!(
            f.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        )
    {
        return StoreError::Corrupt(path.to_owned());
    }
    StoreError::Sqlite {
        path: path.to_owned(),
        source: e,
    }
}

impl Store {
    /// Open (creating if needed) a store for writing, applying migrations.
    pub fn open_rw(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, e))?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Open an existing store for reading (the mount's connections).
    pub fn open_ro(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::NotFound(path.to_owned()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, e))?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure()?;
        store.check_identity()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, e)
    }

    fn configure(&self) -> Result<()> {
        self.conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| self.err(e))?;
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Returns the schema version after checking the file is a musefs store
    /// this binary can read.
    fn check_identity(&self) -> Result<i32> {
        let (app, ver): (i32, i32) = self
            .conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id), \
                        (SELECT user_version FROM pragma_user_version)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        if app != schema::APPLICATION_ID {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if app != 0 || tables > 0 || ver != 0 {
                return Err(StoreError::NotAStore(self.path.clone()));
            }
        }
        if ver > schema::SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: ver,
                supported: schema::SCHEMA_VERSION,
            });
        }
        Ok(ver)
    }

    fn migrate(&self) -> Result<()> {
        let ver = self.check_identity()?;
        if ver == schema::SCHEMA_VERSION {
            return Ok(());
        }
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(|e| self.err(e))?;
        for (i, sql) in schema::migrations().iter().enumerate().skip(ver as usize) {
            let next = i + 1;
            let batch = format!(
                "BEGIN IMMEDIATE;\n{sql}\nPRAGMA application_id = {};\nPRAGMA user_version = {next};\nCOMMIT;",
                schema::APPLICATION_ID
            );
            if let Err(e) = self.conn.execute_batch(&batch) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(self.err(e));
            }
        }
        Ok(())
    }

    /// SQLite's `data_version`: changes when another connection commits.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Highest change-log sequence number (0 when empty).
    pub fn change_watermark(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Tracks changed after `watermark` (ascending, unique) and the new watermark.
    pub fn changes_since(&self, watermark: i64) -> Result<(Vec<i64>, i64)> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, track_id FROM changes WHERE seq > ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([watermark]).map_err(|e| self.err(e))?;
        let mut ids = Vec::new();
        let mut w = watermark;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            w = w.max(r.get(0).map_err(|e| self.err(e))?);
            ids.push(r.get(1).map_err(|e| self.err(e))?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok((ids, w))
    }

    /// Number of tracks.
    pub fn track_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The raw connection, for tests and tools that speak SQL directly.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Look a track id up by its backing path.
    pub fn track_id_by_path(&self, path: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT id FROM tracks WHERE path = ?1", [path], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// The default store path: `$XDG_DATA_HOME/musefs/store.db`, else
/// `~/.local/share/musefs/store.db`.
pub fn default_path() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("musefs/store.db");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/share/musefs/store.db");
    }
    PathBuf::from("/var/lib/musefs/store.db")
}

#[cfg(test)]
mod tests;
