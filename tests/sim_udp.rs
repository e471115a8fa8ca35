//! UDP request/response between two sans-IO stacks (198.18.0.1 and 198.18.0.2) over the
//! simulated link, clean and impaired, with fixed seeds.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::{Dir, Event, Sim, TraceEntry};
use tunstack::{Duration, Instant, SocketError, Stack, StackConfig, UdpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const ECHO: u16 = 7;

fn stack(addr: Ipv4Addr, seed: u64) -> Stack {
    Stack::new(StackConfig {
        addr,
        seed,
        ..StackConfig::default()
    })
}

/// Request `i`: an id, then bytes that depend on it; sizes vary, some need fragments.
fn request(i: u32) -> Vec<u8> {
    let len = [4usize, 100, 1472, 3000, 9000][i as usize % 5];
    let mut p: Vec<u8> = (0..len).map(|k| (k as u32 * 31 + i * 7) as u8).collect();
    p[..4].copy_from_slice(&i.to_be_bytes());
    p
}

/// The server's answer to a request: the bytes reversed (so an echo of the request is wrong),
/// id first.
fn response(req: &[u8]) -> Vec<u8> {
    let mut r = req.to_vec();
    r[4..].reverse();
    r
}

struct Client {
    h: UdpHandle,
    total: u32,
    next: u32,
    /// Outstanding request ids and when they were (re)sent.
    pending: BTreeMap<u32, Instant>,
    answered: BTreeMap<u32, Vec<u8>>,
    bad: u32,
}

const RETRY: Duration = Duration::from_millis(100);
const WINDOW: usize = 8;

/// One round of application work at `sim.now()`: the server answers what it has, the client
/// checks answers and (re)sends requests. True while requests are unanswered.
fn app(sim: &mut Sim, server: UdpHandle, c: &mut Client) -> bool {
    let now = sim.now();
    let mut buf = vec![0u8; 65536];
    loop {
        match sim.b_mut().udp_recv_from(server, &mut buf) {
            Ok((n, from)) => {
                let r = response(&buf[..n]);
                sim.b_mut()
                    .udp_send_to(now, server, &r, from)
                    .expect("reply");
            }
            Err(SocketError::WouldBlock) => break,
            Err(e) => panic!("server recv: {e}"),
        }
    }
    loop {
        match sim.a_mut().udp_recv_from(c.h, &mut buf) {
            Ok((n, from)) => {
                assert_eq!(from, SocketAddrV4::new(B, ECHO));
                let id = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                if buf[..n] == response(&request(id)) {
                    c.pending.remove(&id);
                    c.answered.insert(id, buf[..n].to_vec());
                } else {
                    c.bad += 1;
                }
            }
            Err(SocketError::WouldBlock) => break,
            Err(e) => panic!("client recv: {e}"),
        }
    }
    let due: Vec<u32> = c
        .pending
        .iter()
        .filter(|(_, t)| now >= **t + RETRY)
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        sim.a_mut()
            .udp_send(now, c.h, &request(id))
            .expect("resend");
        c.pending.insert(id, now);
    }
    while c.next < c.total && c.pending.len() < WINDOW {
        sim.a_mut()
            .udp_send(now, c.h, &request(c.next))
            .expect("send");
        c.pending.insert(c.next, now);
        c.next += 1;
    }
    c.answered.len() < c.total as usize
}

struct Outcome {
    trace: Vec<TraceEntry>,
    answered: BTreeMap<u32, Vec<u8>>,
    bad: u32,
    finished: bool,
}

fn exchange(link: ImpairConfig, seed: u64, total: u32, trace: bool) -> (Sim, Outcome) {
    let mut sim = Sim::new(stack(A, 1), stack(B, 2), link.clone(), link, seed);
    if trace {
        sim.record_trace();
    }
    let server = sim
        .b_mut()
        .udp_bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, ECHO))
        .expect("bind server");
    let h = sim
        .a_mut()
        .udp_bind(SocketAddrV4::new(A, 0))
        .expect("bind client");
    sim.a_mut()
        .udp_connect(h, SocketAddrV4::new(B, ECHO))
        .expect("connect");
    let mut c = Client {
        h,
        total,
        next: 0,
        pending: BTreeMap::new(),
        answered: BTreeMap::new(),
        bad: 0,
    };
    // Wake the application every millisecond of virtual time (its retransmission clock).
    let mut finished = false;
    let limit = Instant::from_secs(600);
    while sim.now() < limit {
        if !app(&mut sim, server, &mut c) {
            finished = true;
            break;
        }
        let t = sim.now() + Duration::from_millis(1);
        sim.run_until(t);
    }
    let out = Outcome {
        trace: sim.take_trace(),
        answered: std::mem::take(&mut c.answered),
        bad: c.bad,
        finished,
    };
    (sim, out)
}

fn impaired() -> ImpairConfig {
    ImpairConfig {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(2),
        ..Default::default()
    }
}

