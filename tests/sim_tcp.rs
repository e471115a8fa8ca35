//! Whole stacks (IPv4 + TCP) over the simulated link: a bulk transfer through loss, duplication,
//! reordering, corruption and a rate-limited bottleneck with a small queue, all in virtual time.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::{Sim, TraceEntry};
use tunstack::rng::Rng;
use tunstack::tcp::{Shutdown, TcpConfig};
use tunstack::{Duration, Instant, SocketError, Stack, StackConfig, TcpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 5001;

fn stack(addr: Ipv4Addr, seed: u64) -> Stack {
    Stack::new(StackConfig {
        addr,
        seed,
        tcp: TcpConfig {
            msl: Duration::from_millis(500),
            ..TcpConfig::default()
        },
        ..StackConfig::default()
    })
}

/// B serves `data` to A, then closes; A reads to EOF, then closes.
struct Transfer {
    data: Vec<u8>,
    listener: TcpHandle,
    client: TcpHandle,
    server: Option<TcpHandle>,
    sent: usize,
    server_shut: bool,
    server_closed: bool,
    got: Vec<u8>,
    eof_at: Option<Instant>,
}

impl Transfer {
    /// One round of application work; false once A has seen EOF and B has closed.
    fn step(&mut self, sim: &mut Sim) -> bool {
        let now = sim.now();
        if self.server.is_none() {
            match sim.b_mut().tcp_accept(self.listener) {
                Ok(h) => self.server = Some(h),
                Err(SocketError::WouldBlock) => {}
                Err(e) => panic!("accept: {e}"),
            }
        }
        if let Some(s) = self.server {
            while self.sent < self.data.len() {
                match sim.b_mut().tcp_send(now, s, &self.data[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => panic!("server send: {e}"),
                }
            }
            if self.sent == self.data.len() && !self.server_shut {
                sim.b_mut()
                    .tcp_shutdown(now, s, Shutdown::Write)
                    .expect("shutdown");
                self.server_shut = true;
            }
        }
        let mut buf = [0u8; 16384];
        if let (Some(s), true, false) = (self.server, self.server_shut, self.server_closed) {
            // The server reads until A's FIN (A sends nothing else), then closes.
            match sim.b_mut().tcp_recv(now, s, &mut buf) {
                Ok(0) => {
                    sim.b_mut().tcp_close(now, s);
                    self.server_closed = true;
                }
                Ok(n) => panic!("server got {n} unexpected bytes"),
                Err(SocketError::WouldBlock) => {}
                Err(e) => panic!("server recv: {e}"),
            }
        }
        while self.eof_at.is_none() {
            match sim.a_mut().tcp_recv(now, self.client, &mut buf) {
                Ok(0) => {
                    self.eof_at = Some(now);
                    sim.a_mut().tcp_close(now, self.client);
                }
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(SocketError::WouldBlock) => break,
                Err(e) => panic!("client recv after {} bytes: {e}", self.got.len()),
            }
        }
        self.eof_at.is_none() || !self.server_closed
    }
}

struct Run {
    sim: Sim,
    got: Vec<u8>,
    data: Vec<u8>,
    eof_at: Option<Instant>,
    trace: Vec<TraceEntry>,
}

fn transfer(link: ImpairConfig, seed: u64, size: usize, trace: bool) -> Run {
    let mut sim = Sim::new(stack(A, seed), stack(B, seed + 1), link.clone(), link, seed);
    if trace {
        sim.record_trace();
    }
    let mut data = vec![0u8; size];
    Rng::new(seed).fill(&mut data);
    let listener = sim
        .b_mut()
        .tcp_listen(SocketAddrV4::new(B, PORT))
        .expect("listen");
    let now = sim.now();
    let client = sim
        .a_mut()
        .tcp_connect(now, SocketAddrV4::new(B, PORT))
        .expect("connect");
    let mut t = Transfer {
        data,
        listener,
        client,
        server: None,
        sent: 0,
        server_shut: false,
        server_closed: false,
        got: Vec::new(),
        eof_at: None,
    };
    // Bounded in virtual time only (deterministic), never in wall time.
    sim.run_while(|s| t.step(s), Instant::from_secs(300));
    // Let both ends finish closing (FIN exchange, TIME-WAIT of 2 x 500 ms).
    sim.run_for(Duration::from_secs(5));
    let trace = sim.take_trace();
    Run {
        sim,
        got: t.got,
        data: t.data,
        eof_at: t.eof_at,
        trace,
    }
}

fn assert_exact(r: &Run) {
    assert!(
        r.eof_at.is_some(),
        "no EOF after 300 s: {} of {} bytes",
        r.got.len(),
        r.data.len()
    );
    assert_eq!(r.got.len(), r.data.len());
    assert!(r.got == r.data, "received bytes differ from the sent ones");
    // Both ends closed: no connection left in either layer.
    assert!(r.sim.a().poll_timeout().is_none(), "A still has timers");
    assert!(
        r.sim.b().poll_timeout().is_none(),
        "B still has timers: {:?} at {:?}, tcp {:?}",
        r.sim.b().poll_timeout(),
        r.sim.now(),
        r.sim.b().tcp().poll_timeout()
    );
}

#[test]
fn clean_link_megabyte_byte_exact() {
    let r = transfer(
        ImpairConfig {
            delay: Duration::from_millis(5),
            ..Default::default()
        },
        1,
        1_000_000,
        false,
    );
    assert_exact(&r);
    assert_eq!(r.sim.a().tcp().stats().retransmits, 0);
    assert_eq!(r.sim.b().tcp().stats().retransmits, 0);
}

fn hostile() -> ImpairConfig {
    ImpairConfig {
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        corrupt: 0.02,
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        ..Default::default()
    }
}

#[test]
fn hostile_link_transfer_is_byte_exact() {
    let r = transfer(hostile(), 7, 300_000, false);
    assert_exact(&r);
    let (ab, ba) = (r.sim.link_a_to_b().stats(), r.sim.link_b_to_a().stats());
    assert!(
        ba.dropped_loss > 0 && ba.reordered > 0 && ba.duplicated > 0,
        "{ba:?}"
    );
    assert!(ab.corrupted + ba.corrupted > 0, "{ab:?} {ba:?}");
    assert!(r.sim.b().tcp().stats().retransmits > 0);
    // Every corrupted packet was caught by a checksum somewhere (IPv4 header or TCP).
    let caught = r.sim.a().stats().drop_bad_checksum
        + r.sim.b().stats().drop_bad_checksum
        + r.sim.a().tcp().stats().drop_bad_checksum
        + r.sim.b().tcp().stats().drop_bad_checksum;
    assert!(
        caught > 0,
        "no checksum drop for {} corruptions",
        ab.corrupted + ba.corrupted
    );
}

#[test]
fn bottleneck_with_small_queue_drops_and_tcp_recovers() {
    let link = ImpairConfig {
        rate_bps: Some(10_000_000),
        queue_bytes: 16 * 1024,
        delay: Duration::from_millis(10),
        ..Default::default()
    };
    let size = 1_000_000;
    let r = transfer(link, 3, size, false);
    assert_exact(&r);
    let ba = r.sim.link_b_to_a().stats();
    assert!(
        ba.dropped_queue > 0,
        "slow start never overflowed the queue: {ba:?}"
    );
    assert!(r.sim.b().tcp().stats().retransmits > 0);
    // Lower bound only: the data cannot cross a 10 Mbit/s link faster than size * 8 / rate.
    let eof = r.eof_at.expect("eof");
    assert!(eof >= Instant::from_micros(size as u64 * 8 * 1_000_000 / 10_000_000));
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let r1 = transfer(hostile(), 21, 60_000, true);
    let r2 = transfer(hostile(), 21, 60_000, true);
    let r3 = transfer(hostile(), 22, 60_000, true);
    assert_exact(&r1);
    assert_exact(&r3);
    assert!(r1.trace.len() > 50);
    assert_eq!(r1.trace, r2.trace);
    assert_ne!(r1.trace, r3.trace);
}
