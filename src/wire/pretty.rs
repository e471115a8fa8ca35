//! One-line, tcpdump-style descriptions of IPv4 packets, for logs and test failure messages.
//!
//! `summary(bytes)` never fails: a packet it cannot read is described as what is wrong with it.
//! Examples:
//! `198.18.0.1 > 198.18.0.2: ICMP echo request, id 7, seq 1, length 64`
//! `198.18.0.2.5353 > 198.18.0.1.53: UDP, length 5`
//! `198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 64240, length 0`
//! `198.18.0.1 > 198.18.0.2: frag id 9 offset 1480+1480 (MF) proto 17`

use std::fmt::Write;

use super::icmpv4;
use super::ipv4::{Ipv4Packet, PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// Describe one IPv4 packet in one line.
pub fn summary(bytes: &[u8]) -> String {
    let p = match Ipv4Packet::new_checked(bytes) {
        Ok(p) => p,
        Err(e) => return format!("[not IPv4: {e}, {} bytes]", bytes.len()),
    };
    let (src, dst) = (p.src(), p.dst());
    if p.is_fragment() && p.frag_offset() != 0 {
        return format!(
            "{src} > {dst}: frag id {} offset {}+{}{} proto {}",
            p.id(),
            p.frag_offset(),
            p.payload().len(),
            if p.more_frags() { " (MF)" } else { "" },
            p.protocol()
        );
    }
    let frag = if p.more_frags() {
        format!(" [frag id {} first {} (MF)]", p.id(), p.payload().len())
    } else {
        String::new()
    };
    let d = p.payload();
    let body = match p.protocol() {
        PROTO_ICMP => icmp(d).map(|s| format!("{src} > {dst}: {s}")),
        PROTO_UDP => ports(d).map(|(sp, dp)| {
            let len = u16::from_be_bytes([d[4], d[5]]).saturating_sub(8);
            format!("{src}.{sp} > {dst}.{dp}: UDP, length {len}")
        }),
        PROTO_TCP => tcp(d).map(|(sp, dp, s)| format!("{src}.{sp} > {dst}.{dp}: {s}")),
        other => Some(format!("{src} > {dst}: ip-proto-{other} {}", d.len())),
    };
    let body = body.unwrap_or_else(|| {
        format!(
            "{src} > {dst}: [truncated proto {}, {} bytes]",
            p.protocol(),
            d.len()
        )
    });
    body + &frag
}

fn ports(d: &[u8]) -> Option<(u16, u16)> {
    let h = d.get(..8)?;
    Some((
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_be_bytes([h[2], h[3]]),
    ))
}

fn icmp(d: &[u8]) -> Option<String> {
    let h = d.get(..8)?;
    let (id, seq) = (
        u16::from_be_bytes([h[4], h[5]]),
        u16::from_be_bytes([h[6], h[7]]),
    );
    let len = d.len() - 8;
    Some(match (h[0], h[1]) {
        (icmpv4::ECHO_REQUEST, _) => format!("ICMP echo request, id {id}, seq {seq}, length {len}"),
        (icmpv4::ECHO_REPLY, _) => format!("ICMP echo reply, id {id}, seq {seq}, length {len}"),
        (icmpv4::DEST_UNREACHABLE, c) => {
            let what = match c {
                icmpv4::CODE_NET_UNREACHABLE => "net",
                icmpv4::CODE_HOST_UNREACHABLE => "host",
                icmpv4::CODE_PROTOCOL_UNREACHABLE => "protocol",
                icmpv4::CODE_PORT_UNREACHABLE => "port",
                4 => "need to frag",
                _ => "other",
            };
            format!("ICMP {what} unreachable (code {c}), length {len}")
        }
        (icmpv4::TIME_EXCEEDED, 0) => format!("ICMP time exceeded in-transit, length {len}"),
        (icmpv4::TIME_EXCEEDED, _) => format!("ICMP ip reassembly time exceeded, length {len}"),
        (t, c) => format!("ICMP type {t} code {c}, length {len}"),
    })
}

fn tcp(d: &[u8]) -> Option<(u16, u16, String)> {
    let h = d.get(..20)?;
    let (sp, dp) = ports(d)?;
    let seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let hlen = usize::from(h[12] >> 4) * 4;
    let flags = h[13];
    let win = u16::from_be_bytes([h[14], h[15]]);
    let len = d.len().saturating_sub(hlen);
    let mut f = String::new();
    for (bit, c) in [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
    ] {
        if flags & bit != 0 {
            f.push(c);
        }
    }
    if flags & 0x10 != 0 {
        f.push('.');
    }
    let mut s = format!("Flags [{f}], seq {seq}");
    if flags & 0x10 != 0 {
        let _ = write!(s, ", ack {ack}");
    }
    let _ = write!(s, ", win {win}, length {len}");
    Some((sp, dp, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Repr;
    use crate::wire::udp;
    use std::net::Ipv4Addr;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn describes_echo_udp_tcp_and_fragments() {
        let echo = icmpv4::build_echo(icmpv4::ECHO_REQUEST, 7, 1, &[0; 64]);
        let pkt = Ipv4Repr::new(A, B, PROTO_ICMP, 0).build(&echo);
        assert_eq!(
            summary(&pkt),
            "198.18.0.1 > 198.18.0.2: ICMP echo request, id 7, seq 1, length 64"
        );
        let u = udp::build(B, A, 5353, 53, b"hello");
        let pkt = Ipv4Repr::new(B, A, PROTO_UDP, 0).build(&u);
        assert_eq!(
            summary(&pkt),
            "198.18.0.2.5353 > 198.18.0.1.53: UDP, length 5"
        );
        let mut syn = [0u8; 20];
        syn[0..2].copy_from_slice(&40000u16.to_be_bytes());
        syn[2..4].copy_from_slice(&80u16.to_be_bytes());
        syn[4..8].copy_from_slice(&1000u32.to_be_bytes());
        syn[12] = 5 << 4;
        syn[13] = 0x02;
        syn[14..16].copy_from_slice(&64240u16.to_be_bytes());
        let pkt = Ipv4Repr::new(A, B, PROTO_TCP, 0).build(&syn);
        assert_eq!(
            summary(&pkt),
            "198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 64240, length 0"
        );
        let frags = Ipv4Repr::new(A, B, PROTO_UDP, 0).fragment(&[0; 3000], 1500);
        assert!(summary(&frags[1]).contains("frag id 0 offset 1480+1480 (MF) proto 17"));
        assert_eq!(
            summary(&[0x45, 0]),
            "[not IPv4: shorter than its header, 2 bytes]"
        );
    }
}
