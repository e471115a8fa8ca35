//! The in-memory `phy::Device` under smoltcp's `Interface` (Medium::Ip: whole IPv4 datagrams),
//! and the clock smoltcp's TCP timestamp option reads.

use std::cell::Cell;
use std::collections::VecDeque;

use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant as SmolInstant;

/// Packets the driver handed in (`rx`) and packets smoltcp emitted (`tx`).
#[derive(Debug, Default)]
pub(super) struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    pub mtu: usize,
}

impl phy::Device for QueueDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _t: SmolInstant) -> Option<(RxToken, TxToken<'_>)> {
        let buffer = self.rx.pop_front()?;
        Some((
            RxToken { buffer },
            TxToken {
                queue: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _t: SmolInstant) -> Option<TxToken<'_>> {
        Some(TxToken {
            queue: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // Compute and verify every checksum (bad ones must be dropped, as ours does).
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}

pub(super) struct RxToken {
    buffer: Vec<u8>,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buffer)
    }
}

pub(super) struct TxToken<'a> {
    queue: &'a mut VecDeque<Vec<u8>>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buffer = vec![0; len];
        let r = f(&mut buffer);
        self.queue.push_back(buffer);
        r
    }
}

thread_local! {
    /// Virtual milliseconds of the stack being driven on this thread. smoltcp's timestamp
    /// generator is a plain `fn() -> u32` with no context, so the driver sets this before
    /// every call into smoltcp (the simulator runs both stacks on one thread).
    static TS_CLOCK_MS: Cell<u64> = const { Cell::new(0) };
}

pub(super) fn set_ts_clock(ms: u64) {
    TS_CLOCK_MS.with(|c| c.set(ms));
}

/// RFC 7323 §5.4: TSval from a clock ticking once per millisecond.
pub(super) fn tsval() -> u32 {
    TS_CLOCK_MS.with(|c| c.get()) as u32
}
