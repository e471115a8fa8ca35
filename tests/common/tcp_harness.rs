//! Scenario harness for the TCP engine: drive one `TcpLayer` with hand-built segments from a
//! pretend peer in virtual time, and check what it sends. Failures print the whole step log,
//! tcpdump-style. Our side is 198.18.0.2:80 with ISS 1000 (fixed ISN); the peer is
//! 198.18.0.1:40000 and its ISN is 5000 in the fixtures.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::capture::{Capture, Direction};
use tunstack::tcp::segment::{
    ACK, FIN, Header, PSH, RST, SYN, Segment, TcpOptions, fill_checksum, flag_str,
};
use tunstack::tcp::seq::SeqNum;
use tunstack::tcp::{Shutdown, TcpConfig, TcpLayer, TcpStats};
use tunstack::time::{Duration, Instant};
use tunstack::{SocketError, TcpHandle};

pub const US_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const US: SocketAddrV4 = SocketAddrV4::new(US_IP, 80);
pub const PEER: SocketAddrV4 = SocketAddrV4::new(PEER_IP, 40000);
pub const ISS: u32 = 1000;
pub const IRS: u32 = 5000;

/// A segment description: used both to build what the peer sends and to match what we send
/// (only the fields that were set are compared).
#[derive(Clone, Debug, Default)]
pub struct Seg {
    pub seq: Option<u32>,
    pub ack: Option<u32>,
    pub flags: u8,
    pub window: Option<u16>,
    pub payload: Option<Vec<u8>>,
    pub len: Option<usize>,
    pub options: TcpOptions,
    pub check_options: bool,
    pub ports: Option<(u16, u16)>,
}

pub fn seg() -> Seg {
    Seg::default()
}

impl Seg {
    pub fn seq(mut self, n: u32) -> Self {
        self.seq = Some(n);
        self
    }
    /// Sets ACK and the acknowledgment number.
    pub fn ack(mut self, n: u32) -> Self {
        self.ack = Some(n);
        self.flags |= ACK;
        self
    }
    pub fn syn(mut self) -> Self {
        self.flags |= SYN;
        self
    }
    pub fn fin(mut self) -> Self {
        self.flags |= FIN;
        self
    }
    pub fn rst(mut self) -> Self {
        self.flags |= RST;
        self
    }
    pub fn psh(mut self) -> Self {
        self.flags |= PSH;
        self
    }
    /// The ACK flag without a number (matching: any ack).
    pub fn ack_flag(mut self) -> Self {
        self.flags |= ACK;
        self
    }
    pub fn win(mut self, w: u16) -> Self {
        self.window = Some(w);
        self
    }
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = Some(p.to_vec());
        self
    }
    /// Matching only: the payload length.
    pub fn len(mut self, n: usize) -> Self {
        self.len = Some(n);
        self
    }
    pub fn mss(mut self, m: u16) -> Self {
        self.options.mss = Some(m);
        self.check_options = true;
        self
    }
    pub fn wscale(mut self, s: u8) -> Self {
        self.options.window_scale = Some(s);
        self.check_options = true;
        self
    }
    pub fn ts(mut self, val: u32, ecr: u32) -> Self {
        self.options.timestamps = Some((val, ecr));
        self.check_options = true;
        self
    }
    pub fn sack_perm(mut self) -> Self {
        self.options.sack_permitted = true;
        self.check_options = true;
        self
    }
    /// Add a SACK block [l, r) (RFC 2018).
    pub fn sack(mut self, l: u32, r: u32) -> Self {
        if let Some(slot) = self.options.sack_blocks.iter_mut().find(|b| b.is_none()) {
            *slot = Some((SeqNum(l), SeqNum(r)));
        }
        self
    }
    pub fn ports(mut self, src: u16, dst: u16) -> Self {
        self.ports = Some((src, dst));
        self
    }

    /// The peer's segment on the wire (checksum filled in).
    pub fn build(&self) -> Vec<u8> {
        let (sp, dp) = self.ports.unwrap_or((PEER.port(), US.port()));
        let h = Header {
            src_port: sp,
            dst_port: dp,
            seq: SeqNum(self.seq.unwrap_or(IRS + 1)),
            ack: SeqNum(self.ack.unwrap_or(0)),
            flags: self.flags,
            window: self.window.unwrap_or(65535),
            options: self.options,
        };
        let mut buf = vec![0u8; 60];
        let n = h.emit(&mut buf).expect("header fits");
        buf.truncate(n);
        buf.extend_from_slice(self.payload.as_deref().unwrap_or(&[]));
        fill_checksum(PEER_IP, US_IP, &mut buf);
        buf
    }
}

