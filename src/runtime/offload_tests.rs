use super::*;
use crate::tcp::segment::{fill_checksum, fill_partial_checksum};
use crate::wire::checksum::{finish, pseudo_header, transport_checksum};
use std::net::Ipv4Addr;

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// An IPv4 packet (20-byte header, protocol 6) around a TCP header with `opts` option bytes
/// and `payload` bytes of data; TCP flags `flags`.
fn tcp_packet(opts: usize, payload: usize, flags: u8) -> Vec<u8> {
    let thl = 20 + opts;
    let mut p = vec![0u8; 20 + thl + payload];
    p[0] = 0x45;
    p[9] = 6;
    p[20 + 12] = ((thl / 4) as u8) << 4;
    p[20 + 13] = flags;
    for (i, b) in p.iter_mut().enumerate().skip(20 + thl) {
        *b = (i * 7) as u8;
    }
    p
}

#[test]
fn a_partial_checksum_is_completed() {
    // A 20-byte IPv4 header (contents irrelevant here) and a 30-byte TCP segment.
    let mut pkt = vec![0u8; 50];
    for (i, b) in pkt.iter_mut().enumerate().skip(20) {
        *b = i as u8;
    }
    // What the kernel leaves: the folded, uncomplemented pseudo-header sum in the field.
    let partial = !finish(pseudo_header(DST, SRC, 6, 30));
    pkt[20 + 16..20 + 18].copy_from_slice(&partial.to_be_bytes());
    complete_checksum(&mut pkt, 20, 16);
    assert_eq!(transport_checksum(DST, SRC, 6, &pkt[20..]), 0);
    // Out-of-range offsets leave the packet alone.
    let before = pkt.clone();
    complete_checksum(&mut pkt, 40, 16);
    assert_eq!(pkt, before);
}

#[test]
fn the_engines_partial_checksum_completes_to_the_full_one() {
    let mut full = tcp_packet(12, 3000, 0x10);
    let mut partial = full.clone();
    fill_checksum(SRC, DST, &mut full[20..]);
    fill_partial_checksum(SRC, DST, &mut partial[20..]);
    assert_ne!(full, partial);
    complete_checksum(&mut partial, 20, 16);
    assert_eq!(full, partial);
}

#[test]
fn a_super_segment_header_names_its_headers_and_segment_size() {
    let pkt = tcp_packet(12, 1448 * 3, 0x18);
    let h = VnetHdr::for_tcp_gso(&pkt, 1448).expect("a TCP packet");
    assert_eq!(h.flags, F_NEEDS_CSUM);
    assert_eq!(h.gso_type, GSO_TCPV4);
    assert_eq!((h.hdr_len, h.gso_size), (20 + 32, 1448));
    assert_eq!((h.csum_start, h.csum_offset), (20, 16));
    // What we write parses back the same (the kernel reads this layout).
    assert_eq!(VnetHdr::parse(&h.to_bytes(), pkt.len()), Ok(h));
    // CWR on the super-segment asks for the ECN variant (RFC 3168: first segment only).
    let cwr = tcp_packet(0, 100, 0x90);
    assert_eq!(
        VnetHdr::for_tcp_gso(&cwr, 50).map(|h| h.gso_type),
        Some(GSO_TCPV4 | GSO_ECN)
    );
}

#[test]
fn no_super_segment_header_for_what_is_not_ipv4_tcp() {
    let mut udp = tcp_packet(0, 100, 0);
    udp[9] = 17;
    assert_eq!(VnetHdr::for_tcp_gso(&udp, 50), None);
    let mut v6 = tcp_packet(0, 100, 0);
    v6[0] = 0x60;
    assert_eq!(VnetHdr::for_tcp_gso(&v6, 50), None);
    // Truncated headers, a TCP data offset past the end, a zero segment size.
    let pkt = tcp_packet(0, 100, 0);
    for cut in [0, 1, 10, 20, 32, 33] {
        assert_eq!(VnetHdr::for_tcp_gso(&pkt[..cut], 50), None, "cut at {cut}");
    }
    let mut long_doff = tcp_packet(0, 0, 0);
    long_doff[32] = 0xf0;
    assert_eq!(VnetHdr::for_tcp_gso(&long_doff, 50), None);
    assert_eq!(VnetHdr::for_tcp_gso(&pkt, 0), None);
}

