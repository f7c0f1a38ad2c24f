//! Reader-side access: what the mount loads to build its tree and layouts.

use super::{Result, Stamp, Store};
use crate::format::{Container, PictureRef, Structural, Tag, TagValue};
use rusqlite::{OptionalExtension, params};

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
}

const TRACK_COLS: &str = "id, path, format, audio_offset, audio_length, file_size, mtime_ns, \
                          ctime_ns, inode, content_version, tags_edited_ns";

type RawTrack = (i64, String, String, i64, i64, i64, i64, i64, i64, i64, i64);

fn raw_track(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTrack> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

/// Validate a raw row; the store's CHECKs make failures unlikely, but the
/// mount must not trust a file another program wrote.
fn to_track(raw: RawTrack) -> std::result::Result<TrackRow, (i64, String)> {
    let (id, path, format, off, len, size, mtime, ctime, inode, cv, edited) = raw;
    let container =
        Container::parse(&format).ok_or_else(|| (id, format!("unknown format {format:?}")))?;
    if off < 0 || len < 0 || size < 0 || off.checked_add(len).is_none_or(|e| e > size) {
        return Err((id, "audio range outside the file".into()));
    }
    Ok(TrackRow {
        id,
        path,
        container,
        audio_offset: off as u64,
        audio_len: len as u64,
        stamp: Stamp {
            size: size as u64,
            mtime_ns: mtime,
            ctime_ns: ctime,
            inode: inode as u64,
        },
        content_version: cv,
        tags_edited_ns: edited,
    })
}

fn tag_from(key: String, value: String, blob: Option<Vec<u8>>) -> Tag {
    Tag {
        key,
        value: match blob {
            Some(b) => TagValue::Binary(b),
            None => TagValue::Text(value),
        },
    }
}

fn clamp_u32(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}

const ART_COLS: &str = "ta.track_id, ta.art_id, ta.picture_type, a.mime, ta.description, \
                        a.width, a.height, a.depth, a.colors, length(a.data)";

fn art_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArtMeta> {
    Ok(ArtMeta {
        track_id: r.get(0)?,
        picture: PictureRef {
            art_id: r.get(1)?,
            picture_type: clamp_u32(r.get(2)?),
            mime: r.get(3)?,
            description: r.get(4)?,
            width: clamp_u32(r.get(5)?),
            height: clamp_u32(r.get(6)?),
            depth: clamp_u32(r.get(7)?),
            colors: clamp_u32(r.get(8)?),
            len: r.get::<_, i64>(9)?.max(0) as u64,
        },
    })
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
        let rows = st.query_map([], raw_track).map_err(|e| self.err(e))?;
        for raw in rows {
            match to_track(raw.map_err(|e| self.err(e))?) {
                Ok(t) => out.tracks.push(t),
                Err(rej) => out.rejected.push(rej),
            }
        }
        out.tags = vec![Vec::new(); out.tracks.len()];
        out.pictures = vec![Vec::new(); out.tracks.len()];
        let index = |id: i64| out.tracks.binary_search_by_key(&id, |t| t.id).ok();

        let mut st = self
            .conn
            .prepare(
                "SELECT track_id, key, value, value_blob FROM tags ORDER BY track_id, key, ordinal",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        let mut tags: Vec<(usize, Tag)> = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = r.get(0).map_err(|e| self.err(e))?;
            if let Some(i) = index(id) {
                let tag = tag_from(
                    r.get(1).map_err(|e| self.err(e))?,
                    r.get::<_, Option<String>>(2)
                        .map_err(|e| self.err(e))?
                        .unwrap_or_default(),
                    r.get(3).map_err(|e| self.err(e))?,
                );
                tags.push((i, tag));
            }
        }
        for (i, t) in tags {
            out.tags[i].push(t);
        }

        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {ART_COLS} FROM track_art ta JOIN art a ON a.id = ta.art_id \
                 ORDER BY ta.track_id, ta.ordinal"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([], art_row).map_err(|e| self.err(e))?;
        let mut pics = Vec::new();
        for a in rows {
            let a = a.map_err(|e| self.err(e))?;
            if let Some(i) = index(a.track_id) {
                pics.push((i, a.picture));
            }
        }
        for (i, p) in pics {
            out.pictures[i].push(p);
        }

        out.structural = vec![Vec::new(); out.tracks.len()];
        if with_structural {
            let mut st = self
                .conn
                .prepare(
                    "SELECT track_id, kind, data FROM structural ORDER BY track_id, ordinal, kind",
                )
                .map_err(|e| self.err(e))?;
            let mut rows = st.query([]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let id: i64 = r.get(0).map_err(|e| self.err(e))?;
                if let Some(i) = index(id) {
                    out.structural[i].push(Structural {
                        kind: r.get(1).map_err(|e| self.err(e))?,
                        data: r.get(2).map_err(|e| self.err(e))?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Load what synthesis needs for one track, or `None` if it is gone.
    pub fn track_detail(&self, id: i64) -> Result<Option<TrackDetail>> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        let out = self.track_detail_inner(id);
        let _ = self.conn.execute_batch("COMMIT");
        out
    }

    fn track_detail_inner(&self, id: i64) -> Result<Option<TrackDetail>> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {TRACK_COLS} FROM tracks WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], raw_track).optional())
            .map_err(|e| self.err(e))?;
        let Some(raw) = raw else { return Ok(None) };
        let Ok(track) = to_track(raw) else {
            return Ok(None);
        };
        let structural = self
            .conn
            .prepare_cached(
                "SELECT kind, data FROM structural WHERE track_id = ?1 ORDER BY ordinal, kind",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(Structural {
                        kind: r.get(0)?,
                        data: r.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.err(e))?;
        let tags = self
            .conn
            .prepare_cached(
                "SELECT key, value, value_blob FROM tags WHERE track_id = ?1 ORDER BY key, ordinal",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(tag_from(
                        r.get(0)?,
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        r.get(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.err(e))?;
        let pictures = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ART_COLS} FROM track_art ta JOIN art a ON a.id = ta.art_id \
                 WHERE ta.track_id = ?1 ORDER BY ta.ordinal"
            ))
            .and_then(|mut s| {
                s.query_map([id], art_row)?
                    .map(|r| r.map(|a| a.picture))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.err(e))?;
        Ok(Some(TrackDetail {
            track,
            structural,
            tags,
            pictures,
        }))
    }

    /// The bytes of one picture.
    pub fn art_data(&self, art_id: i64) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT data FROM art WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![art_id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }
}
