//! MPEG audio (MP3) with ID3v2 tags. Not implemented yet.

use super::{FormatError, Probe, Segment, Source, SynthInput, not_yet};

/// True when the bytes start with an MPEG audio frame sync.
pub fn looks_like_mpeg_audio(magic: &[u8]) -> bool {
    magic.len() >= 2 && magic[0] == 0xff && magic[1] & 0xe0 == 0xe0
}

pub fn probe(_src: &mut dyn Source, _file_len: u64) -> Result<Probe, FormatError> {
    Err(not_yet("MP3"))
}

pub fn synthesize(_input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    Err(not_yet("MP3"))
}
