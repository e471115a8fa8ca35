//! `Net`: a cloneable handle to a running stack; the API's only way into the driver.

use std::io;
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::runtime::{Cmd, InlineFn, OpFn, Step, Waker};
use crate::socket::{SocketError, SocketEvent};
use crate::stack::Stack;
use crate::time::Instant;

#[derive(Clone)]
pub struct Net {
    tx: Sender<Cmd>,
    waker: Arc<Waker>,
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the stack is not running")
}

impl Net {
    pub(crate) fn new(tx: Sender<Cmd>, waker: Arc<Waker>) -> Net {
        Net { tx, waker }
    }

    pub(crate) fn waker_fd(&self) -> std::os::fd::RawFd {
        self.waker.raw_fd()
    }

    /// Ask the driver to stop (blocked calls then fail with NotConnected).
    pub fn request_shutdown(&self) {
        let _ = self.tx.send(Cmd::Shutdown);
        self.waker.wake();
    }

    fn send(&self, f: OpFn, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.tx
            .send(Cmd::Op { f, timeout })
            .map_err(|_| stopped())?;
        self.waker.wake();
        Ok(())
    }

    /// Run `f` on the driver thread once, without waiting for it.
    pub(crate) fn post(&self, f: impl FnOnce(&mut Stack, Instant) + Send + 'static) {
        let mut f = Some(f);
        let op: OpFn = Box::new(move |s, now, _| {
            if let Some(f) = f.take() {
                f(s, now);
            }
            Step::Done
        });
        let _ = self.send(op, None);
    }

    /// Run `f` on the driver thread and return its result.
    pub fn with_stack<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack, Instant) -> T + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut f = Some(f);
        let op: OpFn = Box::new(move |s, now, _| {
            if let Some(f) = f.take() {
                let _ = tx.send(f(s, now));
            }
            Step::Done
        });
        self.send(op, None)?;
        rx.recv().map_err(|_| stopped())
    }

    /// Run `f` on the driver thread with its inline services (`services::inline`), e.g. to
    /// start an in-driver client; returns its result.
    pub fn run_inline<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::stack::Stack, &mut crate::services::inline::Inline, Instant) -> T
        + Send
        + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let f: InlineFn = Box::new(move |stack, inline, now| {
            let _ = tx.send(f(stack, inline, now));
        });
        self.tx.send(Cmd::Inline(f)).map_err(|_| stopped())?;
        self.waker.wake();
        rx.recv().map_err(|_| stopped())
    }

    /// Serve `svc` on `local` inside the driver thread (`services::inline`).
    pub(crate) fn serve_inline(
        &self,
        local: std::net::SocketAddrV4,
        svc: crate::services::Service,
    ) -> io::Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let f: InlineFn = Box::new(move |stack, inline, _| {
            let _ = tx.send(inline.listen(stack, local, svc));
        });
        self.tx.send(Cmd::Inline(f)).map_err(|_| stopped())?;
        self.waker.wake();
        rx.recv().map_err(|_| stopped())?.map_err(io::Error::from)
    }

    /// Run `f` on the driver until it stops saying WouldBlock. With `key`, a WouldBlock parks the
    /// call until `key` has an event (or `timeout` passes: then the result is `on_timeout`);
    /// without `key`, WouldBlock is returned as is.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        key: Option<SocketEvent>,
        timeout: Option<std::time::Duration>,
        on_timeout: io::ErrorKind,
        mut f: impl FnMut(&mut Stack, Instant) -> Result<T, SocketError> + Send + 'static,
    ) -> io::Result<T> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded::<io::Result<T>>(1);
        let op: OpFn = Box::new(move |s, now, expired| match (f(s, now), key) {
            (Err(SocketError::WouldBlock), Some(k)) if !expired => Step::Wait(k),
            (Err(SocketError::WouldBlock), Some(_)) => {
                let msg = match on_timeout {
                    io::ErrorKind::WouldBlock => "timed out (resource temporarily unavailable)",
                    _ => "operation timed out",
                };
                let _ = tx.send(Err(io::Error::new(on_timeout, msg)));
                Step::Done
            }
            (r, _) => {
                let _ = tx.send(r.map_err(io::Error::from));
                Step::Done
            }
        });
        self.send(op, timeout)?;
        rx.recv().map_err(|_| stopped())?
    }
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").finish_non_exhaustive()
    }
}
