//! The TCP header and its options on the wire (RFC 9293 §3.1, §3.2; RFC 7323; RFC 2018).
//!
//! `Segment::parse` validates a received segment (header length, option list) and never panics
//! on bad input: it returns a `ParseError` naming the reason, and the caller drops and counts.
//! `emit_header` writes a header with options into a caller's buffer; `fill_checksum` finishes
//! it. Unknown options are skipped (RFC 9293 §3.1: "MUST be prepared to handle an illegal option
//! length"); a malformed option list rejects the segment. Read next: `state.rs`.

use std::net::Ipv4Addr;

use super::seq::SeqNum;
use crate::wire::checksum::transport_checksum;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;

/// Fixed header length without options (RFC 9293 §3.1).
pub const HEADER_LEN: usize = 20;
/// IPv4 protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// At most this many SACK blocks are parsed or sent (RFC 2018 §3: 4 fit without timestamps).
pub const MAX_SACK_BLOCKS: usize = 4;

/// Why a segment was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    Truncated,
    BadHeaderLen,
    BadOption,
    BadChecksum,
}

/// The options we understand (RFC 9293 §3.2, RFC 7323 §2-3, RFC 2018).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
    pub sack_blocks: [Option<(SeqNum, SeqNum)>; MAX_SACK_BLOCKS],
}

impl TcpOptions {
    /// Bytes these options take on the wire as `Header::emit` lays them out (a multiple of 4).
    pub fn wire_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        match (self.sack_permitted, self.timestamps.is_some()) {
            (_, true) => n += 12,
            (true, false) => n += 4,
            (false, false) => {}
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        let blocks = self.sack_blocks.iter().flatten().count();
        if blocks > 0 {
            n += 4 + 8 * blocks;
        }
        n
    }
}

/// A parsed segment borrowing its payload from the packet.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl<'a> Segment<'a> {
    /// Verify the checksum (RFC 9293 §3.1, pseudo-header) and parse.
    pub fn parse_checked(src: Ipv4Addr, dst: Ipv4Addr, buf: &'a [u8]) -> Result<Self, ParseError> {
        if buf.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if transport_checksum(src, dst, PROTO_TCP, buf) != 0 {
            return Err(ParseError::BadChecksum);
        }
        Self::parse(buf)
    }

    /// Parse without checking the checksum.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        let t = ParseError::Truncated;
        let data_off = usize::from(*buf.get(12).ok_or(t)? >> 4) * 4;
        if data_off < HEADER_LEN {
            return Err(ParseError::BadHeaderLen);
        }
        let opts = buf
            .get(HEADER_LEN..data_off)
            .ok_or(ParseError::BadHeaderLen)?;
        Ok(Segment {
            src_port: be16(buf, 0).ok_or(t)?,
            dst_port: be16(buf, 2).ok_or(t)?,
            seq: SeqNum(be32(buf, 4).ok_or(t)?),
            ack: SeqNum(be32(buf, 8).ok_or(t)?),
            flags: *buf.get(13).ok_or(t)?,
            window: be16(buf, 14).ok_or(t)?,
            options: parse_options(opts)?,
            payload: buf.get(data_off..).ok_or(t)?,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// SEG.LEN: payload plus one for SYN and one for FIN (RFC 9293 §3.4).
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }
}

