//! Watches one `Stack` from outside and explains it: every segment sent gets a cause, every
//! received packet that was dropped gets a reason, and changes of state, RTT/RTO and cwnd become
//! trace events.
//!
//! The driver brackets each call into the stack: `before(stack)`, then the call, then
//! `after_input`/`after_timer`/`after_app`, then `on_send` for every segment `poll_transmit`
//! yields. The cause of a segment follows from what woke the stack (a packet, a timer, the
//! application), the layer counters that moved (`rto_expirations`, `retransmits_fast`,
//! `window_probes`, ...) and whether the segment's sequence range was sent before.
//! When `record` is off only the summary counters are kept (no strings are built).

mod foreign;

use std::collections::HashMap;

pub use super::explain::Totals;
use super::explain::{cwnd_reason, drop_reason, make_seg, snapshot, tcp_bytes, transition_rfc};
use super::{Event, Host, Kind, Seg, fmt_us};
use crate::link::rules::{ACK, FIN, RST, SYN, TcpView};
use crate::socket::TcpHandle;
use crate::stack::Stack;
use crate::stack::StatKind;
use crate::tcp::TcpStats;
use crate::tcp::segment::Segment;
use crate::time::Instant;

/// Finished connections kept before the track table is compacted.
const COMPACT_SLACK: usize = 256;

/// What woke the stack before the segments now being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    Input,
    Timer,
    App,
}

#[derive(Clone, Debug, Default)]
struct Last {
    state: &'static str,
    cwnd: u32,
    ssthresh: u32,
    srtt: Option<u64>,
    rto: u64,
    snd_una: u32,
    in_recovery: bool,
}

struct Track {
    flow: u32,
    handle: TcpHandle,
    iss: u32,
    irs: u32,
    last: Last,
    state_since: Instant,
    rto_before: u64,
    sent_any: bool,
    max_end: u32,
    last_ack_sent: Option<(u32, u16)>,
    last_ack_rcvd: Option<(u32, u16)>,
    last_sack: Vec<(u32, u32)>,
    /// RTO retransmissions since the last new ACK.
    rto_n: u32,
    syn_sent: u32,
    /// Fast recovery / post-RTO retransmission until SND.UNA passes this point.
    recover: Option<u32>,
    rto_recover: Option<u32>,
    /// The last segment received carried data (so an unchanged ACK now is a dupACK).
    ooo_in: bool,
    /// Duplicate ACKs received since the last new ACK.
    dupacks: u32,
    gone: bool,
}

/// Counters that tell what an event did.
#[derive(Clone, Copy, Default)]
struct Moved {
    rto: u64,
    fast: u64,
    probes: u64,
    keepalive: u64,
    challenge: u64,
    tlp: u64,
    rack: u64,
}

impl Moved {
    fn between(s: &TcpStats, b: &TcpStats) -> Moved {
        Moved {
            rto: s.rto_expirations - b.rto_expirations,
            fast: s.retransmits_fast - b.retransmits_fast,
            probes: s.window_probes - b.window_probes,
            keepalive: s.keepalive_probes - b.keepalive_probes,
            challenge: s.challenge_acks - b.challenge_acks,
            tlp: s.tlp_probes - b.tlp_probes,
            rack: s.rack_reorder_timeouts - b.rack_reorder_timeouts,
        }
    }
}

pub struct Observer {
    host: Host,
    pub record: bool,
    tracks: Vec<Track>,
    by_ports: HashMap<(u16, u16), usize>,
    /// Flow number of a connection, by the client's port (filled in by the driver).
    pub flows: HashMap<u16, u32>,
    events: Vec<Event>,
    stack_drops: Vec<u64>,
    tcp_before: TcpStats,
    /// Counters after the last segment sent: some move inside `poll_transmit` itself.
    emit_base: TcpStats,
    /// Counters at the start of the current batch (see `set_batching`).
    batch_base: TcpStats,
    batching: bool,
    keep_events: bool,
    auto_flows: bool,
    next_flow: u32,
    batch_open: bool,
    ctx: Ctx,
    moved: Moved,
    rto_used: bool,
    challenge_used: bool,
    max_handle: u32,
    /// Tracks of connections still in the table, by handle.
    live: HashMap<u32, usize>,
    pub totals: Totals,
    /// Connections of an endpoint we cannot look inside (smoltcp), by (local, remote) port.
    foreign: HashMap<(u16, u16), foreign::Flow>,
}

