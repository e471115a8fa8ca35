//! `std::net` look-alikes over a running stack: blocking, usable from any thread.
//!
//! Every call is a small closure sent to the driver thread (over a channel, plus an eventfd
//! wake-up); a call that cannot finish yet is parked there until its socket has an event or its
//! timeout passes, so thousands of sockets need no thread inside the stack. Read next: `services`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use tunstack::api::{TcpListener, TcpStream};
//! use tunstack::runtime::{Link, Runtime, RuntimeConfig, TunDevice, TunOptions};
//!
//! let dev = TunDevice::open(&TunOptions {
//!     name: "tunstack0".into(),
//!     host_addr: "198.18.0.1".parse().unwrap(),
//!     prefix_len: 24,
//!     mtu: 1500,
//! })?;
//! let rt = Runtime::start(Link::Tun(dev), RuntimeConfig::default())?; // stack 198.18.0.2
//! let net = rt.net();
//! let listener = TcpListener::bind(&net, "198.18.0.2:8080")?;
//! std::thread::spawn(move || {
//!     for mut s in listener.incoming().flatten() {
//!         let _ = s.write_all(b"hello from our TCP\n"); // dropped: FIN
//!     }
//! });
//! let mut s = TcpStream::connect(&net, "198.18.0.1:9000")?; // a kernel-side listener
//! let mut reply = String::new();
//! s.read_to_string(&mut reply)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Timeouts behave as in `std` on Unix: a read or write that times out fails with
//! `ErrorKind::WouldBlock`; `connect_timeout` fails with `TimedOut`. For tests without a TUN,
//! `runtime::Link::pair()` joins two runtimes in one process.

mod net;
mod tcp;
mod udp;

pub use net::Net;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};

/// The first IPv4 address `addr` resolves to (the stack is IPv4 only).
pub(crate) fn v4(addr: impl ToSocketAddrs) -> io::Result<SocketAddrV4> {
    addr.to_socket_addrs()?
        .find_map(|a| match a {
            SocketAddr::V4(a) => Some(a),
            SocketAddr::V6(_) => None,
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "no IPv4 address (tunstack speaks IPv4 only)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync_like_std() {
        send_sync::<Net>();
        send_sync::<TcpStream>();
        send_sync::<TcpListener>();
        send_sync::<UdpSocket>();
    }

    #[test]
    fn only_ipv4_addresses_resolve() {
        assert_eq!(
            v4("198.18.0.2:80").ok(),
            Some("198.18.0.2:80".parse().expect("addr"))
        );
        let e = v4("[::1]:80").expect_err("IPv6");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
