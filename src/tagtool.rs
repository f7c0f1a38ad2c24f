//! `musefs tag`: a small tag editor writing through the store contract, so
//! a running mount shows edits at once. Paths may name files in a mount
//! (resolved through the inode number: a file's is its track id + 1) or
//! backing files (resolved by their canonical path).

use crate::format::Picture;
use crate::store::{Store, edit::display_value};
use anyhow::{Context, bail};
use std::path::Path;

/// Picture type names accepted by `--type` (ID3/FLAC numbering).
pub const PICTURE_TYPES: &[(&str, u32)] = &[
    ("other", 0),
    ("icon", 1),
    ("other-icon", 2),
    ("front", 3),
    ("back", 4),
    ("leaflet", 5),
    ("media", 6),
    ("lead-artist", 7),
    ("artist", 8),
    ("conductor", 9),
    ("band", 10),
    ("composer", 11),
    ("lyricist", 12),
    ("recording-location", 13),
    ("during-recording", 14),
    ("during-performance", 15),
    ("screen-capture", 16),
    ("fish", 17),
    ("illustration", 18),
    ("band-logo", 19),
    ("publisher-logo", 20),
];

/// Parse a picture type name or number.
pub fn picture_type(s: &str) -> anyhow::Result<u32> {
    if let Ok(n) = s.parse::<u32>()
        && n <= 20
    {
        return Ok(n);
    }
    PICTURE_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, v)| *v)
        .with_context(|| {
            let names: Vec<&str> = PICTURE_TYPES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown picture type {s:?}: use 0-20 or one of {}",
                names.join(", ")
            )
        })
}

/// The track behind a file in a musefs mount: file inode numbers are track
/// ids plus one (directories have the top bit set). The file must lie on a
/// mount whose source is `musefs`.
fn mount_track_id(path: &Path) -> Option<i64> {
    use std::os::unix::fs::MetadataExt;
    let canon = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // The mount holding the path is the longest mount point that prefixes it.
    let mut best: Option<(usize, bool)> = None;
    for line in info.lines() {
        let mut halves = line.split(" - ");
        let (Some(a), Some(b)) = (halves.next(), halves.next()) else {
            continue;
        };
        let Some(point) = a.split(' ').nth(4) else {
            continue;
        };
        let point = point.replace("\\040", " ").replace("\\134", "\\");
        let mut fields = b.split(' ');
        let fstype = fields.next().unwrap_or_default();
        let source = fields.next().unwrap_or_default();
        if canon.starts_with(&point) && best.is_none_or(|(len, _)| point.len() >= len) {
            best = Some((
                point.len(),
                fstype.starts_with("fuse") && source == "musefs",
            ));
        }
    }
    if !best?.1 {
        return None;
    }
    let ino = std::fs::metadata(&canon).ok()?.ino();
    (ino >> 63 == 0 && ino > 1).then(|| ino as i64 - 1)
}

/// Find the track behind a path (a file in a mount, or a backing file).
pub fn resolve(store: &Store, path: &Path) -> anyhow::Result<i64> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    if let Some(id) = mount_track_id(path) {
        return Ok(id);
    }
    let canon = std::fs::canonicalize(path)
        .with_context(|| format!("{}: cannot resolve", path.display()))?;
    let s = canon
        .to_str()
        .with_context(|| format!("{}: path is not UTF-8", path.display()))?;
    store
        .track_id_by_path(s)?
        .with_context(|| format!("{}: not in the store (scan it first)", path.display()))
}

/// Parse `KEY=VALUE`.
pub fn key_value(s: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{s:?}: expected KEY=VALUE"))?;
    if k.is_empty() || k.len() > 255 {
        bail!("{s:?}: the key must be 1 to 255 bytes");
    }
    Ok((k.to_lowercase(), v.to_owned()))
}

/// Print tags and pictures of a track.
pub fn show(store: &Store, id: i64, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    for t in store.tags_of(id)? {
        writeln!(out, "{}={}", t.key, display_value(&t.value))?;
    }
    for p in store.pictures_of(id)? {
        let ty = PICTURE_TYPES
            .iter()
            .find(|(_, v)| *v == p.picture_type)
            .map_or("?", |(n, _)| *n);
        writeln!(
            out,
            "picture {}: type {ty} ({}), {}, {} bytes, sha256 {}{}",
            p.ordinal,
            p.picture_type,
            p.mime,
            p.len,
            p.sha256,
            if p.description.is_empty() {
                String::new()
            } else {
                format!(", description {:?}", p.description)
            }
        )?;
    }
    Ok(())
}

/// Load a picture file, sniffing its type.
pub fn load_picture(path: &Path, picture_type: u32, description: &str) -> anyhow::Result<Picture> {
    let data = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let mime = if data.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if data.starts_with(b"GIF8") {
        "image/gif"
    } else if data.len() > 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        "image/webp"
    } else {
        bail!("{}: not a JPEG, PNG, GIF or WebP picture", path.display());
    };
    if data.len() > crate::format::limits::MAX_PICTURE_BYTES {
        bail!("{}: pictures are limited to 16 MiB", path.display());
    }
    Ok(Picture {
        picture_type,
        mime: mime.into(),
        description: description.into(),
        width: 0,
        height: 0,
        depth: 0,
        colors: 0,
        data,
    })
}
