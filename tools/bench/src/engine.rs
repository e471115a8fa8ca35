//! The sans-IO engine without syscalls: two `Stack`s joined back to back in memory, a bulk
//! transfer from `tx` to `rx`, and the time (or instructions) spent on each side.
//!
//! "Send path" = everything the sender does: `tcp_send`, `poll_transmit` of data segments,
//! `handle_packet` of the returning ACKs. "Receive path" = everything the receiver does:
//! `handle_packet` of data segments, `tcp_recv`, `poll_transmit` of its ACKs.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use tunstack::{Instant, Stack, StackConfig, TcpHandle};

const PORT: u16 = 9;

/// A connected pair: `tx` (198.18.0.1) sends to `rx` (198.18.0.2).
pub struct Pair {
    pub tx: Stack,
    pub rx: Stack,
    pub htx: TcpHandle,
    pub hrx: TcpHandle,
    now: Instant,
    /// Packets in flight: (buffer, length); buffers are reused.
    pkt: Vec<(Vec<u8>, usize)>,
    /// Length of a packet buffer: the MTU, or 64 KiB for super-segments. (They were all 64 KiB:
    /// zeroing each new one cost the send path ~1,300 instructions per segment at MTU 1500.)
    buf_len: usize,
    /// Per packet in `pkt`: a super-segment (its checksum partial).
    gso: Vec<bool>,
    spare: Vec<Vec<u8>>,
    data: Vec<u8>,
    sink: Vec<u8>,
    /// Collect the receiver's ACKs after every this many data segments (0: once per round,
    /// the receiver coalescing its ACKs per batch). 2 is a kernel peer's ACK clock, which the
    /// stack → kernel direction of the TUN benchmarks runs against.
    pub ack_every: usize,
    /// Data segments carried so far.
    pub segments: u64,
    pub bytes: u64,
}

/// Time spent on each side by `Pair::transfer`.
#[derive(Default, Clone, Copy, Debug)]
pub struct Split {
    pub send: StdDuration,
    pub recv: StdDuration,
}

fn cfg(addr: Ipv4Addr, mtu: usize, seed: u64) -> StackConfig {
    let mut c = StackConfig {
        addr,
        mtu,
        seed,
        ..StackConfig::default()
    };
    c.tcp.send_buffer = 1 << 20;
    c.tcp.recv_buffer = 1 << 20;
    c
}

/// Move every packet `from` has into `to`; returns how many moved.
fn shuttle(from: &mut Stack, to: &mut Stack, now: Instant, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while let Some(len) = from.poll_transmit(now, buf) {
        if let Some(p) = buf.get(..len) {
            to.handle_packet(now, p);
        }
        n += 1;
    }
    n
}

impl Pair {
    /// Handshake done, nothing in flight.
    pub fn new(mtu: usize) -> Pair {
        Self::with_offload(mtu, false)
    }

    /// `new`; with `offload`, the sender builds TSO super-segments (`TcpConfig::offload`) and
    /// the receiver takes them as from an offloading link (`handle_packet_offloaded`).
    pub fn with_offload(mtu: usize, offload: bool) -> Pair {
        let a = Ipv4Addr::new(198, 18, 0, 1);
        let b = Ipv4Addr::new(198, 18, 0, 2);
        let mut ca = cfg(a, mtu, 1);
        let mut cb = cfg(b, mtu, 2);
        ca.tcp.offload = offload;
        cb.tcp.offload = offload;
        let mut tx = Stack::new(ca);
        let mut rx = Stack::new(cb);
        let now = Instant::from_secs(1);
        let l = rx
            .tcp_listen(SocketAddrV4::new(b, PORT))
            .expect("listen on a fresh stack");
        let htx = tx
            .tcp_connect(now, SocketAddrV4::new(b, PORT))
            .expect("connect on a fresh stack");
        let mut buf = vec![0u8; 65536];
        for _ in 0..8 {
            shuttle(&mut tx, &mut rx, now, &mut buf);
            shuttle(&mut rx, &mut tx, now, &mut buf);
        }
        let hrx = rx.tcp_accept(l).expect("handshake completes in memory");
        Pair {
            tx,
            rx,
            htx,
            hrx,
            now,
            pkt: Vec::new(),
            buf_len: if offload { 65536 } else { mtu },
            gso: Vec::new(),
            spare: Vec::new(),
            data: vec![0x5a; 256 * 1024],
            sink: vec![0; 256 * 1024],
            ack_every: 0,
            segments: 0,
            bytes: 0,
        }
    }

