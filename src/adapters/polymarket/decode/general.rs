//! The general decoding path: maps a simd-json tape of any market-channel frame to events.

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

use super::{DecodeError, DecodeOutcome, parse_ts};
use crate::domain::events::{Event, EventBody};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, Px, Qty, Side};

/// Message types of the market channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Book,
    PriceChange,
    TickSize,
    LastTrade,
    BestBidAsk,
    Resolved,
    NewMarket,
}

/// Decodes every message of a parsed frame into `out`, which had length `start` before the frame.
/// On error, `out` is cut back to where the failing message began.
pub(super) fn decode_frame(
    frame: Value<'_, '_>,
    registry: &Registry,
    out: &mut Vec<Event>,
    start: usize,
) -> Result<DecodeOutcome, DecodeError> {
    let mut outcome = DecodeOutcome::default();
    if let Some(messages) = frame.as_array() {
        for message in &messages {
            decode_one(message, registry, out, &mut outcome)?;
        }
    } else if frame.is_object() {
        decode_one(frame, registry, out, &mut outcome)?;
    } else {
        return Err(DecodeError::WrongType {
            field: "frame",
            expected: "an object or an array of objects",
        });
    }
    outcome.events = (out.len() - start) as u32;
    Ok(outcome)
}

/// Decodes one message, all or nothing.
fn decode_one(
    message: Value<'_, '_>,
    registry: &Registry,
    out: &mut Vec<Event>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    let mark = out.len();
    let result = match message.as_object() {
        Some(obj) => decode_message(&obj, registry, out, outcome),
        None => Err(DecodeError::WrongType {
            field: "message",
            expected: "an object",
        }),
    };
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

fn decode_message(
    obj: &Object<'_, '_>,
    registry: &Registry,
    out: &mut Vec<Event>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    outcome.messages += 1;
    let Some(kind) = kind_of(obj)? else {
        outcome.unknown_events += 1;
        return Ok(());
    };
    let ts = timestamp(obj)?;
    let mark = out.len();
    match kind {
        Kind::PriceChange => price_change(obj, registry, ts, out, outcome)?,
        Kind::Resolved => resolved(obj, registry, ts, out, outcome)?,
        Kind::NewMarket => out.push(Event::new(ts, EventBody::NewMarket)),
        Kind::Book => {
            if let Some(asset) = registered(obj, registry, outcome)? {
                book(obj, asset, ts, out)?;
            }
        }
        Kind::TickSize => {
            if let Some(asset) = registered(obj, registry, outcome)? {
                let tick = px(obj, "new_tick_size")?;
                out.push(Event::new(ts, EventBody::TickSize { asset, tick }));
            }
        }
        Kind::LastTrade => {
            if let Some(asset) = registered(obj, registry, outcome)? {
                let body = EventBody::LastTrade {
                    asset,
                    side: side(obj, "side")?,
                    px: px(obj, "price")?,
                    qty: qty(obj, "size")?,
                };
                out.push(Event::new(ts, body));
            }
        }
        Kind::BestBidAsk => {
            if let Some(asset) = registered(obj, registry, outcome)? {
                let body = EventBody::BestBidAsk {
                    asset,
                    bid: opt_px(obj, "best_bid")?,
                    ask: opt_px(obj, "best_ask")?,
                };
                out.push(Event::new(ts, body));
            }
        }
    }
    if out.len() > mark {
        out.push(Event::new(ts, EventBody::MessageEnd));
    }
    Ok(())
}

/// The message's type from `event_type`, or from its shape when that field is absent; `None`
/// for an event type this decoder does not know.
fn kind_of(obj: &Object<'_, '_>) -> Result<Option<Kind>, DecodeError> {
    if let Some(event_type) = opt_str(obj, "event_type")? {
        return Ok(match event_type {
            "book" => Some(Kind::Book),
            "price_change" => Some(Kind::PriceChange),
            "tick_size_change" => Some(Kind::TickSize),
            "last_trade_price" => Some(Kind::LastTrade),
            "best_bid_ask" => Some(Kind::BestBidAsk),
            "market_resolved" => Some(Kind::Resolved),
            "new_market" => Some(Kind::NewMarket),
            _ => None,
        });
    }
    let has = |key: &str| obj.get(key).is_some();
    Ok(if has("price_changes") {
        Some(Kind::PriceChange)
    } else if has("bids") || has("asks") || has("buys") || has("sells") {
        Some(Kind::Book)
    } else if has("new_tick_size") {
        Some(Kind::TickSize)
    } else if has("winning_asset_id") {
        Some(Kind::Resolved)
    } else if has("price") && has("side") && has("size") {
        Some(Kind::LastTrade)
    } else if has("best_bid") || has("best_ask") {
        Some(Kind::BestBidAsk)
    } else {
        None
    })
}

/// The message's registered asset, or `None` (counted) for one this run does not trade.
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

/// A full snapshot: `BookSnapshot`, then every bid, then every ask.
fn book(
    obj: &Object<'_, '_>,
    asset: AssetIdx,
    ts: u64,
    out: &mut Vec<Event>,
) -> Result<(), DecodeError> {
    let bids = book_side(obj, "bids", "buys")?;
    let asks = book_side(obj, "asks", "sells")?;
    out.push(Event::new(ts, EventBody::BookSnapshot { asset }));
    levels(bids, asset, Side::Buy, ts, out)?;
    levels(asks, asset, Side::Sell, ts, out)
}

/// One side of a book: the current key, or the older one.
fn book_side<'t, 'i>(
    obj: &Object<'t, 'i>,
    key: &'static str,
    older: &'static str,
) -> Result<Value<'t, 'i>, DecodeError> {
    obj.get(key)
        .or_else(|| obj.get(older))
        .ok_or(DecodeError::MissingField { field: key })
}

fn levels(
    rows: Value<'_, '_>,
    asset: AssetIdx,
    side: Side,
    ts: u64,
    out: &mut Vec<Event>,
) -> Result<(), DecodeError> {
    let field = match side {
        Side::Buy => "bids",
        Side::Sell => "asks",
    };
    for row in &array(rows, field)? {
        let row = object(row, field)?;
        out.push(Event::new(
            ts,
            EventBody::Level {
                asset,
                side,
                px: px(&row, "price")?,
                qty: qty(&row, "size")?,
            },
        ));
    }
    Ok(())
}

fn price_change(
    obj: &Object<'_, '_>,
    registry: &Registry,
    ts: u64,
    out: &mut Vec<Event>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    for entry in &req_array(obj, "price_changes")? {
        let entry = object(entry, "price_changes")?;
        let Some(asset) = registered(&entry, registry, outcome)? else {
            continue;
        };
        let level = EventBody::Level {
            asset,
            side: side(&entry, "side")?,
            px: px(&entry, "price")?,
            qty: qty(&entry, "size")?,
        };
        let check = EventBody::BestCheck {
            asset,
            bid: opt_px(&entry, "best_bid")?,
            ask: opt_px(&entry, "best_ask")?,
        };
        out.push(Event::new(ts, level));
        out.push(Event::new(ts, check));
    }
    Ok(())
}

fn resolved(
    obj: &Object<'_, '_>,
    registry: &Registry,
    ts: u64,
    out: &mut Vec<Event>,
    outcome: &mut DecodeOutcome,
) -> Result<(), DecodeError> {
    let winner = req_str(obj, "winning_asset_id")?;
    let mark = out.len();
    for id in &req_array(obj, "assets_ids")? {
        let id = id.as_str().ok_or(DecodeError::WrongType {
            field: "assets_ids",
            expected: "an array of strings",
        })?;
        if let Some(asset) = registry.asset_by_token(id.as_bytes()) {
            let won = id == winner;
            out.push(Event::new(ts, EventBody::Resolved { asset, won }));
        }
    }
    if out.len() == mark {
        outcome.unknown_assets += 1;
    }
    Ok(())
}

pub(super) fn array<'t, 'i>(
    v: Value<'t, 'i>,
    field: &'static str,
) -> Result<simd_json::tape::Array<'t, 'i>, DecodeError> {
    v.as_array().ok_or(DecodeError::WrongType {
        field,
        expected: "an array",
    })
}

/// A field that must be present and an array.
pub(super) fn req_array<'t, 'i>(
    obj: &Object<'t, 'i>,
    field: &'static str,
) -> Result<simd_json::tape::Array<'t, 'i>, DecodeError> {
    array(
        obj.get(field).ok_or(DecodeError::MissingField { field })?,
        field,
    )
}

pub(super) fn object<'t, 'i>(
    v: Value<'t, 'i>,
    field: &'static str,
) -> Result<Object<'t, 'i>, DecodeError> {
    v.as_object().ok_or(DecodeError::WrongType {
        field,
        expected: "an object",
    })
}

/// A string field that may be absent (`None`); present with another type is an error.
pub(super) fn opt_str<'i>(
    obj: &Object<'_, 'i>,
    field: &'static str,
) -> Result<Option<&'i str>, DecodeError> {
    match obj.get(field) {
        None => Ok(None),
        Some(v) => v.into_string().map(Some).ok_or(DecodeError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

pub(super) fn req_str<'i>(
    obj: &Object<'_, 'i>,
    field: &'static str,
) -> Result<&'i str, DecodeError> {
    opt_str(obj, field)?.ok_or(DecodeError::MissingField { field })
}

