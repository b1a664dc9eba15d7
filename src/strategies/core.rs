//! The deterministic core: applies events and execution reports, runs the strategies at message
//! boundaries and passes every order they want through the risk gate.
//!
//! `Core::on_event`, `Core::on_report` and `Core::on_command` are the only entry points. The core
//! never reads a clock, a socket, the environment or a random source: time arrives on events and
//! reports, so the same inputs always give the same intents and the same state hash.

use std::sync::Arc;

use xxhash_rust::xxh3::Xxh3;

use crate::domain::books::{BookCounters, BookSet};
use crate::domain::events::{Event, EventBody};
use crate::domain::intents::{ExecKind, ExecReport, Intent, MarketChange, PlaceOrder};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, MarketIdx, Qty};
use crate::domain::orders::Orders;
use crate::domain::positions::Positions;
use crate::domain::risk::{Risk, RiskContext, RiskLimits};
use crate::strategies::pair_arb::engine::{EngineCounters, EvalContext, PairArbEngine};
use crate::strategies::pair_arb::params::PairArbParams;

/// What the core asks of the world after an input. Buffers are preallocated and reused.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Assets whose books must be resynchronised from the venue.
    pub resync: Vec<AssetIdx>,
    /// Orders to send, cancel, or a halt, in the order they were decided.
    pub intents: Vec<Intent>,
}

/// Intents one input can produce without the outbox growing: a few groups of legs and cancels.
const INTENTS_PER_INPUT: usize = 256;

impl Outbox {
    /// An outbox sized for `assets` so that pushing never allocates.
    pub fn with_capacity(assets: usize) -> Outbox {
        Outbox {
            resync: Vec::with_capacity(assets),
            intents: Vec::with_capacity(INTENTS_PER_INPUT.max(4 * assets)),
        }
    }

    /// Empties every buffer, keeping capacity.
    pub fn clear(&mut self) {
        self.resync.clear();
        self.intents.clear();
    }
}

/// An operator's instruction to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Halt now: cancel everything and stop placing orders.
    Kill,
    /// Clear a halt and resume trading.
    ClearHalt,
    /// A graceful stop begins: place nothing new (reports and cancels still flow), so the
    /// execution side's closing cancel-all leaves nothing behind. Not a halt; never cleared.
    WindDown,
}

/// Counters kept by the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Events seen.
    pub events: u64,
    /// Message boundaries seen.
    pub messages: u64,
    /// Message boundaries that touched at least one fresh book (strategies ran).
    pub evaluations: u64,
    /// Markets the venue announced that this run does not trade.
    pub new_markets: u64,
    /// Execution reports applied.
    pub reports: u64,
    /// Fee schedule changes applied.
    pub fee_changes: u64,
    /// Fee schedules the exact arithmetic cannot hold: the market is suspended (fail closed).
    pub bad_fee_changes: u64,
}

/// What the core trades with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreParams {
    /// Pair and neg-risk arbitrage.
    pub pair_arb: PairArbParams,
    /// The risk gate's limits.
    pub risk: RiskLimits,
}

/// Orders the core can track at once; far above any sane `risk.max_open_orders`.
const ORDER_SLOTS: usize = 4096;

/// What the strategies and the risk gate read: the universe, the books, orders, positions and
/// the core's clock.
struct Ledger {
    /// The core's own copy: venue changes (fees) are applied to it in event order.
    registry: Registry,
    books: BookSet,
    orders: Orders,
    positions: Positions,
    /// The latest venue or execution time seen, Unix milliseconds: the core's only clock.
    now_ms: u64,
}

impl Ledger {
    fn risk(&self) -> RiskContext<'_> {
        RiskContext {
            registry: &self.registry,
            books: &self.books,
            orders: &self.orders,
            positions: &self.positions,
            now_ms: self.now_ms,
        }
    }

    /// Complete Yes+No pairs held in a binary market.
    fn pairs_held(&self, market: MarketIdx) -> Qty {
        match self.registry.market(market).assets[..] {
            [yes, no] => self.positions.shares(yes).min(self.positions.shares(no)),
            _ => Qty::ZERO,
        }
    }
}

