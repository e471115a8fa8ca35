// The flight a SACK sender's reduction starts from (RFC 5681 §3.2, RFC 6675 §5, RFC 9438
// §4.6): min(cwnd, FlightSize), as Linux reduces from cwnd.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

const MSS: u32 = 1448; // 1460 minus the timestamp option

#[test]
fn a_sack_reduction_starts_from_cwnd_as_linux() {
    // Ten segments in flight (cwnd = IW10); the first is lost, the other nine are SACKed. RACK
    // marks it lost (RFC 8985 §6.2) and NewReno reduces from min(cwnd, FlightSize) = 10
    // segments: ssthresh = 5·SMSS, as Linux's tcp_reno_ssthresh (cwnd/2; RFC 9438 §4.6 allows
    // cwnd). FlightSize less SACKed bytes (1 segment) gave 2·SMSS and backed off further than
    // Linux at high loss (docs/loss-recovery.md, "Real TUN").
    let cfg = TcpConfig {
        cc: "newreno".into(),
        ..TcpConfig::default()
    };
    let mut t = Scenario::listening(cfg);
    t.peer_sends(seg().syn().seq(IRS).mss(1460).sack_perm().ts(100, 0));
    let v = t
        .pop_tx()
        .expect("SYN,ACK")
        .options
        .timestamps
        .map_or(0, |(v, _)| v);
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ts(101, v));
    let l = t.listener.expect("listener");
    t.h = Some(t.tcp.accept(l).expect("accept"));
    t.app_write(&vec![5u8; 10 * MSS as usize]);
    let sent = t.drain();
    assert_eq!(sent.len(), 10, "{}", t.dump());
    let ts = sent[9].options.timestamps.map_or(0, |(v, _)| v);
    t.advance_ms(100);
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(ISS + 1)
            .ts(102, ts)
            .sack(ISS + 1 + MSS, ISS + 1 + 10 * MSS),
    );
    t.expect_tx(seg().seq(ISS + 1).len(MSS as usize));
    assert_eq!(t.stats().fast_recoveries, 1, "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, 5 * MSS, "{}", t.dump());
}
