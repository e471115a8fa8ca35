//! The minimal HTTP/1.1 service of the smoltcp driver (RFC 9112): `GET`/`HEAD` of `/` and
//! `/bytes/N`, keep-alive and pipelining; no request bodies.

use super::{
    BYTES_BLOCK, Conn, HTTP_IN_MAX, Kind, MAX_BYTES, Outcome, Patterns, read_all, send_some,
};
use crate::link::endpoint::TcpEndpoint;
use crate::services::parse_request_head;
use crate::socket::SocketError;
use crate::time::Instant;

#[derive(Default)]
pub(super) struct Http {
    inbuf: Vec<u8>,
    /// Head (or a whole small response) still to send.
    out: Vec<u8>,
    out_off: usize,
    /// `/bytes/N` body: bytes still to send, and bytes sent so far.
    body_left: u64,
    body_pos: u64,
    /// Close once the current response is sent.
    close_after: bool,
}

/// A response head (RFC 9112 §4, §6.2) with `len` body bytes.
fn head(status: u16, reason: &str, len: u64, close: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: tunstack-smoltcp\r\nContent-Length: {len}\r\n"
    );
    if close {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn small(status: u16, reason: &str, body: &str, close: bool, head_only: bool) -> Vec<u8> {
    let mut out = head(status, reason, body.len() as u64, close);
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Parse the next request in `inbuf` (if complete) and queue its response.
fn next_request(h: &mut Http, counters: &mut u64) {
    let (req, used) = match parse_request_head(&h.inbuf) {
        Ok(Some(x)) => x,
        Ok(None) => {
            if h.inbuf.len() >= HTTP_IN_MAX {
                h.out = small(431, "Request Header Fields Too Large", "431\n", true, false);
                h.close_after = true;
            }
            return;
        }
        Err(err) => {
            let body = format!("{} {}\n", err.status, err.reason);
            h.out = small(err.status, "Error", &body, true, false);
            h.close_after = true;
            return;
        }
    };
    *counters += 1;
    h.inbuf.drain(..used.min(h.inbuf.len()));
    h.out_off = 0;
    h.close_after = !req.keep_alive;
    let head_only = req.method == "HEAD";
    let path = req.target.split('?').next().unwrap_or("");
    if req.method != "GET" && !head_only {
        // No request bodies here: answer and close rather than skip one.
        h.out = small(
            405,
            "Method Not Allowed",
            "405 only GET and HEAD\n",
            true,
            false,
        );
        h.close_after = true;
        return;
    }
    if path == "/" {
        let body = "tunstack on smoltcp: GET /bytes/N for N bytes\n";
        h.out = small(200, "OK", body, h.close_after, head_only);
        return;
    }
    let Some(n) = path.strip_prefix("/bytes/") else {
        h.out = small(404, "Not Found", "404\n", h.close_after, head_only);
        return;
    };
    let digits = !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit());
    match n.parse::<u64>() {
        Ok(n) if digits && n <= MAX_BYTES => {
            h.out = head(200, "OK", n, h.close_after);
            h.body_left = if head_only { 0 } else { n };
            h.body_pos = 0;
        }
        Ok(_) if digits => {
            h.out = small(413, "Content Too Large", "413\n", h.close_after, head_only);
        }
        _ => {
            h.out = small(
                400,
                "Bad Request",
                "400 /bytes/N\n",
                h.close_after,
                head_only,
            );
        }
    }
}

pub(super) fn step_http<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    p: &Patterns,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    let Kind::Http(mut h) = std::mem::replace(&mut c.kind, Kind::Discard) else {
        return Ok(Outcome::Open);
    };
    let r = http_loop(c, e, now, p, scratch, &mut h);
    c.kind = Kind::Http(h);
    r
}

fn http_loop<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    p: &Patterns,
    scratch: &mut [u8],
    h: &mut Http,
) -> Result<Outcome, SocketError> {
    loop {
        let room = HTTP_IN_MAX.saturating_sub(h.inbuf.len());
        read_all(c, e, now, scratch, room, |b| h.inbuf.extend_from_slice(b))?;
        let mut moved = false;
        // Send the head (or small response), then the body.
        if h.out_off < h.out.len() {
            let n = send_some(c, e, now, h.out.get(h.out_off..).unwrap_or_default())?;
            h.out_off += n;
            moved |= n > 0;
        }
        while h.out_off >= h.out.len() && h.body_left > 0 {
            let off = (h.body_pos % BYTES_BLOCK as u64) as usize;
            let chunk = p.bytes.get(off..).unwrap_or_default();
            let k = chunk.len().min(h.body_left.min(usize::MAX as u64) as usize);
            let n = send_some(c, e, now, chunk.get(..k).unwrap_or_default())?;
            if n == 0 {
                break;
            }
            h.body_left -= n as u64;
            h.body_pos += n as u64;
            moved = true;
        }
        let idle = h.out_off >= h.out.len() && h.body_left == 0;
        if !idle {
            if !moved {
                return Ok(Outcome::Open);
            }
            continue;
        }
        if h.close_after {
            return Ok(Outcome::Close);
        }
        h.out.clear();
        h.out_off = 0;
        next_request(h, &mut c.requests);
        if h.out.is_empty() {
            // No complete request: close at the peer's FIN, else wait for more.
            if c.eof {
                return Ok(Outcome::Close);
            }
            return Ok(Outcome::Open);
        }
    }
}
