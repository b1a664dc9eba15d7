//! `pmbot run`: the bot against the venue named in the configuration, until interrupted —
//! trading live when `execution.mode` is `live`, else (or with `--dry-run`) signing and logging
//! every order without sending it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::adapters::polymarket::rest;
use crate::bot::clock::Clock;
use crate::bot::metrics::Metrics;
use crate::bot::pipeline::Pipeline;
use crate::bot::secrets;
use crate::bot::settings::{ExecutionMode, Settings};
use crate::domain::markets::Registry;
use crate::execution::dry_run::DryRun;
use crate::execution::order_signer::OrderSigner;
use crate::strategies::core::Command;
use crate::tools::{session, trading};

/// Resting orders a dry run can hold without allocating.
const DRY_RUN_CAPACITY: usize = 4096;

/// Why the live run failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The universe is empty or could not be read.
    #[error("universe: {0}")]
    Universe(String),
    /// A thread or endpoint could not start.
    #[error("start-up: {0}")]
    Startup(String),
}

/// What the operator can do to a running bot; the process's signal handlers set the flags and
/// [`run`] acts on them within 100 ms.
#[derive(Clone, Debug, Default)]
pub struct Switches {
    /// Stop gracefully: cancel every open order, reconcile, write the reports.
    pub stop: Arc<AtomicBool>,
    /// The kill switch: halt trading and cancel every open order; the process keeps running.
    pub kill: Arc<AtomicBool>,
    /// Clear a halt (the kill switch's or a risk limit's): trading resumes.
    pub clear_halt: Arc<AtomicBool>,
}

/// Runs until `switches.stop` is set, logging a summary every
/// `telemetry.summary_interval`. Live trading needs `execution.mode: live`, a wallet key and no
/// `dry_run`; a dry run signs orders when a key is configured and only acknowledges them
/// otherwise.
pub fn run(settings: &Settings, switches: &Switches, dry_run: bool) -> Result<(), LiveError> {
    if settings.universe.markets.is_empty() {
        return Err(LiveError::Universe(
            "universe.markets is empty: list the condition ids to trade".into(),
        ));
    }
    let agent = rest::agent(Duration::from_secs(10));
    let specs = rest::fetch_markets(&agent, &settings.venue.rest_url, &settings.universe.markets)
        .map_err(|e| LiveError::Universe(e.to_string()))?;
    let mut registry = Registry::default();
    for spec in specs {
        registry
            .add_market(spec)
            .map_err(|e| LiveError::Universe(e.to_string()))?;
    }
    let registry = Arc::new(registry);
    let metrics = Arc::new(Metrics::default());
    let (telemetry, sender) = session::start_telemetry(settings, &metrics)
        .map_err(|e| LiveError::Startup(e.to_string()))?
        .unzip();
    let config = session::pipeline_config(settings, sender)
        .map_err(|e| LiveError::Startup(e.to_string()))?;
    let clock = Clock::new();
    let live = !dry_run && settings.execution.mode == ExecutionMode::Live;
    let keys = secrets::from_settings(&settings.secrets, &settings.execution);
    let pipeline = match (live, keys) {
        (true, Ok(keys)) => {
            let execution = trading::connect(settings, keys, &registry, &metrics, clock.clone())
                .map_err(|e| LiveError::Startup(e.to_string()))?;
            tracing::info!("trading live: orders are signed and sent");
            Pipeline::start_with(
                config,
                registry,
                metrics.clone(),
                clock,
                execution.sink,
                Some(execution.user_feed),
            )
        }
        (true, Err(e)) => return Err(LiveError::Startup(e.to_string())),
        (false, Ok(keys)) => {
            tracing::info!("dry run: orders are signed and logged, never sent");
            let maker = keys.maker();
            let signer = OrderSigner::new(
                keys.signer,
                maker,
                keys.signature_type,
                settings.venue.chain_id,
                registry.clone(),
            );
            let sink = DryRun::signing(DRY_RUN_CAPACITY, signer);
            Pipeline::start_with(config, registry, metrics.clone(), clock, sink, None)
        }
        (false, Err(e)) => {
            tracing::info!(why = %e, "dry run without a wallet key: orders are acknowledged, not signed");
            Pipeline::start(config, registry, metrics.clone(), clock)
        }
    }
    .map_err(|e| LiveError::Startup(e.to_string()))?;
    let mut last_summary = Instant::now();
    while !switches.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if switches.kill.swap(false, Ordering::Relaxed) {
            tracing::warn!("kill switch: trading halts and every open order is cancelled");
            pipeline.command(Command::Kill);
        }
        if switches.clear_halt.swap(false, Ordering::Relaxed) {
            tracing::warn!("halt cleared by the operator: trading resumes");
            pipeline.command(Command::ClearHalt);
        }
        if last_summary.elapsed() >= settings.telemetry.summary_interval {
            last_summary = Instant::now();
            tracing::info!(
                frames = metrics.market_feed.frames.load(Ordering::Relaxed),
                decode_errors = metrics.market_feed.decode_errors.load(Ordering::Relaxed),
                reconnects = metrics.market_feed.reconnects.load(Ordering::Relaxed),
                "market feed"
            );
        }
    }
    let outcome = pipeline
        .stop()
        .map_err(|_| LiveError::Startup("a pipeline thread panicked".into()))?;
    let dir = &settings.telemetry.report_dir;
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|_| outcome.latency.write_hgrm(dir))
        .and_then(|_| outcome.latency.write_svg(&dir.join("latency.svg")))
    {
        tracing::warn!(error = %e, "could not write latency reports");
    }
    println!("{}", outcome.latency.summary_table());
    session::stop_telemetry(telemetry);
    Ok(())
}
