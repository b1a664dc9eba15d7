//! Fixed-size events that cross the SPSC rings from feed threads to the strategy thread.
//!
//! A venue message becomes a short run of events closed by `MessageEnd`; the core applies each
//! event as it comes and evaluates strategies only at `MessageEnd`, never on a half-applied
//! message. Events are `Copy` and hold no heap data, so a ring slot is all they need.

use crate::domain::fees::FeeSchedule;
use crate::domain::num::{AssetIdx, MarketIdx};
use crate::domain::num::{Px, Qty, Side};

/// Why an asset's book can no longer be trusted until a fresh snapshot arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaleReason {
    /// The connection carrying the asset dropped, stalled or was replaced.
    FeedReset,
    /// The feed's ring stayed full and a message for the asset was not delivered.
    RingFull,
    /// The feed could not decode a message that may have touched the asset.
    DecodeError,
}

/// What happened, in domain terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventBody {
    /// A book snapshot for `asset` starts: clear its book; `Level`s follow until `MessageEnd`.
    BookSnapshot {
        /// The asset whose book is replaced.
        asset: AssetIdx,
    },
    /// Set the level at `px` on `side` to `qty` (zero removes it): a snapshot row or a delta.
    Level {
        /// The asset.
        asset: AssetIdx,
        /// Bid (`Buy`) or ask (`Sell`).
        side: Side,
        /// The level's price.
        px: Px,
        /// The level's new total size.
        qty: Qty,
    },
    /// The venue's best bid and ask for `asset` right after the preceding `Level` (the
    /// `best_bid`/`best_ask` of a `price_change` entry): a consistency check for our book.
    BestCheck {
        /// The asset.
        asset: AssetIdx,
        /// The venue's best bid, if it has one.
        bid: Option<Px>,
        /// The venue's best ask, if it has one.
        ask: Option<Px>,
    },
    /// The asset's tick size changed: its ladder is invalid until a fresh snapshot.
    TickSize {
        /// The asset.
        asset: AssetIdx,
        /// The new tick size.
        tick: Px,
    },
    /// A trade printed on the venue (no book effect).
    LastTrade {
        /// The asset.
        asset: AssetIdx,
        /// The taker's side.
        side: Side,
        /// Trade price.
        px: Px,
        /// Trade size.
        qty: Qty,
    },
    /// The venue's top of book (`best_bid_ask`, no book effect).
    BestBidAsk {
        /// The asset.
        asset: AssetIdx,
        /// Best bid, if any.
        bid: Option<Px>,
        /// Best ask, if any.
        ask: Option<Px>,
    },
    /// The market holding `asset` resolved; `won` says whether this outcome won.
    Resolved {
        /// The asset.
        asset: AssetIdx,
        /// Whether this asset is the winning outcome.
        won: bool,
    },
    /// The venue announced a market this run does not trade (counted, not applied).
    NewMarket,
    /// A market's fee schedule changed (seen by the metadata refresh): every later decision
    /// prices its fills with the new schedule.
    FeeChange {
        /// The market.
        market: MarketIdx,
        /// Its new schedule.
        fees: FeeSchedule,
    },
    /// The asset's book must be treated as unknown until its next snapshot.
    Stale {
        /// The asset.
        asset: AssetIdx,
        /// Why.
        reason: StaleReason,
    },
    /// End of one venue message: a consistent point where strategies may evaluate.
    MessageEnd,
}

/// One event with its latency stamps.
///
/// `t_rx` and `t_dec` are raw clock ticks taken by the feed thread (frame read, pushed to the
/// ring); the core never reads them, it only carries them into intents. `venue_ts_ms` is the
/// message's own timestamp (Unix milliseconds, 0 if it had none): the only time the core sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Raw clock ticks when the frame carrying this event was read.
    pub t_rx: u64,
    /// Raw clock ticks when the event was pushed to the ring.
    pub t_dec: u64,
    /// The venue's timestamp of the message, Unix milliseconds.
    pub venue_ts_ms: u64,
    /// What happened.
    pub body: EventBody,
}

impl Event {
    /// An event with no stamps yet (the feed fills them in when it pushes).
    pub const fn new(venue_ts_ms: u64, body: EventBody) -> Event {
        Event {
            t_rx: 0,
            t_dec: 0,
            venue_ts_ms,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fit_a_cache_line() {
        assert!(
            std::mem::size_of::<Event>() <= 48,
            "{}",
            std::mem::size_of::<Event>()
        );
    }
}
