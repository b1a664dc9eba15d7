//! The official Rust SDK, unchanged, trades on the embedded venue: API keys by L1, a resting GTC
//! order seen in the book and in `/data/orders`, a second account crossing it, the trade on both
//! accounts' user channels, cancel-all; and the requests the venue must refuse, with its real
//! error shapes.

#[allow(dead_code, reason = "the shared helpers serve several test files")]
mod common;

use std::str::FromStr as _;
use std::time::Duration;

use futures::StreamExt as _;
use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::signing::parse_address;
use pmbot::sim::{Scenario, Venue};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{ExposeSecret as _, LocalSigner, Normal, Signer as _};
use polymarket_client_sdk_v2::clob::types::request::{OrderBookSummaryRequest, OrdersRequest};
use polymarket_client_sdk_v2::clob::types::response::PostOrderResponse;
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderStatusType, OrderType, Side, TraderSide,
};
use polymarket_client_sdk_v2::clob::ws::types::response::TradeMessageStatus;
use polymarket_client_sdk_v2::clob::ws::{self, TradeMessage, WsMessage};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{Address, B256, Decimal, U256};
use polymarket_client_sdk_v2::ws::config::Config as WsConfig;

/// Well-known development keys (anvil's first two accounts).
const KEY_A: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY_B: &str = "0x59c6995e998f97a71a4f6ecd1e3a1a6a2a9c0d1e0d1e6f9b4f4b1c1a0b7b8e4f";
/// How long the test waits for a user-channel event.
const EVENT_WAIT: Duration = Duration::from_secs(10);

type Authed = Client<Authenticated<Normal>>;

/// One binary market with a spread wide enough to bid inside it; the books stay still because
/// no market-channel client subscribes.
fn scenario() -> Scenario {
    Scenario::from_yaml(
        "sdk",
        "seed: 61
universe:
  binary:
    - {count: 1, tick: 0.01}
  min_order_size: 5
dynamics:
  steps: 10
  rate_per_sec: 1000
  checkpoint_every: 10
  levels_per_side: 3
  min_spread_ticks: 4
  mix: {price_change: 1, book: 0, last_trade_price: 0, best_bid_ask: 0}
trading:
  faucet_usdc: \"1000\"
  faucet_shares: \"100\"
",
    )
    .unwrap()
}

fn signer(key: &str) -> LocalSigner<k256::ecdsa::SigningKey> {
    LocalSigner::from_str(key)
        .unwrap()
        .with_chain_id(Some(POLYGON))
}

async fn login(venue: &Venue, key: &str) -> Authed {
    Client::new(&venue.rest_url(), Config::default())
        .unwrap()
        .authentication_builder(&signer(key))
        .authenticate()
        .await
        .unwrap()
}

/// The first market: its condition id, Yes token, and the Yes book's best bid and ask.
async fn market(client: &Authed) -> (B256, U256, Decimal, Decimal) {
    let page = client.markets(None).await.unwrap();
    let m = &page.data[0];
    let token = m.tokens[0].token_id;
    let book = client
        .order_book(&OrderBookSummaryRequest::builder().token_id(token).build())
        .await
        .unwrap();
    let bid = book.bids.iter().map(|l| l.price).max().unwrap();
    let ask = book.asks.iter().map(|l| l.price).min().unwrap();
    (m.condition_id.unwrap(), token, bid, ask)
}

async fn limit(
    client: &Authed,
    key: &str,
    token: U256,
    side: Side,
    price: Decimal,
    size: Decimal,
) -> PostOrderResponse {
    let order = client
        .limit_order()
        .token_id(token)
        .order_type(OrderType::GTC)
        .price(price)
        .size(size)
        .side(side)
        .build()
        .await
        .unwrap();
    let signed = client.sign(&signer(key), order).await.unwrap();
    client.post_order(signed).await.unwrap()
}

