//! The inline services over the simulator: our stack as the client, our stack serving.

use std::net::SocketAddrV4;

use super::*;
use crate::link::impair::ImpairConfig;
use crate::link::sim::Sim;
use crate::reference::matrix::{CLIENT_IP, SERVER_IP, ours};
use crate::tcp::Shutdown;
use crate::time::Duration;

struct Client {
    h: TcpHandle,
    out: Vec<u8>,
    sent: usize,
    shut: bool,
    got: Vec<u8>,
    eof: bool,
    err: Option<SocketError>,
    /// Read at all (a client that does not read lets the server's send buffer fill).
    reading: bool,
}

impl Client {
    fn new(h: TcpHandle, out: Vec<u8>) -> Client {
        Client {
            h,
            out,
            sent: 0,
            shut: false,
            got: Vec::new(),
            eof: false,
            err: None,
            reading: true,
        }
    }

    fn step(&mut self, e: &mut Stack, now: Instant, fin: bool) {
        while self.sent < self.out.len() {
            match e.tcp_send(now, self.h, &self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(SocketError::WouldBlock) => break,
                Err(err) => {
                    self.err = Some(err);
                    return;
                }
            }
        }
        if fin && self.sent == self.out.len() && !self.shut {
            self.shut = e.tcp_shutdown(now, self.h, Shutdown::Write).is_ok();
        }
        let mut b = [0u8; 16384];
        while self.reading && !self.eof {
            match e.tcp_recv(now, self.h, &mut b) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&b[..n]),
                Err(SocketError::WouldBlock) => break,
                Err(err) => {
                    self.err = Some(err);
                    return;
                }
            }
        }
    }
}

fn setup(services: &[Service]) -> (Sim<Stack, Stack>, Inline) {
    let link = ImpairConfig {
        delay: Duration::from_millis(1),
        ..ImpairConfig::default()
    };
    let mut sim = Sim::new(
        ours(CLIENT_IP, 1, 256 * 1024),
        ours(SERVER_IP, 2, 256 * 1024),
        link.clone(),
        link,
        7,
    );
    let mut inline = Inline::default();
    for &svc in services {
        inline
            .listen(sim.b_mut(), SocketAddrV4::new(SERVER_IP, svc.port()), svc)
            .expect("listen");
    }
    (sim, inline)
}

/// What the driver does after each batch of input: serve every event.
fn serve(sim: &mut Sim<Stack, Stack>, inline: &mut Inline) {
    let now = sim.now();
    while let Some(ev) = sim.b_mut().poll_event() {
        inline.on_event(sim.b_mut(), now, ev);
    }
}

fn connect(sim: &mut Sim<Stack, Stack>, port: u16, out: Vec<u8>) -> Client {
    let now = sim.now();
    let h = sim
        .a_mut()
        .tcp_connect(now, SocketAddrV4::new(SERVER_IP, port))
        .expect("connect");
    Client::new(h, out)
}

