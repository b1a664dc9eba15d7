//! The simulated venue's market side, over loopback: the market WebSocket's subscribe, dump,
//! keep-alive and stream; the REST shapes; determinism; and a mirror client that applies every
//! published message and must end with the venue's own books.

use std::collections::{BTreeMap, HashMap};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pmbot::domain::digest::BookDigest;
use pmbot::domain::num::{Px, Qty};
use pmbot::sim::{self, Checkpoint, Scenario, Venue, VenueConfig, load_scenario};
use serde_json::{Value, json};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

mod common;
use common::{connect, px, qty, start};

const DEADLINE: Duration = Duration::from_secs(60);

fn short(name: &str, steps: u64, every: u64) -> Scenario {
    let mut s = load_scenario(name).unwrap();
    s.dynamics.steps = steps;
    s.dynamics.checkpoint_every = every;
    s
}

fn tokens(venue: &Venue) -> Vec<String> {
    venue
        .markets()
        .into_iter()
        .flat_map(|m| m.token_ids)
        .collect()
}

fn subscribe(ws: &mut WebSocket<TcpStream>, assets: &[String]) {
    let frame = json!({"type": "market", "operation": "subscribe", "markets": [],
        "assets_ids": assets, "initial_dump": true, "custom_feature_enabled": true});
    ws.send(Message::text(frame.to_string())).unwrap();
}

/// The next text frame, or `None` if none arrived within one read timeout.
fn next_text(ws: &mut WebSocket<TcpStream>) -> Result<Option<String>, tungstenite::Error> {
    match ws.read() {
        Ok(Message::Text(t)) => Ok(Some(t.to_string())),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads until a frame satisfies `pred`, failing after `DEADLINE`.
fn read_until(ws: &mut WebSocket<TcpStream>, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if let Some(t) = next_text(ws).unwrap().filter(|t| pred(t)) {
            return t;
        }
    }
    panic!("no matching frame within {DEADLINE:?}");
}

fn http(venue: &Venue, method: &str, path: &str, body: &str) -> (u16, String) {
    let addr = venue.rest_url().trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: venue\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// One side of a client-side book.
type Levels = BTreeMap<Px, Qty>;

/// Client-side books: plain ordered maps, fed only from the wire.
#[derive(Default)]
struct Mirror {
    books: HashMap<String, (Levels, Levels)>,
    last_ts: u64,
    check_best: bool,
    unparsable: u32,
    unknown: u32,
    out_of_order: u32,
    tick_changes: u32,
}

fn levels(v: &Value) -> Levels {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| (px(&l["price"]), qty(&l["size"])))
        .collect()
}

impl Mirror {
    fn apply_frame(&mut self, text: &str) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(msgs)) => msgs.iter().for_each(|m| self.apply(m)),
            Ok(msg) => self.apply(&msg),
            Err(_) => self.unparsable += 1,
        }
    }

    fn apply(&mut self, msg: &Value) {
        let ts: u64 = msg["timestamp"].as_str().unwrap().parse().unwrap();
        if ts < self.last_ts {
            self.out_of_order += 1;
        }
        self.last_ts = self.last_ts.max(ts);
        match msg["event_type"].as_str().unwrap() {
            "book" => {
                let book = (levels(&msg["bids"]), levels(&msg["asks"]));
                assert!(msg["hash"].is_string() && msg["market"].as_str().unwrap().len() == 66);
                self.books
                    .insert(msg["asset_id"].as_str().unwrap().to_string(), book);
            }
            "price_change" => {
                for e in msg["price_changes"].as_array().unwrap() {
                    let book = self.books.get_mut(e["asset_id"].as_str().unwrap()).unwrap();
                    let side = match e["side"].as_str().unwrap() {
                        "BUY" => &mut book.0,
                        "SELL" => &mut book.1,
                        other => panic!("side {other}"),
                    };
                    let (p, q) = (px(&e["price"]), qty(&e["size"]));
                    if q.is_zero() {
                        side.remove(&p);
                    } else {
                        side.insert(p, q);
                    }
                    if self.check_best {
                        let bid = book.0.keys().next_back().copied().unwrap_or(Px::ZERO);
                        let ask = book.1.keys().next().copied().unwrap_or(Px::ONE);
                        assert_eq!(
                            (px(&e["best_bid"]), px(&e["best_ask"])),
                            (bid, ask),
                            "{msg}"
                        );
                        assert!(bid < ask, "crossed: {msg}");
                    }
                }
            }
            "tick_size_change" => {
                self.tick_changes += 1;
                self.books.remove(msg["asset_id"].as_str().unwrap());
            }
            "last_trade_price" | "best_bid_ask" => {}
            _ => self.unknown += 1,
        }
    }

    fn digest(&self, token: &str) -> Option<u64> {
        let (bids, asks) = self.books.get(token)?;
        let mut d = BookDigest::new();
        bids.iter().rev().for_each(|(p, q)| d.bid(*p, *q));
        asks.iter().for_each(|(p, q)| d.ask(*p, *q));
        Some(d.finish())
    }

    fn digests(&self, cp: &Checkpoint) -> Vec<(String, u64)> {
        cp.digests
            .iter()
            .map(|(t, _)| (t.clone(), self.digest(t).unwrap_or(0)))
            .collect()
    }
}

