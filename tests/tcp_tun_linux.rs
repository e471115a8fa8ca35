// RFC 9293 interop with the Linux kernel's TCP over a real TUN device (in its own network
// namespace): echo and discard byte-exact, with and without loss, RST from a closed port, and
// the kernel's half-close. Without root: SKIPPED, loudly.

mod common;

use std::time::Duration;

use common::netns::{Netns as Ns, Tunstack};

const STACK: &str = "198.18.0.2";

fn skip(why: &str) {
    eprintln!("\n*** SKIPPED ({why}) ***\n");
}

fn has(ns: &Ns, prog: &str) -> bool {
    ns.exec(&["sh", "-c", &format!("command -v {prog}")])
        .status
        .success()
}

fn start(ns: &mut Ns, args: &[&str]) -> Tunstack {
    let mut argv = vec!["up"];
    argv.extend_from_slice(args);
    let mut ts = ns.spawn_tunstack(&argv);
    assert!(
        ts.wait_ready(Duration::from_secs(10)),
        "tunstack {argv:?} not ready:\n{}",
        ts.stderr()
    );
    ts
}

fn stop(ts: &mut Tunstack) -> String {
    ts.signal(libc::SIGINT);
    assert!(
        ts.wait_exit(Duration::from_secs(10)).is_some(),
        "tunstack did not exit on SIGINT"
    );
    ts.stderr()
}

