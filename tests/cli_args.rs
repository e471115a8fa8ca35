//! Argument handling of the `tunstack` binary: no root needed (nothing is brought up).

use std::process::{Command, Output};

fn tunstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(args)
        .output()
        .expect("run tunstack")
}

/// Bad usage exits 2 with a message naming the problem, before touching any device.
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = tunstack(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
}

#[test]
fn help_works_for_every_command() {
    for args in [
        &["--help"][..],
        &["up", "--help"],
        &["connect", "--help"],
        &["help", "up"],
    ] {
        let out = tunstack(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(text.contains("Usage: tunstack"), "{args:?}: {text}");
    }
    let up = String::from_utf8_lossy(&tunstack(&["up", "--help"]).stdout).into_owned();
    for flag in [
        "--tun",
        "--addr",
        "--host-addr",
        "--mtu",
        "--serve",
        "--pcap",
        "--pcap-max-bytes",
        "--stats",
        "--loss",
        "--delay",
        "--jitter",
        "--reorder",
        "--duplicate",
        "--corrupt",
        "--rate",
        "--queue",
        "--seed",
        "--msl",
        "--cc",
    ] {
        assert!(up.contains(flag), "up --help lacks {flag}");
    }
    assert!(tunstack(&["--version"]).status.success());
}

#[test]
fn no_command_is_a_usage_error() {
    assert_eq!(tunstack(&[]).status.code(), Some(2));
    assert_usage_error(&["fly"], "unrecognized subcommand");
}

#[test]
fn bad_emulator_values_exit_2() {
    assert_usage_error(&["up", "--loss", "2"], "write \"2%\"");
    assert_usage_error(&["up", "--loss", "150%"], "between 0% and 100%");
    assert_usage_error(&["up", "--delay", "50"], "missing unit");
    assert_usage_error(&["up", "--jitter", "5h"], "unknown unit");
    assert_usage_error(&["up", "--rate", "10mbps"], "ambiguous");
    assert_usage_error(&["up", "--rate", "fast"], "does not start with a number");
    assert_usage_error(&["up", "--queue", "64kb"], "--rate");
    assert_usage_error(
        &["up", "--rate", "1mbit", "--queue", "64 parsecs"],
        "unknown unit",
    );
    assert_usage_error(&["up", "--corrupt=-1%"], "does not start with a number");
}

#[test]
fn bad_addresses_and_sizes_exit_2() {
    assert_usage_error(&["up", "--mtu", "67"], "68..=65535");
    assert_usage_error(&["up", "--mtu", "65536"], "68..=65535");
    assert_usage_error(&["up", "--addr", "198.18.0.2"], "ADDRESS/PREFIX");
    assert_usage_error(&["up", "--addr", "198.18.0.2/31"], "/30");
    assert_usage_error(
        &["up", "--host-addr", "10.1.1.1"],
        "not in the stack's subnet",
    );
    assert_usage_error(&["up", "--host-addr", "198.18.0.2"], "equals");
    assert_usage_error(
        &["up", "--serve", "echo,gopher"],
        "unknown service \"gopher\"",
    );
    assert_usage_error(&["up", "--stats=0"], "--stats");
    assert_usage_error(&["up", "--cc", "bbr"], "possible values");
    assert_usage_error(&["up", "--msl", "1"], "missing unit");
    assert_usage_error(&["up", "--seed=-3"], "--seed");
    assert_usage_error(&["up", "--tun", "much-too-long-name"], "1 to 15");
    assert_usage_error(&["up", "--tun", "a/b"], "no '/'");
    assert_usage_error(&["connect"], "HOST:PORT");
    assert_usage_error(&["connect", "198.18.0.1"], "HOST:PORT");
    assert_usage_error(
        &["connect", "198.18.0.1:9", "--timeout", "soon"],
        "--timeout",
    );
}

#[test]
fn resource_limit_flags_are_validated() {
    assert_usage_error(&["up", "--udp-queue", "0"], "--udp-queue");
    assert_usage_error(&["up", "--tcp-memory", "lots"], "--tcp-memory");
    assert_usage_error(&["up", "--frag-mem", "12parsecs"], "--frag-mem");
    assert_usage_error(
        &["up", "--stack", "smoltcp", "--frag-mem", "1mb"],
        "only with --stack ours",
    );
}
