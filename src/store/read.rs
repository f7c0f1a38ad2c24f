//! Reader-side access: what the mount loads to build its tree and layouts.
//!
//! The store is written by other programs, so nothing read here is trusted:
//! every column is decoded without assuming its type or encoding, values
//! larger than the format limits are never loaded (the SQL returns NULL and
//! a flag instead), and per-track counts are capped. A row that breaks a rule
//! rejects its track with a reason (a problem entry in the view); it never
//! fails the whole load or makes the mount allocate without bound.

use super::{Result, Stamp, Store};
use crate::format::{Container, PictureRef, Structural, Tag, TagValue, limits};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// Most structural rows per track (FLAC keeps at most a few blocks, WAV
/// at most 4096 chunks, Ogg FLAC 1024 blocks).
pub const MAX_STRUCTURAL_ROWS: usize = 8192;
/// Most bytes of structural rows per track.
pub const MAX_STRUCTURAL_BYTES: u64 = 2 * limits::MAX_HEADER_BYTES;
/// Most bytes of tag keys and values per track.
pub const MAX_TAG_BYTES: u64 = limits::MAX_HEADER_BYTES;
/// Longest tag key, picture MIME type or structural kind (the schema's CHECKs).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest backing path.
pub const MAX_PATH_BYTES: usize = 4096;

/// One track's structural columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRow {
    pub id: i64,
    pub path: String,
    pub container: Container,
    pub audio_offset: u64,
    pub audio_len: u64,
    pub stamp: Stamp,
    pub content_version: i64,
    pub tags_edited_ns: i64,
}

/// Picture metadata (bytes stay in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtMeta {
    pub track_id: i64,
    pub picture: PictureRef,
}

/// Everything the tree build needs, for every track (ordered by track id).
#[derive(Debug, Default)]
pub struct LibraryRows {
    pub tracks: Vec<TrackRow>,
    /// Tags per track, parallel to `tracks`.
    pub tags: Vec<Vec<Tag>>,
    /// Pictures per track, parallel to `tracks`.
    pub pictures: Vec<Vec<PictureRef>>,
    /// Structural rows per track, parallel to `tracks` (empty unless asked for).
    pub structural: Vec<Vec<Structural>>,
    /// `tracks` rows with an unknown format or impossible values, skipped.
    pub rejected: Vec<(i64, String)>,
    /// Change-log position these rows reflect.
    pub watermark: i64,
}

/// What synthesis needs for one track.
#[derive(Debug, Clone)]
pub struct TrackDetail {
    pub track: TrackRow,
    pub structural: Vec<Structural>,
    pub tags: Vec<Tag>,
    pub pictures: Vec<PictureRef>,
    /// Set when a row of this track breaks a rule (over a limit, not valid
    /// UTF-8, wrong type): the track must not be served, for this reason.
    pub problem: Option<String>,
}

/// Why a row cannot be used.
type Bad = String;

fn int(r: &rusqlite::Row<'_>, i: usize, what: &str) -> std::result::Result<i64, Bad> {
    match r.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Integer(v) => Ok(v),
        other => Err(format!("{what} is not an integer ({})", other.data_type())),
    }
}

/// A text column of at most `max` bytes (`NULL` reads as empty).
fn text(
    r: &rusqlite::Row<'_>,
    i: usize,
    what: &str,
    max: usize,
) -> std::result::Result<String, Bad> {
    match r.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Text(b) if b.len() <= max => {
            String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
        }
        ValueRef::Text(_) => Err(format!("{what} is longer than {max} bytes")),
        ValueRef::Null => Ok(String::new()),
        other => Err(format!("{what} is not text ({})", other.data_type())),
    }
}

/// An optional blob column (`NULL` = none).
fn blob(r: &rusqlite::Row<'_>, i: usize, what: &str) -> std::result::Result<Option<Vec<u8>>, Bad> {
    match r.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(Some(b.to_vec())),
        ValueRef::Null => Ok(None),
        other => Err(format!("{what} is not a blob ({})", other.data_type())),
    }
}

/// Columns 1.. of a `tracks` row (column 0 is the id).
const TRACK_COLS: &str = "id, CASE WHEN octet_length(path) <= 4096 THEN path END, \
                          octet_length(path), format, audio_offset, audio_length, file_size, \
                          mtime_ns, ctime_ns, inode, content_version, tags_edited_ns";

