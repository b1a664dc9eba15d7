//! Market-channel frames for the peer benchmarks: every decoder is fed the very same bytes.
//!
//! The frames follow the shapes of Polymarket's market WebSocket channel (see
//! `tests/fixtures/polymarket/ws_quotes.json` and `ws_market_book_msg.json` in pmbot). Decoders that
//! refuse a snapshot whose timestamp is not newer than the last one get a fresh copy per iteration
//! from [`Stamper`], which rewrites the fixed-width timestamp in place.

use std::fmt::Write as _;

/// Condition id of the benchmarked market.
pub const MARKET: &str = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
/// Token id of the market's first outcome.
pub const YES_TOKEN: &str =
    "71321045679252212594626385532706912750332728571942532289631379312455583992563";
/// Token id of the market's second outcome.
pub const NO_TOKEN: &str =
    "52114319501245915516055106046884209969926127482827954674443846427813813222426";
/// Timestamp (milliseconds) written into freshly built frames; always 13 digits.
pub const BASE_TIMESTAMP_MS: u64 = 1_703_875_201_000;

const TIMESTAMP_KEY: &[u8] = b"\"timestamp\":\"";
const TIMESTAMP_DIGITS: usize = 13;

/// A two-asset `price_change` frame: one change on each outcome of [`MARKET`], with hashes and
/// best bid/ask, as the venue sends when a quote moves on both sides of a binary market. Keys
/// come in the order of Polymarket's documented example (`market`, `price_changes` with
/// `asset_id, price, size, side, hash, best_bid, best_ask`, `timestamp`, `event_type`).
pub fn price_change_frame() -> Vec<u8> {
    format!(
        concat!(
            r#"{{"market":"{market}","price_changes":["#,
            r#"{{"asset_id":"{yes}","price":"0.51","size":"150.0","side":"BUY","hash":"5c4a0f0e1b9e2e55a1d2b1f0c9a8e7d6c5b4a3f2","best_bid":"0.51","best_ask":"0.52"}},"#,
            r#"{{"asset_id":"{no}","price":"0.49","size":"100.0","side":"SELL","hash":"1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b","best_bid":"0.48","best_ask":"0.49"}}"#,
            r#"],"timestamp":"{ts}","event_type":"price_change"}}"#
        ),
        market = MARKET,
        yes = YES_TOKEN,
        no = NO_TOKEN,
        ts = BASE_TIMESTAMP_MS,
    )
    .into_bytes()
}

/// A `book` snapshot for `asset_id` with `levels` price levels on each side, tick 0.01: bids
/// descend from `best_bid_cents`, asks ascend from `best_ask_cents`, sizes are distinct
/// two-decimal share amounts. Every price must stay strictly inside (0, 1): the best bid needs at
/// least `levels` cents below it, the best ask at least `levels` cents above it, and the book must
/// not be crossed; `None` otherwise.
pub fn book_frame(
    asset_id: &str,
    best_bid_cents: u16,
    best_ask_cents: u16,
    levels: u16,
) -> Option<Vec<u8>> {
    if levels > best_bid_cents || best_ask_cents + levels > 100 || best_bid_cents >= best_ask_cents
    {
        return None;
    }
    let side = |first_cents: u16, step: i32, size_base: u16| {
        let mut out = String::new();
        for i in 0..levels {
            let cents = i32::from(first_cents) + step * i32::from(i);
            let size_cents = u32::from(size_base) * 100 + u32::from(i) * 1_737;
            if i > 0 {
                out.push(',');
            }
            write!(
                out,
                r#"{{"price":"0.{cents:02}","size":"{}.{:02}"}}"#,
                size_cents / 100,
                size_cents % 100
            )
            .expect("writing to a String cannot fail");
        }
        out
    };
    let frame = format!(
        concat!(
            r#"{{"event_type":"book","market":"{market}","asset_id":"{asset}","#,
            r#""bids":[{bids}],"asks":[{asks}],"#,
            r#""timestamp":"{ts}","hash":"0x9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"}}"#
        ),
        market = MARKET,
        asset = asset_id,
        bids = side(best_bid_cents, -1, 200),
        asks = side(best_ask_cents, 1, 150),
        ts = BASE_TIMESTAMP_MS,
    );
    Some(frame.into_bytes())
}

