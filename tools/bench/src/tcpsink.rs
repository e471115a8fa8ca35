//! Bare TCP sink (kernel → sink): the least a TCP receiver must do on a TUN at one packet per
//! syscall. A kernel client in this process connects to 198.18.0.2:9 and writes zeros; we
//! answer its SYN, then read segments and write cumulative ACKs (`AckPolicy`), with a fixed
//! window (default 1 MiB, the stacks' buffers in `make bench`), no buffer, no reassembly, no
//! copy: an out-of-order segment is dropped and RCV.NXT re-ACKed. No timestamps or SACK (our SYN,ACK offers only MSS and window scale).
//! Compare: `tunloop::read_loop`, which writes nothing. Run inside a namespace (run.sh).

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::tcpceil::{
    ACK, AckPolicy, FIN, RST, Receiver, SYN, Template, WSCALE, parse, syn_options,
};
use crate::tunloop::{self, PEER};

pub const SINK_PORT: u16 = 9;
/// 1 MiB: as `tunstack up --tcp-buffer 1mb` and smoltcp's sockets in `make bench`. It also keeps
/// the kernel's flight (≈ 718 segments) under the TUN queue (1000): with 16 MiB the kernel's
/// bursts after a batch ACK overflowed it.
pub const SINK_WINDOW: u32 = 1 << 20;
/// Slow start and the first window growth are no part of the steady rate.
pub const WARM_UP: Duration = Duration::from_millis(200);

pub(crate) fn nonblocking(dev: &tun_tap::Iface) -> io::Result<()> {
    let mut on: libc::c_int = 1;
    // SAFETY: FIONBIO on an open fd with a valid int.
    if unsafe { libc::ioctl(dev.as_raw_fd(), libc::FIONBIO, &mut on) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// poll(2) for a packet: false on timeout.
pub(crate) fn wait_readable(dev: &tun_tap::Iface, ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: dev.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut p, 1, ms) } {
        -1 => Err(io::Error::last_os_error()),
        n => Ok(n > 0),
    }
}

/// Counters at the start of the measured window.
#[derive(Clone, Copy, Default)]
struct Mark {
    bytes: u64,
    segs: u64,
    acks: u64,
    reads: u64,
}

