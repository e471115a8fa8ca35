//! Configuration, per-connection info and layer-wide counters of the TCP engine.
//!
//! Every limit an attacker or a bad peer could push against is here and counted in `TcpStats`
//! when hit. Defaults follow the RFCs (initial RTO 1 s RFC 6298 §2.1, MSL 2 min RFC 9293
//! §3.4.2, keep-alive off RFC 1122 §4.2.3.6); labs shorten them. Read next: `seq.rs`.

use crate::time::Duration;
use std::net::SocketAddrV4;

/// How losses are detected (`--recovery rack|dupack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Recovery {
    /// RACK-TLP (RFC 8985): time-based loss detection and tail loss probes.
    #[default]
    Rack,
    /// Three duplicate ACKs (RFC 5681 §3.2, RFC 6675 DupThresh).
    DupAck,
}

impl Recovery {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rack" => Some(Recovery::Rack),
            "dupack" => Some(Recovery::DupAck),
            _ => None,
        }
    }
}

/// Tunables of the TCP engine. Defaults follow the RFCs; labs change them.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Send and receive buffer size per connection, bytes.
    pub send_buffer: usize,
    pub recv_buffer: usize,
    /// TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2: MSL = 2 minutes; labs shorten it).
    pub msl: Duration,
    /// Initial RTO (RFC 6298 §2.1: 1 s), and the bounds on RTO.
    pub initial_rto: Duration,
    pub min_rto: Duration,
    pub max_rto: Duration,
    /// Give up and abort with TimedOut after this many retransmissions of one segment.
    pub max_retries: u32,
    /// Delayed-ACK timer (RFC 9293 §3.8.6.3: < 0.5 s); zero disables delayed ACKs.
    pub delayed_ack: Duration,
    /// Keep-alive idle time (RFC 1122 §4.2.3.6); `None` = off (the default).
    pub keepalive: Option<Duration>,
    /// SYN queue and accept queue bound per listener.
    pub backlog: usize,
    /// Upper bound on connections (all states) in this layer.
    pub max_connections: usize,
    /// Upper bound on the buffer memory all connections may claim together (each claims its
    /// `send_buffer + recv_buffer`); beyond it new connections are refused like `max_connections`.
    pub max_buffer_memory: usize,
    /// Negotiate window scaling / timestamps / SACK-permitted.
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    /// Congestion control algorithm name ("cubic", "newreno", "reno", "none"; see
    /// `congestion::NAMES`). Default CUBIC (RFC 9438).
    pub cc: String,
    /// HyStart++ (RFC 9406) in CUBIC's slow start.
    pub hystart: bool,
    /// Loss detection: RACK-TLP (RFC 8985, the default) or classic three duplicate ACKs.
    pub recovery: Recovery,
    /// Proportional Rate Reduction (RFC 6937) for the window during recovery.
    pub prr: bool,
    /// Undo a reduction shown spurious by timestamps (Eifel detection, RFC 3522).
    pub undo: bool,
    /// Without timestamps, detect spurious RTOs by F-RTO (RFC 5682: §3.1 with SACK, the basic
    /// §2 without) and undo them; needs `undo`.
    pub frto: bool,
    /// Negotiate ECN (RFC 3168).
    pub ecn: bool,
    /// Pace data at gain × cwnd / SRTT in ~1 ms quanta (`pacing.rs`; Linux
    /// `tcp_update_pacing_rate`). Off by default: see docs/loss-recovery.md, "Pacing".
    pub pacing: bool,
    /// SYN (and SYN,ACK) retransmissions before giving up with TimedOut. The default 7 waits
    /// 1+2+...+128 s = 255 s (RFC 9293 §3.8.3: R2 for a SYN at least 3 minutes).
    pub max_syn_retries: u32,
    /// An orphaned FIN-WAIT-2 (closed by the application) is dropped after this long.
    pub fin_timeout: Duration,
    /// Keep-alive probe interval and count before the connection is declared dead.
    pub keepalive_interval: Duration,
    pub keepalive_probes: u32,
    /// Out-of-order pieces held per connection (bytes are bounded by the receive window). A
    /// connection holds at least `recv_buffer / 1000` (see `set_buffers`), so a receive buffer set
    /// directly also gets room for a window of out-of-order segments.
    pub reassembly_max_segments: usize,
    /// User timeout (RFC 9293 §3.8.3 R2 as a time, RFC 5482): abort with TimedOut when sent data
    /// stays unacknowledged this long. `None` = only `max_retries` applies.
    pub user_timeout: Option<Duration>,
    /// Challenge ACKs per connection per second (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// Answer SYNs with SYN cookies when a listener's SYN queue is full (RFC 4987 §3.6; Linux
    /// `tcp_syncookies=1`).
    pub syn_cookies: bool,
    /// Segmentation offload (TUN `IFF_VNET_HDR`, like Linux TSO): new data may leave as one
    /// super-segment of several full-sized segments that the link splits, its checksum left
    /// partial (the pseudo-header sum) for the link to complete. Only a runtime whose link does
    /// GSO turns it on; captures and the emulator see per-packet segments, so they keep it off.
    pub offload: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            msl: Duration::from_secs(120),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            keepalive: None,
            backlog: 128,
            max_connections: 65536,
            max_buffer_memory: usize::MAX,
            window_scaling: true,
            timestamps: true,
            sack: true,
            cc: "cubic".to_string(),
            hystart: true,
            recovery: Recovery::Rack,
            prr: true,
            undo: true,
            frto: true,
            ecn: false,
            pacing: false,
            max_syn_retries: 7,
            fin_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            reassembly_max_segments: 256,
            user_timeout: None,
            challenge_ack_limit: 10,
            syn_cookies: true,
            offload: false,
        }
    }
}

