//! `std::net` look-alikes over a running stack: blocking, usable from any thread.
//!
//! Every call is a small closure sent to the driver thread (over a channel, plus an eventfd
//! wake-up); a call that cannot finish yet is parked there until its socket has an event or its
//! timeout passes, so thousands of sockets need no thread inside the stack. Read next: `services`.

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
