//! The `dns` service on a real TUN device, queried with `dig`, each test in its own namespace.
//! Without root (or without dig) they print "SKIPPED: ..." and pass.

mod common;

use std::process::Command;
use std::time::Duration;

use common::netns::{Netns, Tunstack, have_tool};
use tunstack::services::dns::zone::{BIG_TXT_COUNT, filler_txt};

const READY: Duration = Duration::from_secs(20);

struct Dig<'a>(&'a Netns);

impl Dig<'_> {
    /// `dig @198.18.0.2 ARGS...` (short timeouts: answers are local), stdout as text.
    fn run(&self, args: &[&str]) -> String {
        let mut a = vec!["dig", "@198.18.0.2", "+time=2", "+tries=2"];
        a.extend_from_slice(args);
        let o = self.0.exec(&a);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{a:?}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    fn short(&self, args: &[&str]) -> Vec<String> {
        let mut a = args.to_vec();
        a.push("+short");
        self.run(&a).lines().map(str::to_string).collect()
    }
}

fn start(ns: &mut Netns, extra: &[&str]) -> Tunstack {
    let mut args = vec!["up", "--serve", "dns"];
    args.extend_from_slice(extra);
    let mut ts = ns.spawn_tunstack(&args);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    assert!(ts.stderr().contains("dns/53"), "{}", ts.stderr());
    ts
}

/// SIGTERM, a clean exit; returns stderr.
fn stop(mut ts: Tunstack) -> String {
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(Duration::from_secs(10)).expect("exits");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    err
}

