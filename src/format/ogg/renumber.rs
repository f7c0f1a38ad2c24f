//! Serving audio pages with shifted sequence numbers.
//!
//! When the rebuilt headers take a different number of pages than the
//! original ones, every following page's sequence number moves by the same
//! amount and its CRC must follow. Bytes are read verbatim from the backing
//! file and only bytes 18..26 of each page header (sequence number and CRC)
//! are rewritten. The Ogg CRC is linear (init 0, no final xor), so the new
//! CRC is the old one xor the CRC of the difference, which needs only the
//! page length: no page is ever read whole just to fix its checksum.
//!
//! Page boundaries are found by walking page headers from the segment start.
//! A sparse index (the start of every 32nd page) is built incrementally and
//! shared by all clones of the segment, so a read walks at most a few dozen
//! headers once the index covers its offset, and sequential reads resume
//! from the last page they touched.

use super::page::{self, HEADER_FIXED};
use std::fmt;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Index one page start out of this many.
const CHECKPOINT_EVERY: u64 = 32;
/// Bytes 18..26 of a page header hold the sequence number and the CRC.
const PATCH_START: u64 = 18;
const PATCH_END: u64 = 26;

#[derive(Debug, Default)]
struct Index {
    /// Start of page `i * CHECKPOINT_EVERY`, relative to the segment.
    checkpoints: Vec<u64>,
    /// Start of the first page not yet scanned.
    next: u64,
    /// Pages scanned so far.
    scanned: u64,
    /// Start of the page a previous read ended in.
    hint: u64,
}

/// A run of whole Ogg pages from the backing file, served with every page's
/// sequence number shifted by `seq_delta` (mod 2^32) and its CRC fixed.
#[derive(Clone)]
pub struct Renumber {
    offset: u64,
    len: u64,
    seq_delta: u32,
    index: Arc<Mutex<Index>>,
}

impl PartialEq for Renumber {
    fn eq(&self, other: &Self) -> bool {
        self.offset == other.offset && self.len == other.len && self.seq_delta == other.seq_delta
    }
}

impl Eq for Renumber {}

impl fmt::Debug for Renumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renumber")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("seq_delta", &self.seq_delta)
            .finish()
    }
}