fn check_all_answered(o: &Outcome, total: u32) {
    assert!(o.finished, "only {} of {total} answered", o.answered.len());
    assert_eq!(o.bad, 0, "a response differed from the expected bytes");
    for id in 0..total {
        assert_eq!(o.answered[&id], response(&request(id)), "response {id}");
    }
}

#[test]
fn clean_link_every_response_byte_for_byte() {
    let (sim, o) = exchange(ImpairConfig::default(), 1, 50, false);
    check_all_answered(&o, 50);
    // Nothing lost, nothing retransmitted: every datagram sent once, fragments included.
    let st = sim.stats();
    assert_eq!(st.sent, st.delivered);
    assert_eq!(sim.a().stats().packets_in, st.delivered[1]);
}

#[test]
fn impaired_link_still_answers_everything_byte_for_byte() {
    let (sim, o) = exchange(impaired(), 7, 200, false);
    check_all_answered(&o, 200);
    let l = sim.link_a_to_b().stats();
    assert!(
        l.dropped_loss > 0 && l.duplicated > 0 && l.reordered > 0,
        "{l:?}"
    );
}

#[test]
fn identical_seeds_identical_traces_different_seeds_different_traces() {
    let (_, o1) = exchange(impaired(), 42, 60, true);
    let (_, o2) = exchange(impaired(), 42, 60, true);
    let (_, o3) = exchange(impaired(), 43, 60, true);
    check_all_answered(&o1, 60);
    check_all_answered(&o3, 60);
    assert!(!o1.trace.is_empty());
    assert_eq!(o1.trace, o2.trace);
    assert_ne!(o1.trace, o3.trace);
}

#[test]
fn closed_port_is_refused_with_icmp_port_unreachable() {
    let mut sim = Sim::new(
        stack(A, 1),
        stack(B, 2),
        ImpairConfig::default(),
        ImpairConfig::default(),
        1,
    );
    sim.record_trace();
    let h = sim.a_mut().udp_bind(SocketAddrV4::new(A, 0)).expect("bind");
    sim.a_mut()
        .udp_connect(h, SocketAddrV4::new(B, 33434))
        .expect("connect");
    let now = sim.now();
    sim.a_mut().udp_send(now, h, b"anyone?").expect("send");
    sim.run_for(Duration::from_millis(10));
    assert_eq!(
        sim.a_mut().udp_take_error(h),
        Some(SocketError::ConnectionRefused)
    );
    // On the wire: B answered with ICMP type 3 code 3 (RFC 792) quoting our datagram.
    let icmp: Vec<&TraceEntry> = sim
        .trace()
        .iter()
        .filter(|e| e.dir == Dir::BtoA && e.event == Event::Sent)
        .collect();
    assert_eq!(icmp.len(), 1);
    let p = &icmp[0].bytes;
    let ihl = usize::from(p[0] & 0x0f) * 4;
    assert_eq!(p[9], 1, "protocol ICMP");
    assert_eq!((p[ihl], p[ihl + 1]), (3, 3));
}

#[test]
fn many_packets_counted_not_timed() {
    // ≥ 1e5 packets cross the link (counted, never timed).
    let total = 20_000;
    let (sim, o) = exchange(ImpairConfig::default(), 3, total, false);
    check_all_answered(&o, total);
    let st = sim.stats();
    // Sizes cycle 4, 100, 1472, 3000, 9000 bytes; at MTU 1500 (1480 payload bytes per fragment,
    // RFC 791) that is 1 + 1 + 1 + 3 + 7 = 13 packets per 5 datagrams, each way.
    let expect = u64::from(total) / 5 * 13;
    assert_eq!(st.delivered, [expect, expect]);
    assert!(st.delivered[0] + st.delivered[1] >= 100_000);
}

#[test]
fn sim_trace_written_as_pcapng_reads_back_in_tshark() {
    use tunstack::capture::Capture;
    let (_, o) = exchange(ImpairConfig::default(), 5, 10, true);
    check_all_answered(&o, 10);
    let path = std::env::temp_dir().join(format!("tunstack-sim-{}.pcapng", std::process::id()));
    let mut cap = Capture::create(&path, 0).expect("create");
    let n = cap.write_sim_trace(&o.trace).expect("write") as usize;
    // A sent every request fragment and received every response fragment.
    let a_view = o
        .trace
        .iter()
        .filter(|e| {
            matches!(
                (e.dir, e.event),
                (Dir::AtoB, Event::Sent) | (Dir::BtoA, Event::Delivered)
            )
        })
        .count();
    assert_eq!(n, a_view);
    drop(cap);
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: tshark not installed; wrote {}", path.display());
        return;
    }
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-e", "ip.src"])
        .output()
        .expect("tshark");
    let rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(rows.len(), n);
    assert!(rows.iter().any(|r| r == "198.18.0.1"));
    assert!(rows.iter().any(|r| r == "198.18.0.2"));
    let _ = std::fs::remove_file(&path);
}
