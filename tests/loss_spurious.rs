// Spurious retransmissions (a copy resent although an earlier one got through; the receiver
// answers with a D-SACK, RFC 2883): seq-exact scenarios on the simulated path of
// tests/common/loss_net.rs. `Net::spurious` counts them at the wire.
#[path = "common/loss_net.rs"]
mod net;

use std::cell::Cell;
use std::rc::Rc;

use net::{A_IP, B_IP, Fate, Net, PathCfg, SegInfo, ours};
use tunstack::tcp::{Recovery, TcpConfig, TcpStats};
use tunstack::time::{Duration, Instant};

const MSS: u64 = 1448; // 1460 minus the timestamp option
const MSS_NO_TS: u64 = 1460;

fn cfg(cc: &str, recovery: Recovery) -> TcpConfig {
    TcpConfig {
        cc: cc.into(),
        recovery,
        send_buffer: 512 * 1024,
        recv_buffer: 512 * 1024,
        ..TcpConfig::default()
    }
}

fn path(rtt_ms: u64) -> PathCfg {
    PathCfg {
        rtt: Duration::from_millis(rtt_ms),
        rate_bps: 10_000_000,
        queue_bytes: 200_000,
        loss: 0.0,
        ce_threshold: 0,
        seed: 7,
    }
}

struct Run {
    st: TcpStats,
    spurious: u64,
}

/// Send `bytes` A→B over `p` through `filter`; B must read every byte intact.
fn transfer(
    a: TcpConfig,
    p: PathCfg,
    bytes: u64,
    filter: impl FnMut(&SegInfo) -> Fate + 'static,
) -> Run {
    let b = TcpConfig {
        recv_buffer: 512 * 1024,
        ..TcpConfig::default()
    };
    let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), p);
    n.filter = Some(Box::new(filter));
    n.add_flow(bytes);
    n.run(Instant::from_secs(120));
    let f = &n.receivers[0];
    assert!(f.eof && !f.corrupt, "received {} of {bytes}", f.received);
    assert_eq!(f.received, bytes);
    Run {
        st: n.a.tcp().stats().clone(),
        spurious: n.spurious,
    }
}

#[test]
fn rto_resends_only_what_sack_did_not_cover() {
    // RFC 6675 §5.1: "a SACK TCP sender SHOULD utilize all SACK information made available
    // during the loss recovery following an RTO"; RFC 8985 §6.3 marks only the unSACKed
    // segments lost. Holes at segments 20, 30, 40, 50, 60; their first retransmissions and
    // everything else sent with them are lost too, so only the RTO can repair them. After it,
    // the sender must resend the holes, not the SACKed islands between them (go-back-N did,
    // and each copy drew a D-SACK).
    let filter = || {
        let holes: Vec<u64> = (2..7).map(|i| i * 10 * MSS).collect();
        let b = Rc::new(Cell::new(None::<bool>));
        move |s: &SegInfo| {
            // The blackout starts with the first retransmission and ends with the RTO's (nth 3).
            match (b.get(), s.nth) {
                (None, 2) => b.set(Some(true)),
                (Some(true), 3) => b.set(Some(false)),
                _ => {}
            }
            let hole = holes.contains(&s.offset) && s.nth == 1;
            if hole || (b.get() == Some(true) && s.nth <= 2) {
                Fate::Drop
            } else {
                Fate::Pass
            }
        }
    };
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let r = transfer(cfg("cubic", rec), path(40), 150 * MSS, filter());
        assert_eq!(r.st.rto_expirations, 1, "{rec:?}: {:?}", r.st);
        assert_eq!(r.spurious, 0, "{rec:?}: {:?}", r.st);
        assert_eq!(r.st.dsacks_received, 0, "{rec:?}: {:?}", r.st);
    }
}

#[test]
fn a_retransmission_is_later_than_new_data_sent_in_the_same_tick() {
    // RFC 8985 §6.2: RACK marks a segment lost when one *sent after it* was delivered.
    // Without a bottleneck a whole burst leaves in one microsecond; the holes' resends (27513,
    // 31857, 36201 in lab 5) go after new data of that instant, so the ACKs of that new data
    // must not mark them lost again (they did, one RTT later: three spurious copies).
    let p = PathCfg {
        rate_bps: 0,
        ..path(100)
    };
    let holes = [19 * MSS, 22 * MSS, 25 * MSS];
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let r = transfer(cfg("newreno", rec), p, 200 * 1024, move |s: &SegInfo| {
            if holes.contains(&s.offset) && s.nth == 1 {
                Fate::Drop
            } else {
                Fate::Pass
            }
        });
        assert_eq!(r.spurious, 0, "{rec:?}: {:?}", r.st);
        assert_eq!(r.st.retransmits, 3, "{rec:?}: {:?}", r.st);
        assert_eq!(r.st.rto_expirations, 0, "{rec:?}: {:?}", r.st);
    }
}

