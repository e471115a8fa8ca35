//! Property test of IPv4 fragment reassembly through the `Stack` (RFC 791 §3.2, RFC 815):
//! a UDP datagram cut at any 8-byte boundaries, fed in any order with any fragments doubled,
//! arrives once and byte-exact; with one fragment missing it never arrives, and the held memory
//! is released when the reassembly timer fires; memory held never exceeds the configured cap.

use std::net::{Ipv4Addr, SocketAddrV4};

use proptest::prelude::*;
use tunstack::rng::Rng;
use tunstack::stack::testkit::PEER;
use tunstack::wire::ipv4::{Ipv4Repr, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Duration, Instant, Stack, StackConfig};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MEM: usize = 256 * 1024;

/// The fragments of a UDP datagram carrying `payload`, cut after each `cuts` unit count.
fn fragments(payload: &[u8], cuts: &[usize], id: u16) -> Vec<Vec<u8>> {
    let body = udp::build(PEER, US, 4000, 7, payload);
    let mut out = Vec::new();
    let mut off = 0;
    let mut k = 0;
    while off < body.len() {
        let units = cuts.get(k).copied().unwrap_or(8).max(1);
        k += 1;
        let end = (off + units * 8).min(body.len());
        let mut r = Ipv4Repr::new(PEER, US, PROTO_UDP, 0);
        r.id = id;
        r.frag_offset = off;
        r.more_frags = end < body.len();
        out.push(r.build(&body[off..end]));
        off = end;
    }
    out
}

fn stack() -> (Stack, tunstack::UdpHandle) {
    let mut s = Stack::new(StackConfig {
        seed: 3,
        frag_mem_limit: MEM,
        frag_timeout: Duration::from_secs(10),
        ..StackConfig::default()
    });
    let h = s.udp_bind(SocketAddrV4::new(US, 7)).expect("bind :7");
    (s, h)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 64 } else { 512 }))]

    #[test]
    fn fragments_in_any_order_reassemble_exactly(
        len in 1usize..20_000,
        cuts in proptest::collection::vec(1usize..200, 1..64),
        seed in any::<u64>(),
        drop_one in any::<bool>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut payload = vec![0u8; len];
        rng.fill(&mut payload);
        let mut frags = fragments(&payload, &cuts, rng.next_u32() as u16);
        for k in (1..frags.len()).rev() {
            frags.swap(k, rng.below(k as u64 + 1) as usize);
        }
        let missing = drop_one && frags.len() > 1;
        if missing {
            frags.pop();
        }
        let (mut s, h) = stack();
        let now = Instant::from_secs(1);
        let last = frags.len() - 1;
        for (k, f) in frags.iter().enumerate() {
            s.handle_packet(now, f);
            // An exact duplicate is harmless (after completion it would start a new datagram).
            if k < last && rng.chance(0.2) {
                s.handle_packet(now, f);
            }
            prop_assert!(s.reassembly_pending().1 <= MEM);
        }
        let mut buf = vec![0u8; 70_000];
        let got = s.udp_recv_from(h, &mut buf);
        if missing {
            prop_assert!(got.is_err(), "an incomplete datagram was delivered");
            prop_assert_eq!(s.reassembly_pending().0, 1);
            let later = now + Duration::from_secs(11);
            prop_assert!(s.poll_timeout().is_some_and(|t| t <= later));
            s.handle_timeout(later);
            prop_assert_eq!(s.reassembly_pending(), (0, 0));
        } else {
            let (n, from) = got.expect("the whole datagram arrives");
            prop_assert_eq!(from, SocketAddrV4::new(PEER, 4000));
            prop_assert_eq!(&buf[..n], &payload[..]);
            prop_assert!(s.udp_recv_from(h, &mut buf).is_err(), "delivered twice");
            prop_assert_eq!(s.reassembly_pending(), (0, 0));
        }
        prop_assert!(s.stats().accounted());
    }

    /// Many incomplete datagrams (distinct IDs) never hold more than the memory cap.
    #[test]
    fn incomplete_datagrams_stay_under_the_cap(n in 1usize..400, size in 100usize..3000) {
        let (mut s, _) = stack();
        let now = Instant::from_secs(1);
        let payload = vec![0x5au8; size];
        for id in 0..n {
            // Every fragment but the last: never complete.
            let frags = fragments(&payload, &[16], id as u16);
            for f in frags.iter().take(frags.len().saturating_sub(1).max(1)) {
                s.handle_packet(now, f);
            }
            prop_assert!(s.reassembly_pending().1 <= MEM, "{:?}", s.reassembly_pending());
        }
        prop_assert!(s.stats().accounted());
    }
}
