//! The venue's shared state: the world behind one lock together with the subscriber table, so
//! a snapshot taken on subscribe and the stream that follows it can never overlap or leave a gap.
//! Also the venue-wide counters, the stall flag, the trading state and the user-channel
//! subscribers (each sees only its own account's events).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crossbeam::channel::{self, Receiver, Sender};
use tungstenite::Utf8Bytes;

use crate::sim::matching::AccountId;
use crate::sim::scenario::FaultKind;
use crate::sim::trading::Exchange;
use crate::sim::wire::{self, Frame};
use crate::sim::world::World;

/// What the driver hands a connection.
#[derive(Clone, Debug)]
pub enum Out {
    /// A text frame to send.
    Text(Utf8Bytes),
    /// Close the TCP connection abruptly.
    Disconnect,
}

/// One connection's subscription.
struct Sub {
    id: u64,
    tx: Sender<Out>,
    assets: HashSet<usize>,
    subscribed: bool,
    custom: bool,
}

/// One user-channel subscription: an account's events in some markets.
struct UserSub {
    id: u64,
    tx: Sender<Out>,
    account: AccountId,
    /// Market indices; empty means every market.
    markets: HashSet<usize>,
}

/// Everything behind the lock.
pub struct State {
    /// Markets and true books.
    pub world: World,
    /// Accounts, the matching engine and the trading counters.
    pub exchange: Exchange,
    subs: Vec<Sub>,
    users: Vec<UserSub>,
}

/// A scripted silent stall.
#[derive(Clone, Copy)]
struct Stall {
    until: Instant,
    /// Connections with an id below this one were open when the stall began.
    before_conn: u64,
}

/// Venue-wide counters.
#[derive(Default)]
pub struct Counters {
    /// Regular messages published.
    pub steps: AtomicU64,
    /// Text frames written to sockets.
    pub frames_sent: AtomicU64,
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// Checkpoints that resumed by timeout rather than `resume()`.
    pub checkpoint_timeouts: AtomicU64,
    /// Faults injected, indexed by [`FaultKind::index`].
    pub faults: [AtomicU64; FaultKind::ALL.len()],
    /// Arbitrage windows opened.
    pub windows_opened: AtomicU64,
    /// Fee schedule changes applied.
    pub fee_changes: AtomicU64,
    /// Arbitrage windows consumed by a competing taker.
    pub windows_closed: AtomicU64,
}

/// Shared by the driver, the connections and the REST server.
pub struct Hub {
    state: Mutex<State>,
    stall: Mutex<Option<Stall>>,
    next_conn: AtomicU64,
    shutdown: AtomicBool,
    first_sub_tx: Sender<()>,
    first_sub_rx: Receiver<()>,
    /// Counters.
    pub counters: Counters,
}

impl Hub {
    /// A hub over `world` and `exchange` with no connections.
    pub fn new(world: World, exchange: Exchange) -> Hub {
        let (first_sub_tx, first_sub_rx) = channel::bounded(1);
        Hub {
            state: Mutex::new(State {
                world,
                exchange,
                subs: Vec::new(),
                users: Vec::new(),
            }),
            stall: Mutex::new(None),
            next_conn: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            first_sub_tx,
            first_sub_rx,
            counters: Counters::default(),
        }
    }