#[test]
fn hostile_headers_are_counted_drops() {
    let hdr = |flags: u8, gso_type: u8, hdr_len: u16, gso_size: u16, start: u16, off: u16| {
        VnetHdr {
            flags,
            gso_type,
            hdr_len,
            gso_size,
            csum_start: start,
            csum_offset: off,
        }
        .to_bytes()
    };
    let len = 1000;
    let cases = [
        (hdr(0, GSO_TCPV4, 52, 0, 0, 0), VnetError::BadGso),
        (hdr(0, GSO_TCPV4, 1001, 500, 0, 0), VnetError::BadGso),
        (hdr(0, GSO_TCPV4 | GSO_ECN, 52, 0, 0, 0), VnetError::BadGso),
        (hdr(0, 3, 52, 500, 0, 0), VnetError::BadGsoType), // UDP (UFO): not asked for
        (hdr(0, 4, 52, 500, 0, 0), VnetError::BadGsoType), // TCPV6
        (hdr(0, 0x7f, 0, 0, 0, 0), VnetError::BadGsoType),
        (hdr(F_NEEDS_CSUM, 0, 0, 0, 990, 16), VnetError::BadCsum),
        (
            hdr(F_NEEDS_CSUM, 0, 0, 0, u16::MAX, u16::MAX),
            VnetError::BadCsum,
        ),
    ];
    for (h, want) in cases {
        assert_eq!(VnetHdr::parse(&h, len), Err(want), "{h:?}");
        let mut pkt = vec![0u8; len];
        assert!(matches!(complete(&h, &mut pkt, false), Rx::Dropped(e) if e == want));
    }
    assert_eq!(VnetHdr::parse(&[0u8; 9], len), Err(VnetError::Short));
    // Sane ones pass: a plain packet, a super-segment, a checksum ending at the last byte.
    assert!(VnetHdr::parse(&hdr(0, 0, 0, 0, 0, 0), len).is_ok());
    assert!(VnetHdr::parse(&hdr(F_NEEDS_CSUM, GSO_TCPV4, 52, 1448, 20, 16), len).is_ok());
    assert!(VnetHdr::parse(&hdr(F_NEEDS_CSUM, 0, 0, 0, 982, 16), len).is_ok());
}

#[test]
fn random_headers_never_panic() {
    let mut rng = crate::rng::Rng::new(7);
    let mut dropped = 0;
    for _ in 0..20_000 {
        let mut h = [0u8; VNET_HDR_LEN];
        rng.fill(&mut h);
        // Bias towards the values that matter.
        h[0] &= 3;
        h[1] = [0, 1, 0x81, h[1]][(rng.next_u32() % 4) as usize];
        let mut pkt = vec![0u8; (rng.next_u32() % 2000) as usize];
        rng.fill(&mut pkt);
        match complete(&h, &mut pkt, rng.next_u32() & 1 == 0) {
            Rx::Packet(len) | Rx::Trusted(len) => assert_eq!(len, pkt.len()),
            Rx::Dropped(_) => dropped += 1,
        }
        if pkt.len() > 20 && rng.next_u32() & 1 == 0 {
            pkt[0] = 0x45;
            pkt[9] = 6;
        }
        let gso = (rng.next_u32() % 3000) as u16;
        let _ = VnetHdr::for_tcp_gso(&pkt, gso);
        let mut total = 0;
        if segment(&pkt, gso, |p| total += p.len()) {
            assert!(total >= pkt.len(), "{total} < {}", pkt.len());
        }
    }
    assert!(dropped > 0 && dropped < 20_000, "{dropped}");
}

#[test]
fn only_a_partial_tcp_checksum_is_trusted() {
    let partial = VnetHdr {
        flags: F_NEEDS_CSUM,
        csum_start: 20,
        csum_offset: 16,
        ..VnetHdr::default()
    }
    .to_bytes();
    let mut pkt = tcp_packet(0, 100, 0x10);
    fill_partial_checksum(SRC, DST, &mut pkt[20..]);
    assert_eq!(
        complete(&partial, &mut pkt.clone(), true),
        Rx::Trusted(pkt.len())
    );
    // Not allowed to trust: completed, and then it verifies.
    assert_eq!(complete(&partial, &mut pkt, false), Rx::Packet(pkt.len()));
    assert_eq!(transport_checksum(SRC, DST, 6, &pkt[20..]), 0);
    // A UDP packet, or a fragment, is completed even when trust is allowed.
    let mut udp = tcp_packet(0, 100, 0);
    udp[9] = 17;
    assert_eq!(complete(&partial, &mut udp, true), Rx::Packet(udp.len()));
    let mut frag = tcp_packet(0, 100, 0);
    frag[6] = 0x20; // MF
    assert_eq!(complete(&partial, &mut frag, true), Rx::Packet(frag.len()));
}

#[test]
fn software_segmentation_cuts_like_gso() {
    // A super-segment as the engine leaves it: 3 full pieces and a short one, FIN|PSH|ACK|CWR.
    let mut pkt = tcp_packet(12, 3 * 1000 + 300, 0x80 | 0x19);
    pkt[12..16].copy_from_slice(&SRC.octets());
    pkt[16..20].copy_from_slice(&DST.octets());
    let total = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[20 + 4..20 + 8].copy_from_slice(&0xffff_fc00u32.to_be_bytes()); // wraps
    fill_partial_checksum(SRC, DST, &mut pkt[20..]);
    let mut pieces = Vec::new();
    assert!(segment(&pkt, 1000, |p| pieces.push(p.to_vec())));
    assert_eq!(pieces.len(), 4);
    let mut data = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_eq!(crate::wire::checksum::checksum(&p[..20]), 0, "IP checksum");
        assert_eq!(transport_checksum(SRC, DST, 6, &p[20..]), 0, "TCP checksum");
        let seq = u32::from_be_bytes([p[24], p[25], p[26], p[27]]);
        assert_eq!(seq, 0xffff_fc00u32.wrapping_add(i as u32 * 1000));
        let flags = p[33];
        assert_eq!(flags & 0x80 != 0, i == 0, "CWR on the first only");
        assert_eq!(flags & 0x09 != 0, i == 3, "FIN/PSH on the last only");
        data.extend_from_slice(&p[52..]);
    }
    assert_eq!(data, pkt[52..]);
    // Not a TCP packet: nothing.
    let mut udp = pkt.clone();
    udp[9] = 17;
    assert!(!segment(&udp, 1000, |_| panic!("emitted")));
}
