//! Exact opportunity math for complete-set arbitrage: how many sets to trade, at which limits, and
//! what they cost, earn and pay in fees, walking every leg's book level by level in integers.
//!
//! A *set* is one share of every leg: YES and NO of a binary market (worth exactly 1 USDC, by
//! merge or split), YES of every market of a complete neg-risk event (pays 1) or NO of every
//! market of it (pays N − 1).
//!
//! # Size rule
//! The marginal value of the set at depth `x` (per set, after exact fees and the margin) is
//! piecewise constant between the level breakpoints of the legs and non-increasing in `x`: every
//! leg's price only gets worse with depth, and `p ± fee(p)` moves with `p` for any fee rate ≤ 1
//! (all the venue allows). Sizes are whole lots (`LOT`, 0.01 share), so the walk
//! accepts a lot when its exact value — the integral of the marginal value over the lot — is at
//! least zero, i.e. when the lot earns at least `margin_per_set × LOT` after exact fees. Lots'
//! values are non-increasing too, so the accepted lots form a prefix and the chosen size is both
//! the largest whose every lot meets the margin and the size that maximizes the exact total edge
//! after margin. The walk advances by the smallest remaining quantity among the legs' current
//! levels (one segment per breakpoint) and stops at the first segment whose marginal value is
//! negative, after deciding the lot it lies in. Each segment is one pass over the legs' cursors,
//! which live on the stack (one per leg, at most `MAX_LEGS`): no allocation, `O(legs × levels)`
//! in all, `O(levels)` for binaries. Fees enter the decision through the exact rational
//! of `FeeSchedule::fee_ratio`, never the venue's floored fee, so rounding cannot flatter it.
//!
//! # Figures
//! Each leg's notional is its exact `Σ price × size` over the levels it takes, rounded against
//! us: up for purchases, down for sales. Each level's fee is the venue's (`taker_fee`, floored to
//! 1e-5). `cost` and `payoff` are the sums of leg notionals (or the sets' fixed value) and
//! `edge = payoff − cost − fees`.
//!
//! # Skips
//! Structural reasons are checked in this order, each over every leg before the next; the first
//! that applies is returned: `not_event` (unknown market or event, an event with fewer than two
//! markets, a market that is not 2-outcome), `augmented`, `too_many_legs`, `closed`,
//! `not_accepting`, `resolved`, `stale_book` (includes never snapshotted), `crossed_book`,
//! `empty_book` (the side to be taken has no level). Then the walk: no profitable lot gives
//! `Ok(None)`; a profitable size below the largest minimum order size of the legs' markets gives
//! `below_min_size`; an edge below `min_edge` gives `Ok(None)`.

use crate::domain::book::Book;
use crate::domain::books::BookSet;
use crate::domain::fees::FeeSchedule;
use crate::domain::markets::{MarketInfo, Registry};
use crate::domain::num::{AssetIdx, EventIdx, MarketIdx, Notional, Px, Qty, Side, Usdc};

/// The size step: every size is a whole number of 0.01 shares (orders carry two size decimals).
pub const LOT: Qty = Qty(10_000);

/// The most legs one opportunity may have: a group's length travels as a `u8`
/// (`PlaceOrder::group_len`), and the walk keeps one cursor per leg on the stack.
pub const MAX_LEGS: usize = u8::MAX as usize;

/// Marginal values are integers in units of 1e-22 USDC per set: exact for prices (1e-4), money
/// (1e-6) and fees per share up to exponent 2 (1e-6 rate × (1e-8 spread)²).
const VALUE_PER_PX: i128 = 10i128.pow(18);
/// Value units per 1e-6 USDC.
const VALUE_PER_USDC_UNIT: i128 = 10i128.pow(16);
/// Margins are clamped to ±1e7 USDC per set before scaling: beyond any set's value (at most
/// `MAX_LEGS` legs of price 1 and fee rate 4295 per share), so the clamp changes no decision and
/// keeps every sum inside `i128`.
const MARGIN_CLAMP: i64 = 10i64.pow(13);

/// Which complete set is traded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Buy YES and NO of one binary market; a pair is worth 1.
    BinaryBuyBoth,
    /// Sell YES and NO of one binary market into the bids against a split of 1 per pair.
    BinarySellBoth,
    /// Buy YES of every market of a complete neg-risk event; a set pays 1.
    NegRiskYesSum,
    /// Buy NO of every market of a complete neg-risk event; a set pays N − 1.
    NegRiskNoSum,
}

impl Kind {
    /// The kind's name in logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::BinaryBuyBoth => "binary_buy_both",
            Kind::BinarySellBoth => "binary_sell_both",
            Kind::NegRiskYesSum => "negrisk_yes_sum",
            Kind::NegRiskNoSum => "negrisk_no_sum",
        }
    }

    /// Our order side on every leg.
    const fn order_side(self) -> Side {
        match self {
            Kind::BinarySellBoth => Side::Sell,
            _ => Side::Buy,
        }
    }

    /// The book side our orders take: asks when buying, bids when selling.
    const fn book_side(self) -> Side {
        match self {
            Kind::BinarySellBoth => Side::Buy,
            _ => Side::Sell,
        }
    }

    /// Whole USDC a set is worth at settlement (paid for buys, received for the sale's split).
    fn set_value(self, legs: usize) -> u64 {
        match self {
            Kind::NegRiskNoSum => legs.saturating_sub(1) as u64,
            _ => 1,
        }
    }
}

