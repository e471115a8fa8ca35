// RFC 9293 end to end through the whole host: two `Stack`s (IPv4 + TCP) joined by the link
// simulator with a rate-limited bottleneck and a tail-drop queue, so congestion control
// (RFC 5681) and loss recovery see real queue overflow, plus random loss and reordering.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::Sim;
use tunstack::stack::{Stack, StackConfig};
use tunstack::tcp::Shutdown;
use tunstack::{Duration, Instant, SocketError, TcpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn stack(addr: Ipv4Addr, seed: u64) -> Stack {
    let mut cfg = StackConfig {
        addr,
        seed,
        ..StackConfig::default()
    };
    cfg.tcp.msl = Duration::from_secs(1);
    Stack::new(cfg)
}

fn bottleneck(loss: f64) -> ImpairConfig {
    ImpairConfig {
        loss,
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        reorder: 0.01,
        rate_bps: Some(20_000_000),
        queue_bytes: 50_000,
        ..Default::default()
    }
}

struct Side {
    h: Option<TcpHandle>,
    out: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    eof: bool,
    closed: bool,
}

impl Side {
    fn new(out: Vec<u8>) -> Self {
        Side {
            h: None,
            out,
            sent: 0,
            got: Vec::new(),
            eof: false,
            closed: false,
        }
    }

    fn step(&mut self, now: Instant, s: &mut Stack) {
        let Some(h) = self.h else { return };
        if self.closed {
            return;
        }
        while self.sent < self.out.len() {
            match s.tcp_send(now, h, &self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(SocketError::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if self.sent == self.out.len() {
            let _ = s.tcp_shutdown(now, h, Shutdown::Write);
        }
        let mut buf = [0u8; 8192];
        while !self.eof {
            match s.tcp_recv(now, h, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(SocketError::WouldBlock) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        if self.eof && self.sent == self.out.len() {
            s.tcp_close(now, h);
            self.closed = true;
        }
    }
}

fn transfer(seed: u64, loss: f64, a_bytes: usize, b_bytes: usize) -> Instant {
    transfer_over(seed, bottleneck(loss), a_bytes, b_bytes)
}

fn transfer_over(seed: u64, link: ImpairConfig, a_bytes: usize, b_bytes: usize) -> Instant {
    let mut rng = tunstack::rng::Rng::new(seed);
    let mut da = vec![0u8; a_bytes];
    let mut db = vec![0u8; b_bytes];
    rng.fill(&mut da);
    rng.fill(&mut db);
    let mut sim = Sim::new(stack(A, seed), stack(B, seed + 1), link.clone(), link, seed);
    let l = sim.b_mut().tcp_listen(SocketAddrV4::new(B, 5001)).unwrap();
    let now = sim.now();
    let mut a = Side::new(da.clone());
    let mut b = Side::new(db.clone());
    a.h = Some(
        sim.a_mut()
            .tcp_connect(now, SocketAddrV4::new(B, 5001))
            .unwrap(),
    );
    let done = sim.run_while(
        |sim| {
            let now = sim.now();
            if b.h.is_none() {
                b.h = sim.b_mut().tcp_accept(l).ok();
            }
            a.step(now, sim.a_mut());
            b.step(now, sim.b_mut());
            !(a.closed && b.closed)
        },
        Instant::from_secs(600),
    );
    assert!(
        done,
        "seed {seed}: not finished: A sent {} got {}, B sent {} got {}",
        a.sent,
        a.got.len(),
        b.sent,
        b.got.len()
    );
    assert!(a.got == db && b.got == da, "seed {seed}: bytes differ");
    // Both ends wind down to nothing (TIME-WAIT is 2 s here).
    sim.run_for(Duration::from_secs(5));
    if std::env::var("TCP_STATS").is_ok() {
        eprintln!(
            "A {:?}\nB {:?}\nlink {:?}",
            sim.a().tcp().stats(),
            sim.b().tcp().stats(),
            sim.link_a_to_b().stats()
        );
    }
    assert!(
        sim.a().tcp().connections().is_empty(),
        "A: {:?}",
        sim.a().tcp().connections()
    );
    assert!(
        sim.b().tcp().connections().is_empty(),
        "B: {:?}",
        sim.b().tcp().connections()
    );
    sim.now()
}

#[test]
fn bulk_transfer_through_a_congested_bottleneck() {
    // RFC 5681 through the whole host: a tail-drop bottleneck, byte-exact both ways.
    let size = if cfg!(debug_assertions) {
        400_000
    } else {
        4_000_000
    };
    for seed in 0..3 {
        transfer(seed, 0.0, size, size / 4);
    }
}

#[test]
fn bulk_transfer_through_a_lossy_congested_bottleneck() {
    // RFC 5681 / RFC 6582 / RFC 2018: bottleneck plus 2 % random loss.
    let size = if cfg!(debug_assertions) {
        200_000
    } else {
        2_000_000
    };
    for seed in 10..14 {
        transfer(seed, 0.02, size, size / 2);
    }
}

#[test]
fn clean_bottleneck_is_used_efficiently() {
    // RFC 5681 + RFC 2018 efficiency: 4 MB (400 KB in debug) over 20 Mbit/s: congestion control should keep the pipe busy;
    // allow generous slack over the ideal transfer time, but catch pathological stalls.
    let size = if cfg!(debug_assertions) {
        400_000
    } else {
        4_000_000
    };
    let clean = ImpairConfig {
        jitter: Duration::ZERO,
        reorder: 0.0,
        ..bottleneck(0.0)
    };
    let t = transfer_over(99, clean, size, 1000);
    let ideal_s = size as f64 * 8.0 / 20e6;
    let took = t.total_micros() as f64 / 1e6 - 5.0; // minus the wind-down run
    eprintln!("took {took:.2} s, ideal {ideal_s:.2} s");
    assert!(
        took < ideal_s * 2.0 + 0.5,
        "took {took:.2} s, ideal {ideal_s:.2} s"
    );
}
