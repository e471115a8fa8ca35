//! Each scripted impairment does exactly what it says, seen from both endpoints' traces.

mod obs_util;

use obs_util::*;
use tunstack::Duration;
use tunstack::link::rules::{parse_rule, parse_rules};
use tunstack::trace::Host;

const MB: u64 = 1 << 20;

/// How many times the server received a segment starting at `seq`.
fn server_got(c: &Collect, seq: u32) -> usize {
    received(c, Host::Server)
        .iter()
        .filter(|r| r.1 == seq && r.2 > 0)
        .count()
}

#[test]
fn drop_nth_data_segment() {
    let (out, c) = run(config(200_000, 20, None, &["drop data#3"]));
    assert!(out.completed);
    let sent = data_sent(&c, Host::Client);
    let third = sent[2];
    assert!(!third.3, "the 3rd data segment is an original");
    let copies = sent.iter().filter(|s| s.1 == third.1).count();
    assert!(copies >= 2, "it was retransmitted");
    assert_eq!(server_got(&c, third.1), copies - 1, "exactly one copy lost");
    // Nothing else was lost: every other segment arrived as often as it was sent.
    for s in sent.iter().filter(|s| s.1 != third.1) {
        let n = sent.iter().filter(|x| x.1 == s.1).count();
        assert_eq!(server_got(&c, s.1), n, "seq {}", s.1);
    }
    let links = link_events(&c);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].2, "drop");
    assert_eq!(links[0].3, "rule: drop data#3");
    assert_eq!(out.flows[0].received, 200_000);
}

#[test]
fn drop_segment_carrying_sequence_x_and_its_retransmission() {
    // Byte 30000 sits in the 21st segment (1448-byte payloads: 20·1448 = 28960).
    let (out, c) = run(config(
        100_000,
        20,
        Some(10_000_000),
        &["drop seq=30000", "drop rexmit seq=30000"],
    ));
    assert!(out.completed);
    let covering: Vec<_> = data_sent(&c, Host::Client)
        .into_iter()
        .filter(|s| s.1 <= 30000 && 30000 < s.1 + s.2)
        .collect();
    assert!(
        covering.len() >= 3,
        "original, dropped retransmission, then one that arrives"
    );
    assert!(!covering[0].3 && covering[1].3 && covering[2].3);
    assert_eq!(server_got(&c, covering[0].1), covering.len() - 2);
    let rules: Vec<_> = link_events(&c).into_iter().map(|l| l.3).collect();
    assert_eq!(
        rules,
        vec!["rule: drop seq=30000", "rule: drop rexmit seq=30000"]
    );
    // The lost retransmission is detected and sent again (RACK, RFC 8985 §6.2, or the timer).
    assert!(covering[2].4 != "new_data", "{covering:?}");
}

#[test]
fn delay_nth_ack() {
    let (out, c) = run(config(100_000, 10, None, &["delay ack#5 by 300ms"]));
    assert!(out.completed);
    let acks: Vec<_> = c
        .events
        .iter()
        .filter(|e| e.host == Host::Server)
        .filter_map(|e| match &e.kind {
            tunstack::trace::Kind::Send { seg, .. } if seg.flags == "A" && seg.len == 0 => {
                Some((e.t, seg.ack))
            }
            _ => None,
        })
        .collect();
    let (t5, ack5) = acks[4];
    let due = t5 + Duration::from_millis(300) + Duration::from_millis(5);
    let got = received(&c, Host::Client);
    assert!(
        got.iter().any(|r| r.0 == due && r.4 == ack5 && r.3 == "A"),
        "the 5th ACK (ack {ack5}, sent {t5}) arrives at {due}"
    );
    // Every other ACK takes the plain 5 ms.
    let (t4, ack4) = acks[3];
    assert!(
        got.iter()
            .any(|r| r.0 == t4 + Duration::from_millis(5) && r.4 == ack4)
    );
}

#[test]
fn duplicate_the_syn_ack() {
    let (out, c) = run(config(10_000, 20, None, &["dup synack"]));
    assert!(out.completed);
    let sent = c
        .events
        .iter()
        .filter(|e| e.host == Host::Server)
        .filter(|e| matches!(&e.kind, tunstack::trace::Kind::Send { seg, .. } if seg.flags == "SA"))
        .count();
    let got = received(&c, Host::Client)
        .iter()
        .filter(|r| r.3 == "SA")
        .count();
    assert_eq!((sent, got), (1, 2));
}

