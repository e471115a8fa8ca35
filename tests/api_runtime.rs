//! The runtime driver over an in-process datagram link (no root, no network): packets in,
//! commands, shutdown.

use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tunstack::StackConfig;
use tunstack::runtime::{Link, Runtime, RuntimeConfig};

fn start() -> (Runtime, UnixDatagram) {
    let (ours, theirs) = UnixDatagram::pair().expect("socketpair");
    let rt =
        Runtime::start(Link::Fd(OwnedFd::from(ours)), RuntimeConfig::default()).expect("start");
    theirs
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    (rt, theirs)
}

#[test]
fn calls_run_on_the_driver_and_see_the_stack() {
    let (rt, _peer) = start();
    let net = rt.net();
    let addr = net.with_stack(|s, _| s.addr()).expect("driver answers");
    assert_eq!(addr, StackConfig::default().addr);
    // From many threads at once.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let net = net.clone();
            std::thread::spawn(move || {
                let mut last = None;
                for _ in 0..50 {
                    last = Some(net.with_stack(|s, now| (s.config().mtu, now)).expect("ok"));
                }
                last
            })
        })
        .collect();
    for h in handles {
        let (mtu, _) = h.join().expect("thread").expect("answers");
        assert_eq!(mtu, 1500);
    }
    let report = rt.shutdown().expect("clean stop");
    assert_eq!(report.link.packets_read, 0);
}

#[test]
fn packets_from_the_link_reach_the_stack_in_order_of_arrival() {
    let (rt, peer) = start();
    let net = rt.net();
    let before = net.with_stack(|s, _| s.stats().packets_in).expect("ok");
    // Not even valid IPv4: the stack must take (and count) them without harm.
    for i in 0..20u8 {
        peer.send(&[0x45, i, 0, 20]).expect("send");
    }
    // The driver wakes on the link fd; wait for it to catch up (bounded).
    let mut seen = 0;
    for _ in 0..200 {
        seen = net.with_stack(|s, _| s.stats().packets_in).expect("ok") - before;
        if seen == 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(seen, 20);
    let report = rt.shutdown().expect("clean stop");
    assert_eq!(report.link.packets_read, 20);
    assert_eq!(report.link.bytes_read, 80);
}

#[test]
fn after_shutdown_calls_fail_with_not_connected() {
    let (rt, _peer) = start();
    let net = rt.net();
    rt.shutdown().expect("clean stop");
    let err = net.with_stack(|s, _| s.addr()).expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    let err = tunstack::api::UdpSocket::bind(&net, "0.0.0.0:7").expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::NotConnected);
}

#[test]
fn the_driver_stops_when_the_link_goes_away() {
    let (a, b) = Link::pair().expect("pair");
    let rt = Runtime::start(a, RuntimeConfig::default()).expect("start");
    drop(b);
    let r = rt.wait();
    assert!(r.is_err(), "a vanished link is a runtime failure");
}
