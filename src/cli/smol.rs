//! `tunstack up --stack smoltcp`: the reference stack (smoltcp 0.14) on the TUN device, with the
//! services of `runtime::SmolServices` (docs/cli.md, docs/reference.md).

use std::process::ExitCode;

use smoltcp::socket::tcp::CongestionControl;
use tunstack::reference::SmolConfig;
use tunstack::runtime::{
    self, DeviceError, Link, SMOL_SERVICES, SmolRuntime, SmolRuntimeConfig, TunDevice, TunOptions,
};
use tunstack::services::Service;

use super::args::UpArgs;
use super::{
    EXIT_FAILURE, EXIT_NO_PRIVILEGE, check_tun_args, describe_emulator, fail, impair_config,
    usage_error,
};

/// `--serve` for smoltcp: `all` (the default) is every service it has; others are refused.
fn services(list: &[Service]) -> Vec<Service> {
    if list == Service::ALL {
        return SMOL_SERVICES.to_vec();
    }
    for svc in list {
        if !SMOL_SERVICES.contains(svc) {
            let have: Vec<&str> = SMOL_SERVICES.iter().map(|s| s.name()).collect();
            usage_error(format!(
                "--serve {svc} is not available with --stack smoltcp (it has {})",
                have.join(", ")
            ));
        }
    }
    list.to_vec()
}

/// The smoltcp configuration from the flags; flags with no meaning for smoltcp are refused.
fn smol_config(a: &UpArgs, seed: u64) -> SmolConfig {
    if a.dns_zone.is_some() {
        usage_error("--dns-zone: there is no dns service with --stack smoltcp".into());
    }
    if a.tun.msl.is_some() {
        usage_error(
            "--msl: smoltcp's TIME-WAIT is fixed (10 s); --msl works only with --stack ours".into(),
        );
    }
    if a.tun.pacing.as_deref() == Some("on") {
        usage_error(
            "--pacing on: smoltcp does not pace; --pacing works only with --stack ours".into(),
        );
    }
    if a.tun.trace.is_some() || !a.emu.impair.is_empty() || a.emu.impair_file.is_some() {
        usage_error("--trace, --impair, --impair-file: only with --stack ours".into());
    }
    if a.tun.max_connections.is_some()
        || a.tun.tcp_memory.is_some()
        || a.tun.frag_mem.is_some()
        || a.tun.udp_queue.is_some()
    {
        usage_error(
            "--max-connections, --tcp-memory, --frag-mem, --udp-queue: only with --stack ours"
                .into(),
        );
    }
    if a.tun.timestamps.is_some() || a.tun.undo.is_some() || a.tun.frto.is_some() {
        usage_error("--timestamps, --undo, --frto: only with --stack ours".into());
    }
    let congestion = match a.tun.cc.as_deref() {
        None | Some("reno") => CongestionControl::Reno,
        Some("cubic") => CongestionControl::Cubic,
        Some("none") => CongestionControl::None,
        Some(other) => usage_error(format!(
            "--cc {other}: smoltcp has reno, cubic or none (default reno)"
        )),
    };
    let (addr, prefix_len) = a.tun.addr;
    let dflt = SmolConfig::default();
    // --tcp-buffer sizes smoltcp's socket buffers too (its window scale follows the rx buffer).
    let buffer = a.tun.tcp_buffer.map(|b| b.max(1) as usize);
    SmolConfig {
        addr,
        prefix_len,
        gateway: a.tun.host_addr,
        mtu: a.tun.mtu as usize,
        seed,
        congestion,
        rx_buffer: buffer.unwrap_or(dflt.rx_buffer),
        tx_buffer: buffer.unwrap_or(dflt.tx_buffer),
        ..dflt
    }
}

pub(super) fn up(a: UpArgs) -> ExitCode {
    check_tun_args(&a.tun);
    let services = services(&a.serve.0);
    let seed = a.tun.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        now ^ u64::from(std::process::id()).rotate_left(32)
    });
    let smol = smol_config(&a, seed);
    let (addr, prefix) = a.tun.addr;
    // The reference stays one packet per syscall (smoltcp has no segmentation offload).
    let opts = TunOptions {
        name: a.tun.tun.clone(),
        host_addr: a.tun.host_addr,
        prefix_len: prefix,
        mtu: a.tun.mtu as usize,
    };
    let dev = match TunDevice::open_with(&opts, false) {
        Ok(d) => d,
        Err(DeviceError::NoPrivilege(msg)) => {
            eprintln!("tunstack: {msg}");
            return ExitCode::from(EXIT_NO_PRIVILEGE);
        }
        Err(DeviceError::Other(msg)) => return fail(msg),
    };
    let name = dev.name().to_string();
    let buffers = (smol.rx_buffer, smol.tx_buffer, smol.congestion);
    let cfg = SmolRuntimeConfig {
        smol,
        services: services.clone(),
        impair: Some(impair_config(&a.emu)),
        impair_seed: seed,
        pcap: a.tun.pcap.clone().map(|p| (p, a.tun.pcap_max_bytes)),
        stats_interval: a.stats.map(std::time::Duration::from_secs),
    };
    let rt = match SmolRuntime::start(Link::Tun(dev), cfg) {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    if let Err(e) = rt.install_signal_handlers() {
        return fail(format!("installing signal handlers: {e}"));
    }
    eprintln!(
        "tunstack: up on {name}: stack smoltcp {addr}/{prefix}, kernel side {}, mtu {}, seed {seed}",
        a.tun.host_addr, a.tun.mtu
    );
    eprintln!(
        "tunstack: smoltcp config: rx/tx buffer {}/{} bytes per socket, congestion control {:?}, \
         timestamps on, Nagle on",
        buffers.0, buffers.1, buffers.2
    );
    let served: Vec<String> = services
        .iter()
        .map(|s| format!("{s}/{}", s.port()))
        .collect();
    eprintln!(
        "tunstack: serving {}",
        if served.is_empty() {
            "nothing".to_string()
        } else {
            served.join(", ")
        }
    );
    if let Some(line) = describe_emulator(&a.emu) {
        eprintln!("tunstack: emulator (each direction): {line}");
    }
    eprintln!("tunstack: ready (try: ping {addr}; Ctrl-C or SIGTERM to stop)");
    match rt.wait() {
        Ok(r) => {
            if runtime::signals::requested() {
                eprintln!(
                    "tunstack: signal {} received, shutting down",
                    runtime::signals::which()
                );
            }
            eprint!("{r}");
            eprintln!("tunstack: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tunstack: the stack stopped: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
