//! Containment: backing files are opened only below the configured library
//! roots, never through a symbolic link, and only when they are regular files.
//!
//! The store names backing files by path and other programs write the store,
//! so a path there is not trusted: without this, a writer of the store could
//! make a root service serve `/etc/shadow`. Checks, in order:
//!
//! 1. lexical (also applied at refresh, without I/O): the path is absolute,
//!    normalised (no empty, `.` or `..` components, no NUL) and below a root;
//! 2. at open: the path below the root is resolved with `openat2(2)` and
//!    `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or, where `openat2` is missing
//!    (Linux < 5.6, or filtered by seccomp), component by component with
//!    `O_NOFOLLOW` relative to the previous directory's descriptor, so no
//!    component after the root may be a symbolic link and the check cannot
//!    be raced by swapping a directory for a link;
//! 3. the opened file must be a regular file (it is opened non-blocking, so
//!    a FIFO cannot hang the open; the flag is cleared afterwards).
//!
//! The roots themselves are configuration, trusted: they are opened normally
//! (a root may be a symbolic link to the real library). An empty root list
//! disables checks 1 and 2 (tests and tools that serve arbitrary paths).

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a path was refused (lexically or at open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Components of an absolute, normalised path.
fn path_components(path: &str) -> Result<Vec<&str>, Refused> {
    if path.contains('\0') {
        return Err(Refused("the path contains a NUL byte".into()));
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| Refused("not an absolute path".into()))?;
    if rest.is_empty() {
        return Err(Refused("the path names the root directory".into()));
    }
    let comps: Vec<&str> = rest.split('/').collect();
    if comps
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(Refused(
            "not a normalised path (empty, `.` or `..` component)".into(),
        ));
    }
    Ok(comps)
}

/// A root's components, when it is usable (absolute, without `..`).
fn root_components(root: &Path) -> Option<Vec<&OsStr>> {
    let mut out = Vec::new();
    let mut absolute = false;
    for c in root.components() {
        match c {
            Component::RootDir => absolute = true,
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    absolute.then_some(out)
}

/// The root `path` lies below (the one with the longest match) and the
/// components after it.
fn split<'a, 'r>(path: &'a str, roots: &'r [PathBuf]) -> Result<(&'r Path, Vec<&'a str>), Refused> {
    let comps = path_components(path)?;
    let mut best: Option<(&Path, usize)> = None;
    for root in roots {
        let Some(rc) = root_components(root) else {
            continue;
        };
        let under = rc.len() < comps.len()
            && rc
                .iter()
                .zip(&comps)
                .all(|(r, c)| r.as_bytes() == c.as_bytes());
        if under && best.is_none_or(|(_, n)| rc.len() > n) {
            best = Some((root, rc.len()));
        }
    }
    let (root, n) = best.ok_or_else(|| Refused("outside the library roots".into()))?;
    Ok((root, comps[n..].to_vec()))
}

/// The lexical check (no I/O): absolute, normalised, below a root.
/// Always passes when `roots` is empty.
pub fn check_path(path: &str, roots: &[PathBuf]) -> Result<(), Refused> {
    if roots.is_empty() {
        return Ok(());
    }
    split(path, roots).map(drop)
}

/// Error of [`open`]: refused by policy, or an I/O error.
#[derive(Debug)]
pub enum OpenError {
    Refused(Refused),
    Io(io::Error),
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> io::Error {
        match e {
            OpenError::Refused(r) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("refused to serve: {r}"),
            ),
            OpenError::Io(e) => e,
        }
    }
}

fn io_err(e: Errno) -> OpenError {
    OpenError::Io(io::Error::from(e))
}

/// Set when `openat2` turned out to be unavailable, to skip it next time.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

fn base_flags(noatime: bool) -> OFlag {
    let mut f = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    if noatime {
        f |= OFlag::O_NOATIME;
    }
    f
}

/// Open `rel` (normal components) below `root` without following any
/// symbolic link. `use_openat2` = false forces the component-wise walk.
fn open_beneath(
    root: &OwnedFd,
    rel: &[&str],
    flags: OFlag,
    use_openat2: bool,
) -> Result<OwnedFd, OpenError> {
    if use_openat2 && !NO_OPENAT2.load(Ordering::Relaxed) {
        let how = OpenHow::new().flags(flags).resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
        match fcntl::openat2(root.as_fd(), Path::new(&rel.join("/")), how) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ELOOP) => {
                return Err(OpenError::Refused(Refused(
                    "a component below the library root is a symbolic link".into(),
                )));
            }
            Err(Errno::EXDEV) => {
                return Err(OpenError::Refused(Refused(
                    "the path escapes the library root".into(),
                )));
            }
            // Missing (old kernel) or filtered (seccomp often answers EPERM;
            // EPERM is also O_NOATIME on a file we do not own): walk instead.
            Err(Errno::ENOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            Err(Errno::EPERM) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let (last, dirs) = rel
        .split_last()
        .expect("a path below a root has components");
    let mut dir: Option<OwnedFd> = None;
    for c in dirs {
        let at = dir.as_ref().unwrap_or(root);
        let next = fcntl::openat(
            at.as_fd(),
            Path::new(c),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR if is_symlink(at, c) => OpenError::Refused(Refused(
                "a component below the library root is a symbolic link".into(),
            )),
            e => io_err(e),
        })?;
        let st = nix::sys::stat::fstat(&next).map_err(io_err)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
            return Err(OpenError::Refused(Refused(
                "a component below the library root is a symbolic link".into(),
            )));
        }
        dir = Some(next);
    }
    let at = dir.as_ref().unwrap_or(root);
    fcntl::openat(
        at.as_fd(),
        Path::new(last),
        flags | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ELOOP => OpenError::Refused(Refused("the file is a symbolic link".into())),
        e => io_err(e),
    })
}

