//! Execution faults: which order requests get a 429, a 5xx or no answer at all, when the user
//! channel is dropped, and the counters of each (trade failures are the engine's, counted here
//! as they are published).

use std::time::Duration;

use crate::sim::http::Reply;
use crate::sim::trading::config::ExecFaults;

use super::error;

/// What the trading side has done, faults included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecCounts {
    /// Orders the engine accepted.
    pub orders_accepted: u64,
    /// Orders refused (verification or engine).
    pub orders_rejected: u64,
    /// Orders refused because the same order (hash) was placed before: a client resending.
    pub duplicate_orders: u64,
    /// Order requests answered with nothing (held, then closed).
    pub lost_responses: u64,
    /// Order requests answered HTTP 5xx (accepted or not).
    pub http_5xx: u64,
    /// Order requests answered HTTP 429.
    pub http_429: u64,
    /// User-channel connections dropped on purpose.
    pub user_ws_disconnects: u64,
    /// Trades that went to FAILED.
    pub trades_failed: u64,
}

/// The fault schedule and its counters.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    cfg: ExecFaults,
    requests: u64,
    accepted_requests: u64,
    last_user_drop_ms: Option<u64>,
    /// Counters so far.
    pub counts: ExecCounts,
}

impl FaultPlan {
    /// The schedule of `cfg`, nothing injected yet.
    pub fn new(cfg: ExecFaults) -> FaultPlan {
        FaultPlan {
            cfg,
            requests: 0,
            accepted_requests: 0,
            last_user_drop_ms: None,
            counts: ExecCounts::default(),
        }
    }

    /// Counts an order request; the refusal it gets before being looked at, if any.
    pub fn before(&mut self) -> Option<Reply> {
        self.requests += 1;
        let n = self.requests;
        let burst = self.cfg.burst_429;
        if burst.every != 0 && (n - 1) % (burst.every + burst.length) >= burst.every {
            self.counts.http_429 += 1;
            return Some(error(429, "Too Many Requests"));
        }
        if every(self.cfg.http_5xx_before_every, n) {
            self.counts.http_5xx += 1;
            return Some(error(503, "Service Unavailable"));
        }
        None
    }

    /// Counts an order request that had at least one order accepted; the answer that replaces
    /// the real one, if any.
    pub fn after_accept(&mut self) -> Option<Reply> {
        self.accepted_requests += 1;
        let n = self.accepted_requests;
        if every(self.cfg.lost_response_every, n) {
            self.counts.lost_responses += 1;
            let hold = match self.cfg.lost_hold_ms {
                0 => ExecFaults::DEFAULT_HOLD_MS,
                ms => ms,
            };
            return Some(Reply::Lost {
                hold: Duration::from_millis(hold),
            });
        }
        if every(self.cfg.http_5xx_every, n) {
            self.counts.http_5xx += 1;
            return Some(error(500, "Internal server error"));
        }
        None
    }

    /// Whether the user channel is due to be dropped at `now_ms` (the first call only starts
    /// the clock).
    pub fn user_drop_due(&mut self, now_ms: u64) -> bool {
        let period = self.cfg.user_ws_disconnect_every_ms;
        if period == 0 {
            return false;
        }
        match self.last_user_drop_ms {
            None => {
                self.last_user_drop_ms = Some(now_ms);
                false
            }
            Some(last) if now_ms.saturating_sub(last) >= period => {
                self.last_user_drop_ms = Some(now_ms);
                true
            }
            Some(_) => false,
        }
    }
}

fn every(n: u64, count: u64) -> bool {
    n != 0 && count.is_multiple_of(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::trading::config::Burst429;

    fn status(r: Option<Reply>) -> Option<u16> {
        r.map(|r| match r {
            Reply::Json { status, .. } => status,
            Reply::Lost { .. } => 0,
        })
    }

    #[test]
    fn bursts_of_429_follow_the_schedule() {
        let mut plan = FaultPlan::new(ExecFaults {
            burst_429: Burst429 {
                every: 3,
                length: 2,
            },
            ..ExecFaults::default()
        });
        let got: Vec<_> = (0..10).map(|_| status(plan.before())).collect();
        let r = Some(429);
        assert_eq!(got, [None, None, None, r, r, None, None, None, r, r]);
        assert_eq!(plan.counts.http_429, 4);
    }

    #[test]
    fn lost_and_5xx_hit_every_nth_accepted_request() {
        let mut plan = FaultPlan::new(ExecFaults {
            lost_response_every: 2,
            http_5xx_every: 3,
            lost_hold_ms: 10,
            ..ExecFaults::default()
        });
        let got: Vec<_> = (0..6).map(|_| status(plan.after_accept())).collect();
        assert_eq!(got, [None, Some(0), Some(500), Some(0), None, Some(0)]);
        assert_eq!(plan.counts.lost_responses, 3);
        assert_eq!(plan.counts.http_5xx, 1);
        let mut quiet = FaultPlan::new(ExecFaults::default());
        assert!((0..100).all(|_| quiet.before().is_none() && quiet.after_accept().is_none()));
    }

    #[test]
    fn user_drops_are_spaced_by_the_period() {
        let mut plan = FaultPlan::new(ExecFaults {
            user_ws_disconnect_every_ms: 100,
            ..ExecFaults::default()
        });
        assert!(!plan.user_drop_due(1_000));
        assert!(!plan.user_drop_due(1_099));
        assert!(plan.user_drop_due(1_100));
        assert!(!plan.user_drop_due(1_150));
        assert!(plan.user_drop_due(1_200));
    }
}
