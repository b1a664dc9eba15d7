//! The per-asset L2 order book the strategy core trusts: a preallocated tick ladder per side with
//! an occupancy bitset, so every hot-path operation is allocation-free and the best price is
//! found again after a removal by a short word scan.

use std::fmt;

use crate::domain::digest::BookDigest;
use crate::domain::markets::is_valid_tick;
use crate::domain::num::{Notional, Px, Qty, Side};

/// Why a book operation was refused. A refused operation leaves the book unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// The price is not a whole number of ticks.
    #[error("price {px} is not on tick {tick}")]
    OffTick {
        /// The offending price.
        px: Px,
        /// The book's tick size.
        tick: Px,
    },
    /// The price is above 1.
    #[error("price {px} is above 1")]
    OutOfRange {
        /// The offending price.
        px: Px,
    },
    /// A tick size the venue does not use (0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001).
    #[error("tick size {tick} is not a venue tick")]
    BadTick {
        /// The offending tick.
        tick: Px,
    },
}

/// The outcome of walking one side of the book for a quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fill {
    /// How much could be filled; less than asked when the depth ran out.
    pub filled: Qty,
    /// The exact total `price × size` of the filled part, in 1e-10 USDC.
    pub notional: Notional,
    /// The last (worst) price touched; `None` when nothing was filled.
    pub worst_px: Option<Px>,
    /// How many price levels were touched.
    pub levels: u32,
}

/// One side of the book: sizes by ladder index, an occupancy bitset and the cached best index.
#[derive(Clone, PartialEq, Eq)]
struct Ladder {
    side: Side,
    qty: Vec<Qty>,
    occupied: Vec<u64>,
    count: usize,
    best: Option<usize>,
}

impl Ladder {
    fn new(side: Side, slots: usize) -> Ladder {
        Ladder {
            side,
            qty: vec![Qty::ZERO; slots],
            occupied: vec![0; slots.div_ceil(64)],
            count: 0,
            best: None,
        }
    }

    /// Whether ladder index `a` is a better price than `b` on this side.
    fn better(&self, a: usize, b: usize) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    fn set(&mut self, idx: usize, qty: Qty) {
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        if qty.is_zero() {
            if self.occupied[word] & bit == 0 {
                return;
            }
            self.occupied[word] &= !bit;
            self.qty[idx] = Qty::ZERO;
            self.count -= 1;
            if self.best == Some(idx) {
                self.best = self.after(idx);
            }
        } else {
            if self.occupied[word] & bit == 0 {
                self.occupied[word] |= bit;
                self.count += 1;
            }
            self.qty[idx] = qty;
            if self.best.is_none_or(|b| self.better(idx, b)) {
                self.best = Some(idx);
            }
        }
    }

    /// The next occupied index strictly worse than `idx` (lower for bids, higher for asks).
    fn after(&self, idx: usize) -> Option<usize> {
        match self.side {
            Side::Buy => idx.checked_sub(1).and_then(|i| self.highest_at_or_below(i)),
            Side::Sell => self.lowest_at_or_above(idx + 1),
        }
    }

    fn highest_at_or_below(&self, idx: usize) -> Option<usize> {
        let mut word = idx / 64;
        let mut bits = self.occupied[word] & (u64::MAX >> (63 - idx % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + 63 - bits.leading_zeros() as usize);
            }
            word = word.checked_sub(1)?;
            bits = self.occupied[word];
        }
    }

    fn lowest_at_or_above(&self, idx: usize) -> Option<usize> {
        let mut word = idx / 64;
        let mut bits = *self.occupied.get(word)? & (u64::MAX << (idx % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.occupied.get(word)?;
        }
    }

    /// Empties the side, touching only occupied levels and the bitset.
    fn clear(&mut self) {
        for (w, word) in self.occupied.iter_mut().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                self.qty[w * 64 + bits.trailing_zeros() as usize] = Qty::ZERO;
                bits &= bits - 1;
            }
            *word = 0;
        }
        self.count = 0;
        self.best = None;
    }
}

