//! Strategy evaluation benchmarks (issue 5): one book update that opens an arbitrage window,
//! applied, evaluated and turned into orders.
//!
//! - `pair_eval/pmbot`: a two-outcome market, 10 levels a side. A `Level` that lowers the YES
//!   ask and the `MessageEnd` after it go through `Core::on_event`, which applies, evaluates,
//!   passes the risk gate and pushes 2 `Place` intents.
//! - `pair_eval/rust_decimal_baseline`: the same update and the same algorithm on `rust_decimal`
//!   books (`BTreeMap<Decimal, Decimal>` per side, as typical bots keep them), emitting 2
//!   SDK-style order structs. It runs no risk checks and keeps no order table: only the math.
//! - `negrisk_eval/pmbot`: a 10-market neg-risk event (tick 0.001, 10 levels a side); the update
//!   makes the YES sum cheap and the core pushes 10 `Place` intents.
//! - `timer/quanta_raw`: the timed region left empty: the harness's own cost per round.
//!
//! Only the step is timed (`iter_custom`, quanta raw ticks around it). Each round is then reset
//! outside the timed region: execution reports (`Accepted`, `Done`) clear the in-flight legs, a
//! message puts the level back and re-asserts every book's best ask (keeping them younger than
//! `risk.max_book_age`), the outbox is cleared and the venue time moves on (far enough for the
//! risk gate's order-rate bucket to refill what the step spent). Every batch checks, outside the
//! timed region, that each round placed its legs. Run with `cargo bench --bench strategy`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pmbot::bot::settings::Settings;
use pmbot::domain::events::{Event, EventBody};
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::intents::{ExecKind, ExecReport, Intent, PlaceOrder};
use pmbot::domain::markets::{EventSpec, MarketSpec, Registry};
use pmbot::domain::num::{AssetIdx, MarketIdx, Px, Qty, Side};
use pmbot::strategies::core::{Core, CoreParams, Outbox};
use pmbot::strategies::pair_arb::math::binary_buy_both;
use rust_decimal::{Decimal, RoundingStrategy};

/// A real 77-digit token id; the others are derived from it.
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
/// Venue time of the snapshots, Unix milliseconds.
const START_MS: u64 = 1_764_000_000_000;

/// A book in the venue's units, best first on each side: (price in 1e-4, whole shares).
struct Ladders {
    bids: Vec<(u16, u64)>,
    asks: Vec<(u16, u64)>,
}

/// A universe and its books, in asset order.
struct Universe {
    registry: Arc<Registry>,
    books: Vec<Ladders>,
}

/// The level a step sets on an ask side: it opens the window.
#[derive(Clone, Copy)]
struct Update {
    asset: AssetIdx,
    px: Px,
    qty: Qty,
}

/// The `n`th distinct 77-digit token id.
fn token(n: u32) -> String {
    format!("{}{n:06}", &TOKEN[..71])
}

fn fees() -> FeeSchedule {
    FeeSchedule::parse("0.03", "1", true).expect("a valid fee schedule")
}

fn market(n: u32, tick: Px, neg_risk: bool) -> MarketSpec {
    MarketSpec {
        condition_id: format!("0x{n:064x}"),
        token_ids: vec![token(2 * n), token(2 * n + 1)],
        tick,
        min_order_size: Qty::from_shares(5),
        neg_risk,
        fees: fees(),
        ..MarketSpec::default()
    }
}

/// 10 levels from `best`, `step` apart, `qty(level)` shares each.
fn ladder(best: u16, step: i32, qty: impl Fn(u64) -> u64) -> Vec<(u16, u64)> {
    (0..10)
        .map(|l| {
            let px = i32::from(best) + step * l as i32;
            (u16::try_from(px).expect("a price in range"), qty(l))
        })
        .collect()
}

