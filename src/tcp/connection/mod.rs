//! The transmission control block of one connection (RFC 9293 §3.3.1) and its application side.
//!
//! Heads up: read RFC 9293 §3.3-§3.10 first. The TCB fields carry the RFC names (`snd_una`,
//! `rcv_nxt`, ...). Events are split by file: `open.rs` (the handshake, SYN-SENT and
//! SYN-RECEIVED), `input.rs` (segment arrival in synchronized states, §3.10.7.4), `output.rs`
//! (what to send next: data, ACKs, FIN, RST, probes), `timers.rs` (what expiry means).
//! Call order for a driver: `handle_segment`/`handle_timeout`/app calls, then `poll_transmit`
//! until None, then `next_deadline`. Read next: `connection/open.rs`.

mod ecn;
mod eifel;
mod frto;
mod input;
mod nextseg;
mod open;
mod output;
mod pace;
mod recovery;
mod timers;
mod tlp;

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use super::congestion::{self, CongestionControl};
use super::prr::Prr;
use super::rack::Rack;
use super::reassembly::Reassembly;
use super::rtt::RttEstimator;
use super::sack::Scoreboard;
use super::send_buffer::SendBuffer;
use super::seq::SeqNum;
use super::state::State;
use super::timer::{Timer, TimerTable};
use super::{TcpConfig, TcpInfo};
use crate::socket::{SocketError, TcpHandle};
use crate::time::{Duration, Instant};

/// RFC 9293 §3.7.1 / RFC 6691: the MSS to assume when the peer sends no MSS option.
pub const DEFAULT_MSS: u16 = 536;
/// Bytes the timestamp option takes in every segment (RFC 7323 §3, with two NOPs).
pub const TS_OPTION_LEN: u32 = 12;
/// Most SACK blocks we send (three fit beside timestamps, RFC 2018 §3).
pub const SACK_BLOCKS_SENT: usize = 3;

/// One connection: the TCB plus its buffers and timers.
pub struct Connection {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    cfg: TcpConfig,

    /// `ISS`: initial send sequence number (RFC 9293 §3.3.1).
    pub iss: SeqNum,
    /// `SND.UNA`: oldest unacknowledged sequence number.
    pub snd_una: SeqNum,
    /// `SND.NXT`: next sequence number to send (pulled back to SND.UNA after an RTO).
    pub snd_nxt: SeqNum,
    /// Highest sequence number sent so far ("SND.MAX" of BSD).
    pub snd_max: SeqNum,
    /// `SND.WND`: the peer's window, in bytes (already scaled).
    pub snd_wnd: u32,
    /// `SND.WL1`, `SND.WL2`: segment seq and ack used for the last window update.
    pub snd_wl1: SeqNum,
    pub snd_wl2: SeqNum,
    /// Largest window the peer has offered (RFC 9293 §3.8.6.2.1 Max(SND.WND); RFC 5961 §5).
    pub max_snd_wnd: u32,
    /// Shift applied to the peer's window field (RFC 7323 §2.3, Snd.Wind.Shift).
    snd_wscale: u8,

    /// `IRS`: initial receive sequence number.
    pub irs: SeqNum,
    /// `RCV.NXT`: next sequence number expected.
    pub rcv_nxt: SeqNum,
    /// Right edge of the window we last advertised (RCV.NXT + RCV.WND at that time).
    rcv_adv: SeqNum,
    /// Shift applied to the window field we send (RFC 7323 §2.3, Rcv.Wind.Shift).
    rcv_wscale: u8,
    rcv_buf: VecDeque<u8>,
    rcv_cap: usize,
    /// Stream offset of `rcv_nxt` (bytes delivered in order so far).
    rcv_abs: u64,
    reasm: Reassembly,
    /// Stream offset of the peer's FIN, when it arrived ahead of data still missing.
    fin_at: Option<u64>,
    /// The peer's FIN has been consumed (RCV.NXT advanced over it).
    pub fin_rcvd: bool,
    /// Largest payload seen from the peer (for "full-sized" in RFC 9293 §3.8.6.3).
    rcv_mss: u32,

    send_buf: SendBuffer,
    /// Sequence number of the first byte in `send_buf`.
    buf_seq: SeqNum,
    /// The application closed its sending side: FIN follows the queued data.
    fin_queued: bool,

