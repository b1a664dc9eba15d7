//! End to end on loopback: the embedded venue and the whole bot, checked against the venue's
//! true books and its ledger, in the clean scenario, under injected feed and execution faults,
//! and in the arbitrage scenarios.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pmbot::bot::settings::{Overlay, Settings};
use pmbot::tools::demo::{self, DemoArgs};
use serde_json::Value;

/// The dev settings with the scenario's own overrides, as `pmbot demo --scenario` loads them.
fn settings(scenario: &str) -> Settings {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load(
        &config,
        &Overlay::Profile("dev".into()),
        std::iter::empty::<(String, String)>(),
        &demo::scenario_overrides(scenario),
    )
    .expect("the shipped dev configuration loads")
}

fn run(scenario: &str, duration: Duration, dir: &str) -> Value {
    let report_dir: PathBuf =
        std::env::temp_dir().join(format!("pmbot-e2e-{dir}-{}", std::process::id()));
    let json_path = report_dir.join("report.json");
    std::fs::create_dir_all(&report_dir).unwrap();
    let args = DemoArgs {
        scenario: scenario.into(),
        duration,
        report_json: Some(json_path.clone()),
        report_dir: report_dir.clone(),
    };
    demo::run(&settings(scenario), &args).expect("the demo runs to the end");
    let written: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert!(report_dir.join("rx_to_core.hgrm").exists());
    assert!(report_dir.join("latency.svg").exists());
    std::fs::remove_dir_all(&report_dir).ok();
    written
}

#[test]
fn clean_stream_keeps_every_book_equal_to_the_venue() {
    let r = run("default", Duration::from_secs(2), "clean");
    let feed = &r["feeds"]["polymarket_market"];
    assert!(feed["frames"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(feed["decode_errors"], 0, "{r}");
    assert!(
        r["books"]["checked_against_venue"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert_eq!(r["books"]["mismatches"], 0, "{r}");
    assert!(
        r["latency_ns"]["rx_to_core"]["count"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert!(
        r["state_hash"].as_str().is_some_and(|h| h.len() == 16),
        "{r}"
    );
}

#[test]
fn faults_are_survived_with_reconnects_stalls_and_resyncs() {
    let r = run("faults", Duration::from_secs(4), "faults");
    let feed = &r["feeds"]["polymarket_market"];
    assert!(feed["reconnects"].as_u64().unwrap() > 0, "{r}");
    assert!(feed["stalls"].as_u64().unwrap() > 0, "{r}");
    assert!(feed["resyncs"].as_u64().unwrap() > 0, "{r}");
    assert!(feed["decode_errors"].as_u64().unwrap() > 0, "{r}");
    assert!(feed["unknown_events"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["books"]["mismatches"], 0, "{r}");
    assert!(
        r["books"]["checked_against_venue"].as_u64().unwrap() > 0,
        "{r}"
    );
}

#[test]
fn identical_runs_end_in_identical_state() {
    let a = run("default", Duration::from_secs(1), "hash-a");
    let b = run("default", Duration::from_secs(1), "hash-b");
    assert_eq!(a["state_hash"], b["state_hash"]);
    assert_eq!(a["books"]["mismatches"], 0);
}

#[test]
fn pair_arb_windows_become_intents_and_the_augmented_event_is_skipped() {
    let r = run("pair-arb", Duration::from_secs(3), "pair-arb");
    let s = &r["strategy"];
    assert!(s["opportunities"].as_u64().unwrap() > 0, "{r}");
    assert!(s["intents"].as_u64().unwrap() > 0, "{r}");
    assert!(
        s["skipped_by_reason"]["augmented"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert!(
        r["latency_ns"]["core_to_intent"]["count"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert_eq!(r["risk"]["halts"], 0, "{r}");
    assert_eq!(r["books"]["mismatches"], 0, "{r}");
    let e = &r["execution"];
    assert!(
        e["fills"].as_u64().unwrap() > 0,
        "the windows are traded: {r}"
    );
    let venue = &r["venue_exec"];
    assert_eq!(
        e["orders_sent"].as_u64().unwrap(),
        venue["orders_accepted"].as_u64().unwrap() + venue["orders_rejected"].as_u64().unwrap(),
        "every order sent reached the venue once: {r}"
    );
    assert_eq!(venue["duplicate_orders"], 0, "{r}");
    assert!(
        e["balance_checks"].as_u64().unwrap() >= 1,
        "the stop reconciles: {r}"
    );
    assert_eq!(e["balance_mismatches"], 0, "{r}");
    assert!(
        e["share_checks"].as_u64().unwrap() >= 2,
        "the stop reads both legs' share balances: {r}"
    );
    assert_eq!(e["share_mismatches"], 0, "{r}");
    assert!(r["positions_checked"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["positions_mismatches"], 0, "{r}");
    assert!(
        !r["positions"].as_object().unwrap().is_empty(),
        "bought legs are held: {r}"
    );
    for segment in ["intent_to_wire", "tick_to_trade"] {
        assert_eq!(
            r["latency_ns"][segment]["count"], e["orders_sent"],
            "one {segment} sample per order: {r}"
        );
    }
    assert!(
        r["feeds"]["polymarket_market"]["fee_changes"]
            .as_u64()
            .unwrap()
            >= 1,
        "the venue's fee rise reaches the core: {r}"
    );
}

#[test]
fn maker_pair_posts_and_requotes() {
    let r = run("maker-pair", Duration::from_secs(6), "maker-pair");
    let maker = &r["strategy"]["maker"];
    assert!(maker["quotes_placed"].as_u64().unwrap() >= 2, "{r}");
    assert!(
        maker["quote_cancels"].as_u64().unwrap() > 0,
        "requotes: {r}"
    );
    assert_eq!(r["strategy"]["opportunities"], 0, "taker mode is off: {r}");
    assert_eq!(r["books"]["mismatches"], 0, "{r}");
}

#[test]
fn execution_faults_resolve_every_unknown_order_without_resending() {
    let r = run("exec-faults", Duration::from_secs(6), "exec-faults");
    let e = &r["execution"];
    let venue = &r["venue_exec"];
    assert!(
        venue["lost_responses"].as_u64().unwrap() + venue["http_5xx"].as_u64().unwrap() > 0,
        "faults were injected: {r}"
    );
    assert!(e["unknown_resolved"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(venue["duplicate_orders"], 0, "nothing was resent: {r}");
    assert!(e["fills"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["positions_mismatches"], 0, "{r}");
    assert_eq!(
        r["risk"]["halts"], 0,
        "every unknown order was resolved in time: {r}"
    );
    assert_eq!(r["books"]["mismatches"], 0, "{r}");
}
