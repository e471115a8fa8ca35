//! Aborts seen by the Linux kernel over a real TUN device: `TcpStream::abort` sends RST
//! (RFC 9293 §3.10.4 ABORT), so the kernel's socket fails with ECONNRESET, while a graceful
//! close (drop) gives it EOF. Our stack runs in this process, inside the test's namespace
//! (`start_runtime_in`), so the test holds the streams. Without root: SKIPPED, loudly.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::io::{Read, Write};
use std::time::Duration;

use netns::Netns;
use tcp_tun::*;
use tunstack::api::{TcpListener, TcpStream};

/// Accept one connection, read its "ping\n", then abort it (or close it gracefully).
fn accept_and_end(listener: TcpListener, abort: bool) -> std::io::Result<()> {
    let (s, _) = listener.accept()?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 5];
    (&s).read_exact(&mut buf)?;
    if &buf != b"ping\n" {
        return Err(std::io::Error::other(format!("read {buf:?}")));
    }
    if abort {
        s.abort();
    } else {
        drop(s);
    }
    Ok(())
}

/// The kernel's connection to our listener: aborted → ECONNRESET; closed → EOF (the control).
#[test]
fn tun_tcp_abort_accepted_gives_kernel_econnreset() {
    if !root_or_skip("tcp-abort-acc") || !netns::have_tool("tcp-abort-acc", "python3") {
        return;
    }
    let Some(mut ns) = Netns::new("tcp-abort-acc") else {
        return;
    };
    let rt = start_runtime_in(&ns, 3);
    let net = rt.net();
    for (port, abort, want) in [("5000", true, "reset"), ("5001", false, "eof")] {
        let listener = TcpListener::bind(&net, format!("{STACK_ADDR}:{port}")).expect("listen");
        let server = std::thread::spawn(move || accept_and_end(listener, abort));
        let client = spawn_python(&mut ns, 30, PY_RESET_CLIENT, &[STACK_ADDR, port]);
        let out = wait_output(client, Duration::from_secs(40));
        let out = out.as_ref().map_or("(hung)".to_string(), text);
        assert!(
            out.contains(&format!("read 0\n{want}\n")),
            "abort={abort}: the kernel should see {want}:\n{out}"
        );
        let r = with_timeout(Duration::from_secs(10), move || server.join());
        assert!(
            matches!(r, Some(Ok(Ok(())))),
            "our side of the connection failed: {r:?}"
        );
    }
    let report = rt.shutdown().expect("runtime report");
    assert!(
        report.tcp.rst_sent >= 1,
        "abort should have sent a RST: {report}"
    );
}

/// Our connection to a kernel server: after an exchange, abort → the server sees ECONNRESET.
#[test]
fn tun_tcp_abort_connected_gives_kernel_server_econnreset() {
    if !root_or_skip("tcp-abort-conn") || !netns::have_tool("tcp-abort-conn", "python3") {
        return;
    }
    let Some(mut ns) = Netns::new("tcp-abort-conn") else {
        return;
    };
    let rt = start_runtime_in(&ns, 4);
    let net = rt.net();
    for (port, abort, want) in [(9001u16, true, "reset"), (9002, false, "eof")] {
        let ready = TempFile::new(&ns, &format!("ready{port}"));
        let server = spawn_python(
            &mut ns,
            30,
            PY_RESET_SERVER,
            &[&port.to_string(), ready.path()],
        );
        assert!(wait_for_file(&ready.0, Duration::from_secs(10)), "server");
        let net2 = net.clone();
        let ours = with_timeout(Duration::from_secs(30), move || -> std::io::Result<()> {
            let target = format!("{KERNEL_ADDR}:{port}").parse().expect("addr");
            let s = TcpStream::connect_timeout(&net2, &target, Duration::from_secs(10))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            (&s).write_all(b"hello")?;
            let mut ok = [0u8; 2];
            (&s).read_exact(&mut ok)?;
            if &ok != b"ok" {
                return Err(std::io::Error::other(format!("read {ok:?}")));
            }
            if abort {
                s.abort();
            } else {
                drop(s);
            }
            Ok(())
        });
        assert!(matches!(ours, Some(Ok(()))), "our client failed: {ours:?}");
        let out = wait_output(server, Duration::from_secs(40));
        let out = out.as_ref().map_or("(hung)".to_string(), text);
        assert!(
            out.contains(&format!("stdout\n{want}\n")),
            "abort={abort}: the kernel server should see {want}:\n{out}"
        );
    }
    let report = rt.shutdown().expect("runtime report");
    assert!(report.tcp.rst_sent >= 1, "no RST counted: {report}");
}
