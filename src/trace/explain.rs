//! The words of the trace: which RFC rule a state change follows, why cwnd moved, how a
//! segment and a TCB snapshot are written down. Used by `observer.rs`.

use super::observer::Ctx;
use super::{Seg, Snapshot};
use crate::link::rules::{ACK, FIN, RST, SYN, TcpView};
use crate::stack::{Stack, StatKind};
use crate::tcp::TcpStats;
use crate::tcp::connection::Connection;
use crate::tcp::segment::Segment;

pub(super) fn tcp_bytes<'a>(p: &'a [u8], v: &TcpView) -> Option<&'a [u8]> {
    p.get(v.tcp_off..v.payload_off + v.payload_len)
}

/// A segment with sequence numbers relative to `seq0` (its sender's ISN) and `ack0`.
pub(super) fn make_seg(v: &TcpView, s: &Segment<'_>, seq0: u32, ack0: u32) -> Seg {
    let mut flags = String::new();
    for (f, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (0x08, 'P'), (ACK, 'A')] {
        if v.has(f) {
            flags.push(c);
        }
    }
    Seg {
        seq: v.seq.wrapping_sub(seq0),
        len: v.payload_len as u32,
        ack: if v.has(ACK) {
            v.ack.wrapping_sub(ack0)
        } else {
            0
        },
        flags,
        win: u32::from(v.window),
        sack: s
            .options
            .sack_blocks
            .iter()
            .flatten()
            .map(|(l, r)| (l.0.wrapping_sub(ack0), r.0.wrapping_sub(ack0)))
            .collect(),
    }
}

pub(super) fn snapshot(c: &Connection) -> Snapshot {
    let i = c.info();
    Snapshot {
        state: i.state,
        cwnd: i.cwnd,
        ssthresh: (i.ssthresh != u32::MAX).then_some(i.ssthresh),
        srtt_us: i.srtt.map(|d| d.total_micros()),
        rto_us: i.rto.total_micros(),
        flight: c.snd_max.since(c.snd_una),
        rwnd: i.rcv_wnd,
        snd_wnd: i.snd_wnd,
    }
}

/// Why cwnd/ssthresh moved, from what woke the stack and what the counters did.
/// `recovery`: (in fast recovery before, in fast recovery now), from the TCB; `cc`: the
/// controller's name (the wording follows its rules: CUBIC's β = 0.7 and cubic growth).
pub(super) fn cwnd_reason(
    cc: &str,
    ctx: Ctx,
    rto_fired: bool,
    recovery: (bool, bool),
    last: (u32, u32),
    now: (u32, u32),
) -> &'static str {
    let (last_cwnd, _) = last;
    let (cwnd, ssthresh) = now;
    let (was, in_recovery) = recovery;
    let cubic = cc == "cubic";
    if ctx == Ctx::Timer && rto_fired && cubic {
        "RTO: ssthresh = max(0.7·FlightSize, 2·SMSS), cwnd = 1 SMSS (RFC 9438 §4.6, §4.8)"
    } else if ctx == Ctx::Timer && rto_fired {
        "RTO: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = 1 SMSS (RFC 5681 §3.1 eq. 4)"
    } else if in_recovery && !was && cubic {
        "fast retransmit: ssthresh = max(0.7·FlightSize, 2·SMSS), cwnd = ssthresh + 3·SMSS (RFC 9438 §4.6, RFC 5681 §3.2)"
    } else if in_recovery && !was {
        "fast retransmit: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = ssthresh + 3·SMSS (RFC 5681 §3.2)"
    } else if was && !in_recovery {
        "full ACK ends recovery: cwnd deflated to ssthresh (RFC 6582 §3.2 step 3)"
    } else if last_cwnd == 0 {
        "initial window (RFC 6928 §2)"
    } else if ctx == Ctx::App {
        "restart after idle (RFC 5681 §4.1)"
    } else if in_recovery && cwnd > last_cwnd {
        "recovery: inflate by SMSS per dupACK (RFC 5681 §3.2 step 4)"
    } else if in_recovery && cwnd < last_cwnd {
        "partial ACK: deflate by the bytes acknowledged (RFC 6582 §3.2 step 3)"
    } else if cwnd < last_cwnd {
        "window reduced"
    } else if cwnd <= ssthresh {
        "slow start: cwnd += min(N, SMSS) per ACK (RFC 5681 §3.1, RFC 3465)"
    } else if cubic {
        "congestion avoidance: cwnd grows towards W_cubic(t+RTT) = C·(t+RTT−K)³ + W_max, or the Reno-friendly W_est (RFC 9438 §4.2-4.5)"
    } else {
        "congestion avoidance: cwnd += SMSS·SMSS/cwnd per ACK (RFC 5681 §3.1)"
    }
}

