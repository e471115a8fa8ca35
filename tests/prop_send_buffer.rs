//! Property test of the send buffer (`tcp::send_buffer`, RFC 9293 §3.3.1: the bytes from
//! SND.UNA on) against a `VecDeque` model: writes never exceed the capacity, acknowledged bytes
//! leave from the front, and copying out at any offset (a retransmission) gives the model's bytes.

use std::collections::VecDeque;

use proptest::prelude::*;
use tunstack::tcp::send_buffer::SendBuffer;

#[derive(Clone, Debug)]
enum Op {
    Write(usize),
    Ack(usize),
    CopyOut { offset: usize, len: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..5000).prop_map(Op::Write),
        (0usize..6000).prop_map(Op::Ack),
        (0usize..9000, 0usize..3000).prop_map(|(offset, len)| Op::CopyOut { offset, len }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 128 } else { 1024 }))]

    #[test]
    fn send_buffer_matches_a_deque(cap in 0usize..8192, ops in proptest::collection::vec(op(), 1..80)) {
        let mut b = SendBuffer::new(cap);
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut next_byte = 0u64;
        for op in ops {
            match op {
                Op::Write(n) => {
                    let data: Vec<u8> = (0..n as u64).map(|i| ((next_byte + i) % 251) as u8).collect();
                    let took = b.write(&data);
                    prop_assert_eq!(took, n.min(cap - model.len()));
                    model.extend(&data[..took]);
                    next_byte += took as u64;
                }
                Op::Ack(n) => {
                    b.ack(n);
                    let n = n.min(model.len());
                    model.drain(..n);
                }
                Op::CopyOut { offset, len } => {
                    let mut dst = vec![0xeeu8; len];
                    let n = b.copy_out(offset, &mut dst);
                    let want: Vec<u8> = model.iter().skip(offset).take(len).copied().collect();
                    prop_assert_eq!(n, want.len());
                    prop_assert_eq!(&dst[..n], &want[..]);
                    prop_assert!(dst[n..].iter().all(|&x| x == 0xee), "wrote past the count");
                }
            }
            prop_assert_eq!(b.len(), model.len());
            prop_assert_eq!(b.is_empty(), model.is_empty());
            prop_assert_eq!(b.free(), cap - model.len());
            prop_assert!(b.len() <= cap);
        }
    }
}
