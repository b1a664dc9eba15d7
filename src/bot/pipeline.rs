//! The threads and rings: market feed → SPSC ring → strategy thread → intent ring → execution
//! thread → report ring → strategy thread, the backfill thread beside the feed, pinning and idle
//! policy, and a control channel for the operator side.
//!
//! The strategy thread drains its rings in a fixed order (execution reports, backfill, market),
//! applies each input to the core, records latency per message, pushes the core's intents to
//! execution and routes resync requests back to the feed through a command ring. Nothing on that
//! path allocates, locks or logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{Receiver, Sender, TryRecvError};

use crate::adapters::polymarket::rest::Backfill;
use crate::adapters::polymarket::ws_market::{
    FeedCommand, MarketFeed, MarketFeedParams, RingWriter,
};
use crate::adapters::polymarket::ws_user::UserFeed;
use crate::bot::clock::Clock;
use crate::bot::idle::Idler;
use crate::bot::latency::{LatencyRecorder, Segment};
use crate::bot::metrics::{LatencySender, Metrics};
use crate::bot::settings::IdlePolicy;
use crate::domain::events::{Event, EventBody};
use crate::domain::intents::ExecReport;
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, Px};
use crate::execution::dry_run::DryRun;
use crate::execution::worker::ExecutionWorker;
use crate::execution::{ExecSummary, IntentMsg, Sink};
use crate::strategies::core::{Command, Core, CoreParams, Outbox};

/// Where each thread runs and how it waits.
#[derive(Clone, Debug)]
pub struct ThreadPlan {
    /// Idle policy of the strategy thread.
    pub strategy_idle: IdlePolicy,
    /// Idle policy of the feed threads (market and user); `park` waits on their sockets.
    pub feed_idle: IdlePolicy,
    /// Idle policy of the execution thread; `park` is woken by the strategy thread when it
    /// hands over intents.
    pub execution_idle: IdlePolicy,
    /// Bound on one park.
    pub park_timeout: Duration,
    /// Whether to pin at all.
    pub pin: bool,
    /// Core for the strategy thread.
    pub strategy_core: Option<usize>,
    /// Core for the market feed thread.
    pub feed_core: Option<usize>,
    /// Core for the execution thread.
    pub execution_core: Option<usize>,
}

impl ThreadPlan {
    /// Adapts the plan to the cores this machine has, so that no hot thread waits for another
    /// to be preempted:
    /// - threads that never sleep (`spin` or `yield`) outnumbering the cores: the execution
    ///   thread parks until the strategy thread wakes it;
    /// - spinning threads still outnumbering the cores: they yield instead;
    /// - a spinning thread on every core: allowed (the other threads preempt them, which costs
    ///   latency only when the box is busy), with a warning;
    /// - pinning needs a distinct core per pinned thread.
    ///
    /// Every downgrade is logged; the result never starves a thread.
    pub fn fit_to_machine(mut self, cores: usize) -> ThreadPlan {
        let sleepless = self.policies().filter(|&p| p != IdlePolicy::Park).count();
        if sleepless > cores && self.execution_idle != IdlePolicy::Park {
            tracing::info!(
                cores,
                "few cores: the execution thread parks until the strategy thread hands it intents"
            );
            self.execution_idle = IdlePolicy::Park;
        }
        let spinning = self.policies().filter(|&p| p == IdlePolicy::Spin).count();
        if spinning > cores {
            tracing::warn!(
                cores,
                spinning,
                "more spinning threads than cores; they yield instead"
            );
            for policy in [
                &mut self.strategy_idle,
                &mut self.feed_idle,
                &mut self.execution_idle,
            ] {
                if *policy == IdlePolicy::Spin {
                    *policy = IdlePolicy::Yield;
                }
            }
        } else if spinning == cores {
            tracing::warn!(
                cores,
                "a spinning thread on every core: every other thread preempts one of them, so \
                 keep the host otherwise idle"
            );
        }
        if self.pin {
            let wanted: Vec<usize> = [self.strategy_core, self.feed_core, self.execution_core]
                .into_iter()
                .flatten()
                .collect();
            let distinct = wanted
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if wanted.iter().any(|&c| c >= cores) || distinct < wanted.len() {
                tracing::warn!(
                    cores,
                    ?wanted,
                    "pinning plan does not fit this machine's cores; threads run unpinned"
                );
                self.pin = false;
            }
        }
        self
    }