/// Hands out copies of a frame template, each with a strictly larger timestamp than the last.
#[derive(Clone, Debug)]
pub struct Stamper {
    template: Vec<u8>,
    digits_at: usize,
    next: u64,
}

impl Stamper {
    /// Wraps `template`, which must hold one `"timestamp":"` field with exactly 13 digits; the
    /// first copy handed out is stamped one millisecond after that value. `None` if there is no
    /// such field.
    pub fn new(template: Vec<u8>) -> Option<Self> {
        let key_at = template
            .windows(TIMESTAMP_KEY.len())
            .position(|w| w == TIMESTAMP_KEY)?;
        let digits_at = key_at + TIMESTAMP_KEY.len();
        let digits = template.get(digits_at..digits_at + TIMESTAMP_DIGITS)?;
        if template.get(digits_at + TIMESTAMP_DIGITS) != Some(&b'"')
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let current = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
        Some(Stamper {
            template,
            digits_at,
            next: current + 1,
        })
    }

    /// A fresh copy of the template carrying the next timestamp.
    pub fn next_frame(&mut self) -> Vec<u8> {
        let mut frame = self.template.clone();
        let mut ts = self.next;
        for digit in frame[self.digits_at..self.digits_at + TIMESTAMP_DIGITS]
            .iter_mut()
            .rev()
        {
            *digit = b'0' + (ts % 10) as u8;
            ts /= 10;
        }
        self.next += 1;
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamp_of(frame: &[u8]) -> u64 {
        let value: serde_json::Value = serde_json::from_slice(frame).expect("valid JSON");
        value["timestamp"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number")
    }

    #[test]
    fn price_change_frame_is_valid_json_with_both_outcomes() {
        let value: serde_json::Value = serde_json::from_slice(&price_change_frame()).unwrap();
        assert_eq!(value["event_type"], "price_change");
        let changes = value["price_changes"].as_array().unwrap();
        let assets: Vec<_> = changes
            .iter()
            .map(|c| c["asset_id"].as_str().unwrap())
            .collect();
        assert_eq!(assets, [YES_TOKEN, NO_TOKEN]);
        assert!(
            changes
                .iter()
                .all(|c| c["best_bid"].is_string() && c["hash"].is_string())
        );
    }

    #[test]
    fn book_frame_has_requested_depth_and_ordered_sides() {
        let value: serde_json::Value =
            serde_json::from_slice(&book_frame(NO_TOKEN, 50, 51, 20).unwrap()).unwrap();
        assert_eq!(value["asset_id"], NO_TOKEN);
        let prices = |side: &str| -> Vec<String> {
            value[side]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["price"].as_str().unwrap().to_owned())
                .collect()
        };
        let (bids, asks) = (prices("bids"), prices("asks"));
        assert_eq!((bids.len(), asks.len()), (20, 20));
        assert_eq!((bids[0].as_str(), bids[19].as_str()), ("0.50", "0.31"));
        assert_eq!((asks[0].as_str(), asks[19].as_str()), ("0.51", "0.70"));
    }

    #[test]
    fn stamper_increases_timestamp_and_keeps_everything_else() {
        let template = book_frame(YES_TOKEN, 50, 52, 3).unwrap();
        let mut stamper = Stamper::new(template.clone()).unwrap();
        let (first, second) = (stamper.next_frame(), stamper.next_frame());
        assert_eq!(timestamp_of(&first), BASE_TIMESTAMP_MS + 1);
        assert_eq!(timestamp_of(&second), BASE_TIMESTAMP_MS + 2);
        assert_eq!(first.len(), template.len());
        let differing = first.iter().zip(&template).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 1);
    }

    #[test]
    fn book_frame_refuses_levels_outside_the_unit_interval_or_crossed() {
        assert!(book_frame(YES_TOKEN, 19, 21, 20).is_none());
        assert!(book_frame(YES_TOKEN, 50, 81, 20).is_none());
        assert!(book_frame(YES_TOKEN, 50, 50, 5).is_none());
        assert!(book_frame(YES_TOKEN, 20, 80, 20).is_some());
    }

    #[test]
    fn stamper_refuses_frame_without_fixed_width_timestamp() {
        assert!(Stamper::new(br#"{"event_type":"book"}"#.to_vec()).is_none());
        assert!(Stamper::new(br#"{"timestamp":"17038752010"}"#.to_vec()).is_none());
    }
}
