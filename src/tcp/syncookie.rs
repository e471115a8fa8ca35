//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, answer the SYN without
//! keeping state and encode what we must remember in our ISN; the final ACK (SEG.ACK − 1 is the
//! cookie) rebuilds the connection.
//!
//! Cookie (32 bits) = 5 bits of a 64 s counter | 3 bits MSS index | 24-bit MAC, the MAC a keyed
//! SipHash of the 4-tuple, the peer's ISN, the full counter and the MSS index. A cookie is good
//! for two counter periods (64-128 s, like Linux). As in Linux, window scale and SACK-permitted
//! survive only with timestamps: they ride in the low 5 bits of our TSval and come back in the
//! peer's TSecr (RFC 7323 §3.2 says TSecr echoes TSval). Without timestamps the connection has
//! neither. Read next: `listener.rs`.

use std::net::SocketAddrV4;

use super::connection::{Connection, DEFAULT_MSS, rcv_wscale_for};
use super::isn::IsnGenerator;
use super::segment::{ACK, Header, RST, SYN, Segment, TcpOptions};
use super::seq::SeqNum;
use super::state::State;
use super::{MAX_QUEUED_RST, Socket, TcpLayer};
use crate::socket::TcpHandle;
use crate::time::{Duration, Instant};

/// MSS values a cookie can carry (Linux's table plus a few, from our 64-byte floor); the largest
/// not above the peer's is chosen.
pub const MSS_TABLE: [u16; 8] = [64, 536, 1200, 1300, 1400, 1440, 1460, 8960];
/// Seconds per counter tick, and how many ticks a cookie stays valid (RFC 4987 §3.6).
const PERIOD_SECS: u64 = 64;
const MAX_AGE: u64 = 2;
/// Low TSval bits carrying the options: wscale (4 bits, 15 = none) and SACK-permitted.
pub const TS_BITS: u32 = 5;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
const NO_WSCALE: u32 = 15;

/// What a valid cookie gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub mss: u16,
    /// The peer's window-scale shift and SACK-permitted (only with timestamps).
    pub wscale: Option<u8>,
    pub sack: bool,
}

fn counter(now: Instant) -> u64 {
    now.total_micros() / 1_000_000 / PERIOD_SECS
}

fn mac(
    g: &IsnGenerator,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    irs: SeqNum,
    t: u64,
    idx: u32,
) -> u32 {
    let mut d = [0u8; 29];
    d[0..4].copy_from_slice(&local.ip().octets());
    d[4..6].copy_from_slice(&local.port().to_be_bytes());
    d[6..10].copy_from_slice(&remote.ip().octets());
    d[10..12].copy_from_slice(&remote.port().to_be_bytes());
    d[12..16].copy_from_slice(&irs.0.to_be_bytes());
    d[16..24].copy_from_slice(&t.to_be_bytes());
    d[24] = idx as u8;
    d[25..29].copy_from_slice(b"cook");
    (g.keyed(&d) as u32) & 0x00ff_ffff
}

/// Our ISN for a SYN answered statelessly; `peer_mss` from its MSS option (536 if none).
pub fn encode(
    g: &IsnGenerator,
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    irs: SeqNum,
    peer_mss: u16,
) -> SeqNum {
    let idx = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32;
    let t = counter(now);
    let top = ((t & 0x1f) as u32) << 27 | idx << 24;
    SeqNum(top | mac(g, local, remote, irs, t, idx))
}

/// Check the cookie in the ACK of our SYN,ACK (`ack` = SEG.ACK, `irs` = SEG.SEQ − 1): the MSS
/// it carries, or None if forged or too old.
pub fn check(
    g: &IsnGenerator,
    now: Instant,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    irs: SeqNum,
    ack: SeqNum,
) -> Option<u16> {
    let cookie = ack.0.wrapping_sub(1);
    let idx = (cookie >> 24) & 0x7;
    let t5 = u64::from(cookie >> 27);
    let now_t = counter(now);
    // The full counter this cookie was made at: now or up to MAX_AGE periods ago.
    let age = now_t.wrapping_sub(t5) & 0x1f;
    if age > MAX_AGE || age > now_t {
        return None;
    }
    let t = now_t - age;
    (mac(g, local, remote, irs, t, idx) == cookie & 0x00ff_ffff).then(|| MSS_TABLE[idx as usize])
}

