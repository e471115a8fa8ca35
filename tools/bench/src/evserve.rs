//! `tsbench serve --mode echo-ev`: a kernel-side echo server on one thread and epoll (edge of
//! readiness, nonblocking sockets), for the connection-rate runs: the thread-per-connection
//! `echo` spends a thread start per connection, which limits the rate of any client against
//! it (ours and the Linux column alike).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

fn ctl(ep: RawFd, op: i32, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: epoll_ctl with a valid epoll fd, socket fd and event struct.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn echo(listen: SocketAddr) -> io::Result<String> {
    let l = TcpListener::bind(listen)?;
    l.set_nonblocking(true)?;
    eprintln!("tsbench: serving echo-ev on {listen}");
    // SAFETY: plain syscall; the fd is checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    let lfd = l.as_raw_fd();
    ctl(ep, libc::EPOLL_CTL_ADD, lfd)?;
    let mut conns: HashMap<RawFd, TcpStream> = HashMap::new();
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: evs is a valid buffer of evs.len() events.
        let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in evs.iter().take(n as usize) {
            let fd = ev.u64 as RawFd;
            if fd == lfd {
                while let Ok((s, _)) = l.accept() {
                    let _ = s.set_nonblocking(true);
                    let _ = s.set_nodelay(true);
                    let sfd = s.as_raw_fd();
                    if ctl(ep, libc::EPOLL_CTL_ADD, sfd).is_ok() {
                        conns.insert(sfd, s);
                    }
                }
                continue;
            }
            let Some(s) = conns.get_mut(&fd) else {
                continue;
            };
            let done = loop {
                match s.read(&mut buf) {
                    Ok(0) => break true,
                    // A short echo: the 1-byte requests of `crr` always fit the send buffer.
                    Ok(k) => {
                        if s.write_all(&buf[..k]).is_err() {
                            break true;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break true,
                }
            };
            if done {
                let _ = ctl(ep, libc::EPOLL_CTL_DEL, fd);
                conns.remove(&fd);
            }
        }
    }
}
