//! The live sink against a loopback server that records every request: how groups become
//! requests, and how the venue's answers become reports (refusals, rate limits, unknown
//! outcomes that are never resent).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pmbot::bot::clock::Clock;
use pmbot::domain::Side;
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::intents::{
    ClientId, ExecKind, ExecReport, GroupId, Intent, MarketChange, PlaceOrder, Tif, VenueReject,
};
use pmbot::domain::num::{AssetIdx, MarketIdx, Px, Qty};
use pmbot::execution::live::LiveSink;
use pmbot::execution::{IntentMsg, Sink};

// Shared with the benches; these tests use part of it.
#[allow(dead_code)]
#[path = "support/stub_clob.rs"]
mod stub_clob;

/// A request as the server read it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    orders: usize,
}

/// A server that records requests and answers order posts with `status`: 200 with one
/// refusal per order, or the bare status with an error object.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
}

fn serve() -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let (log, answer) = (seen.clone(), status.clone());
    let port = stub_clob::serve(move |request| {
        if request.path == "/time" {
            return (200, "1700000000".to_owned());
        }
        log.lock().unwrap().push(Seen {
            method: request.method.clone(),
            path: request.path.clone(),
            orders: request.orders(),
        });
        let refusal = r#"{"success":false,"errorMsg":"not enough balance / allowance","orderID":"","status":""}"#;
        match answer.load(Ordering::Relaxed) {
            200 if request.path == "/orders" => (
                200,
                format!("[{}]", vec![refusal; request.orders()].join(",")),
            ),
            200 => (200, refusal.to_owned()),
            other => (other, r#"{"error":"too many requests"}"#.to_owned()),
        }
    });
    Server { port, seen, status }
}

fn sink(port: u16, presign: bool) -> LiveSink {
    let mut settings = stub_clob::dev_settings(&[]).execution;
    settings.presign.enabled = presign;
    settings.presign.interval = Duration::ZERO;
    settings.request_timeout = Duration::from_secs(2);
    let registry = stub_clob::binary_registry(1);
    stub_clob::live_sink(
        port,
        registry,
        settings,
        2,
        vec![Qty::from_shares(10)],
        Clock::new(),
    )
    .0
}

/// Leg `i` of a group of `len`: alternating Yes and No, distinct prices.
fn leg(id: u64, group: u64, len: u8) -> IntentMsg {
    IntentMsg {
        t_rx: 0,
        t_int: 0,
        decided_ms: 0,
        intent: Intent::Place(PlaceOrder {
            client_id: ClientId(id),
            asset: AssetIdx((id % 2) as u32),
            side: Side::Buy,
            limit_px: Px(1000 + 100 * (id % 50) as u16),
            size: Qty::from_shares(10),
            tif: Tif::Fok,
            post_only: false,
            group: GroupId(group),
            group_len: len,
        }),
    }
}

/// BUY 10 Yes at 0.40 as order `id`, alone in its group.
fn same_order(id: u64) -> IntentMsg {
    let mut msg = leg(id, id, 1);
    if let Intent::Place(o) = &mut msg.intent {
        o.asset = AssetIdx(0);
        o.limit_px = Px(4000);
    }
    msg
}

/// Polls until `out` holds `n` terminal reports (or 5 s passed).
fn reports_until(sink: &mut LiveSink, out: &mut Vec<ExecReport>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let terminal = |out: &[ExecReport]| {
        out.iter()
            .filter(|r| matches!(r.kind, ExecKind::Rejected { .. } | ExecKind::Done))
            .count()
    };
    while terminal(out) < n && Instant::now() < deadline {
        sink.poll(out);
    }
}