pub(super) fn px(obj: &Object<'_, '_>, field: &'static str) -> Result<Px, DecodeError> {
    Px::parse(req_str(obj, field)?.as_bytes())
        .map_err(|source| DecodeError::BadNumber { field, source })
}

pub(super) fn qty(obj: &Object<'_, '_>, field: &'static str) -> Result<Qty, DecodeError> {
    Qty::parse(req_str(obj, field)?.as_bytes())
        .map_err(|source| DecodeError::BadNumber { field, source })
}

pub(super) fn side(obj: &Object<'_, '_>, field: &'static str) -> Result<Side, DecodeError> {
    Side::parse(req_str(obj, field)?.as_bytes()).ok_or(DecodeError::BadSide { field })
}

/// The message's `timestamp` (Unix milliseconds), 0 when absent.
pub(super) fn timestamp(obj: &Object<'_, '_>) -> Result<u64, DecodeError> {
    match opt_str(obj, "timestamp")? {
        Some(s) => parse_ts(s.as_bytes()).map_err(|source| DecodeError::BadNumber {
            field: "timestamp",
            source,
        }),
        None => Ok(0),
    }
}

/// A best price: absent, `null` or empty means the venue has none.
fn opt_px(obj: &Object<'_, '_>, field: &'static str) -> Result<Option<Px>, DecodeError> {
    match obj.get(field) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(_) => match req_str(obj, field)? {
            "" => Ok(None),
            s => Px::parse(s.as_bytes())
                .map(Some)
                .map_err(|source| DecodeError::BadNumber { field, source }),
        },
    }
}
