//! The venue's public REST market endpoints (tiny_http): books, tick size, neg-risk flag,
//! compact market info with fee details, Gamma's event list, API version and server time. Books
//! are the true books at the moment of the request.

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::sim::gamma::{self, EventQuery};
use crate::sim::hub::Hub;
use crate::sim::wire;

/// Largest request body read (a `POST /books` for every asset fits easily).
const MAX_BODY: u64 = 1 << 20;

#[derive(Deserialize)]
struct BookQuery {
    token_id: String,
}

/// Serves requests until the server is unblocked.
pub fn serve(server: &Server, hub: &Arc<Hub>) {
    for mut request in server.incoming_requests() {
        let (status, body) = route(&mut request, hub);
        let header = Header::from_bytes("Content-Type", "application/json")
            .expect("a static header is valid");
        let response = Response::from_string(body)
            .with_status_code(status)
            .with_header(header);
        let _ = request.respond(response);
    }
}

fn route(request: &mut Request, hub: &Hub) -> (u16, String) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let token = query_param(query, "token_id");
    match (request.method(), path) {
        (Method::Get, "/version") => ok(&json!({"version": 2})),
        (Method::Get, "/time") => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            (200, secs.to_string())
        }
        (Method::Get, "/book") => with_asset(hub, token, wire::rest_book),
        (Method::Get, "/tick-size") => with_asset(
            hub,
            token,
            |w, a| json!({"minimum_tick_size": wire::tick_number(w.market_of(a).spec.tick)}),
        ),
        (Method::Get, "/neg-risk") => with_asset(
            hub,
            token,
            |w, a| json!({"neg_risk": w.market_of(a).spec.neg_risk}),
        ),
        (Method::Post, "/books") => books(request, hub),
        (Method::Get, "/events") => events(hub, query),
        (Method::Get, p) if p.starts_with("/clob-markets/") => {
            clob_market(hub, &p["/clob-markets/".len()..])
        }
        _ => error(404, &format!("no route {} {path}", request.method())),
    }
}

fn ok(value: &Value) -> (u16, String) {
    (200, value.to_string())
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({ "error": message }).to_string())
}

/// The value of `key` in a query string (token ids are plain digits; no decoding needed).
fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
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

fn events(hub: &Hub, query: &str) -> (u16, String) {
    let number = |key: &str| query_param(query, key).map(str::parse::<usize>).transpose();
    let (Ok(limit), Ok(offset)) = (number("limit"), number("offset")) else {
        return error(400, "limit and offset must be whole numbers");
    };
    let query = EventQuery {
        slug: query_param(query, "slug").map(str::to_owned),
        limit,
        offset: offset.unwrap_or(0),
    };
    ok(&gamma::events(&hub.lock().world, &query))
}

fn books(request: &mut Request, hub: &Hub) -> (u16, String) {
    let mut body = String::new();
    if request
        .as_reader()
        .take(MAX_BODY)
        .read_to_string(&mut body)
        .is_err()
    {
        return error(400, "unreadable body");
    }
    let queries: Vec<BookQuery> = match serde_json::from_str(&body) {
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
