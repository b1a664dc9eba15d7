//! Bounds that keep the regular book dynamics free of accidental arbitrage, so the only pair
//! opportunities a client ever sees are the windows a scenario scripts.
//!
//! A binary market's two books are kept consistent as if mirrored (a Yes bid at `p` is a No ask
//! at `1 − p`): the Yes and No best bids stay at least `spread` below 1 together, the best asks
//! at least `spread` above 1. In a neg-risk event, the Yes best asks sum to more than 1 and the
//! No best asks to more than the number of markets minus 1.

use crate::domain::num::Px;
use crate::sim::world::World;

/// The price range a new level on one asset may take without opening an arbitrage, in 1e-4
/// units (bounds may lie outside `0..=1`; callers clamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Highest price a new bid may take.
    pub bid_cap: i64,
    /// Lowest price a new ask may take.
    pub ask_floor: i64,
}

/// The bounds for a new level on `asset`, keeping `spread` (1e-4 units) between a market's two
/// outcomes and at least one tick of overround in its neg-risk event.
pub fn bounds(w: &World, asset: usize, spread: i64) -> Bounds {
    let one = i64::from(Px::ONE.0);
    let mut b = Bounds {
        bid_cap: one,
        ask_floor: 0,
    };
    let market = w.market_of(asset);
    let Some(outcome) = market.assets.iter().position(|&a| a == asset) else {
        return b;
    };
    if let [yes, no] = market.assets[..] {
        let other = &w.assets[if outcome == 0 { no } else { yes }].book;
        if let Some(bid) = other.best_bid() {
            b.bid_cap = one - i64::from(bid.0) - spread;
        }
        if let Some(ask) = other.best_ask() {
            b.ask_floor = one - i64::from(ask.0) + spread;
        }
    }
    if let Some(event) = market.event {
        let markets = &w.events[event].markets;
        let payoff = if outcome == 0 {
            one
        } else {
            one * (markets.len() as i64 - 1)
        };
        let others: Option<i64> = markets
            .iter()
            .filter(|&&m| w.markets[m].assets.get(outcome) != Some(&asset))
            .map(|&m| {
                let a = *w.markets[m].assets.get(outcome)?;
                w.assets[a].book.best_ask().map(|p| i64::from(p.0))
            })
            .sum();
        if let Some(others) = others {
            let tick = i64::from(market.spec.tick.0);
            b.ask_floor = b.ask_floor.max(payoff - others + tick);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::MarketSpec;
    use crate::domain::num::{Qty, Side};
    use crate::sim::book::TrueBook;
    use crate::sim::world::EventState;

    fn book(bid: u16, ask: u16) -> (TrueBook, Px) {
        let mut b = TrueBook::default();
        b.set(Side::Buy, Px(bid), Qty(1_000_000));
        b.set(Side::Sell, Px(ask), Qty(1_000_000));
        (b, Px(bid))
    }

    fn market(id: &str, yes: (u16, u16), no: (u16, u16)) -> (MarketSpec, Vec<(TrueBook, Px)>) {
        let spec = MarketSpec {
            condition_id: id.into(),
            token_ids: vec![format!("{id}1"), format!("{id}2")],
            ..MarketSpec::default()
        };
        (spec, vec![book(yes.0, yes.1), book(no.0, no.1)])
    }

    #[test]
    fn binary_bounds_mirror_the_other_outcome() {
        let w = World::new(vec![market("1", (4000, 4200), (5500, 5900))], vec![], 0);
        // Yes bid ≤ 1 − 0.55 − 0.02; Yes ask ≥ 1 − 0.59 + 0.02.
        assert_eq!(
            bounds(&w, 0, 200),
            Bounds {
                bid_cap: 4300,
                ask_floor: 4300
            }
        );
        assert_eq!(bounds(&w, 1, 100).bid_cap, 5900);
        assert_eq!(bounds(&w, 1, 100).ask_floor, 5900);
    }

    #[test]
    fn event_bounds_keep_the_sums_above_their_payoffs() {
        let markets = vec![
            market("1", (2000, 2100), (7800, 8100)),
            market("2", (3000, 3200), (6700, 7100)),
            market("3", (4500, 4800), (5100, 5600)),
        ];
        let event = EventState {
            id: "1".into(),
            neg_risk_market_id: "0x".into(),
            augmented: false,
            markets: vec![0, 1, 2],
        };
        let w = World::new(markets, vec![event], 0);
        // Yes of market 3: binary floor 1 − 0.56 + 0.01 = 0.45; event floor 1 − 0.21 − 0.32 +
        // 0.01 = 0.48.
        assert_eq!(bounds(&w, 4, 100).ask_floor, 4800);
        // No of market 1: binary floor 1 − 0.21 + 0.01 = 0.80; event floor 2 − 0.71 − 0.56 +
        // 0.01 = 0.74.
        assert_eq!(bounds(&w, 1, 100).ask_floor, 8000);
    }
}