/// Waits for the user channel's trade event in which order `id` took part (as the taker or a
/// maker); every event before it must parse.
async fn trade_for(
    stream: &mut (impl futures::Stream<Item = polymarket_client_sdk_v2::Result<WsMessage>> + Unpin),
    id: &str,
) -> TradeMessage {
    loop {
        let message = tokio::time::timeout(EVENT_WAIT, stream.next())
            .await
            .expect("a trade event in time")
            .expect("the stream stays open")
            .expect("a well-formed event");
        if let WsMessage::Trade(t) = message
            && (t.taker_order_id.as_deref() == Some(id)
                || t.maker_orders.iter().any(|m| m.order_id == id))
        {
            return t;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_places_crosses_sees_the_trade_and_cancels() {
    let venue = common::start(scenario());
    let a = login(&venue, KEY_A).await;
    let b = login(&venue, KEY_B).await;
    let again = login(&venue, KEY_A).await;
    assert_eq!(
        again.credentials().key(),
        a.credentials().key(),
        "derive is stable"
    );

    let (condition, token, bid, ask) = market(&a).await;
    let tick = Decimal::from_str("0.01").unwrap();
    let price = bid + tick;
    assert!(price < ask, "the scenario's spread leaves room inside it");
    let size = Decimal::from(5);

    let ws_a = ws::Client::new(&venue.ws_base_url(), WsConfig::default())
        .unwrap()
        .authenticate(a.credentials().clone(), a.address())
        .unwrap();
    let ws_b = ws::Client::new(&venue.ws_base_url(), WsConfig::default())
        .unwrap()
        .authenticate(b.credentials().clone(), b.address())
        .unwrap();
    let mut events_a = Box::pin(ws_a.subscribe_user_events(vec![condition]).unwrap());
    let mut events_b = Box::pin(ws_b.subscribe_user_events(vec![condition]).unwrap());
    let deadline = std::time::Instant::now() + EVENT_WAIT;
    while venue.user_subscriptions() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "both user channels subscribe"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let placed = limit(&a, KEY_A, token, Side::Buy, price, size).await;
    assert!(placed.success, "{placed:?}");
    assert_eq!(placed.status, OrderStatusType::Live);

    let book = a
        .order_book(&OrderBookSummaryRequest::builder().token_id(token).build())
        .await
        .unwrap();
    let level = book
        .bids
        .iter()
        .find(|l| l.price == price)
        .expect("our level");
    assert_eq!(level.size, size);
    let open = a.orders(&OrdersRequest::default(), None).await.unwrap();
    assert_eq!(open.next_cursor, "LTE=");
    assert_eq!(open.data.len(), 1);
    assert_eq!(open.data[0].id, placed.order_id);
    assert_eq!(open.data[0].price, price);

    let crossed = limit(&b, KEY_B, token, Side::Sell, price, size).await;
    assert!(crossed.success, "{crossed:?}");
    assert_eq!(crossed.status, OrderStatusType::Matched);
    assert_eq!(crossed.trade_ids.len(), 1);
    assert_eq!(crossed.transaction_hashes.len(), 1);

    let seen_by_a = trade_for(&mut events_a, &placed.order_id).await;
    let seen_by_b = trade_for(&mut events_b, &crossed.order_id).await;
    for t in [&seen_by_a, &seen_by_b] {
        assert_eq!(
            t.id, crossed.trade_ids[0],
            "one trade, seen by both accounts"
        );
        assert_eq!((t.size, t.price), (size, price));
        assert_eq!(t.status, TradeMessageStatus::Matched);
        assert!(t.matchtime.is_some_and(|s| s > 1_700_000_000), "{t:?}");
    }
    assert_eq!(seen_by_b.trader_side, Some(TraderSide::Taker));
    assert_eq!(seen_by_a.trader_side, Some(TraderSide::Maker));
    let maker = &seen_by_a.maker_orders[0];
    assert_eq!(
        (maker.order_id.as_str(), maker.matched_amount),
        (placed.order_id.as_str(), size)
    );
    assert!(
        a.orders(&OrdersRequest::default(), None)
            .await
            .unwrap()
            .data
            .is_empty()
    );

    let resting = limit(&a, KEY_A, token, Side::Buy, bid, size).await;
    assert_eq!(resting.status, OrderStatusType::Live);
    let cancelled = a.cancel_all_orders().await.unwrap();
    assert_eq!(cancelled.canceled, vec![resting.order_id.clone()]);
    assert!(
        a.orders(&OrdersRequest::default(), None)
            .await
            .unwrap()
            .data
            .is_empty()
    );

    let ledger = venue
        .account_ledger(&ours(a.address()))
        .expect("account A exists");
    let yes = ledger
        .shares
        .iter()
        .find(|(t, _)| *t == token.to_string())
        .unwrap();
    assert_eq!(yes.1.0, 105_000_000, "faucet 100 shares + 5 bought");
}

/// The SDK's address as pmbot's.
fn ours(address: Address) -> [u8; 20] {
    parse_address(&address.to_string()).unwrap()
}

/// A raw L2 request with headers from pmbot's own signer, for the cases the SDK cannot produce.
fn raw_get(venue: &Venue, client: &Authed, timestamp: u64, tamper: bool) -> (u16, String) {
    let c = client.credentials();
    let creds = ApiCreds {
        api_key: c.key().to_string(),
        secret: Secret::new(c.secret().expose_secret().to_owned()),
        passphrase: Secret::new(c.passphrase().expose_secret().to_owned()),
    };
    let l2 = L2Signer::new(&creds, &ours(client.address())).unwrap();
    let path = "/data/orders";
    let signed_path = if tamper { "/data/trades" } else { path };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut request = agent.get(format!("{}{path}", venue.rest_url()));
    for (name, value) in l2.headers(timestamp, "GET", signed_path, b"") {
        request = request.header(name, value);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn venue_refuses_bad_signatures_and_stale_or_wrong_hmacs() {
    let venue = common::start(scenario());
    let a = login(&venue, KEY_A).await;
    let (_, token, bid, _) = market(&a).await;
    let size = Decimal::from(5);
    let build = || async {
        a.limit_order()
            .token_id(token)
            .order_type(OrderType::GTC)
            .price(bid)
            .size(size)
            .side(Side::Buy)
            .build()
            .await
            .unwrap()
    };

    let wrong_key = a.sign(&signer(KEY_B), build().await).await.unwrap();
    let err = a.post_order(wrong_key).await.unwrap_err();
    assert!(err.to_string().contains("invalid signature"), "{err}");

    let mut tampered = a.sign(&signer(KEY_A), build().await).await.unwrap();
    let OrderPayload::V2(payload) = &mut tampered.payload else {
        panic!("a V2 order");
    };
    payload.order.makerAmount += U256::from(10_000u64);
    let err = a.post_order(tampered).await.unwrap_err();
    assert!(err.to_string().contains("invalid signature"), "{err}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(raw_get(&venue, &a, now, false).0, 200);
    let (status, body) = raw_get(&venue, &a, now - 120, false);
    assert_eq!(status, 401);
    assert_eq!(body, r#"{"error":"Unauthorized/Invalid api key"}"#);
    let (status, body) = raw_get(&venue, &a, now, true);
    assert_eq!(status, 401);
    assert_eq!(body, r#"{"error":"Unauthorized/Invalid api key"}"#);

    assert!(
        a.orders(&OrdersRequest::default(), None)
            .await
            .unwrap()
            .data
            .is_empty(),
        "nothing refused was placed"
    );
    assert_eq!(venue.stats().exec.orders_accepted, 0);
}
