//! Regression tests for inputs found by fuzzing (fuzz/, scripts/fuzz): each
//! test replays the shape of one crash or limit violation and checks that it
//! is now a clear error (or a served file), never a panic.

use super::*;
use std::collections::HashMap;

fn input<'a>(
    container: Container,
    audio_offset: u64,
    audio_len: u64,
    structural: &'a [Structural],
    tags: &'a [Tag],
    pictures: &'a [PictureRef],
    art: &'a dyn ArtSource,
) -> SynthInput<'a> {
    SynthInput {
        container,
        audio_offset,
        audio_len,
        structural,
        tags,
        pictures,
        art,
    }
}

/// fuzz/synth: an audio range of u64::MAX + u64::MAX (a hostile store row)
/// made the segment lengths overflow u64.
#[test]
fn synthesis_refuses_an_audio_range_past_any_file() {
    let art: HashMap<i64, Arc<[u8]>> = HashMap::new();
    let tags = [Tag::text("title", "x")];
    for c in Container::ALL {
        for (off, len) in [
            (u64::MAX, u64::MAX),
            (1, u64::MAX),
            (MAX_FILE_LEN, 1),
            (0, MAX_FILE_LEN), // plus any header: larger than a file can be
        ] {
            let i = input(c, off, len, &[], &tags, &[], &art);
            let r = synthesize(&i);
            assert!(
                matches!(r, Err(FormatError::Limit(_))) || (len == MAX_FILE_LEN && r.is_err()),
                "{c} {off}+{len}: {:?}",
                synthesize(&i)
            );
            assert!(served_len(&i).is_err(), "{c} {off}+{len}");
        }
    }
}