fn is_symlink(dir: &OwnedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(
        dir.as_fd(),
        Path::new(name),
        fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

/// Accept only a regular file, and make it blocking again.
pub(crate) fn regular(fd: OwnedFd) -> Result<File, OpenError> {
    let st = nix::sys::stat::fstat(&fd).map_err(io_err)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(OpenError::Refused(Refused("not a regular file".into())));
    }
    let fl = fcntl::fcntl(&fd, fcntl::FcntlArg::F_GETFL).map_err(io_err)?;
    let fl = OFlag::from_bits_truncate(fl) & !OFlag::O_NONBLOCK;
    fcntl::fcntl(&fd, fcntl::FcntlArg::F_SETFL(fl)).map_err(io_err)?;
    Ok(File::from(fd))
}

/// Open a backing file read-only, confined to `roots` (see the module
/// documentation), without updating its atime where allowed.
pub fn open(path: &str, roots: &[PathBuf]) -> Result<File, OpenError> {
    open_with(path, roots, true)
}

pub(crate) fn open_with(
    path: &str,
    roots: &[PathBuf],
    use_openat2: bool,
) -> Result<File, OpenError> {
    if roots.is_empty() {
        return open_unconfined(path);
    }
    let (root, rel) = split(path, roots).map_err(OpenError::Refused)?;
    let root_fd = fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)?;
    let fd = match open_beneath(&root_fd, &rel, base_flags(true), use_openat2) {
        Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::EPERM) => {
            open_beneath(&root_fd, &rel, base_flags(false), use_openat2)
        }
        r => r,
    }?;
    regular(fd)
}

/// Open without confinement (still non-blocking, regular files only).
fn open_unconfined(path: &str) -> Result<File, OpenError> {
    let fd = match fcntl::open(path, base_flags(true), Mode::empty()) {
        Err(Errno::EPERM) => fcntl::open(path, base_flags(false), Mode::empty()),
        r => r,
    }
    .map_err(io_err)?;
    regular(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn roots(r: &[&Path]) -> Vec<PathBuf> {
        r.iter().map(|p| p.to_path_buf()).collect()
    }

    #[test]
    fn lexical_rules() {
        let r = roots(&[Path::new("/music"), Path::new("/srv/lib/")]);
        assert!(check_path("/music/a/b.flac", &r).is_ok());
        assert!(check_path("/srv/lib/x.mp3", &r).is_ok());
        for bad in [
            "music/a.flac",
            "/music",
            "/music/",
            "/music/../etc/shadow",
            "/music/./a.flac",
            "/music//a.flac",
            "/musicx/a.flac",
            "/etc/shadow",
            "/srv/a.flac",
            "/music/a\0.flac",
            "/",
            "",
        ] {
            assert!(check_path(bad, &r).is_err(), "{bad:?} accepted");
        }
        // No roots: no confinement.
        assert!(check_path("/etc/shadow", &[]).is_ok());
        // A root with `..` is never matched; `/` matches everything normalised.
        assert!(check_path("/a/b", &roots(&[Path::new("/x/../a")])).is_err());
        assert!(check_path("/a/b", &roots(&[Path::new("/")])).is_ok());
    }

    #[test]
    fn symlinks_below_the_root_are_refused_both_ways() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(lib.join("a")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(lib.join("a/ok.flac"), b"fine").unwrap();
        std::fs::write(outside.join("secret"), b"secret").unwrap();
        symlink(outside.join("secret"), lib.join("a/link.flac")).unwrap();
        symlink(&outside, lib.join("dirlink")).unwrap();
        symlink("../../outside/secret", lib.join("a/rel.flac")).unwrap();
        // A root that is itself a symlink is trusted configuration.
        let via = tmp.path().join("via");
        symlink(&lib, &via).unwrap();
        let r = vec![lib.clone(), via.clone()];
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        for openat2 in [true, false] {
            let ok = open_with(&s(&lib.join("a/ok.flac")), &r, openat2).unwrap();
            assert_eq!(
                std::fs::read_to_string(format!("/proc/self/fd/{}", {
                    use std::os::fd::AsRawFd;
                    ok.as_raw_fd()
                }))
                .unwrap(),
                "fine"
            );
            assert!(open_with(&s(&via.join("a/ok.flac")), &r, openat2).is_ok());
            for bad in [
                lib.join("a/link.flac"),
                lib.join("dirlink/secret"),
                lib.join("a/rel.flac"),
                outside.join("secret"),
            ] {
                match open_with(&s(&bad), &r, openat2) {
                    Err(OpenError::Refused(_)) => {}
                    other => panic!("{} (openat2 {openat2}): {other:?}", bad.display()),
                }
            }
            // Missing files are plain I/O errors.
            assert!(matches!(
                open_with(&s(&lib.join("a/none.flac")), &r, openat2),
                Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound
            ));
            // Directories are not served.
            assert!(matches!(
                open_with(&s(&lib.join("a")), &r, openat2),
                Err(OpenError::Refused(_))
            ));
        }
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe.flac");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o644)).unwrap();
        let p = fifo.to_str().unwrap();
        assert!(matches!(open(p, &[]), Err(OpenError::Refused(_))));
        assert!(matches!(
            open(p, &[tmp.path().to_owned()]),
            Err(OpenError::Refused(_))
        ));
    }
}
