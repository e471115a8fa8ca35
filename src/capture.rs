//! Packet capture for Wireshark/tshark.
//!
//! SKELETON: the interface is fixed; the writer is being written.

use std::io;
use std::path::Path;

/// Which way a captured packet went, seen from our stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the link into our stack.
    In,
    /// From our stack onto the link.
    Out,
}

/// Writes raw IPv4 packets to a capture file, size-bounded, flushed on `flush` and on drop.
pub struct Capture {
    _private: (),
}

impl Capture {
    /// Create (truncate) `path`. Stops recording (and counts what it skipped) past `max_bytes`.
    pub fn create(path: &Path, max_bytes: u64) -> io::Result<Capture> {
        let _ = (path, max_bytes);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "capture not written yet",
        ))
    }

    /// Record one packet. `timestamp_micros` is wall-clock time since the UNIX epoch for a real TUN,
    /// or virtual time in the simulator.
    pub fn write(
        &mut self,
        timestamp_micros: u64,
        dir: Direction,
        packet: &[u8],
    ) -> io::Result<()> {
        let _ = (timestamp_micros, dir, packet);
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
