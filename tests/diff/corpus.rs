//! The differential corpus (issue 5 §3), shared by tests/diff_corpus.rs (ours vs smoltcp) and
//! tests/diff_linux.rs (the Linux column). Each trace is a few crafted segments, time steps and
//! application calls; see src/reference/diff.rs for how they are played and normalised.
#![allow(dead_code)]

use tunstack::reference::diff::{self, ACK, FIN, Opt, PSH, RST, SYN, Start, Step, Trace, URG, seg};

const MSS: Opt = Opt::Mss(1460);

fn listen(name: &'static str, steps: Vec<Step>) -> Trace {
    Trace {
        name,
        start: Start::Listen,
        steps,
    }
}

/// Established with an MSS-only handshake (no timestamps, no SACK, no window scaling).
fn est(name: &'static str, steps: Vec<Step>) -> Trace {
    Trace {
        name,
        start: Start::Established(vec![MSS]),
        steps,
    }
}

/// Established with every option (timestamps, SACK, window scaling).
fn est_opts(name: &'static str, steps: Vec<Step>) -> Trace {
    Trace {
        name,
        start: Start::Established(vec![MSS, Opt::Ws(7), Opt::SackPerm, Opt::Ts(0)]),
        steps,
    }
}

use Step::{Abort, Close, In, InNow, Send, ShutdownWrite, StopReading, Wait};

