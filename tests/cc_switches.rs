// Issue 4: every mechanism switchable per stack (TcpConfig) and per connection (TcpLayer
// setters): CUBIC (RFC 9438) by default, NewReno (RFC 6582) on request; and a CUBIC sender's
// window after a loss follows β = 0.7 end to end (RFC 9438 §4.6).
#[path = "common/loss_net.rs"]
mod net;

use std::net::SocketAddrV4;

use net::{A_IP, B_IP, Fate, Net, PathCfg, SegInfo, ours};
use tunstack::SocketError;
use tunstack::tcp::{Recovery, TcpConfig, TcpLayer};
use tunstack::time::{Duration, Instant};

#[test]
fn cubic_is_the_default_and_each_connection_can_switch() {
    let mut tcp = TcpLayer::new(TcpConfig::default(), [0; 16], 1);
    let h = tcp
        .connect(
            Instant::ZERO,
            SocketAddrV4::new(A_IP, 0),
            SocketAddrV4::new(B_IP, 80),
        )
        .unwrap();
    assert_eq!(tcp.connection(h).unwrap().cc_name(), "cubic");
    tcp.set_congestion_control(h, "newreno").unwrap();
    assert_eq!(tcp.connection(h).unwrap().cc_name(), "newreno");
    assert_eq!(
        tcp.set_congestion_control(h, "bbr"),
        Err(SocketError::InvalidInput)
    );
    tcp.set_loss_recovery(h, Recovery::DupAck, false, false)
        .unwrap();
    let cfg = TcpConfig {
        cc: "reno".into(),
        ..TcpConfig::default()
    };
    let mut tcp = TcpLayer::new(cfg, [0; 16], 1);
    let h = tcp
        .connect(
            Instant::ZERO,
            SocketAddrV4::new(A_IP, 0),
            SocketAddrV4::new(B_IP, 80),
        )
        .unwrap();
    assert_eq!(tcp.connection(h).unwrap().cc_name(), "reno");
}

#[test]
fn one_loss_cuts_cubic_by_beta_and_newreno_by_half() {
    // RFC 9438 §4.6: ssthresh = 0.7 · FlightSize; RFC 5681 §3.2 eq. (4): FlightSize / 2. Both
    // slow-start identically (HyStart++ off), so the same loss finds the same flight: the
    // ssthresh ratio is 0.7 / 0.5 = 1.4.
    let mut ss = Vec::new();
    for cc in ["cubic", "newreno"] {
        let a = TcpConfig {
            cc: cc.into(),
            hystart: false,
            send_buffer: 1 << 20,
            ..TcpConfig::default()
        };
        let b = TcpConfig {
            recv_buffer: 1 << 20,
            ..TcpConfig::default()
        };
        let path = PathCfg {
            rtt: Duration::from_millis(20),
            rate_bps: 0,
            queue_bytes: 0,
            loss: 0.0,
            ce_threshold: 0,
            seed: 3,
        };
        let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), path);
        n.filter = Some(Box::new(|s: &SegInfo| {
            if s.offset == 100 * 1448 && s.nth == 1 {
                Fate::Drop
            } else {
                Fate::Pass
            }
        }));
        n.add_flow(400_000);
        let mut first = None;
        for ms in (5..3000).step_by(5) {
            n.run(Instant::from_millis(ms));
            let c = n.a.tcp().connection(n.senders[0].h).unwrap();
            if c.info().ssthresh != u32::MAX {
                first = Some(f64::from(c.info().ssthresh));
                break;
            }
        }
        ss.push(first.expect("a reduction"));
        n.run(Instant::from_secs(30));
        assert_eq!(n.receivers[0].received, 400_000);
        assert_eq!(n.a.tcp().stats().fast_recoveries, 1);
    }
    let ratio = ss[0] / ss[1];
    assert!((ratio - 1.4).abs() < 0.02, "cubic/newreno ssthresh {ss:?}");
}
