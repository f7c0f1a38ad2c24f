//! ID3v2 tags: reading v2.2/2.3/2.4 into canonical tags and pictures, and
//! writing one v2.4 tag (UTF-8). Shared by MP3, WAV (`id3 ` chunk) and FLAC
//! (which may carry a stray leading tag that is skipped).
//!
//! The key mapping is documented in docs/formats/mp3.md.

use super::{FormatError, Source, limits, read_up_to, read_vec};
use std::io::SeekFrom;

pub mod keys;
pub mod read;
pub mod write;

pub use read::{Parsed, parse_tag};
pub use write::build;

/// Decode a 28-bit syncsafe integer.
pub fn syncsafe(b: [u8; 4]) -> u32 {
    (u32::from(b[0] & 0x7f) << 21)
        | (u32::from(b[1] & 0x7f) << 14)
        | (u32::from(b[2] & 0x7f) << 7)
        | u32::from(b[3] & 0x7f)
}

/// Encode a value below 2^28 as a syncsafe integer.
pub fn to_syncsafe(v: u32) -> [u8; 4] {
    [
        ((v >> 21) & 0x7f) as u8,
        ((v >> 14) & 0x7f) as u8,
        ((v >> 7) & 0x7f) as u8,
        (v & 0x7f) as u8,
    ]
}

/// Total length (header + body + optional footer) of the ID3v2 tag at the
/// start of `src`, or 0 if there is none. Consecutive tags are all skipped.
pub fn skip_len(src: &mut dyn Source) -> Result<u64, FormatError> {
    let mut pos = 0u64;
    loop {
        src.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 10];
        if read_up_to(src, &mut h)? < 10 || &h[0..3] != b"ID3" {
            return Ok(pos);
        }
        if h[3] == 0xff || h[4] == 0xff || h[6..10].iter().any(|b| b & 0x80 != 0) {
            return Err(FormatError::malformed("id3v2", "invalid tag header"));
        }
        let body = u64::from(syncsafe([h[6], h[7], h[8], h[9]]));
        let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
        pos += 10 + body + footer;
        if pos > limits::MAX_HEADER_BYTES {
            return Err(FormatError::Limit(format!(
                "ID3v2 tags longer than {} bytes",
                limits::MAX_HEADER_BYTES
            )));
        }
    }
}

/// Read and parse every consecutive ID3v2 tag at the start of `src`.
/// Returns what they hold and the offset just past the last one.
pub fn read_leading(src: &mut dyn Source, file_len: u64) -> Result<(Parsed, u64), FormatError> {
    let end = skip_len(src)?;
    if end > file_len {
        return Err(FormatError::malformed(
            "id3v2",
            "tag runs past the end of the file",
        ));
    }
    let mut parsed = Parsed::default();
    src.seek(SeekFrom::Start(0))?;
    let buf = read_vec(src, end, "ID3v2 tag")?;
    let mut pos = 0usize;
    while let Some(len) = buf.get(pos..).and_then(read::tag_len) {
        read::parse_tag(&buf[pos..(pos + len).min(buf.len())], &mut parsed)?;
        pos += len;
    }
    Ok((parsed, end))
}

#[cfg(test)]
mod tests;
