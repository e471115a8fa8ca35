//! Segment arrival in SYN-RECEIVED and the synchronized states (RFC 9293 §3.10.7.4), step by
//! step: PAWS (RFC 7323 §5), sequence acceptability, RST (RFC 5961 §3), SYN (RFC 5961 §4), ACK
//! (RFC 5961 §5, RFC 5681 dupACKs, RFC 6298 RTT), window update (SND.WL1/WL2), text, FIN.
//! Read next: `output.rs`.

use super::Connection;
use crate::socket::SocketError;
use crate::tcp::TcpStats;
use crate::tcp::reassembly::Inserted;
use crate::tcp::segment::{ACK, FIN, RST, SYN, Segment};
use crate::tcp::seq::SeqNum;
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::{Duration, Instant};

/// RFC 7323 §5.5: TS.Recent is invalid after 24 days idle.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);
/// Timestamp ticks (ms) a segment may lag TS.Recent before PAWS drops it (Linux: 1).
const PAWS_SLACK: i32 = 1;
/// Least time between ACKs for unacceptable segments without data (Linux: 500 ms).
const OOW_ACK_INTERVAL: Duration = Duration::from_millis(500);

impl Connection {
    /// A segment for this connection (checksum already verified).
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment<'_>, stats: &mut TcpStats) {
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_syn_sent(now, seg),
            _ => self.on_synchronized(now, seg, stats),
        }
    }

    fn on_synchronized(&mut self, now: Instant, seg: &Segment<'_>, stats: &mut TcpStats) {
        let mut seq = seg.seq;
        let mut syn = seg.has(SYN);
        if self.state == State::SynReceived && syn && seq == self.irs {
            if seg.has(ACK) && seg.ack.gt(self.snd_una) && seg.ack.le(self.snd_max) {
                // Simultaneous open: the peer's SYN,ACK; its SYN is old news, trim it.
                seq = seq.wrapping_add(1);
                syn = false;
            } else {
                // Our SYN,ACK was lost and the peer retransmitted its SYN: resend SYN,ACK.
                self.snd_nxt = self.iss;
                return;
            }
        }
        let mut payload = seg.payload;
        let mut fin = seg.has(FIN);
        let seg_len = payload.len() as u32 + u32::from(syn) + u32::from(fin);

        // RFC 7323 §5.3 R1: PAWS. A timestamp older than TS.Recent marks an old duplicate: ACK
        // and drop (RSTs are exempt). Like Linux: one tick of slack, and a reordered duplicate
        // ACK that changes nothing passes (tcp_disordered_ack).
        if self.ts_ok
            && !seg.has(RST)
            && let Some((tsval, _)) = seg.options.timestamps
            && (tsval.wrapping_sub(self.ts_recent) as i32) < -PAWS_SLACK
            && now - self.last_rcv_time() < PAWS_IDLE
            && !self.disordered_ack(seg, seq, seg_len, tsval)
        {
            stats.drop_paws += 1;
            self.oow_ack(now, seg_len == 0 || syn, stats);
            return;
        }

        // First: sequence number acceptability (§3.10.7.4 table).
        let wnd = self.rcv_wnd();
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            (_, _) => {
                seq.in_window(self.rcv_nxt, wnd)
                    || seq.wrapping_add(seg_len - 1).in_window(self.rcv_nxt, wnd)
            }
        };
        if !acceptable {
            // §3.10.7.4: "special allowance should be made to accept valid ACKs, URGs, and
            // RSTs" when RCV.WND is zero: keep the control part, drop the data.
            if wnd == 0 && seq == self.rcv_nxt && !syn {
                if !payload.is_empty() {
                    stats.drop_out_of_window += 1;
                }
                payload = &[];
                fin = false;
                self.ack_now = true;
            } else {
                if !seg.has(RST) {
                    self.oow_ack(now, seg_len == 0 || syn, stats);
                }
                let end = seq.wrapping_add(payload.len() as u32);
                if self.sack_ok && !payload.is_empty() && end.le(self.rcv_nxt) {
                    // RFC 2883 §4: report the duplicate in the first SACK block (D-SACK).
                    self.dsack_out = Some((seq, end));
                }
                if self.state == State::TimeWait && seg.has(FIN) {
                    // §3.10.7.4 eighth step: a retransmitted FIN restarts the 2·MSL timeout.
                    self.timers
                        .set(Timer::TimeWait, now + self.cfg.msl.saturating_mul(2));
                }
                stats.drop_out_of_window += 1;
                return;
            }
        }
        self.note_alive(now);
        self.update_ts_recent(seg);

        // Second: RST (RFC 5961 §3.2): only an exact match resets; in-window draws a challenge.
        if seg.has(RST) {
            stats.rst_received += 1;
            if seq != self.rcv_nxt {
                self.challenge_ack(now, stats);
                return;
            }
            match self.state {
                State::SynReceived if self.passive => {
                    // §3.10.7.4: "return to LISTEN"; the layer drops this half-open connection.
                    self.set_state(State::Closed, "rcvd RST");
                }
                State::SynReceived => self.fail(SocketError::ConnectionRefused, "rcvd RST"),
                State::Closing | State::LastAck | State::TimeWait => {
                    self.set_state(State::Closed, "rcvd RST")
                }
                _ => self.fail(SocketError::ConnectionReset, "rcvd RST"),
            }
            return;
        }

        // Fourth: SYN. SYN-RECEIVED from a passive OPEN: "return this connection to the LISTEN
        // state"; like Linux we also answer as CLOSED would (§3.10.7.1): RST.
        if syn && self.state == State::SynReceived && self.passive {
            self.rst_out = Some(match seg.has(ACK) {
                true => (seg.ack, None),
                false => (SeqNum(0), Some(seg.seq.wrapping_add(seg.seg_len()))),
            });
            self.set_state(State::Closed, "rcvd SYN in SYN-RECEIVED");
            return;
        }
        // In a synchronized state: challenge ACK (RFC 5961 §4.2).
        if syn {
            self.challenge_ack(now, stats);
            return;
        }

        // Fifth: ACK.
        if !seg.has(ACK) {
            return;
        }
        if self.state == State::SynReceived {
            if seg.ack.gt(self.snd_una) && seg.ack.le(self.snd_max) {
                self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = seg.ack;
                self.enter_established("rcvd ACK");
                self.arm_keepalive(now);
            } else {
                self.rst_out = Some((seg.ack, None)); // <SEQ=SEG.ACK><CTL=RST>
                return;
            }
        }
        // RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT.
        if seg.ack.gt(self.snd_max) {
            stats.drop_bad_ack += 1;
            self.ack_now = true;
            return;
        }
        if seg.ack.lt(self.snd_una.wrapping_sub(self.max_snd_wnd)) {
            stats.drop_bad_ack += 1;
            self.challenge_ack(now, stats);
            return;
        }
        // RFC 2018 §5: what the receiver holds above SND.UNA (recovery.rs).
        let sack_info = self.lr_read_sack(now, seg);
        self.ecn_input(now, seg, !payload.is_empty(), stats);
        let old_wnd = self.snd_wnd;
        let new_ack = seg.ack.gt(self.snd_una);
        let mut dup = false;
        if new_ack {
            self.on_new_ack(now, seg, stats);
        } else if seg.ack == self.snd_una
            && payload.is_empty()
            && !fin
            && u32::from(seg.window) << self.snd_wscale == self.snd_wnd
            && self.snd_max != self.snd_una
            && self.snd_wnd != 0
        {
            dup = true;
            self.on_dup_ack(now, stats); // RFC 5681 §2 definition of a duplicate ACK
        }
        if new_ack || dup || sack_info.has_news() {
            self.lr_after_ack(now, sack_info, new_ack, stats);
        }
        if !self.sack_ok
            && self.frto.is_some()
            && (new_ack || (seg.ack == self.snd_una && payload.is_empty() && !fin))
        {
            self.frto_basic_on_ack(new_ack, stats); // RFC 5682 §2 steps 2-3 (`frto.rs`)
        }
        // Window update (§3.10.7.4): only from a segment newer than the last one used.
        if self.snd_wl1.lt(seq) || (self.snd_wl1 == seq && self.snd_wl2.le(seg.ack)) {
            self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = seg.ack;
            if self.snd_wnd == 0 && old_wnd != 0 {
                // Zero window: what was sent beyond it waits; probes take over (§3.8.6.1).
                self.snd_nxt = self.snd_una;
                self.timers.stop(Timer::Retransmit);
                self.rtt_probe = None;
            }
            if old_wnd == 0 && self.snd_wnd > 0 {
                // The window reopened: resume from SND.UNA (a probe byte may be unacked).
                self.snd_nxt = self.snd_una;
            }
            if self.snd_wnd > old_wnd {
                self.persist_backoffs = 0;
                self.timers.stop(Timer::Persist);
                self.notify = true;
            }
        }
        if self.fin_acked() {
            match self.state {
                State::FinWait1 => {
                    self.set_state(State::FinWait2, "our FIN acked");
                    // RFC 1122 §4.2.3.6: keep probing a half-closed peer (the timer may have
                    // fired, and lapsed, while we were in FIN-WAIT-1).
                    self.arm_keepalive(now);
                    if self.orphan {
                        self.timers.set(Timer::TimeWait, now + self.cfg.fin_timeout);
                    }
                }
                State::Closing => self.enter_time_wait(now, "our FIN acked"),
                State::LastAck => {
                    self.set_state(State::Closed, "our FIN acked");
                    return;
                }
                _ => {}
            }
        }

        // Seventh: segment text.
        if !payload.is_empty() && self.state.can_receive_data() {
            if self.orphan {
                // RFC 1122 §4.2.2.13: data after CLOSE cannot be delivered: RST shows it was lost.
                // Like Linux, the RST is the CLOSED state's answer (§3.10.7.1): <SEQ=SEG.ACK><RST>.
                stats.drop_after_close += 1;
                self.abort("data after close");
                self.rst_out = Some((seg.ack, None));
                return;
            }
            self.take_text(now, seq, payload, stats);
            if self.read_shut {
                // shutdown(Read): acknowledged and discarded, as Linux does.
                self.rcv_buf.clear();
            }
        } else if !payload.is_empty() && self.state == State::TimeWait {
            // §3.10.7.4 seventh: text in TIME-WAIT is ignored; like Linux we still ACK it.
            self.ack_now = true;
        }

        // Eighth: FIN (only once every byte before it has arrived).
        if fin && self.state != State::SynReceived {
            let fin_seq = seq.wrapping_add(payload.len() as u32);
            let off = self.rcv_abs + u64::from(fin_seq.diff(self.rcv_nxt).max(0) as u32);
            if fin_seq.ge(self.rcv_nxt) {
                self.fin_at = Some(off);
            }
        }
        self.maybe_take_fin(now);
    }

    /// An ACK for new data (§3.10.7.4 fifth step, RFC 6298 §5, RFC 5681).
    fn on_new_ack(&mut self, now: Instant, seg: &Segment<'_>, stats: &mut TcpStats) {
        let ack = seg.ack;
        let flight = self.snd_max.since(self.snd_una);
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let data_acked = ack.min(data_end).since(self.buf_seq);
        self.send_buf.ack(data_acked as usize);
        self.buf_seq = self.buf_seq.wrapping_add(data_acked);
        self.snd_una = ack;
        self.lr_check_spurious(seg, stats);
        if self.snd_nxt.lt(ack) {
            self.snd_nxt = ack;
        }
        self.retries = 0;
        self.persist_backoffs = 0;
        self.timers.stop(Timer::User); // progress: restart it (update_timers re-arms)
        self.notify = true;
        // RTT: timestamps (RFC 7323 §4.1) or the one timed segment (RFC 6298 §3, Karn).
        let mut sampled = None;
        if self.ts_ok
            && let Some((_, ecr)) = seg.options.timestamps
            && ecr != 0
        {
            let ms = self.ts_now(now).wrapping_sub(ecr);
            // Karn for timestamps: an echo older than our latest retransmission may belong to
            // the original transmission whose ACK was lost (RFC 7323 §4.2 notes the inflation).
            let after_rtx = self
                .rtx_ts
                .is_none_or(|r| (ecr.wrapping_sub(r) as i32) >= 0);
            if ms < 3_600_000 && after_rtx {
                let r = Duration::from_millis(u64::from(ms));
                // One sample per ACK: RFC 7323 App. G, ExpectedSamples = ⌈FlightSize/(2·SMSS)⌉.
                let smss = u64::from(self.smss().max(1));
                self.rtt
                    .sample_one_of(r, u64::from(flight).div_ceil(2 * smss));
                sampled = Some(r);
            }
        }
        if let Some((end, sent)) = self.rtt_probe
            && ack.ge(end)
        {
            if sampled.is_none() {
                self.rtt.sample(now - sent);
                sampled = Some(now - sent);
            }
            self.rtt_probe = None;
        }
        self.cc.on_ack_sample(now, self.snd_max, sampled);
        if let Some(r) = sampled {
            self.rack.note_rtt(r);
        }
        let partial = self.cc.on_ack(now, ack, data_acked, flight) && !self.sack_ok;
        if partial {
            // RFC 6582 §3.2 step 3: a partial ACK retransmits the next hole at once (unless
            // SACK-based recovery already resent it: then the next hole it knows of).
            if self.high_rxt.le(self.snd_una) {
                self.retransmit_first = true;
                stats.retransmits_fast += 1;
            }
            self.partial_acks = self.partial_acks.saturating_add(1);
        } else if !self.cc.in_recovery() {
            self.high_rxt = self.snd_una;
            self.partial_acks = 0;
        }
        if self.nr_recover.is_some_and(|r| self.snd_una.ge(r)) {
            self.nr_recover = None;
        }
        self.dupacks = 0;
        // RFC 6298 §5.2-5.3: stop the timer when all is acknowledged, otherwise restart it;
        // but in a NewReno recovery only the first partial ACK restarts it (RFC 6582 §3.2 step
        // 5, the "Impatient" variant of §4): a window with many holes, repaired one per round
        // trip, gives way to the timeout and its slow start instead of taking one RTT per hole.
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else if !(partial && self.partial_acks > 1) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }

    /// RFC 5681 §3.2: the third duplicate ACK triggers fast retransmit; later ones inflate.
    fn on_dup_ack(&mut self, now: Instant, stats: &mut TcpStats) {
        self.dupacks += 1;
        if self.sack_ok {
            return; // SACK-based recovery decides (recovery.rs)
        }
        let flight = self.snd_max.since(self.snd_una);
        // RFC 6582 §3.2 step 2: after a timeout, only an ACK beyond its `recover` may start a
        // fast retransmit; below it the duplicates answer our own go-back-N resends.
        if self.nr_recover.is_some_and(|r| self.snd_una.lt(r)) {
            return;
        }
        if self.dupacks == 3 {
            if self.cc.on_fast_retransmit(now, flight, self.snd_max) {
                self.retransmit_first = true;
                self.rtt_probe = None;
                stats.retransmits_fast += 1;
                self.lr_note_reduction(now, false);
            }
        } else if self.dupacks > 3 {
            self.cc.on_dup_ack(now); // RFC 5681 §3.2 step 4: inflate
        }
    }

    /// Seventh step: place data in the receive buffer or the reassembly queue.
    fn take_text(&mut self, now: Instant, seq: SeqNum, payload: &[u8], stats: &mut TcpStats) {
        // A super-segment from an offloading link counts as segments of our MSS (as Linux
        // takes its gso_size): otherwise one 64 KiB read would set "full-sized" to 64 KiB.
        let full = (payload.len() as u32).min(u32::from(self.our_mss));
        self.rcv_mss = self.rcv_mss.max(full);
        // Trim what we already have (§3.10.7.4: "trimmed to the window").
        let skip = self.rcv_nxt.since(seq) as usize;
        let Some(data) = payload.get(skip..) else {
            self.ack_now = true;
            return;
        };
        let start = seq.wrapping_add(skip as u32);
        if skip > 0 && self.sack_ok {
            self.dsack_out = Some((seq, start)); // RFC 2883 §4: the duplicated part
        }
        let free = self.rcv_free() as usize;
        if start == self.rcv_nxt {
            let n = data.len().min(free);
            if n < data.len() {
                stats.drop_out_of_window += 1;
                self.ack_now = true;
            }
            self.deliver(&data[..n]);
            // The cumulative ACK now owed supersedes duplicates of the old RCV.NXT.
            self.dupacks_owed = 0;
            let had_holes = !self.reasm.is_empty();
            while let Some(piece) = self.reasm.pop(self.rcv_abs) {
                let room = self.rcv_free() as usize;
                let m = piece.len().min(room);
                self.deliver(&piece[..m]);
            }
            if had_holes {
                // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap.
                self.ack_now = true;
            } else {
                self.delay_ack(now, n as u32);
            }
        } else {
            // Out of order (RFC 5681 §4.2: an immediate duplicate ACK).
            let ahead = start.since(self.rcv_nxt) as usize;
            let room = free.saturating_sub(ahead);
            let d = &data[..data.len().min(room)];
            match self.reasm.insert(self.rcv_abs + ahead as u64, d) {
                _ if d.is_empty() => {}
                Inserted::Full => stats.drop_reassembly_full += 1,
                Inserted::Duplicate if self.sack_ok => {
                    // RFC 2883 §4: already held: a D-SACK block.
                    self.dsack_out = Some((start, start.wrapping_add(d.len() as u32)));
                }
                _ => {}
            }
            // RFC 5681 §4.2: one duplicate (pure) ACK per out-of-order segment, also when
            // several arrive before the driver asks what to send (ACKs are otherwise coalesced).
            self.dupacks_owed = self.dupacks_owed.saturating_add(1);
            self.ack_now = true;
        }
    }

    fn deliver(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.rcv_buf.extend(data);
        self.rcv_nxt = self.rcv_nxt.wrapping_add(data.len() as u32);
        self.rcv_abs += data.len() as u64;
        self.bytes_received += data.len() as u64;
        self.notify = true;
    }

    /// RFC 9293 §3.8.6.3: ACK at least every second full-sized segment, otherwise within the
    /// delayed-ACK time; and every quarter of the buffer, so that a window of only a few
    /// segments (64 KiB ones at MTU 65535) is not held half-used until the second one.
    fn delay_ack(&mut self, now: Instant, n: u32) {
        self.unacked_bytes = self.unacked_bytes.saturating_add(n);
        let every = (2 * self.rcv_mss).min((self.rcv_cap / 4) as u32).max(1);
        if self.cfg.delayed_ack == Duration::ZERO || self.unacked_bytes >= every {
            self.ack_now = true;
        } else if !self.timers.is_set(Timer::DelayedAck) {
            self.timers
                .set(Timer::DelayedAck, now + self.cfg.delayed_ack);
        }
    }

    /// Eighth step: consume the FIN when RCV.NXT reaches it.
    fn maybe_take_fin(&mut self, now: Instant) {
        if self.fin_rcvd || self.fin_at != Some(self.rcv_abs) {
            return;
        }
        self.fin_rcvd = true;
        self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        self.ack_now = true;
        self.notify = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait, "rcvd FIN"),
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(now, "rcvd FIN"),
            State::FinWait1 => self.set_state(State::Closing, "rcvd FIN (simultaneous close)"),
            State::FinWait2 => self.enter_time_wait(now, "rcvd FIN"),
            _ => {}
        }
    }

    /// TIME-WAIT for 2·MSL (RFC 9293 §3.3.2, §3.10.7.4).
    pub(crate) fn enter_time_wait(&mut self, now: Instant, why: &str) {
        self.set_state(State::TimeWait, why);
        self.timers.stop_all();
        self.timers
            .set(Timer::TimeWait, now + self.cfg.msl.saturating_mul(2));
    }

    /// RFC 5961 §3.2, §4.2, §5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate limited (§7).
    fn challenge_ack(&mut self, now: Instant, stats: &mut TcpStats) {
        let (start, count) = self.challenge_window;
        if now - start >= Duration::from_secs(1) {
            self.challenge_window = (now, 0);
        }
        if self.challenge_window.1 >= self.cfg.challenge_ack_limit {
            stats.challenge_ack_limited += 1;
            return;
        }
        let _ = count;
        self.challenge_window.1 += 1;
        stats.challenge_acks += 1;
        self.ack_now = true;
    }

    /// Linux's tcp_disordered_ack: a pure duplicate ACK at RCV.NXT that cannot move the window
    /// and lags TS.Recent by less than an RTO is a reordered ACK, not an old duplicate.
    fn disordered_ack(&self, seg: &Segment<'_>, seq: SeqNum, seg_len: u32, tsval: u32) -> bool {
        let wnd = u32::from(seg.window) << self.snd_wscale;
        let may_update =
            seq.gt(self.snd_wl1) || (seq == self.snd_wl1 && (wnd > self.snd_wnd || wnd == 0));
        let lag = u64::from(self.ts_recent.wrapping_sub(tsval));
        seg_len == 0
            && seg.has(ACK)
            && seq == self.rcv_nxt
            && seg.ack == self.snd_una
            && !may_update
            && lag <= self.rtt.rto().total_millis()
    }

    /// §3.10.7.4 first step: an unacceptable segment draws <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    /// For segments without data (`limited`) at most one per `OOW_ACK_INTERVAL`, as Linux
    /// (tcp_invalid_ratelimit), so two ends cannot ping-pong ACKs.
    fn oow_ack(&mut self, now: Instant, limited: bool, stats: &mut TcpStats) {
        if limited {
            if self
                .last_oow_ack
                .is_some_and(|t| now - t < OOW_ACK_INTERVAL)
            {
                stats.oow_acks_limited += 1;
                return;
            }
            self.last_oow_ack = Some(now);
        }
        self.ack_now = true;
    }

    /// Any acceptable segment shows the peer is alive (RFC 1122 §4.2.3.6) and updates
    /// TS.Recent (RFC 7323 §4.3).
    fn note_alive(&mut self, now: Instant) {
        self.last_rcv = now;
        self.keepalive_sent = 0;
        self.arm_keepalive(now);
    }

    pub(crate) fn update_ts_recent(&mut self, seg: &Segment<'_>) {
        // RFC 7323 §4.3 (2): SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent.
        if let Some((tsval, _)) = seg.options.timestamps
            && self.ts_ok
            && (tsval.wrapping_sub(self.ts_recent) as i32) >= 0
            && seg.seq.le(self.last_ack_sent)
        {
            self.ts_recent = tsval;
        }
    }

    fn last_rcv_time(&self) -> Instant {
        self.last_rcv
    }

    /// RFC 1122 §4.2.3.6 names no state; like Linux we also probe in FIN-WAIT-2 (a half-closed
    /// end would otherwise wait forever for a peer that vanished).
    pub(crate) fn arm_keepalive(&mut self, now: Instant) {
        if let Some(idle) = self.cfg.keepalive
            && matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait2
            )
        {
            self.timers.set(Timer::Keepalive, now + idle);
        }
    }
}
