//! Scripted impairments: exact, reproducible faults chosen by rule instead of by chance.
//!
//! A rule names an action, an optional direction and a packet selector:
//! ```text
//! drop data#3              the 3rd segment carrying data (retransmissions count too)
//! drop seq=14481           the first segment whose payload covers relative byte 14481
//! drop seq=1 count=2       the first two segments covering byte 1 (original + 1st retransmission)
//! drop rexmit seq=14481    the first retransmission of the segment covering byte 14481
//! delay ack#5 by 300ms     the 5th pure ACK (server → client by default)
//! dup synack               the SYN-ACK goes out twice
//! reorder data#10          data segments 10 and 11 swap places
//! corrupt data#7           one bit of segment 7's payload flips (the checksum must catch it)
//! blackhole s2c from 1s to 1.5s   nothing from the server gets through in [1 s, 1.5 s)
//! spike c2s from 1s to 1.2s by 400ms   a delay spike: what the client sends in [1 s, 1.2 s)
//!                          waits 400 ms more, and what follows waits its turn (order kept,
//!                          nothing lost: the spurious timeout of RFC 5682 §1 / RFC 3522 §1)
//! ```
//! Directions: `c2s` (from the connecting side) or `s2c`; the default is `c2s` for data, seq, pkt,
//! syn and fin, `s2c` for ack and synack. Counting is per connection and per direction, so
//! `drop data#3` drops the 3rd data segment of every flow. Sequence numbers are relative to the
//! sender's ISN (as Wireshark shows them: the first data byte is 1).
//! The engine is a stage in front of `Impair`: it passes, drops, duplicates, corrupts or holds a
//! packet, and hands back held packets when they are due (`poll_release`).

use std::collections::HashMap;
use std::fmt;

use crate::time::{Duration, Instant};

/// A held packet for `reorder` waits at most this long for its successor.
pub const REORDER_MAX_HOLD: Duration = Duration::from_millis(200);

/// Which way a packet goes, seen from the connection's opener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// From the connecting side (client) to the listening side (server).
    C2S,
    S2C,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::C2S => "c2s",
            Side::S2C => "s2c",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Drop,
    Dup,
    Delay(Duration),
    Reorder,
    Corrupt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The Nth segment carrying data (1-based).
    Data(u64),
    /// The Nth pure ACK (no data, no SYN/FIN/RST).
    Ack(u64),
    /// The Nth packet of any kind.
    Pkt(u64),
    /// Segments covering relative byte X; `rexmit` = only retransmissions.
    Seq {
        x: u32,
        rexmit: bool,
    },
    Syn(u64),
    SynAck(u64),
    Fin(u64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    Packet {
        action: Action,
        side: Side,
        sel: Selector,
        /// How many matching packets the rule acts on (only for `seq=`; others match once).
        count: u64,
        text: String,
    },
    Blackhole {
        sides: Vec<Side>,
        from: Instant,
        to: Instant,
        text: String,
    },
    /// Packets in [from, to) wait `by` more; later ones wait behind them (FIFO, nothing lost).
    Spike {
        sides: Vec<Side>,
        from: Instant,
        to: Instant,
        by: Duration,
        text: String,
    },
}

impl Rule {
    pub fn text(&self) -> &str {
        match self {
            Rule::Packet { text, .. } | Rule::Blackhole { text, .. } | Rule::Spike { text, .. } => {
                text
            }
        }
    }
}

/// A bad rule: which one and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub line: usize,
    pub rule: String,
    pub msg: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad rule {} {:?}: {}", self.line, self.rule, self.msg)
    }
}

impl std::error::Error for RuleError {}

const SYNTAX: &str = "expected ACTION [c2s|s2c] SELECTOR [by DURATION] [count=K], ACTION one of \
     drop, dup, delay, reorder, corrupt; SELECTOR one of data#N, ack#N, pkt#N, seq=X, rexmit seq=X, \
     syn, synack, fin (#N optional); or: blackhole c2s|s2c|both from T1 to T2; or: spike \
     c2s|s2c|both from T1 to T2 by D";