/// Run a python3 script in the namespace; its trimmed stdout (panics with stderr on failure).
fn python(ns: &Ns, ts: &mut Tunstack, script: &str) -> String {
    let o = ns.exec(&["timeout", "120", "python3", "-c", script]);
    if !o.status.success() {
        let log = stop(ts);
        panic!(
            "python3 failed: {}{}\n--- tunstack ---\n{log}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Send `size` bytes to the echo service from a thread while reading them back; compare.
fn echo_script(size: usize) -> String {
    format!(
        "import socket, threading, hashlib\n\
         data = bytes((i * 7 + 3) & 255 for i in range({size}))\n\
         s = socket.create_connection(('{STACK}', 7), timeout=60)\n\
         def send():\n\
         \x20   s.sendall(data); s.shutdown(socket.SHUT_WR)\n\
         t = threading.Thread(target=send); t.start()\n\
         got = bytearray()\n\
         while True:\n\
         \x20   b = s.recv(65536)\n\
         \x20   if not b: break\n\
         \x20   got += b\n\
         t.join(); s.close()\n\
         print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())"
    )
}

#[test]
fn linux_echo_is_byte_exact() {
    // RFC 9293 §3.5, §3.8: the kernel as client, echo of 1 byte to 2 MB.
    let Some(mut ns) = Ns::new("tcp-echo") else {
        return;
    };
    if !has(&ns, "python3") {
        skip("needs python3");
        return;
    }
    let mut ts = start(&mut ns, &["--serve", "echo"]);
    for size in [1usize, 1448, 100_000, 2_000_000] {
        let out = python(&ns, &mut ts, &echo_script(size));
        assert_eq!(out, format!("{size} True"), "echo of {size} bytes");
    }
    stop(&mut ts);
}

#[test]
fn linux_echo_survives_loss_and_reordering() {
    // RFC 6298 / RFC 5681 against the kernel: 2 % loss and jitter on the link.
    let Some(mut ns) = Ns::new("tcp-lossy") else {
        return;
    };
    if !has(&ns, "python3") {
        skip("needs python3");
        return;
    }
    let mut ts = start(
        &mut ns,
        &[
            "--serve", "echo", "--loss", "2%", "--delay", "5ms", "--jitter", "2ms",
        ],
    );
    let out = python(&ns, &mut ts, &echo_script(500_000));
    assert_eq!(out, "500000 True");
    stop(&mut ts);
}

#[test]
fn linux_discard_and_closed_port_refused() {
    // RFC 9293 §3.6 (half-close) and §3.5.2 (RST from a closed port) against the kernel.
    let Some(mut ns) = Ns::new("tcp-discard") else {
        return;
    };
    if !has(&ns, "python3") {
        skip("needs python3");
        return;
    }
    let mut ts = start(&mut ns, &["--serve", "discard"]);
    let out = python(
        &ns,
        &mut ts,
        &format!(
            "import socket\n\
             s = socket.create_connection(('{STACK}', 9), timeout=30)\n\
             s.sendall(b'x' * 5_000_000); s.shutdown(socket.SHUT_WR)\n\
             print(s.recv(10) == b'')\n\
             try:\n\
             \x20   socket.create_connection(('{STACK}', 33434), timeout=5); print('connected')\n\
             except ConnectionRefusedError:\n\
             \x20   print('refused')"
        ),
    );
    assert_eq!(out, "True\nrefused");
    stop(&mut ts);
}

#[test]
fn linux_slow_reader_gets_zero_window_probes_and_exact_chargen() {
    // RFC 9293 §3.8.6.1: the kernel's small receive buffer fills; we must probe the zero window
    // and resume exactly where we stopped when it opens.
    let Some(mut ns) = Ns::new("tcp-slowread") else {
        return;
    };
    if !has(&ns, "python3") {
        skip("needs python3");
        return;
    }
    let mut ts = start(&mut ns, &["--serve", "chargen,echo"]);
    let out = python(
        &ns,
        &mut ts,
        &format!(
            "import socket, time\n\
             s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n\
             s.settimeout(30); s.connect(('{STACK}', 19))\n\
             time.sleep(1.5)\n\
             want = b''.join(bytes(32 + (n + i) % 95 for i in range(72)) + b'\\r\\n' for n in range(95)) * 30\n\
             got = bytearray()\n\
             while len(got) < len(want):\n\
             \x20   b = s.recv(4096)\n\
             \x20   if not b: break\n\
             \x20   got += b\n\
             \x20   if len(got) < 20000: time.sleep(0.01)\n\
             print(bytes(got[:len(want)]) == want)\n\
             s.close()\n\
             e = socket.create_connection(('{STACK}', 7), timeout=10); e.sendall(b'ok'); print(e.recv(2))"
        ),
    );
    assert_eq!(out, "True\nb'ok'");
    let log = stop(&mut ts);
    // The stack's exit counters: the zero window really was probed.
    let probes: u64 = log
        .split("window_probes: ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(probes > 0, "no zero-window probes:\n{log}");
}

#[test]
fn we_connect_to_a_linux_echo_server() {
    // Active open towards the kernel (RFC 9293 §3.5): `tunstack connect` pipes 1 MB through a
    // python echo server on the kernel side and must get the same bytes back.
    let Some(ns) = Ns::new("tcp-client") else {
        return;
    };
    if !has(&ns, "python3") {
        skip("needs python3");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ts-tcp-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, outp) = (dir.join("in"), dir.join("out"));
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&inp, &data).unwrap();
    let server = "import socket\n\
                  l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                  l.bind(('0.0.0.0', 9000)); l.listen(1); l.settimeout(30)\n\
                  c, _ = l.accept()\n\
                  while True:\n\
                  \x20   b = c.recv(65536)\n\
                  \x20   if not b: break\n\
                  \x20   c.sendall(b)\n\
                  c.close()";
    let script = format!(
        "timeout 60 python3 -c \"$SERVER\" & \
         for i in $(seq 100); do ss -ltn | grep -q ':9000 ' && break; sleep 0.1; done; \
         timeout 60 {bin} connect 198.18.0.1:9000 < {i} > {o}; echo exit=$?; wait",
        bin = common::netns::tunstack_bin(),
        i = inp.display(),
        o = outp.display()
    );
    let o = ns
        .command("sh")
        .env("SERVER", server)
        .args(["-c", &script])
        .output()
        .unwrap();
    let got = std::fs::read(&outp).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        got == data,
        "got {} of {} bytes; {}{}",
        got.len(),
        data.len(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
