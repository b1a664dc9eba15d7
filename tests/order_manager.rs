//! The order manager's state machine: every transition, out-of-order and duplicate events, the
//! unknown-order paths and their deadline, fees from the registry.

use std::sync::Arc;

use pmbot::adapters::polymarket::clob_client::rest::{MakerFill, OrderState, RestOrder, RestTrade};
use pmbot::adapters::polymarket::clob_client::{PostResult, PostStatus};
use pmbot::adapters::polymarket::ws_user::{
    OrderEventKind, OrderHash, TradeStatus, UserEvent, UserFill, UserOrder,
};
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::intents::{
    ClientId, ExecKind, ExecReport, GroupId, Liquidity, PlaceOrder, Tif, VenueReject,
};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{AssetIdx, Px, Qty, Side, Usdc};
use pmbot::execution::order_manager::{OmError, OrderManager, OrderStatus, SendFailure};
use pmbot::execution::reconcile::{reconcile, rest_fills};

const DEADLINE: u64 = 4_000;
/// The lookup interval the manager derives from `DEADLINE`.
const EVERY: u64 = DEADLINE / 4;

/// Asset 0/1: a market where makers pay too (rate 0.03); asset 2/3: taker-only, 3 s delay.
fn registry() -> Arc<Registry> {
    let mut r = Registry::default();
    r.add_market(MarketSpec {
        condition_id: "0xaa".into(),
        token_ids: vec!["11".into(), "12".into()],
        fees: FeeSchedule {
            rate_ppm: 30_000,
            exponent: 1,
            taker_only: false,
        },
        ..MarketSpec::default()
    })
    .unwrap();
    r.add_market(MarketSpec {
        condition_id: "0xbb".into(),
        token_ids: vec!["21".into(), "22".into()],
        fees: FeeSchedule {
            rate_ppm: 30_000,
            exponent: 1,
            taker_only: true,
        },
        seconds_delay: 3,
        ..MarketSpec::default()
    })
    .unwrap();
    Arc::new(r)
}

fn om() -> OrderManager {
    OrderManager::new(16, DEADLINE, registry())
}

fn place(id: u64, asset: u32, tif: Tif, shares: u64) -> PlaceOrder {
    PlaceOrder {
        client_id: ClientId(id),
        asset: AssetIdx(asset),
        side: Side::Buy,
        limit_px: Px(4_000),
        size: Qty::from_shares(shares),
        tif,
        post_only: false,
        group: GroupId(id),
        group_len: 1,
    }
}

fn hash(id: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&id.to_le_bytes());
    h[31] = 0xee;
    h
}

/// Records and sends an order.
fn sent(m: &mut OrderManager, id: u64, asset: u32, tif: Tif, shares: u64) {
    m.on_new(&place(id, asset, tif, shares), hash(id), 0)
        .unwrap();
    m.on_sent(ClientId(id), 1);
}

fn ack(status: PostStatus, matched_shares: u64) -> PostResult {
    let shares = Qty::from_shares(matched_shares).0;
    PostResult {
        success: true,
        error: None,
        order_id: [0; 32],
        status,
        making: shares * 4 / 10,
        taking: shares,
    }
}

fn trade(trade: u128, id: u64, status: TradeStatus, shares: u64, liq: Liquidity) -> UserFill {
    UserFill {
        trade_id: trade,
        status,
        order_id: OrderHash(hash(id)),
        asset: AssetIdx(0),
        side: Side::Buy,
        px: Px(4_000),
        qty: Qty::from_shares(shares),
        fee_rate_bps: 0,
        liquidity: liq,
        ts_ms: 0,
    }
}

fn order_event(id: u64, kind: OrderEventKind, matched: u64) -> UserOrder {
    UserOrder {
        kind,
        order_id: OrderHash(hash(id)),
        asset: AssetIdx(0),
        side: Side::Buy,
        px: Px(4_000),
        original_size: Qty::from_shares(10),
        size_matched: Qty::from_shares(matched),
        ts_ms: 0,
    }
}

