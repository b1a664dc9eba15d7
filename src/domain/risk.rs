//! Pre-trade checks and halts: fail-closed limits on every group of orders the strategies propose,
//! and the conditions that stop trading until an operator clears them.
//!
//! Pure: time is the `now_ms` of the context (or the `ts_ms` of a report), never a clock.
//! [`Risk::check_group`] allocates nothing. A halt pushes exactly one [`Intent::Halt`]; while
//! halted every group is refused, and no further halt intent is pushed until
//! [`Risk::clear_halt`].
//!
//! Exposure, for the notional caps, is collateral committed to a market: the cost basis of the
//! shares held in it ([`Positions::cost_basis`]) plus the notional of its open orders' unfilled
//! remainders at their limit prices plus the notional of the proposed legs in it (each `px × size`
//! rounded up, for buys and sells alike: a sell is counted as if it could commit as much). An
//! event's exposure is the sum over its markets.

use crate::domain::books::BookSet;
use crate::domain::intents::{ExecKind, ExecReport, HaltReason, Intent, PlaceOrder};
use crate::domain::markets::Registry;
use crate::domain::num::{MarketIdx, Px, Qty, Side, Usdc};
use crate::domain::orders::{Orders, notional_ceil};
use crate::domain::positions::Positions;

/// Milliseconds in a UTC day: the daily loss limit's period.
const DAY_MS: u64 = 86_400_000;

/// The limits, each applied as documented; a limit of 0 is applied literally (it permits nothing
/// above 0), never read as "off".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskLimits {
    /// A group is refused if it would take a market's exposure (see the module doc) above this.
    pub max_notional_per_market: Usdc,
    /// A group is refused if it would take a neg-risk event's exposure (the sum over its markets)
    /// above this. Markets outside an event are bounded by the per-market cap only.
    pub max_notional_per_event: Usdc,
    /// A group is refused if the open orders plus its legs would exceed this count.
    pub max_open_orders: u32,
    /// A single-leg group (a maker quote) is refused if, filled together with the open orders on
    /// the same asset and side, it would leave its binary market's `|yes − no|` above this and
    /// larger than now. Trading halts when a market's `|yes − no|` is above this.
    pub max_unhedged_shares: Qty,
    /// Trading halts when a market has been unhedged (shares no complete pair or neg-risk set
    /// covers, at least its minimum order size: smaller dust cannot be traded away) for longer
    /// than this, since the fill that made it so.
    pub max_unhedged_age_ms: u64,
    /// Groups are refused, and trading halts, when the PnL since the start of the UTC day (the
    /// start of the run on its first day) is at or below minus this.
    pub daily_loss_limit: Usdc,
    /// A group is refused if a leg's book last changed more than this long before `now_ms`; 0
    /// turns the check off. Quiet books are normal on Polymarket (nothing is sent while a book
    /// does not change), so feed liveness is the feed's stall timeout, not this.
    pub max_book_age_ms: u64,
    /// The order rate budget: a token bucket holding at most this many orders, refilled at this
    /// many per `window_ms`; a group needs one token per leg. 0 refuses every group.
    pub orders_per_window: u32,
    /// The bucket's refill window in milliseconds (0 is read as 1).
    pub window_ms: u64,
    /// Trading halts after this many venue rejects in a row (any accept or fill ends the run of
    /// rejects); 0 halts on the first reject.
    pub max_consecutive_rejects: u32,
}

/// Why a group was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Trading is halted.
    Halted,
    /// A market's exposure would exceed its cap.
    MarketNotional,
    /// An event's exposure would exceed its cap.
    EventNotional,
    /// Too many open orders, or the order table has no free slot for a leg's id.
    OpenOrders,
    /// A single leg would leave its market too unhedged.
    UnhedgedExposure,
    /// The day's loss reached the limit.
    DailyLoss,
    /// A leg's book is stale.
    StaleBook,
    /// A leg's book is crossed.
    CrossedBook,
    /// A leg's book is too old.
    BookAge,
    /// The order rate budget is spent.
    RateBudget,
    /// A leg's market is closed, not accepting orders or resolved, or the asset is unknown.
    NotTradable,
    /// A limit price of 0 or at or above 1.
    PriceBand,
}

impl RejectReason {
    /// Every reason, in `index()` order.
    pub const ALL: [RejectReason; 12] = [
        RejectReason::Halted,
        RejectReason::MarketNotional,
        RejectReason::EventNotional,
        RejectReason::OpenOrders,
        RejectReason::UnhedgedExposure,
        RejectReason::DailyLoss,
        RejectReason::StaleBook,
        RejectReason::CrossedBook,
        RejectReason::BookAge,
        RejectReason::RateBudget,
        RejectReason::NotTradable,
        RejectReason::PriceBand,
    ];

    /// A stable snake_case name for reports and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::Halted => "halted",
            RejectReason::MarketNotional => "market_notional",
            RejectReason::EventNotional => "event_notional",
            RejectReason::OpenOrders => "open_orders",
            RejectReason::UnhedgedExposure => "unhedged_exposure",
            RejectReason::DailyLoss => "daily_loss",
            RejectReason::StaleBook => "stale_book",
            RejectReason::CrossedBook => "crossed_book",
            RejectReason::BookAge => "book_age",
            RejectReason::RateBudget => "rate_budget",
            RejectReason::NotTradable => "not_tradable",
            RejectReason::PriceBand => "price_band",
        }
    }

    /// Its position in [`RejectReason::ALL`] and in [`Risk::rejections_by_reason`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The core state risk reads.
pub struct RiskContext<'a> {
    /// Markets and events.
    pub registry: &'a Registry,
    /// Books.
    pub books: &'a BookSet,
    /// Orders sent.
    pub orders: &'a Orders,
    /// Holdings and cash, including every fill reported so far.
    pub positions: &'a Positions,
    /// The core's time, Unix milliseconds.
    pub now_ms: u64,
}

