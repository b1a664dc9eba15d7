//! Runtime plumbing around the pure domain: settings, clock, logging, metrics, latency telemetry,
//! idle policy, the pipeline of threads and rings, and trading secrets.
pub mod clock;
pub mod idle;
pub mod latency;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod secrets;
pub mod settings;
