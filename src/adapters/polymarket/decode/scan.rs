//! The hot-path scanner: decodes `book` and `price_change` frames in one pass over the bytes.
//!
//! It accepts a strict subset of JSON: objects and arrays, string values without escapes,
//! control bytes or non-ASCII, `true`/`false`/`null` for fields it ignores, and standard
//! whitespace. Keys may come in any order, except that a book's asks must follow its bids. On
//! anything else (another event type, a duplicate key, a value it cannot parse) it declines and
//! the general path decides, so the two paths always agree.

use super::{DecodeOutcome, parse_ts};
use crate::domain::events::{Event, EventBody};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, Px, Qty, Side};

/// Decodes a frame of `book` and `price_change` messages into `out`, or returns `None` (leaving
/// `out` as it was) when the frame holds anything else or anything unexpected. When it returns
/// `Some`, the events and outcome are exactly what [`super::MarketDecoder::decode_general`]
/// produces for the same frame.
pub fn scan_hot(frame: &[u8], registry: &Registry, out: &mut Vec<Event>) -> Option<DecodeOutcome> {
    let start = out.len();
    let mut outcome = DecodeOutcome::default();
    let mut scanner = Scanner { b: frame, i: 0 };
    if scanner.frame(registry, out, &mut outcome).is_none() {
        out.truncate(start);
        return None;
    }
    outcome.events = (out.len() - start) as u32;
    Some(outcome)
}

/// The two message types the scanner handles.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hot {
    Book,
    PriceChange,
}

/// Bits for the message-level keys the scanner has seen.
const EVENT_TYPE: u8 = 1;
const ASSET: u8 = 1 << 1;
const TIMESTAMP: u8 = 1 << 2;
const BIDS: u8 = 1 << 3;
const BUYS: u8 = 1 << 4;
const ASKS: u8 = 1 << 5;
const SELLS: u8 = 1 << 6;
const CHANGES: u8 = 1 << 7;

/// Records `bit` in `seen`, refusing a key seen before.
#[inline]
fn once(seen: &mut u8, bit: u8) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// What a message's own keys said, gathered while its events are emitted.
#[derive(Default)]
struct Header<'a> {
    kind: Option<Hot>,
    asset: Option<&'a [u8]>,
    ts: u64,
    seen: u8,
    /// The asset, resolved when `asset_id` and `timestamp` both came before the levels: those
    /// are then pushed fully stamped and need no fix-up.
    stamped: Option<AssetIdx>,
}

/// One `price_change` entry's fields.
#[derive(Default)]
struct Change<'a> {
    asset: Option<&'a [u8]>,
    side: Option<Side>,
    px: Option<Px>,
    qty: Option<Qty>,
    bid: Option<Option<Px>>,
    ask: Option<Option<Px>>,
}