/// RFC 9293 §3.2: kind 0 = end, 1 = no-op, others kind-length-data. A length < 2 or running past
/// the header is malformed; known options with the wrong length are malformed too.
fn parse_options(mut b: &[u8]) -> Result<TcpOptions, ParseError> {
    // RFC 7323 App. A: NOP, NOP, timestamps is what nearly every segment of a connection with
    // timestamps carries (and all we send without SACK blocks): read it at once.
    if let [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] = *b {
        let ts = (
            u32::from_be_bytes([v0, v1, v2, v3]),
            u32::from_be_bytes([e0, e1, e2, e3]),
        );
        return Ok(TcpOptions {
            timestamps: Some(ts),
            ..TcpOptions::default()
        });
    }
    let mut o = TcpOptions::default();
    let bad = ParseError::BadOption;
    while let Some(&kind) = b.first() {
        match kind {
            0 => break,
            1 => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let len = usize::from(*b.get(1).ok_or(bad)?);
        if len < 2 {
            return Err(bad);
        }
        let data = b.get(2..len).ok_or(bad)?;
        match (kind, data.len()) {
            (2, 2) => o.mss = be16(data, 0),
            (3, 1) => o.window_scale = data.first().copied(),
            (4, 0) => o.sack_permitted = true,
            (5, n) if n % 8 == 0 && n > 0 => {
                for (i, blk) in data.chunks_exact(8).take(MAX_SACK_BLOCKS).enumerate() {
                    let l = be32(blk, 0).ok_or(bad)?;
                    let r = be32(blk, 4).ok_or(bad)?;
                    o.sack_blocks[i] = Some((SeqNum(l), SeqNum(r)));
                }
            }
            (8, 8) => o.timestamps = Some((be32(data, 0).ok_or(bad)?, be32(data, 4).ok_or(bad)?)),
            (2..=5, _) | (8, _) => return Err(bad),
            _ => {} // unknown option: skipped (RFC 9293 §3.2)
        }
        b = b.get(len..).ok_or(bad)?;
    }
    Ok(o)
}

/// The header fields of a segment we send.
#[derive(Clone, Copy, Debug, Default)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
}

impl Header {
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.wire_len()
    }

    /// Write the header (checksum zero) into `buf`; returns its length, or None if `buf` is too
    /// short.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let hlen = self.header_len();
        let h = buf.get_mut(..hlen)?;
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        h[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        h[12] = ((hlen / 4) as u8) << 4;
        h[13] = self.flags;
        h[14..16].copy_from_slice(&self.window.to_be_bytes());
        h[16..20].fill(0); // checksum, urgent pointer
        let mut w = OptWriter {
            buf: &mut h[HEADER_LEN..],
            at: 0,
        };
        let o = &self.options;
        if let Some(mss) = o.mss {
            w.put(&[2, 4]);
            w.put(&mss.to_be_bytes());
        }
        // The layout Linux uses: SACK-permitted shares a word with the timestamp's padding.
        match (o.sack_permitted, o.timestamps) {
            (sack, Some((val, ecr))) => {
                w.put(if sack { &[4, 2, 8, 10] } else { &[1, 1, 8, 10] }); // RFC 7323 App. A
                w.put(&val.to_be_bytes());
                w.put(&ecr.to_be_bytes());
            }
            (true, None) => w.put(&[1, 1, 4, 2]),
            (false, None) => {}
        }
        if let Some(shift) = o.window_scale {
            w.put(&[1, 3, 3, shift]);
        }
        let n_blocks = o.sack_blocks.iter().flatten().count();
        if n_blocks > 0 {
            w.put(&[1, 1, 5, (2 + 8 * n_blocks) as u8]);
            for &(l, r) in o.sack_blocks.iter().flatten() {
                w.put(&l.0.to_be_bytes());
                w.put(&r.0.to_be_bytes());
            }
        }
        let end = w.at;
        h[HEADER_LEN + end..].fill(0); // EOL padding
        Some(hlen)
    }
}

struct OptWriter<'b> {
    buf: &'b mut [u8],
    at: usize,
}
impl OptWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.at += bytes.len();
        }
    }
}

/// Fill in the checksum of a complete segment (RFC 9293 §3.1).
pub fn fill_checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &mut [u8]) {
    if seg.len() < HEADER_LEN {
        return;
    }
    seg[16] = 0;
    seg[17] = 0;
    let c = transport_checksum(src, dst, PROTO_TCP, seg);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
}

