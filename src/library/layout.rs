//! A served file as an ordered list of segments, and `read_at` over it.

use crate::format::{ArtSource, Segment};
use std::io;
use std::os::unix::fs::FileExt;

/// An immutable segment layout for one track at one content version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    segments: Vec<Segment>,
    /// Start offset of each segment in the served file.
    starts: Vec<u64>,
    len: u64,
}

impl Layout {
    pub fn new(segments: Vec<Segment>) -> Layout {
        let segments: Vec<Segment> = segments.into_iter().filter(|s| !s.is_empty()).collect();
        let mut starts = Vec::with_capacity(segments.len());
        let mut pos = 0u64;
        for s in &segments {
            starts.push(pos);
            pos += s.len();
        }
        Layout {
            segments,
            starts,
            len: pos,
        }
    }

    /// Total served size.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Bytes of memory this layout holds inline (for cache weighting).
    pub fn inline_bytes(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Inline(b) => b.len(),
                _ => 0,
            })
            .sum::<usize>()
            + self.segments.len() * std::mem::size_of::<Segment>()
    }

    /// Fill `buf` from `offset`. Returns the number of bytes written, short
    /// only at end of file. A backing file shorter than the layout expects is
    /// an error (`UnexpectedEof`), never zero-filled or partial data.
    pub fn read_at(
        &self,
        offset: u64,
        buf: &mut [u8],
        backing: &impl FileExt,
        art: &dyn ArtSource,
    ) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - offset) as usize;
        let mut i = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let mut done = 0usize;
        while done < want {
            let seg = &self.segments[i];
            let pos = offset + done as u64;
            let within = pos - self.starts[i];
            let n = ((seg.len() - within) as usize).min(want - done);
            let out = &mut buf[done..done + n];
            match seg {
                Segment::Inline(b) => {
                    out.copy_from_slice(&b[within as usize..within as usize + n]);
                }
                Segment::Art {
                    art_id,
                    offset: aoff,
                    ..
                } => {
                    let data = art.art_bytes(*art_id)?;
                    let s = (*aoff + within) as usize;
                    let src = data.get(s..s + n).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "picture shorter than expected")
                    })?;
                    out.copy_from_slice(src);
                }
                Segment::Backing { offset: boff, .. } => {
                    backing.read_exact_at(out, boff + within)?;
                }
                Segment::OggRenumber(r) => r.read_at(within, out, backing)?,
            }
            done += n;
            i += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;
    use std::sync::Arc;

    struct Arts(Vec<u8>);
    impl ArtSource for Arts {
        fn art_bytes(&self, _id: i64) -> io::Result<Arc<[u8]>> {
            Ok(self.0.clone().into())
        }
    }

    fn backing(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    proptest! {
        #[test]
        fn read_at_equals_slice_of_whole(
            head in proptest::collection::vec(any::<u8>(), 0..300),
            art in proptest::collection::vec(any::<u8>(), 1..300),
            tail in proptest::collection::vec(any::<u8>(), 0..300),
            audio in proptest::collection::vec(any::<u8>(), 0..2000),
            off in 0u64..3000, len in 0usize..3000,
        ) {
            let mut file = vec![7u8; 13];
            file.extend_from_slice(&audio);
            let f = backing(&file);
            let l = Layout::new(vec![
                Segment::Inline(head.clone()),
                Segment::Art { art_id: 1, offset: 0, len: art.len() as u64 },
                Segment::Inline(tail.clone()),
                Segment::Backing { offset: 13, len: audio.len() as u64 },
            ]);
            let whole: Vec<u8> = [head, art.clone(), tail, audio].concat();
            prop_assert_eq!(l.len(), whole.len() as u64);
            let mut buf = vec![0u8; len];
            let n = l.read_at(off, &mut buf, &f, &Arts(art)).unwrap();
            let s = (off as usize).min(whole.len());
            let e = (s + len).min(whole.len());
            prop_assert_eq!(&buf[..n], &whole[s..e]);
        }
    }

    #[test]
    fn short_backing_is_an_error() {
        let f = backing(b"abc");
        let l = Layout::new(vec![Segment::Backing { offset: 0, len: 10 }]);
        let mut buf = [0u8; 10];
        assert!(l.read_at(0, &mut buf, &f, &Arts(vec![])).is_err());
    }
}
