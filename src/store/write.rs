//! Scanner-side writes: inserting and updating tracks in batches.

use super::{Result, Stamp, Store, StoreError};
use crate::format::{Picture, Probe, TagValue, limits};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A probed file ready to be written.
#[derive(Debug)]
pub struct NewTrack<'a> {
    pub path: &'a str,
    pub stamp: Stamp,
    pub probe: &'a Probe,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Added,
    /// The file changed on disk; structure re-read, curated tags kept.
    Updated,
    /// `--force`: structure and tags re-read from the file.
    Replaced,
}

/// A write transaction for the scanner. Dropping it without `commit` rolls back.
pub struct ScanWriter<'s> {
    store: &'s Store,
    open: bool,
}

impl StoreError {
    /// True for errors that concern one file's rows (a CHECK or a size
    /// limit), after which the scan can go on with the next file.
    pub fn is_per_row(&self) -> bool {
        match self {
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } => matches!(
                f.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            ),
            StoreError::Sqlite {
                source: rusqlite::Error::ToSqlConversionFailure(_),
                ..
            } => true,
            _ => false,
        }
    }
}

impl Store {
    /// Stamps of every known track, keyed by backing path.
    pub fn known_stamps(&self) -> Result<HashMap<String, (i64, Stamp)>> {
        let mut st = self
            .conn
            .prepare("SELECT id, path, file_size, mtime_ns, ctime_ns, inode FROM tracks")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    (
                        r.get::<_, i64>(0)?,
                        Stamp {
                            size: r.get::<_, i64>(2)? as u64,
                            mtime_ns: r.get(3)?,
                            ctime_ns: r.get(4)?,
                            inode: r.get::<_, i64>(5)? as u64,
                        },
                    ),
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Settings for a bulk-writing connection (the scanner's): in WAL mode,
    /// `synchronous = NORMAL` syncs at checkpoints rather than at every
    /// commit; a committed batch can be lost on power failure but the store
    /// stays consistent. A larger page cache keeps index pages hot.
    pub fn tune_for_bulk_writes(&self) -> Result<()> {
        self.conn
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768; \
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(|e| self.err(e))
    }

    /// Start a write transaction.
    pub fn writer(&self) -> Result<ScanWriter<'_>> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        Ok(ScanWriter {
            store: self,
            open: true,
        })
    }
}

