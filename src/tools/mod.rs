//! Command implementations: the demo, the live run, the standalone venue, and the run report.
pub mod arb;
pub mod demo;
pub mod live;
pub mod report;
pub mod session;
pub mod venue;
