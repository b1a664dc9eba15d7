//! pmbot: a low-latency trading system for Polymarket's central limit order book.
pub mod adapters;
pub mod domain;
