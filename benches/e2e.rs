//! `tick_to_trade` end to end on loopback, as an HDR distribution: the embedded venue streams a
//! book whose arbitrage windows open every 47 ms, and the whole bot (market feed thread, ring,
//! strategy thread, ring, execution thread with the live sink) trades them over real sockets.
//! Each sample is one order: from the read of the frame that opened the window (`t_rx`) to the
//! moment its `POST /orders` bytes were handed to the socket (`t_wire`). `intent_to_wire` (the
//! execution thread's share) is printed beside it.
//!
//! The venue runs in the same process on the same cores, and the pre-signed ladder rarely holds
//! the exact size a window offers, so most samples include one signature per leg.
//!
//! Run with `cargo bench --bench e2e`; the `.hgrm` files land in `target/e2e/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pmbot::bot::settings::{Overlay, Settings};
use pmbot::tools::demo::{self, DemoArgs};

/// Windows in the run (two orders each).
const WINDOWS: u64 = 200;
/// Stream length: 30,000 steps at 3,000 per second.
const STEPS: u64 = 30_000;

/// Eight fee-free binary markets; window `i` opens on market `i % 8` at step `100 + 140 i` and
/// is closed by a competing taker 70 steps later, so each market rests 1.1 s between windows
/// (longer than the strategy's cooldown).
fn scenario() -> String {
    let windows: String = (0..WINDOWS)
        .map(|i| {
            format!(
                "  - {{at_step: {}, kind: binary_buy, target: {}, gap_ticks: 3, size: 20, close_after: 70}}\n",
                100 + 140 * i,
                i % 8
            )
        })
        .collect();
    format!(
        "seed: 7\n\
         universe:\n  binary:\n    - {{count: 8, tick: 0.01}}\n  min_order_size: 5\n\
         dynamics:\n  steps: {STEPS}\n  rate_per_sec: 3000\n  checkpoint_every: 10000\n  \
         levels_per_side: 8\n  mix: {{price_change: 85, book: 2, last_trade_price: 8, best_bid_ask: 5}}\n\
         windows:\n{windows}\
         trading:\n  faucet_usdc: \"1000000\"\n"
    )
}

fn main() {
    let out: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    let scenario = out.join("tick-to-trade.yaml");
    std::fs::write(&scenario, self::scenario()).unwrap();
    let settings = Settings::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &Overlay::Profile("dev".into()),
        std::iter::empty::<(String, String)>(),
        &[],
    )
    .unwrap();
    let args = DemoArgs {
        scenario: scenario.display().to_string(),
        duration: Duration::from_secs(10),
        report_json: Some(out.join("report.json")),
        report_dir: out.clone(),
    };
    let report = demo::run(&settings, &args).expect("the run completes");
    let json = report.json();
    assert_eq!(
        json["positions_mismatches"], 0,
        "the bot ends with the venue's positions"
    );
    println!();
    for segment in ["tick_to_trade", "intent_to_wire", "rx_to_core"] {
        let s = &json["latency_ns"][segment];
        println!(
            "{segment:<15} n={:<6} p50={:>8} ns  p90={:>8} ns  p99={:>8} ns  p99.9={:>8} ns  max={:>9} ns",
            s["count"], s["p50"], s["p90"], s["p99"], s["p999"], s["max"]
        );
    }
    println!(
        "fills {}, presign hits {} / misses {}; HDR files in {}",
        json["execution"]["fills"],
        json["execution"]["presign_hits"],
        json["execution"]["presign_misses"],
        out.display()
    );
}
