//! The real binary under a NOTIFY_SOCKET listener that plays systemd: its
//! readiness protocol, reload, watchdog, capabilities, and the fd-store
//! takeover after SIGKILL.

mod common;
use common::*;
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, bind, recvmsg,
    socket,
};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fake service manager: a datagram socket collecting notifications.
struct Manager {
    sock: OwnedFd,
    path: PathBuf,
    /// Messages received, in order.
    log: Vec<String>,
    /// Stored fds by name (FDSTORE=1).
    store: Vec<(String, OwnedFd)>,
}

impl Manager {
    fn new(dir: &Path) -> Manager {
        let path = dir.join("notify.sock");
        let sock = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .unwrap();
        bind(sock.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        Manager {
            sock,
            path,
            log: Vec::new(),
            store: Vec::new(),
        }
    }

    /// Receive everything pending; keep FDSTORE fds, release BARRIER fds.
    fn pump(&mut self) {
        loop {
            let mut buf = vec![0u8; 4096];
            let mut cmsg = nix::cmsg_space!([RawFd; 8]);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let (text, fds) = match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fds = Vec::new();
                    for c in m.cmsgs().unwrap() {
                        if let ControlMessageOwned::ScmRights(r) = c {
                            // SAFETY: received through SCM_RIGHTS; now ours.
                            fds.extend(r.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                        }
                    }
                    (m.bytes, fds)
                }
                Err(_) => return,
            };
            let text = String::from_utf8_lossy(&buf[..text]).into_owned();
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("FDNAME="))
                .unwrap_or("stored")
                .to_string();
            if text.lines().any(|l| l == "FDSTORE=1") {
                for fd in fds {
                    self.store.retain(|(n, _)| *n != name);
                    self.store.push((name.clone(), fd));
                }
            } // BARRIER=1: dropping the fd releases the sender.
            self.log.push(text);
        }
    }

    fn wait_for(&mut self, what: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            self.pump();
            if self
                .log
                .iter()
                .any(|m| m.lines().any(|l| l.starts_with(what)))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn count(&self, what: &str) -> usize {
        self.log
            .iter()
            .filter(|m| m.lines().any(|l| l.starts_with(what)))
            .count()
    }
}

fn library(dir: &Path) -> (PathBuf, PathBuf) {
    let music = dir.join("music");
    for i in 0..3 {
        make_flac(
            &music.join(format!("{i}.flac")),
            1.0,
            300 + 100 * i,
            &[
                ("title", &format!("T{i}")),
                ("album", "Alb"),
                ("artist", "Art"),
            ],
            None,
        );
    }
    let db = dir.join("store.db");
    assert!(
        musefs(&[
            "scan",
            "--db",
            db.to_str().unwrap(),
            music.to_str().unwrap()
        ])
        .status
        .success()
    );
    (music, db)
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

fn proc_status(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap()
}

#[test]
fn readiness_reload_watchdog_and_capabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let (_music, db) = library(tmp.path());
    let cfg = tmp.path().join("m.toml");
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "store = {:?}\nmountpoint = {:?}\ntemplate = \"$album/$title\"\n",
            db.display().to_string(),
            mnt.display().to_string()
        ),
    )
    .unwrap();
    let mut m = Manager::new(tmp.path());
    let mut child = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &m.path)
        .env("WATCHDOG_USEC", "300000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        m.wait_for("READY=1", Duration::from_secs(20)),
        "{:?}",
        m.log
    );
    // READY only once the mount answers.
    assert!(is_mounted(&mnt));
    assert!(mnt.join("Alb/T0.flac").exists());
    assert!(
        m.log
            .iter()
            .any(|l| l.contains("STATUS=serving 3 tracks in 1 directories")),
        "{:?}",
        m.log
    );
    // Only CAP_SYS_ADMIN is left, and it is not effective.
    assert_eq!(proc_status(child.id(), "CapPrm:"), "0000000000200000");
    assert_eq!(proc_status(child.id(), "CapEff:"), "0000000000000000");
    assert_eq!(proc_status(child.id(), "CapInh:"), "0000000000000000");
    // Watchdog pings arrive.
    assert!(m.wait_for("WATCHDOG=1", Duration::from_secs(3)));
    // SIGHUP with a changed template: RELOADING, READY, new tree, same mount.
    std::fs::write(
        &cfg,
        format!(
            "store = {:?}\nmountpoint = {:?}\ntemplate = \"$artist/$title\"\n",
            db.display().to_string(),
            mnt.display().to_string()
        ),
    )
    .unwrap();
    let readies = m.count("READY=1");
    signal(&child, libc::SIGHUP);
    assert!(m.wait_for("RELOADING=1", Duration::from_secs(5)));
    assert!(m.log.iter().any(|l| l.contains("MONOTONIC_USEC=")));
    let t0 = Instant::now();
    while m.count("READY=1") == readies && t0.elapsed() < Duration::from_secs(5) {
        m.pump();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(m.count("READY=1") > readies);
    assert!(wait_until(Duration::from_secs(2), || mnt
        .join("Art/T0.flac")
        .exists()));
    assert!(!mnt.join("Alb").exists());
    assert!(is_mounted(&mnt));
    // SIGTERM: STOPPING, clean unmount, exit 0.
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    m.pump();
    assert!(m.count("STOPPING=1") >= 1);
    assert_eq!(status.code(), Some(0));
    assert!(!is_mounted(&mnt));
}

