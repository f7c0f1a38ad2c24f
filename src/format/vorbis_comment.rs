//! Vorbis comment packets (used by FLAC, Ogg Vorbis, Opus and FLAC-in-Ogg).
//!
//! Layout: vendor length (u32 LE), vendor string, comment count (u32 LE), then
//! each comment as length (u32 LE) + `KEY=value` in UTF-8.

use super::{FormatError, Tag, TagValue, limits};

/// Parsed comment block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comments {
    pub vendor: String,
    pub tags: Vec<Tag>,
    /// Base64 `METADATA_BLOCK_PICTURE` values, kept apart from text tags.
    pub pictures_b64: Vec<String>,
}

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], FormatError> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| FormatError::malformed("vorbis-comment", "truncated comment block"))?;
    let s = &data[*pos..end];
    *pos = end;
    Ok(s)
}

fn take_u32(data: &[u8], pos: &mut usize) -> Result<u32, FormatError> {
    let b = take(data, pos, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parse a comment block (without any framing byte such as Vorbis' `\x03vorbis`).
pub fn parse(data: &[u8]) -> Result<Comments, FormatError> {
    let mut pos = 0;
    let vlen = take_u32(data, &mut pos)? as usize;
    let vendor = String::from_utf8_lossy(take(data, &mut pos, vlen)?).into_owned();
    let count = take_u32(data, &mut pos)? as usize;
    let mut out = Comments {
        vendor,
        ..Comments::default()
    };
    for _ in 0..count {
        let len = take_u32(data, &mut pos)? as usize;
        let raw = take(data, &mut pos, len)?;
        let Some(eq) = raw.iter().position(|&b| b == b'=') else {
            continue; // a comment without '=' carries no field; drop it
        };
        let key = String::from_utf8_lossy(&raw[..eq]).to_ascii_lowercase();
        if key.is_empty() || raw.len() - eq - 1 > limits::MAX_TAG_VALUE_BYTES {
            continue;
        }
        let value = String::from_utf8_lossy(&raw[eq + 1..]).into_owned();
        if key == "metadata_block_picture" {
            out.pictures_b64.push(value);
        } else if out.tags.len() < limits::MAX_TAGS {
            out.tags.push(Tag {
                key,
                value: TagValue::Text(value),
            });
        }
    }
    Ok(out)
}

/// Is this a key that can be written as a Vorbis comment field name?
/// (printable ASCII 0x20..=0x7D except '=')
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| (0x20..=0x7d).contains(&b) && b != b'=')
}

/// Encode a comment block. Binary tags and keys that are not valid field
/// names are skipped; keys are written upper-case by convention.
/// `extra` are additional raw `KEY=value` comments appended at the end
/// (e.g. `METADATA_BLOCK_PICTURE=...`).
pub fn encode(vendor: &str, tags: &[Tag], extra: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tags.len() * 32);
    out.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    out.extend_from_slice(vendor.as_bytes());
    let count_pos = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    for tag in tags {
        let TagValue::Text(value) = &tag.value else {
            continue;
        };
        if !valid_key(&tag.key) || tag.key == "metadata_block_picture" {
            continue;
        }
        let key = tag.key.to_ascii_uppercase();
        let len = key.len() + 1 + value.len();
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        count += 1;
    }
    for e in extra {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e.as_bytes());
        count += 1;
    }
    out[count_pos..count_pos + 4].copy_from_slice(&count.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tags = vec![
            Tag::text("title", "A = B"),
            Tag::text("artist", "X"),
            Tag::text("artist", "Y"),
        ];
        let enc = encode("vendor", &tags, &[]);
        let dec = parse(&enc).unwrap();
        assert_eq!(dec.vendor, "vendor");
        assert_eq!(dec.tags, tags);
    }

    #[test]
    fn truncated_is_an_error() {
        let enc = encode("v", &[Tag::text("title", "x")], &[]);
        for cut in 0..enc.len() {
            assert!(parse(&enc[..cut]).is_err(), "cut at {cut}");
        }
    }
}
