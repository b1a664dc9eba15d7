//! The matching engine's vocabulary: ids, incoming orders, rejects, snapshots and the events it
//! reports to the venue.

use std::fmt;

use crate::domain::num::{Px, Qty, Side, Usdc};

/// A trading account on the venue (one per signer address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

impl AccountId {
    /// The house: the scenario's synthetic liquidity, with unlimited funds.
    pub const HOUSE: AccountId = AccountId(0);
    /// Where every fee goes.
    pub const FEES: AccountId = AccountId(1);
}

/// A venue order id: the order's EIP-712 hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub [u8; 32]);

impl OrderId {
    /// The id used for the house's aggregate liquidity in trade reports.
    pub const HOUSE: OrderId = OrderId([0; 32]);
}

impl fmt::Display for OrderId {
    /// `0x` and 64 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    /// Good till cancelled: the rest of the order rests.
    Gtc,
    /// Good till date: rests until `expiration_s` (Unix seconds).
    Gtd {
        /// When the order expires, Unix seconds.
        expiration_s: u64,
    },
    /// Fill or kill: all at once or nothing.
    Fok,
    /// Fill and kill: what matches now, the rest cancelled.
    Fak,
}

impl OrderType {
    /// The wire name (`GTC`, `GTD`, `FOK`, `FAK`).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Gtc => "GTC",
            OrderType::Gtd { .. } => "GTD",
            OrderType::Fok => "FOK",
            OrderType::Fak => "FAK",
        }
    }

    /// Whether what is left after matching rests on the book.
    pub const fn rests(self) -> bool {
        matches!(self, OrderType::Gtc | OrderType::Gtd { .. })
    }
}

/// An order the venue has verified (signature, owner, amounts), ready to match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Its EIP-712 hash.
    pub id: OrderId,
    /// Whose it is.
    pub account: AccountId,
    /// The owner's api key.
    pub owner: String,
    /// The order's `maker` address as sent (`0x` + 40 hex), for the user channel.
    pub maker_address: String,
    /// Index of the asset in `World::assets`.
    pub asset: usize,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Px,
    /// Size in shares.
    pub size: Qty,
    /// Time in force.
    pub order_type: OrderType,
    /// Reject instead of taking liquidity.
    pub post_only: bool,
}

/// Where an order stands, venue-side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Resting on the book.
    Live,
    /// Held by the sports taker delay.
    Delayed,
    /// Fully filled.
    Matched,
    /// Killed without any fill (FAK/FOK).
    Unmatched,
    /// Cancelled (by its owner, by expiry, or the unfilled rest of a FAK/FOK).
    Cancelled,
}

impl OrderStatus {
    /// Whether the order can still trade.
    pub const fn is_open(self) -> bool {
        matches!(self, OrderStatus::Live | OrderStatus::Delayed)
    }
}

/// What a `POST /order` gets back when the engine takes the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// `live`, `matched`, `delayed` or `unmatched`.
    pub status: OrderStatus,
    /// What the order gave so far, 1e-6 units (pUSD for a buy, shares for a sell).
    pub making: u64,
    /// What it received so far, 1e-6 units (shares for a buy, pUSD for a sell).
    pub taking: u64,
    /// Ids of the trades it took part in.
    pub trade_ids: Vec<String>,
}

/// Why the engine refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.error_msg())]
pub enum Reject {
    /// Not enough pUSD (buy) or shares (sell) beyond what open orders reserve.
    Balance,
    /// Below the market's minimum size.
    MinSize,
    /// Price off the tick or outside `[tick, 1 - tick]`, or size not in whole cents of a share.
    Tick,
    /// A post-only order that would take liquidity.
    PostOnlyCross,
    /// The market is closed or not accepting orders.
    NotAccepting,
    /// The same order id was submitted before.
    Duplicate,
    /// A GTD order whose expiration has passed.
    Expired,
    /// The asset is not listed.
    UnknownAsset,
    /// A FOK order that could not fill entirely.
    FokUnfilled,
}

impl Reject {
    /// The real venue's `errorMsg` text.
    pub fn error_msg(&self) -> &'static str {
        match self {
            Reject::Balance => "not enough balance / allowance",
            Reject::MinSize => "order is invalid. Size lower than the minimum",
            Reject::Tick => "order is invalid. Price breaks minimum tick size rules",
            Reject::PostOnlyCross => "invalid post-only order: order crosses book",
            Reject::NotAccepting => "market not accepting orders",
            Reject::Duplicate => {
                "order is invalid. Duplicated. Same order has already been placed, can't be placed again"
            }
            Reject::Expired => "invalid expiration",
            Reject::UnknownAsset => "Invalid token id",
            Reject::FokUnfilled => {
                "order couldn't be fully filled. FOK orders are fully filled or killed."
            }
        }
    }
}