    fn policies(&self) -> impl Iterator<Item = IdlePolicy> {
        [self.strategy_idle, self.feed_idle, self.execution_idle].into_iter()
    }
}

/// Requests from the operator side (demo, tests, telemetry) to the strategy thread, answered
/// between events, never in the middle of a message.
pub enum Control {
    /// Reply with every book's digest and staleness, in asset order.
    Books(Sender<Vec<BookView>>),
    /// An operator command for the core (kill switch, clear a halt).
    Core(Command),
}

/// One book as the core sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookView {
    /// Canonical digest of its levels.
    pub digest: u64,
    /// Whether the core distrusts it.
    pub stale: bool,
}

/// What the strategy thread hands back when it stops.
pub struct StrategyOutcome {
    /// The core's final state.
    pub core: Core,
    /// Latency histograms.
    pub latency: LatencyRecorder,
    /// What execution did.
    pub execution: ExecSummary,
}

/// A running pipeline.
pub struct Pipeline {
    /// Stops the feed and backfill threads.
    stop: Arc<AtomicBool>,
    /// Stops the execution thread (which cancels every open order first).
    execution_stop: Arc<AtomicBool>,
    /// Stops the user feed, once execution no longer needs it.
    user_stop: Arc<AtomicBool>,
    user_feed: Option<JoinHandle<()>>,
    /// Stops the strategy thread, once execution's last reports are in its ring.
    strategy_stop: Arc<AtomicBool>,
    control: Sender<Control>,
    strategy: JoinHandle<(Core, LatencyRecorder)>,
    execution: JoinHandle<ExecSummary>,
    feed: JoinHandle<()>,
    backfill: JoinHandle<()>,
}

/// Everything needed to start the pipeline.
pub struct PipelineConfig {
    /// The market feed's parameters.
    pub feed: MarketFeedParams,
    /// REST base URL for backfills.
    pub rest_url: String,
    /// Capacity of each event ring (rounded by rtrb as needed).
    pub ring_capacity: usize,
    /// Threads and idling.
    pub threads: ThreadPlan,
    /// Where the strategy thread hands latency snapshots for `/metrics`, if anywhere.
    pub latency_snapshots: Option<LatencySender>,
    /// What the core trades with.
    pub core: CoreParams,
    /// How often the backfill thread re-reads market parameters for fee changes; zero: never.
    pub metadata_refresh: Duration,
}

