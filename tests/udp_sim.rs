//! Two stacks over the simulated link: fragmented UDP datagrams cross a link that reorders,
//! duplicates, delays and corrupts, and arrive intact or not at all (RFC 791 §3.2 reassembly,
//! RFC 768 checksums). Both stacks account for every packet.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::Sim;
use tunstack::stack::testkit::pattern;
use tunstack::{Duration, SocketError, Stack, StackConfig, UdpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Datagram `i`: its index in the first two bytes, then a pattern; sizes cross the MTU often.
fn datagram(i: u16) -> Vec<u8> {
    let mut d = pattern(1 + (usize::from(i) * 1777) % 9000);
    d[0] = (i >> 8) as u8;
    if d.len() > 1 {
        d[1] = i as u8;
    }
    d
}

fn stack(addr: Ipv4Addr, seed: u64) -> Stack {
    Stack::new(StackConfig {
        addr,
        seed,
        ..StackConfig::default()
    })
}

/// A sends `n` datagrams to B:9 over a link with `link`; returns what B received, in order.
fn exchange(n: u16, link: ImpairConfig, seed: u64) -> (Sim, Vec<Vec<u8>>) {
    let mut sim: Sim = Sim::new(stack(A, seed), stack(B, seed + 1), link.clone(), link, seed);
    let rx = sim.b_mut().udp_bind("0.0.0.0:9".parse().unwrap()).unwrap();
    let tx = sim.a_mut().udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let to = SocketAddrV4::new(B, 9);
    let mut got = Vec::new();
    for i in 0..n {
        let now = sim.now();
        sim.a_mut().udp_send_to(now, tx, &datagram(i), to).unwrap();
        sim.run_for(Duration::from_millis(5));
        drain(sim.b_mut(), rx, &mut got);
    }
    // Long enough for every reassembly timer (30 s) to fire.
    sim.run_for(Duration::from_secs(40));
    drain(sim.b_mut(), rx, &mut got);
    (sim, got)
}

fn drain(s: &mut Stack, h: UdpHandle, got: &mut Vec<Vec<u8>>) {
    let mut buf = vec![0u8; 65535];
    loop {
        match s.udp_recv_from(h, &mut buf) {
            Ok((len, from)) => {
                assert_eq!(*from.ip(), A);
                got.push(buf[..len].to_vec());
            }
            Err(SocketError::WouldBlock) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

fn index(d: &[u8]) -> u16 {
    u16::from_be_bytes([d[0], *d.get(1).unwrap_or(&0)])
}

#[test]
fn fragments_reordered_and_duplicated_still_deliver_every_datagram_intact() {
    let link = ImpairConfig {
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(2),
        reorder: 0.2,
        duplicate: 0.05,
        ..ImpairConfig::default()
    };
    let (sim, got) = exchange(200, link, 7);
    for d in &got {
        assert_eq!(d, &datagram(index(d)), "datagram {} damaged", index(d));
    }
    let mut seen: Vec<u16> = got.iter().map(|d| index(d)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 200, "every datagram arrived at least once");
    let (a, b) = (sim.a().stats(), sim.b().stats());
    assert!(b.frag_reassembled > 50, "{b}");
    assert!(sim.link_a_to_b().stats().duplicated > 0);
    assert!(a.accounted() && b.accounted(), "A:\n{a}\nB:\n{b}");
}

#[test]
fn corruption_never_reaches_the_application() {
    let link = ImpairConfig {
        delay: Duration::from_millis(1),
        corrupt: 0.05,
        reorder: 0.05,
        ..ImpairConfig::default()
    };
    let (sim, got) = exchange(300, link, 11);
    for d in &got {
        assert_eq!(
            d,
            &datagram(index(d)),
            "corrupted datagram {} delivered",
            index(d)
        );
    }
    let b = sim.b().stats();
    assert!(sim.link_a_to_b().stats().corrupted > 20);
    // The damage was caught by a checksum, or by the fragment checks, never missed.
    let caught = b.drop_bad_checksum
        + b.drop_udp_bad_checksum
        + b.drop_frag_overlap
        + b.drop_frag_malformed
        + b.drop_not_for_us
        + b.drop_bad_src
        + b.frag_timeouts;
    assert!(caught > 0, "{b}");
    assert!(
        got.len() < 300 && got.len() > 200,
        "{} of 300 arrived",
        got.len()
    );
    println!("{} of 300 arrived\nB:\n{b}", got.len());
    assert!(sim.a().stats().accounted() && b.accounted());
}
