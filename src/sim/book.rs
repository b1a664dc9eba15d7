//! The venue's true L2 book for one asset: two ordered maps, deliberately a different structure
//! from the bot's ladder book so that agreement between the two means something.
//!
//! Each level holds the house's aggregate liquidity (what the scenario sets) and the total of
//! the client orders resting there (what the matching engine adds and removes); everything
//! published (levels, digest, wire) is the sum of the two.

use std::collections::BTreeMap;

use crate::domain::digest::BookDigest;
use crate::domain::num::{Px, Qty, Side};

/// One price level: house liquidity and resting client orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Level {
    house: Qty,
    client: Qty,
}

impl Level {
    fn total(self) -> Qty {
        Qty(self.house.0 + self.client.0)
    }

    fn is_empty(self) -> bool {
        self.house.is_zero() && self.client.is_zero()
    }
}

/// One asset's resting liquidity by price.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrueBook {
    bids: BTreeMap<Px, Level>,
    asks: BTreeMap<Px, Level>,
}

impl TrueBook {
    fn side(&self, side: Side) -> &BTreeMap<Px, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Px, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Applies `f` to the level at `px` (created empty if absent) and drops it if it ends empty.
    fn update(&mut self, side: Side, px: Px, f: impl FnOnce(&mut Level)) {
        let levels = self.side_mut(side);
        let level = levels.entry(px).or_default();
        f(level);
        if level.is_empty() {
            levels.remove(&px);
        }
    }

