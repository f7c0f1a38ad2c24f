//! The thin fuser adapter: callbacks -> `library` calls, errors -> errno,
//! passthrough registration, kernel cache invalidation. No SQL, no format bytes.

use crate::library::tree::file_ino;
use crate::library::{Attr, Kind, LibError, Library, Mode, OpenFile, Refresh};

pub mod metrics;
pub mod privilege;
pub mod takeover;
use fuser::{
    BackingId, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo,
    InitFlags, KernelConfig, LockOwner, MountOption, Notifier, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr,
    Request, SessionACL,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How long the kernel may cache entries and attributes. Changes are pushed
/// with explicit invalidations, so this only bounds staleness if one is lost.
const TTL: Duration = Duration::from_secs(60);

/// Largest read we answer in one request (the kernel asks for at most this).
const MAX_READ: usize = 1 << 20;

/// Run a request handler's core call; a panic becomes EIO for this request
/// (logged), and the server keeps going.
fn guard<T>(op: &str, f: impl FnOnce() -> Result<T, LibError>) -> Result<T, LibError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(op, "internal error (request failed with EIO): {msg}");
            Err(LibError::Io(std::io::Error::other("internal error")))
        }
    }
}

/// Environment switch for direct I/O on daemon-served files (set at INIT).
pub const DIRECT_IO_ENV: &str = "MUSEFS_DIRECT_IO";

/// Serve daemon reads with FOPEN_DIRECT_IO instead of FOPEN_KEEP_CACHE.
/// Direct I/O copies each byte once less (the kernel hands the daemon's
/// reply straight to the reader, with no page cache of the served file in
/// between): about twice the throughput of large cold sequential reads
/// here, and the audio is not cached twice (backing file + served file).
/// The price: no kernel read-ahead and no cache of the served file, so
/// every read is a round trip to the daemon. Off by default; see
/// docs/PERFORMANCE.md.
static DIRECT_IO: AtomicBool = AtomicBool::new(false);

/// Flags for a daemon-served open. No FLUSH requests on close (the
/// filesystem is read-only and flush has nothing to do).
fn open_flags() -> FopenFlags {
    if DIRECT_IO.load(Ordering::Relaxed) {
        FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_NOFLUSH
    } else {
        FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH
    }
}

/// Map a core error to exactly one errno.
pub fn errno_of(e: &LibError) -> Errno {
    match e {
        LibError::NotFound => Errno::ENOENT,
        LibError::NotADirectory => Errno::ENOTDIR,
        LibError::IsADirectory => Errno::EISDIR,
        LibError::Stale { .. }
        | LibError::Backing { .. }
        | LibError::Format { .. }
        | LibError::Store(_)
        | LibError::Io(_) => Errno::EIO,
    }
}

fn to_file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind: match a.kind {
            Kind::Dir => FileType::Directory,
            Kind::File => FileType::RegularFile,
        },
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

struct Handle {
    file: OpenFile,
    /// Holds the kernel's backing id alive while this handle is open.
    _backing: Option<Arc<BackingId>>,
}

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The fuser `Filesystem` over a [`Library`].
pub struct MuseFs {
    lib: Arc<Library>,
    handles: sharded_slab::Slab<Handle>,
    passthrough: AtomicBool,
    passthrough_warned: AtomicBool,
    /// Whether a read through a previous server's handle was logged.
    orphan_logged: AtomicBool,
    backing_ids: Mutex<HashMap<u64, Weak<BackingId>>>,
    metrics: Arc<metrics::Metrics>,
}

impl MuseFs {
    pub fn new(lib: Arc<Library>) -> MuseFs {
        MuseFs {
            lib,
            metrics: Arc::default(),
            handles: sharded_slab::Slab::new(),
            passthrough: AtomicBool::new(false),
            passthrough_warned: AtomicBool::new(false),
            orphan_logged: AtomicBool::new(false),
            backing_ids: Mutex::new(HashMap::new()),
        }
    }

    fn fail(&self, op: &str, ino: u64, e: &LibError) -> Errno {
        let errno = errno_of(e);
        self.metrics.error(i32::from(errno));
        if errno == Errno::EIO {
            tracing::warn!(op, ino, errno = "EIO", "{e}");
        }
        errno
    }

