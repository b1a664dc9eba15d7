//! Execution: turns the core's intents into orders and reports their fate back to the core.
//!
//! It is the only place that would talk to the venue's order endpoints. Until the live venue
//! adapter exists, `dry_run` acknowledges every intent without trading, so the core's in-flight
//! accounting runs end to end.
pub mod dry_run;
pub mod order_manager;
pub mod presign;
pub mod rate;
pub mod reconcile;
pub mod worker;

use crate::domain::intents::Intent;

/// An intent on its way to the execution thread, with the latency stamps it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntentMsg {
    /// Raw clock ticks when the frame that caused it was read (0 for report-driven intents).
    pub t_rx: u64,
    /// Raw clock ticks when the strategy thread pushed it.
    pub t_int: u64,
    /// The core's time when it decided, Unix milliseconds (venue time).
    pub decided_ms: u64,
    /// What to do.
    pub intent: Intent,
}