/// What the math needs from the strategy's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MathParams {
    /// Every lot must earn at least this much per set after fees.
    pub margin_per_set: Usdc,
    /// The largest size (sets) ever proposed.
    pub max_sets: Qty,
    /// The smallest total edge worth proposing.
    pub min_edge: Usdc,
}

/// One order of an opportunity: one outcome token traded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leg {
    /// The outcome token.
    pub asset: AssetIdx,
    /// Our order's side.
    pub side: Side,
    /// The worst level the leg takes: its order's limit price.
    pub limit_px: Px,
    /// The leg's exact `Σ price × size`, rounded up when buying and down when selling.
    pub notional: Usdc,
    /// The venue's taker fees on the leg, summed level by level.
    pub fee: Usdc,
}

/// A sized, priced opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opportunity {
    /// Which set is traded.
    pub kind: Kind,
    /// Sets traded (a multiple of `LOT`).
    pub size: Qty,
    /// Buys: Σ leg notionals. Sell-both: the split, `size × 1`.
    pub cost: Usdc,
    /// Σ leg fees.
    pub fees: Usdc,
    /// Buys: `size × set value`. Sell-both: Σ leg notionals (proceeds).
    pub payoff: Usdc,
    /// `payoff − cost − fees`.
    pub edge: Usdc,
}

/// Why a set was not evaluated, or was too small to trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// The event's outcome list may still grow: a sum over it is not a complete set.
    Augmented,
    /// A market is closed.
    Closed,
    /// A market does not accept orders.
    NotAccepting,
    /// A needed book is stale or was never snapshotted.
    StaleBook,
    /// A needed book is crossed.
    CrossedBook,
    /// A needed book has no level on the side to be taken.
    EmptyBook,
    /// A needed asset's market has resolved.
    Resolved,
    /// The profitable size is below a leg market's minimum order size.
    BelowMinSize,
    /// Not a 2-outcome market (binary kinds) or not a registered event of at least two 2-outcome
    /// markets (neg-risk kinds).
    NotEvent,
    /// The event has more than `MAX_LEGS` markets.
    TooManyLegs,
}

impl Skip {
    /// Every reason, in `index` order.
    pub const ALL: [Skip; 10] = [
        Skip::Augmented,
        Skip::Closed,
        Skip::NotAccepting,
        Skip::StaleBook,
        Skip::CrossedBook,
        Skip::EmptyBook,
        Skip::Resolved,
        Skip::BelowMinSize,
        Skip::NotEvent,
        Skip::TooManyLegs,
    ];

    /// The reason's name in logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Skip::Augmented => "augmented",
            Skip::Closed => "closed",
            Skip::NotAccepting => "not_accepting",
            Skip::StaleBook => "stale_book",
            Skip::CrossedBook => "crossed_book",
            Skip::EmptyBook => "empty_book",
            Skip::Resolved => "resolved",
            Skip::BelowMinSize => "below_min_size",
            Skip::NotEvent => "not_event",
            Skip::TooManyLegs => "too_many_legs",
        }
    }

    /// The reason's position in `ALL` (for counter arrays).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Buys YES and NO of a binary market from the asks.
pub fn binary_buy_both(
    reg: &Registry,
    books: &BookSet,
    market: MarketIdx,
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    legs.clear();
    two_outcome(reg, market)?;
    evaluate::<2>(
        Kind::BinaryBuyBoth,
        reg,
        books,
        std::slice::from_ref(&market),
        p,
        legs,
    )
}

/// Sells YES and NO of a binary market into the bids, against a split of 1 USDC per pair.
pub fn binary_sell_both(
    reg: &Registry,
    books: &BookSet,
    market: MarketIdx,
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    legs.clear();
    two_outcome(reg, market)?;
    evaluate::<2>(
        Kind::BinarySellBoth,
        reg,
        books,
        std::slice::from_ref(&market),
        p,
        legs,
    )
}

/// Buys YES of every market of a complete neg-risk event from the asks.
pub fn negrisk_yes_sum(
    reg: &Registry,
    books: &BookSet,
    event: EventIdx,
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    legs.clear();
    let markets = event_markets(reg, event)?;
    evaluate_sized(Kind::NegRiskYesSum, reg, books, markets, p, legs)
}

/// Buys NO of every market of a complete neg-risk event from the asks.
pub fn negrisk_no_sum(
    reg: &Registry,
    books: &BookSet,
    event: EventIdx,
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    legs.clear();
    let markets = event_markets(reg, event)?;
    evaluate_sized(Kind::NegRiskNoSum, reg, books, markets, p, legs)
}

/// The market, if it is registered with exactly two outcomes.
fn two_outcome(reg: &Registry, market: MarketIdx) -> Result<&MarketInfo, Skip> {
    reg.markets()
        .get(market.0 as usize)
        .filter(|m| m.assets.len() == 2)
        .ok_or(Skip::NotEvent)
}

/// The markets of a registered, complete event: at least two, each 2-outcome, not augmented.
fn event_markets(reg: &Registry, event: EventIdx) -> Result<&[MarketIdx], Skip> {
    let info = reg.events().get(event.0 as usize).ok_or(Skip::NotEvent)?;
    if info.markets.len() < 2 {
        return Err(Skip::NotEvent);
    }
    for &m in &info.markets {
        two_outcome(reg, m)?;
    }
    if info.augmented {
        return Err(Skip::Augmented);
    }
    Ok(&info.markets)
}

