//! `pmbot run`: the bot against the venue named in the configuration, until interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::adapters::polymarket::rest;
use crate::bot::clock::Clock;
use crate::bot::metrics::Metrics;
use crate::bot::pipeline::Pipeline;
use crate::bot::settings::Settings;
use crate::domain::markets::Registry;
use crate::tools::session;

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

/// Runs until `stop` is set (by a signal handler), logging a summary every
/// `telemetry.summary_interval`.
pub fn run(settings: &Settings, stop: Arc<AtomicBool>) -> Result<(), LiveError> {
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
    let pipeline = Pipeline::start(config, registry, metrics.clone(), Clock::new())
        .map_err(|e| LiveError::Startup(e.to_string()))?;
    let mut last_summary = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
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
