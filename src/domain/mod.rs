//! Pure, deterministic domain types and logic: no I/O, no clocks, no threads.
pub mod book;
pub mod books;
pub mod digest;
pub mod events;
pub mod markets;
pub mod num;

pub use num::{AssetIdx, MarketIdx, Notional, NumError, Px, Qty, Side, Usdc};
