//! The read path without a mount: `Layout::read_at` and `Library::read` of a
//! synthesised FLAC whose backing file is warm in the page cache, and the
//! cost of a cold open (store query + synthesis) with the layout cache off.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use musefs::format::NoArt;
use musefs::library::template::Template;
use musefs::library::{Library, Mode, Options};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const FILE_BYTES: u64 = 64 << 20;

fn corpus_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-corpus");
    std::fs::create_dir_all(&d).expect("create corpus directory");
    d
}

fn open_big(layout_cache_bytes: usize) -> (Library, u64) {
    let dir = corpus_dir();
    let big = dir.join("big-64m.flac");
    let db = dir.join("store-big.db");
    if !db.exists() {
        common::make_big_flac(&big, FILE_BYTES);
        common::populate(&db, std::slice::from_ref(&big));
    }
    // Warm the backing file's page cache.
    let _ = std::fs::read(&big);
    let mut o = Options::new(db, Template::parse("$title").unwrap(), Mode::Synthesis);
    o.layout_cache_bytes = layout_cache_bytes;
    let lib = Library::open(o).expect("open library");
    let ino = musefs::library::tree::file_ino(1);
    (lib, ino)
}

fn sequential(c: &mut Criterion) {
    let (lib, ino) = open_big(64 << 20);
    let fh = lib.open_file(ino).expect("open");
    let len = fh.layout().len();
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(20);
    for chunk in [128usize << 10, 1 << 20] {
        let mut buf = vec![0u8; chunk];
        g.bench_function(format!("library_read_whole_file/{}KiB", chunk >> 10), |b| {
            b.iter(|| {
                let mut off = 0;
                while off < len {
                    let n = lib.read(&fh, off, &mut buf).expect("read");
                    off += n as u64;
                }
                black_box(&buf);
            })
        });
    }
    let layout = fh.layout();
    let mut buf = vec![0u8; 1 << 20];
    g.bench_function("layout_read_at_whole_file/1024KiB", |b| {
        b.iter(|| {
            let mut off = 0;
            while off < len {
                off += layout
                    .read_at(off, &mut buf, &fh.backing, &NoArt)
                    .expect("read") as u64;
            }
            black_box(&buf);
        })
    });
    g.finish();
}

fn header(c: &mut Criterion) {
    let (lib, ino) = open_big(64 << 20);
    let fh = lib.open_file(ino).expect("open");
    let mut buf = vec![0u8; 4096];
    c.bench_function("read/first_4KiB_warm_handle", |b| {
        b.iter(|| black_box(lib.read(&fh, 0, &mut buf).expect("read")))
    });
    c.bench_function("open/cached_layout", |b| {
        b.iter(|| black_box(lib.open_file(ino).expect("open")))
    });
    // Budget 0: every open queries the store and synthesises the header.
    let (cold, ino) = open_big(0);
    c.bench_function("open/cold_layout", |b| {
        b.iter(|| black_box(cold.open_file(ino).expect("open")))
    });
}

criterion_group!(benches, sequential, header);
criterion_main!(benches);
