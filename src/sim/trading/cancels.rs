//! The cancel endpoints: one order, a list, everything, or everything in one market or asset.
//! Each answers `{"canceled": [ids], "not_canceled": {id: reason}}`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::sim::http::{HttpRequest, Reply};
use crate::sim::hub::State;
use crate::sim::matching::{CancelFilter, OrderId};

use super::gate::Caller;
use super::orders::parse_order_id;
use super::{error, ok};

/// The reason an id that is not an order of the caller's cannot be cancelled.
const NOT_FOUND: &str = "order not found";

#[derive(Deserialize)]
struct One {
    #[serde(rename = "orderID")]
    order_id: String,
}

#[derive(Deserialize)]
struct Market {
    #[serde(default)]
    market: Option<String>,
    #[serde(default)]
    asset_id: Option<String>,
}

/// `DELETE /order` with `{"orderID": id}`.
pub fn one(state: &mut State, caller: &Caller, request: &HttpRequest, now: u64) -> Reply {
    match serde_json::from_slice::<One>(&request.body) {
        Ok(one) => cancel_ids(state, caller, &[one.order_id], now),
        Err(e) => error(400, &format!("Invalid payload: {e}")),
    }
}

/// `DELETE /orders` with `[ids]`.
pub fn many(state: &mut State, caller: &Caller, request: &HttpRequest, now: u64) -> Reply {
    match serde_json::from_slice::<Vec<String>>(&request.body) {
        Ok(ids) => cancel_ids(state, caller, &ids, now),
        Err(e) => error(400, &format!("Invalid payload: {e}")),
    }
}

/// `DELETE /cancel-all` (no body).
pub fn all(state: &mut State, caller: &Caller, now: u64) -> Reply {
    let ids =
        state
            .exchange
            .engine
            .cancel_all(&mut state.world, caller.account, CancelFilter::All, now);
    answer(&ids, &BTreeMap::new())
}

/// `DELETE /cancel-market-orders` with `{"market": condition id, "asset_id": token id}` (either
/// may be empty; the asset wins when both are given).
pub fn market(state: &mut State, caller: &Caller, request: &HttpRequest, now: u64) -> Reply {
    let body: Market = match serde_json::from_slice(&request.body) {
        Ok(b) => b,
        Err(e) => return error(400, &format!("Invalid payload: {e}")),
    };
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let filter = match (nonempty(&body.asset_id), nonempty(&body.market)) {
        (Some(token), _) => match state.world.asset_by_token(&token) {
            Some(asset) => CancelFilter::Asset(asset),
            None => return answer(&[], &BTreeMap::new()),
        },
        (None, Some(condition)) => match state.world.market_by_condition(&condition) {
            Some(market) => CancelFilter::Market(market),
            None => return answer(&[], &BTreeMap::new()),
        },
        (None, None) => return error(400, "Invalid payload: market or asset_id required"),
    };
    let ids = state
        .exchange
        .engine
        .cancel_all(&mut state.world, caller.account, filter, now);
    answer(&ids, &BTreeMap::new())
}

fn cancel_ids(state: &mut State, caller: &Caller, ids: &[String], now: u64) -> Reply {
    let mut canceled = Vec::new();
    let mut refused = BTreeMap::new();
    for text in ids {
        let Some(id) = parse_order_id(text) else {
            refused.insert(text.clone(), NOT_FOUND.to_owned());
            continue;
        };
        match state
            .exchange
            .engine
            .cancel(&mut state.world, caller.account, &id, now)
        {
            Ok(()) => canceled.push(id),
            Err(reason) => {
                refused.insert(text.clone(), reason.to_owned());
            }
        }
    }
    answer(&canceled, &refused)
}

fn answer(canceled: &[OrderId], refused: &BTreeMap<String, String>) -> Reply {
    let ids: Vec<String> = canceled.iter().map(ToString::to_string).collect();
    ok(&json!({"canceled": ids, "not_canceled": refused}))
}