/// An asset's L2 book on a fixed tick ladder covering prices 0..=1.
///
/// All storage is allocated in [`Book::new`] (and again only by the cold [`Book::reset_tick`]);
/// setting levels, clearing, reading the best prices, walking depth and digesting never allocate.
#[derive(Clone, PartialEq, Eq)]
pub struct Book {
    tick: Px,
    bids: Ladder,
    asks: Ladder,
    stale: bool,
    last_ts_ms: u64,
}

impl Book {
    /// An empty, stale book (no snapshot yet) on the ladder of `tick`, which must be one of the
    /// venue's tick sizes.
    pub fn new(tick: Px) -> Result<Book, BookError> {
        if !is_valid_tick(tick) {
            return Err(BookError::BadTick { tick });
        }
        let slots = usize::from(Px::ONE.0 / tick.0) + 1;
        Ok(Book {
            tick,
            bids: Ladder::new(Side::Buy, slots),
            asks: Ladder::new(Side::Sell, slots),
            stale: true,
            last_ts_ms: 0,
        })
    }

    /// The tick size of the ladder.
    pub fn tick(&self) -> Px {
        self.tick
    }

    /// Sets the size at `px` on `side`; a zero size removes the level. A price above 1 or off the
    /// tick is refused and the book is left unchanged.
    #[inline]
    pub fn set_level(&mut self, side: Side, px: Px, qty: Qty) -> Result<(), BookError> {
        if px > Px::ONE {
            return Err(BookError::OutOfRange { px });
        }
        if !px.0.is_multiple_of(self.tick.0) {
            return Err(BookError::OffTick {
                px,
                tick: self.tick,
            });
        }
        let idx = usize::from(px.0 / self.tick.0);
        self.ladder_mut(side).set(idx, qty);
        Ok(())
    }

    /// Empties both sides (staleness and timestamp are untouched: a snapshot clears, then fills).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Moves to the ladder of a new tick size (cold path: reallocates). The book is empty and
    /// stale afterwards; the last timestamp is kept. A tick the venue does not use is refused,
    /// but the book is still emptied and marked stale, since the old ladder is no longer valid.
    pub fn reset_tick(&mut self, tick: Px) -> Result<(), BookError> {
        let result = Book::new(tick).map(|fresh| {
            self.tick = fresh.tick;
            self.bids = fresh.bids;
            self.asks = fresh.asks;
        });
        self.clear();
        self.stale = true;
        result
    }

    /// The highest bid and its size.
    #[inline]
    pub fn best_bid(&self) -> Option<(Px, Qty)> {
        self.bids.best.map(|i| (self.px_at(i), self.bids.qty[i]))
    }

    /// The lowest ask and its size.
    #[inline]
    pub fn best_ask(&self) -> Option<(Px, Qty)> {
        self.asks.best.map(|i| (self.px_at(i), self.asks.qty[i]))
    }

    /// Whether both sides exist and the best bid is at or above the best ask.
    #[inline]
    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.best, self.asks.best), (Some(b), Some(a)) if b >= a)
    }

    /// Whether the book is untrusted until its next snapshot.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Marks the book untrusted (gap, disconnect, tick change).
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Marks the book trusted (a complete snapshot was applied).
    pub fn mark_fresh(&mut self) {
        self.stale = false;
    }

    /// The venue timestamp (ms) of the last message applied to this book.
    pub fn last_ts_ms(&self) -> u64 {
        self.last_ts_ms
    }

    /// Records the venue timestamp (ms) of the message just applied.
    pub fn set_last_ts_ms(&mut self, ts: u64) {
        self.last_ts_ms = ts;
    }

    /// Number of non-empty levels on `side`.
    pub fn depth(&self, side: Side) -> usize {
        self.ladder(side).count
    }

    /// The non-empty levels of `side`, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Px, Qty)> {
        let ladder = self.ladder(side);
        let tick = self.tick;
        let mut cursor = ladder.best;
        std::iter::from_fn(move || {
            let idx = cursor?;
            cursor = ladder.after(idx);
            Some((px_of(tick, idx), ladder.qty[idx]))
        })
    }

    /// What buying `qty` by sweeping the asks from the best upward would fill and cost.
    pub fn cost_to_buy(&self, qty: Qty) -> Fill {
        walk(self.levels(Side::Sell), qty)
    }

    /// What selling `qty` by sweeping the bids from the best downward would fill and yield.
    pub fn proceeds_to_sell(&self, qty: Qty) -> Fill {
        walk(self.levels(Side::Buy), qty)
    }

    /// The canonical digest of the book's levels (bids best-first, then asks best-first).
    pub fn digest(&self) -> u64 {
        let mut d = BookDigest::new();
        self.levels(Side::Buy).for_each(|(px, q)| d.bid(px, q));
        self.levels(Side::Sell).for_each(|(px, q)| d.ask(px, q));
        d.finish()
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn px_at(&self, idx: usize) -> Px {
        px_of(self.tick, idx)
    }
}

