//! A model check of `tcp::reassembly::Reassembly`: a set of held stream offsets.
//!
//! Every inserted byte is `stream_byte(offset)` (a retransmission carries the same bytes), so
//! whatever `pop` returns can be checked exactly. Shared by the `tcp_reassembly` fuzz target and
//! `tests/prop_reassembly.rs` (which includes this file by path).
#![allow(dead_code)]

use std::collections::BTreeSet;

use tunstack::tcp::reassembly::{Inserted, Reassembly};

/// The byte at stream offset `off`.
pub fn stream_byte(off: u64) -> u8 {
    (off.wrapping_mul(31) ^ (off >> 7)) as u8
}

#[derive(Clone, Copy, Debug)]
pub enum Op {
    Insert { at: u64, len: usize },
    Pop { at: u64 },
}

pub struct ReassemblyModel {
    pub r: Reassembly,
    held: BTreeSet<u64>,
    max_bytes: usize,
    max_pieces: usize,
    /// Bytes returned by `pop`, for the caller's statistics.
    pub popped: u64,
    pub fulls: u64,
}

impl ReassemblyModel {
    pub fn new(max_bytes: usize, max_pieces: usize) -> Self {
        ReassemblyModel {
            r: Reassembly::new(max_bytes, max_pieces),
            held: BTreeSet::new(),
            max_bytes,
            max_pieces,
            popped: 0,
            fulls: 0,
        }
    }

    /// The offsets the real structure holds, from its ranges.
    fn real_set(&self) -> BTreeSet<u64> {
        self.r
            .ranges(usize::MAX)
            .into_iter()
            .flat_map(|(s, e)| s..e)
            .collect()
    }

    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Insert { at, len } => {
                let data: Vec<u8> = (at..at + len as u64).map(stream_byte).collect();
                let before = self.held.clone();
                let res = self.r.insert(at, &data);
                let real = self.real_set();
                let new: BTreeSet<u64> = (at..at + len as u64).collect();
                match res {
                    Inserted::Full => {
                        self.fulls += 1;
                        assert!(real.is_superset(&before), "Full lost held bytes");
                        assert!(
                            real.iter().all(|o| before.contains(o) || new.contains(o)),
                            "Full stored bytes never inserted"
                        );
                        self.held = real;
                    }
                    Inserted::Duplicate => {
                        assert!(new.is_subset(&before), "Duplicate, but {at}+{len} was new");
                        assert_eq!(real, before, "Duplicate changed what is held");
                    }
                    Inserted::Stored => {
                        assert!(!new.is_subset(&before), "Stored, but nothing was new");
                        self.held.extend(new);
                        assert_eq!(real, self.held, "insert {at}+{len}");
                    }
                }
            }
            Op::Pop { at } => {
                let got = self.r.pop(at);
                self.held = self.held.split_off(&at);
                match got {
                    None => assert!(!self.held.contains(&at), "pop({at}) missed held data"),
                    Some(p) => {
                        assert!(!p.is_empty(), "pop({at}) returned an empty piece");
                        for (k, b) in p.iter().enumerate() {
                            let off = at + k as u64;
                            assert!(self.held.remove(&off), "pop({at}) returned unheld {off}");
                            assert_eq!(*b, stream_byte(off), "pop({at}) corrupted byte {off}");
                        }
                        self.popped += p.len() as u64;
                    }
                }
                assert_eq!(self.real_set(), self.held, "after pop({at})");
            }
        }
        self.check();
    }

    pub fn check(&self) {
        assert_eq!(self.r.bytes(), self.held.len(), "byte count");
        assert!(self.r.bytes() <= self.max_bytes, "over max_bytes");
        assert_eq!(self.r.is_empty(), self.held.is_empty());
        let ranges = self.r.ranges(usize::MAX);
        assert!(
            ranges.len() <= self.max_pieces,
            "more ranges than pieces allowed"
        );
        // Ranges are disjoint, non-empty, not adjacent; sorted except the first (latest insert).
        let mut sorted = ranges.clone();
        sorted.sort();
        for w in sorted.windows(2) {
            assert!(w[0].1 < w[1].0, "ranges overlap or touch: {ranges:?}");
        }
        assert!(ranges.iter().all(|(s, e)| s < e), "empty range: {ranges:?}");
        if let Some(rest) = ranges.get(1..) {
            assert!(
                rest.windows(2).all(|w| w[0].0 < w[1].0),
                "unsorted: {ranges:?}"
            );
        }
        let few = self.r.ranges(3);
        assert_eq!(few.as_slice(), &ranges[..ranges.len().min(3)]);
    }
}

/// Decode fuzz bytes into operations (offsets kept within a 64 KiB window so pieces meet).
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut cursor = 0u64;
    for c in data.chunks(4) {
        let [a, b, x, y] = [0, 1, 2, 3].map(|i| c.get(i).copied().unwrap_or(0));
        let off = u64::from(u16::from_be_bytes([b, x]));
        if a % 5 == 0 {
            cursor += off % 3000;
            ops.push(Op::Pop { at: cursor });
        } else {
            let len = usize::from(y) * usize::from(a % 8 + 1) + 1;
            ops.push(Op::Insert {
                at: cursor + off,
                len,
            });
        }
    }
    ops
}