/// One binary market at tick 0.01: YES 0.39 / 0.46, NO 0.52 / 0.55, so the asks sum to 1.01.
/// The update puts 100 YES at 0.40: pairs cost 0.95 to 0.98 over the first four NO asks
/// (0.9945 with fees at 0.98, under 1 − 0.002), and 0.40 + 0.59 no longer pays.
fn pair_universe() -> (Universe, Update) {
    let mut registry = Registry::default();
    registry
        .add_market(market(0, Px(100), false))
        .expect("a valid market");
    let books = vec![
        Ladders {
            bids: ladder(3900, -100, |l| 30 + 10 * l),
            asks: ladder(4600, 100, |l| 30 + 10 * l),
        },
        Ladders {
            bids: ladder(5200, -100, |l| 30 + 10 * l),
            asks: ladder(5500, 100, |l| 20 + 10 * l),
        },
    ];
    let update = Update {
        asset: AssetIdx(0),
        px: Px(4000),
        qty: Qty::from_shares(100),
    };
    (
        Universe {
            registry: Arc::new(registry),
            books,
        },
        update,
    )
}

/// YES best asks of the event's 10 markets: they sum to exactly 1, which the fees (about 0.025
/// a set) keep from paying.
const EVENT_ASKS: [u16; 10] = [2500, 1800, 1400, 1100, 900, 700, 550, 450, 350, 250];

/// A 10-market neg-risk event at tick 0.001. Each YES book is 0.005 wide, except the first
/// market's (0.18 / 0.25); each NO book mirrors its YES book (NO ask = 1 − YES bid), so no
/// market's YES + NO asks pay. The update puts 150 YES at 0.20 in the first market: the YES sum
/// drops to 0.95 (about 0.975 with fees) and the walk goes a few levels down every leg.
fn negrisk_universe() -> (Universe, Update) {
    let mut registry = Registry::default();
    let markets = (0..EVENT_ASKS.len() as u32)
        .map(|n| {
            registry
                .add_market(market(n, Px(10), true))
                .expect("a valid market")
        })
        .collect();
    registry
        .add_event(EventSpec {
            id: "bench-event".into(),
            neg_risk_market_id: format!("0x{:064x}", 0xe0),
            augmented: false,
            markets,
        })
        .expect("a valid event");
    let mut books = Vec::new();
    for (i, &ask) in EVENT_ASKS.iter().enumerate() {
        let bid = if i == 0 { 1800 } else { ask - 50 };
        let qty = move |l: u64| 20 + 5 * i as u64 + 10 * l;
        books.push(Ladders {
            bids: ladder(bid, -10, qty),
            asks: ladder(ask, 10, qty),
        });
        books.push(Ladders {
            bids: ladder(10_000 - ask, -10, qty),
            asks: ladder(10_000 - bid, 10, qty),
        });
    }
    let update = Update {
        asset: AssetIdx(0),
        px: Px(2000),
        qty: Qty::from_shares(150),
    };
    (
        Universe {
            registry: Arc::new(registry),
            books,
        },
        update,
    )
}

/// The shipped development settings, with the taker cooldown off so that every round may fire.
/// The risk limits stay as shipped (`config/base.yaml`): the groups here are far inside the
/// notional caps and open-order limit, and the rounds advance the venue time enough for the
/// order-rate budget.
fn core_params() -> CoreParams {
    let mut params = Settings::shipped_dev()
        .expect("the shipped configuration loads")
        .core_params();
    params.pair_arb.cooldown_ms = 0;
    params
}

fn level(ts: u64, asset: AssetIdx, side: Side, px: Px, qty: Qty) -> Event {
    Event::new(
        ts,
        EventBody::Level {
            asset,
            side,
            px,
            qty,
        },
    )
}

/// pmbot's core on a universe, ready to take the update.
struct CoreRound {
    core: Core,
    out: Outbox,
    scratch: Outbox,
    update: Update,
    /// The step's two events, built before the timed region.
    next: [Event; 2],
    /// Every book's best ask, re-asserted by the reset message.
    best_asks: Vec<(AssetIdx, Px, Qty)>,
    ts: u64,
    /// Venue milliseconds between rounds.
    round_ms: u64,
    /// `Place` intents seen by `reset`.
    placed: u64,
}

