//! UDP (RFC 768): sockets, the demultiplexer, bounded receive queues, ICMP errors on sockets.
//!
//! Demux by local (address, port): a connected socket whose remote matches beats an unconnected
//! one, and a socket bound to our address beats one bound to 0.0.0.0 (the "most specific match",
//! as BSD and Linux do). Broadcasts only reach sockets bound to 0.0.0.0. A datagram nobody wants
//! gets ICMP port unreachable (RFC 1122 §4.1.3.1). Ephemeral ports come from 49152-65535
//! (RFC 6335 §6), a seeded random start then the next free one.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use super::Stack;
use super::ipv4::Datagram;
use super::stats::Counter;
use crate::rng::Rng;
use crate::socket::{SocketError, SocketEvent, UdpHandle};
use crate::time::Instant;
use crate::wire::icmpv4::{self, Quote};
use crate::wire::ipv4::{MAX_UDP_PAYLOAD, PROTO_UDP};
use crate::wire::udp::{self, UdpError, UdpPacket};

/// RFC 6335 §6: the dynamic (ephemeral) port range.
pub(crate) const EPHEMERAL_FIRST: u16 = 49152;
const EPHEMERAL_COUNT: u32 = 65536 - EPHEMERAL_FIRST as u32;
/// Besides `StackConfig::udp_queue_len` datagrams, a receive queue holds at most this many
/// payload bytes (32 datagrams of the largest size), so memory stays bounded.
pub(crate) const UDP_RX_MAX_BYTES: usize = 2 * 1024 * 1024;

struct UdpSocket {
    local: SocketAddrV4,
    remote: Option<SocketAddrV4>,
    rx: VecDeque<(SocketAddrV4, Vec<u8>)>,
    /// Payload bytes in `rx`.
    rx_bytes: usize,
    /// Set by an ICMP error on a connected socket; returned once (like Linux's `sk_err`).
    error: Option<SocketError>,
}

#[derive(Default)]
pub(crate) struct UdpTable {
    sockets: BTreeMap<u32, UdpSocket>,
    /// Handles bound to each port.
    by_port: BTreeMap<u16, Vec<u32>>,
    next_handle: u32,
}

impl UdpTable {
    fn get(&self, h: UdpHandle) -> Result<&UdpSocket, SocketError> {
        self.sockets.get(&h.0).ok_or(SocketError::InvalidHandle)
    }

    fn get_mut(&mut self, h: UdpHandle) -> Result<&mut UdpSocket, SocketError> {
        self.sockets.get_mut(&h.0).ok_or(SocketError::InvalidHandle)
    }

    fn port_used(&self, port: u16) -> bool {
        self.by_port.get(&port).is_some_and(|v| !v.is_empty())
    }

    fn ephemeral_port(&self, rng: &mut Rng) -> Option<u16> {
        let start = rng.below(u64::from(EPHEMERAL_COUNT)) as u32;
        (0..EPHEMERAL_COUNT)
            .map(|i| EPHEMERAL_FIRST + ((start + i) % EPHEMERAL_COUNT) as u16)
            .find(|p| !self.port_used(*p))
    }

    pub fn bind(
        &mut self,
        local: SocketAddrV4,
        ours: Ipv4Addr,
        rng: &mut Rng,
    ) -> Result<UdpHandle, SocketError> {
        let ip = *local.ip();
        if !ip.is_unspecified() && ip != ours {
            return Err(SocketError::AddrNotAvailable);
        }
        let port = match local.port() {
            0 => self.ephemeral_port(rng).ok_or(SocketError::AddrInUse)?,
            p => p,
        };
        // The same (address, port) twice is a conflict; 0.0.0.0:p and ours:p may coexist.
        let taken = self.by_port.get(&port).is_some_and(|hs| {
            hs.iter()
                .filter_map(|h| self.sockets.get(h))
                .any(|s| *s.local.ip() == ip)
        });
        if taken {
            return Err(SocketError::AddrInUse);
        }
        let mut h = self.next_handle;
        while self.sockets.contains_key(&h) {
            h = h.wrapping_add(1); // after 2^32 binds: skip handles still open
        }
        self.next_handle = h.wrapping_add(1);
        self.sockets.insert(
            h,
            UdpSocket {
                local: SocketAddrV4::new(ip, port),
                remote: None,
                rx: VecDeque::new(),
                rx_bytes: 0,
                error: None,
            },
        );
        self.by_port.entry(port).or_default().push(h);
        Ok(UdpHandle(h))
    }

    pub fn connect(&mut self, h: UdpHandle, remote: SocketAddrV4) -> Result<(), SocketError> {
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(SocketError::InvalidInput);
        }
        self.get_mut(h)?.remote = Some(remote);
        Ok(())
    }

    pub fn recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4), SocketError> {
        let s = self.get_mut(h)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        let (from, data) = s.rx.pop_front().ok_or(SocketError::WouldBlock)?;
        s.rx_bytes -= data.len();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
    }

    pub fn take_error(&mut self, h: UdpHandle) -> Option<SocketError> {
        self.get_mut(h).ok()?.error.take()
    }

    pub fn local_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, SocketError> {
        Ok(self.get(h)?.local)
    }

    pub fn peer_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, SocketError> {
        self.get(h)?.remote.ok_or(SocketError::NotConnected)
    }

    pub fn queued(&self, h: UdpHandle) -> Result<usize, SocketError> {
        Ok(self.get(h)?.rx.len())
    }

    pub fn close(&mut self, h: UdpHandle) {
        let Some(s) = self.sockets.remove(&h.0) else {
            return;
        };
        let port = s.local.port();
        if let Some(v) = self.by_port.get_mut(&port) {
            v.retain(|x| *x != h.0);
            if v.is_empty() {
                self.by_port.remove(&port);
            }
        }
    }

    /// The socket a datagram to `dst:port` from `from` belongs to: most specific match wins.
    fn lookup(&self, dst: Ipv4Addr, broadcast: bool, port: u16, from: SocketAddrV4) -> Option<u32> {
        let hs = self.by_port.get(&port)?;
        hs.iter()
            .filter_map(|h| self.sockets.get(h).map(|s| (*h, s)))
            .filter(|(_, s)| {
                let ip = *s.local.ip();
                let addr_ok = ip.is_unspecified() || (!broadcast && ip == dst);
                addr_ok && s.remote.is_none_or(|r| r == from)
            })
            .max_by_key(|(_, s)| (s.remote.is_some(), !s.local.ip().is_unspecified()))
            .map(|(h, _)| h)
    }
}

