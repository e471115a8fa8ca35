//! The behavioural differential (issue 5 §3): crafted input traces fed to one endpoint, its
//! answers normalised so that two implementations can be compared segment by segment.
//!
//! A `Trace` starts from a LISTEN socket on `PORT` (or from an ESTABLISHED connection that a
//! prologue opened: SYN, SYN-ACK, ACK, accept) and plays `Step`s: crafted segments from the
//! peer, time passing, application calls. Sequence numbers in crafted segments are relative:
//! `seq` to the peer's ISN (`PEER_ISN`), `ack` to the endpoint's ISS learned from its SYN-ACK.
//! The application reads everything readable after every step (until `StopReading`).
//!
//! Normalised output, one line per segment: flags (PSH dropped), `seq` relative to the
//! endpoint's ISS (`i+1`), `ack` relative to our ISN (`p+1`), payload length, `win=0` or
//! `win>0` (`win=-` on a RST), and the option kinds, sorted (values, timestamps and window
//! sizes are not compared).

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::link::endpoint::TcpEndpoint;
use crate::socket::TcpHandle;
use crate::tcp::Shutdown;
use crate::time::{Duration, Instant};
use crate::wire::checksum;
use crate::wire::ipv4::{Ipv4Repr, PROTO_TCP};

pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PORT: u16 = 80;
pub const PEER_PORT: u16 = 40000;
pub const PEER_ISN: u32 = 1_000_000;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;

/// A TCP option in a crafted segment.
#[derive(Clone, Copy, Debug)]
pub enum Opt {
    Mss(u16),
    Ws(u8),
    SackPerm,
    /// TSval relative to the trace's clock (ms); TSecr echoes the endpoint's last TSval.
    Ts(i64),
}

/// The acknowledgment field of a crafted segment.
#[derive(Clone, Copy, Debug)]
pub enum AckRef {
    /// Relative to the endpoint's ISS (1 = its SYN acknowledged).
    Iss(i64),
    Abs(u32),
}

/// One crafted segment from the peer.
#[derive(Clone, Debug)]
pub struct Seg {
    pub flags: u8,
    /// Relative to `PEER_ISN`.
    pub seq: i64,
    pub ack: AckRef,
    pub win: u16,
    pub len: usize,
    pub opts: Vec<Opt>,
    pub bad_checksum: bool,
    pub dst_port: u16,
    pub urg: u16,
}

/// A segment builder: `seg(ACK).seq(1).ack(1)`.
pub fn seg(flags: u8) -> Seg {
    Seg {
        flags,
        seq: 0,
        ack: AckRef::Abs(0),
        win: 65535,
        len: 0,
        opts: Vec::new(),
        bad_checksum: false,
        dst_port: PORT,
        urg: 0,
    }
}

impl Seg {
    pub fn seq(mut self, s: i64) -> Self {
        self.seq = s;
        self
    }
    pub fn ack(mut self, a: i64) -> Self {
        self.ack = AckRef::Iss(a);
        self
    }
    pub fn ack_abs(mut self, a: u32) -> Self {
        self.ack = AckRef::Abs(a);
        self
    }
    pub fn win(mut self, w: u16) -> Self {
        self.win = w;
        self
    }
    pub fn data(mut self, n: usize) -> Self {
        self.len = n;
        self
    }
    pub fn opt(mut self, o: Opt) -> Self {
        self.opts.push(o);
        self
    }
    pub fn bad_checksum(mut self) -> Self {
        self.bad_checksum = true;
        self
    }
    pub fn to_port(mut self, p: u16) -> Self {
        self.dst_port = p;
        self
    }
    pub fn urgent(mut self, ptr: u16) -> Self {
        self.urg = ptr;
        self
    }
}

#[derive(Clone, Debug)]
pub enum Step {
    /// The peer sends a segment; then 100 ms pass (longer than both delayed-ACK timers).
    In(Seg),
    /// The peer sends a segment and no time passes.
    InNow(Seg),
    /// Time passes (timers fire).
    Wait(u64),
    /// The application sends this many bytes.
    Send(usize),
    Close,
    ShutdownWrite,
    Abort,
    /// The application stops reading (data stays queued in the endpoint).
    StopReading,
}

#[derive(Clone, Debug)]
pub enum Start {
    /// A listener on `PORT`.
    Listen,
    /// A listener, then a handshake whose SYN carries these options.
    Established(Vec<Opt>),
}

#[derive(Clone, Debug)]
pub struct Trace {
    pub name: &'static str,
    pub start: Start,
    pub steps: Vec<Step>,
}

/// What one endpoint answered: per step, the normalised segments it sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `steps[0]` is the prologue (handshake) when the trace starts established.
    pub steps: Vec<Vec<String>>,
    /// State of the connection at the end (or "none").
    pub end_state: String,
}