    /// Sender MSS for a full segment's payload (peer MSS minus our fixed option bytes).
    smss: u32,
    /// MSS we advertise (mtu - 40).
    our_mss: u16,
    ts_ok: bool,
    /// `TS.Recent` (RFC 7323 §4.3).
    ts_recent: u32,
    ts_offset: u32,
    /// `Last.ACK.sent` (RFC 7323 §4.3).
    last_ack_sent: SeqNum,
    sack_ok: bool,
    /// Both SYNs carried the window-scale option (RFC 7323 §2.2).
    ws_ok: bool,

    rtt: RttEstimator,
    /// Karn (RFC 6298 §3): end seq and send time of the one segment being timed.
    rtt_probe: Option<(SeqNum, Instant)>,
    /// Our timestamp clock at the latest retransmission (Karn's rule for RFC 7323 RTTM).
    rtx_ts: Option<u32>,
    retries: u32,
    cc: Box<dyn CongestionControl>,
    dupacks: u32,
    /// End of the highest range retransmitted (NewReno partial ACKs without SACK).
    high_rxt: SeqNum,
    /// Partial ACKs seen in the current NewReno recovery without SACK (RFC 6582 §3.2 step 5).
    partial_acks: u32,
    /// SND.MAX at a retransmission timeout without SACK (RFC 6582 `recover` + 1): duplicate ACKs below it come from the
    /// go-back-N resends and start no fast retransmit (RFC 6582 §3.2 steps 2 and 4).
    nr_recover: Option<SeqNum>,
    /// Loss recovery with SACK (`recovery.rs`): every segment in flight (RFC 6675).
    sb: Scoreboard,
    rack: Rack,
    prr: Option<Prr>,
    /// `RecoveryPoint` (RFC 6675 §5) while in SACK-based recovery.
    rec_end: Option<SeqNum>,
    /// The send allowance during recovery (pipe + PRR sndcnt, or ssthresh).
    rec_cwnd: u32,
    /// SND.MAX at the last RTO, until acknowledged (no new recovery episode before).
    rto_recover: Option<SeqNum>,
    /// RACK's reordering timer, if a segment waits for its window to pass.
    rack_timeout: Option<Duration>,
    /// What the retransmission timer means right now (RTO, PTO, RACK reorder).
    rtx_kind: tlp::RtxKind,
    /// A tail loss probe is owed (RFC 8985 §7.3), and the end of the one outstanding.
    tlp_now: bool,
    tlp_end: Option<SeqNum>,
    /// The outstanding probe, for its loss detection (RFC 8985 §7.4, `tlp.rs`).
    tlp: tlp::TlpProbe,
    /// F-RTO after an RTO (RFC 5682, `frto.rs`).
    frto: Option<frto::Frto>,
    /// RFC 6675 RescueRxt: the RecoveryPoint of the episode whose rescue was sent.
    rescue_rxt: Option<SeqNum>,
    /// Eifel detection of the last reduction (RFC 3522, `eifel.rs`).
    eifel: Option<eifel::Eifel>,
    /// ECN (RFC 3168, `ecn.rs`): negotiated; ECE owed to the peer; CWR owed; the end of the
    /// window of the last ECE reaction; the arriving segment was CE; the last one sent is ECT.
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883).
    dsack_out: Option<(SeqNum, SeqNum)>,
    ecn_ok: bool,
    ece_out: bool,
    cwr_out: bool,
    ecn_recover: Option<SeqNum>,
    rx_ce: bool,
    tx_ect: bool,
    /// Payload bytes per segment of the super-segment being written (0: a plain segment).
    tx_gso: u16,
    /// The segment being written starts at or beyond SND.MAX (not a retransmission).
    tx_fresh: bool,
    /// Pacing (`pace.rs`): the clock, data segments sent, and the release we wait for.
    pacer: super::pacing::Pacer,
    segs_out: u64,
    pace_wait: Option<Instant>,

    timers: TimerTable,
    persist_backoffs: u32,
    keepalive_sent: u32,
    /// When the peer last sent an acceptable segment (keep-alive, PAWS idle rule).
    last_rcv: Instant,
    /// When we last sent new data (RFC 5681 §4.1 idle restart).
    last_send: Instant,
    challenge_window: (Instant, u32),
    /// Last ACK sent for an unacceptable segment without data (rate limit, `input::oow_ack`).
    last_oow_ack: Option<Instant>,

    // What output owes the peer.
    ack_now: bool,
    /// Bytes received in order and not yet acknowledged (delayed ACK, RFC 9293 §3.8.6.3).
    unacked_bytes: u32,
    /// Out-of-order segments not yet answered by a pure duplicate ACK: several arriving in
    /// one batch (before `poll_transmit`) each get their own (RFC 5681 §4.2).
    dupacks_owed: u8,
    retransmit_first: bool,
    probe_now: bool,
    keepalive_probe: bool,
    /// A RST owed to the peer: (seq, ack if the RST carries ACK).
    rst_out: Option<(SeqNum, Option<SeqNum>)>,

    pub nodelay: bool,
    /// Error that ended the connection (reported by connect_status/recv/send).
    pub error: Option<SocketError>,
    /// The same error, until `take_error` reads it.
    pub pending_error: Option<SocketError>,
    /// The application released the handle (close); the layer finishes in the background.
    pub orphan: bool,
    read_shut: bool,
    /// Listener that created this connection, until it is accepted.
    pub listener: Option<TcpHandle>,
    /// In SYN-RECEIVED, on the listener's `blocked` list (its ACK found the accept queue full).
    pub accept_blocked: bool,
    /// Opened passively (RFC 9293 §3.10.7.4: an RST in SYN-RECEIVED returns to LISTEN).
    pub passive: bool,
    /// Something a blocked caller may wait for changed.
    pub notify: bool,
    /// Deadline this connection is filed under in the layer's timer heap.
    pub scheduled: Option<Instant>,
    /// In the layer's queue of connections that may have something to send.
    pub queued: bool,

    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retransmits: u64,
}

