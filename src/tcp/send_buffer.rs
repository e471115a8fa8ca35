//! The send buffer: bytes the application queued that the peer has not yet acknowledged
//! (RFC 9293 §3.3.1: the region from SND.UNA onwards of the send sequence space).
//!
//! Byte 0 of the buffer is the oldest unacknowledged data byte. Sending copies bytes out by
//! offset and leaves them in place; only an ACK (`ack`) removes them, so retransmission just
//! copies the same offset again. Bounded by the configured capacity. Read next: `reassembly.rs`.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct SendBuffer {
    data: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    pub fn new(capacity: usize) -> Self {
        SendBuffer {
            data: VecDeque::new(),
            capacity,
        }
    }

    /// Queue as much of `bytes` as fits; returns how much was taken.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.free());
        self.data.extend(&bytes[..n]);
        n
    }

    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.data.len())
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Drop `n` acknowledged bytes from the front.
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
    }

    /// Copy up to `dst.len()` bytes starting at `offset`; returns the count copied.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> usize {
        if offset >= self.data.len() {
            return 0;
        }
        let n = dst.len().min(self.data.len() - offset);
        let (a, b) = self.data.as_slices();
        // The range [offset, offset + n) may straddle the ring's two halves.
        let mut done = 0;
        if offset < a.len() {
            let k = n.min(a.len() - offset);
            dst[..k].copy_from_slice(&a[offset..offset + k]);
            done = k;
        }
        if done < n {
            let from = offset + done - a.len();
            dst[done..n].copy_from_slice(&b[from..from + n - done]);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_is_bounded_and_ack_frees_space() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.write(b"hello world"), 8);
        assert_eq!(b.free(), 0);
        let mut out = [0u8; 4];
        assert_eq!(b.copy_out(6, &mut out), 2);
        assert_eq!(&out[..2], b"wo");
        b.ack(6);
        assert_eq!(b.len(), 2);
        assert_eq!(b.write(b"xyz"), 3);
        assert_eq!(b.copy_out(0, &mut out), 4);
        assert_eq!(&out, b"woxy");
        assert_eq!(b.copy_out(9, &mut out), 0);
    }
}
