//! The user channel: the decoder on the venue's message shapes (tests/fixtures/ws_user/bot_*.json,
//! copies of the shared fixtures with their order ids made real 32-byte hashes, plus a maker trade
//! built to the protocol's §6 shape), its allocation-free hot path, and the feed thread against a
//! loopback tungstenite server: subscription, keepalive, malformed frames, reconnects, a full ring.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pmbot::adapters::polymarket::decode::{DecodeError, DecodeOutcome, UserDecoder};
use pmbot::adapters::polymarket::transport;
use pmbot::adapters::polymarket::ws_market::Backoff;
use pmbot::adapters::polymarket::ws_user::{
    OrderEventKind, OrderHash, Subscription, TradeStatus, UserEvent, UserFeed, UserFeedParams,
    UserFill, UserOrder,
};
use pmbot::bot::idle::Idler;
use pmbot::bot::metrics::FeedCounters;
use pmbot::bot::settings::IdlePolicy;
use pmbot::domain::intents::Liquidity;
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{AssetIdx, NumError, Px, Qty, Side};
use tungstenite::{Message, WebSocket};
use xxhash_rust::xxh3::xxh3_128;

/// Counts heap allocations made on the measuring thread only (the pattern of tests/zero_alloc.rs).
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{CountingAlloc, allocations_of};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";
const CONDITION: &str = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
const API_KEY: &str = "00000000-0000-0000-0000-000000000001";
const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
const PASSPHRASE: &str = "pass-phrase-1";
const ASSET_YES: AssetIdx = AssetIdx(0);
const ASSET_NO: AssetIdx = AssetIdx(1);

fn registry() -> Registry {
    let mut r = Registry::default();
    r.add_market(MarketSpec {
        condition_id: CONDITION.into(),
        token_ids: vec![YES.into(), NO.into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        ..MarketSpec::default()
    })
    .unwrap();
    r
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/ws_user/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The id of the fixtures' main order, written out byte by byte.
fn main_order() -> OrderHash {
    let mut h = [0u8; 32];
    for chunk in h.chunks_exact_mut(8) {
        chunk.copy_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x90, 0xab, 0xcd, 0xef]);
    }
    OrderHash(h)
}

fn shares(units_of_1e6: u64) -> Qty {
    Qty(units_of_1e6)
}

fn order(kind: OrderEventKind, size_matched: Qty, ts_ms: u64) -> UserEvent {
    UserEvent::Order(UserOrder {
        kind,
        order_id: main_order(),
        asset: ASSET_YES,
        side: Side::Buy,
        px: Px(5000),
        original_size: Qty::from_shares(100),
        size_matched,
        ts_ms,
    })
}

fn taker_fill(status: TradeStatus) -> UserEvent {
    UserEvent::Fill(UserFill {
        trade_id: xxh3_128(b"trade-0xabcdef1234"),
        status,
        order_id: main_order(),
        asset: ASSET_YES,
        side: Side::Buy,
        px: Px(5000),
        qty: Qty::from_shares(25),
        fee_rate_bps: 0,
        liquidity: Liquidity::Taker,
        ts_ms: 1_703_875_200_000,
    })
}

fn decode(frame: &str) -> (Result<DecodeOutcome, DecodeError>, Vec<UserEvent>) {
    let mut out = Vec::new();
    let result = UserDecoder::new(API_KEY).decode(frame.as_bytes(), &registry(), &mut out);
    (result, out)
}