fn rest(id: u64, state: OrderState, matched: u64) -> RestOrder {
    RestOrder {
        id: hash(id),
        state,
        asset_id: "11".into(),
        side: Side::Buy,
        price: Px(4_000),
        original_size: Qty::from_shares(10),
        size_matched: Qty::from_shares(matched),
        order_type: "GTC".into(),
        expiration_s: 0,
        created_at_s: 0,
        trade_ids: Vec::new(),
    }
}

/// The fee the registry's schedule charges 0.40 × `shares`: 0.03 × 0.24 per share.
fn fee(shares: u64) -> Usdc {
    Usdc(7_200 * shares as i64)
}

fn fill(shares: u64, liquidity: Liquidity, fee: Usdc) -> ExecKind {
    ExecKind::Fill {
        px: Px(4_000),
        qty: Qty::from_shares(shares),
        fee,
        liquidity,
    }
}

fn kinds(out: &[ExecReport]) -> Vec<ExecKind> {
    out.iter().map(|r| r.kind).collect()
}

/// Runs `f` with a fresh report buffer and returns what it reported.
fn run(
    m: &mut OrderManager,
    f: impl FnOnce(&mut OrderManager, &mut Vec<ExecReport>),
) -> Vec<ExecKind> {
    let mut out = Vec::new();
    f(m, &mut out);
    kinds(&out)
}

#[test]
fn a_resting_order_goes_live_fills_in_parts_and_is_done_at_full_fill() {
    let mut m = om();
    m.on_new(&place(1, 0, Tif::Gtc, 10), hash(1), 0).unwrap();
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::New));
    m.on_sent(ClientId(1), 1);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Sent));
    let got = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Live, 0), 2, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Live));
    let t = trade(7, 1, TradeStatus::Matched, 4, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 3, o));
    assert_eq!(got, vec![fill(4, Liquidity::Maker, fee(4))]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Matched));
    let t = trade(8, 1, TradeStatus::Matched, 6, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 4, o));
    assert_eq!(got, vec![fill(6, Liquidity::Maker, fee(6)), ExecKind::Done]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Filled));
    let c = m.counters();
    assert_eq!(
        (c.orders_sent, c.acks, c.fills, c.cancels, c.rejects),
        (1, 1, 2, 0, 0)
    );
    assert_eq!(m.open_orders().count(), 0);
}

#[test]
fn reports_carry_the_time_they_were_seen() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    let mut out = Vec::new();
    m.on_post_result(ClientId(1), &ack(PostStatus::Live, 0), 1234, &mut out);
    assert_eq!(
        out,
        vec![ExecReport {
            client_id: ClientId(1),
            ts_ms: 1234,
            kind: ExecKind::Accepted
        }]
    );
}

#[test]
fn a_client_id_or_hash_is_never_recorded_twice() {
    let mut m = om();
    m.on_new(&place(1, 0, Tif::Gtc, 10), hash(1), 0).unwrap();
    assert_eq!(
        m.on_new(&place(1, 0, Tif::Gtc, 10), hash(99), 0),
        Err(OmError::DuplicateClientId(ClientId(1)))
    );
    assert_eq!(
        m.on_new(&place(2, 0, Tif::Gtc, 10), hash(1), 0),
        Err(OmError::DuplicateHash(ClientId(2)))
    );
    assert_eq!(
        m.on_new(&place(17, 0, Tif::Gtc, 10), hash(17), 0),
        Err(OmError::SlotBusy(ClientId(17))),
        "17 maps onto open order 1 in a table of 16"
    );
    assert_eq!(
        m.on_new(&place(3, 9, Tif::Gtc, 10), hash(3), 0),
        Err(OmError::UnknownAsset(ClientId(3), 9))
    );
}

