//! clawpair: an approval console for OpenClaw DM pairing and node device
//! pairing, reading and writing the same files, locks and protocol as
//! OpenClaw 2026.2.26.

pub mod app;
pub mod audit;
pub mod cli;
pub mod clipboard;
pub mod clock;
pub mod devices;
pub mod dm;
pub mod error;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod gateway;
pub mod identity;
pub mod jsonfmt;
pub mod lock;
pub mod logfile;
pub mod node;
pub mod openclaw_config;
pub mod operator;
pub mod paths;
pub mod qr;
pub mod runtime;
pub mod sanitize;
pub mod secret;
pub mod statedb;
pub mod ui;

/// The recorded fixtures in `tests/fixtures/`, for unit tests.
#[cfg(test)]
#[path = "../tests/support/fixtures.rs"]
pub(crate) mod test_fixtures;
