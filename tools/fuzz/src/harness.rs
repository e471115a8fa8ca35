//! Structured fuzz input for a whole `Stack`: a byte string decoded as a sequence of operations
//! (time steps, TCP segments relative to live connections, raw packets, fragments, application
//! calls). The stack starts with a listener and three connections already ESTABLISHED (two
//! accepted, one opened by us), so fuzz input reaches the synchronized-state logic at once.
//!
//! After every operation the checks in `check` run; any violation panics (a fuzz finding).
//! Shared by the cargo-fuzz targets (`tools/fuzz/fuzz_targets/`) and the regression tests
//! (`tests/invariants_fuzz_regressions.rs` includes this file by path).
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::packets::{Input, syn_options, tcp_segment, ts_option};
use tunstack::socket::TcpHandle;
use tunstack::stack::StackConfig;
use tunstack::tcp::segment::{ACK, PSH, SYN, Segment};
use tunstack::tcp::{Shutdown, TcpConfig};
use tunstack::wire::checksum;
use tunstack::wire::icmpv4;
use tunstack::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Duration, Instant, Stack};

pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const LISTEN_PORT: u16 = 80;
const ACTIVE_PORT: u16 = 5000;
/// Fragment memory cap of the fuzzed stack (small, so the limit is reached).
pub const FRAG_MEM: usize = 64 * 1024;
/// Receive and send buffers of the fuzzed stack (small, so zero windows happen).
pub const BUF: usize = 16 * 1024;
/// Bound on packets one drain may yield: more means `poll_transmit` never ends.
const MAX_DRAIN: usize = 20_000;

/// Which operations the input chooses from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything.
    All,
    /// TCP segments and application calls only.
    Tcp,
    /// In-window data at fuzz-chosen offsets ahead of RCV.NXT, then sometimes the hole.
    TcpOutOfOrder,
    /// Datagrams cut into fuzz-chosen, overlapping, reordered fragments.
    Fragments,
}

/// One of the fuzzed connections, seen from the fake peer.
#[derive(Clone, Debug)]
pub struct Conn {
    pub handle: Option<TcpHandle>,
    /// Peer's port, and ours.
    pub pport: u16,
    pub uport: u16,
    /// Next sequence number the peer sends in order.
    pub peer_nxt: u32,
    /// Highest sequence number the stack has sent (seq + len) on this connection.
    pub stack_nxt: u32,
    /// Peer's timestamp clock, if the connection negotiated timestamps.
    pub ts: Option<u32>,
    pub last_ts_ecr: u32,
    /// Bytes the application read from it.
    pub read: u64,
}

pub struct Harness {
    pub stack: Stack,
    pub now: Instant,
    pub conns: Vec<Conn>,
    listener: TcpHandle,
    ip_id: u16,
    /// Last packet the stack sent (quoted back in ICMP errors).
    last_out: Vec<u8>,
    buf: Vec<u8>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A stack with a listener on :80, a UDP socket on :7 and three ESTABLISHED connections.
    pub fn new() -> Self {
        let cfg = StackConfig {
            seed: 7,
            frag_mem_limit: FRAG_MEM,
            frag_timeout: Duration::from_secs(5),
            udp_queue_len: 8,
            tcp: TcpConfig {
                send_buffer: BUF,
                recv_buffer: BUF,
                msl: Duration::from_secs(2),
                max_retries: 4,
                max_syn_retries: 2,
                reassembly_max_segments: 32,
                ..TcpConfig::default()
            },
            ..StackConfig::default()
        };
        let mut stack = Stack::new(cfg);
        let listener = stack
            .tcp_listen(SocketAddrV4::new(US, LISTEN_PORT))
            .expect("listen on :80");
        let _ = stack.udp_bind(SocketAddrV4::new(US, 7));
        let mut h = Harness {
            stack,
            now: Instant::from_secs(1),
            conns: Vec::new(),
            listener,
            ip_id: 1,
            last_out: Vec::new(),
            buf: vec![0; 65535],
        };
        h.open_passive(40000, 0x1000_0000, true);
        h.open_passive(40001, 0xffff_fff0, false);
        h.open_active();
        h
    }

