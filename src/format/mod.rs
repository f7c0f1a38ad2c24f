//! Container formats: probing backing files and synthesising new metadata regions.
//!
//! This layer knows byte layouts and nothing else: no SQL, no FUSE. A probe reads
//! a file's header and returns plain values ([`Probe`]); synthesis takes plain
//! values ([`SynthInput`]) and returns an ordered list of [`Segment`]s whose
//! concatenation is the served file.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

pub mod flac;
pub mod id3v2;
pub mod mp3;
pub mod mp4;
pub mod ogg;
pub mod vorbis_comment;
pub mod wav;

/// Hard caps that keep a hostile file from exhausting memory.
pub mod limits {
    /// Largest metadata region we are willing to read while probing.
    pub const MAX_HEADER_BYTES: u64 = 64 * 1024 * 1024;
    /// Largest single picture kept from a file.
    pub const MAX_PICTURE_BYTES: usize = 16 * 1024 * 1024 - 1024;
    /// Largest single text tag value kept.
    pub const MAX_TAG_VALUE_BYTES: usize = 1024 * 1024;
    /// Most tags kept per file.
    pub const MAX_TAGS: usize = 4096;
    /// Most pictures kept per file.
    pub const MAX_PICTURES: usize = 64;
}

/// The container families musefs serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Container {
    Flac,
    Mp3,
    M4a,
    M4b,
    OggOpus,
    OggVorbis,
    OggFlac,
    Wav,
}

impl Container {
    pub const ALL: [Container; 8] = [
        Container::Flac,
        Container::Mp3,
        Container::M4a,
        Container::M4b,
        Container::OggOpus,
        Container::OggVorbis,
        Container::OggFlac,
        Container::Wav,
    ];

    /// The name stored in the `tracks.format` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Flac => "flac",
            Container::Mp3 => "mp3",
            Container::M4a => "m4a",
            Container::M4b => "m4b",
            Container::OggOpus => "ogg-opus",
            Container::OggVorbis => "ogg-vorbis",
            Container::OggFlac => "ogg-flac",
            Container::Wav => "wav",
        }
    }

    pub fn parse(s: &str) -> Option<Container> {
        Container::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// File extension (without the dot) of served files.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Flac => "flac",
            Container::Mp3 => "mp3",
            Container::M4a => "m4a",
            Container::M4b => "m4b",
            Container::OggOpus => "opus",
            Container::OggVorbis | Container::OggFlac => "ogg",
            Container::Wav => "wav",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag value: text, or an opaque binary frame with no text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagValue {
    Text(String),
    Binary(Vec<u8>),
}

/// One tag entry. Keys are lower-case canonical names (`title`, `artist`,
/// `tracknumber`, ...); format-specific opaque frames use a `format:` prefix
/// (e.g. `id3:priv`). Order among equal keys is the value order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: TagValue,
}

impl Tag {
    pub fn text(key: &str, value: &str) -> Tag {
        Tag {
            key: key.to_ascii_lowercase(),
            value: TagValue::Text(value.to_owned()),
        }
    }
}

/// A picture found in a file while probing (bytes owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub picture_type: u32,
    pub mime: String,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub depth: u32,
    pub colors: u32,
    pub data: Vec<u8>,
}

/// A picture to emit during synthesis; the bytes stay in the store and are
/// referenced by `art_id` through [`Segment::Art`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureRef {
    pub art_id: i64,
    pub picture_type: u32,
    pub mime: String,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub depth: u32,
    pub colors: u32,
    pub len: u64,
}

/// Scanner-derived structural data a format needs to rebuild its header
/// (e.g. FLAC STREAMINFO). Opaque to every layer but the format's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structural {
    pub kind: String,
    pub data: Vec<u8>,
}

/// What a probe learns about a backing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub container: Container,
    /// Byte offset of the untouched audio payload in the backing file.
    pub audio_offset: u64,
    /// Length of the audio payload.
    pub audio_len: u64,
    pub tags: Vec<Tag>,
    pub pictures: Vec<Picture>,
    pub structural: Vec<Structural>,
}

