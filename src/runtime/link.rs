//! The packet link the driver reads and writes: a TUN device, or any packet fd (a datagram
//! socketpair joins two runtimes in one process, with no privilege and no network).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::device::TunDevice;

pub enum Link {
    /// A TUN device (raw IPv4, no packet-info header).
    Tun(TunDevice),
    /// A datagram or seqpacket fd: each read/write is one IP packet; a read of 0 bytes is EOF.
    Fd(OwnedFd),
}

impl Link {
    /// Two links joined back to back (an AF_UNIX seqpacket socketpair: one packet per message,
    /// and the other end sees EOF when one is closed), both non-blocking.
    pub fn pair() -> io::Result<(Link, Link)> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair(2) returns.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&a, &b] {
            // Room for bursts of full-size packets.
            let size: libc::c_int = 4 * 1024 * 1024;
            // SAFETY: setsockopt with a valid int option value.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUF,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok((Link::Fd(a), Link::Fd(b)))
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        match self {
            Link::Tun(t) => t.raw_fd(),
            Link::Fd(fd) => fd.as_raw_fd(),
        }
    }

    /// Make reads and writes non-blocking.
    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        let fd = self.raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One packet, or WouldBlock; and whether its TCP checksum was left partial (only with
    /// `may_trust`, on a TUN with offloads: see `Stack::handle_packet_offloaded`).
    pub(crate) fn recv(&self, buf: &mut [u8], may_trust: bool) -> io::Result<(usize, bool)> {
        if let Link::Tun(t) = self
            && t.vnet()
        {
            return match super::offload::recv(t.raw_fd(), buf, may_trust)? {
                super::offload::Rx::Packet(len) => Ok((len, false)),
                super::offload::Rx::Trusted(len) => Ok((len, true)),
                super::offload::Rx::Dropped(e) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("malformed virtio_net_hdr: {e:?}"),
                )),
            };
        }
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(self.raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((n as usize, false))
    }

    /// True if the link takes TCP super-segments (a TUN with offloads, `send_gso`).
    pub(crate) fn offload(&self) -> bool {
        matches!(self, Link::Tun(t) if t.vnet())
    }

    /// Write one packet; with `gso`, a TCP super-segment the kernel cuts into segments of
    /// that many payload bytes (its checksum partial). Only a link with `offload()` takes one.
    pub(crate) fn send_gso(&self, packet: &[u8], gso: Option<u16>) -> io::Result<usize> {
        use super::offload::VnetHdr;
        if let Link::Tun(t) = self
            && t.vnet()
        {
            let hdr = match gso {
                Some(size) => VnetHdr::for_tcp_gso(packet, size).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "not a TCP super-segment")
                })?,
                None => VnetHdr::default(),
            };
            let sent = super::offload::send(t.raw_fd(), hdr, packet);
            return match (sent, gso) {
                // The kernel refused the GSO header: cut the segments ourselves.
                (Err(e), Some(size)) if e.raw_os_error() == Some(libc::EINVAL) => {
                    log::debug!("GSO write refused ({e}); segmenting in software");
                    let mut res = Ok(packet.len());
                    let cut = super::offload::segment(packet, size, |p| {
                        if let Err(e) = super::offload::send(t.raw_fd(), VnetHdr::default(), p) {
                            res = Err(e);
                        }
                    });
                    if cut { res } else { Err(e) }
                }
                (r, _) => r,
            };
        }
        if gso.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a super-segment on a link without offloads",
            ));
        }
        // SAFETY: writes packet.len() bytes from packet.
        let n = unsafe { libc::write(self.raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}
