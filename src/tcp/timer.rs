//! The connection's timers as a table of deadlines, not callbacks (RFC 9293 §3.8, RFC 6298 §5,
//! RFC 1122 §4.2.2.17 and §4.2.3.6, RFC 5482).
//!
//! Each timer is either off or has an `Instant` at which it fires. `next()` is the earliest
//! deadline; `expired(now)` lists the ones due. The connection decides what firing means.
//! Read next: `connection/mod.rs`.

use crate::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// RFC 6298 retransmission timer.
    Retransmit,
    /// RFC 9293 §3.8.6.3 delayed ACK.
    DelayedAck,
    /// RFC 9293 §3.8.6.1 zero-window probe / sender SWS override.
    Persist,
    /// RFC 1122 §4.2.3.6 keep-alive.
    Keepalive,
    /// RFC 9293 §3.3.2 TIME-WAIT (2·MSL).
    TimeWait,
    /// RFC 9293 §3.8.3 / RFC 5482 user timeout: data unacknowledged for this long aborts.
    User,
}

const ALL: [Timer; 6] = [
    Timer::Retransmit,
    Timer::DelayedAck,
    Timer::Persist,
    Timer::Keepalive,
    Timer::TimeWait,
    Timer::User,
];

#[derive(Clone, Debug, Default)]
pub struct TimerTable {
    at: [Option<Instant>; 6],
}

impl TimerTable {
    pub fn set(&mut self, t: Timer, when: Instant) {
        self.at[t as usize] = Some(when);
    }
    pub fn stop(&mut self, t: Timer) {
        self.at[t as usize] = None;
    }
    pub fn get(&self, t: Timer) -> Option<Instant> {
        self.at[t as usize]
    }
    pub fn is_set(&self, t: Timer) -> bool {
        self.at[t as usize].is_some()
    }
    pub fn stop_all(&mut self) {
        self.at = [None; 6];
    }
    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
    /// Timers due at `now`, stopped as they are returned.
    pub fn take_expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        for t in ALL {
            if self.at[t as usize].is_some_and(|d| d <= now) {
                self.at[t as usize] = None;
                due.push(t);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_and_expiry() {
        let mut tt = TimerTable::default();
        assert_eq!(tt.next(), None);
        tt.set(Timer::TimeWait, Instant::from_millis(50));
        tt.set(Timer::DelayedAck, Instant::from_millis(40));
        assert_eq!(tt.next(), Some(Instant::from_millis(40)));
        assert!(tt.take_expired(Instant::from_millis(39)).is_empty());
        assert_eq!(
            tt.take_expired(Instant::from_millis(45)),
            vec![Timer::DelayedAck]
        );
        assert_eq!(tt.next(), Some(Instant::from_millis(50)));
    }
}