impl Pipeline {
    /// Starts the feed, backfill, strategy and execution threads, with a dry-run execution
    /// sink that acknowledges intents without trading.
    pub fn start(
        config: PipelineConfig,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> std::io::Result<Pipeline> {
        let sink = DryRun::with_capacity(INTENT_RING_SLOTS);
        Pipeline::start_with(config, registry, metrics, clock, sink, None)
    }

    /// Starts the pipeline with `sink` on the execution thread and, for live trading, the user
    /// channel's feed thread (whose ring the sink consumes).
    pub fn start_with<S: Sink + 'static>(
        config: PipelineConfig,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
        clock: Clock,
        sink: S,
        user_feed: Option<UserFeed>,
    ) -> std::io::Result<Pipeline> {
        let largest_message = largest_book_message(&registry);
        if config.ring_capacity < largest_message {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "pipeline.ring_capacity {} cannot hold a full book message of this universe \
                     ({largest_message} events at its finest tick); raise it",
                    config.ring_capacity
                ),
            ));
        }
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let plan = config.threads.fit_to_machine(cores.len());
        let stop = Arc::new(AtomicBool::new(false));
        let n = registry.asset_count();
        let (market_tx, market_rx) = rtrb::RingBuffer::<Event>::new(config.ring_capacity);
        let (backfill_ring_tx, backfill_ring_rx) =
            rtrb::RingBuffer::<Event>::new(config.ring_capacity);
        let (command_tx, command_rx) = rtrb::RingBuffer::<FeedCommand>::new(n.max(1) * 2);
        let (backfill_tx, backfill_rx) = crossbeam::channel::bounded(n.max(1) * 2);
        let (control_tx, control_rx) = crossbeam::channel::bounded(16);
        let (intent_tx, intent_rx) = rtrb::RingBuffer::<IntentMsg>::new(INTENT_RING_SLOTS);
        let (report_tx, report_rx) = rtrb::RingBuffer::<ExecReport>::new(REPORT_RING_SLOTS);

        let feed = MarketFeed::new(
            config.feed.clone(),
            registry.clone(),
            market_tx,
            command_rx,
            backfill_tx,
            metrics.market_feed.clone(),
            clock.clone(),
        )?;
        let backfill = Backfill {
            rest_url: config.rest_url.clone(),
            registry: registry.clone(),
            requests: backfill_rx,
            ring: RingWriter::new(backfill_ring_tx, n),
            counters: metrics.market_feed.clone(),
            clock: clock.clone(),
            ring_full_spin: config.feed.ring_full_spin,
            metadata_refresh: config.metadata_refresh,
        };
        let pin_to = |core: Option<usize>| {
            let id = core.and_then(|c| cores.iter().copied().find(|id| id.id == c));
            move || {
                if let Some(id) = id
                    && !core_affinity::set_for_current(id)
                {
                    tracing::warn!(core = id.id, "could not pin thread");
                }
            }
        };
        let feed_idler = Idler::new(plan.feed_idle, plan.park_timeout);
        let feed_pin = pin_to(plan.feed_core.filter(|_| plan.pin));
        let feed_stop = stop.clone();
        let user_idler = feed_idler.clone();
        let feed = std::thread::Builder::new()
            .name("pm-market".into())
            .spawn(move || {
                feed_pin();
                feed.run(&feed_stop, feed_idler);
            })?;

        let backfill_stop = stop.clone();
        let backfill = std::thread::Builder::new()
            .name("pm-backfill".into())
            .spawn(move || backfill.run(&backfill_stop))?;

        let user_stop = Arc::new(AtomicBool::new(false));
        let user_feed = match user_feed {
            Some(feed) => {
                let stop = user_stop.clone();
                Some(
                    std::thread::Builder::new()
                        .name("pm-user".into())
                        .spawn(move || feed.run(&stop, user_idler))?,
                )
            }
            None => None,
        };

        let execution_pin = pin_to(plan.execution_core.filter(|_| plan.pin));
        let execution_stop = Arc::new(AtomicBool::new(false));
        let execution_stop_flag = execution_stop.clone();
        let execution_idler = Idler::new(plan.execution_idle, plan.park_timeout);
        let worker = ExecutionWorker {
            intents: intent_rx,
            reports: report_tx,
            sink,
        };
        let execution = std::thread::Builder::new()
            .name("execution".into())
            .spawn(move || {
                execution_pin();
                worker.run(&execution_stop_flag, execution_idler)
            })?;
        let wake_execution =
            (plan.execution_idle == IdlePolicy::Park).then(|| execution.thread().clone());

        let strategy_pin = pin_to(plan.strategy_core.filter(|_| plan.pin));
        let strategy_stop = Arc::new(AtomicBool::new(false));
        let strategy_stop_flag = strategy_stop.clone();
        let strategy_idler = Idler::new(plan.strategy_idle, plan.park_timeout);
        let strategy_clock = clock;
        let strategy = std::thread::Builder::new()
            .name("strategy".into())
            .spawn(move || {
                strategy_pin();
                let mut thread = StrategyThread {
                    outbox: Outbox::with_capacity(registry.asset_count()),
                    core: Core::new(registry, config.core),
                    reports: report_rx,
                    rings: [backfill_ring_rx, market_rx],
                    intents: intent_tx,
                    wake_execution,
                    unsent_intents: Vec::with_capacity(INTENT_RING_SLOTS),
                    commands: command_tx,
                    unsent: Vec::with_capacity(n),
                    latency: LatencyRecorder::new(),
                    snapshots: config.latency_snapshots,
                    last_snapshot: strategy_clock.raw(),
                    clock: strategy_clock,
                    metrics,
                };
                thread.run(&strategy_stop_flag, strategy_idler, control_rx);
                (thread.core, thread.latency)
            })?;
        tracing::info!(
            strategy_idle = ?plan.strategy_idle,
            feed_idle = ?plan.feed_idle,
            execution_idle = ?plan.execution_idle,
            pinned = plan.pin,
            cores = cores.len(),
            "pipeline started"
        );
        Ok(Pipeline {
            stop,
            execution_stop,
            user_stop,
            user_feed,
            strategy_stop,
            control: control_tx,
            strategy,
            execution,
            feed,
            backfill,
        })
    }

    /// Every book's digest and staleness as the core sees them now, or `None` if the strategy
    /// thread did not answer within `timeout`.
    pub fn books(&self, timeout: Duration) -> Option<Vec<BookView>> {
        let (tx, rx) = crossbeam::channel::bounded(1);
        self.control.send(Control::Books(tx)).ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Hands an operator command to the core; false if the strategy thread is gone.
    pub fn command(&self, command: Command) -> bool {
        self.control.send(Control::Core(command)).is_ok()
    }

    /// Stops every thread and returns the strategy thread's final state. The order is what a
    /// graceful stop needs: market data first (no new opportunities), then execution (which
    /// cancels every open order and hands back the last reports, still hearing the user
    /// channel), then the user feed, then the strategy thread,
    /// which applies those reports before it returns, so the final positions hold every fill.
    pub fn stop(self) -> std::thread::Result<StrategyOutcome> {
        self.stop.store(true, Ordering::Relaxed);
        // The core places nothing new from here; control messages are served in order, so once
        // the books request is answered every order it placed before is in the intent ring.
        if self.command(Command::WindDown) {
            let _ = self.books(WIND_DOWN_TIMEOUT);
        }
        self.feed.join()?;
        self.backfill.join()?;
        self.execution_stop.store(true, Ordering::Relaxed);
        self.execution.thread().unpark();
        let execution = self.execution.join()?;
        self.user_stop.store(true, Ordering::Relaxed);
        if let Some(feed) = self.user_feed {
            feed.join()?;
        }
        self.strategy_stop.store(true, Ordering::Relaxed);
        self.strategy.thread().unpark();
        let (core, mut latency) = self.strategy.join()?;
        latency.merge(&execution.latency);
        Ok(StrategyOutcome {
            core,
            latency,
            execution,
        })
    }
}

