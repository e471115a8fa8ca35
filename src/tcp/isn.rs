//! Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport, remoteip, remoteport,
//! secretkey), where M is a clock ticking every 4 µs and F a keyed hash (SipHash-2-4 here).
//!
//! The clock comes from the `now` the driver passes in and the key from `TcpLayer::new`, so the
//! engine stays sans-IO and a replay with the same key gives the same ISNs. The same hash, with a
//! different domain byte, gives each 4-tuple its timestamp offset (RFC 7323 §5.4). Read next:
//! `rtt.rs`.

use std::net::SocketAddrV4;

use super::seq::SeqNum;
use crate::time::Instant;

/// SipHash-2-4 (Aumasson & Bernstein, 2012) of `data` under a 128-bit key.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let k0 = u64::from_le_bytes(key[0..8].try_into().unwrap_or([0; 8]));
    let k1 = u64::from_le_bytes(key[8..16].try_into().unwrap_or([0; 8]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let rem = chunks.remainder();
    last[..rem.len()].copy_from_slice(rem);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The RFC 6528 generator: a secret key; the clock is the caller's `now`.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    key: [u8; 16],
    /// A fixed ISN for labs and scenario tests (readable traces); None = RFC 6528.
    pub fixed: Option<u32>,
}

impl IsnGenerator {
    pub fn new(key: [u8; 16]) -> Self {
        IsnGenerator { key, fixed: None }
    }

    fn hash(&self, domain: u8, local: SocketAddrV4, remote: SocketAddrV4) -> u64 {
        let mut d = [0u8; 13];
        d[0..4].copy_from_slice(&local.ip().octets());
        d[4..6].copy_from_slice(&local.port().to_be_bytes());
        d[6..10].copy_from_slice(&remote.ip().octets());
        d[10..12].copy_from_slice(&remote.port().to_be_bytes());
        d[12] = domain;
        siphash24(&self.key, &d)
    }

    /// RFC 6528 §3: ISN = M + F(4-tuple, key), M the 4 µs timer.
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        if let Some(f) = self.fixed {
            return SeqNum(f);
        }
        let m = (now.total_micros() / 4) as u32;
        SeqNum(m.wrapping_add(self.hash(0, local, remote) as u32))
    }

    /// The keyed hash of arbitrary data under the same secret (SYN cookies, RFC 4987 §3.6).
    pub fn keyed(&self, data: &[u8]) -> u64 {
        siphash24(&self.key, data)
    }

    /// Per-4-tuple offset for the timestamp clock (RFC 7323 §5.4, §7.1).
    pub fn ts_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        self.hash(1, local, remote) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn siphash_matches_the_reference_vector() {
        // Reference implementation vectors: key 00..0f, message 00..(n-1).
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(&key, &[]), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn isn_advances_with_the_clock_and_differs_per_tuple() {
        let g = IsnGenerator::new([7; 16]);
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40000);
        let b = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);
        let c = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 81);
        let t0 = g.isn(Instant::from_secs(1), a, b);
        let t1 = g.isn(
            Instant::from_secs(1) + crate::time::Duration::from_micros(400),
            a,
            b,
        );
        assert_eq!(t1.diff(t0), 100);
        assert_ne!(g.isn(Instant::from_secs(1), a, c), t0);
        assert_ne!(
            IsnGenerator::new([8; 16]).isn(Instant::from_secs(1), a, b),
            t0
        );
    }
}
