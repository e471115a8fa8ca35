//! Proportional Rate Reduction (RFC 6937) for the window during loss recovery.
//!
//! Instead of halving at once (and then sending nothing for half a round trip), PRR spreads the
//! reduction over the recovery: while pipe > ssthresh it sends ssthresh/RecoverFS of what was
//! delivered; once pipe falls below ssthresh it grows back towards it by at most the delivered
//! data plus one MSS per ACK (slow-start reduction bound, PRR-SSRB). Read next: `recovery.rs`.

#[derive(Clone, Debug, Default)]
pub struct Prr {
    /// RecoverFS: the flight size when recovery began (§3).
    pub recover_fs: u32,
    /// prr_delivered: bytes delivered to the receiver since recovery began.
    pub prr_delivered: u32,
    /// prr_out: bytes sent since recovery began.
    pub prr_out: u32,
}

impl Prr {
    /// §3 "On entering recovery".
    pub fn start(recover_fs: u32) -> Self {
        Prr {
            recover_fs: recover_fs.max(1),
            prr_delivered: 0,
            prr_out: 0,
        }
    }

    /// §3 "On every ACK during recovery": returns sndcnt, the bytes that may be sent now.
    pub fn on_ack(&mut self, delivered: u32, pipe: u32, ssthresh: u32, mss: u32) -> u32 {
        self.prr_delivered = self.prr_delivered.saturating_add(delivered);
        if pipe > ssthresh {
            // Proportional Rate Reduction: CEIL(prr_delivered · ssthresh / RecoverFS) − prr_out.
            let num = u64::from(self.prr_delivered) * u64::from(ssthresh);
            let target = num.div_ceil(u64::from(self.recover_fs));
            target.saturating_sub(u64::from(self.prr_out)) as u32
        } else {
            // PRR-SSRB: limit = MAX(prr_delivered − prr_out, DeliveredData) + MSS.
            let limit = self
                .prr_delivered
                .saturating_sub(self.prr_out)
                .max(delivered)
                .saturating_add(mss);
            (ssthresh - pipe).min(limit)
        }
    }

    /// §3 "On any data transmission or retransmission".
    pub fn on_sent(&mut self, bytes: u32) {
        self.prr_out = self.prr_out.saturating_add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn reno_sends_one_segment_per_two_acks() {
        // RFC 6937 §6 (Reno, ssthresh = RecoverFS/2): PRR sends one segment for every two
        // delivered, spread across the whole recovery.
        let mut p = Prr::start(20 * MSS);
        let mut pipe = 19 * MSS; // one segment lost
        let mut sent = Vec::new();
        for _ in 0..10 {
            pipe -= MSS; // one segment delivered
            // Whole segments only: sndcnt is in bytes (CEIL(1000·10/20) = 500 after one ACK).
            let n = p.on_ack(MSS, pipe, 10 * MSS, MSS) / MSS * MSS;
            p.on_sent(n);
            pipe += n;
            sent.push(n / MSS);
        }
        assert_eq!(sent, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(p.prr_out, 5 * MSS);
    }

    #[test]
    fn cubic_beta_sends_seven_per_ten() {
        // ssthresh = 0.7 · RecoverFS: sndcnt = CEIL(delivered · 0.7) − out.
        let mut p = Prr::start(20 * MSS);
        let mut pipe = 19 * MSS;
        let mut total = 0;
        for _ in 0..10 {
            pipe -= MSS;
            let n = p.on_ack(MSS, pipe, 14 * MSS, MSS) / MSS * MSS;
            p.on_sent(n);
            pipe += n;
            total += n;
        }
        assert_eq!(total, 7 * MSS);
    }

    #[test]
    fn ssrb_below_ssthresh_grows_by_delivered_plus_one_mss() {
        // §3 PRR-SSRB: after a burst loss pipe < ssthresh: sndcnt = min(ssthresh − pipe,
        // max(prr_delivered − prr_out, DeliveredData) + MSS).
        let mut p = Prr::start(20 * MSS);
        assert_eq!(p.on_ack(MSS, 4 * MSS, 10 * MSS, MSS), 2 * MSS);
        p.on_sent(2 * MSS);
        assert_eq!(p.on_ack(2 * MSS, 5 * MSS, 10 * MSS, MSS), 3 * MSS);
        assert_eq!(p.on_ack(0, 10 * MSS, 10 * MSS, MSS), 0);
    }
}
