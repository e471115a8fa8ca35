//! The decision trace: what the TCP endpoints did and why, as events (JSON lines, pcapng
//! comments, plots). Schema: docs/trace-schema.md.
//!
//! The events are inferred by `observer::Observer` from outside the engine: it watches each
//! connection's TCB (state, cwnd, srtt, rto, snd_una/snd_max) and the layer counters around every
//! driver call (packet in, timer, application call) and classifies every segment sent (new
//! data, RTO retransmission, fast retransmit, delayed ACK, ...). `lab::Lab` drives two stacks
//! over the emulated link (`tunstack sim`) and feeds the observer; `json` reads traces back
//! for `tunstack plot`.

mod explain;
pub mod json;
pub mod lab;
pub mod observer;
pub mod tap;

use std::fmt::Write as _;

use crate::time::Instant;

/// Which endpoint of the simulation an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Client,
    Server,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Client => "client",
            Host::Server => "server",
        }
    }
}

/// The TCB as a segment left (or an event happened). `ssthresh = None` is "infinite".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub state: &'static str,
    pub cwnd: u32,
    pub ssthresh: Option<u32>,
    pub srtt_us: Option<u64>,
    pub rto_us: u64,
    /// Bytes sent and not yet acknowledged (SND.MAX − SND.UNA).
    pub flight: u32,
    /// The window we advertise, and the peer's window (SND.WND).
    pub rwnd: u32,
    pub snd_wnd: u32,
}

/// A TCP segment as the trace shows it; sequence numbers relative to each side's ISN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seg {
    pub seq: u32,
    pub len: u32,
    pub ack: u32,
    pub flags: String,
    pub win: u32,
    pub sack: Vec<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A connection appeared in the table.
    Open { local: String, remote: String },
    /// We sent a segment; `cause` is a short code, `why` the sentence for humans.
    Send {
        seg: Seg,
        rexmit: bool,
        cause: &'static str,
        why: String,
        snap: Snapshot,
    },
    /// A segment arrived. `dup_ack` as Wireshark defines it; `wnd` is the peer's window in
    /// bytes (scaled) as the TCB holds it afterwards (SND.WND).
    Recv { seg: Seg, dup_ack: bool, wnd: u32 },
    /// The stack dropped a received packet.
    Drop { seg: Option<Seg>, reason: String },
    State {
        from: &'static str,
        to: &'static str,
        rfc: &'static str,
    },
    /// An RTT measurement (inferred from the SRTT update: R = 8·SRTT' − 7·SRTT, RFC 6298 §2.3).
    Rtt {
        sample_us: u64,
        srtt_us: u64,
        rto_us: u64,
    },
    /// RTO changed without a new measurement (back-off, RFC 6298 §5.5).
    Rto { rto_us: u64, reason: &'static str },
    Cwnd {
        cwnd: u32,
        ssthresh: Option<u32>,
        flight: u32,
        reason: &'static str,
    },
    /// The SACK blocks the peer reports changed (the sender's scoreboard, RFC 2018 / RFC 6675).
    Sack { blocks: Vec<(u32, u32)> },
    /// The link or a rule did something to a packet (`dir` is c2s or s2c).
    Link {
        dir: &'static str,
        action: String,
        reason: String,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Open { .. } => "open",
            Kind::Send { .. } => "send",
            Kind::Recv { .. } => "recv",
            Kind::Drop { .. } => "drop",
            Kind::State { .. } => "state",
            Kind::Rtt { .. } => "rtt",
            Kind::Rto { .. } => "rto",
            Kind::Cwnd { .. } => "cwnd",
            Kind::Sack { .. } => "sack",
            Kind::Link { .. } => "link",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub t: Instant,
    pub host: Host,
    /// 1-based flow number (0 for link events that match no flow).
    pub flow: u32,
    pub kind: Kind,
}

impl Event {
    /// One line of JSON (no newline). Keys in a fixed order, so output is byte-for-byte stable.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "{{\"t\":{},\"host\":\"{}\",\"flow\":{},\"ev\":\"{}\"",
            self.t.total_micros(),
            self.host.name(),
            self.flow,
            self.kind.name()
        );
        match &self.kind {
            Kind::Open { local, remote } => {
                kv_str(&mut s, "local", local);
                kv_str(&mut s, "remote", remote);
            }
            Kind::Send {
                seg,
                rexmit,
                cause,
                why,
                snap,
            } => {
                put_seg(&mut s, seg);
                let _ = write!(s, ",\"rexmit\":{rexmit}");
                kv_str(&mut s, "cause", cause);
                kv_str(&mut s, "why", why);
                put_snap(&mut s, snap);
            }
            Kind::Recv { seg, dup_ack, wnd } => {
                put_seg(&mut s, seg);
                let _ = write!(s, ",\"dup_ack\":{dup_ack},\"wnd\":{wnd}");
            }
            Kind::Drop { seg, reason } => {
                if let Some(seg) = seg {
                    put_seg(&mut s, seg);
                }
                kv_str(&mut s, "reason", reason);
            }
            Kind::State { from, to, rfc } => {
                kv_str(&mut s, "from", from);
                kv_str(&mut s, "to", to);
                kv_str(&mut s, "rfc", rfc);
            }
            Kind::Rtt {
                sample_us,
                srtt_us,
                rto_us,
            } => {
                let _ = write!(
                    s,
                    ",\"sample_us\":{sample_us},\"srtt_us\":{srtt_us},\"rto_us\":{rto_us}"
                );
            }
            Kind::Rto { rto_us, reason } => {
                let _ = write!(s, ",\"rto_us\":{rto_us}");
                kv_str(&mut s, "reason", reason);
            }
            Kind::Cwnd {
                cwnd,
                ssthresh,
                flight,
                reason,
            } => {
                let _ = write!(s, ",\"cwnd\":{cwnd},\"ssthresh\":");
                opt_num(&mut s, ssthresh.map(u64::from));
                let _ = write!(s, ",\"flight\":{flight}");
                kv_str(&mut s, "reason", reason);
            }
            Kind::Sack { blocks } => {
                s.push_str(",\"blocks\":");
                put_blocks(&mut s, blocks);
            }
            Kind::Link {
                dir,
                action,
                reason,
            } => {
                kv_str(&mut s, "dir", dir);
                kv_str(&mut s, "action", action);
                kv_str(&mut s, "reason", reason);
            }
        }
        s.push('}');
        s
    }
}