/// [`evaluate`] with the smallest walk that holds one leg per market: the walk's cursors live on
/// the stack, and a 255-slot array for a 10-market event would cost more than the walk itself.
fn evaluate_sized(
    kind: Kind,
    reg: &Registry,
    books: &BookSet,
    markets: &[MarketIdx],
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    match markets.len() {
        0..=16 => evaluate::<16>(kind, reg, books, markets, p, legs),
        17..=64 => evaluate::<64>(kind, reg, books, markets, p, legs),
        _ => evaluate::<MAX_LEGS>(kind, reg, books, markets, p, legs),
    }
}

/// Evaluates `kind` over `markets` (already checked to be registered and 2-outcome). `CAP` bounds
/// the number of legs the walk can hold; `legs` is empty unless an opportunity is returned.
fn evaluate<const CAP: usize>(
    kind: Kind,
    reg: &Registry,
    books: &BookSet,
    markets: &[MarketIdx],
    p: &MathParams,
    legs: &mut Vec<Leg>,
) -> Result<Option<Opportunity>, Skip> {
    let set = SetBooks {
        kind,
        reg,
        books,
        markets,
        outcomes: match kind {
            Kind::BinaryBuyBoth | Kind::BinarySellBoth => &[0, 1],
            Kind::NegRiskYesSum => &[0],
            Kind::NegRiskNoSum => &[1],
        },
    };
    if set.leg_count() > CAP {
        return Err(Skip::TooManyLegs);
    }
    set.check()?;
    let size = set.size::<CAP>(p);
    if size.is_zero() {
        return Ok(None);
    }
    if set.markets().any(|m| size < m.min_order_size) {
        return Err(Skip::BelowMinSize);
    }
    let opportunity = set.fill(size, legs);
    if opportunity.edge < p.min_edge {
        legs.clear();
        return Ok(None);
    }
    Ok(Some(opportunity))
}

/// The markets and outcomes of one set, with the books they trade on.
struct SetBooks<'a> {
    kind: Kind,
    reg: &'a Registry,
    books: &'a BookSet,
    markets: &'a [MarketIdx],
    /// The outcomes traded in every market.
    outcomes: &'static [usize],
}

impl<'a> SetBooks<'a> {
    fn leg_count(&self) -> usize {
        self.markets.len().saturating_mul(self.outcomes.len())
    }

    fn markets(&self) -> impl Iterator<Item = &'a MarketInfo> + '_ {
        self.markets.iter().map(|&m| self.reg.market(m))
    }

    /// The legs' assets, in market order then outcome order.
    fn assets(&self) -> impl Iterator<Item = AssetIdx> + '_ {
        self.markets().flat_map(|m| {
            self.outcomes
                .iter()
                .filter_map(move |&o| m.assets.get(o).copied())
        })
    }

    /// The market and book skips, in the documented order.
    fn check(&self) -> Result<(), Skip> {
        let books = self.books;
        let within = |a: AssetIdx| (a.0 as usize) < books.len();
        let side = self.kind.book_side();
        if self.markets().any(|m| m.closed) {
            Err(Skip::Closed)
        } else if self.markets().any(|m| !m.accepting_orders) {
            Err(Skip::NotAccepting)
        } else if self.assets().any(|a| within(a) && books.is_resolved(a)) {
            Err(Skip::Resolved)
        } else if self
            .assets()
            .any(|a| !within(a) || books.book(a).is_stale())
        {
            Err(Skip::StaleBook)
        } else if self.assets().any(|a| books.book(a).is_crossed()) {
            Err(Skip::CrossedBook)
        } else if self
            .assets()
            .any(|a| books.book(a).levels(side).next().is_none())
        {
            Err(Skip::EmptyBook)
        } else {
            Ok(())
        }
    }

    /// The size rule over the legs' books (checked: every book exists, is fresh and non-empty).
    fn size<const CAP: usize>(&self, p: &MathParams) -> Qty {
        let buys = self.kind.order_side() == Side::Buy;
        let margin =
            i128::from(p.margin_per_set.0.clamp(-MARGIN_CLAMP, MARGIN_CLAMP)) * VALUE_PER_USDC_UNIT;
        let one_set = i128::from(self.kind.set_value(self.leg_count()))
            * i128::from(Usdc::ONE)
            * VALUE_PER_USDC_UNIT;
        let base = if buys { one_set } else { -one_set } - margin;
        let mut cursors: [Option<Cursor<_>>; CAP] = std::array::from_fn(|_| None);
        for (slot, asset) in cursors.iter_mut().zip(self.assets()) {
            let levels = self.books.book(asset).levels(self.kind.book_side());
            *slot = Cursor::start(levels, self.reg.market_of(asset).fees, buys);
        }
        Qty(largest_size(
            &mut cursors[..self.leg_count()],
            base,
            p.max_sets.0,
        ))
    }

    /// Fills `legs` for `size` and sums the figures.
    fn fill(&self, size: Qty, legs: &mut Vec<Leg>) -> Opportunity {
        let (mut notionals, mut fees) = (Usdc::ZERO, Usdc::ZERO);
        for asset in self.assets() {
            let leg = take(
                self.books.book(asset),
                self.kind,
                &self.reg.market_of(asset).fees,
                asset,
                size,
            );
            notionals = add(notionals, leg.notional);
            fees = add(fees, leg.fee);
            legs.push(leg);
        }
        let set_value = self.kind.set_value(self.leg_count());
        let sets = u128::from(size.0) * u128::from(set_value);
        let sets = Usdc(i64::try_from(sets).unwrap_or(i64::MAX));
        let (cost, payoff) = match self.kind.order_side() {
            Side::Buy => (notionals, sets),
            Side::Sell => (sets, notionals),
        };
        Opportunity {
            kind: self.kind,
            size,
            cost,
            fees,
            payoff,
            edge: Usdc(payoff.0.saturating_sub(cost.0).saturating_sub(fees.0)),
        }
    }
}

