//! TUN offloads (opt-in, `TUNSTACK_OFFLOAD=1`): the device is opened with IFF_VNET_HDR and
//! TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4), so the kernel hands us TCP super-segments of up to
//! 64 KiB (one read instead of ~44 at MTU 1500) without segmenting or checksumming them.
//! Every read and write starts with a 10-byte `virtio_net_hdr` (linux/virtio_net.h).
//! We complete partial checksums before the stack sees the packet, and write our packets whole
//! (header all zero: no offload asked, checksums already complete).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const IFF_TUN: i16 = 0x0001;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;
const TUN_F_CSUM: libc::c_ulong = 0x01;
const TUN_F_TSO4: libc::c_ulong = 0x02;
/// `virtio_net_hdr`: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;

/// Open `/dev/net/tun` as TUN device `name` with a vnet header and TCP/IPv4 offloads.
pub(crate) fn open_vnet(name: &str) -> io::Result<(OwnedFd, String)> {
    // SAFETY: a plain open(2) of a constant NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is fresh and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // struct ifreq: 16-byte name, then the flags (short) at offset 16; 40 bytes in all.
    let mut ifr = [0u8; 40];
    let n = name.len().min(15);
    ifr[..n].copy_from_slice(&name.as_bytes()[..n]);
    ifr[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR).to_ne_bytes());
    use std::os::fd::AsRawFd;
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `ifr` is large enough for.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TUNSETOFFLOAD takes its argument by value.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let end = ifr[..16].iter().position(|&b| b == 0).unwrap_or(16);
    let real = String::from_utf8_lossy(&ifr[..end]).into_owned();
    Ok((fd, real))
}

/// Read one packet (possibly a super-segment) into `buf`, its checksum completed.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut hdr = [0u8; VNET_HDR_LEN];
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        },
    ];
    // SAFETY: both iovecs describe live, writable buffers of the given lengths.
    let n = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = (n as usize).saturating_sub(VNET_HDR_LEN);
    if hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
        let start = usize::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
        let off = usize::from(u16::from_ne_bytes([hdr[8], hdr[9]]));
        complete_checksum(buf.get_mut(..n).unwrap_or_default(), start, off);
    }
    Ok(n)
}

/// The checksum field at `start + off` holds the pseudo-header sum; summing everything from
/// `start` (field included) gives the full RFC 1071 checksum (as the kernel's
/// skb_checksum_help does). A malformed header leaves the packet alone (the stack drops it).
fn complete_checksum(pkt: &mut [u8], start: usize, off: usize) {
    let at = start.saturating_add(off);
    if at.saturating_add(2) > pkt.len() {
        return;
    }
    let sum = crate::wire::checksum::finish(crate::wire::checksum::accumulate(
        0,
        pkt.get(start..).unwrap_or_default(),
    ));
    if let Some(f) = pkt.get_mut(at..at + 2) {
        f.copy_from_slice(&sum.to_be_bytes());
    }
}

/// Write one packet behind an all-zero header (no offload: our checksums are complete).
pub(crate) fn send(fd: RawFd, packet: &[u8]) -> io::Result<usize> {
    let hdr = [0u8; VNET_HDR_LEN];
    let iov = [
        libc::iovec {
            iov_base: hdr.as_ptr() as *mut libc::c_void,
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: packet.as_ptr() as *mut libc::c_void,
            iov_len: packet.len(),
        },
    ];
    // SAFETY: both iovecs describe live buffers; writev only reads them.
    let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize).saturating_sub(VNET_HDR_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_checksum_is_completed() {
        use crate::wire::checksum::{finish, pseudo_header, transport_checksum};
        use std::net::Ipv4Addr;
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        // A 20-byte IPv4 header (contents irrelevant here) and a 30-byte TCP segment.
        let mut pkt = vec![0u8; 50];
        for (i, b) in pkt.iter_mut().enumerate().skip(20) {
            *b = i as u8;
        }
        // What the kernel leaves: the folded, uncomplemented pseudo-header sum in the field.
        let partial = !finish(pseudo_header(src, dst, 6, 30));
        pkt[20 + 16..20 + 18].copy_from_slice(&partial.to_be_bytes());
        complete_checksum(&mut pkt, 20, 16);
        assert_eq!(transport_checksum(src, dst, 6, &pkt[20..]), 0);
        // Out-of-range offsets leave the packet alone.
        let before = pkt.clone();
        complete_checksum(&mut pkt, 40, 16);
        assert_eq!(pkt, before);
    }
}