impl Observer {
    pub fn new(host: Host, record: bool) -> Self {
        Observer {
            host,
            record,
            tracks: Vec::new(),
            by_ports: HashMap::new(),
            flows: HashMap::new(),
            events: Vec::new(),
            stack_drops: Vec::new(),
            tcp_before: TcpStats::default(),
            emit_base: TcpStats::default(),
            batch_base: TcpStats::default(),
            batching: false,
            keep_events: true,
            auto_flows: false,
            next_flow: 0,
            batch_open: false,
            ctx: Ctx::App,
            moved: Moved::default(),
            rto_used: false,
            challenge_used: false,
            max_handle: 0,
            live: HashMap::new(),
            totals: Totals::default(),
            foreign: HashMap::new(),
        }
    }

    /// Events since the last call.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Number connections 1, 2, ... as they appear (when the driver has no flow list).
    pub fn set_auto_flows(&mut self, on: bool) {
        self.auto_flows = on;
    }

    /// Build comments but keep no events (a driver that only writes a capture).
    pub fn set_keep_events(&mut self, keep: bool) {
        self.keep_events = keep;
    }

    fn push(&mut self, t: Instant, flow: u32, kind: Kind) {
        if self.record && self.keep_events {
            self.events.push(Event {
                t,
                host: self.host,
                flow,
                kind,
            });
        }
    }

    /// Call before handing the stack a packet, a timer or an application call.
    pub fn before(&mut self, stack: &Stack) {
        self.stack_drops.clear();
        self.stack_drops.extend(
            stack
                .stats()
                .counters()
                .into_iter()
                .filter(|c| c.1 == StatKind::Drop)
                .map(|c| c.2),
        );
        self.tcp_before = stack.tcp().stats().clone();
        if self.batching && self.batch_open {
            return;
        }
        self.batch_open = true;
        self.batch_base = self.tcp_before.clone();
        self.rto_used = false;
        self.challenge_used = false;
        for t in &mut self.tracks {
            t.rto_before = t.last.rto;
        }
    }

    /// For a driver that feeds several events to the stack before draining `poll_transmit`
    /// (the TUN runtime): what moved is counted from the first event of the batch until
    /// `batch_done`, so a segment's cause is still found after the batch.
    pub fn set_batching(&mut self, on: bool) {
        self.batching = on;
    }

    /// The driver drained `poll_transmit`: the next event starts a new batch.
    pub fn batch_done(&mut self) {
        self.batch_open = false;
    }

    fn begin(&mut self, stack: &Stack, ctx: Ctx) {
        let s = stack.tcp().stats();
        let b = if self.batching {
            &self.batch_base
        } else {
            &self.tcp_before
        };
        self.ctx = ctx;
        self.moved = Moved::between(s, b);
        self.emit_base = s.clone();
    }

    /// After `handle_packet(now, packet)`. Returns the drop reason when the stack dropped it.
    pub fn after_input(&mut self, now: Instant, stack: &Stack, packet: &[u8]) -> Option<String> {
        self.begin(stack, Ctx::Input);
        let reason = drop_reason(stack, &self.stack_drops, &self.tcp_before);
        let view = TcpView::parse(packet);
        let idx = view.and_then(|v| self.track(now, stack, v.dst_port, v.src_port));
        let seg = match (view, idx) {
            (Some(v), Some(i)) => self.recv_seg(now, stack, i, packet, &v),
            _ => None,
        };
        if let Some(r) = &reason {
            self.totals.packets_dropped += 1;
            let flow = idx.map_or(0, |i| self.tracks[i].flow);
            self.push(
                now,
                flow,
                Kind::Drop {
                    seg,
                    reason: r.clone(),
                },
            );
        }
        match idx {
            Some(i) => self.sweep(now, stack, i),
            None => self.sweep_all(now, stack),
        }
        reason
    }

    pub fn after_timer(&mut self, now: Instant, stack: &Stack) {
        self.begin(stack, Ctx::Timer);
        self.sweep_all(now, stack);
    }

    pub fn after_app(&mut self, now: Instant, stack: &Stack) {
        self.begin(stack, Ctx::App);
        self.sweep_all(now, stack);
    }