impl CoreRound {
    /// A core fed every book's snapshot; panics if the snapshots already hold an opportunity.
    fn new(universe: &Universe, update: Update, round_ms: u64) -> CoreRound {
        let registry = universe.registry.clone();
        let mut round = CoreRound {
            core: Core::new(registry.clone(), core_params()),
            out: Outbox::with_capacity(registry.asset_count()),
            scratch: Outbox::with_capacity(registry.asset_count()),
            update,
            next: [Event::new(0, EventBody::MessageEnd); 2],
            best_asks: Vec::new(),
            ts: START_MS,
            round_ms,
            placed: 0,
        };
        for (i, book) in universe.books.iter().enumerate() {
            let asset = AssetIdx(i as u32);
            let mut events = vec![Event::new(START_MS, EventBody::BookSnapshot { asset })];
            for (side, levels) in [(Side::Buy, &book.bids), (Side::Sell, &book.asks)] {
                for &(px, shares) in levels {
                    let qty = Qty::from_shares(shares);
                    events.push(level(START_MS, asset, side, Px(px), qty));
                }
            }
            events.push(Event::new(START_MS, EventBody::MessageEnd));
            for e in &events {
                round.core.on_event(e, &mut round.out);
            }
            let (px, shares) = book.asks[0];
            round
                .best_asks
                .push((asset, Px(px), Qty::from_shares(shares)));
        }
        assert!(
            round.out.intents.is_empty() && round.out.resync.is_empty(),
            "the snapshots must hold no opportunity: {:?}",
            round.out
        );
        round.advance();
        round
    }

    /// Moves the venue time on and builds the next step's events.
    fn advance(&mut self) {
        self.ts += self.round_ms;
        let u = self.update;
        self.next = [
            level(self.ts, u.asset, Side::Sell, u.px, u.qty),
            Event::new(self.ts, EventBody::MessageEnd),
        ];
    }

    /// The measured step: the update and its message boundary through the core. Kept out of
    /// line, as the baseline's is, so the timed region is one call (and one symbol to profile).
    #[inline(never)]
    fn step(&mut self) {
        for e in &self.next {
            self.core.on_event(black_box(e), &mut self.out);
        }
    }

    /// Completes the step's legs, removes the update's level, refreshes every book.
    fn reset(&mut self) {
        for i in 0..self.out.intents.len() {
            if let Intent::Place(order) = self.out.intents[i] {
                self.placed += 1;
                for kind in [ExecKind::Accepted, ExecKind::Done] {
                    let report = ExecReport {
                        client_id: order.client_id,
                        ts_ms: self.ts,
                        kind,
                    };
                    self.core.on_report(&report, &mut self.scratch);
                }
            }
        }
        let u = self.update;
        let removal = level(self.ts, u.asset, Side::Sell, u.px, Qty::ZERO);
        self.core.on_event(&removal, &mut self.scratch);
        for &(asset, px, qty) in &self.best_asks {
            let refresh = level(self.ts, asset, Side::Sell, px, qty);
            self.core.on_event(&refresh, &mut self.scratch);
        }
        let end = Event::new(self.ts, EventBody::MessageEnd);
        self.core.on_event(&end, &mut self.scratch);
        self.out.clear();
        self.scratch.clear();
        self.advance();
    }