/// The price of ladder index `idx` (indices never exceed `10_000 / tick`, so this fits a u16).
fn px_of(tick: Px, idx: usize) -> Px {
    Px(idx as u16 * tick.0)
}

/// Takes up to `qty` from `levels` (best first), accumulating the exact notional.
fn walk(levels: impl Iterator<Item = (Px, Qty)>, qty: Qty) -> Fill {
    let mut fill = Fill::default();
    for (px, size) in levels {
        let remaining = qty.0 - fill.filled.0;
        if remaining == 0 {
            break;
        }
        let take = Qty(remaining.min(size.0));
        fill.filled.0 += take.0;
        fill.notional = fill.notional + px.notional(take);
        fill.worst_px = Some(px);
        fill.levels += 1;
    }
    fill
}

impl fmt::Debug for Book {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |s| {
            self.levels(s)
                .map(|(px, q)| format!("{q}@{px}"))
                .collect::<Vec<_>>()
        };
        f.debug_struct("Book")
            .field("tick", &self.tick)
            .field("stale", &self.stale)
            .field("last_ts_ms", &self.last_ts_ms)
            .field("bids", &side(Side::Buy))
            .field("asks", &side(Side::Sell))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(tick: u16) -> Book {
        Book::new(Px(tick)).expect("venue tick")
    }

    fn shares(n: u64) -> Qty {
        Qty::from_shares(n)
    }

    #[test]
    fn refuses_bad_prices_and_ticks_leaving_the_book_unchanged() {
        let mut b = book(100);
        b.set_level(Side::Buy, Px(4800), shares(5)).unwrap();
        let before = b.clone();
        assert_eq!(
            b.set_level(Side::Buy, Px(4850), shares(1)),
            Err(BookError::OffTick {
                px: Px(4850),
                tick: Px(100)
            })
        );
        assert_eq!(
            b.set_level(Side::Sell, Px(10_100), shares(1)),
            Err(BookError::OutOfRange { px: Px(10_100) })
        );
        assert_eq!(
            b.set_level(Side::Sell, Px(10_001), Qty::ZERO),
            Err(BookError::OutOfRange { px: Px(10_001) })
        );
        assert_eq!(b, before);
        assert_eq!(
            Book::new(Px(30)).err(),
            Some(BookError::BadTick { tick: Px(30) })
        );
        assert_eq!(
            Book::new(Px(0)).err(),
            Some(BookError::BadTick { tick: Px(0) })
        );
    }

    #[test]
    fn prices_zero_and_one_are_on_every_ladder() {
        for &tick in &crate::domain::markets::VALID_TICKS {
            let mut b = book(tick);
            b.set_level(Side::Buy, Px::ZERO, shares(1)).unwrap();
            b.set_level(Side::Sell, Px::ONE, shares(2)).unwrap();
            assert_eq!(b.best_bid(), Some((Px::ZERO, shares(1))));
            assert_eq!(b.best_ask(), Some((Px::ONE, shares(2))));
        }
    }

