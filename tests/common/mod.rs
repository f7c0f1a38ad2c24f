//! Shared helpers for integration tests: fixtures from real encoders, the
//! real binary, real FUSE mounts, and independent oracles.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_musefs");

/// Fail loudly when a tool the tests rely on is missing.
pub fn require(tool: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{tool} is required by this test (run scripts/test, which installs it)"
    );
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn musefs(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run musefs")
}

/// A cover picture made by ffmpeg (PNG, 64x64).
pub fn make_png(path: &Path) {
    require("ffmpeg");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=64x64:rate=1:duration=1")
        .args(["-frames:v", "1"])
        .arg(path));
}

/// Encode a FLAC file with ffmpeg: a sine tone, the given tags, optionally a cover.
pub fn make_flac(
    path: &Path,
    seconds: f32,
    freq: u32,
    tags: &[(&str, &str)],
    cover: Option<&Path>,
) {
    require("ffmpeg");
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency={freq}:duration={seconds}:sample_rate=44100"
        ));
    if let Some(cover) = cover {
        c.arg("-i").arg(cover).args([
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
        ]);
    }
    c.args(["-c:a", "flac"]);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    c.arg(path);
    run(&mut c);
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// sha256 of the PCM ffmpeg decodes from a file (an independent decoder).
pub fn pcm_hash(p: &Path) -> String {
    require("ffmpeg");
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0:a", "-f", "s16le", "-"]));
    assert!(
        !out.stdout.is_empty(),
        "no PCM decoded from {}",
        p.display()
    );
    hex::encode(Sha256::digest(&out.stdout))
}

/// Tags of a FLAC file as metaflac prints them: sorted `KEY=value` lines with upper-case keys.
pub fn metaflac_tags(p: &Path) -> Vec<String> {
    require("metaflac");
    let out = run(Command::new("metaflac").arg("--export-tags-to=-").arg(p));
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| match l.split_once('=') {
            Some((k, val)) => format!("{}={val}", k.to_ascii_uppercase()),
            None => l.to_owned(),
        })
        .collect();
    v.sort();
    v
}

/// Run SQL against a store with the sqlite3 command-line shell (an external writer).
pub fn sql(db: &Path, statements: &str) -> String {
    require("sqlite3");
    let out = run(Command::new("sqlite3").arg(db).arg(statements));
    String::from_utf8(out.stdout).unwrap()
}

pub fn is_mounted(mnt: &Path) -> bool {
    let want = std::fs::canonicalize(mnt).unwrap_or_else(|_| mnt.to_owned());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.len() > 4 && Path::new(&unescape(f[4])) == want && l.contains("fuse")
    })
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Wait for a condition, up to `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// A running `musefs mount` process; unmounts on drop.
pub struct Mount {
    pub child: Child,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Mount {
    pub fn start(db: &Path, dir: &Path, extra: &[&str]) -> Mount {
        assert!(Path::new("/dev/fuse").exists(), "/dev/fuse is required");
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.with_extension("log");
        let child = Command::new(BIN)
            .arg("mount")
            .arg("--db")
            .arg(db)
            .args(extra)
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn musefs mount");
        let mut m = Mount {
            child,
            dir: dir.to_owned(),
            log,
        };
        let up = wait_until(Duration::from_secs(20), || {
            is_mounted(dir) || m.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            up && is_mounted(dir),
            "mount did not come up: {}",
            m.log_text()
        );
        m
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("musefs mount did not exit on SIGTERM: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- musefs mount log ----\n{}", self.log_text());
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.stop();
        }
        if is_mounted(&self.dir) {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Every regular file below `root`, as sorted relative paths.
pub fn list_files(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

/// Absolute offsets of the 8-digit generation fields (`title########`,
/// `comment########`) in a served file: the oracle of reads racing
/// fixed-width retags.
pub fn digit_fields(file: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    for pat in [&b"title"[..], &b"comment"[..]] {
        let mut i = 0;
        while let Some(p) = file[i..].windows(pat.len()).position(|w| w == pat) {
            let start = i + p + pat.len();
            if file
                .get(start..start + 8)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            {
                out.push(start);
            }
            i = start;
        }
    }
    out
}

/// Check one read against the oracle: bytes outside the generation fields
/// equal the oracle's, and every visible digit of every field agrees with
/// one single generation number.
pub fn check_chunk(
    oracle: &[u8],
    fields: &[usize],
    off: usize,
    chunk: &[u8],
) -> Result<(), String> {
    let mut digit = [None::<u8>; 8];
    for (k, &b) in chunk.iter().enumerate() {
        let pos = off + k;
        match fields.iter().find(|&&f| pos >= f && pos < f + 8) {
            Some(&f) => {
                let d = &mut digit[pos - f];
                if !b.is_ascii_digit() || d.is_some_and(|x| x != b) {
                    return Err(format!("mixed generations at {pos}"));
                }
                *d = Some(b);
            }
            None if b != oracle[pos] => return Err(format!("wrong byte at {pos}")),
            None => {}
        }
    }
    Ok(())
}
