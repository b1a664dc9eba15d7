//! The venue's wire shapes: market-channel messages and REST book objects, rendered from the
//! true books. Numbers travel as strings (`"0.48"`, `"120.5"`), timestamps as millisecond strings.
//!
//! Book levels are listed best first (bids descending, asks ascending), as in the
//! `ws_market_book_msg.json` fixture. A `price_change` entry's `best_bid`/`best_ask` are the
//! asset's best prices after that entry is applied, `"0"` when the bid side is empty and `"1"`
//! when the ask side is empty (the prices a buyer or seller would face with no liquidity). The
//! `hash` of a book or entry is the hex canonical digest of the asset's book after it, so a
//! mismatch is easy to trace.

use serde::Serialize;

use crate::domain::num::{Px, Qty, Side};
use crate::sim::book::TrueBook;
use crate::sim::world::World;

/// One message ready to publish, and who should receive it.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The JSON text.
    pub text: String,
    /// Assets it concerns; empty means every subscribed connection.
    pub assets: Vec<usize>,
    /// Whether only `custom_feature_enabled` subscribers get it.
    pub custom_only: bool,
}

/// One book level.
#[derive(Serialize)]
pub struct Level {
    price: String,
    size: String,
}

#[derive(Serialize)]
struct BookBody<'a> {
    market: &'a str,
    asset_id: &'a str,
    timestamp: String,
    hash: String,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

#[derive(Serialize)]
struct WsBook<'a> {
    event_type: &'static str,
    #[serde(flatten)]
    body: BookBody<'a>,
}

#[derive(Serialize)]
struct RestBook<'a> {
    #[serde(flatten)]
    body: BookBody<'a>,
    min_order_size: String,
    tick_size: String,
    neg_risk: bool,
    last_trade_price: String,
}

/// One change inside a `price_change`, with the asset's best prices after it.
#[derive(Serialize)]
pub struct ChangeEntry<'a> {
    asset_id: &'a str,
    price: String,
    size: String,
    side: &'static str,
    hash: String,
    best_bid: String,
    best_ask: String,
}

impl<'a> ChangeEntry<'a> {
    /// Describes the level at `px` on `side` as the asset's book holds it after a change: its
    /// whole size, house and client orders together, which is what the market feed publishes.
    pub fn new(token_id: &'a str, side: Side, px: Px, after: &TrueBook) -> Self {
        ChangeEntry {
            asset_id: token_id,
            price: px.to_string(),
            size: after.level(side, px).unwrap_or(Qty::ZERO).to_string(),
            side: side.as_str(),
            hash: hash(after),
            best_bid: after.best_bid().unwrap_or(Px::ZERO).to_string(),
            best_ask: after.best_ask().unwrap_or(Px::ONE).to_string(),
        }
    }
}

#[derive(Serialize)]
struct PriceChange<'a> {
    event_type: &'static str,
    market: &'a str,
    price_changes: Vec<ChangeEntry<'a>>,
    timestamp: String,
}

#[derive(Serialize)]
struct AssetEvent<'a, T: Serialize> {
    event_type: &'static str,
    market: &'a str,
    asset_id: &'a str,
    #[serde(flatten)]
    fields: T,
    timestamp: String,
}

#[derive(Serialize)]
struct LastTrade {
    price: String,
    size: String,
    side: &'static str,
    fee_rate_bps: &'static str,
}

#[derive(Serialize)]
struct BestBidAsk {
    best_bid: String,
    best_ask: String,
    spread: String,
}

#[derive(Serialize)]
struct TickSizeChange {
    old_tick_size: String,
    new_tick_size: String,
}

fn hash(book: &TrueBook) -> String {
    format!("{:016x}", book.digest())
}

fn levels(iter: impl Iterator<Item = (Px, Qty)>) -> Vec<Level> {
    iter.map(|(p, q)| Level {
        price: p.to_string(),
        size: q.to_string(),
    })
    .collect()
}

fn body(world: &World, asset: usize) -> BookBody<'_> {
    let a = &world.assets[asset];
    BookBody {
        market: &world.market_of(asset).spec.condition_id,
        asset_id: &a.token_id,
        timestamp: world.now().to_string(),
        hash: hash(&a.book),
        bids: levels(a.book.bids_best_first()),
        asks: levels(a.book.asks_best_first()),
    }
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("wire structs serialise infallibly")
}

/// The market-channel `book` message for `asset`, stamped with the world's current time.
pub fn ws_book(world: &World, asset: usize) -> String {
    to_json(&WsBook {
        event_type: "book",
        body: body(world, asset),
    })
}