/// A cursor over the frame's bytes.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn frame(
        &mut self,
        registry: &Registry,
        out: &mut Vec<Event>,
        outcome: &mut DecodeOutcome,
    ) -> Option<()> {
        match self.peek()? {
            b'{' => self.message(registry, out, outcome)?,
            b'[' => self.array(|s| s.message(registry, out, outcome))?,
            _ => return None,
        }
        self.skip_ws();
        (self.i == self.b.len()).then_some(())
    }

    /// One message: its events are pushed with placeholder asset and timestamp (both may come
    /// after the levels), then fixed up once the whole object has been read.
    fn message(
        &mut self,
        registry: &Registry,
        out: &mut Vec<Event>,
        outcome: &mut DecodeOutcome,
    ) -> Option<()> {
        let mark = out.len();
        let mut h = Header::default();
        self.object(|s, key| match key {
            b"event_type" => {
                once(&mut h.seen, EVENT_TYPE)?;
                h.kind = Some(match s.string()? {
                    b"book" => Hot::Book,
                    b"price_change" => Hot::PriceChange,
                    _ => return None,
                });
                Some(())
            }
            b"asset_id" => {
                once(&mut h.seen, ASSET)?;
                h.asset = Some(s.string()?);
                Some(())
            }
            b"timestamp" => {
                once(&mut h.seen, TIMESTAMP)?;
                h.ts = parse_ts(s.string()?).ok()?;
                Some(())
            }
            b"bids" | b"buys" => {
                once(&mut h.seen, if key == b"bids" { BIDS } else { BUYS })?;
                if h.seen & (BIDS | BUYS) == (BIDS | BUYS) {
                    return None;
                }
                if h.seen & (ASSET | TIMESTAMP) == ASSET | TIMESTAMP {
                    h.stamped = registry.asset_by_token(h.asset?);
                }
                let asset = h.stamped.unwrap_or(AssetIdx(0));
                out.push(Event::new(h.ts, EventBody::BookSnapshot { asset }));
                s.levels(Side::Buy, asset, h.ts, out)
            }
            b"asks" | b"sells" => {
                once(&mut h.seen, if key == b"asks" { ASKS } else { SELLS })?;
                if h.seen & (BIDS | BUYS) == 0 || h.seen & (ASKS | SELLS) == (ASKS | SELLS) {
                    return None;
                }
                s.levels(Side::Sell, h.stamped.unwrap_or(AssetIdx(0)), h.ts, out)
            }
            b"price_changes" => {
                once(&mut h.seen, CHANGES)?;
                s.array(|s| s.change(registry, out, outcome))
            }
            _ => s.skip_scalar(),
        })?;
        let has_levels = h.seen & (BIDS | BUYS | ASKS | SELLS) != 0;
        let has_changes = h.seen & CHANGES != 0;
        let kind = match h.kind {
            Some(kind) => kind,
            None if has_levels => Hot::Book,
            None if has_changes => Hot::PriceChange,
            None => return None,
        };
        outcome.messages += 1;
        let ts = h.ts;
        match kind {
            Hot::Book => {
                if has_changes || h.seen & (ASKS | SELLS) == 0 {
                    return None;
                }
                if h.stamped.is_some() {
                    out.push(Event::new(ts, EventBody::MessageEnd));
                    return Some(());
                }
                let Some(asset) = registry.asset_by_token(h.asset?) else {
                    out.truncate(mark);
                    outcome.unknown_assets += 1;
                    return Some(());
                };
                for e in &mut out[mark..] {
                    e.venue_ts_ms = ts;
                    if let EventBody::BookSnapshot { asset: a }
                    | EventBody::Level { asset: a, .. } = &mut e.body
                    {
                        *a = asset;
                    }
                }
            }
            Hot::PriceChange => {
                if has_levels || !has_changes {
                    return None;
                }
                for e in &mut out[mark..] {
                    e.venue_ts_ms = ts;
                }
            }
        }
        if out.len() > mark {
            out.push(Event::new(ts, EventBody::MessageEnd));
        }
        Some(())
    }

    /// A book side's rows, pushed as `Level`s for `asset` (a placeholder until the fix-up when
    /// the asset was not known yet) at `ts`.
    fn levels(&mut self, side: Side, asset: AssetIdx, ts: u64, out: &mut Vec<Event>) -> Option<()> {
        self.array(|s| {
            let (px, qty) = match s.compact_row() {
                Some(row) => row,
                None => s.row()?,
            };
            out.push(Event::new(
                ts,
                EventBody::Level {
                    asset,
                    side,
                    px,
                    qty,
                },
            ));
            Some(())
        })
    }

    /// A row written exactly as the venue writes it, `{"price":"…","size":"…"}`, or `None` with
    /// the cursor where it was.
    #[inline]
    fn compact_row(&mut self) -> Option<(Px, Qty)> {
        let start = self.i;
        let row = self.compact_row_at();
        if row.is_none() {
            self.i = start;
        }
        row
    }

    #[inline]
    fn compact_row_at(&mut self) -> Option<(Px, Qty)> {
        self.literal(b"{\"price\":\"")?;
        let (px, len) = fused_decimal(self.b.get(self.i..)?, Px::SCALE)?;
        if px > u64::from(Px::ONE.0) {
            return None;
        }
        self.i += len;
        self.literal(b",\"size\":\"")?;
        let (qty, len) = fused_decimal(self.b.get(self.i..)?, Qty::SCALE)?;
        self.i += len;
        self.literal(b"}")?;
        Some((Px(px as u16), Qty(qty)))
    }

    /// A row in any key order and spacing.
    fn row(&mut self) -> Option<(Px, Qty)> {
        let mut px = None;
        let mut qty = None;
        self.object(|s, key| match key {
            b"price" if px.is_none() => {
                px = Some(s.px()?);
                Some(())
            }
            b"size" if qty.is_none() => {
                qty = Some(s.qty()?);
                Some(())
            }
            b"price" | b"size" => None,
            _ => s.skip_scalar(),
        })?;
        Some((px?, qty?))
    }

    /// One `price_change` entry: `Level` then `BestCheck` if its asset is registered.
    fn change(
        &mut self,
        registry: &Registry,
        out: &mut Vec<Event>,
        outcome: &mut DecodeOutcome,
    ) -> Option<()> {
        let c = match self.compact_change() {
            Some(c) => c,
            None => self.change_fields()?,
        };
        let Some(asset) = registry.asset_by_token(c.asset?) else {
            outcome.unknown_assets += 1;
            return Some(());
        };
        let level = EventBody::Level {
            asset,
            side: c.side?,
            px: c.px?,
            qty: c.qty?,
        };
        let check = EventBody::BestCheck {
            asset,
            bid: c.bid.flatten(),
            ask: c.ask.flatten(),
        };
        out.push(Event::new(0, level));
        out.push(Event::new(0, check));
        Some(())
    }

    /// An entry written exactly as the venue writes it (`asset_id`, `price`, `size`, `side`,
    /// `hash`, `best_bid`, `best_ask`, no spaces), or `None` with the cursor where it was.
    #[inline]
    fn compact_change(&mut self) -> Option<Change<'a>> {
        let start = self.i;
        let change = self.compact_change_at();
        if change.is_none() {
            self.i = start;
        }
        change
    }

    #[inline]
    fn compact_change_at(&mut self) -> Option<Change<'a>> {
        self.literal(b"{\"asset_id\":")?;
        let asset = self.string()?;
        self.literal(b",\"price\":")?;
        let px = self.px()?;
        self.literal(b",\"size\":")?;
        let qty = self.qty()?;
        self.literal(b",\"side\":")?;
        let side = if self.literal(b"\"BUY\"").is_some() {
            Side::Buy
        } else {
            self.literal(b"\"SELL\"")?;
            Side::Sell
        };
        self.literal(b",\"hash\":")?;
        self.string()?;
        self.literal(b",\"best_bid\":")?;
        let bid = self.best_px()?;
        self.literal(b",\"best_ask\":")?;
        let ask = self.best_px()?;
        self.literal(b"}")?;
        Some(Change {
            asset: Some(asset),
            side: Some(side),
            px: Some(px),
            qty: Some(qty),
            bid: Some(bid),
            ask: Some(ask),
        })
    }

    /// An entry's fields in any key order and spacing.
    fn change_fields(&mut self) -> Option<Change<'a>> {
        let mut c = Change::default();
        self.object(|s, key| match key {
            b"asset_id" if c.asset.is_none() => {
                c.asset = Some(s.string()?);
                Some(())
            }
            b"side" if c.side.is_none() => {
                c.side = Some(Side::parse(s.string()?)?);
                Some(())
            }
            b"price" if c.px.is_none() => {
                c.px = Some(s.px()?);
                Some(())
            }
            b"size" if c.qty.is_none() => {
                c.qty = Some(s.qty()?);
                Some(())
            }
            b"best_bid" if c.bid.is_none() => {
                c.bid = Some(s.best_px()?);
                Some(())
            }
            b"best_ask" if c.ask.is_none() => {
                c.ask = Some(s.best_px()?);
                Some(())
            }
            b"asset_id" | b"side" | b"price" | b"size" | b"best_bid" | b"best_ask" => None,
            _ => s.skip_scalar(),
        })?;
        Some(c)
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
            self.i += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.i).copied()
    }

    /// Consumes `c` (after whitespace) or declines.
    #[inline]
    fn expect(&mut self, c: u8) -> Option<()> {
        if self.peek()? != c {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// A plain string's contents (no escapes, control bytes or non-ASCII).
    #[inline]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        let len = plain_len(&self.b[start..])?;
        self.i = start + len + 1;
        Some(&self.b[start..start + len])
    }

    /// The body of the string value at the cursor (past whitespace and the opening quote).
    #[inline]
    fn string_body(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        self.b.get(self.i + 1..)
    }

    /// A price string value.
    #[inline(always)]
    fn px(&mut self) -> Option<Px> {
        let body = self.string_body()?;
        match fused_decimal(body, Px::SCALE) {
            Some((v, len)) if v <= u64::from(Px::ONE.0) => {
                self.i += 1 + len;
                Some(Px(v as u16))
            }
            _ => Px::parse(self.string()?).ok(),
        }
    }

    /// A size string value.
    #[inline(always)]
    fn qty(&mut self) -> Option<Qty> {
        let body = self.string_body()?;
        match fused_decimal(body, Qty::SCALE) {
            Some((v, len)) => {
                self.i += 1 + len;
                Some(Qty(v))
            }
            None => Qty::parse(self.string()?).ok(),
        }
    }

    /// A best-price string value: empty means none.
    #[inline(always)]
    fn best_px(&mut self) -> Option<Option<Px>> {
        if self.string_body()?.first() == Some(&b'"') {
            self.i += 2;
            return Some(None);
        }
        self.px().map(Some)
    }

    /// Consumes exactly `lit` (no whitespace skipped) or declines.
    #[inline(always)]
    fn literal<const N: usize>(&mut self, lit: &[u8; N]) -> Option<()> {
        let end = self.i + N;
        let here: &[u8; N] = self.b.get(self.i..end)?.try_into().ok()?;
        if here != lit {
            return None;
        }
        self.i = end;
        Some(())
    }

    /// Skips a value the message does not need: a plain string or a literal.
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    /// Walks an object's members; `member` gets each key with the cursor at its value and must
    /// consume the value.
    #[inline(always)]
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walks an array's items; `item` must consume each one.
    #[inline(always)]
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// `10^k` for every fraction-digit shortfall `fused_decimal` can meet (scales are at most 6).
const POW10: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/// Parses a plain unsigned decimal string body with at most `scale` fraction digits and twelve
/// integer digits, through its closing quote, into `10^-scale` units and the bytes consumed.
/// `None` for anything else (the caller then uses the domain parser, which decides).
#[inline(always)]
fn fused_decimal(b: &[u8], scale: u32) -> Option<(u64, usize)> {
    const MAX_INT_DIGITS: usize = 12;
    let scale = scale as usize;
    let mut v: u64 = 0;
    let mut dot = None;
    // The longest accepted body is the integer digits, a dot, the fraction and the quote; `v`
    // may wrap on longer digit runs, which are then refused before it is used.
    for (i, &c) in b.iter().enumerate().take(MAX_INT_DIGITS + scale + 2) {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        } else if c == b'.' && dot.is_none() {
            dot = Some(i);
        } else if c == b'"' {
            let int_digits = dot.unwrap_or(i);
            let frac_digits = dot.map_or(0, |d| i - d - 1);
            if int_digits > MAX_INT_DIGITS || frac_digits > scale || int_digits + frac_digits == 0 {
                return None;
            }
            return Some((v * POW10.get(scale - frac_digits)?, i + 1));
        } else {
            return None;
        }
    }
    None
}

