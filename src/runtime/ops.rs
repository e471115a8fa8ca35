//! Commands from API threads to the driver, and the table of calls blocked on a socket.

use std::collections::{BTreeSet, HashMap};

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

/// A call on the driver's inline services (`services::inline`).
pub(crate) type InlineFn =
    Box<dyn FnOnce(&mut Stack, &mut crate::services::inline::Inline, Instant) + Send>;

pub(crate) enum Cmd {
    Op {
        f: OpFn,
        timeout: Option<std::time::Duration>,
    },
    Inline(InlineFn),
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
    /// (deadline, id) of parked ops that have one; removed when the op finishes.
    deadlines: BTreeSet<(Instant, u64)>,
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
                self.deadlines.insert((d, id));
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
            Step::Done => {
                if let Some(d) = p.deadline {
                    self.deadlines.remove(&(d, id));
                }
                1
            }
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
        while let Some(&(d, id)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(mut p) = self.ops.remove(&id) else {
                continue;
            };
            if let Some(v) = self.by_key.get_mut(&p.key) {
                v.retain(|&x| x != id);
                if v.is_empty() {
                    self.by_key.remove(&p.key);
                }
            }
            // An expired op must finish; if it still says Wait, it is dropped (its caller sees
            // an error).
            let _ = (p.f)(stack, now, true);
            done += 1;
        }
        done
    }

    /// The earliest deadline of a parked op.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(d, _)| d)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::socket::TcpHandle;
    use crate::stack::StackConfig;

    const KEY: SocketEvent = SocketEvent::Tcp(TcpHandle(7));

    /// An op that waits on KEY until `ready`, counting finishes and timeouts.
    fn op(ready: Arc<AtomicU32>, finished: Arc<AtomicU32>, timed_out: Arc<AtomicU32>) -> OpFn {
        Box::new(move |_, _, expired| {
            if ready.load(Ordering::SeqCst) > 0 {
                finished.fetch_add(1, Ordering::SeqCst);
                Step::Done
            } else if expired {
                timed_out.fetch_add(1, Ordering::SeqCst);
                Step::Done
            } else {
                Step::Wait(KEY)
            }
        })
    }

    #[test]
    fn parked_ops_finish_on_their_event_or_at_their_deadline() {
        let mut stack = Stack::new(StackConfig::default());
        let mut t = PendingTable::default();
        let (ready, fin, tout) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
        );
        let t0 = Instant::from_secs(1);
        let d1 = t0 + crate::Duration::from_millis(100);
        let d2 = t0 + crate::Duration::from_millis(200);
        t.submit(
            &mut stack,
            t0,
            op(ready.clone(), fin.clone(), tout.clone()),
            Some(d1),
        );
        t.submit(
            &mut stack,
            t0,
            op(ready.clone(), fin.clone(), tout.clone()),
            Some(d2),
        );
        assert_eq!((t.len(), t.next_deadline()), (2, Some(d1)));
        // Not yet due; an event on another socket changes nothing.
        assert_eq!(
            t.expire(&mut stack, d1 - crate::Duration::from_micros(1)),
            0
        );
        assert_eq!(
            t.on_event(&mut stack, t0, SocketEvent::Tcp(TcpHandle(8))),
            0
        );
        // The first times out at its deadline.
        assert_eq!(t.expire(&mut stack, d1), 1);
        assert_eq!(tout.load(Ordering::SeqCst), 1);
        assert_eq!(t.next_deadline(), Some(d2));
        // The second is woken by its event, still not ready: it stays parked.
        assert_eq!(t.on_event(&mut stack, t0, KEY), 0);
        assert_eq!(t.len(), 1);
        // Ready now: it finishes, and its deadline goes with it.
        ready.store(1, Ordering::SeqCst);
        assert_eq!(t.on_event(&mut stack, t0, KEY), 1);
        assert_eq!((t.len(), t.next_deadline()), (0, None));
        assert_eq!(fin.load(Ordering::SeqCst), 1);
    }
}