pub fn corpus() -> Vec<Trace> {
    let syn = || seg(SYN).opt(MSS);
    let ack = |s: i64, a: i64| seg(ACK).seq(s).ack(a);
    let ts = |s: i64, a: i64| seg(ACK).seq(s).ack(a).opt(Opt::Ts(0));
    vec![
        // ---- LISTEN (RFC 9293 §3.10.7.2) and CLOSED ports (§3.10.7.1) ----
        listen("syn-plain", vec![In(seg(SYN))]),
        listen("syn-mss", vec![In(syn())]),
        listen(
            "syn-all-options",
            vec![In(syn().opt(Opt::Ws(7)).opt(Opt::SackPerm).opt(Opt::Ts(0)))],
        ),
        listen("syn-ws-only", vec![In(seg(SYN).opt(Opt::Ws(2)))]),
        listen("syn-ws-15", vec![In(syn().opt(Opt::Ws(15)))]),
        listen("syn-ts-only", vec![In(seg(SYN).opt(Opt::Ts(0)))]),
        listen("syn-sackok-only", vec![In(seg(SYN).opt(Opt::SackPerm))]),
        listen("syn-mss-536", vec![In(seg(SYN).opt(Opt::Mss(536)))]),
        listen("syn-mss-1", vec![In(seg(SYN).opt(Opt::Mss(1)))]),
        listen("syn-with-data", vec![In(syn().data(10))]),
        listen("syn-fin", vec![In(syn().flags_or(FIN))]),
        listen("syn-rst", vec![In(syn().flags_or(RST))]),
        listen(
            "syn-ack-to-listener",
            vec![In(seg(SYN | ACK).ack_abs(5000))],
        ),
        listen("ack-to-listener", vec![In(seg(ACK).seq(1).ack_abs(5000))]),
        listen("rst-to-listener", vec![In(seg(RST).seq(1))]),
        listen("fin-to-listener", vec![In(seg(FIN).seq(1))]),
        listen("data-to-listener", vec![In(seg(0).seq(1).data(10))]),
        listen("syn-bad-checksum", vec![In(syn().bad_checksum())]),
        listen("syn-closed-port", vec![In(syn().to_port(81))]),
        listen(
            "ack-closed-port",
            vec![In(seg(ACK).seq(1).ack_abs(5000).to_port(81))],
        ),
        listen("rst-closed-port", vec![In(seg(RST).seq(1).to_port(81))]),
        listen(
            "data-closed-port",
            vec![In(seg(ACK | PSH).seq(1).ack_abs(77).data(5).to_port(81))],
        ),
        // ---- SYN-RECEIVED ----
        listen("syn-duplicate", vec![In(syn()), In(syn())]),
        listen(
            "synrcvd-rst-exact",
            vec![In(syn()), In(seg(RST).seq(1)), In(syn())],
        ),
        listen(
            "synrcvd-rst-out-of-window",
            vec![In(syn()), In(seg(RST).seq(1_000_000))],
        ),
        listen("synrcvd-bad-ack", vec![In(syn()), In(ack(1, 1000))]),
        listen(
            "synrcvd-ack-without-ack-flag",
            vec![In(syn()), In(seg(0).seq(1).data(5))],
        ),
        listen("synrcvd-synack-retransmit", vec![In(syn()), Wait(1500)]),
        listen(
            "synrcvd-ack-with-data",
            vec![In(syn()), In(ack(1, 1).data(100))],
        ),
        listen(
            "synrcvd-ack-fin",
            vec![In(syn()), In(seg(ACK | FIN).seq(1).ack(1))],
        ),
        listen(
            "synrcvd-syn-other-isn",
            vec![In(syn()), In(syn().seq(5000))],
        ),
        // ---- ESTABLISHED: data (§3.10.7.4) ----
        est("data-in-window", vec![In(ack(1, 1).data(100))]),
        est(
            "data-two-segments",
            vec![InNow(ack(1, 1).data(100)), In(ack(101, 1).data(100))],
        ),
        est("data-beyond-window", vec![In(ack(1_000_000, 1).data(100))]),
        est(
            "data-old-duplicate",
            vec![In(ack(1, 1).data(100)), In(ack(1, 1).data(100))],
        ),
        est(
            "data-partly-old",
            vec![In(ack(1, 1).data(100)), In(ack(51, 1).data(100))],
        ),
        est("data-out-of-order", vec![In(ack(1001, 1).data(100))]),
        est(
            "data-hole-filled",
            vec![In(ack(101, 1).data(100)), In(ack(1, 1).data(100))],
        ),
        est("data-no-ack-flag", vec![In(seg(0).seq(1).data(100))]),
        est(
            "data-bad-checksum",
            vec![In(ack(1, 1).data(100).bad_checksum())],
        ),
        est(
            "data-urgent",
            vec![In(seg(ACK | URG).seq(1).ack(1).data(10).urgent(5))],
        ),
        est(
            "data-overflows-window",
            vec![
                In(ack(1, 1).data(1460)),
                In(ack(1461, 1).win(65535).data(1460)),
            ],
        ),
        est_opts("ts-data-in-window", vec![In(ts(1, 1).data(100))]),
        est_opts("ts-missing-on-data", vec![In(ack(1, 1).data(100))]),
        est_opts(
            "ts-old-paws",
            vec![
                In(ts(1, 1).data(100)),
                In(seg(ACK).seq(101).ack(1).data(100).opt(Opt::Ts(-1_000_000))),
            ],
        ),
        est_opts("sack-out-of-order", vec![In(ts(1001, 1).data(100))]),
        // ---- ESTABLISHED: RST and SYN (RFC 5961 §3, §4) ----
        est("rst-exact", vec![In(seg(RST).seq(1))]),
        est("rst-ack-exact", vec![In(seg(RST | ACK).seq(1).ack(1))]),
        est("rst-in-window", vec![In(seg(RST).seq(100))]),
        est("rst-out-of-window", vec![In(seg(RST).seq(1_000_000))]),
        est("rst-old", vec![In(seg(RST).seq(-100))]),
        est("syn-in-established", vec![In(syn().seq(1))]),
        est(
            "syn-in-established-out-of-window",
            vec![In(syn().seq(1_000_000))],
        ),
        est(
            "syn-ack-in-established",
            vec![In(seg(SYN | ACK).seq(0).ack(1))],
        ),
        // ---- ESTABLISHED: ACKs (RFC 5961 §5, RFC 5681) ----
        est("ack-of-unsent-data", vec![In(ack(1, 1000))]),
        est("ack-too-old", vec![In(ack(1, -100_000))]),
        est(
            "ack-duplicates-idle",
            vec![InNow(ack(1, 1)), InNow(ack(1, 1)), In(ack(1, 1))],
        ),
        est(
            "window-update-only",
            vec![In(ack(1, 1).win(1000)), In(ack(1, 1).win(65535))],
        ),
        est("keepalive-probe", vec![In(ack(0, 1))]),
        est("keepalive-probe-with-byte", vec![In(ack(0, 1).data(1))]),
        // ---- ESTABLISHED: our data (send side) ----
        est("send-and-acked", vec![Send(100), In(ack(1, 101))]),
        est("send-unacked-retransmit", vec![Send(100), Wait(1500)]),
        est("send-partial-ack", vec![Send(3000), In(ack(1, 1001))]),
        est(
            "send-dupacks-fast-retransmit",
            vec![
                Send(6000),
                InNow(ack(1, 1461)),
                InNow(ack(1, 1461)),
                InNow(ack(1, 1461)),
                In(ack(1, 1461)),
            ],
        ),
        est(
            "zero-window-persist",
            vec![In(ack(1, 1).win(0)), Send(100), Wait(3000)],
        ),
        est(
            "zero-window-then-open",
            vec![In(ack(1, 1).win(0)), Send(100), In(ack(1, 1).win(65535))],
        ),
        est(
            "send-beyond-peer-window",
            vec![In(ack(1, 1).win(1000)), Send(3000), Wait(1500)],
        ),
        // ---- FIN in each state (§3.10.7.4 eighth step) ----
        est("fin-in-established", vec![In(seg(FIN | ACK).seq(1).ack(1))]),
        est(
            "fin-with-data",
            vec![In(seg(FIN | ACK).seq(1).ack(1).data(100))],
        ),
        est(
            "fin-out-of-order",
            vec![In(seg(FIN | ACK).seq(101).ack(1).data(10))],
        ),
        est(
            "fin-retransmitted-close-wait",
            vec![
                In(seg(FIN | ACK).seq(1).ack(1)),
                In(seg(FIN | ACK).seq(1).ack(1)),
            ],
        ),
        est(
            "data-after-fin",
            vec![In(seg(FIN | ACK).seq(1).ack(1)), In(ack(2, 1).data(10))],
        ),
        est(
            "close-then-ack-then-fin",
            vec![Close, In(ack(1, 2)), In(seg(FIN | ACK).seq(1).ack(2))],
        ),
        est(
            "close-then-fin-ack",
            vec![Close, In(seg(FIN | ACK).seq(1).ack(2))],
        ),
        est(
            "simultaneous-close",
            vec![Close, In(seg(FIN | ACK).seq(1).ack(1)), In(ack(2, 2))],
        ),
        est(
            "fin-in-last-ack",
            vec![
                In(seg(FIN | ACK).seq(1).ack(1)),
                Close,
                In(seg(FIN | ACK).seq(1).ack(1)),
                In(ack(2, 2)),
            ],
        ),
        est(
            "fin-in-time-wait",
            vec![
                Close,
                In(seg(FIN | ACK).seq(1).ack(2)),
                In(seg(FIN | ACK).seq(1).ack(2)),
            ],
        ),
        est(
            "fin-in-fin-wait-2-with-data",
            vec![
                ShutdownWrite,
                In(ack(1, 2)),
                In(seg(FIN | ACK).seq(1).ack(2).data(50)),
            ],
        ),
        est(
            "rst-in-time-wait",
            vec![Close, In(seg(FIN | ACK).seq(1).ack(2)), In(seg(RST).seq(2))],
        ),
        est(
            "data-in-fin-wait-1",
            vec![ShutdownWrite, In(ack(1, 1).data(100))],
        ),
        est(
            "close-unread-data",
            vec![StopReading, In(ack(1, 1).data(100)), Close],
        ),
        est("data-after-close", vec![Close, In(ack(1, 1).data(100))]),
        est(
            "unread-data-fills-window",
            vec![
                StopReading,
                In(ack(1, 1).data(1460)),
                In(ack(1461, 1).data(1460)),
            ],
        ),
        est("abort", vec![Abort, In(ack(1, 1).data(10))]),
        est("fin-unacked-retransmit", vec![Close, Wait(1500)]),
    ]
}

trait FlagsOr {
    fn flags_or(self, f: u8) -> Self;
}
impl FlagsOr for diff::Seg {
    fn flags_or(mut self, f: u8) -> Self {
        self.flags |= f;
        self
    }
}
