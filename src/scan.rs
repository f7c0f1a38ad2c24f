//! The scanner: walk directories, probe files in parallel, write through one
//! batched writer. It opens backing files read-only and never modifies them.

use crate::format::{self, Probe};
use crate::store::{NewTrack, Stamp, Store, StoreError};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

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
}

impl ScanOptions {
    pub fn new(paths: Vec<PathBuf>) -> ScanOptions {
        ScanOptions {
            paths,
            jobs: 0,
            force: false,
            batch: 512,
        }
    }
}

/// What a scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Files not considered, by reason (not audio, symlink, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Audio-looking files that could not be probed, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// True when the scan stopped early on request.
    pub interrupted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {source}")]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Progress callback payload.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

fn walk(root: &Path, files: &mut Vec<PathBuf>, report: &mut ScanReport) -> Result<(), ScanError> {
    let meta = std::fs::symlink_metadata(root).map_err(|source| ScanError::Path {
        path: root.to_owned(),
        source,
    })?;
    if meta.is_file() {
        files.push(root.to_owned());
        return Ok(());
    }
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                report
                    .failed
                    .push((dir, format!("cannot read directory: {e}")));
                continue;
            }
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => files.push(p),
                Ok(t) if t.is_symlink() => {
                    *report.skipped.entry("symlink".into()).or_default() += 1
                }
                _ => {
                    *report
                        .skipped
                        .entry("not a regular file".into())
                        .or_default() += 1
                }
            }
        }
    }
    Ok(())
}

fn probe_file(path: &Path) -> Result<(Stamp, Probe), String> {
    let file = crate::library::open_backing(path.to_str().unwrap_or_default())
        .map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    let stamp = Stamp::of(&meta);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let probe = format::probe(&mut r, stamp.size, &ext).map_err(|e| e.to_string())?;
    Ok((stamp, probe))
}

/// Scan `opts.paths` into `store`. `stop` is polled between batches.
pub fn scan(
    store: &Store,
    opts: &ScanOptions,
    stop: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport::default();
    let mut files = Vec::new();
    for p in &opts.paths {
        let abs = std::path::absolute(p).map_err(|source| ScanError::Path {
            path: p.clone(),
            source,
        })?;
        walk(&abs, &mut files, &mut report)?;
    }
    let known = store.known_stamps()?;
    let mut todo: Vec<(PathBuf, String)> = Vec::new();
    for f in files {
        let Some(ext) = f.extension().and_then(|e| e.to_str()) else {
            *report
                .skipped
                .entry("not an audio file".into())
                .or_default() += 1;
            continue;
        };
        if !format::is_candidate_extension(ext) {
            *report
                .skipped
                .entry("not an audio file".into())
                .or_default() += 1;
            continue;
        }
        let Some(s) = f.to_str().map(str::to_owned) else {
            *report
                .skipped
                .entry("path is not UTF-8".into())
                .or_default() += 1;
            continue;
        };
        if !opts.force
            && let Some((_, stamp)) = known.get(&s)
            && let Ok(meta) = std::fs::symlink_metadata(&f)
            && Stamp::of(&meta) == *stamp
        {
            report.unchanged += 1;
            continue;
        }
        todo.push((f, s));
    }
    let total = todo.len() as u64;
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.jobs
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<(Stamp, Probe), String>)>(256);
    std::thread::scope(|scope| -> Result<(), ScanError> {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let (next, todo) = (&next, &todo);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((p, _)) = todo.get(i) else { break };
                    if tx.send((i, probe_file(p))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0u64;
        let mut writer = store.writer()?;
        let mut in_batch = 0;
        for (i, res) in rx.iter() {
            let (path, spath) = &todo[i];
            done += 1;
            match res {
                Ok((stamp, probe)) => {
                    let t = NewTrack {
                        path: spath,
                        stamp,
                        probe: &probe,
                    };
                    match writer.upsert(&t, opts.force)? {
                        crate::store::Upsert::Added => report.added += 1,
                        _ => report.updated += 1,
                    }
                    in_batch += 1;
                }
                Err(reason) => report.failed.push((path.clone(), reason)),
            }
            if in_batch >= opts.batch {
                writer.commit()?;
                writer = store.writer()?;
                in_batch = 0;
                progress(Progress { done, total });
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        writer.commit()?;
        progress(Progress { done, total });
        if stop.load(Ordering::Relaxed) && done < total {
            report.interrupted = true;
        }
        // Drain so workers blocked on a full channel can exit.
        for _ in rx.iter() {}
        Ok(())
    })?;
    report.failed.sort();
    Ok(report)
}
