//! Arbitrage windows: scripted moments where the venue puts levels into the true books whose
//! best prices sum past the payoff, then lets a competing taker consume them.
//!
//! Opening a window publishes ordinary `price_change`s, one per market, so a client's books and
//! the checkpoint digests stay in step. Each window level becomes the exact best price of its
//! side (better levels on that side are pulled, crossing levels on the other side too), so the
//! sum of the best prices is exactly the payoff minus (or, for bids, 1 plus) the gap. In a
//! neg-risk event the other outcome's asks that would form a binary arbitrage with a window level
//! are pulled as well, so the window is the only opportunity. Closing prints a
//! `last_trade_price` per level, then removes the levels; the markets then return to the regular
//! dynamics.

use std::ops::Range;

use crate::domain::num::{Px, Qty, Side};
use crate::sim::book::TrueBook;
use crate::sim::scenario::{Scenario, WindowKind, WindowSpec};
use crate::sim::wire::{self, ChangeEntry, Frame};
use crate::sim::world::World;

/// Size of a level added only to keep a side from going empty.
const FILLER: Qty = Qty::from_shares(10);

/// One window level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Leg {
    asset: usize,
    /// `Sell` for an ask, `Buy` for a bid.
    side: Side,
    px: Px,
}

/// A window that is open: the levels a competing taker will consume.
#[derive(Clone, Debug)]
struct OpenWindow {
    legs: Vec<Leg>,
    markets: Range<usize>,
    size: Qty,
}

/// Windows opened and closed at one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Windows opened.
    pub opened: u64,
    /// Windows consumed by the competing taker.
    pub closed: u64,
}

/// A scenario's windows and which of them are open.
pub struct Schedule {
    specs: Vec<(WindowSpec, Range<usize>)>,
    open: Vec<Option<OpenWindow>>,
}

impl Schedule {
    /// The windows of `scenario` (validated: every target exists), none open yet.
    pub fn new(scenario: &Scenario) -> Schedule {
        let specs: Vec<(WindowSpec, Range<usize>)> = scenario
            .windows
            .iter()
            .filter_map(|w| Some((w.clone(), scenario.window_markets(w)?)))
            .collect();
        let open = vec![None; specs.len()];
        Schedule { specs, open }
    }

    /// Whether any window opens or closes at `step`.
    pub fn due(&self, step: u64) -> bool {
        self.specs
            .iter()
            .any(|(w, _)| w.at_step == step || w.close_step() == step)
    }

    /// Closes the windows due at `step`, then opens those starting there (so a market freed
    /// at a step can take a new window at that step); returns the frames to publish, in order.
    pub fn at(&mut self, w: &mut World, step: u64) -> (Vec<Frame>, Change) {
        let mut frames = Vec::new();
        let mut change = Change::default();
        for ((spec, _), slot) in self.specs.iter().zip(self.open.iter_mut()) {
            if spec.close_step() == step
                && let Some(window) = slot.take()
            {
                frames.extend(close(w, &window));
                change.closed += 1;
            }
        }
        for ((spec, markets), slot) in self.specs.iter().zip(self.open.iter_mut()) {
            if spec.at_step == step {
                let (window, opened) = open(w, spec, markets.clone());
                frames.extend(opened);
                *slot = Some(window);
                change.opened += 1;
            }
        }
        (frames, change)
    }
}

/// Opens `spec` over `markets` (the window's markets in universe order, as validated): puts the
/// window levels into the true books and returns the `price_change` frames that publish them.
fn open(w: &mut World, spec: &WindowSpec, markets: Range<usize>) -> (OpenWindow, Vec<Frame>) {
    let outcome = usize::from(spec.kind == WindowKind::NegriskNo);
    let assets: Vec<usize> = match spec.kind {
        WindowKind::BinaryBuy | WindowKind::BinarySell => w.markets[markets.start].assets.clone(),
        WindowKind::NegriskYes | WindowKind::NegriskNo => markets
            .clone()
            .map(|m| w.markets[m].assets[outcome])
            .collect(),
    };
    let side = if spec.kind == WindowKind::BinarySell {
        Side::Buy
    } else {
        Side::Sell
    };
    let tick = w.markets[markets.start].spec.tick;
    let prices = split(
        w,
        &assets,
        side,
        target_ticks(spec, assets.len(), tick),
        tick,
    );
    let legs: Vec<Leg> = assets
        .iter()
        .zip(prices)
        .map(|(&asset, px)| Leg { asset, side, px })
        .collect();
    let size = Qty::from_shares(spec.size);
    let mut frames = Vec::with_capacity(markets.len());
    for m in markets.clone() {
        w.markets[m].in_window = true;
        let here = legs_of(w, &legs, m);
        frames.push(open_market(w, m, &here, spec.kind.on_event(), size));
    }
    let window = OpenWindow {
        legs,
        markets,
        size,
    };
    (window, frames)
}