#[test]
fn a_group_goes_out_as_one_batch_and_a_large_one_in_requests_of_fifteen() {
    let server = serve();
    let mut sink = sink(server.port, false);
    let mut out = Vec::new();
    for id in 1..=2 {
        sink.on_intent(&leg(id, 1, 2), &mut out);
    }
    for id in 3..=19 {
        sink.on_intent(&leg(id, 2, 17), &mut out);
    }
    sink.on_intent(&leg(20, 3, 1), &mut out);
    reports_until(&mut sink, &mut out, 20);
    let seen = server.seen.lock().unwrap().clone();
    // Two connections: the server may read the requests in either order.
    let mut shape: Vec<(&str, &str, usize)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str(), s.orders))
        .collect();
    shape.sort_unstable();
    assert_eq!(
        shape,
        [
            ("POST", "/order", 1),
            ("POST", "/orders", 2),
            ("POST", "/orders", 2),
            ("POST", "/orders", 15)
        ]
    );
    let balance = out
        .iter()
        .filter(|r| {
            r.kind
                == ExecKind::Rejected {
                    reason: VenueReject::Balance,
                }
        })
        .count();
    assert_eq!(
        balance, 20,
        "every refusal is reported with its reason: {out:?}"
    );
    assert_eq!(sink.summary().counters.orders_sent, 20);
}

#[test]
fn a_429_rejects_as_rate_limited_and_a_5xx_leaves_the_order_unknown_and_unsent_again() {
    let server = serve();
    let mut sink = sink(server.port, false);
    server.status.store(429, Ordering::Relaxed);
    let mut out = Vec::new();
    sink.on_intent(&leg(1, 1, 1), &mut out);
    reports_until(&mut sink, &mut out, 1);
    assert_eq!(
        out.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [ExecKind::Rejected {
            reason: VenueReject::RateLimited
        }]
    );

    server.status.store(503, Ordering::Relaxed);
    out.clear();
    sink.on_intent(&leg(2, 2, 1), &mut out);
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        sink.poll(&mut out);
    }
    assert!(
        out.iter().all(|r| r.client_id != ClientId(2)),
        "an unknown outcome ends nothing: {out:?}"
    );
    let posts = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(posts, 2, "the order was posted once, never again");
}

#[test]
fn the_ladder_serves_a_repeated_order_and_is_dropped_when_the_fees_change() {
    let server = serve();
    let mut sink = sink(server.port, true);
    let mut out = Vec::new();
    sink.on_intent(&same_order(1), &mut out);
    reports_until(&mut sink, &mut out, 1);
    // Idle polls sign the ladder around the first order's price and size.
    while sink.poll(&mut out) {}
    sink.on_intent(&same_order(2), &mut out);
    reports_until(&mut sink, &mut out, 2);
    while sink.poll(&mut out) {}
    let change = IntentMsg {
        t_rx: 0,
        t_int: 0,
        decided_ms: 0,
        intent: Intent::MarketChanged {
            market: MarketIdx(0),
            change: MarketChange::Fees(FeeSchedule::parse("0.03", "1", true).unwrap()),
        },
    };
    sink.on_intent(&change, &mut out);
    sink.on_intent(&same_order(3), &mut out);
    reports_until(&mut sink, &mut out, 3);
    let counters = sink.summary().counters;
    assert_eq!(
        (counters.presign_hits, counters.presign_misses),
        (1, 2),
        "order 2 came from the ladder; orders 1 and 3 (after the fee change) were signed on the spot"
    );
}

#[test]
fn reconciliation_reads_trades_from_shortly_before_the_start_not_the_whole_history() {
    let server = serve();
    let started_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut sink = sink(server.port, false);
    let mut out = Vec::new();
    sink.shutdown(&mut out);
    let seen = server.seen.lock().unwrap().clone();
    let after: u64 = seen
        .iter()
        .find_map(|s| s.path.strip_prefix("/data/trades?after="))
        .and_then(|rest| rest.split('&').next())
        .unwrap_or_else(|| panic!("the stop's reconciliation reads windowed trades: {seen:?}"))
        .parse()
        .unwrap();
    assert!(
        after < started_s && after + 600 > started_s,
        "a few minutes before the start: after {after}, started {started_s}"
    );
}
