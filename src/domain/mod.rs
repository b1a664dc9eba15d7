//! Pure, deterministic domain types and logic: no I/O, no clocks, no threads.
pub mod book;
pub mod books;
pub mod digest;
pub mod events;
pub mod fees;
pub mod intents;
pub mod markets;
pub mod num;
pub mod orders;
pub mod positions;
pub mod risk;

pub use num::{AssetIdx, EventIdx, MarketIdx, Notional, NumError, Px, Qty, Side, Usdc};