impl Stack {
    fn push_event(&mut self, ev: SocketEvent) {
        if !self.events.contains(&ev) {
            self.events.push_back(ev);
        }
    }

    pub(super) fn udp_input(&mut self, now: Instant, d: &Datagram<'_>) -> Counter {
        let u = match UdpPacket::new_checked(d.src, d.dst, d.payload) {
            Ok(u) => u,
            Err(UdpError::BadChecksum) => return Counter::drop_udp_bad_checksum,
            Err(UdpError::TooShort | UdpError::BadLength) => return Counter::drop_udp_malformed,
        };
        let from = SocketAddrV4::new(d.src, u.src_port());
        let Some(h) = self.udp.lookup(d.dst, d.broadcast, u.dst_port(), from) else {
            // RFC 1122 §4.1.3.1: port unreachable (never for broadcasts, see icmp_error).
            self.icmp_error(
                now,
                icmpv4::DEST_UNREACHABLE,
                icmpv4::CODE_PORT_UNREACHABLE,
                d,
            );
            return Counter::drop_udp_closed_port;
        };
        let limit = self.cfg.udp_queue_len;
        let Some(s) = self.udp.sockets.get_mut(&h) else {
            return Counter::drop_udp_closed_port;
        };
        if s.rx.len() >= limit || s.rx_bytes + u.payload().len() > UDP_RX_MAX_BYTES {
            return Counter::drop_udp_queue_full;
        }
        s.rx_bytes += u.payload().len();
        s.rx.push_back((from, u.payload().to_vec()));
        self.push_event(SocketEvent::Udp(UdpHandle(h)));
        Counter::delivered_udp
    }

    /// An ICMP error quoting a UDP datagram: a connected socket that sent it gets the error
    /// (ConnectionRefused for port/protocol unreachable, as Linux). True if a socket matched.
    pub(super) fn udp_icmp_error(&mut self, icmp_type: u8, code: u8, q: &Quote<'_>) -> bool {
        let t = q.transport;
        let (Some(sp), Some(dp)) = (t.get(0..2), t.get(2..4)) else {
            return false;
        };
        let sport = u16::from_be_bytes([sp[0], sp[1]]);
        let remote = SocketAddrV4::new(q.dst, u16::from_be_bytes([dp[0], dp[1]]));
        let Some(hs) = self.udp.by_port.get(&sport) else {
            return false;
        };
        let Some(h) = hs.iter().copied().find(|h| {
            self.udp
                .sockets
                .get(h)
                .is_some_and(|s| s.remote == Some(remote))
        }) else {
            return false;
        };
        let err = match (icmp_type, code) {
            (icmpv4::DEST_UNREACHABLE, icmpv4::CODE_PROTOCOL_UNREACHABLE)
            | (icmpv4::DEST_UNREACHABLE, icmpv4::CODE_PORT_UNREACHABLE) => {
                Some(SocketError::ConnectionRefused)
            }
            (icmpv4::DEST_UNREACHABLE, 4) => None, // fragmentation needed: nothing to report
            (icmpv4::DEST_UNREACHABLE, _) => Some(SocketError::HostUnreachable),
            _ => None,
        };
        if let (Some(e), Some(s)) = (err, self.udp.sockets.get_mut(&h)) {
            s.error = Some(e);
            self.stats.udp_socket_errors += 1;
            self.push_event(SocketEvent::Udp(UdpHandle(h)));
        }
        true
    }

    /// `udp_send_to` (`to` given) and `udp_send` (to the connected remote).
    pub(super) fn udp_output(
        &mut self,
        h: UdpHandle,
        data: &[u8],
        to: Option<SocketAddrV4>,
    ) -> Result<usize, SocketError> {
        let s = self.udp.get_mut(h)?;
        // A pending ICMP error is reported by the next send, as Linux does.
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        let to = match to {
            Some(t) => t,
            None => s.remote.ok_or(SocketError::NotConnected)?,
        };
        if data.len() > MAX_UDP_PAYLOAD {
            return Err(SocketError::MessageTooLong);
        }
        if to.port() == 0 || to.ip().is_unspecified() {
            return Err(SocketError::InvalidInput);
        }
        let src = self.cfg.addr;
        let dgram = udp::build(src, *to.ip(), s.local.port(), to.port(), data);
        if !self.queue_datagram(*to.ip(), PROTO_UDP, dgram) {
            return Err(SocketError::NoBufferSpace);
        }
        self.stats.udp_datagrams_out += 1;
        Ok(data.len())
    }
}
