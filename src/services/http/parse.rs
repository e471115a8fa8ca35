//! HTTP/1.1 request heads (RFC 9112 §2-§3, §6): a bounded parser that never panics.

/// Largest request head (request line + headers) we accept.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields we accept.
pub const MAX_HEADERS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    /// RFC 9112 §7.1
    Chunked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// RFC 9112 §9.3: persistent unless "close" (1.1) / unless "keep-alive" (1.0).
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request we answer with an error status and then close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestError {
    pub status: u16,
    pub reason: &'static str,
}

fn bad(reason: &'static str) -> RequestError {
    RequestError {
        status: 400,
        reason,
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parse a request head from the start of `buf`. `Ok(None)` = incomplete (read more);
/// `Ok(Some((req, n)))` = the head took `n` bytes.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(Request, usize)>, RequestError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(RequestError {
                status: 431,
                reason: "request header fields too large",
            });
        }
        return Ok(None);
    };
    if end + 4 > MAX_HEAD {
        return Err(RequestError {
            status: 431,
            reason: "request header fields too large",
        });
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("request head is not UTF-8"))?;
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    let head = head.trim_start_matches("\r\n");
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad("malformed method"));
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("malformed request target"));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => {
            return Err(RequestError {
                status: 505,
                reason: "HTTP version not supported",
            });
        }
    };
    let mut headers = Vec::new();
    for l in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(RequestError {
                status: 431,
                reason: "too many header fields",
            });
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(bad("header line without ':'"));
        };
        // RFC 9112 §5.1: no whitespace between the field name and the colon.
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(bad("malformed header name"));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        minor,
        headers,
        body: Body::None,
        keep_alive: minor == 1,
    };
    req.body = body_of(&req)?;
    if let Some(c) = req.header("connection").map(str::to_string) {
        for opt in c.split(',').map(str::trim) {
            if opt.eq_ignore_ascii_case("close") {
                req.keep_alive = false;
            } else if opt.eq_ignore_ascii_case("keep-alive") && minor == 0 {
                req.keep_alive = true;
            }
        }
    }
    Ok(Some((req, end + 4)))
}

/// RFC 9112 §6.3: how long the body is.
fn body_of(req: &Request) -> Result<Body, RequestError> {
    let te: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .map(|(_, v)| v.as_str())
        .collect();
    let cl: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str())
        .collect();
    if !te.is_empty() {
        // §6.1: Transfer-Encoding and Content-Length together smell of request smuggling.
        if !cl.is_empty() {
            return Err(bad("both Transfer-Encoding and Content-Length"));
        }
        let all = te.join(",");
        let codings: Vec<&str> = all.split(',').map(str::trim).collect();
        if codings.len() == 1 && codings[0].eq_ignore_ascii_case("chunked") {
            return Ok(Body::Chunked);
        }
        return Err(RequestError {
            status: 501,
            reason: "unsupported transfer coding",
        });
    }
    let mut len = None;
    for v in cl.iter().flat_map(|v| v.split(',')).map(str::trim) {
        let n = parse_decimal(v).ok_or(bad("malformed Content-Length"))?;
        if len.is_some_and(|l| l != n) {
            return Err(bad("conflicting Content-Length"));
        }
        len = Some(n);
    }
    Ok(len.map_or(Body::None, Body::Length))
}

/// Digits only, at most 19 of them (fits u64).
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A chunk-size line (RFC 9112 §7.1): hex digits, optional `;ext`. At most 15 hex digits.
pub fn parse_chunk_size(line: &str) -> Option<u64> {
    let size = line.split(';').next().unwrap_or("").trim();
    if size.is_empty() || size.len() > 15 {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}
