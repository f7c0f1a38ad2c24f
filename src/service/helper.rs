//! The privileged steps of the service, run in the host's mount namespace
//! (`ExecStartPre=+nsenter --target=1 --mount -- musefs mount-helper`):
//! mount, hand the connected /dev/fuse fd to systemd's fd store, and unmount
//! on a real stop.

use super::notify;
use crate::fuse::{MountOptions, mount_data};
use anyhow::{Context, bail};
use nix::mount::{MntFlags, MsFlags};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// The fstype of our mounts as /proc/self/mountinfo shows it.
const FSTYPE: &str = "fuse.musefs";

/// Is `mnt` currently a musefs mount point (in this mount namespace)?
pub fn is_musefs_mount(mnt: &Path) -> bool {
    let want = std::fs::canonicalize(mnt).unwrap_or_else(|_| mnt.to_owned());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let mut halves = l.split(" - ");
            let (Some(a), Some(b)) = (halves.next(), halves.next()) else {
                return false;
            };
            let point = a.split(' ').nth(4).map(unescape);
            point.as_deref() == Some(want.to_string_lossy().as_ref())
                && b.split(' ').next() == Some(FSTYPE)
        })
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Whether a mount's server side is gone (stat fails with ENOTCONN). A live
/// connection whose server is down blocks instead: after `wait` we call it
/// alive (its fd is held by the store and a new server will answer).
fn is_dead(mnt: &Path, wait: Duration) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = mnt.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::metadata(&p).map_err(|e| e.raw_os_error()));
    });
    matches!(rx.recv_timeout(wait), Ok(Err(Some(libc::ENOTCONN))))
}

/// The uid/gid the mount belongs to (FUSE's `user_id`/`group_id`). The
/// server answers only requests the kernel lets through: without allow_other
/// that is this user alone, so it must be the user the server runs as — the
/// `musefs` system user of the units (root when there is none). The config's
/// `owner`/`group` only set the attributes files show.
pub fn mount_owner() -> (u32, u32) {
    match nix::unistd::User::from_name("musefs") {
        Ok(Some(u)) => (u.uid.as_raw(), u.gid.as_raw()),
        _ => (0, 0),
    }
}

/// Mount and put the device into the fd store.
pub fn mount_helper(opts: &MountOptions, owner_uid: u32, owner_gid: u32) -> anyhow::Result<()> {
    let mnt = &opts.mountpoint;
    if !notify::enabled() {
        bail!(
            "mount-helper runs from the systemd unit (NOTIFY_SOCKET is not set); use `musefs mount` by hand"
        );
    }
    if is_musefs_mount(mnt) {
        if is_dead(mnt, Duration::from_millis(1500)) {
            tracing::warn!(mountpoint = %mnt.display(), "detaching a dead musefs mount");
            nix::mount::umount2(mnt, MntFlags::MNT_DETACH)
                .with_context(|| format!("detaching {}", mnt.display()))?;
        } else {
            tracing::info!(mountpoint = %mnt.display(), "musefs is mounted already; the server takes it over");
            return Ok(());
        }
    }
    if !mnt.is_dir() {
        std::fs::create_dir_all(mnt)
            .with_context(|| format!("creating mountpoint {}", mnt.display()))?;
    }
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .context("opening /dev/fuse (is DeviceAllow=/dev/fuse rw set?)")?;
    let dev: std::os::fd::OwnedFd = dev.into();
    // A fresh connection: drop what an earlier one left in the fd store (an
    // INIT request replayed on a new connection would never be answered).
    notify::remove_stored("fuse");
    notify::remove_stored("init");
    let data = mount_data(dev.as_raw_fd(), owner_uid, owner_gid, opts.allow_other);
    nix::mount::mount(
        Some("musefs"),
        mnt,
        Some(FSTYPE),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RDONLY | MsFlags::MS_NOATIME,
        Some(data.as_str()),
    )
    .with_context(|| format!("mounting on {}", mnt.display()))?;
    if let Err(e) = notify::store_fd("fuse", &dev) {
        let _ = nix::mount::umount2(mnt, MntFlags::MNT_DETACH);
        return Err(e).context("handing the FUSE fd to systemd (FileDescriptorStoreMax= set?)");
    }
    tracing::info!(mountpoint = %mnt.display(), "mounted; the server will serve it");
    Ok(())
}

/// Unmount on a real stop; leave the mount for a restart.
pub fn unmount_helper(opts: &MountOptions) -> anyhow::Result<()> {
    let result = std::env::var("SERVICE_RESULT").unwrap_or_default();
    if !result.is_empty() && result != "success" {
        tracing::info!(
            result,
            "not unmounting: the service will be restarted with the same mount"
        );
        return Ok(());
    }
    if is_musefs_mount(&opts.mountpoint) {
        nix::mount::umount2(&opts.mountpoint, MntFlags::MNT_DETACH)
            .with_context(|| format!("unmounting {}", opts.mountpoint.display()))?;
        tracing::info!(mountpoint = %opts.mountpoint.display(), "unmounted");
    }
    Ok(())
}