/// Events in the largest book snapshot the universe can produce: every level of the finest
/// ladder on both sides, plus the snapshot and end markers.
fn largest_book_message(registry: &Registry) -> usize {
    let finest = registry
        .markets()
        .iter()
        .map(|m| m.tick.0)
        .min()
        .unwrap_or(100);
    let ladder = usize::from(Px::ONE.0 / finest.max(1)) + 1;
    2 * ladder + 2
}

/// How long a stop waits for the strategy thread to confirm it places nothing new.
const WIND_DOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Slots of the intent ring (strategy → execution).
const INTENT_RING_SLOTS: usize = 4096;
/// Slots of the report ring (execution → strategy).
const REPORT_RING_SLOTS: usize = 8192;

/// The strategy thread's loop state.
struct StrategyThread {
    core: Core,
    outbox: Outbox,
    /// Execution reports, drained before market data.
    reports: rtrb::Consumer<ExecReport>,
    rings: [rtrb::Consumer<Event>; 2],
    intents: rtrb::Producer<IntentMsg>,
    /// The execution thread, when it parks while idle: woken after intents are pushed.
    wake_execution: Option<std::thread::Thread>,
    /// Intents the intent ring had no room for, sent first and in order.
    unsent_intents: Vec<IntentMsg>,
    commands: rtrb::Producer<FeedCommand>,
    /// Resync requests the command ring had no room for, retried first.
    unsent: Vec<AssetIdx>,
    latency: LatencyRecorder,
    /// Telemetry's latency slot, fed about once a second while idle.
    snapshots: Option<LatencySender>,
    last_snapshot: u64,
    clock: Clock,
    metrics: Arc<Metrics>,
}

