//! Commands from API threads to the driver, and the table of calls blocked on a socket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::socket::SocketEvent;
use crate::stack::Stack;
use crate::time::Instant;

/// What an operation says after one attempt.
pub(crate) enum Step {
    /// Finished (it replied to its caller itself).
    Done,
    /// Not ready: try again when this socket has an event.
    Wait(SocketEvent),
}

/// One attempt at an API call. `expired` = its deadline passed: it must finish now.
pub(crate) type OpFn = Box<dyn FnMut(&mut Stack, Instant, bool) -> Step + Send>;

pub(crate) enum Cmd {
    Op {
        f: OpFn,
        timeout: Option<std::time::Duration>,
    },
    Shutdown,
}

struct Pending {
    f: OpFn,
    deadline: Option<Instant>,
    key: SocketEvent,
}

/// Calls parked until their socket has an event or their deadline passes.
#[derive(Default)]
pub(crate) struct PendingTable {
    ops: HashMap<u64, Pending>,
    by_key: HashMap<SocketEvent, Vec<u64>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u64,
}

impl PendingTable {
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// Run a new op; park it if it must wait.
    pub(crate) fn submit(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        mut f: OpFn,
        deadline: Option<Instant>,
    ) {
        let expired = deadline.is_some_and(|d| d <= now);
        if let Step::Wait(key) = f(stack, now, expired) {
            let id = self.next_id;
            self.next_id += 1;
            if let Some(d) = deadline {
                self.deadlines.push(Reverse((d, id)));
            }
            self.park(id, Pending { f, deadline, key });
        }
    }

    fn park(&mut self, id: u64, p: Pending) {
        self.by_key.entry(p.key).or_default().push(id);
        self.ops.insert(id, p);
    }

    /// Retry every op waiting on `key`. Returns how many finished.
    pub(crate) fn on_event(&mut self, stack: &mut Stack, now: Instant, key: SocketEvent) -> usize {
        let Some(ids) = self.by_key.remove(&key) else {
            return 0;
        };
        let mut done = 0;
        for id in ids {
            done += self.retry(stack, now, id, false);
        }
        done
    }

    /// Retry every parked op (a safety net used only while few are parked).
    pub(crate) fn retry_all(&mut self, stack: &mut Stack, now: Instant) -> usize {
        let ids: Vec<u64> = self.ops.keys().copied().collect();
        self.by_key.clear();
        let mut done = 0;
        for id in ids {
            done += self.retry(stack, now, id, false);
        }
        done
    }

    fn retry(&mut self, stack: &mut Stack, now: Instant, id: u64, expired: bool) -> usize {
        let Some(mut p) = self.ops.remove(&id) else {
            return 0;
        };
        match (p.f)(stack, now, expired) {
            Step::Done => 1,
            Step::Wait(key) => {
                p.key = key;
                self.park(id, p);
                0
            }
        }
    }

    /// Finish every op whose deadline passed.
    pub(crate) fn expire(&mut self, stack: &mut Stack, now: Instant) -> usize {
        let mut done = 0;
        while let Some(&Reverse((d, id))) = self.deadlines.peek() {
            if d > now {
                break;
            }
            self.deadlines.pop();
            let Some(key) = self.ops.get(&id).map(|p| p.key) else {
                continue;
            };
            if let Some(v) = self.by_key.get_mut(&key) {
                v.retain(|&x| x != id);
                if v.is_empty() {
                    self.by_key.remove(&key);
                }
            }
            // An expired op must finish; if it still says Wait, drop it (its caller sees an error).
            if let Some(mut p) = self.ops.remove(&id) {
                let _ = (p.f)(stack, now, true);
                done += 1;
            }
        }
        done
    }

    /// The earliest deadline of a parked op.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((d, id))) = self.deadlines.peek() {
            if self.ops.get(&id).is_some_and(|p| p.deadline == Some(d)) {
                return Some(d);
            }
            self.deadlines.pop();
        }
        None
    }
}