    /// The track of (local port, remote port), found in the stack's table on first sight.
    fn track(&mut self, now: Instant, stack: &Stack, local: u16, remote: u16) -> Option<usize> {
        if let Some(&i) = self.by_ports.get(&(local, remote)) {
            let t = &self.tracks[i];
            let alive = stack
                .tcp()
                .connection(t.handle)
                .is_some_and(|c| c.local.port() == local && c.remote.port() == remote);
            if alive || !matches!(t.last.state, "CLOSED" | "TIME-WAIT") {
                return Some(i);
            }
        }
        // Handles are small integers handed out in order: a new connection sits above (or a
        // little below) the largest handle seen so far.
        let tcp = stack.tcp();
        let low = self.max_handle.saturating_sub(1024).max(1);
        let found = (low..=self.max_handle + 256).map(TcpHandle).find_map(|h| {
            let c = tcp.connection(h)?;
            (c.local.port() == local && c.remote.port() == remote && !self.live.contains_key(&h.0))
                .then_some((h, c))
        })?;
        let (h, c) = found;
        self.max_handle = self.max_handle.max(h.0);
        let client_port = match self.host {
            Host::Client => local,
            Host::Server => remote,
        };
        let flow = match self.flows.get(&client_port) {
            Some(f) => *f,
            None if self.auto_flows => {
                // Numbered in order of appearance (the TUN runtime has no flow list).
                self.next_flow += 1;
                self.flows.insert(client_port, self.next_flow);
                self.next_flow
            }
            None => 0,
        };
        let i = self.tracks.len();
        self.tracks.push(Track {
            flow,
            handle: h,
            iss: c.iss.0,
            irs: c.irs.0,
            last: Last {
                state: "CLOSED",
                ..Last::default()
            },
            state_since: now,
            rto_before: 0,
            sent_any: false,
            max_end: c.iss.0,
            last_ack_sent: None,
            last_ack_rcvd: None,
            last_sack: Vec::new(),
            rto_n: 0,
            syn_sent: 0,
            recover: None,
            rto_recover: None,
            ooo_in: false,
            dupacks: 0,
            gone: false,
        });
        self.by_ports.insert((local, remote), i);
        self.live.insert(h.0, i);
        let (l, r) = (c.local.to_string(), c.remote.to_string());
        self.push(
            now,
            flow,
            Kind::Open {
                local: l,
                remote: r,
            },
        );
        self.sweep(now, stack, i);
        Some(i)
    }

    fn sweep_all(&mut self, now: Instant, stack: &Stack) {
        for i in 0..self.tracks.len() {
            if !self.tracks[i].gone {
                self.sweep(now, stack, i);
            }
        }
        // A long-running stack closes many connections: forget the finished ones.
        if self.tracks.len() > 2 * self.live.len() + COMPACT_SLACK {
            self.tracks.retain(|t| !t.gone);
            self.by_ports.clear();
            self.live.clear();
            for (i, t) in self.tracks.iter().enumerate() {
                let c = stack.tcp().connection(t.handle);
                if let Some(c) = c {
                    self.by_ports.insert((c.local.port(), c.remote.port()), i);
                }
                self.live.insert(t.handle.0, i);
            }
        }
    }

