//! Device pairing store: `<state>/devices/pending.json` and `paired.json`.

pub mod model;

pub use model::{PairedDevice, PendingRequest, TokenMap, TokenRecord, PENDING_TTL_MS};
