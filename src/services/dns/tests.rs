//! Unit tests: names, messages (round trips, compression, every malformed case), zone files,
//! and the responder.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::answer::{Transport, respond};
use super::message::*;
use super::zone::{BIG_TXT_COUNT, Lookup, MEDIUM_TXT_COUNT, Zone, builtin_text};

fn n(s: &str) -> Name {
    Name::parse_text(s).unwrap()
}

fn rec(name: &str, rtype: u16, ttl: u32, data: RData) -> Record {
    Record {
        name: n(name),
        rtype,
        class: CLASS_IN,
        ttl,
        data,
    }
}

/// A query as dig sends it: RD set, one question, optionally an OPT.
fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    Message {
        header: Header {
            id,
            rd: true,
            ..Header::default()
        },
        questions: vec![Question {
            name: n(name),
            qtype,
            qclass: CLASS_IN,
        }],
        edns: edns.map(|udp_size| Edns {
            udp_size,
            ..Edns::default()
        }),
        ..Message::default()
    }
    .to_bytes()
}

fn ask(zone: &Zone, q: &[u8], t: Transport) -> Message {
    let (bytes, _) = respond(zone, q, t);
    Message::parse(&bytes.expect("an answer")).expect("our answer parses")
}

// ---- names ----

#[test]
fn name_text_and_display() {
    assert_eq!(n("www.lab.test.").to_string(), "www.lab.test.");
    assert_eq!(n("www.lab.test"), n("www.lab.test."));
    assert!(n(".").is_root());
    assert!(n("A.Lab.TEST").eq_ignore_case(&n("a.lab.test")));
    assert!(!n("a.lab.test").eq_ignore_case(&n("b.lab.test")));
    assert!(n("x.y.lab.test").is_subdomain_of(&n("LAB.test")));
    assert!(!n("xlab.test").is_subdomain_of(&n("lab.test")));
    assert!(Name::parse_text(&"a".repeat(64)).is_none(), "label > 63");
    assert!(Name::parse_text("a..b").is_none(), "empty label");
    let long = vec!["abcdefghi"; 26].join("."); // 26 × 10 + 1 = 261 > 255
    assert!(Name::parse_text(&long).is_none(), "name > 255");
}

#[test]
fn name_read_follows_backward_pointers() {
    // offset 0: 3www3lab4test0 ; offset 14: 4mail + pointer to 4 ("lab.test")
    let mut m = b"\x03www\x03lab\x04test\x00".to_vec();
    m.extend_from_slice(b"\x04mail\xC0\x04");
    let (a, end) = Name::read(&m, 0).unwrap();
    assert_eq!((a.to_string().as_str(), end), ("www.lab.test.", 14));
    let (b, end) = Name::read(&m, 14).unwrap();
    assert_eq!((b.to_string().as_str(), end), ("mail.lab.test.", m.len()));
}

#[test]
fn name_read_rejects_every_malformed_case() {
    use ParseError::*;
    let cases: &[(&[u8], usize, ParseError)] = &[
        (b"", 0, Truncated),
        (b"\x03ww", 0, Truncated),         // label runs off the end
        (b"\x03www", 0, Truncated),        // no root octet
        (b"\xC0", 0, Truncated),           // half a pointer
        (b"\xC0\x00", 0, BadPointer),      // points at itself: a loop
        (b"\x01a\xC0\x00", 2, BadPointer), // two-step loop a -> ptr -> a
        (b"\xC0\x05\x00\x00\x00\x00\x00", 0, BadPointer), // forward pointer
        (b"\x00\xFF\xFF", 1, BadPointer),  // out of range
        (b"\x40abc", 0, BadLabel),         // 01 prefix (length 64): reserved
        (b"\x80abc", 0, BadLabel),         // 10 prefix: reserved
    ];
    for (bytes, at, want) in cases {
        assert_eq!(Name::read(bytes, *at).err(), Some(*want), "{bytes:?}");
    }
    // 5 labels of 63 = 320 octets > 255.
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63u8);
        long.extend_from_slice(&[b'x'; 63]);
    }
    long.push(0);
    assert_eq!(Name::read(&long, 0).err(), Some(NameTooLong));
    // Too long via a chain of pointers: each hop adds a 63-byte label.
    let mut m = vec![0u8]; // offset 0: root
    let mut prev = 0u16;
    for _ in 0..5 {
        let here = m.len() as u16;
        m.push(63);
        m.extend_from_slice(&[b'y'; 63]);
        m.extend_from_slice(&(0xC000 | prev).to_be_bytes());
        prev = here;
    }
    assert_eq!(Name::read(&m, prev as usize).err(), Some(NameTooLong));
}

