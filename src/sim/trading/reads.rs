//! The read endpoints: the paged market list, the caller's orders and trades, one order, and
//! balances with allowances. Pages follow the venue's cursors: base64 of the offset, `MA==` first,
//! `LTE=` (base64 of -1) when there is nothing more.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::adapters::polymarket::signing::Exchange as Contract;
use crate::domain::num::{Qty, Usdc};
use crate::sim::http::{HttpRequest, Reply};
use crate::sim::hub::{Hub, State};
use crate::sim::matching::{AccountId, OrderSnapshot, OrderStatus, OrderType, TradeSnapshot};
use crate::sim::world::World;
use crate::sim::{gamma, wire};

use super::gate::Caller;
use super::orders::{parse_order_id, transaction_hash};
use super::{error, hex0x, ok};

/// The cursor that says there are no more pages.
pub const END_CURSOR: &str = "LTE=";
/// Entries per page of orders and trades.
const PAGE: usize = 500;
/// Markets per page of `/markets`.
const MARKETS_PAGE: usize = 100;
/// The allowance the faucet sets: the maximum uint256.
const MAX_ALLOWANCE: &str =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";
/// The neg-risk adapter, the third contract the real venue reports allowances for.
const NEG_RISK_ADAPTER: &str = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296";
/// The owner the venue names for the house's (the simulated crowd's) orders: the nil UUID.
pub(crate) const HOUSE_OWNER: &str = "00000000-0000-0000-0000-000000000000";
/// The maker address the venue names for the house's orders: the zero address.
pub(crate) const HOUSE_ADDRESS: &str = "0x0000000000000000000000000000000000000000";

/// The offset a cursor stands for; `None` for a malformed cursor.
pub fn cursor_offset(cursor: Option<&str>) -> Option<usize> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Some(0);
    };
    let text = String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?;
    text.parse().ok()
}

/// One page of `items` from the request's cursor: `{data, next_cursor, limit, count}`.
fn page(items: Vec<Value>, request: &HttpRequest, size: usize) -> Reply {
    let Some(offset) = cursor_offset(request.query_param("next_cursor").as_deref()) else {
        return error(400, "invalid next_cursor");
    };
    if offset > items.len() {
        return error(400, "invalid next_cursor");
    }
    let end = (offset + size).min(items.len());
    let next = if end < items.len() {
        STANDARD.encode(end.to_string())
    } else {
        END_CURSOR.to_owned()
    };
    let data = items[offset..end].to_vec();
    ok(&json!({"data": data, "next_cursor": next, "limit": size, "count": data.len()}))
}

/// `GET /markets`: every listed market in the shape the clients' `get_markets` reads.
pub fn markets(hub: &Hub, request: &HttpRequest) -> Reply {
    let state = hub.lock();
    let world = &state.world;
    let items = world
        .markets
        .iter()
        .map(|m| {
            let spec = &m.spec;
            let event = m.event.map(|e| &world.events[e]);
            let tokens: Vec<Value> = m
                .assets
                .iter()
                .zip(["Yes", "No"])
                .map(|(&a, outcome)| {
                    json!({
                        "token_id": world.assets[a].token_id,
                        "outcome": outcome,
                        "price": number(&world.assets[a].last_trade.to_string()),
                        "winner": false,
                    })
                })
                .collect();
            json!({
                "enable_order_book": true,
                "active": !spec.closed,
                "closed": spec.closed,
                "archived": false,
                "accepting_orders": spec.accepting_orders,
                "accepting_order_timestamp": null,
                "minimum_order_size": number(&spec.min_order_size.to_string()),
                "minimum_tick_size": wire::tick_number(spec.tick),
                "condition_id": spec.condition_id,
                "question_id": "",
                "question": format!("Simulated market {}", spec.condition_id),
                "description": "A market listed by pmbot's embedded venue.",
                "market_slug": format!("sim-{}", &spec.condition_id[2..10.min(spec.condition_id.len())]),
                "end_date_iso": null,
                "game_start_time": null,
                "seconds_delay": spec.seconds_delay,
                "fpmm": "",
                "maker_base_fee": 0,
                "taker_base_fee": gamma::fee_rate(&spec.fees),
                "notifications_enabled": false,
                "neg_risk": spec.neg_risk,
                "neg_risk_market_id": event.map_or("", |e| e.neg_risk_market_id.as_str()),
                "neg_risk_request_id": "",
                "icon": "",
                "image": "",
                "rewards": {"rates": [], "min_size": 0, "max_spread": 0},
                "is_50_50_outcome": false,
                "tokens": tokens,
                "tags": [],
            })
        })
        .collect();
    page(items, request, MARKETS_PAGE)
}

