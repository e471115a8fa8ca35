//! A small HTTP/1.1 server (RFC 9112) for testing the stack with curl and browsers.
//!
//! `GET /` a small page; `GET /bytes/N` N bytes (streamed, N ≤ 10^10);
//! `POST /sink` reads the body (Content-Length or chunked) and answers its length and SHA-256;
//! `GET /page?n=N` a page of N small objects, `GET /obj/K` one of them (see `page`).

mod page;
mod parse;
#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};
use std::time::Duration;

use parse::{Body, MAX_HEAD, parse_chunk_size, parse_decimal};
pub use parse::{Request, RequestError, parse_request_head};

use super::sha256::Sha256;
use crate::api::TcpStream;

/// Largest `/bytes/N`.
pub const MAX_BYTES: u64 = 10_000_000_000;
/// A connection idle this long between requests is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 4096;

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>tunstack</title></head>\n<body>\n\
<h1>Hello from tunstack</h1>\n<p>This page came over a userspace TCP/IP stack.</p>\n<ul>\n\
<li><a href=\"/bytes/1000000\">/bytes/1000000</a>: a megabyte of test data</li>\n\
<li>POST /sink: counts (and hashes) what you send</li>\n</ul>\n</body></html>\n";

/// A stream with a read buffer (requests may be pipelined).
struct Conn<S> {
    s: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<S: Read + Write> Conn<S> {
    fn new(s: S) -> Self {
        Conn {
            s,
            buf: vec![0; MAX_HEAD * 2],
            start: 0,
            end: 0,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Read more into the buffer; Ok(0) at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        let n = self.s.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Up to `max` body bytes (from the buffer first).
    fn read_some(&mut self, max: u64) -> io::Result<&[u8]> {
        if self.start == self.end && self.fill()? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body cut short",
            ));
        }
        let n = ((self.end - self.start) as u64).min(max) as usize;
        let s = self.start;
        self.start += n;
        Ok(&self.buf[s..s + n])
    }

    /// One CRLF-terminated line (without CRLF), at most MAX_LINE bytes.
    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buffered().windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffered()[..i]).into_owned();
                self.consume(i + 2);
                return Ok(line);
            }
            if self.end - self.start > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body cut short",
                ));
            }
        }
    }

    /// Read the body, passing each piece to `sink`. Returns its length.
    fn read_body(&mut self, body: &Body, sink: &mut dyn FnMut(&[u8])) -> io::Result<u64> {
        match body {
            Body::None => Ok(0),
            Body::Length(n) => {
                let mut left = *n;
                while left > 0 {
                    let piece = self.read_some(left)?;
                    left -= piece.len() as u64;
                    sink(piece);
                }
                Ok(*n)
            }
            Body::Chunked => {
                let mut total = 0u64;
                loop {
                    let line = self.read_line()?;
                    let size = parse_chunk_size(&line).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                    })?;
                    if size == 0 {
                        // Trailer section, then the empty line (RFC 9112 §7.1.2).
                        while !self.read_line()?.is_empty() {}
                        return Ok(total);
                    }
                    let mut left = size;
                    while left > 0 {
                        let piece = self.read_some(left)?;
                        left -= piece.len() as u64;
                        sink(piece);
                    }
                    total = total.saturating_add(size);
                    if !self.read_line()?.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "chunk not followed by CRLF",
                        ));
                    }
                }
            }
        }
    }
}

fn respond(
    w: &mut impl Write,
    status: u16,
    reason: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut h = format!(
        "HTTP/1.1 {status} {reason}\r\nServer: tunstack\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in extra {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    if !keep_alive {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    let mut out = h.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    w.write_all(&out)
}

fn error(w: &mut impl Write, e: RequestError) -> io::Result<()> {
    let body = format!("{} {}\n", e.status, e.reason);
    let reason = match e.status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    respond(w, e.status, reason, &[], body.as_bytes(), false, false)
}

/// Stream `n` bytes of a repeating pattern (a-z and newline every 64 bytes).
fn send_bytes(w: &mut impl Write, n: u64) -> io::Result<()> {
    let block: Vec<u8> = (0..64 * 1024)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        w.write_all(&block[..k])?;
        left -= k as u64;
    }
    Ok(())
}

