//! SIGINT/SIGTERM → a clean shutdown: the handler sets a flag and writes to the driver's eventfd,
//! so the driver wakes from `ppoll` at once (no polling of the flag).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::api::Net;

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static REQUESTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
    REQUESTED.store(true, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        super::waker::wake_fd(fd);
    }
}

/// Route SIGINT and SIGTERM of this process to a clean stop of the driver behind `net`.
pub fn install(net: &Net) -> std::io::Result<()> {
    install_wake_fd(net.waker_fd())
}

/// Route SIGINT and SIGTERM to a write on eventfd `fd` (a driver's wake-up fd).
pub(crate) fn install_wake_fd(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    WAKE_FD.store(fd, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (atomics and write(2) only).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: `sa` is fully initialised; the old action is not needed.
        let rc = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The signal that asked us to stop (0 if none).
pub fn which() -> i32 {
    SIGNAL.load(Ordering::SeqCst)
}
