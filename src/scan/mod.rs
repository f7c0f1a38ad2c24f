//! The scanner: walk directories, probe files in parallel, write through one
//! batched writer. It opens backing files read-only and never modifies,
//! renames or touches them. `docs/SCANNING.md` is the user's guide.

mod output;
mod pipeline;
pub mod probe;
mod revalidate;
pub mod walk;

pub use output::{ProgressPrinter, human_bytes};
pub use pipeline::Tick;
pub use probe::Checksum;
pub use revalidate::{RevalidateOptions, RevalidateReport, revalidate};

use crate::store::{NewTrack, Stamp, Store, StoreError, Upsert};
use probe::{FP_FULL, FP_QUICK, Probed};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Default number of files per write transaction.
pub const DEFAULT_BATCH: usize = 1000;

/// Scanner settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub paths: Vec<PathBuf>,
    /// Probe worker threads (0 = one per core).
    pub jobs: usize,
    /// Re-read tags from files, overwriting edits made in the store.
    pub force: bool,
    /// Files per write transaction.
    pub batch: usize,
    /// Follow symbolic links below the roots.
    pub follow_symlinks: bool,
    /// Fingerprint strength.
    pub checksum: Checksum,
}

impl ScanOptions {
    pub fn new(paths: Vec<PathBuf>) -> ScanOptions {
        ScanOptions {
            paths,
            jobs: 0,
            force: false,
            batch: DEFAULT_BATCH,
            follow_symlinks: false,
            checksum: Checksum::Quick,
        }
    }
}

/// What a scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub added: u64,
    /// Files whose stamp changed: structure re-read, curated tags kept.
    pub updated: u64,
    /// `--force`: structure, tags and pictures re-read from the file.
    pub replaced: u64,
    /// New paths re-attached to the row of a file that moved there.
    pub moved: u64,
    pub unchanged: u64,
    /// Tracks in the store below the scanned roots whose file is gone.
    pub missing: u64,
    /// Files not considered, by reason (not audio, symlink, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Files (or directories) that could not be read, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Files written with something dropped, with what.
    pub warnings: Vec<(PathBuf, String)>,
    /// True when the scan stopped early on request.
    pub interrupted: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {source}")]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the scanner is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Listing directories; `done` files found so far.
    Walking,
    /// Probing and writing; `done` of `total`.
    Probing,
    /// Checking stored tracks against their files.
    Checking,
}

/// Progress callback payload.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// Worker count: `jobs`, or one per core when 0.
pub fn worker_count(jobs: usize) -> usize {
    if jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        jobs
    }
}

/// Whether a path that was stored no longer names anything (as opposed to
/// being unreadable: a permission error is not proof that a file is gone).
pub fn is_gone(path: &str) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => false,
        Err(e) => {
            e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
        }
    }
}

/// Resolve the command-line roots to canonical absolute paths (symlinks
/// named on the command line are followed).
pub fn resolve_roots(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScanError> {
    paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p).map_err(|source| ScanError::Path {
                path: p.clone(),
                source,
            })
        })
        .collect()
}

fn under_roots(path: &str, roots: &[PathBuf]) -> bool {
    let p = Path::new(path);
    roots.iter().any(|r| p.starts_with(r))
}

/// A file the writer will see, and what the store knew of its path.
struct Job {
    path: String,
    known: Option<i64>,
}

struct Apply<'a> {
    opts: &'a ScanOptions,
    jobs: &'a [Job],
    report: &'a mut ScanReport,
    reattached: HashSet<i64>,
}

