//! Tag and picture edits, following the external-writer contract
//! (docs/STORE.md): `musefs tag` uses exactly what other writers may use.

use super::{Result, Store};
use crate::format::{Picture, Tag, TagValue};
use rusqlite::params;
use sha2::{Digest, Sha256};

/// A picture link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureInfo {
    pub ordinal: i64,
    pub picture_type: u32,
    pub description: String,
    pub mime: String,
    pub len: u64,
    pub sha256: String,
}

impl Store {
    fn in_tx<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// All tags of a track, ordered by key then ordinal.
    pub fn tags_of(&self, id: i64) -> Result<Vec<Tag>> {
        Ok(self.track_detail(id)?.map(|d| d.tags).unwrap_or_default())
    }

    /// Replace every value of `key` with `values` (empty = remove the key).
    pub fn set_tag(&self, id: i64, key: &str, values: &[String]) -> Result<()> {
        let key = key.to_lowercase();
        self.in_tx(|s| {
            s.conn
                .execute(
                    "DELETE FROM tags WHERE track_id = ?1 AND key = ?2",
                    params![id, key],
                )
                .map_err(|e| s.err(e))?;
            for (i, v) in values.iter().enumerate() {
                s.conn
                    .execute(
                        "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, ?2, ?3, ?4)",
                        params![id, key, i as i64, v],
                    )
                    .map_err(|e| s.err(e))?;
            }
            Ok(())
        })
    }

    /// Append a value to `key`.
    pub fn add_tag(&self, id: i64, key: &str, value: &str) -> Result<()> {
        let key = key.to_lowercase();
        self.in_tx(|s| {
            s.conn
                .execute(
                    "INSERT INTO tags(track_id, key, ordinal, value) VALUES (?1, ?2, \
                     (SELECT coalesce(max(ordinal) + 1, 0) FROM tags WHERE track_id = ?1 AND key = ?2), ?3)",
                    params![id, key, value],
                )
                .map_err(|e| s.err(e))?;
            Ok(())
        })
    }

    /// Pictures linked to a track.
    pub fn pictures_of(&self, id: i64) -> Result<Vec<PictureInfo>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT ta.ordinal, ta.picture_type, ta.description, a.mime, length(a.data), \
                 hex(a.sha256) FROM track_art ta JOIN art a ON a.id = ta.art_id \
                 WHERE ta.track_id = ?1 ORDER BY ta.ordinal",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], |r| {
                Ok(PictureInfo {
                    ordinal: r.get(0)?,
                    picture_type: r.get::<_, i64>(1)? as u32,
                    description: r.get(2)?,
                    mime: r.get(3)?,
                    len: r.get::<_, i64>(4)? as u64,
                    sha256: r.get::<_, String>(5)?.to_lowercase(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Link a picture, replacing any picture of the same type. The bytes go
    /// into the content-addressed art table (shared when identical).
    pub fn set_picture(&self, id: i64, pic: &Picture) -> Result<()> {
        self.in_tx(|s| {
            let hash = Sha256::digest(&pic.data);
            s.conn
                .execute(
                    "INSERT OR IGNORE INTO art(sha256, mime, width, height, depth, colors, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        hash.as_slice(),
                        pic.mime,
                        pic.width as i64,
                        pic.height as i64,
                        pic.depth as i64,
                        pic.colors as i64,
                        pic.data
                    ],
                )
                .map_err(|e| s.err(e))?;
            s.conn
                .execute(
                    "DELETE FROM track_art WHERE track_id = ?1 AND picture_type = ?2",
                    params![id, pic.picture_type as i64],
                )
                .map_err(|e| s.err(e))?;
            s.conn
                .execute(
                    "INSERT INTO track_art(track_id, ordinal, art_id, picture_type, description) \
                     VALUES (?1, (SELECT coalesce(max(ordinal) + 1, 0) FROM track_art WHERE track_id = ?1), \
                     (SELECT id FROM art WHERE sha256 = ?2), ?3, ?4)",
                    params![id, hash.as_slice(), pic.picture_type as i64, pic.description],
                )
                .map_err(|e| s.err(e))?;
            Ok(())
        })
    }

    /// Unlink pictures (of one type, or all). Returns how many were unlinked.
    pub fn remove_pictures(&self, id: i64, picture_type: Option<u32>) -> Result<usize> {
        self.in_tx(|s| {
            let n = match picture_type {
                Some(t) => s.conn.execute(
                    "DELETE FROM track_art WHERE track_id = ?1 AND picture_type = ?2",
                    params![id, t as i64],
                ),
                None => s
                    .conn
                    .execute("DELETE FROM track_art WHERE track_id = ?1", [id]),
            }
            .map_err(|e| s.err(e))?;
            Ok(n)
        })
    }
}

/// Render a tag value for display.
pub fn display_value(v: &TagValue) -> String {
    match v {
        TagValue::Text(s) => s.clone(),
        TagValue::Binary(b) => format!("<{} bytes of binary data>", b.len()),
    }
}