/// Our TSval in a cookie SYN,ACK: the clock with its low bits replaced by the peer's options,
/// never ahead of the clock (RFC 7323 §5.4: TSval must not run backwards later).
pub fn ts_encode(ts_now: u32, wscale: Option<u8>, sack: bool) -> u32 {
    let opts = wscale.map_or(NO_WSCALE, |w| u32::from(w.min(14))) | u32::from(sack) << 4;
    let mut ts = (ts_now & !TS_MASK) | opts;
    if (ts.wrapping_sub(ts_now) as i32) > 0 {
        ts = ts.wrapping_sub(1 << TS_BITS);
    }
    ts
}

/// The options the peer's TSecr brings back.
pub fn ts_decode(tsecr: u32) -> (Option<u8>, bool) {
    let w = tsecr & 0xf;
    (
        (w != NO_WSCALE).then_some(w.min(14) as u8),
        tsecr & 0x10 != 0,
    )
}

/// The layer's side: answer a SYN with a cookie, and rebuild a connection from its ACK.
impl TcpLayer {
    /// The window in a cookie SYN,ACK (unscaled, RFC 7323 §2.2).
    fn cookie_window(&self) -> u16 {
        self.cfg.recv_buffer.min(65535) as u16
    }

    /// RFC 4987 §3.6: SYN,ACK with ISN = cookie; no state is kept.
    pub(super) fn send_syn_cookie(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &Segment<'_>,
    ) {
        if self.rst_queue.len() >= MAX_QUEUED_RST {
            self.stats.rst_limited += 1;
            return;
        }
        let peer_mss = syn.options.mss.unwrap_or(DEFAULT_MSS).min(self.our_mss);
        let iss = encode(&self.isn, now, local, remote, syn.seq, peer_mss);
        let mut o = TcpOptions {
            mss: Some(self.our_mss),
            ..Default::default()
        };
        // Without timestamps nothing else can be remembered: no window scale, no SACK.
        if let (Some((tsval, _)), true) = (syn.options.timestamps, self.cfg.timestamps) {
            let ws = syn.options.window_scale.filter(|_| self.cfg.window_scaling);
            let sack = syn.options.sack_permitted && self.cfg.sack;
            let clock = (now.total_millis() as u32).wrapping_add(self.isn.ts_offset(local, remote));
            o.timestamps = Some((ts_encode(clock, ws, sack), tsval));
            o.window_scale = ws.map(|_| rcv_wscale_for(self.cfg.recv_buffer));
            o.sack_permitted = sack;
        }
        let h = Header {
            src_port: local.port(),
            dst_port: remote.port(),
            seq: iss,
            ack: syn.seq.wrapping_add(1),
            flags: SYN | ACK,
            window: self.cookie_window(),
            options: o,
        };
        self.stats.syncookies_sent += 1;
        log::debug!("tcp {local}: SYN queue full, SYN cookie to {remote}");
        self.rst_queue.push_back((*local.ip(), *remote.ip(), h));
    }

    /// A segment for a connection still in SYN-RECEIVED whose listener's accept queue is full:
    /// its ACK would complete the handshake with nowhere to go, so it is dropped (counted) and
    /// our SYN,ACK retransmission brings it again later (as Linux with a full accept queue).
    pub(super) fn handshake_blocked(&mut self, h: u32, seg: &Segment<'_>) -> bool {
        let Some(Socket::Conn(c)) = self.sockets.get(&h) else {
            return false;
        };
        if c.state != State::SynReceived || !seg.has(ACK) || seg.has(RST) || seg.has(SYN) {
            return false;
        }
        let full = matches!(
            c.listener.and_then(|l| self.sockets.get(&l.0)),
            Some(Socket::Listener(l)) if l.accept_full()
        );
        if full {
            self.stats.listen_overflows += 1;
            log::debug!(
                "tcp {}: accept queue full, ACK from {} dropped",
                c.local,
                c.remote
            );
            self.note_blocked(h);
        }
        full
    }

