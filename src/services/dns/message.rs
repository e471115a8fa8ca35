//! DNS messages (RFC 1035 §4.1): a sans-IO parser that never panics, and an encoder that
//! compresses names (RFC 1035 §4.1.4) and truncates to a size limit (TC, RFC 1035 §4.1.1).
//! EDNS(0) OPT pseudo-records (RFC 6891 §6.1) are parsed into `Edns`, not left in `additional`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use super::name::{Name, ParseError};

pub const HEADER_LEN: usize = 12;

/// RR types (RFC 1035 §3.2.2, RFC 3596 §2.1, RFC 6891 §6.1.1) and QTYPEs (RFC 1035 §3.2.3).
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const OPT: u16 = 41;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

/// CLASS IN (RFC 1035 §3.2.4) and QCLASS ANY (§3.2.5).
pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

/// RCODEs (RFC 1035 §4.1.1; BADVERS is extended, RFC 6891 §9).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

/// The 12-byte header (RFC 1035 §4.1.1); `rcode` holds only the low 4 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub rcode: u8,
}

impl Header {
    /// Header and the four section counts; None if shorter than 12 bytes.
    pub fn parse(b: &[u8]) -> Option<(Header, [u16; 4])> {
        let h = b.get(..HEADER_LEN)?;
        let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let flags = w(2);
        let header = Header {
            id: w(0),
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0xF) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rd: flags & 0x0100 != 0,
            ra: flags & 0x0080 != 0,
            rcode: (flags & 0xF) as u8,
        };
        Some((header, [w(4), w(6), w(8), w(10)]))
    }

    fn flags(&self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0xF) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | u16::from(self.rcode & 0xF)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// SOA RDATA (RFC 1035 §3.3.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// One or more character-strings of at most 255 bytes (RFC 1035 §3.3.14).
    Txt(Vec<Vec<u8>>),
    Soa(Soa),
    /// Any other type, kept as bytes (RFC 3597 §4: no compression inside).
    Other(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

/// The OPT pseudo-record's fields (RFC 6891 §6.1.2-§6.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size (the OPT's CLASS).
    pub udp_size: u16,
    /// Upper 8 bits of the 12-bit RCODE.
    pub ext_rcode: u8,
    pub version: u8,
    /// DNSSEC OK (RFC 3225).
    pub dnssec_ok: bool,
    /// Options, raw {code, length, data} sequence.
    pub options: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// Additional records other than OPT.
    pub additional: Vec<Record>,
    pub edns: Option<Edns>,
}

/// A bounds-checked reader over the whole message (names need the whole message).
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    /// End of the current RDATA (reads past it are Malformed), else the message length.
    limit: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], ParseError> {
        if self.pos + n > self.limit {
            return Err(if self.limit < self.msg.len() {
                ParseError::Malformed
            } else {
                ParseError::Truncated
            });
        }
        let s = self
            .msg
            .get(self.pos..self.pos + n)
            .ok_or(ParseError::Truncated)?;
        self.pos += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ParseError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn name(&mut self) -> Result<Name, ParseError> {
        let (n, next) = Name::read(self.msg, self.pos)?;
        if next > self.limit {
            return Err(ParseError::Malformed);
        }
        self.pos = next;
        Ok(n)
    }
    fn question(&mut self) -> Result<Question, ParseError> {
        Ok(Question {
            name: self.name()?,
            qtype: self.u16()?,
            qclass: self.u16()?,
        })
    }
    /// One resource record (RFC 1035 §4.1.3); RDATA must end exactly at RDLENGTH.
    fn record(&mut self) -> Result<Record, ParseError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let end = self.pos + len;
        if end > self.msg.len() {
            return Err(ParseError::Truncated);
        }
        self.limit = end;
        let data = self.rdata(rtype, len, end);
        self.limit = self.msg.len();
        let data = data?;
        if self.pos != end {
            return Err(ParseError::Malformed);
        }
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            data,
        })
    }

    /// RDATA of `len` bytes ending at `end` (RFC 1035 §3.3).
    fn rdata(&mut self, rtype: u16, len: usize, end: usize) -> Result<RData, ParseError> {
        Ok(match rtype {
            rtype::A if len == 4 => {
                let b = self.bytes(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            rtype::AAAA if len == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(self.bytes(16)?);
                RData::Aaaa(Ipv6Addr::from(a))
            }
            rtype::A | rtype::AAAA => return Err(ParseError::Malformed),
            rtype::NS => RData::Ns(self.name()?),
            rtype::CNAME => RData::Cname(self.name()?),
            rtype::MX => RData::Mx {
                preference: self.u16()?,
                exchange: self.name()?,
            },
            rtype::SOA => RData::Soa(Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            }),
            rtype::TXT => {
                let mut strings = Vec::new();
                while self.pos < end {
                    let n = usize::from(self.bytes(1)?[0]);
                    strings.push(self.bytes(n)?.to_vec());
                }
                if strings.is_empty() {
                    return Err(ParseError::Malformed);
                }
                RData::Txt(strings)
            }
            _ => RData::Other(self.bytes(len)?.to_vec()),
        })
    }
}

