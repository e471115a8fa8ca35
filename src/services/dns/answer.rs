//! From a query's bytes to a response's bytes (sans-IO): the authoritative server's logic.

use super::message::{CLASS_ANY, CLASS_IN, Edns, Header, Message, ParseError, rcode, rtype};
use super::zone::{Lookup, Zone};

/// Largest UDP answer we send even if the client offers more (the DNS flag day 2020
/// value, avoids IP fragmentation; RFC 9715 §3.2).
pub const MAX_UDP: usize = 1232;
/// RFC 1035 §4.2.1: UDP messages without EDNS are at most 512 bytes.
pub const CLASSIC_UDP: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What happened to one query (for counters and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Dropped without an answer: shorter than a header, or a response (QR=1).
    Dropped(&'static str),
    /// Answered with this RCODE; `truncated` if TC was set.
    Answered { rcode: u16, truncated: bool },
}

/// Build the response to `query`, or None to drop it. Never panics on any input.
pub fn respond(zone: &Zone, query: &[u8], transport: Transport) -> (Option<Vec<u8>>, Outcome) {
    let Some((qh, _)) = Header::parse(query) else {
        return (None, Outcome::Dropped("shorter than a DNS header"));
    };
    if qh.qr {
        // Never answer a response (avoids loops between servers).
        return (None, Outcome::Dropped("QR=1 (a response)"));
    }
    let mut resp = Message {
        header: Header {
            id: qh.id,
            qr: true,
            opcode: qh.opcode,
            aa: false,
            tc: false,
            rd: qh.rd,
            ra: false,
            rcode: 0,
        },
        ..Message::default()
    };
    let q = match Message::parse(query) {
        Ok(q) => q,
        Err(e) => {
            log::debug!("dns: FORMERR: {e}");
            return finish(resp, rcode::FORMERR, CLASSIC_UDP, transport);
        }
    };
    // RFC 6891 §6.1.1: answer OPT with OPT; RFC 3225 §3: copy the DO bit.
    resp.edns = q.edns.as_ref().map(|e| Edns {
        udp_size: MAX_UDP as u16,
        dnssec_ok: e.dnssec_ok,
        ..Edns::default()
    });
    // RFC 6891 §6.2.5: sizes below 512 are treated as 512.
    let limit = q.edns.as_ref().map_or(CLASSIC_UDP, |e| {
        usize::from(e.udp_size).clamp(CLASSIC_UDP, MAX_UDP)
    });
    if q.header.opcode != 0 {
        resp.questions = q.questions;
        return finish(resp, rcode::NOTIMP, limit, transport);
    }
    // RFC 9619: exactly one question.
    let [question] = &q.questions[..] else {
        return finish(resp, rcode::FORMERR, limit, transport);
    };
    resp.questions = vec![question.clone()];
    if q.edns.as_ref().is_some_and(|e| e.version > 0) {
        return finish(resp, rcode::BADVERS, limit, transport); // RFC 6891 §6.1.3
    }
    if question.qclass != CLASS_IN && question.qclass != CLASS_ANY {
        return finish(resp, rcode::REFUSED, limit, transport);
    }
    if matches!(question.qtype, rtype::AXFR | rtype::IXFR | rtype::OPT) {
        // No zone transfers; OPT is not a question (RFC 6891 §6.1.1).
        let rc = if question.qtype == rtype::OPT {
            rcode::FORMERR
        } else {
            rcode::REFUSED
        };
        return finish(resp, rc, limit, transport);
    }
    match zone.lookup(&question.name, question.qtype) {
        Lookup::Refused => finish(resp, rcode::REFUSED, limit, transport),
        Lookup::Found {
            rcode,
            answers,
            authority,
            additional,
        } => {
            resp.header.aa = true; // RFC 1035 §4.1.1: we are the authority for the zone
            resp.answers = answers;
            resp.authority = authority;
            resp.additional = additional;
            finish(resp, rcode, limit, transport)
        }
    }
}

fn finish(
    mut resp: Message,
    rc: u16,
    udp_limit: usize,
    transport: Transport,
) -> (Option<Vec<u8>>, Outcome) {
    resp.set_rcode(rc);
    let limit = match transport {
        Transport::Udp => udp_limit,
        Transport::Tcp => usize::from(u16::MAX), // RFC 1035 §4.2.2 length prefix
    };
    let bytes = resp.encode(limit);
    let truncated = Header::parse(&bytes).is_some_and(|(h, _)| h.tc);
    (
        Some(bytes),
        Outcome::Answered {
            rcode: rc,
            truncated,
        },
    )
}

/// The question's presentation (`www.lab.test. A`) for logs; "?" if unparsable.
pub fn describe(query: &[u8]) -> String {
    match Message::parse(query) {
        Ok(m) => m.questions.first().map_or("(no question)".into(), |q| {
            let t = super::message::type_name(q.qtype)
                .map_or_else(|| format!("TYPE{}", q.qtype), str::to_string);
            format!("{} {t}", q.name)
        }),
        Err(ParseError::Truncated) => "(truncated)".into(),
        Err(_) => "?".into(),
    }
}
