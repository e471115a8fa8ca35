//! IPv4 input (RFC 791 §3.2, RFC 1122 §3.2.1): validate, filter addresses, reassemble, dispatch.
//!
//! Every packet gets exactly one outcome (`Counter`): delivered to ICMP/UDP/TCP/reassembly, or a
//! named drop reason. Options are skipped: we implement none, and RFC 1122 §3.2.1.8 says to
//! "interpret those IP options that they understand and silently ignore the others".
//! Does not: forward, route, record routes or timestamps in echo replies (RFC 1122 §3.2.2.6).
//! Read next: `fragment.rs`, then `icmp.rs` and `udp.rs`.

use std::net::Ipv4Addr;

use super::Stack;
use super::fragment::{FragKey, FragResult};
use super::stats::Counter;
use crate::time::Instant;
use crate::wire::icmpv4;
use crate::wire::ipv4::{Ipv4Error, Ipv4Packet, PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// A complete datagram addressed to us (unfragmented, or reassembled).
pub(crate) struct Datagram<'a> {
    /// The IP header with options (quoted by ICMP errors).
    pub header: &'a [u8],
    pub payload: &'a [u8],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// Sent to the limited or our subnet's broadcast address.
    pub broadcast: bool,
    /// RFC 3168 §5: the ECN field said CE (congestion experienced).
    pub ce: bool,
}

impl<'a> Datagram<'a> {
    fn new(p: &Ipv4Packet<'a>, broadcast: bool) -> Self {
        Datagram {
            header: p.header(),
            payload: p.payload(),
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            broadcast,
            ce: p.tos() & 0x03 == 0x03,
        }
    }
}

impl Stack {
    /// Our subnet's directed broadcast and network addresses (none for /31 and /32, RFC 3021).
    fn subnet_edges(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let p = u32::from(self.cfg.prefix_len.min(32));
        if p >= 31 {
            return None;
        }
        let host_mask = u32::MAX >> p;
        let a = u32::from(self.cfg.addr);
        Some((
            Ipv4Addr::from(a | host_mask),
            Ipv4Addr::from(a & !host_mask),
        ))
    }

    /// A broadcast destination: 255.255.255.255, our subnet's broadcast, and the old all-zeros
    /// forms (0.0.0.0, the network address) that RFC 1122 §3.3.6 says hosts SHOULD accept.
    pub(super) fn is_broadcast(&self, a: Ipv4Addr) -> bool {
        a.is_broadcast()
            || a.is_unspecified()
            || self
                .subnet_edges()
                .is_some_and(|(bcast, net)| a == bcast || a == net)
    }

    /// RFC 1122 §3.2.1.3: a host discards datagrams whose source is multicast, broadcast or
    /// loopback; 0.0.0.0 is only legitimate while a host learns its address (UDP: DHCP).
    /// Our own address as source is a martian on a link (Linux drops it too).
    fn source_ok(&self, src: Ipv4Addr, protocol: u8) -> bool {
        if src.is_unspecified() {
            return protocol == PROTO_UDP;
        }
        !(src.is_multicast() || src.is_loopback() || self.is_broadcast(src) || src == self.cfg.addr)
    }

    /// May we answer `src` with an ICMP error? (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7.)
    pub(super) fn may_send_error_to(&self, src: Ipv4Addr) -> bool {
        !(src.is_unspecified()
            || src.is_multicast()
            || src.is_loopback()
            || self.is_broadcast(src)
            || src == self.cfg.addr)
    }

    pub(super) fn mtu(&self) -> usize {
        // RFC 791 §3.2: every host handles 68-byte datagrams; the length field caps at 65535.
        self.cfg.mtu.clamp(68, 65535)
    }

    pub(super) fn next_id(&mut self) -> u16 {
        let id = self.next_ip_id;
        self.next_ip_id = self.next_ip_id.wrapping_add(1);
        id
    }

