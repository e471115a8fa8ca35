// A burst of idle clients (they connect and never send) at a listener whose application accepts
// slowly: the accept queue overflows, SYN cookies take over (RFC 4987 §3.6), and some cookie
// ACKs find no room. Those peers believe they are connected and never send again, so only our
// SYN,ACK retransmission (RFC 9293 §3.8.1) can bring their ACK back (§3.10.7.4). Every client
// must end up accepted (`tsbench our-idle` lost 1-7 of 50,000 before).

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::Sim;
use tunstack::stack::{Stack, StackConfig};
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn stack(addr: Ipv4Addr, seed: u64, backlog: usize) -> Stack {
    Stack::new(StackConfig {
        addr,
        seed,
        tcp: TcpConfig {
            backlog,
            send_buffer: 16 * 1024,
            recv_buffer: 16 * 1024,
            ..TcpConfig::default()
        },
        ..StackConfig::default()
    })
}

#[test]
fn idle_clients_of_an_overflowing_accept_queue_are_all_accepted() {
    let link = ImpairConfig {
        delay: Duration::from_micros(200),
        ..ImpairConfig::default()
    };
    let mut sim = Sim::new(
        stack(CLIENT, 1, 1024),
        stack(SERVER, 2, 8),
        link.clone(),
        link,
        3,
    );
    let l = sim
        .b_mut()
        .tcp_listen(SocketAddrV4::new(SERVER, 7000))
        .expect("listen");
    let n = 200;
    let now = sim.now();
    let clients: Vec<_> = (0..n)
        .map(|_| {
            sim.a_mut()
                .tcp_connect(now, SocketAddrV4::new(SERVER, 7000))
                .expect("connect")
        })
        .collect();
    // The application takes one connection every 2 ms: far slower than the burst arrives.
    let mut accepted = 0;
    let mut t = Instant::ZERO;
    while accepted < n && t < Instant::ZERO + Duration::from_secs(60) {
        t += Duration::from_millis(2);
        sim.run_until(t);
        let r = sim.b_mut().tcp_accept(l);
        if r.is_ok() {
            accepted += 1;
        }
    }
    let connected = clients
        .iter()
        .filter(|&&h| sim.a().tcp().connect_status(h).is_ok())
        .count();
    let stats = sim.b().tcp().stats().clone();
    assert_eq!(connected, n, "every client completed its handshake");
    assert!(
        stats.syncookies_sent > 0 && stats.listen_overflows > 0,
        "the burst overflowed the queues: {stats:?}"
    );
    assert_eq!(
        accepted, n,
        "every idle client was accepted (ours in the end: {stats:?})"
    );
    // Each accept lets a waiting connection send its SYN,ACK again at once: the application's
    // pace sets the rate, not the (backed-off) retransmission timer.
    assert!(
        t < Instant::ZERO + Duration::from_millis(2 * n as u64 + 100),
        "the last accept came at {t}"
    );
}
