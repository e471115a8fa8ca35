//! `GET /page` and its objects with curl over a real TUN device, in a namespace: one
//! keep-alive connection, six parallel connections, and a new connection per request.
//! Without root (or curl) it prints "SKIPPED: ..." and passes.

mod common;

use std::time::Duration;

use common::netns::{Netns, have_tool};

const BASE: &str = "http://198.18.0.2";
/// Objects on the default page.
const N: usize = 50;
const OBJ_LEN: usize = 300;

/// One `-w` line per transfer: new connections, status, size, URL.
const FORMAT: &str = "%{num_connects} %{http_code} %{size_download} %{url_effective}\\n";

struct Transfer {
    connects: usize,
    code: u16,
    size: usize,
    url: String,
}

fn curl(ns: &Netns, args: &[String]) -> (Vec<Transfer>, String) {
    let mut a: Vec<&str> = vec!["curl", "-sS", "--max-time", "30", "-w", FORMAT];
    a.extend(args.iter().map(String::as_str));
    let o = ns.exec(&a);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{a:?}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let transfers = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let [c, code, size, url] = f[..] else {
                return None;
            };
            Some(Transfer {
                connects: c.parse().ok()?,
                code: code.parse().ok()?,
                size: size.parse().ok()?,
                url: url.to_string(),
            })
        })
        .collect();
    (transfers, out)
}

/// The object URLs the page references, in order.
fn object_urls(page: &str) -> Vec<String> {
    page.split("<img src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|p| format!("{BASE}{p}"))
        .collect()
}

fn check_objects(t: &[Transfer], urls: &[String]) {
    assert_eq!(t.len(), urls.len());
    let mut got: Vec<&str> = t.iter().map(|x| x.url.as_str()).collect();
    got.sort();
    let mut want: Vec<&str> = urls.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want);
    for x in t {
        assert_eq!((x.code, x.size), (200, OBJ_LEN), "{}", x.url);
    }
}

#[test]
fn page_objects_over_one_six_and_fresh_connections() {
    if !have_tool("http_page", "curl") {
        return;
    }
    let Some(mut ns) = Netns::new("httppage") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&["up", "--serve", "http"]);
    assert!(
        ts.wait_ready(Duration::from_secs(20)),
        "not ready: {}",
        ts.stderr()
    );

    let page = ns.exec(&["curl", "-sS", "--max-time", "10", &format!("{BASE}/page")]);
    assert!(page.status.success());
    let page = String::from_utf8_lossy(&page.stdout).into_owned();
    let urls = object_urls(&page);
    assert_eq!(urls.len(), N, "{page}");
    assert_eq!(urls[0], format!("{BASE}/obj/0"));
    let small = ns.exec(&["curl", "-sS", &format!("{BASE}/page?n=3")]);
    assert_eq!(
        object_urls(&String::from_utf8_lossy(&small.stdout)).len(),
        3
    );

    // 1 connection: the page then every object, sequentially, keep-alive.
    let mut args = vec![format!("{BASE}/page")];
    args.extend(urls.iter().cloned());
    let args: Vec<String> = args
        .into_iter()
        .flat_map(|u| ["-o".to_string(), "/dev/null".to_string(), u])
        .collect();
    let (t, out) = curl(&ns, &args);
    assert_eq!(t.len(), N + 1, "{out}");
    assert_eq!((t[0].code, t[0].size), (200, page.len()));
    check_objects(&t[1..], &urls);
    let connects: usize = t.iter().map(|x| x.connects).sum();
    assert_eq!(connects, 1, "keep-alive reuses one connection: {out}");

    // 6 parallel connections; the objects saved to files and compared byte for byte.
    let dir = std::env::temp_dir().join(format!("{}-objs", ns.name));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args: Vec<String> = [
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "6",
        "--create-dirs",
        "--output-dir",
        dir.to_str().expect("utf-8 dir"),
        "--remote-name-all",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(urls.iter().cloned());
    let (t, out) = curl(&ns, &args);
    check_objects(&t, &urls);
    let connects: usize = t.iter().map(|x| x.connects).sum();
    assert!((2..=6).contains(&connects), "{connects} connections: {out}");
    for k in 0..N {
        let body = std::fs::read(dir.join(k.to_string())).expect("object file");
        let again = ns.exec(&["curl", "-sS", &format!("{BASE}/obj/{k}")]).stdout;
        assert_eq!(body, again, "object {k} differs between fetches");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("<svg") && text.contains(&format!("object {k} ")));
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Keep-alive off: `Connection: close` from the client is honoured, one connection each.
    let mut args: Vec<String> = vec!["-H".into(), "Connection: close".into()];
    for u in urls.iter().take(10) {
        args.extend(["-o".to_string(), "/dev/null".to_string(), u.clone()]);
    }
    let (t, out) = curl(&ns, &args);
    check_objects(&t, &urls[..10]);
    let connects: usize = t.iter().map(|x| x.connects).sum();
    assert_eq!(connects, 10, "a new connection per request: {out}");
    let head = ns.exec(&[
        "curl",
        "-sS",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "Connection: close",
        &format!("{BASE}/obj/1"),
    ]);
    let head = String::from_utf8_lossy(&head.stdout);
    assert!(head.contains("Connection: close"), "{head}");

    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(st.code(), Some(0), "{}", ts.stderr());
}
