//! Packets and sequence bookkeeping of the TCP-aware TUN ceilings (`tcpsink.rs`,
//! `tcpsource.rs`): the least a TCP receiver or sender must do on a TUN, one packet per syscall.
//! Hand-built IPv4/TCP (no options on data segments and ACKs: no timestamps, no SACK), all pure
//! so the unit tests need no device. A benchmark harness, not a stack.

use std::io;
use std::net::Ipv4Addr;

use tunstack::wire::checksum::{accumulate, checksum, finish, pseudo_header, transport_checksum};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Our window scale shift (RFC 7323 §2.3): windows up to 65535 << 8 ≈ 16 MiB.
pub const WSCALE: u8 = 8;

/// `a < b` in sequence space (RFC 9293 §3.4, modulo 2^32).
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A parsed IPv4/TCP packet (only what the ceilings use).
#[derive(Debug, Clone, Copy)]
pub struct Seg<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// MSS and window scale options (RFC 9293 §3.7.1, RFC 7323 §2.2), SYNs only.
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub payload: &'a [u8],
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(at..at + 2)?.try_into().ok()?))
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// Parse an IPv4/TCP packet; `None` for anything else or malformed. With `verify`, the IPv4
/// header checksum and the TCP checksum must be right (RFC 791, RFC 9293 §3.1).
pub fn parse(p: &[u8], verify: bool) -> Option<Seg<'_>> {
    let (&vihl, &proto) = (p.first()?, p.get(9)?);
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(be16(p, 2)?);
    if vihl >> 4 != 4 || proto != 6 || ihl < 20 || total < ihl + 20 || total > p.len() {
        return None;
    }
    let ip = p.get(..ihl)?;
    let tcp = p.get(ihl..total)?;
    let src = Ipv4Addr::from(be32(ip, 12)?);
    let dst = Ipv4Addr::from(be32(ip, 16)?);
    if verify && (checksum(ip) != 0 || transport_checksum(src, dst, 6, tcp) != 0) {
        return None;
    }
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    let opts = tcp.get(20..doff)?;
    let (mut mss, mut wscale, mut i) = (None, None, 0);
    // RFC 9293 §3.1: kind 0 ends the list, 1 is one byte, the others carry a length.
    while let Some(&kind) = opts.get(i) {
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let len = usize::from(*opts.get(i + 1)?);
                match (kind, len) {
                    (2, 4) => mss = be16(opts, i + 2),
                    (3, 3) => wscale = opts.get(i + 2).map(|s| (*s).min(14)),
                    _ => {}
                }
                i += len.max(2);
            }
        }
    }
    Some(Seg {
        src,
        dst,
        sport: be16(tcp, 0)?,
        dport: be16(tcp, 2)?,
        seq: be32(tcp, 4)?,
        ack: be32(tcp, 8)?,
        flags: *tcp.get(13)?,
        window: be16(tcp, 14)?,
        mss,
        wscale,
        payload: tcp.get(doff..)?,
    })
}

/// One packet built once, of which only the sequence and acknowledgment numbers change: the
/// payload's part of the TCP checksum is summed once, so each packet costs a 20-byte sum.
pub struct Template {
    pub pkt: Vec<u8>,
    tcp_at: usize,
    /// Pseudo-header + options + payload, summed once.
    base: u32,
}

