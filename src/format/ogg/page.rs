//! Ogg pages: the CRC, header parsing and building, and the page plan that
//! spreads header packets over pages.
//!
//! Page header (27 bytes + lacing table): `OggS`, version 0, header type
//! flags, granule position (i64 LE), serial (u32 LE), sequence (u32 LE),
//! CRC (u32 LE, computed with this field zeroed), segment count, lacing
//! values.

/// Fixed part of a page header.
pub const HEADER_FIXED: usize = 27;
/// Largest possible page: fixed header, 255 lacing values, 255 * 255 body bytes.
pub const MAX_PAGE: usize = HEADER_FIXED + 255 + 255 * 255;

pub const FLAG_CONTINUED: u8 = 0x01;
pub const FLAG_BOS: u8 = 0x02;
pub const FLAG_EOS: u8 = 0x04;

/// Granule position of a page on which no packet ends.
pub const NO_GRANULE: u64 = u64::MAX;

const POLY: u32 = 0x04c1_1db7;

const fn make_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ POLY
            } else {
                r << 1
            };
            k += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = make_table();

/// Continue the Ogg CRC-32 (poly 0x04c11db7, init 0, not reflected, no final xor).
pub fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = (crc << 8) ^ TABLE[usize::from((crc >> 24) as u8 ^ b)];
    }
    crc
}

/// CRC of a whole page; the CRC field (bytes 22..26) is taken as zero.
pub fn page_crc(page: &[u8]) -> u32 {
    if page.len() < HEADER_FIXED {
        return crc_update(0, page);
    }
    let c = crc_update(0, &page[..22]);
    let c = crc_update(c, &[0; 4]);
    crc_update(c, &page[26..])
}

/// `a * b mod P` over GF(2), bit k = coefficient of x^k.
fn gf_mul(a: u32, b: u32) -> u32 {
    let mut r = 0u32;
    let mut a = a;
    for i in 0..32 {
        if (b >> i) & 1 == 1 {
            r ^= a;
        }
        a = if a & 0x8000_0000 != 0 {
            (a << 1) ^ POLY
        } else {
            a << 1
        };
    }
    r
}

/// `x^(8 * n) mod P`: the effect of appending `n` zero bytes to a CRC.
fn x_pow_bytes(mut n: u64) -> u32 {
    let mut result = 1u32; // x^0
    let mut base = 0x100u32; // x^8
    while n > 0 {
        if n & 1 == 1 {
            result = gf_mul(result, base);
        }
        base = gf_mul(base, base);
        n >>= 1;
    }
    result
}

/// The CRC of a page whose sequence number changed from `old_seq` to
/// `new_seq`, given its old CRC and its total length. The CRC is linear (no
/// init, no final xor), so the change is the CRC of the xor-difference: four
/// bytes at offset 18 followed by `page_len - 22` zero bytes.
pub fn crc_after_seq_change(old_crc: u32, old_seq: u32, new_seq: u32, page_len: u64) -> u32 {
    let d = (old_seq ^ new_seq).to_le_bytes();
    let delta = gf_mul(crc_update(0, &d), x_pow_bytes(page_len.saturating_sub(22)));
    old_crc ^ delta
}

/// A parsed page header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageHeader {
    pub flags: u8,
    pub granule: u64,
    pub serial: u32,
    pub seq: u32,
    pub crc: u32,
    pub lacing: Vec<u8>,
}

impl PageHeader {
    pub fn header_len(&self) -> usize {
        HEADER_FIXED + self.lacing.len()
    }

    pub fn body_len(&self) -> usize {
        self.lacing.iter().map(|&l| usize::from(l)).sum()
    }

    pub fn page_len(&self) -> usize {
        self.header_len() + self.body_len()
    }
}

/// Why a page header could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the header needs.
    Short,
    /// No capture pattern or an unknown version.
    Invalid,
}

/// Parse the fixed header and the lacing table from the start of `b`.
pub fn parse_header(b: &[u8]) -> Result<PageHeader, HeaderError> {
    let fixed = b.get(..HEADER_FIXED).ok_or(HeaderError::Short)?;
    if &fixed[0..4] != b"OggS" || fixed[4] != 0 {
        return Err(HeaderError::Invalid);
    }
    let n = usize::from(fixed[26]);
    let lacing = b
        .get(HEADER_FIXED..HEADER_FIXED + n)
        .ok_or(HeaderError::Short)?
        .to_vec();
    let u32_at =
        |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
    let mut g = [0u8; 8];
    g.copy_from_slice(&fixed[6..14]);
    Ok(PageHeader {
        flags: fixed[5],
        granule: u64::from_le_bytes(g),
        serial: u32_at(14),
        seq: u32_at(18),
        crc: u32_at(22),
        lacing,
    })
}

/// Serialise a page header with a zero CRC field (the caller fills it in).
pub fn build_header(h: &PageHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.header_len());
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(h.flags);
    out.extend_from_slice(&h.granule.to_le_bytes());
    out.extend_from_slice(&h.serial.to_le_bytes());
    out.extend_from_slice(&h.seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(h.lacing.len() as u8);
    out.extend_from_slice(&h.lacing);
    out
}

/// Number of lacing values a packet of `len` bytes needs.
pub fn lacing_count(len: u64) -> u64 {
    len / 255 + 1
}

