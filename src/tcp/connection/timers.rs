//! What each timer's expiry means for the connection: retransmission with back-off (RFC 6298
//! §5.4-5.7, RFC 5681 §3.1), SYN retransmission, the persist timer and its back-off (RFC 9293
//! §3.8.6.1, RFC 1122 §4.2.2.17), delayed ACK (§3.8.6.3), keep-alive (RFC 1122 §4.2.3.6), and
//! the end of TIME-WAIT (§3.3.2) or of an orphaned FIN-WAIT-2, and the user timeout (RFC 5482). Read next: `../listener.rs`.

use super::Connection;
use crate::socket::SocketError;
use crate::tcp::TcpStats;
use crate::tcp::state::State;
use crate::tcp::timer::Timer;
use crate::time::Instant;

impl Connection {
    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, stats: &mut TcpStats) {
        self.pace_expired(now);
        for t in self.timers.take_expired(now) {
            match t {
                Timer::Retransmit => self.on_rto(now, stats),
                Timer::DelayedAck => self.ack_now = true,
                Timer::Persist => {
                    self.probe_now = true;
                    self.persist_backoffs = self.persist_backoffs.saturating_add(1);
                }
                Timer::Keepalive => self.on_keepalive(now, stats),
                Timer::User => {
                    if self.snd_una != self.snd_max && self.state.is_synchronized() {
                        stats.timeouts += 1;
                        self.fail(SocketError::TimedOut, "user timeout");
                    }
                }
                Timer::TimeWait => match self.state {
                    State::TimeWait => self.set_state(State::Closed, "2MSL timeout"),
                    State::FinWait2 => self.set_state(State::Closed, "FIN-WAIT-2 timeout"),
                    _ => {}
                },
            }
        }
        self.update_timers(now);
    }

    fn on_rto(&mut self, now: Instant, stats: &mut TcpStats) {
        match self.state {
            State::SynSent | State::SynReceived => {
                self.retries += 1;
                if self.retries > self.cfg.max_syn_retries {
                    stats.timeouts += 1;
                    if self.passive {
                        self.set_state(State::Closed, "SYN,ACK retransmissions exhausted");
                    } else {
                        self.fail(SocketError::TimedOut, "SYN retransmissions exhausted");
                    }
                    return;
                }
                stats.rto_expirations += 1;
                self.rtt.back_off();
                self.snd_nxt = self.iss;
            }
            State::Closed | State::Listen | State::TimeWait => {}
            _ => {
                if self.snd_una == self.snd_max {
                    return;
                }
                if self.lr_on_timer(now, stats) {
                    return; // a tail loss probe or RACK's reordering timer (RFC 8985)
                }
                self.retries += 1;
                if self.retries > self.cfg.max_retries {
                    stats.timeouts += 1;
                    self.fail(SocketError::TimedOut, "retransmission timeout");
                    return;
                }
                stats.rto_expirations += 1;
                let flight = self.lr_flight();
                let in_fast = self.cc.in_recovery();
                self.cc.on_rto(now, flight);
                // RFC 6298 §5.5: back off; §5.4: retransmit the earliest unacknowledged segment
                // (go-back-N from SND.UNA, paced by the one-segment loss window).
                self.rtt.back_off();
                self.rtt_probe = None;
                self.dupacks = 0;
                self.retransmit_first = false;
                self.high_rxt = self.snd_una;
                if self.lr_on_rto(now, stats) {
                    // With SACK: resend the first segment now, the other lost ones as the
                    // window opens (recovery.rs, nextseg.rs).
                    self.retransmit_first = true;
                } else {
                    self.lr_note_rto(now, in_fast);
                    // RFC 5682 §2 step 1: F-RTO for a new timeout (none underway: `recover`
                    // unset or acknowledged).
                    self.frto_on_rto(self.nr_recover.is_none(), in_fast);
                    // RFC 6582 §3.2 step 4: recover = the highest sequence number sent.
                    self.nr_recover = Some(self.snd_max);
                    self.snd_nxt = self.snd_una;
                }
                self.pace_reset();
            }
        }
    }

    fn on_keepalive(&mut self, now: Instant, stats: &mut TcpStats) {
        if !matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        ) {
            return;
        }
        if self.keepalive_sent >= self.cfg.keepalive_probes {
            stats.timeouts += 1;
            self.fail(SocketError::TimedOut, "keep-alive timeout");
            return;
        }
        self.keepalive_sent += 1;
        self.keepalive_probe = true;
        stats.keepalive_probes += 1;
        self.timers
            .set(Timer::Keepalive, now + self.cfg.keepalive_interval);
    }

    /// Keep the persist timer in step with the send state (§3.8.6.1, §3.8.6.2.1): it runs while
    /// something waits to be sent or acknowledged and the retransmission timer is off.
    pub fn update_timers(&mut self, now: Instant) {
        let sending = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let pending = data_end.gt(self.snd_una) || (self.fin_queued && !self.fin_acked());
        let waiting = sending && pending && !self.timers.is_set(Timer::Retransmit);
        // RFC 5482: the user timeout runs while data is unacknowledged; an ACK of new data
        // restarts it (`on_new_ack`), all data acknowledged stops it.
        if let Some(ut) = self.cfg.user_timeout
            && sending
        {
            if self.snd_una == self.snd_max {
                self.timers.stop(Timer::User);
            } else if !self.timers.is_set(Timer::User) {
                self.timers.set(Timer::User, now + ut);
            }
        }
        if !waiting {
            self.timers.stop(Timer::Persist);
        } else if !self.timers.is_set(Timer::Persist) {
            // RFC 1122 §4.2.2.17: probe intervals grow exponentially.
            let interval = self
                .rtt
                .rto()
                .saturating_mul(1u64 << self.persist_backoffs.min(16))
                .min(self.cfg.max_rto);
            self.timers.set(Timer::Persist, now + interval);
        }
    }
}