/// Decode and validate a `tracks` row: the store's CHECKs make failures
/// unlikely, but the mount must not trust a file another program wrote.
fn track_row(r: &rusqlite::Row<'_>, id: i64) -> std::result::Result<TrackRow, Bad> {
    let plen = int(r, 2, "path length").unwrap_or(0);
    if plen as u64 > MAX_PATH_BYTES as u64 {
        return Err(format!("path longer than {MAX_PATH_BYTES} bytes"));
    }
    let path = text(r, 1, "path", MAX_PATH_BYTES)?;
    if path.is_empty() {
        return Err("empty path".into());
    }
    let format = text(r, 3, "format", MAX_NAME_BYTES)?;
    let container =
        Container::parse(&format).ok_or_else(|| format!("unknown format {format:?}"))?;
    let off = int(r, 4, "audio_offset")?;
    let len = int(r, 5, "audio_length")?;
    let size = int(r, 6, "file_size")?;
    if off < 0 || len < 0 || size < 0 || off.checked_add(len).is_none_or(|e| e > size) {
        return Err("audio range outside the file".into());
    }
    Ok(TrackRow {
        id,
        path,
        container,
        audio_offset: off as u64,
        audio_len: len as u64,
        stamp: Stamp {
            size: size as u64,
            mtime_ns: int(r, 7, "mtime_ns")?,
            ctime_ns: int(r, 8, "ctime_ns")?,
            inode: int(r, 9, "inode")? as u64,
        },
        content_version: int(r, 10, "content_version")?,
        tags_edited_ns: int(r, 11, "tags_edited_ns")?,
    })
}

/// Tag rows: key, value and blob, with values over the limit left unloaded
/// (column 4 flags them). `?1` = largest value.
const TAG_COLS: &str = "track_id, CASE WHEN octet_length(key) <= 255 THEN key END, \
     CASE WHEN octet_length(value) <= ?1 THEN value END, \
     CASE WHEN octet_length(value_blob) <= ?1 THEN value_blob END, \
     coalesce(octet_length(key) > 255, 0) OR coalesce(octet_length(value) > ?1, 0) \
     OR coalesce(octet_length(value_blob) > ?1, 0)";

fn tag_row(r: &rusqlite::Row<'_>) -> std::result::Result<Tag, Bad> {
    if int(r, 4, "tag size flag")? != 0 {
        return Err(format!(
            "a tag is larger than {} bytes",
            limits::MAX_TAG_VALUE_BYTES
        ));
    }
    let key = text(r, 1, "tag key", MAX_NAME_BYTES)?;
    if key.is_empty() {
        return Err("a tag has an empty key".into());
    }
    let value = text(r, 2, &format!("tag {key}"), limits::MAX_TAG_VALUE_BYTES)?;
    Ok(Tag {
        value: match blob(r, 3, &format!("tag {key}"))? {
            Some(b) => TagValue::Binary(b),
            None => TagValue::Text(value),
        },
        key,
    })
}

