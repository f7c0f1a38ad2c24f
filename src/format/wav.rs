//! RIFF/WAVE. Not implemented yet.

use super::{FormatError, Probe, Segment, Source, SynthInput, not_yet};

pub fn probe(_src: &mut dyn Source, _file_len: u64) -> Result<Probe, FormatError> {
    Err(not_yet("WAV"))
}

pub fn synthesize(_input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    Err(not_yet("WAV"))
}