// ---- messages ----

fn sample() -> Message {
    let soa = Soa {
        mname: n("ns1.lab.test"),
        rname: n("hostmaster.lab.test"),
        serial: 7,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 60,
    };
    Message {
        header: Header {
            id: 0xBEEF,
            qr: true,
            opcode: 0,
            aa: true,
            tc: false,
            rd: true,
            ra: false,
            rcode: 3,
        },
        questions: vec![Question {
            name: n("www.lab.test"),
            qtype: rtype::ANY,
            qclass: CLASS_IN,
        }],
        answers: vec![
            rec(
                "www.lab.test",
                rtype::A,
                300,
                RData::A(Ipv4Addr::new(198, 18, 0, 2)),
            ),
            rec(
                "www.lab.test",
                rtype::AAAA,
                300,
                RData::Aaaa("2001:db8::2".parse::<Ipv6Addr>().unwrap()),
            ),
            rec(
                "alias.lab.test",
                rtype::CNAME,
                1,
                RData::Cname(n("www.lab.test")),
            ),
            rec(
                "lab.test",
                rtype::MX,
                2,
                RData::Mx {
                    preference: 10,
                    exchange: n("mail.lab.test"),
                },
            ),
            rec(
                "txt.lab.test",
                rtype::TXT,
                3,
                RData::Txt(vec![b"hello".to_vec(), Vec::new(), vec![b'z'; 255]]),
            ),
            rec("x.lab.test", 99, 4, RData::Other(vec![1, 2, 3])),
        ],
        authority: vec![
            rec("lab.test", rtype::NS, 5, RData::Ns(n("ns1.lab.test"))),
            rec("lab.test", rtype::SOA, 6, RData::Soa(soa)),
        ],
        additional: vec![rec(
            "ns1.lab.test",
            rtype::A,
            7,
            RData::A(Ipv4Addr::LOCALHOST),
        )],
        edns: Some(Edns {
            udp_size: 1232,
            ext_rcode: 1,
            version: 0,
            dnssec_ok: true,
            options: vec![0, 10, 0, 2, 0xAB, 0xCD],
        }),
    }
}

#[test]
fn round_trip_every_record_type() {
    let m = sample();
    let bytes = m.to_bytes();
    assert_eq!(Message::parse(&bytes).unwrap(), m);
    assert_eq!(m.rcode(), (1 << 4) | 3);
}

/// RDATA length without compression.
fn rdata_len(d: &RData) -> usize {
    match d {
        RData::A(_) => 4,
        RData::Aaaa(_) => 16,
        RData::Ns(x) | RData::Cname(x) => x.wire_len(),
        RData::Mx { exchange, .. } => 2 + exchange.wire_len(),
        RData::Txt(t) => t.iter().map(|s| 1 + s.len()).sum(),
        RData::Soa(s) => s.mname.wire_len() + s.rname.wire_len() + 20,
        RData::Other(b) => b.len(),
    }
}

