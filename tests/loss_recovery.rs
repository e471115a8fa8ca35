// RFC 6675 / RFC 8985 / RFC 6937 end to end: seq-exact losses on a simulated path (tests/common/
// loss_net.rs), the sender's counters show how each loss was repaired.
#[path = "common/loss_net.rs"]
mod net;

use net::{A_IP, B_IP, Fate, Net, PathCfg, SegInfo, ours};
use tunstack::tcp::{Recovery, TcpConfig, TcpStats};
use tunstack::time::{Duration, Instant};

const MSS: u64 = 1448; // 1460 minus the timestamp option

fn cfg(cc: &str, recovery: Recovery) -> TcpConfig {
    TcpConfig {
        cc: cc.into(),
        recovery,
        send_buffer: 512 * 1024,
        recv_buffer: 512 * 1024,
        ..TcpConfig::default()
    }
}

fn path() -> PathCfg {
    PathCfg {
        rtt: Duration::from_millis(40),
        rate_bps: 10_000_000,
        queue_bytes: 200_000,
        loss: 0.0,
        ce_threshold: 0,
        seed: 7,
    }
}

/// Send `bytes` A→B through `filter`; returns A's counters after B read everything.
fn transfer(
    a: TcpConfig,
    bytes: u64,
    filter: impl FnMut(&SegInfo) -> Fate + 'static,
) -> (TcpStats, Instant) {
    let b = TcpConfig {
        recv_buffer: 512 * 1024,
        ..TcpConfig::default()
    };
    let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), path());
    n.filter = Some(Box::new(filter));
    n.add_flow(bytes);
    n.run(Instant::from_secs(120));
    let f = &n.receivers[0];
    assert!(f.eof && !f.corrupt, "received {} of {bytes}", f.received);
    assert_eq!(f.received, bytes);
    (n.a.tcp().stats().clone(), n.now)
}

/// Drop the first `times` transmissions of the segments starting at the given offsets.
fn drop_at(offsets: Vec<u64>, times: u32) -> impl FnMut(&SegInfo) -> Fate {
    move |s| {
        if offsets.contains(&s.offset) && s.nth <= times {
            Fate::Drop
        } else {
            Fate::Pass
        }
    }
}

#[test]
fn single_loss_is_one_fast_retransmission() {
    // RFC 8985 §6.2 / RFC 6675 §5: one lost segment, one retransmission, no timeout.
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let (st, _) = transfer(cfg("cubic", rec), 300_000, drop_at(vec![20 * MSS], 1));
        assert_eq!(st.rto_expirations, 0, "{rec:?}: {st:?}");
        assert_eq!(st.retransmits, 1, "{rec:?}: {st:?}");
        assert_eq!(st.fast_recoveries, 1, "{rec:?}");
    }
}

#[test]
fn burst_loss_heals_in_one_recovery() {
    // RFC 6675 §5: five consecutive losses in one window: one recovery episode, each hole
    // resent once, no RTO.
    let offs: Vec<u64> = (30..35).map(|i| i * MSS).collect();
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let (st, _) = transfer(cfg("newreno", rec), 400_000, drop_at(offs.clone(), 1));
        assert_eq!(st.rto_expirations, 0, "{rec:?}: {st:?}");
        assert_eq!(st.retransmits, 5, "{rec:?}: {st:?}");
        assert_eq!(st.fast_recoveries, 1, "{rec:?}");
    }
}

#[test]
fn lost_retransmission_is_detected_by_rack_without_rto() {
    // RFC 8985 §6.2 (and §2.2): RACK notices that the retransmission, sent before segments that
    // were since delivered, is lost too; DupThresh (RFC 6675) cannot and waits for the RTO.
    let (rack, _) = transfer(
        cfg("cubic", Recovery::Rack),
        400_000,
        drop_at(vec![20 * MSS], 2),
    );
    assert_eq!(rack.rto_expirations, 0, "{rack:?}");
    assert!(rack.retransmits >= 2, "{rack:?}");
    let (dup, _) = transfer(
        cfg("cubic", Recovery::DupAck),
        400_000,
        drop_at(vec![20 * MSS], 2),
    );
    assert!(dup.rto_expirations >= 1, "{dup:?}");
}

#[test]
fn tail_loss_is_repaired_by_a_probe_not_an_rto() {
    // RFC 8985 §7: the last segment is lost; no later segment can produce duplicate ACKs.
    // The probe (PTO = 2·SRTT) fires long before the RTO; with dupACK detection only the RTO
    // repairs it.
    let bytes = 50 * MSS;
    let last = 49 * MSS;
    let (rack, t_rack) = transfer(cfg("cubic", Recovery::Rack), bytes, drop_at(vec![last], 1));
    assert!(rack.tlp_probes >= 1, "{rack:?}");
    assert_eq!(rack.rto_expirations, 0, "{rack:?}");
    let (dup, t_dup) = transfer(
        cfg("cubic", Recovery::DupAck),
        bytes,
        drop_at(vec![last], 1),
    );
    assert_eq!(dup.tlp_probes, 0);
    assert!(dup.rto_expirations >= 1, "{dup:?}");
    assert!(t_rack < t_dup, "probe {t_rack:?} vs RTO {t_dup:?}");
}

#[test]
fn reordering_within_the_window_is_not_a_loss() {
    // RFC 8985 §6.2 step 4: a segment overtaken by one other, 2 ms late, is within
    // reo_wnd = min_RTT/4 = 10 ms: no retransmission.
    let (st, _) = transfer(cfg("cubic", Recovery::Rack), 300_000, |s: &SegInfo| {
        if s.offset == 40 * MSS && s.nth == 1 {
            Fate::Delay(Duration::from_millis(2))
        } else {
            Fate::Pass
        }
    });
    assert_eq!(st.retransmits, 0, "{st:?}");
    assert_eq!(st.fast_recoveries, 0, "{st:?}");
}

#[test]
fn without_sack_newreno_still_recovers() {
    // RFC 6582: no SACK negotiated: the classic path repairs a burst by partial ACKs.
    let mut c = cfg("newreno", Recovery::Rack);
    c.sack = false;
    let offs: Vec<u64> = (30..33).map(|i| i * MSS).collect();
    let (st, _) = transfer(c, 300_000, drop_at(offs, 1));
    assert_eq!(st.rto_expirations, 0, "{st:?}");
    assert_eq!(st.retransmits, 3, "{st:?}");
}
