//! MPEG-4 audio (M4A/M4B). Not implemented yet.

use super::{FormatError, Probe, Segment, Source, SynthInput, not_yet};

pub fn probe(_src: &mut dyn Source, _file_len: u64, _ext_hint: &str) -> Result<Probe, FormatError> {
    Err(not_yet("MP4"))
}

pub fn synthesize(_input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    Err(not_yet("MP4"))
}
