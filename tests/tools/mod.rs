//! Helpers shared by the MP3 and WAV format tests: external tools (ffmpeg,
//! python with mutagen) and hashing.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

pub fn run(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn ffmpeg(args: &[&str]) {
    let mut a = vec!["-hide_banner", "-loglevel", "error", "-y"];
    a.extend_from_slice(args);
    run("ffmpeg", &a);
}

pub fn python(script: &str, args: &[&str]) -> String {
    let mut a = vec!["-c", script];
    a.extend_from_slice(args);
    String::from_utf8(run("python3", &a)).unwrap()
}

pub fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn file_sha(p: &Path) -> String {
    sha256(&std::fs::read(p).unwrap())
}

pub fn pcm_sha(p: &Path) -> String {
    sha256(&run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            p.to_str().unwrap(),
            "-map",
            "0:a",
            "-f",
            "s16le",
            "-",
        ],
    ))
}

pub fn unhex(s: &str) -> String {
    if s == "-" {
        String::new()
    } else {
        String::from_utf8(hex::decode(s).unwrap()).unwrap()
    }
}
