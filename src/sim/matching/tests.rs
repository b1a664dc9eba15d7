//! Unit tests of the engine: each order type, each reject, mint and merge, the delay, fees and
//! settlement.

use super::*;
use crate::domain::fees::FeeSchedule;
use crate::domain::markets::MarketSpec;
use crate::sim::book::TrueBook;

const A: AccountId = AccountId(10);
const B: AccountId = AccountId(11);
const C: AccountId = AccountId(12);
const YES: usize = 0;
const NO: usize = 1;

fn world_with(delay: u32, fees: FeeSchedule) -> World {
    let spec = MarketSpec {
        condition_id: "0xc0".into(),
        token_ids: vec!["101".into(), "102".into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        fees,
        seconds_delay: delay,
        ..MarketSpec::default()
    };
    let books = vec![(TrueBook::default(), Px(5000)); 2];
    World::new(vec![(spec, books)], Vec::new(), 0)
}

fn setup(delay: u32, fees: FeeSchedule, cfg: EngineConfig) -> (Engine, World) {
    let w = world_with(delay, fees);
    let mut e = Engine::new(cfg);
    for acc in [A, B, C] {
        e.open_account(acc, Usdc(1_000 * Usdc::ONE), Qty::from_shares(100), &w);
    }
    (e, w)
}

fn plain() -> (Engine, World) {
    setup(0, FeeSchedule::FREE, EngineConfig::default())
}

fn order(n: u8, account: AccountId, asset: usize, side: Side, px: u16, shares: u64) -> NewOrder {
    NewOrder {
        id: OrderId([n; 32]),
        account,
        owner: format!("key-{}", account.0),
        maker_address: format!("0x{:040x}", account.0),
        asset,
        side,
        price: Px(px),
        size: Qty::from_shares(shares),
        order_type: OrderType::Gtc,
        post_only: false,
    }
}

fn typed(mut o: NewOrder, t: OrderType) -> NewOrder {
    o.order_type = t;
    o
}

fn usdc(n: i64) -> Usdc {
    Usdc(n * Usdc::ONE / 100)
}

#[test]
fn a_gtc_rests_and_is_taken_in_price_then_time_order() {
    let (mut e, mut w) = plain();
    e.submit(&mut w, order(1, A, YES, Side::Sell, 5100, 10), 1)
        .unwrap();
    e.submit(&mut w, order(2, B, YES, Side::Sell, 5000, 10), 2)
        .unwrap();
    e.submit(&mut w, order(3, C, YES, Side::Sell, 5000, 10), 3)
        .unwrap();
    assert_eq!(
        w.assets[YES].book.level(Side::Sell, Px(5000)),
        Some(Qty::from_shares(20))
    );
    let r = e
        .submit(&mut w, order(4, A, YES, Side::Buy, 5100, 25), 4)
        .unwrap();
    assert_eq!(r.status, OrderStatus::Matched);
    assert_eq!(r.trade_ids.len(), 2);
    let first = e.trade(&r.trade_ids[0]).unwrap();
    assert_eq!((first.price, first.size), (Px(5000), Qty::from_shares(20)));
    let makers: Vec<_> = first.makers.iter().map(|m| (m.account, m.qty)).collect();
    assert_eq!(
        makers,
        vec![(B, Qty::from_shares(10)), (C, Qty::from_shares(10))]
    );
    let second = e.trade(&r.trade_ids[1]).unwrap();
    assert_eq!((second.price, second.size), (Px(5100), Qty::from_shares(5)));
    assert_eq!(w.assets[YES].book.level(Side::Sell, Px(5000)), None);
    assert_eq!(
        w.assets[YES].book.level(Side::Sell, Px(5100)),
        Some(Qty::from_shares(5))
    );
    // A paid 20 × 0.50 + 5 × 0.51 and sold 5 of its own 10 resting at 0.51 to itself.
    assert_eq!(e.balance(A), usdc(100_000 - 1_000 - 255 + 255));
    assert_eq!(e.balance(B), usdc(100_000 + 500));
    assert_eq!(e.shares(A, YES), Qty::from_shares(120));
    assert_eq!((r.making, r.taking), (12_550_000, 25_000_000));
}

#[test]
fn the_house_fills_before_clients_at_the_same_price() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(10));
    e.submit(&mut w, order(1, B, YES, Side::Sell, 5000, 10), 1)
        .unwrap();
    let r = e
        .submit(&mut w, order(2, A, YES, Side::Buy, 5000, 12), 2)
        .unwrap();
    let t = e.trade(&r.trade_ids[0]).unwrap();
    let makers: Vec<_> = t.makers.iter().map(|m| (m.account, m.qty)).collect();
    assert_eq!(
        makers,
        vec![
            (AccountId::HOUSE, Qty::from_shares(10)),
            (B, Qty::from_shares(2))
        ]
    );
    assert_eq!(w.assets[YES].book.house(Side::Sell, Px(5000)), Qty::ZERO);
    assert_eq!(
        e.order(&OrderId([1; 32])).unwrap().size_matched,
        Qty::from_shares(2)
    );
    assert_eq!(e.balance(AccountId::HOUSE), usdc(500));
    assert_eq!(e.position(AccountId::HOUSE, YES), -10_000_000);
}

