//! The smoltcp driver (`runtime::SmolRuntime`) over an in-process link (no root, no network):
//! our runtime and blocking API as the client on the other end of a socketpair.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown};
use std::time::Duration;

use tunstack::StackConfig;
use tunstack::api::TcpStream;
use tunstack::reference::SmolConfig;
use tunstack::runtime::{
    Link, Runtime, RuntimeConfig, SMOL_SERVICES, SmolRuntime, SmolRuntimeConfig,
};

const OURS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SMOL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn start() -> (Runtime, SmolRuntime) {
    let (a, b) = Link::pair().expect("pair");
    let ours = Runtime::start(
        a,
        RuntimeConfig {
            stack: StackConfig {
                addr: OURS,
                seed: 3,
                ..StackConfig::default()
            },
            ..RuntimeConfig::default()
        },
    )
    .expect("start ours");
    let smol = SmolRuntime::start(
        b,
        SmolRuntimeConfig {
            smol: SmolConfig {
                addr: SMOL,
                gateway: OURS,
                seed: 4,
                ..SmolConfig::default()
            },
            services: SMOL_SERVICES.to_vec(),
            ..SmolRuntimeConfig::default()
        },
    )
    .expect("start smoltcp");
    (ours, smol)
}

fn connect(rt: &Runtime, port: u16) -> TcpStream {
    let s = TcpStream::connect(&rt.net(), (SMOL, port)).expect("connect");
    // Generous: only a stall (a FIN or window update that never leaves) reaches it.
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

#[test]
fn echo_and_chargen_over_the_smoltcp_driver() {
    let (ours, smol) = start();
    // Echo: 300 kB each way, then our FIN; smoltcp's FIN must follow without another packet
    // from us to wake its driver (else the read below times out).
    let s = connect(&ours, 7);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let w = s.try_clone().expect("clone");
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        (&w).write_all(&sent).expect("write");
        w.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut got = Vec::new();
    (&s).read_to_end(&mut got).expect("echo until EOF");
    writer.join().expect("writer");
    assert!(got == data, "echo is byte-exact ({} bytes)", got.len());

    // Chargen: the RFC 864 pattern.
    let c = connect(&ours, 19);
    let mut buf = vec![0u8; 100_000];
    (&c).read_exact(&mut buf).expect("chargen");
    let want: Vec<u8> = (0..)
        .flat_map(tunstack::services::chargen_line)
        .take(buf.len())
        .collect();
    assert!(buf == want, "RFC 864 pattern");

    // Stop smoltcp with the chargen connection open: it is reset and the link closes; our
    // side fails the read (reset, or the link gone: whichever our driver sees first).
    let report = smol.shutdown().expect("clean stop");
    let mut rest = vec![0u8; 1 << 20];
    loop {
        match (&c).read(&mut rest) {
            Ok(0) => panic!("EOF instead of a reset"),
            Ok(_) => continue,
            Err(e) => {
                assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "timed out: {e}");
                break;
            }
        }
    }
    assert_eq!(report.connections.len(), 1, "{report}");
    let echo = &report.services[0];
    assert_eq!(echo.0.name(), "echo");
    assert_eq!((echo.1.bytes_in, echo.1.bytes_out), (300_000, 300_000));
    assert_eq!((echo.1.accepted, echo.1.closed), (1, 1));
    assert!(report.link.packets_read > 0 && report.link.packets_written > 0);
    // Our driver stopped by itself when the link closed.
    assert!(ours.wait().is_err(), "the link went away");
}
