//! Tree build and refresh without a mount. Stores are generated once under
//! the target directory (hard links of one small FLAC; see common).
//! Set MUSEFS_BENCH_100K=0 to skip the 100k-track cases.

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use musefs::library::template::{DEFAULT_TEMPLATE, Template};
use musefs::library::{Library, Mode, Options};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn store_of(n: usize) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-corpus");
    std::fs::create_dir_all(&d).expect("create corpus directory");
    common::library_of(&d, n)
}

fn options(db: PathBuf) -> Options {
    Options::new(
        db,
        Template::parse(DEFAULT_TEMPLATE).unwrap(),
        Mode::Synthesis,
    )
}

fn sizes() -> Vec<usize> {
    let mut v = vec![1_000, 10_000];
    if std::env::var("MUSEFS_BENCH_100K").as_deref() != Ok("0") {
        v.push(100_000);
    }
    v
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("tree_build");
    g.sample_size(10);
    for n in sizes() {
        let db = store_of(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &db, |b, db| {
            b.iter(|| black_box(Library::open(options(db.clone())).expect("open")))
        });
    }
    g.finish();
}

fn refresh(c: &mut Criterion) {
    let mut g = c.benchmark_group("refresh_one_retag");
    for n in sizes() {
        let db = store_of(n);
        let lib = Library::open(options(db.clone())).expect("open");
        let w = rusqlite::Connection::open(&db).expect("open store for writing");
        let mut r = 0i64;
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    r += 1;
                    let id = 1 + (r * 7919) % n as i64;
                    common::retag_on(&w, id, &format!("Retagged {r}"));
                    let t = Instant::now();
                    let out = lib.refresh().expect("refresh");
                    total += t.elapsed();
                    assert_eq!(out.tracks, 1);
                    lib.take_pending();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, build, refresh);
criterion_main!(benches);
