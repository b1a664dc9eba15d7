//! The execution thread's loop: pops intents, hands them to the sink, and pushes every report
//! back to the strategy thread. A full report ring is waited out, never dropped: a lost report
//! would be a lost fill.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::bot::idle::Idler;
use crate::domain::intents::ExecReport;
use crate::execution::IntentMsg;
use crate::execution::dry_run::{DryRun, DryRunCounters};

/// Reports one intent can produce (a halt cancels every resting order).
const REPORTS_PER_INTENT: usize = 4096;

/// The rings and the sink of the execution thread.
pub struct ExecutionWorker {
    /// Intents from the strategy thread.
    pub intents: rtrb::Consumer<IntentMsg>,
    /// Reports to the strategy thread.
    pub reports: rtrb::Producer<ExecReport>,
    /// The sink.
    pub sink: DryRun,
}

impl ExecutionWorker {
    /// Runs until `stop` is set and every report produced so far has been handed over.
    pub fn run(mut self, stop: &AtomicBool, mut idler: Idler) -> DryRunCounters {
        let mut pending: Vec<ExecReport> = Vec::with_capacity(REPORTS_PER_INTENT);
        let mut sent = 0;
        loop {
            let mut busy = false;
            if sent == pending.len() {
                pending.clear();
                sent = 0;
                if let Ok(msg) = self.intents.pop() {
                    busy = true;
                    // A dry run answers at once: in the core's own time, so venue time and
                    // this machine's clock never mix in the core.
                    self.sink.handle(&msg.intent, msg.decided_ms, &mut pending);
                }
            }
            while sent < pending.len() && self.reports.push(pending[sent]).is_ok() {
                sent += 1;
                busy = true;
            }
            if busy {
                idler.reset();
            } else if stop.load(Ordering::Relaxed) {
                return *self.sink.counters();
            } else {
                idler.idle();
            }
        }
    }
}