impl Message {
    /// The same message with every domain name lower-cased: two messages are the same DNS
    /// message when these are equal (RFC 1035 §2.3.3: names compare case-insensitively; our
    /// compression, like BIND's, may give a name the case of the earlier name it points at).
    pub fn case_folded(&self) -> Message {
        let mut m = self.clone();
        for q in &mut m.questions {
            q.name = q.name.to_lower();
        }
        for r in m
            .answers
            .iter_mut()
            .chain(&mut m.authority)
            .chain(&mut m.additional)
        {
            r.name = r.name.to_lower();
            match &mut r.data {
                RData::Ns(n) | RData::Cname(n) => *n = n.to_lower(),
                RData::Mx { exchange, .. } => *exchange = exchange.to_lower(),
                RData::Soa(soa) => {
                    soa.mname = soa.mname.to_lower();
                    soa.rname = soa.rname.to_lower();
                }
                RData::A(_) | RData::Aaaa(_) | RData::Txt(_) | RData::Other(_) => {}
            }
        }
        m
    }

    /// Parse a whole message. Bytes after the last record are ignored.
    pub fn parse(msg: &[u8]) -> Result<Message, ParseError> {
        let (header, [qd, an, ns, ar]) = Header::parse(msg).ok_or(ParseError::Truncated)?;
        let mut r = Reader {
            msg,
            pos: HEADER_LEN,
            limit: msg.len(),
        };
        let mut m = Message {
            header,
            ..Message::default()
        };
        for _ in 0..qd {
            m.questions.push(r.question()?);
        }
        for _ in 0..an {
            m.answers.push(r.record()?);
        }
        for _ in 0..ns {
            m.authority.push(r.record()?);
        }
        for _ in 0..ar {
            let rec = r.record()?;
            if rec.rtype != rtype::OPT {
                m.additional.push(rec);
                continue;
            }
            // RFC 6891 §6.1.1: at most one OPT, owned by the root.
            if m.edns.is_some() || !rec.name.is_root() {
                return Err(ParseError::Malformed);
            }
            let RData::Other(options) = rec.data else {
                return Err(ParseError::Malformed);
            };
            m.edns = Some(Edns {
                udp_size: rec.class,
                ext_rcode: (rec.ttl >> 24) as u8,
                version: (rec.ttl >> 16) as u8,
                dnssec_ok: rec.ttl & 0x8000 != 0,
                options,
            });
        }
        Ok(m)
    }

    /// The full 12-bit RCODE (header bits + OPT's extended bits, RFC 6891 §6.1.3).
    pub fn rcode(&self) -> u16 {
        let ext = self.edns.as_ref().map_or(0, |e| u16::from(e.ext_rcode));
        (ext << 4) | u16::from(self.header.rcode)
    }

    /// Set the 12-bit RCODE; the upper bits need an OPT record (created if missing).
    pub fn set_rcode(&mut self, rc: u16) {
        self.header.rcode = (rc & 0xF) as u8;
        let ext = (rc >> 4) as u8;
        if let Some(e) = &mut self.edns {
            e.ext_rcode = ext;
        } else if ext != 0 {
            self.edns = Some(Edns {
                udp_size: 512,
                ext_rcode: ext,
                ..Edns::default()
            });
        }
    }

