//! Fuzz-style: ≥ 100k mutated DNS messages through the parser and the responder (seeded).
//! Nothing may panic; every answer we produce must itself parse and fit its transport.

use tunstack::rng::Rng;
use tunstack::services::dns::message::{
    CLASS_IN, Edns, Header, Message, ParseError, Question, rtype,
};
use tunstack::services::dns::{MAX_UDP, Outcome, Transport, Zone, respond};

const ROUNDS: usize = 120_000;

fn seeds(zone: &Zone) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let names = [
        "www.lab.test",
        "BIG.lab.test",
        "chain.lab.test",
        "x.y.z.lab.test",
        "lab.test",
    ];
    let types = [
        rtype::A,
        rtype::AAAA,
        rtype::MX,
        rtype::TXT,
        rtype::CNAME,
        rtype::ANY,
    ];
    for (i, name) in names.iter().enumerate() {
        for (j, &qtype) in types.iter().enumerate() {
            let q = Message {
                header: Header {
                    id: (i * 16 + j) as u16,
                    rd: true,
                    ..Header::default()
                },
                questions: vec![Question {
                    name: tunstack::services::dns::message::Name::parse_text(name).unwrap(),
                    qtype,
                    qclass: CLASS_IN,
                }],
                edns: (j % 2 == 0).then(|| Edns {
                    udp_size: 1232,
                    options: vec![0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8], // a COOKIE, as dig sends
                    ..Edns::default()
                }),
                ..Message::default()
            }
            .to_bytes();
            // Responses are seeds too: they carry compressed names in every section.
            if let (Some(r), _) = respond(zone, &q, Transport::Tcp) {
                out.push(r);
            }
            out.push(q);
        }
    }
    out
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..=rng.below(4) {
        let len = m.len().max(1) as u64;
        let at = rng.below(len) as usize;
        match rng.below(8) {
            0 => {
                if let Some(b) = m.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                if let Some(b) = m.get_mut(at) {
                    *b = rng.next_u32() as u8;
                }
            }
            2 => m.truncate(at),
            3 => {
                // A compression pointer to anywhere (loops, forward, out of range).
                let p = 0xC000 | (rng.below(0x4000) as u16);
                for (k, b) in p.to_be_bytes().into_iter().enumerate() {
                    if let Some(x) = m.get_mut(at + k) {
                        *x = b;
                    }
                }
            }
            4 => {
                // A big label length, or a reserved label type.
                if let Some(b) = m.get_mut(at) {
                    *b = [63, 64, 0x7F, 0x80, 0xBF, 0xFF][rng.below(6) as usize];
                }
            }
            5 => {
                // Section counts (header bytes 4..12).
                let i = 4 + rng.below(8) as usize;
                if let Some(b) = m.get_mut(i) {
                    *b = rng.next_u32() as u8;
                }
            }
            6 => {
                let mut extra = vec![0u8; rng.below(40) as usize];
                rng.fill(&mut extra);
                let at = at.min(m.len());
                m.splice(at..at, extra);
            }
            _ => {
                // Duplicate a slice (repeated labels, records).
                let at = at.min(m.len());
                let end = (at + rng.below(32) as usize).min(m.len());
                let piece = m[at..end].to_vec();
                m.splice(at..at, piece);
            }
        }
    }
    m
}

#[test]
fn mutated_messages_never_panic_and_answers_stay_valid() {
    let zone = Zone::builtin();
    let seeds = seeds(&zone);
    let mut rng = Rng::new(0x0d25_f022);
    let (mut parsed, mut answered, mut dropped, mut truncated) = (0, 0, 0, 0);
    let mut errors = std::collections::HashMap::<ParseError, usize>::new();
    for round in 0..ROUNDS {
        let base = &seeds[rng.below(seeds.len() as u64) as usize];
        let m = mutate(&mut rng, base);
        match Message::parse(&m) {
            Ok(msg) => {
                parsed += 1;
                // What we parsed, we can write and read back.
                let again = Message::parse(&msg.to_bytes()).expect("re-encoded message parses");
                assert_eq!(again.answers.len(), msg.answers.len(), "round {round}");
                assert_eq!(again.questions.len(), msg.questions.len());
            }
            Err(e) => *errors.entry(e).or_default() += 1,
        }
        let t = if round % 4 == 0 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let (resp, outcome) = respond(&zone, &m, t);
        match (resp, outcome) {
            (Some(r), Outcome::Answered { truncated: tc, .. }) => {
                answered += 1;
                truncated += usize::from(tc);
                let back = Message::parse(&r).unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert!(back.header.qr);
                assert_eq!(back.header.id, u16::from_be_bytes([m[0], m[1]]));
                if t == Transport::Udp {
                    assert!(r.len() <= MAX_UDP, "round {round}: {} bytes", r.len());
                }
            }
            (None, Outcome::Dropped(_)) => dropped += 1,
            other => panic!("round {round}: inconsistent {other:?}"),
        }
    }
    eprintln!(
        "{ROUNDS} messages: {parsed} parsed, errors {errors:?}; responder: {answered} answered \
         ({truncated} TC), {dropped} dropped"
    );
    // The mutations reached every kind of error and every path of the responder.
    for e in [
        ParseError::Truncated,
        ParseError::BadPointer,
        ParseError::BadLabel,
        ParseError::NameTooLong,
        ParseError::Malformed,
    ] {
        assert!(errors.get(&e).copied().unwrap_or(0) > 0, "no {e:?}");
    }
    assert!(parsed > ROUNDS / 20 && answered > ROUNDS / 4 && dropped > 0 && truncated > 0);
}

/// A byte stream in, the answers out (for `serve_stream`).
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

#[test]
fn mutated_tcp_streams_never_panic_and_answers_are_framed() {
    let zone = Zone::builtin();
    let seeds = seeds(&zone);
    let mut rng = Rng::new(53);
    let mut framed = 0;
    for round in 0..5_000 {
        // A few length-prefixed messages, then the whole stream mutated (lengths included).
        let mut stream = Vec::new();
        for _ in 0..=rng.below(3) {
            let m = &seeds[rng.below(seeds.len() as u64) as usize];
            stream.extend_from_slice(&(m.len() as u16).to_be_bytes());
            stream.extend_from_slice(m);
        }
        let stream = mutate(&mut rng, &stream);
        let mut io = Io(std::io::Cursor::new(stream), Vec::new());
        let _ = tunstack::services::dns::serve_stream(&mut io, &zone);
        // Whatever came out is a sequence of complete, parsable, length-prefixed answers.
        let mut out = &io.1[..];
        while !out.is_empty() {
            let len = usize::from(u16::from_be_bytes([out[0], out[1]]));
            let msg = out
                .get(2..2 + len)
                .unwrap_or_else(|| panic!("round {round}: cut"));
            Message::parse(msg).unwrap_or_else(|e| panic!("round {round}: {e}"));
            out = &out[2 + len..];
            framed += 1;
        }
    }
    assert!(framed > 1000, "{framed} answers");
}