#[test]
fn a_finished_order_frees_its_slot_and_its_id_stays_refused() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Fak, 10);
    run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Unmatched, 0), 2, o)
    });
    m.on_new(&place(17, 0, Tif::Gtc, 10), hash(17), 3).unwrap();
    assert_eq!(m.status(ClientId(1)), None, "evicted");
    assert_eq!(
        m.on_new(&place(1, 0, Tif::Gtc, 10), hash(1), 4),
        Err(OmError::DuplicateClientId(ClientId(1)))
    );
    let stale = trade(5, 1, TradeStatus::Matched, 1, Liquidity::Taker);
    assert!(run(&mut m, |m, o| m.on_user_fill(&stale, 5, o)).is_empty());
    assert_eq!(m.counters().foreign_events, 1);
}

#[test]
fn a_rejected_order_ends_with_rejected_only() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    let refused = PostResult {
        success: false,
        error: Some(VenueReject::Balance),
        order_id: [0; 32],
        status: PostStatus::Unmatched,
        making: 0,
        taking: 0,
    };
    let got = run(&mut m, |m, o| m.on_post_result(ClientId(1), &refused, 2, o));
    assert_eq!(
        got,
        vec![ExecKind::Rejected {
            reason: VenueReject::Balance
        }]
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Rejected));
    let again = run(&mut m, |m, o| m.on_post_result(ClientId(1), &refused, 3, o));
    assert!(again.is_empty());
    assert_eq!(m.counters().rejects, 1);
}

#[test]
fn a_send_refused_before_writing_is_rejected_at_once() {
    let mut m = om();
    m.on_new(&place(1, 0, Tif::Gtc, 10), hash(1), 0).unwrap();
    let got = run(&mut m, |m, o| {
        m.on_send_failed(
            ClientId(1),
            SendFailure::Refused(VenueReject::RateLimited),
            1,
            o,
        )
    });
    assert_eq!(
        got,
        vec![ExecKind::Rejected {
            reason: VenueReject::RateLimited
        }]
    );
    assert_eq!(m.counters().orders_sent, 0);
}

#[test]
fn a_fok_fill_seen_before_the_post_response_is_not_repeated_by_it() {
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fok, 10);
    let t = trade(1, 1, TradeStatus::Matched, 10, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 2, o));
    assert_eq!(
        got,
        vec![
            ExecKind::Accepted,
            fill(10, Liquidity::Taker, fee(10)),
            ExecKind::Done
        ]
    );
    let late = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Matched, 10), 3, o)
    });
    assert!(late.is_empty());
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Filled));
    assert_eq!(m.counters().acks, 1);
}

#[test]
fn a_fak_is_done_once_its_fills_cover_the_posted_match_in_either_order() {
    // Response first, then the fill.
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fak, 10);
    let got = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Matched, 4), 2, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted], "no Done before the fill");
    let t = trade(1, 1, TradeStatus::Matched, 4, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 3, o));
    assert_eq!(got, vec![fill(4, Liquidity::Taker, fee(4)), ExecKind::Done]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Cancelled));
    assert_eq!(m.counters().cancels, 1);

    // Fill first, then the response.
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fak, 10);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 2, o));
    assert_eq!(
        got,
        vec![ExecKind::Accepted, fill(4, Liquidity::Taker, fee(4))]
    );
    let got = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Matched, 4), 3, o)
    });
    assert_eq!(got, vec![ExecKind::Done]);
}

#[test]
fn a_sell_fak_reads_its_matched_shares_from_the_making_amount() {
    let mut m = om();
    let mut p = place(1, 2, Tif::Fak, 10);
    p.side = Side::Sell;
    m.on_new(&p, hash(1), 0).unwrap();
    m.on_sent(ClientId(1), 0);
    let sold = PostResult {
        success: true,
        error: None,
        order_id: hash(1),
        status: PostStatus::Matched,
        making: Qty::from_shares(3).0,
        taking: 1_200_000,
    };
    run(&mut m, |m, o| m.on_post_result(ClientId(1), &sold, 1, o));
    let t = trade(1, 1, TradeStatus::Matched, 3, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 2, o));
    assert_eq!(got.last(), Some(&ExecKind::Done));
}

