//! IPv4 output: the bounded queue of ICMP and UDP datagrams, fragmentation (RFC 791 §3.2) and
//! wrapping TCP segments in an IPv4 header. The only place that writes outgoing IP headers.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::Stack;
use crate::time::Instant;
use crate::wire::ipv4::{HEADER_LEN, Ipv4Repr, PROTO_TCP};

/// Bound on the ICMP/UDP output queue: datagrams and bytes.
pub(crate) const OUT_QUEUE_MAX_DATAGRAMS: usize = 1024;
pub(crate) const OUT_QUEUE_MAX_BYTES: usize = 1 << 20;

/// A datagram waiting to be sent (possibly in several fragments).
struct OutDatagram {
    dst: Ipv4Addr,
    protocol: u8,
    id: u16,
    /// The IP payload (ICMP message or UDP datagram).
    payload: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct OutQueue {
    q: VecDeque<OutDatagram>,
    bytes: usize,
    /// Payload bytes of the head datagram already sent as fragments.
    sent: usize,
}

impl OutQueue {
    pub fn len(&self) -> usize {
        self.q.len()
    }
}

impl Stack {
    /// Queue an ICMP or UDP datagram for `poll_transmit`; false (counted) if the queue is full.
    pub(super) fn queue_datagram(&mut self, dst: Ipv4Addr, protocol: u8, payload: Vec<u8>) -> bool {
        let out = &self.out;
        if out.q.len() >= OUT_QUEUE_MAX_DATAGRAMS || out.bytes + payload.len() > OUT_QUEUE_MAX_BYTES
        {
            self.stats.out_queue_full += 1;
            return false;
        }
        let id = self.next_id();
        self.out.bytes += payload.len();
        self.out.q.push_back(OutDatagram {
            dst,
            protocol,
            id,
            payload,
        });
        true
    }

    /// The next packet from the queue: the head datagram whole, or its next fragment, with data
    /// in multiples of 8 bytes and MF on all but the last (RFC 791 §3.2).
    pub(super) fn transmit_queued(&mut self, buf: &mut [u8]) -> Option<usize> {
        let room = buf.len().checked_sub(HEADER_LEN)?;
        let (src, ttl) = (self.cfg.addr, self.cfg.ttl);
        let out = &mut self.out;
        let d = out.q.front()?;
        let rest = d.payload.get(out.sent..).unwrap_or_default();
        let fragmented = out.sent > 0 || rest.len() > room;
        let len = if fragmented {
            rest.len().min(room & !7)
        } else {
            rest.len()
        };
        if len == 0 && !rest.is_empty() {
            return None; // `buf` too small for even 8 bytes of a fragment
        }
        let more = len < rest.len();
        let repr = Ipv4Repr {
            src,
            dst: d.dst,
            protocol: d.protocol,
            ttl,
            id: d.id,
            tos: 0,
            dont_frag: false,
            more_frags: more,
            frag_offset: out.sent,
            payload_len: len,
        };
        repr.emit(buf);
        buf.get_mut(HEADER_LEN..HEADER_LEN + len)?
            .copy_from_slice(rest.get(..len)?);
        if more {
            out.sent += len;
        } else {
            out.bytes -= d.payload.len();
            out.sent = 0;
            out.q.pop_front();
        }
        if fragmented {
            self.stats.frags_out += 1;
        }
        Some(HEADER_LEN + len)
    }

    /// The next TCP segment in an IPv4 header: DF set (RFC 9293 §3.7.1: the MSS fits the MTU).
    pub(super) fn transmit_tcp(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let seg_buf = buf.get_mut(HEADER_LEN..)?;
        let room = seg_buf.len();
        let (src, dst, n) = self.tcp.poll_transmit(now, seg_buf)?;
        let n = n.min(room);
        // RFC 3168 §5: ECT(0) = 0b10 in the ECN field for ECN-capable TCP data.
        let tos = if self.tcp.last_transmit_ect() {
            0x02
        } else {
            0
        };
        let repr = Ipv4Repr {
            src,
            dst,
            protocol: PROTO_TCP,
            ttl: self.cfg.ttl,
            id: self.next_id(),
            tos,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            payload_len: n,
        };
        repr.emit(buf);
        Some(HEADER_LEN + n)
    }
}
