//! Our TIME-WAIT gives its 4-tuple to a new active open only when that is safe (src/tcp/ports.rs:
//! timestamps on the old connection, at least 1 s in TIME-WAIT; as Linux's tcp_twsk_unique),
//! and the new ISS lies beyond the old SND.NXT. Two stacks in memory; the server runs the
//! inline echo (it closes after our FIN, so only our side holds TIME-WAIT).

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::services::Service;
use tunstack::services::inline::Inline;
use tunstack::{Duration, Instant, SocketError, Stack, StackConfig, TcpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

struct Pair {
    client: Stack,
    server: Stack,
    echo: Inline,
    now: Instant,
}

impl Pair {
    fn new(timestamps: bool) -> Pair {
        let mut cc = StackConfig {
            addr: A,
            seed: 1,
            ..StackConfig::default()
        };
        cc.tcp.timestamps = timestamps;
        let client = Stack::new(cc);
        let mut server = Stack::new(StackConfig {
            addr: B,
            seed: 2,
            ..StackConfig::default()
        });
        let mut echo = Inline::default();
        echo.listen(&mut server, SocketAddrV4::new(B, 7), Service::Echo)
            .expect("listen");
        Pair {
            client,
            server,
            echo,
            now: Instant::from_secs(10),
        }
    }

    /// Exchange packets until both are quiet (no time passes).
    fn settle(&mut self) {
        let mut buf = vec![0u8; 2048];
        for _ in 0..20 {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut buf) {
                self.server.handle_packet(self.now, &buf[..n]);
                moved = true;
            }
            while let Some(ev) = self.server.poll_event() {
                self.echo.on_event(&mut self.server, self.now, ev);
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut buf) {
                self.client.handle_packet(self.now, &buf[..n]);
                moved = true;
            }
            while self.client.poll_event().is_some() {}
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        for s in [&mut self.client, &mut self.server] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
        self.settle();
    }

    fn connect(&mut self, port: u16) -> Result<TcpHandle, SocketError> {
        let now = self.now;
        let h = self.client.tcp_mut().connect(
            now,
            SocketAddrV4::new(A, port),
            SocketAddrV4::new(B, 7),
        )?;
        self.settle();
        Ok(h)
    }

    /// One echo round trip, then we close first: our side ends in TIME-WAIT.
    fn exchange_and_close(&mut self, h: TcpHandle) {
        self.client.tcp().connect_status(h).expect("established");
        self.client.tcp_send(self.now, h, b"x").expect("send");
        self.settle();
        let mut b = [0u8; 1];
        assert_eq!(self.client.tcp_recv(self.now, h, &mut b), Ok(1));
        self.client.tcp_close(self.now, h);
        self.settle();
        let c = self.client.tcp().connection(h).expect("still in the table");
        assert_eq!(c.state.name(), "TIME-WAIT");
    }
}

#[test]
fn time_wait_recycled_after_a_second_with_timestamps() {
    let mut p = Pair::new(true);
    let old = p.connect(40000).expect("first connect");
    p.exchange_and_close(old);
    let old_nxt = p.client.tcp().connection(old).expect("TIME-WAIT").snd_max;
    // Too young: the 4-tuple stays with TIME-WAIT.
    p.advance(Duration::from_millis(500));
    assert_eq!(p.connect(40000).err(), Some(SocketError::AddrInUse));
    p.advance(Duration::from_millis(600));
    let new = p.connect(40000).expect("recycled after 1 s");
    assert_eq!(p.client.tcp().stats().time_wait_recycled, 1);
    assert!(
        p.client.tcp().connection(old).is_none(),
        "old TIME-WAIT released"
    );
    let iss = p.client.tcp().connection(new).expect("new").iss;
    assert!(
        iss.gt(old_nxt.wrapping_add(65535)),
        "{iss:?} vs {old_nxt:?}"
    );
    // The new incarnation works end to end.
    p.exchange_and_close(new);
}

#[test]
fn no_recycling_without_timestamps() {
    let mut p = Pair::new(false);
    let old = p.connect(40001).expect("first connect");
    p.exchange_and_close(old);
    p.advance(Duration::from_secs(5));
    assert_eq!(p.connect(40001).err(), Some(SocketError::AddrInUse));
    assert_eq!(p.client.tcp().stats().time_wait_recycled, 0);
}

#[test]
fn ephemeral_ports_run_in_sequence_per_destination() {
    // RFC 6056 Algorithm 3: consecutive ports towards one destination, and a fresh TIME-WAIT
    // is not probed again before the range wraps.
    let mut p = Pair::new(true);
    let mut ports = Vec::new();
    for _ in 0..4 {
        let h = p
            .client
            .tcp_connect(p.now, SocketAddrV4::new(B, 7))
            .expect("connect");
        p.settle();
        ports.push(p.client.tcp().local_addr(h).expect("addr").port());
        p.exchange_and_close(h);
    }
    for w in ports.windows(2) {
        let next = if w[0] == 65535 { 49152 } else { w[0] + 1 };
        assert_eq!(w[1], next, "{ports:?}");
    }
    assert!(ports.iter().all(|&q| q >= 49152));
}
