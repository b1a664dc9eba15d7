//! Book dynamics: a seeded generator that mutates the true books and renders each change as the
//! message the venue publishes. It never reads a clock or a socket, so the same scenario always
//! yields the same message sequence.
//!
//! Invariants kept after every message: prices on the market's tick and strictly inside (0, 1),
//! books uncrossed, at least one level on each side, sizes with at most two decimals.

use fastrand::Rng;

use crate::domain::markets::MarketSpec;
use crate::domain::num::{Px, Qty, Side};
use crate::sim::book::TrueBook;
use crate::sim::scenario::{Mix, Scenario};
use crate::sim::universe::{self, Listing};
use crate::sim::wire::{self, ChangeEntry, Frame};
use crate::sim::world::World;

/// Mixed into the seed for the dynamics' random stream.
const BOOK_STREAM: u64 = 0xb00c_57ea_b00c_57ea;
/// The logical clock starts here (Unix ms, 2023-11-14), offset by the seed.
const CLOCK_BASE: u64 = 1_700_000_000_000;

/// A level change proposed for one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    side: Side,
    px: Px,
    qty: Qty,
}

/// The seeded message generator.
pub struct Dynamics {
    rng: Rng,
    levels: usize,
    mix: Mix,
}

impl Dynamics {
    /// The generator and the initial world for a scenario.
    pub fn new(scenario: &Scenario) -> (Dynamics, World) {
        let mut dynamics = Dynamics {
            rng: Rng::with_seed(scenario.seed ^ BOOK_STREAM),
            levels: scenario.dynamics.levels_per_side as usize,
            mix: scenario.dynamics.mix.clone(),
        };
        let markets = universe::build(scenario)
            .into_iter()
            .map(|l| dynamics.initial_market(l))
            .collect();
        let clock = CLOCK_BASE + scenario.seed % 1_000_000_000;
        (dynamics, World::new(markets, clock))
    }

    fn initial_market(&mut self, listing: Listing) -> (MarketSpec, Vec<(TrueBook, Px)>) {
        let Listing { spec, initial_mid } = listing;
        let yes = self.initial_book(initial_mid, spec.tick);
        let no_mid = initial_mid.complement();
        let no = self.initial_book(no_mid, spec.tick);
        (spec, vec![(yes, initial_mid), (no, no_mid)])
    }

    fn initial_book(&mut self, mid: Px, tick: Px) -> TrueBook {
        let t = tick.0;
        let top = Px::ONE.0 / t - 1;
        let mid_k = mid.0 / t;
        let mut book = TrueBook::default();
        for k in 1..=self.levels as u16 {
            if mid_k > k {
                book.set(Side::Buy, Px((mid_k - k) * t), self.size());
            }
            if mid_k + k <= top {
                book.set(Side::Sell, Px((mid_k + k) * t), self.size());
            }
        }
        book
    }

    /// A size of 1.00 to 500.00 shares with two decimals.
    fn size(&mut self) -> Qty {
        Qty(self.rng.u64(100..=50_000) * 10_000)
    }

    /// Publishes one regular message, chosen by the scenario's mix.
    pub fn step(&mut self, w: &mut World) -> Frame {
        let mix = &self.mix;
        let mut pick = self.rng.u32(0..mix.total());
        let weights = [
            mix.price_change,
            mix.book,
            mix.last_trade_price,
            mix.best_bid_ask,
        ];
        let kind = weights
            .iter()
            .position(|&weight| {
                if pick < weight {
                    return true;
                }
                pick -= weight;
                false
            })
            .unwrap_or(0);
        match kind {
            0 => {
                let market = self.rng.usize(0..w.markets.len());
                self.price_change(w, market, &[])
            }
            1 => self.book(w),
            2 => self.last_trade(w),
            _ => self.best_bid_ask(w),
        }
    }

