//! Polymarket CLOB adapter: the market and user channels' transport, feed threads and decoders,
//! the market-data REST calls, the registry from Gamma's metadata, and EIP-712 order signing.
pub mod decode;
pub mod gamma;
pub mod rest;
pub mod signing;
pub mod transport;
pub mod ws_market;
pub mod ws_user;