fn clamp_u32(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

/// Picture rows (columns 1..); the bytes stay in the store. `?1` = longest
/// description.
const ART_COLS: &str = "ta.track_id, ta.art_id, ta.picture_type, \
     CASE WHEN octet_length(a.mime) <= 255 THEN a.mime END, \
     CASE WHEN octet_length(ta.description) <= ?1 THEN ta.description END, \
     a.width, a.height, a.depth, a.colors, length(a.data), \
     coalesce(octet_length(a.mime) > 255, 0) OR coalesce(octet_length(ta.description) > ?1, 0)";

fn art_row(r: &rusqlite::Row<'_>) -> std::result::Result<PictureRef, Bad> {
    if int(r, 10, "picture size flag")? != 0 {
        return Err("a picture's MIME type or description is too long".into());
    }
    let len = int(r, 9, "picture length")?;
    if len < 0 || len as u64 > limits::MAX_PICTURE_BYTES as u64 {
        return Err(format!(
            "a picture of {len} bytes (limit {})",
            limits::MAX_PICTURE_BYTES
        ));
    }
    Ok(PictureRef {
        art_id: int(r, 1, "art_id")?,
        picture_type: clamp_u32(int(r, 2, "picture_type")?),
        mime: text(r, 3, "picture MIME type", MAX_NAME_BYTES)?,
        description: text(r, 4, "picture description", limits::MAX_TAG_VALUE_BYTES)?,
        width: clamp_u32(int(r, 5, "width").unwrap_or(0)),
        height: clamp_u32(int(r, 6, "height").unwrap_or(0)),
        depth: clamp_u32(int(r, 7, "depth").unwrap_or(0)),
        colors: clamp_u32(int(r, 8, "colors").unwrap_or(0)),
        len: len as u64,
    })
}

/// Structural rows, data over the limit left unloaded. `?1` = largest row.
const STRUCT_COLS: &str = "track_id, CASE WHEN octet_length(kind) <= 255 THEN kind END, \
     CASE WHEN octet_length(data) <= ?1 THEN data END, \
     coalesce(octet_length(kind) > 255, 0) OR coalesce(octet_length(data) > ?1, 0)";

fn struct_row(r: &rusqlite::Row<'_>) -> std::result::Result<Structural, Bad> {
    if int(r, 3, "structural size flag")? != 0 {
        return Err("a structural row is over the size limit".into());
    }
    Ok(Structural {
        kind: text(r, 1, "structural kind", MAX_NAME_BYTES)?,
        data: blob(r, 2, "structural data")?.unwrap_or_default(),
    })
}

/// Per-track budgets while collecting rows.
#[derive(Default)]
struct Budget {
    tags: usize,
    tag_bytes: u64,
    pictures: usize,
    structural: usize,
    structural_bytes: u64,
}

impl Budget {
    fn tag(&mut self, t: &Tag) -> std::result::Result<(), Bad> {
        self.tags += 1;
        self.tag_bytes += t.key.len() as u64
            + match &t.value {
                TagValue::Text(s) => s.len(),
                TagValue::Binary(b) => b.len(),
            } as u64;
        if self.tags > limits::MAX_TAGS {
            return Err(format!("more than {} tags", limits::MAX_TAGS));
        }
        if self.tag_bytes > MAX_TAG_BYTES {
            return Err(format!("tags larger than {MAX_TAG_BYTES} bytes in all"));
        }
        Ok(())
    }

    fn picture(&mut self) -> std::result::Result<(), Bad> {
        self.pictures += 1;
        if self.pictures > limits::MAX_PICTURES {
            return Err(format!("more than {} pictures", limits::MAX_PICTURES));
        }
        Ok(())
    }

    fn structural(&mut self, s: &Structural) -> std::result::Result<(), Bad> {
        self.structural += 1;
        self.structural_bytes += s.data.len() as u64;
        if self.structural > MAX_STRUCTURAL_ROWS || self.structural_bytes > MAX_STRUCTURAL_BYTES {
            return Err("structural rows over the size limit".into());
        }
        Ok(())
    }
}

/// Rows of one kind for many tracks, collected under per-track budgets.
struct Collect<'a, T> {
    index: &'a dyn Fn(i64) -> Option<usize>,
    out: &'a mut [Vec<T>],
    budgets: &'a mut [Budget],
    bad: &'a mut HashMap<i64, String>,
}

impl<T> Collect<'_, T> {
    fn push(
        &mut self,
        id: i64,
        row: std::result::Result<T, Bad>,
        charge: impl FnOnce(&mut Budget, &T) -> std::result::Result<(), Bad>,
    ) {
        let Some(i) = (self.index)(id) else { return };
        if self.bad.contains_key(&id) {
            return;
        }
        match row.and_then(|v| charge(&mut self.budgets[i], &v).map(|()| v)) {
            Ok(v) => self.out[i].push(v),
            Err(why) => {
                self.bad.insert(id, why);
                self.out[i] = Vec::new();
            }
        }
    }
}

impl Store {
    /// Load every track with its tags and picture metadata.
    pub fn load_library(&self, with_structural: bool) -> Result<LibraryRows> {
        // One read transaction so the three queries see the same snapshot.
        self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        let out = self.load_library_inner(with_structural);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }

