//! Parallel probing feeding one writer that commits in batches.
//!
//! Workers take files in list order, probe them and send the result to the
//! writer, which applies results in list order (so track ids follow path
//! order whatever the timing) inside transactions of `batch` files. Memory
//! is bounded twice: a worker may run at most `WINDOW` files ahead of the
//! writer, and results waiting for the writer may hold at most
//! `BUDGET_BYTES` (the result the writer needs next is always let through,
//! so a large picture cannot deadlock the queue).

use super::probe::{Buffers, Checksum, Probed, probe_file};
use crate::store::{ScanWriter, Store, StoreError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Duration;

/// Most files a worker may be ahead of the writer.
const WINDOW: usize = 1024;
/// Most bytes of probe results waiting for the writer.
const BUDGET_BYTES: u64 = 64 << 20;

#[derive(Default)]
struct FlowState {
    used: u64,
    next: usize,
    halted: bool,
}

#[derive(Default)]
struct Flow {
    s: Mutex<FlowState>,
    cv: Condvar,
}

impl Flow {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlowState> {
        self.s.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until `ok` holds, then run `then` under the same lock; false
    /// when halted or stopped.
    fn wait(
        &self,
        stop: &AtomicBool,
        mut ok: impl FnMut(&FlowState) -> bool,
        then: impl FnOnce(&mut FlowState),
    ) -> bool {
        let mut g = self.lock();
        loop {
            if g.halted {
                return false;
            }
            if ok(&g) {
                then(&mut g);
                return true;
            }
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn admit(&self, i: usize, stop: &AtomicBool) -> bool {
        self.wait(stop, |s| i < s.next + WINDOW, |_| {})
    }

    /// Reserve `bytes` for result `i`. Never refuses the result the writer
    /// waits for, nor any result when the queue is empty. Not interrupted by
    /// `stop`: a probed result is always delivered.
    fn reserve(&self, i: usize, bytes: u64) -> bool {
        let never = AtomicBool::new(false);
        self.wait(
            &never,
            |s| i == s.next || s.used == 0 || s.used + bytes <= BUDGET_BYTES,
            |s| s.used += bytes,
        )
    }

    fn done(&self, next: usize, bytes: u64) {
        let mut g = self.lock();
        g.used = g.used.saturating_sub(bytes);
        g.next = next;
        drop(g);
        self.cv.notify_all();
    }

    fn halt(&self) {
        self.lock().halted = true;
        self.cv.notify_all();
    }
}

/// Progress of the probing phase.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    pub done: u64,
    pub total: u64,
}

/// How the pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub jobs: usize,
    pub batch: usize,
    pub checksum: Checksum,
}

/// Probe `paths` with `jobs` workers; `apply(writer, index, result)` runs on
/// the calling thread, in index order, inside batched transactions. Returns
/// how many results were applied (fewer than `paths.len()` when stopped).
pub fn run<P: AsRef<Path> + Sync>(
    store: &Store,
    paths: &[P],
    settings: Settings,
    stop: &AtomicBool,
    mut apply: impl FnMut(&mut ScanWriter<'_>, usize, Result<Probed, String>) -> Result<(), StoreError>,
    progress: &mut dyn FnMut(Tick),
) -> Result<usize, StoreError> {
    let total = paths.len();
    if total == 0 {
        return Ok(0);
    }
    let Settings {
        jobs,
        batch,
        checksum,
    } = settings;
    let jobs = jobs.clamp(1, total);
    let batch = batch.max(1);
    let next = AtomicUsize::new(0);
    let flow = Flow::default();
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Probed, String>, u64)>(jobs * 4);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, flow) = (&next, &flow);
            scope.spawn(move || {
                let mut bufs = Buffers::default();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = paths.get(i) else { break };
                    if !flow.admit(i, stop) {
                        break;
                    }
                    let res = probe_file(p.as_ref(), checksum, &mut bufs);
                    let cost = res.as_ref().map_or(256, Probed::cost);
                    if !flow.reserve(i, cost) || tx.send((i, res, cost)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let out = write_loop(store, &rx, &flow, total, batch, &mut apply, progress);
        // Let workers blocked on the flow or the channel exit.
        flow.halt();
        drop(rx);
        out
    })
}

fn write_loop(
    store: &Store,
    rx: &mpsc::Receiver<(usize, Result<Probed, String>, u64)>,
    flow: &Flow,
    total: usize,
    batch: usize,
    apply: &mut impl FnMut(&mut ScanWriter<'_>, usize, Result<Probed, String>) -> Result<(), StoreError>,
    progress: &mut dyn FnMut(Tick),
) -> Result<usize, StoreError> {
    let mut pending: BTreeMap<usize, (Result<Probed, String>, u64)> = BTreeMap::new();
    let mut next = 0usize;
    let mut writer = store.writer()?;
    let mut in_batch = 0usize;
    for (i, res, cost) in rx.iter() {
        pending.insert(i, (res, cost));
        while let Some((res, cost)) = pending.remove(&next) {
            apply(&mut writer, next, res)?;
            next += 1;
            flow.done(next, cost);
            in_batch += 1;
            if in_batch >= batch {
                writer.commit()?;
                writer = store.writer()?;
                in_batch = 0;
            }
            progress(Tick {
                done: next as u64,
                total: total as u64,
            });
        }
    }
    writer.commit()?;
    Ok(next)
}
