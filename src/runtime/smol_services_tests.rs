//! The smoltcp services over the simulator: our stack as the client, `SmolStack` serving.

use std::net::SocketAddrV4;

use super::*;
use crate::link::impair::ImpairConfig;
use crate::link::sim::Sim;
use crate::reference::SmolStack;
use crate::reference::matrix::{CLIENT_IP, SERVER_IP, ours, smol};
use crate::stack::Stack;
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
    /// Stop reading after this many bytes.
    want: usize,
}

impl Client {
    fn step(&mut self, e: &mut Stack, now: Instant, close_when_sent: bool) {
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
        if close_when_sent && self.sent == self.out.len() && !self.shut {
            self.shut = e.tcp_shutdown(now, self.h, Shutdown::Write).is_ok();
        }
        let mut b = [0u8; 16384];
        while !self.eof && self.got.len() < self.want {
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

fn setup(services: &[Service], rx_buffer: usize) -> (Sim<Stack, SmolStack>, SmolServices) {
    let link = ImpairConfig {
        delay: Duration::from_millis(1),
        ..ImpairConfig::default()
    };
    let mut sim = Sim::new(
        ours(CLIENT_IP, 1, 256 * 1024),
        smol(SERVER_IP, CLIENT_IP, 2, rx_buffer),
        link.clone(),
        link,
        7,
    );
    let svc = SmolServices::start(sim.b_mut(), SERVER_IP, services).expect("listen");
    (sim, svc)
}

/// Connect to `port`, send `out` (then FIN if `fin`), read until EOF or `want` bytes.
fn talk(
    sim: &mut Sim<Stack, SmolStack>,
    svc: &mut SmolServices,
    port: u16,
    out: Vec<u8>,
    fin: bool,
    want: usize,
    limit: Duration,
) -> (Client, Instant) {
    let now = sim.now();
    let h = sim
        .a_mut()
        .tcp_connect(now, SocketAddrV4::new(SERVER_IP, port))
        .expect("connect");
    let mut c = Client {
        h,
        out,
        sent: 0,
        shut: false,
        got: Vec::new(),
        eof: false,
        err: None,
        want,
    };
    let start = sim.now();
    let max = start + limit;
    sim.run_while(
        |sim| {
            let now = sim.now();
            svc.run(sim.b_mut(), now);
            c.step(sim.a_mut(), now, fin);
            svc.run(sim.b_mut(), now);
            !(c.eof || c.err.is_some() || c.got.len() >= c.want)
        },
        max,
    );
    let took = Instant::ZERO + (sim.now() - start);
    (c, took)
}

fn counters(svc: &SmolServices, s: Service) -> ServiceCounters {
    svc.counters()
        .iter()
        .find(|(x, _)| *x == s)
        .map(|(_, k)| k.clone())
        .unwrap_or_default()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn echo_returns_every_byte_then_closes() {
    let (mut sim, mut svc) = setup(&[Service::Echo], 1 << 20);
    let out = data(300_000);
    let (c, _) = talk(
        &mut sim,
        &mut svc,
        7,
        out.clone(),
        true,
        usize::MAX,
        Duration::from_secs(20),
    );
    assert_eq!(c.err, None);
    assert!(c.eof, "echo closes after the peer's FIN");
    assert!(c.got == out, "echo is byte-exact ({} bytes)", c.got.len());
    let k = counters(&svc, Service::Echo);
    assert_eq!((k.accepted, k.closed, k.errors), (1, 1, 0));
    assert_eq!((k.bytes_in, k.bytes_out), (300_000, 300_000));
}

#[test]
fn discard_with_a_small_buffer_reads_everything_without_window_stalls() {
    // 16 KiB receive buffer: 1 MB is 64 windows. A service that left data in the ring buffer
    // would keep the window shut until a zero-window probe (an RTO each time: tens of seconds).
    let (mut sim, mut svc) = setup(&[Service::Discard], 16 * 1024);
    let (c, took) = talk(
        &mut sim,
        &mut svc,
        9,
        data(1_000_000),
        true,
        usize::MAX,
        Duration::from_secs(60),
    );
    assert_eq!(c.err, None);
    assert!(c.eof, "discard closes after the peer's FIN");
    let k = counters(&svc, Service::Discard);
    assert_eq!((k.bytes_in, k.bytes_out, k.closed), (1_000_000, 0, 1));
    assert!(
        took < Instant::from_secs(5),
        "1 MB through a 16 KiB window took {took} (window stalls?)"
    );
}

#[test]
fn chargen_sends_the_rfc_864_pattern_and_notices_an_abort() {
    let (mut sim, mut svc) = setup(&[Service::Chargen], 1 << 20);
    let (c, _) = talk(
        &mut sim,
        &mut svc,
        19,
        Vec::new(),
        false,
        200_000,
        Duration::from_secs(20),
    );
    assert_eq!(c.err, None);
    let want: Vec<u8> = (0..).flat_map(chargen_line).take(200_000).collect();
    assert!(c.got.len() >= 200_000);
    assert!(c.got[..200_000] == want[..], "RFC 864 pattern");
    let now = sim.now();
    sim.a_mut().tcp_abort(now, c.h);
    let max = sim.now() + Duration::from_secs(5);
    sim.run_while(
        |sim| {
            let now = sim.now();
            svc.run(sim.b_mut(), now);
            counters(&svc, Service::Chargen).errors == 0
        },
        max,
    );
    let k = counters(&svc, Service::Chargen);
    assert_eq!(
        (k.accepted, k.errors),
        (1, 1),
        "the RST ends the connection"
    );
    assert!(svc.connections(sim.b()).is_empty());
}

/// Split a stream of responses (Content-Length bodies; none for HEAD, the `heads`-th responses)
/// into (head, body) pairs.
fn http_body(resp: &[u8], heads: &[usize]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = resp;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("Content-Length");
        let len = if heads.contains(&out.len()) { 0 } else { len };
        let body = rest[end + 4..end + 4 + len].to_vec();
        rest = &rest[end + 4 + len..];
        out.push((head, body));
    }
    assert!(rest.is_empty(), "trailing bytes: {rest:?}");
    out
}

#[test]
fn http_bytes_pipelined_then_close() {
    let (mut sim, mut svc) = setup(&[Service::Http], 1 << 20);
    let req = "GET /bytes/150000 HTTP/1.1\r\nHost: x\r\n\r\n\
               GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n\
               HEAD /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n\
               GET /bytes/70 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (c, _) = talk(
        &mut sim,
        &mut svc,
        80,
        req.as_bytes().to_vec(),
        false,
        usize::MAX,
        Duration::from_secs(20),
    );
    assert_eq!(c.err, None);
    assert!(c.eof, "Connection: close closes");
    let r = http_body(&c.got, &[2]);
    assert_eq!(
        r.len(),
        4,
        "{:?}",
        r.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    assert!(r[0].0.starts_with("HTTP/1.1 200 OK"));
    let pat = |i: usize| {
        let j = i % BYTES_BLOCK;
        if j % 64 == 63 {
            b'\n'
        } else {
            b'a' + (j % 26) as u8
        }
    };
    assert_eq!(r[0].1.len(), 150_000);
    assert!(r[0].1.iter().enumerate().all(|(i, &b)| b == pat(i)));
    assert!(r[1].0.starts_with("HTTP/1.1 404"));
    assert!(r[2].0.contains("Content-Length: 7") && r[2].1.is_empty());
    assert!(r[3].0.contains("Connection: close"));
    assert_eq!(r[3].1, (0..70).map(pat).collect::<Vec<u8>>());
    assert_eq!(counters(&svc, Service::Http).http_requests, 4);
}

#[test]
fn http_refuses_bodies_and_bad_requests() {
    let (mut sim, mut svc) = setup(&[Service::Http], 1 << 20);
    for (req, status) in [
        ("POST /sink HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "405"),
        ("GET /bytes/12x HTTP/1.1\r\n\r\n", "400"),
        ("GET /bytes/99999999999 HTTP/1.1\r\n\r\n", "413"),
        ("GET / HTTP/2.0\r\n\r\n", "505"),
    ] {
        let (c, _) = talk(
            &mut sim,
            &mut svc,
            80,
            req.as_bytes().to_vec(),
            false,
            usize::MAX,
            Duration::from_secs(5),
        );
        let text = String::from_utf8_lossy(&c.got).to_string();
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{req:?}: {text}"
        );
        if status != "400" && status != "413" {
            assert!(c.eof, "{req:?}: closed after the error");
        }
    }
}

#[test]
fn unsupported_services_are_refused() {
    let mut s = smol(SERVER_IP, CLIENT_IP, 1, 4096);
    let e = SmolServices::start(&mut s, SERVER_IP, &[Service::UdpEcho]).err();
    assert!(e.is_some_and(|e| e.contains("udp-echo")));
}