/// Parse a rules file: one rule per line, `#` starts a comment.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, RuleError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // `#` also appears in selectors (data#3): only a `#` at a word start is a comment.
        let line = comment_free(line);
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_rule_at(line.trim(), i + 1)?);
    }
    Ok(out)
}

/// Cut a comment: `#` at the start of the line or after whitespace.
fn comment_free(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b.get(i - 1).is_some_and(|p| p.is_ascii_whitespace())) {
            return line.get(..i).unwrap_or("");
        }
    }
    line
}

pub fn parse_rule(s: &str) -> Result<Rule, RuleError> {
    parse_rule_at(s.trim(), 1)
}

fn parse_rule_at(s: &str, line: usize) -> Result<Rule, RuleError> {
    let err = |msg: String| RuleError {
        line,
        rule: s.to_string(),
        msg,
    };
    let words: Vec<&str> = s.split_whitespace().collect();
    let Some((&first, rest)) = words.split_first() else {
        return Err(err(format!("empty rule; {SYNTAX}")));
    };
    if first == "blackhole" {
        return parse_blackhole(rest, s).map_err(err);
    }
    if first == "spike" {
        return parse_spike(rest, s).map_err(err);
    }
    let action = match first {
        "drop" => Action::Drop,
        "dup" | "duplicate" => Action::Dup,
        "delay" => Action::Delay(Duration::ZERO),
        "reorder" => Action::Reorder,
        "corrupt" => Action::Corrupt,
        w => return Err(err(format!("unknown action {w:?}; {SYNTAX}"))),
    };
    let mut it = rest.iter().copied().peekable();
    let mut side = None;
    if let Some(w) = it.peek().and_then(|w| parse_side(w)) {
        side = Some(w);
        it.next();
    }
    let mut rexmit = false;
    if it.peek() == Some(&"rexmit") {
        rexmit = true;
        it.next();
    }
    let Some(sel_word) = it.next() else {
        return Err(err(format!("missing packet selector; {SYNTAX}")));
    };
    let sel = parse_selector(sel_word, rexmit).map_err(|m| err(format!("{m}; {SYNTAX}")))?;
    let (mut action, mut count) = (action, 1u64);
    while let Some(w) = it.next() {
        if w == "by" {
            let Some(d) = it.next() else {
                return Err(err("\"by\" needs a duration, e.g. by 300ms".into()));
            };
            let d = parse_duration(d).map_err(&err)?;
            match action {
                Action::Delay(_) => action = Action::Delay(d),
                _ => return Err(err("\"by DURATION\" only goes with delay".into())),
            }
        } else if let Some(k) = w.strip_prefix("count=") {
            count = k
                .parse()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(|| err(format!("count={k:?} is not a positive number")))?;
            if !matches!(sel, Selector::Seq { .. }) {
                return Err(err("count= only goes with seq=X".into()));
            }
        } else if let Some(s) = parse_side(w).filter(|_| side.is_none()) {
            side = Some(s);
        } else {
            return Err(err(format!("unexpected {w:?}; {SYNTAX}")));
        }
    }
    if action == Action::Delay(Duration::ZERO) {
        return Err(err(
            "delay needs \"by DURATION\", e.g. delay ack#5 by 300ms".into(),
        ));
    }
    if action == Action::Reorder && !matches!(sel, Selector::Data(_) | Selector::Pkt(_)) {
        return Err(err(
            "reorder works on data#N or pkt#N (N swaps with N+1)".into()
        ));
    }
    let side = side.unwrap_or(match sel {
        Selector::Ack(_) | Selector::SynAck(_) => Side::S2C,
        _ => Side::C2S,
    });
    Ok(Rule::Packet {
        action,
        side,
        sel,
        count,
        text: s.to_string(),
    })
}

fn parse_side(w: &str) -> Option<Side> {
    match w {
        "c2s" => Some(Side::C2S),
        "s2c" => Some(Side::S2C),
        _ => None,
    }
}

