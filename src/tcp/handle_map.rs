//! Hash maps keyed by values we choose ourselves (the handles we hand out, our listeners'
//! addresses): a multiplicative hash (as rustc's FxHash) instead of the default SipHash-1-3.
//! SipHash's keyed resistance to collision floods only matters for keys a peer picks (the
//! 4-tuple table); a peer cannot choose what these maps hold. Read next: `mod.rs`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// 2^64 / φ, odd: spreads sequential handles over all bits (low bits pick the bucket, the top
/// seven the control byte).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Default, Clone, Copy)]
pub struct LocalHasher(u64);

impl LocalHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for LocalHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weakest: fold the high half in.
        self.0 ^ (self.0 >> 32)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

pub type LocalBuild = BuildHasherDefault<LocalHasher>;
/// A map keyed by something of ours (handles, our own addresses).
pub type LocalMap<K, V> = HashMap<K, V, LocalBuild>;
pub type LocalSet<K> = HashSet<K, LocalBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_handles_spread_over_buckets_and_control_bytes() {
        let b = LocalBuild::default();
        let n = 4096u32;
        let mut low = vec![0u32; 1024];
        let mut top = [0u32; 128];
        for h in 1..=n {
            let x = b.hash_one(h);
            low[(x & 1023) as usize] += 1;
            top[(x >> 57) as usize] += 1;
        }
        // 4 per bucket on average: no bucket may hold a long chain, no control byte dominate.
        assert!(low.iter().all(|&c| c <= 16), "{:?}", low.iter().max());
        assert!(
            top.iter().all(|&c| c <= 4 * n / 128),
            "{:?}",
            top.iter().max()
        );
    }

    #[test]
    fn map_works_as_a_map() {
        let mut m: LocalMap<u32, u32> = LocalMap::default();
        for h in 0..1000 {
            m.insert(h, h * 2);
        }
        m.remove(&500);
        assert_eq!(m.get(&499), Some(&998));
        assert_eq!(m.get(&500), None);
        assert_eq!(m.len(), 999);
    }
}