    #[test]
    fn tracks_best_prices_through_removals() {
        let mut b = book(1);
        for px in [10, 700, 4700, 4800, 9999] {
            b.set_level(Side::Buy, Px(px), shares(u64::from(px)))
                .unwrap();
        }
        assert_eq!(b.best_bid(), Some((Px(9999), shares(9999))));
        b.set_level(Side::Buy, Px(9999), Qty::ZERO).unwrap();
        assert_eq!(b.best_bid(), Some((Px(4800), shares(4800))));
        b.set_level(Side::Buy, Px(4700), Qty::ZERO).unwrap();
        assert_eq!(b.best_bid(), Some((Px(4800), shares(4800))));
        b.set_level(Side::Buy, Px(4800), Qty::ZERO).unwrap();
        assert_eq!(b.best_bid(), Some((Px(700), shares(700))));
        b.set_level(Side::Buy, Px(700), Qty::ZERO).unwrap();
        b.set_level(Side::Buy, Px(10), Qty::ZERO).unwrap();
        assert_eq!(b.best_bid(), None);

        for px in [63, 64, 128, 5000, 10_000] {
            b.set_level(Side::Sell, Px(px), shares(1)).unwrap();
        }
        let mut seen = Vec::new();
        while let Some((px, _)) = b.best_ask() {
            seen.push(px.0);
            b.set_level(Side::Sell, px, Qty::ZERO).unwrap();
        }
        assert_eq!(seen, [63, 64, 128, 5000, 10_000]);
        assert_eq!(b.depth(Side::Sell), 0);
    }

    #[test]
    fn updating_a_level_replaces_its_size_and_removing_an_absent_level_is_a_no_op() {
        let mut b = book(10);
        b.set_level(Side::Sell, Px(5100), shares(3)).unwrap();
        b.set_level(Side::Sell, Px(5100), shares(7)).unwrap();
        b.set_level(Side::Sell, Px(5200), Qty::ZERO).unwrap();
        assert_eq!(b.depth(Side::Sell), 1);
        assert_eq!(b.best_ask(), Some((Px(5100), shares(7))));
    }

    #[test]
    fn crossed_only_when_both_sides_meet() {
        let mut b = book(100);
        assert!(!b.is_crossed());
        b.set_level(Side::Buy, Px(5000), shares(1)).unwrap();
        assert!(!b.is_crossed());
        b.set_level(Side::Sell, Px(5100), shares(1)).unwrap();
        assert!(!b.is_crossed());
        b.set_level(Side::Buy, Px(5100), shares(1)).unwrap();
        assert!(b.is_crossed());
        b.set_level(Side::Buy, Px(5100), Qty::ZERO).unwrap();
        b.set_level(Side::Sell, Px(4900), shares(1)).unwrap();
        assert!(b.is_crossed());
    }

    #[test]
    fn walks_fill_partially_when_depth_runs_out() {
        let mut b = book(100);
        b.set_level(Side::Sell, Px(5100), shares(2)).unwrap();
        b.set_level(Side::Sell, Px(5300), shares(3)).unwrap();
        b.set_level(Side::Buy, Px(4900), Qty(1)).unwrap();
        b.set_level(Side::Buy, Px(4700), shares(1)).unwrap();

        let part = b.cost_to_buy(shares(4));
        assert_eq!(part.filled, shares(4));
        assert_eq!(
            part.notional,
            Px(5100).notional(shares(2)) + Px(5300).notional(shares(2))
        );
        assert_eq!((part.worst_px, part.levels), (Some(Px(5300)), 2));

        let short = b.cost_to_buy(shares(9));
        assert_eq!(short.filled, shares(5));
        assert_eq!(
            short.notional,
            Px(5100).notional(shares(2)) + Px(5300).notional(shares(3))
        );

        let sell = b.proceeds_to_sell(shares(1));
        assert_eq!(sell.filled, shares(1));
        assert_eq!(
            sell.notional,
            Px(4900).notional(Qty(1)) + Px(4700).notional(Qty(999_999))
        );
        assert_eq!((sell.worst_px, sell.levels), (Some(Px(4700)), 2));

        assert_eq!(b.cost_to_buy(Qty::ZERO), Fill::default());
        assert_eq!(book(100).proceeds_to_sell(shares(1)), Fill::default());
    }

