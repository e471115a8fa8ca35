//! `TcpListener`/`TcpStream` between two stacks in one process (see tests/common/pair.rs).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4};
use std::time::Duration;

use common::pair::{A, B, Pair};
use tunstack::api::{TcpListener, TcpStream};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn echo_both_directions_with_half_close() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let l = TcpListener::bind(&na, SocketAddrV4::new(A, 7)).expect("listen");
    assert_eq!(
        l.local_addr().expect("addr"),
        SocketAddr::V4(SocketAddrV4::new(A, 7))
    );
    let server = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().expect("accept");
        assert_eq!(peer.ip(), std::net::IpAddr::V4(B));
        let mut buf = vec![0u8; 8192];
        loop {
            let n = s.read(&mut buf).expect("server read");
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).expect("server write");
        }
    });
    let s = TcpStream::connect(&nb, SocketAddrV4::new(A, 7)).expect("connect");
    assert_eq!(
        s.peer_addr().expect("peer"),
        SocketAddr::V4(SocketAddrV4::new(A, 7))
    );
    s.set_nodelay(true).expect("nodelay");
    let size = if cfg!(debug_assertions) {
        300_000
    } else {
        3_000_000
    };
    let data = pattern(size, 7);
    let writer = s.try_clone().expect("clone");
    let sent = data.clone();
    let w = std::thread::spawn(move || {
        (&writer).write_all(&sent).expect("client write");
        writer.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut got = Vec::new();
    (&s).read_to_end(&mut got).expect("client read");
    w.join().expect("writer");
    server.join().expect("server");
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
}

#[test]
fn refused_timeout_and_reset_map_to_io_errors() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let err = TcpStream::connect(&nb, SocketAddrV4::new(A, 9999)).expect_err("nobody listens");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

    let l = TcpListener::bind(&na, SocketAddrV4::new(A, 80)).expect("listen");
    let c = TcpStream::connect(&nb, SocketAddrV4::new(A, 80)).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let err = (&c).read(&mut buf).expect_err("nothing to read");
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(c.set_read_timeout(Some(Duration::ZERO)).is_err());

    s.abort();
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let err = (&c).read(&mut buf).expect_err("reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);

    // Linger 0: dropping resets; the default drop closes gracefully (the peer reads EOF).
    let c2 = TcpStream::connect(&nb, SocketAddrV4::new(A, 80)).expect("connect");
    let (s2, _) = l.accept().expect("accept");
    s2.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(s2);
    c2.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let err = (&c2).read(&mut buf).expect_err("reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let c3 = TcpStream::connect(&nb, SocketAddrV4::new(A, 80)).expect("connect");
    let (s3, _) = l.accept().expect("accept");
    (&s3).write_all(b"bye").expect("write");
    drop(s3);
    c3.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    (&c3).read_to_end(&mut got).expect("graceful EOF");
    assert_eq!(got, b"bye");
}

#[test]
fn many_connections_without_a_thread_each_in_the_stack() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let n = if cfg!(debug_assertions) { 300 } else { 3000 };
    let l = TcpListener::bind(&na, SocketAddrV4::new(A, 7)).expect("listen");
    let server = std::thread::spawn(move || {
        let mut open = Vec::new();
        for _ in 0..n {
            let (s, _) = l.accept().expect("accept");
            (&s).write_all(b"hi").expect("write");
            open.push(s);
        }
        open
    });
    // All open at once, from one client thread.
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(TcpStream::connect(&nb, SocketAddrV4::new(A, 7)).expect("connect"));
    }
    for c in &conns {
        let mut b = [0u8; 2];
        (&*c).read_exact(&mut b).expect("read");
        assert_eq!(&b, b"hi");
    }
    let open = server.join().expect("server");
    assert_eq!(open.len(), n);
    let live = nb
        .with_stack(|s, _| s.tcp().connections().len())
        .expect("ok");
    assert!(live >= n, "only {live} connections listed");
}

/// More blocked calls than the driver's retry-everything safety net covers (64): each must be
/// woken by its own socket's event.
#[test]
fn a_hundred_blocked_readers_each_wake_on_their_own_data() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let n = 100;
    let l = TcpListener::bind(&na, SocketAddrV4::new(A, 7)).expect("listen");
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        clients.push(TcpStream::connect(&nb, SocketAddrV4::new(A, 7)).expect("connect"));
        servers.push(l.accept().expect("accept").0);
    }
    let readers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            std::thread::spawn(move || {
                c.set_read_timeout(Some(Duration::from_secs(20)))
                    .expect("timeout");
                let mut b = [0u8; 8];
                (&c).read_exact(&mut b).expect("read");
                assert_eq!(u64::from_be_bytes(b), i as u64);
            })
        })
        .collect();
    // Let the readers park, then answer them in reverse order.
    std::thread::sleep(Duration::from_millis(200));
    for (i, s) in servers.iter().enumerate().rev() {
        (&*s).write_all(&(i as u64).to_be_bytes()).expect("write");
    }
    for r in readers {
        r.join().expect("reader");
    }
}

/// `wait_fin_acked` (what `tunstack connect` waits on before it exits) blocks while the peer's
/// window holds our FIN back, returns once the peer has taken every byte, and reports a reset.
#[test]
fn wait_fin_acked_blocks_until_the_peer_takes_everything() {
    let p = Pair::new();
    let (na, nb) = p.nets();
    let l = TcpListener::bind(&na, SocketAddrV4::new(A, 5000)).expect("listen");
    // More than the peer's 256 KiB receive buffer: the FIN cannot be acknowledged until the
    // server reads.
    let data = pattern(356 * 1024, 3);
    for reset in [false, true] {
        let c = TcpStream::connect(&nb, SocketAddrV4::new(A, 5000)).expect("connect");
        let (s, _) = l.accept().expect("accept");
        (&c).write_all(&data).expect("write");
        c.shutdown(Shutdown::Write).expect("shutdown");
        let waiter = c.try_clone().expect("clone");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(waiter.wait_fin_acked());
        });
        // One-sided: it must not return while the server reads nothing.
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "returned before the peer took the data"
        );
        if reset {
            s.abort();
            let r = rx.recv_timeout(Duration::from_secs(10)).expect("waiter");
            assert_eq!(r.expect_err("reset").kind(), ErrorKind::ConnectionReset);
        } else {
            let mut got = Vec::new();
            (&s).read_to_end(&mut got).expect("server read");
            assert_eq!(got, data);
            rx.recv_timeout(Duration::from_secs(10))
                .expect("waiter")
                .expect("FIN acked");
            let state = c.info().expect("info").state;
            assert!(matches!(state, "FIN-WAIT-2" | "TIME-WAIT"), "{state}");
        }
    }
}
