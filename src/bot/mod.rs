//! Runtime plumbing around the pure domain: settings, logging, metrics and latency telemetry.
pub mod latency;
pub mod logging;
pub mod metrics;
pub mod settings;
