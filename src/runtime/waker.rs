//! The driver's wake-up fd (an eventfd): API calls and signal handlers write to it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(crate) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        // SAFETY: plain syscall; the returned fd is checked and owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, valid descriptor nobody else owns.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wake the driver (idempotent until it drains the counter).
    pub(crate) fn wake(&self) {
        wake_fd(self.fd.as_raw_fd());
    }

    /// Reset the counter after a wake-up.
    pub(crate) fn drain(&self) {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a valid u64; a non-blocking eventfd never blocks.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut v as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Async-signal-safe: one write(2) to an eventfd.
pub(crate) fn wake_fd(fd: RawFd) {
    let one = 1u64;
    // SAFETY: writes 8 bytes from a valid u64; failure (counter full) still leaves it readable.
    unsafe { libc::write(fd, (&one as *const u64).cast(), std::mem::size_of::<u64>()) };
}
