//! Inventory, cash and PnL from fills, in exact integers.
//!
//! Cash starts at 0 and moves only with fills: a buy costs `px × qty` rounded up to 1e-6, a sell
//! earns it rounded down, and every fee is subtracted as charged (a negative fee, a rebate, adds).
//! Shares are held per asset as `Qty` and never go negative: a sell beyond the holding clamps the
//! holding to zero and counts a negative-inventory anomaly (the proceeds are still booked, since
//! the venue paid them). PnL marks complete YES/NO pairs at exactly 1 (they merge for 1) and the
//! excess leg at its best bid, or at 0 when the book has no bid or is stale.

use crate::domain::books::BookSet;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, EventIdx, MarketIdx, Px, Qty, Side, Usdc};
use crate::domain::orders::notional_ceil;

/// Per-asset holdings, cash and fees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Positions {
    shares: Vec<Qty>,
    /// Each asset's market.
    market_of: Vec<MarketIdx>,
    /// Cost of the shares held, per asset: see [`Positions::cost_basis`].
    cost: Vec<Usdc>,
    /// Markets that have had a fill, in first-fill order (preallocated for every market).
    held_markets: Vec<MarketIdx>,
    /// Whether each market is in `held_markets`.
    listed: Vec<bool>,
    cash: Usdc,
    fees: Usdc,
    negative_inventory: u64,
    unknown_assets: u64,
}

impl Positions {
    /// Flat positions and zero cash for every registered asset; all allocation happens here.
    pub fn new(registry: &Registry) -> Positions {
        let markets = registry.markets().len();
        Positions {
            shares: vec![Qty::ZERO; registry.asset_count()],
            market_of: registry.assets().map(|(_, a)| a.market).collect(),
            cost: vec![Usdc::ZERO; registry.asset_count()],
            held_markets: Vec::with_capacity(markets),
            listed: vec![false; markets],
            cash: Usdc::ZERO,
            fees: Usdc::ZERO,
            negative_inventory: 0,
            unknown_assets: 0,
        }
    }

    /// Books one fill of our order. A fill for an asset outside the registry is counted and
    /// ignored.
    pub fn on_fill(&mut self, asset: AssetIdx, side: Side, px: Px, qty: Qty, fee: Usdc) {
        let i = asset.0 as usize;
        if i >= self.shares.len() {
            self.unknown_assets += 1;
            return;
        }
        let held = self.shares[i];
        let m = self.market_of[i].0 as usize;
        if !self.listed[m] {
            self.listed[m] = true;
            self.held_markets.push(self.market_of[i]);
        }
        match side {
            Side::Buy => {
                let cost = notional_ceil(px, qty);
                self.cash = Usdc(self.cash.0.saturating_sub(cost.0));
                self.cost[i] = Usdc(self.cost[i].0.saturating_add(cost.0));
                self.shares[i] = Qty(held.0.saturating_add(qty.0));
            }
            Side::Sell => {
                let proceeds = px.notional(qty).to_usdc_floor().unwrap_or(Usdc(i64::MAX));
                self.cash = Usdc(self.cash.0.saturating_add(proceeds.0));
                if qty > held {
                    self.negative_inventory += 1;
                }
                let sold = qty.min(held);
                self.cost[i] = remaining_cost(self.cost[i], held, sold);
                self.shares[i] = Qty(held.0 - sold.0);
            }
        }
        self.cash = Usdc(self.cash.0.saturating_sub(fee.0));
        self.fees = Usdc(self.fees.0.saturating_add(fee.0));
    }

