// The reference adapter itself (src/reference/smol.rs): its listener pool takes several
// connections at once, a retransmitted SYN reaches its own half-open socket even when a fresh
// LISTEN socket sits in an earlier slot, and states are reported as ours are.

use std::net::SocketAddrV4;

use tunstack::link::TcpEndpoint;
use tunstack::link::impair::ImpairConfig;
use tunstack::link::sim::Sim;
use tunstack::reference::diff::{self, ACK, FIN, SYN, Start, Step, Trace, seg};
use tunstack::reference::matrix::{CLIENT_IP, SERVER_IP, ours, smol};
use tunstack::reference::{SmolConfig, SmolStack};
use tunstack::time::{Duration, Instant};
use tunstack::{SocketError, TcpHandle};

#[test]
fn smoltcp_listener_accepts_concurrent_connections() {
    let link = ImpairConfig {
        delay: Duration::from_millis(2),
        ..ImpairConfig::default()
    };
    let mut sim = Sim::new(
        ours(CLIENT_IP, 1, 64 * 1024),
        smol(SERVER_IP, CLIENT_IP, 2, 64 * 1024),
        link.clone(),
        link,
        3,
    );
    let addr = SocketAddrV4::new(SERVER_IP, 7000);
    let l = sim.b_mut().tcp_listen(addr).expect("listen");
    let now = sim.now();
    let clients: Vec<TcpHandle> = (0..5)
        .map(|_| sim.a_mut().tcp_connect(now, addr).expect("connect"))
        .collect();
    let mut accepted = Vec::new();
    sim.run_while(
        |sim| {
            while let Ok(h) = sim.b_mut().tcp_accept(l) {
                accepted.push(h);
            }
            accepted.len() < 5
        },
        Instant::from_secs(10),
    );
    assert_eq!(accepted.len(), 5, "all five SYNs found a LISTEN socket");
    // Each client sends its own bytes and closes; each server socket reads exactly its bytes.
    let now = sim.now();
    for (i, &c) in clients.iter().enumerate() {
        assert_eq!(sim.a_mut().tcp_send(now, c, &[i as u8; 100]), Ok(100));
        sim.a_mut().tcp_close(now, c);
    }
    let mut got = vec![Vec::new(); 5];
    let mut eof = [false; 5];
    sim.run_while(
        |sim| {
            let now = sim.now();
            for (i, &h) in accepted.iter().enumerate() {
                let mut b = [0u8; 512];
                loop {
                    match sim.b_mut().tcp_recv(now, h, &mut b) {
                        Ok(0) => {
                            eof[i] = true;
                            break;
                        }
                        Ok(n) => got[i].extend_from_slice(&b[..n]),
                        Err(SocketError::WouldBlock) => break,
                        Err(e) => panic!("recv: {e}"),
                    }
                }
            }
            !eof.iter().all(|e| *e)
        },
        Instant::from_secs(20),
    );
    let mut seen: Vec<u8> = got
        .iter()
        .map(|g| {
            assert_eq!(g.len(), 100);
            assert!(
                g.iter().all(|b| *b == g[0]),
                "bytes of two connections mixed"
            );
            g[0]
        })
        .collect();
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    for &h in &accepted {
        assert_eq!(sim.b().tcp_state(h), Some("CLOSE-WAIT"));
    }
}

/// A first connection finishes and its socket is freed; the LISTEN socket takes a new SYN and
/// is re-armed in the freed, earlier slot. The retransmitted SYN must still reach the half-open
/// socket (one SYN-RECEIVED connection, the same SYN-ACK), not open a second one.
#[test]
fn smoltcp_duplicate_syn_reaches_its_half_open_socket() {
    let t = Trace {
        name: "slot-reuse",
        start: Start::Established(vec![diff::Opt::Mss(1460)]),
        steps: vec![
            Step::Close,
            Step::In(seg(FIN | ACK).seq(1).ack(2)),
            Step::Wait(11_000), // smoltcp's TIME-WAIT is 10 s: the socket is removed
            Step::In(seg(SYN).seq(100_000)),
            Step::In(seg(SYN).seq(100_000)),
        ],
    };
    let smol = SmolStack::new(SmolConfig {
        addr: diff::HOST,
        gateway: diff::PEER,
        rx_buffer: 16 * 1024,
        tx_buffer: 16 * 1024,
        ..SmolConfig::default()
    });
    let a = diff::run(smol, &t);
    let synacks: Vec<&String> = a.steps[4..]
        .iter()
        .flatten()
        .filter(|s| s.starts_with("[S.]"))
        .collect();
    assert!(!synacks.is_empty(), "no SYN-ACK:\n{}", a.render());
    assert_eq!(
        a.end_state,
        "SYN-RECEIVED",
        "one half-open connection:\n{}",
        a.render()
    );
}

#[test]
fn both_stacks_report_rfc_state_names() {
    let mut o = ours(SERVER_IP, 1, 4096);
    let mut s = smol(SERVER_IP, CLIENT_IP, 1, 4096);
    let addr = SocketAddrV4::new(SERVER_IP, 80);
    let lo = o.tcp_listen(addr).expect("listen");
    let ls = s.tcp_listen(addr).expect("listen");
    assert_eq!(o.tcp_state(lo), Some("LISTEN"));
    assert_eq!(s.tcp_state(ls), Some("LISTEN"));
    assert!(o.tcp_states().is_empty() && s.tcp_states().is_empty());
    assert_eq!(o.tcp_listen(addr), Err(SocketError::AddrInUse));
    assert_eq!(s.tcp_listen(addr), Err(SocketError::AddrInUse));
    assert_eq!(s.tcp_accept(ls), Err(SocketError::WouldBlock));
    let now = Instant::ZERO;
    let c = s
        .tcp_connect(now, SocketAddrV4::new(CLIENT_IP, 9))
        .expect("connect");
    assert_eq!(s.tcp_state(c), Some("SYN-SENT"));
    let mut buf = [0u8; 8];
    assert_eq!(s.tcp_recv(now, c, &mut buf), Err(SocketError::WouldBlock));
    s.tcp_abort(now, c);
    assert_eq!(s.tcp_state(c), None);
}