#[test]
fn an_unmatched_taker_order_is_done_at_once() {
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fak, 10);
    let got = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Unmatched, 0), 2, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted, ExecKind::Done]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Cancelled));
}

#[test]
fn later_statuses_and_duplicates_of_a_trade_never_count_twice() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Live, 0), 2, o)
    });
    let mut total = Vec::new();
    for status in [
        TradeStatus::Confirmed,
        TradeStatus::Matched,
        TradeStatus::Matched,
        TradeStatus::Mined,
        TradeStatus::Confirmed,
    ] {
        let t = trade(42, 1, status, 5, Liquidity::Taker);
        total.extend(run(&mut m, |m, o| m.on_user_fill(&t, 3, o)));
    }
    assert_eq!(
        total,
        vec![fill(5, Liquidity::Taker, fee(5))],
        "CONFIRMED first counts the fill once"
    );
    assert_eq!((m.counters().fills, m.counters().settled), (1, 1));
    // The same trade id for another of our orders is another fill.
    sent(&mut m, 2, 0, Tif::Gtc, 10);
    let t = trade(42, 2, TradeStatus::Matched, 5, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 4, o));
    assert_eq!(
        got,
        vec![ExecKind::Accepted, fill(5, Liquidity::Maker, fee(5))]
    );
}

#[test]
fn a_failed_trade_reverses_exactly_the_fill_it_reported() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    let matched = trade(9, 1, TradeStatus::Matched, 3, Liquidity::Taker);
    run(&mut m, |m, o| m.on_user_fill(&matched, 2, o));
    let retry = trade(9, 1, TradeStatus::Retrying, 3, Liquidity::Taker);
    assert!(run(&mut m, |m, o| m.on_user_fill(&retry, 3, o)).is_empty());
    let failed = trade(9, 1, TradeStatus::Failed, 3, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&failed, 4, o));
    assert_eq!(
        got,
        vec![ExecKind::FillReversed {
            px: Px(4_000),
            qty: Qty::from_shares(3),
            fee: fee(3),
            liquidity: Liquidity::Taker
        }]
    );
    assert!(run(&mut m, |m, o| m.on_user_fill(&failed, 5, o)).is_empty());
    assert!(run(&mut m, |m, o| m.on_user_fill(&matched, 6, o)).is_empty());
    assert_eq!(m.counters().reversed, 1);
}

#[test]
fn a_failure_whose_match_was_never_seen_reports_nothing_ever() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    let failed = trade(9, 1, TradeStatus::Failed, 3, Liquidity::Taker);
    assert!(run(&mut m, |m, o| m.on_user_fill(&failed, 2, o)).is_empty());
    let matched = trade(9, 1, TradeStatus::Matched, 3, Liquidity::Taker);
    assert!(run(&mut m, |m, o| m.on_user_fill(&matched, 3, o)).is_empty());
    assert_eq!((m.counters().fills, m.counters().reversed), (0, 0));
}

#[test]
fn maker_fills_on_taker_only_markets_pay_nothing() {
    let mut m = om();
    sent(&mut m, 1, 3, Tif::Gtc, 10);
    let t = trade(1, 1, TradeStatus::Matched, 2, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 2, o));
    assert_eq!(got[1], fill(2, Liquidity::Maker, Usdc::ZERO));
    let t = trade(2, 1, TradeStatus::Matched, 2, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 3, o));
    assert_eq!(got, vec![fill(2, Liquidity::Taker, fee(2))]);
}