    /// Undoes one fill booked by [`Positions::on_fill`] that the venue reversed (a trade that
    /// FAILED after MATCHED): shares, cash and fees return exactly to what they were without it.
    /// A sale's cost basis comes back at the sale price.
    pub fn on_fill_reversed(&mut self, asset: AssetIdx, side: Side, px: Px, qty: Qty, fee: Usdc) {
        let i = asset.0 as usize;
        if i >= self.shares.len() {
            self.unknown_assets += 1;
            return;
        }
        let held = self.shares[i];
        match side {
            Side::Buy => {
                let cost = notional_ceil(px, qty);
                self.cash = Usdc(self.cash.0.saturating_add(cost.0));
                if qty > held {
                    self.negative_inventory += 1;
                }
                let returned = qty.min(held);
                self.cost[i] = remaining_cost(self.cost[i], held, returned);
                self.shares[i] = Qty(held.0 - returned.0);
            }
            Side::Sell => {
                let proceeds = px.notional(qty).to_usdc_floor().unwrap_or(Usdc(i64::MAX));
                self.cash = Usdc(self.cash.0.saturating_sub(proceeds.0));
                self.cost[i] = Usdc(self.cost[i].0.saturating_add(notional_ceil(px, qty).0));
                self.shares[i] = Qty(held.0.saturating_add(qty.0));
            }
        }
        self.cash = Usdc(self.cash.0.saturating_add(fee.0));
        self.fees = Usdc(self.fees.0.saturating_sub(fee.0));
    }

    /// Shares of `asset` held (0 for an unknown asset).
    pub fn shares(&self, asset: AssetIdx) -> Qty {
        self.shares
            .get(asset.0 as usize)
            .copied()
            .unwrap_or(Qty::ZERO)
    }

    /// What the shares of `asset` held cost: buys add their cost (rounded up, fees excluded),
    /// sells remove the sold fraction of it (the removed part rounded down, so the rest never
    /// understates), and a sell of everything leaves 0.
    pub fn cost_basis(&self, asset: AssetIdx) -> Usdc {
        self.cost
            .get(asset.0 as usize)
            .copied()
            .unwrap_or(Usdc::ZERO)
    }

    /// Cash: 0 at start, minus buys and fees, plus sells.
    pub fn cash(&self) -> Usdc {
        self.cash
    }

    /// Fees paid so far (rebates, as negative fees, reduce it).
    pub fn fees(&self) -> Usdc {
        self.fees
    }

    /// Sells beyond the holding seen so far (each clamped the holding to zero).
    pub fn negative_inventory(&self) -> u64 {
        self.negative_inventory
    }

    /// Fills for assets outside the registry seen so far (ignored).
    pub fn unknown_assets(&self) -> u64 {
        self.unknown_assets
    }

    /// Markets that have had a fill, in first-fill order.
    pub fn held_markets(&self) -> &[MarketIdx] {
        &self.held_markets
    }

    /// Shares of a market that no complete set covers. A Yes+No pair covers one share of each
    /// (it merges for 1). In a neg-risk event, one Yes of every market is a complete set (worth
    /// exactly 1) and so is one No of every market (worth N − 1), so what is left after pairs is
    /// covered up to the event's smallest such remainder. Outside events: `|yes − no|`.
    pub fn unhedged(&self, reg: &Registry, market: MarketIdx) -> Qty {
        let info = reg.market(market);
        let [yes, no] = info.assets[..] else {
            return Qty::ZERO;
        };
        let (y, n) = (self.shares(yes).0, self.shares(no).0);
        let pairs = y.min(n);
        let (yes_sets, no_sets) = info.event.map_or((0, 0), |e| self.event_sets(reg, e));
        Qty((y - pairs).saturating_sub(yes_sets) + (n - pairs).saturating_sub(no_sets))
    }

    /// Complete Yes sets and complete No sets held across a neg-risk event, after each market's
    /// Yes+No pairs.
    fn event_sets(&self, reg: &Registry, event: EventIdx) -> (u64, u64) {
        let (mut yes_sets, mut no_sets) = (u64::MAX, u64::MAX);
        for &m in &reg.event(event).markets {
            let [yes, no] = reg.market(m).assets[..] else {
                return (0, 0);
            };
            let (y, n) = (self.shares(yes).0, self.shares(no).0);
            let pairs = y.min(n);
            yes_sets = yes_sets.min(y - pairs);
            no_sets = no_sets.min(n - pairs);
        }
        (yes_sets, no_sets)
    }

