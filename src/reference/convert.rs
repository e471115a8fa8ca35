//! Conversions between our types and smoltcp's, and a minimal look at a TCP packet.

use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::socket::tcp::State;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::IpListenEndpoint;

use crate::time::Instant;

pub(super) fn smol_now(t: Instant) -> SmolInstant {
    SmolInstant::from_micros(t.total_micros().min(i64::MAX as u64) as i64)
}

pub(super) fn our_instant(t: SmolInstant) -> Instant {
    Instant::from_micros(t.total_micros().max(0) as u64)
}

pub(super) fn synchronized(s: State) -> bool {
    !matches!(
        s,
        State::Closed | State::Listen | State::SynSent | State::SynReceived
    )
}

pub(super) fn state_name(s: State) -> &'static str {
    match s {
        State::Closed => "CLOSED",
        State::Listen => "LISTEN",
        State::SynSent => "SYN-SENT",
        State::SynReceived => "SYN-RECEIVED",
        State::Established => "ESTABLISHED",
        State::FinWait1 => "FIN-WAIT-1",
        State::FinWait2 => "FIN-WAIT-2",
        State::CloseWait => "CLOSE-WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST-ACK",
        State::TimeWait => "TIME-WAIT",
    }
}

pub(super) fn listen_endpoint(local: SocketAddrV4) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!local.ip().is_unspecified()).then(|| (*local.ip()).into()),
        port: local.port(),
    }
}

/// (src, dst, src port, dst port, flags) of an IPv4/TCP packet, if it is one.
pub(super) fn tcp_summary(p: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u16, u16, u8)> {
    let first = *p.first()?;
    if first >> 4 != 4 || *p.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let ip = |o: usize| -> Option<Ipv4Addr> {
        let b = p.get(o..o + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let t = p.get(ihl..ihl + 14)?;
    Some((
        ip(12)?,
        ip(16)?,
        u16::from_be_bytes([t[0], t[1]]),
        u16::from_be_bytes([t[2], t[3]]),
        t[13],
    ))
}
