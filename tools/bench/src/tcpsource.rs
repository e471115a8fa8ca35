//! Bare TCP source (source → kernel): the least a TCP sender must do on a TUN at one packet
//! per syscall. A kernel listener in this process (198.18.0.1:5019) accepts and reads; we
//! handshake with it, then write precomputed full-sized segments (only SEG.SEQ and the checksum
//! change) while the kernel's advertised window allows, and read ACKs only to move the window:
//! until EAGAIN after every 64 writes, and when the window is full. No retransmission: on a
//! clean TUN nothing is lost, and if something is (three duplicate ACKs, or no ACK for 1 s
//! with the window full) the run fails instead of reporting a figure. Compare
//! `tunloop::write_loop`, whose writes are UDP and need no ACKs. Run inside a namespace.

use std::io::{self, Read};
use std::net::{SocketAddrV4, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::tcpceil::{ACK, FIN, RST, SYN, Sender, Template, parse, syn_options};
use crate::tcpsink::{WARM_UP, nonblocking, wait_readable};
use crate::tunloop::{self, HOST, PEER};

/// Our port: one per process, so a run never meets the last run's connection.
fn source_port() -> u16 {
    40000 + (std::process::id() % 20000) as u16
}
pub const KERNEL_PORT: u16 = 5019;
/// Writes between two ACK drains while the window is open (`--burst`; 0: drain only when the
/// window is full).
pub const BURST: u32 = 64;

fn ours(s: &crate::tcpceil::Seg<'_>, port: u16) -> bool {
    s.src == HOST && s.sport == KERNEL_PORT && s.dport == port
}

pub fn run(name: &str, mtu: usize, secs: f64, verify: bool, burst: u32) -> io::Result<String> {
    let burst = if burst == 0 { u32::MAX } else { burst };
    let dev = tunloop::open(name, mtu, 1000)?;
    nonblocking(&dev)?;
    let listener = TcpListener::bind(SocketAddrV4::new(HOST, KERNEL_PORT))?;
    let live = Arc::new(AtomicU64::new(0));
    let lv = live.clone();
    let reader = std::thread::spawn(move || -> io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(total), // our FIN
                n => total += n as u64,
            }
            lv.store(total, Ordering::Relaxed);
        }
    });
    let iss: u32 = 0x0bad_0000;
    let port = source_port();
    let mut buf = vec![0u8; 65536];
    let tpl = |flags, opts: &[u8], payload: &[u8]| {
        Template::new(PEER, HOST, port, KERNEL_PORT, flags, 65535, opts, payload)
    };

    // Handshake (RFC 9293 §3.5): SYN with MSS and window scale, the kernel's SYN,ACK, ACK.
    let mss0 = (mtu - 40) as u16;
    let mut syn = tpl(SYN, &syn_options(mss0), &[]);
    let t_syn = Instant::now();
    let mut tries = 0;
    let (irs, window, shift, mss) = loop {
        // The SYN, again every 250 ms (RFC 9293 §3.8.1 retransmission, simplified).
        if t_syn.elapsed() >= Duration::from_millis(250) * tries {
            if tries == 8 {
                return Err(io::Error::other("no SYN,ACK from the kernel listener"));
            }
            dev.send(syn.set(iss, 0))?;
            tries += 1;
        }
        match dev.recv(&mut buf) {
            Ok(n) => match buf.get(..n).and_then(|p| parse(p, verify)) {
                Some(s) if ours(&s, port) && s.flags & (SYN | ACK) == SYN | ACK => {
                    if s.ack != iss.wrapping_add(1) {
                        return Err(io::Error::other("SYN,ACK acknowledges the wrong ISS"));
                    }
                    // RFC 7323 §2.2: scaling only if both SYNs carry the option.
                    let mss = s.mss.unwrap_or(536).min(mss0);
                    break (s.seq, s.window, s.wscale.unwrap_or(0), usize::from(mss));
                }
                _ => {}
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_readable(&dev, 50)?;
            }
            Err(e) => return Err(e),
        }
    };
    let ack = irs.wrapping_add(1);
    dev.send(tpl(ACK, &[], &[]).set(iss.wrapping_add(1), ack))?;

    // A chargen-like payload, summed once into the template.
    let payload: Vec<u8> = (0..mss).map(|i| b' ' + (i % 95) as u8).collect();
    let mut data = tpl(ACK, &[], &payload);
    let mut snd = Sender::new(iss, window, shift);
    let (mut segs, mut reads, mut sent_bytes) = (0u64, 0u64, 0u64);
    let t_est = Instant::now();
    let mut mark: Option<(Instant, u64, u64, u64)> = None; // t0, acked, segs, reads
    let mut result = None;
    loop {
        let mut wrote = 0;
        while result.is_none() && wrote < burst && snd.can_send(mss) {
            dev.send(data.set(snd.nxt, ack))?;
            snd.sent(mss);
            sent_bytes += mss as u64;
            wrote += 1;
        }
        segs += u64::from(wrote);
        // The ACKs queued so far, until EAGAIN.
        let mut got = false;
        loop {
            match dev.recv(&mut buf) {
                Ok(n) => {
                    reads += 1;
                    let Some(s) = buf.get(..n).and_then(|p| parse(p, verify)) else {
                        continue;
                    };
                    if !ours(&s, port) {
                        continue;
                    }
                    if s.flags & RST != 0 {
                        return Err(io::Error::other("the kernel reset the connection"));
                    }
                    if s.flags & ACK != 0 && s.flags & SYN == 0 {
                        snd.on_ack(s.ack, s.window)?;
                        got = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let blocked = result.is_some() || !snd.can_send(mss);
        if blocked && !got && snd.in_flight() > 0 && !wait_readable(&dev, 1000)? {
            return Err(io::Error::other(format!(
                "no ACK for 1 s with {} bytes in flight: lost, no figure",
                snd.in_flight()
            )));
        }
        let now = Instant::now();
        match (mark, result) {
            (None, _) if now >= t_est + WARM_UP => {
                mark = Some((now, snd.acked_bytes, segs, reads));
            }
            (Some((t0, a0, s0, r0)), None) if now >= t0 + Duration::from_secs_f64(secs) => {
                let el = (now - t0).as_secs_f64();
                result = Some((el, snd.acked_bytes - a0, segs - s0, reads - r0));
            }
            (_, Some(_)) if snd.in_flight() == 0 => break,
            _ => {}
        }
    }
    // Everything is acknowledged: our FIN ends the reader's stream.
    dev.send(tpl(FIN | ACK, &[], &[]).set(snd.nxt, ack))?;
    let got = reader
        .join()
        .map_err(|_| io::Error::other("reader thread panicked"))??;
    // The kernel's side is left in LAST-ACK: reset it (RFC 9293 §3.10.7.4, in window).
    dev.send(tpl(RST | ACK, &[], &[]).set(snd.nxt.wrapping_add(1), ack))?;
    if got != sent_bytes {
        return Err(io::Error::other(format!(
            "sent {sent_bytes} bytes, the kernel reader read {got} (live {})",
            live.load(Ordering::Relaxed)
        )));
    }
    let (el, bytes, segs, reads) = result.ok_or_else(|| io::Error::other("not measured"))?;
    Ok(format!(
        "loop=tcp-source csum={} mss={mss} written={segs} secs={el:.3} pps={:.0} gbps={:.4} \
         wire_gbps={:.4} ack_reads_per_seg={:.3} sent={sent_bytes} kernel_read={got}",
        if verify { "verified" } else { "unverified" },
        bytes as f64 / mss as f64 / el,
        bytes as f64 * 8.0 / el / 1e9,
        bytes as f64 * (mss + 40) as f64 / mss as f64 * 8.0 / el / 1e9,
        reads as f64 / segs.max(1) as f64,
    ))
}
