//! Market-channel decoder: turns a WebSocket frame from `/ws/market` into domain `Event`s (the
//! user channel's decoder, [`UserDecoder`], shares its parsing layer).
//!
//! A frame is one JSON object or an array of them (or the keep-alive text `PONG`). Each message
//! becomes a run of events closed by `MessageEnd`. Two paths produce identical events:
//!
//! * [`scan_hot`] walks the bytes once for the hot messages (`book`, `price_change`) and declines
//!   anything it does not expect (other event types, escapes, numbers where strings belong, bad
//!   values), leaving `out` untouched;
//! * [`MarketDecoder::decode_general`] parses with simd-json's tape into reused buffers, handles
//!   every message type and is the authority on errors.
//!
//! [`MarketDecoder::decode`] tries the scanner first and falls back to the general path. A frame
//! that fails to decode never leaves half a message in `out`; instead every registered asset whose
//! token id appears in the frame is marked stale.

mod general;
mod scan;
mod user;

use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use crate::domain::events::{Event, EventBody, StaleReason};
use crate::domain::markets::Registry;
use crate::domain::num::NumError;

pub use scan::scan_hot;
pub use user::UserDecoder;

/// Why a frame could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not JSON, or is truncated.
    #[error("frame is not valid JSON (error at byte {at})")]
    NotJson {
        /// Byte offset where the parser gave up.
        at: usize,
    },
    /// A field the message type requires is absent.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// A numeric string the decoder could not represent exactly.
    #[error("bad number in `{field}`")]
    BadNumber {
        /// The field's name.
        field: &'static str,
        /// Why the number was refused.
        #[source]
        source: NumError,
    },
    /// A side that is neither `BUY` nor `SELL`.
    #[error("bad side in `{field}`")]
    BadSide {
        /// The field's name.
        field: &'static str,
    },
    /// A value of the wrong JSON type.
    #[error("`{field}` should be {expected}")]
    WrongType {
        /// The field's name (`frame` or `message` for the frame's structure).
        field: &'static str,
        /// The JSON type that was expected.
        expected: &'static str,
    },
}

/// What a successfully decoded frame contained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOutcome {
    /// JSON messages (objects) in the frame.
    pub messages: u32,
    /// Events appended to `out`.
    pub events: u32,
    /// Messages with an `event_type` this decoder does not know (skipped).
    pub unknown_events: u32,
    /// Messages or `price_change` entries for assets not in the registry (skipped).
    pub unknown_assets: u32,
    /// The frame was the keep-alive reply `PONG`.
    pub pong: bool,
}

/// The scratch buffers simd-json needs, reused frame after frame so parsing stops allocating
/// once they have grown to the largest frame seen.
struct JsonScratch {
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl JsonScratch {
    /// Buffers sized for typical frames (they grow once if a frame is larger).
    fn new() -> JsonScratch {
        const TYPICAL_FRAME: usize = 16 * 1024;
        JsonScratch {
            scratch: Vec::with_capacity(TYPICAL_FRAME),
            buffers: Buffers::new(TYPICAL_FRAME),
            tape: Some(Tape::null().reset()),
        }
    }

    /// Parses `frame` and hands its root value to `decode`; invalid JSON is `NotJson`.
    fn parse<R>(
        &mut self,
        frame: &[u8],
        decode: impl FnOnce(Value<'_, '_>) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(frame);
        let mut tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = match simd_json::fill_tape(&mut self.scratch, &mut self.buffers, &mut tape) {
            Ok(()) => decode(tape.as_value()),
            Err(e) => Err(DecodeError::NotJson { at: e.index() }),
        };
        self.tape = Some(tape.reset());
        result
    }
}

/// A reusable decoder for one feed thread: owns the scratch buffers simd-json needs.
pub struct MarketDecoder {
    json: JsonScratch,
}

impl Default for MarketDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl MarketDecoder {
    /// A decoder with buffers sized for typical frames (they grow once if a frame is larger).
    pub fn new() -> MarketDecoder {
        MarketDecoder {
            json: JsonScratch::new(),
        }
    }

    /// Appends the events of every message in `frame` to `out`.
    ///
    /// On error, `out` keeps the events of the messages before the failing one, then gets one
    /// `Stale { reason: DecodeError }` per registered asset whose token id appears in the frame,
    /// followed by a `MessageEnd` (nothing if no registered asset appears).
    pub fn decode(
        &mut self,
        frame: &[u8],
        registry: &Registry,
        out: &mut Vec<Event>,
    ) -> Result<DecodeOutcome, DecodeError> {
        if let Some(outcome) = scan_hot(frame, registry, out) {
            return Ok(outcome);
        }
        self.decode_general(frame, registry, out)
    }

