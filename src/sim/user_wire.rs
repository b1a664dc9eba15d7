//! The user channel's wire shapes: order and trade events rendered from the matching engine's
//! snapshots, field for field as in the `ws_user_*` fixtures (protocol §6). Numbers travel as
//! strings, timestamps as millisecond strings, `match_time`/`last_update` as Unix-seconds strings
//! (as the venue sends them and the official SDK parses them; the fixtures' RFC 3339 dates do not
//! parse there), the house's maker entries with the nil-UUID owner and the zero address. An
//! order's `associate_trades` is `null` on a placement without trades and a list otherwise.

use serde::Serialize;

use crate::domain::num::Qty;
use crate::sim::matching::{OrderEventKind, OrderSnapshot, OrderStatus, OrderType, TradeSnapshot};
use crate::sim::trading::reads::{address_text, owner_text};
use crate::sim::world::World;

/// The status text of a FOK order killed without a fill.
const FOK_KILLED: &str =
    "CANCELED_order couldn't be fully filled. FOK orders are fully filled or killed.";

#[derive(Serialize)]
struct OrderEvent<'a> {
    event_type: &'static str,
    asset_id: &'a str,
    associate_trades: Option<&'a [String]>,
    created_at: String,
    expiration: String,
    id: String,
    maker_address: &'a str,
    market: &'a str,
    order_owner: &'a str,
    order_type: &'static str,
    original_size: String,
    outcome: &'static str,
    owner: &'a str,
    price: String,
    side: &'static str,
    size_matched: String,
    status: &'static str,
    timestamp: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct MakerOrder<'a> {
    asset_id: &'a str,
    fee_rate_bps: String,
    maker_address: &'a str,
    matched_amount: String,
    order_id: String,
    outcome: &'static str,
    owner: &'a str,
    price: String,
    side: &'static str,
}

#[derive(Serialize)]
struct TradeEvent<'a> {
    event_type: &'static str,
    asset_id: &'a str,
    bucket_index: u32,
    fee_rate_bps: String,
    id: &'a str,
    last_update: String,
    maker_address: &'a str,
    maker_orders: Vec<MakerOrder<'a>>,
    market: &'a str,
    match_time: String,
    outcome: &'static str,
    owner: &'a str,
    price: String,
    side: &'static str,
    size: String,
    status: &'static str,
    taker_order_id: String,
    timestamp: String,
    trade_owner: &'a str,
    trader_side: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The outcome name of `asset` (`Yes` for a market's first outcome, `No` for the second).
fn outcome(world: &World, asset: usize) -> &'static str {
    match world
        .market_of(asset)
        .assets
        .iter()
        .position(|&a| a == asset)
    {
        Some(0) => "Yes",
        Some(1) => "No",
        _ => "",
    }
}

fn status_text(order: &OrderSnapshot) -> &'static str {
    match order.status {
        OrderStatus::Live => "LIVE",
        OrderStatus::Delayed => "DELAYED",
        OrderStatus::Matched => "MATCHED",
        OrderStatus::Unmatched => "UNMATCHED",
        OrderStatus::Cancelled
            if order.order.order_type == OrderType::Fok && order.size_matched == Qty::ZERO =>
        {
            FOK_KILLED
        }
        OrderStatus::Cancelled => "CANCELED",
    }
}

fn unix_seconds(ms: u64) -> String {
    (ms / 1000).to_string()
}

/// A user-channel `order` event for `order` (`PLACEMENT`, `UPDATE` or `CANCELLATION`).
pub fn order_event(world: &World, order: &OrderSnapshot, kind: OrderEventKind) -> String {
    let o = &order.order;
    let asset = &world.assets[o.asset];
    let expiration = match o.order_type {
        OrderType::Gtd { expiration_s } => expiration_s,
        _ => 0,
    };
    let event = OrderEvent {
        event_type: "order",
        asset_id: &asset.token_id,
        associate_trades: (kind != OrderEventKind::Placement || !order.trade_ids.is_empty())
            .then_some(order.trade_ids.as_slice()),
        created_at: order.created_ms.to_string(),
        expiration: expiration.to_string(),
        id: o.id.to_string(),
        maker_address: &o.maker_address,
        market: &world.markets[asset.market].spec.condition_id,
        order_owner: &o.owner,
        order_type: o.order_type.as_str(),
        original_size: o.size.to_string(),
        outcome: outcome(world, o.asset),
        owner: &o.owner,
        price: o.price.to_string(),
        side: o.side.as_str(),
        size_matched: order.size_matched.to_string(),
        status: status_text(order),
        timestamp: order.updated_ms.to_string(),
        kind: kind.as_str(),
    };
    serde_json::to_string(&event).expect("an order event always serializes")
}

