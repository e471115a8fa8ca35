//! An endpoint we cannot look inside (smoltcp): segments are classified from the wire alone
//! (new data, retransmission, ACK, SYN, FIN, RST), without a TCB snapshot.

use super::Observer;
use crate::link::rules::{ACK, FIN, RST, SYN, TcpView};
use crate::tcp::segment::Segment;
use crate::time::Instant;
use crate::trace::explain::{make_seg, tcp_bytes};
use crate::trace::{Kind, Snapshot};

#[derive(Default)]
pub(super) struct Flow {
    iss: u32,
    irs: u32,
    sent_any: bool,
    max_end: u32,
    last_ack_rcvd: Option<(u32, u16)>,
}

impl Observer {
    fn foreign_flow(&self, local: u16, remote: u16) -> u32 {
        let client_port = match self.host {
            crate::trace::Host::Client => local,
            crate::trace::Host::Server => remote,
        };
        self.flows.get(&client_port).copied().unwrap_or(0)
    }

    /// A segment the foreign endpoint sent. Returns the pcapng comment when recording.
    pub fn on_foreign_send(&mut self, now: Instant, packet: &[u8]) -> Option<String> {
        self.totals.segments_sent += 1;
        let v = TcpView::parse(packet)?;
        let flow = self.foreign_flow(v.src_port, v.dst_port);
        let f = self.foreign.entry((v.src_port, v.dst_port)).or_default();
        if v.has(SYN) {
            f.iss = v.seq;
        }
        let end = v.seq.wrapping_add(v.seg_len());
        let rexmit = v.seg_len() > 0 && f.sent_any && (end.wrapping_sub(f.max_end) as i32) <= 0;
        if v.seg_len() > 0 && (!f.sent_any || (end.wrapping_sub(f.max_end) as i32) > 0) {
            f.max_end = end;
            f.sent_any = true;
        }
        if v.payload_len > 0 {
            self.totals.data_segments += 1;
        }
        if rexmit {
            self.totals.retransmissions += 1;
            self.totals.other_retransmissions += 1;
        }
        let (cause, why) = if v.has(RST) {
            ("rst", "RST")
        } else if v.has(SYN) && rexmit {
            ("syn_retransmit", "SYN retransmission")
        } else if v.has(SYN) && v.has(ACK) {
            ("synack", "SYN-ACK")
        } else if v.has(SYN) {
            ("syn", "SYN")
        } else if rexmit {
            ("retransmit", "retransmission")
        } else if v.payload_len > 0 {
            ("new_data", "new data")
        } else if v.has(FIN) {
            ("fin", "FIN")
        } else {
            ("ack", "ACK")
        };
        if !self.record {
            return None;
        }
        let (iss, irs) = (f.iss, f.irs);
        let seg = tcp_bytes(packet, &v)
            .and_then(|b| Segment::parse(b).ok())
            .map(|s| make_seg(&v, &s, iss, irs))
            .unwrap_or_default();
        self.push(
            now,
            flow,
            Kind::Send {
                seg,
                rexmit,
                cause,
                why: why.to_string(),
                snap: Snapshot {
                    state: "-",
                    ..Snapshot::default()
                },
            },
        );
        Some(format!("smoltcp: {why}"))
    }

    /// A segment delivered to the foreign endpoint.
    pub fn on_foreign_recv(&mut self, now: Instant, packet: &[u8]) {
        let Some(v) = TcpView::parse(packet) else {
            return;
        };
        let flow = self.foreign_flow(v.dst_port, v.src_port);
        let f = self.foreign.entry((v.dst_port, v.src_port)).or_default();
        if v.has(SYN) {
            f.irs = v.seq;
        }
        let dup = v.is_pure_ack()
            && v.window != 0
            && f.sent_any
            && f.last_ack_rcvd == Some((v.ack, v.window));
        if v.has(ACK) {
            f.last_ack_rcvd = Some((v.ack, v.window));
        }
        if dup {
            self.totals.dup_acks_received += 1;
        }
        if !self.record {
            return;
        }
        let (iss, irs) = (f.iss, f.irs);
        let Some(seg) = tcp_bytes(packet, &v)
            .and_then(|b| Segment::parse(b).ok())
            .map(|s| make_seg(&v, &s, irs, iss))
        else {
            return;
        };
        self.push(
            now,
            flow,
            Kind::Recv {
                seg,
                dup_ack: dup,
                wnd: u32::from(v.window),
            },
        );
    }
}
