//! Property test of the sender's SACK scoreboard (`tcp::sack`, RFC 2018 §4–5) against a
//! set-of-offsets model, across the sequence-number wrap: only valid blocks (SND.UNA < left <
//! right ≤ SND.MAX) are recorded, overlapping and touching blocks merge, `advance` forgets what
//! SND.UNA covers, `sacked_bytes` is the size of the set, and `next_hole` finds exactly the
//! model's first un-SACKed gap below the highest SACKed byte.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tunstack::tcp::sack::Scoreboard;
use tunstack::tcp::seq::SeqNum;

#[derive(Clone, Debug)]
enum Op {
    /// A block [left, right) as offsets from the ISS-like base.
    Add(u32, u32),
    /// SND.UNA moves forward by this much.
    Advance(u32),
    /// Ask for the next hole from SND.UNA + this.
    Hole(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..3000, 1u32..600).prop_map(|(l, n)| Op::Add(l, l + n)),
        1 => (0u32..500).prop_map(Op::Advance),
        2 => (0u32..3000).prop_map(Op::Hole),
    ]
}

/// The model's first gap at or after `from` below its highest element: (start, length).
fn model_hole(set: &BTreeSet<u32>, from: u32) -> Option<(u32, u32)> {
    let max = *set.iter().next_back()?;
    let mut at = from;
    while at <= max {
        if !set.contains(&at) {
            let end = set.range(at..).next().copied()?;
            return Some((at, end - at));
        }
        at += 1;
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 128 } else { 1024 }))]

    #[test]
    fn scoreboard_matches_a_set_of_offsets(
        base in any::<u32>(),
        ops in proptest::collection::vec(op(), 1..12),
    ) {
        let b = SeqNum(base);
        let snd_max = 2500u32;
        let mut una = 0u32;
        let mut sb = Scoreboard::default();
        let mut model: BTreeSet<u32> = BTreeSet::new();
        for op in ops {
            match op {
                Op::Add(l, r) => {
                    sb.add(b.wrapping_add(l), b.wrapping_add(r), b.wrapping_add(una), b.wrapping_add(snd_max));
                    if una < l && l < r && r <= snd_max {
                        model.extend(l..r);
                    }
                }
                Op::Advance(n) => {
                    una = (una + n).min(snd_max);
                    sb.advance(b.wrapping_add(una));
                    model = model.split_off(&una);
                }
                Op::Hole(from) => {
                    let from = una + from;
                    let got = sb.next_hole(b.wrapping_add(from)).map(|(s, n)| (s.since(b), n));
                    prop_assert_eq!(got, model_hole(&model, from), "next_hole({})", from);
                }
            }
            prop_assert_eq!(sb.sacked_bytes() as usize, model.len());
            prop_assert_eq!(sb.is_empty(), model.is_empty());
            prop_assert_eq!(
                sb.next_hole(b.wrapping_add(una)).map(|(s, n)| (s.since(b), n)),
                model_hole(&model, una)
            );
        }
    }
}