#[test]
fn compression_pointers_are_written_and_followed() {
    let m = sample();
    let bytes = m.to_bytes();
    let uncompressed: usize = HEADER_LEN
        + m.questions
            .iter()
            .map(|q| q.name.wire_len() + 4)
            .sum::<usize>()
        + m.answers
            .iter()
            .chain(&m.authority)
            .chain(&m.additional)
            .map(|r| r.name.wire_len() + 10 + rdata_len(&r.data))
            .sum::<usize>()
        + 11
        + 6; // OPT and its option
    assert!(
        bytes.len() < uncompressed,
        "{} vs > {uncompressed}",
        bytes.len()
    );
    // The first answer's owner is a pointer to the question name at offset 12.
    let q_end = HEADER_LEN + m.questions[0].name.wire_len() + 4;
    assert_eq!(&bytes[q_end..q_end + 2], &[0xC0, 0x0C]);
    // "www.lab.test" appears spelled out exactly once.
    assert_eq!(bytes.windows(4).filter(|w| w == b"\x03www").count(), 1);
    assert_eq!(bytes.windows(5).filter(|w| w == b"\x04test").count(), 1);
    // Compression is case-insensitive; names in RDATA of unknown types are not compressed.
    let mut q = sample();
    q.questions[0].name = n("WWW.LAB.TEST");
    let b2 = q.to_bytes();
    assert_eq!(b2.len(), bytes.len());
    let back = Message::parse(&b2).unwrap();
    assert!(back.answers[0].name.eq_ignore_case(&n("www.lab.test")));
}

#[test]
fn truncation_keeps_header_question_and_opt() {
    let m = sample();
    let full = m.to_bytes();
    let short = m.encode(full.len() - 1);
    let back = Message::parse(&short).unwrap();
    assert!(back.header.tc);
    assert!(back.answers.is_empty() && back.authority.is_empty() && back.additional.is_empty());
    assert_eq!(back.questions, m.questions);
    assert_eq!(back.edns, m.edns);
    assert!(!Message::parse(&m.encode(full.len())).unwrap().header.tc);
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    use ParseError::*;
    let good = query(1, "www.lab.test", rtype::A, Some(1232));
    // Every prefix of a valid message is an error (counts promise more than is there).
    for cut in 0..good.len() {
        assert!(Message::parse(&good[..cut]).is_err(), "prefix {cut}");
    }
    let a_rr = |rdlen: u16, rdata: &[u8]| {
        let mut m = vec![0, 1, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, b'a', 0];
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 5]);
        m.extend_from_slice(&rdlen.to_be_bytes());
        m.extend_from_slice(rdata);
        m
    };
    assert!(Message::parse(&a_rr(4, &[1, 2, 3, 4])).is_ok());
    assert_eq!(
        Message::parse(&a_rr(5, &[1, 2, 3, 4, 5])).err(),
        Some(Malformed)
    );
    assert_eq!(Message::parse(&a_rr(4, &[1, 2, 3])).err(), Some(Truncated));
    let rr = |rtype: u16, rdata: &[u8]| {
        let mut m = vec![0, 1, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 5]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
        m.extend_from_slice(b"\x00\x00"); // bytes after RDATA: the name must not run into them
        m
    };
    // A CNAME whose name runs past RDLENGTH.
    assert_eq!(
        Message::parse(&rr(rtype::CNAME, b"\x01a")).err(),
        Some(Malformed)
    );
    assert!(Message::parse(&rr(rtype::CNAME, b"\x01a\x00")).is_ok());
    // TXT: no strings, or a string longer than the RDATA.
    assert_eq!(Message::parse(&rr(rtype::TXT, b"")).err(), Some(Malformed));
    assert_eq!(
        Message::parse(&rr(rtype::TXT, b"\x05ab")).err(),
        Some(Malformed)
    );
    assert_eq!(
        Message::parse(&rr(rtype::MX, b"\x00")).err(),
        Some(Malformed)
    );
    // Two OPTs, or an OPT not owned by the root (RFC 6891 §6.1.1).
    let opt = [0u8, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0];
    let mut two = good.clone();
    two[11] = 2;
    two.extend_from_slice(&opt);
    assert_eq!(Message::parse(&two).err(), Some(Malformed));
    let mut named = query(1, "www.lab.test", rtype::A, None);
    named[11] = 1;
    named.extend_from_slice(&[1, b'x']);
    named.extend_from_slice(&opt);
    assert_eq!(Message::parse(&named).err(), Some(Malformed));
}

// ---- zone files ----