impl Template {
    /// IPv4 (DF, TTL 64, ID 0: RFC 6864 allows a constant ID on atomic datagrams) + TCP with
    /// `options` (a multiple of 4 bytes) and `payload`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        sport: u16,
        dport: u16,
        flags: u8,
        window: u16,
        options: &[u8],
        payload: &[u8],
    ) -> Template {
        assert!(options.len().is_multiple_of(4) && options.len() <= 40);
        let tcp_len = 20 + options.len() + payload.len();
        let total = 20 + tcp_len;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        let ipsum = checksum(&p[..20]);
        p[10..12].copy_from_slice(&ipsum.to_be_bytes());
        let t = 20;
        p[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        p[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        p[t + 12] = (((20 + options.len()) / 4) << 4) as u8; // data offset in 32-bit words
        p[t + 13] = flags;
        p[t + 14..t + 16].copy_from_slice(&window.to_be_bytes());
        p[t + 20..t + 20 + options.len()].copy_from_slice(options);
        p[t + 20 + options.len()..].copy_from_slice(payload);
        let base = accumulate(pseudo_header(src, dst, 6, tcp_len), &p[t + 20..]);
        let mut tpl = Template {
            pkt: p,
            tcp_at: t,
            base,
        };
        tpl.set(0, 0);
        tpl
    }

    /// Change the flags (summed with the header in `set`).
    pub fn set_flags(&mut self, flags: u8) {
        self.pkt[self.tcp_at + 13] = flags;
    }

    /// Set SEG.SEQ and SEG.ACK and the TCP checksum over the 20-byte header plus the base sum.
    pub fn set(&mut self, seq: u32, ack: u32) -> &[u8] {
        let t = self.tcp_at;
        self.pkt[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        self.pkt[t + 8..t + 12].copy_from_slice(&ack.to_be_bytes());
        self.pkt[t + 16..t + 18].copy_from_slice(&[0, 0]);
        let sum = finish(accumulate(self.base, &self.pkt[t..t + 20]));
        self.pkt[t + 16..t + 18].copy_from_slice(&sum.to_be_bytes());
        &self.pkt
    }
}

/// SYN options: MSS, NOP, window scale (RFC 9293 §3.7.1, RFC 7323 §2.2).
pub fn syn_options(mss: u16) -> [u8; 8] {
    let m = mss.to_be_bytes();
    [2, 4, m[0], m[1], 1, 3, 3, WSCALE]
}

/// When the sink sends its cumulative ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckPolicy {
    /// At least every second full-sized segment (RFC 9293 §3.8.6.3), and when the TUN queue
    /// is empty (EAGAIN) with anything unacknowledged.
    Every2,
    /// One ACK per batch of reads: when the TUN queue is empty (EAGAIN), or after
    /// `BATCH_MAX` segments, as tunstack's driver (`READ_BATCH` in src/runtime/driver.rs).
    Eagain,
}

/// The longest batch of the `Eagain` policy: without a bound, a sender whose whole window
/// arrives before the queue empties stops and waits for each ACK (stop-and-go).
pub const BATCH_MAX: u32 = 256;

impl std::str::FromStr for AckPolicy {
    type Err = io::Error;
    fn from_str(s: &str) -> io::Result<AckPolicy> {
        match s {
            "every2" => Ok(AckPolicy::Every2),
            "eagain" => Ok(AckPolicy::Eagain),
            _ => Err(io::Error::other("--ack every2|eagain")),
        }
    }
}

/// The sink's receive state: no buffer, no reassembly.
#[derive(Debug)]
pub struct Receiver {
    pub rcv_nxt: u32,
    pub mss: usize,
    pub policy: AckPolicy,
    /// `Eagain`: the longest batch (`BATCH_MAX` unless changed; 0 = until EAGAIN only).
    pub batch_max: u32,
    /// Full-sized segments, and all segments, received since the last ACK.
    pub unacked_full: u32,
    pub unacked_segs: u32,
    /// RCV.NXT at the last ACK sent.
    pub acked: u32,
    pub fin: bool,
    pub in_order_bytes: u64,
    pub out_of_order: u64,
}

impl Receiver {
    pub fn new(irs: u32, mss: usize, policy: AckPolicy) -> Receiver {
        let n = irs.wrapping_add(1);
        Receiver {
            rcv_nxt: n,
            mss,
            policy,
            batch_max: BATCH_MAX,
            unacked_full: 0,
            unacked_segs: 0,
            acked: n,
            fin: false,
            in_order_bytes: 0,
            out_of_order: 0,
        }
    }

    /// A segment arrived: true if an ACK is due now.
    pub fn on_segment(&mut self, seq: u32, len: usize, fin: bool) -> bool {
        if seq != self.rcv_nxt {
            // Out of order or a duplicate: dropped, and an immediate ACK of RCV.NXT
            // (RFC 9293 §3.10.7.4, RFC 5681 §4.2).
            if len > 0 || fin {
                self.out_of_order += 1;
                return true;
            }
            return false;
        }
        self.rcv_nxt = self.rcv_nxt.wrapping_add(len as u32);
        self.in_order_bytes += len as u64;
        if fin {
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            self.fin = true;
            return true; // RFC 9293 §3.10.7.4: a FIN is acknowledged at once
        }
        if len >= self.mss {
            self.unacked_full += 1;
        }
        self.unacked_segs += 1;
        match self.policy {
            AckPolicy::Every2 => self.unacked_full >= 2,
            AckPolicy::Eagain => self.batch_max > 0 && self.unacked_segs >= self.batch_max,
        }
    }

    /// The TUN queue is empty: true if anything is unacknowledged.
    pub fn on_idle(&self) -> bool {
        self.acked != self.rcv_nxt
    }

    /// An ACK of RCV.NXT goes out.
    pub fn acked_now(&mut self) -> u32 {
        self.acked = self.rcv_nxt;
        self.unacked_full = 0;
        self.unacked_segs = 0;
        self.rcv_nxt
    }
}

/// The source's send state: SND.UNA, SND.NXT and the peer's window, no retransmission.
#[derive(Debug)]
pub struct Sender {
    pub una: u32,
    pub nxt: u32,
    /// SND.WND in bytes (scaled, RFC 7323 §2.3).
    pub wnd: u64,
    pub shift: u8,
    window_field: u16,
    dupacks: u32,
    /// Bytes acknowledged so far (SND.UNA wraps; this does not).
    pub acked_bytes: u64,
}

impl Sender {
    /// After the handshake: `iss + 1` sent and acknowledged; `window` from the SYN,ACK (never
    /// scaled, RFC 7323 §2.2).
    pub fn new(iss: u32, window: u16, shift: u8) -> Sender {
        let n = iss.wrapping_add(1);
        Sender {
            una: n,
            nxt: n,
            wnd: u64::from(window),
            shift,
            window_field: window,
            dupacks: 0,
            acked_bytes: 0,
        }
    }

    pub fn in_flight(&self) -> u64 {
        u64::from(self.nxt.wrapping_sub(self.una))
    }

    /// May a segment of `len` bytes go out (RFC 9293 §3.8.6.2.1: within SND.UNA + SND.WND)?
    pub fn can_send(&self, len: usize) -> bool {
        self.in_flight() + len as u64 <= self.wnd
    }

    pub fn sent(&mut self, len: usize) {
        self.nxt = self.nxt.wrapping_add(len as u32);
    }

    /// An ACK arrived. Err when it shows a loss: three duplicate ACKs (RFC 5681 §2: same ACK,
    /// same window, data outstanding) — the ceiling does not retransmit, so the run is void.
    pub fn on_ack(&mut self, ack: u32, window: u16) -> io::Result<()> {
        if seq_lt(self.nxt, ack) {
            return Err(io::Error::other("ACK of data never sent"));
        }
        if seq_lt(self.una, ack) {
            self.acked_bytes += u64::from(ack.wrapping_sub(self.una));
            self.una = ack;
            self.dupacks = 0;
        } else if ack == self.una && window == self.window_field && self.una != self.nxt {
            self.dupacks += 1;
            if self.dupacks >= 3 {
                return Err(io::Error::other(format!(
                    "three duplicate ACKs of {ack}: a segment was lost, no figure"
                )));
            }
        }
        if !seq_lt(ack, self.una) {
            // RFC 9293 §3.10.7.4: the window of an ACK that is not old.
            self.window_field = window;
            self.wnd = u64::from(window) << self.shift;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tcpceil_tests.rs"]
mod tests;
