//! systemd notifications and the file-descriptor store.

use sd_notify::NotifyState;
use std::collections::HashMap;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// True when a service manager listens for notifications.
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Send states; silently nothing without a service manager.
pub fn send(states: &[NotifyState<'_>]) {
    if enabled()
        && let Err(e) = sd_notify::notify(states)
    {
        tracing::warn!("sd_notify failed: {e}");
    }
}

/// READY=1 with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(m) => send(&[NotifyState::Reloading, m]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog (half its timeout), if enabled.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// Put `fd` into the service's fd store under `name`, then wait until the
/// manager has processed it (BARRIER=1) so the caller may exit at once.
pub fn store_fd(name: &str, fd: &impl AsFd) -> std::io::Result<()> {
    if !enabled() {
        return Err(std::io::Error::other(
            "NOTIFY_SOCKET is not set: the fd store needs systemd (run this from the unit)",
        ));
    }
    sd_notify::notify_with_fds(
        &[NotifyState::FdStore, NotifyState::FdName(name)],
        &[fd.as_fd()],
    )?;
    barrier()
}

/// Drop every fd stored under `name` (FDSTOREREMOVE=1).
pub fn remove_stored(name: &str) {
    send(&[NotifyState::FdStoreRemove, NotifyState::FdName(name)]);
}

/// sd_notify_barrier: send BARRIER=1 with a pipe's write end and wait for
/// the manager to close it.
pub fn barrier() -> std::io::Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    sd_notify::notify_with_fds(&[NotifyState::Custom("BARRIER=1")], &[w.as_fd()])?;
    drop(w);
    let mut fds = [nix::poll::PollFd::new(
        r.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16))?;
    Ok(())
}

/// File descriptors passed by the service manager, by name. Consumes the
/// LISTEN_* variables (call before spawning threads).
pub fn take_listen_fds() -> HashMap<String, OwnedFd> {
    let mut out = HashMap::new();
    // SAFETY: called from the main thread before any other thread exists
    // (the service starts it first thing), as remove_var requires.
    let fds = unsafe { sd_notify::listen_fds_with_names_and_unset_env() };
    if let Ok(fds) = fds {
        for (raw, name) in fds {
            // SAFETY: the manager passed us this descriptor; nobody else owns it.
            out.insert(name, unsafe { OwnedFd::from_raw_fd(raw) });
        }
    }
    out
}
