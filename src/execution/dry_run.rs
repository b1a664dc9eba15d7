//! A paper execution sink: acknowledges every intent the way the venue would, but never trades.
//!
//! Resting (GTC) orders stay live until cancelled or halted; FOK/FAK orders are killed at once
//! with nothing filled, because a dry run has no counterparty. Nothing here invents a fill.

use crate::domain::intents::{ClientId, ExecKind, ExecReport, Intent, Tif};
use crate::execution::{ExecCounters, ExecSummary, IntentMsg, Sink};

/// What the dry run did, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DryRunCounters {
    /// Orders acknowledged.
    pub placed: u64,
    /// Taker orders killed unfilled.
    pub killed: u64,
    /// Resting orders cancelled (one by one or by a halt).
    pub cancelled: u64,
    /// Cancels for orders that were not live.
    pub unknown_cancels: u64,
    /// Halts received.
    pub halts: u64,
}

/// The dry-run sink's state: the resting orders it holds.
#[derive(Debug)]
pub struct DryRun {
    live: Vec<ClientId>,
    counters: DryRunCounters,
    /// Time of the last intent, Unix milliseconds (the core's time): stamps the stop's cancels.
    last_ms: u64,
}

impl DryRun {
    /// A sink that can hold `capacity` resting orders without allocating.
    pub fn with_capacity(capacity: usize) -> DryRun {
        DryRun {
            live: Vec::with_capacity(capacity),
            counters: DryRunCounters::default(),
            last_ms: 0,
        }
    }

    /// Handles one intent at `ts_ms`, appending the reports the venue would send.
    pub fn handle(&mut self, intent: &Intent, ts_ms: u64, out: &mut Vec<ExecReport>) {
        self.last_ms = self.last_ms.max(ts_ms);
        let report = |client_id, kind| ExecReport {
            client_id,
            ts_ms,
            kind,
        };
        match *intent {
            Intent::Place(order) => {
                self.counters.placed += 1;
                out.push(report(order.client_id, ExecKind::Accepted));
                match order.tif {
                    Tif::Gtc => self.live.push(order.client_id),
                    Tif::Fok | Tif::Fak => {
                        self.counters.killed += 1;
                        out.push(report(order.client_id, ExecKind::Done));
                    }
                }
            }
            Intent::Cancel { client_id } => {
                match self.live.iter().position(|&id| id == client_id) {
                    Some(i) => {
                        self.live.swap_remove(i);
                        self.counters.cancelled += 1;
                        out.push(report(client_id, ExecKind::Done));
                    }
                    None => self.counters.unknown_cancels += 1,
                }
            }
            Intent::Halt { .. } => {
                self.counters.halts += 1;
                self.cancel_all(ts_ms, out);
            }
        }
    }

    fn cancel_all(&mut self, ts_ms: u64, out: &mut Vec<ExecReport>) {
        self.live.sort_unstable();
        for client_id in self.live.drain(..) {
            self.counters.cancelled += 1;
            out.push(ExecReport {
                client_id,
                ts_ms,
                kind: ExecKind::Done,
            });
        }
    }

    /// Orders resting now.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// What the sink has done.
    pub fn counters(&self) -> &DryRunCounters {
        &self.counters
    }
}

impl Sink for DryRun {
    fn on_intent(&mut self, msg: &IntentMsg, out: &mut Vec<ExecReport>) {
        // A dry run answers at once, in the core's own time, so venue time and this
        // machine's clock never mix in the core.
        self.handle(&msg.intent, msg.decided_ms, out);
    }

    fn poll(&mut self, _out: &mut Vec<ExecReport>) -> bool {
        false
    }

    fn shutdown(&mut self, out: &mut Vec<ExecReport>) {
        self.cancel_all(self.last_ms, out);
    }

    fn summary(self) -> ExecSummary {
        ExecSummary {
            counters: ExecCounters {
                acks: self.counters.placed,
                cancels: self.counters.cancelled,
                ..ExecCounters::default()
            },
            ..ExecSummary::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intents::{GroupId, HaltReason, PlaceOrder};
    use crate::domain::num::{AssetIdx, Px, Qty, Side};

    fn place(id: u64, tif: Tif) -> Intent {
        Intent::Place(PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx(0),
            side: Side::Buy,
            limit_px: Px(4000),
            size: Qty::from_shares(5),
            tif,
            post_only: tif == Tif::Gtc,
            group: GroupId(id),
            group_len: 1,
        })
    }

    fn kinds(out: &[ExecReport]) -> Vec<(u64, ExecKind)> {
        out.iter().map(|r| (r.client_id.0, r.kind)).collect()
    }

    #[test]
    fn takers_are_acknowledged_then_killed_unfilled() {
        let mut sink = DryRun::with_capacity(4);
        let mut out = Vec::new();
        sink.handle(&place(1, Tif::Fok), 7, &mut out);
        sink.handle(&place(2, Tif::Fak), 8, &mut out);
        assert_eq!(
            kinds(&out),
            [
                (1, ExecKind::Accepted),
                (1, ExecKind::Done),
                (2, ExecKind::Accepted),
                (2, ExecKind::Done)
            ]
        );
        assert_eq!(out[3].ts_ms, 8);
        assert_eq!(sink.live(), 0);
    }

    #[test]
    fn resting_orders_live_until_cancelled_or_halted() {
        let mut sink = DryRun::with_capacity(4);
        let mut out = Vec::new();
        for id in [3, 1, 2] {
            sink.handle(&place(id, Tif::Gtc), 1, &mut out);
        }
        assert_eq!(sink.live(), 3);
        out.clear();
        sink.handle(
            &Intent::Cancel {
                client_id: ClientId(1),
            },
            2,
            &mut out,
        );
        sink.handle(
            &Intent::Cancel {
                client_id: ClientId(1),
            },
            2,
            &mut out,
        );
        assert_eq!(kinds(&out), [(1, ExecKind::Done)]);
        assert_eq!(sink.counters().unknown_cancels, 1);
        out.clear();
        let halt = Intent::Halt {
            reason: HaltReason::KillSwitch,
        };
        sink.handle(&halt, 3, &mut out);
        assert_eq!(kinds(&out), [(2, ExecKind::Done), (3, ExecKind::Done)]);
        assert_eq!(sink.live(), 0);
        assert_eq!(sink.counters().cancelled, 3);
        assert_eq!(sink.counters().halts, 1);
    }

    #[test]
    fn stopping_cancels_what_rests_and_sums_up() {
        let mut sink = DryRun::with_capacity(4);
        let mut out = Vec::new();
        sink.handle(&place(1, Tif::Gtc), 5, &mut out);
        sink.handle(&place(2, Tif::Fok), 6, &mut out);
        out.clear();
        sink.shutdown(&mut out);
        assert_eq!(kinds(&out), [(1, ExecKind::Done)]);
        assert_eq!(out[0].ts_ms, 6);
        let summary = sink.summary();
        assert_eq!(summary.counters.acks, 2);
        assert_eq!(summary.counters.cancels, 1);
        assert_eq!(summary.counters.orders_sent, 0, "a dry run sends nothing");
    }
}
