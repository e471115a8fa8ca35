//! TUN offloads (`tunstack up --offload on`): the device is opened with IFF_VNET_HDR and
//! TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4), so the kernel hands us TCP super-segments of up to
//! 64 KiB (one read instead of ~44 at MTU 1500) and takes ours (one write instead of ~44).
//! Every read and write starts with a 10-byte `virtio_net_hdr` (linux/virtio_net.h, legacy
//! layout, native byte order). Reads: we complete partial checksums before the stack sees the
//! packet. Writes: plain packets go behind an all-zero header (checksums complete); a TCP
//! super-segment goes with GSO_TCPV4, gso_size = its segment payload, and NEEDS_CSUM
//! (the engine left the pseudo-header sum in the checksum field, `TcpConfig::offload`).

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
pub(crate) const VNET_HDR_LEN: usize = 10;
const F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
/// Or'ed into gso_type: the super-segment carries CWR (RFC 3168), only its first segment keeps it.
const GSO_ECN: u8 = 0x80;
/// Where the checksum lives in a TCP header (RFC 9293 §3.1).
const TCP_CSUM_OFFSET: u16 = 16;
const TCP_FLAG_CWR: u8 = 0x80;

/// A `virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

/// Why a packet read with a `virtio_net_hdr` was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VnetError {
    /// Shorter than the header.
    Short,
    /// A GSO type we did not ask for (only TCPV4 is enabled).
    BadGsoType,
    /// A super-segment whose gso_size is 0 or whose hdr_len exceeds the packet.
    BadGso,
    /// NEEDS_CSUM with csum_start/csum_offset outside the packet.
    BadCsum,
}

impl VnetHdr {
    pub(crate) fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// Parse and check the header in front of a `pkt_len`-byte packet.
    pub(crate) fn parse(b: &[u8], pkt_len: usize) -> Result<VnetHdr, VnetError> {
        let b: &[u8; VNET_HDR_LEN] = b
            .get(..VNET_HDR_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(VnetError::Short)?;
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let h = VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        };
        match h.gso_type & !GSO_ECN {
            GSO_NONE => {}
            GSO_TCPV4 => {
                if h.gso_size == 0 || usize::from(h.hdr_len) > pkt_len {
                    return Err(VnetError::BadGso);
                }
            }
            _ => return Err(VnetError::BadGsoType),
        }
        if h.flags & F_NEEDS_CSUM != 0 {
            let end = usize::from(h.csum_start) + usize::from(h.csum_offset) + 2;
            if end > pkt_len {
                return Err(VnetError::BadCsum);
            }
        }
        Ok(h)
    }

    /// The header for an IPv4/TCP super-segment of `gso_size`-byte segments, or `None` if
    /// `pkt` is not one (not IPv4/TCP, or its headers do not fit).
    pub(crate) fn for_tcp_gso(pkt: &[u8], gso_size: u16) -> Option<VnetHdr> {
        let ihl = usize::from(pkt.first()? & 0x0f) * 4;
        if pkt.first()? >> 4 != 4 || ihl < 20 || *pkt.get(9)? != 6 {
            return None;
        }
        let thl = usize::from(pkt.get(ihl + 12)? >> 4) * 4;
        let flags = *pkt.get(ihl + 13)?;
        let hdr_len = ihl + thl;
        if thl < 20 || hdr_len > pkt.len() || gso_size == 0 {
            return None;
        }
        Some(VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4
                | if flags & TCP_FLAG_CWR != 0 {
                    GSO_ECN
                } else {
                    0
                },
            hdr_len: hdr_len as u16,
            gso_size,
            csum_start: ihl as u16,
            csum_offset: TCP_CSUM_OFFSET,
        })
    }
}

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

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rx {
    /// A packet (or super-segment) of this many bytes in the buffer, its checksum complete.
    Packet(usize),
    /// An IPv4/TCP packet whose checksum the kernel left partial and `recv` was allowed to
    /// leave so: the local kernel built it in memory (see `Stack::handle_packet_offloaded`).
    Trusted(usize),
    /// A packet whose header was malformed: dropped.
    Dropped(VnetError),
}

/// Read one packet (possibly a super-segment) into `buf`, its checksum completed (or, with
/// `may_trust`, left partial on a TCP packet: `Rx::Trusted`).
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], may_trust: bool) -> io::Result<Rx> {
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
    if n == 0 {
        return Ok(Rx::Packet(0));
    }
    let Some(len) = (n as usize).checked_sub(VNET_HDR_LEN) else {
        return Ok(Rx::Dropped(VnetError::Short));
    };
    Ok(complete(
        &hdr,
        buf.get_mut(..len).unwrap_or_default(),
        may_trust,
    ))
}

