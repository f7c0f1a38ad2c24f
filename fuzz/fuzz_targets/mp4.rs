//! Fuzz the MP4 probe; accepted files must synthesise, serve and probe again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musefs::format::mp4;
use musefs_fuzz::check_probe;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the extension hint (m4a or m4b).
    let Some((&hint, data)) = data.split_first() else {
        return;
    };
    let ext = if hint & 1 == 0 { "m4a" } else { "m4b" };
    let probe = |b: &[u8]| mp4::probe(&mut Cursor::new(b), b.len() as u64, ext);
    check_probe(data, probe(data), probe);
});