impl ScanWriter<'_> {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        self.store.err(e)
    }

    pub(super) fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
        self.store
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(p))
            .map_err(|e| self.err(e))
    }

    /// Run `f` for one file inside a savepoint: if it fails, that file's rows
    /// are rolled back and the batch goes on.
    pub fn file<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.exec("SAVEPOINT file", [])?;
        match f(self) {
            Ok(v) => {
                self.exec("RELEASE file", [])?;
                Ok(v)
            }
            Err(e) => {
                self.exec("ROLLBACK TO file", [])?;
                self.exec("RELEASE file", [])?;
                Err(e)
            }
        }
    }

    /// Insert a new track, or update an existing one whose file changed.
    /// With `replace_tags`, tags and pictures are re-read from the file
    /// (overwriting curated edits).
    pub fn upsert(&mut self, t: &NewTrack<'_>, replace_tags: bool) -> Result<Upsert> {
        self.upsert_fp(t, None, replace_tags)
    }

    /// [`ScanWriter::upsert`] that also records the content fingerprint.
    pub fn upsert_fp(
        &mut self,
        t: &NewTrack<'_>,
        fingerprint: Option<&[u8]>,
        replace_tags: bool,
    ) -> Result<Upsert> {
        let existing: Option<i64> = self
            .store
            .conn
            .prepare_cached("SELECT id FROM tracks WHERE path = ?1")
            .and_then(|mut s| s.query_row([t.path], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        match existing {
            None => {
                let p = t.probe;
                // tags_edited_ns = -1 marks the row as being built: the
                // tag and picture insert triggers skip it (see schema.rs).
                self.exec(
                    "INSERT INTO tracks(path, format, audio_offset, audio_length, file_size, \
                     mtime_ns, ctime_ns, inode, fingerprint, tags_edited_ns) \
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,-1)",
                    params![
                        t.path,
                        p.container.as_str(),
                        p.audio_offset as i64,
                        p.audio_len as i64,
                        t.stamp.size as i64,
                        t.stamp.mtime_ns,
                        t.stamp.ctime_ns,
                        t.stamp.inode as i64,
                        fingerprint
                    ],
                )?;
                let id = self.store.conn.last_insert_rowid();
                self.insert_structural(id, p)?;
                self.insert_tags_and_art(id, p)?;
                self.exec("UPDATE tracks SET tags_edited_ns = 0 WHERE id = ?1", [id])?;
                Ok(Upsert::Added)
            }
            Some(id) => self.update(id, t, fingerprint, replace_tags),
        }
    }

    /// Rewrite the structural columns of track `id` from a new probe of
    /// `t.path` (which may differ from the row's path: a moved file keeps its
    /// id). Curated tags and pictures are kept unless `replace_tags`.
    pub fn update(
        &mut self,
        id: i64,
        t: &NewTrack<'_>,
        fingerprint: Option<&[u8]>,
        replace_tags: bool,
    ) -> Result<Upsert> {
        let p = t.probe;
        self.exec(
            "UPDATE tracks SET path=?2, format=?3, audio_offset=?4, audio_length=?5, \
             file_size=?6, mtime_ns=?7, ctime_ns=?8, inode=?9, fingerprint=?10, \
             content_version=content_version+1 WHERE id=?1",
            params![
                id,
                t.path,
                p.container.as_str(),
                p.audio_offset as i64,
                p.audio_len as i64,
                t.stamp.size as i64,
                t.stamp.mtime_ns,
                t.stamp.ctime_ns,
                t.stamp.inode as i64,
                fingerprint
            ],
        )?;
        self.exec("DELETE FROM structural WHERE track_id = ?1", [id])?;
        self.insert_structural(id, p)?;
        if replace_tags {
            self.exec("DELETE FROM tags WHERE track_id = ?1", [id])?;
            self.exec("DELETE FROM track_art WHERE track_id = ?1", [id])?;
            self.insert_tags_and_art(id, p)?;
            Ok(Upsert::Replaced)
        } else {
            Ok(Upsert::Updated)
        }
    }

    /// Tracks of this container whose fingerprint equals `fingerprint`, by
    /// ascending id: the candidates a moved file may re-attach to.
    pub fn by_fingerprint(&self, fingerprint: &[u8], format: &str) -> Result<Vec<(i64, String)>> {
        self.store
            .conn
            .prepare_cached(
                "SELECT id, path FROM tracks WHERE fingerprint = ?1 AND format = ?2 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map(params![fingerprint, format], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Delete a track (its tags, pictures links and structural rows go with it).
    pub fn delete_track(&mut self, id: i64) -> Result<bool> {
        Ok(self.exec("DELETE FROM tracks WHERE id = ?1", [id])? > 0)
    }

    fn insert_structural(&self, id: i64, p: &Probe) -> Result<()> {
        for (i, s) in p.structural.iter().enumerate() {
            self.exec(
                "INSERT INTO structural(track_id, kind, ordinal, data) VALUES (?1,?2,?3,?4)",
                params![id, s.kind, i as i64, s.data],
            )?;
        }
        Ok(())
    }

    fn insert_tags_and_art(&self, id: i64, p: &Probe) -> Result<()> {
        self.insert_tags(id, p)?;
        let mut ordinal = 0i64;
        for pic in &p.pictures {
            if !picture_fits(pic) {
                continue;
            }
            let art_id = self.insert_art(pic)?;
            self.exec(
                "INSERT INTO track_art(track_id, ordinal, art_id, picture_type, description) \
                 VALUES (?1,?2,?3,?4,?5)",
                params![
                    id,
                    ordinal,
                    art_id,
                    pic.picture_type.min(20) as i64,
                    pic.description
                ],
            )?;
            ordinal += 1;
        }
        Ok(())
    }

    fn insert_tags(&self, id: i64, p: &Probe) -> Result<()> {
        let c = &self.store.conn;
        let mut ordinals: HashMap<String, i64> = HashMap::new();
        let mut st = c
            .prepare_cached(
                "INSERT INTO tags(track_id, key, ordinal, value, value_blob) VALUES (?1,?2,?3,?4,?5)",
            )
            .map_err(|e| self.err(e))?;
        for tag in &p.tags {
            // What the key CHECK refuses (SQLite measures text up to a NUL).
            if tag.key.is_empty() || tag.key.len() > 255 || tag.key.contains('\0') {
                continue;
            }
            // The store's CHECK wants ASCII lower case (SQLite's lower()).
            let key = tag.key.to_ascii_lowercase();
            let ord = ordinals.entry(key.clone()).or_insert(0);
            let (text, blob): (&str, Option<&[u8]>) = match &tag.value {
                TagValue::Text(s) => (s.as_str(), None),
                TagValue::Binary(b) => ("", Some(b.as_slice())),
            };
            st.execute(params![id, key, *ord, text, blob])
                .map_err(|e| self.err(e))?;
            *ord += 1;
        }
        Ok(())
    }

    /// Insert a picture into the content-addressed art table (deduplicated).
    pub fn insert_art(&self, pic: &Picture) -> Result<i64> {
        let c = &self.store.conn;
        let hash = Sha256::digest(&pic.data);
        let known: Option<i64> = c
            .prepare_cached("SELECT id FROM art WHERE sha256 = ?1")
            .and_then(|mut s| s.query_row([hash.as_slice()], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        if let Some(id) = known {
            return Ok(id);
        }
        let mime = if pic.mime.is_empty() || pic.mime.len() > 255 {
            "application/octet-stream"
        } else {
            &pic.mime
        };
        self.exec(
            "INSERT INTO art(sha256, mime, width, height, depth, colors, data) \
             VALUES (?1,?2,?3,?4,?5,?6,?7)",
            params![
                hash.as_slice(),
                mime,
                pic.width as i64,
                pic.height as i64,
                pic.depth as i64,
                pic.colors as i64,
                pic.data
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Commit the batch.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.store
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| self.store.err(e))
    }
}

/// Whether the store accepts a picture (the `art.data` CHECK: 1 byte up to
/// the format layer's per-picture limit). Others are skipped by the writer.
fn picture_fits(pic: &Picture) -> bool {
    !pic.data.is_empty() && pic.data.len() <= limits::MAX_PICTURE_BYTES
}

impl Drop for ScanWriter<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.store.conn.execute_batch("ROLLBACK");
        }
    }
}
