//! An authoritative zone: a simple text format, a built-in lab zone, and lookups
//! (RFC 1034 §4.3.2 for one zone, no wildcards, no delegations).
//!
//! Format, one record a line: `NAME TTL [IN] TYPE VALUE`. `;` or `#` starts a comment.
//! NAME ending in `.` is absolute; otherwise relative to the origin; `@` is the origin.
//! The origin is the owner of the one SOA line (which must be absolute).
//! VALUE: A `198.18.0.2`; AAAA `2001:db8::2`; NS/CNAME a name; MX `PREF NAME`;
//! TXT one or more `"quoted strings"` (`\"` and `\\` escapes) or bare words;
//! SOA `MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::message::{CLASS_IN, Name, RData, Record, Soa, rcode, rtype, type_from_name};

/// How many CNAMEs we follow inside the zone for one answer.
const MAX_CHAIN: usize = 8;

#[derive(Clone, Debug)]
pub struct Zone {
    origin: Name,
    soa: Record,
    records: Vec<Record>,
}

/// The result of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The name is outside this zone: we are not authoritative (RCODE REFUSED).
    Refused,
    Found {
        rcode: u16,
        answers: Vec<Record>,
        authority: Vec<Record>,
        additional: Vec<Record>,
    },
}

/// Split a line into tokens: whitespace-separated words or `"quoted strings"`; stops at a
/// comment. Quoted tokens are returned with their quotes so TXT can tell them apart.
fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' || c == '#' {
            break;
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted string".into()),
                    Some('"') => break,
                    Some('\\') => s.push(chars.next().ok_or("dangling backslash")?),
                    Some(x) => s.push(x),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() || x == '"' {
                    break;
                }
                s.push(x);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

fn name_in(s: &str, origin: Option<&Name>) -> Result<Name, String> {
    if s == "@" {
        return origin
            .cloned()
            .ok_or_else(|| "@ before the SOA".to_string());
    }
    let n = Name::parse_text(s).ok_or_else(|| format!("bad name {s:?}"))?;
    if s.ends_with('.') {
        return Ok(n);
    }
    let o = origin.ok_or_else(|| format!("relative name {s:?} but no SOA yet"))?;
    o.prepend(&n)
        .ok_or_else(|| format!("name {s:?} too long in {o}"))
}

