//! The set of books the core trusts: applies market-data events and decides when a book must be
//! distrusted and resynchronised.
//!
//! Rules, in order of precedence:
//! - a book is stale until a snapshot has been applied, and again after a feed reset, a tick-size
//!   change, a message older than the book, a refused level, a crossed result or a disagreement
//!   with the venue's own best bid/ask; a stale book ignores deltas until its next snapshot;
//! - a snapshot older than the last message applied to the book is refused (and asked for again):
//!   deltas newer than it may already be in the book;
//! - every time a fresh book is distrusted, one resync is requested; no more are requested for
//!   that asset until a snapshot arrives.

use crate::domain::book::Book;
use crate::domain::events::{Event, EventBody, StaleReason};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, Px};

/// Why the book set asked for a resync, counted for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounters {
    /// Snapshots applied.
    pub snapshots: u64,
    /// Level changes applied.
    pub levels_applied: u64,
    /// Deltas ignored because their book was stale.
    pub ignored_while_stale: u64,
    /// Messages older than the book they were for (refused).
    pub out_of_order: u64,
    /// Levels (off tick, out of range) and tick sizes the books refused.
    pub refused_levels: u64,
    /// Books found crossed after a message.
    pub crossed: u64,
    /// `price_change` best bid/ask disagreements with our book.
    pub best_mismatches: u64,
    /// `best_bid_ask` messages that disagreed with our book (metric only).
    pub top_of_book_disagreements: u64,
    /// Tick size changes.
    pub tick_changes: u64,
    /// Assets marked stale by the feed (resets, full rings, undecodable frames).
    pub feed_stale_marks: u64,
    /// Resyncs requested.
    pub resyncs_requested: u64,
    /// Resolutions seen.
    pub resolutions: u64,
}

/// Per-asset state beside the book itself.
#[derive(Clone, Copy, Debug, Default)]
struct AssetState {
    resync_pending: bool,
    resolved: bool,
    /// The asset's snapshot in the current message was refused: ignore its levels.
    refusing_snapshot: bool,
    /// The asset received a snapshot in the current message: check and freshen at its end.
    snapshot_open: bool,
}

/// Books for every registered asset, with their trust state.
pub struct BookSet {
    books: Vec<Book>,
    state: Vec<AssetState>,
    counters: BookCounters,
}

impl BookSet {
    /// One stale, empty book per registered asset, on its market's tick.
    pub fn new(registry: &Registry) -> BookSet {
        // The registry admits only the venue's tick sizes, which every ladder accepts.
        let books = registry
            .assets()
            .map(|(_, info)| {
                Book::new(registry.market(info.market).tick).expect("registry ticks are valid")
            })
            .collect();
        BookSet {
            books,
            state: vec![AssetState::default(); registry.asset_count()],
            counters: BookCounters::default(),
        }
    }

    /// The asset's book.
    #[inline]
    pub fn book(&self, asset: AssetIdx) -> &Book {
        &self.books[asset.0 as usize]
    }

    /// Whether the asset's market has resolved (its book is frozen).
    pub fn is_resolved(&self, asset: AssetIdx) -> bool {
        self.state[asset.0 as usize].resolved
    }

    /// Counters so far.
    pub fn counters(&self) -> &BookCounters {
        &self.counters
    }

    /// Number of books.
    pub fn len(&self) -> usize {
        self.books.len()
    }

    /// Whether there are no books.
    pub fn is_empty(&self) -> bool {
        self.books.is_empty()
    }

