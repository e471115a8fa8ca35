//! A small scenario harness for tests that read like packet traces: a peer (198.18.0.1 by
//! default) sends packets built with `wire`, virtual time advances, and what the stack
//! transmitted is collected and parsed. Used by `tests/ipv4_*`, `icmp_*`, `udp_*`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{Stack, StackConfig};
use crate::time::{Duration, Instant};
use crate::wire::checksum;
use crate::wire::icmpv4;
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::pretty;
use crate::wire::udp;

/// The kernel side of the default TUN (RFC 2544 benchmark range).
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

pub struct Scenario {
    pub stack: Stack,
    pub now: Instant,
    pub peer: Ipv4Addr,
    next_id: u16,
    /// Every packet in and out, tcpdump style, for failure messages (`trace()`).
    log: Vec<String>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// Default `StackConfig` (198.18.0.2/24, MTU 1500) with seed 1, at t = 1 s.
    pub fn new() -> Self {
        Self::with_config(StackConfig {
            seed: 1,
            ..StackConfig::default()
        })
    }

    pub fn with_config(cfg: StackConfig) -> Self {
        Scenario {
            stack: Stack::new(cfg),
            now: Instant::from_secs(1),
            peer: PEER,
            next_id: 1000,
            log: Vec::new(),
        }
    }

    pub fn us(&self) -> Ipv4Addr {
        self.stack.addr()
    }

    /// An IPv4 header from the peer to us with a fresh identification.
    pub fn ip(&mut self, protocol: u8) -> Ipv4Repr {
        let mut r = Ipv4Repr::new(self.peer, self.us(), protocol, 0);
        r.id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        r
    }

    /// A whole echo request packet from the peer.
    pub fn echo_request(&mut self, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let icmp = icmpv4::build_echo(icmpv4::ECHO_REQUEST, id, seq, data);
        self.ip(PROTO_ICMP).build(&icmp)
    }

    /// A whole UDP packet from `peer:sport` to `us:dport`.
    pub fn udp(&mut self, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
        let d = udp::build(self.peer, self.us(), sport, dport, data);
        self.ip(PROTO_UDP).build(&d)
    }

    fn note(&mut self, dir: &str, packet: &[u8]) {
        let t = self.now.total_micros();
        let line = format!(
            "{:>4}.{:06} {dir} {}",
            t / 1_000_000,
            t % 1_000_000,
            pretty::summary(packet)
        );
        self.log.push(line);
    }

    /// A whole TCP packet from `peer:sport` (20-byte header, no options, window 65535).
    /// `flags` as in the header's byte 13 (SYN = 0x02, ACK = 0x10, ...).
    pub fn tcp(
        &mut self,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
    ) -> Vec<u8> {
        let mut seg = Vec::with_capacity(20 + data.len());
        seg.extend_from_slice(&sport.to_be_bytes());
        seg.extend_from_slice(&dport.to_be_bytes());
        seg.extend_from_slice(&seq.to_be_bytes());
        seg.extend_from_slice(&ack.to_be_bytes());
        seg.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        seg.extend_from_slice(data);
        let c = checksum::transport_checksum(self.peer, self.us(), PROTO_TCP, &seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        self.ip(PROTO_TCP).build(&seg)
    }

    pub fn peer_sends(&mut self, packet: &[u8]) -> &mut Self {
        self.note("in ", packet);
        self.stack.handle_packet(self.now, packet);
        self
    }

    pub fn peer_sends_all(&mut self, packets: &[Vec<u8>]) -> &mut Self {
        for p in packets {
            self.peer_sends(p);
        }
        self
    }

    /// The packet trace so far, one line per packet, with virtual timestamps.
    pub fn trace(&self) -> String {
        self.log.join("\n")
    }

    /// Move virtual time forward, firing due timers.
    pub fn advance(&mut self, d: Duration) -> &mut Self {
        self.now += d;
        if self.stack.poll_timeout().is_some_and(|t| t <= self.now) {
            self.stack.handle_timeout(self.now);
        }
        self
    }

    /// Drain everything the stack wants to send, each packet at most one MTU.
    pub fn transmitted(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; self.stack.config().mtu.max(68)];
        while let Some(n) = self.stack.poll_transmit(self.now, &mut buf) {
            self.note("out", &buf[..n]);
            out.push(buf[..n].to_vec());
            assert!(out.len() < 100_000, "poll_transmit never ends");
        }
        out
    }

    /// Drain and expect exactly one packet.
    #[track_caller]
    pub fn expect_one(&mut self) -> Vec<u8> {
        let mut out = self.transmitted();
        assert_eq!(out.len(), 1, "expected one packet:\n{}", self.trace());
        out.remove(0)
    }

    #[track_caller]
    pub fn expect_nothing(&mut self) {
        let out = self.transmitted();
        assert!(
            out.is_empty(),
            "expected nothing, got {} packets",
            out.len()
        );
    }
}

/// Join fragments (in any order) the way a receiver would: the header of the first fragment and
/// the payloads at their offsets. Panics unless they cover the datagram exactly once.
#[track_caller]
pub fn reassemble(fragments: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let mut pieces = BTreeMap::new();
    let mut header = None;
    let mut total = None;
    let mut id = None;
    for f in fragments {
        let p = Ipv4Packet::new_checked(f).expect("a valid IPv4 fragment");
        assert_eq!(
            *id.get_or_insert(p.id()),
            p.id(),
            "fragments of one datagram"
        );
        if p.frag_offset() == 0 {
            header = Some(p.header().to_vec());
        }
        if !p.more_frags() {
            total = Some(p.frag_offset() + p.payload().len());
        } else {
            assert_eq!(
                p.payload().len() % 8,
                0,
                "non-final fragment of 8-byte units"
            );
        }
        assert!(
            pieces
                .insert(p.frag_offset(), p.payload().to_vec())
                .is_none()
        );
    }
    let mut data = Vec::new();
    for (off, d) in pieces {
        assert_eq!(off, data.len(), "a hole or overlap at {off}");
        data.extend_from_slice(&d);
    }
    assert_eq!(Some(data.len()), total, "last fragment seen");
    (header.expect("fragment zero"), data)
}

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}
