//! The hand-built packets and the sink/source arithmetic, checked without a device.

use super::*;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// etherparse's view: IPv4 header checksum right, TCP checksum right, (seq, ack, payload len).
fn independent(p: &[u8]) -> (u32, u32, usize) {
    let s = SlicedPacket::from_ip(p).expect("etherparse parses it");
    let Some(NetSlice::Ipv4(ip)) = s.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
    let Some(TransportSlice::Tcp(tcp)) = s.transport else {
        panic!("not TCP")
    };
    let sum = tcp.calc_checksum_ipv4(A.octets(), B.octets()).unwrap();
    assert_eq!(sum, tcp.checksum(), "TCP checksum");
    (
        tcp.sequence_number(),
        tcp.acknowledgment_number(),
        tcp.payload().len(),
    )
}

#[test]
fn data_template_checksums_stay_valid_as_seq_and_ack_change() {
    // A payload that does not sum to zero, so the precomputed part matters.
    let payload: Vec<u8> = (0..1460u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut t = Template::new(A, B, 40000, 5019, ACK, 4096, &[], &payload);
    for (seq, ack) in [
        (1, 2),
        (0xffff_fff0, 7),
        (u32::MAX, u32::MAX),
        (0x1234_5678, 0),
    ] {
        let p = t.set(seq, ack).to_vec();
        assert_eq!(independent(&p), (seq, ack, 1460));
        let s = parse(&p, true).expect("our parser verifies it");
        assert_eq!(
            (s.seq, s.ack, s.payload, s.flags),
            (seq, ack, &payload[..], ACK)
        );
        assert_eq!((s.sport, s.dport, s.window), (40000, 5019, 4096));
    }
}

#[test]
fn syn_options_round_trip_and_a_corrupt_packet_fails_verification() {
    let mut t = Template::new(A, B, 9, 33000, SYN | ACK, 65535, &syn_options(1460), &[]);
    let mut p = t.set(1000, 5001).to_vec();
    assert_eq!(independent(&p), (1000, 5001, 0));
    let s = parse(&p, true).unwrap();
    assert_eq!(
        (s.mss, s.wscale, s.flags),
        (Some(1460), Some(WSCALE), SYN | ACK)
    );
    p[30] ^= 1; // a bit of the acknowledgment number
    assert!(parse(&p, true).is_none(), "bad TCP checksum accepted");
    assert!(parse(&p, false).is_some(), "unverified parse rejects it");
    assert!(parse(&p[..30], false).is_none(), "truncated packet parsed");
}

#[test]
fn receiver_acks_every_second_full_segment_and_reacks_out_of_order() {
    let irs = u32::MAX - 1000; // sequence numbers wrap during the test
    let mut r = Receiver::new(irs, 1460, AckPolicy::Every2);
    let mut seq = irs.wrapping_add(1);
    assert!(!r.on_segment(seq, 1460, false));
    seq = seq.wrapping_add(1460);
    assert!(r.on_segment(seq, 1460, false), "second full segment: ACK");
    seq = seq.wrapping_add(1460);
    assert_eq!(r.acked_now(), seq);
    assert!(!r.on_idle());
    // A small segment does not count towards the two, but idle still ACKs it.
    assert!(!r.on_segment(seq, 100, false));
    seq = seq.wrapping_add(100);
    assert!(r.on_idle());
    assert_eq!(r.acked_now(), seq);
    // A gap: dropped, ACK of RCV.NXT at once, nothing counted.
    assert!(r.on_segment(seq.wrapping_add(1460), 1460, false));
    assert_eq!((r.rcv_nxt, r.out_of_order), (seq, 1));
    assert_eq!(r.in_order_bytes, 2 * 1460 + 100);
    // FIN: ACKed at once, RCV.NXT one past it.
    assert!(r.on_segment(seq, 0, true));
    assert_eq!(r.acked_now(), seq.wrapping_add(1));
    assert!(r.fin);
}

#[test]
fn receiver_eagain_policy_acks_only_when_idle() {
    let mut r = Receiver::new(0, 1460, AckPolicy::Eagain);
    for i in 0..10u32 {
        assert!(!r.on_segment(1 + i * 1460, 1460, false));
    }
    assert!(r.on_idle());
    assert_eq!(r.acked_now(), 1 + 10 * 1460);
    // A batch that never meets EAGAIN still ends after BATCH_MAX segments.
    let mut seq = 1 + 10 * 1460;
    for i in 1..=BATCH_MAX {
        assert_eq!(
            r.on_segment(seq, 1460, false),
            i == BATCH_MAX,
            "segment {i}"
        );
        seq += 1460;
    }
    assert_eq!(r.acked_now(), seq);
}

#[test]
fn sender_respects_the_scaled_window_and_wraps() {
    let iss = u32::MAX - 2000;
    let mut s = Sender::new(iss, 5000, 2);
    // The SYN,ACK's window is not scaled: 5000 bytes, three segments of 1460.
    for _ in 0..3 {
        assert!(s.can_send(1460));
        s.sent(1460);
    }
    assert!(!s.can_send(1460));
    assert_eq!(s.in_flight(), 4380);
    // An ACK of two segments with window 4000 << 2 = 16000.
    s.on_ack(iss.wrapping_add(1 + 2920), 4000).unwrap();
    assert_eq!((s.in_flight(), s.wnd, s.acked_bytes), (1460, 16000, 2920));
    assert!(s.can_send(14540) && !s.can_send(14541));
    assert!(
        s.on_ack(s.nxt.wrapping_add(1), 4000).is_err(),
        "ACK beyond SND.NXT"
    );
}

#[test]
fn three_duplicate_acks_void_the_run_but_window_updates_do_not() {
    let mut s = Sender::new(0, 60000, 0);
    s.sent(1460 * 4);
    s.on_ack(1 + 1460, 60000).unwrap();
    s.on_ack(1 + 1460, 60000).unwrap();
    s.on_ack(1 + 1460, 50000).unwrap(); // window update: not a duplicate (RFC 5681 §2)
    s.on_ack(1 + 1460, 50000).unwrap();
    assert!(s.on_ack(1 + 1460, 50000).is_err(), "the third duplicate");
}
