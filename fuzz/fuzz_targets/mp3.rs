//! Fuzz the mp3 probe; accepted files must synthesise, serve and probe again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musefs::format::mp3;
use musefs_fuzz::check_probe;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let probe = |b: &[u8]| mp3::probe(&mut Cursor::new(b), b.len() as u64);
    check_probe(data, probe(data), probe);
});
