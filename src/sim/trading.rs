//! The venue's trading side: the authenticated REST endpoints (API keys, orders, cancels, reads)
//! over the matching engine, the accounts they act for, and the execution faults they inject.
//! Everything runs under the hub's lock, so the book changes an order makes are published on the
//! market channel in the same critical section that made them.

mod cancels;
pub mod config;
mod faults;
mod gate;
mod orders;
mod publish;
pub(crate) mod reads;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::sim::accounts::Accounts;
use crate::sim::http::{HttpRequest, Reply};
use crate::sim::hub::{Hub, State};
use crate::sim::matching::{AccountId, Engine, EngineConfig, EngineEvent};
use crate::sim::scenario::Scenario;
use crate::sim::world::World;

pub use faults::ExecCounts;
pub use publish::publish_engine_events;
pub use reads::{LedgerView, ledger};

/// How often the clock thread lets time-driven engine work happen.
const TICK: Duration = Duration::from_millis(5);

/// The trading state behind the hub's lock.
pub struct Exchange {
    /// Every trading account and its credentials.
    pub accounts: Accounts,
    /// Orders, books' client liquidity, trades and the ledger.
    pub engine: Engine,
    /// Faucet, L2 window, timings.
    pub spec: config::TradingSpec,
    faults: faults::FaultPlan,
    events: Vec<EngineEvent>,
}

impl Exchange {
    /// The exchange of `scenario`, with no accounts yet.
    pub fn new(scenario: &Scenario) -> Exchange {
        let spec = scenario.trading;
        let engine = Engine::new(EngineConfig {
            matched_to_mined_ms: spec.mined_after_ms,
            mined_to_confirmed_ms: spec.confirmed_after_ms,
            fail_every_nth: scenario.exec_faults.fail_trade_every,
        });
        Exchange {
            accounts: Accounts::new(scenario.seed),
            engine,
            spec,
            faults: faults::FaultPlan::new(scenario.exec_faults),
            events: Vec::new(),
        }
    }

    /// Opens and funds the account `id` if `created` (the faucet).
    fn fund(&mut self, id: AccountId, created: bool, world: &World) {
        if created {
            self.engine
                .open_account(id, self.spec.faucet_usdc, self.spec.faucet_shares, world);
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Lets time-driven engine work happen (delayed orders, GTD expiry, trade status progression)
/// and publishes what it produced. Called from the driver loop and before every request.
pub fn advance(state: &mut State, now_ms: u64) {
    state.exchange.engine.advance(&mut state.world, now_ms);
    publish_engine_events(state);
}

/// The venue's clock: advances the engine every few milliseconds (trades settle and delayed
/// orders match even when nobody calls) and drops the user channel on the fault schedule.
pub fn clock_loop(hub: &Arc<Hub>) {
    while !hub.shutting_down() {
        let now = now_ms();
        {
            let mut state = hub.lock();
            advance(&mut state, now);
            if state.exchange.faults.user_drop_due(now) {
                let dropped = state.disconnect_users();
                state.exchange.faults.counts.user_ws_disconnects += dropped;
            }
        }
        thread::sleep(TICK);
    }
}

impl Exchange {
    /// Counters so far.
    pub fn counts(&self) -> ExecCounts {
        self.faults.counts
    }
}

/// Answers a request the market endpoints did not take.
pub fn handle(hub: &Hub, request: &HttpRequest) -> Reply {
    let method = request.method.as_str();
    let path = request.path.as_str();
    match (method, path) {
        ("POST", "/auth/api-key") | ("GET", "/auth/derive-api-key") => {
            return gate::api_key(hub, request);
        }
        ("GET", "/markets") => return reads::markets(hub, request),
        ("POST", "/order") | ("POST", "/orders") => return orders::post(hub, request),
        _ => {}
    }
    let now = now_ms();
    let mut guard = hub.lock();
    let state = &mut *guard;
    advance(state, now);
    let caller = match gate::l2(state, request, now / 1000) {
        Ok(caller) => caller,
        Err(reply) => {
            return if known_l2_route(method, path) {
                reply
            } else {
                not_found(request)
            };
        }
    };
    let reply = match (method, path) {
        ("DELETE", "/order") => cancels::one(state, &caller, request, now),
        ("DELETE", "/orders") => cancels::many(state, &caller, request, now),
        ("DELETE", "/cancel-all") => cancels::all(state, &caller, now),
        ("DELETE", "/cancel-market-orders") => cancels::market(state, &caller, request, now),
        ("GET", "/data/orders") => reads::orders(state, &caller, request),
        ("GET", p) if p.starts_with("/data/order/") => {
            reads::order(state, &caller, &p["/data/order/".len()..])
        }
        ("GET", "/data/trades") => reads::trades(state, &caller, request),
        ("GET", "/balance-allowance") | ("GET", "/balance-allowance/update") => {
            reads::balance_allowance(state, &caller, request)
        }
        _ => not_found(request),
    };
    publish_engine_events(state);
    reply
}

fn known_l2_route(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        (
            "DELETE",
            "/order" | "/orders" | "/cancel-all" | "/cancel-market-orders"
        ) | (
            "GET",
            "/data/orders" | "/data/trades" | "/balance-allowance"
        ) | ("GET", "/balance-allowance/update")
    ) || (method == "GET" && path.starts_with("/data/order/"))
}

fn not_found(request: &HttpRequest) -> Reply {
    error(
        404,
        &format!("no route {} {}", request.method, request.path),
    )
}

/// A JSON reply.
fn ok(value: &Value) -> Reply {
    Reply::json(200, value.to_string())
}

/// The venue's error shape: `{"error": message}`.
fn error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({ "error": message }).to_string())
}

/// `0x` and lowercase hex.
fn hex0x(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A 1e-6 fixed-point amount as a decimal string with no trailing zeros (`"2.5"`, `"5"`).
fn decimal6(units: u64) -> String {
    let (whole, frac) = (units / 1_000_000, units % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_hex_render_like_the_venue() {
        assert_eq!(decimal6(5_000_000), "5");
        assert_eq!(decimal6(2_500_000), "2.5");
        assert_eq!(decimal6(1), "0.000001");
        assert_eq!(decimal6(0), "0");
        assert_eq!(hex0x(&[0xab, 0x01]), "0xab01");
    }

    #[test]
    fn l2_routes_are_known() {
        assert!(known_l2_route("DELETE", "/cancel-all"));
        assert!(known_l2_route("GET", "/data/order/0xab"));
        assert!(!known_l2_route("GET", "/nothing"));
    }
}