    /// Applies one event. Returns the asset it touched, if any; pushes assets that need a resync
    /// into `resync`. `MessageEnd` is handled by [`BookSet::end_message`].
    pub fn apply(&mut self, event: &Event, resync: &mut Vec<AssetIdx>) -> Option<AssetIdx> {
        let ts = event.venue_ts_ms;
        match event.body {
            EventBody::BookSnapshot { asset } => {
                let i = self.index(asset)?;
                let book = &mut self.books[i];
                if ts < book.last_ts_ms() {
                    self.counters.out_of_order += 1;
                    self.state[i].refusing_snapshot = true;
                    self.distrust(i, resync);
                    return Some(asset);
                }
                book.clear();
                book.set_last_ts_ms(ts);
                self.state[i].refusing_snapshot = false;
                self.state[i].snapshot_open = true;
                Some(asset)
            }
            EventBody::Level {
                asset,
                side,
                px,
                qty,
            } => {
                let i = self.index(asset)?;
                let state = self.state[i];
                if state.refusing_snapshot {
                    return Some(asset);
                }
                if !state.snapshot_open {
                    if self.books[i].is_stale() {
                        self.counters.ignored_while_stale += 1;
                        return Some(asset);
                    }
                    if ts < self.books[i].last_ts_ms() {
                        self.counters.out_of_order += 1;
                        self.distrust(i, resync);
                        return Some(asset);
                    }
                }
                let book = &mut self.books[i];
                if book.set_level(side, px, qty).is_err() {
                    self.counters.refused_levels += 1;
                    self.distrust(i, resync);
                    return Some(asset);
                }
                book.set_last_ts_ms(ts);
                self.counters.levels_applied += 1;
                Some(asset)
            }
            EventBody::BestCheck { asset, bid, ask } => {
                let i = self.index(asset)?;
                let book = &self.books[i];
                if !book.is_stale() && !agrees(book, bid, ask) {
                    self.counters.best_mismatches += 1;
                    self.distrust(i, resync);
                }
                Some(asset)
            }
            EventBody::BestBidAsk { asset, bid, ask } => {
                let i = self.index(asset)?;
                let book = &self.books[i];
                if !book.is_stale() && !agrees(book, bid, ask) {
                    self.counters.top_of_book_disagreements += 1;
                }
                Some(asset)
            }
            EventBody::TickSize { asset, tick } => {
                let i = self.index(asset)?;
                self.counters.tick_changes += 1;
                // An unknown tick leaves the old ladder in place; either way the book is stale
                // until a snapshot on the venue's tick arrives.
                if self.books[i].reset_tick(tick).is_err() {
                    self.counters.refused_levels += 1;
                }
                self.request_resync(i, resync);
                Some(asset)
            }
            EventBody::Resolved { asset, .. } => {
                let i = self.index(asset)?;
                self.counters.resolutions += 1;
                self.state[i].resolved = true;
                Some(asset)
            }
            EventBody::Stale { asset, reason } => {
                let i = self.index(asset)?;
                self.counters.feed_stale_marks += 1;
                self.books[i].mark_stale();
                // A reset brings every snapshot with the reconnect; a lost or undecodable message
                // is ours to chase (the feed may already have asked; it drops duplicates).
                if reason != StaleReason::FeedReset {
                    self.request_resync(i, resync);
                }
                Some(asset)
            }
            EventBody::LastTrade { asset, .. } => Some(asset),
            EventBody::NewMarket | EventBody::FeeChange { .. } | EventBody::MessageEnd => None,
        }
    }

    /// Closes the snapshots opened in the message that just ended: a snapshot that left its book
    /// crossed is distrusted, the others make their books fresh. `touched` lists the assets the
    /// message touched.
    pub fn end_message(&mut self, touched: &[AssetIdx], resync: &mut Vec<AssetIdx>) {
        for &asset in touched {
            let i = asset.0 as usize;
            let state = &mut self.state[i];
            state.refusing_snapshot = false;
            if std::mem::take(&mut state.snapshot_open) {
                self.counters.snapshots += 1;
                if self.books[i].is_crossed() {
                    self.counters.crossed += 1;
                    self.books[i].mark_stale();
                    self.request_resync(i, resync);
                } else {
                    self.books[i].mark_fresh();
                    self.state[i].resync_pending = false;
                }
            } else if !self.books[i].is_stale() && self.books[i].is_crossed() {
                self.counters.crossed += 1;
                self.distrust(i, resync);
            }
        }
    }

    /// A hash of every book and its trust state, in asset order.
    pub fn digest_into(&self, hasher: &mut xxhash_rust::xxh3::Xxh3) {
        for (book, state) in self.books.iter().zip(&self.state) {
            hasher.update(&book.digest().to_le_bytes());
            hasher.update(&[u8::from(book.is_stale()), u8::from(state.resolved)]);
        }
    }

