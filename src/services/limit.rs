//! Accept loop with a cap on connection threads.

use std::io;
use std::sync::{Arc, Condvar, Mutex};

use super::{MAX_CONNECTIONS, Service};

/// Connection threads need little stack (their buffers are on the heap).
const CONN_STACK: usize = 256 * 1024;
use crate::api::{TcpListener, TcpStream};

struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn take(&self) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= MAX_CONNECTIONS {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += 1;
    }
    fn give(&self) {
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.freed.notify_one();
    }
}

pub(super) fn accept_loop(
    listener: TcpListener,
    svc: Service,
    handler: fn(TcpStream) -> io::Result<()>,
) {
    let slots = Arc::new(Slots {
        used: Mutex::new(0),
        freed: Condvar::new(),
    });
    loop {
        slots.take();
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                slots.give();
                if e.kind() == io::ErrorKind::NotConnected {
                    return; // the stack stopped
                }
                log::warn!("{svc}: accept: {e}");
                continue;
            }
        };
        log::debug!("{svc}: connection from {peer}");
        let slots2 = slots.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{svc}-{peer}"))
            .stack_size(CONN_STACK)
            .spawn(move || {
                if let Err(e) = handler(stream) {
                    log::debug!("{svc}: {peer}: {e}");
                }
                slots2.give();
            });
        if let Err(e) = spawned {
            log::warn!("{svc}: cannot start a thread: {e}");
            slots.give();
        }
    }
}
