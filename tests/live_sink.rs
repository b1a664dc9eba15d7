//! The live sink against a loopback server that records every request: how groups become
//! requests, and how the venue's answers become reports (refusals, rate limits, unknown
//! outcomes that are never resent).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pmbot::adapters::polymarket::auth::{ApiCreds, L2Signer, Secret};
use pmbot::adapters::polymarket::clob_client::rest::RestClient;
use pmbot::adapters::polymarket::clob_client::{ClobClient, ClobConfig, Endpoint};
use pmbot::adapters::polymarket::signing::Signer;
use pmbot::bot::clock::Clock;
use pmbot::bot::settings::{Overlay, Settings};
use pmbot::domain::Side;
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::intents::{
    ClientId, ExecKind, ExecReport, GroupId, Intent, MarketChange, PlaceOrder, Tif, VenueReject,
};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{AssetIdx, MarketIdx, Px, Qty};
use pmbot::execution::live::{LiveParts, LiveSink};
use pmbot::execution::order_signer::OrderSigner;
use pmbot::execution::{IntentMsg, Sink};

/// A request as the server read it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    orders: usize,
}

/// A keep-alive server that records requests and answers order posts with `status`: 200 with
/// one refusal per order, or the bare status with an error object.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(AtomicU16::new(200));
    let (log, answer) = (seen.clone(), status.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            let (log, answer) = (log.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let Ok(n) = tcp.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&buf[..head]).into_owned();
                        let len: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() < head + 4 + len {
                            break;
                        }
                        let body =
                            String::from_utf8_lossy(&buf[head + 4..head + 4 + len]).into_owned();
                        buf.drain(..head + 4 + len);
                        let mut first = text.lines().next().unwrap().split(' ');
                        let method = first.next().unwrap().to_owned();
                        let path = first.next().unwrap().to_owned();
                        let orders = body.matches("{\"order\":").count();
                        let response = if path == "/time" {
                            (200, "1700000000".to_owned())
                        } else {
                            log.lock().unwrap().push(Seen {
                                method,
                                path: path.clone(),
                                orders,
                            });
                            let refusal = r#"{"success":false,"errorMsg":"not enough balance / allowance","orderID":"","status":""}"#;
                            match answer.load(Ordering::Relaxed) {
                                200 if path == "/orders" => {
                                    (200, format!("[{}]", vec![refusal; orders].join(",")))
                                }
                                200 => (200, refusal.to_owned()),
                                other => (other, r#"{"error":"too many requests"}"#.to_owned()),
                            }
                        };
                        let reply = format!(
                            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                            response.0,
                            response.1.len(),
                            response.1
                        );
                        if tcp.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Server { port, seen, status }
}

fn registry() -> Arc<Registry> {
    let mut registry = Registry::default();
    registry
        .add_market(MarketSpec {
            condition_id: "0x01".into(),
            token_ids: vec!["101".into(), "102".into()],
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        })
        .unwrap();
    Arc::new(registry)
}

fn sink(port: u16, presign: bool) -> LiveSink {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load(
        &config,
        &Overlay::Profile("dev".into()),
        std::iter::empty::<(String, String)>(),
        &[],
    )
    .unwrap()
    .execution;
    settings.presign.enabled = presign;
    settings.presign.interval = Duration::ZERO;
    settings.request_timeout = Duration::from_secs(2);
    let registry = registry();
    let key = Signer::from_secret(&[0x42; 32]).unwrap();
    let address = key.address();
    let creds = ApiCreds {
        api_key: "00000000-0000-0000-0000-000000000001".into(),
        secret: Secret::new("c2VjcmV0".into()),
        passphrase: Secret::new("pass".into()),
    };
    let l2 = L2Signer::new(&creds, &address).unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let config = ClobConfig {
        conns: 2,
        connect_timeout: Duration::from_secs(5),
        request_timeout: settings.request_timeout,
        warm_every: Duration::from_secs(3600),
    };
    let client =
        ClobClient::connect(&Endpoint::parse(&url).unwrap(), config, l2.clone(), None).unwrap();
    let (_, user) = rtrb::RingBuffer::new(4);
    LiveSink::new(LiveParts {
        signer: OrderSigner::new(key, address, 0, 137, registry.clone()),
        registry,
        client,
        rest: RestClient::new(&url, Duration::from_secs(2)),
        l2,
        user,
        settings,
        presign_sizes: vec![Qty::from_shares(10)],
        clock: Clock::new(),
    })
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