/// Risk state: limits, halt, rate bucket, reject streak, unhedged ages, counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    limits: RiskLimits,
    halted: Option<HaltReason>,
    halts: u64,
    rejections: [u64; RejectReason::ALL.len()],
    /// Rate budget in token-milliseconds: one order costs `window_ms` of them.
    bucket: u128,
    /// When the bucket was last refilled; `None` before the first check (the bucket starts full).
    bucket_ms: Option<u64>,
    consecutive_rejects: u32,
    /// Per market, when its current unhedged spell began (from fill reports).
    unhedged_since: Vec<Option<u64>>,
    /// The UTC day of the last daily-loss check, and the PnL at its start.
    day: Option<u64>,
    day_start_pnl: Usdc,
}

impl Risk {
    /// Risk with these limits, not halted, a full rate bucket and a zero day baseline.
    pub fn new(limits: RiskLimits) -> Risk {
        Risk::with_markets(limits, 0)
    }

    /// [`Risk::new`] with its per-market table sized for `markets` up front, so no fill ever
    /// allocates (the core passes the registry's market count).
    pub fn with_markets(limits: RiskLimits, markets: usize) -> Risk {
        Risk {
            limits,
            halted: None,
            halts: 0,
            rejections: [0; RejectReason::ALL.len()],
            bucket: bucket_capacity(&limits),
            bucket_ms: None,
            consecutive_rejects: 0,
            unhedged_since: vec![None; markets],
            day: None,
            day_start_pnl: Usdc::ZERO,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Checks one opportunity's legs, all or nothing: `Ok` spends one rate token per leg and the
    /// caller must then send every leg; `Err` (counted by reason) sends none. Reasons are tried
    /// in this order: halted, per leg (not tradable, stale, crossed, book age, price band), open
    /// orders, market then event notional, unhedged exposure (single-leg groups), daily loss,
    /// rate budget. An empty group passes without spending anything.
    pub fn check_group(
        &mut self,
        legs: &[PlaceOrder],
        ctx: &RiskContext,
    ) -> Result<(), RejectReason> {
        let verdict = self.verdict(legs, ctx);
        match verdict {
            Ok(()) => self.bucket -= self.tokens(legs.len()),
            Err(reason) => self.rejections[reason.index()] += 1,
        }
        verdict
    }

    /// Follows execution's reports: a run of `max_consecutive_rejects` venue rejects halts with
    /// `RejectStorm`; an order unresolved past its deadline halts with `UnresolvedOrder`; a fill
    /// or a reversed fill starts (or ends) its market's unhedged spell at the report's time.
    /// Call after the report has been applied to orders and positions.
    pub fn on_report(&mut self, r: &ExecReport, ctx: &RiskContext, out: &mut Vec<Intent>) {
        match r.kind {
            ExecKind::Rejected { .. } => {
                self.consecutive_rejects = self.consecutive_rejects.saturating_add(1);
                if self.consecutive_rejects >= self.limits.max_consecutive_rejects {
                    self.halt(HaltReason::RejectStorm, out);
                }
            }
            ExecKind::Accepted => self.consecutive_rejects = 0,
            ExecKind::Fill { .. } => {
                self.consecutive_rejects = 0;
                if let Some(order) = ctx.orders.get(r.client_id) {
                    self.track_unhedged(order.market, r.ts_ms, ctx);
                }
            }
            ExecKind::FillReversed { .. } => {
                if let Some(order) = ctx.orders.get(r.client_id) {
                    self.track_unhedged(order.market, r.ts_ms, ctx);
                }
            }
            ExecKind::Unresolved => self.halt(HaltReason::UnresolvedOrder, out),
            ExecKind::Done => {}
        }
    }

    /// Periodic checks at `now_ms`: the day's loss at or beyond the limit halts with `DailyLoss`;
    /// a market more unhedged than `max_unhedged_shares` halts with `UnhedgedExposure`; a market
    /// unhedged for longer than `max_unhedged_age_ms` halts with `UnhedgedAge`.
    pub fn on_time(&mut self, ctx: &RiskContext, out: &mut Vec<Intent>) {
        if self.day_pnl(ctx).0 <= self.limits.daily_loss_limit.0.saturating_neg() {
            self.halt(HaltReason::DailyLoss, out);
        }
        for &m in ctx.positions.held_markets() {
            if ctx.positions.unhedged(ctx.registry, m) > self.limits.max_unhedged_shares {
                self.halt(HaltReason::UnhedgedExposure, out);
            }
            let since = self.unhedged_since.get(m.0 as usize).copied().flatten();
            if since.is_some_and(|t| ctx.now_ms.saturating_sub(t) > self.limits.max_unhedged_age_ms)
            {
                self.halt(HaltReason::UnhedgedAge, out);
            }
        }
    }

    /// The operator's kill switch: halts with `KillSwitch` (no second intent if already halted).
    pub fn kill(&mut self, out: &mut Vec<Intent>) {
        self.halt(HaltReason::KillSwitch, out);
    }

    /// The operator's command to resume: clears the halt and the reject streak. Conditions that
    /// still hold (a loss, an unhedged market) halt again at the next check.
    pub fn clear_halt(&mut self) {
        self.halted = None;
        self.consecutive_rejects = 0;
    }

    /// Why trading is halted, if it is.
    pub fn halted(&self) -> Option<HaltReason> {
        self.halted
    }

    /// Groups refused so far, indexed by [`RejectReason::index`].
    pub fn rejections_by_reason(&self) -> &[u64] {
        &self.rejections
    }

    /// Halts so far.
    pub fn halts(&self) -> u64 {
        self.halts
    }

    fn halt(&mut self, reason: HaltReason, out: &mut Vec<Intent>) {
        if self.halted.is_none() {
            self.halted = Some(reason);
            self.halts += 1;
            out.push(Intent::Halt { reason });
        }
    }

    fn verdict(&mut self, legs: &[PlaceOrder], ctx: &RiskContext) -> Result<(), RejectReason> {
        if self.halted.is_some() {
            return Err(RejectReason::Halted);
        }
        if legs.is_empty() {
            return Ok(());
        }
        for leg in legs {
            check_leg(leg, ctx, self.limits.max_book_age_ms)?;
        }
        let open = ctx.orders.open_count().saturating_add(legs.len());
        if open > self.limits.max_open_orders as usize
            || legs.iter().any(|l| !ctx.orders.slot_free(l.client_id))
        {
            return Err(RejectReason::OpenOrders);
        }
        for (i, leg) in legs.iter().enumerate() {
            let market = ctx.registry.asset(leg.asset).market;
            let first = !legs[..i]
                .iter()
                .any(|l| ctx.registry.asset(l.asset).market == market);
            if first && exposure(|m| m == market, legs, ctx) > self.limits.max_notional_per_market.0
            {
                return Err(RejectReason::MarketNotional);
            }
        }
        for (i, leg) in legs.iter().enumerate() {
            let Some(event) = ctx.registry.market_of(leg.asset).event else {
                continue;
            };
            let first = !legs[..i]
                .iter()
                .any(|l| ctx.registry.market_of(l.asset).event == Some(event));
            let in_event = |m: MarketIdx| ctx.registry.market(m).event == Some(event);
            if first && exposure(in_event, legs, ctx) > self.limits.max_notional_per_event.0 {
                return Err(RejectReason::EventNotional);
            }
        }
        if let [leg] = legs
            && self.widens_unhedged(leg, ctx)
        {
            return Err(RejectReason::UnhedgedExposure);
        }
        if self.day_pnl(ctx).0 <= self.limits.daily_loss_limit.0.saturating_neg() {
            return Err(RejectReason::DailyLoss);
        }
        self.refill(ctx.now_ms);
        if self.bucket < self.tokens(legs.len()) {
            return Err(RejectReason::RateBudget);
        }
        Ok(())
    }

    /// Whether a single leg, filled along with the open orders on its asset and side, would leave
    /// its binary market more unhedged than the limit and more unhedged than it is now.
    fn widens_unhedged(&self, leg: &PlaceOrder, ctx: &RiskContext) -> bool {
        let info = ctx.registry.market_of(leg.asset);
        let [a, b] = info.assets[..] else {
            return false;
        };
        let (mine, other) = if leg.asset == a { (a, b) } else { (b, a) };
        let pending: u64 = ctx
            .orders
            .open()
            .filter(|o| o.asset == mine && o.side == leg.side)
            .fold(0, |sum, o| sum.saturating_add(o.remaining().0));
        let held = ctx.positions.shares(mine).0;
        let moving = pending.saturating_add(leg.size.0);
        let after = match leg.side {
            Side::Buy => held.saturating_add(moving),
            Side::Sell => held.saturating_sub(moving),
        };
        let other = ctx.positions.shares(other).0;
        let after = after.abs_diff(other);
        after > self.limits.max_unhedged_shares.0 && after > held.abs_diff(other)
    }

    /// Starts or ends the unhedged spells a fill in `market` at `ts_ms` can change: the market's,
    /// and in a neg-risk event every market of the event (complete sets span them all). A
    /// remainder below the market's minimum order size is dust no order can trade: it starts no
    /// spell. The table is sized to the registry on first use unless [`Risk::with_markets`] sized
    /// it already.
    fn track_unhedged(&mut self, market: MarketIdx, ts_ms: u64, ctx: &RiskContext) {
        let markets = ctx.registry.markets().len();
        if self.unhedged_since.len() < markets {
            self.unhedged_since.resize(markets, None);
        }
        let info = ctx.registry.market(market);
        let affected = match info.event {
            Some(e) => &ctx.registry.event(e).markets[..],
            None => std::slice::from_ref(&market),
        };
        for &m in affected {
            let Some(since) = self.unhedged_since.get_mut(m.0 as usize) else {
                continue;
            };
            let dust = ctx.registry.market(m).min_order_size.max(Qty(1));
            if ctx.positions.unhedged(ctx.registry, m) < dust {
                *since = None;
            } else {
                since.get_or_insert(ts_ms);
            }
        }
    }

    /// PnL since the start of the current UTC day; a new day takes the current PnL as baseline.
    fn day_pnl(&mut self, ctx: &RiskContext) -> Usdc {
        let pnl = ctx.positions.pnl(ctx.registry, ctx.books);
        let today = ctx.now_ms / DAY_MS;
        match self.day {
            Some(day) if day >= today => {}
            Some(_) => {
                self.day = Some(today);
                self.day_start_pnl = pnl;
            }
            None => self.day = Some(today),
        }
        Usdc(pnl.0.saturating_sub(self.day_start_pnl.0))
    }

    /// Token-milliseconds `n` orders cost.
    fn tokens(&self, n: usize) -> u128 {
        n as u128 * u128::from(self.limits.window_ms.max(1))
    }

    fn refill(&mut self, now_ms: u64) {
        let last = *self.bucket_ms.get_or_insert(now_ms);
        let elapsed = now_ms.saturating_sub(last);
        let added = u128::from(elapsed) * u128::from(self.limits.orders_per_window);
        self.bucket = (self.bucket + added).min(bucket_capacity(&self.limits));
        self.bucket_ms = Some(last.max(now_ms));
    }
}

/// A full bucket, in token-milliseconds.
fn bucket_capacity(limits: &RiskLimits) -> u128 {
    u128::from(limits.orders_per_window) * u128::from(limits.window_ms.max(1))
}

/// The per-leg checks: asset and market tradable, book fresh, uncrossed and recent, price inside
/// the band `(0, 1)`.
fn check_leg(
    leg: &PlaceOrder,
    ctx: &RiskContext,
    max_book_age_ms: u64,
) -> Result<(), RejectReason> {
    if leg.asset.0 as usize >= ctx.registry.asset_count()
        || !ctx.registry.market_of(leg.asset).tradable()
        || ctx.books.is_resolved(leg.asset)
    {
        return Err(RejectReason::NotTradable);
    }
    let book = ctx.books.book(leg.asset);
    if book.is_stale() {
        return Err(RejectReason::StaleBook);
    }
    if book.is_crossed() {
        return Err(RejectReason::CrossedBook);
    }
    if max_book_age_ms > 0 && ctx.now_ms.saturating_sub(book.last_ts_ms()) > max_book_age_ms {
        return Err(RejectReason::BookAge);
    }
    if leg.limit_px == Px::ZERO || leg.limit_px >= Px::ONE {
        return Err(RejectReason::PriceBand);
    }
    Ok(())
}

/// The exposure of the markets `member` selects with `legs` added, in 1e-6 USDC (saturating):
/// held cost basis, open orders' remaining notional and the legs' notional. Markets with holdings
/// are exactly the held markets, so the scan is over holdings, open orders and legs only.
fn exposure(member: impl Fn(MarketIdx) -> bool, legs: &[PlaceOrder], ctx: &RiskContext) -> i64 {
    let mut total = 0i64;
    for &m in ctx.positions.held_markets().iter().filter(|&&m| member(m)) {
        for &a in &ctx.registry.market(m).assets {
            total = total.saturating_add(ctx.positions.cost_basis(a).0);
        }
    }
    for o in ctx.orders.open().filter(|o| member(o.market)) {
        total = total.saturating_add(o.open_notional().0);
    }
    for leg in legs
        .iter()
        .filter(|l| member(ctx.registry.asset(l.asset).market))
    {
        total = total.saturating_add(notional_ceil(leg.limit_px, leg.size).0);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Event, EventBody, StaleReason};
    use crate::domain::intents::{ClientId, GroupId, Liquidity, Tif, VenueReject};
    use crate::domain::num::AssetIdx;
    use crate::domain::positions::tests::{quote, registry};

    const T0: u64 = 1_000;

    fn limits() -> RiskLimits {
        RiskLimits {
            max_notional_per_market: Usdc(100_000_000),
            max_notional_per_event: Usdc(150_000_000),
            max_open_orders: 10,
            max_unhedged_shares: Qty::from_shares(20),
            max_unhedged_age_ms: 5_000,
            daily_loss_limit: Usdc(50_000_000),
            max_book_age_ms: 2_000,
            orders_per_window: 10,
            window_ms: 1_000,
            max_consecutive_rejects: 3,
        }
    }

    /// The core state risk reads, driven as the core drives it.
    struct World {
        reg: Registry,
        books: BookSet,
        orders: Orders,
        positions: Positions,
        now: u64,
    }

    impl World {
        /// Every book fresh at `T0` with bid 0.40, ask 0.45; flat; no orders.
        fn new(order_slots: usize) -> World {
            let reg = registry();
            let mut books = BookSet::new(&reg);
            for a in 0..reg.asset_count() as u32 {
                quote(&mut books, a, T0, Some(4_000), Some(4_500));
            }
            World {
                positions: Positions::new(&reg),
                orders: Orders::with_capacity(order_slots),
                books,
                reg,
                now: T0,
            }
        }

        fn ctx(&self) -> RiskContext<'_> {
            RiskContext {
                registry: &self.reg,
                books: &self.books,
                orders: &self.orders,
                positions: &self.positions,
                now_ms: self.now,
            }
        }

        fn place(&mut self, o: &PlaceOrder) {
            let market = self.reg.asset(o.asset).market;
            self.orders.on_place(o, market, self.now);
        }

        /// Applies a report to orders and positions, then to risk.
        fn report(&mut self, risk: &mut Risk, id: u64, kind: ExecKind, out: &mut Vec<Intent>) {
            let r = ExecReport {
                client_id: ClientId(id),
                ts_ms: self.now,
                kind,
            };
            if let (Some(o), ExecKind::Fill { px, qty, fee, .. }) =
                (self.orders.on_report(&r), kind)
            {
                self.positions.on_fill(o.asset, o.side, px, qty, fee);
            }
            risk.on_report(&r, &self.ctx(), out);
        }

        /// Places and fully fills one order at its limit, fee-free.
        fn filled(&mut self, risk: &mut Risk, o: PlaceOrder, out: &mut Vec<Intent>) {
            self.place(&o);
            let fill = ExecKind::Fill {
                px: o.limit_px,
                qty: o.size,
                fee: Usdc::ZERO,
                liquidity: Liquidity::Taker,
            };
            self.report(risk, o.client_id.0, fill, out);
            self.report(risk, o.client_id.0, ExecKind::Done, out);
        }

        fn check(&self, risk: &mut Risk, legs: &[PlaceOrder]) -> Result<(), RejectReason> {
            risk.check_group(legs, &self.ctx())
        }
    }

    fn leg(id: u64, asset: u32, side: Side, px: u16, size: Qty) -> PlaceOrder {
        PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx(asset),
            side,
            limit_px: Px(px),
            size,
            tif: Tif::Fak,
            post_only: false,
            group: GroupId(id),
            group_len: 1,
        }
    }

