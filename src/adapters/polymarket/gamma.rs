//! The market registry from Gamma's metadata: parses `/events` and `/markets` responses, turns
//! each market into a `MarketSpec` or a named exclusion, and registers the neg-risk events whose
//! markets all passed.
//!
//! Nothing is guessed: a missing or malformed field excludes its market with a reason naming the
//! field, and an event that lost a market is kept out of sum arbitrage. Gamma sends decimals as
//! JSON numbers or strings; numbers are read from serde_json's shortest round-trip text (`0.001`
//! stays `0.001`), then parsed exactly into `Px`/`Qty`, so a value the unit cannot hold is refused.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::domain::fees::FeeSchedule;
use crate::domain::markets::{EventSpec, MarketSpec, Registry, RegistryError};
use crate::domain::num::{MarketIdx, NumError, Px, Qty};

/// Largest Gamma response body read (a broad `/events` query runs to tens of megabytes).
const MAX_BODY: u64 = 64 << 20;

/// Why a Gamma document could not be read at all.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GammaError {
    /// The bytes are not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The JSON is not an array of events or markets as Gamma sends them.
    #[error("unexpected shape: {0}")]
    Shape(String),
    /// A file could not be read or parsed.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
}

/// One market as Gamma describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GammaMarket {
    /// Gamma's own id (empty if absent).
    pub id: String,
    /// The condition id, if Gamma gave a string.
    pub condition_id: Option<String>,
    /// The neg-risk market id it claims (`negRiskMarketID`), if any.
    pub neg_risk_market_id: Option<String>,
    /// The market ready for the registry, or why it cannot be described (naming the field).
    pub spec: Result<MarketSpec, String>,
}

impl GammaMarket {
    /// The name used in exclusions: the condition id, or Gamma's id when there is none.
    pub fn name(&self) -> &str {
        self.condition_id.as_deref().unwrap_or(&self.id)
    }
}

/// One event as Gamma describes it, with its markets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GammaEvent {
    /// Gamma's event id.
    pub id: String,
    /// Whether its markets are mutually exclusive outcomes on the neg-risk exchange.
    pub neg_risk: bool,
    /// The neg-risk market id its markets share.
    pub neg_risk_market_id: Option<String>,
    /// Whether outcomes may still be added (`negRiskAugmented`); `None` when Gamma did not say.
    pub augmented: Option<bool>,
    /// Its markets.
    pub markets: Vec<GammaMarket>,
}

