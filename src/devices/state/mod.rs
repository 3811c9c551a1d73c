//! The pure state transitions of the devices store (spec node-pairing §3–§5,
//! §8): no clock, no randomness, no I/O. Callers pass `now_ms` and any token
//! they may need, so every rule here is unit-testable; `store.rs` wraps these
//! in locking, reading and atomic writing.

use super::model::{PairedDevice, PendingRequest, TokenMap, TokenRecord};
use crate::error::{Result, StoreError};

mod queries;
mod transitions;

pub use transitions::*;

/// Error text OpenClaw uses for an unknown request id.
pub const UNKNOWN_REQUEST: &str = "unknown requestId";
/// Error text OpenClaw uses for an unknown device id.
pub const UNKNOWN_DEVICE: &str = "unknown deviceId";
/// Error text OpenClaw uses when rotate/revoke find no such device or role.
pub const UNKNOWN_DEVICE_ROLE: &str = "unknown deviceId/role";

/// Both device files, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceState {
    pub pending: Vec<PendingRequest>,
    pub paired: Vec<PairedDevice>,
}

/// What a connect that needs pairing supplies (spec §3, gateway-protocol §4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInput {
    pub device_id: String,
    /// base64url raw key, already normalised by the caller.
    pub public_key: String,
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub device_family: Option<String>,
    pub client_id: Option<String>,
    pub client_mode: Option<String>,
    pub role: Option<String>,
    pub scopes: Vec<String>,
    /// Only for non-local clients (spec §7).
    pub remote_ip: Option<String>,
    /// True only when the request qualifies for local auto-approval.
    pub silent: bool,
}

/// Result of [`DeviceState::request`]: the stored request and whether it is new
/// (`false` for a merge into the device's existing request, which sends no event).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOutcome {
    pub request: PendingRequest,
    pub created: bool,
}

/// Result of an approval: the request that was removed and the device as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Approved {
    pub request: PendingRequest,
    pub device: PairedDevice,
}

/// What an accepted connect of a paired device patches (spec §4 "Metadata update").
/// Every `Option` overwrites the stored value, `None` deletes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectMeta {
    pub display_name: Option<String>,
    pub client_id: Option<String>,
    pub client_mode: Option<String>,
    pub role: Option<String>,
    pub remote_ip: Option<String>,
    /// Unioned into the stored `roles` (with `role`) and `scopes`.
    pub scopes: Vec<String>,
}

/// Why device-token auth failed (spec §5). Reported to a client only as
/// "device token mismatch"; the reason is for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    DeviceNotPaired,
    RoleMissing,
    TokenMissing,
    TokenRevoked,
    TokenMismatch,
    ScopeMismatch,
}

impl TokenFailure {
    /// OpenClaw's internal reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFailure::DeviceNotPaired => "device-not-paired",
            TokenFailure::RoleMissing => "role-missing",
            TokenFailure::TokenMissing => "token-missing",
            TokenFailure::TokenRevoked => "token-revoked",
            TokenFailure::TokenMismatch => "token-mismatch",
            TokenFailure::ScopeMismatch => "scope-mismatch",
        }
    }
}

impl std::fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connect of a device needs (re-)pairing (gateway-protocol §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingReason {
    NotPaired,
    MetadataUpgrade,
    RoleUpgrade,
    ScopeUpgrade,
}

impl PairingReason {
    /// The reason string of `error.details.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            PairingReason::NotPaired => "not-paired",
            PairingReason::MetadataUpgrade => "metadata-upgrade",
            PairingReason::RoleUpgrade => "role-upgrade",
            PairingReason::ScopeUpgrade => "scope-upgrade",
        }
    }
}

/// What a connect claims, for [`DeviceState::pairing_reason`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectClaim<'a> {
    pub device_id: &'a str,
    /// Normalised base64url raw key.
    pub public_key: &'a str,
    pub platform: Option<&'a str>,
    pub device_family: Option<&'a str>,
    pub role: &'a str,
    pub scopes: &'a [String],
}

/// Device metadata as compared and signed: trimmed, only `A`–`Z` mapped to
/// lower case (as the real client does); absent is empty.
pub fn norm_meta(s: Option<&str>) -> String {
    s.unwrap_or("").trim().to_ascii_lowercase()
}

/// Device tokens are compared like every secret (constant time).
pub use crate::secret::secrets_equal as tokens_equal;

/// Whether `allowed` covers every scope in `requested` (spec §5). For role
/// `operator`: `operator.admin` covers any `operator.*`, `operator.read` is
/// covered by read or write, anything else needs exact membership. Other
/// roles: exact membership. An empty request always passes; a non-empty
/// request against an empty allowance fails.
pub fn scopes_cover(role: &str, allowed: &[String], requested: &[String]) -> bool {
    if requested.is_empty() {
        return true;
    }
    if allowed.is_empty() {
        return false;
    }
    let has = |s: &str| allowed.iter().any(|a| a == s);
    requested.iter().all(|req| {
        if role != "operator" {
            return has(req);
        }
        if req.starts_with("operator.") && has("operator.admin") {
            return true;
        }
        if req == "operator.read" {
            return has("operator.read") || has("operator.write");
        }
        has(req)
    })
}

/// Scopes with their implications added (`operator.admin` ⇒ read, write,
/// approvals, pairing; `operator.write` ⇒ read), as rotate checks them.
pub fn expand_scopes(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    for s in scopes {
        push(s);
        if s == "operator.admin" {
            for implied in [
                "operator.read",
                "operator.write",
                "operator.approvals",
                "operator.pairing",
            ] {
                push(implied);
            }
        } else if s == "operator.write" {
            push("operator.read");
        }
    }
    out
}

/// Sorted and de-duplicated, as token records store their scopes.
pub fn sorted_scopes(scopes: &[String]) -> Vec<String> {
    let mut v: Vec<String> = scopes
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Insertion-ordered union of the given lists (empty strings skipped).
fn union<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in lists {
        for s in list {
            if !s.is_empty() && !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

fn opt_slice(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

fn role_slice(r: &Option<String>) -> Vec<String> {
    r.iter().cloned().collect()
}
