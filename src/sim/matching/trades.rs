//! Trades: recording a taker's fill at one level (taker fee, ledger, prints) and moving each
//! trade through MATCHED → MINED → CONFIRMED, or RETRYING → FAILED with its ledger movements
//! reversed exactly.

use crate::sim::matching::Engine;
use crate::sim::matching::ledger::Movement;
use crate::sim::matching::matcher::{Crossing, LevelFill};
use crate::sim::matching::types::{AccountId, EngineEvent, NewOrder, TradeSnapshot, TradeStatus};
use crate::sim::world::World;

/// A trade with what settling it needs.
#[derive(Clone, Debug)]
pub struct TradeRecord {
    /// The public view.
    pub snap: TradeSnapshot,
    /// Its ledger movements, in the order applied.
    journal: Vec<Movement>,
    /// Whether it is scripted to fail.
    fails: bool,
}

/// A trade id shaped like the venue's (a UUID), from the trade's number.
fn trade_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

impl Engine {
    /// Books `fill` as a trade of `taker` at level `c`: charges the taker fee, applies the
    /// ledger movements, emits the trade, the prints and the makers' updates; returns its id.
    pub(super) fn record_trade(
        &mut self,
        world: &World,
        taker: &NewOrder,
        c: Crossing,
        mut fill: LevelFill,
        now_ms: u64,
    ) -> String {
        let fees = world.market_of(taker.asset).spec.fees;
        let fee = fees.taker_fee(c.eff, fill.qty);
        if fee.0 != 0 {
            fill.journal.extend([
                Movement::Usdc {
                    account: taker.account,
                    delta: -fee.0,
                },
                Movement::Usdc {
                    account: AccountId::FEES,
                    delta: fee.0,
                },
            ]);
        }
        self.ledger.apply_all(&fill.journal);
        let index = self.trades.len();
        let id = trade_id(index + 1);
        let snap = TradeSnapshot {
            id: id.clone(),
            taker_order: taker.id,
            taker: taker.account,
            taker_owner: taker.owner.clone(),
            taker_address: taker.maker_address.clone(),
            asset: taker.asset,
            side: taker.side,
            price: c.eff,
            size: fill.qty,
            fee,
            fee_rate_bps: fees.rate_ppm / 100,
            makers: fill.makers,
            status: TradeStatus::Matched,
            match_ms: now_ms,
            updated_ms: now_ms,
        };
        let nth = self.cfg.fail_every_nth;
        let fails = nth > 0 && (index as u64 + 1).is_multiple_of(nth);
        self.events.push(EngineEvent::LastTrade {
            asset: taker.asset,
            side: taker.side,
            px: c.eff,
            qty: fill.qty,
        });
        if c.complement {
            self.events.push(EngineEvent::LastTrade {
                asset: c.asset,
                side: taker.side,
                px: c.px,
                qty: fill.qty,
            });
        }
        self.events.push(EngineEvent::Trade {
            accounts: snap.accounts(),
            trade: snap.clone(),
        });
        self.maker_updates(&snap.makers, &id);
        self.settling
            .insert((now_ms + self.cfg.matched_to_mined_ms, index), ());
        self.trade_index.insert(id.clone(), index);
        self.trades.push(TradeRecord {
            snap,
            journal: fill.journal,
            fails,
        });
        id
    }

    /// Moves every trade whose next status is due at or before `now_ms`.
    pub(super) fn settle(&mut self, now_ms: u64) {
        while let Some((&(due, index), _)) = self.settling.first_key_value() {
            if due > now_ms {
                break;
            }
            self.settling.remove(&(due, index));
            let t = &mut self.trades[index];
            let next = match (t.snap.status, t.fails) {
                (TradeStatus::Matched, false) => TradeStatus::Mined,
                (TradeStatus::Matched, true) => TradeStatus::Retrying,
                (TradeStatus::Mined, _) => TradeStatus::Confirmed,
                (TradeStatus::Retrying, _) => TradeStatus::Failed,
                (done, _) => done,
            };
            t.snap.status = next;
            t.snap.updated_ms = due;
            match next {
                TradeStatus::Mined | TradeStatus::Retrying => {
                    self.settling
                        .insert((due + self.cfg.mined_to_confirmed_ms, index), ());
                }
                TradeStatus::Failed => self.ledger.reverse(&t.journal),
                _ => {}
            }
            let t = &self.trades[index];
            self.events.push(EngineEvent::Trade {
                accounts: t.snap.accounts(),
                trade: t.snap.clone(),
            });
        }
    }
}