fn parse_selector(w: &str, rexmit: bool) -> Result<Selector, String> {
    if let Some(x) = w.strip_prefix("seq=") {
        let x = x
            .parse::<u32>()
            .map_err(|_| format!("seq={x:?} is not a sequence number (0..=4294967295)"))?;
        return Ok(Selector::Seq { x, rexmit });
    }
    if rexmit {
        return Err(format!("rexmit goes with seq=X, not {w:?}"));
    }
    let (name, n) = match w.split_once('#') {
        Some((name, n)) => {
            let n = n
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{w:?}: #N must be a number ≥ 1"))?;
            (name, Some(n))
        }
        None => (w, None),
    };
    let need = |n: Option<u64>| n.ok_or_else(|| format!("{w:?} needs a number, e.g. {name}#3"));
    Ok(match name {
        "data" => Selector::Data(need(n)?),
        "ack" => Selector::Ack(need(n)?),
        "pkt" => Selector::Pkt(need(n)?),
        "syn" => Selector::Syn(n.unwrap_or(1)),
        "synack" | "syn-ack" => Selector::SynAck(n.unwrap_or(1)),
        "fin" => Selector::Fin(n.unwrap_or(1)),
        _ => return Err(format!("unknown selector {w:?}")),
    })
}

fn parse_blackhole(rest: &[&str], text: &str) -> Result<Rule, String> {
    let usage = "blackhole c2s|s2c|both from T1 to T2, e.g. blackhole s2c from 1s to 1.5s";
    let [dir, "from", t1, "to", t2] = rest else {
        return Err(format!("expected {usage}"));
    };
    let (sides, from, to) = parse_window(dir, t1, t2, usage)?;
    Ok(Rule::Blackhole {
        sides,
        from,
        to,
        text: text.to_string(),
    })
}

fn parse_spike(rest: &[&str], text: &str) -> Result<Rule, String> {
    let usage = "spike c2s|s2c|both from T1 to T2 by D, e.g. spike c2s from 1s to 1.2s by 400ms";
    let [dir, "from", t1, "to", t2, "by", d] = rest else {
        return Err(format!("expected {usage}"));
    };
    let (sides, from, to) = parse_window(dir, t1, t2, usage)?;
    let by = parse_duration(d)?;
    if by == Duration::ZERO {
        return Err(format!("a spike needs a delay above 0; {usage}"));
    }
    Ok(Rule::Spike {
        sides,
        from,
        to,
        by,
        text: text.to_string(),
    })
}

/// `DIR from T1 to T2` of `blackhole` and `spike`: the directions and [from, to).
fn parse_window(
    dir: &str,
    t1: &str,
    t2: &str,
    usage: &str,
) -> Result<(Vec<Side>, Instant, Instant), String> {
    let sides = match dir {
        "both" => vec![Side::C2S, Side::S2C],
        d => vec![parse_side(d).ok_or_else(|| format!("unknown direction {d:?}; {usage}"))?],
    };
    let from = Instant::ZERO + parse_duration(t1)?;
    let to = Instant::ZERO + parse_duration(t2)?;
    if to <= from {
        return Err(format!("the end {t2} is not after the start {t1}"));
    }
    Ok((sides, from, to))
}

/// "300ms", "1.5s", "200us"; "0" alone.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a duration (e.g. 300ms, 1.5s)"))?;
    let micros = match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "" if v == 0.0 => 0.0,
        _ => return Err(format!("{s:?}: unit must be us, ms or s")),
    };
    Ok(Duration::from_micros(micros.round() as u64))
}

/// The fields of an IPv4 + TCP packet the rules (and the tracer) look at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpView {
    pub ip_id: u16,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Offset of the TCP header and of the payload in the packet.
    pub tcp_off: usize,
    pub payload_off: usize,
    pub payload_len: usize,
}

