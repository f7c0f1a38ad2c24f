//! Probing one file: open it read-only, read its header through a prefix
//! buffer, and fingerprint its audio range from the bytes already read.

use crate::format::{self, Probe, limits};
use crate::store::Stamp;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Bytes read from the start of every file in one call. Small files are read
/// whole by it; for larger ones it holds the header and, usually, the first
/// audio bytes the fingerprint needs.
pub const PREFIX_BYTES: usize = 128 * 1024;

/// Bytes hashed at each end of the audio range by the quick fingerprint.
pub const FP_EDGE: u64 = 64 * 1024;

/// Fingerprint schemes, stored as the first byte of `tracks.fingerprint`.
pub const FP_QUICK: u8 = 1;
pub const FP_FULL: u8 = 2;

/// How much of the audio range the fingerprint covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksum {
    /// sha256 of the audio length, the first and the last 64 KiB of the range.
    #[default]
    Quick,
    /// sha256 of the audio length and the whole range (reads every audio byte).
    Full,
}

/// A probed file.
#[derive(Debug)]
pub struct Probed {
    pub stamp: Stamp,
    pub probe: Probe,
    /// The quick fingerprint (always computed).
    pub quick: Vec<u8>,
    /// The full fingerprint, with `--checksum full`.
    pub full: Option<Vec<u8>>,
    /// Things dropped from the file, worth telling the user.
    pub warnings: Vec<String>,
}

impl Probed {
    /// The fingerprint written to the row.
    pub fn fingerprint(&self) -> &[u8] {
        self.full.as_deref().unwrap_or(&self.quick)
    }

    /// Rough heap size, for the writer queue's memory budget.
    pub fn cost(&self) -> u64 {
        let p = &self.probe;
        let pics: usize = p.pictures.iter().map(|x| x.data.len() + 64).sum();
        let tags: usize = p
            .tags
            .iter()
            .map(|t| {
                t.key.len()
                    + 48
                    + match &t.value {
                        format::TagValue::Text(s) => s.len(),
                        format::TagValue::Binary(b) => b.len(),
                    }
            })
            .sum();
        let st: usize = p.structural.iter().map(|s| s.data.len() + 48).sum();
        (pics + tags + st + 512) as u64
    }
}

/// Open a file for reading without following a FIFO into a blocking open,
/// without updating its access time where the kernel lets us.
pub fn open_readonly(path: &Path) -> io::Result<File> {
    let open = |flags: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
    };
    match open(libc::O_NOATIME) {
        // O_NOATIME needs ownership or CAP_FOWNER.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0),
        r => r,
    }
}

/// A seekable reader over a file that serves its first bytes from memory.
struct PrefixSource<'a> {
    file: &'a File,
    prefix: &'a [u8],
    pos: u64,
    len: u64,
}

impl Read for PrefixSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(rest) = usize::try_from(self.pos)
            .ok()
            .and_then(|p| self.prefix.get(p..))
            .filter(|r| !r.is_empty())
        {
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PrefixSource<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match new {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

/// Fill `buf` from `file` at `offset`, stopping early only at end of file.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Hash `len` bytes of the file at `offset`, taking what the prefix holds
/// from memory.
fn hash_range(
    h: &mut Sha256,
    file: &File,
    prefix: &[u8],
    offset: u64,
    len: u64,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    let (mut off, end) = (offset, offset + len);
    if let Some(from_prefix) = usize::try_from(off).ok().and_then(|o| prefix.get(o..)) {
        let n = from_prefix.len().min(len as usize);
        h.update(&from_prefix[..n]);
        off += n as u64;
    }
    while off < end {
        let chunk = (end - off).min(1 << 20) as usize;
        scratch.resize(chunk, 0);
        let n = read_full_at(file, &mut scratch[..chunk], off)?;
        if n < chunk {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being read",
            ));
        }
        h.update(&scratch[..chunk]);
        off += chunk as u64;
    }
    Ok(())
}

fn tagged(scheme: u8, h: Sha256) -> Vec<u8> {
    let mut v = Vec::with_capacity(33);
    v.push(scheme);
    v.extend_from_slice(&h.finalize());
    v
}