    /// Runs one step outside any timing and returns the orders it placed, after checking that
    /// they are `legs` buys of one group; the round is reset afterwards.
    fn check_step(&mut self, legs: usize) -> Vec<PlaceOrder> {
        self.step();
        let orders: Vec<PlaceOrder> = self
            .out
            .intents
            .iter()
            .filter_map(|i| match i {
                Intent::Place(o) => Some(*o),
                _ => None,
            })
            .collect();
        assert_eq!(
            orders.len(),
            legs,
            "{:?}\n{:?}\nrisk refusals by reason: {:?}",
            self.out.intents,
            self.core.strategy_counters(),
            self.core.risk().rejections_by_reason()
        );
        assert_eq!(self.out.intents.len(), legs, "{:?}", self.out.intents);
        for o in &orders {
            assert_eq!(o.side, Side::Buy);
            assert_eq!((o.group, usize::from(o.group_len)), (orders[0].group, legs));
        }
        orders
    }
}

/// Times `iters` rounds: `step` inside the timed region, `reset` after it, outside.
fn timed<S>(
    clock: &quanta::Clock,
    iters: u64,
    state: &mut S,
    mut step: impl FnMut(&mut S),
    mut reset: impl FnMut(&mut S),
) -> Duration {
    let mut nanos = 0;
    for _ in 0..iters {
        let start = clock.raw();
        step(state);
        let end = clock.raw();
        nanos += clock.delta_as_nanos(start, end);
        reset(state);
    }
    Duration::from_nanos(nanos)
}

/// Benchmarks pmbot's core on one universe: each round must place `legs` orders.
fn bench_core(
    c: &mut Criterion,
    clock: &quanta::Clock,
    group: &str,
    round: &mut CoreRound,
    legs: u64,
) {
    let mut g = c.benchmark_group(group);
    g.bench_function(BenchmarkId::from_parameter("pmbot"), |b| {
        b.iter_custom(|iters| {
            let placed = round.placed;
            let time = timed(clock, iters, round, CoreRound::step, CoreRound::reset);
            assert_eq!(round.placed - placed, legs * iters, "a round did not fire");
            time
        })
    });
    g.finish();
}

/// A decimal from its plain rendering, as a bot parses the venue's strings.
fn dec(value: impl std::fmt::Display) -> Decimal {
    Decimal::from_str(&value.to_string()).expect("a decimal")
}

/// What an SDK's order arguments carry.
#[derive(Debug)]
struct OrderArgs {
    token_id: String,
    price: Decimal,
    size: Decimal,
    side: Side,
}

/// A book as typical bots keep it: price → size per side.
#[derive(Default)]
struct DecBook {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl DecBook {
    /// Sets the level at `px` (a zero size removes it).
    fn set(&mut self, side: Side, px: Decimal, size: Decimal) {
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if size.is_zero() {
            ladder.remove(&px);
        } else {
            ladder.insert(px, size);
        }
    }
}

/// The baseline's opportunity.
#[derive(Debug)]
struct DecOpportunity {
    size: Decimal,
    cost: Decimal,
    fees: Decimal,
    edge: Decimal,
    limits: [Decimal; 2],
}

/// The baseline: one binary market on `rust_decimal`, with pmbot's rule and parameters.
struct DecPair {
    tokens: [String; 2],
    books: [DecBook; 2],
    fee_rate: Decimal,
    margin: Decimal,
    max_sets: Decimal,
    min_size: Decimal,
    min_edge: Decimal,
    update: (usize, Decimal, Decimal),
    orders: Vec<OrderArgs>,
}

impl DecPair {
    /// The first market of `universe` with the same books and parameters as pmbot's core.
    fn new(universe: &Universe, update: Update, params: &CoreParams) -> DecPair {
        let reg = &universe.registry;
        let info = &reg.markets()[0];
        let mut books = [DecBook::default(), DecBook::default()];
        for (book, ladders) in books.iter_mut().zip(&universe.books) {
            for (side, levels) in [(Side::Buy, &ladders.bids), (Side::Sell, &ladders.asks)] {
                for &(px, shares) in levels {
                    book.set(side, dec(Px(px)), dec(shares));
                }
            }
        }
        let math = &params.pair_arb.math;
        DecPair {
            tokens: [0, 1].map(|i| reg.asset(info.assets[i]).token_id.clone()),
            books,
            fee_rate: Decimal::new(i64::from(info.fees.rate_ppm), 6).normalize(),
            margin: dec(math.margin_per_set),
            max_sets: dec(math.max_sets),
            min_size: dec(info.min_order_size),
            min_edge: dec(math.min_edge),
            update: (update.asset.0 as usize, dec(update.px), dec(update.qty)),
            orders: Vec::with_capacity(2),
        }
    }

