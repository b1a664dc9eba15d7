//! `pmbot arb evaluate`: the pair and neg-risk math on a saved Gamma + `/books` snapshot, printed
//! as exact JSON, so a quant can check every figure the engine would act on.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::adapters::polymarket::decode::MarketDecoder;
use crate::adapters::polymarket::gamma;
use crate::domain::books::BookSet;
use crate::domain::events::EventBody;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, EventIdx, MarketIdx};
use crate::strategies::pair_arb::math::{self, Leg, MathParams, Opportunity, Skip};

/// Bad input: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", file.display())]
pub struct InputError {
    /// The offending file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// A market or event the math did not evaluate, and why.
struct Skipped {
    event: String,
    market: String,
    reason: String,
}

impl Skipped {
    /// `market` (one condition id, or an event's, comma-separated) lacks `asset`'s book.
    fn missing_book(registry: &Registry, event: String, market: &str, asset: AssetIdx) -> Skipped {
        Skipped {
            event,
            market: market.to_owned(),
            reason: format!(
                "missing_book (no book for token {})",
                registry.asset(asset).token_id
            ),
        }
    }
}

/// Evaluates every market and complete neg-risk event of the snapshot. A skip names the market's
/// condition id, or for a neg-risk event its markets' condition ids joined by commas.
pub fn evaluate(markets: &Path, books: &Path, params: &MathParams) -> Result<Value, InputError> {
    let input = |file: &Path, problem: String| InputError {
        file: file.to_owned(),
        problem,
    };
    let gamma_text = std::fs::read(markets).map_err(|e| input(markets, e.to_string()))?;
    let gamma_events =
        gamma::parse_events(&gamma_text).map_err(|e| input(markets, e.to_string()))?;
    let loaded = gamma::build_registry(&gamma_events, &[]);
    let registry = &loaded.registry;
    let text = std::fs::read(books).map_err(|e| input(books, e.to_string()))?;
    books_shape(&text).map_err(|problem| input(books, problem))?;
    let mut events = Vec::new();
    MarketDecoder::new()
        .decode(&text, registry, &mut events)
        .map_err(|e| input(books, format!("not a /books response: {e}")))?;
    let mut set = BookSet::new(registry);
    let mut in_file = vec![false; registry.asset_count()];
    let mut resync = Vec::new();
    let mut touched = Vec::with_capacity(1);
    // Applied as the core applies a stream: each book object is one message.
    for event in &events {
        if let EventBody::BookSnapshot { asset } = event.body {
            in_file[asset.0 as usize] = true;
        }
        if let EventBody::MessageEnd = event.body {
            set.end_message(&touched, &mut resync);
            touched.clear();
        } else if let Some(asset) = set.apply(event, &mut resync)
            && !touched.contains(&asset)
        {
            touched.push(asset);
        }
    }
    let missing_book =
        |assets: &[AssetIdx]| assets.iter().copied().find(|a| !in_file[a.0 as usize]);

    let mut skipped: Vec<Skipped> = loaded
        .excluded
        .iter()
        .map(|x| Skipped {
            event: x.event.clone().unwrap_or_default(),
            market: x.market.clone(),
            reason: x.reason.clone(),
        })
        .collect();
    let mut found = Vec::new();
    let mut legs = Vec::with_capacity(registry.asset_count());
    let event_of = |m: MarketIdx| {
        let condition = registry.market(m).condition_id.as_str();
        gamma_events
            .iter()
            .find(|e| {
                e.markets
                    .iter()
                    .any(|x| x.condition_id.as_deref() == Some(condition))
            })
            .map_or_else(String::new, |e| e.id.clone())
    };
    for i in 0..registry.markets().len() {
        let m = MarketIdx(i as u32);
        let info = registry.market(m);
        let event = event_of(m);
        if let Some(asset) = missing_book(&info.assets) {
            skipped.push(Skipped::missing_book(
                registry,
                event,
                &info.condition_id,
                asset,
            ));
            continue;
        }
        for eval in [math::binary_buy_both, math::binary_sell_both] {
            match eval(registry, &set, m, params, &mut legs) {
                Ok(Some(o)) => found.push(opportunity(registry, &o, &legs, event.clone(), &[m])),
                Ok(None) => {}
                Err(skip) => push_skip(&mut skipped, &event, &info.condition_id, skip),
            }
        }
    }
    for i in 0..registry.events().len() {
        let e = EventIdx(i as u32);
        let info = registry.event(e);
        let conditions = info
            .markets
            .iter()
            .map(|&m| registry.market(m).condition_id.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let missing = info
            .markets
            .iter()
            .find_map(|&m| missing_book(&registry.market(m).assets));
        if let Some(asset) = missing {
            skipped.push(Skipped::missing_book(
                registry,
                info.id.clone(),
                &conditions,
                asset,
            ));
            continue;
        }
        for eval in [math::negrisk_yes_sum, math::negrisk_no_sum] {
            match eval(registry, &set, e, params, &mut legs) {
                Ok(Some(o)) => found.push(opportunity(
                    registry,
                    &o,
                    &legs,
                    info.id.clone(),
                    &info.markets,
                )),
                Ok(None) => {}
                Err(skip) => push_skip(&mut skipped, &info.id, &conditions, skip),
            }
        }
    }
    Ok(json!({
        "opportunities": found,
        "skipped": skipped
            .iter()
            .map(|s| json!({"event": s.event, "market": s.market, "reason": s.reason}))
            .collect::<Vec<_>>(),
    }))
}

/// Checks that a `/books` file is a JSON array whose every entry is a book, so that another
/// document (a Gamma response, a `price_change` capture) is refused instead of reading as no books.
fn books_shape(text: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let entries = value.as_array().ok_or("expected a JSON array of books")?;
    match entries.iter().position(|b| {
        ["asset_id", "bids", "asks"]
            .iter()
            .any(|k| b.get(k).is_none())
    }) {
        Some(i) => Err(format!(
            "entry #{i} is not a book (asset_id, bids and asks)"
        )),
        None => Ok(()),
    }
}

/// Records a skip once per market and reason (the buy and sell evaluations often agree).
fn push_skip(skipped: &mut Vec<Skipped>, event: &str, market: &str, skip: Skip) {
    let reason = skip.as_str();
    if !skipped
        .iter()
        .any(|s| s.market == market && s.reason == reason)
    {
        skipped.push(Skipped {
            event: event.to_owned(),
            market: market.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

fn opportunity(
    registry: &Registry,
    o: &Opportunity,
    legs: &[Leg],
    event: String,
    markets: &[MarketIdx],
) -> Value {
    json!({
        "kind": o.kind.as_str(),
        "event": event,
        "markets": markets.iter().map(|&m| registry.market(m).condition_id.clone()).collect::<Vec<_>>(),
        "size": o.size.to_string(),
        "cost": format!("{:.6}", o.cost),
        "fees": format!("{:.6}", o.fees),
        "payoff": format!("{:.6}", o.payoff),
        "edge": format!("{:.6}", o.edge),
        "legs": legs.iter().map(|l| json!({
            "token_id": registry.asset(l.asset).token_id,
            "side": l.side.as_str(),
            "limit_price": l.limit_px.to_string(),
            "size": o.size.to_string(),
        })).collect::<Vec<_>>(),
    })
}
