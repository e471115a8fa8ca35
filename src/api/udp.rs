//! `UdpSocket`, like `std::net::UdpSocket`, over a running stack.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use super::{Net, v4};
use crate::socket::{SocketError, SocketEvent, UdpHandle};

/// Largest UDP payload over IPv4 (65535 - 20 - 8).
const MAX_DATAGRAM: usize = 65507;

pub struct UdpSocket {
    net: Net,
    h: UdpHandle,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

fn get(m: &Mutex<Option<Duration>>) -> Option<Duration> {
    *m.lock().unwrap_or_else(|p| p.into_inner())
}

impl UdpSocket {
    /// Bind to `addr` (port 0 = an ephemeral port; 0.0.0.0 = our address).
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let a = v4(addr)?;
        let h = net.call(None, None, ErrorKind::TimedOut, move |s, _| s.udp_bind(a))?;
        Ok(UdpSocket {
            net: net.clone(),
            h,
            read_timeout: Mutex::new(None),
            write_timeout: Mutex::new(None),
        })
    }

    pub fn handle(&self) -> UdpHandle {
        self.h
    }

    fn query<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut crate::Stack, crate::Instant) -> Result<T, SocketError> + Send + 'static,
    ) -> io::Result<T> {
        self.net.call(None, None, ErrorKind::TimedOut, f)
    }

    /// Only datagrams from `addr` are received; `send` goes there.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let (h, a) = (self.h, v4(addr)?);
        self.query(move |s, _| s.udp_connect(h, a))
    }

    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let (h, to) = (self.h, v4(addr)?);
        let data = buf.to_vec();
        self.net.call(
            Some(SocketEvent::Udp(h)),
            get(&self.write_timeout),
            ErrorKind::WouldBlock,
            move |s, now| s.udp_send_to(now, h, &data, to),
        )
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let h = self.h;
        let data = buf.to_vec();
        self.net.call(
            Some(SocketEvent::Udp(h)),
            get(&self.write_timeout),
            ErrorKind::WouldBlock,
            move |s, now| s.udp_send(now, h, &data),
        )
    }

    /// The next datagram (truncated to `buf`, like recv_from(2)) and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        if buf.is_empty() {
            return Err(io::Error::new(ErrorKind::InvalidInput, "empty buffer"));
        }
        let h = self.h;
        let mut tmp = vec![0u8; buf.len().min(MAX_DATAGRAM)];
        let (data, from) = self.net.call(
            Some(SocketEvent::Udp(h)),
            get(&self.read_timeout),
            ErrorKind::WouldBlock,
            move |s, _| {
                let (n, from) = s.udp_recv_from(h, &mut tmp)?;
                let mut out = std::mem::take(&mut tmp);
                out.truncate(n);
                Ok((out, from))
            },
        )?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, SocketAddr::V4(from)))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// `None` = block forever; a timed-out call fails with WouldBlock (as std on Unix).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        set(&self.read_timeout, t)
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        set(&self.write_timeout, t)
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(get(&self.read_timeout))
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(get(&self.write_timeout))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        self.query(move |s, _| s.udp_local_addr(h))
            .map(SocketAddr::V4)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        self.query(move |s, _| s.udp_peer_addr(h))
            .map(SocketAddr::V4)
    }

    /// A pending ICMP-reported error (e.g. ConnectionRefused), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let h = self.h;
        self.query(move |s, _| Ok(s.udp_take_error(h)))
            .map(|e| e.map(io::Error::from))
    }
}

fn set(m: &Mutex<Option<Duration>>, t: Option<Duration>) -> io::Result<()> {
    if t.is_some_and(|d| d.is_zero()) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    *m.lock().unwrap_or_else(|p| p.into_inner()) = t;
    Ok(())
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let h = self.h;
        self.net.post(move |s, _| s.udp_close(h));
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("handle", &self.h)
            .finish()
    }
}
