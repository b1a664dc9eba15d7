//! Side-by-side decode benchmarks: pmbot against the official Polymarket Rust SDK and polyfill-rs,
//! on the very same market-channel frames.
//!
//! Every frame reaches every decoder as a fresh copy with a strictly newer timestamp (built outside
//! the timed region), so decoders that mutate their input or refuse stale snapshots all see the
//! same conditions. Each contender's result is checked once before it is timed, and pmbot's book
//! counters are checked again afterwards (no refused, ignored or mismatched update while timed).

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use peer_bench::{MARKET, NO_TOKEN, Stamper, YES_TOKEN, book_frame, price_change_frame};
use pmbot::adapters::polymarket::decode::MarketDecoder;
use pmbot::domain::events::Event;
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{Px, Qty};
use pmbot::strategies::core::{Core, Outbox};
use polyfill_rs::decode::parse_stream_messages_bytes;
use polyfill_rs::types::StreamMessage;
use polyfill_rs::{OrderBookManager, WsBookUpdateProcessor};
use polymarket_client_sdk_v2::clob::ws::WsMessage;
use polymarket_client_sdk_v2::clob::ws::interest::MessageInterest;
use polymarket_client_sdk_v2::clob::ws::types::response::parse_if_interested;

/// Levels per side in the benchmarked book snapshot.
const BOOK_LEVELS: u16 = 20;
/// Frames prepared per timed batch: enough to amortise the timer, few enough to stay in cache.
const BATCH: BatchSize = BatchSize::NumIterations(64);
/// Polyfill's price unit is 1e-4, so a 0.01 tick is 100 units.
const POLYFILL_TICK_0_01: u32 = 100;

/// Times `routine` on fresh, newer-stamped copies of `template`.
fn bench_fresh<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    template: &[u8],
    mut routine: impl FnMut(&mut [u8]) -> R,
) {
    let mut stamper = Stamper::new(template.to_vec()).expect("frame has a fixed-width timestamp");
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || stamper.next_frame(),
            |frame| black_box(routine(black_box(frame.as_mut_slice()))),
            BATCH,
        )
    });
}

/// The official SDK's own parse path for market WebSocket frames (what its client runs).
fn sdk_parse(frame: &[u8]) -> Vec<WsMessage> {
    parse_if_interested(frame, &MessageInterest::ALL).expect("official SDK parses the frame")
}

/// The official SDK's message type deserialised directly, skipping its interest filter.
fn sdk_parse_typed(frame: &[u8]) -> WsMessage {
    serde_json::from_slice(frame).expect("official SDK type deserialises the frame")
}

/// A polyfill book manager holding 0.01-tick books for both outcomes.
fn polyfill_books() -> OrderBookManager {
    let books = OrderBookManager::new(64);
    for token in [YES_TOKEN, NO_TOKEN] {
        books.get_or_create_book(token).expect("book created");
        books
            .with_book_mut(token, |book| {
                book.set_tick_size_ticks(POLYFILL_TICK_0_01);
                Ok(())
            })
            .expect("tick size set");
    }
    books
}

/// pmbot's feed-to-core path: the decoder, the registry and the core, with reused buffers.
struct Pmbot {
    registry: Registry,
    decoder: MarketDecoder,
    core: Core,
    events: Vec<Event>,
    outbox: Outbox,
}

impl Pmbot {
    /// A registry holding the benchmarked market, a fresh decoder and a core over it.
    fn new() -> Pmbot {
        let mut registry = Registry::default();
        registry
            .add_market(MarketSpec {
                condition_id: MARKET.to_owned(),
                token_ids: vec![YES_TOKEN.to_owned(), NO_TOKEN.to_owned()],
                tick: Px(100),
                min_order_size: Qty::from_shares(5),
                ..MarketSpec::default()
            })
            .expect("market registers");
        Pmbot {
            decoder: MarketDecoder::new(),
            core: Core::new(&registry),
            events: Vec::with_capacity(256),
            outbox: Outbox::with_capacity(registry.asset_count()),
            registry,
        }
    }

    /// Decodes `frame` into the reused event buffer; returns how many events it produced.
    fn decode(&mut self, frame: &[u8]) -> usize {
        self.events.clear();
        self.decoder
            .decode(frame, &self.registry, &mut self.events)
            .expect("pmbot decodes the frame");
        self.events.len()
    }

    /// Decodes `frame` and applies its events to the core; returns how many events it produced.
    fn decode_apply(&mut self, frame: &[u8]) -> usize {
        let events = self.decode(frame);
        for event in &self.events {
            self.core.on_event(event, &mut self.outbox);
        }
        self.outbox.clear();
        events
    }

