//! Book dynamics: a seeded generator that mutates the true books and renders each change as the
//! message the venue publishes. It never reads a clock or a socket, so the same scenario always
//! yields the same message sequence.
//!
//! Invariants kept after every message: prices on the market's tick and strictly inside (0, 1),
//! books at least the scenario's `min_spread_ticks` wide, at least one level on each side, sizes
//! with at most two decimals, and no pair arbitrage (see [`crate::sim::no_arb`]). Markets with
//! an open arbitrage window are left alone.

use fastrand::Rng;

use crate::domain::markets::MarketSpec;
use crate::domain::num::{Px, Qty, Side};
use crate::sim::book::TrueBook;
use crate::sim::no_arb;
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
    /// Narrowest spread kept, in ticks.
    spread: u16,
    mix: Mix,
}

impl Dynamics {
    /// The generator and the initial world for a scenario.
    pub fn new(scenario: &Scenario) -> (Dynamics, World) {
        let mut dynamics = Dynamics {
            rng: Rng::with_seed(scenario.seed ^ BOOK_STREAM),
            levels: scenario.dynamics.levels_per_side as usize,
            spread: scenario.dynamics.min_spread_ticks as u16,
            mix: scenario.dynamics.mix.clone(),
        };
        let universe = universe::build(scenario);
        let markets = universe
            .listings
            .into_iter()
            .map(|l| dynamics.initial_market(l))
            .collect();
        let clock = CLOCK_BASE + scenario.seed % 1_000_000_000;
        (dynamics, World::new(markets, universe.events, clock))
    }

    fn initial_market(&mut self, listing: Listing) -> (MarketSpec, Vec<(TrueBook, Px)>) {
        let Listing { spec, initial_mid } = listing;
        let yes = self.initial_book(initial_mid, spec.tick);
        let no_mid = initial_mid.complement();
        let no = self.initial_book(no_mid, spec.tick);
        (spec, vec![(yes, initial_mid), (no, no_mid)])
    }

    /// Levels either side of `mid`, the best bid and ask `max(2, spread)` ticks apart.
    fn initial_book(&mut self, mid: Px, tick: Px) -> TrueBook {
        let t = tick.0;
        let top = Px::ONE.0 / t - 1;
        let mid_k = mid.0 / t;
        let spread = self.spread.max(2);
        let (below, above) = (spread / 2, spread - spread / 2);
        let mut book = TrueBook::default();
        for k in 0..self.levels as u16 {
            if mid_k > k + below {
                book.set(Side::Buy, Px((mid_k - below - k) * t), self.size());
            }
            if mid_k + above + k <= top {
                book.set(Side::Sell, Px((mid_k + above + k) * t), self.size());
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
            0 => match self.pick_market(w) {
                Some(market) => self.price_change(w, market, &[]),
                None => self.last_trade(w),
            },
            1 => self.book(w),
            2 => self.last_trade(w),
            _ => self.best_bid_ask(w),
        }
    }

    /// A random market without an open window (the next free one after the draw), if any.
    fn pick_market(&mut self, w: &World) -> Option<usize> {
        let n = w.markets.len();
        let start = self.rng.usize(0..n);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&m| !w.markets[m].in_window)
    }