/// tcpdump-style one-liner of a parsed segment.
pub fn show(s: &Segment<'_>) -> String {
    let mut o = String::new();
    if let Some(m) = s.options.mss {
        o += &format!("mss {m},");
    }
    if let Some(w) = s.options.window_scale {
        o += &format!("wscale {w},");
    }
    if s.options.sack_permitted {
        o += "sackOK,";
    }
    if let Some((v, e)) = s.options.timestamps {
        o += &format!("TS val {v} ecr {e},");
    }
    for (l, r) in s.options.sack_blocks.iter().flatten() {
        o += &format!("sack {l}:{r},");
    }
    format!(
        "Flags [{}], seq {}, ack {}, win {}, options [{}], length {}",
        flag_str(s.flags),
        s.seq,
        s.ack,
        s.window,
        o.trim_end_matches(','),
        s.payload.len()
    )
}

pub struct Scenario {
    pub tcp: TcpLayer,
    pub now: Instant,
    /// Every segment both ways, as IPv4 packets, for `target/scenarios/<test>.pcapng`.
    trace: Vec<(u64, Direction, Vec<u8>)>,
    /// The connection under test (accepted or connected).
    pub h: Option<TcpHandle>,
    pub listener: Option<TcpHandle>,
    pub log: Vec<String>,
}

impl Scenario {
    pub fn new(cfg: TcpConfig) -> Self {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut tcp = TcpLayer::new(cfg, [9; 16], 1);
        tcp.set_mtu(1500);
        tcp.set_fixed_isn(Some(ISS));
        Scenario {
            tcp,
            now: Instant::ZERO,
            trace: Vec::new(),
            h: None,
            listener: None,
            log: Vec::new(),
        }
    }

    /// Default config with no delayed ACK (every data segment is ACKed at once) and the RFC 6298
    /// (2.4) minimum RTO of 1 s, so RTO stays 1 s after the zero-time handshake sample.
    pub fn quick_ack_config() -> TcpConfig {
        TcpConfig {
            delayed_ack: Duration::ZERO,
            min_rto: Duration::from_secs(1),
            // The classic scenarios pin RFC 5681/6582 behaviour; tests/loss_*.rs and cc_*.rs
            // cover the defaults (CUBIC, RACK-TLP, PRR, undo).
            cc: "newreno".into(),
            recovery: tunstack::tcp::Recovery::DupAck,
            prr: false,
            undo: false,
            ..TcpConfig::default()
        }
    }

    pub fn listening(cfg: TcpConfig) -> Self {
        let mut t = Scenario::new(cfg);
        t.listener = Some(t.tcp.listen(US).expect("listen"));
        t
    }

    /// ESTABLISHED through a passive open with a plain SYN (MSS 1460, no other options).
    pub fn established() -> Self {
        Self::established_with(Self::quick_ack_config(), seg().syn().seq(IRS).mss(1460))
    }

    pub fn established_with(cfg: TcpConfig, syn: Seg) -> Self {
        let mut t = Scenario::listening(cfg);
        let peer_ts = syn.options.timestamps.map_or(0, |(v, _)| v);
        t.peer_sends(syn);
        let synack = t.pop_tx().expect("SYN,ACK");
        assert_eq!(synack.flags, SYN | ACK, "{}", t.dump());
        let ecr = synack.options.timestamps.map(|(v, _)| v);
        let mut ack = seg().seq(IRS + 1).ack(ISS + 1);
        if let Some(v) = ecr {
            ack = ack.ts(peer_ts.wrapping_add(1), v);
        }
        t.peer_sends(ack);
        let l = t.listener.expect("listener");
        t.h = Some(t.tcp.accept(l).expect("accept"));
        t.expect_state("ESTABLISHED");
        t
    }