#[test]
fn fok_fills_entirely_or_changes_nothing() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(10));
    let before = w.assets[YES].book.clone();
    let r = e.submit(
        &mut w,
        typed(order(1, A, YES, Side::Buy, 5000, 11), OrderType::Fok),
        1,
    );
    assert_eq!(r, Err(Reject::FokUnfilled));
    assert_eq!(w.assets[YES].book, before);
    assert_eq!(e.balance(A), e.available(A));
    let mut events = Vec::new();
    e.drain(&mut events);
    assert!(events.is_empty());
    let r = e.submit(
        &mut w,
        typed(order(2, A, YES, Side::Buy, 5000, 10), OrderType::Fok),
        2,
    );
    assert_eq!(r.unwrap().status, OrderStatus::Matched);
    assert_eq!(e.shares(A, YES), Qty::from_shares(110));
}

#[test]
fn fak_fills_what_it_can_and_releases_the_rest() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(6));
    let r = e.submit(
        &mut w,
        typed(order(1, A, YES, Side::Buy, 6000, 10), OrderType::Fak),
        1,
    );
    assert_eq!(r.unwrap().status, OrderStatus::Matched);
    assert_eq!(
        e.order(&OrderId([1; 32])).unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(e.available(A), e.balance(A));
    assert_eq!(e.balance(A), usdc(100_000 - 300));
    assert_eq!(w.assets[YES].book.depth(Side::Buy), 0);
    let r = e.submit(
        &mut w,
        typed(order(2, A, YES, Side::Buy, 6000, 10), OrderType::Fak),
        2,
    );
    assert_eq!(r.unwrap().status, OrderStatus::Unmatched);
}

#[test]
fn post_only_rests_unless_it_would_cross() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(6));
    let mut o = order(1, A, YES, Side::Buy, 5000, 10);
    o.post_only = true;
    assert_eq!(e.submit(&mut w, o.clone(), 1), Err(Reject::PostOnlyCross));
    o.price = Px(4900);
    assert_eq!(e.submit(&mut w, o, 1).unwrap().status, OrderStatus::Live);
    // Crossing through the complement counts too: a NO bid at 0.51 mints with a YES bid ≥ 0.49.
    w.assets[NO]
        .book
        .set(Side::Buy, Px(5100), Qty::from_shares(6));
    let mut o = order(2, B, YES, Side::Buy, 4900, 10);
    o.post_only = true;
    assert_eq!(e.submit(&mut w, o, 2), Err(Reject::PostOnlyCross));
}

