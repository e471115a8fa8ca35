//! Connection rate without syscalls: a client `Stack` and a server `Stack` running the inline
//! echo service (`services::inline`), joined back to back in memory. Each connection: connect,
//! 1-byte request, 1-byte answer, close (the client closes first, so it holds TIME-WAIT), one
//! at a time, as `tsbench crr` does over a TUN. For callgrind: `--toggle-collect=*server_side*`
//! counts everything the server does for its connections (SYN → SYN,ACK → ACK → data → FIN
//! exchange → close), `*client_side*` our client's (connect, ephemeral port, TIME-WAIT).

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::services::Service;
use tunstack::services::inline::Inline;
use tunstack::{Duration, Instant, SocketError, Stack, StackConfig, TcpHandle};

const PORT: u16 = 7;

/// The client's one connection and where it is in its life.
#[derive(Clone, Copy)]
enum Client {
    Idle,
    Connecting(TcpHandle),
    Waiting(TcpHandle),
}

pub struct CrrPair {
    pub client: Stack,
    pub server: Stack,
    echo: Inline,
    state: Client,
    now: Instant,
    /// Simulated time between two steps (sets the connection rate and how many connections
    /// are in TIME-WAIT at once: 2·MSL / (steps per connection · step)).
    step: Duration,
    /// Packets in flight: (buffer, length); buffers stay 2 KiB long and are reused.
    to_server: Vec<(Vec<u8>, usize)>,
    to_client: Vec<(Vec<u8>, usize)>,
    spare: Vec<Vec<u8>>,
    /// Connections completed (answer read, closed).
    pub conns: u64,
    /// Start connections until this many completed.
    goal: u64,
    pub failed: u64,
}

fn cfg(addr: Ipv4Addr, seed: u64, msl: Duration) -> StackConfig {
    let mut c = StackConfig {
        addr,
        seed,
        ..StackConfig::default()
    };
    c.tcp.msl = msl;
    c
}

impl CrrPair {
    /// Client 198.18.0.1, server 198.18.0.2 with echo on port 7; TIME-WAIT lasts 2·`msl`.
    pub fn new(msl: Duration, step: Duration) -> CrrPair {
        let client = Stack::new(cfg(Ipv4Addr::new(198, 18, 0, 1), 1, msl));
        let mut server = Stack::new(cfg(Ipv4Addr::new(198, 18, 0, 2), 2, msl));
        let mut echo = Inline::default();
        echo.listen(
            &mut server,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT),
            Service::Echo,
        )
        .expect("listen on a fresh stack");
        CrrPair {
            client,
            server,
            echo,
            state: Client::Idle,
            now: Instant::from_secs(1),
            step,
            to_server: Vec::new(),
            to_client: Vec::new(),
            spare: Vec::new(),
            conns: 0,
            goal: 0,
            failed: 0,
        }
    }

    /// Run until `n` more connections completed.
    pub fn run(&mut self, n: u64) {
        self.goal = self.conns + n;
        while self.conns < self.goal {
            self.now += self.step;
            self.client_side();
            self.server_side();
        }
        // Let the last close finish.
        for _ in 0..4 {
            self.now += self.step;
            self.client_side();
            self.server_side();
        }
    }

    /// Everything the client does in one step: its packets, its timers (TIME-WAIT), the
    /// application (connect, write, read, close), and what it sends.
    #[inline(never)]
    pub fn client_side(&mut self) {
        let now = self.now;
        for (p, n) in self.to_client.drain(..) {
            self.client
                .handle_packet(now, p.get(..n).unwrap_or_default());
            self.spare.push(p);
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        while self.client.poll_event().is_some() {}
        self.state = match self.state {
            Client::Idle if self.conns >= self.goal => Client::Idle,
            Client::Idle => match self
                .client
                .tcp_connect(now, SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), PORT))
            {
                Ok(h) => Client::Connecting(h),
                Err(_) => {
                    self.failed += 1;
                    Client::Idle
                }
            },
            Client::Connecting(h) => match self.client.tcp().connect_status(h) {
                Ok(()) => {
                    let _ = self.client.tcp_mut().set_nodelay(h, true);
                    match self.client.tcp_send(now, h, b"x") {
                        Ok(_) => Client::Waiting(h),
                        Err(_) => self.fail(h),
                    }
                }
                Err(SocketError::WouldBlock) => Client::Connecting(h),
                Err(_) => self.fail(h),
            },
            Client::Waiting(h) => {
                let mut b = [0u8; 1];
                match self.client.tcp_recv(now, h, &mut b) {
                    Ok(1) => {
                        self.client.tcp_close(now, h);
                        self.conns += 1;
                        Client::Idle
                    }
                    Err(SocketError::WouldBlock) => Client::Waiting(h),
                    _ => self.fail(h),
                }
            }
        };
        Self::drain(&mut self.client, now, &mut self.to_server, &mut self.spare);
    }

    /// Everything the server does in one step: its packets, its timers, the echo service, and
    /// what it sends.
    #[inline(never)]
    pub fn server_side(&mut self) {
        let now = self.now;
        for (p, n) in self.to_server.drain(..) {
            self.server
                .handle_packet(now, p.get(..n).unwrap_or_default());
            self.spare.push(p);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
        while let Some(ev) = self.server.poll_event() {
            self.echo.on_event(&mut self.server, now, ev);
        }
        Self::drain(&mut self.server, now, &mut self.to_client, &mut self.spare);
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(Instant::from_secs(1))
    }

    fn fail(&mut self, h: TcpHandle) -> Client {
        self.failed += 1;
        self.client.tcp_abort(self.now, h);
        Client::Idle
    }

    fn drain(
        s: &mut Stack,
        now: Instant,
        out: &mut Vec<(Vec<u8>, usize)>,
        spare: &mut Vec<Vec<u8>>,
    ) {
        loop {
            let mut b = spare.pop().unwrap_or_else(|| vec![0; 2048]);
            match s.poll_transmit(now, &mut b) {
                Some(n) => out.push((b, n)),
                None => {
                    spare.push(b);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_complete_and_time_wait_ends() {
        let msl = Duration::from_millis(10);
        let mut p = CrrPair::new(msl, Duration::from_micros(20));
        p.run(300);
        assert_eq!(p.failed, 0);
        assert!(p.conns >= 300);
        // After 2·MSL every connection is gone from both tables.
        p.now += msl.saturating_mul(3);
        p.client_side();
        p.server_side();
        assert_eq!(p.client.tcp().connection_count(), 0);
        assert_eq!(p.server.tcp().connection_count(), 0);
    }
}
