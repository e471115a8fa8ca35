//! RFC 9293 §3.10.1 (OPEN: "insufficient resources"): the configured resource limits refuse new
//! connections cleanly and count every refusal (issue: bounded resources).

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::SocketError;
use tunstack::tcp::{TcpConfig, TcpLayer};
use tunstack::time::Instant;

fn layer(cfg: TcpConfig) -> TcpLayer {
    TcpLayer::new(cfg, [7; 16], 1)
}

fn open(l: &mut TcpLayer, port: u16) -> Result<tunstack::TcpHandle, SocketError> {
    let local = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 0);
    let remote = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), port);
    l.connect(Instant::ZERO, local, remote)
}

#[test]
fn total_buffer_budget_refuses_the_connection_that_would_exceed_it() {
    let cfg = TcpConfig {
        send_buffer: 1000,
        recv_buffer: 1000,
        max_buffer_memory: 5000, // room for two connections of 2000 bytes, not three
        ..TcpConfig::default()
    };
    let mut l = layer(cfg);
    assert!(open(&mut l, 1).is_ok());
    assert!(open(&mut l, 2).is_ok());
    assert_eq!(open(&mut l, 3), Err(SocketError::NoBufferSpace));
    assert_eq!(l.stats().connection_limit, 1);
}

#[test]
fn max_connections_refuses_and_counts() {
    let cfg = TcpConfig {
        max_connections: 3,
        ..TcpConfig::default()
    };
    let mut l = layer(cfg);
    for p in 1..=3 {
        assert!(open(&mut l, p).is_ok());
    }
    assert_eq!(open(&mut l, 4), Err(SocketError::NoBufferSpace));
    assert_eq!(open(&mut l, 5), Err(SocketError::NoBufferSpace));
    assert_eq!(l.stats().connection_limit, 2);
}

#[test]
fn default_budget_is_unlimited() {
    let mut l = layer(TcpConfig::default());
    for p in 1..=50 {
        assert!(open(&mut l, p).is_ok(), "connection {p}");
    }
    assert_eq!(l.stats().connection_limit, 0);
}
