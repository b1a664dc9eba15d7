//! Turns settings into the pipeline's configuration: shared by `pmbot run` and `pmbot demo`.

use crate::adapters::polymarket::ws_market::{Backoff, MarketFeedParams};
use crate::bot::metrics::LatencySender;
use crate::bot::pipeline::{PipelineConfig, ThreadPlan};
use crate::bot::settings::Settings;

/// The pipeline configuration the settings describe; latency snapshots go to `latency_snapshots`
/// when a telemetry endpoint runs.
pub fn pipeline_config(
    settings: &Settings,
    latency_snapshots: Option<LatencySender>,
) -> PipelineConfig {
    let feed = &settings.feeds.market;
    let pipeline = &settings.pipeline;
    PipelineConfig {
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
        },
        rest_url: settings.venue.rest_url.clone(),
        ring_capacity: pipeline.ring_capacity,
        threads: ThreadPlan {
            idle: pipeline.idle,
            park_timeout: pipeline.park_timeout,
            pin: pipeline.pinning.enabled,
            strategy_core: pipeline.pinning.strategy_core,
            feed_core: pipeline.pinning.feed_cores.first().copied(),
        },
        latency_snapshots,
    }
}
