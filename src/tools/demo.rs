//! `pmbot demo`: the embedded venue and the whole bot in one process, no credentials.
//!
//! The venue plays a seeded scenario over loopback; the bot connects with its real network,
//! decode and pipeline code. At every quiescent point of the scenario the venue publishes the
//! digests of its true books and the demo checks the bot's books against them, so the report's
//! `books.mismatches` is measured, not assumed.
//!
//! The bot trades for real on the venue with a built-in development wallet: it derives its API
//! key with an L1 signature (the venue's faucet funds the new account), signs every order, and
//! follows it over the trading endpoints and the user channel. At the end the bot's positions
//! are compared with the venue's ledger (`positions_mismatches`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::adapters::polymarket::signing::{Address, Signer};
use crate::adapters::polymarket::{gamma, rest};
use crate::bot::clock::Clock;
use crate::bot::metrics::Metrics;
use crate::bot::pipeline::{Pipeline, StrategyOutcome};
use crate::bot::secrets::Secrets;
use crate::bot::settings::Settings;
use crate::domain::markets::Registry;
use crate::sim::{self, LedgerView, Venue, VenueConfig};
use crate::tools::report::{self, PositionCheck, Report};
use crate::tools::{session, trading};

/// What the demo was asked to do.
#[derive(Clone, Debug)]
pub struct DemoArgs {
    /// Scenario name (`config/scenarios/<name>.yaml`) or path.
    pub scenario: String,
    /// How long the scenario's stream should last.
    pub duration: Duration,
    /// Where to write the JSON report.
    pub report_json: Option<PathBuf>,
    /// Where to write `.hgrm` files and the latency plot.
    pub report_dir: PathBuf,
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The scenario could not be loaded or the venue not started.
    #[error("venue: {0}")]
    Venue(#[from] sim::SimError),
    /// The universe could not be read from the venue.
    #[error("universe: {0}")]
    Universe(String),
    /// Live execution could not start against the venue.
    #[error("trading: {0}")]
    Trading(#[from] trading::TradingError),
    /// The pipeline could not start or stopped abnormally.
    #[error("pipeline: {0}")]
    Pipeline(String),
    /// The venue did not reach a checkpoint in time.
    #[error("the venue reached no checkpoint for {0:?}; the scenario is stuck")]
    Stuck(Duration),
    /// The report could not be written.
    #[error("report: {0}")]
    Report(#[from] std::io::Error),
}

/// The development wallet's key: a fixed, public test key that only ever trades on the embedded
/// venue (never fund its address anywhere).
const DEMO_WALLET_KEY: [u8; 32] = [
    0x0d, 0xe0, 0x0d, 0xe0, 0x70, 0x6d, 0x62, 0x6f, 0x74, 0x2d, 0x64, 0x65, 0x6d, 0x6f, 0x2d, 0x77,
    0x61, 0x6c, 0x6c, 0x65, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31,
];

/// How long the bot may take to converge on the venue's books at a checkpoint.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);

/// The settings overrides a scenario asks for (its `bot:` list), to be applied before the
/// command line's own; none if the scenario does not load (the demo reports that itself).
pub fn scenario_overrides(scenario: &str) -> Vec<String> {
    sim::load_scenario(scenario)
        .map(|s| s.bot)
        .unwrap_or_default()
}

/// Runs the demo and returns its report (already written where asked).
pub fn run(settings: &Settings, args: &DemoArgs) -> Result<Report, DemoError> {
    let mut scenario = sim::load_scenario(&args.scenario)?;
    scenario.fit_to_duration(args.duration);
    let venue = sim::start(VenueConfig {
        listen: "127.0.0.1:0".parse().expect("a literal socket address"),
        scenario,
        paced: true,
    })?;
    let mut settings = settings.clone();
    settings.venue.rest_url = venue.rest_url();
    settings.venue.ws_market_url = venue.ws_market_url();
    settings.venue.gamma_url = venue.rest_url();
    settings.venue.ws_user_url = venue.user_ws_url();
    let agent = rest::agent(Duration::from_secs(5));
    let events = gamma::fetch_events(&agent, &settings.venue.gamma_url, "closed=false")
        .map_err(DemoError::Universe)?;
    let loaded = gamma::build_registry(&events, &[]);
    for exclusion in &loaded.excluded {
        tracing::warn!(%exclusion, "market left out of the registry");
    }
    let registry = loaded.registry;
    if registry.markets().is_empty() {
        return Err(DemoError::Universe(
            "the venue lists no tradable market".into(),
        ));
    }
    let registry = Arc::new(registry);
    let metrics = Arc::new(Metrics::default());
    let (telemetry, sender) = session::start_telemetry(&settings, &metrics)
        .map_err(|e| DemoError::Pipeline(e.to_string()))?
        .unzip();
    let config = session::pipeline_config(&settings, sender)
        .map_err(|e| DemoError::Pipeline(e.to_string()))?;
    let clock = Clock::new();
    let signer = Signer::from_secret(&DEMO_WALLET_KEY).expect("the demo key is a valid scalar");
    let wallet = signer.address();
    let secrets = Secrets {
        signer,
        funder: None,
        signature_type: 0,
        creds: None,
    };
    let live = trading::connect(&settings, secrets, &registry, &metrics, clock.clone())?;
    let baseline = venue.account_ledger(&wallet);
    let started = Instant::now();
    let pipeline = Pipeline::start_with(
        config,
        registry.clone(),
        metrics.clone(),
        clock,
        live.sink,
        Some(live.user_feed),
    )
    .map_err(|e| DemoError::Pipeline(e.to_string()))?;

    let mut checks = BookChecks::default();
    let stuck_after = args.duration + Duration::from_secs(30);
    loop {
        let Ok(checkpoint) = venue.checkpoints().recv_timeout(stuck_after) else {
            let _ = pipeline.stop();
            venue.shutdown();
            session::stop_telemetry(telemetry);
            return Err(DemoError::Stuck(stuck_after));
        };
        checks.check(&pipeline, &registry, &venue, checkpoint.step);
        let last = checkpoint.last;
        venue.resume();
        if last {
            break;
        }
    }
    let elapsed = started.elapsed();
    let outcome = pipeline
        .stop()
        .map_err(|_| DemoError::Pipeline("a pipeline thread panicked".into()))?;
    let positions = check_positions(&outcome, &registry, &venue, &wallet, baseline.as_ref());
    let venue_stats = venue.stats();
    venue.shutdown();
    session::stop_telemetry(telemetry);

    let mut report = report::build(
        &metrics,
        &outcome,
        registry.asset_count(),
        checks.checked,
        checks.mismatches,
        positions,
        elapsed,
    );
    report.add_venue_exec(&venue_stats.exec);
    std::fs::create_dir_all(&args.report_dir)?;
    outcome.latency.write_hgrm(&args.report_dir)?;
    outcome
        .latency
        .write_svg(&args.report_dir.join("latency.svg"))?;
    if let Some(path) = &args.report_json {
        std::fs::write(path, report.to_json_pretty())?;
    }
    println!("{}", report.summary(&venue_stats));
    println!("{}", outcome.latency.summary_table());
    println!(
        "HDR percentile files and latency.svg written to {}",
        args.report_dir.display()
    );
    Ok(report)
}

/// Book comparisons against the venue's truth.
#[derive(Default)]
struct BookChecks {
    checked: u64,
    mismatches: u64,
}

impl BookChecks {
    /// Waits (bounded) until the bot's books equal the venue's true books, then counts every
    /// asset compared and every asset that still differs or is stale. The truth is read afresh
    /// on every look: the stream is paused at a checkpoint, but the bot's own orders still
    /// trade against the books.
    fn check(&mut self, pipeline: &Pipeline, registry: &Registry, venue: &Venue, step: u64) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut differing = registry.asset_count() as u64;
        while Instant::now() < deadline {
            let Some(books) = pipeline.books(SETTLE_TIMEOUT) else {
                break;
            };
            differing = books
                .iter()
                .zip(registry.assets())
                .filter(|(book, (_, info))| {
                    book.stale || venue.true_digest(&info.token_id) != Some(book.digest)
                })
                .count() as u64;
            if differing == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if differing > 0 {
            tracing::warn!(step, differing, "books differ from the venue's");
        }
        self.checked += registry.asset_count() as u64;
        self.mismatches += differing;
    }
}

/// Compares the bot's shares of every asset, and its cash, with what the venue's ledger gained or
/// lost for the wallet since the run started (the faucet's grant is the baseline): fills, fees
/// and reversals must all agree.
fn check_positions(
    outcome: &StrategyOutcome,
    registry: &Registry,
    venue: &Venue,
    wallet: &Address,
    baseline: Option<&LedgerView>,
) -> PositionCheck {
    let held = |ledger: Option<&LedgerView>, token: &str| {
        ledger
            .and_then(|l| l.shares.iter().find(|(t, _)| t == token))
            .map_or(0, |&(_, q)| i128::from(q.0))
    };
    let end = venue.account_ledger(wallet);
    let positions = outcome.core.positions();
    let mut check = PositionCheck::default();
    for (asset, info) in registry.assets() {
        let venue_delta = held(end.as_ref(), &info.token_id) - held(baseline, &info.token_id);
        let bot = i128::from(positions.shares(asset).0);
        check.checked += 1;
        if bot != venue_delta {
            check.mismatches += 1;
            tracing::warn!(
                asset = asset.0,
                token = %info.token_id,
                bot,
                venue = venue_delta,
                "bot position differs from the venue's ledger (1e-6 shares)"
            );
        }
    }
    let cash = |ledger: Option<&LedgerView>| ledger.map_or(0, |l| i128::from(l.usdc.0));
    let venue_cash = cash(end.as_ref()) - cash(baseline);
    let bot_cash = i128::from(positions.cash().0);
    check.checked += 1;
    if bot_cash != venue_cash {
        check.mismatches += 1;
        tracing::warn!(
            bot = bot_cash,
            venue = venue_cash,
            "bot cash differs from the venue's ledger (1e-6 pUSD)"
        );
    }
    check
}
