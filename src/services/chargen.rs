//! Character generator (RFC 864): lines of 72 printable ASCII characters, each line starting
//! one character later in the 95-character cycle, written as fast as the peer takes them.

use std::io::{self, Write};

use crate::api::TcpStream;

/// RFC 864: the 95 printable ASCII characters (space to '~').
const FIRST: u8 = b' ';
const CYCLE: usize = 95;
const LINE: usize = 72;

/// Line `n` (0-based) of the RFC 864 pattern, with CRLF (74 bytes).
pub fn chargen_line(n: usize) -> [u8; LINE + 2] {
    let mut line = [0u8; LINE + 2];
    for (i, b) in line.iter_mut().take(LINE).enumerate() {
        *b = FIRST + ((n + i) % CYCLE) as u8;
    }
    line[LINE] = b'\r';
    line[LINE + 1] = b'\n';
    line
}

pub(super) fn serve(mut s: TcpStream) -> io::Result<()> {
    // The pattern repeats every 95 lines (95 × 74 bytes); hand the stack 9 cycles (63 KiB) per
    // write: each write is one round trip to the driver thread, and 7 KiB writes made that
    // hand-off the bottleneck (docs/benchmarks.md).
    let block: Vec<u8> = (0..CYCLE * 9).flat_map(chargen_line).collect();
    loop {
        s.write_all(&block)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_rfc_864() {
        let l0 = chargen_line(0);
        assert_eq!(&l0[..5], b" !\"#$");
        assert_eq!(&l0[72..], b"\r\n");
        let l1 = chargen_line(1);
        assert_eq!(l1[0], b'!');
        // Line 94 starts with '~' and wraps to ' ' on the next character.
        let l94 = chargen_line(94);
        assert_eq!(&l94[..2], b"~ ");
        assert_eq!(chargen_line(95), l0);
    }
}
