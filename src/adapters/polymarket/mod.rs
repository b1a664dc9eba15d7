//! Polymarket CLOB adapter: the market and user channels' transport, feed threads and decoders,
//! the market-data REST calls, the registry from Gamma's metadata, EIP-712 order signing, CLOB
//! authentication (L1/L2) and the order client.
pub mod auth;
pub mod clob_client;
pub mod decode;
pub mod gamma;
pub mod rest;
pub mod signing;
pub mod transport;
pub mod ws_market;
pub mod ws_user;
