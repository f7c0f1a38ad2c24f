//! Ogg: Opus, Vorbis and FLAC-in-Ogg (one logical stream per file).
//!
//! Probe reads the header pages (CRC-checked), reassembles the header
//! packets, and keeps what is needed to rebuild them as structural rows: the
//! identification packet, the Vorbis setup packet, kept FLAC metadata
//! blocks, the comment vendor string, and the stream numbers (serial, number
//! of header pages, sequence number of the first audio page). The audio
//! range starts at the first page after the headers and ends with the last
//! page of the stream.
//!
//! Synthesis rebuilds the header pages with a fresh comment packet
//! (pictures as base64 `METADATA_BLOCK_PICTURE` comments for Opus and
//! Vorbis, PICTURE metadata block packets for FLAC). When the new headers
//! fit in the original number of pages the audio pages are served verbatim;
//! otherwise they are served through [`Renumber`], which patches page
//! sequence numbers and CRCs while streaming.

mod b64;
mod page;
mod probe;
mod renumber;
mod synth;

#[cfg(test)]
mod tests;

pub use renumber::Renumber;

use super::{FormatError, Probe, Segment, Source, SynthInput};

/// Structural kind: serial, original header page count and first audio page
/// sequence number, three u32 LE.
pub const KIND_STREAM: &str = "ogg.stream";
/// Structural kind: the identification packet (OpusHead, Vorbis
/// identification header, or the Ogg FLAC mapping header with STREAMINFO).
pub const KIND_IDENT: &str = "ogg.ident";
/// Structural kind: the original comment vendor string.
pub const KIND_VENDOR: &str = "ogg.vendor";
/// Structural kind: the Vorbis setup packet.
pub const KIND_SETUP: &str = "ogg.vorbis-setup";
/// Structural kind: binary data after the OpusTags comment list that must be
/// preserved (its first byte has the low bit set).
pub const KIND_OPUS_EXTRA: &str = "ogg.opus-extra";
/// Structural kind: a kept Ogg FLAC metadata block (type byte + body), in
/// file order (SEEKTABLE, CUESHEET, APPLICATION and unknown types).
pub const KIND_FLAC_BLOCK: &str = "ogg.flac-block";

/// Most pages we read before the header packets must be complete.
pub const MAX_HEADER_PAGES: u64 = 4096;
/// Most Ogg FLAC header packets.
pub const MAX_FLAC_BLOCKS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Opus,
    Vorbis,
    Flac,
}

/// The stream numbers kept in the `ogg.stream` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StreamInfo {
    serial: u32,
    header_pages: u32,
    first_audio_seq: u32,
}

impl StreamInfo {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(12);
        for x in [self.serial, self.header_pages, self.first_audio_seq] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    fn decode(b: &[u8]) -> Option<StreamInfo> {
        let w = |i: usize| -> Option<u32> {
            let s = b.get(i..i + 4)?;
            Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        if b.len() != 12 {
            return None;
        }
        Some(StreamInfo {
            serial: w(0)?,
            header_pages: w(4)?,
            first_audio_seq: w(8)?,
        })
    }
}

fn err(reason: impl Into<String>) -> FormatError {
    FormatError::malformed("ogg", reason)
}

/// Probe an Ogg file (Opus, Vorbis or FLAC in one logical stream).
pub fn probe(src: &mut dyn Source, file_len: u64) -> Result<Probe, FormatError> {
    probe::probe(src, file_len)
}

/// Build the served file.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    synth::synthesize(input)
}

/// Served size without reading picture bytes.
pub fn served_len(input: &SynthInput<'_>) -> Result<u64, FormatError> {
    synth::served_len(input)
}