/// Leave the checksum for the link to complete (segmentation offload): the field holds the
/// folded pseudo-header sum, not complemented, as `virtio_net_hdr` NEEDS_CSUM (Linux
/// CHECKSUM_PARTIAL) expects; the link sums from the TCP header on (RFC 1071).
pub fn fill_partial_checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &mut [u8]) {
    if seg.len() < HEADER_LEN {
        return;
    }
    let partial = !crate::wire::checksum::finish(crate::wire::checksum::pseudo_header(
        src,
        dst,
        PROTO_TCP,
        seg.len(),
    ));
    seg[16..18].copy_from_slice(&partial.to_be_bytes());
}

/// tcpdump-style flag string ("S.", "F.", "R", "P.").
pub fn flag_str(flags: u8) -> String {
    let mut s = String::new();
    for (f, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (URG, 'U')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    if flags & ACK != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(h: &Header, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 100];
        let n = h.emit(&mut buf).unwrap();
        buf.truncate(n);
        buf.extend_from_slice(payload);
        buf
    }

    #[test]
    fn header_with_all_options_round_trips() {
        let mut options = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((123, 456)),
            ..Default::default()
        };
        options.sack_blocks[0] = Some((SeqNum(10), SeqNum(20)));
        let h = Header {
            src_port: 1,
            dst_port: 2,
            seq: SeqNum(u32::MAX),
            ack: SeqNum(7),
            flags: SYN | ACK,
            window: 999,
            options,
        };
        let (a, b) = (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8));
        let mut bytes = build(&h, b"hi");
        fill_checksum(a, b, &mut bytes);
        let s = Segment::parse_checked(a, b, &bytes).unwrap();
        assert_eq!((s.src_port, s.dst_port, s.seq, s.ack), (1, 2, h.seq, h.ack));
        assert_eq!((s.flags, s.window, s.payload), (SYN | ACK, 999, &b"hi"[..]));
        assert_eq!(s.options, options);
        assert_eq!(s.seg_len(), 3);
        bytes[25] ^= 1;
        assert_eq!(
            Segment::parse_checked(a, b, &bytes).unwrap_err(),
            ParseError::BadChecksum
        );
    }

    #[test]
    fn timestamps_read_alike_in_any_layout() {
        // The NOP, NOP, TS fast path and the general walk (TS first, then NOPs) agree.
        let ts = [8, 10, 0, 0, 1, 2, 0xff, 0, 0, 3];
        let usual = [&[1, 1][..], &ts].concat();
        let other = [&ts[..], &[1, 1]].concat();
        let (a, b) = (parse_options(&usual), parse_options(&other));
        assert_eq!(a, b);
        assert_eq!(a.unwrap().timestamps, Some((258, 0xff00_0003)));
        // A wrong timestamp length is still malformed.
        assert_eq!(
            parse_options(&[1, 1, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(ParseError::BadOption)
        );
    }

    #[test]
    fn unknown_options_are_skipped_and_bad_lengths_rejected() {
        let mut b = build(&Header::default(), b"");
        b[12] = 0x70; // 28-byte header: 8 option bytes
        b.extend_from_slice(&[30, 4, 0, 0, 2, 4, 5, 0]); // unknown kind 30, then MSS 1280
        assert_eq!(Segment::parse(&b).unwrap().options.mss, Some(1280));
        let n = b.len();
        b[n - 7] = 0; // unknown option with length 0
        assert_eq!(Segment::parse(&b).unwrap_err(), ParseError::BadOption);
        b[n - 7] = 9; // runs past the header
        assert_eq!(Segment::parse(&b).unwrap_err(), ParseError::BadOption);
        b[12] = 0x10; // data offset 4 words
        assert_eq!(Segment::parse(&b).unwrap_err(), ParseError::BadHeaderLen);
        assert_eq!(Segment::parse(&b[..10]).unwrap_err(), ParseError::Truncated);
    }
}