impl TcpView {
    /// None when the packet is not an unfragmented IPv4 TCP segment we can read.
    pub fn parse(p: &[u8]) -> Option<TcpView> {
        let b = |i: usize| p.get(i).copied();
        let be16 = |i: usize| Some(u16::from_be_bytes([b(i)?, b(i + 1)?]));
        let be32 = |i: usize| Some(u32::from_be_bytes([b(i)?, b(i + 1)?, b(i + 2)?, b(i + 3)?]));
        let v = b(0)?;
        if v >> 4 != 4 || b(9)? != 6 {
            return None;
        }
        let ihl = usize::from(v & 0x0f) * 4;
        let total = usize::from(be16(2)?).min(p.len());
        let t = ihl;
        let doff = usize::from(b(t + 12)? >> 4) * 4;
        let payload_off = t + doff;
        if ihl < 20 || doff < 20 || payload_off > total {
            return None;
        }
        Some(TcpView {
            ip_id: be16(4)?,
            src_port: be16(t)?,
            dst_port: be16(t + 2)?,
            seq: be32(t + 4)?,
            ack: be32(t + 8)?,
            flags: b(t + 13)?,
            window: be16(t + 14)?,
            tcp_off: t,
            payload_off,
            payload_len: total - payload_off,
        })
    }
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    /// SYN and FIN take one sequence number each (RFC 9293 §3.4).
    pub fn seg_len(&self) -> u32 {
        self.payload_len as u32 + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }
    pub fn is_pure_ack(&self) -> bool {
        self.payload_len == 0 && self.flags & (SYN | FIN | RST) == 0 && self.has(ACK)
    }
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Counters of one direction of one connection.
#[derive(Default)]
struct Counts {
    isn: Option<u32>,
    data: u64,
    acks: u64,
    pkts: u64,
    syn: u64,
    synack: u64,
    fin: u64,
}

/// What the engine did to a packet (for the trace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleHit {
    pub at: Instant,
    pub side: Side,
    pub rule: String,
    pub action: &'static str,
}

/// Applies rules to the packets of both directions.
pub struct RuleEngine {
    rules: Vec<Rule>,
    /// Per rule: how many times it acted; for `seq=` rules also how many covering segments passed.
    acted: Vec<u64>,
    seen: Vec<HashMap<(u16, u16), u64>>,
    counts: HashMap<(u16, u16, Side), Counts>,
    /// Held packets: (release time, order, side, packet). Small; a Vec is enough.
    held: Vec<(Instant, u64, Side, Vec<u8>)>,
    /// A reorder hold waiting for the next data segment of (flow, side): index into `held` key.
    waiting: HashMap<(u16, u16, Side), u64>,
    /// Per direction: when the last packet held by a spike leaves (later packets queue behind).
    spike_until: HashMap<Side, Instant>,
    order: u64,
    hits: Vec<RuleHit>,
}

