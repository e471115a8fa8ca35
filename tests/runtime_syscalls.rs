//! What the shared runtime (`src/runtime/poll.rs`, both drivers) costs in syscalls per wake-up,
//! counted by the drivers themselves (`LinkStats`), over an in-process link (no root, no
//! network): one ICMP echo at a time, the driver idle in between, as `ping` does.

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use etherparse::PacketBuilder;
use tunstack::StackConfig;
use tunstack::reference::SmolConfig;
use tunstack::runtime::{Link, LinkStats, Runtime, RuntimeConfig, SmolRuntime, SmolRuntimeConfig};

const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ECHOES: u64 = 20;

fn echo_request(to: Ipv4Addr, seq: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(PEER.octets(), to.octets(), 64).icmpv4_echo_request(7, seq);
    let payload = [0xa5u8; 56];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("build");
    out
}

/// Send `ECHOES` echo requests one at a time, each after its reply and a pause in which the
/// driver goes back to sleep; the replies must all come.
fn ping(peer: &UnixDatagram, to: Ipv4Addr) {
    peer.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    for seq in 0..ECHOES as u16 {
        peer.send(&echo_request(to, seq)).expect("send");
        let n = peer.recv(&mut buf).expect("an echo reply");
        let reply = etherparse::SlicedPacket::from_ip(&buf[..n]).expect("IPv4");
        let Some(etherparse::TransportSlice::Icmpv4(icmp)) = reply.transport else {
            panic!("not ICMP: {:?}", &buf[..n]);
        };
        assert_eq!(icmp.type_u8(), 0, "an echo reply");
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// The driver read the wake-up eventfd only at start and stop, not once per wake-up by the
/// link (a read(2) that found nothing every time, before the change); and with the spin off
/// (the default), one poll and one empty link read per echo on top of the read and the write.
fn check(link: &LinkStats, what: &str) {
    assert_eq!(link.packets_read, ECHOES, "{what}: {link:?}");
    assert_eq!(link.packets_written, ECHOES, "{what}: {link:?}");
    assert!(link.waker_reads <= 3, "{what}: {link:?}");
    if std::env::var_os("TUNSTACK_SPIN_US").is_none() {
        // Start and stop add a turn or two; a poll that woke for nothing would show here.
        assert!(link.polls <= ECHOES + 3, "{what}: {link:?}");
        assert!(link.empty_reads <= ECHOES + 3, "{what}: {link:?}");
    }
}

#[test]
fn our_driver_reads_the_eventfd_only_when_it_woke_the_driver() {
    let (ours, peer) = UnixDatagram::pair().expect("socketpair");
    let addr = StackConfig::default().addr;
    let rt =
        Runtime::start(Link::Fd(OwnedFd::from(ours)), RuntimeConfig::default()).expect("start");
    ping(&peer, addr);
    let report = rt.shutdown().expect("clean stop");
    check(&report.link, "ours");
}

#[test]
fn the_smoltcp_driver_shares_the_runtime() {
    let (ours, peer) = UnixDatagram::pair().expect("socketpair");
    let addr = Ipv4Addr::new(198, 18, 0, 2);
    let rt = SmolRuntime::start(
        Link::Fd(OwnedFd::from(ours)),
        SmolRuntimeConfig {
            smol: SmolConfig {
                addr,
                gateway: PEER,
                ..SmolConfig::default()
            },
            ..SmolRuntimeConfig::default()
        },
    )
    .expect("start");
    ping(&peer, addr);
    let report = rt.shutdown().expect("clean stop");
    check(&report.link, "smoltcp");
}