    /// Locks the state; a panic on another venue thread does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection; it receives nothing until it subscribes.
    pub fn connect(&self) -> (u64, Receiver<Out>) {
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst);
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = channel::unbounded();
        self.lock().subs.push(Sub {
            id,
            tx,
            assets: HashSet::new(),
            subscribed: false,
            custom: false,
        });
        (id, rx)
    }

    /// Forgets a connection.
    pub fn disconnect(&self, id: u64) {
        let mut state = self.lock();
        state.subs.retain(|s| s.id != id);
        state.users.retain(|s| s.id != id);
    }

    /// Subscribes connection `id` to `account`'s user-channel events in `markets` (empty: all).
    pub fn subscribe_user(&self, id: u64, account: AccountId, markets: &[usize]) {
        let mut state = self.lock();
        let Some(tx) = state.subs.iter().find(|s| s.id == id).map(|s| s.tx.clone()) else {
            return;
        };
        match state.users.iter_mut().find(|u| u.id == id) {
            Some(sub) if sub.account == account => {
                if markets.is_empty() {
                    sub.markets.clear();
                } else if !sub.markets.is_empty() {
                    sub.markets.extend(markets.iter().copied());
                }
            }
            _ => {
                state.users.retain(|u| u.id != id);
                state.users.push(UserSub {
                    id,
                    tx,
                    account,
                    markets: markets.iter().copied().collect(),
                });
            }
        }
    }

    /// Subscribes a connection to the known ids among `token_ids` (unknown ids are ignored, as
    /// the venue does) and, with `initial_dump`, queues their snapshots as one array frame
    /// before anything published later.
    pub fn subscribe(
        &self,
        id: u64,
        token_ids: &[String],
        initial_dump: bool,
        custom: Option<bool>,
    ) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let assets = state.world.assets_by_tokens(token_ids);
        let Some(sub) = state.subs.iter_mut().find(|s| s.id == id) else {
            return;
        };
        sub.subscribed = true;
        if let Some(custom) = custom {
            sub.custom = custom;
        }
        sub.assets.extend(assets.iter().copied());
        if initial_dump && !assets.is_empty() {
            let text = wire::ws_books(&state.world, &assets);
            let _ = sub.tx.send(Out::Text(text.into()));
        }
        drop(guard);
        let _ = self.first_sub_tx.try_send(());
    }

    /// Removes the known ids among `token_ids` from a connection's subscription.
    pub fn unsubscribe(&self, id: u64, token_ids: &[String]) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let assets = state.world.assets_by_tokens(token_ids);
        if let Some(sub) = state.subs.iter_mut().find(|s| s.id == id) {
            assets.iter().for_each(|a| {
                sub.assets.remove(a);
            });
        }
    }

    /// Blocks until some connection has subscribed, or until `timeout`; true if one has.
    pub fn wait_first_subscriber(&self, timeout: std::time::Duration) -> bool {
        self.first_sub_rx.recv_timeout(timeout).is_ok()
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Begins shutdown.
    pub fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// Starts a stall affecting every connection open now.
    pub fn start_stall(&self, until: Instant) {
        let before_conn = self.next_conn.load(Ordering::SeqCst);
        *self.stall.lock().unwrap_or_else(|e| e.into_inner()) = Some(Stall { until, before_conn });
    }

    /// Whether connection `id` is silenced by a stall right now.
    pub fn stalled(&self, id: u64) -> bool {
        let stall = *self.stall.lock().unwrap_or_else(|e| e.into_inner());
        stall.is_some_and(|s| id < s.before_conn && Instant::now() < s.until)
    }

    /// Counts an injected fault.
    pub fn count_fault(&self, kind: FaultKind) {
        self.counters.faults[kind.index()].fetch_add(1, Ordering::Relaxed);
    }
}

impl State {
    /// Sends `frame` to every subscriber concerned; connections that went away are dropped.
    pub fn publish(&mut self, frame: &Frame) {
        let text = Utf8Bytes::from(frame.text.clone());
        self.subs.retain(|s| {
            let wanted = s.subscribed
                && (!frame.custom_only || s.custom)
                && (frame.assets.is_empty() || frame.assets.iter().any(|a| s.assets.contains(a)));
            !wanted || s.tx.send(Out::Text(text.clone())).is_ok()
        });
    }

    /// Sends a user-channel event about `market` to `account`'s subscribers.
    pub fn send_user(&mut self, account: AccountId, market: usize, text: &str) {
        let text = Utf8Bytes::from(text.to_owned());
        self.users.retain(|u| {
            let wanted =
                u.account == account && (u.markets.is_empty() || u.markets.contains(&market));
            !wanted || u.tx.send(Out::Text(text.clone())).is_ok()
        });
    }

    /// How many user-channel subscriptions are live.
    pub fn user_subscriptions(&self) -> usize {
        self.users.len()
    }

    /// Drops every user-channel connection; returns how many there were.
    pub fn disconnect_users(&mut self) -> u64 {
        let dropped = self.users.len() as u64;
        let ids: HashSet<u64> = self
            .users
            .drain(..)
            .map(|u| {
                let _ = u.tx.send(Out::Disconnect);
                u.id
            })
            .collect();
        self.subs.retain(|s| !ids.contains(&s.id));
        dropped
    }

    /// Tells every market-channel connection to drop its socket, and forgets them.
    pub fn disconnect_all(&mut self) {
        let users: HashSet<u64> = self.users.iter().map(|u| u.id).collect();
        self.subs.retain(|s| {
            let keep = users.contains(&s.id);
            if !keep {
                let _ = s.tx.send(Out::Disconnect);
            }
            keep
        });
    }
}
