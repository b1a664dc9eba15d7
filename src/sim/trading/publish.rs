//! Engine events out: book changes become `price_change` frames (one per market, the levels'
//! new totals), trades `last_trade_price` prints, and order and trade changes user-channel
//! events for each account concerned. Called under the hub's lock right after the engine acted,
//! so market subscribers see the book exactly as the engine left it.

use crate::domain::num::{Px, Side};
use crate::sim::hub::State;
use crate::sim::matching::{AccountId, EngineEvent, TradeStatus};
use crate::sim::user_wire;
use crate::sim::wire::{self, ChangeEntry, Frame};

/// Drains the engine and publishes everything it reported.
pub fn publish_engine_events(state: &mut State) {
    let mut events = std::mem::take(&mut state.exchange.events);
    events.clear();
    state.exchange.engine.drain(&mut events);
    if !events.is_empty() {
        publish_books(state, &events);
        publish_prints(state, &events);
        publish_user(state, &events);
    }
    state.exchange.events = events;
}

/// A changed level: asset, side, price.
type Level = (usize, Side, Px);

/// One `price_change` per market touched, its entries in the order the levels changed.
fn publish_books(state: &mut State, events: &[EngineEvent]) {
    let mut markets: Vec<(usize, Vec<Level>)> = Vec::new();
    for event in events {
        let EngineEvent::Book { asset, side, px } = *event else {
            continue;
        };
        let market = state.world.assets[asset].market;
        let slot = match markets.iter().position(|(m, _)| *m == market) {
            Some(i) => i,
            None => {
                markets.push((market, Vec::new()));
                markets.len() - 1
            }
        };
        let levels = &mut markets[slot].1;
        if !levels.contains(&(asset, side, px)) {
            levels.push((asset, side, px));
        }
    }
    for (market, levels) in markets {
        let ts = state.world.next_timestamp();
        let world = &state.world;
        let entries = levels
            .iter()
            .map(|&(asset, side, px)| {
                let a = &world.assets[asset];
                ChangeEntry::new(&a.token_id, side, px, &a.book)
            })
            .collect();
        let spec = &world.markets[market].spec;
        let frame = Frame {
            text: wire::price_change(&spec.condition_id, entries, ts),
            assets: world.markets[market].assets.clone(),
            custom_only: false,
        };
        state.publish(&frame);
    }
}

/// A `last_trade_price` per print; the asset's last trade price follows.
fn publish_prints(state: &mut State, events: &[EngineEvent]) {
    for event in events {
        let EngineEvent::LastTrade {
            asset,
            side,
            px,
            qty,
        } = *event
        else {
            continue;
        };
        let ts = state.world.next_timestamp();
        state.world.assets[asset].last_trade = px;
        let frame = Frame {
            text: wire::last_trade(&state.world, asset, side, px, qty, ts),
            assets: vec![asset],
            custom_only: false,
        };
        state.publish(&frame);
    }
}

/// Order and trade events to the user-channel subscribers of each account concerned.
fn publish_user(state: &mut State, events: &[EngineEvent]) {
    for event in events {
        match event {
            EngineEvent::Order {
                account,
                kind,
                order,
            } => {
                let market = state.world.assets[order.order.asset].market;
                let text = user_wire::order_event(&state.world, order, *kind);
                state.send_user(*account, market, &text);
            }
            EngineEvent::Trade { accounts, trade } => {
                if trade.status == TradeStatus::Failed {
                    state.exchange.faults.counts.trades_failed += 1;
                }
                let market = state.world.assets[trade.asset].market;
                for &account in accounts {
                    if account == AccountId::HOUSE || account == AccountId::FEES {
                        continue;
                    }
                    let owner = if account == trade.taker {
                        trade.taker_owner.as_str()
                    } else {
                        trade
                            .makers
                            .iter()
                            .find(|m| m.account == account)
                            .map_or("", |m| m.owner.as_str())
                    };
                    let text = user_wire::trade_event(&state.world, trade, owner);
                    state.send_user(account, market, &text);
                }
            }
            EngineEvent::Book { .. } | EngineEvent::LastTrade { .. } => {}
        }
    }
}