/// A decimal's text as a JSON number.
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn outcome(world: &World, asset: usize) -> &'static str {
    let market = world.market_of(asset);
    if market.assets.first() == Some(&asset) {
        "Yes"
    } else {
        "No"
    }
}

fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Live => "LIVE",
        OrderStatus::Delayed => "DELAYED",
        OrderStatus::Matched => "MATCHED",
        OrderStatus::Unmatched => "UNMATCHED",
        OrderStatus::Cancelled => "CANCELED",
    }
}

/// An order as `GET /data/order(s)` report it.
fn order_json(world: &World, o: &OrderSnapshot) -> Value {
    let n = &o.order;
    let expiration = match n.order_type {
        OrderType::Gtd { expiration_s } => expiration_s,
        _ => 0,
    };
    json!({
        "id": n.id.to_string(),
        "status": status_name(o.status),
        "owner": n.owner,
        "maker_address": n.maker_address,
        "market": world.market_of(n.asset).spec.condition_id,
        "asset_id": world.assets[n.asset].token_id,
        "side": n.side.as_str(),
        "original_size": n.size.to_string(),
        "size_matched": o.size_matched.to_string(),
        "price": n.price.to_string(),
        "associate_trades": o.trade_ids,
        "outcome": outcome(world, n.asset),
        "created_at": o.created_ms / 1000,
        "expiration": expiration.to_string(),
        "order_type": n.order_type.as_str(),
    })
}

/// `GET /data/orders`: the caller's open orders, filtered by `id`, `market`, `asset_id`.
pub fn orders(state: &State, caller: &Caller, request: &HttpRequest) -> Reply {
    let world = &state.world;
    let filter = ListFilter::of(request);
    let items = state
        .exchange
        .engine
        .open_orders(caller.account)
        .filter(|o| filter.admits(world, &o.order.id.to_string(), o.order.asset))
        .map(|o| order_json(world, o))
        .collect();
    page(items, request, PAGE)
}

/// The `id`, `market` and `asset_id` query filters of the list endpoints.
struct ListFilter {
    id: Option<String>,
    market: Option<String>,
    asset: Option<String>,
}

impl ListFilter {
    fn of(request: &HttpRequest) -> ListFilter {
        ListFilter {
            id: request.query_param("id"),
            market: request.query_param("market"),
            asset: request.query_param("asset_id"),
        }
    }

    /// Whether an item with this id, on this asset, passes every filter given.
    fn admits(&self, world: &World, id: &str, asset: usize) -> bool {
        self.id.as_ref().is_none_or(|i| i == id)
            && self
                .market
                .as_ref()
                .is_none_or(|m| *m == world.market_of(asset).spec.condition_id)
            && self
                .asset
                .as_ref()
                .is_none_or(|a| *a == world.assets[asset].token_id)
    }
}

/// The `after` and `before` filters of `/data/trades`: trades matched strictly later than
/// `after` and strictly earlier than `before`, Unix seconds.
#[derive(Debug, Default, PartialEq, Eq)]
struct MatchWindow {
    after: Option<u64>,
    before: Option<u64>,
}

