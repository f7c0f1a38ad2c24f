//! Scanner-side writes: inserting and updating tracks in batches.

use super::{Result, Stamp, Store};
use crate::format::{Picture, Probe, TagValue};
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
    fn err(&self, e: rusqlite::Error) -> super::StoreError {
        self.store.err(e)
    }

    /// Insert a new track, or update an existing one whose file changed.
    /// With `replace_tags`, tags and pictures are re-read from the file
    /// (overwriting curated edits).
    pub fn upsert(&mut self, t: &NewTrack<'_>, replace_tags: bool) -> Result<Upsert> {
        let c = &self.store.conn;
        let p = t.probe;
        let existing: Option<i64> = c
            .prepare_cached("SELECT id FROM tracks WHERE path = ?1")
            .and_then(|mut s| s.query_row([t.path], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        let (id, outcome) = match existing {
            None => {
                c.prepare_cached(
                    "INSERT INTO tracks(path, format, audio_offset, audio_length, file_size, \
                     mtime_ns, ctime_ns, inode) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        t.path,
                        p.container.as_str(),
                        p.audio_offset as i64,
                        p.audio_len as i64,
                        t.stamp.size as i64,
                        t.stamp.mtime_ns,
                        t.stamp.ctime_ns,
                        t.stamp.inode as i64
                    ])
                })
                .map_err(|e| self.err(e))?;
                (c.last_insert_rowid(), Upsert::Added)
            }
            Some(id) => {
                c.prepare_cached(
                    "UPDATE tracks SET format=?2, audio_offset=?3, audio_length=?4, file_size=?5, \
                     mtime_ns=?6, ctime_ns=?7, inode=?8, content_version=content_version+1 \
                     WHERE id=?1",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        id,
                        p.container.as_str(),
                        p.audio_offset as i64,
                        p.audio_len as i64,
                        t.stamp.size as i64,
                        t.stamp.mtime_ns,
                        t.stamp.ctime_ns,
                        t.stamp.inode as i64
                    ])
                })
                .map_err(|e| self.err(e))?;
                c.prepare_cached("DELETE FROM structural WHERE track_id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(|e| self.err(e))?;
                if replace_tags {
                    for sql in [
                        "DELETE FROM tags WHERE track_id = ?1",
                        "DELETE FROM track_art WHERE track_id = ?1",
                    ] {
                        c.prepare_cached(sql)
                            .and_then(|mut s| s.execute([id]))
                            .map_err(|e| self.err(e))?;
                    }
                }
                (
                    id,
                    if replace_tags {
                        Upsert::Replaced
                    } else {
                        Upsert::Updated
                    },
                )
            }
        };
        for (i, s) in p.structural.iter().enumerate() {
            c.prepare_cached(
                "INSERT INTO structural(track_id, kind, ordinal, data) VALUES (?1,?2,?3,?4)",
            )
            .and_then(|mut st| st.execute(params![id, s.kind, i as i64, s.data]))
            .map_err(|e| self.err(e))?;
        }
        if outcome != Upsert::Updated {
            self.insert_tags(id, p)?;
            for (i, pic) in p.pictures.iter().enumerate() {
                let art_id = self.insert_art(pic)?;
                c.prepare_cached(
                    "INSERT INTO track_art(track_id, ordinal, art_id, picture_type, description) \
                     VALUES (?1,?2,?3,?4,?5)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        id,
                        i as i64,
                        art_id,
                        pic.picture_type.min(20) as i64,
                        pic.description
                    ])
                })
                .map_err(|e| self.err(e))?;
            }
        }
        Ok(outcome)
    }

    fn insert_tags(&self, id: i64, p: &Probe) -> Result<()> {
        let c = &self.store.conn;
        let mut ordinals: HashMap<&str, i64> = HashMap::new();
        let mut st = c
            .prepare_cached(
                "INSERT INTO tags(track_id, key, ordinal, value, value_blob) VALUES (?1,?2,?3,?4,?5)",
            )
            .map_err(|e| self.err(e))?;
        for tag in &p.tags {
            if tag.key.is_empty() || tag.key.len() > 255 {
                continue;
            }
            let ord = ordinals.entry(tag.key.as_str()).or_insert(0);
            let (text, blob): (&str, Option<&[u8]>) = match &tag.value {
                TagValue::Text(s) => (s.as_str(), None),
                TagValue::Binary(b) => ("", Some(b.as_slice())),
            };
            st.execute(params![id, tag.key, *ord, text, blob])
                .map_err(|e| self.err(e))?;
            *ord += 1;
        }
        Ok(())
    }

    /// Insert a picture into the content-addressed art table (deduplicated).
    pub fn insert_art(&self, pic: &Picture) -> Result<i64> {
        let c = &self.store.conn;
        let hash = Sha256::digest(&pic.data);
        c.prepare_cached(
            "INSERT OR IGNORE INTO art(sha256, mime, width, height, depth, colors, data) \
             VALUES (?1,?2,?3,?4,?5,?6,?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                hash.as_slice(),
                if pic.mime.is_empty() {
                    "application/octet-stream"
                } else {
                    &pic.mime
                },
                pic.width as i64,
                pic.height as i64,
                pic.depth as i64,
                pic.colors as i64,
                pic.data
            ])
        })
        .map_err(|e| self.err(e))?;
        c.prepare_cached("SELECT id FROM art WHERE sha256 = ?1")
            .and_then(|mut s| s.query_row([hash.as_slice()], |r| r.get(0)))
            .map_err(|e| self.err(e))
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

impl Drop for ScanWriter<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.store.conn.execute_batch("ROLLBACK");
        }
    }
}
