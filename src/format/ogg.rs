//! Ogg (Opus, Vorbis, FLAC-in-Ogg). Not implemented yet.

use super::{FormatError, Probe, Segment, Source, SynthInput, not_yet};

pub fn probe(_src: &mut dyn Source, _file_len: u64) -> Result<Probe, FormatError> {
    Err(not_yet("Ogg"))
}

pub fn synthesize(_input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    Err(not_yet("Ogg"))
}

/// Served size without reading picture bytes.
pub fn served_len(_input: &SynthInput<'_>) -> Result<u64, FormatError> {
    Err(not_yet("Ogg"))
}
