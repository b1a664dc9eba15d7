//! `tick_to_trade` end to end on loopback, as HDR distributions: from the read of the frame that
//! opened an arbitrage window (`t_rx`) to the return of the write that handed the `POST /orders`
//! carrying its legs to the socket (`t_wire`), one sample per order. One run measures, in turn:
//!
//! - **floor**: what a single order-sized write to a loopback socket costs its writer when the
//!   reader sleeps (the kernel delivers the bytes and wakes the reader inside the call). Every
//!   loopback `t_wire` pays it; a venue on another host would not.
//! - **lean**, the bot's hot path on an otherwise idle box: the market feed thread (parked on
//!   its socket), the strategy thread and the execution thread with the live sink (both spinning,
//!   pinned to a core each) against a minimal peer whose threads share the strategy's core. One
//!   peer thread writes market-channel frames: books, then windows on four fee-free markets in
//!   turn, each one price change that takes YES + NO asks to 0.97. It waits for the order and
//!   then closes the window. A stub order endpoint answers every order `unmatched`.
//! - **demo**, the whole bot against the embedded venue in the same process on the same cores:
//!   the venue streams 3,000 book messages a second, matches the orders, verifies their
//!   signatures and runs the user channel. A window opens every 47 ms.
//!
//! Run with `cargo bench --bench e2e`; the `.hgrm` files land in `target/e2e/{lean,demo}/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{Receiver, Sender};
use pmbot::bot::clock::Clock;
use pmbot::bot::latency::{Segment, Summary};
use pmbot::bot::metrics::Metrics;
use pmbot::bot::pipeline::Pipeline;
use pmbot::tools::demo::{self, DemoArgs};
use pmbot::tools::session;
use tungstenite::{Message, WebSocket};

// Shared with the tests; this bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/support/stub_clob.rs"]
mod stub_clob;

/// Markets the lean peer opens windows on, in turn.
const LEAN_MARKETS: usize = 4;
/// Windows in the lean run (two orders each).
const LEAN_WINDOWS: usize = 1_500;
/// Quiet time before each lean window (the strategy's cooldown is set below it).
const LEAN_GAP: Duration = Duration::from_millis(8);

/// Windows in the demo run (two orders each).
const DEMO_WINDOWS: u64 = 200;
/// Demo stream length: 30,000 steps at 3,000 per second.
const DEMO_STEPS: u64 = 30_000;

/// The segments printed for each run.
const SEGMENTS: [Segment; 4] = [
    Segment::TickToTrade,
    Segment::IntentToWire,
    Segment::CoreToIntent,
    Segment::RxToCore,
];

fn main() {
    let out: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e");
    let floor = loopback_write_floor();
    let lean = lean(&out.join("lean"));
    let demo = demo(&out.join("demo"));
    println!();
    print_row("floor", "loopback_write", &floor);
    for (name, rows) in [("lean", lean), ("demo", demo)] {
        for (segment, s) in SEGMENTS.iter().zip(rows) {
            print_row(name, segment.as_str(), &s);
        }
    }
    println!("HDR files in {}", out.display());
}

fn print_row(run: &str, what: &str, s: &Summary) {
    println!(
        "{run:<5} {what:<15} n={:<6} p50={:>8} ns  p90={:>8} ns  p99={:>8} ns  p99.9={:>8} ns  max={:>9} ns",
        s.count, s.p50, s.p90, s.p99, s.p999, s.max
    );
}

/// Writes timed for the floor.
const FLOOR_WRITES: usize = 3_000;

/// What one write of an order-sized request (1,709 bytes, a two-leg `POST /orders`) costs the
/// writer on loopback when the reader sleeps in `read`: the kernel delivers the bytes and wakes
/// the reader inside the call. Every loopback `t_wire` includes it; a venue on another host
/// would not cost it. The writer spins between writes, as the execution thread does.
fn loopback_write_floor() -> Summary {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        while tcp.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let request = vec![b'x'; 1709];
    let mut nanos: Vec<u64> = (0..FLOOR_WRITES)
        .map(|_| {
            let idle = Instant::now();
            while idle.elapsed() < Duration::from_micros(300) {
                std::hint::spin_loop();
            }
            let t = Instant::now();
            tcp.write_all(&request).unwrap();
            u64::try_from(t.elapsed().as_nanos()).unwrap()
        })
        .collect();
    drop(tcp);
    reader.join().unwrap();
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize];
    Summary {
        count: nanos.len() as u64,
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}