/// A JSON array of `book` messages (the shape of an initial dump).
pub fn ws_books(world: &World, assets: &[usize]) -> String {
    let books: Vec<WsBook<'_>> = assets
        .iter()
        .map(|&a| WsBook {
            event_type: "book",
            body: body(world, a),
        })
        .collect();
    to_json(&books)
}

/// The REST book object (`GET /book`, elements of `POST /books`).
pub fn rest_book(world: &World, asset: usize) -> serde_json::Value {
    let spec = &world.market_of(asset).spec;
    serde_json::to_value(RestBook {
        body: body(world, asset),
        min_order_size: spec.min_order_size.to_string(),
        tick_size: spec.tick.to_string(),
        neg_risk: spec.neg_risk,
        last_trade_price: world.assets[asset].last_trade.to_string(),
    })
    .expect("wire structs serialise infallibly")
}

/// A `price_change` for one market.
pub fn price_change(market: &str, entries: Vec<ChangeEntry<'_>>, timestamp: u64) -> String {
    to_json(&PriceChange {
        event_type: "price_change",
        market,
        price_changes: entries,
        timestamp: timestamp.to_string(),
    })
}

fn asset_event(
    world: &World,
    asset: usize,
    event_type: &'static str,
    fields: impl Serialize,
    ts: u64,
) -> String {
    to_json(&AssetEvent {
        event_type,
        market: &world.market_of(asset).spec.condition_id,
        asset_id: &world.assets[asset].token_id,
        fields,
        timestamp: ts.to_string(),
    })
}

/// A `last_trade_price` print.
pub fn last_trade(world: &World, asset: usize, side: Side, px: Px, qty: Qty, ts: u64) -> String {
    let fields = LastTrade {
        price: px.to_string(),
        size: qty.to_string(),
        side: side.as_str(),
        fee_rate_bps: "0",
    };
    asset_event(world, asset, "last_trade_price", fields, ts)
}

/// A `best_bid_ask` from the asset's current book.
pub fn best_bid_ask(world: &World, asset: usize, ts: u64) -> String {
    let book = &world.assets[asset].book;
    let bid = book.best_bid().unwrap_or(Px::ZERO);
    let ask = book.best_ask().unwrap_or(Px::ONE);
    let fields = BestBidAsk {
        best_bid: bid.to_string(),
        best_ask: ask.to_string(),
        spread: Px(ask.0.saturating_sub(bid.0)).to_string(),
    };
    asset_event(world, asset, "best_bid_ask", fields, ts)
}

/// A `tick_size_change` for one asset.
pub fn tick_size_change(world: &World, asset: usize, old: Px, new: Px, ts: u64) -> String {
    let fields = TickSizeChange {
        old_tick_size: old.to_string(),
        new_tick_size: new.to_string(),
    };
    asset_event(world, asset, "tick_size_change", fields, ts)
}

/// A well-formed frame whose `event_type` the protocol does not define.
pub fn unknown_event(world: &World, ts: u64) -> String {
    #[derive(Serialize)]
    struct Unknown<'a> {
        event_type: &'static str,
        market: &'a str,
        timestamp: String,
    }
    to_json(&Unknown {
        event_type: "venue_maintenance_notice",
        market: &world.markets[0].spec.condition_id,
        timestamp: ts.to_string(),
    })
}

/// A truncated `price_change`: valid UTF-8, invalid JSON.
pub fn malformed(world: &World) -> String {
    let asset = &world.assets[0];
    format!(
        r#"{{"event_type":"price_change","market":"{}","price_changes":[{{"asset_id":"{}","price":"0."#,
        world.markets[0].spec.condition_id, asset.token_id
    )
}

/// A tick size as a JSON number whose text is exactly the tick (`0.01`, never `0.010`).
pub fn tick_number(tick: Px) -> serde_json::Value {
    serde_json::from_str(&tick.to_string()).expect("a price's decimal text is a JSON number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::VALID_TICKS;

    #[test]
    fn tick_numbers_keep_their_exact_text() {
        for t in VALID_TICKS {
            let json = serde_json::to_string(&tick_number(Px(t))).unwrap();
            assert_eq!(json, Px(t).to_string());
        }
        assert_eq!(
            serde_json::to_string(&tick_number(Px(100))).unwrap(),
            "0.01"
        );
    }

    #[test]
    fn change_entry_reports_missing_sides_as_zero_and_one() {
        let mut book = TrueBook::default();
        book.set(Side::Buy, Px(4800), Qty(5_000_000));
        let e = ChangeEntry::new("1", Side::Buy, Px(4800), &book);
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["best_bid"], "0.48");
        assert_eq!(v["best_ask"], "1");
        assert_eq!(v["size"], "5");
        assert_eq!(v["side"], "BUY");
    }
}
