//! Out-of-order data waiting for the hole before it to fill (RFC 9293 §3.10.7.4: segments
//! "that are not the next expected" may be held; RFC 1122 §4.2.2.20 says they SHOULD be).
//!
//! Keyed by absolute stream offset; overlapping and duplicate pieces are trimmed on insert, so
//! stored bytes never overlap. Memory is bounded twice: by bytes (the receive window already
//! limits them) and by the number of pieces (a peer sending many one-byte islands). What does not
//! fit is dropped and the caller counts it. Also yields the SACK blocks to report (RFC 2018 §4).
//! Read next: `congestion/mod.rs`.

use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Reassembly {
    pieces: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
    max_pieces: usize,
    /// Offset of the most recently inserted piece, reported first in SACK (RFC 2018 §4).
    last_insert: Option<u64>,
}

/// What `insert` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Some new bytes were stored.
    Stored,
    /// Everything was already held.
    Duplicate,
    /// A bound was hit and the new bytes were dropped.
    Full,
}

impl Reassembly {
    pub fn new(max_bytes: usize, max_pieces: usize) -> Self {
        Reassembly {
            pieces: BTreeMap::new(),
            bytes: 0,
            max_bytes,
            max_pieces,
            last_insert: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Store `data` that starts at stream offset `at`, keeping only bytes not already held.
    pub fn insert(&mut self, mut at: u64, mut data: &[u8]) -> Inserted {
        let mut stored = false;
        while !data.is_empty() {
            // The piece at or before `at` may cover its start.
            if let Some((&s, p)) = self.pieces.range(..=at).next_back() {
                let end = s + p.len() as u64;
                if end > at {
                    let skip = ((end - at) as usize).min(data.len());
                    data = &data[skip..];
                    at += skip as u64;
                    continue;
                }
            }
            // Up to the next piece, everything is new.
            let next = self.pieces.range(at..).next().map(|(&s, _)| s);
            let n = match next {
                Some(s) => ((s - at) as usize).min(data.len()),
                None => data.len(),
            };
            if self.bytes + n > self.max_bytes || self.pieces.len() >= self.max_pieces {
                return Inserted::Full;
            }
            self.pieces.insert(at, data[..n].to_vec());
            self.bytes += n;
            self.last_insert = Some(at);
            stored = true;
            data = &data[n..];
            at += n as u64;
        }
        if stored {
            Inserted::Stored
        } else {
            Inserted::Duplicate
        }
    }

    /// Remove and return the piece that starts exactly at (or covers) `at`, trimmed to start at
    /// `at`; pieces wholly before `at` are discarded.
    pub fn pop(&mut self, at: u64) -> Option<Vec<u8>> {
        loop {
            let (&s, p) = self.pieces.iter().next()?;
            let end = s + p.len() as u64;
            if s > at {
                return None;
            }
            let mut p = self.pieces.remove(&s).unwrap_or_default();
            self.bytes -= p.len();
            if end > at {
                p.drain(..(at - s) as usize);
                return Some(p);
            }
        }
    }

    /// Up to `max` contiguous ranges [start, end) held, the most recently changed first.
    pub fn ranges(&self, max: usize) -> Vec<(u64, u64)> {
        let mut all: Vec<(u64, u64)> = Vec::new();
        for (&s, p) in &self.pieces {
            let e = s + p.len() as u64;
            match all.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => all.push((s, e)),
            }
        }
        if let Some(li) = self.last_insert
            && let Some(i) = all.iter().position(|&(s, e)| s <= li && li < e)
        {
            let r = all.remove(i);
            all.insert(0, r);
        }
        all.truncate(max);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_and_duplicates_are_trimmed() {
        let mut r = Reassembly::new(1000, 10);
        assert_eq!(r.insert(10, b"abcd"), Inserted::Stored);
        assert_eq!(r.insert(12, b"cd"), Inserted::Duplicate);
        assert_eq!(r.insert(8, b"xyabcdef"), Inserted::Stored); // fills 8..10 and 14..16
        assert_eq!(r.bytes(), 8);
        assert_eq!(r.ranges(4), vec![(8, 16)]);
        let mut out = Vec::new();
        while let Some(p) = r.pop(8 + out.len() as u64) {
            out.extend(p);
        }
        assert_eq!(out, b"xyabcdef");
        assert!(r.is_empty());
    }

    #[test]
    fn bounds_drop_new_pieces() {
        let mut r = Reassembly::new(6, 2);
        assert_eq!(r.insert(0, b"aa"), Inserted::Stored);
        assert_eq!(r.insert(10, b"bb"), Inserted::Stored);
        assert_eq!(r.insert(20, b"cc"), Inserted::Full); // too many pieces
        assert_eq!(r.insert(2, b"12345"), Inserted::Full); // too many bytes
        assert_eq!(r.ranges(1), vec![(10, 12)]); // latest first
    }

    #[test]
    fn pop_trims_a_piece_that_straddles_the_point() {
        let mut r = Reassembly::new(100, 10);
        r.insert(5, b"hello");
        r.insert(1, b"x");
        assert_eq!(r.pop(7).unwrap(), b"llo");
        assert!(r.is_empty());
    }
}
