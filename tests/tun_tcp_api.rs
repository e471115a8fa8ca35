//! Our blocking API (`tunstack::api`) against Linux kernel servers over a real TUN device: the
//! stack runs in this process inside the test's namespace (`start_runtime_in`). Many outgoing
//! connections at once, a peer's FIN and RST as our reads and writes see them, refusal.
//! Without root: SKIPPED, loudly.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use netns::{Netns, Proc};
use tcp_tun::*;
use tunstack::api::{Net, TcpStream};

/// A namespace, our stack in it, and a python echo server on `port` (with `mode`).
fn setup(
    purpose: &str,
    port: u16,
    mode: &str,
) -> Option<(Proc, Netns, tunstack::runtime::Runtime)> {
    if !root_or_skip(purpose) || !netns::have_tool(purpose, "python3") {
        return None;
    }
    let mut ns = Netns::new(purpose)?;
    let rt = start_runtime_in(&ns, 11);
    let ready = temp_path(&ns, "ready");
    let p = port.to_string();
    let mut args = vec![p.as_str(), ready.to_str().expect("path")];
    if !mode.is_empty() {
        args.push(mode);
    }
    let server = spawn_python(&mut ns, 90, PY_ECHO_SERVER, &args);
    assert!(
        wait_for_file(&ready, Duration::from_secs(10)),
        "echo server"
    );
    let _ = std::fs::remove_file(&ready);
    Some((server, ns, rt))
}

fn connect(net: &Net, port: u16) -> std::io::Result<TcpStream> {
    let to: SocketAddr = format!("{KERNEL_ADDR}:{port}").parse().expect("addr");
    let s = TcpStream::connect_timeout(net, &to, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// 200 connections from our stack open at once to a kernel echo server: distinct ephemeral
/// ports, each gets its own message back.
#[test]
fn tun_tcp_api_200_outgoing_connections() {
    let Some((_server, _ns, rt)) = setup("tcp-api-many", 9400, "") else {
        return;
    };
    let net = rt.net();
    let r = with_timeout(Duration::from_secs(90), move || -> Result<usize, String> {
        let mut streams = Vec::new();
        let mut ports = HashSet::new();
        for i in 0..200 {
            let s = connect(&net, 9400).map_err(|e| format!("connect {i}: {e}"))?;
            let port = s.local_addr().map_err(|e| e.to_string())?.port();
            if !ports.insert(port) {
                return Err(format!("local port {port} used twice"));
            }
            streams.push(s);
        }
        for (i, s) in streams.iter().enumerate() {
            (&*s)
                .write_all(format!("message {i:04}").as_bytes())
                .map_err(|e| format!("write {i}: {e}"))?;
        }
        for (i, s) in streams.iter().enumerate() {
            let mut buf = [0u8; 12];
            (&*s)
                .read_exact(&mut buf)
                .map_err(|e| format!("read {i}: {e}"))?;
            if buf != *format!("message {i:04}").as_bytes() {
                return Err(format!(
                    "stream {i} got {:?}",
                    String::from_utf8_lossy(&buf)
                ));
            }
        }
        Ok(ports.len())
    });
    assert_eq!(r, Some(Ok(200)));
    let report = rt.shutdown().expect("report");
    assert!(report.tcp.connections_opened >= 200, "{report}");
}

/// The kernel server closes after one echo: our read sees EOF (its FIN), and writing on keeps
/// failing once the kernel answers the data with RST (RFC 9293 §3.10.7.4), instead of hanging.
#[test]
fn tun_tcp_api_peer_fin_then_write_fails() {
    let Some((_server, _ns, rt)) = setup("tcp-api-fin", 9401, "close-after-first") else {
        return;
    };
    let net = rt.net();
    let r = with_timeout(
        Duration::from_secs(60),
        move || -> Result<String, String> {
            let s = connect(&net, 9401).map_err(|e| format!("connect: {e}"))?;
            (&s).write_all(b"once").map_err(|e| format!("write: {e}"))?;
            let mut buf = [0u8; 4];
            (&s).read_exact(&mut buf)
                .map_err(|e| format!("read: {e}"))?;
            let mut more = [0u8; 16];
            match (&s).read(&mut more) {
                Ok(0) => {}
                other => return Err(format!("after the peer's FIN, read gave {other:?}")),
            }
            for i in 0..100 {
                match (&s).write_all(b"into a closed socket") {
                    Ok(_) => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) => return Ok(format!("write {i}: {:?}", e.kind())),
                }
            }
            Err("100 writes to a reset connection all succeeded".into())
        },
    );
    let r = r.expect("hung");
    let msg = r.expect("scenario");
    assert!(
        msg.contains("ConnectionReset") || msg.contains("BrokenPipe"),
        "{msg}"
    );
}

/// The kernel server resets after one echo: a blocked read fails with ConnectionReset.
#[test]
fn tun_tcp_api_peer_reset_fails_read() {
    let Some((_server, _ns, rt)) = setup("tcp-api-rst", 9402, "reset-after-first") else {
        return;
    };
    let net = rt.net();
    let r = with_timeout(
        Duration::from_secs(60),
        move || -> Result<ErrorKind, String> {
            let s = connect(&net, 9402).map_err(|e| format!("connect: {e}"))?;
            (&s).write_all(b"ping").map_err(|e| format!("write: {e}"))?;
            let mut buf = [0u8; 4];
            (&s).read_exact(&mut buf)
                .map_err(|e| format!("read: {e}"))?;
            let mut more = [0u8; 16];
            match (&s).read(&mut more) {
                Err(e) => Ok(e.kind()),
                Ok(n) => Err(format!("read after the RST gave Ok({n})")),
            }
        },
    );
    assert_eq!(r, Some(Ok(ErrorKind::ConnectionReset)));
    let report = rt.shutdown().expect("report");
    assert!(report.tcp.rst_received >= 1, "{report}");
}

/// Connecting to a kernel port nobody listens on fails with ConnectionRefused (the kernel's
/// RST to our SYN, RFC 9293 §3.10.7.3), not a timeout.
#[test]
fn tun_tcp_api_connect_refused() {
    let Some((_server, _ns, rt)) = setup("tcp-api-refused", 9403, "") else {
        return;
    };
    let net = rt.net();
    let r = with_timeout(Duration::from_secs(30), move || {
        connect(&net, 9404).map(|_| ()).map_err(|e| e.kind())
    });
    assert_eq!(r, Some(Err(ErrorKind::ConnectionRefused)));
}