    fn ip(&mut self, protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = Ipv4Repr::new(PEER, US, protocol, 0);
        r.id = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(1);
        r.build(payload)
    }

    /// Drain the stack's output; returns the TCP segments (ports, seq, ack, flags, len).
    pub fn drain(&mut self) -> Vec<(u16, u16, u32, u32, u8, u32)> {
        let mut segs = Vec::new();
        let mut n_out = 0;
        while let Some(n) = self.stack.poll_transmit(self.now, &mut self.buf) {
            n_out += 1;
            assert!(n_out < MAX_DRAIN, "poll_transmit never ends");
            let pkt = self.buf.get(..n).unwrap_or(&[]).to_vec();
            if let Ok(ip) = Ipv4Packet::new_checked(&pkt)
                && ip.protocol() == PROTO_TCP
                && let Ok(s) = Segment::parse(ip.payload())
            {
                segs.push((
                    s.dst_port,
                    s.src_port,
                    s.seq.0,
                    s.ack.0,
                    s.flags,
                    s.seg_len(),
                ));
                for c in self.conns.iter_mut().filter(|c| c.pport == s.dst_port) {
                    let end = s.seq.0.wrapping_add(s.seg_len());
                    if end.wrapping_sub(c.stack_nxt) as i32 > 0 {
                        c.stack_nxt = end;
                    }
                    if let Some(ts) = s.options.timestamps {
                        c.last_ts_ecr = ts.0;
                    }
                }
            }
            self.last_out = pkt;
        }
        while self.stack.poll_event().is_some() {}
        segs
    }

    fn open_passive(&mut self, pport: u16, isn: u32, options: bool) {
        let opts = if options { syn_options(1) } else { Vec::new() };
        let syn = tcp_segment(PEER, US, pport, LISTEN_PORT, isn, 0, SYN, 65535, &opts, &[]);
        let pkt = self.ip(PROTO_TCP, &syn);
        self.stack.handle_packet(self.now, &pkt);
        let synack = self
            .drain()
            .into_iter()
            .find(|s| s.0 == pport && s.4 & SYN != 0);
        let Some((_, _, sseq, _, _, _)) = synack else {
            panic!("no SYN-ACK to the handshake")
        };
        let peer_nxt = isn.wrapping_add(1);
        let stack_nxt = sseq.wrapping_add(1);
        let ts = options.then_some(2);
        let o = ts.map(|t| ts_option(t, 0)).unwrap_or_default();
        let ack = tcp_segment(
            PEER,
            US,
            pport,
            LISTEN_PORT,
            peer_nxt,
            stack_nxt,
            ACK,
            65535,
            &o,
            &[],
        );
        let pkt = self.ip(PROTO_TCP, &ack);
        self.stack.handle_packet(self.now, &pkt);
        self.drain();
        let handle = self.stack.tcp_accept(self.listener).ok();
        assert!(handle.is_some(), "handshake did not complete");
        self.conns.push(Conn {
            handle,
            pport,
            uport: LISTEN_PORT,
            peer_nxt,
            stack_nxt,
            ts,
            last_ts_ecr: 0,
            read: 0,
        });
    }

    fn open_active(&mut self) {
        let h = self
            .stack
            .tcp_connect(self.now, SocketAddrV4::new(PEER, ACTIVE_PORT))
            .ok();
        let syn = self
            .drain()
            .into_iter()
            .find(|s| s.0 == ACTIVE_PORT && s.4 & SYN != 0);
        let Some((_, uport, sseq, _, _, _)) = syn else {
            panic!("no SYN from tcp_connect")
        };
        let isn = 0x7fff_0000;
        let synack = tcp_segment(
            PEER,
            US,
            ACTIVE_PORT,
            uport,
            isn,
            sseq.wrapping_add(1),
            SYN | ACK,
            65535,
            &syn_options(1),
            &[],
        );
        let pkt = self.ip(PROTO_TCP, &synack);
        self.stack.handle_packet(self.now, &pkt);
        self.drain();
        let info = h.and_then(|h| self.stack.tcp_info(h));
        assert_eq!(info.map(|i| i.state), Some("ESTABLISHED"));
        self.conns.push(Conn {
            handle: h,
            pport: ACTIVE_PORT,
            uport,
            peer_nxt: isn.wrapping_add(1),
            stack_nxt: sseq.wrapping_add(1),
            ts: Some(2),
            last_ts_ecr: 0,
            read: 0,
        });
    }

