//! The venue's public REST market endpoints: books, tick size, neg-risk flag,
//! compact market info with fee details, Gamma's event list, API version and server time. Books
//! are the true books at the moment of the request. Other routes go to the trading endpoints.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::sim::gamma::{self, EventQuery};
use crate::sim::http::{Handler, HttpRequest, Reply};
use crate::sim::hub::Hub;
use crate::sim::{trading, wire};

#[derive(Deserialize)]
struct BookQuery {
    token_id: String,
}

/// The REST server's request handler: market endpoints here, trading endpoints in
/// [`trading`].
pub struct Rest {
    /// Shared state.
    pub hub: Arc<Hub>,
}

impl Handler for Rest {
    fn handle(&self, request: &HttpRequest) -> Reply {
        match route(request, &self.hub) {
            Some((status, body)) => Reply::json(status, body),
            None => trading::handle(&self.hub, request),
        }
    }

    fn stopping(&self) -> bool {
        self.hub.shutting_down()
    }
}

/// Answers the market endpoints; `None` for any other route.
fn route(request: &HttpRequest, hub: &Hub) -> Option<(u16, String)> {
    let token = request.query_param("token_id");
    let token = token.as_deref();
    let path = request.path.as_str();
    Some(match (request.method.as_str(), path) {
        ("GET", "/version") => ok(&json!({"version": 2})),
        ("GET", "/time") => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            (200, secs.to_string())
        }
        ("GET", "/book") => with_asset(hub, token, wire::rest_book),
        ("GET", "/tick-size") => with_asset(
            hub,
            token,
            |w, a| json!({"minimum_tick_size": wire::tick_number(w.market_of(a).spec.tick)}),
        ),
        ("GET", "/neg-risk") => with_asset(
            hub,
            token,
            |w, a| json!({"neg_risk": w.market_of(a).spec.neg_risk}),
        ),
        ("POST", "/books") => books(&request.body, hub),
        ("GET", "/events") => events(hub, request),
        ("GET", p) if p.starts_with("/clob-markets/") => {
            clob_market(hub, &p["/clob-markets/".len()..])
        }
        _ => return None,
    })
}

fn ok(value: &Value) -> (u16, String) {
    (200, value.to_string())
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({ "error": message }).to_string())
}

fn with_asset(
    hub: &Hub,
    token: Option<&str>,
    render: impl FnOnce(&crate::sim::world::World, usize) -> Value,
) -> (u16, String) {
    let Some(token) = token else {
        return error(400, "missing token_id");
    };
    let state = hub.lock();
    match state.world.asset_by_token(token) {
        Some(asset) => ok(&render(&state.world, asset)),
        None => error(
            404,
            &format!("no orderbook exists for the requested token id {token}"),
        ),
    }
}

fn events(hub: &Hub, request: &HttpRequest) -> (u16, String) {
    let number = |key: &str| {
        request
            .query_param(key)
            .map(|v| v.parse::<usize>())
            .transpose()
    };
    let (Ok(limit), Ok(offset)) = (number("limit"), number("offset")) else {
        return error(400, "limit and offset must be whole numbers");
    };
    let query = EventQuery {
        slug: request.query_param("slug"),
        limit,
        offset: offset.unwrap_or(0),
    };
    ok(&gamma::events(&hub.lock().world, &query))
}

fn books(body: &[u8], hub: &Hub) -> (u16, String) {
    let queries: Vec<BookQuery> = match serde_json::from_slice(body) {
        Ok(q) => q,
        Err(e) => return error(400, &format!("invalid body: {e}")),
    };
    let state = hub.lock();
    let mut out = Vec::with_capacity(queries.len());
    for q in &queries {
        match state.world.asset_by_token(&q.token_id) {
            Some(asset) => out.push(wire::rest_book(&state.world, asset)),
            None => {
                return error(
                    404,
                    &format!(
                        "no orderbook exists for the requested token id {}",
                        q.token_id
                    ),
                );
            }
        }
    }
    ok(&Value::Array(out))
}

fn clob_market(hub: &Hub, condition_id: &str) -> (u16, String) {
    let state = hub.lock();
    let Some(market) = state.world.market_by_condition(condition_id) else {
        return error(404, &format!("market {condition_id} not found"));
    };
    let spec = &state.world.markets[market].spec;
    let tokens: Vec<Value> = spec
        .token_ids
        .iter()
        .zip(["Yes", "No"])
        .map(|(t, o)| json!({"t": t, "o": o}))
        .collect();
    let min_size: Value = serde_json::from_str(&spec.min_order_size.to_string())
        .expect("a size's decimal text is a JSON number");
    ok(&json!({
        "c": spec.condition_id,
        "t": tokens,
        "mts": wire::tick_number(spec.tick),
        "mos": min_size,
        "nr": spec.neg_risk,
        "fd": {"r": gamma::fee_rate(&spec.fees), "e": spec.fees.exponent, "to": spec.fees.taker_only},
    }))
}
