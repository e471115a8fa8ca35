//! `Lab`: two of our stacks (client and server) over the emulated link in virtual time, with
//! scripted impairments, an application that moves bytes, and an `Observer` on each side.
//! What `tunstack sim` runs. Time jumps from event to event (packet due, timer, rule release);
//! nothing reads a clock, so the same config gives byte-identical output.
//!
//! The capture is the client's view: what the client sent (outbound, with its cause) and what the
//! link delivered to it (inbound, with the server's cause and, if the client dropped it, why).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::observer::{Observer, Totals};
use super::{Event, Host, Kind};
use crate::capture::Direction;
use crate::link::endpoint::{Endpoint, TcpEndpoint};
use crate::link::rules::{Rule, RuleEngine, Side, TcpView};
use crate::link::{Impair, ImpairConfig, ImpairStats};
use crate::reference::{SmolConfig, SmolStack};
use crate::socket::{SocketError, TcpHandle};
use crate::stack::{Stack, StackConfig};
use crate::tcp::Shutdown;
use crate::time::{Duration, Instant};

pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PORT: u16 = 5001;
/// Rounds of work at one instant before time must move on.
const MAX_ROUNDS: u32 = 10_000;
/// After the transfer, packets still in flight get this long to land.
const DRAIN: Duration = Duration::from_secs(5);
const BUF: usize = 65535;
/// Bound on remembered server comments (entries of lost packets are never looked up).
const MAX_COMMENTS: usize = 1 << 18;

#[derive(Clone, Debug)]
pub struct LabConfig {
    pub client: StackConfig,
    pub server: StackConfig,
    /// Which implementation runs on each side (smoltcp takes addresses, seed and buffer sizes
    /// from the `StackConfig`).
    pub client_impl: Impl,
    pub server_impl: Impl,
    pub c2s: ImpairConfig,
    pub s2c: ImpairConfig,
    pub rules: Vec<Rule>,
    pub seed: u64,
    /// Bytes each flow sends (client → server).
    pub bytes: u64,
    /// Send for this long instead of a fixed size.
    pub duration: Option<Duration>,
    pub flows: u32,
    /// Build trace events and pcapng comments.
    pub record: bool,
    /// Give up at this virtual time.
    pub time_limit: Duration,
}

impl Default for LabConfig {
    fn default() -> Self {
        let stack = |addr, seed| StackConfig {
            addr,
            seed,
            ..StackConfig::default()
        };
        LabConfig {
            client: stack(CLIENT_ADDR, 1),
            server: stack(SERVER_ADDR, 2),
            client_impl: Impl::Ours,
            server_impl: Impl::Ours,
            c2s: ImpairConfig::default(),
            s2c: ImpairConfig::default(),
            rules: Vec::new(),
            seed: 1,
            bytes: 1 << 20,
            duration: None,
            flows: 1,
            record: true,
            time_limit: Duration::from_secs(3600),
        }
    }
}

/// The TCP/IP implementation of one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Smoltcp,
}

/// One side of the lab: our stack (observed from inside) or smoltcp (seen on the wire only).
enum Peer {
    Ours(Box<Stack>),
    Smol(Box<SmolStack>),
}