    /// Decodes `frame` with simd-json only, never the hot-path scanner: same contract and same
    /// events as [`MarketDecoder::decode`], just slower for `book` and `price_change`.
    pub fn decode_general(
        &mut self,
        frame: &[u8],
        registry: &Registry,
        out: &mut Vec<Event>,
    ) -> Result<DecodeOutcome, DecodeError> {
        if is_pong(frame) {
            return Ok(DecodeOutcome {
                pong: true,
                ..DecodeOutcome::default()
            });
        }
        let start = out.len();
        let result = self.json.parse(frame, |root| {
            general::decode_frame(root, registry, out, start)
        });
        if result.is_err() {
            mark_stale(frame, registry, out);
        }
        result
    }
}

/// Whether the frame is the keep-alive reply (`PONG`, possibly padded with whitespace).
fn is_pong(frame: &[u8]) -> bool {
    frame.trim_ascii() == b"PONG"
}

/// Parses a Unix-milliseconds timestamp string.
#[inline]
fn parse_ts(bytes: &[u8]) -> Result<u64, NumError> {
    if bytes.is_empty() {
        return Err(NumError::Empty);
    }
    let mut value: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return Err(NumError::Garbage);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(NumError::Overflow)?;
    }
    Ok(value)
}

/// Token ids are long decimal strings; shorter digit runs (timestamps excepted, which simply miss
/// the registry) cannot be one.
const MIN_TOKEN_DIGITS: usize = 10;

/// Pushes `Stale { DecodeError }` for each registered asset whose token id appears in `frame` as a
/// maximal run of digits, then one `MessageEnd` if any was pushed.
fn mark_stale(frame: &[u8], registry: &Registry, out: &mut Vec<Event>) {
    let start = out.len();
    let mut i = 0;
    while i < frame.len() {
        if !frame[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let run = i;
        while i < frame.len() && frame[i].is_ascii_digit() {
            i += 1;
        }
        if i - run < MIN_TOKEN_DIGITS {
            continue;
        }
        let Some(asset) = registry.asset_by_token(&frame[run..i]) else {
            continue;
        };
        let seen = out[start..]
            .iter()
            .any(|e| matches!(e.body, EventBody::Stale { asset: a, .. } if a == asset));
        if !seen {
            out.push(Event::new(
                0,
                EventBody::Stale {
                    asset,
                    reason: StaleReason::DecodeError,
                },
            ));
        }
    }
    if out.len() > start {
        out.push(Event::new(0, EventBody::MessageEnd));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::markets::MarketSpec;
    use crate::domain::num::{AssetIdx, Px, Qty};

    const YES: &str =
        "71321045679252212594626385532706912750332728571942532289631379312455583992563";
    const NO: &str =
        "52114319501245915516055106046884209969926127482827954674443846427813813222426";

    fn registry() -> Registry {
        let mut r = Registry::default();
        r.add_market(MarketSpec {
            condition_id: "0xdd".into(),
            token_ids: vec![YES.into(), NO.into()],
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        })
        .unwrap();
        r
    }

    #[test]
    fn timestamps_parse_as_plain_digits() {
        assert_eq!(parse_ts(b"1703875201000"), Ok(1_703_875_201_000));
        assert_eq!(parse_ts(b""), Err(NumError::Empty));
        assert_eq!(parse_ts(b"17.5"), Err(NumError::Garbage));
        assert_eq!(parse_ts(b"99999999999999999999"), Err(NumError::Overflow));
    }

    #[test]
    fn pong_is_recognised_with_surrounding_whitespace() {
        assert!(is_pong(b"PONG"));
        assert!(is_pong(b" PONG\n"));
        assert!(!is_pong(b"PING"));
        assert!(!is_pong(b"\"PONG\""));
    }

    #[test]
    fn stale_marks_each_registered_token_once_and_skips_short_or_unknown_runs() {
        let r = registry();
        let frame =
            format!("{{\"a\":\"{YES}\",\"b\":\"{YES}\",\"c\":\"{NO}9\",\"ts\":\"1703875201000\"}}");
        let mut out = Vec::new();
        mark_stale(frame.as_bytes(), &r, &mut out);
        let stale = |asset| {
            Event::new(
                0,
                EventBody::Stale {
                    asset,
                    reason: StaleReason::DecodeError,
                },
            )
        };
        assert_eq!(
            out,
            vec![stale(AssetIdx(0)), Event::new(0, EventBody::MessageEnd)]
        );
        out.clear();
        mark_stale(b"{\"ts\":\"1703875201000\"}", &r, &mut out);
        assert!(out.is_empty());
    }
}
