//! Packet capture for Wireshark/tshark: pcapng, written by hand.
//!
//! File layout (pcapng, draft-ietf-opsawg-pcapng): one Section Header Block, one Interface
//! Description Block (LINKTYPE_RAW = 101: raw IPv4, no link header; if_tsresol = 6: microseconds),
//! then one Enhanced Packet Block per packet. Each EPB carries `epb_flags` with the direction
//! (inbound = into our stack, outbound = from it) and, optionally, an `opt_comment` that Wireshark
//! shows as `frame.comment` (e.g. what the stack did with the packet).
//! All blocks are little-endian; the byte-order magic tells readers so.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::link::sim::{Dir, Event, TraceEntry};

/// Which way a captured packet went, seen from our stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the link into our stack.
    In,
    /// From our stack onto the link.
    Out,
}

// Block types and option codes (pcapng draft §4.1, §4.2, §4.3; options §3.5).
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 0x0000_0001;
const BT_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
/// epb_flags bits 0-1: 01 = inbound, 10 = outbound.
const EPB_INBOUND: u32 = 0b01;
const EPB_OUTBOUND: u32 = 0b10;
/// LINKTYPE_RAW: the packet starts with the IPv4 header.
pub const LINKTYPE_RAW: u16 = 101;
/// Largest packet we record (an IPv4 datagram is at most 65535 bytes).
const SNAPLEN: u32 = 65535;

/// Writes raw IPv4 packets to a capture file, size-bounded, flushed on `flush` and on drop.
pub struct Capture {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Bytes written so far (headers included).
    written: u64,
    /// 0 = no limit.
    max_bytes: u64,
    packets: u64,
    skipped: u64,
    /// Reused block buffer: no allocation per packet.
    block: Vec<u8>,
}

impl Capture {
    /// Create (truncate) `path`. Stops recording (and counts what it skipped) past `max_bytes`
    /// (0 = no limit).
    pub fn create(path: &Path, max_bytes: u64) -> io::Result<Capture> {
        let file = File::create(path)?;
        Capture::from_writer(Box::new(file), max_bytes)
    }

    /// Capture into any writer (a pipe to Wireshark, a `Vec` in tests).
    pub fn from_writer(out: Box<dyn Write + Send>, max_bytes: u64) -> io::Result<Capture> {
        let mut c = Capture {
            out: BufWriter::with_capacity(64 * 1024, out),
            written: 0,
            max_bytes,
            packets: 0,
            skipped: 0,
            block: Vec::with_capacity(2048),
        };
        c.write_headers()?;
        Ok(c)
    }