#[test]
fn every_reject_has_its_reason_and_changes_nothing() {
    let (mut e, mut w) = plain();
    let cases = [
        (order(1, A, YES, Side::Buy, 5050, 10), Reject::Tick),
        (order(1, A, YES, Side::Buy, 0, 10), Reject::Tick),
        (order(1, A, YES, Side::Buy, 10_000, 10), Reject::Tick),
        (
            NewOrder {
                size: Qty(10_005_000),
                ..order(1, A, YES, Side::Buy, 5000, 0)
            },
            Reject::Tick,
        ),
        (order(1, A, YES, Side::Buy, 5000, 4), Reject::MinSize),
        (order(1, A, YES, Side::Buy, 5000, 2_001), Reject::Balance),
        (order(1, A, YES, Side::Sell, 5000, 101), Reject::Balance),
        (order(1, A, 7, Side::Buy, 5000, 10), Reject::UnknownAsset),
        (
            typed(
                order(1, A, YES, Side::Buy, 5000, 10),
                OrderType::Gtd { expiration_s: 5 },
            ),
            Reject::Expired,
        ),
    ];
    for (o, why) in cases {
        assert_eq!(e.submit(&mut w, o, 5_000), Err(why));
    }
    e.submit(&mut w, order(1, A, YES, Side::Buy, 5000, 10), 1)
        .unwrap();
    assert_eq!(
        e.submit(&mut w, order(1, A, YES, Side::Buy, 4000, 10), 2),
        Err(Reject::Duplicate)
    );
    w.markets[0].spec.accepting_orders = false;
    assert_eq!(
        e.submit(&mut w, order(2, A, YES, Side::Buy, 4000, 10), 3),
        Err(Reject::NotAccepting)
    );
    assert_eq!(
        Reject::Balance.error_msg(),
        "not enough balance / allowance"
    );
    assert_eq!(Reject::Balance.to_string(), Reject::Balance.error_msg());
}

#[test]
fn reservations_block_double_spending() {
    let (mut e, mut w) = plain();
    e.submit(&mut w, order(1, A, YES, Side::Buy, 5000, 1_500), 1)
        .unwrap();
    assert_eq!(e.available(A), usdc(100_000 - 75_000));
    assert_eq!(
        e.submit(&mut w, order(2, A, YES, Side::Buy, 5000, 600), 2),
        Err(Reject::Balance)
    );
    e.submit(&mut w, order(3, A, YES, Side::Sell, 6000, 100), 3)
        .unwrap();
    assert_eq!(
        e.submit(&mut w, order(4, A, YES, Side::Sell, 6000, 5), 4),
        Err(Reject::Balance)
    );
    assert_eq!(e.cancel_all(&mut w, A, CancelFilter::All, 5).len(), 2);
    assert_eq!(e.available(A), e.balance(A));
    assert_eq!(e.available_shares(A, YES), 100_000_000);
    assert_eq!(w.assets[YES].book.depth(Side::Buy), 0);
    assert_eq!(
        e.cancel(&mut w, A, &OrderId([1; 32]), 6),
        Err("already canceled or matched")
    );
}

#[test]
fn gtd_orders_expire_in_advance() {
    let (mut e, mut w) = plain();
    let o = typed(
        order(1, A, YES, Side::Buy, 4000, 10),
        OrderType::Gtd { expiration_s: 10 },
    );
    e.submit(&mut w, o, 1_000).unwrap();
    e.advance(&mut w, 9_999);
    assert_eq!(e.open_orders(A).count(), 1);
    e.advance(&mut w, 10_000);
    assert_eq!(e.open_orders(A).count(), 0);
    assert_eq!(
        e.order(&OrderId([1; 32])).unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(w.assets[YES].book.depth(Side::Buy), 0);
    assert_eq!(e.available(A), e.balance(A));
}

#[test]
fn a_buy_mints_against_a_complement_bid() {
    let (mut e, mut w) = plain();
    e.submit(&mut w, order(1, B, NO, Side::Buy, 4500, 10), 1)
        .unwrap();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5600), Qty::from_shares(10));
    let r = e
        .submit(&mut w, order(2, A, YES, Side::Buy, 6000, 10), 2)
        .unwrap();
    let t = e.trade(&r.trade_ids[0]).unwrap();
    assert_eq!(
        (t.price, t.size, t.makers[0].asset, t.makers[0].side),
        (Px(5500), Qty::from_shares(10), NO, Side::Buy)
    );
    assert_eq!(e.balance(A), usdc(100_000 - 550));
    assert_eq!(e.balance(B), usdc(100_000 - 450));
    assert_eq!(
        (e.shares(A, YES), e.shares(B, NO)),
        (Qty::from_shares(110), Qty::from_shares(110))
    );
    assert_eq!(e.minted_sets(0), 10_000_000);
    assert_eq!(
        w.assets[YES].book.level(Side::Sell, Px(5600)),
        Some(Qty::from_shares(10))
    );
    assert_eq!(w.assets[NO].book.depth(Side::Buy), 0);
}