/// Check the header of a packet read into `pkt` and complete its checksum if it is partial
/// (unless `may_trust` and it is the TCP checksum of an unfragmented IPv4 packet).
pub(crate) fn complete(hdr: &[u8], pkt: &mut [u8], may_trust: bool) -> Rx {
    let h = match VnetHdr::parse(hdr, pkt.len()) {
        Ok(h) => h,
        Err(e) => return Rx::Dropped(e),
    };
    if h.flags & F_NEEDS_CSUM != 0 {
        if may_trust && is_tcp_checksum(pkt, h) {
            return Rx::Trusted(pkt.len());
        }
        complete_checksum(pkt, usize::from(h.csum_start), usize::from(h.csum_offset));
    }
    Rx::Packet(pkt.len())
}

/// `h` points at the TCP checksum of `pkt`, an unfragmented IPv4/TCP packet.
fn is_tcp_checksum(pkt: &[u8], h: VnetHdr) -> bool {
    let (Some(&vihl), Some(&proto), Some(frag)) = (pkt.first(), pkt.get(9), pkt.get(6..8)) else {
        return false;
    };
    let unfragmented = u16::from_be_bytes([frag[0], frag[1]]) & 0x3fff == 0;
    vihl >> 4 == 4
        && proto == 6
        && unfragmented
        && usize::from(h.csum_start) == usize::from(vihl & 0x0f) * 4
        && h.csum_offset == TCP_CSUM_OFFSET
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

/// Write one packet behind `hdr` (all zero: no offload asked, checksums complete).
pub(crate) fn send(fd: RawFd, hdr: VnetHdr, packet: &[u8]) -> io::Result<usize> {
    let hdr = hdr.to_bytes();
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

/// Cut an IPv4/TCP super-segment into `gso`-byte segments as the kernel's GSO would (headers
/// replicated, sequence numbers advanced, IP identification incremented, FIN and PSH on the
/// last piece, CWR on the first, checksums completed) and hand each to `emit`: the fallback
/// when the kernel refuses a GSO write. False (nothing emitted) if `pkt` is not one.
pub(crate) fn segment(pkt: &[u8], gso: u16, mut emit: impl FnMut(&[u8])) -> bool {
    use crate::wire::checksum::{checksum, transport_checksum};
    let Some(h) = VnetHdr::for_tcp_gso(pkt, gso) else {
        return false;
    };
    let (ihl, hdr) = (usize::from(h.csum_start), usize::from(h.hdr_len));
    let (Some(head), Some(payload)) = (pkt.get(..hdr), pkt.get(hdr..)) else {
        return false;
    };
    if payload.is_empty() {
        return false;
    }
    let (Some(src), Some(dst)) = (pkt.get(12..16), pkt.get(16..20)) else {
        return false;
    };
    let src = std::net::Ipv4Addr::new(src[0], src[1], src[2], src[3]);
    let dst = std::net::Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3]);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let seq0 = be32(&head[ihl + 4..ihl + 8]);
    let id0 = u16::from_be_bytes([head[4], head[5]]);
    let flags = head[ihl + 13];
    let n = payload.len().div_ceil(usize::from(gso));
    let mut p = Vec::with_capacity(hdr + usize::from(gso));
    for (i, chunk) in payload.chunks(usize::from(gso)).enumerate() {
        p.clear();
        p.extend_from_slice(head);
        p.extend_from_slice(chunk);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[4..6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        let ipc = checksum(&p[..ihl]);
        p[10..12].copy_from_slice(&ipc.to_be_bytes());
        let seq = seq0.wrapping_add((i * usize::from(gso)) as u32);
        p[ihl + 4..ihl + 8].copy_from_slice(&seq.to_be_bytes());
        let mut f = flags;
        if i + 1 != n {
            f &= !0x09; // FIN, PSH
        }
        if i != 0 {
            f &= !TCP_FLAG_CWR;
        }
        p[ihl + 13] = f;
        p[ihl + 16..ihl + 18].copy_from_slice(&[0, 0]);
        let c = transport_checksum(src, dst, 6, &p[ihl..]);
        p[ihl + 16..ihl + 18].copy_from_slice(&c.to_be_bytes());
        emit(&p);
    }
    true
}

#[cfg(test)]
#[path = "offload_tests.rs"]
mod tests;