/// Start `musefs serve` the way systemd does, passing stored fds as 3, 4, ...
fn start_server(m: &Manager, cfg: &Path, log: &Path) -> Child {
    let names: Vec<String> = m.store.iter().map(|(n, _)| n.clone()).collect();
    let raw: Vec<RawFd> = m.store.iter().map(|(_, f)| f.as_raw_fd()).collect();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ LISTEN_FDS={} LISTEN_FDNAMES={} exec \"$0\" serve --config \"$1\"",
            raw.len(),
            names.join(":")
        ))
        .arg(BIN)
        .arg(cfg)
        .env("NOTIFY_SOCKET", &m.path)
        .stderr(
            std::fs::File::options()
                .append(true)
                .create(true)
                .open(log)
                .unwrap(),
        );
    // SAFETY: only dup2/fcntl (async-signal-safe) between fork and exec.
    unsafe {
        c.pre_exec(move || {
            for (i, &fd) in raw.iter().enumerate() {
                let target = 3 + i as i32;
                // Move out of the way first if a source sits on a target slot.
                let tmp = libc::fcntl(fd, libc::F_DUPFD, 100);
                if tmp < 0 || libc::dup2(tmp, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c.spawn().unwrap()
}

#[test]
fn sigkill_and_takeover_keep_the_mount_with_zero_reader_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (_music, db) = library(tmp.path());
    let cfg = tmp.path().join("m.toml");
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "store = {:?}\nmountpoint = {:?}\ntemplate = \"$album/$title\"\n",
            db.display().to_string(),
            mnt.display().to_string()
        ),
    )
    .unwrap();
    let log = tmp.path().join("server.log");
    let mut m = Manager::new(tmp.path());
    // The privileged step: mount, store the fd, wait for the barrier.
    let mut helper = Command::new(BIN)
        .args(["mount-helper", "--config", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &m.path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while helper.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(20) {
        m.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = helper.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    m.pump();
    assert!(is_mounted(&mnt));
    assert_eq!(
        m.store.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["fuse"]
    );

    let mut server = start_server(&m, &cfg, &log);
    assert!(
        m.wait_for("READY=1", Duration::from_secs(20)),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    m.pump();
    assert!(
        m.store.iter().any(|s| s.0 == "init"),
        "INIT kept in the store: {:?}",
        m.log
    );
    let file = mnt.join("Alb/T1.flac");
    let want = std::fs::read(&file).unwrap();

    // Readers hammer the mount while the server is killed twice.
    let stop = Arc::new(AtomicBool::new(false));
    let (errors, reads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (stop, errors, reads, file, want) = (
            stop.clone(),
            errors.clone(),
            reads.clone(),
            file.clone(),
            want.clone(),
        );
        readers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match std::fs::read(&file) {
                    Ok(b) if b == want => {}
                    Ok(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("reader: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                reads.fetch_add(1, Ordering::Relaxed);
                // Drop caches so reads reach the server, not the page cache.
                let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
            }
        }));
    }
    for round in 0..2 {
        std::thread::sleep(Duration::from_millis(400));
        server.kill().unwrap();
        server.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200)); // RestartSec, shortened
        let readies = m.count("READY=1");
        server = start_server(&m, &cfg, &log);
        let t0 = Instant::now();
        while m.count("READY=1") == readies && t0.elapsed() < Duration::from_secs(20) {
            m.pump();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            m.count("READY=1") > readies,
            "round {round}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("took over the FUSE connection"),
        "{log_text}"
    );
    let (e, n) = (
        errors.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
    );
    eprintln!("{n} reads across two SIGKILL takeovers, {e} errors");
    assert!(n >= 3, "too few reads to say anything: {n}");
    assert_eq!(e, 0, "reader errors across takeovers\n{log_text}");
    assert!(is_mounted(&mnt));
    // A real stop: the server exits, the helper unmounts.
    signal(&server, libc::SIGTERM);
    assert_eq!(server.wait().unwrap().code(), Some(0));
    let out = Command::new(BIN)
        .args(["unmount-helper", "--config", cfg.to_str().unwrap()])
        .env("SERVICE_RESULT", "success")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!is_mounted(&mnt));
}
