//! The registry built from Gamma fixtures: what is registered, what is excluded and why, and the
//! `/events` fetch against a loopback server.

use std::path::PathBuf;
use std::time::Duration;

use pmbot::adapters::polymarket::gamma::{
    self, Exclusion, GammaError, Loaded, build_registry, load_file, parse_events, parse_markets,
};
use pmbot::adapters::polymarket::rest;
use pmbot::domain::fees::FeeSchedule;
use pmbot::domain::markets::{MarketInfo, Registry};
use pmbot::domain::num::{EventIdx, MarketIdx, Px, Qty};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gamma")
        .join(name)
}

fn load(name: &str) -> Loaded {
    load_file(&fixture(name)).unwrap()
}

/// The market with this slug in a fixture, as raw JSON (events' markets included).
fn raw_market(name: &str, slug: &str) -> Value {
    let doc: Value = serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap();
    let items = doc.as_array().unwrap().iter();
    items
        .flat_map(|item| match item.get("markets") {
            Some(markets) => markets.as_array().unwrap().clone(),
            None => vec![item.clone()],
        })
        .find(|m| m["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} not in {name}"))
}

fn condition(name: &str, slug: &str) -> String {
    raw_market(name, slug)["conditionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn tokens(name: &str, slug: &str) -> Vec<String> {
    serde_json::from_str(raw_market(name, slug)["clobTokenIds"].as_str().unwrap()).unwrap()
}

fn market<'a>(reg: &'a Registry, name: &str, slug: &str) -> (MarketIdx, &'a MarketInfo) {
    let idx = reg
        .market_by_condition(&condition(name, slug))
        .unwrap_or_else(|| panic!("{slug} is not registered"));
    (idx, reg.market(idx))
}

fn exclusion<'a>(loaded: &'a Loaded, market: &str) -> &'a Exclusion {
    loaded
        .excluded
        .iter()
        .find(|e| e.market == market)
        .unwrap_or_else(|| panic!("{market} not excluded: {:?}", loaded.excluded))
}

#[test]
fn an_esports_market_keeps_its_fees_delay_and_tokens_in_order() {
    let loaded = load("esports_market.json");
    assert!(loaded.excluded.is_empty(), "{:?}", loaded.excluded);
    let reg = &loaded.registry;
    assert_eq!(reg.markets().len(), 1);
    let slug = "cs2-faze-ill-2026-04-05";
    let (idx, m) = market(reg, "esports_market.json", slug);
    assert_eq!(m.tick, Px(10));
    assert_eq!(m.min_order_size, Qty::from_shares(5));
    assert_eq!(m.fees, FeeSchedule::parse("0.03", "1", true).unwrap());
    assert_eq!(m.seconds_delay, 3);
    assert!(m.tradable() && !m.neg_risk && m.event.is_none());
    for (i, token) in tokens("esports_market.json", slug).iter().enumerate() {
        let asset = reg.asset_by_token(token.as_bytes()).unwrap();
        assert_eq!(m.assets[i], asset);
        assert_eq!(reg.asset(asset).market, idx);
    }
}

#[test]
fn markets_without_a_fee_schedule_are_fee_free_and_decimals_may_be_strings() {
    let loaded = load("fee_free_markets.json");
    assert!(loaded.excluded.is_empty(), "{:?}", loaded.excluded);
    let reg = &loaded.registry;
    let (_, explicit) = market(reg, "fee_free_markets.json", "fee-free-explicit");
    let (_, silent) = market(reg, "fee_free_markets.json", "fee-free-silent");
    assert_eq!(
        (explicit.fees, silent.fees),
        (FeeSchedule::FREE, FeeSchedule::FREE)
    );
    assert_eq!((explicit.tick, silent.tick), (Px(100), Px(10)));
    assert_eq!(
        (explicit.min_order_size, silent.min_order_size),
        (Qty::from_shares(5), Qty(15_500_000))
    );
    assert_eq!((explicit.seconds_delay, silent.seconds_delay), (0, 0));
}

