//! Socket handles and errors shared by the sans-IO `Stack` and the blocking `api`.

use std::fmt;
use std::io;

/// A UDP socket inside a `Stack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle(pub u32);

/// A TCP socket (listener or connection) inside a `Stack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpHandle(pub u32);

/// Something about a socket changed (readable, writable, connected, closed, error):
/// a driver with callers blocked on it re-checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketEvent {
    Udp(UdpHandle),
    Tcp(TcpHandle),
}

/// Why a socket operation failed. Maps onto the `io::ErrorKind` a Rust programmer expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketError {
    /// Nothing to do now; try again after the next event (not a failure).
    WouldBlock,
    AddrInUse,
    AddrNotAvailable,
    InvalidHandle,
    InvalidInput,
    NotConnected,
    AlreadyConnected,
    ConnectionRefused,
    ConnectionReset,
    ConnectionAborted,
    TimedOut,
    BrokenPipe,
    /// Datagram larger than the largest IPv4 payload.
    MessageTooLong,
    /// A configured limit (connections, buffers) was reached.
    NoBufferSpace,
    HostUnreachable,
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SocketError::WouldBlock => "operation would block",
            SocketError::AddrInUse => "address in use",
            SocketError::AddrNotAvailable => "address not available",
            SocketError::InvalidHandle => "invalid socket handle",
            SocketError::InvalidInput => "invalid argument",
            SocketError::NotConnected => "socket is not connected",
            SocketError::AlreadyConnected => "socket is already connected",
            SocketError::ConnectionRefused => "connection refused",
            SocketError::ConnectionReset => "connection reset by peer",
            SocketError::ConnectionAborted => "connection aborted",
            SocketError::TimedOut => "connection timed out",
            SocketError::BrokenPipe => "broken pipe",
            SocketError::MessageTooLong => "message too long",
            SocketError::NoBufferSpace => "no buffer space (limit reached)",
            SocketError::HostUnreachable => "host unreachable",
        };
        f.write_str(s)
    }
}

impl std::error::Error for SocketError {}

impl From<SocketError> for io::ErrorKind {
    fn from(e: SocketError) -> io::ErrorKind {
        use io::ErrorKind as K;
        match e {
            SocketError::WouldBlock => K::WouldBlock,
            SocketError::AddrInUse => K::AddrInUse,
            SocketError::AddrNotAvailable => K::AddrNotAvailable,
            SocketError::InvalidHandle | SocketError::InvalidInput => K::InvalidInput,
            SocketError::NotConnected => K::NotConnected,
            SocketError::AlreadyConnected => K::AlreadyExists,
            SocketError::ConnectionRefused => K::ConnectionRefused,
            SocketError::ConnectionReset => K::ConnectionReset,
            SocketError::ConnectionAborted => K::ConnectionAborted,
            SocketError::TimedOut => K::TimedOut,
            SocketError::BrokenPipe => K::BrokenPipe,
            SocketError::MessageTooLong => K::InvalidInput,
            SocketError::NoBufferSpace => K::OutOfMemory,
            SocketError::HostUnreachable => K::HostUnreachable,
        }
    }
}

impl From<SocketError> for io::Error {
    fn from(e: SocketError) -> io::Error {
        io::Error::new(e.into(), e)
    }
}