/// The strategy thread's state machine.
pub struct Core {
    ledger: Ledger,
    /// Assets touched by the message being applied, each once.
    touched: Vec<AssetIdx>,
    touched_flag: Vec<bool>,
    /// Markets of the touched assets, each once, ascending.
    markets: Vec<MarketIdx>,
    market_flag: Vec<bool>,
    engine: PairArbEngine,
    risk: Risk,
    counters: CoreCounters,
    /// Set by [`Command::WindDown`]: the gate refuses every new group.
    winding_down: bool,
}

impl Core {
    /// A core for a fixed universe (it keeps its own copy of the registry, to apply venue
    /// changes such as fees in event order); every allocation it will need is made here.
    pub fn new(registry: Arc<Registry>, params: CoreParams) -> Core {
        let n = registry.asset_count();
        let m = registry.markets().len();
        Core {
            touched: Vec::with_capacity(n),
            touched_flag: vec![false; n],
            markets: Vec::with_capacity(m),
            market_flag: vec![false; m],
            engine: PairArbEngine::new(&registry, params.pair_arb),
            risk: Risk::with_markets(params.risk, m),
            counters: CoreCounters::default(),
            winding_down: false,
            ledger: Ledger {
                books: BookSet::new(&registry),
                orders: Orders::with_capacity(ORDER_SLOTS),
                positions: Positions::new(&registry),
                now_ms: 0,
                registry: Registry::clone(&registry),
            },
        }
    }

    /// Applies one event; at a message boundary, runs the strategies on the touched books.
    #[inline]
    pub fn on_event(&mut self, event: &Event, out: &mut Outbox) {
        self.counters.events += 1;
        self.ledger.now_ms = self.ledger.now_ms.max(event.venue_ts_ms);
        match event.body {
            EventBody::MessageEnd => self.end_message(out),
            EventBody::NewMarket => self.counters.new_markets += 1,
            EventBody::FeeChange { market, fees } => {
                let registry = &mut self.ledger.registry;
                if registry.set_fees(market, fees).is_ok() {
                    self.counters.fee_changes += 1;
                    out.intents.push(Intent::MarketChanged {
                        market,
                        change: MarketChange::Fees(fees),
                    });
                } else {
                    registry.suspend(market);
                    self.counters.bad_fee_changes += 1;
                }
            }
            EventBody::TickSize { asset, tick } => {
                let before = self.ledger.books.book(asset).tick();
                self.apply_to_book(event, out);
                if before != tick && self.ledger.books.book(asset).tick() == tick {
                    let market = self.ledger.registry.asset(asset).market;
                    out.intents.push(Intent::MarketChanged {
                        market,
                        change: MarketChange::Tick(tick),
                    });
                }
            }
            _ => self.apply_to_book(event, out),
        }
    }

    /// Applies a book event and remembers the asset as touched by the current message.
    fn apply_to_book(&mut self, event: &Event, out: &mut Outbox) {
        if let Some(asset) = self.ledger.books.apply(event, &mut out.resync) {
            let flag = &mut self.touched_flag[asset.0 as usize];
            if !*flag {
                *flag = true;
                self.touched.push(asset);
            }
        }
    }

    fn end_message(&mut self, out: &mut Outbox) {
        self.counters.messages += 1;
        let ledger = &mut self.ledger;
        ledger.books.end_message(&self.touched, &mut out.resync);
        for &asset in &self.touched {
            let market = ledger.registry.asset(asset).market;
            let flag = &mut self.market_flag[market.0 as usize];
            if !*flag {
                *flag = true;
                self.markets.push(market);
            }
        }
        if self
            .touched
            .iter()
            .any(|&a| !ledger.books.book(a).is_stale())
        {
            self.counters.evaluations += 1;
            self.markets.sort_unstable();
            self.check_risk(out);
            let markets = std::mem::take(&mut self.markets);
            self.run_engine(out, |engine, ctx, gate, intents| {
                engine.on_message_end(ctx, &markets, gate, intents);
            });
            self.markets = markets;
        }
        for asset in self.touched.drain(..) {
            self.touched_flag[asset.0 as usize] = false;
        }
        for market in self.markets.drain(..) {
            self.market_flag[market.0 as usize] = false;
        }
    }