    /// Sets the house's liquidity at `px` to `qty`; zero removes it (the `price_change` rule).
    /// Client orders resting at `px` stay.
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) {
        self.update(side, px, |l| l.house = qty);
    }

    /// The total size resting at `px` (house and clients), if any.
    pub fn level(&self, side: Side, px: Px) -> Option<Qty> {
        self.side(side).get(&px).map(|l| l.total())
    }

    /// The house's part of the level at `px` (zero if none).
    pub fn house(&self, side: Side, px: Px) -> Qty {
        self.side(side).get(&px).map_or(Qty::ZERO, |l| l.house)
    }

    /// The client orders' part of the level at `px` (zero if none).
    pub fn client(&self, side: Side, px: Px) -> Qty {
        self.side(side).get(&px).map_or(Qty::ZERO, |l| l.client)
    }

    /// Removes up to `qty` of the house's liquidity at `px`; returns what was removed.
    pub fn take_house(&mut self, side: Side, px: Px, qty: Qty) -> Qty {
        let mut taken = Qty::ZERO;
        self.update(side, px, |l| {
            taken = Qty(qty.0.min(l.house.0));
            l.house.0 -= taken.0;
        });
        taken
    }

    /// Adds a client order's `qty` to the level at `px`.
    pub fn add_client(&mut self, side: Side, px: Px, qty: Qty) {
        self.update(side, px, |l| l.client.0 += qty.0);
    }

    /// Removes up to `qty` of client orders' liquidity at `px`.
    pub fn remove_client(&mut self, side: Side, px: Px, qty: Qty) {
        self.update(side, px, |l| l.client.0 -= qty.0.min(l.client.0));
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// The `n`-th level of a side in price order (lowest first), if there is one.
    pub fn nth(&self, side: Side, n: usize) -> Option<(Px, Qty)> {
        self.side(side).iter().nth(n).map(|(p, l)| (*p, l.total()))
    }

    /// Highest bid.
    pub fn best_bid(&self) -> Option<Px> {
        self.bids.keys().next_back().copied()
    }

    /// Lowest ask.
    pub fn best_ask(&self) -> Option<Px> {
        self.asks.keys().next().copied()
    }

    /// Bids, best (highest) first.
    pub fn bids_best_first(&self) -> impl Iterator<Item = (Px, Qty)> + '_ {
        self.bids.iter().rev().map(|(p, l)| (*p, l.total()))
    }

    /// Asks, best (lowest) first.
    pub fn asks_best_first(&self) -> impl Iterator<Item = (Px, Qty)> + '_ {
        self.asks.iter().map(|(p, l)| (*p, l.total()))
    }

    /// The canonical digest shared with the bot's books.
    pub fn digest(&self) -> u64 {
        let mut d = BookDigest::new();
        self.bids_best_first().for_each(|(p, q)| d.bid(p, q));
        self.asks_best_first().for_each(|(p, q)| d.ask(p, q));
        d.finish()
    }

    /// Moves the house's liquidity onto a new tick: bids round down, asks round up (the spread
    /// can only widen, so the book stays uncrossed); levels that land on 0 or 1 are dropped and
    /// levels landing on the same price merge. Client orders keep their prices.
    pub fn regrid(&mut self, tick: Px) {
        let t = tick.0;
        for side in [Side::Buy, Side::Sell] {
            let house: Vec<(Px, Qty)> = self
                .side(side)
                .iter()
                .filter(|(_, l)| !l.house.is_zero())
                .map(|(p, l)| (*p, l.house))
                .collect();
            for &(px, _) in &house {
                self.set(side, px, Qty::ZERO);
            }
            for (px, qty) in house {
                let moved = match side {
                    Side::Buy => px.0 / t * t,
                    Side::Sell => px.0.div_ceil(t) * t,
                };
                if moved > 0 && moved < Px::ONE.0 {
                    self.update(side, Px(moved), |l| l.house.0 += qty.0);
                }
            }
        }
    }

    /// Whether the best bid is below the best ask (an empty side never crosses).
    pub fn is_uncrossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => b < a,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(bids: &[(u16, u64)], asks: &[(u16, u64)]) -> TrueBook {
        let mut b = TrueBook::default();
        bids.iter()
            .for_each(|&(p, q)| b.set(Side::Buy, Px(p), Qty(q)));
        asks.iter()
            .for_each(|&(p, q)| b.set(Side::Sell, Px(p), Qty(q)));
        b
    }

    #[test]
    fn set_replaces_and_zero_removes() {
        let mut b = book(&[(4800, 5), (4900, 7)], &[(5100, 3)]);
        b.set(Side::Buy, Px(4900), Qty(9));
        b.set(Side::Buy, Px(4800), Qty::ZERO);
        assert_eq!(
            b.bids_best_first().collect::<Vec<_>>(),
            vec![(Px(4900), Qty(9))]
        );
        assert_eq!(
            (b.best_bid(), b.best_ask()),
            (Some(Px(4900)), Some(Px(5100)))
        );
        assert_eq!(b.depth(Side::Buy), 1);
        assert!(b.is_uncrossed());
    }

    #[test]
    fn digest_matches_a_hand_fed_digest_in_canonical_order() {
        let b = book(&[(4800, 5), (4900, 7)], &[(5200, 1), (5100, 3)]);
        let mut d = BookDigest::new();
        d.bid(Px(4900), Qty(7));
        d.bid(Px(4800), Qty(5));
        d.ask(Px(5100), Qty(3));
        d.ask(Px(5200), Qty(1));
        assert_eq!(b.digest(), d.finish());
    }

    #[test]
    fn regrid_rounds_outward_and_merges() {
        let mut b = book(
            &[(4810, 5), (4890, 7), (5, 1)],
            &[(5110, 3), (5190, 2), (9995, 4)],
        );
        b.regrid(Px(100));
        assert_eq!(b, book(&[(4800, 12)], &[(5200, 5)]));
    }

    #[test]
    fn house_and_client_liquidity_add_up_and_set_touches_only_the_house() {
        let mut b = book(&[(4800, 5)], &[]);
        b.add_client(Side::Buy, Px(4800), Qty(3));
        b.add_client(Side::Buy, Px(4700), Qty(2));
        assert_eq!(b.level(Side::Buy, Px(4800)), Some(Qty(8)));
        b.set(Side::Buy, Px(4800), Qty::ZERO);
        assert_eq!(b.level(Side::Buy, Px(4800)), Some(Qty(3)));
        assert_eq!(b.take_house(Side::Buy, Px(4800), Qty(9)), Qty::ZERO);
        b.remove_client(Side::Buy, Px(4800), Qty(3));
        assert_eq!(b.level(Side::Buy, Px(4800)), None);
        assert_eq!(
            (b.house(Side::Buy, Px(4700)), b.client(Side::Buy, Px(4700))),
            (Qty::ZERO, Qty(2))
        );
    }

    #[test]
    fn take_house_removes_at_most_what_the_house_has() {
        let mut b = book(&[], &[(5100, 5)]);
        b.add_client(Side::Sell, Px(5100), Qty(4));
        assert_eq!(b.take_house(Side::Sell, Px(5100), Qty(3)), Qty(3));
        assert_eq!(b.take_house(Side::Sell, Px(5100), Qty(3)), Qty(2));
        assert_eq!(b.level(Side::Sell, Px(5100)), Some(Qty(4)));
    }

    #[test]
    fn regrid_moves_the_house_and_leaves_client_orders_in_place() {
        let mut b = book(&[(4810, 5)], &[(5110, 3)]);
        b.add_client(Side::Buy, Px(4810), Qty(2));
        b.regrid(Px(100));
        assert_eq!(b.level(Side::Buy, Px(4810)), Some(Qty(2)));
        assert_eq!(b.level(Side::Buy, Px(4800)), Some(Qty(5)));
        assert_eq!(b.level(Side::Sell, Px(5200)), Some(Qty(3)));
    }
}
