//! `pmbot arb evaluate` on the saved snapshot in tests/fixtures/arb/: every window and every skip,
//! with each figure worked out by hand below, and the refusal of bad input.
//!
//! `min_edge` (0.01) and `max_sets` (500) come from config/base.yaml through the dev profile; the
//! margin is always passed with `--margin`. Fees are `C × 0.03 × p(1−p)` per level, floored to
//! 0.00001; the size is the largest whole lot (0.01) whose every lot earns the margin per set
//! after the exact, unfloored fee. The venue lists levels worst first; below, best first.
//! Limit prices print in their shortest form (`0.5`), money with six decimals.
//!
//! # events.json and books.json
//! - 900001, fee-free binary (tick 0.01). YES 11…01 asks 30@0.45, 50@0.47, 100@0.60, bid
//!   10@0.40; NO 11…02 asks 40@0.50, 100@0.52, bid 10@0.48. A pair costs 0.95 over depth
//!   0..30, 0.97 over 30..40, 0.99 over 40..80, then 1.12. Selling both: 0.40 + 0.48 < 1.
//! - 900002, esports binary (fee rate 0.03, exponent 1, tick 0.001). YES 12…01 asks 10@0.400,
//!   20@0.450, 100@0.470, bid 5@0.380; NO 12…02 asks 12@0.520, 50@0.530, bid 5@0.500.
//!   Exact fees per share: 0.40 → 0.0072, 0.45 → 0.007425, 0.47 → 0.007473, 0.52 → 0.007488,
//!   0.53 → 0.007473. A pair costs 0.4072 + 0.527488 = 0.934688 (earns 0.065312) over 0..10,
//!   0.457425 + 0.527488 = 0.984913 (earns 0.015087) over 10..12, 0.457425 + 0.537473 =
//!   0.994898 (earns 0.005102) over 12..30, then 0.477473 + 0.537473 = 1.014946 (loses).
//! - 900003, complete neg-risk event of A (13…), B (14…), C (15…), fee-free. YES asks A 20@0.30,
//!   40@0.32; B 50@0.25; C 15@0.40, 30@0.41, 100@0.45. A set costs 0.95 over 0..15, 0.96 over
//!   15..20, 0.98 over 20..45, then 1.02. NO asks 0.72 + 0.77 + 0.62 = 2.11 > 2 (a NO set pays
//!   N − 1 = 2). Each market as a binary: asks sum to 1.02, bids (0.28 + 0.68, 0.23 + 0.73,
//!   0.38 + 0.58) to 0.96: nothing.
//! - 900004, augmented neg-risk event of D (16…), E (17…): YES asks 0.40 + 0.45 = 0.85 < 1, but
//!   the outcome list may still grow, so it is no complete set. Binaries: asks 1.02, bids 0.96.
//! - 900005: its market sends `acceptingOrders: "yes"`; Gamma parsing excludes it, and the book
//!   of its token 18…01 is ignored.
//! - 900006, complete neg-risk event of F (0x66…, 19…) and G (0x77…, 20…): G's NO book (20…02)
//!   is missing, so G and the event are skipped (its YES sum 0.35 + 0.60 would be a window).
//!   F as a binary: asks 0.35 + 0.68 = 1.03, bids 0.30 + 0.60 = 0.90.

use std::process::{Command, Output};

use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arb/");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}{name}")
}

fn pmbot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `arb evaluate` on `markets` and `books` with `extra` arguments.
fn evaluate_files(markets: &str, books: &str, extra: &[&str]) -> Output {
    let (markets, books) = (fixture(markets), fixture(books));
    let mut args = vec!["arb", "evaluate", "--markets", &markets, "--books", &books];
    args.extend_from_slice(extra);
    pmbot(&args)
}

