//! Running as a process: logging, signals, readiness, the mount loop.

use crate::fuse::{self, MountOptions};
use crate::library::{Library, Options};
use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub mod config;
pub mod tuning;
pub mod watch;

/// Set up logging: journald when stderr is the journal, readable stderr otherwise.
/// `verbosity` raises the default level (0 = info for musefs, warn for others).
pub fn init_logging(verbosity: u8) {
    use tracing_subscriber::prelude::*;
    let default = match verbosity {
        0 => "musefs=info,fuser=error,warn",
        1 => "musefs=debug,fuser=warn,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let to_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    if to_journal && let Ok(j) = tracing_journald::layer() {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(j)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .try_init();
}

/// A flag set by SIGINT/SIGTERM.
pub fn shutdown_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag)).context("installing signal handler")?;
    }
    Ok(flag)
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(state);
    }
}

/// Mount and serve until SIGINT/SIGTERM or an external unmount.
pub fn run_mount(opts: Options, mount: MountOptions) -> anyhow::Result<()> {
    let stop = shutdown_flag()?;
    let lib = Arc::new(Library::open(opts)?);
    let handle = fuse::mount(Arc::clone(&lib), &mount)
        .with_context(|| format!("cannot mount on {}", mount.mountpoint.display()))?;
    // The session has completed INIT; prove the root answers before READY=1.
    std::fs::metadata(&mount.mountpoint).context("mount does not answer")?;
    tuning::tune_mount(&mount.mountpoint);
    let (files, dirs) = lib.counts();
    tracing::info!(
        mountpoint = %mount.mountpoint.display(),
        files,
        dirs,
        "mounted"
    );
    let status = format!("serving {files} tracks in {dirs} directories");
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&status),
    ]);
    let mut watcher = watch::StoreWatcher::new(&lib.options().db);
    while !stop.load(Ordering::Relaxed) && !handle.is_finished() {
        // Wake on a store write (debounced: a burst of commits costs one
        // refresh per 20 ms quiet period, at most 60 ms after the first) or
        // every 250 ms as a safety net (and to notice SIGTERM).
        watcher.wait(
            Duration::from_millis(250),
            Duration::from_millis(20),
            Duration::from_millis(60),
        );
        if let Err(e) = lib.refresh() {
            tracing::warn!("refresh failed: {e}");
        }
        let r = lib.take_pending();
        if !r.is_empty() {
            tracing::debug!(tracks = r.tracks, full = r.full, "refreshed");
            handle.invalidate(&r);
        }
    }
    notify(&[sd_notify::NotifyState::Stopping]);
    if handle.is_finished() {
        tracing::info!("unmounted from outside; exiting");
    }
    handle.unmount().context("unmounting")?;
    Ok(())
}

/// Print what a mount would show, without mounting.
pub fn dry_run(opts: Options, limit: usize, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let lib = Library::open(opts)?;
    let view = lib.view();
    let files = view.tree.files();
    writeln!(
        out,
        "{} tracks in {} directories ({} not served, {} skipped by the template)",
        files.len(),
        view.tree.dir_count(),
        view.problems().len(),
        view.skipped()
    )?;
    let n = if limit == 0 {
        files.len()
    } else {
        limit.min(files.len())
    };
    for (p, _) in &files[..n] {
        writeln!(out, "{p}")?;
    }
    if n < files.len() {
        writeln!(out, "... {} more (--limit 0 lists all)", files.len() - n)?;
    }
    let mut problems: Vec<_> = view.problems().iter().collect();
    problems.sort();
    for (id, why) in problems {
        writeln!(out, "not served: track {id}: {why}")?;
    }
    Ok(())
}
