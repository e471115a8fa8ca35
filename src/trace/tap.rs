//! `Tap`: what a real-time driver (the TUN runtime) adds for observability, in one place:
//! the observer that writes each packet's cause into the capture, and the scripted-impairment
//! rules stage. Everything is off (and costs a branch) unless asked for.
//!
//! Call order in the driver: `before` → (packet in | timer | API ops) → `after_*`, and when
//! draining `poll_transmit`: `on_send` per packet, then `sent_all`. Packets from the link go
//! through `filter(Side::C2S, ..)` before the stack, packets to the link through
//! `filter(Side::S2C, ..)`; held packets come back from `poll_release`.
//! On a TUN, `c2s` is kernel → our stack and `s2c` our stack → kernel.

use std::io::Write;

use super::Host;
use super::observer::Observer;
use crate::link::rules::{Rule, RuleEngine, RuleHit, Side};
use crate::stack::Stack;
use crate::time::Instant;

pub struct Tap {
    obs: Option<Observer>,
    rules: Option<RuleEngine>,
    hits: u64,
    /// The decision trace (JSON lines), written as each batch is sent.
    trace: Option<Box<dyn Write + Send>>,
    trace_errors: u64,
}

impl Tap {
    /// `annotate`: build capture comments; `rules`: scripted impairments (may be empty).
    pub fn new(annotate: bool, rules: Vec<Rule>) -> Tap {
        Tap::with_trace(annotate, rules, None)
    }

    /// Also write the decision trace (docs/trace-schema.md; `host` is "server", times are µs
    /// since the driver started).
    pub fn with_trace(
        annotate: bool,
        rules: Vec<Rule>,
        trace: Option<Box<dyn Write + Send>>,
    ) -> Tap {
        let obs = (annotate || trace.is_some()).then(|| {
            let mut o = Observer::new(Host::Server, true);
            o.set_batching(true);
            o.set_keep_events(trace.is_some());
            o.set_auto_flows(true);
            o
        });
        Tap {
            obs,
            rules: (!rules.is_empty()).then(|| RuleEngine::new(rules)),
            hits: 0,
            trace,
            trace_errors: 0,
        }
    }

    /// Trace lines that could not be written.
    pub fn trace_errors(&self) -> u64 {
        self.trace_errors
    }

    /// Push buffered trace lines to the file.
    pub fn flush(&mut self) {
        if let Some(w) = self.trace.as_mut()
            && w.flush().is_err()
        {
            self.trace_errors += 1;
        }
    }

    pub fn before(&mut self, stack: &Stack) {
        if let Some(o) = self.obs.as_mut() {
            o.before(stack);
        }
    }

    /// After `handle_packet`: the capture comment (why the stack dropped it), if any.
    pub fn after_input(&mut self, now: Instant, stack: &Stack, pkt: &[u8]) -> Option<String> {
        let o = self.obs.as_mut()?;
        o.after_input(now, stack, pkt)
            .map(|r| format!("dropped: {r}"))
    }

    pub fn after_timer(&mut self, now: Instant, stack: &Stack) {
        if let Some(o) = self.obs.as_mut() {
            o.after_timer(now, stack);
        }
    }

    pub fn after_app(&mut self, now: Instant, stack: &Stack) {
        if let Some(o) = self.obs.as_mut() {
            o.after_app(now, stack);
        }
    }

    /// A packet `poll_transmit` produced: its capture comment (cause and TCB snapshot).
    pub fn on_send(&mut self, now: Instant, stack: &Stack, pkt: &[u8]) -> Option<String> {
        self.obs.as_mut()?.on_send(now, stack, pkt)
    }

    /// `poll_transmit` is drained: the next events start a new batch.
    pub fn sent_all(&mut self) {
        if let Some(o) = self.obs.as_mut() {
            o.batch_done();
            if let Some(w) = self.trace.as_mut() {
                for e in o.drain() {
                    if writeln!(w, "{}", e.to_json()).is_err() {
                        self.trace_errors += 1;
                    }
                }
            }
        }
    }

    /// Pass a packet through the rules; what may go on now is appended to `out`.
    pub fn filter(&mut self, now: Instant, side: Side, pkt: Vec<u8>, out: &mut Vec<Vec<u8>>) {
        match self.rules.as_mut() {
            Some(r) => {
                r.push(now, side, pkt, out);
                for h in r.take_hits() {
                    self.hits += 1;
                    log_hit(&h);
                }
            }
            None => out.push(pkt),
        }
    }

    pub fn has_rules(&self) -> bool {
        self.rules.is_some()
    }

    /// A held (delayed or reordered) packet that is due.
    pub fn poll_release(&mut self, now: Instant) -> Option<(Side, Vec<u8>)> {
        self.rules.as_mut()?.poll_release(now)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rules.as_ref()?.poll_timeout()
    }

    /// Packets the rules acted on so far.
    pub fn rule_actions(&self) -> u64 {
        self.hits
    }
}

fn log_hit(h: &RuleHit) {
    log::info!("{} {}: {} ({})", h.at, h.side.name(), h.action, h.rule);
}