    /// The value of every holding: complete Yes+No pairs at exactly 1 each (they merge for 1);
    /// in a neg-risk event, complete Yes sets at 1 and complete No sets at N − 1 per set, shared
    /// out over the event's markets; every other share at its best bid, rounded down. A missing
    /// bid or a stale book values the shares at 0.
    pub fn mark_to_market(&self, reg: &Registry, books: &BookSet) -> Usdc {
        let mut total = 0i64;
        for &m in &self.held_markets {
            let info = reg.market(m);
            let [yes, no] = info.assets[..] else {
                for &a in &info.assets {
                    total = total.saturating_add(bid_value(books, a, self.shares(a)).0);
                }
                continue;
            };
            let (y, n) = (self.shares(yes).0, self.shares(no).0);
            let pairs = y.min(n);
            let (yes_sets, no_sets) = info.event.map_or((0, 0), |e| self.event_sets(reg, e));
            let event_markets = info.event.map_or(1, |e| reg.event(e).markets.len() as u64);
            // Shares and USDC share the 1e-6 unit. Each market carries 1/N of a Yes set's payoff
            // of 1 and (N − 1)/N of a No set's N − 1: over the event's N markets, a Yes set is
            // worth 1 and a No set N − 1 (each share rounded down).
            let covered = u128::from(pairs)
                + u128::from(yes_sets) / u128::from(event_markets)
                + u128::from(no_sets) * u128::from(event_markets - 1) / u128::from(event_markets);
            total = total.saturating_add(i64::try_from(covered).unwrap_or(i64::MAX));
            let yes_left = Qty(y - pairs - yes_sets.min(y - pairs));
            let no_left = Qty(n - pairs - no_sets.min(n - pairs));
            total = total.saturating_add(bid_value(books, yes, yes_left).0);
            total = total.saturating_add(bid_value(books, no, no_left).0);
        }
        Usdc(total)
    }

    /// `cash + mark_to_market`: the run's profit or loss so far.
    pub fn pnl(&self, reg: &Registry, books: &BookSet) -> Usdc {
        Usdc(
            self.cash
                .0
                .saturating_add(self.mark_to_market(reg, books).0),
        )
    }
}

/// `qty` of `asset` at its best bid, rounded down; 0 without a bid or on a stale book.
fn bid_value(books: &BookSet, asset: AssetIdx, qty: Qty) -> Usdc {
    let book = books.book(asset);
    match book.best_bid() {
        Some((px, _)) if !book.is_stale() && !qty.is_zero() => {
            px.notional(qty).to_usdc_floor().unwrap_or(Usdc(i64::MAX))
        }
        _ => Usdc::ZERO,
    }
}

