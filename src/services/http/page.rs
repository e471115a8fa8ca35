//! `GET /page?n=N`: an HTML page that references N small objects, and `GET /obj/K` (a
//! ≈300-byte SVG image each), to measure "loading many small resources" over 1 connection
//! vs 6, with and without keep-alive.

/// Objects on `/page` without `?n=`.
pub const DEFAULT_OBJECTS: u64 = 50;
/// Most objects on one page.
pub const MAX_OBJECTS: u64 = 1000;
/// Largest K in `/obj/K`.
pub const MAX_OBJ: u64 = 999_999;
/// Every object is exactly this long.
pub const OBJ_LEN: usize = 300;

/// A response body and its type, or an error status.
pub(super) enum Reply {
    Ok {
        content_type: &'static str,
        body: Vec<u8>,
    },
    Err {
        status: u16,
        reason: &'static str,
        body: &'static str,
    },
}

/// True if `path` (without the query) is one of ours.
pub(super) fn handles(path: &str) -> bool {
    path == "/page" || path.starts_with("/obj/")
}

/// Answer `target` (path and query), or None if not ours.
pub(super) fn route(target: &str) -> Option<Reply> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/page" {
        return Some(match objects(query) {
            Some(n) => Reply::Ok {
                content_type: "text/html; charset=utf-8",
                body: page(n).into_bytes(),
            },
            None => Reply::Err {
                status: 400,
                reason: "Bad Request",
                body: "400 /page?n=N needs 0 <= N <= 1000\n",
            },
        });
    }
    let k = path.strip_prefix("/obj/")?;
    Some(match decimal(k).filter(|&k| k <= MAX_OBJ) {
        Some(k) => Reply::Ok {
            content_type: "image/svg+xml",
            body: object(k),
        },
        None => Reply::Err {
            status: 404,
            reason: "Not Found",
            body: "404 /obj/K needs 0 <= K <= 999999\n",
        },
    })
}

fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `n=N` from a query string (other parameters ignored); default 50.
fn objects(query: &str) -> Option<u64> {
    let mut n = DEFAULT_OBJECTS;
    for kv in query.split('&') {
        if let Some(v) = kv.strip_prefix("n=") {
            n = decimal(v)?;
        }
    }
    (n <= MAX_OBJECTS).then_some(n)
}

/// The HTML page: one `<img>` per object, in order.
pub fn page(n: u64) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><title>{n} objects</title></head>\n<body>\n\
         <h1>{n} small objects</h1>\n<p>Each image below is a separate request to /obj/K.</p>\n"
    );
    for k in 0..n {
        s.push_str(&format!(
            "<img src=\"/obj/{k}\" width=\"16\" height=\"16\" alt=\"{k}\">\n"
        ));
    }
    s.push_str("</body></html>\n");
    s
}

/// Object K: a 16×16 SVG square whose colour depends on K, padded to `OBJ_LEN` bytes.
pub fn object(k: u64) -> Vec<u8> {
    let colour = (k.wrapping_mul(2_654_435_761)) & 0xFF_FFFF;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\">\
         <rect width=\"16\" height=\"16\" fill=\"#{colour:06x}\"/><!-- object {k} "
    );
    let tail = " --></svg>\n";
    while s.len() + tail.len() < OBJ_LEN {
        s.push('.');
    }
    s.push_str(tail);
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_n_objects_and_bounds_n() {
        let body = |t: &str| match route(t) {
            Some(Reply::Ok { body, .. }) => Some(String::from_utf8(body).unwrap()),
            _ => None,
        };
        let p = body("/page").unwrap();
        assert_eq!(p.matches("<img src=\"/obj/").count(), 50);
        assert!(p.contains("/obj/49\"") && !p.contains("/obj/50\""));
        assert_eq!(body("/page?n=7").unwrap().matches("<img").count(), 7, "n=7");
        assert_eq!(body("/page?x=1&n=0").unwrap().matches("<img").count(), 0);
        assert_eq!(body("/page?n=1000").unwrap().matches("<img").count(), 1000);
        for bad in ["/page?n=1001", "/page?n=", "/page?n=-1", "/page?n=1e3"] {
            assert!(
                matches!(route(bad), Some(Reply::Err { status: 400, .. })),
                "{bad}"
            );
        }
        assert!(route("/other").is_none());
    }

    #[test]
    fn objects_are_fixed_size_distinct_svg() {
        let a = object(0);
        let b = object(1);
        assert_eq!(a.len(), OBJ_LEN);
        assert_eq!(object(MAX_OBJ).len(), OBJ_LEN);
        assert_ne!(a, b);
        assert!(String::from_utf8(b).unwrap().contains("object 1 "));
        assert!(matches!(
            route("/obj/12"),
            Some(Reply::Ok {
                content_type: "image/svg+xml",
                ..
            })
        ));
        for bad in ["/obj/", "/obj/x", "/obj/1000000", "/obj/-1"] {
            assert!(
                matches!(route(bad), Some(Reply::Err { status: 404, .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn keep_alive_serves_page_and_objects_then_honours_connection_close() {
        let mut req = b"GET /page?n=3 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        for k in 0..3 {
            req.extend_from_slice(format!("GET /obj/{k} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        }
        req.extend_from_slice(b"GET /obj/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        // Never answered: the server closed after the `Connection: close` request.
        req.extend_from_slice(b"GET /obj/8 HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut out = Vec::new();
        let mut s = Duplex(std::io::Cursor::new(req), &mut out);
        super::super::serve_conn(&mut s).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 5, "{out}");
        assert_eq!(out.matches("Content-Type: image/svg+xml").count(), 4);
        assert_eq!(out.matches("Connection: close").count(), 1);
        assert!(out.contains("object 9 ") && !out.contains("object 8 "));
        let last = out.rfind("HTTP/1.1 200").unwrap();
        assert!(out[last..].contains("Connection: close"));
    }

    struct Duplex<'a>(std::io::Cursor<Vec<u8>>, &'a mut Vec<u8>);
    impl std::io::Read for Duplex<'_> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(b)
        }
    }
    impl std::io::Write for Duplex<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1.write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