#[test]
fn eifel_undoes_the_reduction_for_a_delayed_segment() {
    // RFC 3522 §3.2: segment 20 is 50 ms late on a 40 ms path; RACK (reo_wnd 0 once three
    // segments are SACKed, RFC 8985 §6.2 step 4) resends it and reduces the window. The ACK
    // of the original echoes a TSval older than the retransmission: the reduction is undone.
    for cc in ["cubic", "newreno"] {
        let r = transfer(
            cfg(cc, Recovery::Rack),
            path(40),
            300 * MSS,
            |s: &SegInfo| {
                if s.offset == 20 * MSS && s.nth == 1 {
                    Fate::Delay(Duration::from_millis(50))
                } else {
                    Fate::Pass
                }
            },
        );
        assert_eq!(r.st.fast_recoveries, 1, "{cc}: {:?}", r.st);
        assert_eq!(r.spurious, 1, "{cc}: {:?}", r.st);
        assert_eq!(r.st.spurious_undos, 1, "{cc}: {:?}", r.st);
    }
}

#[test]
fn eifel_does_not_undo_real_losses() {
    // RFC 3522 §1: Eifel judges the retransmission of the oldest outstanding segment. Slow
    // start overflows a one-BDP queue (10 Mbit/s, 200 ms): every segment lost is lost, no
    // retransmission is spurious, so no reduction may be undone. An episode that started at a
    // hole above SND.UNA took the ACK of an older retransmission (echoing its older TSval) for
    // proof and undid it, over and over.
    for cc in ["cubic", "newreno"] {
        let p = PathCfg {
            queue_bytes: 250_000,
            ..path(200)
        };
        let mut a = cfg(cc, Recovery::Rack);
        a.send_buffer = 4 << 20;
        let b = TcpConfig {
            recv_buffer: 4 << 20,
            reassembly_max_segments: 8192,
            ..TcpConfig::default()
        };
        let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), p);
        n.add_flow(u64::MAX);
        n.run(Instant::from_secs(6));
        let st = n.a.tcp().stats().clone();
        assert!(n.queue_drops > 0 && st.fast_recoveries > 0, "{cc}: {st:?}");
        assert_eq!(n.spurious, 0, "{cc}: {st:?}");
        assert_eq!(st.spurious_undos, 0, "{cc}: {st:?}");
    }
}

#[test]
fn a_large_window_keeps_one_record_per_segment() {
    // RFC 6675 §3: the scoreboard tracks what each SACK covers. Slow start at 100 Mbit/s and
    // 200 ms into a 2.5 MB queue puts over 4000 segments in flight; a board capped below
    // that merges new segments into one record, a SACK covering part of it cannot mark it,
    // and RACK resends the whole record although most of it arrived. About 20 s in a debug
    // build: release only (`cargo test --release --test loss_spurious`).
    if cfg!(debug_assertions) {
        return;
    }
    let p = PathCfg {
        rate_bps: 100_000_000,
        queue_bytes: 2_500_000,
        ..path(200)
    };
    let mut a = cfg("newreno", Recovery::Rack);
    a.send_buffer = 8 << 20;
    let b = TcpConfig {
        recv_buffer: 8 << 20,
        reassembly_max_segments: 8192,
        ..TcpConfig::default()
    };
    let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), p);
    n.add_flow(u64::MAX);
    n.run(Instant::from_secs(4));
    let st = n.a.tcp().stats().clone();
    assert!(n.queue_drops > 0 && st.fast_recoveries > 0, "{st:?}");
    // An RTO whose ACK was merely late (the queue doubles the RTT) resends one segment; that
    // is the timer's estimate (RFC 6298), not the scoreboard, and Eifel undoes it. Anything
    // beyond one copy per RTO is the scoreboard's (2610 with 4096 records, no RTO).
    assert!(
        n.spurious <= st.rto_expirations,
        "{} spurious: {st:?}",
        n.spurious
    );
}