/// Interval between latency snapshots handed to telemetry.
const SNAPSHOT_INTERVAL_NS: u64 = 1_000_000_000;

/// Rounds between checks of the control channel and the stop flag while busy.
const CONTROL_CHECK_EVERY: u32 = 1024;

impl StrategyThread {
    fn run(&mut self, stop: &AtomicBool, mut idler: Idler, control: Receiver<Control>) {
        let mut rounds: u32 = 0;
        loop {
            let busy = self.drain();
            rounds = rounds.wrapping_add(1);
            if !busy || rounds.is_multiple_of(CONTROL_CHECK_EVERY) {
                // Only once idle: every report execution handed back before it stopped is
                // applied first.
                if !busy && stop.load(Ordering::Relaxed) {
                    return;
                }
                self.serve_control(&control);
                self.publish_occupancy();
                if !busy {
                    self.offer_snapshot();
                }
            }
            if busy {
                idler.reset();
            } else {
                idler.idle();
            }
        }
    }

    /// Drains every ring in order. Returns whether any event was applied.
    #[inline]
    fn drain(&mut self) -> bool {
        let mut any = false;
        if !self.unsent_intents.is_empty() {
            self.route_outbox(0, 0);
        }
        while let Ok(report) = self.reports.pop() {
            any = true;
            self.core.on_report(&report, &mut self.outbox);
            self.route_outbox(0, 0);
        }
        for r in 0..self.rings.len() {
            while let Ok(event) = self.rings[r].pop() {
                any = true;
                self.apply(&event);
            }
        }
        any
    }

    #[inline]
    fn apply(&mut self, event: &Event) {
        // Latency is per message: the clock is read once when its end is popped, and once more
        // only if the core decided to trade.
        let mut t_core = 0;
        if matches!(event.body, EventBody::MessageEnd) && event.t_rx != 0 {
            t_core = self.clock.raw();
            let c = &self.clock;
            self.latency
                .record(Segment::RxToDec, c.nanos_between(event.t_rx, event.t_dec));
            self.latency
                .record(Segment::DecToCore, c.nanos_between(event.t_dec, t_core));
            self.latency
                .record(Segment::RxToCore, c.nanos_between(event.t_rx, t_core));
        }
        self.core.on_event(event, &mut self.outbox);
        self.route_outbox(event.t_rx, t_core);
    }

    /// Sends what the core decided: intents to execution (stamped, `core_to_intent` recorded
    /// when `t_core` is set) and resyncs to the feed.
    #[inline]
    fn route_outbox(&mut self, t_rx: u64, t_core: u64) {
        if !self.outbox.intents.is_empty() || !self.unsent_intents.is_empty() {
            let t_int = self.clock.raw();
            if t_core != 0 && !self.outbox.intents.is_empty() {
                self.latency.record(
                    Segment::CoreToIntent,
                    self.clock.nanos_between(t_core, t_int),
                );
            }
            self.route_intents(t_rx, t_int);
        }
        if !self.outbox.resync.is_empty() || !self.unsent.is_empty() {
            self.route_resyncs();
        }
        self.outbox.clear();
    }

    /// Pushes intents in decision order; what the ring cannot take waits, in order, for the next
    /// round. Nothing is dropped.
    fn route_intents(&mut self, t_rx: u64, t_int: u64) {
        let decided_ms = self.core.now_ms();
        self.unsent_intents
            .extend(self.outbox.intents.iter().map(|&intent| IntentMsg {
                t_rx,
                t_int,
                decided_ms,
                intent,
            }));
        let mut sent = 0;
        for msg in &self.unsent_intents {
            if self.intents.push(*msg).is_err() {
                break;
            }
            sent += 1;
        }
        self.unsent_intents.drain(..sent);
        if sent > 0
            && let Some(execution) = &self.wake_execution
        {
            execution.unpark();
        }
    }