/// The lacing values of one packet.
fn packet_lacing(len: u64, out: &mut Vec<u8>) {
    for _ in 0..len / 255 {
        out.push(255);
    }
    out.push((len % 255) as u8);
}

/// One planned page of the header region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub flags: u8,
    pub granule: u64,
    pub lacing: Vec<u8>,
}

impl PagePlan {
    pub fn header_len(&self) -> u64 {
        (HEADER_FIXED + self.lacing.len()) as u64
    }

    pub fn body_len(&self) -> u64 {
        self.lacing.iter().map(|&l| u64::from(l)).sum()
    }
}

/// Plan the header pages: the first packet alone on a BOS page, the other
/// packets laced back to back over the following pages, the last page ending
/// with the last packet. When the rest fits in `want_rest` pages (each page
/// holding at least one lacing value), exactly that many are used, so the
/// page count of the original file is kept; otherwise as few as possible.
/// Returns `None` when the first packet does not fit in one page.
pub fn plan_pages(first_len: u64, rest_lens: &[u64], want_rest: u64) -> Option<Vec<PagePlan>> {
    if lacing_count(first_len) > 255 {
        return None;
    }
    let mut first = Vec::new();
    packet_lacing(first_len, &mut first);
    let mut pages = vec![PagePlan {
        flags: FLAG_BOS,
        granule: 0,
        lacing: first,
    }];
    let total: u64 = rest_lens.iter().map(|&l| lacing_count(l)).sum();
    if total == 0 {
        return Some(pages);
    }
    let min_pages = total.div_ceil(255);
    let count = if want_rest >= min_pages && want_rest <= total {
        want_rest
    } else {
        min_pages
    };
    let mut lacing = Vec::with_capacity(total as usize);
    for &l in rest_lens {
        packet_lacing(l, &mut lacing);
    }
    let (q, r) = (total / count, total % count);
    let mut pos = 0usize;
    let mut continued = false;
    for j in 0..count {
        let n = (q + u64::from(j < r)) as usize;
        let lace = lacing[pos..pos + n].to_vec();
        pos += n;
        let completes = lace.iter().any(|&l| l < 255);
        pages.push(PagePlan {
            flags: if continued { FLAG_CONTINUED } else { 0 },
            granule: if completes { 0 } else { NO_GRANULE },
            lacing: lace,
        });
        continued = lacing[pos - 1] == 255;
    }
    Some(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc_of_known_page() {
        // A page built by libogg-compatible code must verify against itself.
        let h = PageHeader {
            flags: FLAG_BOS,
            granule: 0,
            serial: 0x1234_5678,
            seq: 0,
            crc: 0,
            lacing: vec![3],
        };
        let mut page = build_header(&h);
        page.extend_from_slice(b"abc");
        let c = page_crc(&page);
        page[22..26].copy_from_slice(&c.to_le_bytes());
        assert_eq!(page_crc(&page), c);
        assert_ne!(c, 0);
        // CRC-32/CKSUM (same polynomial, init 0, not reflected) checks
        // 0x765e7680 after its final xor with 0xffffffff.
        assert_eq!(crc_update(0, b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert_eq!(parse_header(b"OggS"), Err(HeaderError::Short));
        let mut b = [0u8; 40];
        b[..4].copy_from_slice(b"OggX");
        assert_eq!(parse_header(&b), Err(HeaderError::Invalid));
        b[..4].copy_from_slice(b"OggS");
        b[4] = 1;
        assert_eq!(parse_header(&b), Err(HeaderError::Invalid));
    }

    proptest! {
        #[test]
        fn seq_patch_equals_recompute(
            body in proptest::collection::vec(any::<u8>(), 0..3000),
            old in any::<u32>(), new in any::<u32>(),
        ) {
            let mut lacing = Vec::new();
            packet_lacing(body.len() as u64, &mut lacing);
            prop_assume!(lacing.len() <= 255);
            let mut h = PageHeader { flags: 0, granule: 5, serial: 9, seq: old, crc: 0, lacing };
            let mut page = build_header(&h);
            page.extend_from_slice(&body);
            let c_old = page_crc(&page);
            h.seq = new;
            let mut page2 = build_header(&h);
            page2.extend_from_slice(&body);
            let c_new = page_crc(&page2);
            prop_assert_eq!(crc_after_seq_change(c_old, old, new, page.len() as u64), c_new);
        }

        #[test]
        fn plan_covers_every_byte(
            first in 1u64..2000,
            rest in proptest::collection::vec(0u64..200_000, 1..4),
            want in 0u64..10,
        ) {
            let pages = plan_pages(first, &rest, want).unwrap();
            let body: u64 = pages.iter().map(PagePlan::body_len).sum();
            prop_assert_eq!(body, first + rest.iter().sum::<u64>());
            prop_assert_eq!(pages[0].body_len(), first);
            for p in &pages[1..] {
                prop_assert!(!p.lacing.is_empty() && p.lacing.len() <= 255);
            }
            // The last page ends a packet.
            prop_assert!(*pages.last().unwrap().lacing.last().unwrap() < 255);
            let total: u64 = rest.iter().map(|&l| lacing_count(l)).sum();
            if want >= total.div_ceil(255) && want <= total {
                prop_assert_eq!(pages.len() as u64, want + 1);
            }
        }
    }
}
