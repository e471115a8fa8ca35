//! Property test of TCP out-of-order reassembly (`tcp::reassembly`) against a set-of-offsets
//! model (`tools/fuzz/src/model.rs`, shared with the `tcp_reassembly` fuzz target): bytes out are
//! exactly the bytes in, no overlap is stored, both memory bounds hold, `Full` loses nothing held.

#[path = "../tools/fuzz/src/model.rs"]
mod model;

use model::{Op, ReassemblyModel};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20_000, 1usize..3000).prop_map(|(at, len)| Op::Insert { at, len }),
        1 => (0u64..20_000).prop_map(|at| Op::Pop { at }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 32 } else { 512 }))]

    #[test]
    fn reassembly_matches_the_model(
        ops in proptest::collection::vec(op(), 1..60),
        max_bytes in 1000usize..40_000,
        max_pieces in 1usize..20,
    ) {
        let mut m = ReassemblyModel::new(max_bytes, max_pieces);
        for op in ops {
            m.apply(op);
        }
    }

    /// A receiver popping at RCV.NXT gets the whole stream in order, whatever the arrival order,
    /// as long as no bound was hit.
    #[test]
    fn any_arrival_order_delivers_the_stream(
        cuts in proptest::collection::vec(1usize..500, 1..30),
        perm_seed in any::<u64>(),
    ) {
        let mut pieces = Vec::new();
        let mut at = 0u64;
        for len in cuts {
            pieces.push((at, len));
            at += len as u64;
        }
        let total = at;
        // A seeded shuffle of the pieces.
        let mut rng = tunstack::rng::Rng::new(perm_seed);
        for k in (1..pieces.len()).rev() {
            pieces.swap(k, rng.below(k as u64 + 1) as usize);
        }
        let mut m = ReassemblyModel::new(usize::MAX, usize::MAX);
        let mut rcv_nxt = 0u64;
        for (at, len) in pieces {
            m.apply(Op::Insert { at, len });
            loop {
                let before = m.popped;
                m.apply(Op::Pop { at: rcv_nxt });
                if m.popped == before {
                    break;
                }
                rcv_nxt += m.popped - before;
            }
        }
        prop_assert_eq!(rcv_nxt, total);
        prop_assert!(m.r.is_empty());
        prop_assert_eq!(m.fulls, 0);
    }
}
