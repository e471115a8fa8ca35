// RFC 9293 §3.4: sequence numbers are compared modulo 2^32; a connection whose ISNs sit just
// below 2^32 must work across the wrap in both directions. RFC 6528: ISNs from the keyed hash.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use std::net::SocketAddrV4;
use tunstack::tcp::{TcpConfig, TcpLayer};
use tunstack::time::Instant;

const OUR_ISS: u32 = u32::MAX - 3;
const PEER_ISS: u32 = u32::MAX - 1;

#[test]
fn data_flows_across_the_sequence_wrap_both_ways() {
    // RFC 9293 §3.4: ISNs 4 and 2 below 2^32; data, reassembly and FIN across the wrap.
    let mut t = Scenario::new(Scenario::quick_ack_config());
    t.tcp.set_fixed_isn(Some(OUR_ISS));
    t.h = Some(t.tcp.connect(t.now, US, PEER).unwrap());
    t.expect_tx(seg().syn().seq(OUR_ISS));
    t.peer_sends(
        seg()
            .syn()
            .seq(PEER_ISS)
            .ack(OUR_ISS.wrapping_add(1))
            .mss(1460),
    );
    t.expect_tx(seg().seq(u32::MAX - 2).ack(u32::MAX));
    t.expect_state("ESTABLISHED");
    // We send 10 bytes: seq 2^32-3 .. 6 (wrapped).
    t.app_write(b"0123456789");
    t.expect_tx(seg().seq(u32::MAX - 2).payload(b"0123456789"));
    t.peer_sends(seg().seq(u32::MAX).ack(7));
    assert_eq!(t.conn().snd_una.0, 7);
    // The peer sends 10 bytes starting at 2^32-1.
    t.peer_sends(seg().seq(u32::MAX).ack(7).payload(b"abcdefghij"));
    t.expect_tx(seg().seq(7).ack(9));
    assert_eq!(t.app_read().unwrap(), b"abcdefghij");
    // Out-of-order across the wrap is reassembled.
    t.peer_sends(seg().seq(14).ack(7).payload(b"XY"));
    t.expect_tx(seg().ack(9));
    t.peer_sends(seg().seq(9).ack(7).payload(b"hello"));
    t.expect_tx(seg().ack(16));
    assert_eq!(t.app_read().unwrap(), b"helloXY");
    // Close across the wrap, too.
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(7));
    t.peer_sends(seg().fin().seq(16).ack(8));
    t.expect_state("TIME-WAIT");
}

#[test]
fn rfc6528_isns_differ_per_connection_and_advance_with_time() {
    // RFC 6528 §3: ISN = M + F(4-tuple, secret); M ticks every 4 µs.
    let mut tcp = TcpLayer::new(TcpConfig::default(), [3; 16], 1);
    let mut buf = [0u8; 1500];
    let mut isn_of = |tcp: &mut TcpLayer, now: Instant, port: u16| {
        tcp.connect(now, SocketAddrV4::new(US_IP, port), PEER)
            .unwrap();
        let (_, _, n) = tcp.poll_transmit(now, &mut buf).unwrap();
        tunstack::tcp::segment::Segment::parse(&buf[..n])
            .unwrap()
            .seq
            .0
    };
    let a = isn_of(&mut tcp, Instant::ZERO, 1000);
    let b = isn_of(&mut tcp, Instant::ZERO, 1001);
    assert_ne!(a, b, "different 4-tuples, different ISNs");
    let mut tcp2 = TcpLayer::new(TcpConfig::default(), [3; 16], 1);
    let a_later = isn_of(&mut tcp2, Instant::from_micros(4000), 1000);
    assert_eq!(
        a_later.wrapping_sub(a),
        1000,
        "same tuple, 4 ms later: +1000"
    );
}