#[test]
fn a_cancellation_racing_a_fill_waits_for_the_fill_before_done() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Live, 0), 2, o)
    });
    let placed = order_event(1, OrderEventKind::Placement, 0);
    assert!(run(&mut m, |m, o| m.on_user_order(&placed, 3, o)).is_empty());
    let cancel = order_event(1, OrderEventKind::Cancellation, 5);
    assert!(
        run(&mut m, |m, o| m.on_user_order(&cancel, 4, o)).is_empty(),
        "5 matched, none reported yet"
    );
    let t = trade(3, 1, TradeStatus::Matched, 5, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 5, o));
    assert_eq!(got, vec![fill(5, Liquidity::Maker, fee(5)), ExecKind::Done]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Cancelled));
    assert!(run(&mut m, |m, o| m.on_user_order(&cancel, 6, o)).is_empty());
}

#[test]
fn a_cancellation_after_the_fill_is_done_at_once_and_a_user_event_can_precede_the_ack() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    let placed = order_event(1, OrderEventKind::Placement, 0);
    assert_eq!(
        run(&mut m, |m, o| m.on_user_order(&placed, 2, o)),
        vec![ExecKind::Accepted]
    );
    assert!(
        run(&mut m, |m, o| m.on_post_result(
            ClientId(1),
            &ack(PostStatus::Live, 0),
            3,
            o
        ))
        .is_empty()
    );
    let update = order_event(1, OrderEventKind::Update, 2);
    assert!(run(&mut m, |m, o| m.on_user_order(&update, 4, o)).is_empty());
    let t = trade(3, 1, TradeStatus::Matched, 2, Liquidity::Maker);
    run(&mut m, |m, o| m.on_user_fill(&t, 5, o));
    let cancel = order_event(1, OrderEventKind::Cancellation, 2);
    assert_eq!(
        run(&mut m, |m, o| m.on_user_order(&cancel, 6, o)),
        vec![ExecKind::Done]
    );
    assert_eq!(m.counters().cancels, 1);
}

#[test]
fn an_unknown_send_reserves_the_order_until_the_user_channel_resolves_it() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    assert!(
        run(&mut m, |m, o| m.on_send_failed(
            ClientId(1),
            SendFailure::Unknown,
            100,
            o
        ))
        .is_empty()
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Unknown));
    let placed = order_event(1, OrderEventKind::Placement, 0);
    assert_eq!(
        run(&mut m, |m, o| m.on_user(&UserEvent::Order(placed), 200, o)),
        vec![ExecKind::Accepted]
    );
    assert!(run(&mut m, |m, o| m.on_user(&UserEvent::Connected, 201, o)).is_empty());
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Live));
    assert_eq!(m.counters().unknown_resolved, 1);
    let mut due = Vec::new();
    m.due_lookups(100 + 10 * DEADLINE, &mut due);
    assert!(due.is_empty(), "a resolved resting order is not looked up");
    assert!(run(&mut m, |m, o| m.check_deadlines(100 + 10 * DEADLINE, o)).is_empty());
}

#[test]
fn an_unknown_order_is_looked_up_on_schedule_and_a_lookup_finds_its_state() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_send_failed(ClientId(1), SendFailure::Unknown, 100, o)
    });
    let mut due = Vec::new();
    m.due_lookups(100 + EVERY - 1, &mut due);
    assert!(due.is_empty());
    m.due_lookups(100 + EVERY, &mut due);
    assert_eq!(due, vec![(ClientId(1), hash(1))]);
    due.clear();
    m.due_lookups(100 + EVERY + 1, &mut due);
    assert!(due.is_empty(), "the next one is an interval later");
    let found = rest(1, OrderState::Live, 3);
    let got = run(&mut m, |m, o| {
        m.on_lookup(ClientId(1), Some(&found), 100 + EVERY + 5, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Live));
    m.due_lookups(100 + 10 * DEADLINE, &mut due);
    assert!(due.is_empty());
}

