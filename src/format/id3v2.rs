//! ID3v2 tag helpers shared by MP3 and FLAC (which may carry a stray leading tag).

use super::{FormatError, Source, read_up_to};
use std::io::SeekFrom;

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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn syncsafe_round_trip() {
        for v in [0u32, 1, 127, 128, 300_000, (1 << 28) - 1] {
            assert_eq!(syncsafe(to_syncsafe(v)), v);
        }
    }

    #[test]
    fn skips_tag_with_footer() {
        let mut f = b"ID3\x04\x00\x10".to_vec();
        f.extend_from_slice(&to_syncsafe(5));
        f.extend_from_slice(&[0; 5]);
        f.extend_from_slice(b"3DI\x04\x00\x10\x00\x00\x00\x05");
        f.extend_from_slice(b"fLaC");
        assert_eq!(skip_len(&mut Cursor::new(f)).unwrap(), 25);
    }
}