/// Plays a scenario with one mirror client that reconnects when dropped, checking the mirror
/// against every checkpoint; returns the checkpoints and the mirror.
fn play(scenario: Scenario, check_best: bool) -> (Vec<Checkpoint>, Mirror, Venue) {
    let venue = start(scenario);
    let assets = tokens(&venue);
    let mut ws = connect(&venue);
    subscribe(&mut ws, &assets);
    let mut mirror = Mirror {
        check_best,
        ..Mirror::default()
    };
    let mut seen = Vec::new();
    let mut pending: Option<Checkpoint> = None;
    let begin = Instant::now();
    loop {
        assert!(begin.elapsed() < DEADLINE, "scenario did not finish");
        if pending.is_none() {
            pending = venue.checkpoints().try_recv().ok();
        }
        if let Some(cp) = pending.take_if(|cp| mirror.last_ts >= cp.timestamp) {
            assert_eq!(mirror.last_ts, cp.timestamp);
            assert_eq!(mirror.digests(&cp), cp.digests, "at step {}", cp.step);
            let last = cp.last;
            seen.push(cp);
            if last {
                return (seen, mirror, venue);
            }
            venue.resume();
            continue;
        }
        match next_text(&mut ws) {
            Ok(Some(text)) => mirror.apply_frame(&text),
            Ok(None) => {}
            Err(_) => {
                ws = connect(&venue);
                subscribe(&mut ws, &assets);
            }
        }
    }
}

#[test]
fn subscribe_dumps_every_book_then_streams_and_answers_ping() {
    let venue = start(load_scenario("default").unwrap());
    let assets = tokens(&venue);
    assert_eq!(assets.len(), 22);
    let mut ws = connect(&venue);
    subscribe(&mut ws, &assets);
    let dump: Value = serde_json::from_str(&read_until(&mut ws, |_| true)).unwrap();
    let books = dump
        .as_array()
        .expect("the initial dump is an array of books");
    let mut dumped: Vec<String> = books
        .iter()
        .map(|b| {
            assert_eq!(b["event_type"], "book");
            for key in ["market", "asset_id", "timestamp", "hash"] {
                assert!(b[key].is_string(), "{key} in {b}");
            }
            for side in ["bids", "asks"] {
                let levels = b[side].as_array().unwrap();
                assert!(!levels.is_empty());
                assert!(
                    levels
                        .iter()
                        .all(|l| l["price"].is_string() && l["size"].is_string())
                );
            }
            b["asset_id"].as_str().unwrap().to_string()
        })
        .collect();
    dumped.sort();
    let mut expected = assets.clone();
    expected.sort();
    assert_eq!(dumped, expected);

    read_until(&mut ws, |t| t.contains("\"price_change\""));
    ws.send(Message::text("PING")).unwrap();
    read_until(&mut ws, |t| t == "PONG");

    subscribe(&mut ws, &assets[..1]);
    let again = read_until(&mut ws, |t| t.starts_with('['));
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        again.as_array().unwrap().len(),
        1,
        "a resubscribe re-sends only its assets"
    );
    assert_eq!(again[0]["asset_id"], assets[0].as_str());
}

