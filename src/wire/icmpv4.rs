//! ICMPv4 messages (RFC 792): a checked view for input and builders for echo and error messages.
//!
//! Every ICMP message starts with type, code, checksum and four type-specific bytes; the checksum
//! covers the whole message (RFC 792, "Checksum"). Error messages carry the offending datagram's
//! IP header and at least 8 bytes of its data (RFC 792; RFC 1812 §4.3.2.3: as much as fits in 576).

use std::fmt;
use std::net::Ipv4Addr;

use super::checksum;

pub const ECHO_REPLY: u8 = 0;
pub const DEST_UNREACHABLE: u8 = 3;
pub const SOURCE_QUENCH: u8 = 4;
pub const REDIRECT: u8 = 5;
pub const ECHO_REQUEST: u8 = 8;
pub const TIME_EXCEEDED: u8 = 11;
pub const PARAMETER_PROBLEM: u8 = 12;

/// Destination Unreachable codes (RFC 792).
pub const CODE_NET_UNREACHABLE: u8 = 0;
pub const CODE_HOST_UNREACHABLE: u8 = 1;
pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Time Exceeded codes (RFC 792).
pub const CODE_TTL_EXCEEDED: u8 = 0;
pub const CODE_REASSEMBLY_TIME_EXCEEDED: u8 = 1;

/// Type, code, checksum, rest-of-header.
pub const HEADER_LEN: usize = 8;
/// RFC 1812 §4.3.2.3: an ICMP error datagram should not exceed 576 bytes.
pub const MAX_ERROR_DATAGRAM: usize = 576;
/// Quote budget inside 576 bytes: minus our IPv4 header (20) and the ICMP header (8).
pub const MAX_QUOTE: usize = MAX_ERROR_DATAGRAM - 20 - HEADER_LEN;

/// Error messages (as opposed to queries): never answered with another error (RFC 1122 §3.2.2).
pub fn is_error_type(t: u8) -> bool {
    matches!(
        t,
        DEST_UNREACHABLE | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAMETER_PROBLEM
    )
}

/// Query (informational) messages: echo, router advertisement/solicitation, timestamp,
/// information, address mask (RFC 792, RFC 1256, RFC 950).
pub fn is_query_type(t: u8) -> bool {
    matches!(t, 0 | 8 | 9 | 10 | 13..=18)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    TooShort,
    BadChecksum,
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IcmpError::TooShort => "shorter than 8 bytes",
            IcmpError::BadChecksum => "bad checksum",
        })
    }
}

/// A checked ICMP message.
#[derive(Clone, Copy, Debug)]
pub struct Icmpv4Packet<'a> {
    bytes: &'a [u8],
}

impl<'a> Icmpv4Packet<'a> {
    /// At least 8 bytes and a checksum that verifies (RFC 792).
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, IcmpError> {
        if bytes.len() < HEADER_LEN {
            return Err(IcmpError::TooShort);
        }
        if checksum::checksum(bytes) != 0 {
            return Err(IcmpError::BadChecksum);
        }
        Ok(Icmpv4Packet { bytes })
    }
    pub fn msg_type(&self) -> u8 {
        self.bytes[0]
    }
    pub fn code(&self) -> u8 {
        self.bytes[1]
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    /// Echo identifier (echo request/reply only).
    pub fn echo_id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    /// Echo sequence number (echo request/reply only).
    pub fn echo_seq(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]])
    }
    pub fn rest_of_header(&self) -> [u8; 4] {
        [self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]]
    }
    /// Echo data, or the quoted datagram of an error message.
    pub fn data(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// A whole ICMP message with its checksum.
pub fn build(msg_type: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER_LEN + data.len());
    m.extend_from_slice(&[msg_type, code, 0, 0]);
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Echo request or reply (RFC 792 "Echo or Echo Reply Message").
pub fn build_echo(msg_type: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let [a, b] = id.to_be_bytes();
    let [c, d] = seq.to_be_bytes();
    build(msg_type, 0, [a, b, c, d], data)
}

/// An error message quoting `quote` (the offending IP header and data), cut to `MAX_QUOTE`.
pub fn build_error(msg_type: u8, code: u8, quote: &[u8]) -> Vec<u8> {
    let q = quote.get(..MAX_QUOTE).unwrap_or(quote);
    build(msg_type, code, [0; 4], q)
}

/// The part of an error message that identifies the offending datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// The transport bytes after the quoted IP header (at least 8).
    pub transport: &'a [u8],
}

/// Parse the quoted IP header + 8 bytes of an error message (RFC 792). The quoted header's
/// checksum and length are not checked: routers may have changed them, and the quote is cut.
pub fn parse_quote(data: &[u8]) -> Option<Quote<'_>> {
    let first = *data.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(first & 0x0f) * 4;
    if hlen < 20 {
        return None;
    }
    let header = data.get(..hlen)?;
    let transport = data.get(hlen..)?;
    if transport.len() < 8 {
        return None;
    }
    Some(Quote {
        src: Ipv4Addr::new(header[12], header[13], header[14], header[15]),
        dst: Ipv4Addr::new(header[16], header[17], header[18], header[19]),
        protocol: header[9],
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip_keeps_id_seq_and_odd_length_data() {
        let m = build_echo(ECHO_REQUEST, 0x1234, 7, b"odd");
        let p = Icmpv4Packet::new_checked(&m).unwrap();
        assert_eq!((p.msg_type(), p.code()), (ECHO_REQUEST, 0));
        assert_eq!((p.echo_id(), p.echo_seq()), (0x1234, 7));
        assert_eq!(p.data(), b"odd");
    }

    #[test]
    fn corrupt_or_short_messages_are_refused() {
        let mut m = build_echo(ECHO_REQUEST, 1, 1, b"abcdef");
        m[9] ^= 0x40;
        assert_eq!(
            Icmpv4Packet::new_checked(&m).unwrap_err(),
            IcmpError::BadChecksum
        );
        assert_eq!(
            Icmpv4Packet::new_checked(&m[..7]).unwrap_err(),
            IcmpError::TooShort
        );
    }

    #[test]
    fn errors_quote_at_most_548_bytes() {
        let big = vec![0x45u8; 2000];
        let m = build_error(DEST_UNREACHABLE, CODE_PORT_UNREACHABLE, &big);
        assert_eq!(m.len(), HEADER_LEN + MAX_QUOTE);
        assert_eq!(20 + m.len(), MAX_ERROR_DATAGRAM);
        assert!(Icmpv4Packet::new_checked(&m).is_ok());
    }

    #[test]
    fn quote_needs_a_v4_header_and_8_bytes() {
        let mut q = vec![0u8; 28];
        q[0] = 0x45;
        q[9] = 17;
        q[12..16].copy_from_slice(&[1, 2, 3, 4]);
        let parsed = parse_quote(&q).unwrap();
        assert_eq!(
            (parsed.src, parsed.protocol),
            (Ipv4Addr::new(1, 2, 3, 4), 17)
        );
        assert_eq!(parsed.transport.len(), 8);
        assert!(parse_quote(&q[..27]).is_none());
        q[0] = 0x44;
        assert!(parse_quote(&q).is_none());
    }
}