    fn buy(id: u64, asset: u32, px: u16, shares: u64) -> PlaceOrder {
        leg(id, asset, Side::Buy, px, Qty::from_shares(shares))
    }

    /// A hedged two-leg group: equal buys of both outcomes of `market`'s assets `a` and `a + 1`.
    fn pair(id: u64, a: u32, shares: u64) -> [PlaceOrder; 2] {
        [buy(id, a, 4_500, shares), buy(id + 1, a + 1, 4_500, shares)]
    }

    fn with(change: impl FnOnce(&mut RiskLimits)) -> Risk {
        let mut l = limits();
        change(&mut l);
        Risk::new(l)
    }

    fn count(risk: &Risk, reason: RejectReason) -> u64 {
        risk.rejections_by_reason()[reason.index()]
    }

    fn apply(books: &mut BookSet, ts: u64, body: EventBody) {
        books.apply(&Event::new(ts, body), &mut Vec::new());
    }

    #[test]
    fn reasons_are_listed_once_in_index_order_with_distinct_names() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(
                RejectReason::ALL[..i]
                    .iter()
                    .all(|o| o.as_str() != r.as_str())
            );
        }
    }

    #[test]
    fn a_healthy_group_passes_and_refusals_are_counted_by_reason() {
        let w = World::new(64);
        let mut risk = Risk::new(limits());
        assert_eq!(w.check(&mut risk, &pair(1, 0, 10)), Ok(()));
        assert_eq!(w.check(&mut risk, &[]), Ok(()));
        assert_eq!(
            w.check(&mut risk, &[buy(3, 0, 0, 1)]),
            Err(RejectReason::PriceBand)
        );
        assert_eq!(
            w.check(&mut risk, &[buy(3, 0, 0, 1)]),
            Err(RejectReason::PriceBand)
        );
        assert_eq!(count(&risk, RejectReason::PriceBand), 2);
        assert_eq!(risk.rejections_by_reason().iter().sum::<u64>(), 2);
    }

    #[test]
    fn untradable_markets_resolved_books_and_unknown_assets_are_refused() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        assert_eq!(
            w.check(&mut risk, &[buy(1, 4, 4_500, 1)]),
            Ok(()),
            "open market"
        );
        assert_eq!(
            w.check(&mut risk, &[buy(1, 6, 4_500, 1)]),
            Err(RejectReason::NotTradable)
        );
        assert_eq!(
            w.check(&mut risk, &[buy(1, 99, 4_500, 1)]),
            Err(RejectReason::NotTradable)
        );
        apply(
            &mut w.books,
            T0,
            EventBody::Resolved {
                asset: AssetIdx(4),
                won: true,
            },
        );
        assert_eq!(
            w.check(&mut risk, &[buy(1, 4, 4_500, 1)]),
            Err(RejectReason::NotTradable)
        );
        assert_eq!(count(&risk, RejectReason::NotTradable), 3);
    }

    #[test]
    fn stale_and_crossed_books_are_refused() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let stale = EventBody::Stale {
            asset: AssetIdx(1),
            reason: StaleReason::FeedReset,
        };
        apply(&mut w.books, T0, stale);
        assert_eq!(
            w.check(&mut risk, &pair(1, 0, 1)),
            Err(RejectReason::StaleBook)
        );
        // A delta that crosses the book, before its message ends.
        let crossing = EventBody::Level {
            asset: AssetIdx(2),
            side: Side::Buy,
            px: Px(4_600),
            qty: Qty::from_shares(1),
        };
        assert_eq!(w.check(&mut risk, &pair(1, 2, 1)), Ok(()));
        apply(&mut w.books, T0, crossing);
        assert_eq!(
            w.check(&mut risk, &pair(1, 2, 1)),
            Err(RejectReason::CrossedBook)
        );
    }

    #[test]
    fn a_book_older_than_the_limit_is_refused() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        w.now = T0 + 2_000;
        assert_eq!(w.check(&mut risk, &pair(1, 0, 1)), Ok(()));
        w.now = T0 + 2_001;
        assert_eq!(
            w.check(&mut risk, &pair(1, 0, 1)),
            Err(RejectReason::BookAge)
        );
        quote(&mut w.books, 0, T0 + 2_001, Some(4_000), Some(4_500));
        assert_eq!(
            w.check(&mut risk, &pair(1, 0, 1)),
            Err(RejectReason::BookAge),
            "one fresh leg is not enough"
        );
        let mut off = Risk::new(RiskLimits {
            max_book_age_ms: 0,
            ..limits()
        });
        w.now = T0 + 1_000_000;
        assert_eq!(w.check(&mut off, &pair(1, 0, 1)), Ok(()), "0 turns it off");
    }

    #[test]
    fn prices_must_lie_strictly_between_0_and_1() {
        let w = World::new(64);
        let mut risk = with(|l| l.max_unhedged_shares = Qty::from_shares(1_000));
        for px in [1, 9_999] {
            assert_eq!(w.check(&mut risk, &[buy(1, 0, px, 1)]), Ok(()), "{px}");
        }
        for px in [0, 10_000] {
            assert_eq!(
                w.check(&mut risk, &[buy(1, 0, px, 1)]),
                Err(RejectReason::PriceBand)
            );
        }
    }

    #[test]
    fn open_orders_plus_the_group_may_not_exceed_the_limit() {
        let mut w = World::new(64);
        let mut risk = with(|l| l.max_open_orders = 3);
        w.place(&buy(1, 4, 4_000, 1));
        assert_eq!(w.check(&mut risk, &pair(2, 0, 1)), Ok(()), "1 + 2 = 3");
        w.place(&buy(2, 5, 4_000, 1));
        assert_eq!(
            w.check(&mut risk, &pair(3, 0, 1)),
            Err(RejectReason::OpenOrders)
        );
        assert_eq!(count(&risk, RejectReason::OpenOrders), 1);
    }

    #[test]
    fn a_leg_whose_order_slot_is_busy_is_refused() {
        let mut w = World::new(4);
        let mut risk = Risk::new(limits());
        w.place(&buy(1, 4, 4_000, 1));
        assert_eq!(
            w.check(&mut risk, &pair(2, 0, 1)),
            Ok(()),
            "ids 2 and 3: free slots"
        );
        assert_eq!(
            w.check(&mut risk, &pair(4, 0, 1)),
            Err(RejectReason::OpenOrders),
            "id 5 maps onto open order 1"
        );
    }

    /// Market 0 holds 20 USDC of cost (50 YES at 0.40) and a 20 USDC open bid (40 NO at 0.50).
    fn exposed(risk: &mut Risk) -> World {
        let mut w = World::new(64);
        let mut out = Vec::new();
        w.filled(risk, buy(1, 0, 4_000, 50), &mut out);
        w.place(&buy(2, 1, 5_000, 40));
        assert!(out.is_empty());
        w
    }

    #[test]
    fn market_exposure_counts_holdings_open_orders_and_the_group() {
        let mut risk = with(|l| l.max_unhedged_shares = Qty::from_shares(1_000));
        let w = exposed(&mut risk);
        // 120 shares at 0.50 = 60: 20 + 20 + 60 = 100, at the cap.
        assert_eq!(w.check(&mut risk, &[buy(3, 0, 5_000, 120)]), Ok(()));
        let over = leg(3, 0, Side::Buy, 5_000, Qty(120_000_002));
        assert_eq!(
            w.check(&mut risk, &[over]),
            Err(RejectReason::MarketNotional)
        );
        let sell = leg(3, 0, Side::Sell, 5_000, Qty(120_000_002));
        assert_eq!(
            w.check(&mut risk, &[sell]),
            Err(RejectReason::MarketNotional),
            "sells count too"
        );
        assert_eq!(
            w.check(&mut risk, &[buy(3, 2, 5_000, 120)]),
            Ok(()),
            "another market"
        );
    }

    #[test]
    fn event_exposure_sums_the_events_markets() {
        let mut risk = with(|l| l.max_unhedged_shares = Qty::from_shares(1_000));
        let w = exposed(&mut risk);
        // Market 0 at 40 + 20 = 60, market 1 at 90: the event at 150, its cap.
        let legs = [
            buy(3, 0, 5_000, 40),
            buy(4, 2, 5_000, 90),
            buy(5, 3, 5_000, 90),
        ];
        assert_eq!(w.check(&mut risk, &legs), Ok(()));
        let legs = [
            buy(3, 0, 5_000, 40),
            buy(4, 2, 5_000, 90),
            leg(5, 3, Side::Buy, 5_000, Qty(90_000_002)),
        ];
        assert_eq!(w.check(&mut risk, &legs), Err(RejectReason::EventNotional));
        let legs = [buy(3, 4, 5_000, 100), buy(4, 5, 5_000, 100)];
        assert_eq!(
            w.check(&mut risk, &legs),
            Ok(()),
            "a market outside the event: 100, at its cap"
        );
    }

    #[test]
    fn a_single_leg_may_not_push_a_market_beyond_the_unhedged_limit() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        assert_eq!(
            w.check(&mut risk, &[buy(1, 0, 4_000, 20)]),
            Ok(()),
            "20: at the limit"
        );
        let over = leg(1, 0, Side::Buy, 4_000, Qty(20_000_001));
        assert_eq!(
            w.check(&mut risk, &[over]),
            Err(RejectReason::UnhedgedExposure)
        );
        assert_eq!(
            w.check(&mut risk, &[over, buy(2, 1, 4_000, 20)]),
            Ok(()),
            "a hedged group"
        );
        w.place(&buy(1, 0, 4_000, 10));
        assert_eq!(w.check(&mut risk, &[buy(2, 0, 4_000, 10)]), Ok(()));
        assert_eq!(
            w.check(&mut risk, &[buy(2, 0, 4_000, 11)]),
            Err(RejectReason::UnhedgedExposure),
            "the open bid on the same side may fill too"
        );
        assert_eq!(
            w.check(&mut risk, &[buy(2, 1, 4_000, 20)]),
            Ok(()),
            "the other side"
        );
    }

    #[test]
    fn a_leg_that_narrows_an_over_limit_market_passes() {
        let mut w = World::new(64);
        let mut risk = with(|l| l.max_unhedged_shares = Qty::from_shares(100));
        let mut out = Vec::new();
        w.filled(&mut risk, buy(1, 0, 4_000, 30), &mut out);
        risk.limits.max_unhedged_shares = Qty::from_shares(20);
        assert_eq!(
            w.check(&mut risk, &[buy(2, 1, 4_000, 5)]),
            Ok(()),
            "30 → 25"
        );
        let sell = leg(2, 0, Side::Sell, 4_000, Qty::from_shares(5));
        assert_eq!(w.check(&mut risk, &[sell]), Ok(()), "30 → 25 by selling");
        assert_eq!(
            w.check(&mut risk, &[buy(2, 0, 4_000, 1)]),
            Err(RejectReason::UnhedgedExposure)
        );
    }

    /// Buys 100 shares of asset 4 at 0.50 (cash −50) and bids 0.01 for them: PnL −49.
    fn losing(risk: &mut Risk) -> World {
        let mut w = World::new(64);
        let mut out = Vec::new();
        w.filled(risk, buy(1, 4, 5_000, 100), &mut out);
        quote(&mut w.books, 4, T0, Some(100), Some(4_500));
        assert_eq!(w.positions.pnl(&w.reg, &w.books), Usdc(-49_000_000));
        w
    }

    /// Limits with this daily loss limit and no unhedged limits in the way.
    fn loss_limit(limit: i64) -> Risk {
        with(|l| {
            l.daily_loss_limit = Usdc(limit);
            l.max_unhedged_shares = Qty(u64::MAX);
            l.max_unhedged_age_ms = u64::MAX;
        })
    }

    #[test]
    fn the_daily_loss_limit_refuses_groups_at_the_limit() {
        let mut under = loss_limit(49_000_001);
        let w = losing(&mut under);
        assert_eq!(w.check(&mut under, &pair(2, 0, 1)), Ok(()));
        let mut at = loss_limit(49_000_000);
        assert_eq!(
            w.check(&mut at, &pair(2, 0, 1)),
            Err(RejectReason::DailyLoss)
        );
    }

    #[test]
    fn the_daily_loss_halts_once_and_a_new_day_starts_from_its_pnl() {
        let mut out = Vec::new();
        let mut under = loss_limit(49_000_001);
        let w = losing(&mut under);
        under.on_time(&w.ctx(), &mut out);
        assert!(out.is_empty());
        let mut risk = loss_limit(49_000_000);
        let mut w = losing(&mut risk);
        risk.on_time(&w.ctx(), &mut out);
        risk.on_time(&w.ctx(), &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::DailyLoss
            }]
        );
        risk.clear_halt();
        w.now = DAY_MS;
        for a in 0..2 {
            quote(&mut w.books, a, DAY_MS, Some(4_000), Some(4_500));
        }
        quote(&mut w.books, 4, DAY_MS, None, Some(4_500));
        risk.on_time(&w.ctx(), &mut out);
        assert_eq!(
            risk.halted(),
            None,
            "a new day: the loss so far is its baseline"
        );
        assert_eq!(w.check(&mut risk, &pair(2, 0, 1)), Ok(()));
    }

    #[test]
    fn the_rate_bucket_spends_on_success_and_refills_with_time() {
        let mut w = World::new(64);
        let mut risk = with(|l| {
            l.orders_per_window = 4;
            l.max_book_age_ms = u64::MAX;
        });
        let three = [
            buy(1, 0, 4_500, 1),
            buy(2, 1, 4_500, 1),
            buy(3, 4, 4_500, 1),
        ];
        assert_eq!(w.check(&mut risk, &three), Ok(()));
        assert_eq!(
            w.check(&mut risk, &pair(4, 0, 1)),
            Err(RejectReason::RateBudget)
        );
        assert_eq!(
            w.check(&mut risk, &[buy(4, 4, 4_500, 0)]),
            Ok(()),
            "the last token"
        );
        w.now += 249;
        assert_eq!(
            w.check(&mut risk, &[buy(5, 4, 4_500, 0)]),
            Err(RejectReason::RateBudget)
        );
        w.now += 1;
        assert_eq!(
            w.check(&mut risk, &[buy(5, 4, 4_500, 0)]),
            Ok(()),
            "1 token per 250 ms"
        );
        w.now += 1_000;
        assert_eq!(w.check(&mut risk, &[]), Ok(()));
        let five = [
            three[0],
            three[1],
            three[2],
            buy(4, 5, 4_500, 1),
            buy(5, 2, 4_500, 1),
        ];
        assert_eq!(
            w.check(&mut risk, &five),
            Err(RejectReason::RateBudget),
            "capped at 4"
        );
        assert_eq!(w.check(&mut risk, &five[..4]), Ok(()));
        let other_failure = [buy(6, 0, 0, 1)];
        w.now += 1_000;
        assert_eq!(
            w.check(&mut risk, &other_failure),
            Err(RejectReason::PriceBand)
        );
        assert_eq!(
            w.check(&mut risk, &five[..4]),
            Ok(()),
            "a refusal spends nothing"
        );
        assert_eq!(count(&risk, RejectReason::RateBudget), 3);
        let mut none = with(|l| {
            l.orders_per_window = 0;
            l.max_book_age_ms = u64::MAX;
        });
        assert_eq!(
            w.check(&mut none, &pair(1, 0, 1)),
            Err(RejectReason::RateBudget)
        );
    }

    #[test]
    fn an_unhedged_market_beyond_the_limit_halts_on_time() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        w.filled(&mut risk, buy(1, 0, 4_000, 20), &mut out);
        risk.on_time(&w.ctx(), &mut out);
        assert!(out.is_empty(), "20 is the limit");
        w.filled(&mut risk, leg(2, 0, Side::Buy, 4_000, Qty(1)), &mut out);
        risk.on_time(&w.ctx(), &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::UnhedgedExposure
            }]
        );
    }

    #[test]
    fn a_market_unhedged_too_long_halts_and_hedging_resets_its_clock() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        w.filled(&mut risk, buy(1, 0, 4_000, 5), &mut out);
        w.now = T0 + 3_000;
        w.filled(&mut risk, buy(2, 1, 4_000, 2), &mut out);
        w.now = T0 + 5_000;
        risk.on_time(&w.ctx(), &mut out);
        assert!(
            out.is_empty(),
            "unhedged since the first fill, for exactly the limit"
        );
        w.now = T0 + 5_001;
        let mut hedged = risk.clone();
        let mut hedged_out = Vec::new();
        risk.on_time(&w.ctx(), &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::UnhedgedAge
            }]
        );
        w.filled(&mut hedged, buy(3, 1, 4_000, 3), &mut hedged_out);
        w.now = T0 + 100_000;
        hedged.on_time(&w.ctx(), &mut hedged_out);
        assert!(hedged_out.is_empty(), "hedged: no spell");
        w.filled(&mut hedged, buy(4, 0, 4_000, 1), &mut hedged_out);
        w.now += 5_001;
        hedged.on_time(&w.ctx(), &mut hedged_out);
        assert_eq!(
            hedged_out,
            vec![Intent::Halt {
                reason: HaltReason::UnhedgedAge
            }]
        );
    }

    #[test]
    fn a_complete_neg_risk_set_is_hedged_and_dust_starts_no_spell() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        // Yes of both markets of the event: one complete set of 30, worth exactly 1 each.
        w.filled(&mut risk, buy(1, 0, 4_000, 30), &mut out);
        w.now = T0 + 1_000;
        w.filled(&mut risk, buy(2, 2, 5_000, 30), &mut out);
        w.now = T0 + 100_000;
        risk.on_time(&w.ctx(), &mut out);
        assert!(out.is_empty(), "a complete set is hedged: {out:?}");
        // Market 2's minimum order is 5 shares: 4 unpaired shares cannot be traded away.
        w.filled(&mut risk, buy(3, 4, 4_000, 4), &mut out);
        w.now += 100_000;
        risk.on_time(&w.ctx(), &mut out);
        assert!(
            out.is_empty(),
            "dust below the minimum order starts no spell"
        );
        w.filled(&mut risk, buy(4, 4, 4_000, 1), &mut out);
        w.now += 5_001;
        risk.on_time(&w.ctx(), &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::UnhedgedAge
            }],
            "5 unpaired shares are tradable, and too old"
        );
    }

    #[test]
    fn a_run_of_venue_rejects_halts_and_an_accept_breaks_the_run() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        let reject = ExecKind::Rejected {
            reason: VenueReject::Other,
        };
        for id in 1..=2 {
            w.report(&mut risk, id, reject, &mut out);
        }
        w.report(&mut risk, 3, ExecKind::Accepted, &mut out);
        for id in 4..=5 {
            w.report(&mut risk, id, reject, &mut out);
        }
        assert!(out.is_empty(), "two runs of two");
        w.report(&mut risk, 6, reject, &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::RejectStorm
            }]
        );
    }

    #[test]
    fn an_order_unresolved_past_its_deadline_halts() {
        let mut w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        w.report(&mut risk, 1, ExecKind::Accepted, &mut out);
        assert!(out.is_empty());
        w.report(&mut risk, 2, ExecKind::Unresolved, &mut out);
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::UnresolvedOrder
            }]
        );
        assert_eq!(risk.halted(), Some(HaltReason::UnresolvedOrder));
    }

    #[test]
    fn a_halt_is_emitted_once_blocks_everything_and_clears_on_command() {
        let w = World::new(64);
        let mut risk = Risk::new(limits());
        let mut out = Vec::new();
        risk.kill(&mut out);
        risk.kill(&mut out);
        let reject = ExecReport {
            client_id: ClientId(1),
            ts_ms: T0,
            kind: ExecKind::Rejected {
                reason: VenueReject::Balance,
            },
        };
        for _ in 0..5 {
            risk.on_report(&reject, &w.ctx(), &mut out);
        }
        assert_eq!(
            out,
            vec![Intent::Halt {
                reason: HaltReason::KillSwitch
            }]
        );
        assert_eq!(
            (risk.halted(), risk.halts()),
            (Some(HaltReason::KillSwitch), 1)
        );
        assert_eq!(
            w.check(&mut risk, &pair(1, 0, 1)),
            Err(RejectReason::Halted)
        );
        assert_eq!(w.check(&mut risk, &[]), Err(RejectReason::Halted));
        assert_eq!(count(&risk, RejectReason::Halted), 2);
        risk.clear_halt();
        assert_eq!(risk.halted(), None);
        assert_eq!(w.check(&mut risk, &pair(1, 0, 1)), Ok(()));
        risk.on_report(&reject, &w.ctx(), &mut out);
        assert_eq!(out.len(), 1, "clearing also reset the reject run");
        risk.kill(&mut out);
        assert_eq!(risk.halts(), 2);
        assert_eq!(out.len(), 2);
    }

    /// One scripted session: checks, places, fills, rejects, time.
    fn session() -> (
        Risk,
        Orders,
        Positions,
        Vec<Intent>,
        Vec<Result<(), RejectReason>>,
    ) {
        let mut w = World::new(8);
        let mut risk = with(|l| l.orders_per_window = 3);
        let mut out = Vec::new();
        let mut verdicts = Vec::new();
        for step in 0..40u64 {
            w.now = T0 + step * 97;
            for a in 0..6 {
                quote(
                    &mut w.books,
                    a,
                    w.now,
                    Some(3_000 + (step % 7) as u16 * 100),
                    Some(4_500),
                );
            }
            let group = pair(step * 2 + 100, (step % 3) as u32 * 2, step % 5 + 1);
            let verdict = w.check(&mut risk, &group);
            verdicts.push(verdict);
            if verdict.is_ok() {
                for o in &group {
                    w.place(o);
                }
                let fill = ExecKind::Fill {
                    px: Px(4_400),
                    qty: Qty::from_shares(step % 4),
                    fee: Usdc(step as i64),
                    liquidity: Liquidity::Taker,
                };
                w.report(&mut risk, group[0].client_id.0, fill, &mut out);
                if step % 6 == 0 {
                    let reject = ExecKind::Rejected {
                        reason: VenueReject::MinSize,
                    };
                    w.report(&mut risk, group[1].client_id.0, reject, &mut out);
                }
                w.report(&mut risk, group[0].client_id.0, ExecKind::Done, &mut out);
            }
            risk.on_time(&w.ctx(), &mut out);
        }
        (risk, w.orders, w.positions, out, verdicts)
    }

    #[test]
    fn the_same_sequence_gives_the_same_state() {
        let first = session();
        let second = session();
        assert_eq!(first.0, second.0);
        assert_eq!(first.1, second.1);
        assert_eq!(first.2, second.2);
        assert_eq!(first.3, second.3);
        assert_eq!(first.4, second.4);
        assert!(first.4.iter().any(|v| v.is_ok()) && first.4.iter().any(|v| v.is_err()));
    }
}