#[test]
fn every_order_fixture_decodes_to_its_order_event() {
    use OrderEventKind::{Cancellation, Placement, Update};
    let cases = [
        (
            "bot_order_placement_msg",
            order(Placement, Qty::ZERO, 1_703_875_200_001),
        ),
        (
            "bot_order_placement",
            order(Placement, Qty::ZERO, 1_703_875_200_001),
        ),
        (
            "bot_order_update",
            order(Update, Qty::from_shares(25), 1_703_875_200_500),
        ),
        (
            "bot_order_matched",
            order(Update, Qty::from_shares(100), 1_703_875_201_000),
        ),
        (
            "bot_order_cancellation",
            order(Cancellation, Qty::ZERO, 1_703_875_205_000),
        ),
        (
            "bot_order_fok_killed",
            UserEvent::Order(UserOrder {
                kind: Cancellation,
                order_id: OrderHash([0x78, 0xaa].repeat(16).try_into().unwrap()),
                asset: ASSET_YES,
                side: Side::Buy,
                px: Px(6000),
                original_size: Qty::from_shares(12),
                size_matched: Qty::ZERO,
                ts_ms: 1_777_824_065_000,
            }),
        ),
        (
            "bot_order_venue_cancel",
            UserEvent::Order(UserOrder {
                kind: Cancellation,
                order_id: OrderHash([0x0e; 32]),
                asset: ASSET_YES,
                side: Side::Buy,
                px: Px(5300),
                original_size: Qty::from_shares(20),
                size_matched: Qty::ZERO,
                ts_ms: 1_774_378_800_285,
            }),
        ),
    ];
    for (name, expected) in cases {
        let (result, events) = decode(&fixture(name));
        let outcome = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events, vec![expected], "{name}");
        assert_eq!((outcome.messages, outcome.events), (1, 1), "{name}");
    }
}

#[test]
fn a_taker_trade_gives_one_fill_for_the_taker_order_and_ignores_other_makers() {
    for name in ["bot_trade_taker_msg", "bot_trade_taker_foreign_maker"] {
        let (result, events) = decode(&fixture(name));
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events, vec![taker_fill(TradeStatus::Confirmed)], "{name}");
    }
}

#[test]
fn a_maker_trade_gives_one_fill_per_maker_order_of_ours() {
    let (result, events) = decode(&fixture("bot_trade_maker"));
    result.unwrap();
    let fill = |order_id, asset, side, px, qty, fee_rate_bps| {
        UserEvent::Fill(UserFill {
            trade_id: xxh3_128(b"trade-0xmaker0001"),
            status: TradeStatus::Matched,
            order_id: OrderHash(order_id),
            asset,
            side,
            px: Px(px),
            qty,
            fee_rate_bps,
            liquidity: Liquidity::Maker,
            ts_ms: 1_703_875_300_000,
        })
    };
    assert_eq!(
        events,
        vec![
            fill(
                [0xaa; 32],
                ASSET_YES,
                Side::Sell,
                5200,
                Qty::from_shares(20),
                0
            ),
            // No `side` on the wire: a maker on the complementary token (a mint) buys too.
            fill([0xbb; 32], ASSET_NO, Side::Buy, 4700, shares(5_500_000), 10),
        ]
    );
}

#[test]
fn every_trade_status_is_carried_and_an_unknown_one_is_counted() {
    let base = fixture("bot_trade_taker_msg");
    for (wire, status) in [
        ("MATCHED", TradeStatus::Matched),
        ("MINED", TradeStatus::Mined),
        ("CONFIRMED", TradeStatus::Confirmed),
        ("RETRYING", TradeStatus::Retrying),
        ("FAILED", TradeStatus::Failed),
    ] {
        let frame = base.replace("\"CONFIRMED\"", &format!("\"{wire}\""));
        let (result, events) = decode(&frame);
        result.unwrap();
        assert_eq!(events, vec![taker_fill(status)], "{wire}");
    }
    let (result, events) = decode(&base.replace("\"CONFIRMED\"", "\"SETTLED\""));
    assert_eq!(result.unwrap().unknown_events, 1);
    assert!(events.is_empty());
}

