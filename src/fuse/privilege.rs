//! Capabilities: everything but CAP_SYS_ADMIN is dropped at start, and
//! CAP_SYS_ADMIN itself stays out of the effective set except around the two
//! operations that need it: mount(2) and registering a passthrough backing
//! file. Capability sets are per thread, so the process-wide reduction runs
//! before any worker thread exists and workers inherit it.

use caps::{CapSet, Capability, CapsHashSet};

/// Keep only CAP_SYS_ADMIN (permitted; effective too, for the mount), drop
/// the rest from every set, including the bounding set where allowed.
/// Returns whether CAP_SYS_ADMIN is available at all.
pub fn keep_only_sys_admin() -> bool {
    let have = caps::has_cap(None, CapSet::Permitted, Capability::CAP_SYS_ADMIN).unwrap_or(false);
    let mut only = CapsHashSet::new();
    if have {
        only.insert(Capability::CAP_SYS_ADMIN);
    }
    // The bounding set can only shrink while CAP_SETPCAP is effective.
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false) {
        for c in caps::all() {
            if c != Capability::CAP_SYS_ADMIN {
                let _ = caps::drop(None, CapSet::Bounding, c);
            }
        }
    }
    let _ = caps::clear(None, CapSet::Ambient);
    let _ = caps::set(None, CapSet::Inheritable, &CapsHashSet::new());
    let _ = caps::set(None, CapSet::Effective, &only);
    if caps::set(None, CapSet::Permitted, &only).is_err() {
        tracing::warn!("could not reduce capabilities");
    }
    have
}

/// Take CAP_SYS_ADMIN out of this thread's effective set (it stays permitted).
pub fn lower() {
    let _ = caps::drop(None, CapSet::Effective, Capability::CAP_SYS_ADMIN);
}

/// Run `f` with CAP_SYS_ADMIN effective in this thread, if permitted.
pub fn with_sys_admin<T>(f: impl FnOnce() -> T) -> T {
    let raised = caps::raise(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).is_ok();
    let out = f();
    if raised {
        lower();
    }
    out
}

/// The capability sets of this process as /proc shows them (for logs).
pub fn describe() -> String {
    let eff = caps::read(None, CapSet::Effective).unwrap_or_default();
    let perm = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let mut e: Vec<String> = eff.iter().map(|c| c.to_string()).collect();
    let mut p: Vec<String> = perm.iter().map(|c| c.to_string()).collect();
    e.sort();
    p.sort();
    format!("effective [{}], permitted [{}]", e.join(" "), p.join(" "))
}
