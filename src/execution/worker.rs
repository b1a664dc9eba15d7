//! The execution thread's loop: pops intents, hands them to the sink, lets the sink do its
//! background work, and pushes every report back to the strategy thread. A full report ring is
//! waited out, never dropped: a lost report would be a lost fill.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::bot::idle::Idler;
use crate::domain::intents::ExecReport;
use crate::execution::{ExecSummary, IntentMsg, Sink};

/// Reports one intent can produce (a halt cancels every resting order).
const REPORTS_PER_INTENT: usize = 4096;

/// The rings and the sink of the execution thread.
pub struct ExecutionWorker<S: Sink> {
    /// Intents from the strategy thread.
    pub intents: rtrb::Consumer<IntentMsg>,
    /// Reports to the strategy thread.
    pub reports: rtrb::Producer<ExecReport>,
    /// The sink.
    pub sink: S,
}

impl<S: Sink> ExecutionWorker<S> {
    /// Runs until `stop` is set, then stops the sink (cancelling what it holds) and returns
    /// once every report produced so far has been handed over — or, if the strategy thread
    /// is gone, once the sink has stopped.
    pub fn run(mut self, stop: &AtomicBool, mut idler: Idler) -> ExecSummary {
        let mut pending: Vec<ExecReport> = Vec::with_capacity(REPORTS_PER_INTENT);
        let mut sent = 0;
        loop {
            let mut busy = false;
            if sent == pending.len() {
                pending.clear();
                sent = 0;
                if let Ok(msg) = self.intents.pop() {
                    busy = true;
                    self.sink.on_intent(&msg, &mut pending);
                }
                busy |= self.sink.poll(&mut pending);
            }
            while sent < pending.len() && self.reports.push(pending[sent]).is_ok() {
                sent += 1;
                busy = true;
            }
            if busy {
                idler.reset();
            } else if stop.load(Ordering::Relaxed) {
                break;
            } else {
                idler.idle();
            }
        }
        pending.clear();
        self.sink.shutdown(&mut pending);
        for report in pending {
            if self.reports.is_abandoned() {
                break;
            }
            while self.reports.push(report).is_err() && !self.reports.is_abandoned() {
                std::hint::spin_loop();
            }
        }
        self.sink.summary()
    }
}