#[test]
fn a_whole_neg_risk_event_is_registered_over_its_markets() {
    let name = "negrisk_event.json";
    let loaded = load(name);
    assert!(loaded.excluded.is_empty(), "{:?}", loaded.excluded);
    let reg = &loaded.registry;
    let markets: Vec<MarketIdx> = ["mayor-alice", "mayor-bob", "mayor-carol"]
        .iter()
        .map(|slug| market(reg, name, slug).0)
        .collect();
    assert_eq!(reg.events().len(), 1);
    let event = reg.event(EventIdx(0));
    assert_eq!(event.id, "40001");
    assert_eq!(
        event.neg_risk_market_id,
        raw_market(name, "mayor-bob")["negRiskMarketID"]
            .as_str()
            .unwrap()
    );
    assert!(!event.augmented);
    assert_eq!(event.markets, markets);
    for m in markets {
        let info = reg.market(m);
        assert!(info.neg_risk && info.tradable());
        assert_eq!((info.event, info.tick), (Some(EventIdx(0)), Px(10)));
    }
}

#[test]
fn an_augmented_event_is_registered_as_augmented() {
    let loaded = load("augmented_event.json");
    assert!(loaded.excluded.is_empty(), "{:?}", loaded.excluded);
    let reg = &loaded.registry;
    assert_eq!(reg.markets().len(), 3);
    let event = reg.event(EventIdx(0));
    assert_eq!(event.id, "30829");
    assert!(event.augmented);
    assert_eq!(event.markets.len(), 3);
    let (other, _) = market(reg, "augmented_event.json", "dem-2028-other");
    assert!(event.markets.contains(&other));
}

#[test]
fn each_broken_market_is_excluded_with_its_field_named_and_the_rest_load() {
    let name = "broken_markets.json";
    let loaded = load(name);
    let reg = &loaded.registry;
    assert_eq!(reg.markets().len(), 1);
    market(reg, name, "good-one");
    assert_eq!(
        reg.asset_count(),
        2,
        "excluded markets leave no tokens behind"
    );
    let expect = [
        ("bad-tick", &["orderPriceMinTickSize", "0.003"][..]),
        ("three-tokens", &["clobTokenIds: 3 tokens"]),
        (
            "letter-token",
            &["clobTokenIds", "\"12345abc\" is not a decimal"],
        ),
        (
            "btc-updown-5m-1773307200",
            &["feesEnabled is true but feeSchedule is missing"],
        ),
        ("bad-exponent", &["feeSchedule", "exponent \"3\""]),
    ];
    assert_eq!(loaded.excluded.len(), expect.len(), "{:?}", loaded.excluded);
    for (slug, words) in expect {
        let cond = condition(name, slug);
        let excluded = exclusion(&loaded, &cond);
        assert_eq!(excluded.event, None);
        for word in words {
            assert!(excluded.reason.contains(word), "{slug}: {excluded}");
        }
        assert!(
            excluded
                .to_string()
                .starts_with(&format!("market {cond}: "))
        );
    }
}