    fn tick(&mut self) {
        self.now += tunstack::Duration::from_micros(10);
        for s in [&mut self.tx, &mut self.rx] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
    }

    /// Send at least `bytes` from tx to rx (whole rounds: fill the window, deliver, ACK).
    pub fn transfer(&mut self, bytes: u64) -> Split {
        let mut split = Split::default();
        let goal = self.bytes + bytes;
        while self.bytes < goal {
            self.tick();
            let t0 = StdInstant::now();
            self.send_side();
            let t1 = StdInstant::now();
            let acks = self.recv_side();
            let t2 = StdInstant::now();
            self.ack_side(&acks);
            let t3 = StdInstant::now();
            self.spare.extend(acks.into_iter().map(|(b, _)| b));
            split.send += (t1 - t0) + (t3 - t2);
            split.recv += t2 - t1;
        }
        split
    }

    /// Instructions of each side, for callgrind `--toggle-collect=*send_side*` etc.
    pub fn transfer_untimed(&mut self, bytes: u64) {
        let goal = self.bytes + bytes;
        while self.bytes < goal {
            self.tick();
            self.send_side();
            let acks = self.recv_side();
            self.ack_side(&acks);
            self.spare.extend(acks.into_iter().map(|(b, _)| b));
        }
    }

    /// Queue data and collect the data segments into `self.pkt`.
    #[inline(never)]
    pub fn send_side(&mut self) {
        let _ = self.tx.tcp_send(self.now, self.htx, &self.data);
        loop {
            let mut b = self.buffer();
            match self.tx.poll_transmit(self.now, &mut b) {
                Some(n) => {
                    self.pkt.push((b, n));
                    self.gso.push(self.tx.last_transmit_gso().is_some());
                }
                None => {
                    self.spare.push(b);
                    break;
                }
            }
        }
    }

    /// Deliver the data segments, read the data, and collect the ACKs.
    #[inline(never)]
    pub fn recv_side(&mut self) -> Vec<(Vec<u8>, usize)> {
        let mut pkts = std::mem::take(&mut self.pkt);
        let mut acks = Vec::new();
        let mut gsos = std::mem::take(&mut self.gso);
        for (i, ((p, n), gso)) in pkts.iter().zip(gsos.drain(..)).enumerate() {
            let p = p.get(..*n).unwrap_or_default();
            if gso {
                self.rx.handle_packet_offloaded(self.now, p);
            } else {
                self.rx.handle_packet(self.now, p);
            }
            self.segments += 1;
            if self.ack_every > 0 && (i + 1) % self.ack_every == 0 {
                self.collect_acks(&mut acks);
            }
        }
        while let Ok(n) = self.rx.tcp_recv(self.now, self.hrx, &mut self.sink) {
            if n == 0 {
                break;
            }
            self.bytes += n as u64;
        }
        self.spare.extend(pkts.drain(..).map(|(b, _)| b));
        self.pkt = pkts;
        self.gso = gsos;
        self.collect_acks(&mut acks);
        acks
    }

    fn collect_acks(&mut self, acks: &mut Vec<(Vec<u8>, usize)>) {
        loop {
            let mut b = self.buffer();
            match self.rx.poll_transmit(self.now, &mut b) {
                Some(n) => acks.push((b, n)),
                None => {
                    self.spare.push(b);
                    break;
                }
            }
        }
    }

    /// The sender takes the ACKs.
    #[inline(never)]
    pub fn ack_side(&mut self, acks: &[(Vec<u8>, usize)]) {
        for (a, n) in acks {
            self.tx
                .handle_packet(self.now, a.get(..*n).unwrap_or_default());
        }
    }

    fn buffer(&mut self) -> Vec<u8> {
        let n = self.buf_len;
        self.spare.pop().unwrap_or_else(|| vec![0; n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive() {
        let mut p = Pair::new(1500);
        p.transfer(1 << 20);
        assert!(p.bytes >= 1 << 20);
        // Full-sized segments: 1 MiB needs at least 1 MiB / 1460 of them.
        assert!(p.segments >= (1 << 20) / 1460, "{}", p.segments);
    }
}