    /// The measured step: apply the update, evaluate, emit the orders.
    #[inline(never)]
    fn step(&mut self) {
        let (asset, px, size) = black_box(self.update);
        self.books[asset].set(Side::Sell, px, size);
        if let Some(opportunity) = self.evaluate() {
            for (i, price) in opportunity.limits.into_iter().enumerate() {
                self.orders.push(OrderArgs {
                    token_id: self.tokens[i].clone(),
                    price,
                    size: opportunity.size,
                    side: Side::Buy,
                });
            }
        }
    }

    /// Removes the update's level and drops the orders.
    fn reset(&mut self) {
        let (asset, px, _) = self.update;
        self.books[asset].set(Side::Sell, px, Decimal::ZERO);
        self.orders.clear();
    }

    /// The taker fee on one share at `px`, unrounded.
    fn fee_per_share(&self, px: Decimal) -> Decimal {
        self.fee_rate * px * (Decimal::ONE - px)
    }

    /// Buy-both: size by walking both ask ladders while a pair plus both fees costs at most
    /// 1 − margin, then fill each leg level by level.
    fn evaluate(&self) -> Option<DecOpportunity> {
        let size = self.size();
        if size.is_zero() || size < self.min_size {
            return None;
        }
        let (mut cost, mut fees, mut limits) = (Decimal::ZERO, Decimal::ZERO, [Decimal::ZERO; 2]);
        for (book, limit) in self.books.iter().zip(&mut limits) {
            let (notional, fee, worst) = self.take(&book.asks, size);
            cost += notional;
            fees += fee;
            *limit = worst;
        }
        let edge = size - cost - fees;
        (edge >= self.min_edge).then_some(DecOpportunity {
            size,
            cost,
            fees,
            edge,
            limits,
        })
    }

    /// The largest size, in lots of 0.01, whose every pair meets the margin.
    fn size(&self) -> Decimal {
        let limit = Decimal::ONE - self.margin;
        let mut yes = self.books[0].asks.iter().map(|(p, q)| (*p, *q));
        let mut no = self.books[1].asks.iter().map(|(p, q)| (*p, *q));
        let (Some((mut py, mut qy)), Some((mut pn, mut qn))) = (yes.next(), no.next()) else {
            return Decimal::ZERO;
        };
        let mut size = Decimal::ZERO;
        while size < self.max_sets
            && py + pn + self.fee_per_share(py) + self.fee_per_share(pn) <= limit
        {
            let step = qy.min(qn).min(self.max_sets - size);
            size += step;
            qy -= step;
            qn -= step;
            if qy.is_zero() {
                let Some(next) = yes.next() else { break };
                (py, qy) = next;
            }
            if qn.is_zero() {
                let Some(next) = no.next() else { break };
                (pn, qn) = next;
            }
        }
        size.round_dp_with_strategy(2, RoundingStrategy::ToZero)
    }