/// The length of the plain string body at the start of `b`, up to its closing quote; `None` if a
/// backslash, control byte or non-ASCII byte comes first, or there is no closing quote.
#[inline]
fn plain_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 16) {
        let flags = specials(chunk.try_into().ok()?);
        if flags != 0 {
            let at = i + flags.trailing_zeros() as usize;
            return (b[at] == b'"').then_some(at);
        }
        i += 16;
    }
    for (at, &c) in b.iter().enumerate().skip(i) {
        if c == b'"' {
            return Some(at);
        }
        if is_special(c) {
            return None;
        }
    }
    None
}

/// A byte that ends or spoils a plain string (a quote is checked first by the callers).
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c)
}

/// One bit per byte of `chunk` (bit `k` for byte `k`): set for a quote, a backslash, a control
/// byte or a non-ASCII byte. SSE2 is part of the x86-64 baseline, so this needs no detection;
/// a signed compare below 0x20 catches control and non-ASCII bytes at once.
#[cfg(target_arch = "x86_64")]
#[inline]
fn specials(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let w = u128::from_le_bytes(*chunk);
    // SAFETY: these intrinsics only need SSE2, which every x86-64 CPU has (it is enabled for
    // the target by default); they take no pointers.
    unsafe {
        let v = _mm_set_epi64x((w >> 64) as i64, w as i64);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), low)) as u32
    }
}