    /// A `price_change` with one change per outcome of `market`, avoiding the `(asset, side,
    /// price)` keys in `avoid` where it can.
    fn price_change(&mut self, w: &mut World, market: usize, avoid: &[(usize, Side, Px)]) -> Frame {
        let assets = w.markets[market].assets.clone();
        let tick = w.markets[market].spec.tick;
        let mut changes = Vec::with_capacity(assets.len());
        for &asset in &assets {
            let book = &w.assets[asset].book;
            let change = (0..8)
                .filter_map(|_| self.propose(book, tick))
                .find(|c| !avoid.contains(&(asset, c.side, c.px)));
            if let Some(c) = change {
                w.assets[asset].book.set(c.side, c.px, c.qty);
                changes.push((asset, c));
            }
        }
        let ts = w.next_timestamp();
        let entries = changes
            .iter()
            .map(|&(asset, c)| {
                let a = &w.assets[asset];
                ChangeEntry::new(&a.token_id, c.side, c.px, c.qty, &a.book)
            })
            .collect();
        Frame {
            text: wire::price_change(&w.markets[market].spec.condition_id, entries, ts),
            assets,
            custom_only: false,
        }
    }

    /// A full `book` for one asset after a few unpublished changes.
    fn book(&mut self, w: &mut World) -> Frame {
        let asset = self.rng.usize(0..w.assets.len());
        let tick = w.market_of(asset).spec.tick;
        for _ in 0..self.rng.usize(1..=3) {
            if let Some(c) = self.propose(&w.assets[asset].book, tick) {
                w.assets[asset].book.set(c.side, c.px, c.qty);
            }
        }
        w.next_timestamp();
        Frame {
            text: wire::ws_book(w, asset),
            assets: vec![asset],
            custom_only: false,
        }
    }

    /// A trade print against the best level of a random side (no book effect).
    fn last_trade(&mut self, w: &mut World) -> Frame {
        let asset = self.rng.usize(0..w.assets.len());
        let side = if self.rng.bool() {
            Side::Buy
        } else {
            Side::Sell
        };
        let book = &w.assets[asset].book;
        let best = match side {
            Side::Buy => book
                .best_ask()
                .and_then(|p| book.level(Side::Sell, p).map(|q| (p, q))),
            Side::Sell => book
                .best_bid()
                .and_then(|p| book.level(Side::Buy, p).map(|q| (p, q))),
        };
        let (px, resting) = best.unwrap_or((w.assets[asset].last_trade, Qty(1_000_000)));
        let cents = (resting.0 / 10_000).max(1);
        let qty = Qty(self.rng.u64(1..=cents) * 10_000);
        w.assets[asset].last_trade = px;
        let ts = w.next_timestamp();
        Frame {
            text: wire::last_trade(w, asset, side, px, qty, ts),
            assets: vec![asset],
            custom_only: false,
        }
    }

    fn best_bid_ask(&mut self, w: &mut World) -> Frame {
        let asset = self.rng.usize(0..w.assets.len());
        let ts = w.next_timestamp();
        Frame {
            text: wire::best_bid_ask(w, asset, ts),
            assets: vec![asset],
            custom_only: true,
        }
    }

    /// Two `price_change` frames for one market, in swapped order (newer first). They touch
    /// disjoint levels, so applying both in either order gives the true book.
    pub fn reordered_pair(&mut self, w: &mut World) -> Vec<Frame> {
        let market = self.rng.usize(0..w.markets.len());
        let before: Vec<TrueBook> = w.markets[market]
            .assets
            .iter()
            .map(|&a| w.assets[a].book.clone())
            .collect();
        let first = self.price_change(w, market, &[]);
        let touched: Vec<(usize, Side, Px)> = w.markets[market]
            .assets
            .iter()
            .zip(&before)
            .flat_map(|(&a, old)| changed_keys(a, old, &w.assets[a].book))
            .collect();
        let second = self.price_change(w, market, &touched);
        vec![second, first]
    }