fn put_seg(s: &mut String, g: &Seg) {
    let _ = write!(
        s,
        ",\"seq\":{},\"len\":{},\"ack\":{},\"flags\":\"{}\",\"win\":{},\"sack\":",
        g.seq, g.len, g.ack, g.flags, g.win
    );
    put_blocks(s, &g.sack);
}

fn put_blocks(s: &mut String, b: &[(u32, u32)]) {
    s.push('[');
    for (i, (l, r)) in b.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "[{l},{r}]");
    }
    s.push(']');
}

fn put_snap(s: &mut String, n: &Snapshot) {
    kv_str(s, "state", n.state);
    let _ = write!(s, ",\"cwnd\":{},\"ssthresh\":", n.cwnd);
    opt_num(s, n.ssthresh.map(u64::from));
    s.push_str(",\"srtt_us\":");
    opt_num(s, n.srtt_us);
    let _ = write!(
        s,
        ",\"rto_us\":{},\"flight\":{},\"rwnd\":{},\"snd_wnd\":{}",
        n.rto_us, n.flight, n.rwnd, n.snd_wnd
    );
}

fn opt_num(s: &mut String, v: Option<u64>) {
    match v {
        Some(v) => {
            let _ = write!(s, "{v}");
        }
        None => s.push_str("null"),
    }
}

fn kv_str(s: &mut String, k: &str, v: &str) {
    let _ = write!(s, ",\"{k}\":\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

/// "50.2ms", "1s", "250us": short durations for comments.
pub fn fmt_us(us: u64) -> String {
    if us >= 1_000_000 && us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1000 {
        let ms = us as f64 / 1000.0;
        if us.is_multiple_of(1000) {
            format!("{}ms", us / 1000)
        } else {
            format!("{ms:.1}ms")
        }
    } else {
        format!("{us}us")
    }
}

impl Snapshot {
    /// The state part of a pcapng comment.
    pub fn comment(&self) -> String {
        let ss = self
            .ssthresh
            .map_or_else(|| "inf".to_string(), |v| v.to_string());
        let srtt = self.srtt_us.map_or_else(|| "-".to_string(), fmt_us);
        format!(
            "state={} cwnd={} ssthresh={} srtt={} rto={} flight={} rwnd={}",
            self.state,
            self.cwnd,
            ss,
            srtt,
            fmt_us(self.rto_us),
            self.flight,
            self.rwnd
        )
    }
}