/// Which of an account's open orders `cancel_all` cancels.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CancelFilter {
    /// Every open order.
    #[default]
    All,
    /// Orders in one market (index in `World::markets`).
    Market(usize),
    /// Orders on one asset (index in `World::assets`).
    Asset(usize),
}

/// An order as the engine holds it (open or finished).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSnapshot {
    /// The order as submitted.
    pub order: NewOrder,
    /// Shares matched so far.
    pub size_matched: Qty,
    /// Where it stands.
    pub status: OrderStatus,
    /// When the engine took it, Unix ms.
    pub created_ms: u64,
    /// When it last changed, Unix ms.
    pub updated_ms: u64,
    /// Trades it took part in.
    pub trade_ids: Vec<String>,
}

/// The kind of a user-channel order event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEventKind {
    /// The order was accepted (resting or delayed).
    Placement,
    /// It matched (partly or fully).
    Update,
    /// It was cancelled, expired, or its unfilled rest was killed.
    Cancellation,
}

impl OrderEventKind {
    /// The wire name (`PLACEMENT`, `UPDATE`, `CANCELLATION`).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderEventKind::Placement => "PLACEMENT",
            OrderEventKind::Update => "UPDATE",
            OrderEventKind::Cancellation => "CANCELLATION",
        }
    }
}

/// A trade's settlement status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeStatus {
    /// Matched by the engine; counts for inventory.
    Matched,
    /// Included in a block.
    Mined,
    /// Final.
    Confirmed,
    /// The transaction failed once and is being retried.
    Retrying,
    /// Failed for good; the ledger transfers were reversed.
    Failed,
}

impl TradeStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeStatus::Matched => "MATCHED",
            TradeStatus::Mined => "MINED",
            TradeStatus::Confirmed => "CONFIRMED",
            TradeStatus::Retrying => "RETRYING",
            TradeStatus::Failed => "FAILED",
        }
    }
}

/// One resting order's part in a trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerFill {
    /// The maker order ([`OrderId::HOUSE`] for house liquidity).
    pub order: OrderId,
    /// Its account.
    pub account: AccountId,
    /// Its owner's api key (empty for the house).
    pub owner: String,
    /// Its `maker` address (empty for the house).
    pub maker_address: String,
    /// The maker order's asset: the taker's, or the complement for a mint or merge.
    pub asset: usize,
    /// The maker order's side.
    pub side: Side,
    /// The maker order's price.
    pub price: Px,
    /// Shares matched.
    pub qty: Qty,
    /// Fee the maker paid, pUSD.
    pub fee: Usdc,
}

/// One trade: a taker order against the resting liquidity of one effective price level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeSnapshot {
    /// The trade id.
    pub id: String,
    /// The taker order.
    pub taker_order: OrderId,
    /// The taker's account.
    pub taker: AccountId,
    /// The taker's api key.
    pub taker_owner: String,
    /// The taker's `maker` address.
    pub taker_address: String,
    /// The taker's asset.
    pub asset: usize,
    /// The taker's side.
    pub side: Side,
    /// The taker's price per share (for a mint or merge, one minus the maker's price).
    pub price: Px,
    /// Shares the taker traded.
    pub size: Qty,
    /// Fee the taker paid, pUSD.
    pub fee: Usdc,
    /// Fee rate of the market's schedule in basis points.
    pub fee_rate_bps: u32,
    /// The resting orders it matched.
    pub makers: Vec<MakerFill>,
    /// Settlement status.
    pub status: TradeStatus,
    /// When it matched, Unix ms.
    pub match_ms: u64,
    /// When its status last changed, Unix ms.
    pub updated_ms: u64,
}

impl TradeSnapshot {
    /// The taker and every maker account, each once, taker first.
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut out = vec![self.taker];
        for m in &self.makers {
            if !out.contains(&m.account) {
                out.push(m.account);
            }
        }
        out
    }
}

/// Something the venue must publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEvent {
    /// A level changed: publish a `price_change` with the level's new total.
    Book {
        /// The asset.
        asset: usize,
        /// The side of the level.
        side: Side,
        /// The level's price.
        px: Px,
    },
    /// A trade printed: publish `last_trade_price`.
    LastTrade {
        /// The asset.
        asset: usize,
        /// The taking side.
        side: Side,
        /// The price.
        px: Px,
        /// The size.
        qty: Qty,
    },
    /// An order changed: a user-channel order event for its owner.
    Order {
        /// The owner's account.
        account: AccountId,
        /// What happened.
        kind: OrderEventKind,
        /// The order after the change.
        order: OrderSnapshot,
    },
    /// A trade was made or changed status: a user-channel trade event for each account.
    Trade {
        /// Taker and makers, each once.
        accounts: Vec<AccountId>,
        /// The trade after the change.
        trade: TradeSnapshot,
    },
}