#[test]
fn builtin_zone_parses_with_every_type() {
    let z = Zone::parse(&builtin_text()).unwrap();
    assert_eq!(z.origin(), &n("lab.test"));
    for t in [
        rtype::A,
        rtype::AAAA,
        rtype::CNAME,
        rtype::MX,
        rtype::TXT,
        rtype::NS,
    ] {
        assert!(z.records().any(|r| r.rtype == t), "type {t}");
    }
    assert_eq!(
        z.records().filter(|r| r.name == n("big.lab.test")).count(),
        BIG_TXT_COUNT
    );
}

#[test]
fn zone_file_syntax() {
    let z = Zone::parse(
        "# comment line\n\
         example.org. 100 SOA ns hostmaster 1 2 3 4 5 ; trailing comment\n\
         @ 100 IN NS ns\n\
         ns 100 A 192.0.2.1\n\
         www.example.org. 100 TXT \"a \\\"quoted\\\" ; string\" bare\n\
         mx 100 MX 5 ns\n\
         soa 100 TXT SOA\n\
         in 100 IN TXT IN SOA\n",
    )
    .unwrap();
    assert_eq!(z.records().filter(|r| r.rtype == rtype::SOA).count(), 1);
    let txt = z.records().find(|r| r.rtype == rtype::TXT).unwrap();
    assert_eq!(
        txt.data,
        RData::Txt(vec![b"a \"quoted\" ; string".to_vec(), b"bare".to_vec()])
    );
    let RData::Soa(soa) = &z.soa().data else {
        panic!("SOA");
    };
    assert_eq!(soa.mname, n("ns.example.org"));
    let mx = z.records().find(|r| r.rtype == rtype::MX).unwrap();
    assert_eq!(mx.name, n("mx.example.org"));
}

#[test]
fn zone_file_errors_name_the_problem() {
    let soa = "z.test. 60 SOA ns h 1 2 3 4 5\n";
    let cases = [
        ("a.z.test. 60 A 1.2.3.4\n".to_string(), "exactly one SOA"),
        (format!("{soa}{soa}"), "exactly one SOA"),
        ("z.test 60 SOA ns h 1 2 3 4 5\n".into(), "absolute"),
        (format!("{soa}a.other. 60 A 1.2.3.4\n"), "outside the zone"),
        (format!("{soa}a 60 A 1.2.3.4\na 60 CNAME b\n"), "CNAME"),
        (format!("{soa}a 99999999999 A 1.2.3.4\n"), "TTL"),
        (format!("{soa}a 4294967295 A 1.2.3.4\n"), "2^31"),
        (format!("{soa}a 60 SRV 1 2 3 x\n"), "unsupported type"),
        (format!("{soa}a 60 A 1.2.3\n"), "line 2"),
        (format!("{soa}a 60 A 1.2.3.4 5.6.7.8\n"), "one IPv4"),
        (format!("{soa}a 60 TXT \"open\n"), "unterminated"),
        (format!("{soa}a 60 TXT {}\n", "x".repeat(256)), "255"),
        (format!("{soa}a 60 MX ns\n"), "MX needs"),
        (
            format!("{soa}{} 60 A 1.2.3.4\n", "a".repeat(64)),
            "bad name",
        ),
    ];
    for (text, want) in cases {
        let err = Zone::parse(&text).expect_err(&text);
        assert!(err.contains(want), "{text:?}: {err} (wanted {want:?})");
    }
}

