//! `pmbot demo`: the embedded venue and the whole bot in one process, no credentials.
//!
//! The venue plays a seeded scenario over loopback; the bot connects with its real network,
//! decode and pipeline code. At every quiescent point of the scenario the venue publishes the
//! digests of its true books and the demo checks the bot's books against them, so the report's
//! `books.mismatches` is measured, not assumed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::adapters::polymarket::{gamma, rest};
use crate::bot::clock::Clock;
use crate::bot::metrics::Metrics;
use crate::bot::pipeline::Pipeline;
use crate::bot::settings::Settings;
use crate::domain::markets::Registry;
use crate::sim::{self, Checkpoint, VenueConfig};
use crate::tools::report::{self, PositionCheck, Report};
use crate::tools::session;

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
    let started = Instant::now();
    let pipeline = Pipeline::start(config, registry.clone(), metrics.clone(), clock)
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
        checks.check(&pipeline, &registry, &checkpoint);
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
    let venue_stats = venue.stats();
    venue.shutdown();
    session::stop_telemetry(telemetry);

    let report = report::build(
        &metrics,
        &outcome,
        registry.asset_count(),
        checks.checked,
        checks.mismatches,
        PositionCheck::default(),
        elapsed,
    );
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
    /// Waits (bounded) until the bot's books equal the checkpoint's digests, then counts every
    /// asset compared and every asset that still differs or is stale.
    fn check(&mut self, pipeline: &Pipeline, registry: &Registry, checkpoint: &Checkpoint) {
        let expected: Vec<Option<u64>> = registry
            .assets()
            .map(|(_, info)| {
                checkpoint
                    .digests
                    .iter()
                    .find(|(token, _)| *token == info.token_id)
                    .map(|&(_, d)| d)
            })
            .collect();
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut differing = expected.len() as u64;
        while Instant::now() < deadline {
            let Some(books) = pipeline.books(SETTLE_TIMEOUT) else {
                break;
            };
            differing = books
                .iter()
                .zip(&expected)
                .filter(|(book, want)| book.stale || Some(book.digest) != **want)
                .count() as u64;
            if differing == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if differing > 0 {
            tracing::warn!(
                step = checkpoint.step,
                differing,
                "books differ from the venue's"
            );
        }
        self.checked += expected.len() as u64;
        self.mismatches += differing;
    }
}
