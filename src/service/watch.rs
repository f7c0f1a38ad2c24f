//! Wake up when the store changes: inotify on the store's directory (the
//! database file and its WAL), with a timer as a safety net.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Watches a store file.
pub struct StoreWatcher {
    inotify: Option<Inotify>,
    names: Vec<OsString>,
}

impl StoreWatcher {
    /// Watch `db` (and `db-wal`, `db-journal`). Falls back to the timer alone
    /// when inotify is unavailable (the caller still polls).
    pub fn new(db: &Path) -> StoreWatcher {
        let dir = db
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = db.file_name().map(OsString::from).unwrap_or_default();
        let names = ["", "-wal", "-journal"]
            .iter()
            .map(|s| {
                let mut n = base.clone();
                n.push(s);
                n
            })
            .collect();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                i.add_watch(
                    dir,
                    AddWatchFlags::IN_MODIFY
                        | AddWatchFlags::IN_CLOSE_WRITE
                        | AddWatchFlags::IN_CREATE
                        | AddWatchFlags::IN_MOVED_TO
                        | AddWatchFlags::IN_DELETE,
                )
                .is_ok()
            });
        if inotify.is_none() {
            tracing::warn!(
                dir = %dir.display(),
                "cannot watch the store directory; falling back to polling"
            );
        }
        StoreWatcher { inotify, names }
    }

    fn drain(&self) -> bool {
        let Some(i) = &self.inotify else { return false };
        let mut hit = false;
        while let Ok(events) = i.read_events() {
            if events.is_empty() {
                break;
            }
            hit |= events
                .iter()
                .any(|e| e.name.as_ref().is_some_and(|n| self.names.contains(n)));
        }
        hit
    }

    fn wait_readable(&self, timeout: Duration) -> bool {
        let Some(i) = &self.inotify else {
            std::thread::sleep(timeout);
            return false;
        };
        let mut fds = [PollFd::new(i.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(timeout.as_millis().min(60_000) as i32)
            .unwrap_or(PollTimeout::MAX);
        matches!(poll(&mut fds, ms), Ok(n) if n > 0)
    }

    /// Block until the store changes (then wait `debounce` more for the burst
    /// to settle, at most `max_delay` after the first event) or until
    /// `timeout` passes. Returns true when a change was seen.
    pub fn wait(&mut self, timeout: Duration, debounce: Duration, max_delay: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.wait_readable(left) && self.drain() {
                break;
            }
        }
        let first = Instant::now();
        loop {
            let until_max = max_delay.saturating_sub(first.elapsed());
            if until_max.is_zero() || !self.wait_readable(debounce.min(until_max)) {
                return true;
            }
            self.drain();
        }
    }
}
