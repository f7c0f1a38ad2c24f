//! Fuzz the Vorbis comment and FLAC PICTURE parsers; what parses must encode
//! and parse back to the same tags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musefs::format::{flac, vorbis_comment};

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        if let Ok(c) = vorbis_comment::parse(data) {
            let enc = vorbis_comment::encode(&c.vendor, &c.tags, &[]);
            let back = vorbis_comment::parse(&enc).expect("an encoded comment block must parse");
            let keep: Vec<_> = c
                .tags
                .iter()
                .filter(|t| vorbis_comment::valid_key(&t.key))
                .cloned()
                .collect();
            assert_eq!(back.tags, keep);
        }
    } else if let Ok(p) = flac::parse_picture(data) {
        assert!(p.data.len() <= musefs::format::limits::MAX_PICTURE_BYTES);
    }
});