/// Where picture bytes come from when a format must see them during synthesis
/// (e.g. Ogg, whose page checksums cover the picture). Formats that can
/// stream pictures emit [`Segment::Art`] instead and never call this.
pub trait ArtSource {
    fn art_bytes(&self, art_id: i64) -> io::Result<Arc<[u8]>>;
}

/// An [`ArtSource`] that has no pictures: for computing sizes without I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoArt;

impl ArtSource for NoArt {
    fn art_bytes(&self, art_id: i64) -> io::Result<Arc<[u8]>> {
        Err(io::Error::other(format!(
            "picture {art_id} not available here"
        )))
    }
}

/// An in-memory picture table (tests, tools).
impl ArtSource for std::collections::HashMap<i64, Arc<[u8]>> {
    fn art_bytes(&self, art_id: i64) -> io::Result<Arc<[u8]>> {
        self.get(&art_id)
            .cloned()
            .ok_or_else(|| io::Error::other(format!("picture {art_id} not in the table")))
    }
}

/// Everything synthesis needs, as plain values.
#[derive(Clone, Copy)]
pub struct SynthInput<'a> {
    pub container: Container,
    pub audio_offset: u64,
    pub audio_len: u64,
    pub structural: &'a [Structural],
    pub tags: &'a [Tag],
    pub pictures: &'a [PictureRef],
    pub art: &'a dyn ArtSource,
}

impl fmt::Debug for SynthInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynthInput")
            .field("container", &self.container)
            .field("audio_offset", &self.audio_offset)
            .field("audio_len", &self.audio_len)
            .field("structural", &self.structural.len())
            .field("tags", &self.tags.len())
            .field("pictures", &self.pictures.len())
            .finish()
    }
}

/// One piece of a served file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Synthesised bytes held in memory.
    Inline(Vec<u8>),
    /// A range of a picture's bytes, streamed from the store.
    Art { art_id: i64, offset: u64, len: u64 },
    /// A positioned read of the backing file.
    Backing { offset: u64, len: u64 },
    /// Ogg pages read from the backing file with their sequence numbers
    /// shifted and CRCs fixed while streaming (see [`ogg::Renumber`]).
    OggRenumber(ogg::Renumber),
}

impl Segment {
    pub fn len(&self) -> u64 {
        match self {
            Segment::Inline(b) => b.len() as u64,
            Segment::Art { len, .. } | Segment::Backing { len, .. } => *len,
            Segment::OggRenumber(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("unrecognised file type")]
    Unrecognised,
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("malformed {container} file: {reason}")]
    Malformed {
        container: &'static str,
        reason: String,
    },
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("missing structural data: {0}")]
    MissingStructural(String),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    pub fn malformed(container: &'static str, reason: impl Into<String>) -> FormatError {
        FormatError::Malformed {
            container,
            reason: reason.into(),
        }
    }
}

/// Readers the probes work on: anything seekable (a `File`, a `Cursor`).
pub trait Source: Read + Seek {}
impl<T: Read + Seek> Source for T {}

/// Guess the container from a file name's extension (used by the scanner to
/// decide which files to open at all).
pub fn is_candidate_extension(ext: &str) -> bool {
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "flac" | "mp3" | "m4a" | "m4b" | "mp4" | "ogg" | "oga" | "opus" | "wav"
    )
}

