//! What the core asks execution to do (`Intent`) and what execution tells the core back
//! (`ExecReport`): fixed-size, `Copy` values that cross the rings between the two threads.

use crate::domain::fees::FeeSchedule;
use crate::domain::num::{AssetIdx, MarketIdx, Px, Qty, Side, Usdc};

/// The core's id for one order, unique within a run and assigned in event order, so the same
/// events always produce the same ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// Ties together the legs of one opportunity so execution can send them as one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u64);

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tif {
    /// Good till cancelled: rests on the book.
    Gtc,
    /// Fill or kill: all of it at once, or nothing.
    Fok,
    /// Fill and kill: whatever matches now, the rest is cancelled.
    Fak,
}

impl Tif {
    /// The venue's spelling (`orderType`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Tif::Gtc => "GTC",
            Tif::Fok => "FOK",
            Tif::Fak => "FAK",
        }
    }
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The core's id for it.
    pub client_id: ClientId,
    /// The outcome token.
    pub asset: AssetIdx,
    /// Buy or sell.
    pub side: Side,
    /// The limit price, on the market's tick.
    pub limit_px: Px,
    /// Shares, in lots of 0.01.
    pub size: Qty,
    /// Time in force.
    pub tif: Tif,
    /// Rejected by the venue rather than allowed to take liquidity.
    pub post_only: bool,
    /// The opportunity it belongs to.
    pub group: GroupId,
    /// How many legs the group has; execution sends the batch once it holds them all.
    pub group_len: u8,
}

/// Why the core stopped trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HaltReason {
    /// The operator pressed the kill switch.
    KillSwitch,
    /// Realised plus marked losses today reached the limit.
    DailyLoss,
    /// An unhedged leg grew beyond the exposure limit.
    UnhedgedExposure,
    /// An unhedged leg stayed open longer than allowed.
    UnhedgedAge,
    /// The venue rejected too many orders in a row.
    RejectStorm,
    /// An order whose outcome is unknown (a lost response) stayed unresolved past its deadline.
    UnresolvedOrder,
}

impl HaltReason {
    /// A stable snake_case name for reports and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            HaltReason::KillSwitch => "kill_switch",
            HaltReason::DailyLoss => "daily_loss",
            HaltReason::UnhedgedExposure => "unhedged_exposure",
            HaltReason::UnhedgedAge => "unhedged_age",
            HaltReason::RejectStorm => "reject_storm",
            HaltReason::UnresolvedOrder => "unresolved_order",
        }
    }
}

/// A change of a market's trading parameters, as the core applied it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketChange {
    /// A new tick size (orders must be priced on it).
    Tick(Px),
    /// A new fee schedule.
    Fees(FeeSchedule),
}

/// One instruction for execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Send a new order.
    Place(PlaceOrder),
    /// Cancel a live order.
    Cancel {
        /// The order.
        client_id: ClientId,
    },
    /// Cancel every open order and stop; no `Place` follows until an operator clears the halt.
    Halt {
        /// Why.
        reason: HaltReason,
    },
    /// A market's tick or fees changed: orders signed ahead for it are void, and new orders and
    /// fills follow the new parameters.
    MarketChanged {
        /// The market.
        market: MarketIdx,
        /// What changed.
        change: MarketChange,
    },
}

/// Whether a fill took or made liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    /// Our order crossed the book.
    Taker,
    /// Our resting order was hit.
    Maker,
}

/// Why the venue refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VenueReject {
    /// Not enough collateral or outcome tokens, or no allowance.
    Balance,
    /// Below the market's minimum size.
    MinSize,
    /// The price is off the market's tick.
    Tick,
    /// A post-only order would have crossed.
    PostOnlyCross,
    /// The market is closed or not accepting orders.
    NotAccepting,
    /// Over the venue's rate limit (HTTP 429).
    RateLimited,
    /// Anything else the venue refused.
    Other,
}

impl VenueReject {
    /// A stable snake_case name for reports and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            VenueReject::Balance => "balance",
            VenueReject::MinSize => "min_size",
            VenueReject::Tick => "tick",
            VenueReject::PostOnlyCross => "post_only_cross",
            VenueReject::NotAccepting => "not_accepting",
            VenueReject::RateLimited => "rate_limited",
            VenueReject::Other => "other",
        }
    }
}

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecKind {
    /// The venue took the order; it is live (or matching).
    Accepted,
    /// The venue refused the order; it never existed. Terminal.
    Rejected {
        /// Why.
        reason: VenueReject,
    },
    /// Part or all of the order matched.
    Fill {
        /// The fill's price.
        px: Px,
        /// Shares filled by this fill.
        qty: Qty,
        /// The fee charged for it.
        fee: Usdc,
        /// Taker or maker.
        liquidity: Liquidity,
    },
    /// A fill reported earlier (at MATCHED) failed to settle on chain (FAILED): the venue
    /// reversed it, so the core undoes it. Carries the fill's own figures.
    FillReversed {
        /// The reversed fill's price.
        px: Px,
        /// Shares given back.
        qty: Qty,
        /// The fee refunded.
        fee: Usdc,
        /// Taker or maker.
        liquidity: Liquidity,
    },
    /// The order's fate is still unknown past its deadline (its send timed out or got a 5xx and
    /// neither the user channel nor a lookup resolved it). The order stays open, its exposure
    /// reserved; the core halts. A later report resolves it.
    Unresolved,
    /// The order is no longer live: fully filled, cancelled, or killed (FOK/FAK remainder).
    /// Terminal; fills for it arrive before this.
    Done,
}

/// Execution's report on one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecReport {
    /// The order.
    pub client_id: ClientId,
    /// When execution saw it, Unix milliseconds: the core's only clock for order ages.
    pub ts_ms: u64,
    /// What happened.
    pub kind: ExecKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_and_reports_stay_small_enough_for_a_ring_slot() {
        assert!(std::mem::size_of::<Intent>() <= 48);
        assert!(std::mem::size_of::<ExecReport>() <= 48);
    }
}