    /// Encode without a size limit (up to 65535 bytes: longer output is cut like `encode`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode(usize::from(u16::MAX))
    }

    /// Encode; if longer than `limit`, send the header (TC=1), the question and the OPT
    /// only (RFC 1035 §4.2.1, RFC 2181 §9, RFC 6891 §7: OPT also in truncated answers).
    pub fn encode(&self, limit: usize) -> Vec<u8> {
        let full = self.encode_sections(true);
        if full.len() <= limit {
            return full;
        }
        let mut short = self.clone();
        short.header.tc = true;
        short.encode_sections(false)
    }

    fn encode_sections(&self, records: bool) -> Vec<u8> {
        let mut w = Writer::default();
        let none: &[Record] = &[];
        let (an, ns, ar) = if records {
            (&self.answers[..], &self.authority[..], &self.additional[..])
        } else {
            (none, none, none)
        };
        let counts = [
            self.questions.len(),
            an.len(),
            ns.len(),
            ar.len() + usize::from(self.edns.is_some()),
        ];
        w.u16(self.header.id);
        w.u16(self.header.flags());
        for c in counts {
            w.u16(c.min(usize::from(u16::MAX)) as u16);
        }
        for q in &self.questions {
            w.name(&q.name, true);
            w.u16(q.qtype);
            w.u16(q.qclass);
        }
        for r in an.iter().chain(ns).chain(ar) {
            w.record(r);
        }
        if let Some(e) = &self.edns {
            w.buf.push(0); // root owner
            w.u16(rtype::OPT);
            w.u16(e.udp_size);
            let ttl = (u32::from(e.ext_rcode) << 24)
                | (u32::from(e.version) << 16)
                | if e.dnssec_ok { 0x8000 } else { 0 };
            w.u32(ttl);
            w.u16(e.options.len().min(usize::from(u16::MAX)) as u16);
            w.buf.extend_from_slice(&e.options);
        }
        w.buf
    }
}

/// Output buffer with a table of name suffixes already written (lower-cased) → offset.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    names: HashMap<Name, u16>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// RFC 1035 §4.1.4: replace the longest suffix already in the message by a pointer.
    /// Pointers hold 14 bits, so only suffixes starting below 0x4000 are remembered.
    fn name(&mut self, n: &Name, compress: bool) {
        let lower = n.to_lower();
        for i in 0..n.labels().len() {
            let suffix = lower.suffix(i);
            if compress && let Some(&off) = self.names.get(&suffix) {
                self.u16(0xC000 | off);
                return;
            }
            if self.buf.len() < 0x4000 {
                self.names.insert(suffix, self.buf.len() as u16);
            }
            let label = &n.labels()[i];
            self.buf.push(label.len() as u8);
            self.buf.extend_from_slice(label);
        }
        self.buf.push(0);
    }

    fn record(&mut self, r: &Record) {
        self.name(&r.name, true);
        self.u16(r.rtype);
        self.u16(r.class);
        self.u32(r.ttl);
        let len_at = self.buf.len();
        self.u16(0);
        // Compression inside RDATA only for the RFC 1035 types (RFC 3597 §4).
        match &r.data {
            RData::A(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Ns(n) | RData::Cname(n) => self.name(n, true),
            RData::Mx {
                preference,
                exchange,
            } => {
                self.u16(*preference);
                self.name(exchange, true);
            }
            RData::Soa(s) => {
                self.name(&s.mname, true);
                self.name(&s.rname, true);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    self.u32(v);
                }
            }
            RData::Txt(strings) => {
                for s in strings {
                    let s = &s[..s.len().min(255)];
                    self.buf.push(s.len() as u8);
                    self.buf.extend_from_slice(s);
                }
            }
            RData::Other(b) => self.buf.extend_from_slice(b),
        }
        let len = (self.buf.len() - len_at - 2).min(usize::from(u16::MAX)) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// Mnemonic for a type (zone files, logs).
pub fn type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        rtype::A => "A",
        rtype::NS => "NS",
        rtype::CNAME => "CNAME",
        rtype::SOA => "SOA",
        rtype::MX => "MX",
        rtype::TXT => "TXT",
        rtype::AAAA => "AAAA",
        rtype::OPT => "OPT",
        rtype::ANY => "ANY",
        _ => return None,
    })
}

/// The type for a mnemonic (case-insensitive).
pub fn type_from_name(s: &str) -> Option<u16> {
    [
        rtype::A,
        rtype::NS,
        rtype::CNAME,
        rtype::SOA,
        rtype::MX,
        rtype::TXT,
        rtype::AAAA,
    ]
    .into_iter()
    .find(|&t| type_name(t).is_some_and(|n| n.eq_ignore_ascii_case(s)))
}
