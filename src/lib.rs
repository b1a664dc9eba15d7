//! pmbot: a low-latency trading system for Polymarket's central limit order book.
pub mod adapters;
pub mod bot;
pub mod domain;
pub mod execution;
pub mod sim;
pub mod strategies;
pub mod tools;
