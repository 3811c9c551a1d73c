//! Device pairing store: `<state>/devices/pending.json` and `paired.json`.

pub mod model;
pub mod state;
pub mod store;

pub use model::{PairedDevice, PendingRequest, TokenMap, TokenRecord, PENDING_TTL_MS};
pub use store::{
    new_token, scopes_cover, tokens_equal, Approved, ConnectClaim, ConnectMeta, DeviceState,
    DeviceStore, PairingReason, RequestInput, RequestOutcome, TokenFailure,
};