impl TcpConfig {
    /// Send and receive buffer per connection (`--tcp-buffer`). The out-of-order piece bound
    /// grows with it: a window's worth of full-sized segments must fit after one hole (RFC 1122
    /// §4.2.2.20: out-of-order segments SHOULD be queued), or the receiver drops what the
    /// sender's SACK recovery needs. One piece per 1000 bytes still bounds one-byte islands.
    pub fn set_buffers(&mut self, bytes: usize) {
        let bytes = bytes.max(1);
        (self.send_buffer, self.recv_buffer) = (bytes, bytes);
        self.reassembly_max_segments = self.reassembly_max_segments.max(bytes / 1000);
    }
}

/// A snapshot of one connection, for `--stats` and tests.
#[derive(Clone, Debug, Default)]
pub struct TcpInfo {
    pub local: Option<SocketAddrV4>,
    pub remote: Option<SocketAddrV4>,
    /// RFC 9293 state name, e.g. "ESTABLISHED".
    pub state: &'static str,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retransmits: u64,
    pub srtt: Option<Duration>,
    pub rto: Duration,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    /// RTTVAR (RFC 6298 §2).
    pub rttvar: Duration,
    /// Sender MSS (payload bytes of a full segment).
    pub mss: u32,
    /// Options in use on this connection (RFC 2018, RFC 7323 §3), and the (send, receive)
    /// window-scale shifts when window scaling is in use (RFC 7323 §2).
    pub sack: bool,
    pub timestamps: bool,
    pub wscale: Option<(u8, u8)>,
    /// Bytes sent and not yet acknowledged (SND.MAX − SND.UNA).
    pub unacked: u32,
    /// In fast recovery (RFC 5681 §3.2, RFC 6582).
    pub in_recovery: bool,
    /// Pacing rate in bytes/s (Linux `tcpi_pacing_rate`); 0 = not paced.
    pub pacing_rate: u64,
}

