//! Property test of the sender's SACK scoreboard (`tcp::sack`, RFC 2018 §4–5, RFC 6675 §4)
//! against a set-of-offsets model, across the sequence-number wrap: 25 segments of 100 bytes are
//! in flight; only valid blocks (SND.UNA < right ≤ SND.MAX, left clamped to SND.UNA) are
//! recorded, byte-exactly (block edges split segments); overlapping blocks count once; a
//! cumulative ACK forgets what SND.UNA covers; `sacked_bytes` is the size of the set and
//! `pipe` (SetPipe, nothing lost) is the rest of the flight.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tunstack::tcp::sack::{Delivery, Scoreboard};
use tunstack::tcp::seq::SeqNum;
use tunstack::time::{Duration, Instant};

#[derive(Clone, Debug)]
enum Op {
    /// A SACK block [left, right) as offsets from the base.
    Add(u32, u32),
    /// SND.UNA moves forward by this much.
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..3000, 1u32..600).prop_map(|(l, n)| Op::Add(l, l + n)),
        1 => (0u32..500).prop_map(Op::Advance),
    ]
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
        for i in 0..25u32 {
            sb.on_transmit(b.wrapping_add(i * 100), b.wrapping_add(i * 100 + 100), Instant::ZERO);
        }
        let mut model: BTreeSet<u32> = BTreeSet::new();
        for op in ops {
            let mut d = Delivery::default();
            match op {
                Op::Add(l, r) => {
                    // One block per ACK (a first block inside a second would be a D-SACK).
                    let block = [Some((b.wrapping_add(l), b.wrapping_add(r)))];
                    sb.on_sack_blocks(&block, b.wrapping_add(una), b.wrapping_add(snd_max),
                        Instant::ZERO, Duration::ZERO, &mut d);
                    if una < r && l < r && r <= snd_max {
                        model.extend(l.max(una)..r);
                    } else if r <= una {
                        prop_assert!(d.dsack, "a block below SND.UNA is a D-SACK");
                    }
                }
                Op::Advance(n) => {
                    una = (una + n).min(snd_max);
                    sb.on_cum_ack(b.wrapping_add(una), Instant::ZERO, Duration::ZERO, &mut d);
                    model = model.split_off(&una);
                }
            }
            prop_assert_eq!(sb.sacked_bytes() as usize, model.len());
            prop_assert_eq!(sb.pipe() as usize, (snd_max - una) as usize - model.len());
            prop_assert_eq!(sb.is_empty(), una == snd_max);
            prop_assert_eq!(sb.reneged(), model.contains(&una));
            prop_assert_eq!(sb.next_lost(), None);
        }
    }
}
