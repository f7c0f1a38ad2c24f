//! The mutable view: tree + track table, updated in place on refresh.

use super::tree::{GoneName, NodeKind, Tree, file_ino};
use super::{Mode, Options};
use crate::format::{self, NoArt, PictureRef, Structural, SynthInput, Tag, TagValue};
use crate::store::{LibraryRows, TrackDetail, TrackRow};
use std::collections::HashMap;

/// A track as the view holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEntry {
    pub row: TrackRow,
    /// Served size.
    pub size: u64,
}

/// What a refresh changed, for the kernel's caches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refresh {
    /// Inodes whose data or attributes changed.
    pub inodes: Vec<u64>,
    /// Names that disappeared or were renamed.
    pub gone: Vec<GoneName>,
    /// Tracks re-rendered.
    pub tracks: usize,
    /// True for a full rebuild.
    pub full: bool,
}

impl Refresh {
    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty() && self.gone.is_empty()
    }
}

/// Tree, tracks and the store position they reflect.
#[derive(Debug, Default)]
pub struct State {
    pub tree: Tree,
    tracks: HashMap<i64, TrackEntry>,
    /// Tracks in the store that are not served, with the reason.
    problems: HashMap<i64, String>,
    watermark: i64,
    data_version: Option<i64>,
    built: bool,
    full_requested: bool,
    skipped: usize,
}

fn first_text<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find_map(|t| match &t.value {
        TagValue::Text(s) if t.key == key => Some(s.as_str()),
        _ => None,
    })
}

/// Compute a track's entry and rendered path (None: the template skips
/// it), or why it cannot be served.
fn render(
    row: TrackRow,
    tags: &[Tag],
    pictures: &[PictureRef],
    structural: &[Structural],
    opts: &Options,
) -> Result<Option<(TrackEntry, Vec<String>)>, String> {
    super::confine::check_path(&row.path, &opts.roots)
        .map_err(|why| format!("backing path {:?} refused: {why}", row.path))?;
    let size = match opts.mode {
        Mode::StructureOnly => row.stamp.size,
        Mode::Synthesis => format::served_len(&SynthInput {
            container: row.container,
            audio_offset: row.audio_offset,
            audio_len: row.audio_len,
            structural,
            tags,
            pictures,
            art: &NoArt,
        })
        .map_err(|e| e.to_string())?,
    };
    Ok(opts
        .template
        .render(|k| first_text(tags, k), &opts.render)
        .map(|comps| (TrackEntry { row, size }, comps)))
}

impl State {
    pub fn track(&self, id: i64) -> Option<&TrackEntry> {
        self.tracks.get(&id)
    }

    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    pub fn problems(&self) -> &HashMap<i64, String> {
        &self.problems
    }

    pub(super) fn watermark(&self) -> i64 {
        self.watermark
    }

    pub(super) fn data_version(&self) -> Option<i64> {
        self.data_version
    }

    pub(super) fn needs_full(&self) -> bool {
        !self.built || self.full_requested
    }

    pub(super) fn force_full(&mut self) {
        self.full_requested = true;
    }

    fn place(&mut self, entry: TrackEntry, comps: Vec<String>) {
        let id = entry.row.id;
        let (stem, dirs) = comps.split_last().expect("render yields a component");
        self.tree
            .upsert(id, dirs, stem, entry.row.container.extension());
        self.problems.remove(&id);
        self.tracks.insert(id, entry);
    }

    /// The template skips this track (`--skip-on-missing`).
    fn skip(&mut self, id: i64) {
        self.drop_track(id, None);
        self.skipped += 1;
    }

    /// Tracks the template skipped at the last full rebuild (approximate
    /// after incremental updates).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn drop_track(&mut self, id: i64, problem: Option<String>) {
        self.tree.remove(id);
        self.tracks.remove(&id);
        match problem {
            Some(p) => {
                tracing::warn!(track_id = id, "track not served: {p}");
                self.problems.insert(id, p);
            }
            None => {
                self.problems.remove(&id);
            }
        }
    }

    /// Replace everything with a view built from `rows`.
    pub(super) fn rebuild(&mut self, rows: LibraryRows, opts: &Options, dv: i64) -> Refresh {
        let mut fresh = State {
            watermark: rows.watermark,
            data_version: Some(dv),
            built: true,
            ..State::default()
        };
        for (id, why) in rows.rejected {
            fresh.drop_track(id, Some(why));
        }
        for (i, row) in rows.tracks.into_iter().enumerate() {
            let id = row.id;
            match render(
                row,
                &rows.tags[i],
                &rows.pictures[i],
                &rows.structural[i],
                opts,
            ) {
                Ok(Some((entry, comps))) => fresh.place(entry, comps),
                Ok(None) => fresh.skip(id),
                Err(why) => fresh.drop_track(id, Some(why)),
            }
        }
        fresh.tree.take_gone();
        let mut out = Refresh {
            full: true,
            tracks: fresh.tracks.len(),
            ..Refresh::default()
        };
        if self.built {
            out.gone = names_gone(&self.tree, &fresh.tree);
            for (id, old) in &self.tracks {
                if fresh.tracks.get(id) != Some(old) {
                    out.inodes.push(file_ino(*id));
                }
            }
        }
        *self = fresh;
        out
    }

    /// Apply changed tracks (None = deleted) in O(changed).
    pub(super) fn apply(
        &mut self,
        details: Vec<(i64, Option<TrackDetail>)>,
        opts: &Options,
        watermark: i64,
        dv: i64,
    ) -> Refresh {
        let mut out = Refresh {
            tracks: details.len(),
            ..Refresh::default()
        };
        for (id, d) in details {
            let before = self.tracks.get(&id).cloned();
            match d {
                None => self.drop_track(id, None),
                Some(TrackDetail {
                    problem: Some(why), ..
                }) => self.drop_track(id, Some(why)),
                Some(d) => match render(d.track, &d.tags, &d.pictures, &d.structural, opts) {
                    Ok(Some((entry, comps))) => self.place(entry, comps),
                    Ok(None) => self.skip(id),
                    Err(why) => self.drop_track(id, Some(why)),
                },
            }
            if before.as_ref() != self.tracks.get(&id) {
                out.inodes.push(file_ino(id));
            }
        }
        out.gone = self.tree.take_gone();
        self.watermark = watermark;
        self.data_version = Some(dv);
        out
    }
}

/// Names in `old` that do not resolve to the same inode in `new`.
fn names_gone(old: &Tree, new: &Tree) -> Vec<GoneName> {
    let mut out = Vec::new();
    let (Some(old_root), Some(new_root)) = (
        old.node(super::tree::ROOT_INO),
        new.node(super::tree::ROOT_INO),
    ) else {
        return out;
    };
    let mut stack = vec![(old_root, Some(new_root))];
    while let Some((o, n)) = stack.pop() {
        for child in old.children(o) {
            let matched = n
                .and_then(|n| new.child(n, &child.name))
                .filter(|m| m.ino == child.ino);
            if matched.is_none() {
                out.push(GoneName {
                    parent_ino: o.ino,
                    name: child.name.clone(),
                });
            }
            if matches!(child.kind, NodeKind::Dir(_)) {
                stack.push((child, matched));
            }
        }
    }
    out
}
