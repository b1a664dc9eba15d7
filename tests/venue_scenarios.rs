//! The pair-arbitrage venue scenarios over loopback: both load and play; `GET /events` has
//! Gamma's shape and builds a registry; a client that mirrors the stream sees every scripted
//! window exactly once, at its exact gap, sees no other opportunity, and matches every
//! checkpoint digest.

use std::collections::{BTreeMap, HashMap};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pmbot::domain::digest::BookDigest;
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::markets::{EventSpec, MarketSpec, Registry};
use pmbot::domain::num::{Px, Qty};
use pmbot::sim::{Checkpoint, Scenario, Venue, WindowKind, load_scenario};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

mod common;
use common::{connect, px, qty, start};

const DEADLINE: Duration = Duration::from_secs(90);

fn get(venue: &Venue, path: &str) -> (u16, String) {
    let addr = venue.rest_url().trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: venue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.into(),
    )
}

fn events(venue: &Venue) -> Vec<Value> {
    let (status, body) = get(venue, "/events");
    assert_eq!(status, 200);
    serde_json::from_str::<Value>(&body)
        .unwrap()
        .as_array()
        .expect("GET /events is a JSON array")
        .clone()
}

/// A JSON string field that holds a JSON array of strings.
fn string_array(market: &Value, key: &str) -> Vec<String> {
    let text = market[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} {text:?}: {e}"))
}

fn number_text(v: &Value) -> String {
    assert!(v.is_number(), "{v} is not a number");
    v.to_string()
}

/// What the bot does with `/events`: one `MarketSpec` per market, one `EventSpec` per
/// neg-risk event, all registered.
fn registry_from(events: &[Value]) -> Registry {
    let mut registry = Registry::default();
    for e in events {
        let mut members = Vec::new();
        for m in e["markets"].as_array().unwrap() {
            let fees = match m.get("feeSchedule") {
                Some(f) => FeeSchedule::parse(
                    &number_text(&f["rate"]),
                    &number_text(&f["exponent"]),
                    f["takerOnly"].as_bool().unwrap(),
                )
                .unwrap(),
                None => FeeSchedule::FREE,
            };
            let spec = MarketSpec {
                condition_id: m["conditionId"].as_str().unwrap().into(),
                token_ids: string_array(m, "clobTokenIds"),
                tick: Px::parse(number_text(&m["orderPriceMinTickSize"]).as_bytes()).unwrap(),
                min_order_size: Qty::parse(number_text(&m["orderMinSize"]).as_bytes()).unwrap(),
                neg_risk: m["negRisk"].as_bool().unwrap(),
                fees,
                seconds_delay: m["secondsDelay"].as_u64().unwrap() as u32,
                accepting_orders: m["acceptingOrders"].as_bool().unwrap(),
                closed: m["closed"].as_bool().unwrap(),
            };
            members.push(registry.add_market(spec).unwrap());
        }
        if e["negRisk"] == true {
            registry
                .add_event(EventSpec {
                    id: e["id"].as_str().unwrap().into(),
                    neg_risk_market_id: e["negRiskMarketID"].as_str().unwrap().into(),
                    augmented: e["negRiskAugmented"].as_bool().unwrap(),
                    markets: members,
                })
                .unwrap();
        }
    }
    registry
}

#[test]
fn both_scenarios_load_and_list_markets_with_their_fees_and_status() {
    for name in ["pair-arb", "maker-pair"] {
        let scenario = load_scenario(name).unwrap();
        assert_eq!(scenario.validate(), Ok(()), "{name}");
        let venue = start(scenario.clone());
        let markets = venue.markets();
        assert_eq!(markets.len(), scenario.market_count());
        assert!(markets.iter().all(|m| m.accepting_orders && !m.closed));
        let fee_markets = markets.iter().filter(|m| !m.fees.is_free()).count();
        assert_eq!(fee_markets, if name == "pair-arb" { 2 } else { 0 });
    }
}