    fn load_library_inner(&self, with_structural: bool) -> Result<LibraryRows> {
        let mut out = LibraryRows {
            watermark: self.change_watermark()?,
            ..LibraryRows::default()
        };
        let mut st = self
            .conn
            .prepare(&format!("SELECT {TRACK_COLS} FROM tracks ORDER BY id"))
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let Ok(id) = int(r, 0, "id") else {
                continue; // no id to report it under (a non-STRICT table)
            };
            match track_row(r, id) {
                Ok(t) => out.tracks.push(t),
                Err(why) => out.rejected.push((id, why)),
            }
        }
        drop(rows);
        // Ids are unique and ascending (the primary key); an index by search.
        let ids: Vec<i64> = out.tracks.iter().map(|t| t.id).collect();
        let index = |id: i64| ids.binary_search(&id).ok();
        let n = out.tracks.len();
        let mut budgets: Vec<Budget> = (0..n).map(|_| Budget::default()).collect();
        let mut bad: HashMap<i64, String> = HashMap::new();
        out.tags = vec![Vec::new(); n];
        out.pictures = vec![Vec::new(); n];
        out.structural = vec![Vec::new(); n];

        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {TAG_COLS} FROM tags ORDER BY track_id, key, ordinal"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query([limits::MAX_TAG_VALUE_BYTES as i64])
            .map_err(|e| self.err(e))?;
        let mut c = Collect {
            index: &index,
            out: &mut out.tags,
            budgets: &mut budgets,
            bad: &mut bad,
        };
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if let Ok(id) = int(r, 0, "track_id") {
                c.push(id, tag_row(r), Budget::tag);
            }
        }
        drop(rows);

        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ART_COLS} FROM track_art ta JOIN art a ON a.id = ta.art_id \
                 ORDER BY ta.track_id, ta.ordinal"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query([limits::MAX_TAG_VALUE_BYTES as i64])
            .map_err(|e| self.err(e))?;
        let mut c = Collect {
            index: &index,
            out: &mut out.pictures,
            budgets: &mut budgets,
            bad: &mut bad,
        };
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if let Ok(id) = int(r, 0, "track_id") {
                c.push(id, art_row(r), |b, _| b.picture());
            }
        }
        drop(rows);

        if with_structural {
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT {STRUCT_COLS} FROM structural ORDER BY track_id, ordinal, kind"
                ))
                .map_err(|e| self.err(e))?;
            let mut rows = st
                .query([limits::MAX_HEADER_BYTES as i64])
                .map_err(|e| self.err(e))?;
            let mut c = Collect {
                index: &index,
                out: &mut out.structural,
                budgets: &mut budgets,
                bad: &mut bad,
            };
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                if let Ok(id) = int(r, 0, "track_id") {
                    c.push(id, struct_row(r), Budget::structural);
                }
            }
        }
        if !bad.is_empty() {
            drop_rejected(&mut out, bad);
        }
        Ok(out)
    }

    /// Load what synthesis needs for one track, or `None` if it is gone
    /// (or its `tracks` row is unusable).
    pub fn track_detail(&self, id: i64) -> Result<Option<TrackDetail>> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        let out = self.track_detail_inner(id);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }

    fn track_detail_inner(&self, id: i64) -> Result<Option<TrackDetail>> {
        let track = self
            .conn
            .prepare_cached(&format!("SELECT {TRACK_COLS} FROM tracks WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], |r| Ok(track_row(r, id))).optional())
            .map_err(|e| self.err(e))?;
        let Some(Ok(track)) = track else {
            return Ok(None);
        };
        let mut budget = Budget::default();
        let mut problem: Option<Bad> = None;
        let mut note = |r: std::result::Result<(), Bad>| {
            if let Err(why) = r {
                problem.get_or_insert(why);
            }
        };

        let mut structural = Vec::new();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {STRUCT_COLS} FROM structural WHERE track_id = ?2 ORDER BY ordinal, kind"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query(params![limits::MAX_HEADER_BYTES as i64, id])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            note(struct_row(r).and_then(|s| {
                budget.structural(&s)?;
                structural.push(s);
                Ok(())
            }));
            if budget.structural > MAX_STRUCTURAL_ROWS {
                break;
            }
        }
        drop(rows);

        let mut tags = Vec::new();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {TAG_COLS} FROM tags WHERE track_id = ?2 ORDER BY key, ordinal"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query(params![limits::MAX_TAG_VALUE_BYTES as i64, id])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            note(tag_row(r).and_then(|t| {
                budget.tag(&t)?;
                tags.push(t);
                Ok(())
            }));
            if budget.tags > limits::MAX_TAGS || budget.tag_bytes > MAX_TAG_BYTES {
                break;
            }
        }
        drop(rows);

        let mut pictures = Vec::new();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ART_COLS} FROM track_art ta JOIN art a ON a.id = ta.art_id \
                 WHERE ta.track_id = ?2 ORDER BY ta.ordinal"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query(params![limits::MAX_TAG_VALUE_BYTES as i64, id])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            note(art_row(r).and_then(|p| {
                budget.picture()?;
                pictures.push(p);
                Ok(())
            }));
            if budget.pictures > limits::MAX_PICTURES {
                break;
            }
        }
        drop(rows);
        if problem.is_some() {
            (structural, tags, pictures) = (Vec::new(), Vec::new(), Vec::new());
        }
        Ok(Some(TrackDetail {
            track,
            structural,
            tags,
            pictures,
            problem,
        }))
    }

    /// The bytes of one picture (`None` when it is gone). A picture larger
    /// than the limit is an error, never loaded.
    pub fn art_data(&self, art_id: i64) -> Result<Option<Vec<u8>>> {
        let max = limits::MAX_PICTURE_BYTES as i64;
        let row = self
            .conn
            .prepare_cached(
                "SELECT CASE WHEN length(data) <= ?2 THEN data END, length(data) \
                 FROM art WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![art_id, max], |r| {
                    Ok((blob(r, 0, "picture").ok().flatten(), int(r, 1, "length")))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        match row {
            None => Ok(None),
            Some((Some(data), _)) => Ok(Some(data)),
            Some((None, len)) => Err(self.err(rusqlite::Error::FromSqlConversionFailure(
                0,
                Type::Blob,
                format!(
                    "picture {art_id} is unusable ({} bytes, limit {max})",
                    len.map_or_else(|e| e, |l| l.to_string())
                )
                .into(),
            ))),
        }
    }
}

