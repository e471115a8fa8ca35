//! Fuzz-style robustness: 120k random and mutated packets (valid IPv4/ICMP/UDP/TCP/fragments,
//! TCP with valid checksums to a listener so the TCP layer is exercised too
//! with bits flipped, cut, extended, checksums sometimes repaired so the damage reaches deeper
//! layers) into a stack with open UDP sockets. Nothing may panic, and every packet must be
//! accounted for: `packets_in == delivered + Σ drop reasons` after every single packet.
//! Seeded: a failure is replayed by running the test again.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::rng::Rng;
use tunstack::stack::testkit::Scenario;
use tunstack::wire::checksum;
use tunstack::wire::icmpv4;
use tunstack::wire::ipv4::{Ipv4Repr, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Duration, StackConfig};

const SEED: u64 = 0x7475_6e73_7461_636b;
const PACKETS: usize = 120_000;

struct Gen {
    rng: Rng,
    peer: Ipv4Addr,
    us: Ipv4Addr,
    /// Packets the stack sent, quoted back in ICMP errors.
    sent: Vec<Vec<u8>>,
    /// Fragments waiting to be fed, in a shuffled order.
    pending_frags: Vec<Vec<u8>>,
}

impl Gen {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill(&mut v);
        v
    }

    fn size(&mut self) -> usize {
        // Mostly small, sometimes up to a few KB.
        match self.rng.below(10) {
            0 => self.rng.below(4000) as usize,
            1..=3 => self.rng.below(8) as usize,
            _ => self.rng.below(300) as usize,
        }
    }

    fn src(&mut self) -> Ipv4Addr {
        match self.rng.below(20) {
            0 => Ipv4Addr::from(self.rng.next_u32()),
            1 => Ipv4Addr::UNSPECIFIED,
            2 => Ipv4Addr::new(198, 18, 0, 255),
            _ => self.peer,
        }
    }

    fn dst(&mut self) -> Ipv4Addr {
        match self.rng.below(20) {
            0 => Ipv4Addr::from(self.rng.next_u32()),
            1 => Ipv4Addr::BROADCAST,
            2 => Ipv4Addr::new(198, 18, 0, 255),
            _ => self.us,
        }
    }

    fn repr(&mut self, protocol: u8) -> Ipv4Repr {
        let mut r = Ipv4Repr::new(self.src(), self.dst(), protocol, 0);
        r.id = self.rng.below(64) as u16; // few IDs: fragments of different datagrams collide
        r.ttl = self.rng.below(256) as u8;
        r.dont_frag = self.rng.chance(0.3);
        r
    }

    /// One valid-looking IP payload of a random kind and its protocol.
    fn transport(&mut self, src: Ipv4Addr, dst: Ipv4Addr) -> (u8, Vec<u8>) {
        let n = self.size();
        match self.rng.below(8) {
            0 | 1 => {
                let dport = [7, 9, 53, 5000, 1, 65535][self.rng.below(6) as usize];
                let sport = self.rng.below(65536) as u16;
                let data = self.bytes(n);
                (PROTO_UDP, udp::build(src, dst, sport, dport, &data))
            }
            2 => {
                let data = self.bytes(n);
                let id = self.rng.below(65536) as u16;
                (
                    PROTO_ICMP,
                    icmpv4::build_echo(icmpv4::ECHO_REQUEST, id, 1, &data),
                )
            }
            3 if !self.sent.is_empty() => {
                let i = self.rng.below(self.sent.len() as u64) as usize;
                let quoted = self.sent[i].clone();
                let ty = [3, 3, 4, 5, 11, 12][self.rng.below(6) as usize];
                let code = self.rng.below(16) as u8;
                (PROTO_ICMP, icmpv4::build_error(ty, code, &quoted))
            }
            4 => {
                let data = self.bytes(n);
                let ty = self.rng.below(256) as u8;
                (PROTO_ICMP, icmpv4::build(ty, 0, [0; 4], &data))
            }
            5 => (PROTO_TCP, self.bytes(20 + n)),
            6 => (PROTO_TCP, self.tcp_segment(src, dst, n)),
            _ => {
                let p = self.rng.below(256) as u8;
                (p, self.bytes(n))
            }
        }
    }

    /// A TCP segment with a valid checksum to the listener on port 80: random flags, sequence
    /// numbers and option bytes, from a handful of peer ports (so connections form).
    fn tcp_segment(&mut self, src: Ipv4Addr, dst: Ipv4Addr, n: usize) -> Vec<u8> {
        let opt_words = self.rng.below(11) as usize;
        let mut seg = self.bytes(20 + 4 * opt_words + n.min(200));
        let sport = 40000 + self.rng.below(8) as u16;
        seg[0..2].copy_from_slice(&sport.to_be_bytes());
        seg[2..4].copy_from_slice(&80u16.to_be_bytes());
        seg[12] = ((5 + opt_words) as u8) << 4;
        seg[13] = [
            0x02,
            0x10,
            0x18,
            0x11,
            0x04,
            0x12,
            self.rng.below(256) as u8,
        ][self.rng.below(7) as usize];
        let opts = &mut seg[20..20 + 4 * opt_words];
        if self.rng.chance(0.5) {
            // Well-formed options: NOPs, then MSS, SACK-permitted, timestamps, window scale
            // when they fit.
            opts.fill(1);
            const FULL: [u8; 20] = [
                2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 7, 1,
            ];
            if let Some(tail) = opts.get_mut(..FULL.len()) {
                tail.copy_from_slice(&FULL);
            }
        }
        seg[16] = 0;
        seg[17] = 0;
        let c = checksum::transport_checksum(src, dst, PROTO_TCP, &seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        seg
    }

    fn valid_packets(&mut self) -> Vec<Vec<u8>> {
        let mut r = self.repr(0);
        let (protocol, payload) = self.transport(r.src, r.dst);
        r.protocol = protocol;
        if self.rng.chance(0.15) && payload.len() > 16 {
            let mtu = 28 + 8 * (1 + self.rng.below(100) as usize);
            let mut frags = r.fragment(&payload, mtu);
            for i in (1..frags.len()).rev() {
                frags.swap(i, self.rng.below(i as u64 + 1) as usize);
            }
            if self.rng.chance(0.2) {
                frags.truncate(frags.len() / 2); // some never complete
            }
            return frags;
        }
        vec![r.build(&payload)]
    }

    fn mutate(&mut self, p: &mut Vec<u8>) {
        for _ in 0..=self.rng.below(3) {
            match self.rng.below(6) {
                0 if !p.is_empty() => {
                    let i = self.rng.below(p.len() as u64) as usize;
                    p[i] ^= 1 << self.rng.below(8);
                }
                1 if !p.is_empty() => {
                    let i = self.rng.below(p.len().min(40) as u64) as usize;
                    p[i] = self.rng.below(256) as u8;
                }
                2 => {
                    let keep = self.rng.below(p.len() as u64 + 1) as usize;
                    p.truncate(keep);
                }
                3 => {
                    let n = self.rng.below(16) as usize;
                    let extra = self.bytes(n);
                    p.extend_from_slice(&extra);
                }
                _ => {}
            }
        }
        // Half the time repair the header checksum so the damage reaches the layers above.
        if self.rng.chance(0.5) {
            repair_ip_checksum(p);
        }
    }

    fn next_packets(&mut self) -> Vec<Vec<u8>> {
        match self.rng.below(10) {
            0 => {
                let n = self.size();
                vec![self.bytes(n)]
            }
            1 => {
                let n = self.size().max(1);
                let mut v = self.bytes(n);
                v[0] = 0x60 | (v[0] & 0x0f);
                vec![v]
            }
            2..=5 => {
                let mut ps = self.valid_packets();
                for p in &mut ps {
                    if self.rng.chance(0.7) {
                        self.mutate(p);
                    }
                }
                ps
            }
            _ => self.valid_packets(),
        }
    }
}

