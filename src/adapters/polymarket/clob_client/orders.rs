//! The venue's answers to order calls, decoded into fixed structs: `POST /order` and
//! `POST /orders` results (errorMsg mapped to a [`VenueReject`]) and cancel results.
//!
//! Order results borrow from the body (no allocation unless a string carries JSON escapes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer as _, SeqAccess, Visitor};

use crate::adapters::polymarket::signing::parse_hash;
use crate::domain::intents::VenueReject;
use crate::domain::num::{NumError, Qty};

/// Where the venue put an accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStatus {
    /// Resting on the book.
    Live,
    /// Matched on arrival (fully, or partly for FAK).
    Matched,
    /// Held by the market's matching delay; matches later.
    Delayed,
    /// Accepted but not matched and not resting (an FAK/FOK that found nothing), or refused.
    Unmatched,
}

/// One order's result, in request order for a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostResult {
    /// The venue accepted the order.
    pub success: bool,
    /// Why it refused (`Some` exactly when `success` is false).
    pub error: Option<VenueReject>,
    /// The order hash (all zero when the venue gave none, as for most refusals).
    pub order_id: [u8; 32],
    /// Where the order went (`Unmatched` for a refusal).
    pub status: PostStatus,
    /// What the order gave up at once, 1e-6 units (pUSD for a BUY, shares for a SELL).
    pub making: u64,
    /// What the order received at once, 1e-6 units (shares for a BUY, pUSD for a SELL).
    pub taking: u64,
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON of the expected shape.
    #[error("bad JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An entry without `success` (an error object such as `{"error": ...}`).
    #[error("result without success")]
    NoSuccess,
    /// An order id that is not `0x` + 64 hex digits.
    #[error("order id is not 0x + 64 hex digits")]
    OrderId,
    /// An amount that is not a decimal with at most 6 places.
    #[error("bad amount: {0}")]
    Amount(#[from] NumError),
    /// A status the client does not know.
    #[error("unknown order status")]
    Status,
}

/// A string field that borrows from the body unless it carries escapes (serde copies a bare
/// `Option<Cow<str>>` into a `String`; a newtype with `borrow` does not).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct RawPost<'a> {
    success: Option<bool>,
    #[serde(rename = "errorMsg", alias = "error_msg", borrow, default)]
    error_msg: Option<Text<'a>>,
    #[serde(rename = "orderID", borrow, default)]
    order_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
    #[serde(rename = "makingAmount", borrow, default)]
    making: Option<Text<'a>>,
    #[serde(rename = "takingAmount", borrow, default)]
    taking: Option<Text<'a>>,
}

/// Decodes a `POST /orders` body (an array) or a `POST /order` body (one object) into `out`
/// (cleared first), one result per order in request order.
pub fn parse_post_orders(body: &[u8], out: &mut Vec<PostResult>) -> Result<(), DecodeError> {
    out.clear();
    let mut de = serde_json::Deserializer::from_slice(body);
    if body.trim_ascii_start().first() == Some(&b'[') {
        let mut collect = Collect { out, err: None };
        de.deserialize_seq(&mut collect)?;
        if let Some(e) = collect.err {
            return Err(e);
        }
    } else {
        out.push(post_result(&RawPost::deserialize(&mut de)?)?);
    }
    de.end()?;
    Ok(())
}

/// Pushes each array entry's result; keeps the first decoding error.
struct Collect<'o> {
    out: &'o mut Vec<PostResult>,
    err: Option<DecodeError>,
}

impl<'de> Visitor<'de> for &mut Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of order results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<RawPost>()? {
            match post_result(&raw) {
                Ok(r) => self.out.push(r),
                Err(e) => {
                    self.err.get_or_insert(e);
                }
            }
        }
        Ok(())
    }
}

fn post_result(raw: &RawPost) -> Result<PostResult, DecodeError> {
    let success = raw.success.ok_or(DecodeError::NoSuccess)?;
    let order_id = match text(&raw.order_id) {
        "" => [0; 32],
        id => parse_hash(id).map_err(|_| DecodeError::OrderId)?,
    };
    let status = match text(&raw.status) {
        "live" | "LIVE" => PostStatus::Live,
        "matched" | "MATCHED" => PostStatus::Matched,
        "delayed" | "DELAYED" => PostStatus::Delayed,
        "unmatched" | "UNMATCHED" => PostStatus::Unmatched,
        "" if !success => PostStatus::Unmatched,
        _ => return Err(DecodeError::Status),
    };
    let amount = |f: &Option<Text>| match text(f) {
        "" => Ok(0),
        a => Qty::parse(a.as_bytes()).map(|q| q.0),
    };
    Ok(PostResult {
        success,
        error: (!success).then(|| reject_reason(text(&raw.error_msg))),
        order_id,
        status,
        making: amount(&raw.making)?,
        taking: amount(&raw.taking)?,
    })
}

/// A string field's trimmed text; an absent or null field reads "".
fn text<'s>(field: &'s Option<Text>) -> &'s str {
    field.as_ref().map(|t| t.0.trim()).unwrap_or_default()
}

/// Maps the venue's `errorMsg` text to a reject reason (case-insensitive keywords of the
/// venue's messages: balance/allowance, minimum size, tick, crossing post-only, not accepting).
pub fn reject_reason(error_msg: &str) -> VenueReject {
    let m = error_msg.as_bytes();
    let has = |word: &str| {
        m.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    if has("balance") || has("allowance") {
        VenueReject::Balance
    } else if has("tick") {
        VenueReject::Tick
    } else if has("min size") || has("minimum") || has("min_size") {
        VenueReject::MinSize
    } else if has("crosses") || has("post-only") || has("post only") {
        VenueReject::PostOnlyCross
    } else if has("not accepting") || has("not yet ready") || has("closed") || has("paused") {
        VenueReject::NotAccepting
    } else if has("rate limit") || has("too many requests") {
        VenueReject::RateLimited
    } else {
        VenueReject::Other
    }
}

/// The answer to a cancel call (`DELETE /order`, `/orders`, `/cancel-all`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelResult {
    /// Orders cancelled.
    pub canceled: Vec<[u8; 32]>,
    /// Orders not cancelled (already cancelled, matched or unknown), with the venue's reason.
    pub not_canceled: Vec<([u8; 32], String)>,
}

#[derive(Deserialize)]
struct RawCancel<'a> {
    #[serde(borrow, default)]
    canceled: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    not_canceled: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// Decodes `{"canceled":[ids],"not_canceled":{id: reason}}` (cold path: allocates).
pub fn parse_cancels(body: &[u8]) -> Result<CancelResult, DecodeError> {
    let raw: RawCancel = serde_json::from_slice(body)?;
    let id = |s: &str| parse_hash(s).map_err(|_| DecodeError::OrderId);
    Ok(CancelResult {
        canceled: raw
            .canceled
            .iter()
            .map(|s| id(s))
            .collect::<Result<_, _>>()?,
        not_canceled: raw
            .not_canceled
            .iter()
            .map(|(k, v)| Ok((id(k)?, v.to_string())))
            .collect::<Result<_, DecodeError>>()?,
    })
}
