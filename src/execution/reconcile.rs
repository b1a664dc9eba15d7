//! Reconciliation after the user channel (re)connects: whatever happened while it was down is
//! recovered from REST snapshots, through the order manager's own deduplicating paths, so a fill
//! is never lost and never counted twice.
//!
//! Trades first: every trade of ours in `GET /data/trades` goes through the same
//! (trade id, order hash) dedupe as the channel's, so only fills never seen become reports. Then
//! open orders: an order the venue lists is confirmed with its state; an order we hold open that
//! the venue no longer lists was filled or cancelled meanwhile and is looked up
//! (`GET /data/order/{id}` tells its final matched size, after which it is done); an order the
//! venue lists that we do not hold is a stray, returned for the caller to cancel.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_128;

use crate::adapters::polymarket::clob_client::rest::{RestOrder, RestTrade};
use crate::adapters::polymarket::ws_user::{OrderHash, TradeStatus, UserFill};
use crate::domain::intents::{ExecKind, ExecReport, Liquidity};
use crate::domain::markets::Registry;
use crate::execution::order_manager::OrderManager;

/// What reconciliation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Trade entries examined.
    pub trades_seen: usize,
    /// Fills reported that the channel had never delivered.
    pub fills_recovered: usize,
    /// Reversals reported that the channel had never delivered.
    pub reversals_recovered: usize,
    /// Our open orders the venue lists as open.
    pub orders_confirmed: usize,
    /// Our open orders the venue no longer lists: looked up.
    pub orders_missing: usize,
    /// Hashes of orders the venue lists as open that we do not hold.
    pub strays: Vec<[u8; 32]>,
}

/// Balance checks of one kind (pUSD, or outcome shares) and how many of them differed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BalanceChecks {
    /// Reads compared with a baseline.
    pub checks: u64,
    /// Of those, the ones where the venue's balance had moved by a different amount.
    pub mismatches: u64,
}

impl BalanceChecks {
    /// One read of a balance, with `moved` the amount the reported fills moved it by since the
    /// run began. Without a `baseline` yet, the read sets it (`balance - moved`); after that the
    /// balance must have moved by exactly `moved`. Returns the venue's movement when it did not.
    pub fn observe(
        &mut self,
        baseline: &mut Option<i128>,
        balance: i128,
        moved: i128,
    ) -> Option<i128> {
        let Some(base) = *baseline else {
            *baseline = Some(balance - moved);
            return None;
        };
        self.checks += 1;
        let venue = balance - base;
        (venue != moved).then(|| {
            self.mismatches += 1;
            venue
        })
    }
}

/// Appends our orders' parts in one REST trade as the user channel would have delivered them:
/// the taker order when we took (`trader_side` TAKER), then each maker order owned by
/// `api_key`. A trade with an unknown status, or a part on an unregistered token, is skipped.
pub fn rest_fills(t: &RestTrade, api_key: &str, registry: &Registry, out: &mut Vec<UserFill>) {
    let Some(status) = TradeStatus::parse(&t.status) else {
        return;
    };
    let trade_id = xxh3_128(t.id.as_bytes());
    let part = |order_id, token: &str, liquidity, side, px, qty, bps: u32| {
        Some(UserFill {
            trade_id,
            status,
            order_id: OrderHash(order_id),
            asset: registry.asset_by_token(token.as_bytes())?,
            side,
            px,
            qty,
            fee_rate_bps: u16::try_from(bps).unwrap_or(u16::MAX),
            liquidity,
            ts_ms: 0,
        })
    };
    if t.trader_side == Liquidity::Taker {
        let taker = Liquidity::Taker;
        out.extend(part(
            t.taker_order_id,
            &t.asset_id,
            taker,
            t.side,
            t.price,
            t.size,
            t.fee_rate_bps,
        ));
    }
    for m in t.maker_orders.iter().filter(|m| m.owner == api_key) {
        let maker = Liquidity::Maker;
        out.extend(part(
            m.order_id,
            &m.asset_id,
            maker,
            m.side,
            m.price,
            m.matched,
            m.fee_rate_bps,
        ));
    }
}

/// Diffs the manager against the venue's open orders and our trades (see [`rest_fills`]), appending the reports the
/// channel missed to `out` and scheduling lookups for orders that vanished.
pub fn reconcile(
    om: &mut OrderManager,
    open_at_venue: &[RestOrder],
    trades: &[UserFill],
    now_ms: u64,
    out: &mut Vec<ExecReport>,
) -> ReconcileReport {
    let mut report = ReconcileReport {
        trades_seen: trades.len(),
        ..ReconcileReport::default()
    };
    for t in trades {
        let first = out.len();
        om.on_user_fill(t, now_ms, out);
        for r in &out[first..] {
            match r.kind {
                ExecKind::Fill { .. } => report.fills_recovered += 1,
                ExecKind::FillReversed { .. } => report.reversals_recovered += 1,
                _ => {}
            }
        }
    }
    let listed: HashSet<[u8; 32]> = open_at_venue.iter().map(|r| r.id).collect();
    for r in open_at_venue {
        match om.id_of(&r.id) {
            Some(id) => {
                om.on_lookup(id, Some(r), now_ms, out);
                report.orders_confirmed += 1;
            }
            None => report.strays.push(r.id),
        }
    }
    // Orders never acknowledged are left to their POST response, or already looked up.
    let missing: Vec<_> = om
        .open_orders()
        .filter(|o| o.acknowledged && !listed.contains(&o.hash))
        .map(|o| o.client_id)
        .collect();
    for id in missing {
        om.request_lookup(id, now_ms);
        report.orders_missing += 1;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_read_sets_the_baseline_and_later_ones_must_move_with_the_fills() {
        let mut checks = BalanceChecks::default();
        let mut baseline = None;
        assert_eq!(checks.observe(&mut baseline, 1_000, 0), None);
        assert_eq!(baseline, Some(1_000));
        assert_eq!(
            checks.observe(&mut baseline, 1_250, 250),
            None,
            "moved with the fills"
        );
        assert_eq!(
            checks.observe(&mut baseline, 1_200, 250),
            Some(200),
            "the venue moved 200, the fills 250"
        );
        assert_eq!(
            checks,
            BalanceChecks {
                checks: 2,
                mismatches: 1
            }
        );
        let mut late = None;
        assert_eq!(checks.observe(&mut late, 900, -100), None);
        assert_eq!(
            late,
            Some(1_000),
            "fills before the first read are taken out"
        );
    }
}