/// One leg's position in its book during the walk.
struct Cursor<I> {
    levels: I,
    fees: FeeSchedule,
    buys: bool,
    /// Cumulative depth at the end of the current level.
    end: u64,
    /// The leg's term in the marginal set value at the current level.
    value: i128,
}

impl<I: Iterator<Item = (Px, Qty)>> Cursor<I> {
    /// A cursor on the first level, or `None` when the side is empty.
    fn start(mut levels: I, fees: FeeSchedule, buys: bool) -> Option<Cursor<I>> {
        let (px, qty) = levels.next()?;
        let value = level_value(&fees, buys, px);
        Some(Cursor {
            levels,
            fees,
            buys,
            end: qty.0,
            value,
        })
    }

    /// Moves to the next level; `false` when the depth has run out.
    fn advance(&mut self) -> bool {
        match self.levels.next() {
            Some((px, qty)) => {
                self.end = self.end.saturating_add(qty.0);
                self.value = level_value(&self.fees, self.buys, px);
                true
            }
            None => false,
        }
    }
}

/// A leg's term in the marginal set value at `px`: `−(price + exact fee)` when buying,
/// `price − exact fee` when selling, per share, in value units.
fn level_value(fees: &FeeSchedule, buys: bool, px: Px) -> i128 {
    let price = i128::from(px.0) * VALUE_PER_PX;
    let fee = exact_fee_per_share(fees, px);
    if buys { -price - fee } else { price - fee }
}

/// The exact taker fee on one share at `px`, in value units (1e-22 USDC):
/// `rate × (p(1−p))^e` with the rate in 1e-6 and `p(1−p)` in 1e-8 is an integer number of
/// 1e-(6+8e) USDC, so the value is a product, never a division. Exponents above 2 are refused by
/// the registry; one here would price the leg out (never undercharge).
fn exact_fee_per_share(fees: &FeeSchedule, px: Px) -> i128 {
    if fees.is_free() {
        return 0;
    }
    let p = i128::from(px.0.min(Px::ONE.0));
    let spread = p * (i128::from(Px::ONE.0) - p);
    let rate = i128::from(fees.rate_ppm);
    match fees.exponent {
        0 => rate * 10i128.pow(16),
        1 => rate * spread * 10i128.pow(8),
        2 => rate * spread * spread,
        _ => i128::MAX / 2,
    }
}

/// The size rule (see the module docs): the largest multiple of `LOT`, at most `cap` and the
/// shallowest leg's depth, such that every lot up to it has a non-negative exact value.
fn largest_size<I: Iterator<Item = (Px, Qty)>>(
    cursors: &mut [Option<Cursor<I>>],
    base: i128,
    cap: u64,
) -> u64 {
    let lot = LOT.0;
    let mut value = cursors
        .iter()
        .flatten()
        .fold(base, |v, c| v.saturating_add(c.value));
    // The walk is at depth `x`; lots below `accepted` are taken; `acc` is the exact value of the
    // part `accepted..x` of the current lot (so `x − accepted < LOT`).
    let (mut x, mut accepted, mut acc) = (0u64, 0u64, 0i128);
    loop {
        let seg_end = cursors
            .iter()
            .flatten()
            .map(|c| c.end)
            .min()
            .unwrap_or(0)
            .min(cap);
        if value >= 0 {
            // Every earlier segment was worth at least as much, so every lot ending here is kept.
            let floor = seg_end / lot * lot;
            if floor > accepted {
                accepted = floor;
                acc = value.saturating_mul(i128::from(seg_end - floor));
            } else {
                acc = acc.saturating_add(value.saturating_mul(i128::from(seg_end - x)));
            }
        } else {
            // Finish the lot this segment falls in; the lots after it are worth less than zero.
            let lot_end = accepted.saturating_add(lot);
            let upto = seg_end.min(lot_end);
            acc = acc.saturating_add(value.saturating_mul(i128::from(upto - x)));
            if upto == lot_end {
                return if acc >= 0 { lot_end } else { accepted };
            }
        }
        x = seg_end;
        if x >= cap {
            return accepted;
        }
        for c in cursors.iter_mut().flatten().filter(|c| c.end == x) {
            let old = c.value;
            if !c.advance() {
                return accepted;
            }
            value = value.saturating_sub(old).saturating_add(c.value);
        }
    }
}