impl Apply<'_> {
    fn apply(
        &mut self,
        w: &mut crate::store::ScanWriter<'_>,
        i: usize,
        res: Result<Probed, String>,
    ) -> Result<(), StoreError> {
        let job = &self.jobs[i];
        let p = match res {
            Ok(p) => p,
            Err(why) => {
                self.report.failed.push((PathBuf::from(&job.path), why));
                return Ok(());
            }
        };
        for why in &p.warnings {
            self.report
                .warnings
                .push((PathBuf::from(&job.path), why.clone()));
        }
        let force = self.opts.force;
        let t = NewTrack {
            path: &job.path,
            stamp: p.stamp,
            probe: &p.probe,
        };
        let fp = p.fingerprint();
        let reattached = &mut self.reattached;
        let outcome = w.file(|w| {
            if let Some(id) = job.known {
                return w.update(id, &t, Some(fp), force).map(Some);
            }
            // A new path: is it a file that moved here? Same fingerprint,
            // same container, old path gone.
            let format = p.probe.container.as_str();
            let mut candidates = w.by_fingerprint(&p.quick, format)?;
            if let Some(full) = &p.full {
                candidates.extend(w.by_fingerprint(full, format)?);
                candidates.sort();
            }
            for (id, old) in candidates {
                if old != job.path && is_gone(&old) {
                    w.update(id, &t, Some(fp), force)?;
                    reattached.insert(id);
                    return Ok(None);
                }
            }
            w.upsert_fp(&t, Some(fp), force).map(Some)
        });
        match outcome {
            Ok(None) => self.report.moved += 1,
            Ok(Some(Upsert::Added)) => self.report.added += 1,
            Ok(Some(Upsert::Updated)) => self.report.updated += 1,
            Ok(Some(Upsert::Replaced)) => self.report.replaced += 1,
            Err(e) if e.is_per_row() => self.report.failed.push((
                PathBuf::from(&job.path),
                format!("the store refused it: {e}"),
            )),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Scan `opts.paths` into `store`. `stop` is polled between files; on stop
/// the current batch is committed and the report says `interrupted`.
pub fn scan(
    store: &Store,
    opts: &ScanOptions,
    stop: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let roots = resolve_roots(&opts.paths)?;
    store.tune_for_bulk_writes()?;
    let mut report = ScanReport::default();
    let walked = walk::walk(&roots, opts.follow_symlinks, stop, &mut |n| {
        progress(Progress {
            phase: Phase::Walking,
            done: n,
            total: 0,
        })
    });
    report.skipped = walked.skipped;
    report.failed = walked.failed;
    let mut known = store.known_stamps()?;

    let mut jobs: Vec<Job> = Vec::new();
    for f in walked.files {
        let Some((id, stamp)) = known.remove(&f.path) else {
            jobs.push(Job {
                path: f.path,
                known: None,
            });
            continue;
        };
        if !opts.force {
            let now = match f.meta {
                Some(m) => Some(Stamp::of(&m)),
                None => std::fs::symlink_metadata(&f.path)
                    .ok()
                    .map(|m| Stamp::of(&m)),
            };
            if now == Some(stamp) {
                report.unchanged += 1;
                continue;
            }
        }
        jobs.push(Job {
            path: f.path,
            known: Some(id),
        });
    }
    // What is left of `known` was not seen by this walk.
    let unseen: Vec<(String, i64)> = known
        .into_iter()
        .filter(|(p, _)| under_roots(p, &roots))
        .map(|(p, (id, _))| (p, id))
        .collect();

    let paths: Vec<&str> = jobs.iter().map(|j| j.path.as_str()).collect();
    let mut apply = Apply {
        opts,
        jobs: &jobs,
        report: &mut report,
        reattached: HashSet::new(),
    };
    let applied = if stop.load(Ordering::Relaxed) {
        0
    } else {
        pipeline::run(
            store,
            &paths,
            pipeline::Settings {
                jobs: worker_count(opts.jobs),
                batch: opts.batch,
                checksum: opts.checksum,
            },
            stop,
            |w, i, r| apply.apply(w, i, r),
            &mut |t| {
                progress(Progress {
                    phase: Phase::Probing,
                    done: t.done,
                    total: t.total,
                })
            },
        )?
    };
    let reattached = std::mem::take(&mut apply.reattached);
    report.missing = unseen
        .iter()
        .filter(|(p, id)| !reattached.contains(id) && is_gone(p))
        .count() as u64;
    report.interrupted = applied < jobs.len() || stop.load(Ordering::Relaxed);
    report.failed.sort();
    report.elapsed = started.elapsed();
    Ok(report)
}

impl ScanReport {
    /// Files probed and written (or refused) by this scan.
    pub fn probed(&self) -> u64 {
        self.added + self.updated + self.replaced + self.moved + self.failed.len() as u64
    }

    /// The closing summary, one item per line.
    pub fn summary(&self) -> Vec<String> {
        let secs = self.elapsed.as_secs_f64();
        let seen = self.probed() + self.unchanged;
        let rate = if secs > 0.0 { seen as f64 / secs } else { 0.0 };
        let mut out = vec![format!(
            "{} added, {} updated, {} moved, {} unchanged, {} failed{} in {:.1} s ({:.0} files/s)",
            self.added,
            self.updated + self.replaced,
            self.moved,
            self.unchanged,
            self.failed.len(),
            if self.replaced > 0 {
                format!(" ({} re-read with --force)", self.replaced)
            } else {
                String::new()
            },
            secs,
            rate
        )];
        for (why, n) in &self.skipped {
            out.push(format!("skipped {n}: {why}"));
        }
        if !self.warnings.is_empty() {
            out.push(format!(
                "{} files written with something dropped (see the warnings above)",
                self.warnings
                    .iter()
                    .map(|(p, _)| p)
                    .collect::<HashSet<_>>()
                    .len()
            ));
        }
        if self.missing > 0 {
            out.push(format!(
                "{} tracks in the store below these paths have no file any more \
                 (`musefs revalidate --prune` removes them)",
                self.missing
            ));
        }
        if self.interrupted {
            out.push("interrupted: run the scan again to continue".into());
        }
        out
    }
}

/// Quick and full fingerprints are tagged by their first byte.
pub fn fingerprint_scheme(fp: &[u8]) -> Option<Checksum> {
    match fp.first() {
        Some(&FP_QUICK) => Some(Checksum::Quick),
        Some(&FP_FULL) => Some(Checksum::Full),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
