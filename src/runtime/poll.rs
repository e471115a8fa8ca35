//! The one place both drivers (ours and `--stack smoltcp`) sleep: `ppoll(2)` on {link fd,
//! wake-up eventfd} until a deadline, after an optional spell of zero-timeout polls
//! (`TUNSTACK_SPIN_US`). Shared so that the two stacks run behind the same runtime.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::LinkStats;

/// `TUNSTACK_SPIN_US`, else `default` (microseconds).
pub(crate) fn spin_from_env(default: u64) -> Duration {
    Duration::from_micros(
        std::env::var("TUNSTACK_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// What woke the driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Woken {
    /// The eventfd may be readable: drain it (one read(2)) before taking commands. Otherwise
    /// the drain is skipped — one syscall fewer per wake-up by the link or a deadline; a
    /// command queued meanwhile left the eventfd readable, so the next poll returns at once.
    pub waker: bool,
}

/// Block until `link` or `waker` is readable or `wait` has passed (`None`: no deadline).
/// With `spin` (after a busy turn), first poll without blocking for up to `spin`: the next
/// packet, or the API call answering the one just completed, usually comes within
/// microseconds, and a sleep plus wake-up costs tens of them on a busy machine.
pub(crate) fn wait(
    link: RawFd,
    waker: RawFd,
    wait: Option<Duration>,
    spin: Option<Duration>,
    stats: &mut LinkStats,
) -> io::Result<Woken> {
    let mut fds = [
        libc::pollfd {
            fd: link,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: waker,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let start = Instant::now();
    if let Some(spin) = spin.filter(|s| !s.is_zero()) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let deadline = wait.map(|w| start + w);
        let until = start + spin;
        while Instant::now() < until {
            stats.polls += 1;
            // SAFETY: `fds` and `zero` are live, initialised values for the whole call.
            let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &zero, std::ptr::null()) };
            if rc != 0 {
                return woken(rc, &fds);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(Woken::default());
            }
            std::thread::yield_now();
        }
    }
    let ts = wait.map(|w| {
        let left = w.saturating_sub(start.elapsed());
        libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        }
    });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    stats.polls += 1;
    // SAFETY: `fds` and `tsp` point to live, initialised values for the whole call.
    let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, tsp, std::ptr::null()) };
    woken(rc, &fds)
}

fn woken(rc: libc::c_int, fds: &[libc::pollfd; 2]) -> io::Result<Woken> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        // A signal: its handler wrote the eventfd (`signals`), or will have by the next poll.
        return Ok(Woken { waker: true });
    }
    let [link, waker] = fds;
    if link.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
        && link.revents & libc::POLLIN == 0
    {
        return Err(io::Error::other("the link went away (device deleted?)"));
    }
    Ok(Woken {
        waker: waker.revents != 0,
    })
}

/// The driver's microsecond deadline as a wait from `now` (both in the driver's clock).
pub(crate) fn wait_for(
    deadline: Option<crate::time::Instant>,
    now: crate::time::Instant,
) -> Option<Duration> {
    deadline.map(|d| Duration::from_micros((d - now).total_micros()))
}
