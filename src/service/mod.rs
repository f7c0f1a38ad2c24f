//! Running as a process: logging, signals, readiness, the mount loop.

use crate::fuse::{self, MountOptions};
use crate::library::{Library, Options};
use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub mod config;
pub mod helper;
pub mod notify;
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

/// Does the mount answer a lookup of its root? (In a thread: a mount whose
/// server is not up yet would block the caller.)
fn answers(mnt: &std::path::Path, wait: Duration) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = mnt.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::metadata(&p).is_ok());
    });
    rx.recv_timeout(wait).unwrap_or(false)
}

fn read_memfd(fd: &std::os::fd::OwnedFd) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut f = std::fs::File::from(fd.try_clone()?);
    f.rewind()?;
    let mut v = Vec::new();
    f.read_to_end(&mut v)?;
    Ok(v)
}

/// Keep the INIT request in the fd store so a restarted server can take over.
fn save_init(init: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let fd = nix::sys::memfd::memfd_create("musefs-init", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(init)?;
    notify::store_fd("init", &f)?;
    Ok(())
}

/// Mount (or, under systemd, serve the connection the privileged helper
/// mounted) and serve until SIGINT/SIGTERM or an external unmount. SIGHUP
/// calls `reload` for new options and rebuilds the tree without unmounting.
pub fn run_mount(
    opts: Options,
    mount: MountOptions,
    reload: impl Fn() -> anyhow::Result<Options>,
) -> anyhow::Result<()> {
    // Before any thread exists: take the manager's fds, settle capabilities.
    let mut fds = notify::take_listen_fds();
    let have_admin = fuse::privilege::keep_only_sys_admin();
    // Effective again only around mount(2) and backing registration.
    fuse::privilege::lower();
    tracing::debug!("capabilities: {}", fuse::privilege::describe());
    if !have_admin && opts.mode == crate::library::Mode::StructureOnly {
        tracing::info!(
            "no CAP_SYS_ADMIN: structure-only reads go through the daemon (no passthrough)"
        );
    }
    let stop = shutdown_flag()?;
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing SIGHUP handler")?;
    // Vacuum must not rewrite the store under a running mount.
    let _lock = match crate::store::Store::lock_shared(&opts.db) {
        Ok(l) => Some(l),
        Err(crate::store::maintenance::LockError::Io { .. }) if !opts.db.exists() => None,
        Err(e @ crate::store::maintenance::LockError::Io { .. }) => {
            tracing::warn!("cannot lock the store ({e}); `musefs vacuum` will not see this mount");
            None
        }
        Err(e) => return Err(e.into()),
    };
    // Under systemd the store may not exist yet (first boot, scan still
    // running): serve an empty tree until it appears. By hand, say so.
    let lib = Arc::new(if notify::enabled() {
        Library::open_or_wait(opts)?
    } else {
        Library::open(opts)?
    });
    let handle = match fds.remove("fuse") {
        Some(dev) => {
            let saved = match fds.remove("init") {
                Some(m) => Some(read_memfd(&m).context("reading the saved INIT request")?),
                None => None,
            };
            let a = fuse::adopt(Arc::clone(&lib), dev, saved, &mount)
                .context("serving the FUSE connection from the fd store")?;
            if !a.takeover {
                save_init(&a.init).context("saving the INIT request to the fd store")?;
            }
            a.handle
        }
        None => fuse::mount(Arc::clone(&lib), &mount)
            .with_context(|| format!("cannot mount on {}", mount.mountpoint.display()))?,
    };
    // Bigger kernel read-ahead for this mount (bdi), when allowed.
    tuning::tune_mount(&mount.mountpoint);
    // READY=1 only once the root answers a lookup.
    if !answers(&mount.mountpoint, Duration::from_secs(10)) {
        tracing::warn!(
            mountpoint = %mount.mountpoint.display(),
            "the mount point does not answer from here (another mount namespace?); reporting ready anyway"
        );
    }
    let status = || {
        let (files, dirs) = lib.counts();
        format!(
            "serving {files} tracks in {} directories",
            dirs.saturating_sub(1)
        )
    };
    let (files, dirs) = lib.counts();
    tracing::info!(mountpoint = %mount.mountpoint.display(), files, dirs, "mounted");
    notify::ready(&status());
    let watchdog = notify::watchdog_interval();
    let mut last_ping = std::time::Instant::now();
    let mut watcher = watch::StoreWatcher::new(&lib.options().db);
    let mut refreshes = 0u64;
    let mut last_metrics = std::time::Instant::now() - Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && !handle.is_finished() {
        // Wake on a store write (debounced: a burst of commits costs one
        // refresh per 20 ms quiet period, at most 60 ms after the first) or
        // every 250 ms as a safety net (and to notice signals).
        watcher.wait(
            Duration::from_millis(250),
            Duration::from_millis(20),
            Duration::from_millis(60),
        );
        if hup.swap(false, Ordering::Relaxed) {
            notify::reloading();
            let current = lib.options();
            let fixed = reload().map(|mut o| {
                // The store and the mode are bound to open handles and the
                // negotiated connection: they change only with a restart.
                if o.db != current.db || o.mode != current.mode {
                    tracing::warn!("store and mode changes take effect at the next restart");
                    o.db = current.db.clone();
                    o.mode = current.mode;
                }
                o
            });
            match fixed.and_then(|o| Ok(lib.reload(o)?)) {
                Ok(_) => tracing::info!("configuration reloaded; tree rebuilt"),
                Err(e) => tracing::error!("reload failed, keeping the old configuration: {e:#}"),
            }
            watcher = watch::StoreWatcher::new(&lib.options().db);
            notify::ready(&status());
        }
        if let Err(e) = lib.refresh() {
            tracing::warn!("refresh failed: {e}");
        }
        let r = lib.take_pending();
        if !r.is_empty() {
            refreshes += 1;
            tracing::debug!(tracks = r.tracks, full = r.full, "refreshed");
            handle.invalidate(&r);
            notify::status(&format!("{}; {refreshes} refreshes", status()));
        }
        if let Some(path) = &mount.metrics_file
            && last_metrics.elapsed() >= Duration::from_secs(5)
        {
            write_metrics(path, &lib, &handle, refreshes);
            last_metrics = std::time::Instant::now();
        }
        if let Some(every) = watchdog
            && last_ping.elapsed() >= every
        {
            notify::watchdog();
            last_ping = std::time::Instant::now();
        }
    }
    notify::stopping();
    if handle.is_finished() {
        // Nothing left to unmount.
        tracing::info!("unmounted from outside; exiting");
        return Ok(());
    }
    handle.unmount().context("unmounting")?;
    Ok(())
}

/// Write the metrics file atomically (temp file + rename).
fn write_metrics(
    path: &std::path::Path,
    lib: &Library,
    handle: &fuse::MountHandle,
    refreshes: u64,
) {
    let (tracks, dirs) = lib.counts();
    let (hits, misses, bytes) = lib.header_cache_stats();
    let text = handle.metrics().render(&fuse::metrics::Extra {
        tracks: tracks as u64,
        directories: dirs as u64,
        refreshes,
        header_cache_hits: hits,
        header_cache_misses: misses,
        header_cache_bytes: bytes,
        resident_bytes: fuse::metrics::resident_bytes(),
    });
    let tmp = path.with_extension("tmp");
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
        tracing::warn!(path = %path.display(), "cannot write metrics: {e}");
    }
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
