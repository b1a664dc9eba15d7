//! The pair-arbitrage engine: evaluates the taker sums at message boundaries, rests maker pairs,
//! follows its own orders by client id and runs the leg policy on unhedged binary markets.
//!
//! Pure and deterministic: the same calls in the same order give the same intents. Every buffer
//! and table is allocated in [`PairArbEngine::new`]; the hot path only writes into them.
//!
//! Orders live in a fixed table indexed by `client_id & mask`. Client ids come from a counter;
//! an id whose slot is still held by an order that never terminated is skipped (ids stay unique
//! and increasing, never reused). The table holds twice the most orders the engine can have
//! open at once (a taker group per market and per event, two quotes and one leg order per
//! market), so skips happen only if execution loses terminal reports.
//!
//! Requotes cancel first and place the replacement only when the cancel's `Done` arrives, so a
//! side never has two live quotes (both could otherwise fill). A leg order (take or unwind)
//! likewise waits until the market's quotes are cancelled and done, so it can never trade with
//! our own resting bid.

use crate::domain::books::BookSet;
use crate::domain::intents::{ClientId, ExecKind, ExecReport, GroupId, Intent, PlaceOrder, Tif};
use crate::domain::markets::Registry;
use crate::domain::num::{EventIdx, MarketIdx, Px, Qty, Side};
use crate::strategies::pair_arb::maker::{
    Exposure, LegAction, MakerSkip, desired_bids, leg_action, lot_floor,
};
use crate::strategies::pair_arb::math::{
    Leg, Opportunity, Skip, binary_buy_both, binary_sell_both, negrisk_no_sum, negrisk_yes_sum,
};
use crate::strategies::pair_arb::params::PairArbParams;

/// What the engine reads at each call: the universe, the books and the core's clock.
pub struct EvalContext<'a> {
    /// The market registry.
    pub registry: &'a Registry,
    /// The books, consistent at a message boundary.
    pub books: &'a BookSet,
    /// The core's time, Unix milliseconds (the last message's or report's timestamp).
    pub now_ms: u64,
}

/// What the engine has done, for reports and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Taker evaluations run (one per kind per market or event).
    pub evaluations: u64,
    /// Evaluations that found an opportunity.
    pub opportunities: u64,
    /// Intents emitted (places and cancels).
    pub intents: u64,
    /// Evaluations skipped for a structural reason, by `Skip::index`.
    pub skipped_by_reason: [u64; Skip::ALL.len()],
    /// Groups the risk gate refused.
    pub gate_refusals: u64,
    /// Opportunities not taken because their market or event was cooling down.
    pub cooldown_blocks: u64,
    /// Opportunities not taken because a taker group was in flight there.
    pub in_flight_blocks: u64,
    /// Sell-both evaluations not run: no whole lot of pairs in inventory.
    pub no_inventory: u64,
    /// Maker updates that could not quote, by `MakerSkip::index`.
    pub maker_skips: [u64; MakerSkip::ALL.len()],
    /// Maker quotes placed.
    pub quotes_placed: u64,
    /// Maker quotes cancelled (requotes, unusable books, leg actions).
    pub quote_cancels: u64,
    /// Missing legs taken at the ask.
    pub leg_takes: u64,
    /// Unhedged legs unwound at the bid.
    pub leg_unwinds: u64,
    /// Pairs completed by buying both outcomes, in shares.
    pub pairs_completed: Qty,
    /// Neg-risk groups that finished with unequal fills across their legs.
    pub broken_sets: u64,
    /// Reports for orders the engine does not know (never placed, or forgotten at a halt).
    pub unknown_reports: u64,
    /// Groups not placed because no free order slot was left.
    pub slots_exhausted: u64,
}

/// Who an order belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// A leg of a binary taker group.
    Market(MarketIdx),
    /// A leg of a neg-risk taker group.
    Event(EventIdx),
    /// A maker quote (its side is the slot's outcome).
    Quote(MarketIdx),
    /// A leg-policy order (take or unwind).
    Leg(MarketIdx),
}

/// One order the engine is following.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: ClientId,
    owner: Owner,
    side: Side,
    outcome: u8,
    filled: Qty,
}

/// A market's or event's taker group bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
struct TakerState {
    /// Legs of the group in flight not yet done or rejected.
    outstanding: u16,
    last_fire_ms: Option<u64>,
    /// Smallest and largest leg fill of the group so far (neg-risk sets).
    fill_lo: Qty,
    fill_hi: Qty,
}

/// A resting maker quote on one side.
#[derive(Clone, Copy, Debug, Default)]
struct Quote {
    id: Option<ClientId>,
    px: Px,
    cancel_sent: bool,
}

/// Everything the engine keeps per market.
#[derive(Clone, Copy, Debug, Default)]
struct MarketState {
    taker: TakerState,
    inventory: Qty,
    quotes: [Quote; 2],
    leg_order: Option<ClientId>,
    exposure: Exposure,
}

/// The taker evaluation to run.
#[derive(Clone, Copy)]
enum Check {
    BuyBoth(MarketIdx),
    SellBoth(MarketIdx),
    YesSum(EventIdx),
    NoSum(EventIdx),
}

