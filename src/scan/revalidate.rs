//! `revalidate`: check every stored track against its file. Files whose
//! stamp changed are probed again (curated tags and pictures kept); rows
//! whose file is gone are counted and, with `prune`, deleted, after which
//! pictures no track uses any more are collected.

use super::probe::Checksum;
use super::{Phase, Progress, ScanError, is_gone, pipeline, worker_count};
use crate::store::{NewTrack, Stamp, Store};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RevalidateOptions {
    pub jobs: usize,
    pub batch: usize,
    pub checksum: Checksum,
    /// Delete rows whose file is gone and collect unused pictures.
    pub prune: bool,
    /// Prune even when every stored track is missing (by default that is
    /// refused: it usually means a disk is not mounted).
    pub prune_all: bool,
}

impl Default for RevalidateOptions {
    fn default() -> Self {
        RevalidateOptions {
            jobs: 0,
            batch: super::DEFAULT_BATCH,
            checksum: Checksum::Quick,
            prune: false,
            prune_all: false,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RevalidateReport {
    pub checked: u64,
    pub unchanged: u64,
    pub updated: u64,
    /// Tracks whose file is gone (deleted when `pruned` is non-zero).
    pub missing: u64,
    pub pruned: u64,
    /// Pictures deleted because no track used them.
    pub art_collected: u64,
    pub failed: Vec<(PathBuf, String)>,
    pub warnings: Vec<(PathBuf, String)>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl RevalidateReport {
    pub fn summary(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} tracks checked: {} unchanged, {} updated, {} missing, {} failed in {:.1} s",
            self.checked,
            self.unchanged,
            self.updated,
            self.missing,
            self.failed.len(),
            self.elapsed.as_secs_f64()
        )];
        if self.pruned > 0 || self.art_collected > 0 {
            out.push(format!(
                "pruned {} tracks and {} unused pictures",
                self.pruned, self.art_collected
            ));
        } else if self.missing > 0 {
            out.push("missing tracks kept (`--prune` deletes them)".into());
        }
        if self.interrupted {
            out.push("interrupted: run it again to continue (nothing was pruned)".into());
        }
        out
    }
}

/// Check every stored track; see the module documentation.
pub fn revalidate(
    store: &Store,
    opts: &RevalidateOptions,
    stop: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<RevalidateReport, ScanError> {
    let started = Instant::now();
    store.tune_for_bulk_writes()?;
    let rows = store.stored_tracks()?;
    let mut report = RevalidateReport {
        checked: rows.len() as u64,
        ..Default::default()
    };
    let mut missing = Vec::new();
    let mut todo: Vec<(i64, String)> = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if n.is_multiple_of(1024) {
            if stop.load(Ordering::Relaxed) {
                report.interrupted = true;
                report.elapsed = started.elapsed();
                return Ok(report);
            }
            progress(Progress {
                phase: Phase::Checking,
                done: n as u64,
                total: rows.len() as u64,
            });
        }
        // Follow a symlink as the mount does when it opens the path.
        match std::fs::metadata(&row.path) {
            Ok(m) if !m.is_file() => report
                .failed
                .push((PathBuf::from(&row.path), "not a regular file".into())),
            Ok(m) if Stamp::of(&m) == row.stamp => report.unchanged += 1,
            Ok(_) => todo.push((row.id, row.path.clone())),
            Err(_) if is_gone(&row.path) => missing.push(row.id),
            Err(e) => report
                .failed
                .push((PathBuf::from(&row.path), format!("cannot stat: {e}"))),
        }
    }
    report.missing = missing.len() as u64;

    let paths: Vec<&str> = todo.iter().map(|(_, p)| p.as_str()).collect();
    let (mut failed, mut warnings, mut updated) = (Vec::new(), Vec::new(), 0u64);
    let applied = pipeline::run(
        store,
        &paths,
        pipeline::Settings {
            jobs: worker_count(opts.jobs),
            batch: opts.batch,
            checksum: opts.checksum,
        },
        stop,
        |w, i, res| {
            let (id, path) = &todo[i];
            let p = match res {
                Ok(p) => p,
                Err(why) => {
                    failed.push((PathBuf::from(path), why));
                    return Ok(());
                }
            };
            for why in &p.warnings {
                warnings.push((PathBuf::from(path), why.clone()));
            }
            let t = NewTrack {
                path,
                stamp: p.stamp,
                probe: &p.probe,
            };
            match w.file(|w| w.update(*id, &t, Some(p.fingerprint()), false)) {
                Ok(_) => updated += 1,
                Err(e) if e.is_per_row() => {
                    failed.push((PathBuf::from(path), format!("the store refused it: {e}")))
                }
                Err(e) => return Err(e),
            }
            Ok(())
        },
        &mut |t| {
            progress(Progress {
                phase: Phase::Probing,
                done: t.done,
                total: t.total,
            })
        },
    )?;
    report.updated = updated;
    report.failed.extend(failed);
    report.failed.sort();
    report.warnings = warnings;
    report.interrupted = applied < todo.len() || stop.load(Ordering::Relaxed);

    if opts.prune && !report.interrupted {
        if !missing.is_empty() && missing.len() == rows.len() && !opts.prune_all {
            return Err(ScanError::Refused(format!(
                "every one of the {} stored tracks is missing: is the music disk mounted? \
                 Nothing was pruned (pass --yes to prune them all)",
                rows.len()
            )));
        }
        let mut w = store.writer()?;
        for id in &missing {
            if w.delete_track(*id)? {
                report.pruned += 1;
            }
        }
        w.commit()?;
        report.art_collected = store.gc_art()?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