#[test]
fn events_have_gammas_shape_and_build_the_registry() {
    let venue = start(load_scenario("pair-arb").unwrap());
    let events = events(&venue);
    let markets = venue.markets();
    assert_eq!(
        events.len(),
        6 + 2,
        "six stand-alone markets, two neg-risk events"
    );
    for e in &events {
        for key in ["id", "slug", "title"] {
            assert!(e[key].is_string(), "{key} in {e}");
        }
        let neg_risk = e["negRisk"].as_bool().unwrap();
        let list = e["markets"].as_array().unwrap();
        assert_eq!(list.len() == 1, !neg_risk, "{e}");
        if neg_risk {
            let id = e["negRiskMarketID"].as_str().unwrap();
            assert!(id.len() == 66 && id.starts_with("0x"), "{id}");
        }
        for m in list {
            let tokens = string_array(m, "clobTokenIds");
            assert_eq!(tokens.len(), 2);
            assert_eq!(string_array(m, "outcomes"), ["Yes", "No"]);
            let spec = markets
                .iter()
                .find(|s| m["conditionId"] == s.condition_id.as_str())
                .expect("every listed market is the venue's");
            assert_eq!(tokens, spec.token_ids);
            assert_eq!(m["negRisk"], neg_risk);
            assert_eq!(m.get("negRiskMarketID").is_some(), neg_risk, "{m}");
            if neg_risk {
                assert_eq!(m["negRiskMarketID"], e["negRiskMarketID"]);
            }
            assert!(m["id"].is_string() && m["question"].is_string());
            assert_eq!(
                (
                    m["acceptingOrders"].as_bool(),
                    m["active"].as_bool(),
                    m["closed"].as_bool()
                ),
                (Some(true), Some(true), Some(false))
            );
            assert_eq!(m["secondsDelay"], 0);
            assert_eq!(m["feesEnabled"], !spec.fees.is_free());
            assert_eq!(m.get("feeSchedule").is_some(), !spec.fees.is_free(), "{m}");
        }
    }
    let augmented: Vec<bool> = events
        .iter()
        .filter(|e| e["negRisk"] == true)
        .map(|e| e["negRiskAugmented"].as_bool().unwrap())
        .collect();
    assert_eq!(augmented, [false, true]);

    let registry = registry_from(&events);
    assert_eq!(registry.markets().len(), markets.len());
    assert_eq!(registry.events().len(), 2);
    assert!(registry.events()[1].augmented);
    let esports = FeeSchedule::parse("0.03", "1", true).unwrap();
    let fee_market = markets.iter().find(|m| m.fees == esports).unwrap();
    let idx = registry
        .market_by_condition(&fee_market.condition_id)
        .unwrap();
    assert_eq!(registry.market(idx).fees, esports);
    assert_eq!(registry.market(idx).tick, Px(10));

    let (_, body) = get(
        &venue,
        &format!("/clob-markets/{}", fee_market.condition_id),
    );
    assert!(
        body.contains(r#""fd":{"e":1,"r":0.03,"to":true}"#),
        "{body}"
    );
    let free = markets.iter().find(|m| m.fees.is_free()).unwrap();
    let (_, body) = get(&venue, &format!("/clob-markets/{}", free.condition_id));
    assert!(body.contains(r#""r":0"#), "{body}");

    let slug = events[7]["slug"].as_str().unwrap();
    let (_, one) = get(&venue, &format!("/events?slug={slug}&closed=false"));
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (_, page) = get(&venue, "/events?limit=3&offset=6");
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page.as_array().unwrap(), &events[6..]);
    assert_eq!(get(&venue, "/events?limit=x").0, 400);
}

/// One side of a client-side book.
type Levels = BTreeMap<Px, Qty>;

/// A sum whose crossing is an opportunity: the best asks (or bids) of `tokens` summed against
/// `payoff` (asks below it, or bids above it).
struct Watch {
    key: (WindowKind, usize),
    tokens: Vec<String>,
    asks: bool,
    payoff: i64,
    holding: bool,
    episodes: u32,
    /// The best sum seen in the latest episode.
    best_seen: Option<i64>,
}

/// Client-side books fed only from the wire, watching every pair sum.
struct Mirror {
    books: HashMap<String, (Levels, Levels)>,
    last_ts: u64,
    watches: Vec<Watch>,
}

impl Mirror {
    /// Watches every binary sum of every market and both sums of every neg-risk event, keyed
    /// like the scenario's windows (events in `/events` order after the stand-alone markets).
    fn new(events: &[Value]) -> Mirror {
        let one = i64::from(Px::ONE.0);
        let mut watches = Vec::new();
        let mut market = 0;
        let mut event = 0;
        for e in events {
            let list = e["markets"].as_array().unwrap();
            let tokens: Vec<Vec<String>> = list
                .iter()
                .map(|m| string_array(m, "clobTokenIds"))
                .collect();
            for t in &tokens {
                for (kind, asks) in [
                    (WindowKind::BinaryBuy, true),
                    (WindowKind::BinarySell, false),
                ] {
                    watches.push(Watch::new((kind, market), t.clone(), asks, one));
                }
                market += 1;
            }
            if e["negRisk"] == true {
                let n = tokens.len() as i64;
                let outcome = |o: usize| tokens.iter().map(|t| t[o].clone()).collect();
                watches.push(Watch::new(
                    (WindowKind::NegriskYes, event),
                    outcome(0),
                    true,
                    one,
                ));
                let no = (WindowKind::NegriskNo, event);
                watches.push(Watch::new(no, outcome(1), true, one * (n - 1)));
                event += 1;
            }
        }
        Mirror {
            books: HashMap::new(),
            last_ts: 0,
            watches,
        }
    }

    fn apply_frame(&mut self, text: &str) {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        match v {
            Value::Array(msgs) => msgs.iter().for_each(|m| self.apply(m)),
            msg => self.apply(&msg),
        }
        for w in &mut self.watches {
            w.observe(&self.books);
        }
    }

    fn apply(&mut self, msg: &Value) {
        let ts: u64 = msg["timestamp"].as_str().unwrap().parse().unwrap();
        self.last_ts = self.last_ts.max(ts);
        let levels = |v: &Value| -> Levels {
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| (px(&l["price"]), qty(&l["size"])))
                .collect()
        };
        match msg["event_type"].as_str().unwrap() {
            "book" => {
                let book = (levels(&msg["bids"]), levels(&msg["asks"]));
                let token = msg["asset_id"].as_str().unwrap().to_string();
                self.books.insert(token, book);
            }
            "price_change" => {
                for e in msg["price_changes"].as_array().unwrap() {
                    let book = self.books.get_mut(e["asset_id"].as_str().unwrap()).unwrap();
                    let side = if e["side"] == "BUY" {
                        &mut book.0
                    } else {
                        &mut book.1
                    };
                    let (p, q) = (px(&e["price"]), qty(&e["size"]));
                    if q.is_zero() {
                        side.remove(&p);
                    } else {
                        side.insert(p, q);
                    }
                    let bid = book.0.keys().next_back().copied().unwrap_or(Px::ZERO);
                    let ask = book.1.keys().next().copied().unwrap_or(Px::ONE);
                    assert!(bid < ask, "crossed after {e}");
                }
            }
            _ => {}
        }
    }

    fn digests(&self, cp: &Checkpoint) -> Vec<(String, u64)> {
        cp.digests
            .iter()
            .map(|(t, _)| {
                let digest = self.books.get(t).map_or(0, |(bids, asks)| {
                    let mut d = BookDigest::new();
                    bids.iter().rev().for_each(|(p, q)| d.bid(*p, *q));
                    asks.iter().for_each(|(p, q)| d.ask(*p, *q));
                    d.finish()
                });
                (t.clone(), digest)
            })
            .collect()
    }
}

impl Watch {
    fn new(key: (WindowKind, usize), tokens: Vec<String>, asks: bool, payoff: i64) -> Watch {
        Watch {
            key,
            tokens,
            asks,
            payoff,
            holding: false,
            episodes: 0,
            best_seen: None,
        }
    }

    /// Updates the episode count, and the best sum of the episode, from the books now (a
    /// window over several markets opens one market per message, so its exact sum is the
    /// episode's best, not its first).
    fn observe(&mut self, books: &HashMap<String, (Levels, Levels)>) {
        let sum: Option<i64> = self
            .tokens
            .iter()
            .map(|t| {
                let (bids, asks) = books.get(t)?;
                let best = if self.asks {
                    asks.keys().next()
                } else {
                    bids.keys().next_back()
                };
                best.map(|p| i64::from(p.0))
            })
            .sum();
        let holding = sum.is_some_and(|s| {
            if self.asks {
                s < self.payoff
            } else {
                s > self.payoff
            }
        });
        if holding && !self.holding {
            self.episodes += 1;
            self.best_seen = sum;
        }
        if holding {
            let better = |a: i64, b: i64| if self.asks { a.min(b) } else { a.max(b) };
            self.best_seen = self.best_seen.zip(sum).map(|(a, b)| better(a, b));
        }
        self.holding = holding;
    }
}

/// A market-channel WebSocket subscribed to every asset with the initial dump.
fn subscribed(venue: &Venue) -> WebSocket<TcpStream> {
    let mut ws = connect(venue);
    let assets: Vec<String> = venue
        .markets()
        .into_iter()
        .flat_map(|m| m.token_ids)
        .collect();
    let frame = json!({"type": "market", "operation": "subscribe", "markets": [],
        "assets_ids": assets, "initial_dump": true, "custom_feature_enabled": true});
    ws.send(Message::text(frame.to_string())).unwrap();
    ws
}

/// Plays a scenario with a mirror client, checking it against every checkpoint.
fn play(scenario: Scenario) -> (Mirror, Venue, usize) {
    let venue = start(scenario);
    let mut mirror = Mirror::new(&events(&venue));
    let mut ws = subscribed(&venue);
    let mut checked = 0;
    let mut pending: Option<Checkpoint> = None;
    let begin = Instant::now();
    loop {
        assert!(begin.elapsed() < DEADLINE, "scenario did not finish");
        if pending.is_none() {
            pending = venue.checkpoints().try_recv().ok();
        }
        if let Some(cp) = pending.take_if(|cp| mirror.last_ts >= cp.timestamp) {
            assert_eq!(mirror.digests(&cp), cp.digests, "at step {}", cp.step);
            checked += 1;
            if cp.last {
                return (mirror, venue, checked);
            }
            venue.resume();
            continue;
        }
        match ws.read() {
            Ok(Message::Text(t)) => mirror.apply_frame(&t),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("connection lost: {e}"),
        }
    }
}

#[test]
fn a_mirror_sees_each_window_once_at_its_gap_and_no_other_opportunity() {
    let scenario = load_scenario("pair-arb").unwrap();
    let (mirror, venue, checked) = play(scenario.clone());
    assert_eq!(checked, 6, "five pauses and the final checkpoint");
    let stats = venue.stats();
    assert_eq!(stats.checkpoint_timeouts, 0);
    let n = scenario.windows.len() as u64;
    assert_eq!((stats.windows_opened, stats.windows_closed), (n, n));
    for w in &mirror.watches {
        let scripted: Vec<_> = scenario
            .windows
            .iter()
            .filter(|s| (s.kind, s.target) == w.key)
            .collect();
        assert_eq!(w.episodes as usize, scripted.len(), "{:?}", w.key);
        assert!(!w.holding, "{:?} still open at the end", w.key);
        if let [spec] = scripted[..] {
            let markets = scenario.window_markets(spec).unwrap();
            let tick = i64::from(scenario.market_tick(markets.start).unwrap().0);
            let gap = i64::from(spec.gap_ticks) * tick;
            let expected = if w.asks {
                w.payoff - gap
            } else {
                w.payoff + gap
            };
            assert_eq!(w.best_seen, Some(expected), "{:?}", w.key);
        }
    }
}

#[test]
fn a_mirror_of_the_wide_maker_scenario_matches_every_checkpoint() {
    let mut scenario = load_scenario("maker-pair").unwrap();
    scenario.dynamics.steps = 4_000;
    scenario.dynamics.checkpoint_every = 1_000;
    let (mirror, venue, checked) = play(scenario);
    assert_eq!(checked, 4);
    assert!(mirror.watches.iter().all(|w| w.episodes == 0));
    let stats = venue.stats();
    assert_eq!((stats.windows_opened, stats.checkpoint_timeouts), (0, 0));
}
