//! Segmentation offload in the sans-IO engine (`TcpConfig::offload`): the sender's super-segments
//! are cut here the way the kernel's GSO cuts them (RFC 9293 headers replicated, sequence numbers
//! advanced, FIN/PSH on the last piece only, checksums completed) and fed to a receiver that
//! knows nothing of offloads: the stream must arrive intact, with no drops.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::wire::checksum::{checksum, transport_checksum};
use tunstack::{Duration, Instant, Stack, StackConfig};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MTU: usize = 1500;

fn stack(addr: Ipv4Addr, seed: u64, offload: bool) -> Stack {
    paced_stack(addr, seed, offload, false)
}

fn paced_stack(addr: Ipv4Addr, seed: u64, offload: bool, pacing: bool) -> Stack {
    let mut c = StackConfig {
        addr,
        mtu: MTU,
        seed,
        ..StackConfig::default()
    };
    c.tcp.offload = offload;
    c.tcp.pacing = pacing;
    Stack::new(c)
}

/// What GSO does with a TCP super-segment of `gso`-byte pieces: MTU-sized IPv4 packets with
/// complete checksums.
fn segment(pkt: &[u8], gso: usize) -> Vec<Vec<u8>> {
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let thl = usize::from(pkt[ihl + 12] >> 4) * 4;
    let hdr = ihl + thl;
    let payload = &pkt[hdr..];
    let seq0 = u32::from_be_bytes(pkt[ihl + 4..ihl + 8].try_into().unwrap());
    let id0 = u16::from_be_bytes([pkt[4], pkt[5]]);
    let flags = pkt[ihl + 13];
    let chunks: Vec<&[u8]> = payload.chunks(gso).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = pkt[..hdr].to_vec();
            p.extend_from_slice(c);
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p[4..6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let ipc = checksum(&p[..ihl]);
            p[10..12].copy_from_slice(&ipc.to_be_bytes());
            let seq = seq0.wrapping_add((i * gso) as u32);
            p[ihl + 4..ihl + 8].copy_from_slice(&seq.to_be_bytes());
            // FIN and PSH stay on the last piece, CWR on the first (Linux tcp_gso_segment).
            let mut f = flags;
            if i != last {
                f &= !0x09;
            }
            if i != 0 {
                f &= !0x80;
            }
            p[ihl + 13] = f;
            p[ihl + 16..ihl + 18].copy_from_slice(&[0, 0]);
            let c = transport_checksum(A, B, 6, &p[ihl..]);
            p[ihl + 16..ihl + 18].copy_from_slice(&c.to_be_bytes());
            p
        })
        .collect()
}

#[test]
fn super_segments_cut_like_gso_deliver_the_stream_intact() {
    transfer_through_gso(false);
}

#[test]
fn paced_super_segments_deliver_the_stream_intact() {
    transfer_through_gso(true);
}

fn transfer_through_gso(pacing: bool) {
    let mut tx = paced_stack(A, 1, true, pacing);
    let mut rx = stack(B, 2, false);
    let mut now = Instant::from_secs(1);
    let l = rx.tcp_listen(SocketAddrV4::new(B, 9)).unwrap();
    let h = tx.tcp_connect(now, SocketAddrV4::new(B, 9)).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut hr = None;
    let mut buf = vec![0u8; 65536];
    let (mut supers, mut largest) = (0, 0);
    for _ in 0..20_000 {
        if got.len() == data.len() {
            break;
        }
        now += Duration::from_micros(50);
        for s in [&mut tx, &mut rx] {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        if let Ok(n) = tx.tcp_send(now, h, &data[sent..]) {
            sent += n;
        }
        while let Some(n) = tx.poll_transmit(now, &mut buf) {
            let pkt = &buf[..n];
            match tx.last_transmit_gso() {
                Some(gso) => {
                    supers += 1;
                    largest = largest.max(n);
                    let gso = usize::from(gso);
                    let ihl = usize::from(pkt[0] & 0x0f) * 4;
                    let hdr = ihl + usize::from(pkt[ihl + 12] >> 4) * 4;
                    assert_eq!((n - hdr) % gso, 0, "whole segments only");
                    assert!(n - hdr > gso, "a super-segment holds more than one");
                    for p in segment(pkt, gso) {
                        assert!(p.len() <= MTU, "a {}-byte piece", p.len());
                        rx.handle_packet(now, &p);
                    }
                }
                None => {
                    assert!(n <= MTU, "a {n}-byte packet without GSO");
                    rx.handle_packet(now, pkt);
                }
            }
        }
        if hr.is_none() {
            hr = rx.tcp_accept(l).ok();
        }
        if let Some(hr) = hr {
            let mut sink = vec![0u8; 1 << 16];
            while let Ok(n) = rx.tcp_recv(now, hr, &mut sink) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&sink[..n]);
            }
        }
        while let Some(n) = rx.poll_transmit(now, &mut buf) {
            assert!(rx.last_transmit_gso().is_none(), "offload is off at rx");
            tx.handle_packet(now, &buf[..n]);
        }
    }
    assert_eq!(got.len(), data.len(), "transfer incomplete");
    assert!(got == data, "the stream was corrupted");
    assert!(
        supers > 10 && largest > 60_000,
        "{supers} super-segments, largest {largest}"
    );
    let (ts, rs) = (tx.tcp().stats().clone(), rx.tcp().stats().clone());
    assert_eq!(rs.drop_bad_checksum + rs.drop_malformed, 0, "{rs:?}");
    assert_eq!(rx.stats().drop_bad_checksum, 0);
    assert_eq!(ts.retransmits, 0, "a clean link: {ts:?}");
}

#[test]
fn without_offload_no_packet_exceeds_the_mtu() {
    let mut tx = stack(A, 1, false);
    let mut rx = stack(B, 2, false);
    let now = Instant::from_secs(1);
    rx.tcp_listen(SocketAddrV4::new(B, 9)).unwrap();
    let h = tx.tcp_connect(now, SocketAddrV4::new(B, 9)).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut data_pkts = 0;
    for _ in 0..20 {
        let _ = tx.tcp_send(now, h, &[7u8; 200_000]);
        while let Some(n) = tx.poll_transmit(now, &mut buf) {
            assert!(n <= MTU && tx.last_transmit_gso().is_none());
            data_pkts += usize::from(n > 100);
            rx.handle_packet(now, &buf[..n]);
        }
        while let Some(n) = rx.poll_transmit(now, &mut buf) {
            tx.handle_packet(now, &buf[..n]);
        }
    }
    assert!(data_pkts > 10, "{data_pkts}");
}
