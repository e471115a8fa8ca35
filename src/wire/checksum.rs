//! The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.

use std::net::Ipv4Addr;

/// Add `data` to a running 32-bit sum (big-endian words; an odd last byte is padded with zero).
/// The result is at most 0xffff, so callers may add a few more words without overflow.
pub fn accumulate(sum: u32, data: &[u8]) -> u32 {
    // RFC 1071 §2(B, C): the sum may be taken over wider words with deferred carries. A 32-bit
    // word hi·2^16 + lo is congruent to hi + lo modulo 2^16 − 1, so eight bytes at a time into
    // a 64-bit accumulator (each step adds < 2^33: no overflow below 2^31 steps) is the same sum.
    let mut acc = u64::from(sum);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for c in &mut words {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    // End-around carry down to 16 bits (a non-zero sum stays non-zero, as in 16-bit arithmetic).
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
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
    let mut sum = accumulate(0, &src.octets());
    sum = accumulate(sum, &dst.octets());
    sum = sum.wrapping_add(u32::from(protocol));
    sum.wrapping_add(length as u32 & 0xffff)
        .wrapping_add((length as u32) >> 16)
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