#[test]
fn dig_gets_every_record_type_nxdomain_and_tcp_fallback() {
    if !have_tool("dns_tun", "dig") {
        return;
    }
    let Some(mut ns) = Netns::new("dns") else {
        return;
    };
    let ts = start(&mut ns, &[]);
    let dig = Dig(&ns);

    assert_eq!(dig.short(&["www.lab.test", "A"]), ["198.18.0.2"]);
    assert_eq!(dig.short(&["www.lab.test", "AAAA"]), ["2001:db8::2"]);
    assert_eq!(dig.short(&["lab.test", "MX"]), ["10 mail.lab.test."]);
    assert_eq!(dig.short(&["lab.test", "NS"]), ["ns1.lab.test."]);
    assert_eq!(
        dig.short(&["txt.lab.test", "TXT"]),
        ["\"hello from tunstack\" \"second string\""]
    );
    assert_eq!(dig.short(&["alias.lab.test", "CNAME"]), ["www.lab.test."]);
    assert_eq!(
        dig.short(&["chain.lab.test", "A"]),
        ["alias.lab.test.", "www.lab.test.", "198.18.0.2"]
    );
    let mut multi = dig.short(&["multi.lab.test", "A"]);
    multi.sort();
    assert_eq!(multi, ["198.18.0.10", "198.18.0.11", "198.18.0.12"]);

    // Full answer: authoritative, TTL, EDNS echoed, the question keeps the query's case.
    let full = dig.run(&["WwW.LaB.TeSt", "A"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains("flags: qr aa rd;"), "{full}");
    assert!(
        full.contains("EDNS: version: 0, flags:; udp: 1232"),
        "{full}"
    );
    assert!(full.contains(";WwW.LaB.TeSt.\t\t\tIN\tA"), "{full}");
    assert!(full.contains("\t300\tIN\tA\t198.18.0.2"), "{full}");
    // 12 header + 18 question + 16 answer (owner compressed to a 2-byte pointer) + 11 OPT.
    assert!(full.contains("MSG SIZE  rcvd: 57"), "{full}");

    let nx = dig.run(&["nosuch.lab.test", "A"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(nx.contains("AUTHORITY: 1"), "{nx}");
    assert!(
        nx.contains("IN\tSOA\tns1.lab.test. hostmaster.lab.test."),
        "{nx}"
    );
    let nodata = dig.run(&["www.lab.test", "MX"]);
    assert!(
        nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"),
        "{nodata}"
    );
    let refused = dig.run(&["www.example.com", "A"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");

    // Too big for UDP (> 1232 bytes): TC=1, dig retries over TCP and shows everything.
    let big = dig.run(&["big.lab.test", "TXT"]);
    assert!(big.contains("Truncated, retrying in TCP mode"), "{big}");
    assert!(big.contains(&format!("ANSWER: {BIG_TXT_COUNT}")), "{big}");
    assert!(big.contains("(TCP)"), "{big}");
    for i in 1..=BIG_TXT_COUNT {
        let s = format!("\"{}\"", filler_txt(i, BIG_TXT_COUNT));
        assert!(big.contains(&s), "missing {s} in {big}");
    }
    // Without EDNS the limit is 512 bytes: medium (≈850 bytes) is truncated too...
    let medium = dig.run(&["+noedns", "medium.lab.test", "TXT"]);
    assert!(
        medium.contains("Truncated, retrying in TCP mode"),
        "{medium}"
    );
    // ...and with `+ignore` dig shows the truncated UDP answer itself.
    let ignored = dig.run(&["+ignore", "big.lab.test", "TXT"]);
    assert!(ignored.contains("flags: qr aa tc rd;"), "{ignored}");
    assert!(ignored.contains("ANSWER: 0"), "{ignored}");

    // Straight over TCP.
    let tcp = dig.run(&["+tcp", "www.lab.test", "AAAA"]);
    assert!(
        tcp.contains("2001:db8::2") && tcp.contains("(TCP)"),
        "{tcp}"
    );
    let err = stop(ts);
    // The exit report counts what happened: 15 UDP queries (more if dig had to retry), 3 TC
    // answers (big, medium, +ignore), 3 over TCP (2 retries and +tcp).
    let line = err
        .lines()
        .find(|l| l.starts_with("dns: "))
        .unwrap_or_else(|| panic!("no dns summary in {err}"));
    let udp: u64 = line
        .split("(udp ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(udp >= 15, "{line}");
    assert!(
        line.ends_with("tcp 3), 3 truncated, 1 nxdomain, 1 refused, 0 formerr, 0 dropped"),
        "{line}"
    );
}

#[test]
fn dns_zone_file_replaces_the_builtin_zone() {
    if !have_tool("dns_zone", "dig") {
        return;
    }
    let Some(mut ns) = Netns::new("dnszone") else {
        return;
    };
    let path = std::env::temp_dir().join(format!("{}.zone", ns.name));
    std::fs::write(
        &path,
        "; a test zone\n\
         course.test. 120 SOA ns.course.test. admin.course.test. 1 3600 600 86400 30\n\
         @ 120 NS ns\n\
         ns 120 A 198.18.0.2\n\
         www.course.test. 42 IN A 198.18.0.77\n",
    )
    .expect("write zone");
    let ts = start(&mut ns, &["--dns-zone", path.to_str().expect("utf-8 path")]);
    let dig = Dig(&ns);
    let out = dig.run(&["www.course.test", "A"]);
    assert!(out.contains("\t42\tIN\tA\t198.18.0.77"), "{out}");
    let out = dig.run(&["www.lab.test", "A"]);
    assert!(
        out.contains("status: REFUSED"),
        "the built-in zone is gone: {out}"
    );
    let out = dig.run(&["x.course.test", "A"]);
    assert!(
        out.contains("status: NXDOMAIN") && out.contains("\t30\tIN\tSOA"),
        "{out}"
    );
    let _ = stop(ts);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_zone_file_is_a_usage_error_naming_the_line() {
    // Fails before any device is opened; still inside a namespace when we are root, so a
    // regression could not create a device in the root namespace.
    let ns = Netns::new("dnsbad");
    let path = std::env::temp_dir().join(format!("ts-badzone-{}.zone", std::process::id()));
    std::fs::write(&path, "z.test. 60 SOA ns h 1 2 3 4 5\nwww 60 A 300.1.1.1\n")
        .expect("write zone");
    let mut cmd = match &ns {
        Some(ns) => ns.command(common::netns::tunstack_bin()),
        None => Command::new(common::netns::tunstack_bin()),
    };
    let out = cmd
        .args(["up", "--dns-zone", path.to_str().expect("utf-8 path")])
        .output()
        .expect("run tunstack");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 2"), "{err}");
    let _ = std::fs::remove_file(&path);
}