    /// Takes `size` from an ask ladder: notional, fees floored to 1e-5 per level, worst price.
    fn take(
        &self,
        asks: &BTreeMap<Decimal, Decimal>,
        size: Decimal,
    ) -> (Decimal, Decimal, Decimal) {
        let (mut left, mut notional, mut fees, mut worst) =
            (size, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for (&px, &qty) in asks {
            if left.is_zero() {
                break;
            }
            let part = left.min(qty);
            notional += px * part;
            fees +=
                (self.fee_per_share(px) * part).round_dp_with_strategy(5, RoundingStrategy::ToZero);
            worst = px;
            left -= part;
        }
        (notional, fees, worst)
    }
}

/// Checks, outside any timing, that the baseline finds what pmbot finds on the same books:
/// `math::binary_buy_both` on the core's books, and the orders the core placed.
fn check_baseline_agrees(round: &mut CoreRound, baseline: &mut DecPair, params: &CoreParams) {
    let placed = round.check_step(2);
    let mut legs = Vec::new();
    let ours = binary_buy_both(
        round.core.registry(),
        round.core.books(),
        MarketIdx(0),
        &params.pair_arb.math,
        &mut legs,
    )
    .expect("the market evaluates")
    .expect("the update opens a window");
    baseline.step();
    let theirs = baseline.evaluate().expect("the baseline finds the window");
    assert_eq!(
        (theirs.size, theirs.cost, theirs.fees, theirs.edge),
        (
            dec(ours.size),
            dec(ours.cost),
            dec(ours.fees),
            dec(ours.edge)
        ),
        "baseline {theirs:?} vs pmbot {ours:?}"
    );
    assert_eq!(
        theirs.limits,
        [dec(legs[0].limit_px), dec(legs[1].limit_px)]
    );
    assert_eq!(baseline.orders.len(), 2, "{:?}", baseline.orders);
    for (order, placed) in baseline.orders.iter().zip(&placed) {
        let token = &round.core.registry().asset(placed.asset).token_id;
        assert_eq!(order.token_id, *token);
        assert_eq!(
            (order.price, order.size),
            (dec(placed.limit_px), dec(placed.size))
        );
        assert_eq!(order.side, placed.side);
    }
    println!(
        "pair window: {} sets at {} + {}, cost {}, fees {}, edge {} (pmbot and baseline agree)",
        ours.size, legs[0].limit_px, legs[1].limit_px, ours.cost, ours.fees, ours.edge
    );
    round.reset();
    baseline.reset();
}

fn pair_eval(c: &mut Criterion) {
    let clock = quanta::Clock::new();
    let params = core_params();
    let (universe, update) = pair_universe();
    let mut round = CoreRound::new(&universe, update, 10);
    let mut baseline = DecPair::new(&universe, update, &params);
    check_baseline_agrees(&mut round, &mut baseline, &params);
    bench_core(c, &clock, "pair_eval", &mut round, 2);
    let mut g = c.benchmark_group("pair_eval");
    g.bench_function(BenchmarkId::from_parameter("rust_decimal_baseline"), |b| {
        b.iter_custom(|iters| {
            let mut placed = 0;
            let time = timed(&clock, iters, &mut baseline, DecPair::step, |s| {
                placed += s.orders.len() as u64;
                s.reset();
            });
            assert_eq!(placed, 2 * iters, "a round did not fire");
            time
        })
    });
    g.finish();
}

fn negrisk_eval(c: &mut Criterion) {
    let clock = quanta::Clock::new();
    let (universe, update) = negrisk_universe();
    // 10 orders a round against a budget of 3500 per 10 s: 50 ms a round refills 17.5.
    let mut round = CoreRound::new(&universe, update, 50);
    let placed = round.check_step(EVENT_ASKS.len());
    println!(
        "negrisk window: {} sets, YES limits {:?}",
        placed[0].size,
        placed
            .iter()
            .map(|o| o.limit_px.to_string())
            .collect::<Vec<_>>()
    );
    round.reset();
    bench_core(
        c,
        &clock,
        "negrisk_eval",
        &mut round,
        EVENT_ASKS.len() as u64,
    );
}

fn timer(c: &mut Criterion) {
    let clock = quanta::Clock::new();
    c.bench_function("timer/quanta_raw", |b| {
        b.iter_custom(|iters| timed(&clock, iters, &mut (), |_| {}, |_| {}))
    });
}

criterion_group!(benches, pair_eval, negrisk_eval, timer);
criterion_main!(benches);
