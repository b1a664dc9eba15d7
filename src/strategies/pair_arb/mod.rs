//! Pair arbitrage: buying or selling complete outcome sets when the books price them off 1.
pub mod engine;
pub mod maker;
pub mod math;
pub mod params;