/// RFC 7323 §2.3: the smallest shift that lets a receive buffer be advertised (at most 14).
pub fn rcv_wscale_for(recv_buffer: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (recv_buffer >> shift) > 65535 {
        shift += 1;
    }
    shift
}

/// What the handshake learned from the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2-3, RFC 2018).
fn clamp_mss(m: u16) -> u16 {
    m.max(64)
}

impl Connection {
    fn blank(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        our_mss: u16,
    ) -> Self {
        let shift = rcv_wscale_for(cfg.recv_buffer);
        let smss = u32::from(DEFAULT_MSS);
        Connection {
            state: State::Closed,
            local,
            remote,
            cfg: cfg.clone(),
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            max_snd_wnd: 0,
            snd_wscale: 0,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_wscale: if cfg.window_scaling { shift } else { 0 },
            rcv_buf: VecDeque::new(),
            rcv_cap: cfg.recv_buffer.max(1),
            rcv_abs: 0,
            reasm: Reassembly::new(
                cfg.recv_buffer.max(1),
                cfg.reassembly_max_segments.max(cfg.recv_buffer / 1000),
            ),
            fin_at: None,
            fin_rcvd: false,
            rcv_mss: smss,
            send_buf: SendBuffer::new(cfg.send_buffer.max(1)),
            buf_seq: iss.wrapping_add(1),
            fin_queued: false,
            smss,
            our_mss,
            ts_ok: false,
            ts_recent: 0,
            ts_offset,
            last_ack_sent: SeqNum(0),
            sack_ok: false,
            ws_ok: false,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            rtt_probe: None,
            rtx_ts: None,
            retries: 0,
            cc: congestion::with_options(&cfg.cc, smss, cfg.hystart),
            dupacks: 0,
            high_rxt: iss,
            partial_acks: 0,
            nr_recover: None,
            sb: Scoreboard::default(),
            rack: Rack::default(),
            prr: None,
            rec_end: None,
            rec_cwnd: 0,
            rto_recover: None,
            rack_timeout: None,
            rtx_kind: tlp::RtxKind::Rto,
            tlp_now: false,
            tlp_end: None,
            tlp: tlp::TlpProbe::default(),
            frto: None,
            rescue_rxt: None,
            eifel: None,
            dsack_out: None,
            ecn_ok: false,
            ece_out: false,
            cwr_out: false,
            ecn_recover: None,
            rx_ce: false,
            tx_ect: false,
            tx_gso: 0,
            tx_fresh: false,
            pacer: Default::default(),
            segs_out: 0,
            pace_wait: None,
            timers: TimerTable::default(),
            persist_backoffs: 0,
            keepalive_sent: 0,
            last_rcv: Instant::ZERO,
            last_send: Instant::ZERO,
            challenge_window: (Instant::ZERO, 0),
            last_oow_ack: None,
            dupacks_owed: 0,
            ack_now: false,
            unacked_bytes: 0,
            retransmit_first: false,
            probe_now: false,
            keepalive_probe: false,
            rst_out: None,
            nodelay: false,
            error: None,
            pending_error: None,
            orphan: false,
            read_shut: false,
            listener: None,
            accept_blocked: false,
            passive: false,
            notify: false,
            scheduled: None,
            queued: false,
            bytes_sent: 0,
            bytes_received: 0,
            retransmits: 0,
        }
    }