    /// Applies one execution report: order state, positions, risk, then the strategy's reaction.
    pub fn on_report(&mut self, report: &ExecReport, out: &mut Outbox) {
        self.counters.reports += 1;
        let ledger = &mut self.ledger;
        ledger.now_ms = ledger.now_ms.max(report.ts_ms);
        let first = out.intents.len();
        let filled = match (ledger.orders.on_report(report), report.kind) {
            (Some(order), ExecKind::Fill { px, qty, fee, .. }) => {
                let (asset, side, market) = (order.asset, order.side, order.market);
                ledger.positions.on_fill(asset, side, px, qty, fee);
                Some(market)
            }
            (Some(order), ExecKind::FillReversed { px, qty, fee, .. }) => {
                let (asset, side, market) = (order.asset, order.side, order.market);
                ledger.positions.on_fill_reversed(asset, side, px, qty, fee);
                Some(market)
            }
            _ => None,
        };
        if let Some(market) = filled {
            self.engine.set_inventory(market, ledger.pairs_held(market));
        }
        self.risk
            .on_report(report, &self.ledger.risk(), &mut out.intents);
        self.after_halts(&out.intents[first..]);
        self.check_risk(out);
        self.run_engine(out, |engine, ctx, gate, intents| {
            engine.on_report(report, ctx, gate, intents);
        });
    }

    /// Runs one engine step behind the risk gate. A group the gate passes enters the order table
    /// at once (the engine sends exactly the legs the gate saw), so the next group of the same
    /// step is checked against it.
    fn run_engine(
        &mut self,
        out: &mut Outbox,
        step: impl FnOnce(
            &mut PairArbEngine,
            &EvalContext,
            &mut dyn FnMut(&[PlaceOrder]) -> bool,
            &mut Vec<Intent>,
        ),
    ) {
        let Ledger {
            registry,
            books,
            orders,
            positions,
            now_ms,
        } = &mut self.ledger;
        let (registry, books, positions, now_ms) = (&*registry, &*books, &*positions, *now_ms);
        let risk = &mut self.risk;
        let winding_down = self.winding_down;
        let mut gate = |legs: &[PlaceOrder]| {
            if winding_down {
                return false;
            }
            let ctx = RiskContext {
                registry,
                books,
                orders,
                positions,
                now_ms,
            };
            let passed = risk.check_group(legs, &ctx).is_ok();
            if passed {
                for leg in legs {
                    orders.on_place(leg, registry.asset(leg.asset).market, now_ms);
                }
            }
            passed
        };
        let ctx = EvalContext {
            registry,
            books,
            now_ms,
        };
        step(&mut self.engine, &ctx, &mut gate, &mut out.intents);
    }

    /// Applies an operator command.
    pub fn on_command(&mut self, command: Command, out: &mut Outbox) {
        match command {
            Command::Kill => {
                let first = out.intents.len();
                self.risk.kill(&mut out.intents);
                self.after_halts(&out.intents[first..]);
            }
            Command::ClearHalt => {
                self.risk.clear_halt();
                self.engine.resume();
            }
            Command::WindDown => self.winding_down = true,
        }
    }

    /// Time-driven limits (loss, unhedged age and size): a breach halts before anything trades.
    fn check_risk(&mut self, out: &mut Outbox) {
        let first = out.intents.len();
        self.risk.on_time(&self.ledger.risk(), &mut out.intents);
        self.after_halts(&out.intents[first..]);
    }

    fn after_halts(&mut self, intents: &[Intent]) {
        if intents.iter().any(|i| matches!(i, Intent::Halt { .. })) {
            self.engine.on_halt();
        }
    }

