//! Two stacks in one process joined by an in-memory seqpacket link (no root, no network):
//! `a` is 198.18.0.1, `b` is 198.18.0.2.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use tunstack::api::Net;
use tunstack::link::ImpairConfig;
use tunstack::runtime::{Link, Runtime, RuntimeConfig};
use tunstack::{Duration, StackConfig};

pub const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

pub struct Pair {
    pub a: Runtime,
    pub b: Runtime,
}

impl Pair {
    pub fn new() -> Pair {
        Self::with(None)
    }

    /// Both directions through the emulator (seeded).
    pub fn with(impair: Option<ImpairConfig>) -> Pair {
        let (la, lb) = Link::pair().expect("link pair");
        let cfg = |addr, seed| {
            let mut stack = StackConfig {
                addr,
                seed,
                ..StackConfig::default()
            };
            stack.tcp.msl = Duration::from_millis(500);
            RuntimeConfig {
                stack,
                impair: impair.clone(),
                impair_seed: seed,
                ..RuntimeConfig::default()
            }
        };
        Pair {
            a: Runtime::start(la, cfg(A, 1)).expect("start a"),
            b: Runtime::start(lb, cfg(B, 2)).expect("start b"),
        }
    }

    pub fn nets(&self) -> (Net, Net) {
        (self.a.net(), self.b.net())
    }
}
