// RFC 4987 §3.6 SYN cookies: with a listener's SYN queue full of spoofed half-open
// connections, a legitimate handshake still completes statelessly; forged cookies are refused.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

fn flooded(cfg: TcpConfig) -> Scenario {
    let mut t = Scenario::listening(TcpConfig { backlog: 4, ..cfg });
    for port in 30000..30004 {
        t.peer_sends(seg().syn().seq(IRS).ports(port, 80));
        t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    }
    assert_eq!(t.tcp.connection_count(), 4, "SYN queue full");
    t
}

#[test]
fn handshake_completes_with_a_cookie_when_the_syn_queue_is_full() {
    // RFC 4987 §3.6: cookie SYN,ACK (no state), the ACK rebuilds the connection with the MSS
    // the cookie carries and wscale/SACK from the timestamp echo (as Linux).
    let mut t = flooded(Scenario::quick_ack_config());
    t.peer_sends(
        seg()
            .syn()
            .seq(IRS)
            .mss(1460)
            .wscale(7)
            .sack_perm()
            .ts(777, 0),
    );
    let sa = t.pop_tx().expect("cookie SYN,ACK");
    assert_eq!(sa.flags, 0x12, "{}", t.dump());
    assert_eq!(sa.ack, IRS + 1);
    assert_ne!(sa.seq, ISS, "the ISN is the cookie");
    assert_eq!(sa.options.mss, Some(1460));
    assert_eq!(sa.options.window_scale, Some(3), "our shift for 256 KiB");
    assert!(sa.options.sack_permitted);
    let (tsval, tsecr) = sa.options.timestamps.expect("timestamps");
    assert_eq!(tsecr, 777);
    assert_eq!(t.tcp.connection_count(), 4, "no state for the cookie");
    assert_eq!(t.stats().syncookies_sent, 1);

    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(sa.seq.wrapping_add(1))
            .win(1000)
            .ts(778, tsval)
            .payload(b"hello"),
    );
    assert_eq!(t.stats().syncookies_ok, 1);
    let l = t.listener.unwrap();
    t.h = Some(t.tcp.accept(l).expect("accepted"));
    t.expect_state("ESTABLISHED");
    assert_eq!(t.app_read().unwrap(), b"hello");
    t.expect_tx(seg().seq(sa.seq.wrapping_add(1)).ack(IRS + 6));
    let c = t.conn();
    assert_eq!(c.smss(), 1448, "MSS 1460 less the timestamp option");
    assert_eq!(c.snd_wnd, 1000 << 7, "the peer's shift came back in TSecr");
    assert_eq!(c.ts_recent(), Some(778));
}

#[test]
fn cookie_without_timestamps_drops_wscale_and_sack() {
    // RFC 4987 §3.6 / Linux: without timestamps only the MSS survives in the cookie.
    let mut t = flooded(Scenario::quick_ack_config());
    t.peer_sends(seg().syn().seq(IRS).mss(1400).wscale(7).sack_perm());
    let sa = t.pop_tx().expect("cookie SYN,ACK");
    assert_eq!(sa.options.mss, Some(1460));
    assert_eq!(sa.options.window_scale, None);
    assert!(!sa.options.sack_permitted);
    assert_eq!(sa.options.timestamps, None);
    t.peer_sends(seg().seq(IRS + 1).ack(sa.seq.wrapping_add(1)).win(3000));
    let l = t.listener.unwrap();
    t.h = Some(t.tcp.accept(l).expect("accepted"));
    assert_eq!(t.conn().smss(), 1400, "MSS index: 1400");
    assert_eq!(t.conn().snd_wnd, 3000, "no scaling");
}

