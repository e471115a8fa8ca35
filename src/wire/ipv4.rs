//! IPv4 header layout (RFC 791 §3.1): a checked zero-copy view for input, `Ipv4Repr` for output.
//!
//! `Ipv4Packet::new_checked` validates everything a host must check before looking further
//! (version, IHL, total length, header checksum) and names the reason when it refuses.
//! Options are kept in `header()` but not interpreted. Read next: `icmpv4.rs`, `udp.rs`.

use std::fmt;
use std::net::Ipv4Addr;

use super::checksum;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
/// Header without options (RFC 791 §3.1: IHL ≥ 5 words).
pub const HEADER_LEN: usize = 20;
/// Total Length is a 16-bit field (RFC 791 §3.1).
pub const MAX_DATAGRAM: usize = 65535;
/// Largest UDP payload: 65535 - 20 (IPv4) - 8 (UDP).
pub const MAX_UDP_PAYLOAD: usize = MAX_DATAGRAM - HEADER_LEN - 8;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// Why an IPv4 packet was refused before any further look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer than 20 bytes, or fewer than the IHL says.
    TooShort,
    /// Version nibble 6: an IPv6 packet.
    Ipv6,
    /// Version nibble neither 4 nor 6.
    BadVersion(u8),
    /// IHL < 5.
    BadIhl,
    /// Total Length says more bytes than we read.
    Truncated,
    /// Total Length smaller than the header.
    BadTotalLen,
    BadChecksum,
}

impl fmt::Display for Ipv4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Error::TooShort => f.write_str("shorter than its header"),
            Ipv4Error::Ipv6 => f.write_str("IPv6"),
            Ipv4Error::BadVersion(v) => write!(f, "IP version {v}"),
            Ipv4Error::BadIhl => f.write_str("IHL < 5"),
            Ipv4Error::Truncated => f.write_str("total length > bytes received"),
            Ipv4Error::BadTotalLen => f.write_str("total length < header length"),
            Ipv4Error::BadChecksum => f.write_str("bad header checksum"),
        }
    }
}

/// A validated IPv4 packet: header (with options) and payload, trailing link padding trimmed.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    header: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    /// RFC 791 §3.1 / RFC 1122 §3.2.1.1-2: check version, IHL, Total Length and checksum.
    /// Bytes beyond Total Length are trimmed; fewer bytes than Total Length is an error.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, Ipv4Error> {
        let first = *bytes.first().ok_or(Ipv4Error::TooShort)?;
        match first >> 4 {
            4 => {}
            6 => return Err(Ipv4Error::Ipv6),
            v => return Err(Ipv4Error::BadVersion(v)),
        }
        if bytes.len() < HEADER_LEN {
            return Err(Ipv4Error::TooShort);
        }
        let hlen = usize::from(first & 0x0f) * 4;
        if hlen < HEADER_LEN {
            return Err(Ipv4Error::BadIhl);
        }
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if total < hlen {
            return Err(Ipv4Error::BadTotalLen);
        }
        if total > bytes.len() {
            return Err(Ipv4Error::Truncated);
        }
        let (header, rest) = bytes.split_at(hlen);
        let payload = rest.get(..total - hlen).ok_or(Ipv4Error::Truncated)?;
        if checksum::checksum(header) != 0 {
            return Err(Ipv4Error::BadChecksum);
        }
        Ok(Ipv4Packet { header, payload })
    }

    /// The header including options.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    pub fn header_len(&self) -> usize {
        self.header.len()
    }
    pub fn tos(&self) -> u8 {
        self.header[1]
    }
    pub fn total_len(&self) -> usize {
        self.header.len() + self.payload.len()
    }
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.header[4], self.header[5]])
    }
    fn flags_offset(&self) -> u16 {
        u16::from_be_bytes([self.header[6], self.header[7]])
    }
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }
    /// Fragment offset in bytes (the field counts 8-byte units, RFC 791 §3.1).
    pub fn frag_offset(&self) -> usize {
        usize::from(self.flags_offset() & OFFSET_MASK) * 8
    }
    /// Part of a fragmented datagram (MF set or offset non-zero).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    pub fn ttl(&self) -> u8 {
        self.header[8]
    }
    pub fn protocol(&self) -> u8 {
        self.header[9]
    }
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.header[10], self.header[11]])
    }
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.header[12],
            self.header[13],
            self.header[14],
            self.header[15],
        )
    }
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.header[16],
            self.header[17],
            self.header[18],
            self.header[19],
        )
    }
}

/// The header of a datagram we send (no options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub id: u16,
    pub tos: u8,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Bytes; a multiple of 8.
    pub frag_offset: usize,
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// A plain unfragmented header with TTL 64 and ID 0.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload_len: usize) -> Self {
        Ipv4Repr {
            src,
            dst,
            protocol,
            ttl: 64,
            id: 0,
            tos: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            payload_len,
        }
    }

    /// Write the 20-byte header (checksum filled in) at the start of `buf`; false if `buf` is
    /// shorter than 20 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> bool {
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return false;
        };
        let total = (HEADER_LEN + self.payload_len).min(MAX_DATAGRAM) as u16;
        let mut fo = ((self.frag_offset / 8) as u16) & OFFSET_MASK;
        if self.dont_frag {
            fo |= FLAG_DF;
        }
        if self.more_frags {
            fo |= FLAG_MF;
        }
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.id.to_be_bytes());
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        true
    }

    /// A whole packet: this header (with `payload_len` set from `payload`) and the payload.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut repr = self.clone();
        repr.payload_len = payload.len();
        let mut out = vec![0u8; HEADER_LEN + payload.len()];
        repr.emit(&mut out);
        out[HEADER_LEN..].copy_from_slice(payload);
        out
    }

    /// Split `payload` into fragments that fit `mtu` (RFC 791 §3.2: data in 8-byte units, MF on
    /// all but the last). One unfragmented packet if it fits.
    pub fn fragment(&self, payload: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let max_data = (mtu.saturating_sub(HEADER_LEN) & !7).max(8);
        if payload.len() + HEADER_LEN <= mtu {
            return vec![self.build(payload)];
        }
        payload
            .chunks(max_data)
            .enumerate()
            .map(|(i, chunk)| {
                let off = i * max_data;
                let mut r = self.clone();
                r.frag_offset = self.frag_offset + off;
                r.more_frags = self.more_frags || off + chunk.len() < payload.len();
                r.build(chunk)
            })
            .collect()
    }
}