#[test]
fn lookups() {
    let z = Zone::builtin();
    let found = |name: &str, t: u16| match z.lookup(&n(name), t) {
        Lookup::Found {
            rcode,
            answers,
            authority,
            additional,
        } => (rcode, answers, authority, additional),
        Lookup::Refused => panic!("refused {name}"),
    };
    let (rc, an, ns, _) = found("WWW.lab.test", rtype::A);
    assert_eq!((rc, an.len(), ns.len()), (rcode::NOERROR, 1, 0));
    assert_eq!(
        an[0].name.to_string(),
        "WWW.lab.test.",
        "the query's spelling"
    );
    let (rc, an, ns, _) = found("nope.lab.test", rtype::A);
    assert_eq!((rc, an.len()), (rcode::NXDOMAIN, 0));
    assert_eq!(ns[0].rtype, rtype::SOA);
    assert_eq!(ns[0].ttl, 60, "RFC 2308: min(SOA TTL, MINIMUM)");
    let (rc, an, ns, _) = found("www.lab.test", rtype::MX);
    assert_eq!((rc, an.len(), ns[0].rtype), (rcode::NOERROR, 0, rtype::SOA));
    let (rc, an, _, _) = found("sub.lab.test", rtype::A);
    assert_eq!((rc, an.len()), (rcode::NOERROR, 0), "empty non-terminal");
    let (rc, an, _, _) = found("chain.lab.test", rtype::A);
    let types: Vec<u16> = an.iter().map(|r| r.rtype).collect();
    assert_eq!(
        (rc, types),
        (rcode::NOERROR, vec![rtype::CNAME, rtype::CNAME, rtype::A])
    );
    let (_, an, _, _) = found("alias.lab.test", rtype::CNAME);
    assert_eq!(an.len(), 1, "a CNAME query is not chased");
    let (_, an, _, _) = found("external.lab.test", rtype::A);
    assert_eq!(an.len(), 1, "out-of-zone target left to the resolver");
    let (_, an, _, add) = found("lab.test", rtype::MX);
    assert_eq!((an.len(), add.len()), (1, 2), "mail's A and AAAA");
    let (_, an, _, _) = found("www.lab.test", rtype::ANY);
    assert_eq!(an.len(), 2);
    assert_eq!(z.lookup(&n("example.com"), rtype::A), Lookup::Refused);
    assert_eq!(z.lookup(&n("test"), rtype::A), Lookup::Refused);
}

// ---- responder ----

#[test]
fn responder_answers_with_aa_edns_and_query_case() {
    let z = Zone::builtin();
    let r = ask(
        &z,
        &query(42, "wWw.LAB.test", rtype::A, Some(4096)),
        Transport::Udp,
    );
    assert_eq!(r.header.id, 42);
    assert!(r.header.qr && r.header.aa && r.header.rd && !r.header.tc);
    assert_eq!(r.rcode(), rcode::NOERROR);
    assert_eq!(r.questions[0].name.labels()[0], b"wWw".to_vec());
    assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(198, 18, 0, 2)));
    assert_eq!(r.edns.as_ref().map(|e| e.udp_size), Some(1232));
    let r = ask(
        &z,
        &query(1, "www.lab.test", rtype::A, None),
        Transport::Udp,
    );
    assert!(r.edns.is_none(), "no OPT without one in the query");

    let r = ask(
        &z,
        &query(1, "missing.lab.test", rtype::TXT, Some(1232)),
        Transport::Udp,
    );
    assert_eq!(r.rcode(), rcode::NXDOMAIN);
    assert!(r.header.aa && r.authority[0].rtype == rtype::SOA);
    let r = ask(
        &z,
        &query(1, "www.example.com", rtype::A, None),
        Transport::Udp,
    );
    assert_eq!(r.rcode(), rcode::REFUSED);
    assert!(!r.header.aa && r.answers.is_empty());
}

#[test]
fn udp_truncates_by_edns_size_and_tcp_does_not() {
    let z = Zone::builtin();
    let tc = |name: &str, edns: Option<u16>, t: Transport| {
        let r = ask(&z, &query(1, name, rtype::TXT, edns), t);
        (r.header.tc, r.answers.len())
    };
    assert_eq!(tc("big.lab.test", Some(1232), Transport::Udp), (true, 0));
    assert_eq!(
        tc("big.lab.test", Some(65000), Transport::Udp),
        (true, 0),
        "cap 1232"
    );
    assert_eq!(
        tc("big.lab.test", None, Transport::Tcp),
        (false, BIG_TXT_COUNT)
    );
    assert_eq!(
        tc("medium.lab.test", None, Transport::Udp),
        (true, 0),
        "512 without EDNS"
    );
    assert_eq!(
        tc("medium.lab.test", Some(100), Transport::Udp),
        (true, 0),
        "<512 = 512"
    );
    assert_eq!(
        tc("medium.lab.test", Some(1232), Transport::Udp),
        (false, MEDIUM_TXT_COUNT)
    );
    let (bytes, _) = respond(
        &z,
        &query(1, "big.lab.test", rtype::TXT, Some(1232)),
        Transport::Udp,
    );
    assert!(bytes.unwrap().len() <= 1232);
}

