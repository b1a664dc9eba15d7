//! The pair-arbitrage math against a brute-force reference: random books and fee schedules, every
//! lot size enumerated with exact rationals, written independently of the crate's fee code.
//!
//! Why the marginal rule maximizes total edge. Let `v(x)` be the exact value of the set at depth
//! `x` (set value − Σ leg prices − Σ exact leg fees − margin, per set). Along a leg, prices only
//! worsen with depth, and `p + rate·(p(1−p))^e` rises with `p` (and `p − rate·(p(1−p))^e` too)
//! for every rate ≤ 1 and exponent ≤ 2, so `v` is non-increasing. A lot's exact value
//! `D_k = ∫ v` over `[k·LOT, (k+1)·LOT)` is then non-increasing in `k` (each lot is the previous
//! one shifted deeper). The total edge after margin of `L` lots is `E(L) = Σ_{k<L} D_k`. Let `L*`
//! be the number of lots with `D_k ≥ 0` — a prefix. For `L < L*`, `E(L*) − E(L)` sums
//! non-negative `D_k`; for `L > L*`, `E(L) − E(L*)` sums negative ones. So `L*`, the largest size
//! whose every marginal lot meets the margin, maximizes the total edge. The test checks both
//! halves on the enumeration rather than trusting this argument.

use pmbot::domain::books::BookSet;
use pmbot::domain::events::{Event, EventBody};
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::markets::{EventSpec, MarketSpec, Registry, VALID_TICKS};
use pmbot::domain::{AssetIdx, EventIdx, MarketIdx, Px, Qty, Side, Usdc};
use pmbot::strategies::pair_arb::math::{
    Kind, LOT, Leg, MathParams, Opportunity, Skip, binary_buy_both, binary_sell_both,
    negrisk_no_sum, negrisk_yes_sum,
};
use proptest::prelude::*;

const KINDS: [Kind; 4] = [
    Kind::BinaryBuyBoth,
    Kind::BinarySellBoth,
    Kind::NegRiskYesSum,
    Kind::NegRiskNoSum,
];

/// One market as generated: tick, fees, minimum order, and the levels of the leg(s) it trades.
#[derive(Clone, Debug)]
struct GenMarket {
    tick: u16,
    rate_ppm: u32,
    exponent: u8,
    min_order: u64,
    /// Per traded outcome: `(price offset from the fair price in 1e-4, [(ticks deeper, size)])`.
    legs: Vec<(i32, Vec<(u16, u64)>)>,
}

#[derive(Clone, Debug)]
struct Case {
    kind: Kind,
    markets: Vec<GenMarket>,
    margin: i64,
    max_sets: u64,
    min_edge: i64,
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        (1u64..=2_000).prop_map(|lots| lots * LOT.0),
        1u64..=20_000_000
    ]
}

fn levels() -> impl Strategy<Value = Vec<(u16, u64)>> {
    prop::collection::vec((1u16..=5, size()), 1..=10)
}