impl MatchWindow {
    /// The window the request asks for; `None` if a bound is not a number of seconds.
    fn of(request: &HttpRequest) -> Option<MatchWindow> {
        let bound = |key| match request.query_param(key) {
            None => Some(None),
            Some(v) => v.parse::<u64>().ok().map(Some),
        };
        Some(MatchWindow {
            after: bound("after")?,
            before: bound("before")?,
        })
    }

    fn admits(&self, match_s: u64) -> bool {
        self.after.is_none_or(|a| match_s > a) && self.before.is_none_or(|b| match_s < b)
    }
}

/// `GET /data/order/{id}`: one of the caller's orders, open or finished; `null` if unknown.
pub fn order(state: &State, caller: &Caller, id: &str) -> Reply {
    let found = parse_order_id(id)
        .and_then(|id| state.exchange.engine.order(&id))
        .filter(|o| o.order.account == caller.account);
    match found {
        Some(o) => ok(&order_json(&state.world, o)),
        None => ok(&Value::Null),
    }
}

/// `owner`, or the house's when empty.
pub(crate) fn owner_text(owner: &str) -> &str {
    if owner.is_empty() { HOUSE_OWNER } else { owner }
}

/// `address`, or the house's when empty.
pub(crate) fn address_text(address: &str) -> &str {
    if address.is_empty() {
        HOUSE_ADDRESS
    } else {
        address
    }
}

/// A trade as `GET /data/trades` reports it to `account`.
fn trade_json(world: &World, t: &TradeSnapshot, account: AccountId) -> Value {
    let taker = t.taker == account;
    let makers: Vec<Value> = t
        .makers
        .iter()
        .map(|m| {
            json!({
                "order_id": m.order.to_string(),
                "owner": owner_text(&m.owner),
                "maker_address": address_text(&m.maker_address),
                "matched_amount": m.qty.to_string(),
                "price": m.price.to_string(),
                "fee_rate_bps": t.fee_rate_bps.to_string(),
                "asset_id": world.assets[m.asset].token_id,
                "outcome": outcome(world, m.asset),
                "side": m.side.as_str(),
            })
        })
        .collect();
    let (owner, address) = if taker {
        (t.taker_owner.as_str(), t.taker_address.as_str())
    } else {
        t.makers
            .iter()
            .find(|m| m.account == account)
            .map_or(("", ""), |m| (m.owner.as_str(), m.maker_address.as_str()))
    };
    json!({
        "id": t.id,
        "taker_order_id": t.taker_order.to_string(),
        "market": world.market_of(t.asset).spec.condition_id,
        "asset_id": world.assets[t.asset].token_id,
        "side": t.side.as_str(),
        "size": t.size.to_string(),
        "fee_rate_bps": t.fee_rate_bps.to_string(),
        "price": t.price.to_string(),
        "status": t.status.as_str(),
        "match_time": (t.match_ms / 1000).to_string(),
        "last_update": (t.updated_ms / 1000).to_string(),
        "outcome": outcome(world, t.asset),
        "bucket_index": 0,
        "owner": owner_text(owner),
        "maker_address": address_text(address),
        "maker_orders": makers,
        "transaction_hash": transaction_hash(&t.id),
        "trader_side": if taker { "TAKER" } else { "MAKER" },
    })
}

/// `GET /data/trades`: the caller's trades, filtered by `id`, `market`, `asset_id`, and by
/// match time with `after` and `before`.
pub fn trades(state: &State, caller: &Caller, request: &HttpRequest) -> Reply {
    let world = &state.world;
    let filter = ListFilter::of(request);
    let Some(window) = MatchWindow::of(request) else {
        return error(400, "invalid before/after: Unix seconds expected");
    };
    let items = state
        .exchange
        .engine
        .trades(caller.account)
        .filter(|t| filter.admits(world, &t.id, t.asset) && window.admits(t.match_ms / 1000))
        .map(|t| trade_json(world, t, caller.account))
        .collect();
    page(items, request, PAGE)
}