/// A competing taker consumes `window`: a `last_trade_price` per level, then per market a
/// `price_change` removing its levels. The markets return to the regular dynamics.
fn close(w: &mut World, window: &OpenWindow) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(2 * window.legs.len());
    for m in window.markets.clone() {
        w.markets[m].in_window = false;
        let ids = token_ids(w, m);
        let here = legs_of(w, &window.legs, m);
        for leg in &here {
            let resting = w.assets[leg.asset].book.level(leg.side, leg.px);
            let taker = opposite(leg.side);
            w.assets[leg.asset].last_trade = leg.px;
            let ts = w.next_timestamp();
            let qty = resting.unwrap_or(window.size);
            frames.push(Frame {
                text: wire::last_trade(w, leg.asset, taker, leg.px, qty, ts),
                assets: vec![leg.asset],
                custom_only: false,
            });
        }
        let mut entries = Vec::with_capacity(here.len());
        for leg in here {
            let id = &ids[position(w, m, leg.asset)];
            let book = &mut w.assets[leg.asset].book;
            book.set(leg.side, leg.px, Qty::ZERO);
            entries.push(ChangeEntry::new(id, leg.side, leg.px, book));
        }
        let ts = w.next_timestamp();
        frames.push(Frame {
            text: wire::price_change(&w.markets[m].spec.condition_id, entries, ts),
            assets: w.markets[m].assets.clone(),
            custom_only: false,
        });
    }
    frames
}

/// The sum the window's best prices must reach, in ticks.
fn target_ticks(spec: &WindowSpec, legs: usize, tick: Px) -> i64 {
    let k = i64::from(Px::ONE.0 / tick.0);
    let gap = i64::from(spec.gap_ticks);
    match spec.kind {
        WindowKind::BinarySell => k + gap,
        WindowKind::NegriskNo => k * (legs as i64 - 1) - gap,
        WindowKind::BinaryBuy | WindowKind::NegriskYes => k - gap,
    }
}

/// Prices on `tick` summing to exactly `target` ticks, in proportion to the assets' current
/// best prices on `side` and each inside the range validation allows (asks 2..=K-1 ticks,
/// bids 1..=K-2, K ticks to 1).
fn split(w: &World, assets: &[usize], side: Side, target: i64, tick: Px) -> Vec<Px> {
    let t = i64::from(tick.0);
    let k = i64::from(Px::ONE.0) / t;
    let (lo, hi) = match side {
        Side::Sell => (2, k - 1),
        Side::Buy => (1, k - 2),
    };
    let best: Vec<i64> = assets
        .iter()
        .map(|&a| {
            let book = &w.assets[a].book;
            let px = match side {
                Side::Sell => book.best_ask(),
                Side::Buy => book.best_bid(),
            };
            px.map_or(k / 2, |p| i64::from(p.0) / t).max(1)
        })
        .collect();
    let total: i64 = best.iter().sum();
    let mut ticks: Vec<i64> = best
        .iter()
        .map(|b| (target * b / total).clamp(lo, hi))
        .collect();
    let n = ticks.len();
    for i in 0..(n as i64 * k) as usize {
        let sum: i64 = ticks.iter().sum();
        let x = &mut ticks[i % n];
        if sum < target && *x < hi {
            *x += 1;
        } else if sum > target && *x > lo {
            *x -= 1;
        } else if sum == target {
            break;
        }
    }
    ticks.into_iter().map(|x| Px((x * t) as u16)).collect()
}