fn market(legs_per_market: usize) -> impl Strategy<Value = GenMarket> {
    (
        prop::sample::select(VALID_TICKS.to_vec()),
        prop_oneof![Just(0u32), 0u32..=100_000, 0u32..=1_000_000],
        0u8..=2,
        prop_oneof![Just(0u64), 0u64..=5_000_000],
        prop::collection::vec((-800i32..=800, levels()), legs_per_market),
    )
        .prop_map(|(tick, rate_ppm, exponent, min_order, legs)| GenMarket {
            tick,
            rate_ppm,
            exponent,
            min_order,
            legs,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (0usize..4, 2usize..=6)
        .prop_flat_map(|(k, n)| {
            let kind = KINDS[k];
            let (count, legs_per_market) = match kind {
                Kind::BinaryBuyBoth | Kind::BinarySellBoth => (1, 2),
                _ => (n, 1),
            };
            (
                Just(kind),
                prop::collection::vec(market(legs_per_market), count),
                0i64..=30_000,
                1u64..=200_000_000,
                prop_oneof![Just(0i64), 0i64..=200_000],
            )
        })
        .prop_map(|(kind, markets, margin, max_sets, min_edge)| Case {
            kind,
            markets,
            margin,
            max_sets,
            min_edge,
        })
}

/// One leg of the reference: its asset, fee parameters and levels best first.
struct RefLeg {
    asset: AssetIdx,
    rate_ppm: u32,
    exponent: u8,
    levels: Vec<(u16, u64)>,
}

/// What the generated case looks like on the venue: registry, books and the reference's legs.
struct Built {
    reg: Registry,
    books: BookSet,
    legs: Vec<RefLeg>,
    market: MarketIdx,
    event: EventIdx,
}

fn build(case: &Case) -> Built {
    let mut reg = Registry::default();
    let mut ids = Vec::new();
    for (i, m) in case.markets.iter().enumerate() {
        let spec = MarketSpec {
            condition_id: format!("0x{i:x}"),
            token_ids: vec![format!("{}", 2 * i + 1), format!("{}", 2 * i + 2)],
            tick: Px(m.tick),
            min_order_size: Qty(m.min_order),
            neg_risk: true,
            fees: FeeSchedule {
                rate_ppm: m.rate_ppm,
                exponent: m.exponent,
                taker_only: true,
            },
            ..MarketSpec::default()
        };
        ids.push(reg.add_market(spec).expect("generated market"));
    }
    let event = if ids.len() >= 2 {
        reg.add_event(EventSpec {
            id: "e".into(),
            neg_risk_market_id: "0xe".into(),
            augmented: false,
            markets: ids.clone(),
        })
        .expect("generated event")
    } else {
        EventIdx(0)
    };
    let n = ids.len();
    let (outcomes, fair, buys): (&[usize], i32, bool) = match case.kind {
        Kind::BinaryBuyBoth => (&[0, 1], 5_000, true),
        Kind::BinarySellBoth => (&[0, 1], 5_000, false),
        Kind::NegRiskYesSum => (&[0], 10_000 / n as i32, true),
        Kind::NegRiskNoSum => (&[1], 10_000 - 10_000 / n as i32, true),
    };
    let mut legs = Vec::new();
    for (m, gen_m) in ids.iter().zip(&case.markets) {
        let tick = i32::from(gen_m.tick);
        for (&outcome, (offset, steps)) in outcomes.iter().zip(&gen_m.legs) {
            // Prices on the tick, strictly inside (0, 1), moving away from the touch.
            let mut px = ((fair + offset) / tick * tick).clamp(tick, 10_000 - tick);
            let mut lv = Vec::new();
            for &(ticks, qty) in steps {
                if px < tick || px > 10_000 - tick {
                    break;
                }
                lv.push((px as u16, qty));
                let step = i32::from(ticks) * tick;
                px += if buys { step } else { -step };
            }
            legs.push(RefLeg {
                asset: reg.market(*m).assets[outcome],
                rate_ppm: gen_m.rate_ppm,
                exponent: gen_m.exponent,
                levels: lv,
            });
        }
    }
    let mut books = BookSet::new(&reg);
    let side = if buys { Side::Sell } else { Side::Buy };
    for (i, leg) in legs.iter().enumerate() {
        let ts = i as u64 + 1;
        let mut resync = Vec::new();
        let asset = leg.asset;
        books.apply(
            &Event::new(ts, EventBody::BookSnapshot { asset }),
            &mut resync,
        );
        for &(px, qty) in &leg.levels {
            let body = EventBody::Level {
                asset,
                side,
                px: Px(px),
                qty: Qty(qty),
            };
            books.apply(&Event::new(ts, body), &mut resync);
        }
        books.end_message(&[asset], &mut resync);
        assert!(
            !books.book(asset).is_stale(),
            "the snapshot made the book fresh"
        );
    }
    Built {
        reg,
        books,
        legs,
        market: ids[0],
        event,
    }
}

/// `(p(1−p))^e` in units of 1e-8 per exponent step.
fn spread_pow(px: u16, exponent: u8) -> i128 {
    let s = i128::from(px) * (10_000 - i128::from(px));
    (0..exponent).fold(1, |acc, _| acc * s)
}

/// Exact value of `qty` (1e-6 shares) at `px` for one leg, in 1e-28 USDC: `−(price + fee)` when
/// buying, `price − fee` when selling.
fn exact_leg_value(leg: &RefLeg, buys: bool, px: u16, qty: u64) -> i128 {
    let q = i128::from(qty);
    let price = i128::from(px) * q * 10i128.pow(18);
    let fee = q
        * i128::from(leg.rate_ppm)
        * spread_pow(px, leg.exponent)
        * 10i128.pow(16 - 8 * u32::from(leg.exponent));
    if buys { -price - fee } else { price - fee }
}

/// Exact value of each lot up to `cap` lots, in 1e-28 USDC, after the margin.
fn lot_values(case: &Case, legs: &[RefLeg], buys: bool, set_value: i128, lots: u64) -> Vec<i128> {
    let lot = LOT.0;
    let mut values = Vec::new();
    for k in 0..lots {
        let (a, b) = (k * lot, (k + 1) * lot);
        let set = set_value * i128::from(lot) * 10i128.pow(22);
        let mut v = if buys { set } else { -set };
        v -= i128::from(case.margin) * i128::from(lot) * 10i128.pow(16);
        for leg in legs {
            let mut start = 0u64;
            for &(px, qty) in &leg.levels {
                let (lo, hi) = (start.max(a), (start + qty).min(b));
                if lo < hi {
                    v += exact_leg_value(leg, buys, px, hi - lo);
                }
                start += qty;
            }
        }
        values.push(v);
    }
    values
}

/// The venue-rounded leg for `size`: notional rounded against us, fees floored per level.
fn venue_leg(leg: &RefLeg, buys: bool, size: u64) -> Leg {
    let (mut left, mut notional, mut fee, mut limit) = (size, 0u128, 0i64, 0u16);
    for &(px, qty) in &leg.levels {
        if left == 0 {
            break;
        }
        let part = left.min(qty);
        notional += u128::from(px) * u128::from(part);
        let num =
            u128::from(part) * u128::from(leg.rate_ppm) * spread_pow(px, leg.exponent) as u128;
        let den = 10u128.pow(7 + 8 * u32::from(leg.exponent));
        fee += (num / den) as i64 * 10;
        limit = px;
        left -= part;
    }
    let notional = if buys {
        notional.div_ceil(10_000)
    } else {
        notional / 10_000
    };
    Leg {
        asset: leg.asset,
        side: if buys { Side::Buy } else { Side::Sell },
        limit_px: Px(limit),
        notional: Usdc(notional as i64),
        fee: Usdc(fee),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sizes_and_figures_match_the_brute_force_reference(case in case()) {
        let built = build(&case);
        let buys = case.kind != Kind::BinarySellBoth;
        let n = built.legs.len() as i128;
        let set_value = if case.kind == Kind::NegRiskNoSum { n - 1 } else { 1 };
        let depth = built.legs.iter().map(|l| l.levels.iter().map(|x| x.1).sum::<u64>()).min().unwrap();
        let lots = depth.min(case.max_sets) / LOT.0;
        let values = lot_values(&case, &built.legs, buys, set_value, lots);

        // (a) The reference size: the longest prefix of lots that each meet the margin.
        let best_lots = values.iter().take_while(|&&v| v >= 0).count() as u64;
        // (b) It maximizes the exact total edge after margin over every size 0..=depth.
        let totals: Vec<i128> = std::iter::once(0).chain(values.iter().scan(0i128, |s, v| { *s += v; Some(*s) })).collect();
        let best_total = *totals.iter().max().unwrap();
        prop_assert_eq!(totals[best_lots as usize], best_total);
        prop_assert!(values.windows(2).all(|w| w[1] <= w[0]), "lot values never rise");

        let params = MathParams {
            margin_per_set: Usdc(case.margin),
            max_sets: Qty(case.max_sets),
            min_edge: Usdc(case.min_edge),
        };
        let mut legs = Vec::with_capacity(built.legs.len());
        let result = match case.kind {
            Kind::BinaryBuyBoth => binary_buy_both(&built.reg, &built.books, built.market, &params, &mut legs),
            Kind::BinarySellBoth => binary_sell_both(&built.reg, &built.books, built.market, &params, &mut legs),
            Kind::NegRiskYesSum => negrisk_yes_sum(&built.reg, &built.books, built.event, &params, &mut legs),
            Kind::NegRiskNoSum => negrisk_no_sum(&built.reg, &built.books, built.event, &params, &mut legs),
        };

        let size = best_lots * LOT.0;
        let min_order = case.markets.iter().map(|m| m.min_order).max().unwrap();
        let expected_legs: Vec<Leg> = built.legs.iter().map(|l| venue_leg(l, buys, size)).collect();
        let notionals: i64 = expected_legs.iter().map(|l| l.notional.0).sum();
        let fees: i64 = expected_legs.iter().map(|l| l.fee.0).sum();
        let sets = size as i64 * set_value as i64;
        let (cost, payoff) = if buys { (notionals, sets) } else { (sets, notionals) };
        let edge = payoff - cost - fees;
        let expected = if size == 0 {
            Ok(None)
        } else if size < min_order {
            Err(Skip::BelowMinSize)
        } else if edge < case.min_edge {
            Ok(None)
        } else {
            Ok(Some(Opportunity {
                kind: case.kind,
                size: Qty(size),
                cost: Usdc(cost),
                fees: Usdc(fees),
                payoff: Usdc(payoff),
                edge: Usdc(edge),
            }))
        };
        // (a), (c): the size and every venue-rounded figure; (d): limits are the worst levels.
        prop_assert_eq!(result, expected);
        if matches!(result, Ok(Some(_))) {
            prop_assert_eq!(legs, expected_legs);
        } else {
            prop_assert!(legs.is_empty());
        }
    }
}