    /// Panics unless every book is trusted and no update has been refused, ignored or disputed.
    fn assert_clean(&self) {
        let counters = self.core.book_counters();
        assert_eq!(
            (
                counters.ignored_while_stale,
                counters.out_of_order,
                counters.refused_levels,
                counters.crossed,
                counters.best_mismatches,
                counters.resyncs_requested,
            ),
            (0, 0, 0, 0, 0, 0),
            "pmbot refused or distrusted an update: {counters:?}"
        );
        for (asset, _) in self.registry.assets() {
            assert!(
                !self.core.books().book(asset).is_stale(),
                "book {asset:?} is stale"
            );
        }
    }
}

/// A pmbot whose books hold snapshots consistent with [`price_change_frame`]'s best bid/ask
/// after the change, so that its price changes are applied rather than ignored or disputed.
fn pmbot_ready_for_price_changes() -> Pmbot {
    let mut pm = Pmbot::new();
    for (token, bid, ask) in [(YES_TOKEN, 50, 52), (NO_TOKEN, 48, 50)] {
        let snapshot = book_frame(token, bid, ask, BOOK_LEVELS).expect("valid book");
        pm.decode_apply(&snapshot);
    }
    pm.assert_clean();
    pm
}

fn decode_price_change(c: &mut Criterion) {
    let frame = price_change_frame();
    let mut group = c.benchmark_group("decode_price_change");

    let mut pm = pmbot_ready_for_price_changes();
    let before = pm.core.book_counters().levels_applied;
    pm.decode_apply(&frame);
    assert_eq!(pm.core.book_counters().levels_applied, before + 2);
    pm.assert_clean();
    bench_fresh(&mut group, "pmbot", &frame, |f| pm.decode_apply(f));
    pm.assert_clean();
    let mut pm_decode = Pmbot::new();
    assert!(
        pm_decode.decode(&frame) > 2,
        "pmbot decoded no price change"
    );
    bench_fresh(&mut group, "pmbot_decode_only", &frame, |f| {
        pm_decode.decode(f)
    });

    match sdk_parse(&frame).as_slice() {
        [WsMessage::PriceChange(pc)] => assert_eq!(pc.price_changes.len(), 2),
        other => panic!("official SDK parsed {other:?}"),
    }
    assert!(
        matches!(sdk_parse_typed(&frame), WsMessage::PriceChange(pc) if pc.price_changes.len() == 2)
    );
    bench_fresh(&mut group, "official_sdk", &frame, |f| sdk_parse(f));
    bench_fresh(&mut group, "official_sdk_typed", &frame, |f| {
        sdk_parse_typed(f)
    });

    match parse_stream_messages_bytes(&frame)
        .expect("polyfill parses")
        .as_slice()
    {
        [StreamMessage::PriceChange(pc)] => assert_eq!(pc.price_changes.len(), 2),
        other => panic!("polyfill parsed {other:?}"),
    }
    bench_fresh(&mut group, "polyfill", &frame, |f| {
        parse_stream_messages_bytes(f).expect("polyfill parses")
    });

    group.finish();
}

fn decode_book(c: &mut Criterion) {
    let frame = book_frame(YES_TOKEN, 50, 51, BOOK_LEVELS).expect("valid book");
    let levels = 2 * usize::from(BOOK_LEVELS);
    let mut group = c.benchmark_group("decode_book");

    let mut pm = Pmbot::new();
    pm.decode_apply(&frame);
    assert_eq!(pm.core.book_counters().levels_applied, levels as u64);
    bench_fresh(&mut group, "pmbot", &frame, |f| pm.decode_apply(f));
    assert_eq!(pm.core.book_counters().out_of_order, 0);
    assert!(pm.core.book_counters().snapshots > 1);
    let mut pm_decode = Pmbot::new();
    assert!(
        pm_decode.decode(&frame) > levels,
        "pmbot decoded too few events"
    );
    bench_fresh(&mut group, "pmbot_decode_only", &frame, |f| {
        pm_decode.decode(f)
    });

    match sdk_parse(&frame).as_slice() {
        [WsMessage::Book(book)] => assert_eq!(book.bids.len() + book.asks.len(), levels),
        other => panic!("official SDK parsed {other:?}"),
    }
    assert!(matches!(sdk_parse_typed(&frame), WsMessage::Book(book) if book.asks.len() == 20));
    bench_fresh(&mut group, "official_sdk", &frame, |f| sdk_parse(f));
    bench_fresh(&mut group, "official_sdk_typed", &frame, |f| {
        sdk_parse_typed(f)
    });

    let books = polyfill_books();
    let mut processor = WsBookUpdateProcessor::new(frame.len());
    let stats = processor
        .process_bytes(&mut frame.clone(), &books)
        .expect("polyfill applies");
    assert_eq!(stats.book_levels_applied, levels);
    bench_fresh(&mut group, "polyfill", &frame, |f| {
        processor
            .process_bytes(f, &books)
            .expect("polyfill applies")
    });
    let replay = processor
        .process_bytes(&mut frame.clone(), &books)
        .expect("polyfill answers");
    assert_eq!(
        replay.book_levels_applied, 0,
        "timed snapshots were newer than the first"
    );

    group.finish();
}

criterion_group!(benches, decode_price_change, decode_book);
criterion_main!(benches);
