//! Domain names (RFC 1035 §3.1): parsing with compression pointers, case-insensitive comparison.

use std::fmt;

/// RFC 1035 §2.3.4: a label is at most 63 octets.
pub const MAX_LABEL: usize = 63;
/// RFC 1035 §2.3.4: a name is at most 255 octets on the wire (length octets included).
pub const MAX_NAME: usize = 255;
/// Most compression pointers we follow in one name (each must also point backwards).
const MAX_POINTERS: usize = 128;

/// Why a message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The message ends inside a field.
    Truncated,
    /// A compression pointer points at or after itself (a loop) or past the end.
    BadPointer,
    /// A label length byte with the reserved 01/10 prefix (RFC 1035 §4.1.4, RFC 6891 §5).
    BadLabel,
    /// A name longer than 255 octets.
    NameTooLong,
    /// Anything else the format forbids (count mismatch, bad RDATA length...).
    Malformed,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Truncated => "message truncated",
            ParseError::BadPointer => "bad compression pointer",
            ParseError::BadLabel => "bad label type",
            ParseError::NameTooLong => "name longer than 255 octets",
            ParseError::Malformed => "malformed message",
        })
    }
}

/// A domain name as a list of labels, in the case it was given (compare with `eq_ignore_case`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    pub fn root() -> Name {
        Name { labels: Vec::new() }
    }

    /// From labels; None if a label is empty or too long, or the name is too long.
    pub fn from_labels(labels: Vec<Vec<u8>>) -> Option<Name> {
        let n = Name { labels };
        let ok = n
            .labels
            .iter()
            .all(|l| !l.is_empty() && l.len() <= MAX_LABEL)
            && n.wire_len() <= MAX_NAME;
        ok.then_some(n)
    }

    /// Parse presentation text `www.lab.test.` (a trailing dot is optional; `.` is the root).
    /// No escapes: labels are the bytes between dots.
    pub fn parse_text(s: &str) -> Option<Name> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Some(Name::root());
        }
        Name::from_labels(s.split('.').map(|l| l.as_bytes().to_vec()).collect())
    }

    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// Octets on the wire without compression (each label + its length, + the root octet).
    pub fn wire_len(&self) -> usize {
        self.labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }

    /// RFC 1035 §2.3.3: comparisons are case-insensitive (ASCII).
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.labels.len() == other.labels.len()
            && self
                .labels
                .iter()
                .zip(&other.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// True if `self` is `zone` or below it.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        let (n, z) = (self.labels.len(), zone.labels.len());
        n >= z
            && self.labels[n - z..]
                .iter()
                .zip(&zone.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// The name with `prefix` labels prepended (for relative names in a zone file).
    pub fn prepend(&self, prefix: &Name) -> Option<Name> {
        let mut labels = prefix.labels.clone();
        labels.extend(self.labels.iter().cloned());
        Name::from_labels(labels)
    }

    /// Lower-cased copy, a key for compression and lookups.
    pub fn to_lower(&self) -> Name {
        Name {
            labels: self.labels.iter().map(|l| l.to_ascii_lowercase()).collect(),
        }
    }

    /// The suffix after dropping the first `skip` labels.
    pub fn suffix(&self, skip: usize) -> Name {
        Name {
            labels: self.labels.get(skip..).unwrap_or(&[]).to_vec(),
        }
    }

    /// Read a name at `pos` in `msg`, following compression pointers (RFC 1035 §4.1.4).
    /// Returns the name and the offset just after it in the original position.
    /// Every pointer must point strictly before where the current run of labels began (the
    /// name's start, or the previous pointer's target), so targets strictly decrease: no loops.
    pub fn read(msg: &[u8], pos: usize) -> Result<(Name, usize), ParseError> {
        let mut labels = Vec::new();
        let mut wire = 1usize; // the root octet
        let mut at = pos;
        let mut run_start = pos;
        let mut end = None; // where the name ends in the original position
        let mut hops = 0;
        loop {
            let len = *msg.get(at).ok_or(ParseError::Truncated)?;
            match len & 0xC0 {
                0x00 if len == 0 => {
                    let after = end.unwrap_or(at + 1);
                    return Ok((Name { labels }, after));
                }
                0x00 => {
                    let l = len as usize;
                    let label = msg.get(at + 1..at + 1 + l).ok_or(ParseError::Truncated)?;
                    wire += l + 1;
                    if wire > MAX_NAME {
                        return Err(ParseError::NameTooLong);
                    }
                    labels.push(label.to_vec());
                    at += 1 + l;
                }
                0xC0 => {
                    let lo = *msg.get(at + 1).ok_or(ParseError::Truncated)?;
                    let target = (usize::from(len & 0x3F) << 8) | usize::from(lo);
                    hops += 1;
                    if target >= run_start || hops > MAX_POINTERS {
                        return Err(ParseError::BadPointer);
                    }
                    end.get_or_insert(at + 2);
                    at = target;
                    run_start = target;
                }
                _ => return Err(ParseError::BadLabel),
            }
        }
    }
}

impl fmt::Display for Name {
    /// Presentation form with a trailing dot; non-printable bytes and dots as `\DDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for l in &self.labels {
            for &b in l {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", b as char)?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}
