//! A paper execution sink: acknowledges every intent the way the venue would, but never trades.
//!
//! Resting (GTC) orders stay live until cancelled or halted; FOK/FAK orders are killed at once
//! with nothing filled, because a dry run has no counterparty. Nothing here invents a fill.
//! Given a signer (`pmbot run --dry-run` with a key configured), it also signs every order as
//! the live sink would and logs its hash: the whole order path short of the wire.

use crate::adapters::polymarket::signing::hex_hash;
use crate::domain::intents::{
    ClientId, ExecKind, ExecReport, Intent, MarketChange, PlaceOrder, Tif,
};
use crate::execution::order_signer::OrderSigner;
use crate::execution::presign::PresignKey;
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
    /// Orders signed (with a signer).
    pub signed: u64,
}

/// The dry-run sink's state: the resting orders it holds.
#[derive(Debug)]
pub struct DryRun {
    live: Vec<ClientId>,
    counters: DryRunCounters,
    /// Time of the last intent, Unix milliseconds (the core's time): stamps the stop's cancels.
    last_ms: u64,
    /// Signs each order when set.
    signer: Option<OrderSigner>,
}

impl DryRun {
    /// A sink that can hold `capacity` resting orders without allocating.
    pub fn with_capacity(capacity: usize) -> DryRun {
        DryRun {
            live: Vec::with_capacity(capacity),
            counters: DryRunCounters::default(),
            last_ms: 0,
            signer: None,
        }
    }

    /// A dry run that also signs every order with `signer` and logs it.
    pub fn signing(capacity: usize, signer: OrderSigner) -> DryRun {
        DryRun {
            signer: Some(signer),
            ..DryRun::with_capacity(capacity)
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
                self.sign_and_log(&order, ts_ms);
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
            Intent::MarketChanged {
                market,
                change: MarketChange::Tick(tick),
            } => {
                if let Some(signer) = &mut self.signer {
                    signer.set_tick(market, tick);
                }
            }
            Intent::MarketChanged { .. } => {}
        }
    }

    fn sign_and_log(&mut self, order: &PlaceOrder, ts_ms: u64) {
        let Some(signer) = &mut self.signer else {
            return;
        };
        let key = PresignKey {
            asset: order.asset,
            side: order.side,
            px: order.limit_px,
            size: order.size,
        };
        match signer.sign(&key, ts_ms) {
            Ok(signed) => {
                self.counters.signed += 1;
                tracing::info!(
                    client_id = order.client_id.0,
                    order_hash = %String::from_utf8_lossy(&hex_hash(&signed.hash)),
                    token = signer.token_id(order.asset),
                    side = order.side.as_str(),
                    price = %order.limit_px,
                    size = %order.size,
                    tif = order.tif.as_str(),
                    "dry run: order signed, not sent"
                );
            }
            Err(e) => {
                tracing::warn!(client_id = order.client_id.0, error = %e, "dry run: order not signable")
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
    use crate::domain::intents::{GroupId, HaltReason};
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
    fn a_signing_dry_run_signs_every_order_and_reports_as_the_paper_one() {
        use crate::adapters::polymarket::signing::Signer;
        use crate::domain::markets::{MarketSpec, Registry};
        let mut registry = Registry::default();
        registry
            .add_market(MarketSpec {
                condition_id: "0xc1".into(),
                token_ids: vec!["11".into(), "12".into()],
                tick: Px(100),
                ..MarketSpec::default()
            })
            .unwrap();
        let key = Signer::from_secret(&[9; 32]).unwrap();
        let address = key.address();
        let signer = OrderSigner::new(key, address, 0, 137, std::sync::Arc::new(registry));
        let mut signing = DryRun::signing(4, signer);
        let mut paper = DryRun::with_capacity(4);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (id, tif) in [(1, Tif::Gtc), (2, Tif::Fok)] {
            signing.handle(&place(id, tif), 5, &mut a);
            paper.handle(&place(id, tif), 5, &mut b);
        }
        assert_eq!(a, b);
        assert_eq!(signing.counters().signed, 2);
        assert_eq!(paper.counters().signed, 0);
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