    /// The core's clock: the latest venue or execution time it has seen, Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.ledger.now_ms
    }

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.ledger.books
    }

    /// Positions, cash and fees from fills.
    pub fn positions(&self) -> &Positions {
        &self.ledger.positions
    }

    /// Every order sent and its state.
    pub fn orders(&self) -> &Orders {
        &self.ledger.orders
    }

    /// The risk gate.
    pub fn risk(&self) -> &Risk {
        &self.risk
    }

    /// The pair-arbitrage engine's counters.
    pub fn strategy_counters(&self) -> &EngineCounters {
        self.engine.counters()
    }

    /// The core's counters.
    pub fn counters(&self) -> &CoreCounters {
        &self.counters
    }

    /// The book set's counters.
    pub fn book_counters(&self) -> &BookCounters {
        self.ledger.books.counters()
    }

    /// The registry the core trades.
    pub fn registry(&self) -> &Registry {
        &self.ledger.registry
    }

    /// A hash of the core's state: books and their trust flags, positions and cash, open orders,
    /// halts and the strategy's counters. Identical runs give identical hashes.
    pub fn state_hash(&self) -> u64 {
        let mut h = Xxh3::new();
        let ledger = &self.ledger;
        ledger.books.digest_into(&mut h);
        for (asset, _) in ledger.registry.assets() {
            h.update(&ledger.positions.shares(asset).0.to_le_bytes());
        }
        h.update(&ledger.positions.cash().0.to_le_bytes());
        h.update(&ledger.positions.fees().0.to_le_bytes());
        for order in ledger.orders.open() {
            h.update(&order.client_id.0.to_le_bytes());
            h.update(&order.filled.0.to_le_bytes());
        }
        h.update(&self.risk.halts().to_le_bytes());
        let c = self.engine.counters();
        for v in [c.evaluations, c.opportunities, c.intents] {
            h.update(&v.to_le_bytes());
        }
        h.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intents::{ClientId, HaltReason, Liquidity, Tif};
    use crate::domain::num::{Px, Qty, Side, Usdc};
    use crate::strategies::pair_arb::math::MathParams;
    use crate::strategies::pair_arb::params::MakerParams;

    use crate::domain::markets::two_outcome_registry;

    const YES: AssetIdx = AssetIdx(0);
    const NO: AssetIdx = AssetIdx(1);

    fn params() -> CoreParams {
        CoreParams {
            pair_arb: PairArbParams {
                taker: true,
                maker: false,
                math: MathParams {
                    margin_per_set: Usdc(2_000),
                    max_sets: Qty::from_shares(100),
                    min_edge: Usdc(0),
                },
                taker_tif: Tif::Fok,
                cooldown_ms: 0,
                maker_params: MakerParams {
                    quote_size: Qty::from_shares(10),
                    margin_per_pair: Usdc(10_000),
                    leg_timeout_ms: 5_000,
                    min_leg_edge: Usdc(0),
                    max_unhedged: Qty::ZERO,
                },
            },
            risk: RiskLimits {
                max_notional_per_market: Usdc(1_000 * Usdc::ONE),
                max_notional_per_event: Usdc(1_000 * Usdc::ONE),
                max_open_orders: 16,
                max_unhedged_shares: Qty::from_shares(100),
                max_unhedged_age_ms: 60_000,
                daily_loss_limit: Usdc(100 * Usdc::ONE),
                max_book_age_ms: 60_000,
                orders_per_window: 100,
                window_ms: 1_000,
                max_consecutive_rejects: 5,
            },
        }
    }

    fn core() -> Core {
        Core::new(Arc::new(two_outcome_registry()), params())
    }

    fn level(ts: u64, asset: AssetIdx, side: Side, px: u16, shares: u64) -> Event {
        Event::new(
            ts,
            EventBody::Level {
                asset,
                side,
                px: Px(px),
                qty: Qty::from_shares(shares),
            },
        )
    }

    /// YES 0.30 / 0.45, NO 0.50 / 0.60: asks sum to 1.05, nothing to take.
    fn snapshots(ts: u64) -> Vec<Event> {
        let mut events = Vec::new();
        for (asset, bid, ask) in [(YES, 3000, 4500), (NO, 5000, 6000)] {
            events.push(Event::new(ts, EventBody::BookSnapshot { asset }));
            events.push(level(ts, asset, Side::Buy, bid, 100));
            events.push(level(ts, asset, Side::Sell, ask, 100));
            events.push(Event::new(ts, EventBody::MessageEnd));
        }
        events
    }

    /// A YES ask at 0.38 for 20 shares: 0.38 + 0.60 = 0.98 per pair.
    fn window(ts: u64) -> [Event; 2] {
        [
            level(ts, YES, Side::Sell, 3800, 20),
            Event::new(ts, EventBody::MessageEnd),
        ]
    }

    fn feed(core: &mut Core, events: &[Event]) -> Vec<Intent> {
        let mut out = Outbox::with_capacity(2);
        let mut intents = Vec::new();
        for e in events {
            core.on_event(e, &mut out);
            intents.append(&mut out.intents);
        }
        intents
    }

    fn report(core: &mut Core, client_id: ClientId, ts_ms: u64, kind: ExecKind) -> Vec<Intent> {
        let mut out = Outbox::with_capacity(2);
        core.on_report(
            &ExecReport {
                client_id,
                ts_ms,
                kind,
            },
            &mut out,
        );
        out.intents
    }

    fn places(intents: &[Intent]) -> Vec<PlaceOrder> {
        intents
            .iter()
            .filter_map(|i| match i {
                Intent::Place(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn evaluates_only_at_message_boundaries() {
        let mut core = core();
        let snapshot = snapshots(1);
        assert!(feed(&mut core, &snapshot[..3]).is_empty());
        assert_eq!(core.counters().evaluations, 0, "mid-message: no evaluation");
        assert!(
            core.books().book(YES).is_stale(),
            "half a snapshot is not trusted"
        );
        feed(&mut core, &snapshot[3..4]);
        assert_eq!(core.counters().evaluations, 1);
        assert!(!core.books().book(YES).is_stale());
    }

    #[test]
    fn a_message_touching_only_stale_books_is_not_evaluated() {
        let mut core = core();
        feed(&mut core, &window(1));
        assert_eq!(core.counters().messages, 1);
        assert_eq!(core.counters().evaluations, 0);
    }

    #[test]
    fn an_opportunity_becomes_one_group_of_taker_legs() {
        let mut core = core();
        assert!(feed(&mut core, &snapshots(1)).is_empty(), "no window yet");
        let legs = places(&feed(&mut core, &window(2)));
        assert_eq!(legs.len(), 2, "{legs:?}");
        let yes = legs.iter().find(|o| o.asset == YES).expect("a YES leg");
        let no = legs.iter().find(|o| o.asset == NO).expect("a NO leg");
        assert_eq!((yes.limit_px, no.limit_px), (Px(3800), Px(6000)));
        for leg in &legs {
            assert_eq!(leg.side, Side::Buy);
            assert_eq!(leg.size, Qty::from_shares(20));
            assert_eq!(leg.tif, Tif::Fok);
            assert_eq!((leg.group, leg.group_len), (legs[0].group, 2));
        }
        assert_eq!(core.orders().open_count(), 2);
        assert_eq!(core.strategy_counters().opportunities, 1);
    }

    #[test]
    fn fills_move_positions_and_done_legs_free_the_market() {
        let mut core = core();
        feed(&mut core, &snapshots(1));
        let legs = places(&feed(&mut core, &window(2)));
        assert!(
            places(&feed(&mut core, &window(3))).is_empty(),
            "no second fire while the legs are in flight"
        );
        for leg in &legs {
            report(&mut core, leg.client_id, 4, ExecKind::Accepted);
            let fill = ExecKind::Fill {
                px: leg.limit_px,
                qty: leg.size,
                fee: Usdc::ZERO,
                liquidity: Liquidity::Taker,
            };
            report(&mut core, leg.client_id, 4, fill);
            report(&mut core, leg.client_id, 4, ExecKind::Done);
        }
        assert_eq!(core.orders().open_count(), 0);
        let p = core.positions();
        assert_eq!(
            (p.shares(YES), p.shares(NO)),
            (Qty::from_shares(20), Qty::from_shares(20))
        );
        assert_eq!(p.cash(), Usdc(-19_600_000), "20 × (0.38 + 0.60)");
        assert_eq!(
            places(&feed(&mut core, &window(5))).len(),
            2,
            "the window fires again once the legs are done"
        );
    }

    #[test]
    fn a_group_the_gate_passed_counts_against_the_next_group_of_the_same_message() {
        let mut registry = two_outcome_registry();
        registry
            .add_market(crate::domain::markets::MarketSpec {
                condition_id: "0xbb".into(),
                token_ids: vec!["3".into(), "4".into()],
                min_order_size: Qty::from_shares(5),
                ..Default::default()
            })
            .expect("a valid market");
        let mut p = params();
        p.risk.max_open_orders = 3;
        let mut core = Core::new(Arc::new(registry), p);
        let mut events = snapshots(1);
        for e in snapshots(1) {
            events.push(Event {
                body: match e.body {
                    EventBody::BookSnapshot { asset } => EventBody::BookSnapshot {
                        asset: AssetIdx(asset.0 + 2),
                    },
                    EventBody::Level {
                        asset,
                        side,
                        px,
                        qty,
                    } => EventBody::Level {
                        asset: AssetIdx(asset.0 + 2),
                        side,
                        px,
                        qty,
                    },
                    other => other,
                },
                ..e
            });
        }
        assert!(feed(&mut core, &events).is_empty());
        // One message opens a window in both markets: two groups of two legs, room for three.
        let both = [
            level(2, YES, Side::Sell, 3800, 20),
            level(2, AssetIdx(2), Side::Sell, 3800, 20),
            Event::new(2, EventBody::MessageEnd),
        ];
        let legs = places(&feed(&mut core, &both));
        assert_eq!(legs.len(), 2, "only the first group fits: {legs:?}");
        assert_eq!(core.orders().open_count(), 2);
        assert_eq!(core.strategy_counters().gate_refusals, 1);
    }

    #[test]
    fn a_fee_change_reprices_every_later_decision() {
        use crate::domain::fees::FeeSchedule;
        let change = |ts, fees| {
            Event::new(
                ts,
                EventBody::FeeChange {
                    market: MarketIdx(0),
                    fees,
                },
            )
        };
        let mut core = core();
        feed(&mut core, &snapshots(1));
        // Taker fees of 0.10 × p(1 − p): 0.02356 + 0.024 a pair eat the 0.02 gap.
        let steep = FeeSchedule::parse("0.1", "1", true).unwrap();
        let told = feed(
            &mut core,
            &[change(2, steep), Event::new(2, EventBody::MessageEnd)],
        );
        assert_eq!(
            told,
            [Intent::MarketChanged {
                market: MarketIdx(0),
                change: MarketChange::Fees(steep)
            }],
            "execution hears of it"
        );
        assert_eq!(core.registry().market(MarketIdx(0)).fees, steep);
        assert!(places(&feed(&mut core, &window(3))).is_empty());
        feed(&mut core, &[change(4, FeeSchedule::FREE)]);
        assert_eq!(
            places(&feed(&mut core, &window(5))).len(),
            2,
            "fee-free again"
        );
        assert_eq!(core.counters().fee_changes, 2);

        let mut core = super::tests::core();
        feed(&mut core, &snapshots(1));
        let unusable = FeeSchedule {
            exponent: 3,
            ..steep
        };
        feed(&mut core, &[change(2, unusable)]);
        assert_eq!(core.counters().bad_fee_changes, 1);
        assert!(
            places(&feed(&mut core, &window(3))).is_empty(),
            "unknown fees suspend the market"
        );
    }

    #[test]
    fn the_kill_switch_halts_and_blocks_orders_until_cleared() {
        let mut core = core();
        feed(&mut core, &snapshots(1));
        let mut out = Outbox::with_capacity(2);
        core.on_command(Command::Kill, &mut out);
        assert_eq!(
            out.intents,
            [Intent::Halt {
                reason: HaltReason::KillSwitch
            }]
        );
        assert!(
            places(&feed(&mut core, &window(2))).is_empty(),
            "nothing is placed while halted"
        );
        out.clear();
        core.on_command(Command::ClearHalt, &mut out);
        assert_eq!(places(&feed(&mut core, &window(3))).len(), 2);
        assert_eq!(core.risk().halts(), 1);
    }

    #[test]
    fn same_inputs_give_the_same_intents_and_state_hash() {
        let run = |cut: usize| {
            let mut core = core();
            let mut intents = feed(&mut core, &snapshots(1));
            for ts in 2..12u64 {
                let window = window(ts);
                let new = feed(&mut core, &window);
                for leg in places(&new).iter().take(cut) {
                    intents.extend(report(&mut core, leg.client_id, ts, ExecKind::Accepted));
                    intents.extend(report(&mut core, leg.client_id, ts, ExecKind::Done));
                }
                intents.extend(new);
                intents.extend(feed(
                    &mut core,
                    &[
                        level(ts, NO, Side::Sell, 6000 - ts as u16 * 10, 30),
                        Event::new(ts, EventBody::MessageEnd),
                    ],
                ));
            }
            (intents, core.state_hash())
        };
        let (a, hash_a) = run(2);
        let (b, hash_b) = run(2);
        assert!(!a.is_empty());
        assert_eq!(a, b);
        assert_eq!(hash_a, hash_b);
        let (_, hash_c) = run(1);
        assert_ne!(
            hash_a, hash_c,
            "a different report stream leaves a different state"
        );
    }
}
