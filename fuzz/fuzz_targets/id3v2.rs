//! Fuzz the ID3v2 tag reader directly (fast), and its writer on what it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musefs::format::{Segment, id3v2, limits};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let mut parsed = id3v2::Parsed::default();
    if id3v2::parse_tag(data, &mut parsed).is_err() {
        return;
    }
    assert!(parsed.tags.len() <= limits::MAX_TAGS);
    assert!(parsed.pictures.len() <= limits::MAX_PICTURES);
    // Whatever was read can be written as one v2.4 tag that reads back.
    let segs = id3v2::build(&parsed.tags, &[], limits::MAX_HEADER_BYTES);
    let mut tag = Vec::new();
    for s in &segs {
        match s {
            Segment::Inline(b) => tag.extend_from_slice(b),
            other => panic!("tags without pictures gave a {other:?} segment"),
        }
    }
    if tag.len() > 10 {
        assert_eq!(
            id3v2::skip_len(&mut Cursor::new(&tag)).unwrap(),
            tag.len() as u64
        );
        let mut again = id3v2::Parsed::default();
        id3v2::parse_tag(&tag, &mut again).expect("a written tag must parse");
    }
});