/// Counters of the TCP layer: every dropped segment is counted under a reason.
#[derive(Clone, Debug, Default)]
pub struct TcpStats {
    pub segments_in: u64,
    pub segments_out: u64,
    pub retransmits: u64,
    pub drop_bad_checksum: u64,
    pub drop_malformed: u64,
    pub rst_sent: u64,
    pub connections_opened: u64,
    /// Active opens that took over the 4-tuple of our own TIME-WAIT (`ports.rs`).
    pub time_wait_recycled: u64,
    /// Segments outside the receive window (§3.10.7.4 first check).
    pub drop_out_of_window: u64,
    /// Old duplicates rejected by PAWS (RFC 7323 §5).
    pub drop_paws: u64,
    /// ACKs of data never sent, or too old (RFC 5961 §5).
    pub drop_bad_ack: u64,
    /// Data that arrived after close (answered with RST, RFC 1122 §4.2.2.13).
    pub drop_after_close: u64,
    /// Out-of-order data dropped because the reassembly bound was hit.
    pub drop_reassembly_full: u64,
    /// SYN,FIN segments to a listener, dropped (as Linux).
    pub drop_syn_fin: u64,
    /// SYNs dropped because a listener's backlog was full.
    pub listen_overflows: u64,
    /// SYN cookies sent, ACKs that carried a valid one (connection rebuilt), and ACKs whose
    /// cookie failed while cookies were in use (answered with RST).
    pub syncookies_sent: u64,
    pub syncookies_ok: u64,
    pub syncookies_failed: u64,
    /// SYNs / connects refused because `max_connections` was reached.
    pub connection_limit: u64,
    pub rst_received: u64,
    /// RSTs for segments to nowhere not sent because the RST queue was full.
    pub rst_limited: u64,
    /// ACKs for unacceptable segments without data not sent (one per 500 ms, as Linux).
    pub oow_acks_limited: u64,
    /// RFC 5961 challenge ACKs sent, and those suppressed by the rate limit.
    pub challenge_acks: u64,
    pub challenge_ack_limited: u64,
    /// Fast retransmissions (RFC 5681 §3.2, RFC 6582 partial ACKs).
    pub retransmits_fast: u64,
    pub rto_expirations: u64,
    /// Connections that gave up (retransmission, SYN or keep-alive timeout).
    pub timeouts: u64,
    pub window_probes: u64,
    pub keepalive_probes: u64,
    /// SACK-based recoveries entered (RFC 6675 §5, RFC 8985 §6).
    pub fast_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7) and RACK reordering timer expiries (§6.3).
    pub tlp_probes: u64,
    pub rack_reorder_timeouts: u64,
    /// Tail loss probes that repaired a loss (RFC 8985 §7.4.2: the probe was a resend and no
    /// D-SACK showed it redundant, so the original was lost; the window was reduced).
    pub tlp_repairs: u64,
    /// D-SACK blocks received (RFC 2883) and receivers caught reneging (RFC 2018 §8).
    pub dsacks_received: u64,
    pub sack_reneged: u64,
    /// Reductions undone because the retransmission was spurious (RFC 3522).
    pub spurious_undos: u64,
    /// Times pacing held data back until its next release (`pacing.rs`).
    pub pacing_holds: u64,
    /// ECN (RFC 3168): CE-marked data segments received, window reductions for ECE.
    pub ecn_ce_received: u64,
    pub ecn_reductions: u64,
    /// ICMP errors matched to a connection / ignored.
    pub icmp_errors: u64,
    pub icmp_ignored: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_hold_a_window_of_out_of_order_segments() {
        // RFC 1122 §4.2.2.20: an 8 MB window after one lost segment is ~5800 segments of 1448.
        let mut c = TcpConfig::default();
        c.set_buffers(8 << 20);
        assert_eq!((c.send_buffer, c.recv_buffer), (8 << 20, 8 << 20));
        assert!(c.reassembly_max_segments * 1448 >= c.recv_buffer);
        // Small buffers keep the default bound.
        let mut s = TcpConfig::default();
        s.set_buffers(64 * 1024);
        assert_eq!(
            s.reassembly_max_segments,
            TcpConfig::default().reassembly_max_segments
        );
    }
}