    fn write_headers(&mut self) -> io::Result<()> {
        let mut b = Vec::with_capacity(128);
        // Section Header Block (§4.1): section length -1 = unknown.
        begin_block(&mut b, BT_SHB);
        put_u32(&mut b, BYTE_ORDER_MAGIC);
        put_u16(&mut b, 1);
        put_u16(&mut b, 0);
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        put_option(&mut b, SHB_USERAPPL, b"tunstack");
        put_u16(&mut b, OPT_ENDOFOPT);
        put_u16(&mut b, 0);
        end_block(&mut b, 0);
        // Interface Description Block (§4.2).
        let idb = b.len();
        begin_block(&mut b, BT_IDB);
        put_u16(&mut b, LINKTYPE_RAW);
        put_u16(&mut b, 0);
        put_u32(&mut b, SNAPLEN);
        put_option(&mut b, IF_NAME, b"tunstack");
        put_option(&mut b, IF_TSRESOL, &[6]);
        put_u16(&mut b, OPT_ENDOFOPT);
        put_u16(&mut b, 0);
        end_block(&mut b, idb);
        self.out.write_all(&b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Record one packet. `timestamp_micros` is wall-clock time since the UNIX epoch for a real TUN,
    /// or virtual time in the simulator.
    pub fn write(
        &mut self,
        timestamp_micros: u64,
        dir: Direction,
        packet: &[u8],
    ) -> io::Result<()> {
        self.write_with_comment(timestamp_micros, dir, packet, None)
    }

    /// Record one packet with an optional comment (Wireshark: `frame.comment`).
    pub fn write_with_comment(
        &mut self,
        timestamp_micros: u64,
        dir: Direction,
        packet: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let caplen = packet.len().min(SNAPLEN as usize);
        let data = packet.get(..caplen).unwrap_or(packet);
        let mut b = std::mem::take(&mut self.block);
        b.clear();
        // Enhanced Packet Block (§4.3).
        begin_block(&mut b, BT_EPB);
        put_u32(&mut b, 0);
        put_u32(&mut b, (timestamp_micros >> 32) as u32);
        put_u32(&mut b, timestamp_micros as u32);
        put_u32(&mut b, caplen as u32);
        put_u32(&mut b, u32::try_from(packet.len()).unwrap_or(u32::MAX));
        b.extend_from_slice(data);
        pad4(&mut b);
        let flags = match dir {
            Direction::In => EPB_INBOUND,
            Direction::Out => EPB_OUTBOUND,
        };
        put_option(&mut b, EPB_FLAGS, &flags.to_le_bytes());
        if let Some(c) = comment.filter(|c| !c.is_empty()) {
            // Option length is 16 bits; longer comments are cut at a char boundary.
            let mut end = c.len().min(0xFFF0);
            while !c.is_char_boundary(end) {
                end -= 1;
            }
            put_option(&mut b, OPT_COMMENT, &c.as_bytes()[..end]);
        }
        put_u16(&mut b, OPT_ENDOFOPT);
        put_u16(&mut b, 0);
        end_block(&mut b, 0);
        let res = if self.max_bytes != 0 && self.written + b.len() as u64 > self.max_bytes {
            self.skipped += 1;
            Ok(())
        } else {
            self.written += b.len() as u64;
            self.packets += 1;
            self.out.write_all(&b)
        };
        self.block = b;
        res
    }

    /// Record a simulator trace as endpoint A saw it: what A sent is outbound, what the link
    /// delivered to A is inbound (timestamps in virtual time). Returns the packets written.
    pub fn write_sim_trace(&mut self, trace: &[TraceEntry]) -> io::Result<u64> {
        let mut n = 0;
        for e in trace {
            let dir = match (e.dir, e.event) {
                (Dir::AtoB, Event::Sent) => Direction::Out,
                (Dir::BtoA, Event::Delivered) => Direction::In,
                _ => continue,
            };
            self.write(e.time.total_micros(), dir, &e.bytes)?;
            n += 1;
        }
        Ok(n)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Packets not recorded because the file reached `max_bytes`.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Packets recorded.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes in the file so far (headers included).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn pad4(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

/// An option (§3.5): code, length, value padded to 32 bits.
fn put_option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    put_u16(b, code);
    put_u16(b, value.len() as u16);
    b.extend_from_slice(value);
    pad4(b);
}

/// Block type and a placeholder for the total length.
fn begin_block(b: &mut Vec<u8>, block_type: u32) {
    put_u32(b, block_type);
    put_u32(b, 0);
}

/// Trailing total length, and the same value patched into the header of the block at `start`.
fn end_block(b: &mut Vec<u8>, start: usize) {
    let total = (b.len() - start + 4) as u32;
    put_u32(b, total);
    if let Some(slot) = b.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&total.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    }

    #[test]
    fn blocks_are_well_formed_and_lengths_match() {
        let sink = Shared::default();
        let mut c = Capture::from_writer(Box::new(sink.clone()), 0).unwrap();
        c.write(1, Direction::In, &[0x45, 1, 2]).unwrap();
        c.write_with_comment(2, Direction::Out, &[0x45; 21], Some("hello"))
            .unwrap();
        drop(c);
        let b = sink.0.lock().unwrap().clone();
        // Walk the blocks: each leading length equals the trailing one and is a multiple of 4.
        let (mut off, mut types) = (0, vec![]);
        while off < b.len() {
            let len = u32_at(&b, off + 4) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(u32_at(&b, off + len - 4) as usize, len);
            types.push(u32_at(&b, off));
            off += len;
        }
        assert_eq!(off, b.len());
        assert_eq!(types, vec![BT_SHB, BT_IDB, BT_EPB, BT_EPB]);
        assert!(b.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn stops_at_max_bytes_and_counts_skipped() {
        let sink = Shared::default();
        let mut c = Capture::from_writer(Box::new(sink.clone()), 400).unwrap();
        for i in 0..10 {
            c.write(i, Direction::In, &[0x45; 100]).unwrap();
        }
        c.flush().unwrap();
        let len = sink.0.lock().unwrap().len() as u64;
        assert!(len <= 400, "{len}");
        assert!(c.packets() >= 1 && c.skipped() >= 1);
        assert_eq!(c.packets() + c.skipped(), 10);
        assert_eq!(c.bytes_written(), len);
    }
}
