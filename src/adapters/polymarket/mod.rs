//! Polymarket CLOB adapter: the market channel's transport, feed thread and decoder, the
//! market-data REST calls, the registry from Gamma's metadata, and EIP-712 order signing.
pub mod decode;
pub mod gamma;
pub mod rest;
pub mod signing;
pub mod transport;
pub mod ws_market;