/// Run until `done` or `limit` of simulated time.
fn run(
    sim: &mut Sim<Stack, Stack>,
    inline: &mut Inline,
    c: &mut Client,
    fin: bool,
    limit: Duration,
    mut done: impl FnMut(&Client, &Inline) -> bool,
) {
    let max = sim.now() + limit;
    sim.run_while(
        |sim| {
            serve(sim, inline);
            let now = sim.now();
            c.step(sim.a_mut(), now, fin);
            !(c.err.is_some() || done(c, inline))
        },
        max,
    );
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn echo_returns_every_byte_then_closes() {
    let (mut sim, mut inline) = setup(&[Service::Echo]);
    let out = data(300_000);
    let mut c = connect(&mut sim, 7, out.clone());
    run(
        &mut sim,
        &mut inline,
        &mut c,
        true,
        Duration::from_secs(20),
        |c, _| c.eof,
    );
    assert_eq!(c.err, None);
    assert!(c.eof, "echo closes after the peer's FIN");
    assert!(c.got == out, "echo is byte-exact ({} bytes)", c.got.len());
    assert!(inline.is_empty());
}

#[test]
fn echo_holds_little_when_the_peer_does_not_read() {
    let (mut sim, mut inline) = setup(&[Service::Echo]);
    let out = data(2_000_000);
    let mut c = connect(&mut sim, 7, out.clone());
    c.reading = false;
    run(
        &mut sim,
        &mut inline,
        &mut c,
        true,
        Duration::from_secs(5),
        |_, _| false,
    );
    // Our send buffer (256 KiB) toward the client is full and the client's receive buffer
    // (256 KiB) too; echo holds at most ECHO_HOLD more and stopped reading, so the client's
    // window closed and its send buffer stays full.
    let held: usize = inline.conns.values().map(|x| x.held.len()).sum();
    assert!(held <= ECHO_HOLD, "echo holds {held} bytes");
    assert!(
        c.sent < 1_500_000,
        "the client could send {} bytes into a non-reading echo",
        c.sent
    );
    // Reading again drains everything, byte-exact.
    c.reading = true;
    run(
        &mut sim,
        &mut inline,
        &mut c,
        true,
        Duration::from_secs(60),
        |c, _| c.eof,
    );
    assert!(c.eof && c.got == out, "got {} bytes", c.got.len());
}

#[test]
fn discard_reads_everything_and_closes_at_fin() {
    let (mut sim, mut inline) = setup(&[Service::Discard]);
    let mut c = connect(&mut sim, 9, data(3_000_000));
    run(
        &mut sim,
        &mut inline,
        &mut c,
        true,
        Duration::from_secs(20),
        |c, _| c.eof,
    );
    assert_eq!(c.err, None);
    assert!(c.eof && c.sent == 3_000_000 && c.got.is_empty());
    assert!(inline.is_empty());
}

#[test]
fn chargen_sends_the_pattern_keeps_up_with_the_reader_and_ends_at_a_reset() {
    let (mut sim, mut inline) = setup(&[Service::Chargen]);
    let mut c = connect(&mut sim, 19, b"thrown away".to_vec());
    run(
        &mut sim,
        &mut inline,
        &mut c,
        true,
        Duration::from_secs(20),
        |c, _| c.got.len() >= 1_000_000,
    );
    assert_eq!(c.err, None);
    assert!(!c.eof, "chargen goes on after the peer's FIN");
    let want: Vec<u8> = (0..).flat_map(chargen_line).take(c.got.len()).collect();
    assert!(c.got == want, "RFC 864 pattern");
    assert_eq!(inline.len(), 1);
    let now = sim.now();
    sim.a_mut().tcp_abort(now, c.h);
    let max = sim.now() + Duration::from_secs(5);
    sim.run_while(
        |sim| {
            serve(sim, &mut inline);
            !inline.is_empty()
        },
        max,
    );
    assert!(inline.is_empty(), "the RST ends the connection");
}

#[test]
fn connections_beyond_the_cap_wait_in_the_accept_queue() {
    let (mut sim, mut inline) = setup(&[Service::Discard]);
    // In batches under the backlog (a burst beyond it is the SYN-cookie tests' business).
    let mut clients = Vec::new();
    for batch in (0..MAX_CONNECTIONS + 2).collect::<Vec<_>>().chunks(64) {
        clients.extend(batch.iter().map(|_| connect(&mut sim, 9, Vec::new())));
        let max = sim.now() + Duration::from_millis(50);
        sim.run_while(
            |sim| {
                serve(sim, &mut inline);
                true
            },
            max,
        );
    }
    assert_eq!(inline.len(), MAX_CONNECTIONS);
    let before: std::collections::HashSet<TcpHandle> = inline.conns.keys().copied().collect();
    // One closes: a waiting connection takes its slot.
    let first = clients.remove(0);
    let now = sim.now();
    sim.a_mut()
        .tcp_shutdown(now, first.h, Shutdown::Write)
        .expect("shutdown");
    let max = sim.now() + Duration::from_secs(2);
    sim.run_while(
        |sim| {
            serve(sim, &mut inline);
            inline.conns.keys().all(|h| before.contains(h))
        },
        max,
    );
    let now: std::collections::HashSet<TcpHandle> = inline.conns.keys().copied().collect();
    assert_eq!(inline.len(), MAX_CONNECTIONS);
    assert_eq!(
        (
            now.difference(&before).count(),
            before.difference(&now).count()
        ),
        (1, 1),
        "the closed one left and a waiting one was accepted"
    );
}
