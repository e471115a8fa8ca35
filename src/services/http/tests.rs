use std::io::{self, Cursor, Read, Write};

use super::parse::{Body, parse_chunk_size};
use super::*;

/// A client's bytes in, the server's bytes out.
struct Mem {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Trickle: at most 7 bytes per read, to exercise partial heads and bodies.
        let n = buf.len().min(7);
        self.input.read(&mut buf[..n])
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run(req: &[u8]) -> String {
    let mut m = Mem {
        input: Cursor::new(req.to_vec()),
        output: Vec::new(),
    };
    let _ = serve_conn(&mut m);
    String::from_utf8_lossy(&m.output).into_owned()
}

#[test]
fn get_index_and_keep_alive_pipelining() {
    let out = run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/5 HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Hello from tunstack"));
    assert!(out.ends_with("Content-Length: 5\r\n\r\nabcde"), "{out}");
}

#[test]
fn bytes_head_and_limits() {
    let out = run(b"HEAD /bytes/100 HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(out.contains("Content-Length: 100\r\n"));
    assert!(out.ends_with("\r\n\r\n"), "HEAD has no body: {out}");
    assert!(run(b"GET /bytes/10000000001 HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 413"));
    assert!(run(b"GET /bytes/1x HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(run(b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(run(b"DELETE / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    assert!(run(b"GET /sink HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
}

#[test]
fn sink_counts_content_length_and_chunked_bodies() {
    let out = run(b"POST /sink HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert!(out.contains("bytes=3\n"), "{out}");
    assert!(
        out.contains("sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let out = run(
        b"POST /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: v\r\n\r\nGET /bytes/1 HTTP/1.1\r\n\r\n",
    );
    assert!(out.contains("bytes=3\nsha256=ba7816bf"), "{out}");
    assert!(
        out.ends_with("\r\n\r\na"),
        "the pipelined request after the body: {out}"
    );
    assert!(
        run(b"POST /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            .starts_with("HTTP/1.1 400")
    );
}

#[test]
fn malformed_heads_are_rejected_not_panicked_on() {
    for bad in [
        &b"GET\r\n\r\n"[..],
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"G@T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / \xff\xfe\r\n\r\n",
    ] {
        let out = run(bad);
        assert!(
            out.starts_with("HTTP/1.1 400"),
            "{:?} -> {out}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(run(b"GET / HTTP/2.0\r\n\r\n").starts_with("HTTP/1.1 505"));
    assert!(run(b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").starts_with("HTTP/1.1 501"));
    let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 40_000));
    assert!(run(&huge).starts_with("HTTP/1.1 431"));
}

#[test]
fn parser_is_total_on_arbitrary_bytes() {
    // A deterministic byte soup: parse every prefix; must never panic.
    let mut rng = crate::rng::Rng::new(42);
    const ALPHABET: &[u8] = b"GET /:\r\n 1aZ\xff";
    for _ in 0..300 {
        let len = rng.below(200) as usize;
        let mut v: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
            .collect();
        v.extend_from_slice(b"\r\n\r\n");
        let _ = parse_request_head(&v);
        let _ = run(&v);
    }
}

#[test]
fn connection_header_and_versions() {
    let (r, _) = parse_request_head(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!r.keep_alive);
    let (r, _) = parse_request_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(r.keep_alive);
    let (r, n) = parse_request_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nrest")
        .unwrap()
        .unwrap();
    assert!(!r.keep_alive);
    assert_eq!(n, 37);
    assert_eq!(r.body, Body::None);
    assert_eq!(parse_request_head(b"GET / HTTP/1.1\r\n").unwrap(), None);
    assert_eq!(parse_chunk_size("1F;ext"), Some(31));
    assert_eq!(parse_chunk_size("fffffffffffffffff"), None);
}

#[test]
fn expect_100_continue_gets_an_interim_response() {
    let out = run(b"POST /sink HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab");
    assert!(
        out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{out}"
    );
    assert!(out.contains("bytes=2\n"), "{out}");
    let out = run(b"POST /sink HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
    assert!(!out.contains("100 Continue"), "{out}");
}