    /// Run the whole input.
    pub fn run(data: &[u8], mode: Mode) {
        let mut h = Harness::new();
        let mut input = Input::new(data);
        let mut ops = 0;
        while !input.is_empty() && ops < 2000 {
            h.op(&mut input, mode);
            h.drain();
            h.check();
            ops += 1;
        }
        // Let every timer run out: nothing may spin, and the stack must go quiet.
        for _ in 0..200 {
            match h.stack.poll_timeout() {
                Some(t) => {
                    h.now = h.now.max(t);
                    h.fire_timers();
                    h.check();
                }
                None => break,
            }
        }
    }

    fn op(&mut self, input: &mut Input, mode: Mode) {
        let sel = input.u8();
        let choice = match mode {
            Mode::All => sel % 9,
            Mode::Tcp => [0, 1, 2, 5, 8][(sel % 5) as usize],
            Mode::TcpOutOfOrder => [0, 7, 7, 7, 2, 5][(sel % 6) as usize],
            Mode::Fragments => [0, 4, 4, 4, 6][(sel % 5) as usize],
        };
        match choice {
            0 => self.advance(input),
            1 => self.fuzzed_segment(input),
            2 => self.in_order_data(input),
            3 => {
                let n = (input.u16() % 1600) as usize;
                let pkt = input.bytes(n);
                self.stack.handle_packet(self.now, &pkt);
            }
            4 => self.fragmented(input),
            5 => self.app(input),
            6 => self.icmp_error(input),
            7 => self.out_of_order(input),
            _ => self.rst_or_syn(input),
        }
    }

    fn advance(&mut self, input: &mut Input) {
        let b = input.u8();
        let step = if b & 0x80 != 0 {
            Duration::from_millis(100 * u64::from(b & 0x7f))
        } else {
            Duration::from_millis(u64::from(b))
        };
        self.now += step;
        self.fire_timers();
    }

    /// Fire every due timer. A deadline that stays at or before `now` after being handled
    /// would make a driver spin: that is a finding.
    pub fn fire_timers(&mut self) {
        let mut rounds = 0;
        while self.stack.poll_timeout().is_some_and(|t| t <= self.now) {
            self.stack.handle_timeout(self.now);
            self.drain();
            rounds += 1;
            assert!(
                rounds < 100,
                "timer spin: poll_timeout() stays at {:?} <= now {:?}",
                self.stack.poll_timeout(),
                self.now
            );
        }
    }

    fn conn(&mut self, input: &mut Input) -> usize {
        usize::from(input.u8()) % self.conns.len()
    }

