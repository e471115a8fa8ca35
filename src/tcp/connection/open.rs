//! Opening a connection: active and passive OPEN (RFC 9293 §3.5, §3.10.1), the SYN-SENT
//! segment-arrival rules (§3.10.7.3), and option negotiation on the SYN (MSS §3.7.1 / RFC 6691,
//! window scale RFC 7323 §2, timestamps RFC 7323 §3, SACK-permitted RFC 2018 §2).
//! Simultaneous open goes SYN-SENT -> SYN-RECEIVED (§3.5 Figure 7). Read next: `input.rs`.

use std::net::SocketAddrV4;

use super::{Connection, DEFAULT_MSS, TS_OPTION_LEN, clamp_mss};
use crate::socket::SocketError;
use crate::tcp::TcpConfig;
use crate::tcp::segment::{ACK, RST, SYN, Segment};
use crate::tcp::seq::SeqNum;
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::Instant;

impl Connection {
    /// Active OPEN (§3.10.1): SYN-SENT; output sends the SYN.
    pub fn new_active(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        our_mss: u16,
    ) -> Self {
        let mut c = Connection::blank(cfg, local, remote, iss, ts_offset, our_mss);
        c.set_state(State::SynSent, "active open");
        c.notify = false;
        c
    }

    /// A SYN arrived at a listener (§3.10.7.2): SYN-RECEIVED; output sends SYN,ACK.
    #[allow(clippy::too_many_arguments)]
    pub fn new_passive(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        our_mss: u16,
        now: Instant,
        syn: &Segment<'_>,
    ) -> Self {
        let mut c = Connection::blank(cfg, local, remote, iss, ts_offset, our_mss);
        c.passive = true;
        c.state = State::Listen;
        c.take_peer_syn(now, syn);
        c.set_state(State::SynReceived, "rcvd SYN");
        c.notify = false;
        c
    }

    /// A connection rebuilt from a SYN cookie (RFC 4987 §3.6): SYN-RECEIVED as if our SYN,ACK
    /// (`syn_ack_window`, unscaled) had been sent; the ACK that carried the cookie is fed next.
    #[allow(clippy::too_many_arguments)]
    pub fn new_from_cookie(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        our_mss: u16,
        now: Instant,
        syn: &Segment<'_>,
        syn_ack_window: u16,
    ) -> Self {
        let mut c = Connection::new_passive(cfg, local, remote, iss, ts_offset, our_mss, now, syn);
        c.snd_nxt = iss.wrapping_add(1);
        c.snd_max = c.snd_nxt;
        c.rcv_adv = c.rcv_nxt.wrapping_add(u32::from(syn_ack_window));
        c
    }

    /// The ACK that carried our cookie could not be taken (accept queue full): stay in
    /// SYN-RECEIVED and retransmit the SYN,ACK at RTO, so the peer's ACK comes again.
    pub fn resend_syn_ack_later(&mut self, now: Instant) {
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    /// Room appeared in the accept queue: send the SYN,ACK again now (§3.8.1), not at RTO.
    pub fn resend_syn_ack_now(&mut self) {
        if self.state == State::SynReceived {
            self.snd_nxt = self.iss;
        }
    }

    /// Learn IRS and the peer's options from its SYN (§3.10.7.2, §3.10.7.3).
    fn take_peer_syn(&mut self, now: Instant, syn: &Segment<'_>) {
        let o = &syn.options;
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq.wrapping_add(1);
        self.rcv_adv = self.rcv_nxt;
        // RFC 7323 §2.2: scaling only if both sides sent the option; shifts above 14 are
        // treated as 14 (§2.3).
        match o.window_scale {
            Some(s) if self.cfg.window_scaling => {
                self.snd_wscale = s.min(14);
                self.ws_ok = true;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        // RFC 7323 §3.2: timestamps only if the SYN carried them.
        if let (Some((tsval, _)), true) = (o.timestamps, self.cfg.timestamps) {
            self.ts_ok = true;
            self.ts_recent = tsval;
        }
        self.sack_ok = o.sack_permitted && self.cfg.sack;
        self.ecn_take_syn(syn);
        // RFC 9293 §3.7.1: send at most the peer's MSS (536 if absent) and never more than ours;
        // RFC 6691: the options in each segment come out of that.
        let peer_mss = clamp_mss(o.mss.unwrap_or(DEFAULT_MSS)).min(self.our_mss);
        let opt = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        self.smss = u32::from(peer_mss).saturating_sub(opt).max(1);
        self.cc.set_smss(self.smss);
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
        self.last_ack_sent = self.rcv_nxt;
        self.last_rcv = now;
    }

    /// ESTABLISHED reached: a FIN queued during the handshake now goes out (§3.10.4).
    pub(crate) fn enter_established(&mut self, why: &str) {
        self.set_state(State::Established, why);
        if self.fin_queued {
            self.set_state(State::FinWait1, "queued close");
        }
    }

    /// §3.10.7.3: a segment in SYN-SENT.
    pub(crate) fn on_syn_sent(&mut self, now: Instant, seg: &Segment<'_>) {
        // First: check the ACK. SEG.ACK =< ISS or > SND.NXT is unacceptable: RST <SEQ=SEG.ACK>.
        if seg.has(ACK) && (seg.ack.le(self.iss) || seg.ack.gt(self.snd_max)) {
            if !seg.has(RST) {
                self.rst_out = Some((seg.ack, None));
            }
            return;
        }
        // Second: RST. RFC 5961 §3.2 / RFC 9293: accepted only with an acceptable ACK.
        if seg.has(RST) {
            if seg.has(ACK) {
                self.fail(SocketError::ConnectionRefused, "rcvd RST");
            }
            return;
        }
        if !seg.has(SYN) {
            return;
        }
        // Fourth: SYN.
        self.take_peer_syn(now, seg);
        if seg.has(ACK) {
            self.snd_una = seg.ack;
            self.snd_wl2 = seg.ack;
            // RFC 6298 §3 (Karn): time the SYN only if it was not retransmitted.
            if let Some((end, sent)) = self.rtt_probe.take()
                && seg.ack.ge(end)
            {
                self.rtt.sample(now - sent);
            }
            if self.ts_ok
                && let Some((_, ecr)) = seg.options.timestamps
                && ecr != 0
            {
                let ms = self.ts_now(now).wrapping_sub(ecr);
                self.rtt
                    .sample(crate::time::Duration::from_millis(u64::from(ms)));
            }
            self.timers.stop(Timer::Retransmit);
            self.retries = 0;
            self.ack_now = true;
            self.enter_established("rcvd SYN|ACK");
            self.arm_keepalive(now);
        } else {
            // Simultaneous open (§3.5 Figure 7): send SYN,ACK from ISS again.
            self.snd_nxt = self.iss;
            self.set_state(State::SynReceived, "rcvd SYN (simultaneous open)");
        }
    }

    /// Our timestamp clock: milliseconds plus the per-connection offset (RFC 7323 §5.4).
    pub(crate) fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }
}