#[test]
fn a_sell_merges_against_a_complement_ask() {
    let (mut e, mut w) = plain();
    e.submit(&mut w, order(1, B, NO, Side::Sell, 4000, 10), 1)
        .unwrap();
    let r = e
        .submit(&mut w, order(2, A, YES, Side::Sell, 5000, 10), 2)
        .unwrap();
    let t = e.trade(&r.trade_ids[0]).unwrap();
    assert_eq!(t.price, Px(6000));
    assert_eq!(
        (e.balance(A), e.balance(B)),
        (usdc(100_000 + 600), usdc(100_000 + 400))
    );
    assert_eq!(
        (e.shares(A, YES), e.shares(B, NO)),
        (Qty::from_shares(90), Qty::from_shares(90))
    );
    assert_eq!(e.minted_sets(0), -10_000_000);
}

#[test]
fn fees_go_to_the_fees_account() {
    let fees = FeeSchedule {
        rate_ppm: 30_000,
        exponent: 1,
        taker_only: false,
    };
    let (mut e, mut w) = setup(0, fees, EngineConfig::default());
    e.submit(&mut w, order(1, B, YES, Side::Sell, 4000, 100), 1)
        .unwrap();
    e.submit(&mut w, order(2, A, YES, Side::Buy, 4000, 100), 2)
        .unwrap();
    let fee = fees.taker_fee(Px(4000), Qty::from_shares(100));
    assert_eq!(fee, Usdc(720_000));
    assert_eq!(e.balance(AccountId::FEES), Usdc(2 * fee.0));
    assert_eq!(e.balance(A), Usdc(usdc(100_000 - 4_000).0 - fee.0));
    assert_eq!(e.balance(B), Usdc(usdc(100_000 + 4_000).0 - fee.0));
    assert_eq!(e.available(A), e.balance(A));
}

#[test]
fn a_delayed_taker_matches_later_and_rests_if_the_maker_left() {
    let (mut e, mut w) = setup(3, FeeSchedule::FREE, EngineConfig::default());
    e.submit(&mut w, order(1, B, YES, Side::Sell, 5000, 10), 0)
        .unwrap();
    let r = e
        .submit(&mut w, order(2, A, YES, Side::Buy, 5000, 10), 1_000)
        .unwrap();
    assert_eq!(r.status, OrderStatus::Delayed);
    e.cancel(&mut w, B, &OrderId([1; 32]), 2_000).unwrap();
    e.advance(&mut w, 3_999);
    assert_eq!(
        e.order(&OrderId([2; 32])).unwrap().status,
        OrderStatus::Delayed
    );
    e.advance(&mut w, 4_000);
    assert_eq!(
        e.order(&OrderId([2; 32])).unwrap().status,
        OrderStatus::Live
    );
    assert_eq!(
        w.assets[YES].book.level(Side::Buy, Px(5000)),
        Some(Qty::from_shares(10))
    );
    // A delayed FOK that no longer fills is killed.
    e.submit(&mut w, order(3, B, YES, Side::Buy, 4900, 10), 5_000)
        .unwrap();
    let r = e
        .submit(
            &mut w,
            typed(order(5, C, YES, Side::Sell, 5000, 5), OrderType::Fok),
            6_000,
        )
        .unwrap();
    assert_eq!(r.status, OrderStatus::Delayed);
    e.cancel(&mut w, A, &OrderId([2; 32]), 7_000).unwrap();
    e.advance(&mut w, 9_000);
    let killed = e.order(&OrderId([5; 32])).unwrap();
    assert_eq!(
        (killed.status, killed.size_matched),
        (OrderStatus::Cancelled, Qty::ZERO)
    );
    assert_eq!(e.available_shares(C, YES), 100_000_000);
}