    /// Remember `h` (SYN-RECEIVED, its ACK dropped for lack of room) for its listener. The
    /// lists live in the layer, not in `Listener`: every socket-table entry is as large as a
    /// listener, so a larger listener costs bytes per connection.
    fn note_blocked(&mut self, h: u32) {
        let (lh, backlog, syn_queue) = match self.sockets.get(&h) {
            Some(Socket::Conn(c)) if !c.accept_blocked => match c.listener {
                Some(lh) => match self.sockets.get(&lh.0) {
                    Some(Socket::Listener(l)) => (lh, l.backlog, l.syn_queue),
                    _ => return,
                },
                None => return,
            },
            _ => return,
        };
        let list = self.blocked.entry(lh.0).or_default();
        // Entries of connections that died meanwhile stay until taken: drop them once they
        // could outnumber the live ones (every live one is in the SYN queue count).
        if list.len() >= 2 * (syn_queue + backlog) {
            let sockets = &self.sockets;
            list.retain(|b| {
                matches!(sockets.get(&b.0), Some(Socket::Conn(c))
                    if c.accept_blocked && c.listener == Some(lh))
            });
        }
        list.push_back(TcpHandle(h));
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            c.accept_blocked = true;
        }
    }

    /// `accept` made room on listener `lh`: the oldest blocked connection sends its SYN,ACK
    /// now instead of at its next RTO, so the peer's ACK comes back within a round trip.
    pub(super) fn resend_blocked_syn_ack(&mut self, lh: u32) {
        loop {
            let Some(list) = self.blocked.get_mut(&lh) else {
                return;
            };
            let Some(h) = list.pop_front() else {
                self.blocked.remove(&lh);
                return;
            };
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h.0)
                && c.accept_blocked
                && c.state == State::SynReceived
                && c.listener == Some(TcpHandle(lh))
            {
                c.accept_blocked = false;
                c.resend_syn_ack_now();
                self.mark_dirty(h.0);
                return;
            }
        }
    }

    /// An ACK reached a listener: if cookies were sent lately and SEG.ACK − 1 is a valid cookie,
    /// rebuild the connection and feed it this ACK. True if the segment was taken (or dropped
    /// for lack of room); false leaves the LISTEN rule (RST) to the caller.
    pub(super) fn accept_cookie(
        &mut self,
        now: Instant,
        lh: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) -> bool {
        let recent = Duration::from_secs(PERIOD_SECS * MAX_AGE);
        let Some(Socket::Listener(l)) = self.sockets.get(&lh) else {
            return false;
        };
        if !self.cfg.syn_cookies
            || seg.has(SYN)
            || seg.has(RST)
            || l.last_cookie.is_none_or(|t| now - t > recent)
        {
            return false;
        }
        let irs = seg.seq.wrapping_sub(1);
        let Some(mss) = check(&self.isn, now, local, remote, irs, seg.ack) else {
            self.stats.syncookies_failed += 1;
            return false;
        };
        if self.at_connection_limit() {
            self.stats.connection_limit += 1;
            return true; // dropped: the peer retransmits its ACK (or data)
        }
        // The accept queue is full: this ACK is dropped, but the peer thinks it is connected
        // and may never send again (an idle client). Keep the rebuilt connection in
        // SYN-RECEIVED and retransmit our SYN,ACK at RTO (§3.8.1): the peer answers with its ACK
        // again (§3.10.7.4), which completes the handshake once there is room (as Linux does
        // with a full accept queue; `handshake_blocked`).
        let overflow = l.accept_full();
        let mut opts = TcpOptions {
            mss: Some(mss),
            ..Default::default()
        };
        if let (Some((tsval, tsecr)), true) = (seg.options.timestamps, self.cfg.timestamps) {
            // The echo must be a TSval we could have sent in the cookie's lifetime (as Linux).
            let clock = (now.total_millis() as u32).wrapping_add(self.isn.ts_offset(local, remote));
            let age = clock.wrapping_sub(tsecr) as i32;
            if !(0..=(PERIOD_SECS * MAX_AGE * 1000) as i32).contains(&age) {
                self.stats.syncookies_failed += 1;
                return false;
            }
            let (ws, sack) = ts_decode(tsecr);
            opts.window_scale = ws;
            opts.sack_permitted = sack;
            opts.timestamps = Some((tsval, 0));
        }
        let syn = Segment {
            src_port: seg.src_port,
            dst_port: seg.dst_port,
            seq: irs,
            ack: SeqNum(0),
            flags: SYN,
            window: seg.window,
            options: opts,
            payload: &[],
        };
        let ts = self.isn.ts_offset(local, remote);
        let iss = seg.ack.wrapping_sub(1);
        let win = self.cookie_window();
        let mut c = Connection::new_from_cookie(
            &self.cfg,
            local,
            remote,
            iss,
            ts,
            self.our_mss,
            now,
            &syn,
            win,
        );
        c.listener = Some(TcpHandle(lh));
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&lh) {
            l.syn_queue += 1;
        }
        let h = self.insert(Socket::Conn(Box::new(c)));
        self.tuples.insert((local, remote), h);
        self.n_conns += 1;
        self.stats.connections_opened += 1;
        self.stats.syncookies_ok += 1;
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            if overflow {
                self.stats.listen_overflows += 1;
                log::debug!("tcp {local}: accept queue full, cookie ACK from {remote} dropped");
                c.resend_syn_ack_later(now);
            } else {
                c.handle_segment(now, seg, &mut self.stats);
            }
        }
        if overflow {
            self.note_blocked(h);
        }
        self.settle(h, now);
        self.mark_dirty(h);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addrs() -> (SocketAddrV4, SocketAddrV4) {
        (
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80),
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 40000),
        )
    }

    #[test]
    fn cookie_round_trips_and_rejects_forgeries_and_old_ones() {
        let g = IsnGenerator::new([3; 16]);
        let (l, r) = addrs();
        let t0 = Instant::from_secs(1000);
        let c = encode(&g, t0, l, r, SeqNum(5000), 1460);
        let ack = c.wrapping_add(1);
        assert_eq!(check(&g, t0, l, r, SeqNum(5000), ack), Some(1460));
        let later = Instant::from_secs(1000 + 100);
        assert_eq!(check(&g, later, l, r, SeqNum(5000), ack), Some(1460));
        assert_eq!(check(&g, t0, l, r, SeqNum(5001), ack), None, "other ISN");
        assert_eq!(check(&g, t0, r, l, SeqNum(5000), ack), None, "other tuple");
        assert_eq!(check(&g, t0, l, r, SeqNum(5000), ack.wrapping_add(1)), None);
        let old = Instant::from_secs(1000 + 4 * PERIOD_SECS);
        assert_eq!(check(&g, old, l, r, SeqNum(5000), ack), None, "expired");
        assert_eq!(
            check(&IsnGenerator::new([4; 16]), t0, l, r, SeqNum(5000), ack),
            None
        );
        let small = encode(&g, t0, l, r, SeqNum(1), 1000);
        assert_eq!(
            check(&g, t0, l, r, SeqNum(1), small.wrapping_add(1)),
            Some(536)
        );
    }

    #[test]
    fn options_ride_in_the_timestamp_and_never_run_ahead() {
        for now in [0u32, 31, 32, 1_000_003, u32::MAX] {
            for (w, s) in [
                (Some(7), true),
                (None, false),
                (Some(0), false),
                (Some(14), true),
            ] {
                let ts = ts_encode(now, w, s);
                assert!((ts.wrapping_sub(now) as i32) <= 0, "{ts} ahead of {now}");
                assert!(now.wrapping_sub(ts) < 64);
                assert_eq!(ts_decode(ts), (w, s));
            }
        }
    }
}