#[test]
fn without_trader_side_the_trade_owner_says_whether_we_took() {
    let base = fixture("bot_trade_taker_msg").replace("\"trader_side\": \"TAKER\",", "");
    let (_, events) = decode(&base);
    assert_eq!(events, vec![taker_fill(TradeStatus::Confirmed)]);
    let theirs = base.replace(
        "\"trade_owner\": \"00000000-0000-0000-0000-000000000001\"",
        "\"trade_owner\": \"someone-else\"",
    );
    let (result, events) = decode(&theirs);
    assert!(events.is_empty());
    assert_eq!(
        result.unwrap().unknown_events,
        1,
        "a trade holding none of our orders is counted"
    );
}

#[test]
fn an_array_frame_decodes_every_message_in_order() {
    let names = [
        "bot_order_placement_msg",
        "bot_order_update",
        "bot_trade_taker_msg",
        "bot_trade_maker",
        "bot_order_matched",
    ];
    let frame = format!("[{}]", names.map(fixture).join(","));
    let (result, events) = decode(&frame);
    let outcome = result.unwrap();
    assert_eq!((outcome.messages, outcome.events), (5, 6));
    let mut one_by_one = Vec::new();
    for name in names {
        one_by_one.extend(decode(&fixture(name)).1);
    }
    assert_eq!(events, one_by_one);
}