#[test]
fn a_market_claiming_another_neg_risk_id_takes_sum_arbitrage_off_its_event() {
    let name = "broken_events.json";
    let loaded = load(name);
    let reg = &loaded.registry;
    let eve = exclusion(&loaded, &condition(name, "gov-eve"));
    assert_eq!(eve.event.as_deref(), Some("40002"));
    assert!(eve.reason.contains("negRiskMarketID"), "{eve}");
    assert!(eve.reason.contains("disagrees"), "{eve}");
    for slug in ["gov-dan", "gov-fay"] {
        let (_, m) = market(reg, name, slug);
        assert_eq!(m.event, None, "{slug} stays a plain market");
        assert!(m.neg_risk && m.tradable());
    }
    let event_id = raw_market(name, "gov-dan")["negRiskMarketID"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = exclusion(&loaded, &event_id);
    assert_eq!(event.event.as_deref(), Some("40002"));
    assert!(event.reason.contains("1 of its 3 markets"), "{event}");
    assert!(event.reason.contains("sum arbitrage is off"), "{event}");
    assert_eq!(loaded.excluded.len(), 2, "{:?}", loaded.excluded);
}

#[test]
fn a_closed_market_stays_in_its_event_marked_closed() {
    let name = "broken_events.json";
    let reg = load(name).registry;
    assert_eq!(reg.events().len(), 1);
    let event = reg.event(EventIdx(0));
    assert_eq!(event.id, "40003");
    let (blues, info) = market(&reg, name, "cup-blues");
    assert!(info.closed && !info.accepting_orders && !info.tradable());
    assert!(event.markets.contains(&blues));
    assert_eq!(event.markets.len(), 3);
}

#[test]
fn duplicates_are_excluded_and_a_repeated_event_is_not_registered_twice() {
    let bytes = std::fs::read(fixture("negrisk_event.json")).unwrap();
    let events = parse_events(&bytes).unwrap();
    let twice = [events[0].clone(), events[0].clone()];
    let loaded = build_registry(&twice, &events[0].markets);
    let reg = &loaded.registry;
    assert_eq!((reg.markets().len(), reg.events().len()), (3, 1));
    // 3 markets of the second copy, its event, and 3 stand-alone repeats.
    assert_eq!(loaded.excluded.len(), 7, "{:?}", loaded.excluded);
    for m in &events[0].markets {
        let repeats: Vec<_> = loaded
            .excluded
            .iter()
            .filter(|e| e.market == m.name())
            .collect();
        assert_eq!(repeats.len(), 2);
        assert!(
            repeats
                .iter()
                .all(|e| e.reason.contains("registered twice"))
        );
    }
    let event = exclusion(&loaded, events[0].neg_risk_market_id.as_deref().unwrap());
    assert!(event.reason.contains("3 of its 3 markets"), "{event}");
}

#[test]
fn parsing_refuses_documents_that_are_not_gamma_arrays() {
    assert!(matches!(
        parse_events(b"{\"a\": 1}"),
        Err(GammaError::Shape(_))
    ));
    assert!(matches!(parse_markets(b"[1, 2"), Err(GammaError::Json(_))));
    let no_markets = parse_events(br#"[{"id": "7", "negRisk": true}]"#).unwrap_err();
    assert!(
        no_markets.to_string().contains("event #0: 7: markets"),
        "{no_markets}"
    );
    let markets = parse_markets(br#"[3]"#).unwrap();
    assert!(
        markets[0]
            .spec
            .as_ref()
            .unwrap_err()
            .contains("not a JSON object")
    );
}

#[test]
fn load_file_errors_name_the_file() {
    let missing = fixture("no_such_file.json");
    let err = load_file(&missing).unwrap_err();
    assert!(err.to_string().contains("no_such_file.json"), "{err}");
    let odd = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gamma_not_an_array.json");
    std::fs::write(&odd, br#"{"markets": []}"#).unwrap();
    let err = load_file(&odd).unwrap_err();
    assert!(
        matches!(&err, GammaError::File { path, why } if path.ends_with("gamma_not_an_array.json") && why.contains("array")),
        "{err}"
    );
}

/// Serves one request on a loopback port with `status` and `body`; returns the base URL and a
/// handle yielding the request's path and query.
fn serve_once(status: u16, body: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let handle = std::thread::spawn(move || {
        let request = server.recv().unwrap();
        let url = request.url().to_owned();
        let response = tiny_http::Response::from_data(body).with_status_code(status);
        request.respond(response).unwrap();
        url
    });
    (format!("http://127.0.0.1:{port}/"), handle)
}

#[test]
fn fetch_events_gets_and_parses_the_events_endpoint() {
    let body = std::fs::read(fixture("negrisk_event.json")).unwrap();
    let (base, server) = serve_once(200, body.clone());
    let agent = rest::agent(Duration::from_secs(5));
    let events = gamma::fetch_events(&agent, &base, "slug=mayor-election&closed=false").unwrap();
    assert_eq!(
        server.join().unwrap(),
        "/events?slug=mayor-election&closed=false"
    );
    assert_eq!(events, parse_events(&body).unwrap());
}

#[test]
fn fetch_events_errors_name_the_url() {
    let agent = rest::agent(Duration::from_secs(5));
    let (base, server) = serve_once(500, b"oops".to_vec());
    let err = gamma::fetch_events(&agent, &base, "id=1").unwrap_err();
    server.join().unwrap();
    assert!(err.contains("/events?id=1") && err.contains("500"), "{err}");
    let (base, server) = serve_once(200, b"{}".to_vec());
    let err = gamma::fetch_events(&agent, &base, "id=2").unwrap_err();
    server.join().unwrap();
    assert!(
        err.contains("/events?id=2") && err.contains("unexpected shape"),
        "{err}"
    );
}
