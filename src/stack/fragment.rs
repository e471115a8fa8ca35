//! IPv4 fragment reassembly (RFC 791 §3.2, RFC 1122 §3.3.2) with a sorted list of pieces.
//!
//! Datagrams are keyed by (source, destination, protocol, identification). Pieces are kept
//! sorted by offset; any overlap discards the whole datagram (as RFC 5722 does for IPv6, which
//! closes the overlapping-fragment attacks), an exact duplicate is ignored. Memory is bounded by
//! `limit` (bytes held plus a fixed overhead per piece and per datagram): the oldest datagrams
//! are evicted first. A datagram not complete after `timeout` is given up; if its first fragment
//! had arrived, the caller sends ICMP Time Exceeded code 1 (RFC 792, RFC 1122 §3.3.2).
//! Does not: interpret IP options (the first fragment's header is kept as is).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::time::{Duration, Instant};
use crate::wire::ipv4::{MAX_DATAGRAM, reassembled_header};

/// Book-keeping cost charged per piece and per datagram, so tiny fragments cannot exhaust memory.
const PIECE_OVERHEAD: usize = 64;
const DATAGRAM_OVERHEAD: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FragKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub id: u16,
}

/// What became of one fragment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FragResult {
    /// Held; the datagram is still incomplete.
    Held,
    /// The datagram is complete: header (fragment fields cleared) + payload.
    Complete(Vec<u8>),
    Duplicate,
    /// The datagram was discarded because of this fragment.
    Overlap,
    TooBig,
    Malformed,
    /// This datagram alone does not fit in the memory limit: discarded.
    MemLimit,
}

/// A datagram given up on timeout.
pub(crate) struct Expired {
    pub key: FragKey,
    /// First fragment's header and data, if fragment zero had arrived (for the ICMP quote).
    pub first: Option<(Vec<u8>, Vec<u8>)>,
}

struct Entry {
    /// (offset, data), sorted by offset, never overlapping.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Header of fragment zero, once it arrived.
    first_header: Option<Vec<u8>>,
    /// Payload length, once the last fragment (MF = 0) arrived.
    total: Option<usize>,
    deadline: Instant,
    /// Payload bytes held (pieces are disjoint: complete when this equals `total`).
    received: usize,
    mem: usize,
    /// Arrival order, for evicting the oldest.
    age: u64,
}

pub(crate) struct Reassembler {
    entries: BTreeMap<FragKey, Entry>,
    /// (deadline, age, key) of every entry: the oldest and the next to expire come first.
    order: BTreeSet<(Instant, u64, FragKey)>,
    mem: usize,
    limit: usize,
    timeout: Duration,
    next_age: u64,
}

impl Reassembler {
    pub fn new(limit: usize, timeout: Duration) -> Self {
        Reassembler {
            entries: BTreeMap::new(),
            order: BTreeSet::new(),
            mem: 0,
            limit,
            timeout,
            next_age: 0,
        }
    }