/// The pair-arbitrage strategy's state machine.
pub struct PairArbEngine {
    params: PairArbParams,
    markets: Vec<MarketState>,
    events: Vec<TakerState>,
    slots: Vec<Option<Slot>>,
    mask: u64,
    next_id: u64,
    next_group: u64,
    legs: Vec<Leg>,
    group: Vec<PlaceOrder>,
    /// Markets touched by the current message, each once, ascending.
    touched: Vec<MarketIdx>,
    seen_markets: Vec<bool>,
    /// Events holding a touched market, each once, ascending.
    touched_events: Vec<EventIdx>,
    seen_events: Vec<bool>,
    halted: bool,
    counters: EngineCounters,
}

impl PairArbEngine {
    /// An engine for a fixed universe; every allocation it will need is made here. The caller
    /// validates `params` first ([`PairArbParams::validate`]).
    pub fn new(registry: &Registry, params: PairArbParams) -> PairArbEngine {
        let markets = registry.markets().len();
        let widest = registry
            .events()
            .iter()
            .map(|e| e.markets.len())
            .max()
            .unwrap_or(0)
            .max(2);
        let event_legs: usize = registry.events().iter().map(|e| e.markets.len()).sum();
        let most_open = 5 * markets + event_legs;
        let slots = (2 * most_open).next_power_of_two().max(16);
        PairArbEngine {
            params,
            markets: vec![MarketState::default(); markets],
            events: vec![TakerState::default(); registry.events().len()],
            slots: vec![None; slots],
            mask: slots as u64 - 1,
            next_id: 1,
            next_group: 1,
            legs: Vec::with_capacity(widest),
            group: Vec::with_capacity(widest),
            touched: Vec::with_capacity(markets),
            seen_markets: vec![false; markets],
            touched_events: Vec::with_capacity(registry.events().len()),
            seen_events: vec![false; registry.events().len()],
            halted: false,
            counters: EngineCounters::default(),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> &EngineCounters {
        &self.counters
    }

    /// Tells the engine how many whole pairs of `market` are held (from the core's positions):
    /// sell-both groups never sell more. Unknown markets are ignored.
    pub fn set_inventory(&mut self, market: MarketIdx, pairs: Qty) {
        if let Some(m) = self.markets.get_mut(market.0 as usize) {
            m.inventory = pairs;
        }
    }

    /// Forgets every order, quote and unhedged leg (execution cancels everything on a halt;
    /// the core's positions keep what was really filled) and stops until [`Self::resume`].
    pub fn on_halt(&mut self) {
        self.halted = true;
        self.slots.fill(None);
        for m in &mut self.markets {
            *m = MarketState {
                taker: TakerState {
                    last_fire_ms: m.taker.last_fire_ms,
                    ..TakerState::default()
                },
                inventory: m.inventory,
                ..MarketState::default()
            };
        }
        for e in &mut self.events {
            *e = TakerState {
                last_fire_ms: e.last_fire_ms,
                ..TakerState::default()
            };
        }
    }

    /// Trades again after a halt was cleared.
    pub fn resume(&mut self) {
        self.halted = false;
    }

    /// Runs the strategy on a consistent message boundary: the taker sums on each touched market
    /// and each neg-risk event holding one (each once, ascending), the leg policy on every
    /// unhedged market, and the maker quotes on each touched market.
    pub fn on_message_end(
        &mut self,
        ctx: &EvalContext,
        touched: &[MarketIdx],
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        if self.halted {
            return;
        }
        self.touched.clear();
        for &m in touched {
            if let Some(seen) = self.seen_markets.get_mut(m.0 as usize)
                && !*seen
            {
                *seen = true;
                self.touched.push(m);
            }
        }
        self.touched.sort_unstable();
        self.touched_events.clear();
        for i in 0..self.touched.len() {
            let m = self.touched[i];
            self.seen_markets[m.0 as usize] = false;
            if let Some(e) = ctx.registry.market(m).event
                && !std::mem::replace(&mut self.seen_events[e.0 as usize], true)
            {
                self.touched_events.push(e);
            }
            if self.params.taker {
                self.evaluate(Check::BuyBoth(m), ctx, gate, out);
                self.evaluate(Check::SellBoth(m), ctx, gate, out);
            }
        }
        self.touched_events.sort_unstable();
        for &e in &self.touched_events {
            self.seen_events[e.0 as usize] = false;
        }
        if self.params.taker {
            for i in 0..self.touched_events.len() {
                let e = self.touched_events[i];
                self.evaluate(Check::YesSum(e), ctx, gate, out);
                self.evaluate(Check::NoSum(e), ctx, gate, out);
            }
        }
        for m in 0..self.markets.len() {
            if !self.markets[m].exposure.qty().is_zero() {
                self.run_leg_policy(MarketIdx(m as u32), ctx, gate, out);
            }
        }
        if self.params.maker {
            for i in 0..self.touched.len() {
                self.update_quotes(self.touched[i], ctx, gate, out);
            }
        }
    }

    /// Applies execution's report on one of the engine's orders: fills feed the market's
    /// unhedged leg, terminal reports release groups and quote slots, and the leg policy and
    /// maker quotes react at once.
    pub fn on_report(
        &mut self,
        report: &ExecReport,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        let index = (report.client_id.0 & self.mask) as usize;
        let Some(mut slot) = self.slots[index].filter(|s| s.id == report.client_id) else {
            self.counters.unknown_reports += 1;
            return;
        };
        match report.kind {
            ExecKind::Accepted | ExecKind::Unresolved => {}
            ExecKind::FillReversed { qty, .. } => {
                slot.filled = Qty(slot.filled.0.saturating_sub(qty.0));
                self.slots[index] = Some(slot);
            }
            ExecKind::Fill { px, qty, .. } => {
                slot.filled = Qty(slot.filled.0 + qty.0);
                self.slots[index] = Some(slot);
                if let Owner::Market(m) | Owner::Quote(m) | Owner::Leg(m) = slot.owner {
                    let state = &mut self.markets[m.0 as usize];
                    let pairs =
                        state
                            .exposure
                            .on_fill(slot.outcome, slot.side, px, qty, report.ts_ms);
                    self.counters.pairs_completed.0 += pairs.0;
                    if let Owner::Quote(_) = slot.owner {
                        self.run_leg_policy(m, ctx, gate, out);
                    }
                }
            }
            ExecKind::Rejected { .. } | ExecKind::Done => {
                self.slots[index] = None;
                self.finish(slot, ctx, gate, out);
            }
        }
    }

    /// Releases what a terminated order held.
    fn finish(
        &mut self,
        slot: Slot,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        match slot.owner {
            Owner::Market(m) => {
                let taker = &mut self.markets[m.0 as usize].taker;
                taker.outstanding -= 1;
                if taker.outstanding == 0 {
                    self.run_leg_policy(m, ctx, gate, out);
                }
            }
            Owner::Event(e) => {
                let taker = &mut self.events[e.0 as usize];
                taker.outstanding -= 1;
                taker.fill_lo = taker.fill_lo.min(slot.filled);
                taker.fill_hi = taker.fill_hi.max(slot.filled);
                if taker.outstanding == 0 && taker.fill_lo != taker.fill_hi {
                    self.counters.broken_sets += 1;
                }
            }
            Owner::Quote(m) => {
                let quote = &mut self.markets[m.0 as usize].quotes[usize::from(slot.outcome)];
                if quote.id == Some(slot.id) {
                    *quote = Quote::default();
                }
                self.run_leg_policy(m, ctx, gate, out);
                if self.params.maker && !self.halted {
                    self.update_quotes(m, ctx, gate, out);
                }
            }
            Owner::Leg(m) => {
                self.markets[m.0 as usize].leg_order = None;
                if self.params.maker && !self.halted {
                    self.update_quotes(m, ctx, gate, out);
                }
            }
        }
    }

    /// Runs one taker evaluation and fires its opportunity if nothing holds it back.
    fn evaluate(
        &mut self,
        check: Check,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        let (reg, books) = (ctx.registry, ctx.books);
        let mut math = self.params.math;
        if let Check::SellBoth(m) = check {
            let pairs = lot_floor(self.markets[m.0 as usize].inventory);
            if pairs.is_zero() {
                self.counters.no_inventory += 1;
                return;
            }
            math.max_sets = math.max_sets.min(pairs);
        }
        self.counters.evaluations += 1;
        let legs = &mut self.legs;
        let result = match check {
            Check::BuyBoth(m) => binary_buy_both(reg, books, m, &math, legs),
            Check::SellBoth(m) => binary_sell_both(reg, books, m, &math, legs),
            Check::YesSum(e) => negrisk_yes_sum(reg, books, e, &math, legs),
            Check::NoSum(e) => negrisk_no_sum(reg, books, e, &math, legs),
        };
        match result {
            Err(skip) => self.counters.skipped_by_reason[skip.index()] += 1,
            Ok(None) => {}
            Ok(Some(opportunity)) => {
                self.counters.opportunities += 1;
                let owner = match check {
                    Check::BuyBoth(m) | Check::SellBoth(m) => Owner::Market(m),
                    Check::YesSum(e) | Check::NoSum(e) => Owner::Event(e),
                };
                self.fire(owner, &opportunity, ctx, gate, out);
            }
        }
    }

    fn taker_state(&mut self, owner: Owner) -> &mut TakerState {
        match owner {
            Owner::Event(e) => &mut self.events[e.0 as usize],
            Owner::Market(m) | Owner::Quote(m) | Owner::Leg(m) => {
                &mut self.markets[m.0 as usize].taker
            }
        }
    }

    /// Sends the legs in `self.legs` as one taker group, unless the market or event has a group
    /// in flight or is cooling down.
    fn fire(
        &mut self,
        owner: Owner,
        opportunity: &Opportunity,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        let cooldown_ms = self.params.cooldown_ms;
        let taker = self.taker_state(owner);
        if taker.outstanding > 0 {
            self.counters.in_flight_blocks += 1;
            return;
        }
        if taker
            .last_fire_ms
            .is_some_and(|t| ctx.now_ms < t.saturating_add(cooldown_ms))
        {
            self.counters.cooldown_blocks += 1;
            return;
        }
        self.group.clear();
        for leg in &self.legs {
            self.group.push(PlaceOrder {
                client_id: ClientId(0),
                asset: leg.asset,
                side: leg.side,
                limit_px: leg.limit_px,
                size: opportunity.size,
                tif: self.params.taker_tif,
                post_only: false,
                group: GroupId(0),
                group_len: 0,
            });
        }
        if self.submit(owner, ctx.registry, gate, out) {
            let legs = self.group.len() as u16;
            *self.taker_state(owner) = TakerState {
                outstanding: legs,
                last_fire_ms: Some(ctx.now_ms),
                fill_lo: Qty(u64::MAX),
                fill_hi: Qty::ZERO,
            };
        }
    }

    /// Gives the orders in `self.group` client ids and a group id, asks the gate, and on its
    /// yes emits them and follows them as `owner`'s.
    fn submit(
        &mut self,
        owner: Owner,
        reg: &Registry,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) -> bool {
        let Ok(group_len) = u8::try_from(self.group.len()) else {
            self.counters.slots_exhausted += 1;
            return false;
        };
        let mut id = self.next_id;
        for i in 0..self.group.len() {
            while self.slots[(id & self.mask) as usize].is_some() {
                id += 1;
                if id - self.next_id > self.mask {
                    self.counters.slots_exhausted += 1;
                    return false;
                }
            }
            let order = &mut self.group[i];
            order.client_id = ClientId(id);
            order.group = GroupId(self.next_group);
            order.group_len = group_len;
            id += 1;
        }
        if !gate(&self.group) {
            self.counters.gate_refusals += 1;
            return false;
        }
        for order in &self.group {
            self.slots[(order.client_id.0 & self.mask) as usize] = Some(Slot {
                id: order.client_id,
                owner,
                side: order.side,
                outcome: reg.asset(order.asset).outcome_index,
                filled: Qty::ZERO,
            });
            out.push(Intent::Place(*order));
        }
        self.counters.intents += self.group.len() as u64;
        self.next_id = id;
        self.next_group += 1;
        true
    }

    /// Cancels the market's live quotes not already being cancelled.
    fn cancel_quotes(&mut self, m: MarketIdx, out: &mut Vec<Intent>) {
        for quote in &mut self.markets[m.0 as usize].quotes {
            if let Some(client_id) = quote.id
                && !quote.cancel_sent
            {
                quote.cancel_sent = true;
                out.push(Intent::Cancel { client_id });
                self.counters.intents += 1;
                self.counters.quote_cancels += 1;
            }
        }
    }

    /// Brings a hedged market's maker quotes to where [`desired_bids`] puts them: cancels what
    /// sits elsewhere, and places the missing sides once no cancel is pending.
    fn update_quotes(
        &mut self,
        m: MarketIdx,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        let state = &self.markets[m.0 as usize];
        if !state.exposure.qty().is_zero() || state.leg_order.is_some() {
            return;
        }
        let target = match desired_bids(ctx.registry, ctx.books, m, &self.params.maker_params) {
            Ok(target) => target,
            Err(skip) => {
                self.counters.maker_skips[skip.index()] += 1;
                self.cancel_quotes(m, out);
                return;
            }
        };
        let assets = &ctx.registry.market(m).assets;
        let quotes = &mut self.markets[m.0 as usize].quotes;
        for (quote, &px) in quotes.iter_mut().zip(&target.px) {
            if let Some(client_id) = quote.id
                && !quote.cancel_sent
                && quote.px != px
            {
                quote.cancel_sent = true;
                out.push(Intent::Cancel { client_id });
                self.counters.intents += 1;
                self.counters.quote_cancels += 1;
            }
        }
        if quotes.iter().any(|q| q.cancel_sent) {
            return;
        }
        self.group.clear();
        for (i, quote) in quotes.iter().enumerate() {
            if quote.id.is_none() {
                self.group.push(PlaceOrder {
                    client_id: ClientId(0),
                    asset: assets[i],
                    side: Side::Buy,
                    limit_px: target.px[i],
                    size: target.size,
                    tif: Tif::Gtc,
                    post_only: true,
                    group: GroupId(0),
                    group_len: 0,
                });
            }
        }
        if self.group.is_empty() || !self.submit(Owner::Quote(m), ctx.registry, gate, out) {
            return;
        }
        for i in 0..self.group.len() {
            let order = self.group[i];
            let outcome = ctx.registry.asset(order.asset).outcome_index;
            self.markets[m.0 as usize].quotes[usize::from(outcome)] = Quote {
                id: Some(order.client_id),
                px: order.limit_px,
                cancel_sent: false,
            };
        }
        self.counters.quotes_placed += self.group.len() as u64;
    }

    /// Applies the leg policy to an unhedged market with no taker group or leg order in flight.
    fn run_leg_policy(
        &mut self,
        m: MarketIdx,
        ctx: &EvalContext,
        gate: &mut dyn FnMut(&[PlaceOrder]) -> bool,
        out: &mut Vec<Intent>,
    ) {
        let state = &self.markets[m.0 as usize];
        if state.exposure.qty().is_zero()
            || state.leg_order.is_some()
            || state.taker.outstanding > 0
        {
            return;
        }
        let action = leg_action(
            ctx.registry,
            ctx.books,
            m,
            &state.exposure,
            &self.params.maker_params,
            ctx.now_ms,
        );
        let (asset, side, px, qty) = match action {
            LegAction::Hold => return,
            LegAction::Take { asset, px, qty } => (asset, Side::Buy, px, qty),
            LegAction::Unwind { asset, px, qty } => (asset, Side::Sell, px, qty),
        };
        // Our own quotes go first: an unwind sold at the best bid could otherwise trade with
        // our own resting bid. The leg order waits for their cancels to be done.
        if self.markets[m.0 as usize]
            .quotes
            .iter()
            .any(|q| q.id.is_some())
        {
            self.cancel_quotes(m, out);
            return;
        }
        self.group.clear();
        self.group.push(PlaceOrder {
            client_id: ClientId(0),
            asset,
            side,
            limit_px: px,
            size: qty,
            tif: Tif::Fak,
            post_only: false,
            group: GroupId(0),
            group_len: 0,
        });
        if self.submit(Owner::Leg(m), ctx.registry, gate, out) {
            self.markets[m.0 as usize].leg_order = Some(self.group[0].client_id);
            match side {
                Side::Buy => self.counters.leg_takes += 1,
                Side::Sell => self.counters.leg_unwinds += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fees::FeeSchedule;
    use crate::domain::intents::{Liquidity, VenueReject};
    use crate::domain::markets::{EventSpec, MarketSpec};
    use crate::domain::num::{AssetIdx, Usdc};
    use crate::strategies::pair_arb::maker::tests::{binary, quote};
    use crate::strategies::pair_arb::params::tests::params;

    const M: MarketIdx = MarketIdx(0);
    const YES: AssetIdx = AssetIdx(0);
    const NO: AssetIdx = AssetIdx(1);

    /// The engine with its universe, books, clock and a recording risk gate.
    struct Harness {
        reg: Registry,
        books: BookSet,
        engine: PairArbEngine,
        now: u64,
        gate_open: bool,
        gated: Vec<Vec<PlaceOrder>>,
        /// Resting (GTC) orders placed and not yet terminated, by asset.
        resting: Vec<(ClientId, AssetIdx)>,
        log: Vec<Intent>,
    }

    impl Harness {
        fn new(reg: Registry, params: PairArbParams) -> Harness {
            let books = BookSet::new(&reg);
            let engine = PairArbEngine::new(&reg, params);
            Harness {
                reg,
                books,
                engine,
                now: 1,
                gate_open: true,
                gated: Vec::new(),
                resting: Vec::new(),
                log: Vec::new(),
            }
        }

        fn book(&mut self, asset: AssetIdx, bid: u16, ask: u16) {
            quote(&mut self.books, asset, self.now, bid, ask);
        }

        fn end(&mut self, touched: &[MarketIdx]) -> Vec<Intent> {
            let mut out = Vec::new();
            let ctx = EvalContext {
                registry: &self.reg,
                books: &self.books,
                now_ms: self.now,
            };
            let (open, gated) = (self.gate_open, &mut self.gated);
            let mut gate = |legs: &[PlaceOrder]| {
                gated.push(legs.to_vec());
                open
            };
            self.engine
                .on_message_end(&ctx, touched, &mut gate, &mut out);
            self.track(&out);
            out
        }

        fn report(&mut self, client_id: ClientId, kind: ExecKind) -> Vec<Intent> {
            let mut out = Vec::new();
            let ctx = EvalContext {
                registry: &self.reg,
                books: &self.books,
                now_ms: self.now,
            };
            let (open, gated) = (self.gate_open, &mut self.gated);
            let mut gate = |legs: &[PlaceOrder]| {
                gated.push(legs.to_vec());
                open
            };
            let report = ExecReport {
                client_id,
                ts_ms: self.now,
                kind,
            };
            self.engine.on_report(&report, &ctx, &mut gate, &mut out);
            if matches!(kind, ExecKind::Done | ExecKind::Rejected { .. }) {
                self.resting.retain(|(id, _)| *id != client_id);
            }
            self.track(&out);
            out
        }

        fn fill(&mut self, client_id: ClientId, px: u16, shares: u64) -> Vec<Intent> {
            let kind = ExecKind::Fill {
                px: Px(px),
                qty: Qty::from_shares(shares),
                fee: Usdc::ZERO,
                liquidity: Liquidity::Maker,
            };
            self.report(client_id, kind)
        }

        /// Records resting orders and checks that no asset ever has two.
        fn track(&mut self, out: &[Intent]) {
            for intent in out {
                if let Intent::Place(o) = intent
                    && o.tif == Tif::Gtc
                {
                    self.resting.push((o.client_id, o.asset));
                }
            }
            for (i, (_, a)) in self.resting.iter().enumerate() {
                assert!(
                    !self.resting[i + 1..].iter().any(|(_, b)| b == a),
                    "two live quotes on {a:?}: {:?}",
                    self.resting
                );
            }
            self.log.extend_from_slice(out);
        }
    }

    fn places(out: &[Intent]) -> Vec<PlaceOrder> {
        out.iter()
            .filter_map(|i| match i {
                Intent::Place(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    fn cancels(out: &[Intent]) -> Vec<ClientId> {
        out.iter()
            .filter_map(|i| match i {
                Intent::Cancel { client_id } => Some(*client_id),
                _ => None,
            })
            .collect()
    }

    fn taker_only() -> Harness {
        Harness::new(binary(FeeSchedule::FREE), params())
    }

    fn maker_only(fees: FeeSchedule) -> Harness {
        let mut p = params();
        p.taker = false;
        p.maker = true;
        Harness::new(binary(fees), p)
    }

    /// Asks of 0.45 and 0.50 (100 shares each): buying both pays 0.05 a pair.
    fn buy_both_books(h: &mut Harness) {
        h.book(YES, 4000, 4500);
        h.book(NO, 4500, 5000);
    }

    #[test]
    fn fires_one_taker_group_for_a_touched_market_at_the_message_end() {
        let mut h = taker_only();
        buy_both_books(&mut h);
        assert!(h.end(&[]).is_empty(), "nothing touched, nothing evaluated");
        assert_eq!(h.engine.counters().evaluations, 0);
        let out = h.end(&[M, M]);
        let mut legs = Vec::new();
        let math = params().math;
        let opportunity = binary_buy_both(&h.reg, &h.books, M, &math, &mut legs)
            .unwrap()
            .unwrap();
        let placed = places(&out);
        assert_eq!(placed.len(), 2);
        assert_eq!(out.len(), 2);
        assert_eq!(
            h.gated,
            vec![placed.clone()],
            "the gate saw the whole group"
        );
        for (order, leg) in placed.iter().zip(&legs) {
            assert_eq!((order.asset, order.side), (leg.asset, Side::Buy));
            assert_eq!(order.limit_px, leg.limit_px);
            assert_eq!(order.size, opportunity.size);
            assert_eq!(order.tif, Tif::Fok);
            assert!(!order.post_only);
            assert_eq!((order.group, order.group_len), (placed[0].group, 2));
        }
        assert_eq!(placed[0].limit_px, Px(4500));
        assert_eq!(placed[1].limit_px, Px(5000));
        assert_ne!(placed[0].client_id, placed[1].client_id);
        let c = h.engine.counters();
        // Touched twice, evaluated once: buy both, and sell both finds no inventory.
        assert_eq!((c.evaluations, c.opportunities, c.intents), (1, 1, 2));
        assert_eq!(c.no_inventory, 1);
    }

    #[test]
    fn no_second_fire_while_in_flight_or_cooling_down_then_fires_again() {
        let mut h = taker_only();
        buy_both_books(&mut h);
        let first = places(&h.end(&[M]));
        h.now = 10;
        assert!(h.end(&[M]).is_empty());
        assert_eq!(h.engine.counters().in_flight_blocks, 1);
        h.report(first[0].client_id, ExecKind::Accepted);
        h.report(first[0].client_id, ExecKind::Done);
        assert!(h.end(&[M]).is_empty(), "one leg still in flight");
        assert_eq!(h.engine.counters().in_flight_blocks, 2);
        let rejected = ExecKind::Rejected {
            reason: VenueReject::Other,
        };
        assert!(h.report(first[1].client_id, rejected).is_empty());
        h.now = 1 + params().cooldown_ms - 1;
        assert!(h.end(&[M]).is_empty());
        assert_eq!(h.engine.counters().cooldown_blocks, 1);
        h.now = 1 + params().cooldown_ms;
        let again = places(&h.end(&[M]));
        assert_eq!(again.len(), 2);
        assert!(again[0].client_id > first[1].client_id);
        assert_ne!(again[0].group, first[0].group);
        assert_eq!(h.engine.counters().opportunities, 5);
    }

    #[test]
    fn a_refused_group_emits_nothing_and_holds_nothing() {
        let mut h = taker_only();
        buy_both_books(&mut h);
        h.gate_open = false;
        assert!(h.end(&[M]).is_empty());
        assert_eq!(h.engine.counters().gate_refusals, 1);
        assert_eq!(h.gated.len(), 1);
        h.gate_open = true;
        let placed = places(&h.end(&[M]));
        assert_eq!(placed.len(), 2, "no cool-down or in-flight left behind");
        assert_eq!(
            placed[0].client_id,
            ClientId(1),
            "refused ids are not spent"
        );
    }

    #[test]
    fn a_stale_book_emits_nothing_and_counts_the_skip() {
        let mut p = params();
        p.maker = true;
        let mut h = Harness::new(binary(FeeSchedule::FREE), p);
        h.book(YES, 4000, 4500);
        assert!(h.end(&[M]).is_empty());
        let c = h.engine.counters();
        assert_eq!(c.skipped_by_reason[Skip::StaleBook.index()], 1);
        assert_eq!(c.maker_skips[MakerSkip::StaleBook.index()], 1);
        assert!(h.gated.is_empty());
    }

    /// Three neg-risk markets forming one event whose YES asks sum to 0.90.
    fn event(augmented: bool) -> Harness {
        let mut reg = Registry::default();
        let markets: Vec<MarketIdx> = (0..3u32)
            .map(|i| {
                reg.add_market(MarketSpec {
                    condition_id: format!("0x{i}"),
                    token_ids: vec![format!("{}", 2 * i + 1), format!("{}", 2 * i + 2)],
                    neg_risk: true,
                    min_order_size: Qty::from_shares(5),
                    ..MarketSpec::default()
                })
                .unwrap()
            })
            .collect();
        reg.add_event(EventSpec {
            id: "e".into(),
            neg_risk_market_id: "0xe".into(),
            augmented,
            markets,
        })
        .unwrap();
        let mut h = Harness::new(reg, params());
        for i in 0..3u32 {
            h.book(AssetIdx(2 * i), 2800, 3000);
            h.book(AssetIdx(2 * i + 1), 6900, 7200);
        }
        h
    }

    #[test]
    fn sums_fire_once_per_event_and_never_on_an_augmented_one() {
        let mut h = event(false);
        let out = h.end(&[MarketIdx(2), MarketIdx(0), MarketIdx(1)]);
        let placed = places(&out);
        assert_eq!(placed.len(), 3, "one YES-sum group over the event: {out:?}");
        assert!(
            placed
                .iter()
                .all(|o| o.group_len == 3 && o.side == Side::Buy)
        );
        assert_eq!(
            placed.iter().map(|o| o.asset).collect::<Vec<_>>(),
            [AssetIdx(0), AssetIdx(2), AssetIdx(4)]
        );
        let mut h = event(true);
        assert!(h.end(&[MarketIdx(0), MarketIdx(1)]).is_empty());
        let c = h.engine.counters();
        assert_eq!(c.skipped_by_reason[Skip::Augmented.index()], 2);
        assert_eq!(c.opportunities, 0);
    }

    #[test]
    fn sells_pairs_only_out_of_inventory() {
        let mut h = taker_only();
        // Bids of 0.55 and 0.50: selling a pair yields 1.05 against the split's 1.
        h.book(YES, 5500, 5600);
        h.book(NO, 5000, 5100);
        assert!(h.end(&[M]).is_empty());
        assert_eq!(h.engine.counters().no_inventory, 1);
        h.engine.set_inventory(M, Qty(7_505_000));
        let placed = places(&h.end(&[M]));
        assert_eq!(placed.len(), 2);
        assert!(placed.iter().all(|o| o.side == Side::Sell));
        assert_eq!(placed[0].size, Qty(7_500_000), "inventory, lot-floored");
    }

    #[test]
    fn maker_quotes_join_the_bids_under_the_sum_rule() {
        for (fees, expected) in [
            (FeeSchedule::FREE, [Px(5000), Px(4900)]),
            (
                FeeSchedule {
                    rate_ppm: 30_000,
                    exponent: 1,
                    taker_only: false,
                },
                [Px(4800), Px(4900)],
            ),
        ] {
            let mut h = maker_only(fees);
            h.book(YES, 5000, 5300);
            h.book(NO, 4900, 5000);
            let placed = places(&h.end(&[M]));
            assert_eq!(placed.len(), 2);
            assert_eq!([placed[0].limit_px, placed[1].limit_px], expected);
            for o in &placed {
                assert_eq!((o.side, o.tif, o.post_only), (Side::Buy, Tif::Gtc, true));
                assert_eq!((o.size, o.group_len), (Qty::from_shares(10), 2));
            }
            assert!(h.end(&[M]).is_empty(), "quotes in place: nothing to do");
        }
    }

    /// A maker harness with both quotes resting at 0.45 / 0.44 (10 shares).
    fn quoting() -> (Harness, [ClientId; 2]) {
        let mut h = maker_only(FeeSchedule::FREE);
        h.book(YES, 4500, 4700);
        h.book(NO, 4400, 4600);
        let placed = places(&h.end(&[M]));
        for o in &placed {
            h.report(o.client_id, ExecKind::Accepted);
        }
        (h, [placed[0].client_id, placed[1].client_id])
    }

    #[test]
    fn a_book_move_cancels_first_and_requotes_after_the_done() {
        let (mut h, [yes, no]) = quoting();
        h.now = 2;
        h.book(YES, 4600, 4700);
        let out = h.end(&[M]);
        assert_eq!(out, vec![Intent::Cancel { client_id: yes }]);
        assert!(h.end(&[M]).is_empty(), "the cancel is pending");
        let out = h.report(yes, ExecKind::Done);
        let placed = places(&out);
        assert_eq!(placed.len(), 1);
        assert_eq!((placed[0].asset, placed[0].limit_px), (YES, Px(4600)));
        assert_eq!(placed[0].group_len, 1);
        // A stale book pulls both quotes; nothing returns until it is fresh again.
        h.report(placed[0].client_id, ExecKind::Accepted);
        h.books = BookSet::new(&h.reg);
        let out = h.end(&[M]);
        assert_eq!(cancels(&out), vec![placed[0].client_id, no]);
        assert!(h.report(no, ExecKind::Done).is_empty());
        assert!(h.report(placed[0].client_id, ExecKind::Done).is_empty());
        assert_eq!(h.engine.counters().quote_cancels, 3);
    }

    #[test]
    fn a_one_sided_fill_takes_the_missing_leg_while_the_edge_holds() {
        let (mut h, [yes, no]) = quoting();
        // YES filled at 0.45; NO asks 0.46: 1 − 0.45 − 0.46 leaves 0.09 a share.
        let out = h.fill(yes, 4500, 10);
        assert!(places(&out).is_empty(), "our quotes are pulled first");
        assert_eq!(cancels(&out), vec![yes, no]);
        assert!(
            places(&h.report(yes, ExecKind::Done)).is_empty(),
            "NO still rests"
        );
        let placed = places(&h.report(no, ExecKind::Done));
        assert_eq!(placed.len(), 1);
        let take = placed[0];
        assert_eq!((take.asset, take.side, take.tif), (NO, Side::Buy, Tif::Fak));
        assert_eq!((take.limit_px, take.size), (Px(4600), Qty::from_shares(10)));
        assert_eq!(h.engine.counters().leg_takes, 1);
        h.fill(take.client_id, 4600, 10);
        assert_eq!(h.engine.counters().pairs_completed, Qty::from_shares(10));
        let requote = places(&h.report(take.client_id, ExecKind::Done));
        assert_eq!(requote.len(), 2, "hedged and flat again: quote both sides");
    }

    #[test]
    fn an_unprofitable_leg_is_held_then_unwound_after_the_timeout() {
        let mut p = params();
        p.taker = false;
        p.maker = true;
        p.maker_params.min_leg_edge = Usdc(100_000);
        let timeout = p.maker_params.leg_timeout_ms;
        let mut h = Harness::new(binary(FeeSchedule::FREE), p);
        h.book(YES, 4500, 4700);
        h.book(NO, 4400, 4600);
        let placed = places(&h.end(&[M]));
        let (yes, no) = (placed[0].client_id, placed[1].client_id);
        h.now = 100;
        assert!(h.fill(yes, 4500, 6).is_empty(), "hold: the NO quote rests");
        h.now = 100 + timeout - 1;
        assert!(h.end(&[]).is_empty());
        h.now = 100 + timeout;
        let out = h.end(&[]);
        assert!(places(&out).is_empty(), "our quotes are pulled first");
        assert_eq!(cancels(&out), vec![yes, no]);
        assert!(places(&h.report(yes, ExecKind::Done)).is_empty());
        let unwind = places(&h.report(no, ExecKind::Done));
        assert_eq!(unwind.len(), 1);
        assert_eq!((unwind[0].asset, unwind[0].side), (YES, Side::Sell));
        assert_eq!(
            (unwind[0].limit_px, unwind[0].size),
            (Px(4500), Qty::from_shares(6))
        );
        assert!(h.end(&[]).is_empty(), "one leg order at a time");
        assert_eq!(h.engine.counters().leg_unwinds, 1);
    }

    #[test]
    fn a_small_leg_is_held_past_the_timeout() {
        let mut p = params();
        p.taker = false;
        p.maker = true;
        p.maker_params.min_leg_edge = Usdc(100_000);
        p.maker_params.max_unhedged = Qty::from_shares(6);
        let mut h = Harness::new(binary(FeeSchedule::FREE), p);
        h.book(YES, 4500, 4700);
        h.book(NO, 4400, 4600);
        let placed = places(&h.end(&[M]));
        h.fill(placed[0].client_id, 4500, 6);
        h.now = 1_000_000;
        assert!(h.end(&[M]).is_empty());
    }

    #[test]
    fn a_half_filled_taker_group_hands_its_leg_to_the_policy_once_done() {
        let mut h = taker_only();
        buy_both_books(&mut h);
        let group = places(&h.end(&[M]));
        let kind = ExecKind::Fill {
            px: Px(4500),
            qty: Qty::from_shares(8),
            fee: Usdc::ZERO,
            liquidity: Liquidity::Taker,
        };
        assert!(
            h.report(group[0].client_id, kind).is_empty(),
            "group in flight"
        );
        assert!(h.report(group[0].client_id, ExecKind::Done).is_empty());
        let out = h.report(group[1].client_id, ExecKind::Done);
        let take = places(&out);
        assert_eq!(take.len(), 1);
        assert_eq!((take[0].asset, take[0].side), (NO, Side::Buy));
        assert_eq!(
            (take[0].limit_px, take[0].size),
            (Px(5000), Qty::from_shares(8))
        );
    }

    #[test]
    fn a_halt_forgets_everything_until_resumed() {
        let (mut h, [yes, _]) = quoting();
        h.engine.on_halt();
        h.resting.clear();
        h.now = 2;
        h.book(YES, 4600, 4700);
        assert!(h.end(&[M]).is_empty());
        assert!(h.fill(yes, 4500, 10).is_empty());
        assert_eq!(h.engine.counters().unknown_reports, 1);
        h.engine.resume();
        let placed = places(&h.end(&[M]));
        assert_eq!(placed.len(), 2);
        assert!(placed[0].client_id > yes);
    }

    #[test]
    fn the_same_inputs_give_the_same_intents() {
        let run = || {
            let mut p = params();
            p.maker = true;
            let mut h = Harness::new(binary(FeeSchedule::FREE), p);
            buy_both_books(&mut h);
            let first = places(&h.end(&[M]));
            for o in &first {
                h.report(o.client_id, ExecKind::Accepted);
            }
            h.fill(first[0].client_id, 4500, 3);
            h.now = 50;
            h.book(NO, 4600, 4800);
            h.end(&[M]);
            for o in &first {
                h.report(o.client_id, ExecKind::Done);
            }
            h.now = 5_000;
            h.end(&[M]);
            (h.log, *h.engine.counters())
        };
        let (log, counters) = run();
        assert!(log.len() > 4, "{log:?}");
        assert_eq!(run(), (log, counters));
    }
}
