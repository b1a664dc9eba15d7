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

use crate::adapters::polymarket::ws_user::UserFill;
use crate::domain::intents::{ExecKind, ExecReport};
use crate::execution::order_manager::{OrderManager, RestOrder};

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

/// Diffs the manager against the venue's open orders and our trades, appending the reports the
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
    let listed: HashSet<[u8; 32]> = open_at_venue.iter().map(|r| r.order_id.0).collect();
    for r in open_at_venue {
        match om.id_of(&r.order_id.0) {
            Some(id) => {
                om.on_lookup(id, Some(r), now_ms, out);
                report.orders_confirmed += 1;
            }
            None => report.strays.push(r.order_id.0),
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