impl Answer {
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (i, st) in self.steps.iter().enumerate() {
            s.push_str(&format!("{i}: {}\n", st.join(" | ")));
        }
        s.push_str(&format!("end: {}\n", self.end_state));
        s
    }
}

struct Runner<E: TcpEndpoint> {
    ep: E,
    now: Instant,
    iss: Option<u32>,
    /// The endpoint's last TSval (echoed in our TSecr).
    ts_recent: u32,
    conn: Option<TcpHandle>,
    listener: Option<TcpHandle>,
    reading: bool,
    buf: Vec<u8>,
    id: u16,
}

impl<E: TcpEndpoint> Runner<E> {
    fn packet(&mut self, s: &Seg) -> Vec<u8> {
        let mut opts = Vec::new();
        for o in &s.opts {
            match *o {
                Opt::Mss(m) => opts.extend_from_slice(&[2, 4, (m >> 8) as u8, m as u8]),
                Opt::Ws(w) => opts.extend_from_slice(&[1, 3, 3, w]),
                Opt::SackPerm => opts.extend_from_slice(&[1, 1, 4, 2]),
                Opt::Ts(rel) => {
                    let tsval = (self.now.total_millis() as i64 + 100_000 + rel) as u32;
                    opts.extend_from_slice(&[1, 1, 8, 10]);
                    opts.extend_from_slice(&tsval.to_be_bytes());
                    opts.extend_from_slice(&self.ts_recent.to_be_bytes());
                }
            }
        }
        while opts.len() % 4 != 0 {
            opts.push(0);
        }
        let seq = (PEER_ISN as i64 + s.seq) as u32;
        let ack = match s.ack {
            AckRef::Iss(k) => (self.iss.unwrap_or(0) as i64 + k) as u32,
            AckRef::Abs(a) => a,
        };
        let hl = 20 + opts.len();
        let mut t = Vec::with_capacity(hl + s.len);
        t.extend_from_slice(&PEER_PORT.to_be_bytes());
        t.extend_from_slice(&s.dst_port.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.push(((hl / 4) as u8) << 4);
        t.push(s.flags);
        t.extend_from_slice(&s.win.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&s.urg.to_be_bytes());
        t.extend_from_slice(&opts);
        t.extend((0..s.len).map(|i| b'a' + (i % 26) as u8));
        let mut c = checksum::transport_checksum(PEER, HOST, PROTO_TCP, &t);
        if s.bad_checksum {
            c ^= 0x5555;
        }
        t[16..18].copy_from_slice(&c.to_be_bytes());
        let mut ip = Ipv4Repr::new(PEER, HOST, PROTO_TCP, 0);
        ip.id = self.id;
        self.id = self.id.wrapping_add(1);
        ip.build(&t)
    }

    /// Collect what the endpoint sends at `now`, normalised.
    fn drain(&mut self, out: &mut Vec<String>) {
        while let Some(n) = self.ep.poll_transmit(self.now, &mut self.buf) {
            let p = self.buf.get(..n).unwrap_or(&[]).to_vec();
            if let Some(line) = self.normalise(&p) {
                out.push(line);
            }
            if out.len() > 200 {
                break;
            }
        }
    }

    fn normalise(&mut self, p: &[u8]) -> Option<String> {
        let ihl = usize::from(*p.first()? & 0x0f) * 4;
        if *p.get(9)? != PROTO_TCP {
            return Some("non-TCP".into());
        }
        let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
        let t = p.get(ihl..total.min(p.len()))?;
        let word = |o: usize| -> Option<u32> {
            let b = t.get(o..o + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (seq, ack) = (word(4)?, word(8)?);
        let off = usize::from(*t.get(12)? >> 4) * 4;
        let flags = *t.get(13)?;
        let win = u16::from_be_bytes([*t.get(14)?, *t.get(15)?]);
        let len = t.len().saturating_sub(off);
        if flags & SYN != 0 && flags & ACK != 0 {
            self.iss = Some(seq);
        }
        let mut kinds = Vec::new();
        let mut o = t.get(20..off)?;
        while let Some(&k) = o.first() {
            match k {
                0 => break,
                1 => o = o.get(1..)?,
                _ => {
                    let l = usize::from(*o.get(1)?).max(2);
                    if k == 8
                        && let Some(v) = o.get(2..6)
                    {
                        self.ts_recent = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                    }
                    kinds.push(match k {
                        2 => "mss".to_string(),
                        3 => "ws".to_string(),
                        4 => "sackok".to_string(),
                        5 => "sack".to_string(),
                        8 => "ts".to_string(),
                        k => format!("opt{k}"),
                    });
                    o = o.get(l..).unwrap_or(&[]);
                }
            }
        }
        kinds.sort();
        let mut f = String::new();
        for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (URG, 'U'), (ACK, '.')] {
            if flags & bit != 0 {
                f.push(c);
            }
        }
        let seq_s = match self.iss {
            Some(iss) => format!("i{:+}", seq.wrapping_sub(iss) as i32),
            None => format!("{seq}"),
        };
        let ack_s = if flags & ACK != 0 {
            format!(" ack=p{:+}", ack.wrapping_sub(PEER_ISN) as i32)
        } else {
            String::new()
        };
        // The window of a RST means nothing (RFC 9293 §3.10.7): not compared.
        let w = match (flags & RST != 0, win) {
            (true, _) => "win=-",
            (false, 0) => "win=0",
            _ => "win>0",
        };
        let opts = if kinds.is_empty() {
            String::new()
        } else {
            format!(" <{}>", kinds.join(","))
        };
        Some(format!("[{f}] seq={seq_s}{ack_s} len={len} {w}{opts}"))
    }

    /// Let `d` pass, firing timers, collecting output.
    fn wait(&mut self, d: Duration, out: &mut Vec<String>) {
        let end = self.now + d;
        loop {
            self.app();
            self.drain(out);
            match self.ep.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = t.max(self.now);
                    self.ep.handle_timeout(self.now);
                    if t <= self.now && out.len() > 200 {
                        break;
                    }
                }
                _ => break,
            }
            if out.len() > 200 {
                break;
            }
        }
        self.now = end;
        self.ep.handle_timeout(self.now);
        self.app();
        self.drain(out);
    }