/// The lean run: the bot's own threads against the minimal peer.
fn lean(out: &Path) -> [Summary; SEGMENTS.len()] {
    // The peer's threads (frame writer, order endpoint) are spawned from a thread pinned to
    // the strategy's core, and inherit that pinning: the execution thread's core is left alone.
    let (http, ws_port, peer) = std::thread::spawn(|| {
        if let Some(&core) = core_affinity::get_core_ids().unwrap_or_default().get(1) {
            core_affinity::set_for_current(core);
        }
        let (orders_tx, orders_rx) = crossbeam::channel::unbounded();
        let http = stub_clob::serve(move |request| answer(request, &orders_tx));
        let ws = TcpListener::bind("127.0.0.1:0").unwrap();
        let ws_port = ws.local_addr().unwrap().port();
        let peer = std::thread::Builder::new()
            .name("peer".into())
            .spawn(move || feed_windows(&ws, &orders_rx))
            .unwrap();
        (http, ws_port, peer)
    })
    .join()
    .unwrap();
    let settings = stub_clob::dev_settings(&[
        format!("venue.ws_market_url=ws://127.0.0.1:{ws_port}/ws/market"),
        format!("venue.rest_url=http://127.0.0.1:{http}/"),
        "feeds.market.metadata_refresh=0s".into(),
        "pipeline.idle=spin".into(),
        "pipeline.feed_idle=park".into(),
        "pipeline.execution_idle=spin".into(),
        "pipeline.park_timeout=1ms".into(),
        "pipeline.pinning.enabled=true".into(),
        "pipeline.pinning.strategy_core=1".into(),
        "pipeline.pinning.execution_core=0".into(),
        "strategy.pair_arb.cooldown=5ms".into(),
    ]);
    let registry = stub_clob::binary_registry(LEAN_MARKETS);
    let clock = Clock::new();
    let pair_arb = &settings.strategy.pair_arb;
    let (sink, _user) = stub_clob::live_sink(
        http,
        registry.clone(),
        settings.execution.clone(),
        settings.execution.connections,
        vec![pair_arb.maker_pair.quote_size, pair_arb.max_sets],
        clock.clone(),
    );
    let pipeline = Pipeline::start_with(
        session::pipeline_config(&settings, None).unwrap(),
        registry,
        Arc::new(Metrics::default()),
        clock,
        sink,
        None,
    )
    .unwrap();
    let answered = peer.join().expect("the peer runs to the end");
    let outcome = pipeline.stop().expect("the pipeline stops cleanly");
    assert_eq!(answered, LEAN_WINDOWS, "every window was traded");
    let counters = outcome.execution.counters;
    assert_eq!(counters.orders_sent, 2 * LEAN_WINDOWS as u64);
    println!(
        "lean: {} orders, presign hits {} / misses {}",
        counters.orders_sent, counters.presign_hits, counters.presign_misses
    );
    std::fs::create_dir_all(out).unwrap();
    outcome.latency.write_hgrm(out).unwrap();
    SEGMENTS.map(|segment| outcome.latency.summary(segment))
}

/// The stub order endpoint: every order ends `unmatched` (the window was gone), and each
/// order request tells the peer its window was traded.
fn answer(request: &stub_clob::Request, orders: &Sender<()>) -> (u16, String) {
    const UNMATCHED: &str = r#"{"success":true,"errorMsg":"","orderID":"0x23b457271bce9fa09b4f79125c9ec09e968235a462de82e318ef4eb6fe0ffeb0","status":"unmatched","makingAmount":"0","takingAmount":"0","transactionsHashes":[],"tradeIDs":[]}"#;
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/orders") => {
            let _ = orders.send(());
            let entries = vec![UNMATCHED; request.orders()];
            (200, format!("[{}]", entries.join(",")))
        }
        ("POST", "/order") => {
            let _ = orders.send(());
            (200, UNMATCHED.to_owned())
        }
        ("DELETE", _) => (200, r#"{"canceled":[],"not_canceled":{}}"#.to_owned()),
        ("GET", path) if path.starts_with("/data/") => (
            200,
            r#"{"limit":500,"count":0,"next_cursor":"LTE=","data":[]}"#.to_owned(),
        ),
        ("GET", path) if path.starts_with("/balance-allowance") => (
            200,
            r#"{"balance":"1000000000","allowances":{}}"#.to_owned(),
        ),
        _ => (200, "{}".to_owned()),
    }
}