/// Per-worker reusable buffers.
#[derive(Default)]
pub struct Buffers {
    prefix: Vec<u8>,
    scratch: Vec<u8>,
}

/// Probe one file. Errors are the reason shown to the user.
pub fn probe_file(path: &Path, checksum: Checksum, bufs: &mut Buffers) -> Result<Probed, String> {
    let file = open_readonly(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let stamp = Stamp::of(&meta);
    let want = stamp.size.min(PREFIX_BYTES as u64) as usize;
    bufs.prefix.resize(want, 0);
    let got = read_full_at(&file, &mut bufs.prefix, 0).map_err(|e| format!("cannot read: {e}"))?;
    bufs.prefix.truncate(got);
    let prefix = bufs.prefix.as_slice();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut src = PrefixSource {
        file: &file,
        prefix,
        pos: 0,
        len: stamp.size,
    };
    let mut probe = format::probe(&mut src, stamp.size, &ext).map_err(|e| e.to_string())?;
    if probe
        .audio_offset
        .checked_add(probe.audio_len)
        .is_none_or(|end| end > stamp.size)
    {
        return Err("audio range reported past the end of the file".into());
    }
    let mut warnings = Vec::new();
    let mut kept = Vec::with_capacity(probe.pictures.len());
    for (i, pic) in std::mem::take(&mut probe.pictures).into_iter().enumerate() {
        if pic.data.is_empty() {
            warnings.push(format!("picture {} is empty: dropped", i + 1));
        } else if pic.data.len() > limits::MAX_PICTURE_BYTES {
            warnings.push(format!(
                "picture {} of {} bytes is over the {}-byte limit: dropped",
                i + 1,
                pic.data.len(),
                limits::MAX_PICTURE_BYTES
            ));
        } else {
            kept.push(pic);
        }
    }
    probe.pictures = kept;

    let (off, len) = (probe.audio_offset, probe.audio_len);
    let io = |e: io::Error| format!("cannot read audio for the fingerprint: {e}");
    let mut h = Sha256::new();
    h.update(len.to_le_bytes());
    let head = len.min(FP_EDGE);
    hash_range(&mut h, &file, prefix, off, head, &mut bufs.scratch).map_err(io)?;
    let tail_start = len.saturating_sub(FP_EDGE).max(head);
    hash_range(
        &mut h,
        &file,
        prefix,
        off + tail_start,
        len - tail_start,
        &mut bufs.scratch,
    )
    .map_err(io)?;
    let quick = tagged(FP_QUICK, h);
    let full = match checksum {
        Checksum::Quick => None,
        Checksum::Full => {
            let mut h = Sha256::new();
            h.update(len.to_le_bytes());
            hash_range(&mut h, &file, prefix, off, len, &mut bufs.scratch).map_err(io)?;
            Some(tagged(FP_FULL, h))
        }
    };
    // Do not keep a large scratch buffer alive between files.
    if bufs.scratch.capacity() > 4 << 20 {
        bufs.scratch = Vec::new();
    }
    Ok(Probed {
        stamp,
        probe,
        quick,
        full,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(data: &[u8], prefix_len: usize, off: u64, len: u64) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, data).unwrap();
        let f = File::open(&p).unwrap();
        let mut h = Sha256::new();
        hash_range(&mut h, &f, &data[..prefix_len], off, len, &mut Vec::new()).unwrap();
        h.finalize().to_vec()
    }

    #[test]
    fn hashing_from_prefix_or_file_agrees() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want = Sha256::digest(&data[1000..250_000]).to_vec();
        for prefix in [0, 10, 1000, 5000, 200_000, 300_000] {
            assert_eq!(
                hash_of(&data, prefix, 1000, 249_000),
                want,
                "prefix {prefix}"
            );
        }
    }

    #[test]
    fn prefix_source_reads_across_the_boundary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let f = File::open(&p).unwrap();
        let mut s = PrefixSource {
            file: &f,
            prefix: &data[..100],
            pos: 0,
            len: 1000,
        };
        s.seek(SeekFrom::Start(90)).unwrap();
        let mut buf = vec![0; 50];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(buf, &data[90..140]);
        s.seek(SeekFrom::End(-10)).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[990..]);
        assert!(s.seek(SeekFrom::Current(-2000)).is_err());
    }
}
