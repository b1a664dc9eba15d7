//! The venue's Gamma shapes (`GET /events`): the market metadata a client loads its registry
//! from. Each neg-risk event is one event object; each stand-alone binary market is an event of
//! its own with `negRisk: false`. Field names and encodings follow Gamma's (`clobTokenIds` and
//! `outcomes` are JSON strings holding arrays; ticks, sizes and fee rates are JSON numbers with
//! their exact decimal text).

use serde_json::{Map, Value, json};

use crate::domain::fees::FeeSchedule;
use crate::domain::num::Usdc;
use crate::sim::wire;
use crate::sim::world::World;

/// Gamma market ids count up from here, in universe order.
const MARKET_ID_BASE: usize = 600_000;
/// Event ids of stand-alone markets count up from here, in universe order.
const SOLO_EVENT_ID_BASE: usize = 50_000;

/// Filters and paging of `GET /events` (`slug`, `limit`, `offset`); the rest of Gamma's query
/// parameters are accepted and ignored (every listed market is active and open).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only the event with this slug.
    pub slug: Option<String>,
    /// At most this many events.
    pub limit: Option<usize>,
    /// Skip this many events first.
    pub offset: usize,
}

/// The `GET /events` array: stand-alone markets first, then neg-risk events, in universe order.
pub fn events(w: &World, query: &EventQuery) -> Value {
    let solo = w
        .markets
        .iter()
        .enumerate()
        .filter(|(_, m)| m.event.is_none())
        .map(|(i, _)| {
            let id = (SOLO_EVENT_ID_BASE + i).to_string();
            event(w, &id, &format!("sim-market-{i}"), false, None, &[i])
        });
    let neg_risk = w.events.iter().map(|e| {
        let slug = format!("sim-event-{}", e.id);
        event(w, &e.id, &slug, true, Some(e.augmented), &e.markets)
    });
    let list: Vec<Value> = solo
        .chain(neg_risk)
        .filter(|e| query.slug.as_deref().is_none_or(|s| e["slug"] == s))
        .skip(query.offset)
        .take(query.limit.unwrap_or(usize::MAX))
        .collect();
    Value::Array(list)
}

/// One event object over `markets` (indices in universe order).
fn event(
    w: &World,
    id: &str,
    slug: &str,
    neg_risk: bool,
    augmented: Option<bool>,
    markets: &[usize],
) -> Value {
    let mut e = Map::new();
    e.insert("id".into(), json!(id));
    e.insert("slug".into(), json!(slug));
    e.insert("title".into(), json!(format!("Simulated {slug}")));
    e.insert("active".into(), json!(true));
    e.insert("closed".into(), json!(false));
    e.insert("negRisk".into(), json!(neg_risk));
    if neg_risk {
        let nr_id = w.markets[markets[0]]
            .event
            .map(|i| &w.events[i].neg_risk_market_id);
        e.insert("negRiskMarketID".into(), json!(nr_id));
    }
    e.insert("negRiskAugmented".into(), json!(augmented.unwrap_or(false)));
    let list: Vec<Value> = markets.iter().map(|&m| market(w, m)).collect();
    e.insert("markets".into(), Value::Array(list));
    Value::Object(e)
}

