//! A listening socket (RFC 9293 §3.10.1 passive OPEN, §3.10.7.2 LISTEN): its SYN queue (half-open
//! connections in SYN-RECEIVED) and its accept queue (established, not yet accepted).
//!
//! Both are bounded by `backlog`: a SYN gets state only while syn_queue + accept_queue < backlog,
//! so a completed handshake always finds room in the accept queue. Beyond that bound a SYN is
//! answered with a SYN cookie (`syncookie.rs`, RFC 4987 §3.6) if enabled, else dropped and
//! counted (the peer retransmits); with the accept queue itself full it is dropped (as Linux).
//! A valid cookie ACK that finds the accept queue full rebuilds the connection in SYN-RECEIVED
//! and drops the ACK; our SYN,ACK retransmission draws it again (`syncookie.rs`), at once when
//! `accept` makes room.
//! Read next: `mod.rs`.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::socket::TcpHandle;
use crate::time::Instant;

#[derive(Debug)]
pub struct Listener {
    pub local: SocketAddrV4,
    pub backlog: usize,
    /// Connections of this listener still in SYN-RECEIVED.
    pub syn_queue: usize,
    /// Established connections waiting for `accept`.
    pub accept_queue: VecDeque<TcpHandle>,
    /// When we last answered a SYN with a cookie (ACKs are checked as cookies only after that).
    pub last_cookie: Option<Instant>,
}

impl Listener {
    pub fn new(local: SocketAddrV4, backlog: usize) -> Self {
        Listener {
            local,
            backlog: backlog.max(1),
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            last_cookie: None,
        }
    }

    /// The accept queue alone fills the backlog: even a valid cookie finds no room.
    pub fn accept_full(&self) -> bool {
        self.accept_queue.len() >= self.backlog
    }

    /// Room for one more half-open connection.
    pub fn has_room(&self) -> bool {
        self.syn_queue + self.accept_queue.len() < self.backlog
    }
}