#[test]
fn ping_before_subscribe_closes_with_1008() {
    let venue = start(load_scenario("default").unwrap());
    let mut ws = connect(&venue);
    ws.send(Message::text("PING")).unwrap();
    let begin = Instant::now();
    let code = loop {
        assert!(begin.elapsed() < DEADLINE);
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| f.code),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("closed without a close frame: {e}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Policy));
    assert_eq!(u16::from(CloseCode::Policy), 1008);
}

#[test]
fn rest_endpoints_have_the_venue_shapes_and_serve_the_true_books() {
    let venue = start(load_scenario("default").unwrap());
    let markets = venue.markets();
    let fine = markets.iter().find(|m| m.tick == Px(10)).unwrap();
    let coarse = markets.iter().find(|m| m.tick == Px(100)).unwrap();
    let neg = markets.iter().find(|m| m.neg_risk).unwrap();
    let token = &coarse.token_ids[0];

    let (status, body) = http(&venue, "GET", &format!("/book?token_id={token}"), "");
    assert_eq!(status, 200);
    let book: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(book["asset_id"], token.as_str());
    assert_eq!(book["market"], coarse.condition_id.as_str());
    assert_eq!(book["tick_size"], "0.01");
    assert_eq!(book["min_order_size"], "5");
    assert_eq!(book["neg_risk"], false);
    for key in ["timestamp", "hash", "last_trade_price"] {
        assert!(book[key].is_string(), "{key}");
    }

    let mut ws = connect(&venue);
    subscribe(&mut ws, std::slice::from_ref(token));
    let dump: Value = serde_json::from_str(&read_until(&mut ws, |_| true)).unwrap();
    assert_eq!(
        dump[0]["bids"], book["bids"],
        "REST and the dump show the same true book"
    );
    assert_eq!(dump[0]["asks"], book["asks"]);

    let req = json!([{"token_id": token}, {"token_id": neg.token_ids[1]}]).to_string();
    let (status, body) = http(&venue, "POST", "/books", &req);
    assert_eq!(status, 200);
    let books: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(books.as_array().unwrap().len(), 2);
    assert_eq!(books[1]["neg_risk"], true);
    assert_eq!(books[1]["asset_id"], neg.token_ids[1].as_str());

    let tick = |t: &str| http(&venue, "GET", &format!("/tick-size?token_id={t}"), "");
    assert_eq!(tick(token), (200, r#"{"minimum_tick_size":0.01}"#.into()));
    assert_eq!(
        tick(&fine.token_ids[1]),
        (200, r#"{"minimum_tick_size":0.001}"#.into())
    );
    let neg_risk = |t: &str| http(&venue, "GET", &format!("/neg-risk?token_id={t}"), "").1;
    assert_eq!(neg_risk(token), r#"{"neg_risk":false}"#);
    assert_eq!(neg_risk(&neg.token_ids[0]), r#"{"neg_risk":true}"#);

    let (status, body) = http(
        &venue,
        "GET",
        &format!("/clob-markets/{}", fine.condition_id),
        "",
    );
    assert_eq!(status, 200);
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["c"], fine.condition_id.as_str());
    assert_eq!(m["t"][0]["t"], fine.token_ids[0].as_str());
    assert_eq!(m["t"][1]["o"], "No");
    assert!(body.contains(r#""mts":0.001"#), "{body}");
    assert_eq!(
        (m["mos"].as_u64(), m["nr"].as_bool()),
        (Some(5), Some(false))
    );
    assert!(m["fd"]["r"].is_number() && m["fd"]["e"].is_number() && m["fd"]["to"].is_boolean());

    assert_eq!(
        http(&venue, "GET", "/version", ""),
        (200, r#"{"version":2}"#.into())
    );
    let (status, time) = http(&venue, "GET", "/time", "");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        time.parse::<u64>().unwrap().abs_diff(now.as_secs()) <= 5,
        "{time}"
    );

    for path in [
        "/book?token_id=123",
        "/tick-size?token_id=1",
        "/clob-markets/0xdead",
    ] {
        let (status, body) = http(&venue, "GET", path, "");
        assert_eq!(status, 404, "{path}");
        assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    }
    let (status, _) = http(&venue, "POST", "/books", r#"[{"token_id":"42"}]"#);
    assert_eq!(status, 404);
}

#[test]
fn a_mirror_of_the_stream_matches_every_checkpoint_and_runs_are_seeded() {
    let scenario = short("default", 3000, 1000);
    let (first, mirror, venue) = play(scenario.clone(), true);
    assert_eq!(
        first.iter().map(|c| (c.step, c.last)).collect::<Vec<_>>(),
        [(1000, false), (2000, false), (3000, true)]
    );
    assert!(mirror.out_of_order == 0 && mirror.unparsable == 0 && mirror.unknown == 0);
    let stats = venue.stats();
    assert_eq!(stats.steps_published, 3000);
    assert_eq!(stats.checkpoint_timeouts, 0);
    assert!(stats.frames_sent > 3000 && stats.connections_accepted == 1);
    assert!(venue.finished());
    venue.shutdown();

    let (second, _, _) = play(scenario.clone(), true);
    assert_eq!(first, second, "the same seed replays the same books");

    let mut other = scenario;
    other.seed += 1;
    let (third, _, _) = play(other, true);
    let values = |cps: &[Checkpoint]| -> Vec<u64> {
        cps.last()
            .unwrap()
            .digests
            .iter()
            .map(|(_, d)| *d)
            .collect()
    };
    assert_ne!(values(&first), values(&third));
}

#[test]
fn every_scripted_fault_is_injected_and_a_reconnecting_mirror_still_converges() {
    let scenario = load_scenario("faults").unwrap();
    let (checkpoints, mirror, venue) = play(scenario, false);
    assert!(checkpoints.last().unwrap().last);
    let stats = venue.stats();
    let f = stats.faults;
    assert_eq!(
        (
            f.disconnect,
            f.stall,
            f.malformed,
            f.unknown_event,
            f.duplicate,
            f.reorder,
            f.tick_size_change
        ),
        (1, 1, 2, 1, 1, 1, 1)
    );
    assert!(
        stats.connections_accepted >= 2,
        "the disconnect forced a reconnect"
    );
    assert_eq!(mirror.unparsable, 2);
    assert_eq!(mirror.unknown, 1);
    assert!(mirror.out_of_order >= 1);
    assert_eq!(mirror.tick_changes, 2, "one per outcome of the market");
    assert_eq!(venue.markets()[0].tick, Px(10));
}

#[test]
fn a_paced_venue_spreads_its_steps_at_the_scenario_rate() {
    let mut scenario = short("default", 300, 1000);
    scenario.dynamics.rate_per_sec = 1000;
    let venue = sim::start(VenueConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        scenario,
        paced: true,
    })
    .unwrap();
    let mut ws = connect(&venue);
    subscribe(&mut ws, &tokens(&venue));
    let begin = Instant::now();
    let last = venue.checkpoints().recv_timeout(DEADLINE).unwrap();
    assert!(last.last && last.step == 300);
    assert!(
        begin.elapsed() >= Duration::from_millis(290),
        "{:?}",
        begin.elapsed()
    );
    assert!(venue.finished() || venue.checkpoints().is_empty());
}

#[test]
fn unsubscribed_assets_stop_streaming() {
    let venue = start(load_scenario("default").unwrap());
    let markets = venue.markets();
    let (a, b) = (&markets[0].token_ids, &markets[1].token_ids);
    let mut ws = connect(&venue);
    subscribe(&mut ws, a);
    read_until(&mut ws, |t| t.starts_with('['));
    let unsubscribe = json!({"type": "market", "operation": "unsubscribe", "assets_ids": a});
    ws.send(Message::text(unsubscribe.to_string())).unwrap();
    subscribe(&mut ws, b);
    read_until(&mut ws, |t| t.starts_with('[') && t.contains(b[0].as_str()));
    for _ in 0..50 {
        let text = read_until(&mut ws, |_| true);
        assert!(!a.iter().any(|t| text.contains(t.as_str())), "{text}");
        assert!(b.iter().any(|t| text.contains(t.as_str())), "{text}");
    }
}