impl Peer {
    fn new(which: Impl, cfg: &StackConfig, peer: std::net::Ipv4Addr) -> Peer {
        match which {
            Impl::Ours => Peer::Ours(Box::new(Stack::new(cfg.clone()))),
            Impl::Smoltcp => Peer::Smol(Box::new(SmolStack::new(SmolConfig {
                addr: cfg.addr,
                prefix_len: cfg.prefix_len,
                gateway: peer,
                mtu: cfg.mtu,
                rx_buffer: cfg.tcp.recv_buffer,
                tx_buffer: cfg.tcp.send_buffer,
                seed: cfg.seed,
                timestamps: cfg.tcp.timestamps,
                congestion: if cfg.tcp.cc == "none" {
                    smoltcp::socket::tcp::CongestionControl::None
                } else {
                    smoltcp::socket::tcp::CongestionControl::Reno
                },
                ..SmolConfig::default()
            }))),
        }
    }
    fn ep(&mut self) -> &mut dyn TcpEndpoint {
        match self {
            Peer::Ours(s) => s.as_mut(),
            Peer::Smol(s) => s.as_mut(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Peer::Ours(s) => Endpoint::poll_timeout(s.as_ref()),
            Peer::Smol(s) => Endpoint::poll_timeout(s.as_ref()),
        }
    }
    fn ours(&self) -> Option<&Stack> {
        match self {
            Peer::Ours(s) => Some(s),
            Peer::Smol(_) => None,
        }
    }
}

/// Where a run's output goes.
pub trait Sink {
    fn event(&mut self, e: &Event);
    /// A packet as the client saw it (virtual time, µs).
    fn packet(&mut self, t: Instant, dir: Direction, bytes: &[u8], comment: Option<&str>);
}

/// A sink that keeps nothing.
pub struct NullSink;
impl Sink for NullSink {
    fn event(&mut self, _: &Event) {}
    fn packet(&mut self, _: Instant, _: Direction, _: &[u8], _: Option<&str>) {}
}

#[derive(Clone, Debug, Default)]
pub struct FlowResult {
    pub sent: u64,
    pub received: u64,
    /// When the server had every byte (None if it never did).
    pub done_at: Option<Instant>,
    pub error: Option<SocketError>,
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub completed: bool,
    pub end: Instant,
    pub flows: Vec<FlowResult>,
    pub client: Totals,
    pub server: Totals,
    pub c2s: ImpairStats,
    pub s2c: ImpairStats,
    pub rule_actions: u64,
}

struct Flow {
    client: TcpHandle,
    port: u16,
    server: Option<TcpHandle>,
    shut: bool,
    client_eof: bool,
    server_closed: bool,
    res: FlowResult,
}

pub struct Lab {
    cfg: LabConfig,
    client: Peer,
    server: Peer,
    c2s: Impair,
    s2c: Impair,
    rules: RuleEngine,
    obs_c: Observer,
    obs_s: Observer,
    now: Instant,
    listener: TcpHandle,
    flows: Vec<Flow>,
    buf: Vec<u8>,
    data: Vec<u8>,
    out: Vec<Vec<u8>>,
    /// The server's cause for each packet still on the link, by IPv4 identification.
    /// The server's cause for each packet on the link, by a hash of its bytes (smoltcp sends
    /// every datagram with IPv4 identification 0, so the ID cannot tell them apart).
    s2c_comments: HashMap<u64, String>,
    /// The same by IPv4 identification, for a packet the link corrupted (its bytes changed).
    s2c_by_id: HashMap<u16, u64>,
    rule_actions: u64,
}

impl Lab {
    pub fn new(cfg: LabConfig) -> Result<Lab, SocketError> {
        let mut rng = crate::rng::Rng::new(cfg.seed);
        let (s1, s2) = (rng.next_u64(), rng.next_u64());
        let mut client = Peer::new(cfg.client_impl, &cfg.client, cfg.server.addr);
        let mut server = Peer::new(cfg.server_impl, &cfg.server, cfg.client.addr);
        let listener = server
            .ep()
            .tcp_listen(SocketAddrV4::new(cfg.server.addr, PORT))?;
        let mut obs_c = Observer::new(Host::Client, cfg.record);
        let mut obs_s = Observer::new(Host::Server, cfg.record);
        let mut flows = Vec::new();
        let remote = SocketAddrV4::new(cfg.server.addr, PORT);
        for i in 0..cfg.flows {
            let h = client.ep().tcp_connect(Instant::ZERO, remote)?;
            // smoltcp does not say its port: it is learned from the flow's SYN.
            let port = match client.ours() {
                Some(c) => c.tcp().local_addr(h)?.port(),
                None => 0,
            };
            obs_c.flows.insert(port, i + 1);
            obs_s.flows.insert(port, i + 1);
            flows.push(Flow {
                client: h,
                port,
                server: None,
                shut: false,
                client_eof: false,
                server_closed: false,
                res: FlowResult::default(),
            });
        }
        let data = (0..BUF).map(|i| (i % 251) as u8).collect();
        Ok(Lab {
            c2s: Impair::new(cfg.c2s.clone(), s1),
            s2c: Impair::new(cfg.s2c.clone(), s2),
            rules: RuleEngine::new(cfg.rules.clone()),
            cfg,
            client,
            server,
            obs_c,
            obs_s,
            now: Instant::ZERO,
            listener,
            flows,
            buf: vec![0; BUF],
            data,
            out: Vec::new(),
            s2c_comments: HashMap::new(),
            s2c_by_id: HashMap::new(),
            rule_actions: 0,
        })
    }

    /// Our stack on the client side (None when it is smoltcp).
    pub fn client(&self) -> Option<&Stack> {
        self.client.ours()
    }
    pub fn server(&self) -> Option<&Stack> {
        self.server.ours()
    }

