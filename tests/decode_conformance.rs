//! Conformance of the market-channel decoder on the project's fixtures, malformed input, and
//! agreement between the hot-path scanner and the general simd-json path.

use pmbot::adapters::polymarket::decode::{DecodeError, DecodeOutcome, MarketDecoder, scan_hot};
use pmbot::domain::events::{Event, EventBody, StaleReason};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::{AssetIdx, NumError, Px, Qty, Side};
use proptest::prelude::*;

const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";
const UNKNOWN: &str =
    "99999919501245915516055106046884209969926127482827954674443846427813813222426";
const NVDA_YES: &str =
    "76043073756653678226373981964075571318267289248134717369284518995922789326425";
const NVDA_NO: &str =
    "31690934263385727664202099278545688007799199447969475608906331829650099442770";
const BBA: &str = "85354956062430465315924116860125388538595433819574542752031640332592237464430";
const BBA_OTHER: &str = "1234567890123456789012345";
const REST: &str = "12345678901234567890";

const Y: AssetIdx = AssetIdx(0);
const N: AssetIdx = AssetIdx(1);
const NVDA_Y: AssetIdx = AssetIdx(2);
const NVDA_N: AssetIdx = AssetIdx(3);
const BBA_Y: AssetIdx = AssetIdx(4);
const REST_A: AssetIdx = AssetIdx(6);