#[test]
fn responder_error_cases() {
    let z = Zone::builtin();
    let good = query(7, "www.lab.test", rtype::A, Some(1232));
    assert!(
        respond(&z, &good[..11], Transport::Udp).0.is_none(),
        "short: dropped"
    );
    let mut resp = good.clone();
    resp[2] |= 0x80;
    assert!(
        respond(&z, &resp, Transport::Udp).0.is_none(),
        "QR=1: dropped"
    );
    let mut garbage = good[..12].to_vec();
    garbage.extend_from_slice(b"\xC0\x0C\x00\x01");
    let r = ask(&z, &garbage, Transport::Udp);
    assert_eq!((r.rcode(), r.header.id), (rcode::FORMERR, 7));
    let mut notify = good.clone();
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    assert_eq!(ask(&z, &notify, Transport::Udp).rcode(), rcode::NOTIMP);
    let mut none = good[..12].to_vec();
    none[5] = 0;
    none[11] = 0;
    assert_eq!(
        ask(&z, &none, Transport::Udp).rcode(),
        rcode::FORMERR,
        "no question"
    );
    let mut v1 = Message::parse(&good).unwrap();
    v1.edns.as_mut().unwrap().version = 1;
    let r = ask(&z, &v1.to_bytes(), Transport::Udp);
    assert_eq!(r.rcode(), rcode::BADVERS);
    assert!(r.answers.is_empty());
    let mut chaos = Message::parse(&good).unwrap();
    chaos.questions[0].qclass = 3;
    assert_eq!(
        ask(&z, &chaos.to_bytes(), Transport::Udp).rcode(),
        rcode::REFUSED
    );
    let axfr = query(1, "lab.test", rtype::AXFR, None);
    assert_eq!(ask(&z, &axfr, Transport::Tcp).rcode(), rcode::REFUSED);
    let mut do_bit = Message::parse(&good).unwrap();
    do_bit.edns.as_mut().unwrap().dnssec_ok = true;
    assert!(
        ask(&z, &do_bit.to_bytes(), Transport::Udp)
            .edns
            .unwrap()
            .dnssec_ok
    );
}

#[test]
fn tcp_stream_answers_several_length_prefixed_queries() {
    let z = Zone::builtin();
    let mut input = Vec::new();
    for (id, name) in [(1u16, "www.lab.test"), (2, "big.lab.test")] {
        let q = query(id, name, rtype::TXT, None);
        input.extend_from_slice(&(q.len() as u16).to_be_bytes());
        input.extend_from_slice(&q);
    }
    struct Io(std::io::Cursor<Vec<u8>>, Vec<u8>);
    impl std::io::Read for Io {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(b)
        }
    }
    impl std::io::Write for Io {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut io = Io(std::io::Cursor::new(input), Vec::new());
    super::serve_stream(&mut io, &z).unwrap();
    let out = io.1;
    let len1 = usize::from(u16::from_be_bytes([out[0], out[1]]));
    let m1 = Message::parse(&out[2..2 + len1]).unwrap();
    let rest = &out[2 + len1..];
    let len2 = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    assert_eq!(rest.len(), 2 + len2);
    let m2 = Message::parse(&rest[2..]).unwrap();
    assert_eq!((m1.header.id, m1.answers.len()), (1, 0), "www has no TXT");
    assert_eq!((m2.header.id, m2.answers.len()), (2, BIG_TXT_COUNT));
    assert!(len2 > 1232 && !m2.header.tc);
}