    fn backing_id(&self, ino: u64, file: &OpenFile, reply: &ReplyOpen) -> Option<Arc<BackingId>> {
        let mut ids = self.backing_ids.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = ids.get(&ino).and_then(Weak::upgrade) {
            return Some(id);
        }
        match privilege::with_sys_admin(|| reply.open_backing(&file.backing)) {
            Ok(id) => {
                let id = Arc::new(id);
                ids.retain(|_, w| w.strong_count() > 0);
                ids.insert(ino, Arc::downgrade(&id));
                Some(id)
            }
            Err(e) => {
                if !self.passthrough_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "FUSE passthrough registration failed ({e}); serving reads through the daemon"
                    );
                }
                self.passthrough.store(false, Ordering::Relaxed);
                self.metrics.passthrough_enabled.store(0, Ordering::Relaxed);
                None
            }
        }
    }
}

impl Filesystem for MuseFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Lookups and directory reads only read the view: let the kernel
        // send several for one directory at once (parallel media scanners).
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        // Directory listings carry attributes: no LOOKUP per entry.
        if config
            .capabilities()
            .contains(InitFlags::FUSE_DO_READDIRPLUS)
        {
            let _ = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS);
        }
        let direct = std::env::var(DIRECT_IO_ENV).is_ok_and(|v| v == "1" || v == "true");
        DIRECT_IO.store(direct, Ordering::Relaxed);
        if direct {
            // Shared mmap of direct-I/O files needs this (kernel >= 6.6).
            let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
            tracing::info!("direct I/O: served files bypass the page cache");
        }
        if self.lib.options().mode == Mode::StructureOnly {
            if config.capabilities().contains(InitFlags::FUSE_PASSTHROUGH)
                && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(1).is_ok()
            {
                self.passthrough.store(true, Ordering::Relaxed);
                self.metrics.passthrough_enabled.store(1, Ordering::Relaxed);
                tracing::info!(
                    "FUSE passthrough available: structure-only reads bypass the daemon"
                );
            } else {
                tracing::info!(
                    "kernel offers no FUSE passthrough; serving reads through the daemon"
                );
            }
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str() else {
            return reply.error(Errno::ENOENT);
        };
        self.metrics.lookups.fetch_add(1, Ordering::Relaxed);
        match guard("lookup", || self.lib.lookup(parent.0, name)) {
            Ok(a) => reply.entry(&TTL, &to_file_attr(&a), fuser::Generation(0)),
            Err(e) => reply.error(self.fail("lookup", parent.0, &e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match guard("getattr", || self.lib.getattr(ino.0)) {
            Ok(a) => reply.attr(&TTL, &to_file_attr(&a)),
            Err(e) => reply.error(self.fail("getattr", ino.0, &e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        let file = match guard("open", || self.lib.open_file(ino.0)) {
            Ok(f) => f,
            Err(e) => return reply.error(self.fail("open", ino.0, &e)),
        };
        let backing = if self.passthrough.load(Ordering::Relaxed) {
            self.backing_id(ino.0, &file, &reply)
        } else {
            None
        };
        let handle = Handle {
            file,
            _backing: backing.clone(),
        };
        let Some(key) = self.handles.insert(handle) else {
            return reply.error(Errno::ENFILE);
        };
        let fh = FileHandle(key as u64);
        self.metrics.opens.fetch_add(1, Ordering::Relaxed);
        self.metrics.open_handles.fetch_add(1, Ordering::Relaxed);
        if backing.is_some() {
            self.metrics
                .passthrough_opens
                .fetch_add(1, Ordering::Relaxed);
        }
        match backing {
            // The kernel fails reads (EIO) when FOPEN_KEEP_CACHE accompanies passthrough.
            Some(id) => reply.opened_passthrough(fh, FopenFlags::empty(), &id),
            None => reply.opened(fh, open_flags()),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // A handle of this server, for this inode. Anything else is a handle
        // a previous server issued before it died (the kernel resends its
        // reads after a takeover, and open files keep their handles): its
        // key is unknown here, or names another file's handle. Serve such a
        // read from a fresh open of the inode instead of failing it.
        let h = self
            .handles
            .get(fh.0 as usize)
            .filter(|h| file_ino(h.file.track_id) == ino.0);
        let orphan = match h {
            Some(_) => None,
            None => {
                if !self.orphan_logged.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        ino = ino.0,
                        "serving reads of a file opened before the takeover from a fresh open"
                    );
                }
                match guard("read", || self.lib.open_file(ino.0)) {
                    Ok(f) => Some(f),
                    Err(e) => return reply.error(self.fail("read", ino.0, &e)),
                }
            }
        };
        let file = match (&h, &orphan) {
            (Some(h), _) => &h.file,
            (None, Some(f)) => f,
            (None, None) => return reply.error(Errno::EBADF),
        };
        READ_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            let n = (size as usize).min(MAX_READ);
            if buf.len() < n {
                buf.resize(n, 0);
            }
            match guard("read", || self.lib.read(file, offset, &mut buf[..n])) {
                Ok(got) => {
                    self.metrics.reads.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .read_bytes
                        .fetch_add(got as u64, Ordering::Relaxed);
                    reply.data(&buf[..got])
                }
                Err(e) => reply.error(self.fail("read", ino.0, &e)),
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // An unknown handle is normal after a takeover; nothing to free then.
        // A previous server's key may name one of ours for another file:
        // leave that one alone.
        let ours = self
            .handles
            .get(fh.0 as usize)
            .is_some_and(|h| file_ino(h.file.track_id) == ino.0);
        if ours && self.handles.remove(fh.0 as usize) {
            self.metrics.open_handles.fetch_sub(1, Ordering::Relaxed);
        }
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let r = guard("readdir", || {
            self.lib.readdir(ino.0, offset, |next, e| {
                let kind = match e.kind {
                    Kind::Dir => FileType::Directory,
                    Kind::File => FileType::RegularFile,
                };
                reply.add(INodeNo(e.ino), next, kind, &e.name)
            })
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("readdir", ino.0, &e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    // No extended attributes: answering ENOSYS makes the kernel stop asking
    // for the life of the connection, which saves two or three round trips
    // per entry of every `ls -l` (security.selinux, POSIX ACLs).
    // `musefs tag` finds a file's track from its inode number instead.
    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let r = guard("readdirplus", || {
            self.lib.readdir_plus(ino.0, offset, |next, e, attr| {
                reply.add(
                    INodeNo(e.ino),
                    next,
                    &e.name,
                    &TTL,
                    &to_file_attr(attr),
                    fuser::Generation(0),
                )
            })
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("readdirplus", ino.0, &e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (files, dirs) = self.lib.counts();
        reply.statfs(0, 0, 0, (files + dirs) as u64, 0, 4096, 255, 4096);
    }
}

/// Mount settings for [`mount`].
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub mountpoint: PathBuf,
    pub allow_other: bool,
    pub threads: usize,
    /// Where to write Prometheus metrics (rewritten every few seconds).
    pub metrics_file: Option<PathBuf>,
}

/// A running mount.
pub struct MountHandle {
    session: Option<fuser::BackgroundSession>,
    notifier: Notifier,
    pub mountpoint: PathBuf,
    /// The device of a connection someone else mounted (kept open for the
    /// life of the process); such a mount is not ours to unmount.
    adopted: Option<OwnedFd>,
    metrics: Arc<metrics::Metrics>,
}

impl MountHandle {
    /// The request counters of this mount.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// Unmount (when we mounted) and wait for the session to end.
    pub fn unmount(mut self) -> std::io::Result<()> {
        if self.adopted.is_some() {
            // The host-side helper unmounts; the kernel keeps the connection
            // alive through systemd's fd store for a restarted server.
            return Ok(());
        }
        let Some(s) = self.session.take() else {
            return Ok(());
        };
        // The unmount is lazy: while another process keeps a file open, the
        // connection (and so the session) lives on. Do not wait for that
        // forever; exiting ends the connection.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(s.umount_and_join());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(3)) {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    "files in the mount are still open; exiting without waiting for them"
                );
                Ok(())
            }
        }
    }

    /// True for a connection handed to us (service mode).
    pub fn is_adopted(&self) -> bool {
        self.adopted.is_some()
    }

    /// True once the session thread has ended (e.g. `umount` from outside).
    pub fn is_finished(&self) -> bool {
        self.session.as_ref().is_none_or(|s| s.guard.is_finished())
    }

    /// Tell the kernel to drop cached names and data that a refresh changed.
    pub fn invalidate(&self, r: &Refresh) {
        for g in &r.gone {
            let _ = self
                .notifier
                .inval_entry(INodeNo(g.parent_ino), OsStr::new(&*g.name));
        }
        for &ino in &r.inodes {
            let _ = self.notifier.inval_inode(INodeNo(ino), 0, 0);
        }
    }
}

fn session_config(opts: &MountOptions) -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::NoAtime,
        MountOption::FSName("musefs".into()),
        MountOption::Subtype("musefs".into()),
        MountOption::DefaultPermissions,
    ];
    if opts.allow_other {
        config.acl = SessionACL::All;
    }
    config.n_threads = Some(opts.threads.max(1));
    // Several threads on one fd (no clone_fd): requests of a dead server can
    // then be resent to its successor (SERVICE-NOTES, trap 7).
    config.clone_fd = false;
    config
}

/// Mount `lib` at `opts.mountpoint` and serve it from background threads.
/// CAP_SYS_ADMIN (if permitted) is effective only for the mount itself.
pub fn mount(lib: Arc<Library>, opts: &MountOptions) -> std::io::Result<MountHandle> {
    check_mountpoint(&opts.mountpoint)?;
    let config = session_config(opts);
    let fs = MuseFs::new(lib);
    let metrics = Arc::clone(&fs.metrics);
    let session = privilege::with_sys_admin(|| fuser::Session::new(fs, &opts.mountpoint, &config))?;
    privilege::lower();
    let notifier = session.notifier();
    let bg = session.spawn()?;
    Ok(MountHandle {
        session: Some(bg),
        notifier,
        mountpoint: opts.mountpoint.clone(),
        adopted: None,
        metrics,
    })
}

/// What [`adopt`] did.
pub struct Adopted {
    pub handle: MountHandle,
    /// The INIT request this connection was set up with (to keep for a
    /// later takeover).
    pub init: Vec<u8>,
    /// True when an earlier server had already served this connection.
    pub takeover: bool,
}

/// Serve a connected /dev/fuse descriptor mounted by someone else (the
/// privileged helper). `saved_init` is the INIT request kept from the first
/// server; without it, this is the first server and INIT is read from the
/// device.
pub fn adopt(
    lib: Arc<Library>,
    dev: OwnedFd,
    saved_init: Option<Vec<u8>>,
    opts: &MountOptions,
) -> std::io::Result<Adopted> {
    let (init, takeover) = match saved_init {
        Some(i) => {
            takeover::check_init(&i)?;
            (i, true)
        }
        None => (takeover::read_init(&dev)?, false),
    };
    let (shim, session_end) = takeover::InitShim::new(&init)?;
    let config = session_config(opts);
    let acl = config.acl;
    let fs = MuseFs::new(lib);
    let metrics = Arc::clone(&fs.metrics);
    let session = fuser::Session::from_fd(fs, session_end, acl, config)?;
    let reply = shim.finish(&dev)?;
    if takeover {
        if takeover::kernel_has_resend(&init) {
            match takeover::notify_resend(&dev) {
                Ok(()) => tracing::info!("took over the FUSE connection; pending requests resent"),
                Err(e) => tracing::warn!("took over the FUSE connection; resend failed: {e}"),
            }
        } else {
            tracing::info!("took over the FUSE connection (this kernel cannot resend requests)");
        }
    } else {
        nix::unistd::write(&dev, &reply)?;
    }
    privilege::lower();
    let notifier = session.notifier();
    let bg = session.spawn()?;
    Ok(Adopted {
        handle: MountHandle {
            session: Some(bg),
            notifier,
            mountpoint: opts.mountpoint.clone(),
            adopted: Some(dev),
            metrics,
        },
        init,
        takeover,
    })
}

/// The mount(2) data string for a FUSE mount served through fd `fd`.
pub fn mount_data(fd: i32, uid: u32, gid: u32, allow_other: bool) -> String {
    let mut s = format!("fd={fd},rootmode=40000,user_id={uid},group_id={gid},default_permissions");
    if allow_other {
        s.push_str(",allow_other");
    }
    s
}

fn check_mountpoint(p: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)
        .map_err(|e| std::io::Error::new(e.kind(), format!("mountpoint {}: {e}", p.display())))?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("mountpoint {} is not a directory", p.display()),
        ));
    }
    Ok(())
}
