//! Creating or attaching to a TUN device and configuring its kernel side with `ip(8)`.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Command;

/// Packets the kernel may queue towards us on the device. The TUN default (500) is smaller
/// than a 1 MiB window of full-sized segments: a burst beyond it is dropped before we read it.
pub const TX_QUEUE_LEN: usize = 1000;

/// What `TunDevice::open` should do.
#[derive(Clone, Debug)]
pub struct TunOptions {
    pub name: String,
    /// The kernel side's address and prefix (e.g. 198.18.0.1/24).
    pub host_addr: Ipv4Addr,
    pub prefix_len: u8,
    pub mtu: usize,
}

#[derive(Debug)]
pub enum DeviceError {
    /// No CAP_NET_ADMIN to create the device (or no access to /dev/net/tun).
    NoPrivilege(String),
    Other(String),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::NoPrivilege(s) | DeviceError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for DeviceError {}

enum TunFd {
    Plain(tun_tap::Iface),
    /// Opened with IFF_VNET_HDR and TUNSETOFFLOAD: every read and write starts with a
    /// `virtio_net_hdr` (see `offload.rs`).
    Vnet(OwnedFd),
}

/// The environment's say on offloads for `TunDevice::open` (and the default of
/// `tunstack up --offload`): `TUNSTACK_OFFLOAD=1` on, `=0` off, else `None`.
pub fn offload_from_env() -> Option<bool> {
    match std::env::var("TUNSTACK_OFFLOAD").ok()?.as_str() {
        "1" | "on" => Some(true),
        "0" | "off" => Some(false),
        _ => None,
    }
}

/// An open TUN device. Dropping it undoes what we configured: a device we created vanishes
/// with its fd; on a persistent device we remove the address we added.
pub struct TunDevice {
    fd: TunFd,
    name: String,
    created: bool,
    added_addr: Option<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e} (install iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn has_addr(dev: &str, cidr: &str) -> bool {
    Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", dev])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {cidr} ")))
        .unwrap_or(false)
}

fn no_privilege_help(name: &str, detail: &str) -> String {
    format!(
        "cannot open TUN device {name}: {detail}\n\
         tunstack needs CAP_NET_ADMIN to create a TUN device. Either:\n\
         \x20 - run it as root:            sudo tunstack up ...\n\
         \x20 - give the binary the cap:   sudo setcap cap_net_admin+ep \"$(which tunstack)\"\n\
         \x20 - or let root create a persistent device you own, then run tunstack as yourself:\n\
         \x20     sudo ip tuntap add dev {name} mode tun user \"$USER\"\n\
         \x20     sudo ip addr add 198.18.0.1/24 dev {name} && sudo ip link set {name} up"
    )
}

impl TunDevice {
    /// Open (create, or attach to a persistent) TUN device and configure the kernel side;
    /// with offloads only if `TUNSTACK_OFFLOAD=1` (see `open_with`).
    pub fn open(opts: &TunOptions) -> Result<TunDevice, DeviceError> {
        Self::open_with(opts, offload_from_env().unwrap_or(false))
    }

