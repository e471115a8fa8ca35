//! The sender's SACK scoreboard (RFC 2018 §5, simplified from RFC 6675 §4).
//!
//! Holds the ranges above SND.UNA that the receiver reported holding, sorted and merged. During
//! fast recovery the connection asks for the next hole (a gap below the highest SACKed byte that
//! it has not retransmitted yet) and resends it, one segment per arriving ACK, instead of one
//! per round trip as plain NewReno does. After an RTO the scoreboard is cleared (RFC 2018 §5:
//! the receiver may renege). Not implemented: RFC 6675's pipe estimate and DupThresh by SACK.
//! Read next: `timer.rs`.

use super::seq::SeqNum;

/// Most ranges kept (a peer cannot make us track an unbounded number).
const MAX_BLOCKS: usize = 32;

#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    /// Disjoint [left, right) ranges, ascending.
    blocks: Vec<(SeqNum, SeqNum)>,
}

impl Scoreboard {
    pub fn clear(&mut self) {
        self.blocks.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Record a SACK block if it lies within (SND.UNA, SND.MAX] (RFC 2018 §4 validity).
    pub fn add(&mut self, left: SeqNum, right: SeqNum, snd_una: SeqNum, snd_max: SeqNum) {
        if !(snd_una.lt(left) && left.lt(right) && right.le(snd_max)) {
            return;
        }
        let (mut l, mut r) = (left, right);
        // Merge with every overlapping or touching range.
        self.blocks.retain(|&(bl, br)| {
            if br.lt(l) || r.lt(bl) {
                true
            } else {
                l = l.min(bl);
                r = r.max(br);
                false
            }
        });
        let at = self
            .blocks
            .iter()
            .position(|&(bl, _)| r.lt(bl))
            .unwrap_or(self.blocks.len());
        if self.blocks.len() < MAX_BLOCKS {
            self.blocks.insert(at, (l, r));
        }
    }

    /// SND.UNA moved: forget what it covers.
    pub fn advance(&mut self, snd_una: SeqNum) {
        self.blocks.retain(|&(_, r)| r.gt(snd_una));
        if let Some(first) = self.blocks.first_mut()
            && first.0.lt(snd_una)
        {
            first.0 = snd_una;
        }
    }

    /// The first un-SACKed gap at or after `from` that lies below the highest SACKed byte:
    /// (start, length up to the next SACKed range).
    pub fn next_hole(&self, from: SeqNum) -> Option<(SeqNum, u32)> {
        let mut at = from;
        for &(l, r) in &self.blocks {
            if at.lt(l) {
                return Some((at, l.since(at)));
            }
            at = at.max(r);
        }
        None
    }

    /// Bytes reported held above SND.UNA.
    pub fn sacked_bytes(&self) -> u32 {
        self.blocks.iter().map(|&(l, r)| r.since(l)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_merge_and_holes_are_found() {
        let mut sb = Scoreboard::default();
        let (una, max) = (SeqNum(1000), SeqNum(9000));
        sb.add(SeqNum(3000), SeqNum(4000), una, max);
        sb.add(SeqNum(6000), SeqNum(7000), una, max);
        sb.add(SeqNum(3500), SeqNum(5000), una, max); // overlaps the first
        sb.add(SeqNum(500), SeqNum(900), una, max); // below SND.UNA: ignored
        sb.add(SeqNum(8000), SeqNum(9500), una, max); // beyond SND.MAX: ignored
        assert_eq!(sb.sacked_bytes(), 3000);
        assert_eq!(sb.next_hole(una), Some((SeqNum(1000), 2000)));
        assert_eq!(sb.next_hole(SeqNum(3200)), Some((SeqNum(5000), 1000)));
        assert_eq!(sb.next_hole(SeqNum(6500)), None);
        sb.advance(SeqNum(3600));
        assert_eq!(sb.next_hole(SeqNum(3600)), Some((SeqNum(5000), 1000)));
        sb.advance(SeqNum(7000));
        assert!(sb.is_empty());
    }

    #[test]
    fn blocks_across_the_wrap() {
        let mut sb = Scoreboard::default();
        let una = SeqNum(u32::MAX - 100);
        sb.add(SeqNum(50), SeqNum(150), una, SeqNum(1000));
        assert_eq!(sb.next_hole(una), Some((una, 151)));
    }
}
