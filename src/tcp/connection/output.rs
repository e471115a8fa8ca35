//! What to send next (RFC 9293 §3.8, §3.10.7): at most one segment per call, in priority order
//! RST, SYN / SYN,ACK, fast retransmission, zero-window probe, data and FIN, keep-alive probe,
//! pure ACK. Data obeys min(cwnd, SND.WND) (RFC 5681 §3.1), Nagle (RFC 896), sender-side SWS
//! avoidance (§3.8.6.2.1) and, when on, pacing (`pace.rs`); the window we advertise obeys
//! receiver-side SWS avoidance (§3.8.6.2.2) and never moves its right edge back.
//! Read next: `timers.rs`.

use super::{Connection, SACK_BLOCKS_SENT, TS_OPTION_LEN};
use crate::tcp::TcpStats;
use crate::tcp::segment::{
    ACK, FIN, Header, PSH, RST, SYN, TcpOptions, fill_checksum, fill_partial_checksum, flag_str,
};
use crate::tcp::seq::SeqNum;
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::Instant;

/// Most full-sized segments in one super-segment (`TcpConfig::offload`); 64 KiB of IPv4
/// datagram holds 45 at MSS 1448, so this only binds at small MSS (Linux `gso_max_segs` 64).
const MAX_GSO_SEGS: u32 = 64;

/// A segment to build: where it starts, its flags, and how many buffered bytes it carries.
struct Out {
    seq: SeqNum,
    flags: u8,
    len: u32,
    options: TcpOptions,
}