    /// Moves `market` to `new_tick`: per asset, a `tick_size_change` then a fresh `book`.
    pub fn tick_change(&mut self, w: &mut World, market: usize, new_tick: Px) -> Vec<Frame> {
        let old = w.markets[market].spec.tick;
        w.markets[market].spec.tick = new_tick;
        let assets = w.markets[market].assets.clone();
        let mut frames = Vec::with_capacity(2 * assets.len());
        for asset in assets {
            let book = &mut w.assets[asset].book;
            book.regrid(new_tick);
            refill(book, new_tick);
            let ts = w.next_timestamp();
            frames.push(Frame {
                text: wire::tick_size_change(w, asset, old, new_tick, ts),
                assets: vec![asset],
                custom_only: false,
            });
            w.next_timestamp();
            frames.push(Frame {
                text: wire::ws_book(w, asset),
                assets: vec![asset],
                custom_only: false,
            });
        }
        frames
    }

    /// A random change that keeps the book's invariants, or `None` when the drawn operation
    /// has no valid price.
    fn propose(&mut self, book: &TrueBook, tick: Px) -> Option<Change> {
        let side = if self.rng.bool() {
            Side::Buy
        } else {
            Side::Sell
        };
        let depth = book.depth(side);
        let roll = self.rng.u32(0..100);
        let thin = depth < self.levels;
        let thick = depth > self.levels + 2;
        if depth > 1 && (roll < 15 || (thick && roll < 60)) {
            let (px, _) = book.nth(side, self.rng.usize(0..depth))?;
            return Some(Change {
                side,
                px,
                qty: Qty::ZERO,
            });
        }
        if depth == 0 || roll < 35 || (thin && roll < 70) {
            let px = self.new_price(book, side, tick)?;
            return Some(Change {
                side,
                px,
                qty: self.size(),
            });
        }
        let (px, _) = book.nth(side, self.rng.usize(0..depth))?;
        Some(Change {
            side,
            px,
            qty: self.size(),
        })
    }

    /// A price on `side` that does not cross the other side, near the top of the book.
    fn new_price(&mut self, book: &TrueBook, side: Side, tick: Px) -> Option<Px> {
        let t = i64::from(tick.0);
        let max_k = i64::from(Px::ONE.0) / t - 1;
        let reach = self.levels as i64;
        let k = match side {
            Side::Buy => {
                let top = book.best_ask().map_or(max_k, |a| i64::from(a.0) / t - 1);
                let base = book.best_bid().map_or(top, |b| i64::from(b.0) / t);
                if top < 1 {
                    return None;
                }
                (base + self.rng.i64(-reach..=1)).clamp(1, top)
            }
            Side::Sell => {
                let bottom = book.best_bid().map_or(1, |b| i64::from(b.0) / t + 1);
                let base = book.best_ask().map_or(bottom, |a| i64::from(a.0) / t);
                if bottom > max_k {
                    return None;
                }
                (base + self.rng.i64(-1..=reach)).clamp(bottom, max_k)
            }
        };
        Some(Px((k * t) as u16))
    }
}

/// The `(asset, side, price)` keys whose size differs between two books.
fn changed_keys(asset: usize, old: &TrueBook, new: &TrueBook) -> Vec<(usize, Side, Px)> {
    let mut keys = Vec::new();
    for side in [Side::Buy, Side::Sell] {
        let prices = (0..old.depth(side))
            .filter_map(|i| old.nth(side, i))
            .chain((0..new.depth(side)).filter_map(|i| new.nth(side, i)))
            .map(|(p, _)| p);
        for px in prices {
            if old.level(side, px) != new.level(side, px) && !keys.contains(&(asset, side, px)) {
                keys.push((asset, side, px));
            }
        }
    }
    keys
}

