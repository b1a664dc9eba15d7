//! Venue adapters: wire formats and connections, translated into domain events.
pub mod polymarket;
