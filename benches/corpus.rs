//! Corpus and in-process helper for `scripts/bench` (not a criterion bench).
//!
//! `cargo bench --bench corpus -- <command> ...`:
//!   library DIR N         store of N tracks (hard links of one small FLAC);
//!                         prints the store path
//!   files DB FILE...      one track per file (each probed), generated tags
//!   refresh DB RUNS       open the library, then RUNS times: retag one track
//!                         with SQL and time `Library::refresh`; prints JSON
//!   bigflac PATH MIB      a FLAC of MIB MiB built by hand (see common)
//!   mem DB                resident memory before and after `Library::open`
//!   open DB               time `Library::open` (the tree build); prints JSON
//!
//! Run with no command (as plain `cargo bench` does) it does nothing.

mod common;

use musefs::library::template::{DEFAULT_TEMPLATE, Template};
use musefs::library::{Library, Mode, Options};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn options(db: &Path) -> Options {
    Options::new(
        db.to_owned(),
        Template::parse(DEFAULT_TEMPLATE).expect("default template"),
        Mode::Synthesis,
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(cmd) = args.first() else { return };
    match cmd.as_str() {
        "library" => {
            let dir = PathBuf::from(&args[1]);
            let n: usize = args[2].parse().expect("N");
            std::fs::create_dir_all(&dir).expect("create corpus directory");
            println!("{}", common::library_of(&dir, n).display());
        }
        "files" => {
            let db = PathBuf::from(&args[1]);
            let files: Vec<PathBuf> = args[2..]
                .iter()
                .map(|f| std::path::absolute(f).expect("absolute path"))
                .collect();
            common::populate(&db, &files);
        }
        "refresh" => {
            let db = PathBuf::from(&args[1]);
            let runs: usize = args[2].parse().expect("RUNS");
            let lib = Library::open(options(&db)).expect("open library");
            let n = lib.view().track_count() as i64;
            let w = rusqlite::Connection::open(&db).expect("open store for writing");
            let mut us = Vec::with_capacity(runs);
            for r in 0..runs {
                // Spread the retags over the library (a fixed stride, no RNG).
                let id = 1 + (r as i64 * 7919) % n.max(1);
                common::retag_on(&w, id, &format!("Retagged {r}"));
                let t = Instant::now();
                let out = lib.refresh().expect("refresh");
                us.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(out.tracks, 1, "one retag must re-render one track");
                lib.take_pending();
            }
            us.sort_by(f64::total_cmp);
            println!(
                "{{\"tracks\": {n}, \"runs\": {runs}, \"p50_us\": {:.1}, \"p90_us\": {:.1}, \"max_us\": {:.1}}}",
                percentile(&us, 0.5),
                percentile(&us, 0.9),
                us.last().copied().unwrap_or(0.0)
            );
        }
        "bigflac" => {
            let mib: u64 = args[2].parse().expect("MIB");
            common::make_big_flac(Path::new(&args[1]), mib << 20);
        }
        "mem" => {
            let db = PathBuf::from(&args[1]);
            let before = rss_kb();
            let lib = Library::open(options(&db)).expect("open library");
            let after = rss_kb();
            let n = lib.view().track_count();
            println!(
                "{{\"tracks\": {n}, \"rss_before_kb\": {before}, \"rss_after_kb\": {after}, \"peak_kb\": {}, \"bytes_per_track\": {:.0}}}",
                status_kb("VmHWM:"),
                (after.saturating_sub(before) * 1024) as f64 / n.max(1) as f64
            );
        }
        "open" => {
            let db = PathBuf::from(&args[1]);
            let t = Instant::now();
            let lib = Library::open(options(&db)).expect("open library");
            let s = t.elapsed().as_secs_f64();
            println!(
                "{{\"tracks\": {}, \"open_s\": {s:.4}}}",
                lib.view().track_count()
            );
        }
        other => {
            eprintln!("corpus: unknown command {other:?} (see benches/corpus.rs)");
            std::process::exit(2);
        }
    }
}