#[test]
fn unknown_event_types_and_assets_are_counted_not_decoded() {
    let (result, events) = decode(r#"{"event_type":"balance","amount":"5"}"#);
    assert_eq!(result.unwrap().unknown_events, 1);
    assert!(events.is_empty());
    let (result, events) = decode(&fixture("bot_order_update").replace(YES, "1234567890123"));
    let outcome = result.unwrap();
    assert_eq!((outcome.unknown_assets, outcome.events), (1, 0));
    assert!(events.is_empty());
}

#[test]
fn pong_is_a_keepalive_reply_not_an_error() {
    let (result, events) = decode("PONG");
    assert!(result.unwrap().pong);
    assert!(events.is_empty());
}

#[test]
fn malformed_frames_are_typed_errors_and_spare_their_neighbours() {
    let (result, events) = decode("{\"event_type\":\"order\",");
    assert!(
        matches!(result, Err(DecodeError::NotJson { .. })),
        "{result:?}"
    );
    assert!(events.is_empty());
    assert_eq!(
        decode("42").0,
        Err(DecodeError::WrongType {
            field: "frame",
            expected: "an object or an array of objects"
        })
    );
    // The shared fixture's id has 66 hex digits: not an order hash.
    let long_id = fixture("bot_order_update").replace(
        "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
        "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef12",
    );
    assert!(
        matches!(
            decode(&long_id).0,
            Err(DecodeError::WrongType { field: "id", .. })
        ),
        "an id that is not a hash is refused"
    );
    let bad_price = fixture("bot_order_update").replace("\"0.5\"", "\"0.55555\"");
    let frame = format!(
        "[{},{bad_price},7,{}]",
        fixture("bot_order_placement"),
        fixture("bot_trade_taker_msg")
    );
    let (result, events) = decode(&frame);
    assert_eq!(
        result,
        Err(DecodeError::BadNumber {
            field: "price",
            source: NumError::TooPrecise
        })
    );
    assert_eq!(
        events,
        vec![
            order(OrderEventKind::Placement, Qty::ZERO, 1_703_875_200_001),
            taker_fill(TradeStatus::Confirmed)
        ],
        "the good messages around the bad ones still count"
    );
}

#[test]
fn every_truncation_of_a_frame_decodes_or_errs_without_panicking() {
    let frame = format!(
        "[{},{}]",
        fixture("bot_trade_maker"),
        fixture("bot_order_update")
    );
    let registry = registry();
    let mut decoder = UserDecoder::new(API_KEY);
    let mut out = Vec::new();
    let mut errors = 0;
    for end in 0..frame.len() {
        out.clear();
        if decoder
            .decode(&frame.as_bytes()[..end], &registry, &mut out)
            .is_err()
        {
            errors += 1;
        }
    }
    assert_eq!(errors, frame.len(), "no strict prefix is a whole frame");
}

#[test]
fn decoding_allocates_nothing_after_warm_up() {
    let registry = registry();
    let frame = format!(
        "[{},{},{},{}]",
        fixture("bot_order_placement_msg"),
        fixture("bot_order_update"),
        fixture("bot_trade_taker_msg"),
        fixture("bot_trade_maker")
    );
    let mut decoder = UserDecoder::new(API_KEY);
    let mut out: Vec<UserEvent> = Vec::with_capacity(64);
    let (mut producer, mut consumer) = rtrb::RingBuffer::<UserEvent>::new(64);
    let mut run = |decoder: &mut UserDecoder| {
        out.clear();
        decoder
            .decode(frame.as_bytes(), &registry, &mut out)
            .unwrap();
        for &event in &out {
            producer.push(event).unwrap();
        }
        let mut fills = 0u64;
        while let Ok(event) = consumer.pop() {
            fills += u64::from(matches!(event, UserEvent::Fill(_)));
        }
        fills
    };
    assert_eq!(run(&mut decoder), 3, "warm-up");
    let mut fills = 0;
    let allocations = allocations_of(|| {
        for _ in 0..1_000 {
            fills += run(&mut decoder);
        }
    });
    assert_eq!(fills, 3_000, "the path really ran");
    assert_eq!(allocations, 0, "heap allocations on the hot path");
}

/// A user feed thread against a loopback listener, with its ring's consumer and counters.
struct Harness {
    listener: TcpListener,
    events: rtrb::Consumer<UserEvent>,
    counters: Arc<FeedCounters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const WAIT: Duration = Duration::from_secs(10);

impl Harness {
    fn start(ring_slots: usize, ping_interval: Duration, stall_timeout: Duration) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let params = UserFeedParams {
            url: format!("ws://127.0.0.1:{port}/ws/user"),
            subscription: Subscription::new(API_KEY, SECRET, PASSPHRASE, &[CONDITION]),
            ping_interval,
            stall_timeout,
            connect_timeout: Duration::from_secs(2),
            backoff: Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(50),
                jitter: 0.2,
            },
            tls: transport::tls_config(None).unwrap(),
        };
        let (producer, events) = rtrb::RingBuffer::new(ring_slots);
        let counters = Arc::new(FeedCounters::default());
        let feed = UserFeed::new(params, Arc::new(registry()), producer, counters.clone()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            feed.run(
                &flag,
                Idler::new(IdlePolicy::Park, Duration::from_millis(2)),
            );
        });
        Harness {
            listener,
            events,
            counters,
            stop,
            thread: Some(thread),
        }
    }

    /// Accepts the feed's next connection and checks its subscription frame.
    fn accept(&self) -> WebSocket<TcpStream> {
        self.listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + WAIT;
        let tcp = loop {
            match self.listener.accept() {
                Ok((tcp, _)) => break tcp,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the feed never connected");
                    std::thread::yield_now();
                }
                Err(e) => panic!("accept failed: {e}"),
            }
        };
        tcp.set_nonblocking(false).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        let Message::Text(text) = ws.read().unwrap() else {
            panic!("the first frame is not the subscription");
        };
        let sub: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(
            sub,
            serde_json::json!({
                "auth": {"apiKey": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE},
                "type": "user",
                "operation": "subscribe",
                "markets": [CONDITION],
                "assets_ids": [],
                "initial_dump": true,
            })
        );
        ws
    }

    fn next(&mut self) -> UserEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(event) = self.events.pop() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event from the feed");
            std::thread::yield_now();
        }
    }

    fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Stops the feed and returns what it pushed while stopping.
    fn stop(&mut self) -> Vec<UserEvent> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::iter::from_fn(|| self.events.pop().ok()).collect()
    }
}

fn send(ws: &mut WebSocket<TcpStream>, text: &str) {
    ws.send(Message::text(text)).unwrap();
}

