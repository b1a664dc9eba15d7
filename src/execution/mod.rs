//! Execution: turns the core's intents into orders and reports their fate back to the core.
//!
//! It is the only place that talks to the venue's order endpoints. A [`Sink`] is what the
//! execution thread hands intents to: the dry run (`dry_run`) acknowledges without trading, the
//! live sink (`live`) signs, sends and follows orders on the venue.
pub mod dry_run;
pub mod live;
pub mod order_manager;
pub mod order_signer;
pub mod presign;
pub mod rate;
pub mod reconcile;
pub mod worker;

use crate::bot::latency::LatencyRecorder;
use crate::domain::intents::{ExecReport, Intent};

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

/// What execution did over a run: the `execution.*` keys of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecCounters {
    /// Orders written to the venue (a batch counts each of its orders).
    pub orders_sent: u64,
    /// Orders the venue acknowledged.
    pub acks: u64,
    /// Fills reported to the core.
    pub fills: u64,
    /// Orders the venue (or the rate limiter) refused.
    pub rejects: u64,
    /// Orders cancelled (by request, halt or stop).
    pub cancels: u64,
    /// Orders whose outcome was unknown (lost response, 5xx) and was later resolved.
    pub unknown_resolved: u64,
    /// Orders sent from the pre-signed cache.
    pub presign_hits: u64,
    /// Orders that had to be signed on the spot.
    pub presign_misses: u64,
    /// Reconciliations that compared the venue's pUSD balance with the fills reported.
    pub balance_checks: u64,
    /// Of those, the ones where the balance had moved by a different amount.
    pub balance_mismatches: u64,
    /// Outcome-token balances compared with the shares the reported fills moved (one per
    /// traded asset per reconciliation after the first, which reads the baselines).
    pub share_checks: u64,
    /// Of those, the ones where the balance had moved by a different amount.
    pub share_mismatches: u64,
}

/// The execution thread's account of a run.
#[derive(Debug, Default)]
pub struct ExecSummary {
    /// Counters.
    pub counters: ExecCounters,
    /// `intent_to_wire` and `tick_to_trade`, recorded on the execution thread.
    pub latency: LatencyRecorder,
}

/// Where the execution thread sends intents. Implementations never block for long: the
/// thread also has to hand reports back to the core.
pub trait Sink: Send {
    /// Takes one intent; reports known at once are appended to `out`.
    fn on_intent(&mut self, msg: &IntentMsg, out: &mut Vec<ExecReport>);
    /// Background work between intents (responses, the user channel, timers, pre-signing);
    /// returns whether it did anything.
    fn poll(&mut self, out: &mut Vec<ExecReport>) -> bool;
    /// The core has stopped: cancel every open order and settle what is in flight, as far
    /// as possible before returning.
    fn shutdown(&mut self, out: &mut Vec<ExecReport>);
    /// What the sink did.
    fn summary(self) -> ExecSummary;
}