    fn index(&self, asset: AssetIdx) -> Option<usize> {
        let i = asset.0 as usize;
        (i < self.books.len()).then_some(i)
    }

    fn distrust(&mut self, i: usize, resync: &mut Vec<AssetIdx>) {
        self.books[i].mark_stale();
        self.request_resync(i, resync);
    }

    fn request_resync(&mut self, i: usize, resync: &mut Vec<AssetIdx>) {
        if !self.state[i].resync_pending {
            self.state[i].resync_pending = true;
            self.counters.resyncs_requested += 1;
            resync.push(AssetIdx(i as u32));
        }
    }
}

/// Whether our book's top agrees with the venue's. The venue says "no bid" as a missing field or
/// 0, and "no ask" as a missing field, 0 or 1.
fn agrees(book: &Book, bid: Option<Px>, ask: Option<Px>) -> bool {
    let ours_bid = book.best_bid().map(|(px, _)| px);
    let ours_ask = book.best_ask().map(|(px, _)| px);
    let bid = bid.filter(|&px| px != Px::ZERO);
    let ask = ask.filter(|&px| px != Px::ZERO && px != Px::ONE);
    ours_bid == bid && ours_ask.filter(|&px| px != Px::ONE) == ask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::two_outcome_registry;
    use crate::domain::num::{Qty, Side};

    const A: AssetIdx = AssetIdx(0);

    fn set() -> BookSet {
        BookSet::new(&two_outcome_registry())
    }

    fn ev(ts: u64, body: EventBody) -> Event {
        Event::new(ts, body)
    }

    fn level(side: Side, px: u16, shares: u64) -> EventBody {
        EventBody::Level {
            asset: A,
            side,
            px: Px(px),
            qty: Qty::from_shares(shares),
        }
    }

    /// Applies one message (events then its end) and returns the resyncs it asked for.
    fn message(books: &mut BookSet, ts: u64, bodies: &[EventBody]) -> Vec<AssetIdx> {
        let mut resync = Vec::new();
        let mut touched = Vec::new();
        for &body in bodies {
            if let Some(a) = books.apply(&ev(ts, body), &mut resync)
                && !touched.contains(&a)
            {
                touched.push(a);
            }
        }
        books.end_message(&touched, &mut resync);
        resync
    }

    fn snapshot(books: &mut BookSet, ts: u64) -> Vec<AssetIdx> {
        message(
            books,
            ts,
            &[
                EventBody::BookSnapshot { asset: A },
                level(Side::Buy, 4800, 10),
                level(Side::Sell, 5200, 10),
            ],
        )
    }

    #[test]
    fn books_start_stale_and_a_snapshot_makes_them_fresh() {
        let mut b = set();
        assert!(b.book(A).is_stale());
        assert!(snapshot(&mut b, 10).is_empty());
        assert!(!b.book(A).is_stale());
        assert_eq!(b.book(A).best_bid(), Some((Px(4800), Qty::from_shares(10))));
        assert_eq!(b.counters().snapshots, 1);
    }

    #[test]
    fn deltas_on_a_stale_book_are_ignored_not_applied() {
        let mut b = set();
        message(&mut b, 5, &[level(Side::Buy, 4000, 1)]);
        assert_eq!(b.book(A).best_bid(), None);
        assert_eq!(b.counters().ignored_while_stale, 1);
    }

    #[test]
    fn an_older_delta_distrusts_the_book_and_asks_once_for_a_resync() {
        let mut b = set();
        snapshot(&mut b, 10);
        assert_eq!(message(&mut b, 9, &[level(Side::Buy, 4900, 1)]), vec![A]);
        assert!(b.book(A).is_stale());
        assert_eq!(b.counters().out_of_order, 1);
        // Still stale: no second request until a snapshot has arrived.
        assert!(
            message(
                &mut b,
                11,
                &[EventBody::TickSize {
                    asset: A,
                    tick: Px(10)
                }]
            )
            .is_empty()
        );
        assert!(snapshot(&mut b, 12).is_empty());
        assert!(!b.book(A).is_stale());
    }

    #[test]
    fn a_snapshot_older_than_the_book_is_refused() {
        let mut b = set();
        snapshot(&mut b, 10);
        message(&mut b, 11, &[level(Side::Buy, 4900, 3)]);
        let resync = message(
            &mut b,
            10,
            &[
                EventBody::BookSnapshot { asset: A },
                level(Side::Buy, 1000, 1),
            ],
        );
        assert_eq!(resync, vec![A]);
        assert!(b.book(A).is_stale());
        assert_eq!(b.book(A).best_bid(), Some((Px(4900), Qty::from_shares(3))));
    }

    #[test]
    fn disagreeing_with_the_venues_best_prices_triggers_a_resync() {
        let mut b = set();
        snapshot(&mut b, 10);
        let agree = EventBody::BestCheck {
            asset: A,
            bid: Some(Px(4900)),
            ask: Some(Px(5200)),
        };
        assert!(message(&mut b, 11, &[level(Side::Buy, 4900, 1), agree]).is_empty());
        let disagree = EventBody::BestCheck {
            asset: A,
            bid: Some(Px(5000)),
            ask: Some(Px(5200)),
        };
        assert_eq!(
            message(&mut b, 12, &[level(Side::Buy, 4700, 1), disagree]),
            vec![A]
        );
        assert_eq!(b.counters().best_mismatches, 1);
        assert!(b.book(A).is_stale());
    }

    #[test]
    fn empty_sides_agree_with_the_venues_spellings_of_none() {
        let mut b = set();
        message(&mut b, 1, &[EventBody::BookSnapshot { asset: A }]);
        for (bid, ask) in [
            (None, None),
            (Some(Px::ZERO), Some(Px::ONE)),
            (Some(Px::ZERO), Some(Px::ZERO)),
        ] {
            let check = EventBody::BestCheck { asset: A, bid, ask };
            assert!(message(&mut b, 2, &[check]).is_empty(), "{bid:?} {ask:?}");
        }
    }

    #[test]
    fn a_crossing_delta_or_snapshot_is_flagged_and_distrusted() {
        let mut b = set();
        snapshot(&mut b, 10);
        assert_eq!(message(&mut b, 11, &[level(Side::Buy, 5300, 1)]), vec![A]);
        assert!(b.book(A).is_stale());
        assert_eq!(b.counters().crossed, 1);
        let crossed_snapshot = [
            EventBody::BookSnapshot { asset: A },
            level(Side::Buy, 5500, 1),
            level(Side::Sell, 5000, 1),
        ];
        message(&mut b, 12, &crossed_snapshot);
        assert!(b.book(A).is_stale());
        assert_eq!(b.counters().crossed, 2);
    }

    #[test]
    fn off_tick_levels_and_tick_changes_distrust_the_book() {
        let mut b = set();
        snapshot(&mut b, 10);
        assert_eq!(message(&mut b, 11, &[level(Side::Buy, 4805, 1)]), vec![A]);
        assert_eq!(b.counters().refused_levels, 1);
        snapshot(&mut b, 12);
        let tick = EventBody::TickSize {
            asset: A,
            tick: Px(10),
        };
        assert_eq!(message(&mut b, 13, &[tick]), vec![A]);
        assert!(b.book(A).is_stale());
        assert_eq!(b.book(A).tick(), Px(10));
    }

    #[test]
    fn feed_stale_marks_distrust_and_lost_messages_ask_for_a_resync() {
        let mut b = set();
        snapshot(&mut b, 10);
        let reset = EventBody::Stale {
            asset: A,
            reason: StaleReason::FeedReset,
        };
        assert!(message(&mut b, 0, &[reset]).is_empty());
        assert!(b.book(A).is_stale());
        snapshot(&mut b, 11);
        let bad = EventBody::Stale {
            asset: A,
            reason: StaleReason::DecodeError,
        };
        assert_eq!(message(&mut b, 0, &[bad]), vec![A]);
        snapshot(&mut b, 12);
        let lost = EventBody::Stale {
            asset: A,
            reason: StaleReason::RingFull,
        };
        assert_eq!(message(&mut b, 0, &[lost]), vec![A]);
    }
}