    /// Compare one connection with what we saw last and report the differences.
    fn sweep(&mut self, now: Instant, stack: &Stack, i: usize) {
        let (ctx, moved) = (self.ctx, self.moved);
        let t = &mut self.tracks[i];
        let flow = t.flow;
        let conn = stack
            .tcp()
            .connection(t.handle)
            .filter(|c| c.iss.0 == t.iss);
        let Some(c) = conn else {
            if t.last.state != "CLOSED" {
                let from = t.last.state;
                let rfc = if from == "TIME-WAIT" {
                    "RFC 9293 §3.10.8: time-wait timeout (2×MSL)"
                } else {
                    "RFC 9293 §3.10.7.4: connection reset or closed"
                };
                account(&mut self.totals, t, now, "CLOSED");
                t.gone = true;
                self.live.remove(&t.handle.0);
                self.push(
                    now,
                    flow,
                    Kind::State {
                        from,
                        to: "CLOSED",
                        rfc,
                    },
                );
            }
            return;
        };
        t.irs = c.irs.0;
        let info = c.info();
        let (state, cwnd, ssthresh) = (info.state, info.cwnd, info.ssthresh);
        let srtt = info.srtt.map(|d| d.total_micros());
        let rto = info.rto.total_micros();
        let una = c.snd_una.0;
        let flight = c.snd_max.since(c.snd_una);
        let mut ev: Vec<Kind> = Vec::new();
        if state != t.last.state {
            ev.push(Kind::State {
                from: t.last.state,
                to: state,
                rfc: transition_rfc(t.last.state, state, ctx),
            });
            account(&mut self.totals, t, now, state);
        }
        if srtt != t.last.srtt
            && let Some(s) = srtt
        {
            let sample = match t.last.srtt {
                Some(old) => (8 * s).saturating_sub(7 * old),
                None => s,
            };
            self.totals.rtt_samples += 1;
            self.totals.rtt_sum_us += sample;
            self.totals.rtt_max_us = self.totals.rtt_max_us.max(sample);
            self.totals.rtt_min_us = Some(self.totals.rtt_min_us.map_or(sample, |m| m.min(sample)));
            ev.push(Kind::Rtt {
                sample_us: sample,
                srtt_us: s,
                rto_us: rto,
            });
        } else if rto != t.last.rto && t.last.rto != 0 {
            let reason = if rto > t.last.rto && ctx == Ctx::Timer {
                "back-off: RTO doubled (RFC 6298 §5.5)"
            } else {
                "RTO recomputed (RFC 6298 §2)"
            };
            ev.push(Kind::Rto {
                rto_us: rto,
                reason,
            });
        }
        if una != t.last.snd_una && c.snd_una.gt(crate::tcp::seq::SeqNum(t.last.snd_una)) {
            t.rto_n = 0;
            let past = |p: Option<u32>| p.filter(|p| (una.wrapping_sub(*p) as i32) < 0);
            t.recover = past(t.recover);
            t.rto_recover = past(t.rto_recover);
        }
        if (cwnd, ssthresh) != (t.last.cwnd, t.last.ssthresh) && state != "CLOSED" {
            let reason = cwnd_reason(
                c.cc_name(),
                ctx,
                moved.rto > 0,
                (t.last.in_recovery, info.in_recovery),
                (t.last.cwnd, t.last.ssthresh),
                (cwnd, ssthresh),
            );
            ev.push(Kind::Cwnd {
                cwnd,
                ssthresh: (ssthresh != u32::MAX).then_some(ssthresh),
                flight,
                reason,
            });
        }
        t.last = Last {
            state,
            cwnd,
            ssthresh,
            srtt,
            rto,
            snd_una: una,
            in_recovery: info.in_recovery,
        };
        for k in ev {
            self.push(now, flow, k);
        }
    }

    fn recv_seg(
        &mut self,
        now: Instant,
        stack: &Stack,
        i: usize,
        packet: &[u8],
        v: &TcpView,
    ) -> Option<Seg> {
        let t = &mut self.tracks[i];
        let conn = stack
            .tcp()
            .connection(t.handle)
            .filter(|c| c.iss.0 == t.iss);
        let wnd = conn.map_or(0, |c| c.snd_wnd);
        if let Some(c) = conn {
            t.irs = c.irs.0;
        }
        let seg = tcp_bytes(packet, v).and_then(|b| Segment::parse(b).ok())?;
        let dup = v.is_pure_ack()
            && v.window != 0
            && t.last_ack_rcvd == Some((v.ack, v.window))
            && t.sent_any;
        if v.has(ACK) {
            if t.last_ack_rcvd.is_some_and(|(a, _)| a != v.ack) {
                t.dupacks = 0;
            }
            t.last_ack_rcvd = Some((v.ack, v.window));
        }
        if dup {
            t.dupacks += 1;
        }
        t.ooo_in = v.payload_len > 0;
        if dup {
            self.totals.dup_acks_received += 1;
        }
        let (irs, iss) = (t.irs, t.iss);
        let g = make_seg(v, &seg, irs, iss);
        let flow = t.flow;
        let sack_changed = g.sack != t.last_sack && v.has(ACK);
        if sack_changed {
            t.last_sack = g.sack.clone();
        }
        if self.record {
            self.push(
                now,
                flow,
                Kind::Recv {
                    seg: g.clone(),
                    dup_ack: dup,
                    wnd,
                },
            );
            if sack_changed {
                let blocks = g.sack.clone();
                self.push(now, flow, Kind::Sack { blocks });
            }
        }
        Some(g)
    }

