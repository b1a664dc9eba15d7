//! The embedded simulated venue, market side: an in-process server on loopback that speaks
//! Polymarket's market WebSocket and public REST shapes, so the bot's real network and decode
//! code runs against it unchanged. A seeded scenario drives the books; the venue keeps the true
//! books and reports their digests at checkpoints for comparison with the bot's.

mod accounts;
mod book;
mod driver;
mod dynamics;
mod gamma;
mod http;
mod hub;
pub mod matching;
mod no_arb;
mod rest;
pub mod scenario;
mod trading;
mod universe;
pub mod user_wire;
mod windows;
mod wire;
pub mod world;
mod ws_market;
mod ws_user;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crossbeam::channel::{self, Receiver, Sender};

use crate::adapters::polymarket::signing::Address;
use crate::domain::markets::MarketSpec;

pub use book::TrueBook;
pub use driver::{CHECKPOINT_TIMEOUT, Checkpoint};
pub use scenario::{FaultKind, Scenario, WindowKind, WindowSpec, load_scenario};
pub use trading::config::{Burst429, ExecFaults, TradingSpec};
pub use trading::{ExecCounts, LedgerView};

/// Why the venue could not start or a scenario could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario file is malformed or inconsistent; `reason` names the key.
    #[error("scenario {name}: {reason}")]
    Scenario {
        /// The scenario's name or path.
        name: String,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// No scenario file by that name.
    #[error("scenario {name:?} not found (looked for {tried:?})")]
    ScenarioNotFound {
        /// The name asked for.
        name: String,
        /// The paths tried.
        tried: Vec<String>,
    },
    /// A socket or thread could not be set up.
    #[error("venue {context}: {source}")]
    Io {
        /// What the venue was doing.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> SimError {
    move |source| SimError::Io { context, source }
}

/// How to run the venue.
pub struct VenueConfig {
    /// Where the market WebSocket listens (port 0 picks a free port); REST listens on the same
    /// IP, on a port of its own.
    pub listen: SocketAddr,
    /// What to play.
    pub scenario: Scenario,
    /// Pace messages at the scenario's `rate_per_sec`; otherwise publish as fast as possible.
    pub paced: bool,
}

/// Faults injected so far, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Abrupt disconnects.
    pub disconnect: u64,
    /// Silent stalls.
    pub stall: u64,
    /// Truncated-JSON frames.
    pub malformed: u64,
    /// Frames with an unknown `event_type`.
    pub unknown_event: u64,
    /// Messages sent twice.
    pub duplicate: u64,
    /// Swapped `price_change` pairs.
    pub reorder: u64,
    /// Tick-size changes.
    pub tick_size_change: u64,
}

/// What the venue has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueStats {
    /// Regular scenario messages published.
    pub steps_published: u64,
    /// Text frames written to client sockets (all connections, snapshots and faults included).
    pub frames_sent: u64,
    /// WebSocket connections accepted.
    pub connections_accepted: u64,
    /// Checkpoints that went on after the timeout instead of `resume()`.
    pub checkpoint_timeouts: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Arbitrage windows opened.
    pub windows_opened: u64,
    /// Arbitrage windows consumed by a competing taker.
    pub windows_closed: u64,
    /// Fee schedule changes applied.
    pub fee_changes: u64,
    /// The trading side: orders accepted and refused, execution faults injected.
    pub exec: ExecCounts,
}

/// A running venue. Dropping it shuts it down.
pub struct Venue {
    hub: Arc<hub::Hub>,
    ws_addr: SocketAddr,
    rest_addr: SocketAddr,
    checkpoints: Receiver<Checkpoint>,
    resume: Sender<()>,
    threads: Vec<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    driver: Option<JoinHandle<()>>,
}

/// Starts the venue: binds both servers and starts the driver, which waits for a first
/// subscriber before publishing anything.
pub fn start(cfg: VenueConfig) -> Result<Venue, SimError> {
    let listener = TcpListener::bind(cfg.listen).map_err(io("binding the market WebSocket"))?;
    let ws_addr = listener
        .local_addr()
        .map_err(io("reading the WebSocket address"))?;
    let rest = TcpListener::bind(SocketAddr::new(cfg.listen.ip(), 0))
        .map_err(io("binding the REST server"))?;
    let rest_addr = rest.local_addr().map_err(io("reading the REST address"))?;
    let (dynamics, world) = dynamics::Dynamics::new(&cfg.scenario);
    let exchange = trading::Exchange::new(&cfg.scenario);
    let hub = Arc::new(hub::Hub::new(world, exchange));
    let (checkpoint_tx, checkpoints) = channel::unbounded();
    let (resume, resume_rx) = channel::bounded(1);
    let conns = Arc::new(Mutex::new(Vec::new()));

    let mut threads = Vec::new();
    let (h, c) = (Arc::clone(&hub), Arc::clone(&conns));
    threads.push(spawn("venue-ws-accept", move || {
        ws_market::accept_loop(listener, h, c)
    })?);
    let (handler, c) = (
        Arc::new(rest::Rest {
            hub: Arc::clone(&hub),
        }),
        Arc::clone(&conns),
    );
    threads.push(spawn("venue-rest", move || {
        http::accept_loop(rest, handler, c)
    })?);
    let h = Arc::clone(&hub);
    threads.push(spawn("venue-clock", move || trading::clock_loop(&h))?);
    let driver = driver::Driver {
        hub: Arc::clone(&hub),
        dynamics,
        scenario: cfg.scenario,
        paced: cfg.paced,
        checkpoints: checkpoint_tx,
        resume: resume_rx,
    };
    let driver = Some(spawn("venue-driver", move || driver.run())?);
    Ok(Venue {
        hub,
        ws_addr,
        rest_addr,
        checkpoints,
        resume,
        threads,
        conns,
        driver,
    })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, SimError> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(io("spawning a thread"))
}