    /// Log one line per state change (RFC names), and wake any waiter.
    pub(crate) fn set_state(&mut self, to: State, why: &str) {
        if self.state != to {
            log::debug!(
                "tcp {} > {}: {} -> {} ({})",
                self.local,
                self.remote,
                self.state,
                to,
                why
            );
            self.state = to;
            self.notify = true;
            if to == State::Closed {
                self.timers.stop_all();
            }
        }
    }

    /// End the connection with an error (reset, timeout, unreachable).
    pub(crate) fn fail(&mut self, err: SocketError, why: &str) {
        self.error = Some(err);
        self.pending_error = Some(err);
        self.set_state(State::Closed, why);
    }

    // ---- queries ----

    /// The earliest timer, or the pacing release a held-back segment waits for.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.timers.next(), self.pace_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn timer(&self, t: Timer) -> Option<Instant> {
        self.timers.get(t)
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    pub fn cwnd(&self) -> u32 {
        self.cc.window()
    }

    pub fn smss(&self) -> u32 {
        self.smss
    }

    pub fn ts_recent(&self) -> Option<u32> {
        self.ts_ok.then_some(self.ts_recent)
    }

    /// Sequence number that the FIN occupies, once queued.
    fn fin_seq(&self) -> SeqNum {
        self.buf_seq.wrapping_add(self.send_buf.len() as u32)
    }

