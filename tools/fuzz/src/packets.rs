//! Reading structured fuzz input, and building the TCP segments the harness sends.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use tunstack::wire::checksum;
use tunstack::wire::ipv4::PROTO_TCP;

/// Reads the fuzz input; past its end every read yields zeros.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// `n` bytes: from the input while it lasts, then a pattern.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let k = n.min(self.data.len());
        let (a, b) = self.data.split_at(k);
        self.data = b;
        let mut v = a.to_vec();
        v.extend((k..n).map(|i| (i % 251) as u8));
        v
    }
}

/// TCP options: MSS 1000, SACK permitted, timestamps, window scale 2 (NOP-padded to 20 bytes).
pub fn syn_options(ts: u32) -> Vec<u8> {
    let mut o = vec![2, 4, 0x03, 0xe8, 4, 2, 8, 10];
    o.extend_from_slice(&ts.to_be_bytes());
    o.extend_from_slice(&0u32.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, 2]);
    o
}

/// Timestamps option (NOP NOP TS), 12 bytes.
pub fn ts_option(val: u32, ecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&val.to_be_bytes());
    o.extend_from_slice(&ecr.to_be_bytes());
    o
}

/// A TCP segment with `options` (padded with NOPs to 4 bytes, cut at 40) and a valid checksum.
#[allow(clippy::too_many_arguments)]
pub fn tcp_segment(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut opts = options.get(..options.len().min(40)).unwrap_or(&[]).to_vec();
    while opts.len() % 4 != 0 {
        opts.push(1);
    }
    let hlen = 20 + opts.len();
    let mut seg = Vec::with_capacity(hlen + payload.len());
    seg.extend_from_slice(&sport.to_be_bytes());
    seg.extend_from_slice(&dport.to_be_bytes());
    seg.extend_from_slice(&seq.to_be_bytes());
    seg.extend_from_slice(&ack.to_be_bytes());
    seg.push(((hlen / 4) as u8) << 4);
    seg.push(flags);
    seg.extend_from_slice(&window.to_be_bytes());
    seg.extend_from_slice(&[0, 0, 0, 0]);
    seg.extend_from_slice(&opts);
    seg.extend_from_slice(payload);
    let c = checksum::transport_checksum(src, dst, PROTO_TCP, &seg);
    if let Some(s) = seg.get_mut(16..18) {
        s.copy_from_slice(&c.to_be_bytes());
    }
    seg
}
