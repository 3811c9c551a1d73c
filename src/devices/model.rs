//! The records of `devices/pending.json` and `devices/paired.json`
//! (spec node-pairing §3–§4). Fields are written in OpenClaw's order; keys we
//! do not know are kept in `extra` and written back after the known ones, so
//! a rewrite never drops data a newer OpenClaw added.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Lifetime of a pending device request.
pub const PENDING_TTL_MS: i64 = 300_000;

/// One entry of `pending.json`, keyed by `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default)]
    pub silent: bool,
    #[serde(default)]
    pub is_repair: bool,
    /// Creation time in ms, refreshed on every merge; drives the 5-minute expiry.
    #[serde(default)]
    pub ts: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PendingRequest {
    /// Expired when `ts` is more than five minutes in the past.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.ts) > PENDING_TTL_MS
    }

    /// Milliseconds until expiry: never negative, never more than five
    /// minutes even when the clock is behind `ts`.
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        self.ts
            .saturating_add(PENDING_TTL_MS)
            .saturating_sub(now_ms)
            .clamp(0, PENDING_TTL_MS)
    }
}

/// `tokens.<role>` of a paired device. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub token: String,
    pub role: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("token", &"<redacted>")
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field("created_at_ms", &self.created_at_ms)
            .field("rotated_at_ms", &self.rotated_at_ms)
            .field("revoked_at_ms", &self.revoked_at_ms)
            .field("last_used_at_ms", &self.last_used_at_ms)
            .field("extra", &self.extra)
            .finish()
    }
}

/// One entry of `paired.json`, keyed by `device_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<indexmap_like::TokenMap>,
    #[serde(default)]
    pub created_at_ms: i64,
    #[serde(default)]
    pub approved_at_ms: i64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token records by role, in file order.
pub mod indexmap_like {
    use super::TokenRecord;
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// An insertion-ordered `role -> TokenRecord` map (roles are few, so a Vec is enough).
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct TokenMap(pub Vec<(String, TokenRecord)>);

    impl TokenMap {
        pub fn get(&self, role: &str) -> Option<&TokenRecord> {
            self.0.iter().find(|(r, _)| r == role).map(|(_, t)| t)
        }
        pub fn get_mut(&mut self, role: &str) -> Option<&mut TokenRecord> {
            self.0.iter_mut().find(|(r, _)| r == role).map(|(_, t)| t)
        }
        /// Replaces the record of `role` in place, or appends it.
        pub fn insert(&mut self, role: &str, rec: TokenRecord) {
            match self.get_mut(role) {
                Some(slot) => *slot = rec,
                None => self.0.push((role.to_string(), rec)),
            }
        }
        pub fn iter(&self) -> impl Iterator<Item = (&String, &TokenRecord)> {
            self.0.iter().map(|(r, t)| (r, t))
        }
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    impl Serialize for TokenMap {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }

    impl<'de> Deserialize<'de> for TokenMap {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = TokenMap;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object of token records by role")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<TokenMap, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = a.next_entry::<String, TokenRecord>()? {
                        out.push((k, v));
                    }
                    Ok(TokenMap(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}

pub use indexmap_like::TokenMap;

impl PairedDevice {
    /// Roles this device holds: `roles`, plus `role` if it is missing from them.
    pub fn all_roles(&self) -> Vec<String> {
        let mut out: Vec<String> = self.roles.clone().unwrap_or_default();
        if let Some(r) = &self.role {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }

    pub fn token(&self, role: &str) -> Option<&TokenRecord> {
        self.tokens.as_ref().and_then(|t| t.get(role))
    }
}

/// `deviceId` = lowercase hex SHA-256 of the raw 32-byte Ed25519 public key.
pub fn device_id_from_public_key(raw: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(raw);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A short fingerprint for people to compare by eye: the first 16 hex digits
/// of the device id in groups of four (`9aee:8cff:109f:16dc`).
pub fn short_fingerprint(device_id: &str) -> String {
    let hex: String = device_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(16)
        .collect();
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}