    /// SYN-SENT after connect(); the SYN has been read.
    pub fn syn_sent(cfg: TcpConfig) -> Self {
        let mut t = Scenario::new(cfg);
        let h = t
            .tcp
            .connect(t.now, SocketAddrV4::new(US_IP, 80), PEER)
            .expect("connect");
        t.h = Some(h);
        let syn = t.pop_tx().expect("SYN");
        assert_eq!(syn.flags, SYN, "{}", t.dump());
        t
    }

    pub fn handle(&self) -> TcpHandle {
        self.h.expect("a connection")
    }

    pub fn dump(&self) -> String {
        format!("step log:\n  {}", self.log.join("\n  "))
    }

    pub fn peer_sends(&mut self, s: Seg) -> &mut Self {
        let bytes = s.build();
        self.peer_sends_raw(&bytes)
    }

    pub fn peer_sends_raw(&mut self, bytes: &[u8]) -> &mut Self {
        let line = match Segment::parse(bytes) {
            Ok(p) => show(&p),
            Err(e) => format!("malformed ({e:?})"),
        };
        self.log.push(format!("{:?} peer > us: {line}", self.now));
        let pkt = ipv4_wrap(PEER_IP, US_IP, bytes);
        self.trace
            .push((self.now.total_micros(), Direction::In, pkt));
        self.tcp.handle_segment(self.now, PEER_IP, US_IP, bytes);
        self
    }

    /// The next segment we send, parsed and owned.
    pub fn pop_tx(&mut self) -> Option<Sent> {
        let mut buf = vec![0u8; 1480];
        let (src, dst, n) = self.tcp.poll_transmit(self.now, &mut buf)?;
        let p = Segment::parse_checked(src, dst, &buf[..n]).expect("we send valid segments");
        let pkt = ipv4_wrap(src, dst, &buf[..n]);
        self.trace
            .push((self.now.total_micros(), Direction::Out, pkt));
        self.log
            .push(format!("{:?} us > peer: {}", self.now, show(&p)));
        Some(Sent {
            src_port: p.src_port,
            dst_port: p.dst_port,
            seq: p.seq.0,
            ack: p.ack.0,
            flags: p.flags,
            window: p.window,
            options: p.options,
            payload: p.payload.to_vec(),
        })
    }

    /// Everything we would send now.
    pub fn drain(&mut self) -> Vec<Sent> {
        std::iter::from_fn(|| self.pop_tx()).collect()
    }

    #[track_caller]
    pub fn expect_tx(&mut self, want: Seg) -> &mut Self {
        let Some(got) = self.pop_tx() else {
            panic!("expected {want:?}, sent nothing\n{}", self.dump());
        };
        if let Err(why) = got.matches(&want) {
            panic!("{why}\n{}", self.dump());
        }
        self
    }

    #[track_caller]
    pub fn expect_nothing(&mut self) -> &mut Self {
        if let Some(s) = self.pop_tx() {
            panic!("expected nothing, sent {s:?}\n{}", self.dump());
        }
        self
    }

    /// Advance virtual time, firing each deadline on the way at its own time.
    pub fn advance_ms(&mut self, ms: u64) -> &mut Self {
        self.advance(Duration::from_millis(ms))
    }

