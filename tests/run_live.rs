//! `pmbot run` as an operator runs it, against the embedded venue on loopback: live trading with
//! the wallet key in the environment; the kill switch (SIGUSR1) and clearing the halt (SIGUSR2)
//! while it runs; then Ctrl-C (SIGINT), after which no order of the wallet may rest on the venue.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pmbot::adapters::polymarket::signing::Signer;
use pmbot::sim::{self, Venue, VenueConfig};

/// A throwaway test key; the venue's faucet funds its account on first L1 auth.
const KEY_HEX: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn key_bytes() -> [u8; 32] {
    let digits = KEY_HEX.trim_start_matches("0x").as_bytes();
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    key
}

/// Serves the venue's checkpoints (a paced venue waits at each) until `stop`.
fn keep_resuming(venue: Arc<Venue>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if venue
                .checkpoints()
                .recv_timeout(Duration::from_millis(50))
                .is_ok()
            {
                venue.resume();
            }
        }
    })
}

fn spawn_bot(venue: &Venue) -> Child {
    let markets: Vec<String> = venue
        .markets()
        .into_iter()
        .map(|m| m.condition_id)
        .collect();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/dev.yaml");
    Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .args(["run", "--config", config])
        .args([
            "--set",
            &format!("universe.markets=[{}]", markets.join(",")),
        ])
        .args(["--set", "strategy.pair_arb.maker=true"])
        .args(["--set", "strategy.pair_arb.taker=false"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PMBOT_EXECUTION__MODE", "live")
        .env("PMBOT_SECRETS__PRIVATE_KEY", KEY_HEX)
        .env("PMBOT_VENUE__REST_URL", venue.rest_url())
        .env("PMBOT_VENUE__GAMMA_URL", venue.rest_url())
        .env("PMBOT_VENUE__WS_MARKET_URL", venue.ws_market_url())
        .env("PMBOT_VENUE__WS_USER_URL", venue.user_ws_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Polls `f` every 20 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The embedded venue streaming the maker-pair scenario, its checkpoints served until dropped.
struct Harness {
    venue: Arc<Venue>,
    stop: Arc<AtomicBool>,
    resumer: Option<std::thread::JoinHandle<()>>,
}

impl Harness {
    fn start() -> Harness {
        let mut scenario = sim::load_scenario("maker-pair").unwrap();
        scenario.fit_to_duration(Duration::from_secs(60));
        let venue = Arc::new(
            sim::start(VenueConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                scenario,
                paced: true,
            })
            .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let resumer = Some(keep_resuming(venue.clone(), stop.clone()));
        Harness {
            venue,
            stop,
            resumer,
        }
    }

    /// The wallet's orders resting on the venue.
    fn open_orders(&self) -> usize {
        let wallet = Signer::from_secret(&key_bytes()).unwrap().address();
        self.venue
            .account_ledger(&wallet)
            .map_or(0, |l| l.open_orders)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(resumer) = self.resumer.take() {
            let _ = resumer.join();
        }
    }
}

fn signal(bot: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &bot.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

#[test]
fn run_trades_live_and_a_graceful_stop_cancels_every_open_order() {
    let harness = Harness::start();
    let bot = spawn_bot(&harness.venue);
    let quoted = wait_until(Duration::from_secs(20), || harness.open_orders() >= 2);
    // SIGINT, as Ctrl-C sends it.
    signal(&bot, "INT");
    let out = bot.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(quoted, "the bot's maker quotes rest on the venue\n{stderr}");
    assert!(out.status.success(), "clean exit\n{stderr}");
    assert_eq!(
        harness.open_orders(),
        0,
        "the stop cancelled every order\n{stderr}"
    );
    assert!(stderr.contains("trading live"), "{stderr}");
    assert!(
        !stderr.contains(KEY_HEX.trim_start_matches("0x")),
        "no key in logs"
    );
    assert!(
        !stdout.contains(KEY_HEX.trim_start_matches("0x")),
        "no key in output"
    );
}

#[test]
fn the_kill_switch_cancels_every_order_while_the_bot_runs_and_clearing_the_halt_resumes() {
    let harness = Harness::start();
    let mut bot = spawn_bot(&harness.venue);
    let quoted = wait_until(Duration::from_secs(20), || harness.open_orders() >= 2);
    signal(&bot, "USR1");
    let killed = wait_until(Duration::from_secs(10), || harness.open_orders() == 0);
    let running_after_kill = bot.try_wait().unwrap().is_none();
    // Halted: nothing is quoted again while the venue keeps streaming.
    std::thread::sleep(Duration::from_millis(500));
    let quiet = harness.open_orders() == 0;
    signal(&bot, "USR2");
    let requoted = wait_until(Duration::from_secs(20), || harness.open_orders() >= 2);
    signal(&bot, "INT");
    let out = bot.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(quoted, "quotes rest before the kill\n{stderr}");
    assert!(killed, "the kill switch cancelled every order\n{stderr}");
    assert!(
        running_after_kill,
        "the kill switch does not stop the process"
    );
    assert!(quiet, "a halted bot places nothing\n{stderr}");
    assert!(stderr.contains("kill switch"), "{stderr}");
    assert!(requoted, "clearing the halt resumes quoting\n{stderr}");
    assert!(out.status.success(), "clean exit\n{stderr}");
    assert_eq!(harness.open_orders(), 0, "{stderr}");
}