#[test]
fn reorder_segments_n_and_n_plus_1() {
    let (out, c) = run(config(100_000, 20, Some(10_000_000), &["reorder data#10"]));
    assert!(out.completed);
    let sent = data_sent(&c, Host::Client);
    let (s10, s11) = (sent[9].1, sent[10].1);
    // First arrival of each segment (a spurious retransmission may arrive again later).
    let mut order: Vec<u32> = Vec::new();
    for r in received(&c, Host::Server).iter().filter(|r| r.2 > 0) {
        if !order.contains(&r.1) {
            order.push(r.1);
        }
    }
    let p10 = order.iter().position(|&s| s == s10).expect("10th arrives");
    let p11 = order.iter().position(|&s| s == s11).expect("11th arrives");
    assert_eq!(p11 + 1, p10, "11th right before the 10th: {order:?}");
    // Everything before and after keeps its order.
    let mut rest = order.clone();
    rest.swap(p10, p11);
    let first_sent: Vec<u32> = sent.iter().filter(|s| !s.3).map(|s| s.1).collect();
    assert_eq!(&rest[..first_sent.len().min(rest.len())], &first_sent[..]);
}

#[test]
fn corrupt_one_packet() {
    let (out, c) = run(config(100_000, 20, None, &["corrupt data#7"]));
    assert!(out.completed);
    let seventh = data_sent(&c, Host::Client)[6];
    // (Other drops may follow: duplicates of data already received, outside the window.)
    let drops: Vec<_> = c
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            tunstack::trace::Kind::Drop { seg, reason } if reason.contains("checksum") => {
                Some((e.host, seg.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].0, Host::Server);
    assert_eq!(drops[0].1.as_ref().map(|s| s.seq), Some(seventh.1));
    assert_eq!(drops[0].2, "tcp: bad checksum");
    assert_eq!(out.flows[0].received, 100_000);
}

#[test]
fn black_hole_a_direction_for_a_while() {
    let (out, c) = run(config(
        MB,
        20,
        Some(10_000_000),
        &["blackhole s2c from 200ms to 500ms"],
    ));
    assert!(out.completed);
    let (from, to) = (
        tunstack::Instant::from_millis(200),
        tunstack::Instant::from_millis(500),
    );
    let server_sent_inside = c
        .events
        .iter()
        .filter(|e| e.host == Host::Server && e.t >= from && e.t < to)
        .filter(|e| matches!(e.kind, tunstack::trace::Kind::Send { .. }))
        .count();
    let holes = link_events(&c)
        .into_iter()
        .filter(|l| l.2 == "blackhole")
        .collect::<Vec<_>>();
    assert!(server_sent_inside > 0);
    assert_eq!(holes.len(), server_sent_inside);
    assert!(
        holes
            .iter()
            .all(|h| h.0 >= from && h.0 < to && h.1 == "s2c")
    );
    // Nothing from the server reached the client in the window (shifted by delay + serialization).
    let late = Duration::from_millis(10) + Duration::from_millis(2);
    assert!(
        !received(&c, Host::Client)
            .iter()
            .any(|r| r.0 >= from + late && r.0 < to)
    );
    // The client kept retransmitting into the silence.
    assert!(out.client.rto_retransmissions >= 1);
}

#[test]
fn bad_rules_are_rejected_with_a_reason() {
    for (rule, needle) in [
        ("drop dat#3", "unknown selector"),
        ("drop data#0", "≥ 1"),
        ("drop data", "needs a number"),
        ("delay ack#5", "by DURATION"),
        ("delay ack#5 by 3", "unit must be"),
        ("drop data#3 by 10ms", "only goes with delay"),
        ("reorder ack#2", "reorder works on"),
        ("explode data#1", "unknown action"),
        ("blackhole s2c from 2s to 1s", "not after"),
        ("blackhole up from 1s to 2s", "unknown direction"),
        ("drop rexmit data#2", "rexmit goes with seq"),
        ("drop data#2 count=3", "count= only"),
    ] {
        let e = parse_rule(rule).expect_err(rule);
        assert!(e.msg.contains(needle), "{rule}: {}", e.msg);
    }
    let file = "# comment\ndrop data#3   # trailing comment\n\nblackhole both from 1s to 2s\n";
    assert_eq!(parse_rules(file).expect("file").len(), 2);
    let e = parse_rules("drop data#1\nfrob\n").expect_err("bad line");
    assert_eq!(e.line, 2);
}