/// Move the tracks in `bad` from the loaded rows to `rejected`.
fn drop_rejected(out: &mut LibraryRows, bad: HashMap<i64, String>) {
    fn keep_only<T>(v: &mut Vec<T>, keep: &[bool]) {
        let mut k = keep.iter();
        v.retain(|_| k.next().copied().unwrap_or(true));
    }
    let keep: Vec<bool> = out
        .tracks
        .iter()
        .map(|t| !bad.contains_key(&t.id))
        .collect();
    keep_only(&mut out.tracks, &keep);
    keep_only(&mut out.tags, &keep);
    keep_only(&mut out.pictures, &keep);
    keep_only(&mut out.structural, &keep);
    let mut bad: Vec<(i64, String)> = bad.into_iter().collect();
    bad.sort();
    out.rejected.extend(bad);
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// A store with two good tracks (ids 1, 2) and CHECKs and foreign keys
    /// switched off on the writer's connection, as a hostile writer can.
    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open_rw(&d.path().join("s.db")).unwrap();
        s.conn()
            .execute_batch(
                "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;
                 INSERT INTO tracks(id, path, format, audio_offset, audio_length, file_size,
                                    mtime_ns, ctime_ns, inode)
                 VALUES (1, '/m/1.flac', 'flac', 10, 90, 100, 1, 1, 1),
                        (2, '/m/2.flac', 'flac', 10, 90, 100, 1, 1, 2);
                 INSERT INTO tags(track_id, key, value) VALUES (1, 'title', 'one'), (2, 'title', 'two');
                 INSERT INTO structural(track_id, kind, data) VALUES (1, 'flac.block', x'00'), (2, 'flac.block', x'00');",
            )
            .unwrap();
        (d, s)
    }

    /// Track 2's fate after `sql`: the reason it was rejected, from the full
    /// load and from the per-track load (which must agree), while track 1
    /// stays served.
    fn rejected_after(sql: &str) -> Option<String> {
        let (_d, s) = store();
        s.conn().execute_batch(sql).unwrap();
        let rows = s.load_library(true).unwrap();
        assert_eq!(
            rows.tracks[0].id, 1,
            "the good track must stay: {:?}",
            rows.rejected
        );
        assert_eq!(rows.tags[0], vec![Tag::text("title", "one")]);
        let full = rows
            .rejected
            .iter()
            .find(|(id, _)| *id == 2)
            .map(|r| r.1.clone());
        assert_eq!(full.is_some(), rows.tracks.len() == 1);
        let one = match s.track_detail(2).unwrap() {
            None => Some("unusable tracks row".to_owned()),
            Some(d) => d.problem,
        };
        assert_eq!(full.is_some(), one.is_some(), "{full:?} vs {one:?}");
        assert!(s.track_detail(1).unwrap().unwrap().problem.is_none());
        full
    }

    #[test]
    fn bad_rows_reject_their_track_only() {
        for (sql, want) in [
            ("UPDATE tags SET value = CAST(x'ff00fe' AS TEXT) WHERE track_id = 2", "UTF-8"),
            ("UPDATE tags SET key = CAST(x'c3' AS TEXT) WHERE track_id = 2", "UTF-8"),
            ("UPDATE tags SET key = '' WHERE track_id = 2", "empty key"),
            ("UPDATE tracks SET path = CAST(x'2fff' AS TEXT) WHERE id = 2", "UTF-8"),
            ("UPDATE tracks SET path = '' WHERE id = 2", "empty path"),
            ("UPDATE tracks SET path = '/' || zeroblob(5000) WHERE id = 2", "longer"),
            ("UPDATE tracks SET format = 'exe' WHERE id = 2", "unknown format"),
            ("UPDATE tracks SET audio_offset = -5 WHERE id = 2", "outside"),
            ("UPDATE tracks SET audio_length = 9223372036854775807 WHERE id = 2", "outside"),
            (
                "UPDATE tags SET value = printf('%.*c', 1048577, 'x') WHERE track_id = 2",
                "larger than",
            ),
            (
                "UPDATE tags SET value_blob = zeroblob(1048577) WHERE track_id = 2",
                "larger than",
            ),
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4100)
                 INSERT INTO tags(track_id, key, ordinal, value) SELECT 2, 'genre', i, 'g' FROM n",
                "more than 4096 tags",
            ),
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 80)
                 INSERT INTO tags(track_id, key, ordinal, value)
                 SELECT 2, 'lyrics', i, printf('%.*c', 1000000, 'x') FROM n",
                "in all",
            ),
            (
                "INSERT INTO art(id, sha256, mime, data) VALUES (7, zeroblob(32), 'image/png', zeroblob(16777216));
                 INSERT INTO track_art(track_id, art_id) VALUES (2, 7)",
                "picture of 16777216 bytes",
            ),
            (
                "INSERT INTO art(id, sha256, mime, data) VALUES (7, zeroblob(32), printf('%.*c', 300, 'm'), x'01');
                 INSERT INTO track_art(track_id, art_id) VALUES (2, 7)",
                "MIME",
            ),
            (
                "INSERT INTO art(id, sha256, mime, data) VALUES (7, zeroblob(32), 'image/png', x'01');
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 65)
                 INSERT INTO track_art(track_id, ordinal, art_id) SELECT 2, i, 7 FROM n",
                "more than 64 pictures",
            ),
            (
                "UPDATE structural SET data = zeroblob(67108865) WHERE track_id = 2",
                "structural",
            ),
            (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8200)
                 INSERT INTO structural(track_id, kind, ordinal, data) SELECT 2, 'x', i, x'00' FROM n",
                "structural",
            ),
        ] {
            let why = rejected_after(sql).unwrap_or_else(|| panic!("not rejected: {sql}"));
            assert!(why.contains(want), "{sql}: {why}");
        }
    }

    #[test]
    fn missing_art_and_odd_values_are_tolerated() {
        // A link to a picture that does not exist is left out (the JOIN),
        // negative dimensions are clamped, a NULL value reads as empty.
        assert_eq!(
            rejected_after(
                "INSERT INTO track_art(track_id, art_id) VALUES (2, 999);
                 INSERT INTO art(id, sha256, mime, width, data) VALUES (8, zeroblob(32), 'image/png', -4, x'01');
                 INSERT INTO track_art(track_id, ordinal, art_id) VALUES (2, 1, 8);"
            ),
            None
        );
        let (_d, s) = store();
        s.conn()
            .execute_batch(
                "INSERT INTO art(id, sha256, mime, width, data) VALUES (8, zeroblob(32), 'image/png', -4, x'01');
                 INSERT INTO track_art(track_id, ordinal, art_id) VALUES (2, 1, 8);",
            )
            .unwrap();
        let d = s.track_detail(2).unwrap().unwrap();
        assert_eq!(d.pictures.len(), 1);
        assert_eq!(d.pictures[0].width, 0);
        assert!(s.art_data(999).unwrap().is_none());
    }

    #[test]
    fn oversized_art_is_an_error_not_an_allocation() {
        let (_d, s) = store();
        s.conn()
            .execute_batch(
                "INSERT INTO art(id, sha256, mime, data) VALUES (7, zeroblob(32), 'image/png', zeroblob(20000000))",
            )
            .unwrap();
        let e = s.art_data(7).unwrap_err().to_string();
        assert!(e.contains("picture 7 is unusable (20000000 bytes"), "{e}");
    }
}
