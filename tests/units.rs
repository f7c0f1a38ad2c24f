//! The shipped unit files: `systemd-analyze verify` accepts them and
//! `systemd-analyze security --offline` rates them under our thresholds
//! (mount unit <= 2.0, scan unit <= 1.5).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn units_dir(tmp: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let dir = tmp.join("units");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        // Point the units at the binary under test (verify checks it exists).
        std::fs::write(
            dir.join(e.file_name()),
            text.replace("/usr/bin/musefs", BIN),
        )
        .unwrap();
    }
    dir
}

fn exposure(dir: &Path, unit: &str) -> f64 {
    let out = run(Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(dir.join(unit)));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure line in {text}"));
    let figure = line.split(": ").nth(1).unwrap().split(' ').next().unwrap();
    eprintln!("{unit}: {}", line.trim());
    figure.parse().unwrap()
}

#[test]
fn units_verify_and_score_under_thresholds() {
    require("systemd-analyze");
    require("nsenter");
    let tmp = tempfile::tempdir().unwrap();
    let dir = units_dir(tmp.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args([
            "musefs@test.service",
            "musefs-scan@test.service",
            "musefs-scan@test.timer",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed: {err}");
    let relevant: Vec<&str> = err.lines().filter(|l| l.contains("musefs")).collect();
    assert!(relevant.is_empty(), "verify complained: {relevant:?}");
    let mount = exposure(&dir, "musefs@.service");
    assert!(mount <= 2.0, "mount unit exposure {mount} > 2.0");
    let scan = exposure(&dir, "musefs-scan@.service");
    assert!(scan <= 1.5, "scan unit exposure {scan} > 1.5");
}
