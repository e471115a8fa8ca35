//! `dns`: an authoritative DNS server (RFC 1035) on UDP 53 and TCP 53, for one zone.
//!
//! The zone is `set_zone` (from `--dns-zone FILE`) or the built-in `lab.test.` zone.
//! UDP answers larger than the client's EDNS size (capped at 1232; 512 without EDNS) are sent
//! with TC=1 and no records, so the client retries over TCP (RFC 1035 §4.2.1, RFC 7766).
//! `message`/`zone`/`answer` are sans-IO; this file holds only the socket loops.

mod answer;
pub mod message;
mod name;
#[cfg(test)]
mod tests;
pub mod zone;

use std::io::{self, Read, Write};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use answer::{CLASSIC_UDP, MAX_UDP, Outcome, Transport, describe, respond};
pub use zone::{Lookup, Zone};

use super::{Service, limit};
use crate::api::{Net, TcpListener, TcpStream, UdpSocket};

pub const PORT: u16 = 53;
/// RFC 7766 §6.2.3: close idle TCP connections after a few seconds.
const TCP_IDLE: Duration = Duration::from_secs(10);

static ZONE: RwLock<Option<Arc<Zone>>> = RwLock::new(None);

/// Serve `zone` from now on (instead of the built-in one).
pub fn set_zone(zone: Zone) {
    *ZONE.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(zone));
}

/// The zone being served.
pub fn zone() -> Arc<Zone> {
    let mut z = ZONE.write().unwrap_or_else(|p| p.into_inner());
    z.get_or_insert_with(|| Arc::new(Zone::builtin())).clone()
}

/// Counters since start (all services in the process share them).
#[derive(Debug, Default)]
pub struct Counters {
    pub udp_queries: AtomicU64,
    pub tcp_queries: AtomicU64,
    /// Dropped without an answer (too short, or QR=1).
    pub dropped: AtomicU64,
    pub formerr: AtomicU64,
    pub nxdomain: AtomicU64,
    pub refused: AtomicU64,
    /// UDP answers sent with TC=1.
    pub truncated: AtomicU64,
}

pub static COUNTERS: Counters = Counters {
    udp_queries: AtomicU64::new(0),
    tcp_queries: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    formerr: AtomicU64::new(0),
    nxdomain: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    truncated: AtomicU64::new(0),
};

/// One line for the exit report, e.g. `dns: 12 queries (udp 10, tcp 2), 1 truncated, ...`.
pub fn summary() -> String {
    let c = &COUNTERS;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let (u, t) = (g(&c.udp_queries), g(&c.tcp_queries));
    format!(
        "dns: {} queries (udp {u}, tcp {t}), {} truncated, {} nxdomain, {} refused, {} formerr, \
         {} dropped",
        u + t,
        g(&c.truncated),
        g(&c.nxdomain),
        g(&c.refused),
        g(&c.formerr),
        g(&c.dropped)
    )
}

fn count(query: &[u8], t: Transport, o: Outcome) {
    let c = &COUNTERS;
    let bump = |a: &AtomicU64| a.fetch_add(1, Ordering::Relaxed);
    bump(match t {
        Transport::Udp => &c.udp_queries,
        Transport::Tcp => &c.tcp_queries,
    });
    match o {
        Outcome::Dropped(why) => {
            bump(&c.dropped);
            log::debug!("dns: dropped a {}-byte message: {why}", query.len());
        }
        Outcome::Answered { rcode, truncated } => {
            match rcode {
                message::rcode::FORMERR => bump(&c.formerr),
                message::rcode::NXDOMAIN => bump(&c.nxdomain),
                message::rcode::REFUSED => bump(&c.refused),
                _ => 0,
            };
            if truncated {
                bump(&c.truncated);
            }
            log::debug!(
                "dns: {t:?} {} -> rcode {rcode}{}",
                describe(query),
                if truncated { " TC" } else { "" }
            );
        }
    }
}

/// Start UDP and TCP on `local` (port 53) in background threads.
pub(super) fn start(net: &Net, local: SocketAddrV4) -> io::Result<JoinHandle<()>> {
    let udp = UdpSocket::bind(net, local)?;
    let tcp = TcpListener::bind(net, local)?;
    let zone = zone();
    std::thread::Builder::new()
        .name("svc-dns-tcp".into())
        .spawn(move || limit::accept_loop(tcp, Service::Dns, serve_tcp))?;
    std::thread::Builder::new()
        .name("svc-dns".into())
        .spawn(move || serve_udp(udp, &zone))
}

fn serve_udp(sock: UdpSocket, zone: &Zone) {
    let mut buf = vec![0u8; 65535];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let q = &buf[..n];
                let (resp, outcome) = respond(zone, q, Transport::Udp);
                count(q, Transport::Udp, outcome);
                if let Some(r) = resp
                    && let Err(e) = sock.send_to(&r, from)
                {
                    log::debug!("dns: send to {from}: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
            Err(e) => log::debug!("dns: udp: {e}"),
        }
    }
}

/// DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message has a two-byte length prefix;
/// several queries may come on one connection.
fn serve_tcp(s: TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(TCP_IDLE))?;
    let zone = zone();
    serve_stream(s, &zone)
}

/// The TCP loop over any stream (tests use in-memory ones). Ends at EOF or on a bad message.
pub fn serve_stream<S: Read + Write>(mut s: S, zone: &Zone) -> io::Result<()> {
    let mut len = [0u8; 2];
    let mut q = Vec::new();
    loop {
        match s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        q.resize(usize::from(u16::from_be_bytes(len)), 0);
        s.read_exact(&mut q)?;
        let (resp, outcome) = respond(zone, &q, Transport::Tcp);
        count(&q, Transport::Tcp, outcome);
        let Some(r) = resp else {
            return Ok(()); // nothing sensible to answer: close
        };
        let mut out = Vec::with_capacity(r.len() + 2);
        out.extend_from_slice(&(r.len() as u16).to_be_bytes());
        out.extend_from_slice(&r);
        s.write_all(&out)?;
    }
}