/// Puts one level back on a side a re-grid emptied, just off the other side's best.
fn refill(book: &mut TrueBook, tick: Px) {
    let t = tick.0;
    if book.depth(Side::Buy) == 0 {
        let ask_k = book.best_ask().map_or(Px::ONE.0 / t, |a| a.0 / t);
        if ask_k > 1 {
            book.set(Side::Buy, Px((ask_k - 1) * t), Qty::from_shares(10));
        }
    }
    if book.depth(Side::Sell) == 0 {
        let bid_k = book.best_bid().map_or(0, |b| b.0 / t);
        if bid_k + 1 < Px::ONE.0 / t {
            book.set(Side::Sell, Px((bid_k + 1) * t), Qty::from_shares(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::load_scenario;

    fn check_invariants(w: &World) {
        for a in &w.assets {
            let tick = w.markets[a.market].spec.tick.0;
            assert!(a.book.is_uncrossed(), "{} crossed", a.token_id);
            for side in [Side::Buy, Side::Sell] {
                assert!(a.book.depth(side) >= 1, "{} has an empty side", a.token_id);
                for i in 0..a.book.depth(side) {
                    let (px, qty) = a.book.nth(side, i).unwrap();
                    assert!(px.0 % tick == 0 && px > Px::ZERO && px < Px::ONE, "{px}");
                    assert!(qty.0 > 0 && qty.0 % 10_000 == 0, "{qty}");
                }
            }
        }
    }

    #[test]
    fn books_stay_valid_through_steps_reorders_and_tick_changes() {
        let scenario = load_scenario("default").unwrap();
        let (mut d, mut w) = Dynamics::new(&scenario);
        check_invariants(&w);
        let start = w.now();
        for i in 0..4000 {
            let frame = d.step(&mut w);
            assert!(serde_json::from_str::<serde_json::Value>(&frame.text).is_ok());
            if i % 500 == 0 {
                let frames = d.reordered_pair(&mut w);
                assert_eq!(frames.len(), 2);
                let tick = if w.markets[1].spec.tick == Px(100) {
                    Px(10)
                } else {
                    Px(100)
                };
                d.tick_change(&mut w, 1, tick);
            }
            check_invariants(&w);
        }
        assert!(w.now() > start + 4000);
    }

    #[test]
    fn same_seed_same_messages_other_seed_other_books() {
        let scenario = load_scenario("default").unwrap();
        let run = |s: &Scenario| {
            let (mut d, mut w) = Dynamics::new(s);
            let texts: Vec<String> = (0..500).map(|_| d.step(&mut w).text).collect();
            (texts, w.digests())
        };
        let (a, da) = run(&scenario);
        let (b, db) = run(&scenario);
        assert_eq!((a, da.clone()), (b, db));
        let mut other = scenario.clone();
        other.seed ^= 1;
        let (_, dc) = run(&other);
        let ours: Vec<u64> = da.iter().map(|(_, d)| *d).collect();
        let theirs: Vec<u64> = dc.iter().map(|(_, d)| *d).collect();
        assert_ne!(ours, theirs);
    }

    #[test]
    fn reordered_pair_touches_disjoint_levels() {
        let scenario = load_scenario("default").unwrap();
        let (mut d, mut w) = Dynamics::new(&scenario);
        for _ in 0..50 {
            let pair = d.reordered_pair(&mut w);
            let keys = |f: &Frame| -> Vec<(String, String, String)> {
                let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
                v["price_changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        (
                            e["asset_id"].to_string(),
                            e["side"].to_string(),
                            e["price"].to_string(),
                        )
                    })
                    .collect()
            };
            let (second, first) = (keys(&pair[0]), keys(&pair[1]));
            assert!(
                second.iter().all(|k| !first.contains(k)),
                "{first:?} {second:?}"
            );
            let ts = |f: &Frame| {
                serde_json::from_str::<serde_json::Value>(&f.text).unwrap()["timestamp"].clone()
            };
            assert!(ts(&pair[0]).as_str().unwrap() > ts(&pair[1]).as_str().unwrap());
        }
    }
}
