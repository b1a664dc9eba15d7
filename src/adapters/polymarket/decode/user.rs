//! The user-channel decoder: maps a `/ws/user` frame (one object, an array of them, or `PONG`)
//! to [`UserEvent`]s: one per order message, one per order of ours in a trade message.

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use xxhash_rust::xxh3::xxh3_128;

use super::general::{array, object, opt_str, px, qty, req_str, side, timestamp};
use super::{DecodeError, DecodeOutcome, JsonScratch, is_pong, parse_ts};
use crate::adapters::polymarket::ws_user::{
    OrderEventKind, OrderHash, TradeStatus, UserEvent, UserFill, UserOrder,
};
use crate::domain::intents::Liquidity;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, NumError, Qty, Side};

/// The user channel's message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Order,
    Trade,
}

/// A reusable decoder for the user feed thread: simd-json scratch plus our API key, which tells
/// our maker orders from the other makers of a trade.
pub struct UserDecoder {
    json: JsonScratch,
    api_key: String,
}

impl UserDecoder {
    /// A decoder for the account whose API key is `api_key`.
    pub fn new(api_key: &str) -> UserDecoder {
        UserDecoder {
            json: JsonScratch::new(),
            api_key: api_key.to_owned(),
        }
    }

    /// Appends the events of every message in `frame` to `out`.
    ///
    /// Each message is all or nothing, and a bad message does not hide its neighbours: on error,
    /// `out` still holds the events of every other message of the frame, and the error is the
    /// first failing message's. Messages of unknown type, with an unknown order type or trade
    /// status, and trades holding none of our orders count as `unknown_events`; our orders on
    /// assets outside the registry count as `unknown_assets`.
    pub fn decode(
        &mut self,
        frame: &[u8],
        registry: &Registry,
        out: &mut Vec<UserEvent>,
    ) -> Result<DecodeOutcome, DecodeError> {
        if is_pong(frame) {
            return Ok(DecodeOutcome {
                pong: true,
                ..DecodeOutcome::default()
            });
        }
        let api_key = self.api_key.as_str();
        self.json
            .parse(frame, |root| decode_frame(root, api_key, registry, out))
    }
}