fn registry() -> Registry {
    let mut r = Registry::default();
    for (cond, tokens) in [
        ("0xdd", [YES, NO]),
        ("0x311d", [NVDA_YES, NVDA_NO]),
        ("0x0005", [BBA, BBA_OTHER]),
    ] {
        r.add_market(MarketSpec {
            condition_id: cond.into(),
            token_ids: tokens.iter().map(|t| t.to_string()).collect(),
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        })
        .unwrap();
    }
    r.add_market(MarketSpec {
        condition_id: "0xc8f1".into(),
        token_ids: vec![REST.into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        ..MarketSpec::default()
    })
    .unwrap();
    r
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/polymarket/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode(frame: &[u8]) -> (Result<DecodeOutcome, DecodeError>, Vec<Event>) {
    let mut out = Vec::new();
    let result = MarketDecoder::new().decode(frame, &registry(), &mut out);
    (result, out)
}

fn ok(frame: &[u8]) -> (DecodeOutcome, Vec<Event>) {
    let (result, out) = decode(frame);
    (result.unwrap_or_else(|e| panic!("{e:?}")), out)
}

fn ev(ts: u64, body: EventBody) -> Event {
    Event::new(ts, body)
}

fn level(ts: u64, asset: AssetIdx, side: Side, px: u16, qty: u64) -> Event {
    ev(
        ts,
        EventBody::Level {
            asset,
            side,
            px: Px(px),
            qty: Qty(qty),
        },
    )
}

fn check(ts: u64, asset: AssetIdx, bid: Option<u16>, ask: Option<u16>) -> Event {
    ev(
        ts,
        EventBody::BestCheck {
            asset,
            bid: bid.map(Px),
            ask: ask.map(Px),
        },
    )
}

fn end(ts: u64) -> Event {
    ev(ts, EventBody::MessageEnd)
}

fn snapshot(ts: u64, asset: AssetIdx) -> Event {
    ev(ts, EventBody::BookSnapshot { asset })
}

fn stale(asset: AssetIdx) -> Event {
    ev(
        0,
        EventBody::Stale {
            asset,
            reason: StaleReason::DecodeError,
        },
    )
}

fn outcome(messages: u32, events: u32) -> DecodeOutcome {
    DecodeOutcome {
        messages,
        events,
        ..DecodeOutcome::default()
    }
}

const SHARE: u64 = 1_000_000;

#[test]
fn book_message() {
    let ts = 1_703_875_200_000;
    let (o, out) = ok(&fixture("ws_market_book_msg.json"));
    let expected = vec![
        snapshot(ts, Y),
        level(ts, Y, Side::Buy, 5000, 200 * SHARE),
        level(ts, Y, Side::Buy, 4900, 350 * SHARE),
        level(ts, Y, Side::Sell, 5100, 150 * SHARE),
        level(ts, Y, Side::Sell, 5200, 250 * SHARE),
        end(ts),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(1, 6));
}

#[test]
fn book_without_event_type_is_recognised_by_shape() {
    let ts = 1_703_875_200_000;
    let (o, out) = ok(&fixture("ws_book_snapshot.json"));
    let expected = vec![
        snapshot(ts, Y),
        level(ts, Y, Side::Buy, 4800, 500 * SHARE),
        level(ts, Y, Side::Buy, 4900, 350 * SHARE),
        level(ts, Y, Side::Buy, 5000, 200 * SHARE),
        level(ts, Y, Side::Sell, 5300, 400 * SHARE),
        level(ts, Y, Side::Sell, 5200, 250 * SHARE),
        level(ts, Y, Side::Sell, 5100, 150 * SHARE),
        end(ts),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(1, 8));
}

#[test]
fn rest_book_response_decodes_like_a_book_event() {
    let ts = 1_703_875_200_000;
    let (_, out) = ok(&fixture("clob_book_response.json"));
    let expected = vec![
        snapshot(ts, REST_A),
        level(ts, REST_A, Side::Buy, 4800, 100 * SHARE),
        level(ts, REST_A, Side::Buy, 4900, 200 * SHARE),
        level(ts, REST_A, Side::Buy, 5000, 150 * SHARE),
        level(ts, REST_A, Side::Sell, 5100, 120 * SHARE),
        level(ts, REST_A, Side::Sell, 5200, 180 * SHARE),
        level(ts, REST_A, Side::Sell, 5300, 90 * SHARE),
        end(ts),
    ];
    assert_eq!(out, expected);
}

#[test]
fn older_buys_sells_book_variant() {
    let ts = 1_703_875_100_000;
    let (_, out) = ok(&fixture("ws_book_buys_sells.json"));
    let expected = vec![
        snapshot(ts, Y),
        level(ts, Y, Side::Buy, 4000, 100 * SHARE),
        level(ts, Y, Side::Buy, 4100, 55_500_000),
        level(ts, Y, Side::Sell, 4300, 80 * SHARE),
        end(ts),
    ];
    assert_eq!(out, expected);
}

#[test]
fn twenty_level_book() {
    let ts = 1_757_908_890_000;
    let (o, out) = ok(&fixture("ws_book_20_levels.json"));
    let mut expected = vec![snapshot(ts, Y)];
    for i in 0..20u64 {
        let qty = (100 + i * 7) * SHARE + i * 10_000;
        expected.push(level(ts, Y, Side::Buy, (4900 - i * 100) as u16, qty));
    }
    for i in 0..20u64 {
        let qty = (90 + i * 11) * SHARE + i * 10_000;
        expected.push(level(ts, Y, Side::Sell, (5100 + i * 100) as u16, qty));
    }
    expected.push(end(ts));
    assert_eq!(out, expected);
    assert_eq!(o, outcome(1, 42));
}

#[test]
fn price_change_message() {
    let ts = 1_703_875_201_000;
    let (o, out) = ok(&fixture("ws_market_price_change_msg.json"));
    let expected = vec![
        level(ts, Y, Side::Buy, 5100, 150 * SHARE),
        check(ts, Y, Some(5100), Some(5200)),
        end(ts),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(1, 3));
}

#[test]
fn price_change_without_event_type_touching_both_outcomes() {
    let ts = 1_703_875_201_000;
    let (_, out) = ok(&fixture("ws_quotes.json"));
    let expected = vec![
        level(ts, Y, Side::Buy, 5100, 150 * SHARE),
        check(ts, Y, Some(5100), Some(5200)),
        level(ts, N, Side::Sell, 4900, 100 * SHARE),
        check(ts, N, Some(4800), Some(4900)),
        end(ts),
    ];
    assert_eq!(out, expected);
}

#[test]
fn price_change_skips_and_counts_unknown_assets_and_reads_empty_best_as_none() {
    let ts = 1_757_908_892_351;
    let (o, out) = ok(&fixture("ws_price_change_multi_asset.json"));
    let expected = vec![
        level(ts, Y, Side::Buy, 5000, 200 * SHARE),
        check(ts, Y, Some(5000), Some(5100)),
        level(ts, N, Side::Sell, 5000, 0),
        check(ts, N, Some(4900), None),
        end(ts),
    ];
    assert_eq!(out, expected);
    assert_eq!(
        o,
        DecodeOutcome {
            messages: 1,
            events: 5,
            unknown_assets: 1,
            ..DecodeOutcome::default()
        }
    );
}

#[test]
fn price_change_best_prices_at_the_edges_are_kept() {
    let ts = 1_757_908_892_351;
    let (_, out) = ok(&fixture("ws_price_change_two_assets.json"));
    let expected = vec![
        level(ts, Y, Side::Buy, 5000, 200 * SHARE),
        check(ts, Y, Some(5000), Some(10_000)),
        level(ts, N, Side::Sell, 5000, 200 * SHARE),
        check(ts, N, Some(0), Some(5000)),
        end(ts),
    ];
    assert_eq!(out, expected);
}

#[test]
fn tick_size_change_with_and_without_event_type() {
    let ts = 1_703_875_210_000;
    let tick = ev(
        ts,
        EventBody::TickSize {
            asset: Y,
            tick: Px(100),
        },
    );
    for name in ["ws_market_tick_size_msg.json", "ws_tick_size_change.json"] {
        let (o, out) = ok(&fixture(name));
        assert_eq!(out, vec![tick, end(ts)], "{name}");
        assert_eq!(o, outcome(1, 2), "{name}");
    }
}

#[test]
fn last_trade_with_and_without_event_type() {
    let ts = 1_703_875_202_000;
    let trade = ev(
        ts,
        EventBody::LastTrade {
            asset: Y,
            side: Side::Buy,
            px: Px(5100),
            qty: Qty(25 * SHARE),
        },
    );
    for name in ["ws_market_last_trade_msg.json", "ws_last_trade.json"] {
        let (_, out) = ok(&fixture(name));
        assert_eq!(out, vec![trade, end(ts)], "{name}");
    }
}

#[test]
fn best_bid_ask() {
    let ts = 1_766_789_469_958;
    let (_, out) = ok(&fixture("ws_market_best_bid_ask_msg.json"));
    let bba = EventBody::BestBidAsk {
        asset: BBA_Y,
        bid: Some(Px(7300)),
        ask: Some(Px(7700)),
    };
    assert_eq!(out, vec![ev(ts, bba), end(ts)]);
}

#[test]
fn market_resolved_marks_winner_and_loser() {
    let ts = 1_766_790_415_550;
    let (o, out) = ok(&fixture("ws_market_resolved_msg.json"));
    let expected = vec![
        ev(
            ts,
            EventBody::Resolved {
                asset: NVDA_Y,
                won: true,
            },
        ),
        ev(
            ts,
            EventBody::Resolved {
                asset: NVDA_N,
                won: false,
            },
        ),
        end(ts),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(1, 3));
}

#[test]
fn new_market_is_announced() {
    let ts = 1_766_790_415_550;
    let (o, out) = ok(&fixture("ws_market_new_market_msg.json"));
    assert_eq!(out, vec![ev(ts, EventBody::NewMarket), end(ts)]);
    assert_eq!(o, outcome(1, 2));
}

#[test]
fn array_frame_of_books_ends_each_message() {
    let (t0, t1) = (1_757_908_890_000, 1_757_908_890_001);
    let (o, out) = ok(&fixture("ws_array_books.json"));
    let expected = vec![
        snapshot(t0, Y),
        level(t0, Y, Side::Buy, 4800, 30 * SHARE),
        level(t0, Y, Side::Buy, 4900, 20_500_000),
        level(t0, Y, Side::Sell, 5200, 25 * SHARE),
        end(t0),
        snapshot(t1, N),
        level(t1, N, Side::Buy, 4800, 25 * SHARE),
        end(t1),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(2, 8));
}

#[test]
fn array_frame_mixing_hot_and_rare_messages() {
    let (t0, t1) = (1_757_908_893_000, 1_757_908_893_001);
    let (o, out) = ok(&fixture("ws_array_mixed.json"));
    let trade = EventBody::LastTrade {
        asset: N,
        side: Side::Sell,
        px: Px(5200),
        qty: Qty(7 * SHARE),
    };
    let expected = vec![
        level(t0, Y, Side::Buy, 4700, 12_250_000),
        check(t0, Y, Some(4900), Some(5200)),
        end(t0),
        ev(t1, trade),
        end(t1),
    ];
    assert_eq!(out, expected);
    assert_eq!(o, outcome(2, 5));
}

#[test]
fn unregistered_assets_are_counted_not_emitted() {
    for frame in [
        format!(
            r#"{{"event_type":"book","asset_id":"{UNKNOWN}","bids":[{{"price":"0.5","size":"1"}}],"asks":[]}}"#
        ),
        format!(
            r#"{{"event_type":"tick_size_change","asset_id":"{UNKNOWN}","new_tick_size":"0.01"}}"#
        ),
        format!(
            r#"{{"event_type":"price_change","price_changes":[{{"asset_id":"{UNKNOWN}","price":"0.5","size":"1","side":"BUY"}}]}}"#
        ),
        format!(
            r#"{{"event_type":"market_resolved","assets_ids":["{UNKNOWN}"],"winning_asset_id":"{UNKNOWN}"}}"#
        ),
    ] {
        let (o, out) = ok(frame.as_bytes());
        assert!(out.is_empty(), "{frame}: {out:?}");
        assert_eq!(
            o,
            DecodeOutcome {
                messages: 1,
                unknown_assets: 1,
                ..DecodeOutcome::default()
            },
            "{frame}"
        );
    }
}

#[test]
fn unknown_event_types_are_counted_not_errors() {
    let (o, out) = ok(br#"[{"event_type":"something_new","asset_id":"1"},{"x":1}]"#);
    assert!(out.is_empty());
    assert_eq!(
        o,
        DecodeOutcome {
            messages: 2,
            unknown_events: 2,
            ..DecodeOutcome::default()
        }
    );
}

#[test]
fn pong_is_recognised() {
    let (o, out) = ok(b"PONG");
    assert!(out.is_empty());
    assert_eq!(
        o,
        DecodeOutcome {
            pong: true,
            ..DecodeOutcome::default()
        }
    );
}

#[test]
fn empty_array_frame_is_nothing() {
    assert_eq!(ok(b" [ ] ").0, DecodeOutcome::default());
}

/// A price_change for YES with the given entry fields spliced in.
fn yes_change(fields: &str) -> Vec<u8> {
    format!(
        r#"{{"event_type":"price_change","market":"0xdd","price_changes":[{{"asset_id":"{YES}",{fields}}}],"timestamp":"1"}}"#
    )
    .into_bytes()
}

fn err(frame: &[u8]) -> (DecodeError, Vec<Event>) {
    let (result, out) = decode(frame);
    match result {
        Err(e) => (e, out),
        Ok(o) => panic!(
            "expected an error, got {o:?} for {}",
            String::from_utf8_lossy(frame)
        ),
    }
}

#[test]
fn truncated_json_is_not_json_and_marks_the_touched_assets_stale() {
    let frame = fixture("ws_quotes.json");
    let (e, out) = err(&frame[..frame.len() - 20]);
    assert!(matches!(e, DecodeError::NotJson { .. }), "{e:?}");
    assert_eq!(out, vec![stale(Y), stale(N), end(0)]);
}

#[test]
fn bad_numbers_are_typed() {
    let cases: [(&str, &str, NumError); 5] = [
        (
            r#""price":"1.5","size":"1","side":"BUY""#,
            "price",
            NumError::OutOfRange,
        ),
        (
            r#""price":"0.00001","size":"1","side":"BUY""#,
            "price",
            NumError::TooPrecise,
        ),
        (
            r#""price":"0.5","size":"-3","side":"BUY""#,
            "size",
            NumError::Negative,
        ),
        (
            r#""price":"0.5","size":"1","side":"BUY","best_bid":"5e-1""#,
            "best_bid",
            NumError::Garbage,
        ),
        (
            r#""price":"","size":"1","side":"BUY""#,
            "price",
            NumError::Empty,
        ),
    ];
    for (fields, field, source) in cases {
        let (e, out) = err(&yes_change(fields));
        assert_eq!(e, DecodeError::BadNumber { field, source }, "{fields}");
        assert_eq!(out, vec![stale(Y), end(0)], "{fields}");
    }
    let bad_ts = br#"{"event_type":"price_change","price_changes":[],"timestamp":"17x"}"#;
    assert_eq!(
        err(bad_ts).0,
        DecodeError::BadNumber {
            field: "timestamp",
            source: NumError::Garbage
        }
    );
}

#[test]
fn bad_side_is_typed() {
    let (e, _) = err(&yes_change(r#""price":"0.5","size":"1","side":"HOLD""#));
    assert_eq!(e, DecodeError::BadSide { field: "side" });
}

#[test]
fn missing_fields_are_named() {
    let (e, _) = err(br#"{"event_type":"book","bids":[],"asks":[]}"#);
    assert_eq!(e, DecodeError::MissingField { field: "asset_id" });
    let (e, _) = err(&yes_change(r#""price":"0.5","side":"BUY""#));
    assert_eq!(e, DecodeError::MissingField { field: "size" });
    let frame = format!(r#"{{"event_type":"book","asset_id":"{YES}","bids":[]}}"#);
    assert_eq!(
        err(frame.as_bytes()).0,
        DecodeError::MissingField { field: "asks" }
    );
    let (e, _) = err(br#"{"event_type":"price_change","timestamp":"1"}"#);
    assert_eq!(
        e,
        DecodeError::MissingField {
            field: "price_changes"
        }
    );
}

#[test]
fn wrong_types_are_typed() {
    let wrong = |field, expected| DecodeError::WrongType { field, expected };
    let (e, _) = err(&yes_change(r#""price":0.5,"size":"1","side":"BUY""#));
    assert_eq!(e, wrong("price", "a string"));
    let frame = format!(r#"{{"event_type":"book","asset_id":"{YES}","bids":{{}},"asks":[]}}"#);
    assert_eq!(err(frame.as_bytes()).0, wrong("bids", "an array"));
    let frame = r#"{"event_type":"book","asset_id":7132,"bids":[],"asks":[]}"#;
    assert_eq!(err(frame.as_bytes()).0, wrong("asset_id", "a string"));
    assert_eq!(
        err(b"42").0,
        wrong("frame", "an object or an array of objects")
    );
    assert_eq!(err(b"[1]").0, wrong("message", "an object"));
    assert_eq!(
        err(br#"{"event_type":7}"#).0,
        wrong("event_type", "a string")
    );
}

#[test]
fn a_bad_message_rolls_back_to_its_start_and_keeps_earlier_messages() {
    let good = fixture("ws_market_price_change_msg.json");
    let good = String::from_utf8(good).unwrap();
    let bad = format!(
        r#"{{"event_type":"price_change","price_changes":[{{"asset_id":"{NO}","price":"0.4","size":"1","side":"SELL"}},{{"asset_id":"{NVDA_YES}","price":"1.5","size":"1","side":"SELL"}}],"timestamp":"2"}}"#
    );
    let frame = format!("[{good},{bad}]");
    let mut out = vec![end(99)];
    let result = MarketDecoder::new().decode(frame.as_bytes(), &registry(), &mut out);
    assert_eq!(
        result,
        Err(DecodeError::BadNumber {
            field: "price",
            source: NumError::OutOfRange
        })
    );
    let ts = 1_703_875_201_000;
    let expected = vec![
        end(99),
        level(ts, Y, Side::Buy, 5100, 150 * SHARE),
        check(ts, Y, Some(5100), Some(5200)),
        end(ts),
        stale(Y),
        stale(N),
        stale(NVDA_Y),
        end(0),
    ];
    assert_eq!(out, expected);
}

#[test]
fn garbage_with_no_known_token_adds_nothing() {
    let mut out = vec![end(5)];
    let result =
        MarketDecoder::new().decode(b"\x00\xffnot json 1703875201000", &registry(), &mut out);
    assert!(
        matches!(result, Err(DecodeError::NotJson { .. })),
        "{result:?}"
    );
    assert_eq!(out, vec![end(5)]);
}

#[test]
fn the_scanner_takes_every_hot_fixture_and_agrees_with_the_general_path() {
    let hot = [
        "ws_market_book_msg.json",
        "ws_book_snapshot.json",
        "clob_book_response.json",
        "ws_book_buys_sells.json",
        "ws_book_20_levels.json",
        "ws_market_price_change_msg.json",
        "ws_quotes.json",
        "ws_price_change_multi_asset.json",
        "ws_price_change_two_assets.json",
        "ws_array_books.json",
    ];
    let r = registry();
    for name in hot {
        let frame = fixture(name);
        let mut fast = Vec::new();
        let scanned = scan_hot(&frame, &r, &mut fast);
        let mut general = Vec::new();
        let slow = MarketDecoder::new().decode_general(&frame, &r, &mut general);
        assert_eq!(scanned, Some(slow.unwrap()), "{name}");
        assert_eq!(fast, general, "{name}");
    }
}

#[test]
fn the_scanner_declines_rare_and_mixed_frames_leaving_out_untouched() {
    let r = registry();
    for name in [
        "ws_market_tick_size_msg.json",
        "ws_market_new_market_msg.json",
        "ws_array_mixed.json",
    ] {
        let mut out = vec![end(1)];
        assert_eq!(scan_hot(&fixture(name), &r, &mut out), None, "{name}");
        assert_eq!(out, vec![end(1)], "{name}");
    }
}

#[test]
fn the_decoder_reuses_its_buffers_across_frames() {
    let r = registry();
    let mut decoder = MarketDecoder::new();
    let mut out = Vec::new();
    for name in [
        "ws_market_new_market_msg.json",
        "ws_quotes.json",
        "ws_market_resolved_msg.json",
    ] {
        for _ in 0..3 {
            out.clear();
            let reused = decoder.decode(&fixture(name), &r, &mut out);
            let mut fresh_out = Vec::new();
            let fresh = MarketDecoder::new().decode(&fixture(name), &r, &mut fresh_out);
            assert_eq!(reused, fresh, "{name}");
            assert_eq!(out, fresh_out, "{name}");
        }
    }
}

/// Values the structured generator draws from: valid and invalid alike.
const PRICES: &[&str] = &[
    "0.5", "0.48", "0.0001", "1", "0", "1.5", "0.00001", "-0.1", "", "5e-1",
];
const SIZES: &[&str] = &[
    "200",
    "0",
    "12.25",
    "0.000001",
    "-5",
    "1e3",
    "18446744073709.551616",
];
const SIDES: &[&str] = &["BUY", "SELL", "buy", "HOLD"];
const ASSETS: &[&str] = &[YES, NO, UNKNOWN, ""];
const STAMPS: &[&str] = &["1757908892351", "", "17x"];

fn pick(values: &'static [&'static str], valid: usize) -> impl Strategy<Value = &'static str> {
    (0..values.len(), 0..valid)
        .prop_map(move |(any, ok)| values[if any < valid { any } else { ok }])
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// Renders members as a JSON object; `pretty` uses newlines and spaces.
fn object(members: &[(String, String)], pretty: bool) -> String {
    let (sep, colon) = if pretty { (",\n  ", ": ") } else { (",", ":") };
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}{colon}{v}", q(k)))
        .collect();
    if pretty {
        format!("{{\n  {}\n}}", body.join(sep))
    } else {
        format!("{{{}}}", body.join(sep))
    }
}

fn array(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// A `book` row or a `price_change` entry; `valid` limits values to ones that decode.
fn row(change: bool, valid: bool) -> impl Strategy<Value = Vec<(String, String)>> {
    let n = |len: usize, ok: usize| if valid { ok } else { len };
    (
        pick(PRICES, n(PRICES.len(), 5)),
        pick(SIZES, n(SIZES.len(), 4)),
        pick(SIDES, n(SIDES.len(), 3)),
        pick(ASSETS, n(ASSETS.len(), 3)),
        prop::option::of(pick(PRICES, n(PRICES.len(), 5))),
        prop::option::of(pick(PRICES, n(PRICES.len(), 5))),
    )
        .prop_map(move |(px, size, side, asset, bid, ask)| {
            let mut m = vec![("price".to_string(), q(px)), ("size".to_string(), q(size))];
            if change {
                m.insert(0, ("asset_id".into(), q(asset)));
                m.push(("side".into(), q(side)));
                m.push(("hash".into(), q("0xabc")));
                if let Some(b) = bid {
                    m.push(("best_bid".into(), q(b)));
                }
                if let Some(a) = ask {
                    m.push(("best_ask".into(), q(if a == "0.5" { "" } else { a })));
                }
            }
            m
        })
}

/// One `book` or `price_change` message with shuffled keys; `valid` keeps it decodable.
fn message(valid: bool) -> impl Strategy<Value = String> {
    let n = |len: usize, ok: usize| if valid { ok } else { len };
    (
        any::<bool>(),
        prop::option::of(any::<bool>()),
        pick(ASSETS, n(ASSETS.len(), 3)),
        pick(STAMPS, n(STAMPS.len(), 1)),
        any::<bool>(),
        prop::collection::vec(row(false, valid), 0..4),
        prop::collection::vec(row(false, valid), 0..4),
        prop::collection::vec(row(true, valid), 0..4),
        any::<bool>(),
        0u8..if valid { 3 } else { 6 },
    )
        .prop_flat_map(
            move |(book, typed, asset, ts, older, bids, asks, changes, pretty, oddity)| {
                let rows = |rs: &[Vec<(String, String)>]| {
                    array(&rs.iter().map(|r| object(r, false)).collect::<Vec<_>>())
                };
                let mut m = vec![
                    ("market".to_string(), q("0xdd22")),
                    ("timestamp".into(), q(ts)),
                ];
                if book {
                    m.push(("asset_id".into(), q(asset)));
                    m.push((if older { "buys" } else { "bids" }.into(), rows(&bids)));
                    m.push((if older { "sells" } else { "asks" }.into(), rows(&asks)));
                } else {
                    m.push(("price_changes".into(), rows(&changes)));
                }
                if let Some(matching) = typed {
                    let kind = match (book, matching || valid) {
                        (true, true) | (false, false) => "book",
                        (false, true) | (true, false) => "price_change",
                    };
                    m.push(("event_type".into(), q(kind)));
                }
                match oddity {
                    1 => m.push(("neg_risk".into(), "false".into())),
                    2 => m.push(("fee".into(), "null".into())),
                    3 => m.push(("market".into(), q("0x\\u0041"))),
                    4 => m.push(("min_order_size".into(), "5".into())),
                    5 => m.push(("price_changes".into(), "[]".into())),
                    _ => {}
                }
                (Just(m).prop_shuffle(), Just(pretty), Just(valid))
            },
        )
        .prop_map(|(mut m, pretty, valid)| {
            if valid {
                let at = |k: &str| m.iter().position(|(key, _)| key == k);
                if let (Some(b), Some(a)) = (at("bids").or(at("buys")), at("asks").or(at("sells")))
                    && a < b
                {
                    m.swap(a, b);
                }
            }
            object(&m, pretty)
        })
}

/// A frame of one to three messages, bare or as an array.
fn frame(valid: bool) -> impl Strategy<Value = String> {
    (prop::collection::vec(message(valid), 1..4), any::<bool>()).prop_map(|(msgs, bare)| {
        if bare && msgs.len() == 1 {
            msgs[0].clone()
        } else {
            array(&msgs)
        }
    })
}

/// Runs both paths and checks they agree; returns whether the scanner took the frame.
fn both_paths_agree(frame: &[u8]) -> Result<bool, TestCaseError> {
    let r = registry();
    let mut decoder = MarketDecoder::new();
    let mut general = vec![end(7)];
    let slow = decoder.decode_general(frame, &r, &mut general);
    let mut full = vec![end(7)];
    let result = decoder.decode(frame, &r, &mut full);
    prop_assert_eq!(&result, &slow);
    prop_assert_eq!(&full, &general);
    let mut fast = vec![end(7)];
    let scanned = scan_hot(frame, &r, &mut fast);
    match scanned {
        Some(o) => {
            prop_assert_eq!(Ok(o), slow);
            prop_assert_eq!(fast, general);
        }
        None => prop_assert_eq!(fast, vec![end(7)]),
    }
    Ok(scanned.is_some())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn scanner_takes_valid_hot_frames_and_matches_the_general_path(frame in frame(true)) {
        prop_assert!(both_paths_agree(frame.as_bytes())?, "scanner declined {}", frame);
    }

    #[test]
    fn both_paths_agree_on_noisy_hot_frames(frame in frame(false)) {
        both_paths_agree(frame.as_bytes())?;
    }

    #[test]
    fn both_paths_agree_on_truncated_frames(frame in frame(false), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(frame.len());
        both_paths_agree(&frame.as_bytes()[..cut])?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        both_paths_agree(&bytes)?;
    }
}