    /// Bytes currently charged against the limit.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Incomplete datagrams held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.first().map(|(deadline, _, _)| *deadline)
    }

    fn remove(&mut self, key: &FragKey) {
        if let Some(e) = self.entries.remove(key) {
            self.mem -= e.mem;
            self.order.remove(&(e.deadline, e.age, *key));
        }
    }

    /// Add one fragment: `offset` in bytes, `more` = MF, `header` = its IP header with options.
    /// Returns the result and how many other datagrams were evicted for memory.
    pub fn insert(
        &mut self,
        now: Instant,
        key: FragKey,
        header: &[u8],
        offset: usize,
        more: bool,
        data: &[u8],
    ) -> (FragResult, u64) {
        let end = offset + data.len();
        // RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes.
        if more && (data.is_empty() || !data.len().is_multiple_of(8)) {
            self.remove(&key);
            return (FragResult::Malformed, 0);
        }
        // RFC 791 §3.1: the datagram cannot exceed 65535 bytes (the "ping of death").
        if header.len() + end > MAX_DATAGRAM {
            self.remove(&key);
            return (FragResult::TooBig, 0);
        }
        let cost = data.len()
            + PIECE_OVERHEAD
            + if offset == 0 { header.len() } else { 0 }
            + if self.entries.contains_key(&key) {
                0
            } else {
                DATAGRAM_OVERHEAD
            };
        if let Some(e) = self.entries.get(&key) {
            // Consistency with what we hold: the end is fixed by the last fragment.
            // Pieces are sorted and disjoint, so the last one ends furthest.
            let held_end = e.pieces.last().map_or(0, |(o, d)| o + d.len());
            let bad_end = match e.total {
                Some(t) => end > t || (!more && end != t),
                None => !more && held_end > end,
            };
            if bad_end {
                self.remove(&key);
                return (FragResult::Malformed, 0);
            }
            // Only the neighbours around `offset` can overlap a sorted, disjoint list.
            let pos = e.pieces.partition_point(|(o, _)| *o < offset);
            let before = pos.checked_sub(1).and_then(|i| e.pieces.get(i));
            let overlapping = [before, e.pieces.get(pos)]
                .into_iter()
                .flatten()
                .find(|(o, d)| *o < end.max(offset + 1) && offset < o + d.len().max(1));
            if let Some((o, d)) = overlapping {
                if *o == offset && d.as_slice() == data {
                    return (FragResult::Duplicate, 0);
                }
                self.remove(&key);
                return (FragResult::Overlap, 0);
            }
        }
        // Bounded memory: evict the oldest other datagrams; give up on this one if alone too big.
        let mut evicted = 0;
        let own = self.entries.get(&key).map_or(0, |e| e.mem);
        if own + cost > self.limit {
            self.remove(&key);
            return (FragResult::MemLimit, 0);
        }
        while self.mem + cost > self.limit {
            let oldest = self.order.iter().map(|(_, _, k)| *k).find(|k| *k != key);
            match oldest {
                Some(k) => {
                    self.remove(&k);
                    evicted += 1;
                }
                None => break,
            }
        }
        let (deadline, age) = (now + self.timeout, self.next_age);
        if !self.entries.contains_key(&key) {
            self.next_age += 1;
            self.order.insert((deadline, age, key));
        }
        let e = self.entries.entry(key).or_insert_with(|| Entry {
            pieces: Vec::new(),
            first_header: None,
            total: None,
            deadline,
            received: 0,
            mem: 0,
            age,
        });
        let pos = e.pieces.partition_point(|(o, _)| *o < offset);
        e.pieces.insert(pos, (offset, data.to_vec()));
        if offset == 0 {
            e.first_header = Some(header.to_vec());
        }
        if !more {
            e.total = Some(end);
        }
        e.received += data.len();
        e.mem += cost;
        self.mem += cost;
        match self.take_if_complete(&key) {
            Some(d) => (FragResult::Complete(d), evicted),
            None => (FragResult::Held, evicted),
        }
    }

    fn take_if_complete(&mut self, key: &FragKey) -> Option<Vec<u8>> {
        let e = self.entries.get(key)?;
        let total = e.total?;
        let header = e.first_header.as_ref()?;
        if e.received != total {
            return None;
        }
        let mut out = reassembled_header(header, total);
        out.reserve(total);
        for (_, d) in &e.pieces {
            out.extend_from_slice(d);
        }
        self.remove(key);
        Some(out)
    }

    /// Remove every datagram whose deadline is ≤ `now` (RFC 791 §3.2 reassembly timer).
    pub fn expire(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some(&(deadline, age, key)) = self.order.first() {
            if deadline > now {
                break;
            }
            self.order.remove(&(deadline, age, key));
            if let Some(e) = self.entries.remove(&key) {
                self.mem -= e.mem;
                let first = e.first_header.map(|h| {
                    // Sorted by offset: fragment zero, if held, is first.
                    let data = e
                        .pieces
                        .into_iter()
                        .next()
                        .filter(|(o, _)| *o == 0)
                        .map(|(_, d)| d)
                        .unwrap_or_default();
                    (h, data)
                });
                out.push(Expired { key, first });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: FragKey = FragKey {
        src: Ipv4Addr::new(198, 18, 0, 1),
        dst: Ipv4Addr::new(198, 18, 0, 2),
        protocol: 17,
        id: 42,
    };
    const HDR: [u8; 20] = [
        0x45, 0, 0, 0, 0, 42, 0x20, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
    ];

    fn r() -> Reassembler {
        Reassembler::new(1 << 20, Duration::from_secs(30))
    }

    #[test]
    fn memory_is_returned_when_a_datagram_completes() {
        let mut ra = r();
        let t = Instant::ZERO;
        assert_eq!(
            ra.insert(t, KEY, &HDR, 0, true, &[1; 16]).0,
            FragResult::Held
        );
        assert!(ra.mem() > 16);
        let (res, _) = ra.insert(t, KEY, &HDR, 16, false, &[2; 3]);
        let FragResult::Complete(d) = res else {
            panic!("{res:?}")
        };
        assert_eq!(d.len(), 20 + 19);
        assert_eq!((ra.mem(), ra.len()), (0, 0));
    }

    #[test]
    fn a_last_fragment_that_contradicts_another_is_malformed() {
        let mut ra = r();
        let t = Instant::ZERO;
        ra.insert(t, KEY, &HDR, 0, true, &[1; 16]);
        ra.insert(t, KEY, &HDR, 32, false, &[1; 8]);
        assert_eq!(
            ra.insert(t, KEY, &HDR, 48, false, &[1; 8]).0,
            FragResult::Malformed
        );
        assert_eq!((ra.mem(), ra.len()), (0, 0));
    }

    #[test]
    fn an_overlap_with_either_neighbour_or_spanning_a_gap_is_caught() {
        let t = Instant::ZERO;
        for (off, len) in [(8, 16), (4, 8), (20, 8), (0, 32), (16, 8)] {
            let mut ra = r();
            ra.insert(t, KEY, &HDR, 0, true, &[1; 16]);
            ra.insert(t, KEY, &HDR, 24, true, &[1; 8]);
            let res = ra.insert(t, KEY, &HDR, off, true, &[2; 32][..len]).0;
            let want = if (off, len) == (16, 8) {
                FragResult::Held // exactly fills the gap
            } else {
                FragResult::Overlap
            };
            assert_eq!(res, want, "fragment {off}+{len}");
        }
    }

    #[test]
    fn random_fragments_keep_memory_and_index_consistent() {
        let mut rng = crate::rng::Rng::new(5);
        let mut ra = Reassembler::new(20_000, Duration::from_secs(3));
        let mut t = Instant::ZERO;
        for _ in 0..20_000 {
            let key = FragKey {
                id: rng.below(20) as u16,
                ..KEY
            };
            let off = 8 * rng.below(40) as usize;
            let len = 8 * (1 + rng.below(30) as usize) - usize::from(rng.chance(0.1));
            let more = rng.chance(0.8);
            ra.insert(t, key, &HDR, off, more, &vec![off as u8; len]);
            if rng.chance(0.05) {
                t += Duration::from_millis(500);
                ra.expire(t);
            }
            let held: usize = ra.entries.values().map(|e| e.mem).sum();
            assert_eq!(ra.mem(), held);
            assert!(ra.mem() <= 20_000);
            assert_eq!(ra.order.len(), ra.entries.len());
            for (k, e) in &ra.entries {
                assert!(ra.order.contains(&(e.deadline, e.age, *k)));
                let got: usize = e.pieces.iter().map(|(_, d)| d.len()).sum();
                assert_eq!(got, e.received);
                assert!(e.pieces.windows(2).all(|w| w[0].0 + w[0].1.len() <= w[1].0));
            }
        }
    }

    #[test]
    fn the_oldest_datagram_is_evicted_first() {
        let mut ra = Reassembler::new(
            2 * (1000 + PIECE_OVERHEAD + DATAGRAM_OVERHEAD) + 100,
            Duration::from_secs(30),
        );
        let t = Instant::ZERO;
        for id in 1..=3u16 {
            let (res, ev) = ra.insert(t, FragKey { id, ..KEY }, &HDR, 8, true, &[0; 1000]);
            assert_eq!(res, FragResult::Held);
            assert_eq!(ev, u64::from(id == 3));
        }
        assert_eq!(ra.len(), 2);
        let ex = ra.expire(t + Duration::from_secs(30));
        let ids: Vec<u16> = ex.iter().map(|e| e.key.id).collect();
        assert_eq!(ids, vec![2, 3]);
        assert!(ex.iter().all(|e| e.first.is_none()));
    }
}