fn decode_frame(
    root: Value<'_, '_>,
    api_key: &str,
    registry: &Registry,
    out: &mut Vec<UserEvent>,
) -> Result<DecodeOutcome, DecodeError> {
    let start = out.len();
    let mut outcome = DecodeOutcome::default();
    let mut first_error = None;
    let mut one = |message: Value<'_, '_>, outcome: &mut DecodeOutcome| {
        let mark = out.len();
        let result = match message.as_object() {
            Some(obj) => decode_message(&obj, api_key, registry, out, outcome),
            None => Err(DecodeError::WrongType {
                field: "message",
                expected: "an object",
            }),
        };
        if let Err(e) = result {
            out.truncate(mark);
            first_error.get_or_insert(e);
        }
    };
    if let Some(messages) = root.as_array() {
        for message in &messages {
            one(message, &mut outcome);
        }
    } else if root.is_object() {
        one(root, &mut outcome);
    } else {
        return Err(DecodeError::WrongType {
            field: "frame",
            expected: "an object or an array of objects",
        });
    }
    outcome.events = (out.len() - start) as u32;
    match first_error {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

fn decode_message(
    obj: &Object<'_, '_>,
    api_key: &str,
    registry: &Registry,
    out: &mut Vec<UserEvent>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    outcome.messages += 1;
    match kind_of(obj)? {
        Some(Kind::Order) => order(obj, registry, out, outcome),
        Some(Kind::Trade) => trade(obj, api_key, registry, out, outcome),
        None => {
            outcome.unknown_events += 1;
            Ok(())
        }
    }
}

/// The message's type from `event_type`, or from its shape when that field is absent (the
/// venue's `type` is `TRADE` for trades and the order event kind for orders).
fn kind_of(obj: &Object<'_, '_>) -> Result<Option<Kind>, DecodeError> {
    if let Some(event_type) = opt_str(obj, "event_type")? {
        return Ok(match event_type {
            "order" => Some(Kind::Order),
            "trade" => Some(Kind::Trade),
            _ => None,
        });
    }
    Ok(match opt_str(obj, "type")? {
        Some(t) if t.eq_ignore_ascii_case("TRADE") => Some(Kind::Trade),
        Some(t) if order_kind(t).is_some() => Some(Kind::Order),
        _ if obj.get("taker_order_id").is_some() => Some(Kind::Trade),
        _ if obj.get("original_size").is_some() => Some(Kind::Order),
        _ => None,
    })
}

fn order_kind(text: &str) -> Option<OrderEventKind> {
    [
        ("PLACEMENT", OrderEventKind::Placement),
        ("UPDATE", OrderEventKind::Update),
        ("CANCELLATION", OrderEventKind::Cancellation),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

fn order(
    obj: &Object<'_, '_>,
    registry: &Registry,
    out: &mut Vec<UserEvent>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    let Some(kind) = order_kind(req_str(obj, "type")?) else {
        outcome.unknown_events += 1;
        return Ok(());
    };
    let order = UserOrder {
        kind,
        order_id: order_hash(obj, "id")?,
        asset: AssetIdx::default(),
        side: side(obj, "side")?,
        px: px(obj, "price")?,
        original_size: qty(obj, "original_size")?,
        size_matched: match opt_str(obj, "size_matched")? {
            None | Some("") => Qty::ZERO,
            Some(_) => qty(obj, "size_matched")?,
        },
        ts_ms: timestamp(obj)?,
    };
    let Some(asset) = registered(obj, registry, outcome)? else {
        return Ok(());
    };
    out.push(UserEvent::Order(UserOrder { asset, ..order }));
    Ok(())
}

/// One fill for our taker order (when we are the trade's taker), then one per maker order of
/// ours, in the message's order.
fn trade(
    obj: &Object<'_, '_>,
    api_key: &str,
    registry: &Registry,
    out: &mut Vec<UserEvent>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    let Some(status) = TradeStatus::parse(req_str(obj, "status")?) else {
        outcome.unknown_events += 1;
        return Ok(());
    };
    let trade_id = xxh3_128(req_str(obj, "id")?.as_bytes());
    let ts_ms = timestamp(obj)?;
    let taker_asset = req_str(obj, "asset_id")?;
    let taker_side = side(obj, "side")?;
    let we_took = match opt_str(obj, "trader_side")? {
        Some(s) => s.eq_ignore_ascii_case("TAKER"),
        None => opt_str(obj, "trade_owner")? == Some(api_key),
    };
    let unknown_before = outcome.unknown_assets;
    let mark = out.len();
    if we_took {
        let fill = UserFill {
            trade_id,
            status,
            order_id: order_hash(obj, "taker_order_id")?,
            asset: AssetIdx::default(),
            side: taker_side,
            px: px(obj, "price")?,
            qty: qty(obj, "size")?,
            fee_rate_bps: fee_rate_bps(obj)?,
            liquidity: Liquidity::Taker,
            ts_ms,
        };
        if let Some(asset) = registered(obj, registry, outcome)? {
            out.push(UserEvent::Fill(UserFill { asset, ..fill }));
        }
    }
    let makers = match obj.get("maker_orders") {
        Some(v) if !v.is_null() => Some(array(v, "maker_orders")?),
        _ => None,
    };
    for entry in makers.iter().flatten() {
        let entry = object(entry, "maker_orders")?;
        if opt_str(&entry, "owner")? != Some(api_key) {
            continue;
        }
        let maker_asset = req_str(&entry, "asset_id")?;
        // A maker on the same token sits on the other side of the taker; one on the
        // complementary token (a mint or a merge) on the same side.
        let maker_side = match opt_str(&entry, "side")? {
            Some(_) => side(&entry, "side")?,
            None if maker_asset == taker_asset => opposite(taker_side),
            None => taker_side,
        };
        let fill = UserFill {
            trade_id,
            status,
            order_id: order_hash(&entry, "order_id")?,
            asset: AssetIdx::default(),
            side: maker_side,
            px: px(&entry, "price")?,
            qty: qty(&entry, "matched_amount")?,
            fee_rate_bps: fee_rate_bps(&entry)?,
            liquidity: Liquidity::Maker,
            ts_ms,
        };
        if let Some(asset) = registered(&entry, registry, outcome)? {
            out.push(UserEvent::Fill(UserFill { asset, ..fill }));
        }
    }
    if out.len() == mark && outcome.unknown_assets == unknown_before {
        outcome.unknown_events += 1;
    }
    Ok(())
}

const fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

/// The object's registered asset, or `None` (counted) for one this run does not trade.
fn registered(
    obj: &Object<'_, '_>,
    registry: &Registry,
    outcome: &mut DecodeOutcome,
) -> Result<Option<AssetIdx>, DecodeError> {
    let asset = registry.asset_by_token(req_str(obj, "asset_id")?.as_bytes());
    if asset.is_none() {
        outcome.unknown_assets += 1;
    }
    Ok(asset)
}

fn order_hash(obj: &Object<'_, '_>, field: &'static str) -> Result<OrderHash, DecodeError> {
    OrderHash::parse(req_str(obj, field)?.as_bytes()).ok_or(DecodeError::WrongType {
        field,
        expected: "an order hash (0x and 64 hex digits)",
    })
}

/// `fee_rate_bps`: whole basis points; absent or empty is 0.
fn fee_rate_bps(obj: &Object<'_, '_>) -> Result<u16, DecodeError> {
    const FIELD: &str = "fee_rate_bps";
    let text = match opt_str(obj, FIELD)? {
        None | Some("") => return Ok(0),
        Some(text) => text,
    };
    parse_ts(text.as_bytes())
        .and_then(|v| u16::try_from(v).map_err(|_| NumError::Overflow))
        .map_err(|source| DecodeError::BadNumber {
            field: FIELD,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_kinds_and_trade_statuses_parse_in_either_case() {
        assert_eq!(order_kind("PLACEMENT"), Some(OrderEventKind::Placement));
        assert_eq!(order_kind("update"), Some(OrderEventKind::Update));
        assert_eq!(
            order_kind("Cancellation"),
            Some(OrderEventKind::Cancellation)
        );
        assert_eq!(order_kind("TRADE"), None);
        assert_eq!(TradeStatus::parse("MATCHED"), Some(TradeStatus::Matched));
        assert_eq!(TradeStatus::parse("mined"), Some(TradeStatus::Mined));
        assert_eq!(
            TradeStatus::parse("CONFIRMED"),
            Some(TradeStatus::Confirmed)
        );
        assert_eq!(TradeStatus::parse("RETRYING"), Some(TradeStatus::Retrying));
        assert_eq!(TradeStatus::parse("FAILED"), Some(TradeStatus::Failed));
        assert_eq!(TradeStatus::parse("SETTLED"), None);
    }

    #[test]
    fn sides_flip() {
        assert_eq!(opposite(Side::Buy), Side::Sell);
        assert_eq!(opposite(Side::Sell), Side::Buy);
    }
}