    /// `open`, with TUN offloads (`offload.rs`: IFF_VNET_HDR, TCP super-segments both ways)
    /// or without. A runtime on an offload device sends super-segments unless a capture, a
    /// trace or the emulator is on (they work per packet); it still reads super-segments then,
    /// so open without offloads for those (as `tunstack up` does).
    pub fn open_with(opts: &TunOptions, offload: bool) -> Result<TunDevice, DeviceError> {
        let name = opts.name.as_str();
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
            return Err(DeviceError::Other(format!(
                "invalid interface name {name:?} (1 to 15 characters, no '/' or spaces)"
            )));
        }
        let existed = Path::new("/sys/class/net").join(name).exists();
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            && e.kind() == io::ErrorKind::PermissionDenied
        {
            return Err(DeviceError::NoPrivilege(format!(
                "{}\n  (here /dev/net/tun itself is not accessible to this user; it is usually\n   \
                 mode 0666: `sudo chmod 0666 /dev/net/tun` makes a persistent device usable)",
                no_privilege_help(name, &e.to_string())
            )));
        }
        let opened = if offload {
            super::offload::open_vnet(name).map(|(fd, n)| (TunFd::Vnet(fd), n))
        } else {
            tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tun).map(|i| {
                let n = i.name().to_string();
                (TunFd::Plain(i), n)
            })
        };
        let (fd, real_name) = opened.map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => {
                DeviceError::NoPrivilege(no_privilege_help(name, &e.to_string()))
            }
            Some(libc::ENOENT) | Some(libc::ENODEV) => DeviceError::Other(format!(
                "cannot open /dev/net/tun: {e} (is the tun module loaded? `sudo modprobe tun`)"
            )),
            Some(libc::EBUSY) => DeviceError::Other(format!(
                "TUN device {name} is busy: {e} (another process has it open)"
            )),
            Some(libc::EINVAL) => DeviceError::Other(format!(
                "cannot attach to {name}: {e} (does it exist as a TAP or non-TUN device?)"
            )),
            _ => DeviceError::Other(format!("cannot open TUN device {name}: {e}")),
        })?;
        let mut dev = TunDevice {
            name: real_name,
            fd,
            created: !existed,
            added_addr: None,
        };
        if dev.created {
            // Keep IPv6 router solicitations and the like off a device that is about IPv4.
            let knob = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", dev.name);
            let _ = std::fs::write(knob, "1");
        }
        dev.configure(opts)?;
        Ok(dev)
    }

    fn configure(&mut self, opts: &TunOptions) -> Result<(), DeviceError> {
        let cidr = format!("{}/{}", opts.host_addr, opts.prefix_len);
        let mtu = opts.mtu.to_string();
        let qlen = TX_QUEUE_LEN.to_string();
        let name = self.name.clone();
        // On a persistent device, leave an address its owner configured in place (and keep it).
        let had_addr = !self.created && has_addr(&name, &cidr);
        let steps: [(&[&str], bool); 2] = [
            (&["addr", "replace", &cidr, "dev", &name], true),
            (
                &[
                    "link",
                    "set",
                    "dev",
                    &name,
                    "mtu",
                    &mtu,
                    "txqueuelen",
                    &qlen,
                    "up",
                ],
                false,
            ),
        ];
        for (args, is_addr) in steps {
            match ip(args) {
                Ok(()) => {
                    if is_addr && !self.created && !had_addr {
                        self.added_addr = Some(cidr.clone());
                    }
                }
                Err(e) if self.created => return Err(DeviceError::Other(e)),
                // A persistent device a non-root user owns: its owner configured it already.
                Err(e) => log::warn!("{e}; using {name} as it is configured"),
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// True if this process created the device (it disappears when we exit).
    pub fn created(&self) -> bool {
        self.created
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        match &self.fd {
            TunFd::Plain(i) => i.as_raw_fd(),
            TunFd::Vnet(fd) => fd.as_raw_fd(),
        }
    }

    /// True if reads and writes carry a `virtio_net_hdr` (offloads on).
    pub(crate) fn vnet(&self) -> bool {
        matches!(self.fd, TunFd::Vnet(_))
    }
}

impl Drop for TunDevice {
    fn drop(&mut self) {
        if let Some(cidr) = self.added_addr.take()
            && let Err(e) = ip(&["addr", "del", &cidr, "dev", &self.name])
        {
            log::warn!("{e}");
        }
    }
}

impl From<DeviceError> for io::Error {
    fn from(e: DeviceError) -> io::Error {
        match e {
            DeviceError::NoPrivilege(s) => io::Error::new(io::ErrorKind::PermissionDenied, s),
            DeviceError::Other(s) => io::Error::other(s),
        }
    }
}