    pub fn advance(&mut self, d: Duration) -> &mut Self {
        let end = self.now + d;
        while let Some(t) = self.tcp.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.tcp.handle_timeout(self.now);
            if self.tcp.poll_timeout() == Some(t) {
                break; // nothing more due at t (defensive)
            }
        }
        self.now = end;
        self.tcp.handle_timeout(self.now);
        self.log.push(format!("{:?} (time)", self.now));
        self
    }

    pub fn app_write(&mut self, data: &[u8]) -> &mut Self {
        let h = self.handle();
        let n = self.tcp.send(self.now, h, data).expect("send");
        assert_eq!(n, data.len(), "send took {n} of {}", data.len());
        self.log
            .push(format!("{:?} app write {} bytes", self.now, n));
        self
    }

    pub fn app_read(&mut self) -> Result<Vec<u8>, SocketError> {
        let h = self.handle();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match self.tcp.recv(self.now, h, &mut buf) {
                Ok(0) if out.is_empty() => return Ok(out),
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(SocketError::WouldBlock) if !out.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        self.log
            .push(format!("{:?} app read {} bytes", self.now, out.len()));
        Ok(out)
    }

    pub fn app_close(&mut self) -> &mut Self {
        let h = self.handle();
        self.tcp.close(self.now, h);
        self.log.push(format!("{:?} app close", self.now));
        self
    }

    pub fn app_shutdown_write(&mut self) -> &mut Self {
        let h = self.handle();
        self.tcp
            .shutdown(self.now, h, Shutdown::Write)
            .expect("shutdown");
        self.log.push(format!("{:?} app shutdown(Write)", self.now));
        self
    }

    pub fn app_abort(&mut self) -> &mut Self {
        let h = self.handle();
        self.tcp.abort(self.now, h);
        self.log.push(format!("{:?} app abort", self.now));
        self
    }

    /// The RFC state of the connection under test ("CLOSED" once it is gone).
    pub fn state(&self) -> &'static str {
        self.h
            .and_then(|h| self.tcp.info(h))
            .map_or("CLOSED", |i| i.state)
    }

    #[track_caller]
    pub fn expect_state(&mut self, want: &str) -> &mut Self {
        let got = self.state();
        assert_eq!(got, want, "state\n{}", self.dump());
        self
    }

    pub fn stats(&self) -> &TcpStats {
        self.tcp.stats()
    }

    pub fn conn(&self) -> &tunstack::tcp::connection::Connection {
        self.tcp.connection(self.handle()).expect("connection")
    }
}

/// A 20-byte IPv4 header in front of a segment, for the capture file.
fn ipv4_wrap(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> Vec<u8> {
    let total = (20 + seg.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = tunstack::wire::checksum::checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(seg);
    p
}

impl Drop for Scenario {
    /// Write the scenario's packets to `target/scenarios/<test name>.pcapng` (virtual time).
    fn drop(&mut self) {
        let name = std::thread::current()
            .name()
            .unwrap_or("scenario")
            .replace("::", "-");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scenarios");
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        if let Ok(mut cap) = Capture::create(&dir.join(format!("{name}.pcapng")), 1 << 20) {
            for (t, d, p) in &self.trace {
                let _ = cap.write(*t, *d, p);
            }
            let _ = cap.flush();
        }
    }
}

/// A segment we sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Sent {
    pub fn matches(&self, w: &Seg) -> Result<(), String> {
        let mut diffs = Vec::new();
        // PSH is compared only when asked for; ACK too, except on RSTs (compared exactly).
        let mut mask = if w.flags & PSH != 0 { 0xff } else { !PSH };
        if w.flags & (ACK | RST) == 0 {
            mask &= !ACK;
        }
        if self.flags & mask != w.flags & mask {
            diffs.push(format!(
                "flags [{}] want [{}]",
                flag_str(self.flags),
                flag_str(w.flags)
            ));
        }
        if let Some(s) = w.seq
            && s != self.seq
        {
            diffs.push(format!("seq {} want {s}", self.seq));
        }
        if let Some(a) = w.ack
            && a != self.ack
        {
            diffs.push(format!("ack {} want {a}", self.ack));
        }
        if let Some(win) = w.window
            && win != self.window
        {
            diffs.push(format!("win {} want {win}", self.window));
        }
        if let Some(p) = &w.payload
            && *p != self.payload
        {
            diffs.push(format!(
                "payload {:?} want {:?}",
                String::from_utf8_lossy(&self.payload),
                String::from_utf8_lossy(p)
            ));
        }
        if let Some(n) = w.len
            && n != self.payload.len()
        {
            diffs.push(format!("length {} want {n}", self.payload.len()));
        }
        if w.check_options {
            let o = &w.options;
            if o.mss.is_some() && o.mss != self.options.mss {
                diffs.push(format!("mss {:?} want {:?}", self.options.mss, o.mss));
            }
            if o.window_scale.is_some() && o.window_scale != self.options.window_scale {
                diffs.push(format!(
                    "wscale {:?} want {:?}",
                    self.options.window_scale, o.window_scale
                ));
            }
            if o.sack_permitted && !self.options.sack_permitted {
                diffs.push("sackOK missing".into());
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!("segment mismatch: {}", diffs.join("; ")))
        }
    }
}