impl Connection {
    /// Write the next segment into `buf`; returns its length (header + payload, checksummed).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        stats: &mut TcpStats,
    ) -> Option<usize> {
        self.tx_gso = 0;
        if let Some((seq, ack)) = self.rst_out.take() {
            stats.rst_sent += 1;
            let h = Header {
                src_port: self.local.port(),
                dst_port: self.remote.port(),
                seq,
                ack: ack.unwrap_or(SeqNum(0)),
                flags: RST | if ack.is_some() { ACK } else { 0 },
                ..Default::default()
            };
            let n = h.emit(buf)?;
            fill_checksum(*self.local.ip(), *self.remote.ip(), &mut buf[..n]);
            return Some(n);
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.snd_nxt == self.iss => {
                return self.send_syn(now, buf, stats);
            }
            _ => {}
        }
        if self.state.is_synchronized()
            && self.state != State::TimeWait
            && let Some(n) = self.send_data(now, buf, stats)
        {
            return Some(n);
        }
        if self.keepalive_probe {
            // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data, draws an ACK.
            self.keepalive_probe = false;
            let out = Out {
                seq: self.snd_max.wrapping_sub(1),
                flags: ACK,
                len: 0,
                options: self.data_options(now),
            };
            return self.emit(now, buf, out);
        }
        if (self.ack_now || self.dupacks_owed > 0) && self.state != State::SynSent {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; SND.NXT as the RFC means it: the highest
            // sequence number sent, even while retransmitting from SND.UNA after a timeout.
            // An ACK repeating the last one sent pays one duplicate owed (`dupacks_owed`).
            let dup = self.rcv_nxt == self.last_ack_sent;
            let out = Out {
                seq: self.snd_max,
                flags: ACK,
                len: 0,
                options: self.data_options(now),
            };
            let n = self.emit(now, buf, out);
            if dup {
                self.dupacks_owed = self.dupacks_owed.saturating_sub(1);
            }
            return n;
        }
        None
    }

    /// Payload bytes per segment of the super-segment `poll_transmit` wrote last (its checksum
    /// is partial: the link segments it and completes the checksums), or 0 for a plain segment.
    pub fn transmit_gso(&self) -> u16 {
        self.tx_gso
    }

    /// SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED) with our options (§3.10.1, RFC 7323, RFC 2018).
    fn send_syn(&mut self, now: Instant, buf: &mut [u8], stats: &mut TcpStats) -> Option<usize> {
        let active = self.state == State::SynSent;
        let mut o = TcpOptions {
            mss: Some(self.our_mss),
            ..Default::default()
        };
        if self.cfg.window_scaling && (active || self.ws_ok) {
            o.window_scale = Some(self.rcv_wscale);
        }
        if self.cfg.timestamps && (active || self.ts_ok) {
            o.timestamps = Some((self.ts_now(now), if active { 0 } else { self.ts_recent }));
        }
        o.sack_permitted = self.cfg.sack && (active || self.sack_ok);
        let flags = if active { SYN } else { SYN | ACK } | self.ecn_syn_flags(active);
        if self.snd_max == self.iss {
            self.rtt_probe = Some((self.iss.wrapping_add(1), now));
        } else {
            self.rtt_probe = None; // RFC 6298 §3: never time a retransmission
            self.retransmits += 1;
            stats.retransmits += 1;
        }
        self.snd_nxt = self.iss.wrapping_add(1);
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if !self.timers.is_set(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        let out = Out {
            seq: self.iss,
            flags,
            len: 0,
            options: o,
        };
        self.emit(now, buf, out)
    }

    /// Timestamps and SACK blocks carried by every non-SYN segment.
    fn data_options(&self, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.ts_ok {
            o.timestamps = Some((self.ts_now(now), self.ts_recent));
        }
        if self.sack_ok {
            // RFC 2018 §3-4: up to 4 blocks (3 beside timestamps), the most recent first; a
            // D-SACK block goes before them (RFC 2883 §4).
            let max = if self.ts_ok {
                SACK_BLOCKS_SENT
            } else {
                SACK_BLOCKS_SENT + 1
            };
            let mut i = 0;
            if let Some(d) = self.dsack_out {
                o.sack_blocks[0] = Some(d);
                i = 1;
            }
            for (s, e) in self.reasm.ranges(max - i) {
                let l = self.rcv_nxt.wrapping_add((s - self.rcv_abs) as u32);
                let r = self.rcv_nxt.wrapping_add((e - self.rcv_abs) as u32);
                if let Some(slot) = o.sack_blocks.get_mut(i) {
                    *slot = Some((l, r));
                }
                i += 1;
            }
        }
        o
    }

    /// Data and/or FIN, if anything may go now.
    fn send_data(&mut self, now: Instant, buf: &mut [u8], stats: &mut TcpStats) -> Option<usize> {
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let options = self.data_options(now);
        let opt_len = options.wire_len() as u32;
        let fixed = if self.ts_ok { TS_OPTION_LEN } else { 0 };
        // RFC 6691: options come out of the MSS; never more than the caller's buffer holds.
        let room = (buf.len() as u32).saturating_sub(20 + opt_len);
        let max_payload = (self.smss + fixed)
            .saturating_sub(opt_len)
            .clamp(1, room.max(1));
        let fin_seq = self.fin_seq();

        if std::mem::take(&mut self.retransmit_first) && self.snd_una.lt(self.snd_max) {
            // RFC 5681 §3.2 step 3 / RFC 6582 §3.2: resend the first unacknowledged segment.
            let len = data_end.since(self.snd_una).min(max_payload);
            let fin = self.fin_queued
                && self.snd_una.wrapping_add(len) == fin_seq
                && self.snd_max.gt(fin_seq);
            return self.emit_data(now, buf, self.snd_una, len, fin, options, stats);
        }
        if std::mem::take(&mut self.tlp_now) && self.snd_una.lt(self.snd_max) {
            // RFC 8985 §7.3: new data if the peer's window allows, else the last segment.
            let room = self
                .snd_una
                .wrapping_add(self.snd_wnd)
                .since(self.snd_nxt)
                .min(self.snd_wnd);
            let avail = data_end.since(self.snd_nxt);
            let fin_sent = self.fin_queued && self.snd_max.gt(fin_seq);
            let (start, len, fin) = if avail > 0 && room > 0 && self.snd_nxt == self.snd_max {
                let len = avail.min(room).min(max_payload);
                let fin = self.fin_queued && self.snd_nxt.wrapping_add(len) == fin_seq;
                (self.snd_nxt, len, fin)
            } else {
                let top = if fin_sent { fin_seq } else { self.snd_max };
                let len = top.since(self.snd_una).min(max_payload);
                (top.wrapping_sub(len), len, fin_sent)
            };
            self.tlp_end = Some(self.snd_max.max(start.wrapping_add(len + u32::from(fin))));
            if len > 0 || fin {
                return self.emit_data(now, buf, start, len, fin, options, stats);
            }
        }
        if let Some((start, len)) = self.lr_next_retransmit(max_payload)
            && start.lt(self.snd_max)
        {
            // SACK-based recovery: RFC 6675 §5 NextSeg rule 1 (lost by RACK or IsLost).
            let len = len.min(data_end.since(start));
            let fin =
                self.fin_queued && start.wrapping_add(len) == fin_seq && self.snd_max.gt(fin_seq);
            if len > 0 || fin {
                stats.retransmits_fast += 1;
                return self.emit_data(now, buf, start, len, fin, options, stats);
            }
        }
        if std::mem::take(&mut self.probe_now) {
            stats.window_probes += 1;
            if self.snd_wnd == 0 {
                // §3.8.6.1: probe a zero window with one byte (or the FIN).
                let len = data_end.since(self.snd_una).min(1);
                let fin = len == 0 && self.fin_queued && !self.fin_acked();
                if len > 0 || fin {
                    return self.emit_data(now, buf, self.snd_una, len, fin, options, stats);
                }
            } else {
                // Sender SWS override timeout (§3.8.6.2.1): send what the window allows.
                let usable = self
                    .snd_una
                    .wrapping_add(self.snd_wnd.min(self.cc.window()))
                    .since(self.snd_nxt);
                let len = data_end
                    .since(self.snd_nxt)
                    .min(usable.max(1))
                    .min(max_payload);
                if len > 0 {
                    let fin = self.fin_queued && self.snd_nxt.wrapping_add(len) == fin_seq;
                    return self.emit_data(now, buf, self.snd_nxt, len, fin, options, stats);
                }
            }
        }
        if self.snd_nxt.lt(self.buf_seq) {
            self.snd_nxt = self.buf_seq;
        }
        let wnd = self.snd_wnd.min(self.cc.window());
        let usable = self.lr_usable(self.snd_una.wrapping_add(wnd).since(self.snd_nxt));
        let avail = data_end.since(self.snd_nxt);
        let mut len = avail.min(usable).min(self.burst_max(room, max_payload));
        if len > max_payload {
            // A super-segment carries whole segments only; the tail goes alone, under Nagle.
            len -= len % max_payload;
        }
        // The FIN needs no window: it follows the last byte (§3.10.4).
        let fin = self.fin_queued
            && self.snd_nxt.le(fin_seq)
            && self.snd_nxt.wrapping_add(len) == fin_seq;
        if len == 0 && !fin {
            return None;
        }
        let new_data = self.snd_nxt.ge(self.snd_max);
        if len > 0 && new_data && len < max_payload {
            // Nagle (RFC 896, RFC 9293 §3.7.4) and sender SWS avoidance (§3.8.6.2.1): a short
            // segment goes only when nothing is unacknowledged (or Nagle is off) and it either
            // empties the buffer or fills at least half the largest window seen.
            let idle = self.snd_nxt == self.snd_una || self.nodelay;
            let all = len == avail;
            if !(idle && (all || len >= self.max_snd_wnd / 2)) {
                return None;
            }
        }
        if len > 0 && !self.pace_ready(now) {
            stats.pacing_holds += 1; // pacing (`pace.rs`): the release is in `next_deadline`
            return None;
        }
        if len > max_payload {
            self.tx_gso = max_payload.min(u32::from(u16::MAX)) as u16;
        }
        self.emit_data(now, buf, self.snd_nxt, len, fin, options, stats)
    }

    /// New data allowed in one segment: one MSS, or with offload as many whole segments as
    /// `room` holds (at most `MAX_GSO_SEGS`), sent as one super-segment the link splits.
    /// When paced, a super-segment holds about 1 ms of the pacing rate, at least two
    /// segments (Linux `tcp_tso_autosize`), so the bursts the link sends stay short.
    fn burst_max(&self, room: u32, seg: u32) -> u32 {
        if !self.cfg.offload || seg == 0 {
            return seg;
        }
        let mut segs = (room / seg).clamp(1, MAX_GSO_SEGS);
        let rate = self.pacing_rate();
        if rate > 0 {
            let per_ms = (rate / 1000).min(u64::from(u32::MAX)) as u32;
            segs = segs.min((per_ms / seg).max(2));
        }
        segs * seg
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_data(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        seq: SeqNum,
        len: u32,
        fin: bool,
        options: TcpOptions,
        stats: &mut TcpStats,
    ) -> Option<usize> {
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let mut flags = ACK;
        if len > 0 && seq.wrapping_add(len) == data_end {
            flags |= PSH;
        }
        if fin {
            flags |= FIN;
        }
        let end = seq.wrapping_add(len + u32::from(fin));
        self.tx_fresh = !seq.lt(self.snd_max);
        if seq.lt(self.snd_max) {
            self.high_rxt = self.high_rxt.max(end);
            self.rtx_ts = Some(self.ts_now(now));
            self.retransmits += 1;
            stats.retransmits += 1;
            if self.rtt_probe.is_some_and(|(e, _)| seq.lt(e)) {
                self.rtt_probe = None; // Karn: the timed segment was resent
            }
        } else if len > 0 {
            if self.snd_una == self.snd_max && now - self.last_send > self.rtt.rto() {
                self.cc.on_idle_restart(now); // RFC 5681 §4.1
            }
            self.last_send = now;
            if self.rtt_probe.is_none() {
                self.rtt_probe = Some((end, now));
            }
        }
        let new_data = end.gt(self.snd_max);
        if new_data {
            self.bytes_sent += u64::from(end.since(self.snd_max).min(len));
            self.snd_max = end;
        }
        if end.gt(self.snd_nxt) {
            self.snd_nxt = end;
        }
        // RFC 6298 §5.1: start the timer when sending data if it is not running. Zero-window
        // probes are timed by the persist timer instead (RFC 1122 §4.2.2.17).
        if !self.timers.is_set(Timer::Retransmit) && self.snd_wnd > 0 {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            self.rtx_kind = super::tlp::RtxKind::Rto;
        }
        self.lr_on_send(now, seq, end, new_data);
        self.pace_on_send(len);
        self.emit(
            now,
            buf,
            Out {
                seq,
                flags,
                len,
                options,
            },
        )
    }

    /// The window field to send, applying receiver SWS avoidance (§3.8.6.2.2) and scaling.
    fn window_field(&mut self, syn: bool) -> u16 {
        let free = self.rcv_free();
        if syn {
            // RFC 7323 §2.2: the window in a SYN is not scaled.
            let w = free.min(65535);
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt.wrapping_add(w));
            return w as u16;
        }
        let cur = self.rcv_wnd();
        let step = (self.rcv_cap as u32 / 2).min(u32::from(self.our_mss));
        let win = if free >= cur.saturating_add(step) || free == self.rcv_cap as u32 {
            free
        } else {
            cur
        };
        let field = (win >> self.rcv_wscale).min(65535);
        let right = self.rcv_nxt.wrapping_add(field << self.rcv_wscale);
        self.rcv_adv = self.rcv_adv.max(right);
        field as u16
    }

    fn emit(&mut self, now: Instant, buf: &mut [u8], mut out: Out) -> Option<usize> {
        let syn = out.flags & SYN != 0;
        self.tx_ect = false;
        if !syn && out.flags & RST == 0 {
            // RFC 3168 §6.1: ECE/CWR; ECT(0) only for new data (§6.1.5).
            let new_data = out.len > 0 && std::mem::take(&mut self.tx_fresh);
            out.flags |= self.ecn_flags(new_data);
        }
        let h = Header {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: out.seq,
            ack: if out.flags & ACK != 0 {
                self.rcv_nxt
            } else {
                SeqNum(0)
            },
            flags: out.flags,
            window: self.window_field(syn),
            options: out.options,
        };
        let hlen = h.emit(buf)?;
        let offset = out.seq.since(self.buf_seq) as usize;
        let dst = buf.get_mut(hlen..hlen + out.len as usize)?;
        let copied = self.send_buf.copy_out(offset, dst);
        let total = hlen + copied;
        if self.tx_gso != 0 && copied > usize::from(self.tx_gso) {
            fill_partial_checksum(*self.local.ip(), *self.remote.ip(), &mut buf[..total]);
        } else {
            self.tx_gso = 0;
            fill_checksum(*self.local.ip(), *self.remote.ip(), &mut buf[..total]);
        }
        if out.flags & ACK != 0 {
            self.dsack_out = None; // reported once (RFC 2883 §4)
            self.ack_now = false;
            self.unacked_bytes = 0;
            self.timers.stop(Timer::DelayedAck);
            self.last_ack_sent = self.rcv_nxt;
        }
        log::trace!(
            "tcp {} > {}: Flags [{}], seq {}, ack {}, win {}, length {} at {}",
            self.local,
            self.remote,
            flag_str(out.flags),
            out.seq,
            h.ack,
            h.window,
            copied,
            now
        );
        Some(total)
    }
}