#[test]
fn a_lost_tail_in_recovery_is_rescued_without_an_rto() {
    // RFC 6675 §4 NextSeg rule 4: in recovery, with no segment deemed lost and no new data to
    // send, one segment holding the highest unSACKed sequence number is resent once per
    // episode (the rescue retransmission). Segments 33 and 39 (the last) of one window are lost: 33
    // starts a recovery, nothing above the last one can be SACKed, so neither DupThresh nor
    // RACK can mark it, and a tail loss probe is not sent in recovery (RFC 8985 §7.1).
    let total = 40 * MSS;
    for rec in [Recovery::Rack, Recovery::DupAck] {
        let r = transfer(cfg("newreno", rec), path(40), total, move |s: &SegInfo| {
            if (s.offset == 33 * MSS || s.offset == 39 * MSS) && s.nth == 1 {
                Fate::Drop
            } else {
                Fate::Pass
            }
        });
        assert_eq!(r.st.rto_expirations, 0, "{rec:?}: {:?}", r.st);
        assert_eq!(r.st.retransmits, 2, "{rec:?}: {:?}", r.st);
        assert_eq!(r.spurious, 0, "{rec:?}: {:?}", r.st);
    }
}

#[test]
fn a_timeout_in_recovery_does_not_undo_the_real_loss() {
    // Segment 20 of 30 is lost (a real loss: fast recovery reduces the window). Its fast
    // retransmission is held 450 ms; nothing sent after it can be SACKed (the tail), so the RTO
    // fires and resends it once more; later copies are lost. The fast retransmission arrives,
    // and the ACK echoes its TSval, older than the timeout's resend. Judged against the
    // timeout's resend (RFC 3522 §3.2) that looked spurious, and the undo restored the window
    // from before the loss. The timeout is part of the recovery's episode (Linux's
    // tcp_enter_loss does not reduce again in Recovery; tcp_packet_delayed compares with the
    // episode's first retransmission), whose first retransmission was needed: no undo. The
    // same without SACK (three duplicate ACKs, RFC 6582; the timeout then goes back N).
    for (cc, sack) in [
        ("cubic", true),
        ("newreno", true),
        ("cubic", false),
        ("newreno", false),
    ] {
        let b = TcpConfig {
            recv_buffer: 512 * 1024,
            ..TcpConfig::default()
        };
        let a = TcpConfig {
            sack,
            ..cfg(cc, Recovery::Rack)
        };
        let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), path(40));
        n.filter = Some(Box::new(|s: &SegInfo| {
            match (s.offset == 20 * MSS, s.nth) {
                (true, 1) => Fate::Drop,
                (true, 2) => Fate::Delay(Duration::from_millis(450)),
                (true, _) => Fate::Drop,
                _ => Fate::Pass,
            }
        }));
        n.past_eof = true; // the sender must see the last ACK
        n.add_flow(30 * MSS);
        n.run(Instant::from_secs(3));
        assert!(n.receivers[0].eof, "{}", n.receivers[0].received);
        let st = n.a.tcp().stats().clone();
        // Fast retransmit once (counted as a recovery with SACK).
        assert_eq!(st.fast_recoveries, u64::from(sack), "{cc} {sack}: {st:?}");
        assert!(st.retransmits_fast >= 1, "{cc} {sack}: {st:?}");
        assert_eq!(st.rto_expirations, 1, "{cc} {sack}: {st:?}");
        assert_eq!(st.spurious_undos, 0, "{cc} {sack}: {st:?}");
    }
}

