//! The scenario driver: one thread that produces each message once, applies it to the true
//! books and fans it out, injects the scripted faults, opens and closes the scripted arbitrage
//! windows, paces the stream and pauses at checkpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};

use crate::sim::dynamics::Dynamics;
use crate::sim::hub::Hub;
use crate::sim::scenario::{FaultKind, FaultSpec, Scenario};
use crate::sim::windows::Schedule;
use crate::sim::wire;

/// How long a checkpoint waits for `resume()` before going on by itself.
pub const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often waits re-check for shutdown.
const POLL: Duration = Duration::from_millis(20);

/// The books at a quiescent point of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Steps published so far.
    pub step: u64,
    /// Whether this is the final checkpoint (every step published; the driver does not pause).
    pub last: bool,
    /// The venue timestamp (ms) of the last message published before the checkpoint: a client
    /// that has applied everything up to this timestamp holds exactly these books.
    pub timestamp: u64,
    /// Every asset's token id and true-book digest, in universe order.
    pub digests: Vec<(String, u64)>,
}

/// The driver's inputs.
pub struct Driver {
    /// Shared state.
    pub hub: Arc<Hub>,
    /// The message generator.
    pub dynamics: Dynamics,
    /// The scenario being played.
    pub scenario: Scenario,
    /// Whether to pace at `rate_per_sec`.
    pub paced: bool,
    /// Where checkpoints go.
    pub checkpoints: Sender<Checkpoint>,
    /// Where `resume()` tokens come from.
    pub resume: Receiver<()>,
}

impl Driver {
    /// Plays the scenario to the end (or until shutdown).
    pub fn run(mut self) {
        while !self.hub.wait_first_subscriber(POLL) {
            if self.hub.shutting_down() {
                return;
            }
        }
        let mut faults: Vec<FaultSpec> = self.scenario.faults.clone();
        faults.sort_by_key(|f| f.step);
        let mut faults = faults.into_iter().peekable();
        let mut schedule = Schedule::new(&self.scenario);
        let d = self.scenario.dynamics.clone();
        let mut pace = Pace::new(d.rate_per_sec);
        for step in 1..=d.steps {
            if self.hub.shutting_down() {
                return;
            }
            let mut duplicate = false;
            while let Some(fault) = faults.next_if(|f| f.step == step) {
                duplicate |= fault.kind == FaultKind::Duplicate;
                self.inject(&fault);
                if fault.kind == FaultKind::Stall {
                    pace.restart(step);
                }
            }
            if self.paced {
                pace.wait(step);
            }
            self.windows_at(step, &mut schedule);
            self.fee_changes_at(step);
            {
                let mut state = self.hub.lock();
                let frame = self.dynamics.step(&mut state.world);
                state.publish(&frame);
                if duplicate {
                    state.publish(&frame);
                }
            }
            self.hub.counters.steps.fetch_add(1, Ordering::Relaxed);
            if step % d.checkpoint_every == 0 && step != d.steps {
                self.checkpoint(step, false);
                pace.restart(step);
            }
        }
        self.checkpoint(d.steps, true);
    }

    fn inject(&mut self, fault: &FaultSpec) {
        self.hub.count_fault(fault.kind);
        let mut state = self.hub.lock();
        let world = &mut state.world;
        let frames = match fault.kind {
            FaultKind::Disconnect => {
                state.disconnect_all();
                return;
            }
            FaultKind::Stall => {
                drop(state);
                self.stall(Duration::from_millis(fault.stall_ms.unwrap_or(0)));
                return;
            }
            FaultKind::Duplicate => return,
            FaultKind::Malformed => vec![broadcast(wire::malformed(world))],
            FaultKind::UnknownEvent => {
                let ts = world.next_timestamp();
                vec![broadcast(wire::unknown_event(world, ts))]
            }
            FaultKind::Reorder => self.dynamics.reordered_pair(world),
            FaultKind::TickSizeChange => {
                let market = fault.market.unwrap_or(0);
                let tick = fault
                    .new_tick
                    .map_or(world.markets[market].spec.tick, |t| t.0);
                self.dynamics.tick_change(world, market, tick)
            }
        };
        frames.iter().for_each(|f| state.publish(f));
    }

    /// Applies the fee changes scripted for `step` to the listed markets.
    fn fee_changes_at(&self, step: u64) {
        let changes = self
            .scenario
            .fee_changes
            .iter()
            .filter(|c| c.at_step == step);
        for change in changes {
            self.hub.lock().world.markets[change.market].spec.fees = change.fees.0;
            self.hub
                .counters
                .fee_changes
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Closes the windows due at `step`, then opens those starting there, publishing both.
    fn windows_at(&self, step: u64, schedule: &mut Schedule) {
        if !schedule.due(step) {
            return;
        }
        let mut state = self.hub.lock();
        let (frames, change) = schedule.at(&mut state.world, step);
        frames.iter().for_each(|f| state.publish(f));
        let c = &self.hub.counters;
        c.windows_closed.fetch_add(change.closed, Ordering::Relaxed);
        c.windows_opened.fetch_add(change.opened, Ordering::Relaxed);
    }

    /// Publishes nothing for `length`; connections open now stop answering PING meanwhile.
    fn stall(&self, length: Duration) {
        let until = Instant::now() + length;
        self.hub.start_stall(until);
        while !self.hub.shutting_down() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            thread::sleep(left.min(POLL));
        }
    }

    fn checkpoint(&self, step: u64, last: bool) {
        while self.resume.try_recv().is_ok() {}
        let (timestamp, digests) = {
            let state = self.hub.lock();
            (state.world.now(), state.world.digests())
        };
        let sent = self.checkpoints.send(Checkpoint {
            step,
            last,
            timestamp,
            digests,
        });
        if last || sent.is_err() {
            return;
        }
        if self.resume.recv_timeout(CHECKPOINT_TIMEOUT).is_err() && !self.hub.shutting_down() {
            self.hub
                .counters
                .checkpoint_timeouts
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn broadcast(text: String) -> crate::sim::wire::Frame {
    crate::sim::wire::Frame {
        text,
        assets: Vec::new(),
        custom_only: false,
    }
}

/// Spaces steps `1/rate` apart from an anchor that restarts after every pause.
struct Pace {
    interval: Duration,
    anchor: Instant,
    anchor_step: u64,
}

impl Pace {
    fn new(rate_per_sec: u32) -> Pace {
        Pace {
            interval: Duration::from_secs(1) / rate_per_sec.max(1),
            anchor: Instant::now(),
            anchor_step: 0,
        }
    }

    fn restart(&mut self, step: u64) {
        self.anchor = Instant::now();
        self.anchor_step = step;
    }

    fn wait(&self, step: u64) {
        let n = u32::try_from(step - self.anchor_step).unwrap_or(u32::MAX);
        let due = self.anchor + self.interval * n;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
    }
}
