//! A connection-rate client inside the driver thread (`tsbench our-crr --inline`): `parallel`
//! connections at a time to `remote`, each connect, 1-byte request, 1-byte answer, close (we
//! close first and hold TIME-WAIT), the next one opened as soon as one ends. Stepped on socket
//! events like the inline services (`inline.rs`), so what it measures is the stack's own cost
//! per connection, without the two thread hand-offs per call of the blocking `api`.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::socket::{SocketError, TcpHandle};
use crate::stack::Stack;
use crate::tcp::handle_map::LocalMap;
use crate::time::Instant;

/// Counts shared with the thread that started the client.
#[derive(Default, Debug)]
pub struct CrrCounts {
    /// Connections that got their answer and were closed.
    pub ok: AtomicU64,
    /// Connections that failed (refused, reset, timed out, no free port).
    pub failed: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Waiting,
}

pub struct CrrClient {
    remote: SocketAddrV4,
    parallel: usize,
    /// No connection is opened after this.
    until: Instant,
    conns: LocalMap<TcpHandle, Phase>,
    counts: Arc<CrrCounts>,
}

impl CrrClient {
    /// Start: open `parallel` connections now.
    pub fn start(
        stack: &mut Stack,
        now: Instant,
        remote: SocketAddrV4,
        parallel: usize,
        until: Instant,
    ) -> (CrrClient, Arc<CrrCounts>) {
        let counts = Arc::new(CrrCounts::default());
        let mut c = CrrClient {
            remote,
            parallel: parallel.max(1),
            until,
            conns: LocalMap::default(),
            counts: counts.clone(),
        };
        c.top_up(stack, now);
        (c, counts)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.conns.len()
    }

    /// Open connections until `parallel` are open (before `until`).
    fn top_up(&mut self, stack: &mut Stack, now: Instant) {
        while self.conns.len() < self.parallel && now < self.until {
            match stack.tcp_connect(now, self.remote) {
                Ok(h) => {
                    self.conns.insert(h, Phase::Connecting);
                }
                Err(e) => {
                    // No free port or buffer: try again at the next event.
                    log::debug!("crr client: connect: {e}");
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }

    /// Serve an event of `h` if it is one of ours; false = not ours.
    pub fn on_event(&mut self, stack: &mut Stack, now: Instant, h: TcpHandle) -> bool {
        let Some(&phase) = self.conns.get(&h) else {
            return false;
        };
        let next = match phase {
            Phase::Connecting => match stack.tcp().connect_status(h) {
                Ok(()) => {
                    let _ = stack.tcp_mut().set_nodelay(h, true);
                    match stack.tcp_send(now, h, b"x") {
                        Ok(_) => Some(Phase::Waiting),
                        Err(_) => None,
                    }
                }
                Err(SocketError::WouldBlock) => Some(Phase::Connecting),
                Err(_) => None,
            },
            Phase::Waiting => {
                let mut b = [0u8; 1];
                match stack.tcp_recv(now, h, &mut b) {
                    Ok(1) => {
                        self.counts.ok.fetch_add(1, Ordering::Relaxed);
                        self.conns.remove(&h);
                        stack.tcp_close(now, h);
                        self.top_up(stack, now);
                        return true;
                    }
                    Err(SocketError::WouldBlock) => Some(Phase::Waiting),
                    _ => None,
                }
            }
        };
        match next {
            Some(p) => {
                if p != phase {
                    self.conns.insert(h, p);
                }
            }
            None => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                self.conns.remove(&h);
                stack.tcp_abort(now, h);
            }
        }
        self.top_up(stack, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Service;
    use crate::services::inline::Inline;
    use crate::stack::StackConfig;
    use std::net::Ipv4Addr;

    /// Our client against our inline echo, in memory: every connection completes, and closing
    /// first leaves the client's side in TIME-WAIT.
    #[test]
    fn client_completes_connections_against_echo() {
        let a = Ipv4Addr::new(198, 18, 0, 1);
        let b = Ipv4Addr::new(198, 18, 0, 2);
        let mut client = Stack::new(StackConfig {
            addr: a,
            seed: 1,
            ..StackConfig::default()
        });
        let mut server = Stack::new(StackConfig {
            addr: b,
            seed: 2,
            ..StackConfig::default()
        });
        let mut echo = Inline::default();
        echo.listen(&mut server, SocketAddrV4::new(b, 7), Service::Echo)
            .expect("listen");
        let mut now = Instant::from_secs(1);
        let until = now + crate::time::Duration::from_millis(5);
        let (mut c, counts) = CrrClient::start(&mut client, now, SocketAddrV4::new(b, 7), 3, until);
        assert_eq!(c.open(), 3);
        let mut buf = vec![0u8; 2048];
        for _ in 0..2000 {
            now += crate::time::Duration::from_micros(10);
            while let Some(n) = client.poll_transmit(now, &mut buf) {
                server.handle_packet(now, &buf[..n]);
            }
            while let Some(ev) = server.poll_event() {
                echo.on_event(&mut server, now, ev);
            }
            while let Some(n) = server.poll_transmit(now, &mut buf) {
                client.handle_packet(now, &buf[..n]);
            }
            while let Some(crate::socket::SocketEvent::Tcp(h)) = client.poll_event() {
                c.on_event(&mut client, now, h);
            }
        }
        let ok = counts.ok.load(Ordering::Relaxed);
        assert_eq!(counts.failed.load(Ordering::Relaxed), 0);
        assert!(ok >= 30, "{ok}");
        assert_eq!(c.open(), 0, "no connection opened after `until` stays open");
        // We closed first: the closed connections wait in TIME-WAIT on our side.
        assert!(client.tcp().connection_count() as u64 >= ok - 3);
    }
}