    /// A segment `poll_transmit` just produced. Returns the pcapng comment when recording.
    pub fn on_send(&mut self, now: Instant, stack: &Stack, packet: &[u8]) -> Option<String> {
        self.totals.segments_sent += 1;
        let v = TcpView::parse(packet)?;
        let Some(i) = self.track(now, stack, v.src_port, v.dst_port) else {
            let why = "RST: segment for no connection (RFC 9293 §3.10.7.1)";
            return self.record.then(|| why.to_string());
        };
        let (ctx, ev) = (self.ctx, self.moved);
        // What moved while the event ran, plus what `poll_transmit` moved for this segment.
        let now_stats = stack.tcp().stats().clone();
        let emit = Moved::between(&now_stats, &self.emit_base);
        self.emit_base = now_stats;
        let moved = Moved {
            rto: ev.rto,
            fast: ev.fast + emit.fast,
            probes: ev.probes + emit.probes,
            keepalive: ev.keepalive + emit.keepalive,
            challenge: ev.challenge,
            tlp: ev.tlp + emit.tlp,
            rack: ev.rack + emit.rack,
        };
        let t = &mut self.tracks[i];
        let (at_una, sack_on) = stack
            .tcp()
            .connection(t.handle)
            .map_or((false, false), |c| (c.snd_una.0 == v.seq, c.info().sack));
        let end = v.seq.wrapping_add(v.seg_len());
        let rexmit = v.seg_len() > 0 && t.sent_any && (end.wrapping_sub(t.max_end) as i32) <= 0;
        if v.seg_len() > 0 && (!t.sent_any || (end.wrapping_sub(t.max_end) as i32) > 0) {
            t.max_end = end;
        }
        t.sent_any |= v.seg_len() > 0 || v.has(ACK);
        if v.payload_len > 0 {
            self.totals.data_segments += 1;
        }
        let rto_fired = || fmt_us(t.rto_before);
        let (cause, why): (&'static str, String) = if v.has(RST) {
            ("rst", "RST: connection aborted (RFC 9293 §3.10.7.4)".into())
        } else if v.has(SYN) {
            t.syn_sent += 1;
            let name = if v.has(ACK) { "SYN-ACK" } else { "SYN" };
            if rexmit {
                let c = if v.has(ACK) {
                    "synack_retransmit"
                } else {
                    "syn_retransmit"
                };
                let n = t.syn_sent - 1;
                (
                    c,
                    format!("{name} retransmit #{n}: RTO fired (rto={})", rto_fired()),
                )
            } else if v.has(ACK) {
                (
                    "synack",
                    "SYN-ACK: passive open (RFC 9293 §3.10.7.2)".into(),
                )
            } else {
                ("syn", "SYN: active open (RFC 9293 §3.10.1)".into())
            }
        } else if rexmit {
            match ctx {
                Ctx::Timer if moved.probes > 0 => (
                    "zero_window_probe",
                    "zero-window probe (RFC 9293 §3.8.6.1)".into(),
                ),
                Ctx::Timer if moved.keepalive > 0 => {
                    ("keepalive", "keep-alive probe (RFC 1122 §4.2.3.6)".into())
                }
                Ctx::Timer if moved.tlp > 0 => (
                    "tail_loss_probe",
                    "tail loss probe (RFC 8985 §7)".into(),
                ),
                Ctx::Timer if moved.rack > 0 && moved.rto == 0 => {
                    t.recover.get_or_insert(t.max_end);
                    (
                        "rack_timeout",
                        "RACK reordering timer: marked lost by time (RFC 8985 §6.3)".into(),
                    )
                }
                _ if ctx == Ctx::Timer || (moved.rto > 0 && !self.rto_used) => {
                    if !self.rto_used {
                        t.rto_n += 1;
                        self.rto_used = true;
                    }
                    t.rto_recover = Some(t.max_end);
                    t.recover = None;
                    let n = t.rto_n;
                    ("rto", format!("RTO #{n} fired (rto={})", rto_fired()))
                }
                _ if t.rto_recover.is_some() && moved.fast == 0 => (
                    "goback_n",
                    "go-back-N retransmit after a timeout, from SND.UNA (RFC 5681 §3.1, RFC 6298 §5)"
                        .into(),
                ),
                _ if moved.fast > 0 && t.recover.is_none() => {
                    t.recover = Some(t.max_end);
                    let n = t.dupacks;
                    if n >= 2 && at_una {
                        let why =
                            format!("fast retransmit after {n} dupACKs (RFC 5681 §3.2, RFC 6675 §5)");
                        ("fast_retransmit", why)
                    } else {
                        let why = "retransmit: SACK/RACK marked it lost (RFC 6675 §5, RFC 8985 §6.2)";
                        ("sack_retransmit", why.to_string())
                    }
                }
                _ if moved.fast > 0 && at_una && !sack_on => (
                    "partial_ack",
                    "retransmit after a partial ACK (RFC 6582 §3.2)".into(),
                ),
                _ if t.recover.is_some() || moved.fast > 0 => (
                    "sack_retransmit",
                    "retransmit of a SACK hole during recovery (RFC 6675 §5)".into(),
                ),
                _ => ("retransmit", "retransmission".into()),
            }
        } else if v.payload_len > 0 {
            if ctx == Ctx::Timer && moved.tlp > 0 {
                (
                    "tail_loss_probe",
                    "tail loss probe: new data (RFC 8985 §7)".into(),
                )
            } else if ctx == Ctx::Timer && moved.probes > 0 {
                (
                    "zero_window_probe",
                    "zero-window probe (RFC 9293 §3.8.6.1)".into(),
                )
            } else if v.has(FIN) {
                ("new_data", "new data + FIN".into())
            } else {
                ("new_data", "new data".into())
            }
        } else if v.has(FIN) {
            ("fin", "FIN: application closed (RFC 9293 §3.10.4)".into())
        } else if ctx == Ctx::Timer && moved.keepalive > 0 {
            ("keepalive", "keep-alive probe (RFC 1122 §4.2.3.6)".into())
        } else if ctx == Ctx::Input && moved.challenge > 0 && !self.challenge_used {
            self.challenge_used = true;
            ("challenge_ack", "challenge ACK (RFC 5961 §4)".into())
        } else {
            let prev = t.last_ack_sent;
            match prev {
                Some((a, w)) if a == v.ack && v.window > w => (
                    "window_update",
                    "window update (RFC 9293 §3.8.6.2.2)".into(),
                ),
                _ if ctx == Ctx::Timer => (
                    "delayed_ack",
                    "delayed-ACK timer (RFC 9293 §3.8.6.3)".into(),
                ),
                Some((a, _)) if a == v.ack && ctx == Ctx::Input && t.ooo_in => (
                    "dup_ack",
                    "duplicate ACK: out-of-order segment (RFC 5681 §4.2)".into(),
                ),
                _ => ("ack", "ACK".into()),
            }
        };
        if v.has(ACK) {
            t.last_ack_sent = Some((v.ack, v.window));
        }
        if rexmit {
            self.totals.retransmissions += 1;
            match cause {
                "rto" | "syn_retransmit" | "synack_retransmit" => {
                    self.totals.rto_retransmissions += 1
                }
                "fast_retransmit" => self.totals.fast_retransmissions += 1,
                _ => self.totals.other_retransmissions += 1,
            }
        }
        if !self.record {
            return None;
        }
        let flow = t.flow;
        let c = stack.tcp().connection(t.handle)?;
        let snap = snapshot(c);
        let seg = tcp_bytes(packet, &v)
            .and_then(|b| Segment::parse(b).ok())
            .map(|s| make_seg(&v, &s, t.iss, t.irs))
            .unwrap_or_default();
        let comment = format!("{why} | {}", snap.comment());
        self.push(
            now,
            flow,
            Kind::Send {
                seg,
                rexmit,
                cause,
                why,
                snap,
            },
        );
        Some(comment)
    }

    /// Close the books: time in the current state counts up to `now`.
    pub fn finish(&mut self, now: Instant) {
        for t in &mut self.tracks {
            if !t.gone {
                let s = t.last.state;
                account(&mut self.totals, t, now, s);
            }
        }
    }
}

/// Add the time spent in the old state and move to `to`.
fn account(totals: &mut Totals, t: &mut Track, now: Instant, to: &'static str) {
    let from = t.last.state;
    let us = now.saturating_duration_since(t.state_since).total_micros();
    if from != "CLOSED" {
        match totals.time_in_state.iter_mut().find(|(s, _)| *s == from) {
            Some(e) => e.1 += us,
            None => totals.time_in_state.push((from, us)),
        }
    }
    t.state_since = now;
    t.last.state = to;
}