#[test]
fn trades_settle_and_every_nth_fails_with_its_ledger_reversed() {
    let cfg = EngineConfig {
        matched_to_mined_ms: 10,
        mined_to_confirmed_ms: 20,
        fail_every_nth: 2,
    };
    let (mut e, mut w) = setup(0, FeeSchedule::FREE, cfg);
    e.submit(&mut w, order(1, B, YES, Side::Sell, 5000, 10), 0)
        .unwrap();
    e.submit(&mut w, order(2, A, YES, Side::Buy, 5000, 5), 100)
        .unwrap();
    let before = (
        e.balance(A),
        e.balance(B),
        e.shares(A, YES),
        e.shares(B, YES),
    );
    let r = e
        .submit(&mut w, order(3, A, YES, Side::Buy, 5000, 5), 100)
        .unwrap();
    let id = r.trade_ids[0].clone();
    assert_eq!(e.trade(&id).unwrap().status, TradeStatus::Matched);
    e.advance(&mut w, 110);
    assert_eq!(e.trade(&id).unwrap().status, TradeStatus::Retrying);
    e.advance(&mut w, 130);
    assert_eq!(e.trade(&id).unwrap().status, TradeStatus::Failed);
    assert_eq!(
        (
            e.balance(A),
            e.balance(B),
            e.shares(A, YES),
            e.shares(B, YES)
        ),
        before
    );
    let first = e.trades(A).next().unwrap();
    assert_eq!(
        (first.status, first.updated_ms),
        (TradeStatus::Confirmed, 130)
    );
    let mut events = Vec::new();
    e.drain(&mut events);
    let statuses: Vec<_> = events
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Trade { trade, accounts } if trade.id == id => {
                assert_eq!(accounts, &vec![A, B]);
                Some(trade.status)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            TradeStatus::Matched,
            TradeStatus::Retrying,
            TradeStatus::Failed
        ]
    );
}

#[test]
fn every_book_change_is_reported() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(3));
    e.submit(&mut w, order(1, B, YES, Side::Sell, 5100, 10), 1)
        .unwrap();
    e.submit(&mut w, order(2, A, YES, Side::Buy, 5200, 20), 2)
        .unwrap();
    e.cancel(&mut w, A, &OrderId([2; 32]), 3).unwrap();
    let mut events = Vec::new();
    e.drain(&mut events);
    let books: Vec<_> = events
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Book { asset, side, px } => Some((*asset, *side, *px)),
            _ => None,
        })
        .collect();
    assert_eq!(
        books,
        [
            (YES, Side::Sell, Px(5100)),
            (YES, Side::Sell, Px(5000)),
            (YES, Side::Sell, Px(5100)),
            (YES, Side::Buy, Px(5200)),
            (YES, Side::Buy, Px(5200)),
        ]
    );
    let prints = events
        .iter()
        .filter(|ev| matches!(ev, EngineEvent::LastTrade { .. }))
        .count();
    assert_eq!(prints, 2);
}

#[test]
fn the_taker_hears_of_its_fills_before_its_end() {
    let (mut e, mut w) = plain();
    w.assets[YES]
        .book
        .set(Side::Sell, Px(5000), Qty::from_shares(6));
    e.submit(
        &mut w,
        typed(order(1, A, YES, Side::Buy, 5000, 10), OrderType::Fak),
        1,
    )
    .unwrap();
    e.submit(&mut w, order(2, B, YES, Side::Buy, 4000, 10), 2)
        .unwrap();
    let mut events = Vec::new();
    e.drain(&mut events);
    let seen: Vec<_> = events
        .iter()
        .filter_map(|ev| match ev {
            EngineEvent::Order { kind, order, .. } => {
                Some((order.order.id.0[0], *kind, order.status, order.size_matched))
            }
            _ => None,
        })
        .collect();
    let six = Qty::from_shares(6);
    assert_eq!(
        seen,
        [
            (1, OrderEventKind::Update, OrderStatus::Cancelled, six),
            (1, OrderEventKind::Cancellation, OrderStatus::Cancelled, six),
            (2, OrderEventKind::Placement, OrderStatus::Live, Qty::ZERO),
        ]
    );
}
