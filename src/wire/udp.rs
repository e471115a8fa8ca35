//! UDP datagrams (RFC 768): a checked view for input and a builder for output.
//!
//! The checksum covers a pseudo-header (source, destination, protocol, length), the UDP header
//! and the data. A transmitted zero means "no checksum" (RFC 768); a computed zero is sent as
//! 0xFFFF (RFC 768 "If the computed checksum is zero, it is transmitted as all ones").

use std::fmt;
use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::PROTO_UDP;

pub const HEADER_LEN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpError {
    /// Fewer than 8 bytes.
    TooShort,
    /// Length field < 8 or larger than the IP payload.
    BadLength,
    BadChecksum,
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UdpError::TooShort => "shorter than 8 bytes",
            UdpError::BadLength => "bad length field",
            UdpError::BadChecksum => "bad checksum",
        })
    }
}

/// A checked UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> UdpPacket<'a> {
    /// Check length and (unless zero) the checksum. Bytes beyond the length field are trimmed.
    pub fn new_checked(src: Ipv4Addr, dst: Ipv4Addr, bytes: &'a [u8]) -> Result<Self, UdpError> {
        if bytes.len() < HEADER_LEN {
            return Err(UdpError::TooShort);
        }
        let len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        if len < HEADER_LEN {
            return Err(UdpError::BadLength);
        }
        let bytes = bytes.get(..len).ok_or(UdpError::BadLength)?;
        let sum = u16::from_be_bytes([bytes[6], bytes[7]]);
        if sum != 0 && checksum::transport_checksum(src, dst, PROTO_UDP, bytes) != 0 {
            return Err(UdpError::BadChecksum);
        }
        Ok(UdpPacket { bytes })
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]])
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// Header + payload with the checksum filled in (never zero). `payload` must fit the 16-bit
/// length field; the caller checks `MAX_UDP_PAYLOAD`.
pub fn build(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = HEADER_LEN + payload.len();
    let mut d = Vec::with_capacity(len);
    d.extend_from_slice(&src_port.to_be_bytes());
    d.extend_from_slice(&dst_port.to_be_bytes());
    d.extend_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let c = match checksum::transport_checksum(src, dst, PROTO_UDP, &d) {
        0 => 0xffff,
        c => c,
    };
    d[6..8].copy_from_slice(&c.to_be_bytes());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn build_then_parse_odd_length() {
        let d = build(A, B, 1234, 53, b"hello");
        let p = UdpPacket::new_checked(A, B, &d).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.payload()),
            (1234, 53, &b"hello"[..])
        );
        // The pseudo-header binds the addresses: another destination fails.
        assert_eq!(
            UdpPacket::new_checked(A, A, &d).unwrap_err(),
            UdpError::BadChecksum
        );
    }

    #[test]
    fn zero_checksum_means_none_and_length_is_checked() {
        let mut d = build(A, B, 1, 2, b"xyz");
        d[6] = 0;
        d[7] = 0;
        d[8] ^= 0xff; // corrupt data: with no checksum, accepted as is
        assert!(UdpPacket::new_checked(A, B, &d).is_ok());
        d[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(A, B, &d).unwrap_err(),
            UdpError::BadLength
        );
        d[5] = 200;
        assert_eq!(
            UdpPacket::new_checked(A, B, &d).unwrap_err(),
            UdpError::BadLength
        );
        assert_eq!(
            UdpPacket::new_checked(A, B, &d[..7]).unwrap_err(),
            UdpError::TooShort
        );
    }

    #[test]
    fn a_computed_zero_is_sent_as_all_ones() {
        // Find ports whose checksum computes to 0: search the source port.
        let hit = (0..=u16::MAX).find(|&p| {
            let mut d = build(A, B, p, 9, b"");
            d[6] = 0;
            d[7] = 0;
            checksum::transport_checksum(A, B, PROTO_UDP, &d) == 0
        });
        let p = hit.expect("some port sums to zero");
        let d = build(A, B, p, 9, b"");
        assert_eq!(&d[6..8], &[0xff, 0xff]);
        assert!(UdpPacket::new_checked(A, B, &d).is_ok());
    }
}
