//! Counters of the IPv4 host. Every packet handed to `Stack::handle_packet` ends in exactly one
//! *outcome* counter: one of the `delivered_*` counters or one `drop_*` reason, so that
//! `packets_in == delivered() + dropped()` always holds (`Stats::accounted`).
//! The other counters describe datagrams and events (fragments sent, ICMP errors suppressed, ...).

use std::fmt;

/// What a counter counts; only `Delivered` and `Drop` counters take part in the identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Packets in or out.
    Total,
    /// An incoming packet that was used.
    Delivered,
    /// An incoming packet dropped for this reason.
    Drop,
    /// Anything else (datagram-level events).
    Event,
}

macro_rules! stats {
    ($( $(#[doc = $doc:literal])* $kind:ident $name:ident, )*) => {
        /// Counters: every packet received is either delivered or counted under a drop reason.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl Stats {
            /// Every counter with its name and kind, in declaration order.
            pub fn counters(&self) -> Vec<(&'static str, Kind, u64)> {
                vec![ $( (stringify!($name), Kind::$kind, self.$name), )* ]
            }
        }

        /// One variant per counter, so code names the counter it bumps.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Counter {
            $( #[allow(non_camel_case_types, dead_code)] $name, )*
        }

        impl Counter {
            pub(crate) fn name(self) -> &'static str {
                match self { $( Counter::$name => stringify!($name), )* }
            }
            fn counter(self, s: &mut Stats) -> &mut u64 {
                match self { $( Counter::$name => &mut s.$name, )* }
            }
        }
    };
}

stats! {
    /// Packets handed to `handle_packet`.
    Total packets_in,
    /// Packets written by `poll_transmit` (each fragment counts).
    Total packets_out,

    /// ICMP messages used (echo answered, error passed to a socket or to TCP).
    Delivered delivered_icmp,
    /// UDP datagrams queued on a socket.
    Delivered delivered_udp,
    /// TCP segments passed to the TCP layer (which counts its own drops).
    Delivered delivered_tcp,
    /// Fragments held for reassembly (the datagram's fate is counted under `frag_*`).
    Delivered delivered_to_reassembly,

    /// Version 6 on the TUN (router solicitations and the like): dropped quietly.
    Drop drop_ipv6,
    /// Version neither 4 nor 6 (RFC 791 §3.1).
    Drop drop_bad_version,
    /// Shorter than 20 bytes or than its IHL.
    Drop drop_too_short,
    /// IHL < 5 (RFC 791 §3.1).
    Drop drop_bad_ihl,
    /// Total Length larger than the bytes read.
    Drop drop_truncated,
    /// Total Length smaller than the header.
    Drop drop_bad_total_len,
    /// Header checksum (RFC 1122 §3.2.1.2).
    Drop drop_bad_checksum,
    /// Source multicast, broadcast, loopback, ours, or 0.0.0.0 outside UDP (RFC 1122 §3.2.1.3).
    Drop drop_bad_src,
    /// Destination not ours (RFC 1122 §3.2.1.3).
    Drop drop_not_for_us,
    /// TCP or ICMP to a broadcast address (RFC 1122 §3.2.2.6, §4.2.3.10).
    Drop drop_broadcast,
    /// Protocol we do not speak; ICMP protocol unreachable sent (RFC 1122 §3.2.2.1).
    Drop drop_unknown_protocol,
    /// A fragment overlapping another one: the whole datagram discarded (RFC 5722 spirit).
    Drop drop_frag_overlap,
    /// An exact duplicate of a fragment we hold (harmless).
    Drop drop_frag_duplicate,
    /// Reassembled size beyond 65535 bytes (RFC 791 §3.1).
    Drop drop_frag_too_big,
    /// Non-final fragment not a multiple of 8, or inconsistent end (RFC 791 §3.2).
    Drop drop_frag_malformed,
    /// This datagram alone exceeds the reassembly memory limit.
    Drop drop_frag_mem,
    /// ICMP shorter than 8 bytes.
    Drop drop_icmp_too_short,
    /// ICMP checksum (RFC 792).
    Drop drop_icmp_bad_checksum,
    /// ICMP error whose quote is not an IPv4 header + 8 bytes of ours.
    Drop drop_icmp_bad_quote,
    /// ICMP error about a datagram no socket of ours cares about.
    Drop drop_icmp_unmatched,
    /// ICMP types we do not act on (echo reply, timestamp, redirect, ...).
    Drop drop_icmp_unhandled,
    /// UDP shorter than 8 bytes or a bad length field (RFC 768).
    Drop drop_udp_malformed,
    /// UDP checksum (RFC 768).
    Drop drop_udp_bad_checksum,
    /// No socket on the port; ICMP port unreachable sent unless suppressed (RFC 1122 §4.1.3.1).
    Drop drop_udp_closed_port,
    /// The socket's receive queue was full.
    Drop drop_udp_queue_full,

    /// Datagrams reassembled from fragments.
    Event frag_reassembled,
    /// Incomplete datagrams given up after `frag_timeout` (RFC 791 §3.2).
    Event frag_timeouts,
    /// Incomplete datagrams evicted to stay under `frag_mem_limit`.
    Event frag_evicted,
    /// Fragments we sent (RFC 791 §3.2).
    Event frags_out,
    Event icmp_echo_replies,
    /// ICMP errors queued for sending.
    Event icmp_errors_sent,
    /// ICMP errors not sent because of the token bucket (RFC 1812 §4.3.2.8).
    Event icmp_errors_rate_limited,
    /// ICMP errors not sent by rule (about errors, broadcasts, fragments; RFC 1122 §3.2.2).
    Event icmp_errors_forbidden,
    Event icmp_errors_received,
    Event udp_datagrams_out,
    /// Datagrams refused because the output queue was full.
    Event out_queue_full,
    /// Pending ConnectionRefused/HostUnreachable set on connected UDP sockets.
    Event udp_socket_errors,
}

impl Stats {
    /// Incoming packets that were used.
    pub fn delivered(&self) -> u64 {
        self.sum(Kind::Delivered)
    }

    /// Incoming packets dropped, all reasons.
    pub fn dropped(&self) -> u64 {
        self.sum(Kind::Drop)
    }

    /// The accounting identity: every packet in is delivered or dropped for a named reason.
    pub fn accounted(&self) -> bool {
        self.packets_in == self.delivered() + self.dropped()
    }

    fn sum(&self, kind: Kind) -> u64 {
        self.counters()
            .iter()
            .filter(|c| c.1 == kind)
            .map(|c| c.2)
            .sum()
    }

    pub(crate) fn record(&mut self, o: Counter) {
        *o.counter(self) += 1;
    }
}

/// One `name: value` per line, non-zero counters only.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, _, v) in self.counters() {
            if v != 0 {
                writeln!(f, "{name}: {v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_only_non_zero_counters() {
        let mut s = Stats {
            packets_in: 3,
            ..Stats::default()
        };
        s.record(Counter::drop_ipv6);
        s.record(Counter::drop_ipv6);
        s.record(Counter::delivered_udp);
        assert_eq!(
            s.to_string(),
            "packets_in: 3\ndelivered_udp: 1\ndrop_ipv6: 2\n"
        );
        assert!(s.accounted());
        s.record(Counter::frags_out);
        assert!(s.accounted(), "events are outside the identity");
        s.packets_in += 1;
        assert!(!s.accounted());
    }
}