/// What the patch needs from one page header.
#[derive(Debug, Clone, Copy)]
struct PageInfo {
    seq: u32,
    crc: u32,
    len: u64,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Renumber {
    /// Pages at `offset..offset + len` of the backing file; `len` must end on
    /// a page boundary.
    pub fn new(offset: u64, len: u64, seq_delta: u32) -> Renumber {
        Renumber {
            offset,
            len,
            seq_delta,
            index: Arc::default(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn seq_delta(&self) -> u32 {
        self.seq_delta
    }

    /// Parse the header of the page at `p` (segment-relative), from `near`
    /// (bytes already read, starting at segment offset `near_start`) when it
    /// holds the whole header, else with a small positioned read.
    fn header_at(
        &self,
        p: u64,
        backing: &impl FileExt,
        near: &[u8],
        near_start: u64,
    ) -> io::Result<PageInfo> {
        if p >= self.len {
            return Err(bad("Ogg page index past the end of the audio"));
        }
        let mut own = [0u8; HEADER_FIXED + 255];
        let near_end = near_start + near.len() as u64;
        let hdr: &[u8] = if p >= near_start && p + HEADER_FIXED as u64 <= near_end {
            let s = &near[(p - near_start) as usize..];
            let full = HEADER_FIXED + usize::from(s[26]);
            if s.len() >= full {
                &s[..full]
            } else {
                let n = (self.len - p).min(own.len() as u64) as usize;
                backing.read_exact_at(&mut own[..n], self.offset + p)?;
                &own[..n]
            }
        } else {
            let n = (self.len - p).min(own.len() as u64) as usize;
            backing.read_exact_at(&mut own[..n], self.offset + p)?;
            &own[..n]
        };
        let h = page::parse_header(hdr)
            .map_err(|_| bad(format!("no valid Ogg page at audio offset {p}")))?;
        let len = h.page_len() as u64;
        if p + len > self.len {
            return Err(bad("Ogg page runs past the end of the audio"));
        }
        Ok(PageInfo {
            seq: h.seq,
            crc: h.crc,
            len,
        })
    }

    /// Start of the page containing segment offset `target`.
    fn locate(&self, target: u64, backing: &impl FileExt) -> io::Result<u64> {
        let mut idx = self.index.lock().unwrap_or_else(|e| e.into_inner());
        while idx.next <= target {
            let p = idx.next;
            if idx.scanned.is_multiple_of(CHECKPOINT_EVERY) {
                idx.checkpoints.push(p);
            }
            let info = self.header_at(p, backing, &[], 0)?;
            idx.next = p + info.len;
            idx.scanned += 1;
        }
        let i = idx.checkpoints.partition_point(|&c| c <= target);
        let mut p = idx.checkpoints.get(i.wrapping_sub(1)).copied().unwrap_or(0);
        if idx.hint > p && idx.hint <= target {
            p = idx.hint;
        }
        drop(idx);
        loop {
            let info = self.header_at(p, backing, &[], 0)?;
            if p + info.len > target {
                return Ok(p);
            }
            p += info.len;
        }
    }

    /// Fill `out` with the served bytes at segment offset `within`.
    pub fn read_at(&self, within: u64, out: &mut [u8], backing: &impl FileExt) -> io::Result<()> {
        let start = within;
        let end = within
            .checked_add(out.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| bad("read past the end of the Ogg audio segment"))?;
        if out.is_empty() {
            return Ok(());
        }
        backing.read_exact_at(out, self.offset + start)?;
        let mut p = self.locate(start.saturating_sub(PATCH_END - 1), backing)?;
        let mut last = p;
        while p < self.len && p + PATCH_START < end {
            let info = self.header_at(p, backing, out, start)?;
            if p + PATCH_END > start {
                let new_seq = info.seq.wrapping_add(self.seq_delta);
                let new_crc = page::crc_after_seq_change(info.crc, info.seq, new_seq, info.len);
                let mut patch = [0u8; 8];
                patch[..4].copy_from_slice(&new_seq.to_le_bytes());
                patch[4..].copy_from_slice(&new_crc.to_le_bytes());
                for (k, &b) in patch.iter().enumerate() {
                    let pos = p + PATCH_START + k as u64;
                    if pos >= start && pos < end {
                        out[(pos - start) as usize] = b;
                    }
                }
            }
            last = p;
            p += info.len;
        }
        let mut idx = self.index.lock().unwrap_or_else(|e| e.into_inner());
        if last < idx.next {
            idx.hint = last;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ogg::page::{PageHeader, build_header, page_crc};
    use proptest::prelude::*;
    use std::io::Write;

    /// `n` pages with the given body sizes, sequence numbers from `seq0`.
    fn pages(sizes: &[usize], seq0: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &sz) in sizes.iter().enumerate() {
            let mut lacing = vec![255u8; sz / 255];
            lacing.push((sz % 255) as u8);
            let h = PageHeader {
                flags: 0,
                granule: i as u64 * 960,
                serial: 77,
                seq: seq0.wrapping_add(i as u32),
                crc: 0,
                lacing,
            };
            let mut p = build_header(&h);
            p.extend((0..sz).map(|k| (k * 7 + i) as u8));
            let c = page_crc(&p);
            p[22..26].copy_from_slice(&c.to_le_bytes());
            out.extend(p);
        }
        out
    }

    fn file(prefix: usize, body: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0xAA; prefix]).unwrap();
        f.write_all(body).unwrap();
        f
    }

    proptest! {
        #[test]
        fn reads_equal_slices_of_renumbered_whole(
            sizes in proptest::collection::vec(0usize..1500, 1..80),
            delta in any::<u32>(),
            reads in proptest::collection::vec((any::<u64>(), 0usize..5000), 1..12),
        ) {
            let orig = pages(&sizes, 5);
            let want = pages(&sizes, 5u32.wrapping_add(delta));
            let f = file(13, &orig);
            let r = Renumber::new(13, orig.len() as u64, delta);
            for (off, n) in reads {
                let off = off % orig.len() as u64;
                let n = n.min(orig.len() - off as usize);
                let mut buf = vec![0u8; n];
                r.read_at(off, &mut buf, &f).unwrap();
                prop_assert_eq!(&buf[..], &want[off as usize..off as usize + n]);
            }
            let mut all = vec![0u8; orig.len()];
            r.read_at(0, &mut all, &f).unwrap();
            prop_assert_eq!(all, want);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let orig = pages(&[100, 200, 300], 0);
        let mut broken = orig.clone();
        let second = 27 + 1 + 100;
        broken[second] = b'X';
        let f = file(0, &broken);
        let r = Renumber::new(0, broken.len() as u64, 1);
        let mut buf = vec![0u8; broken.len()];
        assert!(r.read_at(0, &mut buf, &f).is_err());
        // A read past the end is refused.
        let f = file(0, &orig);
        let r = Renumber::new(0, orig.len() as u64, 1);
        let mut buf = vec![0u8; 10];
        assert!(r.read_at(orig.len() as u64 - 5, &mut buf, &f).is_err());
        // A segment length that cuts a page is detected.
        let r = Renumber::new(0, orig.len() as u64 - 1, 1);
        let mut buf = vec![0u8; 100];
        assert!(r.read_at(orig.len() as u64 - 150, &mut buf, &f).is_err());
    }

    #[test]
    fn many_pages_index_and_hint() {
        let sizes: Vec<usize> = (0..500).map(|i| (i * 37) % 900).collect();
        let orig = pages(&sizes, 0);
        let want = pages(&sizes, 3);
        let f = file(0, &orig);
        let r = Renumber::new(0, orig.len() as u64, 3);
        // Backwards then forwards in small steps.
        let step = 777;
        let mut off = orig.len() as u64;
        while off > 0 {
            let s = off.saturating_sub(step);
            let mut buf = vec![0u8; (off - s) as usize];
            r.read_at(s, &mut buf, &f).unwrap();
            assert_eq!(&buf[..], &want[s as usize..off as usize]);
            off = s;
        }
        let mut s = 0u64;
        while s < orig.len() as u64 {
            let e = (s + 4096).min(orig.len() as u64);
            let mut buf = vec![0u8; (e - s) as usize];
            r.read_at(s, &mut buf, &f).unwrap();
            assert_eq!(&buf[..], &want[s as usize..e as usize]);
            s = e;
        }
        assert_eq!(
            r.index.lock().unwrap().checkpoints.len(),
            500usize.div_ceil(32)
        );
    }
}
