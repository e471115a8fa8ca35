//! `UdpSocket` between two stacks in one process (see tests/common/pair.rs).

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use common::pair::{A, B, Pair};
use tunstack::api::UdpSocket;

#[test]
fn send_to_recv_from_connect_and_timeouts() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let server = UdpSocket::bind(&na, SocketAddrV4::new(A, 7)).expect("bind");
    let client = UdpSocket::bind(&nb, "0.0.0.0:0").expect("bind ephemeral");
    let local = client.local_addr().expect("local");
    assert_ne!(local.port(), 0);

    client
        .send_to(b"ping", SocketAddrV4::new(A, 7))
        .expect("send");
    let mut buf = [0u8; 64];
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let (n, from) = server.recv_from(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from.ip(), std::net::IpAddr::V4(B));
    assert_eq!(from.port(), local.port());

    // Truncation, like recv_from(2).
    client
        .send_to(b"0123456789", SocketAddrV4::new(A, 7))
        .expect("send");
    let mut small = [0u8; 4];
    let (n, _) = server.recv_from(&mut small).expect("recv");
    assert_eq!((n, &small), (4, b"0123"));

    client.connect(SocketAddrV4::new(A, 7)).expect("connect");
    assert_eq!(
        client.peer_addr().expect("peer"),
        SocketAddr::V4(SocketAddrV4::new(A, 7))
    );
    client.send(b"connected").expect("send");
    let (n, from) = server.recv_from(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"connected");
    server.send_to(b"back", from).expect("reply");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let n = client.recv(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"back");

    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    assert_eq!(
        client.read_timeout().expect("get"),
        Some(Duration::from_millis(50))
    );
    let err = client.recv(&mut buf).expect_err("nothing more");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
}

#[test]
fn port_unreachable_is_reported_on_a_connected_socket() {
    let p = Pair::new();
    let (_na, nb) = p.nets();
    let client = UdpSocket::bind(&nb, "0.0.0.0:0").expect("bind");
    client.connect(SocketAddrV4::new(A, 4444)).expect("connect");
    client.send(b"anyone?").expect("send");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    // Either recv reports it, or take_error does (as on Linux).
    let err = match client.recv(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Some(e),
        _ => client.take_error().expect("take_error"),
    };
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ConnectionRefused));
}

#[test]
fn binding_after_the_stack_stopped_fails() {
    let p = Pair::new();
    let (na, _nb) = p.nets();
    p.a.shutdown().expect("stop");
    assert_eq!(
        UdpSocket::bind(&na, SocketAddrV4::new(A, 7))
            .expect_err("stopped")
            .kind(),
        ErrorKind::NotConnected
    );
}