/// A user-channel `trade` event for `trade` as seen by the api key `for_owner` (its taker or
/// one of its makers).
pub fn trade_event(world: &World, trade: &TradeSnapshot, for_owner: &str) -> String {
    let asset = &world.assets[trade.asset];
    let bps = trade.fee_rate_bps.to_string();
    let maker_orders = trade
        .makers
        .iter()
        .map(|m| MakerOrder {
            asset_id: &world.assets[m.asset].token_id,
            fee_rate_bps: bps.clone(),
            maker_address: address_text(&m.maker_address),
            matched_amount: m.qty.to_string(),
            order_id: m.order.to_string(),
            outcome: outcome(world, m.asset),
            owner: owner_text(&m.owner),
            price: m.price.to_string(),
            side: m.side.as_str(),
        })
        .collect();
    let event = TradeEvent {
        event_type: "trade",
        asset_id: &asset.token_id,
        bucket_index: 0,
        fee_rate_bps: bps.clone(),
        id: &trade.id,
        last_update: unix_seconds(trade.updated_ms),
        maker_address: &trade.taker_address,
        maker_orders,
        market: &world.markets[asset.market].spec.condition_id,
        match_time: unix_seconds(trade.match_ms),
        outcome: outcome(world, trade.asset),
        owner: for_owner,
        price: trade.price.to_string(),
        side: trade.side.as_str(),
        size: trade.size.to_string(),
        status: trade.status.as_str(),
        taker_order_id: trade.taker_order.to_string(),
        timestamp: trade.updated_ms.to_string(),
        trade_owner: for_owner,
        trader_side: if for_owner == trade.taker_owner {
            "TAKER"
        } else {
            "MAKER"
        },
        kind: "TRADE",
    };
    serde_json::to_string(&event).expect("a trade event always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::MarketSpec;
    use crate::domain::num::{Px, Side, Usdc};
    use crate::sim::book::TrueBook;
    use crate::sim::matching::{
        AccountId, Engine, EngineConfig, EngineEvent, NewOrder, OrderId, TradeStatus,
    };
    use serde_json::Value;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/ws_user/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Keys in order, and for each the JSON type (null and string count as one: the fixtures
    /// mix them for optional fields).
    fn shape(v: &Value) -> Vec<(String, &'static str)> {
        let kind = |v: &Value| match v {
            Value::Null | Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), kind(v)))
            .collect()
    }

    fn sorted(mut s: Vec<(String, &'static str)>) -> Vec<(String, &'static str)> {
        s.sort();
        s
    }

    fn world() -> World {
        let spec = MarketSpec {
            condition_id: "0xc0".into(),
            token_ids: vec!["101".into(), "102".into()],
            ..MarketSpec::default()
        };
        World::new(
            vec![(spec, vec![(TrueBook::default(), Px(5000)); 2])],
            Vec::new(),
            0,
        )
    }

    fn order(n: u8, account: u32, side: Side, shares: u64) -> NewOrder {
        NewOrder {
            id: OrderId([n; 32]),
            account: AccountId(account),
            owner: format!("key-{account}"),
            maker_address: format!("0x{account:040x}"),
            asset: 0,
            side,
            price: Px(5000),
            size: Qty::from_shares(shares),
            order_type: OrderType::Gtc,
            post_only: false,
        }
    }

    /// A maker rests, a taker crosses it: every event of that exchange.
    fn exchange() -> (World, Vec<EngineEvent>) {
        let mut w = world();
        let mut e = Engine::new(EngineConfig::default());
        for a in [10, 11] {
            e.open_account(AccountId(a), Usdc(1_000_000_000), Qty::from_shares(100), &w);
        }
        e.submit(&mut w, order(1, 10, Side::Sell, 10), 1_000)
            .unwrap();
        e.submit(&mut w, order(2, 11, Side::Buy, 4), 2_000).unwrap();
        let mut events = Vec::new();
        e.drain(&mut events);
        (w, events)
    }

    #[test]
    fn order_events_have_the_fixture_shape() {
        let (w, events) = exchange();
        let orders: Vec<_> = events
            .iter()
            .filter_map(|ev| match ev {
                EngineEvent::Order { kind, order, .. } => Some((*kind, order.clone())),
                _ => None,
            })
            .collect();
        let placement: Value =
            serde_json::from_str(&order_event(&w, &orders[0].1, orders[0].0)).unwrap();
        assert_eq!(shape(&placement), shape(&fixture("ws_user_order_msg.json")));
        assert_eq!(placement["type"], "PLACEMENT");
        assert_eq!(placement["status"], "LIVE");
        assert_eq!(placement["associate_trades"], Value::Null);
        let update: Value =
            serde_json::from_str(&order_event(&w, &orders[1].1, orders[1].0)).unwrap();
        assert_eq!(update["type"], "UPDATE");
        assert_eq!(update["size_matched"], "4");
        assert_eq!(update["original_size"], "10");
        let mut want = shape(&fixture("ws_user_order_msg.json"));
        want.iter_mut()
            .filter(|(k, _)| k == "associate_trades")
            .for_each(|(_, t)| *t = "array");
        assert_eq!(shape(&update), want);
        assert_eq!(update["associate_trades"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            update["id"],
            "0x0101010101010101010101010101010101010101010101010101010101010101"
        );
    }

    #[test]
    fn a_killed_fok_says_why() {
        let w = world();
        let snap = OrderSnapshot {
            order: NewOrder {
                order_type: OrderType::Fok,
                ..order(5, 10, Side::Buy, 12)
            },
            size_matched: Qty::ZERO,
            status: OrderStatus::Cancelled,
            created_ms: 1,
            updated_ms: 2,
            trade_ids: Vec::new(),
        };
        let v: Value =
            serde_json::from_str(&order_event(&w, &snap, OrderEventKind::Cancellation)).unwrap();
        assert_eq!(
            v["status"],
            fixture("ws_user_order_fok_killed.json")["status"]
        );
        assert_eq!(
            sorted(shape(&v)),
            sorted(shape(&fixture("ws_user_order_fok_killed.json")))
        );
    }

    #[test]
    fn trade_events_have_the_fixture_shape_for_taker_and_maker() {
        let (w, events) = exchange();
        let trade = events
            .iter()
            .find_map(|ev| match ev {
                EngineEvent::Trade { trade, .. } => Some(trade.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(trade.status, TradeStatus::Matched);
        let taker: Value = serde_json::from_str(&trade_event(&w, &trade, "key-11")).unwrap();
        let expected = fixture("ws_user_trade_msg.json");
        assert_eq!(shape(&taker), shape(&expected));
        assert_eq!(taker["trader_side"], "TAKER");
        assert_eq!(
            (&taker["price"], &taker["size"]),
            (&"0.5".into(), &"4".into())
        );
        assert_eq!(taker["match_time"], "2");
        let maker: Value = serde_json::from_str(&trade_event(&w, &trade, "key-10")).unwrap();
        assert_eq!(maker["trader_side"], "MAKER");
        let entry = &maker["maker_orders"][0];
        let fixture_entry = &fixture("ws_user_trade.json")["maker_orders"][0];
        let mut want = shape(fixture_entry);
        want.push(("side".into(), "string"));
        assert_eq!(sorted(shape(entry)), sorted(want));
        assert_eq!(
            (&entry["owner"], &entry["side"]),
            (&"key-10".into(), &"SELL".into())
        );
        assert_eq!(entry["matched_amount"], "4");
    }
}