pub fn run(
    name: &str,
    mtu: usize,
    secs: f64,
    policy: AckPolicy,
    verify: bool,
    window: u32,
    batch_max: u32,
) -> io::Result<String> {
    // The SYN,ACK's window is never scaled (RFC 7323 §2.2); later ones are >> WSCALE.
    let (syn_wnd, wnd) = (
        window.min(65535) as u16,
        (window >> WSCALE).clamp(1, 65535) as u16,
    );
    let dev = tunloop::open(name, mtu, 1000)?;
    nonblocking(&dev)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let client = std::thread::spawn(move || -> io::Result<(u64, libc::c_int)> {
        let to = SocketAddr::from((PEER, SINK_PORT));
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        let buf = vec![0u8; 256 * 1024];
        let mut written = 0u64;
        while !st.load(Ordering::Relaxed) {
            written += s.write(&buf)? as u64;
        }
        s.shutdown(Shutdown::Write)?; // our FIN: the sink has everything once it sees it
        // The kernel's own count of what the sink has not ACKed yet (SIOCOUTQ), down to 0.
        let t = Instant::now();
        loop {
            let mut unacked: libc::c_int = 0;
            // SAFETY: SIOCOUTQ (= TIOCOUTQ) on a TCP socket writes one int.
            if unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut unacked) } == -1 {
                return Err(io::Error::last_os_error());
            }
            if unacked == 0 || t.elapsed() > Duration::from_secs(3) {
                return Ok((written, unacked));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mss = mtu - 40;
    let iss: u32 = 0x5eed_0000;
    let mut buf = vec![0u8; 65536];
    let mut conn: Option<(Receiver, Template)> = None;
    let (mut segs, mut acks, mut reads) = (0u64, 0u64, 0u64);
    let (mut warm_end, mut measure): (Option<Instant>, Option<(Instant, Mark)>) = (None, None);
    let mut result: Option<(f64, Mark)> = None;
    let deadline = Instant::now() + Duration::from_secs_f64(secs) + Duration::from_secs(8);
    loop {
        let tick = match dev.recv(&mut buf) {
            Ok(n) => {
                reads += 1;
                let Some(s) = buf.get(..n).and_then(|p| parse(p, verify)) else {
                    continue; // not IPv4/TCP (or a bad checksum): dropped
                };
                if s.dst != PEER || s.dport != SINK_PORT {
                    continue;
                }
                if s.flags & RST != 0 {
                    return Err(io::Error::other("the kernel reset the connection"));
                }
                if s.flags & SYN != 0 {
                    // RFC 9293 §3.5: SYN,ACK with our ISS; MSS and window scale (RFC 7323 §2.2).
                    let mut sa = Template::new(
                        PEER,
                        s.src,
                        SINK_PORT,
                        s.sport,
                        SYN | ACK,
                        syn_wnd,
                        &syn_options(mss as u16),
                        &[],
                    );
                    dev.send(sa.set(iss, s.seq.wrapping_add(1)))?;
                    let ack = Template::new(PEER, s.src, SINK_PORT, s.sport, ACK, wnd, &[], &[]);
                    let mut r = Receiver::new(s.seq, mss, policy);
                    r.batch_max = batch_max;
                    conn = Some((r, ack));
                    continue;
                }
                let Some((r, t)) = conn.as_mut() else {
                    continue;
                };
                let fin = s.flags & FIN != 0;
                if s.payload.is_empty() && !fin {
                    continue; // the handshake's ACK, or a window update
                }
                segs += 1;
                if r.on_segment(s.seq, s.payload.len(), fin) {
                    if r.fin {
                        // Close our side in the same packet (RFC 9293 §3.6): the kernel's
                        // socket goes to TIME-WAIT instead of waiting in FIN-WAIT-2.
                        t.set_flags(FIN | ACK);
                    }
                    dev.send(t.set(iss.wrapping_add(1), r.acked_now()))?;
                    acks += 1;
                }
                if r.fin && result.is_some() {
                    break;
                }
                segs % 16 == 0
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The queue is empty: ACK what is unacknowledged (both policies), else sleep.
                match conn.as_mut() {
                    Some((r, t)) if r.on_idle() => {
                        dev.send(t.set(iss.wrapping_add(1), r.acked_now()))?;
                        acks += 1;
                    }
                    _ => {
                        wait_readable(&dev, 50)?;
                    }
                }
                true
            }
            Err(e) => return Err(e),
        };
        if !tick {
            continue;
        }
        // The clock, every 16 data segments and whenever the queue is empty.
        if result.is_none() && client.is_finished() {
            // The client stopped before we asked it to: its error is the run's.
            client
                .join()
                .map_err(|_| io::Error::other("client thread panicked"))??;
            return Err(io::Error::other("the kernel client stopped early"));
        }
        let now = Instant::now();
        if now > deadline {
            return Err(io::Error::other(format!(
                "no FIN from the kernel client by the deadline ({segs} segments)"
            )));
        }
        let bytes = conn.as_ref().map_or(0, |(r, _)| r.in_order_bytes);
        match (warm_end, measure, result) {
            (None, _, _) if bytes > 0 => warm_end = Some(now + WARM_UP),
            (Some(w), None, _) if now >= w => {
                let m = Mark {
                    bytes,
                    segs,
                    acks,
                    reads,
                };
                measure = Some((now, m));
            }
            (_, Some((t0, m)), None) if now >= t0 + Duration::from_secs_f64(secs) => {
                let d = Mark {
                    bytes: bytes - m.bytes,
                    segs: segs - m.segs,
                    acks: acks - m.acks,
                    reads: reads - m.reads,
                };
                result = Some(((now - t0).as_secs_f64(), d));
                stop.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    let (written, unacked) = client
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))??;
    if unacked != 0 {
        return Err(io::Error::other(format!(
            "{unacked} bytes the kernel sent were never ACKed"
        )));
    }
    let (r, _) = conn
        .as_ref()
        .ok_or_else(|| io::Error::other("no connection"))?;
    if r.in_order_bytes != written {
        return Err(io::Error::other(format!(
            "the kernel wrote {written} bytes, the sink received {} in order",
            r.in_order_bytes
        )));
    }
    let (el, d) = result.ok_or_else(|| io::Error::other("not measured"))?;
    Ok(format!(
        "loop=tcp-sink ack={} csum={} window={window} packets={} secs={el:.3} pps={:.0} gbps={:.4} wire_gbps={:.4} \
         acks_per_seg={:.3} reads={} out_of_order={} written={written} received={} kernel_unacked={unacked}",
        match policy {
            AckPolicy::Every2 => "every2",
            AckPolicy::Eagain => "eagain",
        },
        if verify { "verified" } else { "unverified" },
        d.segs,
        d.segs as f64 / el,
        d.bytes as f64 * 8.0 / el / 1e9,
        (d.bytes + 40 * d.segs) as f64 * 8.0 / el / 1e9,
        d.acks as f64 / d.segs.max(1) as f64,
        d.reads,
        r.out_of_order,
        r.in_order_bytes,
    ))
}