/// The rule of RFC 9293 behind a state change.
pub(super) fn transition_rfc(from: &str, to: &str, ctx: Ctx) -> &'static str {
    match (from, to) {
        ("CLOSED", "SYN-SENT") => "RFC 9293 §3.10.1: OPEN call, active: send SYN",
        ("CLOSED" | "LISTEN", "SYN-RECEIVED") => "RFC 9293 §3.10.7.2: LISTEN, SYN arrives",
        ("SYN-SENT", "ESTABLISHED") => "RFC 9293 §3.10.7.3: SYN-SENT, our SYN acknowledged",
        ("SYN-SENT", "SYN-RECEIVED") => "RFC 9293 §3.10.7.3: simultaneous open",
        ("SYN-RECEIVED", "ESTABLISHED") => "RFC 9293 §3.10.7.4 fifth check: ACK of our SYN",
        ("ESTABLISHED", "FIN-WAIT-1") | ("CLOSE-WAIT", "LAST-ACK") => {
            "RFC 9293 §3.10.4: CLOSE call, send FIN"
        }
        ("ESTABLISHED" | "SYN-RECEIVED", "CLOSE-WAIT") => {
            "RFC 9293 §3.10.7.4 eighth check: FIN arrives"
        }
        ("FIN-WAIT-1", "FIN-WAIT-2") => "RFC 9293 §3.10.7.4 fifth check: our FIN acknowledged",
        ("FIN-WAIT-1", "CLOSING") => "RFC 9293 §3.10.7.4 eighth check: FIN arrives",
        ("FIN-WAIT-1", "TIME-WAIT") => {
            "RFC 9293 §3.10.7.4 eighth check: FIN arrives, our FIN acknowledged"
        }
        ("FIN-WAIT-2", "TIME-WAIT") => "RFC 9293 §3.10.7.4 eighth check: FIN arrives",
        ("CLOSING", "TIME-WAIT") => "RFC 9293 §3.10.7.4 fifth check: our FIN acknowledged",
        ("LAST-ACK", "CLOSED") => "RFC 9293 §3.10.7.4 fifth check: our FIN acknowledged",
        ("TIME-WAIT", "CLOSED") => "RFC 9293 §3.10.8: time-wait timeout (2×MSL)",
        (_, "CLOSED") if ctx == Ctx::Timer => "RFC 9293 §3.8.3: retransmission limit (R2) reached",
        (_, "CLOSED") => "RFC 9293 §3.10.7.4 second check: RST",
        _ => "RFC 9293 §3.3.2",
    }
}

/// Summary counters of one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub segments_sent: u64,
    pub data_segments: u64,
    pub retransmissions: u64,
    pub rto_retransmissions: u64,
    pub fast_retransmissions: u64,
    pub other_retransmissions: u64,
    pub dup_acks_received: u64,
    pub packets_dropped: u64,
    pub rtt_samples: u64,
    pub rtt_sum_us: u64,
    pub rtt_min_us: Option<u64>,
    pub rtt_max_us: u64,
    /// Time spent in each state, summed over connections (state name, µs), in first-seen order.
    pub time_in_state: Vec<(&'static str, u64)>,
}

/// The counter that moved during the last call, as the reason for a drop.
pub(super) fn drop_reason(
    stack: &Stack,
    stack_drops: &[u64],
    tcp_before: &TcpStats,
) -> Option<String> {
    let drops = stack
        .stats()
        .counters()
        .into_iter()
        .filter(|c| c.1 == StatKind::Drop);
    for (c, before) in drops.zip(stack_drops) {
        if c.2 > *before {
            return Some(format!("ip: {}", c.0));
        }
    }
    let (s, b) = (stack.tcp().stats(), tcp_before);
    let tcp = [
        ("bad checksum", s.drop_bad_checksum, b.drop_bad_checksum),
        ("malformed segment", s.drop_malformed, b.drop_malformed),
        (
            "outside the receive window (RFC 9293 §3.10.7.4)",
            s.drop_out_of_window,
            b.drop_out_of_window,
        ),
        (
            "PAWS: old timestamp (RFC 7323 §5)",
            s.drop_paws,
            b.drop_paws,
        ),
        (
            "unacceptable ACK (RFC 5961 §5)",
            s.drop_bad_ack,
            b.drop_bad_ack,
        ),
        (
            "data after close (RFC 1122 §4.2.2.13)",
            s.drop_after_close,
            b.drop_after_close,
        ),
        (
            "reassembly queue full",
            s.drop_reassembly_full,
            b.drop_reassembly_full,
        ),
        (
            "listen backlog full",
            s.listen_overflows,
            b.listen_overflows,
        ),
        ("connection limit", s.connection_limit, b.connection_limit),
    ];
    tcp.iter()
        .find(|(_, a, b)| a > b)
        .map(|(r, _, _)| format!("tcp: {r}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwnd_labels_follow_the_controller() {
        // CUBIC reduces by β = 0.7 and grows by its cubic function (RFC 9438 §4.2-4.6, §4.8);
        // NewReno halves (RFC 5681 §3.1-3.2) and adds SMSS·SMSS/cwnd per ACK.
        let rto = |cc| cwnd_reason(cc, Ctx::Timer, true, (false, false), (20, 30), (1, 14));
        assert!(rto("cubic").contains("0.7·FlightSize") && rto("cubic").contains("RFC 9438"));
        assert!(rto("newreno").contains("FlightSize/2") && rto("newreno").contains("RFC 5681"));
        let fr = |cc| cwnd_reason(cc, Ctx::Input, false, (false, true), (20, 30), (17, 14));
        assert!(fr("cubic").contains("0.7·FlightSize"), "{}", fr("cubic"));
        assert!(fr("newreno").contains("FlightSize/2"), "{}", fr("newreno"));
        let ca = |cc| cwnd_reason(cc, Ctx::Input, false, (false, false), (20, 10), (21, 10));
        assert!(ca("cubic").contains("W_cubic"), "{}", ca("cubic"));
        assert!(
            ca("newreno").contains("SMSS·SMSS/cwnd"),
            "{}",
            ca("newreno")
        );
    }
}