impl Venue {
    /// `ws://<ip>:<port>/ws/market`.
    pub fn ws_market_url(&self) -> String {
        format!("ws://{}{}", self.ws_addr, ws_market::PATH)
    }

    /// `ws://<ip>:<port>/ws/user` (the market channel's port).
    pub fn user_ws_url(&self) -> String {
        format!("ws://{}{}", self.ws_addr, ws_user::PATH)
    }

    /// `ws://<ip>:<port>`: the base the official clients append `/ws/market` and `/ws/user` to.
    pub fn ws_base_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// How many user-channel connections are subscribed right now (authenticated).
    pub fn user_subscriptions(&self) -> usize {
        self.hub.lock().user_subscriptions()
    }

    /// The pUSD and shares of the account of signer `address`, if it has one.
    pub fn account_ledger(&self, address: &Address) -> Option<LedgerView> {
        let state = self.hub.lock();
        let account = state.exchange.accounts.by_address(address)?;
        Some(trading::ledger(&state, account.id))
    }

    /// `http://<ip>:<port>` (no trailing slash).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    /// The universe as it stands now (ticks reflect any tick-size change already published).
    pub fn markets(&self) -> Vec<MarketSpec> {
        let state = self.hub.lock();
        state.world.markets.iter().map(|m| m.spec.clone()).collect()
    }

    /// Checkpoints, in order; the driver pauses after sending each (but the last) until
    /// [`Venue::resume`] or [`CHECKPOINT_TIMEOUT`].
    pub fn checkpoints(&self) -> &Receiver<Checkpoint> {
        &self.checkpoints
    }

    /// Lets the driver continue after the checkpoint it is paused at.
    pub fn resume(&self) {
        let _ = self.resume.try_send(());
    }

    /// Whether every step has been published (the final checkpoint has been sent).
    pub fn finished(&self) -> bool {
        self.driver.as_ref().is_none_or(|d| d.is_finished())
    }

    /// Counters so far.
    pub fn stats(&self) -> VenueStats {
        let c = &self.hub.counters;
        let fault = |k: FaultKind| c.faults[k.index()].load(Ordering::Relaxed);
        VenueStats {
            steps_published: c.steps.load(Ordering::Relaxed),
            frames_sent: c.frames_sent.load(Ordering::Relaxed),
            connections_accepted: c.connections.load(Ordering::Relaxed),
            checkpoint_timeouts: c.checkpoint_timeouts.load(Ordering::Relaxed),
            faults: FaultCounts {
                disconnect: fault(FaultKind::Disconnect),
                stall: fault(FaultKind::Stall),
                malformed: fault(FaultKind::Malformed),
                unknown_event: fault(FaultKind::UnknownEvent),
                duplicate: fault(FaultKind::Duplicate),
                reorder: fault(FaultKind::Reorder),
                tick_size_change: fault(FaultKind::TickSizeChange),
            },
            windows_opened: c.windows_opened.load(Ordering::Relaxed),
            fee_changes: c.fee_changes.load(Ordering::Relaxed),
            windows_closed: c.windows_closed.load(Ordering::Relaxed),
            exec: self.hub.lock().exchange.counts(),
        }
    }

    /// The digest of `token_id`'s true book right now, if the venue lists it.
    pub fn true_digest(&self, token_id: &str) -> Option<u64> {
        let state = self.hub.lock();
        state
            .world
            .digests()
            .into_iter()
            .find(|(token, _)| token == token_id)
            .map(|(_, digest)| digest)
    }

    /// Stops every venue thread and waits for them.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        self.hub.begin_shutdown();
        let _ = self.resume.try_send(());
        let _ = TcpStream::connect(self.ws_addr);
        let _ = TcpStream::connect(self.rest_addr);
        let threads: Vec<_> = self
            .driver
            .take()
            .into_iter()
            .chain(self.threads.drain(..))
            .collect();
        threads.into_iter().for_each(|h| {
            let _ = h.join();
        });
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(|e| e.into_inner()));
        conns.into_iter().for_each(|h| {
            let _ = h.join();
        });
    }
}
