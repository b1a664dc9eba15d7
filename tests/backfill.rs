//! The REST backfill thread: an overdue snapshot requested by asset comes back through its own
//! ring as a whole book message equal to the embedded venue's true book, and the market
//! parameters refresh hands a fee change to the core exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pmbot::adapters::polymarket::rest::{self, Backfill};
use pmbot::adapters::polymarket::ws_market::RingWriter;
use pmbot::bot::clock::Clock;
use pmbot::bot::metrics::FeedCounters;
use pmbot::bot::settings::Settings;
use pmbot::domain::events::{Event, EventBody};
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{MarketIdx, Px, Qty};
use pmbot::sim::{self, VenueConfig, load_scenario};
use pmbot::strategies::core::{Core, Outbox};

#[test]
fn an_overdue_snapshot_is_fetched_over_rest_and_matches_the_venue() {
    let venue = sim::start(VenueConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        scenario: load_scenario("default").unwrap(),
        paced: false,
    })
    .unwrap();
    let ids: Vec<String> = venue
        .markets()
        .into_iter()
        .map(|m| m.condition_id)
        .collect();
    let agent = rest::agent(Duration::from_secs(5));
    let mut registry = Registry::default();
    for spec in rest::fetch_markets(&agent, &venue.rest_url(), &ids).unwrap() {
        registry.add_market(spec).unwrap();
    }
    let registry = Arc::new(registry);
    let asset = registry.assets().nth(3).map(|(a, _)| a).unwrap();

    let (ring_tx, mut ring_rx) = rtrb::RingBuffer::<Event>::new(1024);
    let (requests_tx, requests_rx) = crossbeam::channel::bounded(8);
    let counters = Arc::new(FeedCounters::default());
    let backfill = Backfill {
        rest_url: venue.rest_url(),
        registry: registry.clone(),
        requests: requests_rx,
        ring: RingWriter::new(ring_tx, registry.asset_count()),
        counters: counters.clone(),
        clock: Clock::new(),
        ring_full_spin: Duration::from_micros(50),
        metadata_refresh: Duration::ZERO,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread = std::thread::spawn(move || backfill.run(&thread_stop));
    requests_tx.send(asset).unwrap();

    let mut core = Core::new(
        registry.clone(),
        Settings::shipped_dev()
            .expect("the shipped configuration loads")
            .core_params(),
    );
    let mut outbox = Outbox::with_capacity(registry.asset_count());
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(events.last(), Some(EventBody::MessageEnd)) && Instant::now() < deadline {
        match ring_rx.pop() {
            Ok(event) => {
                core.on_event(&event, &mut outbox);
                events.push(event.body);
            }
            Err(_) => std::thread::yield_now(),
        }
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();

    assert_eq!(events.first(), Some(&EventBody::BookSnapshot { asset }));
    assert!(events.len() > 2, "the book has levels: {events:?}");
    let book = core.books().book(asset);
    assert!(!book.is_stale());
    let token = &registry.asset(asset).token_id;
    assert_eq!(book.digest(), venue.true_digest(token).unwrap());
    assert_eq!(counters.decode_errors.load(Ordering::Relaxed), 0);
    venue.shutdown();
}

#[test]
fn a_fee_change_at_the_venue_reaches_the_core_once() {
    const CONDITION: &str = "0xfee";
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let rest_url = format!("http://{}", server.server_addr());
    let mut registry = Registry::default();
    registry
        .add_market(MarketSpec {
            condition_id: CONDITION.into(),
            token_ids: vec!["1".into(), "2".into()],
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        })
        .unwrap();
    let registry = Arc::new(registry);
    let (ring_tx, mut ring_rx) = rtrb::RingBuffer::<Event>::new(64);
    let (_requests_tx, requests_rx) = crossbeam::channel::bounded(1);
    let counters = Arc::new(FeedCounters::default());
    let backfill = Backfill {
        rest_url,
        registry: registry.clone(),
        requests: requests_rx,
        ring: RingWriter::new(ring_tx, registry.asset_count()),
        counters: counters.clone(),
        clock: Clock::new(),
        ring_full_spin: Duration::from_micros(50),
        metadata_refresh: Duration::from_millis(1),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread = std::thread::spawn(move || backfill.run(&thread_stop));

    // The venue now charges 0.05 × p(1 − p); the registry was loaded fee-free. Serve three
    // refreshes: the change must be handed over once, not once per refresh.
    let body = format!(
        r#"{{"c":"{CONDITION}","t":[{{"t":"1","o":"Yes"}},{{"t":"2","o":"No"}}],"mts":0.01,"mos":5,"nr":false,"fd":{{"r":0.05,"e":1,"to":true}}}}"#
    );
    for _ in 0..3 {
        let request = server.recv().unwrap();
        assert_eq!(request.url(), format!("/clob-markets/{CONDITION}"));
        request
            .respond(tiny_http::Response::from_string(body.clone()))
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    drop(server);
    thread.join().unwrap();

    let mut events = Vec::new();
    while let Ok(event) = ring_rx.pop() {
        events.push(event.body);
    }
    let fees = FeeSchedule::parse("0.05", "1", true).unwrap();
    assert_eq!(
        events,
        [
            EventBody::FeeChange {
                market: MarketIdx(0),
                fees
            },
            EventBody::MessageEnd
        ]
    );
    assert_eq!(counters.fee_changes.load(Ordering::Relaxed), 1);
}
