//! Property tests of the venue's matching engine: no crossed book after any sequence of
//! operations, conservation of pUSD and shares across every account (house and fees included,
//! mint and merge accounted), exact reversal of failed trades, FOK all-or-nothing, and
//! price-time priority.

use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::markets::MarketSpec;
use pmbot::domain::num::{Px, Qty, Side, Usdc};
use pmbot::sim::TrueBook;
use pmbot::sim::matching::{
    AccountId, CancelFilter, Engine, EngineConfig, EngineEvent, NewOrder, OrderId, OrderStatus,
    OrderType, Reject,
};
use pmbot::sim::world::World;
use proptest::prelude::*;

const CLIENTS: [AccountId; 3] = [AccountId(10), AccountId(11), AccountId(12)];
const ALL: [AccountId; 5] = [
    AccountId::HOUSE,
    AccountId::FEES,
    AccountId(10),
    AccountId(11),
    AccountId(12),
];
const FUND_USDC: i64 = 500 * Usdc::ONE;
const FUND_SHARES: u64 = 200;

fn world() -> World {
    let spec = MarketSpec {
        condition_id: "0xc0".into(),
        token_ids: vec!["101".into(), "102".into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(1),
        fees: FeeSchedule {
            rate_ppm: 30_000,
            exponent: 1,
            taker_only: false,
        },
        ..MarketSpec::default()
    };
    let mut yes = TrueBook::default();
    let mut no = TrueBook::default();
    for k in 1..=3u16 {
        yes.set(Side::Buy, Px(4500 - 100 * k), Qty::from_shares(7));
        yes.set(Side::Sell, Px(5500 + 100 * k), Qty::from_shares(7));
        no.set(Side::Buy, Px(4500 - 100 * k), Qty::from_shares(5));
        no.set(Side::Sell, Px(5500 + 100 * k), Qty::from_shares(5));
    }
    World::new(
        vec![(spec, vec![(yes, Px(5000)), (no, Px(5000))])],
        Vec::new(),
        0,
    )
}

fn engine(w: &World, fail_every_nth: u64) -> Engine {
    let mut e = Engine::new(EngineConfig {
        matched_to_mined_ms: 5,
        mined_to_confirmed_ms: 5,
        fail_every_nth,
    });
    for a in CLIENTS {
        e.open_account(a, Usdc(FUND_USDC), Qty::from_shares(FUND_SHARES), w);
    }
    e
}

#[derive(Clone, Debug)]
enum Op {
    Submit {
        account: usize,
        asset: usize,
        buy: bool,
        ticks: u16,
        lots: u64,
        kind: u8,
        post_only: bool,
    },
    Cancel {
        account: usize,
        nth: usize,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..2usize, any::<bool>(), 30..71u16, 1..3_000u64, 0..5u8, any::<bool>())
            .prop_map(|(account, asset, buy, ticks, lots, kind, post_only)| Op::Submit {
                account, asset, buy, ticks, lots, kind, post_only
            }),
        1 => (0..3usize, 0..4usize).prop_map(|(account, nth)| Op::Cancel { account, nth }),
        1 => (1..20u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn new_order(
    n: u64,
    account: AccountId,
    asset: usize,
    side: Side,
    px: Px,
    size: Qty,
    t: OrderType,
) -> NewOrder {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[31] = 1;
    NewOrder {
        id: OrderId(id),
        account,
        owner: format!("key-{}", account.0),
        maker_address: String::new(),
        asset,
        side,
        price: px,
        size,
        order_type: t,
        post_only: false,
    }
}

/// Applies `op` as the `n`-th operation at time `now`.
fn apply(e: &mut Engine, w: &mut World, op: &Op, n: u64, now: &mut u64) {
    match *op {
        Op::Submit {
            account,
            asset,
            buy,
            ticks,
            lots,
            kind,
            post_only,
        } => {
            let t = match kind {
                0 | 1 => OrderType::Gtc,
                2 => OrderType::Gtd {
                    expiration_s: *now / 1_000 + 1,
                },
                3 => OrderType::Fok,
                _ => OrderType::Fak,
            };
            let side = if buy { Side::Buy } else { Side::Sell };
            let mut o = new_order(
                n,
                CLIENTS[account],
                asset,
                side,
                Px(ticks * 100),
                Qty(lots * 10_000),
                t,
            );
            o.post_only = post_only;
            let _ = e.submit(w, o, *now);
        }
        Op::Cancel { account, nth } => {
            let id = e.open_orders(CLIENTS[account]).nth(nth).map(|o| o.order.id);
            if let Some(id) = id {
                e.cancel(w, CLIENTS[account], &id, *now).unwrap();
            }
        }
        Op::Advance { ms } => {
            *now += ms * 100;
            e.advance(w, *now);
        }
    }
}

/// Total pUSD plus sets locked in the exchange, and per asset total shares minus sets.
fn totals(e: &Engine, w: &World) -> (i64, Vec<i64>) {
    let sets = e.minted_sets(0);
    let usdc = ALL.iter().map(|a| e.balance(*a).0).sum::<i64>() + sets;
    let shares = (0..w.assets.len())
        .map(|asset| ALL.iter().map(|a| e.position(*a, asset)).sum::<i64>() - sets)
        .collect();
    (usdc, shares)
}

/// Every level's client part is the sum of the live orders resting there.
fn client_levels_agree(e: &Engine, w: &World) -> bool {
    let mut want = std::collections::HashMap::<(usize, bool, Px), u64>::new();
    for a in CLIENTS {
        for o in e.open_orders(a).filter(|o| o.status == OrderStatus::Live) {
            *want
                .entry((o.order.asset, o.order.side == Side::Buy, o.order.price))
                .or_default() += o.order.size.0 - o.size_matched.0;
        }
    }
    (0..w.assets.len()).all(|asset| {
        [Side::Buy, Side::Sell].into_iter().all(|side| {
            (0..w.assets[asset].book.depth(side)).all(|i| {
                let (px, _) = w.assets[asset].book.nth(side, i).unwrap();
                let have = w.assets[asset].book.client(side, px).0;
                have == want.remove(&(asset, side == Side::Buy, px)).unwrap_or(0)
            })
        })
    }) && want.values().all(|q| *q == 0)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn books_never_cross_and_value_is_conserved(ops in prop::collection::vec(op(), 1..60), fail in 0..4u64) {
        let mut w = world();
        let mut e = engine(&w, fail);
        let start = totals(&e, &w);
        prop_assert_eq!(start.0, 3 * FUND_USDC);
        let mut now = 1_000;
        for (n, op) in ops.iter().enumerate() {
            apply(&mut e, &mut w, op, n as u64, &mut now);
            for a in &w.assets {
                prop_assert!(a.book.is_uncrossed(), "{} crossed after {:?}", a.token_id, op);
            }
            prop_assert_eq!(&totals(&e, &w), &start);
            prop_assert!(client_levels_agree(&e, &w));
            if fail == 0 {
                for a in CLIENTS {
                    prop_assert!(e.available(a).0 >= 0);
                    prop_assert!((0..2).all(|asset| e.available_shares(a, asset) >= 0));
                }
            }
        }
        prop_assert!(e.balance(AccountId::FEES).0 >= 0);
    }

    #[test]
    fn failed_trades_reverse_exactly(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = world();
        let mut e = engine(&w, 1);
        let mut now = 1_000;
        for (n, op) in ops.iter().enumerate() {
            apply(&mut e, &mut w, op, n as u64, &mut now);
        }
        e.advance(&mut w, now + 1_000);
        for a in ALL {
            let funded = if CLIENTS.contains(&a) { FUND_USDC } else { 0 };
            prop_assert_eq!(e.balance(a).0, funded);
            for asset in 0..2 {
                let shares = if CLIENTS.contains(&a) { FUND_SHARES as i64 * 1_000_000 } else { 0 };
                prop_assert_eq!(e.position(a, asset), shares);
            }
        }
        prop_assert_eq!(e.minted_sets(0), 0);
    }

    #[test]
    fn fok_fills_fully_or_changes_nothing(
        ops in prop::collection::vec(op(), 0..30),
        account in 0..3usize, asset in 0..2usize, buy: bool, ticks in 30..71u16, lots in 1..5_000u64,
    ) {
        let mut w = world();
        let mut e = engine(&w, 0);
        let mut now = 1_000;
        for (n, op) in ops.iter().enumerate() {
            apply(&mut e, &mut w, op, n as u64, &mut now);
        }
        let mut sink = Vec::new();
        e.drain(&mut sink);
        let digests = w.digests();
        let ledger: Vec<_> = ALL.iter().map(|a| (e.balance(*a), e.position(*a, 0), e.position(*a, 1), e.available(*a))).collect();
        let side = if buy { Side::Buy } else { Side::Sell };
        let o = new_order(999, CLIENTS[account], asset, side, Px(ticks * 100), Qty(lots * 10_000), OrderType::Fok);
        let id = o.id;
        match e.submit(&mut w, o, now) {
            Ok(r) => {
                prop_assert_eq!(r.status, OrderStatus::Matched);
                prop_assert_eq!(e.order(&id).unwrap().size_matched, Qty(lots * 10_000));
            }
            Err(why) => {
                prop_assert!(matches!(why, Reject::FokUnfilled | Reject::Balance | Reject::MinSize));
                prop_assert_eq!(w.digests(), digests);
                let after: Vec<_> = ALL.iter().map(|a| (e.balance(*a), e.position(*a, 0), e.position(*a, 1), e.available(*a))).collect();
                prop_assert_eq!(after, ledger);
                sink.clear();
                e.drain(&mut sink);
                prop_assert!(sink.is_empty());
            }
        }
    }

    #[test]
    fn makers_fill_in_price_then_time_order(
        rests in prop::collection::vec((0..3usize, 50..60u16, 1..8u64), 1..25),
        take in 1..150u64,
    ) {
        let mut w = world();
        // Only client liquidity on the YES asks: clear the house's.
        for k in 1..=3u16 {
            w.assets[0].book.set(Side::Sell, Px(5500 + 100 * k), Qty::ZERO);
        }
        w.assets[1].book = TrueBook::default();
        let mut e = engine(&w, 0);
        for (n, &(account, ticks, shares)) in rests.iter().enumerate() {
            let o = new_order(n as u64, CLIENTS[account], 0, Side::Sell, Px(ticks * 100), Qty::from_shares(shares), OrderType::Gtc);
            e.submit(&mut w, o, 1).unwrap();
        }
        let rank = |id: &OrderId| {
            let n = u64::from_be_bytes(id.0[..8].try_into().unwrap()) as usize;
            (rests[n].1, n)
        };
        let taker = new_order(500, AccountId(10), 0, Side::Buy, Px(6000), Qty::from_shares(take), OrderType::Fak);
        let r = e.submit(&mut w, taker, 2);
        let trade_ids = match r {
            Ok(r) => r.trade_ids,
            Err(_) => return Ok(()),
        };
        let fills: Vec<_> = trade_ids.iter().flat_map(|t| e.trade(t).unwrap().makers.clone()).collect();
        let ranks: Vec<_> = fills.iter().map(|m| rank(&m.order)).collect();
        prop_assert!(ranks.windows(2).all(|p| p[0] < p[1]), "{:?}", ranks);
        // Every order still resting ranks after every order that was filled completely.
        let resting: Vec<_> = CLIENTS.iter().flat_map(|a| e.open_orders(*a).map(|o| rank(&o.order.id)).collect::<Vec<_>>()).collect();
        for m in &fills {
            let done = e.order(&m.order).unwrap().status == OrderStatus::Matched;
            if done {
                prop_assert!(resting.iter().all(|r| *r > rank(&m.order)));
            }
        }
        let filled: u64 = fills.iter().map(|m| m.qty.0).sum();
        let offered: u64 = rests.iter().map(|r| r.2 * 1_000_000).sum();
        prop_assert_eq!(filled, (take * 1_000_000).min(offered));
        e.cancel_all(&mut w, AccountId(11), CancelFilter::All, 3);
        prop_assert!(w.assets[0].book.is_uncrossed());
        let mut sink: Vec<EngineEvent> = Vec::new();
        e.drain(&mut sink);
        prop_assert!(!sink.is_empty());
    }
}