/// Rewrite a received header (options kept) for a reassembled datagram: Total Length set, MF and
/// offset cleared, checksum recomputed.
pub fn reassembled_header(first: &[u8], payload_len: usize) -> Vec<u8> {
    let mut h = first.to_vec();
    let total = (h.len() + payload_len).min(MAX_DATAGRAM) as u16;
    if let Some(b) = h.get_mut(2..4) {
        b.copy_from_slice(&total.to_be_bytes());
    }
    if let Some(b) = h.get_mut(6..8) {
        let keep_df = u16::from_be_bytes([b[0], b[1]]) & FLAG_DF;
        b.copy_from_slice(&keep_df.to_be_bytes());
    }
    if let Some(b) = h.get_mut(10..12) {
        b.copy_from_slice(&[0, 0]);
    }
    let c = checksum::checksum(&h);
    if let Some(b) = h.get_mut(10..12) {
        b.copy_from_slice(&c.to_be_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn build_then_parse_gives_back_every_field() {
        let mut r = Ipv4Repr::new(A, B, PROTO_UDP, 0);
        r.ttl = 7;
        r.id = 0xbeef;
        r.tos = 0x10;
        r.dont_frag = true;
        let pkt = r.build(b"hello");
        let p = Ipv4Packet::new_checked(&pkt).unwrap();
        assert_eq!(
            (p.src(), p.dst(), p.protocol(), p.ttl()),
            (A, B, PROTO_UDP, 7)
        );
        assert_eq!(
            (p.id(), p.tos(), p.dont_frag(), p.more_frags()),
            (0xbeef, 0x10, true, false)
        );
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.total_len(), 25);
        assert!(!p.is_fragment());
    }

    #[test]
    fn trailing_bytes_are_trimmed_and_short_packets_refused() {
        let mut pkt = Ipv4Repr::new(A, B, PROTO_UDP, 0).build(b"abc");
        pkt.extend_from_slice(&[0; 5]);
        assert_eq!(Ipv4Packet::new_checked(&pkt).unwrap().payload(), b"abc");
        assert_eq!(
            Ipv4Packet::new_checked(&pkt[..22]).unwrap_err(),
            Ipv4Error::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&pkt[..19]).unwrap_err(),
            Ipv4Error::TooShort
        );
    }

    #[test]
    fn each_header_fault_has_its_own_reason() {
        let good = Ipv4Repr::new(A, B, PROTO_UDP, 0).build(b"abcd");
        let mut v = good.clone();
        v[0] = 0x55;
        assert_eq!(
            Ipv4Packet::new_checked(&v).unwrap_err(),
            Ipv4Error::BadVersion(5)
        );
        let mut v = good.clone();
        v[0] = 0x60;
        assert_eq!(Ipv4Packet::new_checked(&v).unwrap_err(), Ipv4Error::Ipv6);
        let mut v = good.clone();
        v[0] = 0x44;
        assert_eq!(Ipv4Packet::new_checked(&v).unwrap_err(), Ipv4Error::BadIhl);
        let mut v = good.clone();
        v[3] = 10;
        assert_eq!(
            Ipv4Packet::new_checked(&v).unwrap_err(),
            Ipv4Error::BadTotalLen
        );
        let mut v = good.clone();
        v[10] ^= 1;
        assert_eq!(
            Ipv4Packet::new_checked(&v).unwrap_err(),
            Ipv4Error::BadChecksum
        );
        assert_eq!(
            Ipv4Packet::new_checked(&[]).unwrap_err(),
            Ipv4Error::TooShort
        );
    }

    #[test]
    fn fragments_are_8_byte_aligned_and_cover_the_payload() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let frags = Ipv4Repr::new(A, B, PROTO_ICMP, 0).fragment(&payload, 1006);
        assert_eq!(frags.len(), 4);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let p = Ipv4Packet::new_checked(f).unwrap();
            assert!(f.len() <= 1006);
            assert_eq!(p.frag_offset(), joined.len());
            assert_eq!(p.frag_offset() % 8, 0);
            assert_eq!(p.more_frags(), i + 1 < frags.len());
            joined.extend_from_slice(p.payload());
        }
        assert_eq!(joined, payload);
    }

    #[test]
    fn reassembled_header_clears_fragment_fields() {
        let mut r = Ipv4Repr::new(A, B, PROTO_UDP, 0);
        r.more_frags = true;
        r.dont_frag = true;
        let pkt = r.build(&[0; 16]);
        let h = reassembled_header(&pkt[..20], 100);
        let mut full = h.clone();
        full.extend_from_slice(&[0; 100]);
        let p = Ipv4Packet::new_checked(&full).unwrap();
        assert!(!p.is_fragment());
        assert!(p.dont_frag());
        assert_eq!(p.total_len(), 120);
    }
}
