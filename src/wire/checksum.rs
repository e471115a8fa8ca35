//! The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.

use std::net::Ipv4Addr;

/// Add `data` to a running 32-bit sum (big-endian words; an odd last byte is padded with zero).
/// The result is at most 0xffff, so callers may add a few more words without overflow.
pub fn accumulate(sum: u32, data: &[u8]) -> u32 {
    // RFC 1071 §2(B): the sum is independent of byte order, so the words are read in the CPU's
    // order and the folded result swapped once. §2(C): with deferred carries the words may be
    // 64 bits wide; each carry out of bit 63 is added back at once (end-around carry).
    let (blocks, rest) = data.as_chunks::<32>();
    // Two independent carry chains, so the CPU can run them side by side.
    let (mut a, mut b) = (0u64, 0u64);
    for block in blocks {
        let [w0, w1, w2, w3] = block.as_chunks::<8>().0 else {
            continue; // 32 bytes are always four words
        };
        a = add_end_around(a, u64::from_ne_bytes(*w0));
        b = add_end_around(b, u64::from_ne_bytes(*w1));
        a = add_end_around(a, u64::from_ne_bytes(*w2));
        b = add_end_around(b, u64::from_ne_bytes(*w3));
    }
    let mut acc = add_end_around(a, b);
    let (words, tail) = rest.as_chunks::<8>();
    for w in words {
        acc = add_end_around(acc, u64::from_ne_bytes(*w));
    }
    // The last 0–7 bytes: a shift by a multiple of 16 bits does not change a one's-complement
    // sum (2^16 ≡ 1 mod 2^16 − 1), so each piece may be added as a narrower word; a lone last
    // byte is its word's first byte, padded with zero.
    let (w4, rest) = tail.as_chunks::<4>();
    let (w2, last) = rest.as_chunks::<2>();
    let mut t = 0u64;
    for w in w4 {
        t += u64::from(u32::from_ne_bytes(*w));
    }
    for w in w2 {
        t += u64::from(u16::from_ne_bytes(*w));
    }
    if let [b] = last {
        t += u64::from(u16::from_ne_bytes([*b, 0]));
    }
    acc = add_end_around(acc, t);
    let native = fold16(u64::from(acc as u32) + (acc >> 32)) as u16;
    let ours = u16::from_be_bytes(native.to_ne_bytes());
    fold16(u64::from(sum) + u64::from(ours)) as u32
}

/// One's-complement addition of 64-bit words (the carry out is added back in).
#[inline(always)]
fn add_end_around(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + u64::from(carry) // s ≤ 2^64 − 2 when there was a carry: no overflow
}

/// End-around carry down to 16 bits (a non-zero sum stays non-zero, as in 16-bit arithmetic).
fn fold16(mut acc: u64) -> u64 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Fold a running sum to 16 bits and complement it: the value to put in a checksum field.
pub fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Checksum of `data` alone (IPv4 header, ICMP).
pub fn checksum(data: &[u8]) -> u16 {
    finish(accumulate(0, data))
}

/// The IPv4 pseudo-header sum used by UDP and TCP (RFC 768, RFC 9293 §3.1).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: usize) -> u32 {
    let (s, d, len) = (u32::from(src), u32::from(dst), length as u32);
    let sum = u64::from(s >> 16) + u64::from(s & 0xffff) + u64::from(d >> 16);
    let sum = sum + u64::from(d & 0xffff) + u64::from(protocol);
    fold16(sum + u64::from(len & 0xffff) + u64::from(len >> 16)) as u32
}

/// Checksum of a UDP datagram or TCP segment (`data` with its checksum field as it stands).
/// To verify a received one, check that this returns 0.
pub fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, data: &[u8]) -> u16 {
    finish(accumulate(
        pseudo_header(src, dst, protocol, data.len()),
        data,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn a_correct_checksum_verifies_to_zero() {
        // A real IPv4 header (from a capture) with its checksum b861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0);
        let mut zeroed = hdr;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), 0xb861);
    }

    #[test]
    fn long_buffers_do_not_overflow() {
        let data = vec![0xffu8; 200_000];
        assert_eq!(checksum(&data), 0);
    }

    /// The plain RFC 1071 definition: 16-bit words, carries folded as they happen.
    fn reference(data: &[u8]) -> u16 {
        let mut sum = 0u32;
        for c in data.chunks(2) {
            let w = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
            sum += u32::from(w);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn pseudo_header_is_the_sum_of_its_twelve_bytes() {
        // RFC 9293 §3.1: source, destination, zero, protocol, TCP length.
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(255, 254, 0, 1));
        for len in [0usize, 20, 1480, 65515, 70000] {
            let mut p = Vec::from(a.octets());
            p.extend(b.octets());
            p.extend([0, 6]);
            p.extend((len as u16).to_be_bytes());
            let want = finish(accumulate(0, &p) + (len >> 16) as u32);
            assert_eq!(finish(pseudo_header(a, b, 6, len)), want, "len {len}");
        }
    }

    #[test]
    fn any_even_split_gives_the_same_sum() {
        // Words are read 8 bytes at a time in CPU order: a part that starts at an even offset
        // not a multiple of 8 must still land each byte in its half of a 16-bit word.
        let mut rng = crate::rng::Rng::new(9);
        let mut d = vec![0u8; 203];
        rng.fill(&mut d);
        let whole = reference(&d);
        for mid in (0..d.len()).step_by(2) {
            let (a, b) = d.split_at(mid);
            assert_eq!(
                finish(accumulate(accumulate(0, a), b)),
                whole,
                "split at {mid}"
            );
        }
    }

    #[test]
    fn wide_sum_equals_the_16_bit_definition() {
        let mut rng = crate::rng::Rng::new(5);
        for len in (0..70).chain([1499, 1500, 9000, 65515]) {
            for fill in [None, Some(0x00), Some(0xff)] {
                let mut d = vec![0u8; len];
                match fill {
                    Some(b) => d.fill(b),
                    None => rng.fill(&mut d),
                }
                assert_eq!(checksum(&d), reference(&d), "len {len} fill {fill:?}");
                // Split at an even offset: accumulating in two steps gives the same sum.
                let mid = (len / 2) & !1;
                let (a, b) = d.split_at(mid);
                assert_eq!(finish(accumulate(accumulate(0, a), b)), reference(&d));
            }
        }
    }
}