    /// Our FIN has been acknowledged.
    pub(crate) fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una.gt(self.fin_seq())
    }

    /// Free receive-buffer space: what the window may offer.
    fn rcv_free(&self) -> u32 {
        self.rcv_cap.saturating_sub(self.rcv_buf.len()) as u32
    }

    /// `RCV.WND`: what the peer may still send beyond RCV.NXT, as last advertised.
    pub fn rcv_wnd(&self) -> u32 {
        self.rcv_adv.since(self.rcv_nxt)
    }

    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            local: Some(self.local),
            remote: Some(self.remote),
            state: self.state.name(),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            retransmits: self.retransmits,
            srtt: self.rtt.srtt,
            rto: self.rtt.rto(),
            cwnd: self.cc.window(),
            ssthresh: self.cc.ssthresh(),
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
            rttvar: self.rtt.rttvar,
            mss: self.smss,
            sack: self.sack_ok,
            timestamps: self.ts_ok,
            wscale: self.ws_ok.then_some((self.snd_wscale, self.rcv_wscale)),
            unacked: self.snd_max.since(self.snd_una),
            in_recovery: self.cc.in_recovery(),
            pacing_rate: self.pacing_rate(),
        }
    }

    // ---- the application side (RFC 9293 §3.10.1-§3.10.6) ----

    /// SEND (§3.10.2): queue data. Before ESTABLISHED it is queued for later.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SocketError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fin_queued {
            return Err(SocketError::BrokenPipe);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(SocketError::NotConnected),
            _ => return Err(SocketError::BrokenPipe),
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.send_buf.write(data) {
            0 => Err(SocketError::WouldBlock),
            n => Ok(n),
        }
    }

    pub fn send_capacity(&self) -> usize {
        if self.fin_queued || self.error.is_some() {
            0
        } else {
            self.send_buf.free()
        }
    }

    /// RECEIVE (§3.10.3): Ok(0) at end of stream, WouldBlock while empty.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, SocketError> {
        if !self.rcv_buf.is_empty() && !buf.is_empty() {
            let n = buf.len().min(self.rcv_buf.len());
            let (a, b) = self.rcv_buf.as_slices();
            let k = n.min(a.len());
            buf[..k].copy_from_slice(&a[..k]);
            buf[k..n].copy_from_slice(&b[..n - k]);
            self.rcv_buf.drain(..n);
            self.maybe_window_update();
            return Ok(n);
        }
        if self.fin_rcvd || self.read_shut {
            return Ok(0);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            State::Closed | State::Listen => Ok(0),
            _ => Err(SocketError::WouldBlock),
        }
    }

    pub fn recv_queued(&self) -> usize {
        self.rcv_buf.len()
    }

    /// RFC 9293 §3.8.6.2.2: after the application reads, announce the window once it can move
    /// the right edge by at least min(RCV.BUFF / 2, MSS).
    fn maybe_window_update(&mut self) {
        let cur = self.rcv_wnd();
        let free = self.rcv_free();
        let step = (self.rcv_cap as u32 / 2).min(u32::from(self.our_mss));
        if free >= cur.saturating_add(step) && self.state.can_receive_data() {
            self.ack_now = true;
        }
    }

    /// Close our sending direction: FIN after the queued data (§3.10.4).
    pub fn shutdown_write(&mut self) {
        if self.fin_queued {
            return;
        }
        match self.state {
            // FIN once ESTABLISHED (§3.10.4: "queue for processing after entering ESTABLISHED").
            State::SynSent | State::SynReceived => self.fin_queued = true,
            State::Established => {
                self.fin_queued = true;
                self.set_state(State::FinWait1, "close");
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(State::LastAck, "close");
            }
            _ => {}
        }
    }

    /// Stop reading: buffered and future data are discarded.
    pub fn shutdown_read(&mut self) {
        self.read_shut = true;
        self.rcv_buf.clear();
    }

    /// CLOSE (§3.10.4), the handle is released. RFC 1122 §4.2.2.13 / RFC 9293 §3.10.4: closing
    /// with unread received data SHOULD send RST to show the data was lost.
    pub fn close(&mut self, now: Instant) {
        self.orphan = true;
        if !self.rcv_buf.is_empty() && self.state.is_synchronized() && self.state != State::TimeWait
        {
            self.abort("close with unread data");
            return;
        }
        if self.state == State::SynSent {
            // §3.10.4: CLOSE in SYN-SENT deletes the TCB.
            self.set_state(State::Closed, "close in SYN-SENT");
            return;
        }
        self.shutdown_write();
        if self.state == State::FinWait2 {
            self.timers.set(Timer::TimeWait, now + self.cfg.fin_timeout);
        }
    }

    /// ABORT (§3.10.5): RST in synchronized states, then CLOSED.
    pub fn abort(&mut self, why: &str) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.rst_out = Some((self.snd_max, Some(self.rcv_nxt)));
        }
        self.error.get_or_insert(SocketError::ConnectionAborted);
        self.set_state(State::Closed, why);
    }

    /// User timeout for this connection (RFC 5482); `None` = off.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.cfg.user_timeout = timeout;
        if timeout.is_none() {
            self.timers.stop(Timer::User);
        }
    }

    /// Keep-alive for this connection (RFC 9293 §3.8.4: switchable per connection); `None` = off.
    pub fn set_keepalive(&mut self, now: Instant, idle: Option<Duration>) {
        self.cfg.keepalive = idle;
        self.keepalive_sent = 0;
        self.timers.stop(Timer::Keepalive);
        self.arm_keepalive(now);
    }

    pub fn set_nodelay(&mut self, on: bool) {
        self.nodelay = on;
    }

    /// Feed an ICMP error about this connection (RFC 1122 §4.2.3.9, RFC 5927). `seq` is the
    /// sequence number quoted from our segment. Hard errors abort only a connection still in
    /// SYN-SENT; soft errors are remembered and never kill an established connection.
    pub fn handle_icmp_error(&mut self, hard: bool, err: SocketError, seq: SeqNum) -> bool {
        // RFC 5927 §4.1: the quoted sequence number must be in flight.
        if !(seq.ge(self.snd_una) && seq.lt(self.snd_max.max(self.snd_una.wrapping_add(1)))) {
            return false;
        }
        if hard && self.state == State::SynSent {
            self.fail(err, "ICMP unreachable in SYN-SENT");
        } else {
            self.pending_error = Some(err);
            self.notify = true;
        }
        true
    }

    /// A segment is still owed even though the connection is CLOSED (its RST).
    pub fn poll_pending(&self) -> bool {
        self.rst_out.is_some()
    }

    /// Used by the layer's logging and tests.
    pub fn reassembly_bytes(&self) -> usize {
        self.reasm.bytes()
    }
}
