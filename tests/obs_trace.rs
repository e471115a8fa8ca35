//! The decision trace says what happened and which rule governs it: state transitions with their
//! RFC section, RTO back-off, cwnd reductions with their reason, causes of every segment.

mod obs_util;

use obs_util::*;
use tunstack::trace::{Host, Kind};

fn states(c: &Collect, host: Host) -> Vec<(&'static str, &'static str, &'static str)> {
    c.events
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match e.kind {
            Kind::State { from, to, rfc } => Some((from, to, rfc)),
            _ => None,
        })
        .collect()
}

#[test]
fn state_transitions_follow_rfc_9293() {
    let (out, c) = run(config(50_000, 20, None, &[]));
    assert!(out.completed);
    let path = |h| -> Vec<&str> { states(&c, h).iter().map(|s| s.1).collect() };
    assert_eq!(
        path(Host::Client),
        [
            "SYN-SENT",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "TIME-WAIT"
        ]
    );
    assert_eq!(
        path(Host::Server),
        [
            "SYN-RECEIVED",
            "ESTABLISHED",
            "CLOSE-WAIT",
            "LAST-ACK",
            "CLOSED"
        ]
    );
    for (from, to, rfc) in states(&c, Host::Client)
        .into_iter()
        .chain(states(&c, Host::Server))
    {
        assert!(rfc.starts_with("RFC 9293 §3."), "{from} → {to}: {rfc}");
    }
    // Time in each state adds up to the run (per connection, from its first state on).
    let client: u64 = out.client.time_in_state.iter().map(|s| s.1).sum();
    assert_eq!(client, out.end.total_micros());
}

#[test]
fn a_timeout_backs_off_rto_and_collapses_cwnd() {
    // Six copies of the segment with byte 30000 are lost: fast retransmit, a SACK repair, then
    // only the retransmission timer is left.
    let (out, c) = run(config(
        100_000,
        20,
        Some(10_000_000),
        &["drop seq=30000 count=6"],
    ));
    assert!(out.completed);
    let client: Vec<&Kind> = c
        .events
        .iter()
        .filter(|e| e.host == Host::Client)
        .map(|e| &e.kind)
        .collect();
    let pos = |f: &dyn Fn(&Kind) -> bool| client.iter().position(|k| f(k));
    let fast = pos(&|k| {
        matches!(
            k,
            Kind::Send {
                cause: "fast_retransmit",
                ..
            }
        )
    })
    .expect("fast");
    let rto = pos(&|k| matches!(k, Kind::Send { cause: "rto", .. })).expect("rto");
    assert!(fast < rto);
    // Entering fast recovery reduces ssthresh (CUBIC: β = 0.7, RFC 9438 §4.6; RFC 5681 §3.2)
    // before the retransmission.
    assert!(client[..fast].iter().any(
        |k| matches!(k, Kind::Cwnd { reason, ssthresh: Some(_), .. } if reason.contains("RFC 5681 §3.2") && reason.contains("0.7·FlightSize"))
    ));
    // The timeout doubles the RTO (RFC 6298 §5.5) and sets cwnd to one segment; the label
    // follows the controller (CUBIC by default: RFC 9438 §4.8, β = 0.7).
    let before_rto = &client[..rto];
    assert!(
        before_rto
            .iter()
            .any(|k| matches!(k, Kind::Rto { reason, .. } if reason.contains("RFC 6298 §5.5")))
    );
    assert!(before_rto.iter().any(|k| matches!(
        k,
        Kind::Cwnd { cwnd, reason, .. } if *cwnd <= 1448 && reason.contains("0.7·FlightSize") && reason.contains("RFC 9438 §4.6, §4.8")
    )));
    // Its comment names the timer and the RTO that fired.
    match client[rto] {
        Kind::Send { why, snap, .. } => {
            assert!(why.starts_with("RTO #1 fired (rto="), "{why}");
            assert_eq!(snap.state, "ESTABLISHED");
        }
        _ => unreachable!(),
    }
}

#[test]
fn every_segment_of_ours_has_a_cause_and_a_snapshot() {
    let (out, c) = run(config(
        200_000,
        30,
        Some(5_000_000),
        &["drop data#15", "dup synack"],
    ));
    assert!(out.completed);
    let mut causes = std::collections::BTreeSet::new();
    for e in &c.events {
        if let Kind::Send {
            cause,
            why,
            snap,
            seg,
            rexmit,
        } = &e.kind
        {
            assert!(!why.is_empty() && !snap.state.is_empty(), "{e:?}");
            assert!(snap.rto_us > 0);
            let resend =
                cause.contains("retransmit") || ["rto", "goback_n", "partial_ack"].contains(cause);
            if !["zero_window_probe", "keepalive"].contains(cause) {
                assert_eq!(*rexmit, resend, "{cause}");
            }
            if seg.len > 0 && !rexmit {
                assert_eq!(*cause, "new_data");
            }
            causes.insert(*cause);
        }
    }
    for want in ["syn", "synack", "new_data", "fast_retransmit", "ack", "fin"] {
        assert!(causes.contains(want), "{want} missing from {causes:?}");
    }
    // The duplicated SYN-ACK reaches the client twice; it answers the second with an ACK.
    assert_eq!(
        out.s2c.duplicated, 0,
        "the rule, not the random link, duplicated it"
    );
    assert_eq!(out.rule_actions, 2);
}