/// One market object.
fn market(w: &World, index: usize) -> Value {
    let state = &w.markets[index];
    let spec = &state.spec;
    let tokens: Vec<String> = spec.token_ids.iter().map(|t| format!("\"{t}\"")).collect();
    let mut m = Map::new();
    m.insert("id".into(), json!((MARKET_ID_BASE + index).to_string()));
    m.insert(
        "question".into(),
        json!(format!("Will simulated outcome {index} happen?")),
    );
    m.insert("conditionId".into(), json!(spec.condition_id));
    m.insert("slug".into(), json!(format!("sim-outcome-{index}")));
    m.insert(
        "clobTokenIds".into(),
        json!(format!("[{}]", tokens.join(", "))),
    );
    m.insert("outcomes".into(), json!("[\"Yes\", \"No\"]"));
    m.insert("negRisk".into(), json!(spec.neg_risk));
    if let Some(event) = state.event {
        m.insert(
            "negRiskMarketID".into(),
            json!(w.events[event].neg_risk_market_id),
        );
    }
    m.insert("orderPriceMinTickSize".into(), wire::tick_number(spec.tick));
    m.insert(
        "orderMinSize".into(),
        decimal(&spec.min_order_size.to_string()),
    );
    m.insert("enableOrderBook".into(), json!(true));
    m.insert("acceptingOrders".into(), json!(spec.accepting_orders));
    m.insert("active".into(), json!(true));
    m.insert("closed".into(), json!(spec.closed));
    m.insert("secondsDelay".into(), json!(spec.seconds_delay));
    m.insert("feesEnabled".into(), json!(!spec.fees.is_free()));
    if !spec.fees.is_free() {
        m.insert("feeSchedule".into(), fee_schedule(&spec.fees));
    }
    Value::Object(m)
}

/// Gamma's `feeSchedule`; the simulated venue pays no maker rebates (`rebateRate` 0).
fn fee_schedule(fees: &FeeSchedule) -> Value {
    json!({
        "rate": fee_rate(fees),
        "exponent": fees.exponent,
        "takerOnly": fees.taker_only,
        "rebateRate": 0,
    })
}

/// A fee rate as a JSON number with its exact decimal text (`0.03`).
pub fn fee_rate(fees: &FeeSchedule) -> Value {
    decimal(&Usdc(i64::from(fees.rate_ppm)).to_string())
}

/// A decimal's text as a JSON number; the text comes from the crate's own exact formatters.
fn decimal(text: &str) -> Value {
    serde_json::from_str(text).expect("a decimal's text is a JSON number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dynamics::Dynamics;
    use crate::sim::scenario::load_scenario;

    fn world() -> World {
        Dynamics::new(&load_scenario("pair-arb").unwrap()).1
    }

    #[test]
    fn lists_stand_alone_markets_then_neg_risk_events() {
        let w = world();
        let all = events(&w, &EventQuery::default());
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), 6 + 2);
        let market_counts: Vec<usize> = all
            .iter()
            .map(|e| e["markets"].as_array().unwrap().len())
            .collect();
        assert_eq!(market_counts, [1, 1, 1, 1, 1, 1, 4, 3]);
        let ids: Vec<&str> = all
            .iter()
            .flat_map(|e| e["markets"].as_array().unwrap())
            .map(|m| m["conditionId"].as_str().unwrap())
            .collect();
        let listed: Vec<&str> = w
            .markets
            .iter()
            .map(|m| m.spec.condition_id.as_str())
            .collect();
        assert_eq!(ids, listed, "every market once, in universe order");
        let fee = &all[4]["markets"][0];
        assert_eq!(
            fee["feeSchedule"].to_string(),
            r#"{"exponent":1,"rate":0.03,"rebateRate":0,"takerOnly":true}"#
        );
        assert_eq!(fee["orderPriceMinTickSize"].to_string(), "0.001");
        assert!(all[0]["markets"][0].get("feeSchedule").is_none());
    }

    #[test]
    fn slug_limit_and_offset_select_events() {
        let w = world();
        let slug = events(&w, &EventQuery::default())[7]["slug"]
            .as_str()
            .unwrap()
            .to_owned();
        let one = events(
            &w,
            &EventQuery {
                slug: Some(slug.clone()),
                ..EventQuery::default()
            },
        );
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(one[0]["negRiskAugmented"], true);
        let page = |offset, limit| {
            let q = EventQuery {
                slug: None,
                limit: Some(limit),
                offset,
            };
            events(&w, &q).as_array().unwrap().len()
        };
        assert_eq!((page(0, 5), page(5, 5), page(10, 5)), (5, 3, 0));
    }
}
