//! ICMP (RFC 792): echo replies, errors we generate (rate limited), errors we receive.
//!
//! Errors we send quote the offending datagram's header and as much data as fits in 576 bytes
//! (RFC 1812 §4.3.2.3), are never sent about ICMP errors, broadcasts, non-first fragments or
//! invalid sources (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7), and pass a token bucket (RFC 1812
//! §4.3.2.8). Errors we receive go to TCP or to the connected UDP socket they concern.

use super::Stack;
use super::ipv4::Datagram;
use super::stats::Counter;
use crate::time::Instant;
use crate::wire::icmpv4::{self, IcmpError, Icmpv4Packet};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// A token bucket in micro-tokens: `rate` tokens per second, burst of `rate` (at least one).
pub(crate) struct TokenBucket {
    rate: u64,
    micro_tokens: u64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: u32) -> Self {
        let rate = u64::from(rate);
        TokenBucket {
            rate,
            micro_tokens: Self::cap(rate),
            last: None,
        }
    }

    fn cap(rate: u64) -> u64 {
        rate.max(1).saturating_mul(1_000_000)
    }

    /// Take one token if there is one. A rate of 0 never sends.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return false;
        }
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).total_micros();
            // rate tokens/s × elapsed µs = rate × elapsed micro-tokens.
            self.micro_tokens = self
                .micro_tokens
                .saturating_add(elapsed.saturating_mul(self.rate))
                .min(Self::cap(self.rate));
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

impl Stack {
    pub(super) fn icmp_input(&mut self, now: Instant, d: &Datagram<'_>) -> Counter {
        // RFC 1122 §3.2.2.6: echo requests to a broadcast address may be silently discarded.
        if d.broadcast {
            return Counter::drop_broadcast;
        }
        let m = match Icmpv4Packet::new_checked(d.payload) {
            Ok(m) => m,
            Err(IcmpError::TooShort) => return Counter::drop_icmp_too_short,
            Err(IcmpError::BadChecksum) => return Counter::drop_icmp_bad_checksum,
        };
        match m.msg_type() {
            icmpv4::ECHO_REQUEST => {
                // RFC 792: the reply carries the request's identifier, sequence and data.
                let reply = icmpv4::build(icmpv4::ECHO_REPLY, 0, m.rest_of_header(), m.data());
                if self.queue_datagram(d.src, PROTO_ICMP, reply) {
                    self.stats.icmp_echo_replies += 1;
                }
                Counter::delivered_icmp
            }
            icmpv4::REDIRECT => Counter::drop_icmp_unhandled, // a single link: nothing to redirect
            // RFC 6633 §2: hosts MUST silently discard Source Quench.
            icmpv4::SOURCE_QUENCH => Counter::drop_icmp_unhandled,
            t if icmpv4::is_error_type(t) => self.icmp_error_input(now, &m),
            _ => Counter::drop_icmp_unhandled,
        }
    }

    /// An ICMP error about a datagram we sent: find who sent it (RFC 1122 §3.2.2, §4.2.3.9).
    fn icmp_error_input(&mut self, now: Instant, m: &Icmpv4Packet<'_>) -> Counter {
        self.stats.icmp_errors_received += 1;
        let Some(q) = icmpv4::parse_quote(m.data()) else {
            return Counter::drop_icmp_bad_quote;
        };
        if q.src != self.cfg.addr {
            return Counter::drop_icmp_bad_quote;
        }
        match q.protocol {
            PROTO_TCP => {
                self.tcp
                    .handle_icmp_error(now, m.msg_type(), m.code(), q.src, q.dst, q.transport);
                Counter::delivered_icmp
            }
            PROTO_UDP if self.udp_icmp_error(m.msg_type(), m.code(), &q) => Counter::delivered_icmp,
            _ => Counter::drop_icmp_unmatched,
        }
    }

    /// Send an ICMP error about datagram `d` if the rules and the rate limit allow.
    pub(super) fn icmp_error(&mut self, now: Instant, icmp_type: u8, code: u8, d: &Datagram<'_>) {
        // RFC 1122 §3.2.2: not about an ICMP error (unknown or unreadable types count as one).
        let about_error = d.protocol == PROTO_ICMP
            && d.payload.first().is_none_or(|t| !icmpv4::is_query_type(*t));
        // RFC 1812 §4.3.2.7 / RFC 1122 §3.2.2: not to broadcast/multicast, not about fragments
        // other than the first (callers only pass complete datagrams or fragment zero).
        if about_error || d.broadcast || !self.may_send_error_to(d.src) {
            self.stats.icmp_errors_forbidden += 1;
            log::trace!("icmp: no error to {} (RFC 1122 §3.2.2)", d.src);
            return;
        }
        if !self.icmp_bucket.take(now) {
            self.stats.icmp_errors_rate_limited += 1;
            log::debug!("icmp: error to {} suppressed by the rate limit", d.src);
            return;
        }
        let budget = icmpv4::MAX_QUOTE;
        let mut quote = Vec::with_capacity(budget.min(d.header.len() + d.payload.len()));
        quote.extend_from_slice(d.header.get(..budget).unwrap_or(d.header));
        let data_room = budget.saturating_sub(quote.len());
        quote.extend_from_slice(d.payload.get(..data_room).unwrap_or(d.payload));
        let msg = icmpv4::build_error(icmp_type, code, &quote);
        if self.queue_datagram(d.src, PROTO_ICMP, msg) {
            self.stats.icmp_errors_sent += 1;
            log::debug!("icmp: error type {icmp_type} code {code} to {}", d.src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let mut b = TokenBucket::new(10);
        let t0 = Instant::from_secs(5);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 10);
        // 100 ms later: one token at 10/s.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1));
        assert!(!b.take(t1));
        // Long idle: refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(t2)).count(), 10);
    }

    #[test]
    fn rate_zero_sends_nothing() {
        let mut b = TokenBucket::new(0);
        assert!(!b.take(Instant::ZERO));
    }
}
