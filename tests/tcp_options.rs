// RFC 9293 §3.2 / §3.7.1 (MSS, RFC 6691), RFC 7323 §2 (window scale), §3-5 (timestamps, RTTM,
// PAWS), RFC 2018 (SACK-permitted, SACK blocks); malformed options are dropped and counted.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

#[test]
fn our_syn_offers_mss_wscale_sack_and_timestamps() {
    // RFC 7323 §2.2, §3.2; RFC 2018 §2; MSS = mtu - 40 (RFC 9293 §3.7.1).
    let mut t = Scenario::new(TcpConfig::default());
    let h = t.tcp.connect(t.now, US, PEER).unwrap();
    t.h = Some(h);
    let syn = t.pop_tx().unwrap();
    assert_eq!(syn.options.mss, Some(1460));
    // 256 KiB receive buffer needs shift 3 to fit in 16 bits (RFC 7323 §2.3).
    assert_eq!(syn.options.window_scale, Some(3));
    assert!(syn.options.sack_permitted);
    assert!(syn.options.timestamps.is_some_and(|(_, ecr)| ecr == 0));
    assert_eq!(syn.window, 65535, "the window in a SYN is never scaled");
}

#[test]
fn set_mtu_changes_the_advertised_mss() {
    // RFC 9293 §3.7.1: MSS = MTU - 40 (IPv4 and TCP headers).
    let mut t = Scenario::new(TcpConfig::default());
    t.tcp.set_mtu(1280);
    t.tcp.connect(t.now, US, PEER).unwrap();
    assert_eq!(t.pop_tx().unwrap().options.mss, Some(1240));
}

#[test]
fn window_scaling_applies_in_both_directions_after_the_handshake() {
    // RFC 7323 §2.2-2.3: both sent the option; SEG.WND << Snd.Wind.Shift, ours >> Rcv.Wind.Shift.
    let cfg = Scenario::quick_ack_config();
    let mut t = Scenario::listening(cfg);
    t.peer_sends(seg().syn().seq(IRS).mss(1460).wscale(7));
    let synack = t.pop_tx().unwrap();
    assert_eq!(synack.options.window_scale, Some(3));
    assert_eq!(synack.window, 65535);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(10));
    let l = t.listener.unwrap();
    t.h = Some(t.tcp.accept(l).unwrap());
    assert_eq!(t.conn().snd_wnd, 10 << 7);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"hi").win(10));
    // 256 KiB - 2 bytes free, shifted right by 3.
    t.expect_tx(seg().ack(IRS + 3).win(((256 * 1024 - 2) >> 3) as u16));
}

#[test]
fn no_window_scaling_unless_both_offer_it() {
    // RFC 7323 §2.2: without the peer's option neither side scales, and we don't send ours.
    let mut t = Scenario::listening(Scenario::quick_ack_config());
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    let synack = t.pop_tx().unwrap();
    assert_eq!(synack.options.window_scale, None);
    assert!(synack.options.timestamps.is_none());
    assert!(!synack.options.sack_permitted);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(1000));
    t.h = Some(t.tcp.accept(t.listener.unwrap()).unwrap());
    assert_eq!(t.conn().snd_wnd, 1000);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"x").win(1000));
    t.expect_tx(seg().ack(IRS + 2).win(65535));
}

#[test]
fn missing_mss_option_means_536() {
    // RFC 9293 §3.7.1 / RFC 6691: no MSS option: assume 536.
    let mut t = Scenario::established_with(Scenario::quick_ack_config(), seg().syn().seq(IRS));
    assert_eq!(t.conn().smss(), 536);
    t.app_write(&[0u8; 1000]);
    t.expect_tx(seg().len(536));
}

#[test]
fn timestamps_are_echoed_and_paws_drops_old_segments() {
    // RFC 7323 §3.2 (TSecr = TS.Recent), §4.3 (update TS.Recent), §5.3 (PAWS).
    let syn = seg().syn().seq(IRS).mss(1460).ts(100, 0).sack_perm();
    let mut t = Scenario::established_with(Scenario::quick_ack_config(), syn);
    assert_eq!(
        t.conn().smss(),
        1448,
        "MSS minus the 12 timestamp bytes (RFC 6691)"
    );
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ts(200, 0).payload(b"new"));
    let ack = t.pop_tx().unwrap();
    assert_eq!(ack.ack, IRS + 4);
    assert_eq!(ack.options.timestamps.map(|(_, ecr)| ecr), Some(200));
    // An old duplicate (TSval 150 < TS.Recent 200) is dropped by PAWS but ACKed.
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).ts(150, 0).payload(b"old"));
    t.expect_tx(seg().ack(IRS + 4));
    assert_eq!(t.stats().drop_paws, 1);
    assert_eq!(t.app_read().unwrap(), b"new");
}

#[test]
fn timestamps_give_rtt_samples() {
    // RFC 7323 §4.1: RTT = now - TSecr of an ACK for new data.
    let syn = seg().syn().seq(IRS).mss(1460).ts(100, 0);
    let mut t = Scenario::established_with(TcpConfig::default(), syn);
    t.app_write(b"ping");
    let d = t.pop_tx().unwrap();
    let (val, _) = d.options.timestamps.unwrap();
    t.advance_ms(80);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 5).ts(101, val));
    let srtt = t.conn().info().srtt.unwrap();
    // The handshake sampled 0 ms; 7/8·0 + 1/8·80 = 10 ms.
    assert_eq!(srtt.total_millis(), 10);
}

#[test]
fn sack_blocks_report_out_of_order_data() {
    // RFC 2018 §4: the receiver reports the blocks it holds, the most recent first.
    let syn = seg().syn().seq(IRS).mss(1460).sack_perm();
    let mut t = Scenario::established_with(Scenario::quick_ack_config(), syn);
    t.peer_sends(seg().seq(IRS + 11).ack(ISS + 1).payload(b"later"));
    let ack = t.pop_tx().unwrap();
    assert_eq!(ack.ack, IRS + 1);
    let (l, r) = ack.options.sack_blocks[0].unwrap();
    assert_eq!((l.0, r.0), (IRS + 11, IRS + 16));
}

#[test]
fn malformed_options_are_dropped_and_counted() {
    // RFC 9293 §3.2: an option length running past the header: the segment is dropped.
    let mut t = Scenario::listening(TcpConfig::default());
    let mut bytes = seg().syn().seq(IRS).mss(1460).build();
    bytes[21] = 40; // MSS option claims 40 bytes
    tunstack::tcp::segment::fill_checksum(PEER_IP, US_IP, &mut bytes);
    t.peer_sends_raw(&bytes);
    t.expect_nothing();
    assert_eq!(t.stats().drop_malformed, 1);
    // A bad checksum is counted separately.
    let mut bytes = seg().syn().seq(IRS).build();
    bytes[4] ^= 0xff;
    t.peer_sends_raw(&bytes);
    t.expect_nothing();
    assert_eq!(t.stats().drop_bad_checksum, 1);
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn unknown_options_are_skipped() {
    // RFC 9293 §3.2: "MUST be prepared to handle" unknown options by skipping them.
    let mut t = Scenario::listening(TcpConfig::default());
    let mut bytes = seg().syn().seq(IRS).mss(1460).build();
    // Replace the MSS option with an unknown kind-30 option of length 4.
    bytes[20] = 30;
    tunstack::tcp::segment::fill_checksum(PEER_IP, US_IP, &mut bytes);
    t.peer_sends_raw(&bytes);
    t.expect_tx(seg().syn().ack(IRS + 1));
}
