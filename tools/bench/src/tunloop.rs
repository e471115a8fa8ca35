//! The TUN ceiling: what a bare read loop and a bare write loop achieve on a TUN device, one
//! packet per syscall, no stack at all. Run inside a network namespace (tools/bench/run.sh).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn ip(args: &[&str]) -> io::Result<()> {
    let st = Command::new("ip").args(args).status()?;
    if st.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("ip {} failed", args.join(" "))))
    }
}

/// Create and configure `name` (198.18.0.1/24 on the kernel side).
pub fn open(name: &str, mtu: usize, qlen: usize) -> io::Result<tun_tap::Iface> {
    let dev = tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tun)?;
    ip(&["addr", "add", "198.18.0.1/24", "dev", name])?;
    let (mtu, qlen) = (mtu.to_string(), qlen.to_string());
    ip(&[
        "link",
        "set",
        "dev",
        name,
        "mtu",
        &mtu,
        "txqueuelen",
        &qlen,
        "up",
    ])?;
    Ok(dev)
}

fn line(what: &str, pkts: u64, bytes: u64, el: f64) -> String {
    format!(
        "loop={what} packets={pkts} secs={el:.3} pps={:.0} gbps={:.4}",
        pkts as f64 / el,
        bytes as f64 * 8.0 / el / 1e9
    )
}

/// Bare read loop: a kernel UDP sender floods 198.18.0.2 through the device (one thread), we
/// read packets as fast as we can and count them.
pub fn read_loop(name: &str, mtu: usize, secs: f64) -> io::Result<String> {
    let dev = open(name, mtu, 1000)?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let payload = mtu - 28;
    let sender = std::thread::spawn(move || -> io::Result<()> {
        let sock = UdpSocket::bind(SocketAddrV4::new(HOST, 0))?;
        sock.connect(SocketAddrV4::new(PEER, 9))?;
        send_batches(&sock, payload, &s);
        Ok(())
    });
    let mut buf = vec![0u8; 65536];
    // Let the generator start.
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let (mut pkts, mut bytes) = (0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..64 {
            let n = dev.recv(&mut buf)?;
            pkts += 1;
            bytes += n as u64;
        }
    }
    let el = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    Ok(line("read", pkts, bytes, el))
}

/// Flood with UDP GSO (UDP_SEGMENT): one send(2) of 44 datagrams that the kernel splits, the
/// cheapest way to make the kernel push many packets into the device (as TCP's GSO does).
/// Errors (ENOBUFS when the device queue is full) are ignored: the reader is what is measured.
fn send_batches(sock: &UdpSocket, payload: usize, stop: &AtomicBool) {
    use std::os::fd::AsRawFd;
    const UDP_SEGMENT: libc::c_int = 103;
    let seg = payload as libc::c_int;
    // SAFETY: setsockopt with a valid int option value.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&seg as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let buf = vec![0u8; if rc == 0 { payload * 44 } else { payload }];
    while !stop.load(Ordering::Relaxed) {
        let _ = sock.send(&buf);
    }
}

/// A 198.18.0.2:9 → 198.18.0.1:`port` UDP packet of `len` bytes (valid IPv4 header checksum,
/// UDP checksum 0 = none, RFC 768).
pub fn udp_packet(len: usize, port: u16) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&PEER.octets());
    p[16..20].copy_from_slice(&HOST.octets());
    let sum = tunstack::wire::checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p[20..22].copy_from_slice(&9u16.to_be_bytes());
    p[22..24].copy_from_slice(&port.to_be_bytes());
    p[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    p
}

/// Bare write loop: full-sized UDP packets to a kernel socket that is bound but never read (the
/// kernel does the whole IPv4/UDP receive path, then drops at the full socket buffer).
pub fn write_loop(name: &str, mtu: usize, secs: f64) -> io::Result<String> {
    let dev = open(name, mtu, 1000)?;
    let _sink = UdpSocket::bind(SocketAddrV4::new(HOST, 5555))?;
    let pkt = udp_packet(mtu, 5555);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let (mut pkts, mut bytes) = (0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..64 {
            let n = dev.send(&pkt)?;
            pkts += 1;
            bytes += n as u64;
        }
    }
    let el = t0.elapsed().as_secs_f64();
    Ok(line("write", pkts, bytes, el))
}