    fn options_for(&mut self, i: usize) -> Vec<u8> {
        let c = &mut self.conns[i];
        match &mut c.ts {
            Some(t) => {
                *t = t.wrapping_add(1);
                ts_option(*t, c.last_ts_ecr)
            }
            None => Vec::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_segment(
        &mut self,
        i: usize,
        seq: u32,
        ack: u32,
        flags: u8,
        win: u16,
        o: &[u8],
        p: &[u8],
    ) {
        let c = &self.conns[i];
        let seg = tcp_segment(PEER, US, c.pport, c.uport, seq, ack, flags, win, o, p);
        let pkt = self.ip(PROTO_TCP, &seg);
        self.stack.handle_packet(self.now, &pkt);
    }

    /// Any flags, sequence numbers near the connection's, raw options, any payload.
    fn fuzzed_segment(&mut self, input: &mut Input) {
        let i = self.conn(input);
        let flags = input.u8();
        let dseq = input.u16() as i16 as i32;
        let dack = input.u16() as i16 as i32;
        let win = input.u16();
        let olen = usize::from(input.u8() % 41);
        let mut opts = self.options_for(i);
        if olen > 0 {
            opts = input.bytes(olen);
        }
        let plen = usize::from(input.u16() % 3000);
        let payload = input.bytes(plen);
        let c = &self.conns[i];
        let seq = c.peer_nxt.wrapping_add(dseq as u32);
        let ack = c.stack_nxt.wrapping_add(dack as u32);
        if dseq == 0 && !payload.is_empty() {
            self.conns[i].peer_nxt = seq.wrapping_add(payload.len() as u32);
        }
        self.send_segment(i, seq, ack, flags, win, &opts, &payload);
    }

    /// A well-formed in-order data segment acknowledging everything (deep in ESTABLISHED).
    fn in_order_data(&mut self, input: &mut Input) {
        let i = self.conn(input);
        let n = usize::from(input.u16() % 4000);
        let fin = input.u8() == 0xff;
        let payload = input.bytes(n);
        let opts = self.options_for(i);
        let c = &self.conns[i];
        let (seq, ack) = (c.peer_nxt, c.stack_nxt);
        let flags = ACK | PSH | if fin { 1 } else { 0 };
        self.conns[i].peer_nxt = seq.wrapping_add(n as u32 + u32::from(fin));
        self.send_segment(i, seq, ack, flags, 65535, &opts, &payload);
    }

    /// Data at an offset ahead of RCV.NXT (a hole), or the hole itself.
    fn out_of_order(&mut self, input: &mut Input) {
        let i = self.conn(input);
        let off = u32::from(input.u16() % (BUF as u16 * 2));
        let n = usize::from(input.u16() % 2000) + 1;
        let payload = input.bytes(n);
        let opts = self.options_for(i);
        let c = &self.conns[i];
        let (seq, ack) = (c.peer_nxt.wrapping_add(off), c.stack_nxt);
        if off == 0 {
            self.conns[i].peer_nxt = seq.wrapping_add(n as u32);
        } else if input.u8() & 1 == 1 {
            // Fill from RCV.NXT up to and including this piece.
            let fill = input.bytes(off as usize + n);
            self.conns[i].peer_nxt = c.peer_nxt.wrapping_add(off + n as u32);
            self.send_segment(i, seq, ack, ACK, 65535, &opts, &payload);
            let start = seq.wrapping_sub(off);
            self.send_segment(i, start, ack, ACK, 65535, &opts, &fill);
            return;
        }
        self.send_segment(i, seq, ack, ACK, 65535, &opts, &payload);
    }

    /// RST, SYN or RST|ACK at an offset from RCV.NXT (RFC 5961 territory).
    fn rst_or_syn(&mut self, input: &mut Input) {
        let i = self.conn(input);
        let kind = input.u8() % 3;
        let off = input.u32() % 70_000;
        let c = &self.conns[i];
        let seq = c.peer_nxt.wrapping_add(off);
        let ack = c.stack_nxt;
        let flags = [0x04, SYN, 0x04 | ACK][kind as usize];
        self.send_segment(i, seq, ack, flags, 65535, &[], &[]);
    }

    fn app(&mut self, input: &mut Input) {
        let i = self.conn(input);
        let Some(h) = self.conns[i].handle else {
            return;
        };
        let now = self.now;
        match input.u8() % 6 {
            0 | 1 => {
                let n = usize::from(input.u16() % 20_000);
                let data: Vec<u8> = (0..n).map(|k| (k % 253) as u8).collect();
                let _ = self.stack.tcp_send(now, h, &data);
            }
            2 | 3 => {
                let mut buf = vec![0u8; usize::from(input.u16() % 20_000)];
                if let Ok(n) = self.stack.tcp_recv(now, h, &mut buf) {
                    self.conns[i].read += n as u64;
                }
            }
            4 => {
                let how =
                    [Shutdown::Write, Shutdown::Read, Shutdown::Both][usize::from(input.u8() % 3)];
                let _ = self.stack.tcp_shutdown(now, h, how);
            }
            _ => {
                if input.u8() & 1 == 0 {
                    self.stack.tcp_close(now, h);
                } else {
                    self.stack.tcp_abort(now, h);
                }
                self.conns[i].handle = None;
            }
        }
    }

    /// A UDP or TCP datagram cut into fuzz-chosen fragments, fed in a fuzz-chosen order.
    fn fragmented(&mut self, input: &mut Input) {
        let len = usize::from(input.u16() % 6000) + 1;
        let payload = input.bytes(len);
        let (proto, body) = if input.u8() & 1 == 0 {
            (PROTO_UDP, udp::build(PEER, US, 9999, 7, &payload))
        } else {
            let i = self.conn(input);
            let c = &self.conns[i];
            let seg = tcp_segment(
                PEER,
                US,
                c.pport,
                c.uport,
                c.peer_nxt,
                c.stack_nxt,
                ACK,
                65535,
                &[],
                &payload,
            );
            self.conns[i].peer_nxt = c.peer_nxt.wrapping_add(len as u32);
            (PROTO_TCP, seg)
        };
        let id = if input.u8() & 1 == 0 {
            self.ip_id
        } else {
            u16::from(input.u8() % 4)
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        // Cut points in 8-byte units; some pieces overlap the previous one.
        let mut frags = Vec::new();
        let mut off = 0usize;
        while off < body.len() && frags.len() < 64 {
            let units = usize::from(input.u8() % 64) + 1;
            let back = if input.u8().is_multiple_of(8) {
                8 * usize::from(input.u8() % 4)
            } else {
                0
            };
            let start = off.saturating_sub(back);
            let end = (start + units * 8).min(body.len());
            let mut r = Ipv4Repr::new(PEER, US, proto, 0);
            r.id = id;
            r.frag_offset = start;
            r.more_frags = end < body.len() || input.u8() == 0xff;
            frags.push(r.build(body.get(start..end).unwrap_or(&[])));
            off = end.max(off + 1);
        }
        // A fuzz-chosen permutation, some fragments dropped or doubled.
        let mut order: Vec<usize> = (0..frags.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, usize::from(input.u8()) % (k + 1));
        }
        for k in order {
            match input.u8() % 16 {
                0 => {}
                1 => {
                    self.stack.handle_packet(self.now, &frags[k]);
                    self.stack.handle_packet(self.now, &frags[k]);
                }
                _ => self.stack.handle_packet(self.now, &frags[k]),
            }
            if input.u8().is_multiple_of(8) {
                self.advance(input);
            }
        }
    }

    /// An ICMP error quoting the last packet the stack sent (fuzzed type, code, MTU).
    fn icmp_error(&mut self, input: &mut Input) {
        let t = [3, 3, 11, 12, 4, 5][usize::from(input.u8() % 6)];
        let code = input.u8() % 16;
        let mtu = input.u16();
        let quote = self
            .last_out
            .get(..self.last_out.len().min(28 + usize::from(input.u8())))
            .unwrap_or(&[])
            .to_vec();
        let mut icmp = icmpv4::build_error(t, code, &quote);
        if t == 3 && code == 4 && icmp.len() >= 8 {
            icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
            icmp[2..4].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&icmp);
            icmp[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let pkt = self.ip(PROTO_ICMP, &icmp);
        self.stack.handle_packet(self.now, &pkt);
    }

    /// What must hold after every operation.
    pub fn check(&self) {
        let s = self.stack.stats();
        assert!(s.accounted(), "a packet was not counted exactly once:\n{s}");
        let (n, mem) = self.stack.reassembly_pending();
        assert!(
            mem <= FRAG_MEM,
            "fragment memory {mem} over its cap {FRAG_MEM} ({n} datagrams)"
        );
        for c in &self.conns {
            let Some(h) = c.handle else { continue };
            let Some(info) = self.stack.tcp_info(h) else {
                continue;
            };
            assert!(
                info.rcv_wnd as usize <= BUF,
                "receive window {} over the buffer {BUF} ({})",
                info.rcv_wnd,
                info.state
            );
            assert!(!info.state.is_empty());
            assert!(
                info.cwnd > 0 || info.state != "ESTABLISHED",
                "zero cwnd in ESTABLISHED"
            );
        }
    }
}