/// The peer's market channel: accepts the bot's connection, sends every book once subscribed,
/// then opens `LEAN_WINDOWS` windows, each after `LEAN_GAP`, and closes each once its order
/// arrived. Returns how many windows were traded.
fn feed_windows(listener: &TcpListener, orders: &Receiver<()>) -> usize {
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut ws = tungstenite::accept(tcp).unwrap();
    while !matches!(ws.read().unwrap(), Message::Text(t) if t.contains("assets_ids")) {}
    for m in 0..LEAN_MARKETS {
        send(&mut ws, &book(&stub_clob::yes_token(m), m, "0.47", "0.52"));
        send(&mut ws, &book(&stub_clob::no_token(m), m, "0.42", "0.50"));
    }
    let mut answered = 0;
    for w in 0..LEAN_WINDOWS {
        wait_answering_pings(&mut ws, LEAN_GAP);
        let m = w % LEAN_MARKETS;
        send(&mut ws, &no_ask(m, "20", "0.45"));
        if orders.recv_timeout(Duration::from_secs(2)).is_ok() {
            answered += 1;
        }
        send(&mut ws, &no_ask(m, "0", "0.5"));
    }
    answered
}

fn send(ws: &mut WebSocket<std::net::TcpStream>, text: &str) {
    ws.send(Message::text(text)).unwrap();
}

/// Reads the bot's frames for `quiet`, answering its keep-alive pings.
fn wait_answering_pings(ws: &mut WebSocket<std::net::TcpStream>, quiet: Duration) {
    let until = Instant::now() + quiet;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        ws.get_ref().set_read_timeout(Some(left)).unwrap();
        match ws.read() {
            Ok(Message::Text(t)) if t.as_str() == "PING" => send(ws, "PONG"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("the bot's market connection failed: {e}"),
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn condition_id(m: usize) -> String {
    format!("0x{:064x}", m + 1)
}

/// A one-level book snapshot of 100 shares each side.
fn book(asset: &str, m: usize, bid: &str, ask: &str) -> String {
    format!(
        r#"{{"event_type":"book","asset_id":"{asset}","market":"{}","bids":[{{"price":"{bid}","size":"100"}}],"asks":[{{"price":"{ask}","size":"100"}}],"timestamp":"{}","hash":"0x0"}}"#,
        condition_id(m),
        now_ms()
    )
}

/// Sets market `m`'s No ask at 0.45 to `size` (the window opens at 20, closes at 0); `best` is
/// the No book's best ask afterwards.
fn no_ask(m: usize, size: &str, best: &str) -> String {
    format!(
        r#"{{"market":"{}","price_changes":[{{"asset_id":"{}","price":"0.45","size":"{size}","side":"SELL","hash":"0x0","best_bid":"0.42","best_ask":"{best}"}}],"timestamp":"{}","event_type":"price_change"}}"#,
        condition_id(m),
        stub_clob::no_token(m),
        now_ms()
    )
}

/// The demo run: the whole bot against the embedded venue, as `pmbot demo` runs it.
fn demo(out: &Path) -> [Summary; SEGMENTS.len()] {
    std::fs::create_dir_all(out).unwrap();
    let scenario = out.join("tick-to-trade.yaml");
    std::fs::write(&scenario, demo_scenario()).unwrap();
    let args = DemoArgs {
        scenario: scenario.display().to_string(),
        duration: Duration::from_secs(10),
        report_json: Some(out.join("report.json")),
        report_dir: out.to_path_buf(),
    };
    let report = demo::run(&stub_clob::dev_settings(&[]), &args).expect("the run completes");
    let json = report.json();
    assert_eq!(
        json["positions_mismatches"], 0,
        "the bot ends with the venue's positions"
    );
    println!(
        "demo: fills {}, presign hits {} / misses {}",
        json["execution"]["fills"],
        json["execution"]["presign_hits"],
        json["execution"]["presign_misses"],
    );
    SEGMENTS.map(|segment| {
        let s = &json["latency_ns"][segment.as_str()];
        let field = |name: &str| s[name].as_u64().unwrap_or(0);
        Summary {
            count: field("count"),
            p50: field("p50"),
            p90: field("p90"),
            p99: field("p99"),
            p999: field("p999"),
            max: field("max"),
        }
    })
}

/// Eight fee-free binary markets; window `i` opens on market `i % 8` at step `100 + 140 i` and
/// is closed by a competing taker 70 steps later, so each market rests 1.1 s between windows
/// (longer than the strategy's cooldown).
fn demo_scenario() -> String {
    let windows: String = (0..DEMO_WINDOWS)
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
         dynamics:\n  steps: {DEMO_STEPS}\n  rate_per_sec: 3000\n  checkpoint_every: 10000\n  \
         levels_per_side: 8\n  mix: {{price_change: 85, book: 2, last_trade_price: 8, best_bid_ask: 5}}\n\
         windows:\n{windows}\
         trading:\n  faucet_usdc: \"1000000\"\n"
    )
}