    /// Validate one packet from the link and hand it on. Returns its outcome.
    pub(super) fn ip_input(&mut self, now: Instant, bytes: &[u8]) -> Counter {
        let p = match Ipv4Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => {
                return match e {
                    Ipv4Error::Ipv6 => Counter::drop_ipv6,
                    Ipv4Error::BadVersion(_) => Counter::drop_bad_version,
                    Ipv4Error::TooShort => Counter::drop_too_short,
                    Ipv4Error::BadIhl => Counter::drop_bad_ihl,
                    Ipv4Error::Truncated => Counter::drop_truncated,
                    Ipv4Error::BadTotalLen => Counter::drop_bad_total_len,
                    Ipv4Error::BadChecksum => Counter::drop_bad_checksum,
                };
            }
        };
        // RFC 1122 §3.2.1.7: a host must not discard a datagram for arriving with TTL < 2, so the
        // TTL is not checked here (we are not a router).
        if !self.source_ok(p.src(), p.protocol()) {
            return Counter::drop_bad_src;
        }
        let broadcast = self.is_broadcast(p.dst());
        if p.dst() != self.cfg.addr && !broadcast {
            return Counter::drop_not_for_us;
        }
        if !p.is_fragment() {
            return self.deliver(now, &Datagram::new(&p, broadcast));
        }
        let key = FragKey {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            id: p.id(),
        };
        let (res, evicted) = self.reassembly.insert(
            now,
            key,
            p.header(),
            p.frag_offset(),
            p.more_frags(),
            p.payload(),
        );
        self.stats.frag_evicted += evicted;
        match res {
            FragResult::Held => Counter::delivered_to_reassembly,
            FragResult::Duplicate => Counter::drop_frag_duplicate,
            FragResult::Overlap => Counter::drop_frag_overlap,
            FragResult::TooBig => Counter::drop_frag_too_big,
            FragResult::Malformed => Counter::drop_frag_malformed,
            FragResult::MemLimit => Counter::drop_frag_mem,
            FragResult::Complete(whole) => {
                self.stats.frag_reassembled += 1;
                match Ipv4Packet::new_checked(&whole) {
                    Ok(q) => self.deliver(now, &Datagram::new(&q, broadcast)),
                    Err(_) => Counter::drop_frag_malformed,
                }
            }
        }
    }

    /// A complete datagram for us: to the protocol that wants it.
    fn deliver(&mut self, now: Instant, d: &Datagram<'_>) -> Counter {
        match d.protocol {
            PROTO_ICMP => self.icmp_input(now, d),
            PROTO_UDP => self.udp_input(now, d),
            PROTO_TCP => {
                // RFC 1122 §4.2.3.10: TCP ignores segments to broadcast addresses.
                if d.broadcast {
                    return Counter::drop_broadcast;
                }
                self.tcp
                    .handle_segment_ecn(now, d.src, d.dst, d.payload, d.ce);
                Counter::delivered_tcp
            }
            _ => {
                // RFC 1122 §3.2.2.1: protocol unreachable for a transport we do not have.
                self.icmp_error(
                    now,
                    icmpv4::DEST_UNREACHABLE,
                    icmpv4::CODE_PROTOCOL_UNREACHABLE,
                    d,
                );
                Counter::drop_unknown_protocol
            }
        }
    }

    /// Give up on incomplete datagrams; ICMP Time Exceeded code 1 when fragment zero had arrived
    /// (RFC 792; RFC 1122 §3.3.2: "if fragment 0 has not been received, no ICMP message").
    pub(super) fn expire_fragments(&mut self, now: Instant) {
        for ex in self.reassembly.expire(now) {
            self.stats.frag_timeouts += 1;
            log::debug!(
                "ipv4: reassembly of {} -> {} id {} timed out",
                ex.key.src,
                ex.key.dst,
                ex.key.id
            );
            if let Some((header, data)) = ex.first {
                let d = Datagram {
                    header: &header,
                    payload: &data,
                    src: ex.key.src,
                    dst: ex.key.dst,
                    protocol: ex.key.protocol,
                    broadcast: self.is_broadcast(ex.key.dst),
                    ce: false,
                };
                self.icmp_error(
                    now,
                    icmpv4::TIME_EXCEEDED,
                    icmpv4::CODE_REASSEMBLY_TIME_EXCEEDED,
                    &d,
                );
            }
        }
    }
}
