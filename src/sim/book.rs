//! The venue's true L2 book for one asset: two ordered maps, deliberately a different structure
//! from the bot's ladder book so that agreement between the two means something.

use std::collections::BTreeMap;

use crate::domain::digest::BookDigest;
use crate::domain::num::{Px, Qty, Side};

/// One asset's resting liquidity by price.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrueBook {
    bids: BTreeMap<Px, Qty>,
    asks: BTreeMap<Px, Qty>,
}

impl TrueBook {
    fn side(&self, side: Side) -> &BTreeMap<Px, Qty> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Px, Qty> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Sets the level at `px` to `qty`; zero removes it (the `price_change` rule).
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) {
        let levels = self.side_mut(side);
        if qty.is_zero() {
            levels.remove(&px);
        } else {
            levels.insert(px, qty);
        }
    }

    /// The size resting at `px`, if any.
    pub fn level(&self, side: Side, px: Px) -> Option<Qty> {
        self.side(side).get(&px).copied()
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// The `n`-th level of a side in price order (lowest first), if there is one.
    pub fn nth(&self, side: Side, n: usize) -> Option<(Px, Qty)> {
        self.side(side).iter().nth(n).map(|(p, q)| (*p, *q))
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
        self.bids.iter().rev().map(|(p, q)| (*p, *q))
    }

    /// Asks, best (lowest) first.
    pub fn asks_best_first(&self) -> impl Iterator<Item = (Px, Qty)> + '_ {
        self.asks.iter().map(|(p, q)| (*p, *q))
    }

    /// The canonical digest shared with the bot's books.
    pub fn digest(&self) -> u64 {
        let mut d = BookDigest::new();
        self.bids_best_first().for_each(|(p, q)| d.bid(p, q));
        self.asks_best_first().for_each(|(p, q)| d.ask(p, q));
        d.finish()
    }

    /// Moves every level onto a new tick: bids round down, asks round up (the spread can only
    /// widen, so the book stays uncrossed); levels that land on 0 or 1 are dropped and levels
    /// landing on the same price merge.
    pub fn regrid(&mut self, tick: Px) {
        let t = tick.0;
        let bids = std::mem::take(&mut self.bids);
        for (px, qty) in bids {
            let down = px.0 / t * t;
            if down > 0 {
                add(&mut self.bids, Px(down), qty);
            }
        }
        let asks = std::mem::take(&mut self.asks);
        for (px, qty) in asks {
            let up = px.0.div_ceil(t) * t;
            if up < Px::ONE.0 {
                add(&mut self.asks, Px(up), qty);
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

fn add(levels: &mut BTreeMap<Px, Qty>, px: Px, qty: Qty) {
    levels.entry(px).and_modify(|q| q.0 += qty.0).or_insert(qty);
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
}