/// Portable form of `specials` (also the reference the SSE2 form is tested against).
#[cfg(any(not(target_arch = "x86_64"), test))]
#[inline]
fn specials_portable(chunk: &[u8; 16]) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (k, &c)| m | (u32::from(is_special(c)) << k))
}

#[cfg(not(target_arch = "x86_64"))]
use specials_portable as specials;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious byte-at-a-time definition `plain_len` must match.
    fn plain_len_reference(b: &[u8]) -> Option<usize> {
        for (at, &c) in b.iter().enumerate() {
            if c == b'"' {
                return Some(at);
            }
            if c == b'\\' || !(0x20..0x80).contains(&c) {
                return None;
            }
        }
        None
    }

    #[test]
    fn plain_len_finds_the_quote_or_refuses() {
        assert_eq!(plain_len(b"0.48\",\"size\""), Some(4));
        assert_eq!(plain_len(b"0123456789abcdef\""), Some(16));
        assert_eq!(plain_len(b"01234567\\\"\""), None);
        assert_eq!(plain_len(b"0123\n567\""), None);
        assert_eq!(plain_len(b"0123456789\xc3\xa9\""), None);
        assert_eq!(plain_len(b"no closing quote at all"), None);
        assert_eq!(plain_len(b"\""), Some(0));
    }

    #[test]
    fn fused_decimal_parses_plain_decimals_and_declines_the_rest() {
        assert_eq!(fused_decimal(b"0.49\",", Px::SCALE), Some((4900, 5)));
        assert_eq!(
            fused_decimal(b"100.00\"}", Qty::SCALE),
            Some((100_000_000, 7))
        );
        assert_eq!(fused_decimal(b".5\"", Px::SCALE), Some((5000, 3)));
        assert_eq!(fused_decimal(b"5.\"", Qty::SCALE), Some((5_000_000, 3)));
        assert_eq!(fused_decimal(b"0.50000\"", Px::SCALE), None);
        assert_eq!(fused_decimal(b"\"", Px::SCALE), None);
        assert_eq!(fused_decimal(b".\"", Px::SCALE), None);
        assert_eq!(fused_decimal(b"-1\"", Qty::SCALE), None);
        assert_eq!(fused_decimal(b"1e3\"", Qty::SCALE), None);
        assert_eq!(fused_decimal(b"1234567890123\"", Qty::SCALE), None);
        assert_eq!(fused_decimal(b"12", Qty::SCALE), None);
    }

    proptest! {
        #[test]
        fn fused_decimal_agrees_with_the_domain_parsers(
            body in proptest::collection::vec(
                prop_oneof![8 => b'0'..=b'9', 2 => Just(b'.'), 1 => Just(b'-'), 1 => Just(b'e')],
                0..20,
            ),
        ) {
            let mut quoted = body.clone();
            quoted.push(b'"');
            if let Some((v, len)) = fused_decimal(&quoted, Qty::SCALE) {
                prop_assert_eq!(len, quoted.len());
                prop_assert_eq!(Qty::parse(&body), Ok(Qty(v)));
            }
            if let Some((v, _)) = fused_decimal(&quoted, Px::SCALE) {
                let px = Px::parse(&body);
                prop_assert!(v > 10_000 || px == Ok(Px(v as u16)), "{:?} vs {}", px, v);
            }
        }

        #[test]
        fn specials_matches_the_portable_form(chunk in any::<[u8; 16]>()) {
            prop_assert_eq!(specials(&chunk), specials_portable(&chunk));
        }

        #[test]
        fn plain_len_matches_the_byte_loop(
            bytes in proptest::collection::vec(
                prop_oneof![4 => 0x20u8..0x7f, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => any::<u8>()],
                0..80,
            )
        ) {
            prop_assert_eq!(plain_len(&bytes), plain_len_reference(&bytes));
        }
    }
}