#[test]
fn an_unknown_taker_found_matched_is_done_when_its_fills_arrive() {
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fok, 10);
    run(&mut m, |m, o| {
        m.on_send_failed(ClientId(1), SendFailure::Unknown, 0, o)
    });
    let found = rest(1, OrderState::Matched, 10);
    let got = run(&mut m, |m, o| {
        m.on_lookup(ClientId(1), Some(&found), EVERY, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted]);
    let t = trade(1, 1, TradeStatus::Mined, 10, Liquidity::Taker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, EVERY + 1, o));
    assert_eq!(
        got,
        vec![fill(10, Liquidity::Taker, fee(10)), ExecKind::Done]
    );
}

#[test]
fn not_found_rejects_only_from_a_lookup_sent_after_the_deadline() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_send_failed(ClientId(1), SendFailure::Unknown, 0, o)
    });
    let mut due = Vec::new();
    m.due_lookups(EVERY, &mut due);
    assert!(
        run(&mut m, |m, o| m.on_lookup(
            ClientId(1),
            None,
            DEADLINE + 10,
            o
        ))
        .is_empty(),
        "asked before the deadline: the order may still land"
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Unknown));
    due.clear();
    m.due_lookups(DEADLINE + 10, &mut due);
    assert_eq!(due.len(), 1);
    let got = run(&mut m, |m, o| {
        m.on_lookup(ClientId(1), None, DEADLINE + 20, o)
    });
    assert_eq!(
        got,
        vec![ExecKind::Rejected {
            reason: VenueReject::Other
        }]
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Rejected));
    assert_eq!(m.counters().unknown_resolved, 1);
    assert!(run(&mut m, |m, o| m.check_deadlines(10 * DEADLINE, o)).is_empty());
}

#[test]
fn an_order_unresolved_past_its_deadline_is_reported_once_and_can_still_resolve() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_send_failed(ClientId(1), SendFailure::Unknown, 0, o)
    });
    assert!(run(&mut m, |m, o| m.check_deadlines(DEADLINE + EVERY - 1, o)).is_empty());
    let got = run(&mut m, |m, o| m.check_deadlines(DEADLINE + EVERY, o));
    assert_eq!(got, vec![ExecKind::Unresolved]);
    assert!(run(&mut m, |m, o| m.check_deadlines(3 * DEADLINE, o)).is_empty());
    assert_eq!(m.counters().unresolved, 1);
    let t = trade(1, 1, TradeStatus::Matched, 10, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 4 * DEADLINE, o));
    assert_eq!(
        got,
        vec![
            ExecKind::Accepted,
            fill(10, Liquidity::Maker, fee(10)),
            ExecKind::Done
        ]
    );
    assert_eq!(m.counters().unknown_resolved, 1);
}

#[test]
fn a_send_failure_after_an_answer_changes_nothing() {
    let mut m = om();
    sent(&mut m, 1, 0, Tif::Gtc, 10);
    run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Live, 0), 2, o)
    });
    assert!(
        run(&mut m, |m, o| m.on_send_failed(
            ClientId(1),
            SendFailure::Unknown,
            3,
            o
        ))
        .is_empty()
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Live));
    assert_eq!(m.counters().contradictions, 1);
}

#[test]
fn a_delayed_taker_is_looked_up_after_the_markets_delay() {
    let mut m = om();
    sent(&mut m, 1, 2, Tif::Fak, 10);
    let got = run(&mut m, |m, o| {
        m.on_post_result(ClientId(1), &ack(PostStatus::Delayed, 0), 1_000, o)
    });
    assert_eq!(got, vec![ExecKind::Accepted]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Delayed));
    let mut due = Vec::new();
    m.due_lookups(1_000 + 3_000 + EVERY - 1, &mut due);
    assert!(due.is_empty(), "the 3 s delay has not passed");
    m.due_lookups(1_000 + 3_000 + EVERY, &mut due);
    assert_eq!(due.len(), 1);
    let t = trade(1, 1, TradeStatus::Matched, 6, Liquidity::Taker);
    run(&mut m, |m, o| m.on_user_fill(&t, 5_000, o));
    let found = rest(1, OrderState::Matched, 6);
    let got = run(&mut m, |m, o| {
        m.on_lookup(ClientId(1), Some(&found), 5_100, o)
    });
    assert_eq!(got, vec![ExecKind::Done]);
    assert!(run(&mut m, |m, o| m.check_deadlines(100 * DEADLINE, o)).is_empty());
}

