//! `tunstack up` on a real TUN device, each test in its own network namespace.
//! Without root they print "SKIPPED: ..." and pass.

mod common;

use std::time::Duration;

use common::netns::{Netns, have_tool, tunstack_bin};

const READY: Duration = Duration::from_secs(20);
const EXIT: Duration = Duration::from_secs(10);

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn device_comes_up_with_address_and_mtu_and_goes_away_on_sigterm() {
    let Some(mut ns) = Netns::new("cli-up") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&[
        "up",
        "--tun",
        "tsup0",
        "--addr",
        "198.18.5.2/24",
        "--host-addr",
        "198.18.5.1",
        "--mtu",
        "1400",
        "--serve",
        "none",
    ]);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    assert!(ns.wait_for_device("tsup0", Duration::from_secs(5)));
    let addr = text(&ns.exec(&["ip", "-o", "-4", "addr", "show", "dev", "tsup0"]));
    assert!(addr.contains("inet 198.18.5.1/24"), "{addr}");
    let link = text(&ns.exec(&["ip", "-o", "link", "show", "dev", "tsup0"]));
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains(",UP"), "{link}");

    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(EXIT).expect("tunstack exits after SIGTERM");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(err.contains("signal 15 received"), "{err}");
    for counter in ["link: read", "stack: ", "tcp: ", "connections: "] {
        assert!(err.contains(counter), "no {counter:?} in {err}");
    }
    // We created the device, so it is gone with us.
    assert!(!ns.exec(&["ip", "link", "show", "tsup0"]).status.success());
}

#[test]
fn sigint_also_stops_cleanly_and_stats_print_periodically() {
    let Some(mut ns) = Netns::new("cli-int") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&["up", "--serve", "none", "--stats=1", "--delay", "5ms"]);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    std::thread::sleep(Duration::from_millis(1300));
    ts.signal(libc::SIGINT);
    let st = ts.wait_exit(EXIT).expect("exits after SIGINT");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(
        err.contains("connection(s)"),
        "no periodic stats line: {err}"
    );
    assert!(err.contains("signal 2 received"), "{err}");
    assert!(
        err.contains("emulator (each direction): delay 5ms"),
        "{err}"
    );
    assert!(err.contains("emulator in: "), "{err}");
}

#[test]
fn persistent_device_owned_by_an_unprivileged_user() {
    let Some(mut ns) = Netns::new("cli-persist") else {
        return;
    };
    // As uid 65534 when that user can reach the binary and /dev/net/tun; else as root
    // (still the attach-to-a-persistent-device path).
    let probe = format!("exec 3<>/dev/net/tun && {} --version", tunstack_bin());
    let as_nobody = have_tool("persistent_device", "setpriv")
        && ns
            .exec(&[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                &probe,
            ])
            .status
            .success();
    if !as_nobody {
        eprintln!(
            "NOTE: persistent_device: uid 65534 cannot open /dev/net/tun or run the binary here; \
             attaching as root instead"
        );
    }
    // Root prepares the device, as docs/cli.md tells an administrator to.
    for cmd in [
        &[
            "ip", "tuntap", "add", "dev", "tspers0", "mode", "tun", "user", "65534",
        ][..],
        &["ip", "addr", "add", "198.18.0.1/24", "dev", "tspers0"],
        &["ip", "link", "set", "tspers0", "up"],
    ] {
        let o = ns.exec(cmd);
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
    }
    let cmd = if as_nobody {
        let mut c = ns.command("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            tunstack_bin(),
        ]);
        c
    } else {
        ns.command(tunstack_bin())
    };
    let mut ts = ns.spawn_tunstack_with(cmd, &["up", "--tun", "tspers0", "--serve", "none"]);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(EXIT).expect("exits");
    assert_eq!(st.code(), Some(0), "{}", ts.stderr());
    // Persistent: still there, and its owner's address untouched.
    let addr = text(&ns.exec(&["ip", "-o", "-4", "addr", "show", "dev", "tspers0"]));
    assert!(addr.contains("inet 198.18.0.1/24"), "{addr}");
}

#[test]
fn no_privilege_gives_instructions_and_exit_77() {
    let Some(mut ns) = Netns::new("cli-noperm") else {
        return;
    };
    if !have_tool("no_privilege", "setpriv") {
        return;
    }
    let probe = ns.exec(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        tunstack_bin(),
        "--version",
    ]);
    if !probe.status.success() {
        eprintln!(
            "SKIPPED: no_privilege: uid 65534 cannot run {}",
            tunstack_bin()
        );
        return;
    }
    let mut cmd = ns.command("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        tunstack_bin(),
    ]);
    let mut ts = ns.spawn_tunstack_with(cmd, &["up", "--tun", "tsnoperm0"]);
    let st = ts.wait_exit(EXIT).expect("exits at once");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(77), "{err}");
    for hint in [
        "CAP_NET_ADMIN",
        "sudo",
        "setcap cap_net_admin+ep",
        "ip tuntap add dev tsnoperm0",
    ] {
        assert!(err.contains(hint), "no {hint:?} in {err}");
    }
    assert!(
        !ns.exec(&["ip", "link", "show", "tsnoperm0"])
            .status
            .success()
    );
}

#[test]
fn pcap_to_an_unwritable_path_fails_with_exit_1() {
    let Some(mut ns) = Netns::new("cli-pcapfail") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&["up", "--pcap", "/nonexistent-dir/x.pcap"]);
    let st = ts.wait_exit(EXIT).expect("exits");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("/nonexistent-dir/x.pcap"), "{err}");
}

#[test]
fn deleting_the_device_under_us_is_a_runtime_failure() {
    let Some(mut ns) = Netns::new("cli-devdel") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&["up", "--tun", "tsdel0", "--serve", "none"]);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    let o = ns.exec(&["ip", "link", "del", "tsdel0"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = ts.wait_exit(EXIT).expect("exits when the device goes");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("the link went away"), "{err}");
}
