//! The simulator's clock and plumbing, with two toy endpoints (no IP stack needed):
//! a client that sends a numbered packet every millisecond, and an echo server.

use std::collections::VecDeque;

use tunstack::link::ImpairConfig;
use tunstack::link::sim::{Dir, Endpoint, Event, Sim};
use tunstack::{Duration, Instant};

struct Client {
    total: u32,
    sent: u32,
    next_at: Instant,
    replies: Vec<(Instant, u32)>,
}

impl Endpoint for Client {
    fn handle_packet(&mut self, now: Instant, p: &[u8]) {
        if let Some(b) = p.get(..4) {
            self.replies
                .push((now, u32::from_be_bytes([b[0], b[1], b[2], b[3]])));
        }
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.sent < self.total && now >= self.next_at {
            buf[..4].copy_from_slice(&self.sent.to_be_bytes());
            buf[4..100].fill(0xAB);
            self.sent += 1;
            self.next_at = now + Duration::from_millis(1);
            return Some(100);
        }
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (self.sent < self.total).then_some(self.next_at)
    }
}

#[derive(Default)]
struct Echo {
    out: VecDeque<Vec<u8>>,
    received: u64,
}

impl Endpoint for Echo {
    fn handle_packet(&mut self, _now: Instant, p: &[u8]) {
        self.received += 1;
        self.out.push_back(p.to_vec());
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.out.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

fn client(total: u32) -> Client {
    Client {
        total,
        sent: 0,
        next_at: Instant::ZERO,
        replies: Vec::new(),
    }
}

fn link(delay_ms: u64) -> ImpairConfig {
    ImpairConfig {
        delay: Duration::from_millis(delay_ms),
        ..Default::default()
    }
}

#[test]
fn clean_link_round_trip_takes_twice_the_delay() {
    let mut sim = Sim::new(client(10), Echo::default(), link(25), link(25), 1);
    assert!(sim.run_until_idle());
    let r = &sim.a().replies;
    assert_eq!(r.len(), 10);
    for (i, (t, n)) in r.iter().enumerate() {
        assert_eq!(*n, i as u32);
        assert_eq!(*t, Instant::from_millis(i as u64 + 50));
    }
    assert_eq!(sim.now(), Instant::from_millis(59));
    assert_eq!(sim.stats().sent, [10, 10]);
    assert_eq!(sim.stats().delivered, [10, 10]);
}

#[test]
fn run_until_stops_at_the_deadline_and_resumes() {
    let mut sim = Sim::new(client(10), Echo::default(), link(25), link(25), 1);
    sim.run_until(Instant::from_millis(30));
    assert_eq!(sim.now(), Instant::from_millis(30));
    assert_eq!(
        sim.b().received,
        6,
        "packets sent at 0..=5 ms arrived by 30 ms"
    );
    assert!(sim.a().replies.is_empty());
    sim.run_for(Duration::from_millis(30));
    assert_eq!(sim.a().replies.len(), 10);
}

#[test]
fn run_while_stops_when_the_condition_turns_false() {
    let mut sim = Sim::new(client(100), Echo::default(), link(5), link(5), 1);
    let done = sim.run_while(|s| s.a().replies.len() < 3, Instant::from_secs(10));
    assert!(done);
    assert_eq!(sim.a().replies.len(), 3);
    assert_eq!(sim.now(), Instant::from_millis(12));
    let never = sim.run_while(|_| true, Instant::from_secs(1));
    assert!(!never);
    assert_eq!(sim.now(), Instant::from_secs(1));
}

fn lossy() -> ImpairConfig {
    ImpairConfig {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        delay: Duration::from_millis(3),
        jitter: Duration::from_millis(2),
        ..Default::default()
    }
}

fn traced(seed: u64) -> (Vec<tunstack::link::sim::TraceEntry>, Vec<(Instant, u32)>) {
    let mut sim = Sim::new(client(2000), Echo::default(), lossy(), lossy(), seed);
    sim.record_trace();
    assert!(sim.run_until_idle());
    let replies = sim.a().replies.clone();
    (sim.take_trace(), replies)
}

#[test]
fn identical_seeds_identical_traces_different_seeds_different_traces() {
    let (t1, r1) = traced(77);
    let (t2, r2) = traced(77);
    let (t3, _) = traced(78);
    assert_eq!(t1, t2);
    assert_eq!(r1, r2);
    assert_ne!(t1, t3);
    // The impairments showed up in the trace.
    let sent = t1
        .iter()
        .filter(|e| e.event == Event::Sent && e.dir == Dir::AtoB)
        .count();
    let delivered = t1
        .iter()
        .filter(|e| e.event == Event::Delivered && e.dir == Dir::AtoB)
        .count();
    assert_eq!(sent, 2000);
    assert_ne!(delivered, sent);
    assert!(r1.windows(2).any(|w| w[0].1 > w[1].1), "no reordering seen");
}

#[test]
fn observer_sees_every_packet_and_counts_stay_consistent() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let seen = Rc::new(RefCell::new([0u64; 4]));
    let s2 = seen.clone();
    let mut sim = Sim::new(client(500), Echo::default(), lossy(), lossy(), 5);
    sim.set_observer(move |_, dir, ev, _| {
        let i = match (dir, ev) {
            (Dir::AtoB, Event::Sent) => 0,
            (Dir::AtoB, Event::Delivered) => 1,
            (Dir::BtoA, Event::Sent) => 2,
            (Dir::BtoA, Event::Delivered) => 3,
        };
        s2.borrow_mut()[i] += 1;
    });
    assert!(sim.run_until_idle());
    let seen = *seen.borrow();
    let st = sim.stats();
    assert_eq!(
        seen,
        [st.sent[0], st.delivered[0], st.sent[1], st.delivered[1]]
    );
    let l = sim.link_a_to_b().stats();
    assert_eq!(l.delivered, st.delivered[0]);
    assert_eq!(l.packets_in, st.sent[0]);
    assert_eq!(sim.b().received, st.delivered[0]);
    assert_eq!(
        st.sent[1], st.delivered[0],
        "echo answers everything it gets"
    );
}

#[test]
fn many_packets_flow_through_the_simulator() {
    // Counts packets (never wall time): 200k round trips through two links.
    let n = if cfg!(debug_assertions) {
        50_000
    } else {
        200_000
    };
    let mut sim = Sim::new(client(n), Echo::default(), link(1), link(1), 3);
    assert!(sim.run_until_idle());
    assert_eq!(sim.a().replies.len(), n as usize);
    assert_eq!(sim.stats().delivered, [u64::from(n), u64::from(n)]);
}