/// Two live resting orders (1 and 2), order 3 still waiting for its POST response.
fn three_open() -> OrderManager {
    let mut m = om();
    for id in [1, 2] {
        sent(&mut m, id, 0, Tif::Gtc, 10);
        run(&mut m, |m, o| {
            m.on_post_result(ClientId(id), &ack(PostStatus::Live, 0), 2, o)
        });
    }
    sent(&mut m, 3, 0, Tif::Gtc, 10);
    m
}

#[test]
fn reconcile_recovers_missed_fills_once_and_looks_up_vanished_orders() {
    let mut m = three_open();
    let seen = trade(1, 1, TradeStatus::Matched, 2, Liquidity::Maker);
    run(&mut m, |m, o| m.on_user_fill(&seen, 3, o));
    let missed = trade(2, 2, TradeStatus::Confirmed, 3, Liquidity::Maker);
    let trades = [
        trade(1, 1, TradeStatus::Confirmed, 2, Liquidity::Maker),
        missed,
        trade(77, 1234, TradeStatus::Matched, 1, Liquidity::Taker),
    ];
    let open = [rest(1, OrderState::Live, 2), rest(99, OrderState::Live, 0)];
    let mut out = Vec::new();
    let rep = reconcile(&mut m, &open, &trades, 10, &mut out);
    assert_eq!(kinds(&out), vec![fill(3, Liquidity::Maker, fee(3))]);
    assert_eq!(out[0].client_id, ClientId(2));
    assert_eq!(
        (
            rep.trades_seen,
            rep.fills_recovered,
            rep.orders_confirmed,
            rep.orders_missing
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(rep.strays, vec![hash(99)]);
    assert_eq!(m.counters().settled, 2);

    // Order 2 vanished from the book: it is looked up now, and its lookup finishes it.
    let mut due = Vec::new();
    m.due_lookups(10, &mut due);
    assert_eq!(
        due,
        vec![(ClientId(2), hash(2))],
        "not 3: its POST response is pending"
    );
    let gone = rest(2, OrderState::Cancelled, 3);
    let got = run(&mut m, |m, o| m.on_lookup(ClientId(2), Some(&gone), 11, o));
    assert_eq!(got, vec![ExecKind::Done]);
    assert_eq!(m.status(ClientId(2)), Some(OrderStatus::Cancelled));

    // The same snapshots again change nothing.
    let mut again = Vec::new();
    let rep = reconcile(&mut m, &open, &trades, 12, &mut again);
    assert!(again.is_empty());
    assert_eq!((rep.fills_recovered, rep.orders_missing), (0, 0));
    assert_eq!(m.counters().fills, 2);
}

#[test]
fn reconcile_waits_for_fills_a_vanished_order_still_owes() {
    let mut m = three_open();
    let mut out = Vec::new();
    reconcile(&mut m, &[rest(2, OrderState::Live, 0)], &[], 10, &mut out);
    assert!(out.is_empty());
    let filled = rest(1, OrderState::Matched, 10);
    let got = run(&mut m, |m, o| {
        m.on_lookup(ClientId(1), Some(&filled), 11, o)
    });
    assert!(got.is_empty(), "10 matched, none reported yet");
    let t = trade(5, 1, TradeStatus::Matched, 10, Liquidity::Maker);
    let got = run(&mut m, |m, o| m.on_user_fill(&t, 12, o));
    assert_eq!(
        got,
        vec![fill(10, Liquidity::Maker, fee(10)), ExecKind::Done]
    );
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Filled));
}

