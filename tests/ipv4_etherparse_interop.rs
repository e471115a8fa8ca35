//! Cross-check against an independent implementation (etherparse 0.21): what our `wire`
//! builders produce passes etherparse's checksum and length checks, and what etherparse builds
//! passes ours. A symmetric bug in our checksum code could not hide from this.

use std::net::Ipv4Addr;

use etherparse::{
    Icmpv4Type, Ipv4HeaderSlice, PacketBuilder, SlicedPacket, TransportSlice, UdpHeader,
};
use tunstack::stack::testkit::{Scenario, pattern};
use tunstack::wire::icmpv4::{self, Icmpv4Packet};
use tunstack::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_ICMP, PROTO_UDP};
use tunstack::wire::udp::{self, UdpPacket};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

#[test]
fn our_udp_packets_pass_etherparse_checks() {
    for n in [0usize, 1, 2, 7, 100, 1471, 1472] {
        let payload = pattern(n);
        let mut ip = Ipv4Repr::new(A, B, PROTO_UDP, 0);
        ip.id = n as u16;
        let pkt = ip.build(&udp::build(A, B, 40000 + n as u16, 53, &payload));
        let h = Ipv4HeaderSlice::from_slice(&pkt).unwrap();
        assert_eq!(
            h.header_checksum(),
            h.to_header().calc_header_checksum(),
            "n={n}"
        );
        assert_eq!(usize::from(h.total_len()), pkt.len());
        assert_eq!(h.identification(), n as u16);
        let (uh, rest) = UdpHeader::from_slice(&pkt[20..]).unwrap();
        assert_eq!(usize::from(uh.length), 8 + n);
        assert_eq!(rest, &payload[..]);
        let want = uh
            .calc_checksum_ipv4_raw(A.octets(), B.octets(), rest)
            .unwrap();
        assert_eq!(uh.checksum, want, "UDP checksum, n={n}");
    }
}

#[test]
fn our_icmp_messages_pass_etherparse_checks() {
    for n in [0usize, 1, 3, 56, 1000] {
        let m = icmpv4::build_echo(icmpv4::ECHO_REQUEST, 0x1234, n as u16, &pattern(n));
        let pkt = Ipv4Repr::new(A, B, PROTO_ICMP, 0).build(&m);
        let p = SlicedPacket::from_ip(&pkt).unwrap();
        let Some(TransportSlice::Icmpv4(icmp)) = p.transport else {
            panic!("not ICMP")
        };
        let Icmpv4Type::EchoRequest(echo) = icmp.icmp_type() else {
            panic!("not an echo request")
        };
        assert_eq!((echo.id, echo.seq), (0x1234, n as u16));
        assert_eq!(icmp.payload(), &pattern(n)[..]);
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload()),
            "ICMP checksum, n={n}"
        );
    }
}

#[test]
fn etherparse_packets_pass_our_checks() {
    for n in [0usize, 1, 9, 500] {
        let payload = pattern(n);
        let mut v = Vec::new();
        PacketBuilder::ipv4(A.octets(), B.octets(), 20)
            .udp(1111, 2222)
            .write(&mut v, &payload)
            .unwrap();
        let ip = Ipv4Packet::new_checked(&v).unwrap();
        assert_eq!((ip.src(), ip.dst(), ip.ttl()), (A, B, 20));
        let u = UdpPacket::new_checked(A, B, ip.payload()).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.payload()),
            (1111, 2222, &payload[..])
        );

        let mut v = Vec::new();
        PacketBuilder::ipv4(A.octets(), B.octets(), 20)
            .icmpv4_echo_request(7, 9)
            .write(&mut v, &payload)
            .unwrap();
        let ip = Ipv4Packet::new_checked(&v).unwrap();
        let m = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert_eq!((m.echo_id(), m.echo_seq(), m.data()), (7, 9, &payload[..]));
    }
}

#[test]
fn an_etherparse_ping_gets_a_reply_etherparse_accepts() {
    let mut t = Scenario::new();
    let mut req = Vec::new();
    PacketBuilder::ipv4(t.peer.octets(), t.us().octets(), 64)
        .icmpv4_echo_request(0x4242, 17)
        .write(&mut req, b"interop payload")
        .unwrap();
    t.peer_sends(&req);
    let reply = t.expect_one();
    let p = SlicedPacket::from_ip(&reply).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = p.transport else {
        panic!("not ICMP")
    };
    let Icmpv4Type::EchoReply(echo) = icmp.icmp_type() else {
        panic!("not an echo reply: {:?}", icmp.icmp_type())
    };
    assert_eq!((echo.id, echo.seq), (0x4242, 17));
    assert_eq!(icmp.payload(), b"interop payload");
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
}
