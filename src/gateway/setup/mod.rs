//! Setup codes (spec node-pairing §10 and openclaw-2026.9 §12, made safer).
//! Two encodings, both base64url without padding of compact JSON:
//!
//! * 2026.9 (the default): `{"url":…,"bootstrapToken":…,"expiresAtMs":…[,"tlsFingerprint":…]}`,
//!   optionally written `oc-pair://<code>`; a 2026.9.6 node presents the token
//!   as `auth.bootstrapToken`;
//! * 2026.2.26 (`--legacy`): `{"url":…,"token":…}`; a 2026.2.26 node presents
//!   it as `auth.token`.
//!
//! Either way the token is a short-lived bootstrap secret, never the shared
//! gateway token: bound to the first device that presents it, granting only
//! the `node` role (OpenClaw's node profile, but with the owner's approval),
//! void once that device is paired (after its device token was delivered) or
//! rejected. Only SHA-256 hashes are stored, in a 0600 file in the state dir.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::crypto;
use crate::error::{Result, StoreError};
use crate::fsutil;
use crate::paths::Paths;

mod code;
mod store;
mod url;

pub use code::*;
pub use store::*;
pub use url::*;

/// File holding the outstanding setup tokens (hashes only).
pub const SETUP_FILE: &str = "clawpair-setup-tokens.json";
/// Default lifetime of a setup token.
pub const DEFAULT_TTL_MS: i64 = 10 * 60_000;
/// [`DEFAULT_TTL_MS`] as the `--ttl` flag writes it.
pub const DEFAULT_TTL_ARG: &str = "10m";
/// After its device was approved (before expiry), the token may still deliver
/// the device token for this long past its expiry.
pub const DELIVERY_GRACE_MS: i64 = 10 * 60_000;

/// Parses `10m`, `90s`, `1h`, `500ms` or a bare number of seconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else if let Some(n) = s.strip_suffix('d') {
        (n, 86_400_000)
    } else {
        (s, 1000)
    };
    let n: i64 = num.trim().parse().ok()?;
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("10m"), Some(600_000));
        assert_eq!(parse_duration_ms(DEFAULT_TTL_ARG), Some(DEFAULT_TTL_MS));
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("0"), None);
        assert_eq!(parse_duration_ms("x"), None);
    }
}
