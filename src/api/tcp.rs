//! `TcpListener` and `TcpStream`, like `std::net`'s, over a running stack.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Net, v4};
use crate::socket::{SocketError, SocketEvent, TcpHandle};

/// Largest read or write handed to the driver in one call.
const MAX_CHUNK: usize = 256 * 1024;

fn lock<T: Copy>(m: &Mutex<T>) -> T {
    *m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A listening TCP socket.
pub struct TcpListener {
    net: Net,
    h: TcpHandle,
}

impl TcpListener {
    /// Listen on `addr` (0.0.0.0 = our address; port 0 is not supported for listeners).
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let a = v4(addr)?;
        let h = net.call(None, None, ErrorKind::TimedOut, move |s, _| s.tcp_listen(a))?;
        Ok(TcpListener {
            net: net.clone(),
            h,
        })
    }

    /// Wait for the next connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let l = self.h;
        let (h, peer) = self.net.call(
            Some(SocketEvent::Tcp(l)),
            None,
            ErrorKind::TimedOut,
            move |s, _| {
                let h = s.tcp_accept(l)?;
                Ok((h, s.tcp().peer_addr(h)))
            },
        )?;
        let stream = TcpStream::from_handle(&self.net, h);
        let peer = peer.map_err(io::Error::from)?;
        Ok((stream, SocketAddr::V4(peer)))
    }

    /// An endless iterator over accepted connections.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        self.net
            .call(None, None, ErrorKind::TimedOut, move |s, _| {
                s.tcp().local_addr(h)
            })
            .map(SocketAddr::V4)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let h = self.h;
        self.net.post(move |s, now| s.tcp_close(now, h));
    }
}

pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

struct Inner {
    net: Net,
    h: TcpHandle,
    released: AtomicBool,
    /// SO_LINGER 0: the last drop resets instead of closing gracefully.
    linger_zero: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.released.swap(true, Ordering::SeqCst) {
            let h = self.h;
            if self.linger_zero.load(Ordering::SeqCst) {
                self.net.post(move |s, now| s.tcp_abort(now, h));
            } else {
                // Graceful: FIN after the queued data; the stack finishes the close.
                self.net.post(move |s, now| s.tcp_close(now, h));
            }
        }
    }
}

/// A TCP connection. `try_clone` shares it (e.g. one thread reads while another writes);
/// it is closed gracefully when the last clone is dropped.
pub struct TcpStream {
    inner: Arc<Inner>,
}

impl TcpStream {
    fn from_handle(net: &Net, h: TcpHandle) -> TcpStream {
        TcpStream {
            inner: Arc::new(Inner {
                net: net.clone(),
                h,
                released: AtomicBool::new(false),
                linger_zero: AtomicBool::new(false),
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
            }),
        }
    }

    /// Open a connection and wait for the handshake (the stack's retransmission limit applies).
    pub fn connect(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_inner(net, addr, None)
    }

    /// Like `connect`, giving up with TimedOut after `timeout`.
    pub fn connect_timeout(
        net: &Net,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        Self::connect_inner(net, addr, Some(timeout))
    }

    fn connect_inner(
        net: &Net,
        addr: impl ToSocketAddrs,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let remote = v4(addr)?;
        let h = net.call(None, None, ErrorKind::TimedOut, move |s, now| {
            s.tcp_connect(now, remote)
        })?;
        // From here on the stream owns the handle: an error below aborts it on drop.
        let stream = TcpStream::from_handle(net, h);
        let r = net.call(
            Some(SocketEvent::Tcp(h)),
            timeout,
            ErrorKind::TimedOut,
            move |s, _| s.tcp().connect_status(h),
        );
        match r {
            Ok(()) => Ok(stream),
            Err(e) => {
                stream.abort();
                Err(e)
            }
        }
    }

    pub fn handle(&self) -> TcpHandle {
        self.inner.h
    }

    fn net(&self) -> &Net {
        &self.inner.net
    }