#[test]
fn a_delay_spike_without_sack_is_undone_by_frto_not_resent() {
    // RFC 5682 §2: a connection without SACK and without timestamps (so Eifel, RFC 3522, cannot
    // judge). From the first sending of segment 100 on, everything A sends for 400 ms takes
    // 400 ms longer (a delay spike: order kept, nothing lost); the RTO (200 ms floor) fires
    // once inside it, and its retransmission arrives after the originals. F-RTO: the first
    // ACK covers the RTO's retransmission
    // (step 2b, two new segments), the next acknowledges more data sent before the timeout
    // (step 3b): spurious, undone, and the sender goes on with new data. Without F-RTO the
    // ACKs of the held segments drive the go-back-N resends (RFC 5681 §3.1) through the
    // window, every copy a duplicate at the receiver.
    let stall = Duration::from_millis(400);
    let spike = move || {
        let start = Rc::new(Cell::new(None::<Instant>));
        move |s: &SegInfo| {
            if s.offset == 100 * MSS_NO_TS && s.nth == 1 {
                start.set(Some(s.at));
            }
            match start.get() {
                Some(t) if s.at >= t && s.at < t + stall => Fate::Delay(stall),
                _ => Fate::Pass,
            }
        }
    };
    for cc in ["newreno", "cubic"] {
        let run = |frto: bool| {
            let a = TcpConfig {
                sack: false,
                timestamps: false,
                frto,
                ..cfg(cc, Recovery::Rack)
            };
            transfer(a, path(40), 300 * MSS_NO_TS, spike())
        };
        let off = run(false);
        let on = run(true);
        assert_eq!(off.st.rto_expirations, 1, "{cc} off: {:?}", off.st);
        assert_eq!(on.st.rto_expirations, 1, "{cc} on: {:?}", on.st);
        // Without F-RTO: the window went again (a duplicate per resend), nothing undone.
        assert!(off.st.retransmits >= 20, "{cc} off: {:?}", off.st);
        assert_eq!(off.spurious, off.st.retransmits, "{cc} off: {:?}", off.st);
        assert_eq!(off.st.spurious_undos, 0, "{cc} off: {:?}", off.st);
        // With F-RTO: the RTO's one retransmission, then only new data; the timeout undone.
        assert_eq!(on.st.retransmits, 1, "{cc} on: {:?}", on.st);
        assert_eq!(on.spurious, 1, "{cc} on: {:?}", on.st);
        assert_eq!(on.st.spurious_undos, 1, "{cc} on: {:?}", on.st);
    }
}

#[test]
fn a_delay_spike_with_sack_is_undone_by_frto_and_rack_forgets_the_resend() {
    // RFC 5682 §3.1 (SACK-enhanced F-RTO), no timestamps: everything A sends for 400 ms from
    // segment 100 on takes 400 ms longer, and what A sends after that waits behind it (a link
    // that stalls: order kept, nothing lost). One RTO fires; its retransmission arrives after
    // the originals, so the ACK that covers it is for the original. Without timestamps RACK
    // took that ACK as the resend's delivery (RFC 8985 §6.2 step 2 skips it only within
    // min_RTT of the resend): RACK.xmit_ts became the RTO's time, and after F-RTO's undo every
    // original sent before it was marked lost and resent (`tunstack sim --impair 'spike c2s
    // from 200ms to 300ms by 300ms' --timestamps off`: 160 copies). Both loss detections.
    let stall = Duration::from_millis(400);
    let spike = move || {
        let start = Rc::new(Cell::new(None::<Instant>));
        let until = Rc::new(Cell::new(Instant::ZERO));
        move |s: &SegInfo| {
            if s.offset == 100 * MSS_NO_TS && s.nth == 1 {
                start.set(Some(s.at));
            }
            match start.get() {
                Some(t) if s.at >= t && s.at < t + stall => {
                    until.set(s.at + stall);
                    Fate::Delay(stall)
                }
                _ if s.at < until.get() => Fate::Delay(until.get() - s.at), // FIFO behind it
                _ => Fate::Pass,
            }
        }
    };
    for (cc, recovery) in [
        ("newreno", Recovery::Rack),
        ("cubic", Recovery::Rack),
        ("cubic", Recovery::DupAck),
    ] {
        let a = TcpConfig {
            timestamps: false,
            ..cfg(cc, recovery)
        };
        // No bottleneck: the filter's delays then keep the order exactly (no queueing on
        // top), and no queue drop blurs the count.
        let p = PathCfg {
            rate_bps: 0,
            ..path(40)
        };
        let r = transfer(a, p, 300 * MSS_NO_TS, spike());
        assert_eq!(r.st.rto_expirations, 1, "{cc} {recovery:?}: {:?}", r.st);
        assert_eq!(r.st.spurious_undos, 1, "{cc} {recovery:?}: {:?}", r.st);
        // The tail loss probe before the RTO (RFC 8985 §7, RACK only) and the RTO's resend;
        // nothing after the undo (before the fix: 110 with NewReno, every one a D-SACK).
        let probes = r.st.tlp_probes.min(1);
        assert!(
            r.st.retransmits <= 1 + probes,
            "{cc} {recovery:?}: {:?}",
            r.st
        );
        assert_eq!(r.st.dsacks_received, 0, "{cc} {recovery:?}: {:?}", r.st);
        assert_eq!(r.st.fast_recoveries, 0, "{cc} {recovery:?}: {:?}", r.st);
    }
}
