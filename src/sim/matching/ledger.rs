//! Balances per account: pUSD, shares per asset, what open orders reserve, and the sets minted
//! per market. Every trade's movements are recorded as a journal so a failed trade can be
//! reversed exactly.

use std::collections::HashMap;

use crate::sim::matching::types::AccountId;

/// One account's holdings, in 1e-6 units. Signed: the house has no limits and a failed trade's
/// reversal may take back what was already spent.
#[derive(Clone, Debug, Default)]
struct Holdings {
    usdc: i64,
    reserved_usdc: i64,
    shares: HashMap<usize, i64>,
    reserved_shares: HashMap<usize, i64>,
}

/// One movement of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Movement {
    /// pUSD added to (or, negative, taken from) an account.
    Usdc {
        /// The account.
        account: AccountId,
        /// The change, 1e-6 units.
        delta: i64,
    },
    /// Shares of an asset added to (or taken from) an account.
    Shares {
        /// The account.
        account: AccountId,
        /// The asset.
        asset: usize,
        /// The change, 1e-6 units.
        delta: i64,
    },
    /// Full sets of a market minted (positive) or merged (negative) by the exchange.
    Sets {
        /// The market.
        market: usize,
        /// The change, 1e-6 units.
        delta: i64,
    },
}

impl Movement {
    fn reversed(self) -> Movement {
        match self {
            Movement::Usdc { account, delta } => Movement::Usdc {
                account,
                delta: -delta,
            },
            Movement::Shares {
                account,
                asset,
                delta,
            } => Movement::Shares {
                account,
                asset,
                delta: -delta,
            },
            Movement::Sets { market, delta } => Movement::Sets {
                market,
                delta: -delta,
            },
        }
    }
}

/// Every account's holdings.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    accounts: HashMap<AccountId, Holdings>,
    sets: HashMap<usize, i64>,
}

impl Ledger {
    fn holdings(&mut self, account: AccountId) -> &mut Holdings {
        self.accounts.entry(account).or_default()
    }

    /// Applies one movement.
    pub fn apply(&mut self, m: Movement) {
        match m {
            Movement::Usdc { account, delta } => self.holdings(account).usdc += delta,
            Movement::Shares {
                account,
                asset,
                delta,
            } => *self.holdings(account).shares.entry(asset).or_default() += delta,
            Movement::Sets { market, delta } => *self.sets.entry(market).or_default() += delta,
        }
    }

    /// Applies a journal's movements in order.
    pub fn apply_all(&mut self, journal: &[Movement]) {
        journal.iter().for_each(|m| self.apply(*m));
    }

    /// Undoes a journal: its movements negated, last first.
    pub fn reverse(&mut self, journal: &[Movement]) {
        journal.iter().rev().for_each(|m| self.apply(m.reversed()));
    }

    /// pUSD held.
    pub fn usdc(&self, account: AccountId) -> i64 {
        self.accounts.get(&account).map_or(0, |h| h.usdc)
    }

    /// Shares of `asset` held.
    pub fn shares(&self, account: AccountId, asset: usize) -> i64 {
        self.accounts
            .get(&account)
            .and_then(|h| h.shares.get(&asset))
            .copied()
            .unwrap_or(0)
    }

    /// pUSD held beyond what open orders reserve.
    pub fn free_usdc(&self, account: AccountId) -> i64 {
        self.accounts
            .get(&account)
            .map_or(0, |h| h.usdc - h.reserved_usdc)
    }

    /// Shares of `asset` held beyond what open orders reserve.
    pub fn free_shares(&self, account: AccountId, asset: usize) -> i64 {
        let reserved = self
            .accounts
            .get(&account)
            .and_then(|h| h.reserved_shares.get(&asset))
            .copied()
            .unwrap_or(0);
        self.shares(account, asset) - reserved
    }

    /// Changes the pUSD reserved for `account`'s open orders by `delta`.
    pub fn reserve_usdc(&mut self, account: AccountId, delta: i64) {
        self.holdings(account).reserved_usdc += delta;
    }

    /// Changes the shares of `asset` reserved for `account`'s open orders by `delta`.
    pub fn reserve_shares(&mut self, account: AccountId, asset: usize, delta: i64) {
        *self
            .holdings(account)
            .reserved_shares
            .entry(asset)
            .or_default() += delta;
    }

    /// Net full sets of `market` the exchange holds (minted minus merged).
    pub fn sets(&self, market: usize) -> i64 {
        self.sets.get(&market).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: AccountId = AccountId(7);
    const B: AccountId = AccountId(8);

    #[test]
    fn reverse_undoes_a_journal_exactly() {
        let mut l = Ledger::default();
        l.apply(Movement::Usdc {
            account: A,
            delta: 1_000,
        });
        let before = (
            l.usdc(A),
            l.usdc(B),
            l.shares(A, 3),
            l.shares(B, 3),
            l.sets(0),
        );
        let journal = [
            Movement::Usdc {
                account: A,
                delta: -400,
            },
            Movement::Usdc {
                account: B,
                delta: 400,
            },
            Movement::Shares {
                account: B,
                asset: 3,
                delta: -50,
            },
            Movement::Shares {
                account: A,
                asset: 3,
                delta: 50,
            },
            Movement::Sets {
                market: 0,
                delta: 9,
            },
        ];
        l.apply_all(&journal);
        assert_eq!(
            (l.usdc(A), l.usdc(B), l.shares(A, 3), l.sets(0)),
            (600, 400, 50, 9)
        );
        l.reverse(&journal);
        assert_eq!(
            (
                l.usdc(A),
                l.usdc(B),
                l.shares(A, 3),
                l.shares(B, 3),
                l.sets(0)
            ),
            before
        );
    }

    #[test]
    fn reservations_reduce_what_is_free() {
        let mut l = Ledger::default();
        l.apply(Movement::Usdc {
            account: A,
            delta: 1_000,
        });
        l.apply(Movement::Shares {
            account: A,
            asset: 2,
            delta: 30,
        });
        l.reserve_usdc(A, 700);
        l.reserve_shares(A, 2, 10);
        assert_eq!((l.free_usdc(A), l.free_shares(A, 2)), (300, 20));
        l.reserve_usdc(A, -700);
        assert_eq!(l.free_usdc(A), 1_000);
    }
}