#[test]
fn feed_subscribes_decodes_answers_keepalives_survives_garbage_and_reconnects() {
    let mut h = Harness::start(64, Duration::from_millis(30), Duration::from_secs(5));
    let mut ws = h.accept();
    assert_eq!(h.next(), UserEvent::Connected);

    send(&mut ws, &fixture("bot_order_placement_msg"));
    send(&mut ws, "{\"event_type\":\"order\",\"id\":");
    send(
        &mut ws,
        &format!(
            "[{},{}]",
            fixture("bot_order_update"),
            fixture("bot_trade_taker_msg")
        ),
    );
    assert_eq!(
        h.next(),
        order(OrderEventKind::Placement, Qty::ZERO, 1_703_875_200_001)
    );
    assert_eq!(
        h.next(),
        order(
            OrderEventKind::Update,
            Qty::from_shares(25),
            1_703_875_200_500
        )
    );
    assert_eq!(h.next(), taker_fill(TradeStatus::Confirmed));
    assert_eq!(Harness::count(&h.counters.decode_errors), 1);

    // Keepalive: the feed pings on its own; the venue's PONG is counted, not decoded.
    let ping = ws.read().unwrap();
    assert!(
        matches!(&ping, Message::Text(t) if t.as_str() == "PING"),
        "expected the feed's PING, got {ping:?}"
    );
    send(&mut ws, "PONG");
    send(&mut ws, &fixture("bot_order_matched"));
    assert_eq!(
        h.next(),
        order(
            OrderEventKind::Update,
            Qty::from_shares(100),
            1_703_875_201_000
        )
    );
    assert_eq!(Harness::count(&h.counters.pongs), 1);
    assert_eq!(Harness::count(&h.counters.frames), 5);

    // The venue drops us: Disconnected, then a fresh subscription and Connected again.
    ws.close(None).unwrap();
    drop(ws);
    assert_eq!(h.next(), UserEvent::Disconnected);
    let mut ws = h.accept();
    assert_eq!(h.next(), UserEvent::Connected);
    assert_eq!(Harness::count(&h.counters.reconnects), 1);
    send(&mut ws, &fixture("bot_trade_maker"));
    assert!(matches!(h.next(), UserEvent::Fill(f) if f.liquidity == Liquidity::Maker));
    assert!(matches!(h.next(), UserEvent::Fill(f) if f.asset == ASSET_NO));
    assert_eq!(h.stop(), vec![UserEvent::Disconnected]);
}

#[test]
fn a_silent_connection_is_replaced_as_stalled() {
    let mut h = Harness::start(64, Duration::from_millis(20), Duration::from_millis(150));
    let first = h.accept();
    assert_eq!(h.next(), UserEvent::Connected);
    // The venue never answers the PINGs.
    assert_eq!(h.next(), UserEvent::Disconnected);
    assert_eq!(Harness::count(&h.counters.stalls), 1);
    let _second = h.accept();
    assert_eq!(h.next(), UserEvent::Connected);
    drop(first);
    h.stop();
}

#[test]
fn a_full_ring_makes_the_feed_wait_and_drops_nothing() {
    let mut h = Harness::start(2, Duration::from_secs(5), Duration::from_secs(30));
    let mut ws = h.accept();
    let updates: Vec<String> = (1..=5)
        .map(|n| fixture("bot_order_update").replace("\"25.0\"", &format!("\"{n}\"")))
        .collect();
    send(&mut ws, &format!("[{}]", updates.join(",")));
    let deadline = Instant::now() + WAIT;
    while Harness::count(&h.counters.ring_full) == 0 {
        assert!(Instant::now() < deadline, "the ring never filled");
        std::thread::yield_now();
    }
    assert_eq!(h.next(), UserEvent::Connected);
    for n in 1..=5 {
        assert_eq!(
            h.next(),
            order(
                OrderEventKind::Update,
                Qty::from_shares(n),
                1_703_875_200_500
            )
        );
    }
    assert_eq!(h.stop(), vec![UserEvent::Disconnected]);
    assert_eq!(Harness::count(&h.counters.events), 7);
}