/// Fills `size` from `book` best first on the side `kind` takes: the leg's notional (rounded
/// against us), venue fees level by level, and the worst level touched.
fn take(book: &Book, kind: Kind, fees: &FeeSchedule, asset: AssetIdx, size: Qty) -> Leg {
    let mut left = size.0;
    let mut notional = Notional(0);
    let mut fee = Usdc::ZERO;
    let mut limit_px = Px::ZERO;
    for (px, qty) in book.levels(kind.book_side()) {
        if left == 0 {
            break;
        }
        let part = Qty(left.min(qty.0));
        notional = Notional(notional.0.saturating_add(px.notional(part).0));
        fee = add(fee, fees.taker_fee(px, part));
        limit_px = px;
        left -= part.0;
    }
    let side = kind.order_side();
    let rounded = match side {
        Side::Buy => notional.to_usdc_ceil(),
        Side::Sell => notional.to_usdc_floor(),
    };
    Leg {
        asset,
        side,
        limit_px,
        notional: rounded.unwrap_or(Usdc(i64::MAX)),
        fee,
    }
}

/// Saturating sum of two amounts.
fn add(a: Usdc, b: Usdc) -> Usdc {
    Usdc(a.0.saturating_add(b.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Event, EventBody};
    use crate::domain::markets::{EventSpec, MarketSpec};

    fn px(s: &str) -> Px {
        Px::parse(s.as_bytes()).unwrap()
    }

    fn qty(s: &str) -> Qty {
        Qty::parse(s.as_bytes()).unwrap()
    }

    fn usdc(s: &str) -> Usdc {
        Usdc::parse(s.as_bytes()).unwrap()
    }

    fn esports() -> FeeSchedule {
        FeeSchedule::parse("0.03", "1", true).unwrap()
    }

    /// A registry and its books, fed through the same events the core applies.
    struct World {
        reg: Registry,
        books: Option<BookSet>,
        ts: u64,
    }

    impl World {
        fn new() -> World {
            World {
                reg: Registry::default(),
                books: None,
                ts: 0,
            }
        }

        fn market(
            &mut self,
            outcomes: usize,
            tick: &str,
            min: &str,
            fees: FeeSchedule,
        ) -> MarketIdx {
            let n = self.reg.markets().len();
            self.reg
                .add_market(MarketSpec {
                    condition_id: format!("0x{n:x}"),
                    token_ids: (0..outcomes)
                        .map(|o| format!("{}", n * 10 + o + 1))
                        .collect(),
                    tick: px(tick),
                    min_order_size: qty(min),
                    neg_risk: true,
                    fees,
                    ..MarketSpec::default()
                })
                .unwrap()
        }

        fn event(&mut self, markets: &[MarketIdx], augmented: bool) -> EventIdx {
            let n = self.reg.events().len();
            self.reg
                .add_event(EventSpec {
                    id: format!("e{n}"),
                    neg_risk_market_id: format!("0xe{n}"),
                    augmented,
                    markets: markets.to_vec(),
                })
                .unwrap()
        }

        fn asset(&self, market: MarketIdx, outcome: usize) -> AssetIdx {
            self.reg.market(market).assets[outcome]
        }

        fn books(&mut self) -> &mut BookSet {
            self.books.get_or_insert_with(|| BookSet::new(&self.reg))
        }

        /// Applies one venue message; `end` closes it (the core evaluates only after that).
        fn message(&mut self, bodies: &[EventBody], end: bool) {
            self.ts += 1;
            let ts = self.ts;
            let (mut resync, mut touched) = (Vec::new(), Vec::new());
            let books = self.books();
            for &body in bodies {
                if let Some(a) = books.apply(&Event::new(ts, body), &mut resync) {
                    touched.push(a);
                }
            }
            if end {
                books.end_message(&touched, &mut resync);
            }
        }

        /// A complete snapshot of `asset`'s book: it is fresh afterwards.
        fn snapshot(&mut self, asset: AssetIdx, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
            let level = |side, (p, q): &(&str, &str)| EventBody::Level {
                asset,
                side,
                px: px(p),
                qty: qty(q),
            };
            let mut bodies = vec![EventBody::BookSnapshot { asset }];
            bodies.extend(bids.iter().map(|l| level(Side::Buy, l)));
            bodies.extend(asks.iter().map(|l| level(Side::Sell, l)));
            self.message(&bodies, true);
        }

        fn binary(
            &mut self,
            f: BinaryFn,
            market: MarketIdx,
            p: &MathParams,
        ) -> (Result<Option<Opportunity>, Skip>, Vec<Leg>) {
            let mut legs = Vec::with_capacity(2);
            self.books();
            let r = f(
                &self.reg,
                self.books.as_ref().unwrap(),
                market,
                p,
                &mut legs,
            );
            (r, legs)
        }

        fn sum(
            &mut self,
            f: SumFn,
            event: EventIdx,
            p: &MathParams,
        ) -> (Result<Option<Opportunity>, Skip>, Vec<Leg>) {
            let mut legs = Vec::with_capacity(MAX_LEGS);
            self.books();
            let r = f(&self.reg, self.books.as_ref().unwrap(), event, p, &mut legs);
            (r, legs)
        }
    }

    type BinaryFn = fn(
        &Registry,
        &BookSet,
        MarketIdx,
        &MathParams,
        &mut Vec<Leg>,
    ) -> Result<Option<Opportunity>, Skip>;
    type SumFn = fn(
        &Registry,
        &BookSet,
        EventIdx,
        &MathParams,
        &mut Vec<Leg>,
    ) -> Result<Option<Opportunity>, Skip>;

    fn params(margin: &str, max_sets: &str, min_edge: &str) -> MathParams {
        MathParams {
            margin_per_set: usdc(margin),
            max_sets: qty(max_sets),
            min_edge: usdc(min_edge),
        }
    }

    fn leg(asset: AssetIdx, side: Side, limit: &str, notional: &str, fee: &str) -> Leg {
        Leg {
            asset,
            side,
            limit_px: px(limit),
            notional: usdc(notional),
            fee: usdc(fee),
        }
    }

    fn opportunity(
        kind: Kind,
        size: &str,
        cost: &str,
        fees: &str,
        payoff: &str,
        edge: &str,
    ) -> Opportunity {
        Opportunity {
            kind,
            size: qty(size),
            cost: usdc(cost),
            fees: usdc(fees),
            payoff: usdc(payoff),
            edge: usdc(edge),
        }
    }

    /// The esports-fee binary market of the worked example: YES asks 10@0.40, 20@0.45; NO asks
    /// 15@0.50, 30@0.58.
    fn fee_binary(yes_first_ask: &str) -> (World, MarketIdx) {
        let mut w = World::new();
        let m = w.market(2, "0.01", "5", esports());
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        w.snapshot(
            yes,
            &[("0.38", "7")],
            &[("0.40", yes_first_ask), ("0.45", "20")],
        );
        w.snapshot(no, &[], &[("0.50", "15"), ("0.58", "30")]);
        (w, m)
    }

    #[test]
    fn buy_both_on_a_fee_market_stops_where_the_exact_marginal_pair_breaks_the_margin() {
        // Marginal pair per share after exact fees (0.03 × p(1−p)):
        //   0..10:  0.40 + 0.0072   + 0.50 + 0.0075 = 0.9147    → earns 0.0853   ≥ 0.01
        //   10..15: 0.45 + 0.007425 + 0.50 + 0.0075 = 0.964925  → earns 0.035075 ≥ 0.01
        //   15..30: 0.45 + 0.007425 + 0.58 + 0.007308 = 1.044733 → loses: stop at 15.
        let (mut w, m) = fee_binary("10");
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        let (r, legs) = w.binary(binary_buy_both, m, &params("0.01", "100", "0"));
        // YES: 10 × 0.40 + 5 × 0.45 = 6.25; fees 0.072 + floor5(0.037125) = 0.10912.
        // NO: 15 × 0.50 = 7.50; fee 0.1125. Edge 15 − 13.75 − 0.22162.
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::BinaryBuyBoth,
                "15",
                "13.75",
                "0.22162",
                "15",
                "1.02838"
            )))
        );
        assert_eq!(
            legs,
            [
                leg(yes, Side::Buy, "0.45", "6.25", "0.10912"),
                leg(no, Side::Buy, "0.50", "7.5", "0.1125"),
            ]
        );
    }

    #[test]
    fn a_profitable_size_below_the_minimum_order_is_skipped() {
        let (mut w, m) = fee_binary("3");
        // Only 3 shares at 0.40 (earning 0.0853 a pair); beyond, pairs earn 0.035075: a 0.04
        // margin stops the walk at 3 shares, under the market's minimum of 5; 0.03 goes on to 15.
        let (r, legs) = w.binary(binary_buy_both, m, &params("0.04", "100", "0"));
        assert_eq!(r, Err(Skip::BelowMinSize));
        assert!(legs.is_empty());
        let (r, _) = w.binary(binary_buy_both, m, &params("0.03", "100", "0"));
        assert_eq!(r.map(|o| o.map(|o| o.size)), Ok(Some(qty("15"))));
    }

    /// A fee-free market: YES bids `yes_first`@0.55 then 10@0.45; NO bids 6@0.50, 50@0.47.
    fn free_binary(yes_first: &str) -> (World, MarketIdx) {
        let mut w = World::new();
        let m = w.market(2, "0.01", "1", FeeSchedule::FREE);
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        w.snapshot(
            yes,
            &[("0.55", yes_first), ("0.45", "10")],
            &[("0.60", "1")],
        );
        w.snapshot(no, &[("0.50", "6"), ("0.47", "50")], &[]);
        (w, m)
    }

    #[test]
    fn sell_both_floors_to_a_lot_when_the_straddling_lot_loses() {
        // Bid pairs: 1.05 over 0..6, 1.02 over 6..8.004, 0.92 after. The lot 8.00..8.01 earns
        // 0.004 × 0.02 − 0.006 × 0.08 < 0, so the size is 8.00.
        let (mut w, m) = free_binary("8.004");
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        let (r, legs) = w.binary(binary_sell_both, m, &params("0", "100", "0"));
        // YES 8 × 0.55 = 4.40; NO 6 × 0.50 + 2 × 0.47 = 3.94 (a partial last level).
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::BinarySellBoth,
                "8",
                "8",
                "0",
                "8.34",
                "0.34"
            )))
        );
        assert_eq!(
            legs,
            [
                leg(yes, Side::Sell, "0.55", "4.4", "0"),
                leg(no, Side::Sell, "0.47", "3.94", "0"),
            ]
        );
    }

    #[test]
    fn sell_both_keeps_a_straddling_lot_whose_exact_value_is_positive() {
        // The lot 8.00..8.01 earns 0.009 × 0.02 − 0.001 × 0.08 = 0.0001 ≥ 0: size 8.01, and YES
        // touches 0.45 for its last 0.001.
        let (mut w, m) = free_binary("8.009");
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        let (r, legs) = w.binary(binary_sell_both, m, &params("0", "100", "0"));
        // YES 8.009 × 0.55 + 0.001 × 0.45 = 4.4054; NO 3 + 2.01 × 0.47 = 3.9447.
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::BinarySellBoth,
                "8.01",
                "8.01",
                "0",
                "8.3501",
                "0.3401"
            )))
        );
        assert_eq!(
            legs,
            [
                leg(yes, Side::Sell, "0.45", "4.4054", "0"),
                leg(no, Side::Sell, "0.47", "3.9447", "0"),
            ]
        );
    }

    #[test]
    fn the_decision_uses_the_exact_fee_never_the_floored_one() {
        // YES 0.333 + fee 0.03 × 0.333 × 0.667 = 0.00666333; NO 0.600 + 0.0072. One set earns
        // exactly 0.05313667. Floored fees (0.00666 + 0.0072) would show 0.05314 and pass 0.053137.
        let mut w = World::new();
        let m = w.market(2, "0.001", "0", esports());
        w.snapshot(w.asset(m, 0), &[], &[("0.333", "1")]);
        w.snapshot(w.asset(m, 1), &[], &[("0.6", "1")]);
        let (r, _) = w.binary(binary_buy_both, m, &params("0.053136", "100", "0"));
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::BinaryBuyBoth,
                "1",
                "0.933",
                "0.01386",
                "1",
                "0.05314"
            )))
        );
        let (r, legs) = w.binary(binary_buy_both, m, &params("0.053137", "100", "0"));
        assert_eq!(r, Ok(None));
        assert!(legs.is_empty());
    }

    /// Three fee-free neg-risk markets; YES asks A 10@0.30, B 10@0.30, C 4@0.35 then 10@0.38.
    fn yes_event() -> (World, EventIdx, [AssetIdx; 3]) {
        let mut w = World::new();
        let ms = [0, 1, 2].map(|_| w.market(2, "0.01", "5", FeeSchedule::FREE));
        let e = w.event(&ms, false);
        let yes = ms.map(|m| w.asset(m, 0));
        w.snapshot(yes[0], &[], &[("0.30", "10")]);
        w.snapshot(yes[1], &[], &[("0.30", "10")]);
        w.snapshot(yes[2], &[], &[("0.35", "4"), ("0.38", "10")]);
        (w, e, yes)
    }

    #[test]
    fn yes_sum_is_capped_by_the_shallowest_leg_and_by_max_sets() {
        let (mut w, e, yes) = yes_event();
        // Sets cost 0.95 up to 4 and 0.98 up to 10, where A and B run out.
        let (r, legs) = w.sum(negrisk_yes_sum, e, &params("0", "100", "0"));
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::NegRiskYesSum,
                "10",
                "9.68",
                "0",
                "10",
                "0.32"
            )))
        );
        assert_eq!(
            legs,
            [
                leg(yes[0], Side::Buy, "0.30", "3", "0"),
                leg(yes[1], Side::Buy, "0.30", "3", "0"),
                leg(yes[2], Side::Buy, "0.38", "3.68", "0"),
            ]
        );
        // A cap that is not a whole lot is floored to one: 7.50 sets, C takes 3.5 at 0.38.
        let (r, legs) = w.sum(negrisk_yes_sum, e, &params("0", "7.505", "0"));
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::NegRiskYesSum,
                "7.5",
                "7.23",
                "0",
                "7.5",
                "0.27"
            )))
        );
        assert_eq!(legs[2], leg(yes[2], Side::Buy, "0.38", "2.73", "0"));
    }

    /// Three esports-fee neg-risk markets; NO asks 10@0.70, 10@0.65, 10@0.60.
    fn no_event() -> (World, EventIdx, [AssetIdx; 3]) {
        let mut w = World::new();
        let ms = [0, 1, 2].map(|_| w.market(2, "0.01", "5", esports()));
        let e = w.event(&ms, false);
        let no = ms.map(|m| w.asset(m, 1));
        for (asset, ask) in no.iter().zip(["0.70", "0.65", "0.60"]) {
            w.snapshot(*asset, &[], &[(ask, "10")]);
        }
        (w, e, no)
    }

    #[test]
    fn no_sum_pays_n_minus_one_per_set_after_fees() {
        // A set costs 1.95 + 0.03 × (0.21 + 0.2275 + 0.24) = 1.970325 and pays 2.
        let (mut w, e, no) = no_event();
        let (r, legs) = w.sum(negrisk_no_sum, e, &params("0.01", "100", "0"));
        assert_eq!(
            r,
            Ok(Some(opportunity(
                Kind::NegRiskNoSum,
                "10",
                "19.5",
                "0.20325",
                "20",
                "0.29675"
            )))
        );
        assert_eq!(
            legs,
            [
                leg(no[0], Side::Buy, "0.70", "7", "0.063"),
                leg(no[1], Side::Buy, "0.65", "6.5", "0.06825"),
                leg(no[2], Side::Buy, "0.60", "6", "0.072"),
            ]
        );
        // Exactly the margin still qualifies; one millionth more does not.
        let (r, _) = w.sum(negrisk_no_sum, e, &params("0.029675", "100", "0"));
        assert_eq!(r.map(|o| o.map(|o| o.size)), Ok(Some(qty("10"))));
        assert_eq!(
            w.sum(negrisk_no_sum, e, &params("0.029676", "100", "0")).0,
            Ok(None)
        );
        // An edge below min_edge is no opportunity, and leaves no legs behind.
        let (r, legs) = w.sum(negrisk_no_sum, e, &params("0.01", "100", "0.29676"));
        assert_eq!((r, legs.len()), (Ok(None), 0));
    }

    #[test]
    fn legs_are_filled_without_reallocating() {
        let (w, e, _) = no_event();
        let mut legs = Vec::with_capacity(3);
        let before = (legs.as_ptr(), legs.capacity());
        let r = negrisk_no_sum(
            &w.reg,
            w.books.as_ref().unwrap(),
            e,
            &params("0", "100", "0"),
            &mut legs,
        );
        assert!(matches!(r, Ok(Some(_))));
        assert_eq!(
            (legs.as_ptr(), legs.capacity(), legs.len()),
            (before.0, before.1, 3)
        );
    }

    #[test]
    fn shape_skips_unknown_or_non_binary_markets_and_events() {
        let mut w = World::new();
        let three = w.market(3, "0.01", "1", FeeSchedule::FREE);
        w.books();
        let p = params("0", "100", "0");
        assert_eq!(w.binary(binary_buy_both, three, &p).0, Err(Skip::NotEvent));
        assert_eq!(
            w.binary(binary_sell_both, MarketIdx(9), &p).0,
            Err(Skip::NotEvent)
        );
        assert_eq!(
            w.sum(negrisk_yes_sum, EventIdx(0), &p).0,
            Err(Skip::NotEvent)
        );
    }

    #[test]
    fn market_status_skips_come_in_order_before_books() {
        let p = params("0", "100", "0");
        let mut w = World::new();
        let ms = [0, 1].map(|_| w.market(2, "0.01", "1", FeeSchedule::FREE));
        let augmented = w.event(&ms, true);
        // Books never snapshotted: the status reasons still come first.
        assert_eq!(
            w.sum(negrisk_yes_sum, augmented, &p).0,
            Err(Skip::Augmented)
        );

        let mut w = World::new();
        let closed = w.reg.add_market(MarketSpec {
            condition_id: "0xc".into(),
            token_ids: vec!["1".into(), "2".into()],
            closed: true,
            accepting_orders: false,
            ..MarketSpec::default()
        });
        let shut = w.reg.add_market(MarketSpec {
            condition_id: "0xd".into(),
            token_ids: vec!["3".into(), "4".into()],
            accepting_orders: false,
            ..MarketSpec::default()
        });
        w.books();
        assert_eq!(
            w.binary(binary_buy_both, closed.unwrap(), &p).0,
            Err(Skip::Closed)
        );
        assert_eq!(
            w.binary(binary_sell_both, shut.unwrap(), &p).0,
            Err(Skip::NotAccepting)
        );
    }

    #[test]
    fn book_skips_resolved_stale_crossed_and_empty() {
        let p = params("0", "100", "0");
        let (mut w, m) = fee_binary("10");
        let (yes, no) = (w.asset(m, 0), w.asset(m, 1));
        assert!(w.binary(binary_buy_both, m, &p).0.is_ok());
        // NO has no bids: selling both finds an empty side.
        assert_eq!(w.binary(binary_sell_both, m, &p).0, Err(Skip::EmptyBook));
        // A crossing delta, seen before its message ends (the core never evaluates there).
        w.message(
            &[EventBody::Level {
                asset: yes,
                side: Side::Buy,
                px: px("0.41"),
                qty: qty("1"),
            }],
            false,
        );
        assert_eq!(w.binary(binary_buy_both, m, &p).0, Err(Skip::CrossedBook));
        // The message's end distrusts the crossed book.
        w.books().end_message(&[yes], &mut Vec::new());
        assert_eq!(w.binary(binary_buy_both, m, &p).0, Err(Skip::StaleBook));
        w.snapshot(yes, &[], &[("0.40", "10")]);
        assert!(w.binary(binary_buy_both, m, &p).0.is_ok());
        w.message(
            &[EventBody::Resolved {
                asset: no,
                won: true,
            }],
            true,
        );
        assert_eq!(w.binary(binary_buy_both, m, &p).0, Err(Skip::Resolved));
    }

    #[test]
    fn an_event_too_large_for_one_group_is_skipped() {
        let mut w = World::new();
        let ms: Vec<_> = (0..=MAX_LEGS)
            .map(|_| w.market(2, "0.1", "1", FeeSchedule::FREE))
            .collect();
        let e = w.event(&ms, false);
        let p = params("0", "100", "0");
        assert_eq!(w.sum(negrisk_no_sum, e, &p).0, Err(Skip::TooManyLegs));
    }

    #[test]
    fn names_and_indices_are_stable() {
        for (i, skip) in Skip::ALL.iter().enumerate() {
            assert_eq!(skip.index(), i);
            assert!(Skip::ALL[..i].iter().all(|s| s.as_str() != skip.as_str()));
        }
        assert_eq!(Skip::StaleBook.as_str(), "stale_book");
        assert_eq!(Kind::NegRiskNoSum.as_str(), "negrisk_no_sum");
        assert_eq!(Kind::BinarySellBoth.as_str(), "binary_sell_both");
    }
}