/// Evaluates the saved snapshot and returns its JSON.
fn evaluate(extra: &[&str]) -> Value {
    let out = evaluate_files("events.json", "books.json", extra);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A condition id: `0x` and 64 times `digit`.
fn condition(digit: char) -> String {
    format!("0x{}", digit.to_string().repeat(64))
}

/// A buy-side opportunity: `legs` are (token id, limit price), every leg trading `size`;
/// `figures` are cost, fees, payoff and edge.
fn buy(
    kind: &str,
    event: &str,
    markets: &[char],
    size: &str,
    figures: [&str; 4],
    legs: &[(&str, &str)],
) -> Value {
    let [cost, fees, payoff, edge] = figures;
    json!({
        "kind": kind,
        "event": event,
        "markets": markets.iter().map(|&d| condition(d)).collect::<Vec<_>>(),
        "size": size,
        "cost": cost,
        "fees": fees,
        "payoff": payoff,
        "edge": edge,
        "legs": legs.iter().map(|(token, limit)| json!({
            "token_id": token,
            "side": "BUY",
            "limit_price": limit,
            "size": size,
        })).collect::<Vec<_>>(),
    })
}

fn skip(event: &str, markets: &[char], reason: &str) -> Value {
    let markets: Vec<String> = markets.iter().map(|&d| condition(d)).collect();
    json!({"event": event, "market": markets.join(","), "reason": reason})
}

const PARIS: [&str; 2] = ["11000000000000000001", "11000000000000000002"];
const ESPORTS: [&str; 2] = ["12000000000000000001", "12000000000000000002"];
const MAYOR_YES: [&str; 3] = [
    "13000000000000000001",
    "14000000000000000001",
    "15000000000000000001",
];

fn paris(size: &str, figures: [&str; 4], limits: [&str; 2]) -> Value {
    let legs = [(PARIS[0], limits[0]), (PARIS[1], limits[1])];
    buy("binary_buy_both", "900001", &['1'], size, figures, &legs)
}

fn esports(size: &str, figures: [&str; 4], limits: [&str; 2]) -> Value {
    let legs = [(ESPORTS[0], limits[0]), (ESPORTS[1], limits[1])];
    buy("binary_buy_both", "900002", &['2'], size, figures, &legs)
}

fn mayor(size: &str, figures: [&str; 4], limits: [&str; 3]) -> Value {
    let legs: Vec<_> = MAYOR_YES.into_iter().zip(limits).collect();
    buy(
        "negrisk_yes_sum",
        "900003",
        &['a', 'b', 'c'],
        size,
        figures,
        &legs,
    )
}

/// The windows at margin 0.005 per set.
/// 900001: every segment up to 80 earns ≥ 0.005 (the last 0.01), 80.. loses: size 80.
///   YES 30 × 0.45 + 50 × 0.47 = 13.50 + 23.50 = 37.00, limit 0.47;
///   NO 40 × 0.50 + 40 × 0.52 = 20.00 + 20.80 = 40.80, limit 0.52.
///   cost 77.80, fees 0, payoff 80, edge 2.20 (= 30 × 0.05 + 10 × 0.03 + 40 × 0.01).
/// 900002: 12..30 earns 0.005102 ≥ 0.005, 30.. loses: size 30.
///   YES 10 × 0.40 = 4.00, fee 10 × 0.0072 = 0.072; 20 × 0.45 = 9.00, fee 20 × 0.007425
///     = 0.1485. Notional 13.00, fees 0.2205, limit 0.45.
///   NO 12 × 0.52 = 6.24, fee 12 × 0.007488 = 0.089856 → 0.08985; 18 × 0.53 = 9.54, fee
///     18 × 0.007473 = 0.134514 → 0.13451. Notional 15.78, fees 0.22436, limit 0.53.
///   cost 28.78, fees 0.44486, payoff 30, edge 30 − 28.78 − 0.44486 = 0.77514 (the exact
///   10 × 0.065312 + 2 × 0.015087 + 18 × 0.005102 = 0.77513, plus 0.00001 the floors left).
/// 900003: 20..45 earns 0.02, 45.. loses: size 45.
///   A 20 × 0.30 + 25 × 0.32 = 6.00 + 8.00 = 14.00, limit 0.32; B 45 × 0.25 = 11.25, limit
///   0.25; C 15 × 0.40 + 30 × 0.41 = 6.00 + 12.30 = 18.30, limit 0.41.
///   cost 43.55, fees 0, payoff 45, edge 1.45 (= 15 × 0.05 + 5 × 0.04 + 25 × 0.02).
/// All three edges pass min_edge 0.01; all sizes are under max_sets 500 and over the
/// minimum order size 5.
fn windows_at_margin_0_005() -> [Value; 3] {
    [
        paris(
            "80",
            ["77.800000", "0.000000", "80.000000", "2.200000"],
            ["0.47", "0.52"],
        ),
        esports(
            "30",
            ["28.780000", "0.444860", "30.000000", "0.775140"],
            ["0.45", "0.53"],
        ),
        mayor(
            "45",
            ["43.550000", "0.000000", "45.000000", "1.450000"],
            ["0.32", "0.25", "0.41"],
        ),
    ]
}

/// The skips, whatever the margin: Gamma's exclusions first, then markets, then events (each in
/// file order).
fn skips() -> Value {
    let missing = "missing_book (no book for token 20000000000000000002)";
    json!([
        skip(
            "900005",
            &['5'],
            "acceptingOrders: \"yes\" is not true or false"
        ),
        skip("900006", &['7'], missing),
        skip("900004", &['d', 'e'], "augmented"),
        skip("900006", &['6', '7'], missing),
    ])
}

#[test]
fn every_window_and_every_skip_of_the_snapshot_is_reported_exactly() {
    let expected = json!({"opportunities": windows_at_margin_0_005(), "skipped": skips()});
    assert_eq!(evaluate(&["--margin", "0.005"]), expected);
}

#[test]
fn a_larger_margin_stops_each_walk_at_the_first_segment_below_it() {
    // Margin 0.02 per set.
    // 900001: 40..80 earns 0.01 < 0.02: size 40. YES 30 × 0.45 + 10 × 0.47 = 13.50 + 4.70 =
    //   18.20, limit 0.47; NO 40 × 0.50 = 20.00, limit 0.50. cost 38.20, edge 1.80.
    // 900002: 10..12 earns 0.015087 < 0.02: size 10. YES 10 × 0.40 = 4.00, fee 0.072, limit
    //   0.40; NO 10 × 0.52 = 5.20, fee 10 × 0.007488 = 0.07488, limit 0.52. cost 9.20, fees
    //   0.14688, edge 10 − 9.20 − 0.14688 = 0.65312.
    // 900003: 20..45 earns exactly 0.02, which still qualifies: size 45 as before.
    let out = evaluate(&["--margin", "0.02"]);
    let expected = json!([
        paris(
            "40",
            ["38.200000", "0.000000", "40.000000", "1.800000"],
            ["0.47", "0.5"],
        ),
        esports(
            "10",
            ["9.200000", "0.146880", "10.000000", "0.653120"],
            ["0.4", "0.52"],
        ),
        windows_at_margin_0_005()[2].clone(),
    ]);
    assert_eq!(out["opportunities"], expected);
}

#[test]
fn max_sets_and_min_edge_come_from_the_configuration() {
    // max_sets 20, margin 0.005: every window is capped at 20 sets.
    // 900001: YES 20 × 0.45 = 9.00, limit 0.45; NO 20 × 0.50 = 10.00, limit 0.50. cost 19.00,
    //   edge 1.00.
    // 900002: YES 10 × 0.40 + 10 × 0.45 = 8.50, fees 0.072 + 10 × 0.007425 = 0.14625, limit
    //   0.45; NO 12 × 0.52 + 8 × 0.53 = 6.24 + 4.24 = 10.48, fees 0.08985 + (8 × 0.007473 =
    //   0.059784 → 0.05978) = 0.14963, limit 0.53. cost 18.98, fees 0.29588, edge 20 − 18.98 −
    //   0.29588 = 0.72412.
    // 900003: A 20 × 0.30 = 6.00; B 20 × 0.25 = 5.00; C 15 × 0.40 + 5 × 0.41 = 8.05, limits
    //   0.30, 0.25, 0.41. cost 19.05, edge 0.95.
    let capped = evaluate(&[
        "--margin",
        "0.005",
        "--set",
        "strategy.pair_arb.max_sets=20",
    ]);
    let expected = json!([
        paris(
            "20",
            ["19.000000", "0.000000", "20.000000", "1.000000"],
            ["0.45", "0.5"],
        ),
        esports(
            "20",
            ["18.980000", "0.295880", "20.000000", "0.724120"],
            ["0.45", "0.53"],
        ),
        mayor(
            "20",
            ["19.050000", "0.000000", "20.000000", "0.950000"],
            ["0.3", "0.25", "0.41"],
        ),
    ]);
    assert_eq!(capped["opportunities"], expected);

    // min_edge 1.45, margin 0.005: 900002's edge 0.77514 falls short and is dropped without a
    // skip; 900003's edge of exactly 1.45 is kept, and 900001's 2.20.
    let picky = evaluate(&[
        "--margin",
        "0.005",
        "--set",
        "strategy.pair_arb.min_edge=1.45",
    ]);
    let [paris, _, mayor] = windows_at_margin_0_005();
    assert_eq!(
        picky,
        json!({"opportunities": [paris, mayor], "skipped": skips()})
    );
}

/// Asserts exit code 2 and a message naming `file` and saying `problem`.
fn assert_refused(out: &Output, file: &str, problem: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(stderr.contains(&fixture(file)), "{stderr}");
    assert!(stderr.contains(problem), "{stderr}");
}

#[test]
fn missing_files_are_refused_by_name() {
    let out = evaluate_files("events.json", "no_such_books.json", &["--margin", "0"]);
    assert_refused(&out, "no_such_books.json", "No such file");
    let out = evaluate_files("no_such_events.json", "books.json", &["--margin", "0"]);
    assert_refused(&out, "no_such_events.json", "No such file");
}

#[test]
fn malformed_files_are_refused_by_name() {
    // A download cut short.
    let out = evaluate_files("events.json", "books_truncated.json", &["--margin", "0"]);
    assert_refused(&out, "books_truncated.json", "not valid JSON");
    // One event (Gamma's /events/{id}) instead of an /events array.
    let out = evaluate_files("event_object.json", "books.json", &["--margin", "0"]);
    assert_refused(&out, "event_object.json", "expected a JSON array of events");
    // A Gamma document where the books belong: refused, not read as no books at all.
    let out = evaluate_files("events.json", "events.json", &["--margin", "0"]);
    assert_refused(&out, "events.json", "entry #0 is not a book");
}

#[test]
fn a_negative_margin_is_refused() {
    let out = evaluate_files("events.json", "books.json", &["--margin=-0.01"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("must not be negative"), "{stderr}");
}