/// Serve requests on one connection until it closes. Generic so tests can use in-memory streams.
pub(crate) fn serve_conn<S: Read + Write>(s: S) -> io::Result<()> {
    let mut c = Conn::new(s);
    loop {
        let (req, used) = loop {
            match parse_request_head(c.buffered()) {
                Ok(Some(x)) => break x,
                Ok(None) => {}
                Err(e) => return error(&mut c.s, e),
            }
            match c.fill() {
                Ok(0) => return Ok(()), // the client closed between requests
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return error(
                        &mut c.s,
                        RequestError {
                            status: 431,
                            reason: "request header fields too large",
                        },
                    );
                }
                Err(e) => return Err(e),
            }
        };
        c.consume(used);
        if !handle(&mut c, &req)? || !req.keep_alive {
            return Ok(());
        }
    }
}

/// Answer one request; false = close the connection.
fn handle<S: Read + Write>(c: &mut Conn<S>, req: &Request) -> io::Result<bool> {
    let ka = req.keep_alive;
    let head = req.method == "HEAD";
    let path = req.target.split('?').next().unwrap_or("");
    let get_like = req.method == "GET" || head;
    // RFC 9110 §10.1.1: a client waiting on "Expect: 100-continue" gets an interim response
    // before we read the body (curl otherwise waits a second before sending large uploads).
    let expects_continue = req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && req.minor == 1 && req.body != Body::None {
        c.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if path == "/sink" {
        if req.method != "POST" {
            respond(
                &mut c.s,
                405,
                "Method Not Allowed",
                &[("Allow", "POST")],
                b"405 use POST\n",
                false,
                false,
            )?;
            return Ok(false);
        }
        let mut sha = Sha256::new();
        let n = match c.read_body(&req.body, &mut |d| sha.update(d)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                error(
                    &mut c.s,
                    RequestError {
                        status: 400,
                        reason: "malformed chunked body",
                    },
                )?;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let body = format!("bytes={n}\nsha256={}\n", sha.hex());
        respond(
            &mut c.s,
            200,
            "OK",
            &[("Content-Type", "text/plain")],
            body.as_bytes(),
            ka,
            false,
        )?;
        return Ok(true);
    }
    // Other routes take no body: read and drop one if sent, to keep the connection in sync.
    if c.read_body(&req.body, &mut |_| {}).is_err() {
        error(
            &mut c.s,
            RequestError {
                status: 400,
                reason: "malformed body",
            },
        )?;
        return Ok(false);
    }
    let known = path == "/" || path.starts_with("/bytes/") || page::handles(path);
    if !known {
        respond(
            &mut c.s,
            404,
            "Not Found",
            &[],
            b"404 not found\n",
            ka,
            head,
        )?;
        return Ok(true);
    }
    if !get_like {
        respond(
            &mut c.s,
            405,
            "Method Not Allowed",
            &[("Allow", "GET, HEAD")],
            b"405 use GET\n",
            ka,
            false,
        )?;
        return Ok(true);
    }
    match page::route(&req.target) {
        Some(page::Reply::Ok { content_type, body }) => {
            let ct = [("Content-Type", content_type)];
            respond(&mut c.s, 200, "OK", &ct, &body, ka, head)?;
            return Ok(true);
        }
        Some(page::Reply::Err {
            status,
            reason,
            body,
        }) => {
            respond(&mut c.s, status, reason, &[], body.as_bytes(), ka, head)?;
            return Ok(true);
        }
        None => {}
    }
    if path == "/" {
        respond(
            &mut c.s,
            200,
            "OK",
            &[("Content-Type", "text/html; charset=utf-8")],
            INDEX.as_bytes(),
            ka,
            head,
        )?;
        return Ok(true);
    }
    let Some(n) = parse_decimal(&path["/bytes/".len()..]) else {
        respond(
            &mut c.s,
            400,
            "Bad Request",
            &[],
            b"400 /bytes/N needs a decimal N\n",
            ka,
            head,
        )?;
        return Ok(true);
    };
    if n > MAX_BYTES {
        respond(
            &mut c.s,
            413,
            "Content Too Large",
            &[],
            b"413 N is at most 10000000000\n",
            ka,
            head,
        )?;
        return Ok(true);
    }
    let mut h = format!(
        "HTTP/1.1 200 OK\r\nServer: tunstack\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\n"
    );
    if !ka {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    c.s.write_all(h.as_bytes())?;
    if !head {
        send_bytes(&mut c.s, n)?;
    }
    Ok(true)
}

pub(super) fn serve(s: TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(IDLE_TIMEOUT))?;
    serve_conn(s)
}