    /// The application: accept, and read whatever is readable.
    fn app(&mut self) {
        if self.conn.is_none()
            && let Some(l) = self.listener
            && let Ok(h) = self.ep.tcp_accept(l)
        {
            self.conn = Some(h);
        }
        if let Some(h) = self.conn
            && self.reading
        {
            let mut b = [0u8; 4096];
            for _ in 0..64 {
                match self.ep.tcp_recv(self.now, h, &mut b) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
    }

    fn input(&mut self, s: &Seg, out: &mut Vec<String>) {
        let p = self.packet(s);
        self.ep.handle_packet(self.now, &p);
        self.app();
        self.drain(out);
    }
}

/// Play `trace` against `ep` (which must be at `HOST`).
pub fn run<E: TcpEndpoint>(ep: E, trace: &Trace) -> Answer {
    let mut r = Runner {
        ep,
        now: Instant::from_secs(1),
        iss: None,
        ts_recent: 0,
        conn: None,
        listener: None,
        reading: true,
        buf: vec![0; 65536],
        id: 1,
    };
    r.listener = r.ep.tcp_listen(SocketAddrV4::new(HOST, PORT)).ok();
    let mut steps = Vec::new();
    if let Start::Established(opts) = &trace.start {
        let mut out = Vec::new();
        let mut syn = seg(SYN);
        syn.opts = opts.clone();
        r.input(&syn, &mut out);
        let ts = opts.iter().any(|o| matches!(o, Opt::Ts(_)));
        let mut ack = seg(ACK).seq(1).ack(1);
        if ts {
            ack = ack.opt(Opt::Ts(1));
        }
        r.now += Duration::from_millis(1);
        r.input(&ack, &mut out);
        r.wait(Duration::from_millis(100), &mut out);
        steps.push(out);
    }
    for step in &trace.steps {
        let mut out = Vec::new();
        match step {
            Step::In(s) => {
                r.input(s, &mut out);
                r.wait(Duration::from_millis(100), &mut out);
            }
            Step::InNow(s) => r.input(s, &mut out),
            Step::Wait(ms) => r.wait(Duration::from_millis(*ms), &mut out),
            Step::Send(n) => {
                if let Some(h) = r.conn {
                    let data: Vec<u8> = (0..*n).map(|i| i as u8).collect();
                    let _ = r.ep.tcp_send(r.now, h, &data);
                }
                r.drain(&mut out);
            }
            Step::Close => {
                if let Some(h) = r.conn {
                    r.ep.tcp_close(r.now, h);
                }
                r.drain(&mut out);
            }
            Step::ShutdownWrite => {
                if let Some(h) = r.conn {
                    let _ = r.ep.tcp_shutdown(r.now, h, Shutdown::Write);
                }
                r.drain(&mut out);
            }
            Step::StopReading => r.reading = false,
            Step::Abort => {
                if let Some(h) = r.conn.take() {
                    r.ep.tcp_abort(r.now, h);
                }
                r.drain(&mut out);
            }
        }
        steps.push(out);
    }
    // A CLOSED connection still held by the application is the same as none at all (Linux
    // does not list it).
    let mut states: Vec<&str> =
        r.ep.tcp_states()
            .into_iter()
            .filter(|s| *s != "CLOSED")
            .collect();
    states.sort();
    let end_state = if states.is_empty() {
        "none".to_string()
    } else {
        states.join(",")
    };
    Answer { steps, end_state }
}