/// The cost left after selling `sold` of `held` shares that cost `cost`.
fn remaining_cost(cost: Usdc, held: Qty, sold: Qty) -> Usdc {
    if sold >= held {
        return Usdc::ZERO;
    }
    let removed = i128::from(cost.0) * i128::from(sold.0) / i128::from(held.0);
    Usdc(cost.0 - removed as i64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::events::{Event, EventBody};
    use crate::domain::markets::{EventSpec, MarketSpec};

    /// Two neg-risk binary markets in one event (assets 0,1 and 2,3), a standalone binary market
    /// with a 5-share minimum order (assets 4,5) and one not accepting orders (assets 6,7), tick
    /// 0.01.
    pub(crate) fn registry() -> Registry {
        let mut r = Registry::default();
        for (i, neg_risk, accepting_orders) in [
            (0, true, true),
            (1, true, true),
            (2, false, true),
            (3, false, false),
        ] {
            r.add_market(MarketSpec {
                condition_id: format!("0x{i}"),
                token_ids: vec![format!("{}", 10 + 2 * i), format!("{}", 11 + 2 * i)],
                neg_risk,
                accepting_orders,
                min_order_size: Qty::from_shares(if i == 2 { 5 } else { 0 }),
                ..MarketSpec::default()
            })
            .expect("a valid market");
        }
        r.add_event(EventSpec {
            id: "e".into(),
            neg_risk_market_id: "0xe".into(),
            augmented: false,
            markets: vec![MarketIdx(0), MarketIdx(1)],
        })
        .expect("a valid event");
        r
    }

    /// Replaces `asset`'s book at `ts` with one bid and one ask level (`None` leaves a side empty).
    pub(crate) fn quote(
        books: &mut BookSet,
        asset: u32,
        ts: u64,
        bid: Option<u16>,
        ask: Option<u16>,
    ) {
        let asset = AssetIdx(asset);
        let mut resync = Vec::new();
        books.apply(
            &Event::new(ts, EventBody::BookSnapshot { asset }),
            &mut resync,
        );
        for (side, px) in [(Side::Buy, bid), (Side::Sell, ask)] {
            if let Some(px) = px {
                let level = EventBody::Level {
                    asset,
                    side,
                    px: Px(px),
                    qty: Qty::from_shares(100),
                };
                books.apply(&Event::new(ts, level), &mut resync);
            }
        }
        books.end_message(&[asset], &mut resync);
    }

    pub(crate) fn fill(p: &mut Positions, asset: u32, side: Side, px: u16, qty: Qty, fee: i64) {
        p.on_fill(AssetIdx(asset), side, Px(px), qty, Usdc(fee));
    }

    #[test]
    fn cash_and_fees_follow_fills_rounding_against_us() {
        let reg = registry();
        let mut p = Positions::new(&reg);
        // 3.000001 shares at 0.4501: 1.35030045 → cost 1.350301 (up).
        fill(&mut p, 0, Side::Buy, 4_501, Qty(3_000_001), 20);
        assert_eq!(p.cash(), Usdc(-1_350_301 - 20));
        assert_eq!(p.shares(AssetIdx(0)), Qty(3_000_001));
        assert_eq!(p.cost_basis(AssetIdx(0)), Usdc(1_350_301));
        // Sell 1.000001 at 0.5001: 0.50010005 → proceeds 0.500100 (down).
        fill(&mut p, 0, Side::Sell, 5_001, Qty(1_000_001), 10);
        assert_eq!(p.cash(), Usdc(-1_350_321 + 500_100 - 10));
        assert_eq!(p.fees(), Usdc(30));
        assert_eq!(p.shares(AssetIdx(0)), Qty(2_000_000));
        // removed = floor(1_350_301 × 1_000_001 / 3_000_001) = 450_100
        assert_eq!(p.cost_basis(AssetIdx(0)), Usdc(1_350_301 - 450_100));
        fill(&mut p, 0, Side::Buy, 100, Qty::from_shares(1), -7);
        assert_eq!(p.fees(), Usdc(23), "a rebate reduces fees and adds cash");
    }

    #[test]
    fn a_reversed_fill_restores_shares_cash_and_fees_exactly() {
        let reg = registry();
        let mut p = Positions::new(&reg);
        fill(&mut p, 0, Side::Buy, 4_501, Qty(3_000_001), 20);
        let (cash, fees, shares) = (p.cash(), p.fees(), p.shares(AssetIdx(0)));
        fill(&mut p, 0, Side::Buy, 4_700, Qty(1_000_000), 7);
        p.on_fill_reversed(AssetIdx(0), Side::Buy, Px(4_700), Qty(1_000_000), Usdc(7));
        assert_eq!(
            (p.cash(), p.fees(), p.shares(AssetIdx(0))),
            (cash, fees, shares)
        );
        fill(&mut p, 0, Side::Sell, 5_001, Qty(1_000_001), 10);
        p.on_fill_reversed(AssetIdx(0), Side::Sell, Px(5_001), Qty(1_000_001), Usdc(10));
        assert_eq!(
            (p.cash(), p.fees(), p.shares(AssetIdx(0))),
            (cash, fees, shares)
        );
    }

    #[test]
    fn selling_beyond_the_holding_clamps_and_counts() {
        let reg = registry();
        let mut p = Positions::new(&reg);
        fill(&mut p, 1, Side::Buy, 5_000, Qty::from_shares(2), 0);
        fill(&mut p, 1, Side::Sell, 6_000, Qty::from_shares(2), 0);
        assert_eq!(p.negative_inventory(), 0);
        fill(&mut p, 1, Side::Buy, 5_000, Qty::from_shares(2), 0);
        fill(&mut p, 1, Side::Sell, 6_000, Qty::from_shares(3), 0);
        assert_eq!(p.shares(AssetIdx(1)), Qty::ZERO);
        assert_eq!(p.cost_basis(AssetIdx(1)), Usdc::ZERO);
        assert_eq!(p.negative_inventory(), 1);
        assert_eq!(p.cash(), Usdc(-2 * 1_000_000 + 1_200_000 + 1_800_000));
        p.on_fill(AssetIdx(99), Side::Buy, Px(1), Qty(1), Usdc::ZERO);
        assert_eq!(p.unknown_assets(), 1);
    }

    #[test]
    fn pairs_mark_at_one_and_the_excess_at_its_best_bid() {
        let reg = registry();
        let mut books = BookSet::new(&reg);
        let mut p = Positions::new(&reg);
        fill(&mut p, 0, Side::Buy, 4_000, Qty::from_shares(10), 1_000);
        fill(&mut p, 1, Side::Buy, 5_500, Qty::from_shares(4), 0);
        assert_eq!(p.unhedged(&reg, MarketIdx(0)), Qty::from_shares(6));
        assert_eq!(p.unhedged(&reg, MarketIdx(1)), Qty::ZERO);
        assert_eq!(p.cash(), Usdc(-4_000_000 - 2_200_000 - 1_000));
        // Books still stale: the 6 excess YES are worth 0; the 4 pairs are worth 4.
        assert_eq!(p.mark_to_market(&reg, &books), Usdc(4_000_000));
        quote(&mut books, 0, 1, Some(3_700), Some(3_900));
        assert_eq!(p.mark_to_market(&reg, &books), Usdc(4_000_000 + 2_220_000));
        assert_eq!(p.pnl(&reg, &books), Usdc(6_220_000 - 6_201_000));
        quote(&mut books, 0, 2, None, Some(3_900));
        assert_eq!(p.mark_to_market(&reg, &books), Usdc(4_000_000), "no bid: 0");
    }

    #[test]
    fn neg_risk_sets_are_hedged_and_marked_at_their_payoff() {
        // Markets 0 (assets 0, 1) and 1 (assets 2, 3) form one two-market neg-risk event.
        let reg = registry();
        let books = BookSet::new(&reg);
        let mut p = Positions::new(&reg);
        // 10 Yes sets: one Yes of each market pays exactly 1.
        fill(&mut p, 0, Side::Buy, 4_000, Qty::from_shares(10), 0);
        assert_eq!(
            p.unhedged(&reg, MarketIdx(0)),
            Qty::from_shares(10),
            "half a set"
        );
        fill(&mut p, 2, Side::Buy, 5_500, Qty::from_shares(10), 0);
        assert_eq!(p.unhedged(&reg, MarketIdx(0)), Qty::ZERO);
        assert_eq!(p.unhedged(&reg, MarketIdx(1)), Qty::ZERO);
        assert_eq!(
            p.mark_to_market(&reg, &books),
            Usdc(10_000_000),
            "10 sets × 1"
        );
        // 6 No sets on top (payoff N − 1 = 1 each), and 3 more No of market 0 alone.
        fill(&mut p, 1, Side::Buy, 6_000, Qty::from_shares(9), 0);
        fill(&mut p, 3, Side::Buy, 4_500, Qty::from_shares(6), 0);
        // Market 0 holds 10 Yes + 9 No: 9 pairs, 1 Yes left (a Yes set with market 1's Yes
        // needs market 1's Yes beyond its pairs: market 1 holds 10 Yes + 6 No = 6 pairs, 4 Yes).
        assert_eq!(p.unhedged(&reg, MarketIdx(0)), Qty::ZERO);
        assert_eq!(p.unhedged(&reg, MarketIdx(1)), Qty::from_shares(3));
        // Stale books: 15 pairs at 1, one Yes set at 1, 3 Yes of market 1 at 0.
        assert_eq!(p.mark_to_market(&reg, &books), Usdc(16_000_000));
    }

    #[test]
    fn held_markets_are_listed_once_in_first_fill_order() {
        let reg = registry();
        let mut p = Positions::new(&reg);
        fill(&mut p, 4, Side::Buy, 100, Qty(1), 0);
        fill(&mut p, 0, Side::Buy, 100, Qty(1), 0);
        fill(&mut p, 5, Side::Buy, 100, Qty(1), 0);
        assert_eq!(p.held_markets(), &[MarketIdx(2), MarketIdx(0)]);
    }
}