#[test]
fn forged_cookie_draws_rst_and_is_counted() {
    // RFC 4987 §3.6: an ACK whose cookie does not verify is an ACK in LISTEN: <SEQ=SEG.ACK><RST>.
    let mut t = flooded(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    let sa = t.pop_tx().expect("cookie SYN,ACK");
    t.peer_sends(seg().seq(IRS + 1).ack(sa.seq.wrapping_add(2)));
    t.expect_tx(seg().rst().seq(sa.seq.wrapping_add(2)));
    t.peer_sends(seg().seq(IRS + 2).ack(sa.seq.wrapping_add(1)));
    t.expect_tx(seg().rst().seq(sa.seq.wrapping_add(1)));
    assert_eq!(t.stats().syncookies_failed, 2);
    // A good cookie with a timestamp echo we never sent is refused too (as Linux).
    let mut u = flooded(TcpConfig::default());
    u.peer_sends(seg().syn().seq(IRS).mss(1460).ts(5, 0));
    let sb = u.pop_tx().expect("cookie SYN,ACK");
    let (tsval, _) = sb.options.timestamps.expect("timestamps");
    let ack = sb.seq.wrapping_add(1);
    u.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(ack)
            .ts(6, tsval.wrapping_add(100_000)),
    );
    u.expect_tx(seg().rst().seq(ack));
    assert_eq!(u.stats().syncookies_failed, 1);
    assert_eq!(t.stats().syncookies_ok, 0);
    assert_eq!(t.tcp.connection_count(), 4);
    // A cookie is good for two 64 s periods at most.
    t.advance_ms(200_000);
    let _ = t.drain(); // the flood's SYN,ACK retransmissions
    t.peer_sends(seg().seq(IRS + 1).ack(sa.seq.wrapping_add(1)));
    t.expect_tx(seg().rst().seq(sa.seq.wrapping_add(1)));
    assert_eq!(t.stats().syncookies_ok, 0);
}

#[test]
fn without_cookies_a_full_queue_drops_syns() {
    // RFC 9293 §3.10.7.2 with bounded resources: no cookies, the SYN is dropped and counted.
    let mut t = flooded(TcpConfig {
        syn_cookies: false,
        ..TcpConfig::default()
    });
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    t.expect_nothing();
    assert_eq!(t.stats().listen_overflows, 1);
    assert_eq!(t.stats().syncookies_sent, 0);
}

#[test]
fn full_accept_queue_drops_syns_and_cookie_acks_and_resends_the_syn_ack() {
    // As Linux: with the accept queue itself full there is no room even for a valid cookie:
    // SYNs and cookie ACKs are dropped (counted), and nothing is reset. The peer of a dropped
    // cookie ACK believes it is connected and may never send again (an idle client), so the
    // connection waits in SYN-RECEIVED and our SYN,ACK is retransmitted at RTO (RFC 9293 §3.8.1);
    // the peer's answering ACK (§3.10.7.4) completes the handshake once there is room.
    let mut t = flooded(Scenario::quick_ack_config());
    t.peer_sends(seg().syn().seq(IRS).mss(1460).ports(40001, 80));
    let sa = t.pop_tx().expect("cookie SYN,ACK");
    for port in 30000..30004 {
        t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ports(port, 80));
    }
    let _ = t.drain();
    t.peer_sends(seg().syn().seq(IRS).mss(1460).ports(40002, 80));
    t.expect_nothing();
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(sa.seq.wrapping_add(1))
            .ports(40001, 80),
    );
    t.expect_nothing();
    assert_eq!(t.stats().listen_overflows, 2);
    // Still full at the first retransmission: the answering ACK is dropped again.
    t.advance_ms(1000);
    t.expect_tx(seg().syn().seq(sa.seq).ack(IRS + 1).ports(80, 40001));
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(sa.seq.wrapping_add(1))
            .ports(40001, 80),
    );
    t.expect_nothing();
    assert_eq!(t.stats().listen_overflows, 3);
    // accept() makes room: the SYN,ACK goes again at once (not at the next RTO, 2 s away) and
    // draws the ACK that gets in.
    let l = t.listener.unwrap();
    for _ in 30000..30004 {
        assert!(t.tcp.accept(l).is_ok());
    }
    assert!(t.tcp.accept(l).is_err(), "not yet in the accept queue");
    t.expect_tx(seg().syn().seq(sa.seq).ack(IRS + 1).ports(80, 40001));
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(sa.seq.wrapping_add(1))
            .ports(40001, 80),
    );
    assert_eq!(t.stats().syncookies_ok, 1);
    assert_eq!(t.stats().listen_overflows, 3);
    let h = t
        .tcp
        .accept(l)
        .expect("the idle client's connection is accepted");
    assert_eq!(t.tcp.peer_addr(h).map(|a| a.port()), Ok(40001));
}

#[test]
fn cookie_ack_at_the_connection_limit_is_dropped_and_counted() {
    // RFC 9293 §3.10.7.2 with bounded resources: a valid cookie does not bypass max_connections.
    let mut t = flooded(TcpConfig {
        max_connections: 4,
        ..Scenario::quick_ack_config()
    });
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    let sa = t.pop_tx().expect("cookie SYN,ACK");
    t.peer_sends(seg().seq(IRS + 1).ack(sa.seq.wrapping_add(1)));
    t.expect_nothing();
    assert_eq!(t.stats().connection_limit, 1);
    assert_eq!(t.tcp.connection_count(), 4);
}