/// `GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL&token_id=`: the balance in 1e-6
/// units, allowances set to the maximum for the exchanges (the faucet sets them).
pub fn balance_allowance(state: &State, caller: &Caller, request: &HttpRequest) -> Reply {
    let engine = &state.exchange.engine;
    let balance = match request.query_param("asset_type").as_deref() {
        Some("COLLATERAL") | None => engine.balance(caller.account).0.to_string(),
        Some("CONDITIONAL") => {
            let token = request.query_param("token_id").unwrap_or_default();
            match state.world.asset_by_token(&token) {
                Some(asset) => engine.shares(caller.account, asset).0.to_string(),
                None => return error(400, "Invalid token id"),
            }
        }
        Some(_) => return error(400, "invalid asset_type"),
    };
    let contract = |c: Contract| hex0x(&c.verifying_contract());
    ok(&json!({
        "balance": balance,
        "allowances": {
            contract(Contract::Standard): MAX_ALLOWANCE,
            contract(Contract::NegRisk): MAX_ALLOWANCE,
            NEG_RISK_ADAPTER: MAX_ALLOWANCE,
        },
    }))
}

/// What the demo checks positions against: an account's pUSD and its shares per token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerView {
    /// pUSD balance (reserved amounts included).
    pub usdc: Usdc,
    /// Shares per token id, every listed asset.
    pub shares: Vec<(String, Qty)>,
    /// Orders resting or held by the matching delay.
    pub open_orders: usize,
}

/// The ledger of `account`.
pub fn ledger(state: &State, account: AccountId) -> LedgerView {
    let engine = &state.exchange.engine;
    LedgerView {
        usdc: engine.balance(account),
        shares: state
            .world
            .assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.token_id.clone(), engine.shares(account, i)))
            .collect(),
        open_orders: engine.open_orders(account).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trades_are_windowed_by_match_time() {
        let request = |query: &str| HttpRequest {
            query: query.into(),
            ..HttpRequest::default()
        };
        let all = MatchWindow::of(&request("next_cursor=MA%3D%3D")).unwrap();
        assert_eq!(all, MatchWindow::default());
        assert!(all.admits(0) && all.admits(u64::MAX));
        let window = MatchWindow::of(&request("after=100&before=200")).unwrap();
        assert!(!window.admits(100), "after is exclusive");
        assert!(window.admits(101) && window.admits(199));
        assert!(!window.admits(200), "before is exclusive");
        assert_eq!(MatchWindow::of(&request("after=yesterday")), None);
    }

    #[test]
    fn cursors_are_base64_offsets() {
        assert_eq!(cursor_offset(None), Some(0));
        assert_eq!(cursor_offset(Some("MA==")), Some(0));
        assert_eq!(cursor_offset(Some("NTAw")), Some(500));
        assert_eq!(cursor_offset(Some("!!")), None);
        assert_eq!(STANDARD.encode("-1"), END_CURSOR);
    }

    #[test]
    fn pages_walk_to_the_end_cursor() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let mut cursor = "MA==".to_owned();
        let mut seen = Vec::new();
        while cursor != END_CURSOR {
            let request = HttpRequest {
                query: format!("next_cursor={}", cursor.replace('=', "%3D")),
                ..HttpRequest::default()
            };
            let Reply::Json { status: 200, body } = page(items.clone(), &request, 2) else {
                panic!("page refused");
            };
            let v: Value = serde_json::from_str(&body).unwrap();
            seen.extend(v["data"].as_array().unwrap().iter().cloned());
            assert_eq!(v["limit"], 2);
            cursor = v["next_cursor"].as_str().unwrap().to_owned();
        }
        assert_eq!(seen, items);
        let bad = HttpRequest {
            query: "next_cursor=OTk5".into(),
            ..HttpRequest::default()
        };
        assert!(matches!(
            page(items, &bad, 2),
            Reply::Json { status: 400, .. }
        ));
    }
}
