// RTT samples from SACKed segments during recovery (RFC 6298 §3, as Linux's sack_rtt_us) and
// the RTO they restart: a slow-start overshoot of a one-BDP queue must be repaired by fast
// recovery alone. Simulated path of tests/common/loss_net.rs, deterministic.
#[path = "common/loss_net.rs"]
mod net;

use net::{A_IP, B_IP, Net, PathCfg, ours};
use tunstack::tcp::{Recovery, TcpConfig};
use tunstack::time::{Duration, Instant};

const BUF: usize = 2 << 20;

fn sender(cc: &str, recovery: Recovery) -> TcpConfig {
    let mut c = TcpConfig {
        cc: cc.into(),
        recovery,
        ..TcpConfig::default()
    };
    c.set_buffers(BUF);
    c
}

#[test]
fn a_slow_start_overshoot_is_repaired_without_an_rto() {
    // 10 Mbit/s, 400 ms, a one-BDP (500 kB) tail-drop queue, 2 MB windows: slow start
    // overshoots, the queue drops every other segment of the last round, and the first
    // retransmission waits behind a full queue: its RTT is ~800 ms while SRTT, last updated
    // when SND.UNA stopped at the first hole, is ~420 ms. With RTT samples only from
    // cumulative ACKs the RTO (SRTT + 4·RTTVAR ≈ 700 ms) fired before that retransmission
    // could be acknowledged (1 RTO, a second reduction undone by Eifel, and a burst that
    // overflowed the queue again). The SACKs of the segments sent before the retransmission
    // keep arriving, and their RTTs carry the queueing delay; Linux samples them and restarts
    // the RTO on them (tcp_clean_rtx_queue).
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let p = PathCfg {
            rtt: Duration::from_millis(400),
            rate_bps: 10_000_000,
            queue_bytes: 500_000,
            loss: 0.0,
            ce_threshold: 0,
            seed: 1,
        };
        let mut b = TcpConfig::default();
        b.set_buffers(BUF);
        let mut n = Net::new(ours(A_IP, sender("newreno", rec), 1), ours(B_IP, b, 2), p);
        n.add_flow(u64::MAX);
        n.run(Instant::from_secs(5));
        let st = n.a.tcp().stats().clone();
        assert!(n.queue_drops > 100, "{rec:?}: no overshoot: {st:?}");
        assert_eq!(st.fast_recoveries, 1, "{rec:?}: {st:?}");
        assert_eq!(st.rto_expirations, 0, "{rec:?}: {st:?}");
        assert_eq!(st.spurious_undos, 0, "{rec:?}: {st:?}");
        assert_eq!(n.spurious, 0, "{rec:?}: {st:?}");
    }
}
