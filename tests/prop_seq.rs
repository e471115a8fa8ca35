//! Property tests of sequence-number arithmetic (`tcp::seq`, RFC 9293 §3.4): comparisons are
//! modulo 2^32 and behave like integer comparisons for numbers less than 2^31 apart, across wrap.

use proptest::prelude::*;
use tunstack::tcp::seq::SeqNum;

/// Two numbers at most 2^31 - 1 apart: `a` anywhere, `b = a + d`.
fn near() -> impl Strategy<Value = (SeqNum, i32)> {
    (any::<u32>(), -(i32::MAX)..=i32::MAX).prop_map(|(a, d)| (SeqNum(a), d))
}

proptest! {
    #[test]
    fn add_then_sub_is_identity(a in any::<u32>(), n in any::<u32>()) {
        let s = SeqNum(a);
        prop_assert_eq!(s.wrapping_add(n).wrapping_sub(n), s);
        prop_assert_eq!(s.wrapping_add(n).diff(s), n as i32);
    }

    #[test]
    fn comparisons_match_the_signed_distance((a, d) in near()) {
        let b = a.wrapping_add(d as u32);
        prop_assert_eq!(b.diff(a), d);
        prop_assert_eq!(a.lt(b), d > 0);
        prop_assert_eq!(a.le(b), d >= 0);
        prop_assert_eq!(a.gt(b), d < 0);
        prop_assert_eq!(a.ge(b), d <= 0);
        // Exactly one of <, ==, > holds; lt and gt are mirror images.
        prop_assert_eq!(a.lt(b) as u8 + (a == b) as u8 + a.gt(b) as u8, 1);
        prop_assert_eq!(a.lt(b), b.gt(a));
        prop_assert_eq!(b.since(a), d.max(0) as u32);
    }

    #[test]
    fn max_min_pick_one_of_the_two((a, d) in near()) {
        let b = a.wrapping_add(d as u32);
        let (hi, lo) = (a.max(b), a.min(b));
        prop_assert!(hi == a || hi == b);
        prop_assert!(lo == a || lo == b);
        prop_assert!(hi.ge(lo));
        prop_assert_eq!(hi.diff(lo), d.abs());
    }

    #[test]
    fn comparison_is_transitive_within_half_the_space(a in any::<u32>(), x in 0u32..1 << 30, y in 0u32..1 << 30) {
        let a = SeqNum(a);
        let b = a.wrapping_add(x);
        let c = b.wrapping_add(y);
        prop_assert!(a.le(b) && b.le(c) && a.le(c));
        prop_assert_eq!(c.since(a), x + y);
    }

    #[test]
    fn window_test_is_start_le_s_lt_start_plus_len(start in any::<u32>(), off in any::<u32>(), len in 0u32..1 << 31) {
        let start = SeqNum(start);
        let s = start.wrapping_add(off);
        prop_assert_eq!(s.in_window(start, len), off < len);
        if len > 0 {
            prop_assert!(start.in_window(start, len));
            prop_assert!(start.wrapping_add(len - 1).in_window(start, len));
        }
        prop_assert!(!start.wrapping_add(len).in_window(start, len));
    }
}