#[test]
fn a_vanished_order_the_venue_no_longer_knows_ends_with_what_it_filled() {
    let mut m = three_open();
    let t = trade(5, 1, TradeStatus::Matched, 4, Liquidity::Maker);
    run(&mut m, |m, o| m.on_user_fill(&t, 3, o));
    let mut out = Vec::new();
    reconcile(&mut m, &[], &[], 10, &mut out);
    let got = run(&mut m, |m, o| m.on_lookup(ClientId(1), None, 11, o));
    assert_eq!(got, vec![ExecKind::Done]);
    assert_eq!(m.status(ClientId(1)), Some(OrderStatus::Cancelled));
    let got = run(&mut m, |m, o| m.on_lookup(ClientId(3), None, 11, o));
    assert!(
        got.is_empty(),
        "never acknowledged and not unknown: nothing to conclude"
    );
}

fn maker_part(id: u64, owner: &str, shares: u64) -> MakerFill {
    MakerFill {
        order_id: hash(id),
        owner: owner.into(),
        asset_id: "11".into(),
        side: Side::Buy,
        price: Px(4_000),
        matched: Qty::from_shares(shares),
        fee_rate_bps: 0,
    }
}

fn rest_trade(id: &str, status: &str, taker: Liquidity, makers: Vec<MakerFill>) -> RestTrade {
    RestTrade {
        id: id.into(),
        status: status.into(),
        taker_order_id: hash(1),
        asset_id: "11".into(),
        side: Side::Buy,
        size: Qty::from_shares(2),
        price: Px(4_000),
        fee_rate_bps: 0,
        trader_side: taker,
        maker_orders: makers,
        transaction_hash: String::new(),
    }
}

#[test]
fn rest_trades_become_the_fills_the_channel_would_have_sent() {
    let reg = registry();
    let mut fills = Vec::new();
    let took = rest_trade(
        "t-1",
        "MINED",
        Liquidity::Taker,
        vec![maker_part(50, "them", 2)],
    );
    rest_fills(&took, "us", &reg, &mut fills);
    let made = rest_trade(
        "t-2",
        "confirmed",
        Liquidity::Maker,
        vec![maker_part(2, "us", 3), maker_part(51, "them", 1)],
    );
    rest_fills(&made, "us", &reg, &mut fills);
    rest_fills(
        &rest_trade("t-3", "SETTLING", Liquidity::Taker, vec![]),
        "us",
        &reg,
        &mut fills,
    );
    let got: Vec<_> = fills
        .iter()
        .map(|f| (f.order_id, f.status, f.qty, f.liquidity, f.asset))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                OrderHash(hash(1)),
                TradeStatus::Mined,
                Qty::from_shares(2),
                Liquidity::Taker,
                AssetIdx(0)
            ),
            (
                OrderHash(hash(2)),
                TradeStatus::Confirmed,
                Qty::from_shares(3),
                Liquidity::Maker,
                AssetIdx(0)
            ),
        ],
        "an unknown status is skipped"
    );
    assert_ne!(fills[0].trade_id, fills[1].trade_id);

    // The channel already delivered t-1 under the same id hash: reconciling recovers only t-2.
    let mut m = three_open();
    let seen = UserFill {
        status: TradeStatus::Matched,
        ..fills[0]
    };
    run(&mut m, |m, o| m.on_user_fill(&seen, 3, o));
    let mut out = Vec::new();
    let open = [rest(1, OrderState::Live, 2), rest(2, OrderState::Live, 3)];
    let rep = reconcile(&mut m, &open, &fills, 10, &mut out);
    assert_eq!(kinds(&out), vec![fill(3, Liquidity::Maker, fee(3))]);
    assert_eq!(out[0].client_id, ClientId(2));
    assert_eq!(rep.fills_recovered, 1);
}