/// A market (or a neg-risk event) left out of the registry or out of sum arbitrage, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// The event it was listed in, if any.
    pub event: Option<String>,
    /// The market's condition id (Gamma id if none); for an event, its neg-risk market id.
    pub market: String,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "market {}", self.market)?;
        if let Some(event) = &self.event {
            write!(f, " (event {event})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A registry built from Gamma, with everything that was left out.
#[derive(Debug)]
pub struct Loaded {
    /// The registered markets and neg-risk events.
    pub registry: Registry,
    /// Every market and event left out, with the reason.
    pub excluded: Vec<Exclusion>,
}

/// Parses a `/events` response: a JSON array of events, each with its `markets`.
pub fn parse_events(json: &[u8]) -> Result<Vec<GammaEvent>, GammaError> {
    events_from(&from_json(json)?)
}

/// Parses a `/markets` response: a JSON array of stand-alone markets.
pub fn parse_markets(json: &[u8]) -> Result<Vec<GammaMarket>, GammaError> {
    markets_from(&from_json(json)?)
}

/// Registers every market that Gamma described completely, then each neg-risk event whose
/// markets all registered; stand-alone markets come after the events' markets.
pub fn build_registry(events: &[GammaEvent], standalone: &[GammaMarket]) -> Loaded {
    let mut loaded = Loaded {
        registry: Registry::default(),
        excluded: Vec::new(),
    };
    for event in events {
        loaded.add_event(event);
    }
    for market in standalone {
        loaded.add_market(market, None, None);
    }
    loaded
}

/// Fetches `GET {gamma_url}/events?{query}` and parses it.
pub fn fetch_events(
    agent: &ureq::Agent,
    gamma_url: &str,
    query: &str,
) -> Result<Vec<GammaEvent>, String> {
    let url = format!("{}/events?{query}", gamma_url.trim_end_matches('/'));
    let body = agent
        .get(&url)
        .call()
        .and_then(|mut r| r.body_mut().with_config().limit(MAX_BODY).read_to_vec())
        .map_err(|e| format!("{url}: {e}"))?;
    parse_events(&body).map_err(|e| format!("{url}: {e}"))
}

/// Loads a saved Gamma response, either an events array or a markets array (told apart by
/// `markets` in the first element), into a registry.
pub fn load_file(path: &Path) -> Result<Loaded, GammaError> {
    let in_file = |why: String| GammaError::File {
        path: path.display().to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| in_file(e.to_string()))?;
    let value = from_json(&bytes).map_err(|e| in_file(e.to_string()))?;
    let loaded = if value
        .get(0)
        .is_some_and(|first| first.get("markets").is_some())
    {
        events_from(&value).map(|events| build_registry(&events, &[]))
    } else {
        markets_from(&value).map(|markets| build_registry(&[], &markets))
    };
    loaded.map_err(|e| in_file(e.to_string()))
}

impl Loaded {
    /// Registers an event's markets, then the event itself if it is neg-risk and whole.
    fn add_event(&mut self, event: &GammaEvent) {
        let shared_id = event
            .neg_risk
            .then_some(event.neg_risk_market_id.as_deref())
            .flatten();
        let before = self.excluded.len();
        let markets: Vec<MarketIdx> = event
            .markets
            .iter()
            .filter_map(|m| self.add_market(m, Some(&event.id), shared_id))
            .collect();
        if !event.neg_risk {
            return;
        }
        let lost = self.excluded.len() - before;
        let problem = match (shared_id, event.augmented) {
            (None, _) => "negRiskMarketID is missing".to_owned(),
            (Some(_), None) => "negRiskAugmented is missing".to_owned(),
            (Some(_), Some(_)) if lost > 0 => format!(
                "{lost} of its {} markets were excluded",
                event.markets.len()
            ),
            (Some(id), Some(augmented)) => {
                let spec = EventSpec {
                    id: event.id.clone(),
                    neg_risk_market_id: id.to_owned(),
                    augmented,
                    markets,
                };
                match self.registry.add_event(spec) {
                    Ok(_) => return,
                    Err(e) => e.to_string(),
                }
            }
        };
        self.excluded.push(Exclusion {
            event: Some(event.id.clone()),
            market: shared_id.unwrap_or(&event.id).to_owned(),
            reason: format!("{problem}; sum arbitrage is off for this event"),
        });
    }

    /// Registers one market, or records why not. In a neg-risk event (`shared_id` set) the
    /// market must be neg-risk and claim the event's neg-risk market id.
    fn add_market(
        &mut self,
        market: &GammaMarket,
        event: Option<&str>,
        shared_id: Option<&str>,
    ) -> Option<MarketIdx> {
        let registered = market.spec.clone().and_then(|spec| {
            if let Some(want) = shared_id {
                if !spec.neg_risk {
                    return Err("negRisk is not true in a neg-risk event".to_owned());
                }
                if market.neg_risk_market_id.as_deref() != Some(want) {
                    return Err(format!(
                        "negRiskMarketID {:?} disagrees with the event's {want}",
                        market.neg_risk_market_id.as_deref().unwrap_or("(missing)")
                    ));
                }
            }
            self.registry.add_market(spec).map_err(|e| match e {
                RegistryError::BadTick { tick, .. } => {
                    format!("orderPriceMinTickSize: {tick} is not a venue tick")
                }
                RegistryError::BadToken { token, .. } => {
                    format!("clobTokenIds: token id {token:?} is not a decimal number")
                }
                _ => e.to_string(),
            })
        });
        registered
            .map_err(|reason| {
                self.excluded.push(Exclusion {
                    event: event.map(str::to_owned),
                    market: market.name().to_owned(),
                    reason,
                })
            })
            .ok()
    }
}

fn from_json(json: &[u8]) -> Result<Value, GammaError> {
    serde_json::from_slice(json).map_err(|e| GammaError::Json(e.to_string()))
}

fn events_from(value: &Value) -> Result<Vec<GammaEvent>, GammaError> {
    let events = value
        .as_array()
        .ok_or_else(|| GammaError::Shape("expected a JSON array of events".into()))?;
    events
        .iter()
        .enumerate()
        .map(|(i, e)| event_from(e).map_err(|why| GammaError::Shape(format!("event #{i}: {why}"))))
        .collect()
}

fn markets_from(value: &Value) -> Result<Vec<GammaMarket>, GammaError> {
    let markets = value
        .as_array()
        .ok_or_else(|| GammaError::Shape("expected a JSON array of markets".into()))?;
    Ok(markets.iter().map(market_from).collect())
}

fn event_from(value: &Value) -> Result<GammaEvent, String> {
    let obj = value.as_object().ok_or("not a JSON object")?;
    let id = id_text(obj).ok_or("missing id")?;
    let markets = obj
        .get("markets")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{id}: markets is not an array"))?;
    let field = |e: String| format!("{id}: {e}");
    Ok(GammaEvent {
        neg_risk: flag(obj, "negRisk").map_err(field)?.unwrap_or(false),
        neg_risk_market_id: text(obj, "negRiskMarketID").map_err(field)?,
        augmented: flag(obj, "negRiskAugmented").map_err(field)?,
        markets: markets.iter().map(market_from).collect(),
        id,
    })
}

fn market_from(value: &Value) -> GammaMarket {
    let Some(obj) = value.as_object() else {
        return GammaMarket {
            id: String::new(),
            condition_id: None,
            neg_risk_market_id: None,
            spec: Err(format!("not a JSON object: {value}")),
        };
    };
    GammaMarket {
        id: id_text(obj).unwrap_or_default(),
        condition_id: text(obj, "conditionId").ok().flatten(),
        neg_risk_market_id: text(obj, "negRiskMarketID").ok().flatten(),
        spec: spec_from(obj),
    }
}

/// Reads every field the registry needs, naming the first one that is missing or malformed.
fn spec_from(obj: &Map<String, Value>) -> Result<MarketSpec, String> {
    let condition_id = text(obj, "conditionId")?.ok_or("conditionId: missing")?;
    if !is_condition_id(&condition_id) {
        return Err(format!(
            "conditionId: {condition_id:?} is not 0x and 64 hex digits"
        ));
    }
    let token_ids = string_array(obj, "clobTokenIds")?;
    if token_ids.len() != 2 {
        return Err(format!(
            "clobTokenIds: {} tokens; a binary market has 2",
            token_ids.len()
        ));
    }
    let outcomes = string_array(obj, "outcomes")?;
    if outcomes.len() != token_ids.len() {
        return Err(format!(
            "outcomes: {} outcomes for {} tokens",
            outcomes.len(),
            token_ids.len()
        ));
    }
    let seconds_delay = match present(obj, "secondsDelay") {
        None => 0,
        Some(v) => decimal_text(v)
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| format!("secondsDelay: {v} is not a whole number of seconds"))?,
    };
    Ok(MarketSpec {
        condition_id,
        token_ids,
        tick: decimal(obj, "orderPriceMinTickSize", Px::parse)?,
        min_order_size: decimal(obj, "orderMinSize", Qty::parse)?,
        neg_risk: flag(obj, "negRisk")?.unwrap_or(false),
        fees: fees(obj)?,
        seconds_delay,
        accepting_orders: flag(obj, "acceptingOrders")?.unwrap_or(false),
        closed: flag(obj, "closed")?.unwrap_or(false),
    })
}

/// The taker fee schedule. A schedule present is used even if `feesEnabled` is false (charging
/// a fee that is not due never flatters an edge); `feesEnabled: true` without one is refused.
fn fees(obj: &Map<String, Value>) -> Result<FeeSchedule, String> {
    let Some(schedule) = present(obj, "feeSchedule") else {
        return match flag(obj, "feesEnabled")? {
            Some(true) => {
                Err("feesEnabled is true but feeSchedule is missing: fees unknown".into())
            }
            _ => Ok(FeeSchedule::FREE),
        };
    };
    let schedule = schedule
        .as_object()
        .ok_or_else(|| format!("feeSchedule: {schedule} is not an object"))?;
    let part = |key: &str| {
        present(schedule, key)
            .and_then(decimal_text)
            .ok_or_else(|| format!("feeSchedule.{key}: missing or not a number"))
    };
    let taker_only = flag(schedule, "takerOnly")
        .map_err(|e| format!("feeSchedule.{e}"))?
        .ok_or("feeSchedule.takerOnly: missing")?;
    FeeSchedule::parse(&part("rate")?, &part("exponent")?, taker_only)
        .map_err(|e| format!("feeSchedule: {e}"))
}

/// A field's value unless absent or `null`.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Gamma's `id`, a string or a number.
fn id_text(obj: &Map<String, Value>) -> Option<String> {
    present(obj, "id").and_then(decimal_text)
}

/// A boolean field: `None` when absent, an error naming it when not a boolean.
fn flag(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    present(obj, key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| format!("{key}: {v} is not true or false"))
        })
        .transpose()
}