    /// A `price_change` with one change per outcome of `market`, avoiding the `(asset, side,
    /// price)` keys in `avoid` where it can.
    fn price_change(&mut self, w: &mut World, market: usize, avoid: &[(usize, Side, Px)]) -> Frame {
        let assets = w.markets[market].assets.clone();
        let mut changes = Vec::with_capacity(assets.len());
        for &asset in &assets {
            let change = (0..8)
                .filter_map(|_| self.propose(w, asset))
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
                ChangeEntry::new(&a.token_id, c.side, c.px, &a.book)
            })
            .collect();
        Frame {
            text: wire::price_change(&w.markets[market].spec.condition_id, entries, ts),
            assets,
            custom_only: false,
        }
    }

    /// A full `book` for one asset after a few unpublished changes (a trade print instead
    /// when every market has an open window).
    fn book(&mut self, w: &mut World) -> Frame {
        let n = w.assets.len();
        let start = self.rng.usize(0..n);
        let Some(asset) = (0..n)
            .map(|i| (start + i) % n)
            .find(|&a| !w.market_of(a).in_window)
        else {
            return self.last_trade(w);
        };
        for _ in 0..self.rng.usize(1..=3) {
            if let Some(c) = self.propose(w, asset) {
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
    /// disjoint levels, so applying both in either order gives the true book. Nothing when
    /// every market has an open window.
    pub fn reordered_pair(&mut self, w: &mut World) -> Vec<Frame> {
        let Some(market) = self.pick_market(w) else {
            return Vec::new();
        };
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

    /// A random change to `asset`'s book that keeps the invariants, or `None` when the drawn
    /// operation has no valid price.
    fn propose(&mut self, w: &World, asset: usize) -> Option<Change> {
        let book = &w.assets[asset].book;
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
            let px = self.new_price(w, asset, side)?;
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

    /// A price on `side` of `asset`'s book near its top, at least the minimum spread from the
    /// other side and within the no-arbitrage bounds.
    fn new_price(&mut self, w: &World, asset: usize, side: Side) -> Option<Px> {
        let book = &w.assets[asset].book;
        let t = i64::from(w.market_of(asset).spec.tick.0);
        let spread = i64::from(self.spread);
        let bounds = no_arb::bounds(w, asset, spread * t);
        let max_k = i64::from(Px::ONE.0) / t - 1;
        let reach = self.levels as i64;
        let k = match side {
            Side::Buy => {
                let own = book
                    .best_ask()
                    .map_or(max_k, |a| i64::from(a.0) / t - spread);
                let top = own.min(bounds.bid_cap.div_euclid(t));
                let base = book.best_bid().map_or(top, |b| i64::from(b.0) / t);
                if top < 1 {
                    return None;
                }
                (base + self.rng.i64(-reach..=1)).clamp(1, top)
            }
            Side::Sell => {
                let own = book.best_bid().map_or(1, |b| i64::from(b.0) / t + spread);
                let bottom = own.max(-(-bounds.ask_floor).div_euclid(t));
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

    /// Checks the spread inside each book and between each market's two outcomes.
    fn check_spreads(w: &World, ticks: u16) {
        let one = i64::from(Px::ONE.0);
        for m in &w.markets {
            let s = i64::from(ticks * m.spec.tick.0);
            let book = |i: usize| &w.assets[m.assets[i]].book;
            let px = |p: Option<Px>| i64::from(p.unwrap().0);
            for i in 0..2 {
                assert!(px(book(i).best_ask()) - px(book(i).best_bid()) >= s);
            }
            let bids = px(book(0).best_bid()) + px(book(1).best_bid());
            let asks = px(book(0).best_ask()) + px(book(1).best_ask());
            assert!(bids <= one - s && asks >= one + s, "{bids} {asks}");
        }
    }

    #[test]
    fn a_wide_scenario_keeps_its_spreads_and_keeps_moving_the_best_bids() {
        let scenario = load_scenario("maker-pair").unwrap();
        let ticks = scenario.dynamics.min_spread_ticks as u16;
        let (mut d, mut w) = Dynamics::new(&scenario);
        let best_bids =
            |w: &World| -> Vec<Option<Px>> { w.assets.iter().map(|a| a.book.best_bid()).collect() };
        check_spreads(&w, ticks);
        let mut before = best_bids(&w);
        let mut moves = 0;
        let steps = 5_000;
        for _ in 0..steps {
            d.step(&mut w);
            check_invariants(&w);
            check_spreads(&w, ticks);
            let now = best_bids(&w);
            moves += usize::from(now != before);
            before = now;
        }
        // At 2000 messages a second that is over 130 best-bid moves a second to requote for.
        assert!(
            moves > steps / 15,
            "best bids moved at only {moves} of {steps} steps"
        );
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