fn num<T: std::str::FromStr>(s: Option<&String>, what: &str) -> Result<T, String> {
    let s = s.ok_or_else(|| format!("missing {what}"))?;
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

/// Parse one record from its tokens.
fn record(t: &[String], origin: Option<&Name>) -> Result<Record, String> {
    let owner = name_in(t.first().ok_or("empty")?, origin)?;
    let ttl: u32 = num(t.get(1), "TTL")?;
    // RFC 2181 §8: TTLs are 31-bit.
    if ttl > i32::MAX as u32 {
        return Err(format!("TTL {ttl} above 2^31-1"));
    }
    let mut i = 2;
    if t.get(i).is_some_and(|c| c.eq_ignore_ascii_case("IN")) {
        i += 1;
    }
    let ty_s = t.get(i).ok_or("missing TYPE")?;
    let ty = type_from_name(ty_s).ok_or_else(|| format!("unsupported type {ty_s:?}"))?;
    let v = &t[i + 1..];
    let one = |what: &str| -> Result<&String, String> {
        match v {
            [x] => Ok(x),
            _ => Err(format!("{ty_s} needs one {what}")),
        }
    };
    let data = match ty {
        rtype::A => RData::A(
            one("IPv4 address")?
                .parse::<Ipv4Addr>()
                .map_err(|e| e.to_string())?,
        ),
        rtype::AAAA => RData::Aaaa(
            one("IPv6 address")?
                .parse::<Ipv6Addr>()
                .map_err(|e| e.to_string())?,
        ),
        rtype::NS => RData::Ns(name_in(one("name")?, origin)?),
        rtype::CNAME => RData::Cname(name_in(one("name")?, origin)?),
        rtype::MX => {
            if v.len() != 2 {
                return Err("MX needs PREFERENCE NAME".into());
            }
            RData::Mx {
                preference: num(v.first(), "MX preference")?,
                exchange: name_in(&v[1], origin)?,
            }
        }
        rtype::TXT => {
            if v.is_empty() {
                return Err("TXT needs at least one string".into());
            }
            let mut strings = Vec::new();
            for s in v {
                let s = s.strip_prefix('"').unwrap_or(s);
                if s.len() > 255 {
                    return Err("a TXT string is at most 255 bytes (RFC 1035 §3.3)".into());
                }
                strings.push(s.as_bytes().to_vec());
            }
            RData::Txt(strings)
        }
        _ => {
            // SOA: its owner is the origin, so relative names resolve against it.
            if v.len() != 7 {
                return Err("SOA needs MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM".into());
            }
            let o = Some(origin.unwrap_or(&owner));
            RData::Soa(Soa {
                mname: name_in(&v[0], o)?,
                rname: name_in(&v[1], o)?,
                serial: num(v.get(2), "serial")?,
                refresh: num(v.get(3), "refresh")?,
                retry: num(v.get(4), "retry")?,
                expire: num(v.get(5), "expire")?,
                minimum: num(v.get(6), "minimum")?,
            })
        }
    };
    Ok(Record {
        name: owner,
        rtype: ty,
        class: CLASS_IN,
        ttl,
        data,
    })
}

impl Zone {
    /// Parse a zone file; errors name the line.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let lines: Vec<(usize, Vec<String>)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| tokens(l).map(|t| (i + 1, t)))
            .collect::<Result<Vec<_>, String>>()?
            .into_iter()
            .filter(|(_, t)| !t.is_empty())
            .collect();
        // First the SOA: it fixes the origin.
        let soa_lines: Vec<_> = lines
            .iter()
            .filter(|(_, t)| {
                let ty = match t.get(2) {
                    Some(c) if c.eq_ignore_ascii_case("IN") => t.get(3),
                    c => c,
                };
                ty.is_some_and(|x| x.eq_ignore_ascii_case("SOA"))
            })
            .collect();
        let [(soa_no, soa_t)] = soa_lines[..] else {
            return Err(format!(
                "a zone needs exactly one SOA record (found {})",
                soa_lines.len()
            ));
        };
        if !soa_t[0].ends_with('.') {
            return Err(format!(
                "line {soa_no}: the SOA owner must be absolute (end in '.')"
            ));
        }
        let soa = record(soa_t, None).map_err(|e| format!("line {soa_no}: {e}"))?;
        let origin = soa.name.clone();
        let mut records = Vec::new();
        for (no, t) in &lines {
            if *no == *soa_no {
                continue;
            }
            let r = record(t, Some(&origin)).map_err(|e| format!("line {no}: {e}"))?;
            if !r.name.is_subdomain_of(&origin) {
                return Err(format!(
                    "line {no}: {} is outside the zone {origin}",
                    r.name
                ));
            }
            records.push(r);
        }
        // RFC 1034 §3.6.2: a CNAME owner has no other data.
        for r in records.iter().filter(|r| r.rtype == rtype::CNAME) {
            let others = records
                .iter()
                .chain(std::iter::once(&soa))
                .filter(|x| x.name.eq_ignore_case(&r.name))
                .count();
            if others > 1 {
                return Err(format!(
                    "{}: a CNAME cannot share its name with other records",
                    r.name
                ));
            }
        }
        Ok(Zone {
            origin,
            soa,
            records,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Zone, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Zone::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The built-in lab zone (`lab.test.`, see `builtin_text`).
    pub fn builtin() -> Zone {
        match Zone::parse(&builtin_text()) {
            Ok(z) => z,
            Err(e) => unreachable!("the built-in zone is valid (a unit test checks): {e}"),
        }
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// Every record (the SOA first).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(&self.soa).chain(&self.records)
    }

    fn at<'a>(&'a self, name: &'a Name) -> impl Iterator<Item = &'a Record> + 'a {
        self.records().filter(move |r| r.name.eq_ignore_case(name))
    }

    /// RFC 2308 §3: the SOA in a negative answer has TTL min(SOA TTL, MINIMUM).
    fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::Soa(s) = &soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        soa
    }

    /// Answer `qname`/`qtype` (RFC 1034 §4.3.2 steps 3a-3c, no wildcards). The first answer
    /// keeps the query's spelling of the owner name.
    pub fn lookup(&self, qname: &Name, qtype: u16) -> Lookup {
        if !qname.is_subdomain_of(&self.origin) {
            return Lookup::Refused;
        }
        let mut answers: Vec<Record> = Vec::new();
        let mut name = qname.clone();
        let mut rc = rcode::NOERROR;
        let mut negative = false;
        for _ in 0..MAX_CHAIN {
            let here: Vec<&Record> = self.at(&name).collect();
            if here.is_empty() {
                // An empty non-terminal exists (NODATA); otherwise NXDOMAIN (RFC 8020).
                let exists = self.records().any(|r| r.name.is_subdomain_of(&name));
                if !exists {
                    rc = rcode::NXDOMAIN;
                }
                negative = true;
                break;
            }
            let with_owner = |r: &Record| Record {
                name: name.clone(),
                ..r.clone()
            };
            if qtype != rtype::CNAME
                && qtype != rtype::ANY
                && let Some(c) = here.iter().find(|r| r.rtype == rtype::CNAME)
            {
                answers.push(with_owner(c));
                let RData::Cname(target) = &c.data else {
                    break;
                };
                if !target.is_subdomain_of(&self.origin) {
                    break; // the resolver follows it elsewhere
                }
                name = target.clone();
                continue;
            }
            let matching: Vec<Record> = here
                .iter()
                .filter(|r| qtype == rtype::ANY || r.rtype == qtype)
                .map(|r| with_owner(r))
                .collect();
            negative = matching.is_empty();
            answers.extend(matching);
            break;
        }
        let authority = if negative {
            vec![self.negative_soa()]
        } else {
            Vec::new()
        };
        Lookup::Found {
            rcode: rc,
            additional: self.additional_for(&answers),
            answers,
            authority,
        }
    }

    /// RFC 1035 §3.3.9/§3.3.11: addresses of MX and NS targets in the zone.
    fn additional_for(&self, answers: &[Record]) -> Vec<Record> {
        let mut out: Vec<Record> = Vec::new();
        for r in answers {
            let target = match &r.data {
                RData::Mx { exchange, .. } => exchange,
                RData::Ns(n) => n,
                _ => continue,
            };
            for a in self.at(target) {
                if matches!(a.rtype, rtype::A | rtype::AAAA) && !out.contains(a) {
                    out.push(a.clone());
                }
            }
        }
        out
    }
}

/// Strings in `big.lab.test` TXT: enough that the answer (≈2.5 kB) exceeds EDNS's 1232.
pub const BIG_TXT_COUNT: usize = 30;
/// Strings in `medium.lab.test` TXT: the answer (≈800 B) exceeds 512 but fits in 1232.
pub const MEDIUM_TXT_COUNT: usize = 10;

/// String `i` of the `of` TXT records of `big` or `medium`.
pub fn filler_txt(i: usize, of: usize) -> String {
    format!("part {i:02} of {of:02}: the quick brown fox jumps over the lazy dog 0123456789")
}

/// The built-in zone for labs.
pub fn builtin_text() -> String {
    let mut z = String::from(
        "; tunstack built-in lab zone\n\
         lab.test.  3600 IN SOA ns1.lab.test. hostmaster.lab.test. 2026112501 3600 600 86400 60\n\
         @          3600 NS    ns1.lab.test.\n\
         @          300  A     198.18.0.2\n\
         @          300  MX    10 mail.lab.test.\n\
         @          300  TXT   \"tunstack lab zone\"\n\
         ns1        300  A     198.18.0.2\n\
         www        300  A     198.18.0.2\n\
         www        300  AAAA  2001:db8::2\n\
         mail       300  A     198.18.0.25\n\
         mail       300  AAAA  2001:db8::25\n\
         alias      300  CNAME www.lab.test.\n\
         chain      300  CNAME alias.lab.test.\n\
         external   300  CNAME www.example.com.\n\
         short      5    A     198.18.0.5     ; TTL 5 s: watch a cache expire\n\
         multi      60   A     198.18.0.10\n\
         multi      60   A     198.18.0.11\n\
         multi      60   A     198.18.0.12\n\
         txt        300  TXT   \"hello from tunstack\" \"second string\"\n\
         host.sub   300  A     198.18.0.20    ; sub.lab.test is an empty non-terminal\n",
    );
    for (name, n) in [("big", BIG_TXT_COUNT), ("medium", MEDIUM_TXT_COUNT)] {
        for i in 1..=n {
            z.push_str(&format!("{name} 300 TXT \"{}\"\n", filler_txt(i, n)));
        }
    }
    z
}