/// A string field: `None` when absent, an error naming it when not a string.
fn text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    present(obj, key)
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{key}: {v} is not a string"))
        })
        .transpose()
}

/// The decimal text of a JSON number (its shortest round-trip form) or of a string.
fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A required decimal field parsed exactly by `parse`.
fn decimal<T>(
    obj: &Map<String, Value>,
    key: &str,
    parse: fn(&[u8]) -> Result<T, NumError>,
) -> Result<T, String> {
    let v = present(obj, key).ok_or_else(|| format!("{key}: missing"))?;
    let t = decimal_text(v).ok_or_else(|| format!("{key}: {v} is not a number"))?;
    parse(t.as_bytes()).map_err(|e| format!("{key}: {t:?}: {e}"))
}

/// A list of strings sent as a JSON string holding an array (`"[\"Yes\", \"No\"]"`), or as an
/// array.
fn string_array(obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    let v = present(obj, key).ok_or_else(|| format!("{key}: missing"))?;
    let list = match v {
        Value::String(s) => serde_json::from_str(s),
        other => serde_json::from_value(other.clone()),
    };
    list.map_err(|_| format!("{key}: {v} is not an array of strings"))
}

/// Whether `s` is `0x` followed by 64 hex digits.
fn is_condition_id(s: &str) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn json_numbers_keep_their_exact_decimal_text() {
        let parsed: Value = serde_json::from_str(r#"[0.001, 0.0025, 0.005, 0.0001, 0.1]"#).unwrap();
        let ticks: Vec<Px> = parsed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Px::parse(decimal_text(v).unwrap().as_bytes()).unwrap())
            .collect();
        assert_eq!(ticks, [Px(10), Px(25), Px(50), Px(1), Px(1000)]);
    }

    #[test]
    fn decimals_arrive_as_numbers_or_strings_and_are_never_rounded() {
        let m = obj(json!({"a": 5, "b": "5", "c": 15.5, "d": 1e-7, "e": "0.0000001", "f": true}));
        assert_eq!(decimal(&m, "a", Qty::parse), Ok(Qty::from_shares(5)));
        assert_eq!(decimal(&m, "b", Qty::parse), Ok(Qty::from_shares(5)));
        assert_eq!(decimal(&m, "c", Qty::parse), Ok(Qty(15_500_000)));
        assert!(decimal(&m, "d", Qty::parse).unwrap_err().starts_with("d: "));
        assert!(
            decimal(&m, "e", Qty::parse)
                .unwrap_err()
                .contains("more decimal places")
        );
        assert_eq!(
            decimal(&m, "f", Qty::parse),
            Err("f: true is not a number".into())
        );
        assert_eq!(decimal(&m, "g", Qty::parse), Err("g: missing".into()));
    }

    proptest! {
        #[test]
        fn any_six_place_size_round_trips_through_a_json_number(units in 0u64..1_000_000_000_000) {
            let qty = Qty(units);
            let parsed: Value = serde_json::from_str(&format!("{{\"s\": {qty}}}")).unwrap();
            prop_assert_eq!(decimal(&obj(parsed), "s", Qty::parse), Ok(qty));
        }

        #[test]
        fn any_price_round_trips_through_a_json_number(units in 0u16..=10_000) {
            let px = Px(units);
            let parsed: Value = serde_json::from_str(&format!("{{\"p\": {px}}}")).unwrap();
            prop_assert_eq!(decimal(&obj(parsed), "p", Px::parse), Ok(px));
        }
    }

    #[test]
    fn string_lists_come_quoted_or_plain() {
        let m = obj(json!({
            "quoted": "[\"Yes\", \"No\"]", "plain": ["1", "2"], "numbers": "[1, 2]", "junk": "[\"a\""
        }));
        assert_eq!(
            string_array(&m, "quoted"),
            Ok(vec!["Yes".into(), "No".into()])
        );
        assert_eq!(string_array(&m, "plain"), Ok(vec!["1".into(), "2".into()]));
        assert!(
            string_array(&m, "numbers")
                .unwrap_err()
                .starts_with("numbers: ")
        );
        assert!(string_array(&m, "junk").unwrap_err().starts_with("junk: "));
        assert_eq!(string_array(&m, "none"), Err("none: missing".into()));
    }

    #[test]
    fn fee_schedules_are_read_or_refused_never_guessed() {
        let esports = json!({"exponent": 1, "rate": 0.03, "rebateRate": 0.25, "takerOnly": true});
        assert_eq!(
            fees(&obj(json!({"feesEnabled": true, "feeSchedule": esports}))),
            Ok(FeeSchedule::parse("0.03", "1", true).unwrap())
        );
        assert_eq!(fees(&obj(json!({}))), Ok(FeeSchedule::FREE));
        assert_eq!(
            fees(&obj(json!({"feesEnabled": false, "feeSchedule": null}))),
            Ok(FeeSchedule::FREE)
        );
        assert!(
            fees(&obj(json!({"feesEnabled": true})))
                .unwrap_err()
                .contains("fees unknown")
        );
        let no_taker_flag = json!({"feeSchedule": {"exponent": 1, "rate": "0.03"}});
        assert_eq!(
            fees(&obj(no_taker_flag)),
            Err("feeSchedule.takerOnly: missing".into())
        );
        let no_rate = json!({"feeSchedule": {"exponent": 1, "takerOnly": true}});
        assert!(
            fees(&obj(no_rate))
                .unwrap_err()
                .starts_with("feeSchedule.rate")
        );
    }

    #[test]
    fn condition_ids_are_0x_and_64_hex_digits() {
        let good = format!("0x{}", "ab".repeat(32));
        assert!(is_condition_id(&good));
        assert!(!is_condition_id(&good[..65]));
        assert!(!is_condition_id(&good[2..]));
        assert!(!is_condition_id(&format!("0x{}", "zz".repeat(32))));
    }

    #[test]
    fn optional_fields_take_the_safe_side_when_absent() {
        let m = json!({
            "conditionId": format!("0x{}", "0".repeat(64)), "clobTokenIds": "[\"1\", \"2\"]",
            "outcomes": "[\"Yes\", \"No\"]", "orderPriceMinTickSize": 0.01, "orderMinSize": 5
        });
        let spec = spec_from(&obj(m.clone())).unwrap();
        assert_eq!(
            (
                spec.seconds_delay,
                spec.accepting_orders,
                spec.closed,
                spec.neg_risk
            ),
            (0, false, false, false)
        );
        let mut delayed = obj(m);
        delayed.insert("secondsDelay".into(), json!("3"));
        assert_eq!(spec_from(&delayed).unwrap().seconds_delay, 3);
        delayed.insert("secondsDelay".into(), json!(-1));
        assert!(
            spec_from(&delayed)
                .unwrap_err()
                .starts_with("secondsDelay: ")
        );
    }

    #[test]
    fn exclusions_name_their_market_and_event() {
        let plain = Exclusion {
            event: None,
            market: "0xaa".into(),
            reason: "orderMinSize: missing".into(),
        };
        assert_eq!(plain.to_string(), "market 0xaa: orderMinSize: missing");
        let in_event = Exclusion {
            event: Some("42".into()),
            ..plain
        };
        assert_eq!(
            in_event.to_string(),
            "market 0xaa (event 42): orderMinSize: missing"
        );
    }
}