/// Probe a file: sniff its magic bytes and dispatch to the format's parser.
pub fn probe(src: &mut dyn Source, file_len: u64, ext_hint: &str) -> Result<Probe, FormatError> {
    let mut magic = [0u8; 12];
    src.seek(SeekFrom::Start(0))?;
    let n = read_up_to(src, &mut magic)?;
    let magic = &magic[..n];
    // FLAC may be preceded by an ID3v2 tag; so may MP3.
    let after_id3 = if magic.starts_with(b"ID3") {
        id3v2::skip_len(src)?
    } else {
        0
    };
    let mut inner = [0u8; 4];
    src.seek(SeekFrom::Start(after_id3))?;
    let m = read_up_to(src, &mut inner)?;
    if m == 4 && &inner == b"fLaC" {
        return flac::probe(src, file_len);
    }
    if magic.starts_with(b"OggS") {
        return ogg::probe(src, file_len);
    }
    if magic.len() >= 12
        && matches!(&magic[0..4], b"RIFF" | b"RF64" | b"BW64")
        && &magic[8..12] == b"WAVE"
    {
        return wav::probe(src, file_len);
    }
    if magic.len() >= 8 && &magic[4..8] == b"ftyp" {
        return mp4::probe(src, file_len, ext_hint);
    }
    if after_id3 > 0 || mp3::looks_like_mpeg_audio(magic) {
        return mp3::probe(src, file_len);
    }
    Err(FormatError::Unrecognised)
}

/// Largest served file (and backing file) size: what `off_t` can address.
pub const MAX_FILE_LEN: u64 = i64::MAX as u64;

/// The audio range comes from the store, which another program may write:
/// it must describe bytes a file can have.
fn check_audio_range(input: &SynthInput<'_>) -> Result<(), FormatError> {
    match input.audio_offset.checked_add(input.audio_len) {
        Some(end) if end <= MAX_FILE_LEN => Ok(()),
        _ => Err(FormatError::Limit(format!(
            "audio range {}+{} is beyond any file",
            input.audio_offset, input.audio_len
        ))),
    }
}

/// Sum of segment lengths, refusing totals no file can have.
fn total_len<'a>(segs: impl IntoIterator<Item = &'a Segment>) -> Result<u64, FormatError> {
    segs.into_iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.len()))
        .filter(|&t| t <= MAX_FILE_LEN)
        .ok_or_else(|| FormatError::Limit("served file larger than the largest file size".into()))
}

/// Build the served file's segments for a track.
pub fn synthesize(input: &SynthInput<'_>) -> Result<Vec<Segment>, FormatError> {
    check_audio_range(input)?;
    let segs = match input.container {
        Container::Flac => flac::synthesize(input),
        Container::Mp3 => mp3::synthesize(input),
        Container::M4a | Container::M4b => mp4::synthesize(input),
        Container::OggOpus | Container::OggVorbis | Container::OggFlac => ogg::synthesize(input),
        Container::Wav => wav::synthesize(input),
    }?;
    total_len(&segs)?;
    Ok(segs)
}

/// The served size of a track, computed without reading picture bytes
/// (`input.art` is not consulted).
pub fn served_len(input: &SynthInput<'_>) -> Result<u64, FormatError> {
    check_audio_range(input)?;
    match input.container {
        Container::OggOpus | Container::OggVorbis | Container::OggFlac => ogg::served_len(input)
            .and_then(|n| {
                (n <= MAX_FILE_LEN)
                    .then_some(n)
                    .ok_or_else(|| FormatError::Limit("served file too large".into()))
            }),
        _ => total_len(&synthesize(input)?),
    }
}

/// Read until `buf` is full or EOF; returns bytes read.
pub fn read_up_to(src: &mut dyn Source, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match src.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Read exactly `len` bytes at the current position, refusing absurd sizes.
pub fn read_vec(src: &mut dyn Source, len: u64, what: &str) -> Result<Vec<u8>, FormatError> {
    if len > limits::MAX_HEADER_BYTES {
        return Err(FormatError::Limit(format!("{what} of {len} bytes")));
    }
    let mut v = vec![0u8; len as usize];
    src.read_exact(&mut v).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FormatError::Malformed {
                container: "file",
                reason: format!("truncated while reading {what}"),
            }
        } else {
            FormatError::Io(e)
        }
    })?;
    Ok(v)
}

#[cfg(test)]
mod regressions;

/// Find a structural block by kind.
pub fn structural<'a>(items: &'a [Structural], kind: &str) -> Option<&'a [u8]> {
    items
        .iter()
        .find(|s| s.kind == kind)
        .map(|s| s.data.as_slice())
}
