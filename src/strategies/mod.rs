//! Strategies and the deterministic core that runs them on the strategy thread.
pub mod core;
pub mod pair_arb;
