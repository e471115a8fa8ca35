//! Small servers built on `api`, for testing the stack with ordinary tools:
//! `udp-echo` (UDP 7, RFC 862), `echo` (TCP 7, RFC 862), `discard` (TCP 9, RFC 863),
//! `chargen` (TCP 19, RFC 864), `http` (TCP 80, a small HTTP/1.1 server, RFC 9112),
//! `dns` (UDP and TCP 53, an authoritative server for one zone, RFC 1035). See docs/services.md.
//!
//! echo, discard and chargen run inside the driver thread (`inline`); the others on threads over
//! `api`, one per connection. Both are capped (`MAX_CONNECTIONS` per service); beyond the cap,
//! new connections wait in the stack's accept queue.

mod chargen;
pub mod dns;
mod http;
pub mod inline;
pub mod inline_client;
mod limit;
pub mod sha256;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;
use std::thread::JoinHandle;

use crate::api::{Net, TcpListener, TcpStream, UdpSocket};

pub use chargen::chargen_line;
pub use http::{Request, RequestError, parse_request_head};

/// Connection threads per TCP service.
pub const MAX_CONNECTIONS: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    UdpEcho,
    Echo,
    Discard,
    Chargen,
    Http,
    Dns,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::UdpEcho,
        Service::Echo,
        Service::Discard,
        Service::Chargen,
        Service::Http,
        Service::Dns,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::UdpEcho => "udp-echo",
            Service::Echo => "echo",
            Service::Discard => "discard",
            Service::Chargen => "chargen",
            Service::Http => "http",
            Service::Dns => "dns",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Service::UdpEcho | Service::Echo => 7,
            Service::Discard => 9,
            Service::Chargen => 19,
            Service::Http => 80,
            Service::Dns => dns::PORT,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Service::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown service {s:?} (expected udp-echo, echo, discard, chargen, http, dns, all or none)"
                )
            })
    }
}

/// Parse a `--serve` list: `all`, `none`, or a comma list of service names.
pub fn parse_list(s: &str) -> Result<Vec<Service>, String> {
    match s.trim() {
        "all" => return Ok(Service::ALL.to_vec()),
        "none" | "" => return Ok(Vec::new()),
        _ => {}
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let svc: Service = part.trim().parse()?;
        if !out.contains(&svc) {
            out.push(svc);
        }
    }
    Ok(out)
}

/// Start `svc` on `addr` (our address): inside the driver thread for echo, discard and chargen
/// (`None`), else in background threads. `TUNSTACK_THREADED_SERVICES=1` runs every service on
/// threads (for A/B measurements, docs/benchmarks.md).
pub fn start(net: &Net, addr: Ipv4Addr, svc: Service) -> io::Result<Option<JoinHandle<()>>> {
    let local = SocketAddrV4::new(addr, svc.port());
    let threaded = std::env::var_os("TUNSTACK_THREADED_SERVICES").is_some_and(|v| v == "1");
    if inline::is_inline(svc) && !threaded {
        net.serve_inline(local, svc)?;
        return Ok(None);
    }
    start_threaded(net, local, svc).map(Some)
}

/// Start `svc` on `local` in background threads over `api` (one per connection).
pub fn start_threaded(net: &Net, local: SocketAddrV4, svc: Service) -> io::Result<JoinHandle<()>> {
    let name = format!("svc-{svc}");
    if svc == Service::UdpEcho {
        let sock = UdpSocket::bind(net, local)?;
        return std::thread::Builder::new()
            .name(name)
            .spawn(move || udp_echo(sock));
    }
    if svc == Service::Dns {
        return dns::start(net, local);
    }
    let listener = TcpListener::bind(net, local)?;
    let handler: fn(TcpStream) -> io::Result<()> = match svc {
        Service::Echo => echo,
        Service::Discard => discard,
        Service::Chargen => chargen::serve,
        _ => http::serve,
    };
    std::thread::Builder::new()
        .name(name)
        .spawn(move || limit::accept_loop(listener, svc, handler))
}

/// UDP echo (RFC 862): every datagram goes back to its sender.
fn udp_echo(sock: UdpSocket) {
    let mut buf = vec![0u8; 65535];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Err(e) = sock.send_to(&buf[..n], from) {
                    log::debug!("udp-echo: send to {from}: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
            Err(e) => log::debug!("udp-echo: {e}"),
        }
    }
}

/// TCP echo (RFC 862): what comes in goes back until the peer closes.
fn echo(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

/// Discard (RFC 863): read and throw away until the peer closes.
fn discard(mut s: TcpStream) -> io::Result<()> {
    // A whole default receive buffer per read: each read is a round trip to the driver thread.
    let mut buf = vec![0u8; 256 * 1024];
    while s.read(&mut buf)? > 0 {}
    Ok(())
}