impl RuleEngine {
    pub fn new(rules: Vec<Rule>) -> Self {
        let n = rules.len();
        RuleEngine {
            rules,
            acted: vec![0; n],
            seen: vec![HashMap::new(); n],
            counts: HashMap::new(),
            held: Vec::new(),
            waiting: HashMap::new(),
            spike_until: HashMap::new(),
            order: 0,
            hits: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the rules did since the last call.
    pub fn take_hits(&mut self) -> Vec<RuleHit> {
        std::mem::take(&mut self.hits)
    }

    /// One packet enters the stage at `now`; packets to put on the link now go to `out`.
    pub fn push(&mut self, now: Instant, side: Side, packet: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if self.rules.is_empty() {
            out.push(packet);
            return;
        }
        let Some(v) = TcpView::parse(&packet) else {
            out.push(packet);
            return;
        };
        let flow = match side {
            Side::C2S => (v.src_port, v.dst_port),
            Side::S2C => (v.dst_port, v.src_port),
        };
        let c = self.counts.entry((flow.0, flow.1, side)).or_default();
        c.pkts += 1;
        if v.has(SYN) {
            c.isn = Some(v.seq);
            if v.has(ACK) {
                c.synack += 1;
            } else {
                c.syn += 1;
            }
        }
        if v.payload_len > 0 {
            c.data += 1;
        }
        if v.is_pure_ack() {
            c.acks += 1;
        }
        if v.has(FIN) {
            c.fin += 1;
        }
        let rel = v.seq.wrapping_sub(c.isn.unwrap_or(0));
        let (pkts, data, acks, syn, synack, fin) = (c.pkts, c.data, c.acks, c.syn, c.synack, c.fin);
        let is_data = v.payload_len > 0;
        // A reorder hold of this flow is released right behind this data segment.
        let release = if is_data {
            self.waiting.remove(&(flow.0, flow.1, side))
        } else {
            None
        };
        // Copies of each `seq=` rule's segment seen so far, this one included (even when an
        // earlier rule drops it, so a retransmission is known as one).
        let isn_known = c_isn_known(&self.counts, flow, side);
        let mut seen: Vec<Option<u64>> = vec![None; self.rules.len()];
        for (i, rule) in self.rules.iter().enumerate() {
            if let Rule::Packet {
                side: rs,
                sel: Selector::Seq { x, .. },
                ..
            } = rule
                && *rs == side
                && is_data
                && isn_known
                && x.wrapping_sub(rel) < v.payload_len as u32
            {
                let n = self.seen[i].entry(flow).or_insert(0);
                *n += 1;
                seen[i] = Some(*n);
            }
        }
        let mut packet = Some(packet);
        for (i, rule) in self.rules.iter().enumerate() {
            let p = match packet.as_mut() {
                Some(p) => p,
                None => break,
            };
            match rule {
                Rule::Blackhole {
                    sides, from, to, ..
                } => {
                    if sides.contains(&side) && now >= *from && now < *to {
                        self.hits.push(hit(now, side, rule, "blackhole"));
                        packet = None;
                    }
                }
                Rule::Spike {
                    sides,
                    from,
                    to,
                    by,
                    ..
                } => {
                    if !sides.contains(&side) {
                        continue;
                    }
                    let behind = self.spike_until.get(&side).copied().filter(|t| *t > now);
                    let due = if now >= *from && now < *to {
                        self.hits.push(hit(now, side, rule, "spike"));
                        Some(behind.map_or(now + *by, |t| t.max(now + *by)))
                    } else {
                        behind // after the spike: wait behind what it holds (order kept)
                    };
                    if let Some(due) = due
                        && let Some(p) = packet.take()
                    {
                        self.order += 1;
                        self.held.push((due, self.order, side, p));
                        self.spike_until.insert(side, due);
                    }
                }
                Rule::Packet {
                    action,
                    side: rs,
                    sel,
                    count,
                    ..
                } => {
                    if *rs != side {
                        continue;
                    }
                    let matched = match *sel {
                        Selector::Data(n) => is_data && data == n,
                        Selector::Ack(n) => v.is_pure_ack() && acks == n,
                        Selector::Pkt(n) => pkts == n,
                        Selector::Syn(n) => v.has(SYN) && !v.has(ACK) && syn == n,
                        Selector::SynAck(n) => v.has(SYN) && v.has(ACK) && synack == n,
                        Selector::Fin(n) => v.has(FIN) && fin == n,
                        Selector::Seq { rexmit, .. } => match seen[i] {
                            Some(n) => (!rexmit || n > 1) && self.acted[i] < *count,
                            None => false,
                        },
                    };
                    if !matched {
                        continue;
                    }
                    self.acted[i] += 1;
                    match action {
                        Action::Drop => {
                            self.hits.push(hit(now, side, rule, "drop"));
                            packet = None;
                        }
                        Action::Dup => {
                            self.hits.push(hit(now, side, rule, "duplicate"));
                            out.push(p.clone());
                        }
                        Action::Corrupt => {
                            corrupt(p, &v);
                            self.hits.push(hit(now, side, rule, "corrupt"));
                        }
                        Action::Delay(d) => {
                            self.hits.push(hit(now, side, rule, "delay"));
                            if let Some(p) = packet.take() {
                                self.order += 1;
                                self.held.push((now + *d, self.order, side, p));
                            }
                        }
                        Action::Reorder => {
                            self.hits.push(hit(now, side, rule, "reorder"));
                            if let Some(p) = packet.take() {
                                self.order += 1;
                                self.held
                                    .push((now + REORDER_MAX_HOLD, self.order, side, p));
                                self.waiting.insert((flow.0, flow.1, side), self.order);
                            }
                        }
                    }
                }
            }
        }
        if let Some(p) = packet {
            out.push(p);
        }
        if let Some(order) = release
            && let Some(i) = self.held.iter().position(|h| h.1 == order)
        {
            out.push(self.held.swap_remove(i).3);
        }
    }

    /// Held packets due at `now` (delayed, or a reorder hold whose successor never came).
    pub fn poll_release(&mut self, now: Instant) -> Option<(Side, Vec<u8>)> {
        let i = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| h.0 <= now)
            .min_by_key(|(_, h)| (h.0, h.1))
            .map(|(i, _)| i)?;
        let (_, order, side, p) = self.held.swap_remove(i);
        self.waiting.retain(|_, o| *o != order);
        Some((side, p))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.0).min()
    }
}

