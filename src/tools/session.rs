//! Turns settings into the pipeline's configuration: shared by `pmbot run` and `pmbot demo`.

use crate::adapters::polymarket::transport;
use crate::adapters::polymarket::ws_market::{Backoff, MarketFeedParams};
use std::sync::Arc;

use crate::bot::metrics::{
    self, LatencySender, LatencySnapshots, Metrics, MetricsError, TelemetryServer,
};
use crate::bot::pipeline::{PipelineConfig, ThreadPlan};
use crate::bot::settings::Settings;

/// The pipeline configuration the settings describe; latency snapshots go to `latency_snapshots`
/// when a telemetry endpoint runs. Fails only if `venue.tls_ca_file` cannot be read.
pub fn pipeline_config(
    settings: &Settings,
    latency_snapshots: Option<LatencySender>,
) -> std::io::Result<PipelineConfig> {
    let feed = &settings.feeds.market;
    let pipeline = &settings.pipeline;
    let tls = transport::tls_config(settings.venue.tls_ca_file.as_deref())?;
    Ok(PipelineConfig {
        feed: MarketFeedParams {
            url: settings.venue.ws_market_url.clone(),
            max_assets_per_connection: feed.max_assets_per_connection,
            ping_interval: feed.ping_interval,
            stall_timeout: feed.stall_timeout,
            snapshot_timeout: feed.snapshot_timeout,
            connect_timeout: feed.connect_timeout,
            backoff: Backoff {
                initial: feed.reconnect_backoff.initial,
                max: feed.reconnect_backoff.max,
                jitter: feed.reconnect_backoff.jitter,
            },
            ring_full_spin: pipeline.ring_full_spin,
            tls,
        },
        rest_url: settings.venue.rest_url.clone(),
        ring_capacity: pipeline.ring_capacity,
        threads: ThreadPlan {
            strategy_idle: pipeline.idle,
            feed_idle: pipeline.feed_idle.unwrap_or(pipeline.idle),
            execution_idle: pipeline.execution_idle.unwrap_or(pipeline.idle),
            park_timeout: pipeline.park_timeout,
            pin: pipeline.pinning.enabled,
            strategy_core: pipeline.pinning.strategy_core,
            feed_core: pipeline.pinning.feed_cores.first().copied(),
            execution_core: pipeline.pinning.execution_core,
        },
        latency_snapshots,
        core: settings.core_params(),
        metadata_refresh: feed.metadata_refresh,
    })
}

/// Starts the `/metrics` endpoint when `telemetry.prometheus_listen` is set, and returns it with
/// the sender the strategy thread hands its latency snapshots to.
pub fn start_telemetry(
    settings: &Settings,
    metrics: &Arc<Metrics>,
) -> Result<Option<(TelemetryServer, LatencySender)>, MetricsError> {
    let Some(listen) = settings.telemetry.prometheus_listen else {
        return Ok(None);
    };
    let mut snapshots = LatencySnapshots::new(4);
    let sender = snapshots.sender("strategy");
    let server = metrics::serve_prometheus(listen, metrics.clone(), snapshots)?;
    tracing::info!(addr = %server.local_addr(), "serving Prometheus metrics at /metrics");
    Ok(Some((server, sender)))
}

/// Stops the endpoint started by [`start_telemetry`], if any.
pub fn stop_telemetry(server: Option<TelemetryServer>) {
    if let Some(server) = server
        && let Err(e) = server.shutdown()
    {
        tracing::warn!(error = %e, "telemetry endpoint did not stop cleanly");
    }
}