    fn route_resyncs(&mut self) {
        self.unsent.extend(self.outbox.resync.iter().copied());
        let mut sent = 0;
        for &asset in &self.unsent {
            if self.commands.push(FeedCommand::Resync(asset)).is_err() {
                break;
            }
            sent += 1;
        }
        self.unsent.drain(..sent);
    }

    fn serve_control(&mut self, control: &Receiver<Control>) {
        loop {
            match control.try_recv() {
                Ok(Control::Books(reply)) => {
                    let books = self.core.books();
                    let views = (0..books.len())
                        .map(|i| {
                            let book = books.book(AssetIdx(i as u32));
                            BookView {
                                digest: book.digest(),
                                stale: book.is_stale(),
                            }
                        })
                        .collect();
                    let _ = reply.try_send(views);
                }
                Ok(Control::Core(command)) => {
                    self.core.on_command(command, &mut self.outbox);
                    self.route_outbox(0, 0);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    /// Copies the histograms for telemetry. The copy allocates, so it is made only while the
    /// rings are empty, never between an event and its handling.
    fn offer_snapshot(&mut self) {
        let Some(sender) = &self.snapshots else {
            return;
        };
        let now = self.clock.raw();
        if self.clock.nanos_between(self.last_snapshot, now) >= SNAPSHOT_INTERVAL_NS {
            self.last_snapshot = now;
            sender.offer(&self.latency);
        }
    }

    fn publish_occupancy(&self) {
        let used: usize = self.rings.iter().map(|r| r.slots()).sum();
        self.metrics
            .ring_occupancy
            .store(used as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(idle: IdlePolicy, strategy: Option<usize>, feed: Option<usize>) -> ThreadPlan {
        ThreadPlan {
            strategy_idle: idle,
            feed_idle: idle,
            execution_idle: idle,
            park_timeout: Duration::from_micros(100),
            pin: true,
            strategy_core: strategy,
            feed_core: feed,
            execution_core: None,
        }
    }

    fn idles(plan: &ThreadPlan) -> [IdlePolicy; 3] {
        [plan.strategy_idle, plan.feed_idle, plan.execution_idle]
    }

    #[test]
    fn threads_that_never_sleep_are_fitted_to_the_cores() {
        use IdlePolicy::{Park, Spin, Yield};
        let fitted = |idle, cores| idles(&plan(idle, None, None).fit_to_machine(cores));
        assert_eq!(fitted(Spin, 4), [Spin, Spin, Spin]);
        assert_eq!(fitted(Spin, 3), [Spin, Spin, Spin], "one spinner per core");
        assert_eq!(
            fitted(Spin, 2),
            [Spin, Spin, Park],
            "execution parks first, then two spinners fit two cores"
        );
        assert_eq!(fitted(Spin, 1), [Yield, Yield, Park]);
        assert_eq!(
            fitted(Yield, 2),
            [Yield, Yield, Park],
            "yielding threads never sleep either"
        );
        assert_eq!(fitted(Park, 1), [Park, Park, Park]);
        let lean = ThreadPlan {
            feed_idle: Park,
            ..plan(Spin, None, None)
        };
        assert_eq!(
            idles(&lean.fit_to_machine(2)),
            [Spin, Park, Spin],
            "a parked feed leaves a core each to strategy and execution"
        );
    }

    #[test]
    fn the_ring_must_hold_the_largest_book_message() {
        let registry = crate::domain::markets::two_outcome_registry();
        assert_eq!(largest_book_message(&registry), 2 * 101 + 2);
    }

    #[test]
    fn pinning_is_dropped_when_cores_are_missing_or_shared() {
        assert!(
            plan(IdlePolicy::Park, Some(0), Some(1))
                .fit_to_machine(2)
                .pin
        );
        assert!(
            !plan(IdlePolicy::Park, Some(0), Some(2))
                .fit_to_machine(2)
                .pin
        );
        assert!(
            !plan(IdlePolicy::Park, Some(1), Some(1))
                .fit_to_machine(4)
                .pin
        );
    }
}