    /// A simple query on the driver (no waiting).
    fn query<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut crate::Stack, crate::Instant) -> Result<T, SocketError> + Send + 'static,
    ) -> io::Result<T> {
        self.net().call(None, None, ErrorKind::TimedOut, f)
    }

    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.inner.h;
        self.query(move |s, _| s.tcp().peer_addr(h))
            .map(SocketAddr::V4)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.inner.h;
        self.query(move |s, _| s.tcp().local_addr(h))
            .map(SocketAddr::V4)
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let h = self.inner.h;
        self.query(move |s, now| s.tcp_shutdown(now, h, how))
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let h = self.inner.h;
        self.query(move |s, _| s.tcp_mut().set_nodelay(h, nodelay))
    }

    /// `None` = block forever. Zero is rejected, as by std. A timed-out read fails with
    /// `WouldBlock` (as std does on Unix).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(lock(&self.inner.read_timeout))
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(lock(&self.inner.write_timeout))
    }

    /// The pending error (e.g. after a reset), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let h = self.inner.h;
        self.query(move |s, _| Ok(s.tcp_mut().take_error(h)))
            .map(|e| e.map(io::Error::from))
    }

    /// A snapshot of the connection (state, RTT, cwnd...), for tools and tests.
    pub fn info(&self) -> io::Result<crate::tcp::TcpInfo> {
        let h = self.inner.h;
        self.query(move |s, _| s.tcp_info(h).ok_or(SocketError::InvalidHandle))
    }

    /// Block until our FIN, and so every byte before it, is acknowledged (FIN-WAIT-2,
    /// TIME-WAIT or CLOSED; RFC 9293 §3.6), or the connection ends. Call it after
    /// `shutdown(Write)`: it waits on the stack's state-change event, not by polling, and the
    /// retransmission limit bounds it. An error the connection ended with is returned.
    pub fn wait_fin_acked(&self) -> io::Result<()> {
        let h = self.inner.h;
        self.net().call(
            Some(SocketEvent::Tcp(h)),
            None,
            ErrorKind::TimedOut,
            move |s, _| match s.tcp_info(h) {
                Some(i)
                    if matches!(
                        i.state,
                        "FIN-WAIT-1" | "CLOSING" | "LAST-ACK" | "ESTABLISHED" | "CLOSE-WAIT"
                    ) =>
                {
                    Err(SocketError::WouldBlock)
                }
                _ => Ok(()),
            },
        )?;
        match self.take_error()? {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `Some(0)`: dropping the last clone sends RST (SO_LINGER 0). `None` or any other value:
    /// a graceful close that the stack finishes in the background (drop never blocks).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let zero = linger.is_some_and(|d| d.is_zero());
        self.inner.linger_zero.store(zero, Ordering::SeqCst);
        Ok(())
    }

    /// Reset the connection now (RST, like SO_LINGER 0 then close).
    pub fn abort(self) {
        if !self.inner.released.swap(true, Ordering::SeqCst) {
            let h = self.inner.h;
            self.net().post(move |s, now| s.tcp_abort(now, h));
        }
    }

    fn do_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let h = self.inner.h;
        let mut tmp = vec![0u8; buf.len().min(MAX_CHUNK)];
        let data = self.net().call(
            Some(SocketEvent::Tcp(h)),
            lock(&self.inner.read_timeout),
            ErrorKind::WouldBlock,
            move |s, now| {
                let n = s.tcp_recv(now, h, &mut tmp)?;
                let mut out = std::mem::take(&mut tmp);
                out.truncate(n);
                Ok(out)
            },
        )?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn do_write(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let h = self.inner.h;
        let data = buf[..buf.len().min(MAX_CHUNK)].to_vec();
        self.net().call(
            Some(SocketEvent::Tcp(h)),
            lock(&self.inner.write_timeout),
            ErrorKind::WouldBlock,
            move |s, now| {
                // Take as much as the send buffer holds; block only if it holds nothing.
                let mut done = 0;
                while done < data.len() {
                    match s.tcp_send(now, h, &data[done..]) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(SocketError::WouldBlock) if done > 0 => break,
                        Err(e) => return Err(e),
                    }
                }
                if done == 0 {
                    return Err(SocketError::WouldBlock);
                }
                Ok(done)
            },
        )
    }
}

fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t.is_some_and(|d| d.is_zero()) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    /// Data is handed to the stack on `write`; nothing is buffered here.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("handle", &self.inner.h)
            .finish()
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("handle", &self.h)
            .finish()
    }
}