/// The legs among `legs` that belong to market `market`.
fn legs_of(w: &World, legs: &[Leg], market: usize) -> Vec<Leg> {
    legs.iter()
        .copied()
        .filter(|l| w.assets[l.asset].market == market)
        .collect()
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

fn token_ids(w: &World, market: usize) -> Vec<String> {
    w.markets[market]
        .assets
        .iter()
        .map(|&a| w.assets[a].token_id.clone())
        .collect()
}

/// The asset's outcome position in its market.
fn position(w: &World, market: usize, asset: usize) -> usize {
    w.markets[market]
        .assets
        .iter()
        .position(|&a| a == asset)
        .unwrap_or(0)
}

/// Puts `legs` (all of market `market`) into the books and renders the `price_change`; with
/// `mirror`, also pulls the other outcome's asks that would sum to 1 or less with a window ask.
fn open_market(w: &mut World, market: usize, legs: &[Leg], mirror: bool, size: Qty) -> Frame {
    let ids = token_ids(w, market);
    let tick = w.markets[market].spec.tick;
    let mut entries = Vec::new();
    let mut set = |w: &mut World, asset: usize, side: Side, px: Px, qty: Qty| {
        let book = &mut w.assets[asset].book;
        book.set(side, px, qty);
        let id = &ids[position(w, market, asset)];
        entries.push(ChangeEntry::new(id, side, px, &w.assets[asset].book));
    };
    for leg in legs {
        let other = opposite(leg.side);
        let book = &w.assets[leg.asset].book;
        let better = levels_where(book, leg.side, |p| is_better(leg.side, p, leg.px));
        let crossing = levels_where(book, other, |p| !is_better(other, leg.px, p));
        let emptied = crossing.len() == book.depth(other);
        for px in better {
            set(w, leg.asset, leg.side, px, Qty::ZERO);
        }
        for px in crossing {
            set(w, leg.asset, other, px, Qty::ZERO);
        }
        if emptied {
            let filler = match other {
                Side::Buy => Px(leg.px.0 - tick.0),
                Side::Sell => Px(leg.px.0 + tick.0),
            };
            set(w, leg.asset, other, filler, FILLER);
        }
        set(w, leg.asset, leg.side, leg.px, size);
        if mirror {
            let complement = w.markets[market]
                .assets
                .iter()
                .copied()
                .find(|&a| a != leg.asset)
                .unwrap_or(leg.asset);
            let limit = leg.px.complement();
            let book = &w.assets[complement].book;
            let cheap = levels_where(book, Side::Sell, |p| p <= limit);
            let emptied = cheap.len() == book.depth(Side::Sell);
            let floor = book.best_bid().map_or(0, |b| b.0) + tick.0;
            for px in cheap {
                set(w, complement, Side::Sell, px, Qty::ZERO);
            }
            let filler = Px((limit.0 + tick.0).max(floor));
            if emptied && filler < Px::ONE {
                set(w, complement, Side::Sell, filler, FILLER);
            }
        }
    }
    let ts = w.next_timestamp();
    Frame {
        text: wire::price_change(&w.markets[market].spec.condition_id, entries, ts),
        assets: w.markets[market].assets.clone(),
        custom_only: false,
    }
}

/// Whether `a` is a better price than `b` on `side` (higher bid, lower ask).
fn is_better(side: Side, a: Px, b: Px) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

/// The prices on `side` of `book` that satisfy `pred`.
fn levels_where(book: &TrueBook, side: Side, pred: impl Fn(Px) -> bool) -> Vec<Px> {
    let levels: Vec<Px> = match side {
        Side::Buy => book.bids_best_first().map(|(p, _)| p).collect(),
        Side::Sell => book.asks_best_first().map(|(p, _)| p).collect(),
    };
    levels.into_iter().filter(|&p| pred(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::num::Usdc;
    use crate::sim::dynamics::Dynamics;
    use crate::sim::scenario::load_scenario;

    /// The sum of the best prices on `side` over `assets`, in 1e-4 units, if every book has one.
    fn best_sum(w: &World, assets: impl Iterator<Item = usize>, side: Side) -> Option<i64> {
        assets
            .map(|a| {
                let book = &w.assets[a].book;
                let px = match side {
                    Side::Buy => book.best_bid(),
                    Side::Sell => book.best_ask(),
                };
                px.map(|p| i64::from(p.0))
            })
            .sum()
    }

    /// Every sum that passes its payoff in the true books now, as (kind, target): binary sums
    /// over every market (event markets included), event sums over every event.
    fn opportunities(w: &World) -> Vec<(WindowKind, usize)> {
        let one = i64::from(Px::ONE.0);
        let mut found = Vec::new();
        for (m, market) in w.markets.iter().enumerate() {
            let assets = || market.assets.iter().copied();
            if best_sum(w, assets(), Side::Sell).is_some_and(|s| s < one) {
                found.push((WindowKind::BinaryBuy, m));
            }
            if best_sum(w, assets(), Side::Buy).is_some_and(|s| s > one) {
                found.push((WindowKind::BinarySell, m));
            }
        }
        for (e, event) in w.events.iter().enumerate() {
            let outcome = |o: usize| event.markets.iter().map(move |&m| w.markets[m].assets[o]);
            if best_sum(w, outcome(0), Side::Sell).is_some_and(|s| s < one) {
                found.push((WindowKind::NegriskYes, e));
            }
            let payoff = one * (event.markets.len() as i64 - 1);
            if best_sum(w, outcome(1), Side::Sell).is_some_and(|s| s < payoff) {
                found.push((WindowKind::NegriskNo, e));
            }
        }
        found.sort_by_key(|&(k, t)| (k as u8, t));
        found
    }

    /// The window's levels as (asset, price) and its payoff per set, in 1e-4 units.
    fn levels(w: &World, spec: &WindowSpec, markets: Range<usize>) -> (Vec<(usize, Px)>, i64) {
        let one = i64::from(Px::ONE.0);
        let (assets, side, payoff): (Vec<usize>, _, _) = match spec.kind {
            WindowKind::BinaryBuy => (w.markets[markets.start].assets.clone(), Side::Sell, one),
            WindowKind::BinarySell => (w.markets[markets.start].assets.clone(), Side::Buy, one),
            WindowKind::NegriskYes => (
                markets.map(|m| w.markets[m].assets[0]).collect(),
                Side::Sell,
                one,
            ),
            WindowKind::NegriskNo => {
                let n = markets.len() as i64;
                let assets = markets.map(|m| w.markets[m].assets[1]).collect();
                (assets, Side::Sell, one * (n - 1))
            }
        };
        let book = |a: usize| &w.assets[a].book;
        let best = |a: usize| match side {
            Side::Buy => book(a).best_bid(),
            Side::Sell => book(a).best_ask(),
        };
        let levels = assets.iter().map(|&a| (a, best(a).unwrap())).collect();
        (levels, payoff)
    }

    #[test]
    fn windows_hold_exactly_while_open_and_are_the_only_opportunities_ever() {
        let scenario = load_scenario("pair-arb").unwrap();
        let (mut dynamics, mut w) = Dynamics::new(&scenario);
        let mut schedule = Schedule::new(&scenario);
        let mut open: Vec<(WindowKind, usize)> = Vec::new();
        let mut fee_windows = Vec::new();
        let mut totals = Change::default();
        assert!(opportunities(&w).is_empty());
        for step in 1..=scenario.dynamics.steps {
            let (frames, change) = schedule.at(&mut w, step);
            for c in scenario.fee_changes.iter().filter(|c| c.at_step == step) {
                w.markets[c.market].spec.fees = c.fees.0;
            }
            totals.opened += change.opened;
            totals.closed += change.closed;
            for f in &frames {
                assert!(serde_json::from_str::<serde_json::Value>(&f.text).is_ok());
            }
            for spec in scenario.windows.iter().filter(|s| s.close_step() == step) {
                open.retain(|&(k, t)| (k, t) != (spec.kind, spec.target));
            }
            for spec in scenario.windows.iter().filter(|s| s.at_step == step) {
                let markets = scenario.window_markets(spec).unwrap();
                let tick = i64::from(w.markets[markets.start].spec.tick.0);
                let (levels, payoff) = levels(&w, spec, markets.clone());
                let sum: i64 = levels.iter().map(|&(_, p)| i64::from(p.0)).sum();
                let gap = i64::from(spec.gap_ticks) * tick;
                let size = Qty::from_shares(spec.size);
                if spec.kind == WindowKind::BinarySell {
                    assert_eq!(sum, payoff + gap, "{spec:?}");
                } else {
                    assert_eq!(sum, payoff - gap, "{spec:?}");
                }
                let side = if spec.kind == WindowKind::BinarySell {
                    Side::Buy
                } else {
                    Side::Sell
                };
                for &(asset, px) in &levels {
                    assert_eq!(w.assets[asset].book.level(side, px), Some(size));
                }
                let fees = w.markets[markets.start].spec.fees;
                if !fees.is_free() {
                    let fee: i64 = levels.iter().map(|&(_, p)| fees.taker_fee(p, size).0).sum();
                    let edge = Usdc(gap * spec.size as i64 * 100);
                    fee_windows.push(edge.0 > fee);
                }
                open.push((spec.kind, spec.target));
                open.sort_by_key(|&(k, t)| (k as u8, t));
            }
            dynamics.step(&mut w);
            assert_eq!(opportunities(&w), open, "at step {step}");
            for a in &w.assets {
                assert!(
                    a.book.is_uncrossed(),
                    "{} crossed at step {step}",
                    a.token_id
                );
                assert!(a.book.depth(Side::Buy) > 0 && a.book.depth(Side::Sell) > 0);
            }
        }
        let n = scenario.windows.len() as u64;
        assert_eq!((totals.opened, totals.closed), (n, n));
        assert!(open.is_empty());
        fee_windows.sort();
        assert_eq!(
            fee_windows,
            [false, false, true],
            "one fee window above its fees; one below them, and one below after the fee rise"
        );
    }
}