fn c_isn_known(counts: &HashMap<(u16, u16, Side), Counts>, flow: (u16, u16), side: Side) -> bool {
    counts
        .get(&(flow.0, flow.1, side))
        .is_some_and(|c| c.isn.is_some())
}

fn hit(at: Instant, side: Side, rule: &Rule, action: &'static str) -> RuleHit {
    RuleHit {
        at,
        side,
        rule: rule.text().to_string(),
        action,
    }
}

/// Flip the low bit of the last payload byte, or of the TCP checksum when there is no payload.
fn corrupt(p: &mut [u8], v: &TcpView) {
    let at = if v.payload_len > 0 {
        v.payload_off + v.payload_len - 1
    } else {
        v.tcp_off + 17
    };
    if let Some(b) = p.get_mut(at) {
        *b ^= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// An IPv4 + TCP packet (no options) with `payload` bytes.
    fn packet(sport: u16, dport: u16, seq: u32, flags: u8, payload: usize) -> Vec<u8> {
        let total = 40 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[9] = 6;
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p
    }

    #[test]
    fn counts_data_segments_per_flow_and_direction() {
        let mut e = RuleEngine::new(vec![parse_rule("drop data#2").unwrap()]);
        let mut out = Vec::new();
        let now = Instant::ZERO;
        e.push(now, Side::C2S, packet(1000, 80, 7, SYN, 0), &mut out);
        e.push(now, Side::C2S, packet(1000, 80, 8, ACK, 100), &mut out);
        e.push(now, Side::S2C, packet(80, 1000, 1, ACK, 100), &mut out); // other direction
        e.push(now, Side::C2S, packet(2000, 80, 1, ACK, 100), &mut out); // other flow, its #1
        e.push(now, Side::C2S, packet(1000, 80, 108, ACK, 100), &mut out); // flow 1 data#2
        e.push(now, Side::C2S, packet(2000, 80, 101, ACK, 100), &mut out); // flow 2 data#2
        assert_eq!(out.len(), 4);
        let hits = e.take_hits();
        assert_eq!(hits.len(), 2);
        assert!(
            hits.iter()
                .all(|h| h.action == "drop" && h.side == Side::C2S)
        );
    }

    #[test]
    fn seq_rule_uses_relative_sequence_numbers() {
        let mut e = RuleEngine::new(vec![parse_rule("drop seq=150").unwrap()]);
        let mut out = Vec::new();
        let now = Instant::ZERO;
        e.push(now, Side::C2S, packet(1, 2, 1_000_000, SYN, 0), &mut out);
        e.push(now, Side::C2S, packet(1, 2, 1_000_001, ACK, 100), &mut out); // bytes 1..=100
        e.push(now, Side::C2S, packet(1, 2, 1_000_101, ACK, 100), &mut out); // 101..=200: dropped
        e.push(now, Side::C2S, packet(1, 2, 1_000_101, ACK, 100), &mut out); // retransmission passes
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn delay_and_reorder_hold_packets_until_due() {
        let mut e = RuleEngine::new(vec![
            parse_rule("delay ack#1 by 10ms").unwrap(),
            parse_rule("reorder data#1").unwrap(),
        ]);
        let mut out = Vec::new();
        e.push(Instant::ZERO, Side::S2C, packet(2, 1, 5, ACK, 0), &mut out);
        assert!(out.is_empty());
        assert_eq!(e.poll_timeout(), Some(Instant::from_millis(10)));
        assert!(e.poll_release(Instant::from_millis(9)).is_none());
        assert!(e.poll_release(Instant::from_millis(10)).is_some());
        e.push(Instant::ZERO, Side::C2S, packet(1, 2, 1, ACK, 10), &mut out);
        assert!(out.is_empty(), "data#1 waits for data#2");
        e.push(
            Instant::ZERO,
            Side::C2S,
            packet(1, 2, 11, ACK, 10),
            &mut out,
        );
        let seqs: Vec<u32> = out.iter().map(|p| TcpView::parse(p).unwrap().seq).collect();
        assert_eq!(seqs, vec![11, 1]);
        assert!(e.poll_timeout().is_none());
    }

    #[test]
    fn a_spike_holds_its_window_and_keeps_the_order_after_it() {
        let mut e = RuleEngine::new(vec![
            parse_rule("spike c2s from 10ms to 20ms by 100ms").unwrap(),
        ]);
        let mut out = Vec::new();
        let ms = Instant::from_millis;
        e.push(ms(5), Side::C2S, packet(1, 2, 1, ACK, 10), &mut out); // before: passes
        e.push(ms(12), Side::C2S, packet(1, 2, 11, ACK, 10), &mut out); // held to 112 ms
        e.push(ms(18), Side::C2S, packet(1, 2, 21, ACK, 10), &mut out); // held to 118 ms
        e.push(ms(18), Side::S2C, packet(2, 1, 1, ACK, 0), &mut out); // other way: passes
        e.push(ms(30), Side::C2S, packet(1, 2, 31, ACK, 10), &mut out); // after: behind, 118 ms
        assert_eq!(out.len(), 2);
        assert_eq!(e.poll_timeout(), Some(ms(112)));
        assert!(e.poll_release(ms(111)).is_none());
        let mut seqs = Vec::new();
        while let Some((side, p)) = e.poll_release(ms(118)) {
            assert_eq!(side, Side::C2S);
            seqs.push(TcpView::parse(&p).unwrap().seq);
        }
        assert_eq!(seqs, vec![11, 21, 31], "nothing lost, order kept");
        e.push(ms(200), Side::C2S, packet(1, 2, 41, ACK, 10), &mut out); // spike over: passes
        assert_eq!(out.len(), 3);
        assert!(parse_rule("spike c2s from 1s to 2s by 0").is_err());
        assert!(parse_rule("spike c2s from 1s to 2s").is_err());
        let e = parse_rule("spike up from 1s to 2s by 1ms")
            .err()
            .map(|e| e.msg);
        assert!(
            e.is_some_and(|m| m.contains("spike c2s|s2c|both")),
            "the spike's own usage"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::new(5);
        let rules =
            parse_rules("drop data#1\ndrop seq=3\ncorrupt pkt#2\nreorder pkt#3\ndup syn").unwrap();
        let mut e = RuleEngine::new(rules);
        let mut out = Vec::new();
        for i in 0..2000u64 {
            let len = rng.below(80) as usize;
            let mut p = vec![0u8; len];
            rng.fill(&mut p);
            if len > 0 && i % 2 == 0 {
                p[0] = 0x45;
            }
            if len > 9 {
                p[9] = 6;
            }
            let _ = TcpView::parse(&p);
            e.push(Instant::from_micros(i), Side::C2S, p, &mut out);
            while e.poll_release(Instant::from_micros(i)).is_some() {}
        }
    }
}