    /// Run the transfer to its end (or the time limit).
    pub fn run(&mut self, sink: &mut dyn Sink) -> Outcome {
        let limit = Instant::ZERO + self.cfg.time_limit;
        // The SYNs of `connect` are waiting.
        if let Some(c) = self.client.ours() {
            self.obs_c.before(c);
            self.obs_c.after_app(self.now, c);
        }
        self.flush(sink);
        self.transmit(Host::Client, sink);
        let mut done_at = None;
        loop {
            self.process_now(sink);
            if done_at.is_none() && self.all_done() {
                done_at = Some(self.now);
            }
            let idle = self.c2s.in_flight() == 0
                && self.s2c.in_flight() == 0
                && self.rules.poll_timeout().is_none();
            if let Some(d) = done_at
                && (idle || self.now >= d + DRAIN)
            {
                break;
            }
            if self.now >= limit {
                break;
            }
            let mut next = [
                self.client.poll_timeout(),
                self.server.poll_timeout(),
                self.c2s.poll_timeout(),
                self.s2c.poll_timeout(),
                self.rules.poll_timeout(),
                self.send_deadline().filter(|t| *t > self.now),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(limit);
            next = next.max(self.now + Duration::from_micros(1)).min(limit);
            self.now = next;
        }
        self.obs_c.finish(self.now);
        self.obs_s.finish(self.now);
        Outcome {
            completed: done_at.is_some(),
            end: self.now,
            flows: self.flows.iter().map(|f| f.res.clone()).collect(),
            client: self.obs_c.totals.clone(),
            server: self.obs_s.totals.clone(),
            c2s: self.c2s.stats().clone(),
            s2c: self.s2c.stats().clone(),
            rule_actions: self.rule_actions,
        }
    }

    fn send_deadline(&self) -> Option<Instant> {
        self.cfg.duration.map(|d| Instant::ZERO + d)
    }

    fn all_done(&self) -> bool {
        self.flows
            .iter()
            .all(|f| (f.client_eof && f.server_closed) || f.res.error.is_some())
    }

    fn process_now(&mut self, sink: &mut dyn Sink) {
        let now = self.now;
        for _ in 0..MAX_ROUNDS {
            let mut work = false;
            while let Some((side, p)) = self.rules.poll_release(now) {
                self.onto_link(side, p, sink);
                work = true;
            }
            while let Some(p) = self.c2s.poll_deliver(now) {
                self.deliver(Host::Server, &p, sink);
                work = true;
            }
            while let Some(p) = self.s2c.poll_deliver(now) {
                self.deliver(Host::Client, &p, sink);
                work = true;
            }
            for host in [Host::Client, Host::Server] {
                let (peer, obs) = self.side(host);
                if peer.poll_timeout().is_some_and(|t| t <= now) {
                    if let Some(s) = peer.ours() {
                        obs.before(s);
                    }
                    peer.ep().handle_timeout(now);
                    if let Some(s) = peer.ours() {
                        obs.after_timer(now, s);
                    }
                    self.flush(sink);
                    self.transmit(host, sink);
                    work = true;
                }
            }
            if self.app() {
                self.flush(sink);
                self.transmit(Host::Client, sink);
                self.transmit(Host::Server, sink);
                work = true;
            }
            if !work {
                return;
            }
        }
    }

    fn side(&mut self, host: Host) -> (&mut Peer, &mut Observer) {
        match host {
            Host::Client => (&mut self.client, &mut self.obs_c),
            Host::Server => (&mut self.server, &mut self.obs_s),
        }
    }

    fn flush(&mut self, sink: &mut dyn Sink) {
        for e in self.obs_c.drain() {
            sink.event(&e);
        }
        for e in self.obs_s.drain() {
            sink.event(&e);
        }
    }

    fn deliver(&mut self, host: Host, p: &[u8], sink: &mut dyn Sink) {
        let now = self.now;
        let (peer, obs) = self.side(host);
        if let Some(s) = peer.ours() {
            obs.before(s);
        }
        peer.ep().handle_packet(now, p);
        let reason = match peer.ours() {
            Some(s) => obs.after_input(now, s, p),
            None => {
                obs.on_foreign_recv(now, p);
                None
            }
        };
        if host == Host::Client && self.cfg.record {
            let c = match self.s2c_comments.get(&packet_key(p)) {
                Some(c) => c.clone(),
                None => {
                    // Not a byte-exact copy of anything the server sent: corrupted on the way.
                    let id = TcpView::parse(p).map(|v| v.ip_id).filter(|id| *id != 0);
                    let orig = id
                        .and_then(|id| self.s2c_by_id.get(&id))
                        .and_then(|k| self.s2c_comments.get(k));
                    match orig {
                        Some(c) => format!("{c} (corrupted on the link)"),
                        None => "(corrupted on the link)".to_string(),
                    }
                }
            };
            let comment = match &reason {
                Some(r) => format!("server: {c} | dropped by client: {r}"),
                None => format!("server: {c}"),
            };
            sink.packet(now, Direction::In, p, Some(&comment));
        }
        self.flush(sink);
        self.transmit(host, sink);
    }

    /// Drain one stack's output onto the link (through the rules).
    fn transmit(&mut self, host: Host, sink: &mut dyn Sink) {
        let now = self.now;
        loop {
            let (peer, obs) = match host {
                Host::Client => (&mut self.client, &mut self.obs_c),
                Host::Server => (&mut self.server, &mut self.obs_s),
            };
            let Some(n) = peer.ep().poll_transmit(now, &mut self.buf) else {
                break;
            };
            let p = self.buf.get(..n).unwrap_or(&[]).to_vec();
            let comment = match peer.ours() {
                Some(s) => obs.on_send(now, s, &p),
                None => {
                    if host == Host::Client {
                        learn_port(&mut self.flows, &mut self.obs_c, &mut self.obs_s, &p);
                    }
                    let obs = match host {
                        Host::Client => &mut self.obs_c,
                        Host::Server => &mut self.obs_s,
                    };
                    obs.on_foreign_send(now, &p)
                }
            };
            let side = match host {
                Host::Client => {
                    if self.cfg.record {
                        sink.packet(now, Direction::Out, &p, comment.as_deref());
                    }
                    Side::C2S
                }
                Host::Server => {
                    if let Some(c) = comment {
                        if self.s2c_comments.len() >= MAX_COMMENTS {
                            // Only packets lost on the link stay behind; forget them.
                            self.s2c_comments.clear();
                            self.s2c_by_id.clear();
                        }
                        let key = packet_key(&p);
                        self.s2c_comments.insert(key, c);
                        if let Some(v) = TcpView::parse(&p) {
                            self.s2c_by_id.insert(v.ip_id, key);
                        }
                    }
                    Side::S2C
                }
            };
            self.flush(sink);
            let mut out = std::mem::take(&mut self.out);
            self.rules.push(now, side, p, &mut out);
            for hit in self.rules.take_hits() {
                self.rule_actions += 1;
                self.link_event(
                    side,
                    hit.action.to_string(),
                    format!("rule: {}", hit.rule),
                    sink,
                );
            }
            for q in out.drain(..) {
                self.onto_link(side, q, sink);
            }
            self.out = out;
        }
    }

    fn onto_link(&mut self, side: Side, p: Vec<u8>, sink: &mut dyn Sink) {
        let link = match side {
            Side::C2S => &mut self.c2s,
            Side::S2C => &mut self.s2c,
        };
        let before = link.stats().clone();
        link.push(self.now, p);
        let after = link.stats();
        let what = if after.dropped_loss > before.dropped_loss {
            Some(("drop", "random loss"))
        } else if after.dropped_queue > before.dropped_queue {
            Some(("drop", "bottleneck queue full (tail drop)"))
        } else if after.corrupted > before.corrupted {
            Some(("corrupt", "random bit flip"))
        } else if after.duplicated > before.duplicated {
            Some(("duplicate", "random duplicate"))
        } else if after.reordered > before.reordered {
            Some(("reorder", "random reorder"))
        } else {
            None
        };
        if let Some((a, r)) = what {
            self.link_event(side, a.to_string(), r.to_string(), sink);
        }
    }

    fn link_event(&mut self, side: Side, action: String, reason: String, sink: &mut dyn Sink) {
        if self.cfg.record {
            let host = match side {
                Side::C2S => Host::Client,
                Side::S2C => Host::Server,
            };
            sink.event(&Event {
                t: self.now,
                host,
                flow: 0,
                kind: Kind::Link {
                    dir: side.name(),
                    action,
                    reason,
                },
            });
        }
    }

    /// One round of application work on both sides. True when anything happened.
    fn app(&mut self) -> bool {
        let now = self.now;
        let sending = self.send_deadline().is_none_or(|d| now < d);
        let mut any = false;
        if let Some(c) = self.client.ours() {
            self.obs_c.before(c);
        }
        if let Some(s) = self.server.ours() {
            self.obs_s.before(s);
        }
        while let Ok(h) = self.server.ep().tcp_accept(self.listener) {
            // smoltcp does not say the peer's port: flows are matched in accept order.
            let port = self.server.ours().and_then(|s| s.tcp().peer_addr(h).ok());
            let slot = match port {
                Some(a) => self.flows.iter_mut().find(|f| f.port == a.port()),
                None => self.flows.iter_mut().find(|f| f.server.is_none()),
            };
            match slot {
                Some(f) => f.server = Some(h),
                None => self.server.ep().tcp_close(now, h),
            }
            any = true;
        }
        let mut rbuf = [0u8; 65536];
        for f in &mut self.flows {
            if f.res.error.is_some() {
                continue;
            }
            let target = if self.cfg.duration.is_some() {
                u64::MAX
            } else {
                self.cfg.bytes
            };
            while !f.shut && sending && f.res.sent < target {
                let off = (f.res.sent % 4096) as usize;
                let want = (target - f.res.sent).min((BUF - off) as u64) as usize;
                match self
                    .client
                    .ep()
                    .tcp_send(now, f.client, &self.data[off..off + want])
                {
                    Ok(0) => break,
                    Ok(n) => {
                        f.res.sent += n as u64;
                        any = true;
                    }
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => {
                        f.res.error = Some(e);
                        break;
                    }
                }
            }
            // Close once everything written is acknowledged (the send buffer is empty), so the
            // transfer itself runs in ESTABLISHED.
            let drained = match self.client.ours() {
                Some(c) => c
                    .tcp()
                    .send_capacity(f.client)
                    .is_ok_and(|c| c >= self.cfg.client.tcp.send_buffer),
                None => true,
            };
            if !f.shut
                && (f.res.sent >= target || !sending)
                && drained
                && f.res.error.is_none()
                && self
                    .client
                    .ep()
                    .tcp_shutdown(now, f.client, Shutdown::Write)
                    .is_ok()
            {
                f.shut = true;
                any = true;
            }
            if let Some(s) = f.server.filter(|_| !f.server_closed) {
                loop {
                    match self.server.ep().tcp_recv(now, s, &mut rbuf) {
                        Ok(0) => {
                            self.server.ep().tcp_close(now, s);
                            f.server_closed = true;
                            if f.res.received == f.res.sent {
                                f.res.done_at.get_or_insert(now);
                            }
                            any = true;
                            break;
                        }
                        Ok(n) => {
                            f.res.received += n as u64;
                            any = true;
                        }
                        Err(SocketError::WouldBlock) => break,
                        Err(e) => {
                            f.res.error = Some(e);
                            break;
                        }
                    }
                }
            }
            if !f.client_eof && f.shut {
                match self.client.ep().tcp_recv(now, f.client, &mut rbuf) {
                    Ok(0) => {
                        f.client_eof = true;
                        self.client.ep().tcp_close(now, f.client);
                        any = true;
                    }
                    Ok(_) | Err(SocketError::WouldBlock) => {}
                    Err(e) => f.res.error = Some(e),
                }
            }
            if f.res.error.is_none()
                && let Peer::Ours(c) = &mut self.client
                && let Some(e) = c.tcp_mut().take_error(f.client)
            {
                f.res.error = Some(e);
                any = true;
            }
        }
        if any {
            if let Some(c) = self.client.ours() {
                self.obs_c.after_app(now, c);
            }
            if let Some(s) = self.server.ours() {
                self.obs_s.after_app(now, s);
            }
        }
        any
    }
}

/// A smoltcp client's SYN tells which port a flow got (flows connect in order).
fn learn_port(flows: &mut [Flow], obs_c: &mut Observer, obs_s: &mut Observer, p: &[u8]) {
    let Some(v) = TcpView::parse(p) else { return };
    if !v.has(crate::link::rules::SYN) || flows.iter().any(|f| f.port == v.src_port) {
        return;
    }
    if let Some((i, f)) = flows.iter_mut().enumerate().find(|(_, f)| f.port == 0) {
        f.port = v.src_port;
        obs_c.flows.insert(v.src_port, i as u32 + 1);
        obs_s.flows.insert(v.src_port, i as u32 + 1);
    }
}

/// A key for a packet's bytes (std's SipHash with fixed keys: the same in every run).
fn packet_key(p: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}