    #[test]
    fn levels_iterate_best_first() {
        let mut b = book(25);
        for px in [2500, 25, 9975, 5000] {
            b.set_level(Side::Buy, Px(px), shares(1)).unwrap();
            b.set_level(Side::Sell, Px(px), shares(2)).unwrap();
        }
        let bids: Vec<u16> = b.levels(Side::Buy).map(|(p, _)| p.0).collect();
        let asks: Vec<u16> = b.levels(Side::Sell).map(|(p, _)| p.0).collect();
        assert_eq!(bids, [9975, 5000, 2500, 25]);
        assert_eq!(asks, [25, 2500, 5000, 9975]);
        assert_eq!(b.depth(Side::Buy), 4);
    }

    #[test]
    fn clear_empties_both_sides_and_keeps_staleness_and_timestamp() {
        let mut b = book(1);
        b.mark_fresh();
        b.set_last_ts_ms(42);
        b.set_level(Side::Buy, Px(4000), shares(1)).unwrap();
        b.set_level(Side::Sell, Px(6000), shares(1)).unwrap();
        b.clear();
        assert_eq!((b.best_bid(), b.best_ask()), (None, None));
        assert_eq!((b.depth(Side::Buy), b.depth(Side::Sell)), (0, 0));
        assert_eq!(b, {
            let mut empty = book(1);
            empty.mark_fresh();
            empty.set_last_ts_ms(42);
            empty
        });
    }

    #[test]
    fn stale_flag_and_timestamp() {
        let mut b = book(100);
        assert!(b.is_stale());
        b.mark_fresh();
        assert!(!b.is_stale());
        b.mark_stale();
        assert!(b.is_stale());
        assert_eq!(b.last_ts_ms(), 0);
        b.set_last_ts_ms(1_700_000_000_123);
        assert_eq!(b.last_ts_ms(), 1_700_000_000_123);
    }

    #[test]
    fn reset_tick_moves_to_an_empty_stale_ladder() {
        let mut b = book(100);
        b.set_level(Side::Buy, Px(4800), shares(1)).unwrap();
        b.mark_fresh();
        b.set_last_ts_ms(7);
        b.reset_tick(Px(10)).unwrap();
        assert_eq!(b.tick(), Px(10));
        assert!(b.is_stale());
        assert_eq!((b.depth(Side::Buy), b.best_bid()), (0, None));
        assert_eq!(b.last_ts_ms(), 7);
        b.set_level(Side::Sell, Px(4810), shares(1)).unwrap();
        assert_eq!(b.best_ask(), Some((Px(4810), shares(1))));

        b.mark_fresh();
        assert_eq!(b.reset_tick(Px(3)), Err(BookError::BadTick { tick: Px(3) }));
        assert_eq!(b.tick(), Px(10));
        assert!(b.is_stale());
        assert_eq!(b.depth(Side::Sell), 0);
    }

    #[test]
    fn digest_depends_on_contents_not_build_order() {
        let mut a = book(10);
        a.set_level(Side::Buy, Px(4800), shares(1)).unwrap();
        a.set_level(Side::Buy, Px(4700), shares(2)).unwrap();
        a.set_level(Side::Sell, Px(5200), shares(3)).unwrap();

        let mut b = book(10);
        b.set_level(Side::Sell, Px(5300), shares(9)).unwrap();
        b.set_level(Side::Sell, Px(5200), shares(3)).unwrap();
        b.set_level(Side::Buy, Px(4700), shares(2)).unwrap();
        b.set_level(Side::Buy, Px(4900), shares(5)).unwrap();
        b.set_level(Side::Buy, Px(4800), shares(1)).unwrap();
        assert_ne!(a.digest(), b.digest());
        b.set_level(Side::Sell, Px(5300), Qty::ZERO).unwrap();
        b.set_level(Side::Buy, Px(4900), Qty::ZERO).unwrap();
        assert_eq!(a.digest(), b.digest());

        let mut expected = BookDigest::new();
        expected.bid(Px(4800), shares(1));
        expected.bid(Px(4700), shares(2));
        expected.ask(Px(5200), shares(3));
        assert_eq!(a.digest(), expected.finish());
    }
}