fn repair_ip_checksum(p: &mut [u8]) {
    let Some(&first) = p.first() else { return };
    let hlen = usize::from(first & 0x0f) * 4;
    if hlen < 20 || p.len() < hlen {
        return;
    }
    p[10] = 0;
    p[11] = 0;
    let c = checksum::checksum(&p[..hlen]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn random_and_mutated_packets_never_panic_and_are_all_accounted_for() {
    let mut t = Scenario::with_config(StackConfig {
        seed: SEED,
        frag_mem_limit: 256 * 1024,
        udp_queue_len: 32,
        icmp_error_rate: 1000,
        ..StackConfig::default()
    });
    let mut socks = Vec::new();
    for a in [
        "0.0.0.0:7",
        "198.18.0.2:7",
        "0.0.0.0:9",
        "0.0.0.0:53",
        "0.0.0.0:0",
    ] {
        socks.push(t.stack.udp_bind(a.parse().unwrap()).unwrap());
    }
    let listener = t.stack.tcp_listen("0.0.0.0:80".parse().unwrap()).unwrap();
    let connected = t.stack.udp_bind("0.0.0.0:5000".parse().unwrap()).unwrap();
    t.stack
        .udp_connect(connected, SocketAddrV4::new(t.peer, 5353))
        .unwrap();
    socks.push(connected);

    let mut g = Gen {
        rng: Rng::new(SEED),
        peer: t.peer,
        us: t.us(),
        sent: Vec::new(),
        pending_frags: Vec::new(),
    };
    let mut fed = 0usize;
    let mut buf = vec![0u8; 2048];
    while fed < PACKETS {
        while g.pending_frags.is_empty() {
            g.pending_frags = g.next_packets();
        }
        let p = g.pending_frags.remove(0);
        t.stack.handle_packet(t.now, &p);
        fed += 1;
        let s = t.stack.stats();
        assert_eq!(s.packets_in as usize, fed);
        assert!(s.accounted(), "after packet {fed} ({p:02x?}):\n{s}");

        if fed.is_multiple_of(200) {
            // Our traffic: sends on sockets, echo replies, errors. Keep a few to quote back.
            let _ = t.stack.udp_send(t.now, connected, &[fed as u8; 40]);
            let _ = t
                .stack
                .udp_send_to(t.now, socks[4], b"x", SocketAddrV4::new(t.peer, 9));
            while let Some(n) = t.stack.poll_transmit(t.now, &mut buf) {
                if g.sent.len() < 64 {
                    g.sent.push(buf[..n].to_vec());
                } else {
                    let i = g.rng.below(64) as usize;
                    g.sent[i] = buf[..n].to_vec();
                }
            }
            for &h in &socks {
                while t.stack.udp_recv_from(h, &mut buf).is_ok() {}
            }
            while t.stack.poll_event().is_some() {}
            while let Ok(c) = t.stack.tcp_accept(listener) {
                let _ = t.stack.tcp_send(t.now, c, b"hello from the fuzz test");
                let _ = t.stack.tcp_recv(t.now, c, &mut buf);
                t.stack.tcp_close(t.now, c);
            }
        }
        if fed.is_multiple_of(5000) {
            t.advance(Duration::from_secs(11));
        }
    }
    let s = t.stack.stats().clone();
    assert_eq!(s.packets_in as usize, PACKETS);
    assert_eq!(s.packets_in, s.delivered() + s.dropped(), "{s}");
    // The generator reached every layer.
    for (name, v) in [
        ("delivered_udp", s.delivered_udp),
        ("delivered_icmp", s.delivered_icmp),
        ("delivered_tcp", s.delivered_tcp),
        ("delivered_to_reassembly", s.delivered_to_reassembly),
        ("frag_reassembled", s.frag_reassembled),
        ("frag_timeouts", s.frag_timeouts),
        ("drop_bad_checksum", s.drop_bad_checksum),
        ("drop_ipv6", s.drop_ipv6),
        ("drop_not_for_us", s.drop_not_for_us),
        ("drop_udp_bad_checksum", s.drop_udp_bad_checksum),
        ("drop_udp_closed_port", s.drop_udp_closed_port),
        ("drop_icmp_bad_checksum", s.drop_icmp_bad_checksum),
        ("drop_unknown_protocol", s.drop_unknown_protocol),
        ("drop_frag_overlap", s.drop_frag_overlap),
        ("icmp_errors_received", s.icmp_errors_received),
    ] {
        assert!(v > 0, "{name} never happened:\n{s}");
    }
    println!("{s}");
    println!("{:?}", t.stack.tcp().stats());
}
