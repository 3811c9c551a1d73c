//! The client-side identity files OpenClaw clients keep (spec node-pairing §6):
//! `identity/device.json` (Ed25519 key pair as SPKI/PKCS#8 PEMs) and
//! `identity/device-auth.json` (device tokens per role). Both 0600, pretty
//! JSON with a trailing newline.

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::fsutil;
use crate::gateway::crypto;
use crate::paths::Paths;

/// A client's device identity.
#[derive(Clone)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub key: SigningKey,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    pub fn generate(now: i64) -> Self {
        Self::from_key(crypto::generate_signing_key(), now)
    }
    pub fn from_key(key: SigningKey, created_at_ms: i64) -> Self {
        let raw = key.verifying_key().to_bytes();
        DeviceIdentity {
            device_id: crypto::device_id_for(&raw),
            key,
            created_at_ms,
        }
    }
    /// Raw public key, base64url without padding (the wire form).
    pub fn public_key_b64url(&self) -> String {
        crypto::b64url(&self.key.verifying_key().to_bytes())
    }
    /// The `device.json` document.
    pub fn to_json(&self) -> Value {
        let raw = self.key.verifying_key().to_bytes();
        serde_json::json!({
            "version": 1,
            "deviceId": self.device_id,
            "publicKeyPem": crypto::public_key_pem(&raw),
            "privateKeyPem": crypto::private_key_pem(&self.key),
            "createdAtMs": self.created_at_ms,
        })
    }
    /// Reads a `device.json` document; the id is re-derived from the key.
    pub fn from_json(v: &Value) -> Option<Self> {
        if v.get("version")?.as_i64()? != 1 {
            return None;
        }
        let key = crypto::signing_key_from_pem(v.get("privateKeyPem")?.as_str()?)?;
        if let Some(pub_pem) = v.get("publicKeyPem").and_then(|p| p.as_str()) {
            if crypto::decode_public_key(pub_pem)? != key.verifying_key().to_bytes() {
                return None;
            }
        }
        let created = v.get("createdAtMs").and_then(|c| c.as_i64()).unwrap_or(0);
        Some(Self::from_key(key, created))
    }
}

/// Loads `<state>/identity/device.json`, creating it when missing or invalid;
/// rewrites it when the stored `deviceId` does not match the key.
pub fn load_or_create_identity(paths: &Paths, now: i64) -> Result<DeviceIdentity> {
    let file = paths.identity_dir.join("device.json");
    if let Some(bytes) = fsutil::read_optional(&file)? {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(id) = DeviceIdentity::from_json(&v) {
                if v.get("deviceId").and_then(|d| d.as_str()) != Some(id.device_id.as_str()) {
                    write_identity(paths, &id)?;
                }
                return Ok(id);
            }
        }
    }
    let id = DeviceIdentity::generate(now);
    write_identity(paths, &id)?;
    Ok(id)
}

/// Writes `device.json` (0600, trailing newline).
pub fn write_identity(paths: &Paths, id: &DeviceIdentity) -> Result<()> {
    fsutil::write_atomic(
        &paths.identity_dir.join("device.json"),
        crate::jsonfmt::to_pretty_nl(&id.to_json()).as_bytes(),
    )
}

/// `tokens.<role>` in `device-auth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredDeviceToken {
    pub token: String,
    pub role: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub updated_at_ms: i64,
}

fn auth_file(paths: &Paths) -> std::path::PathBuf {
    paths.identity_dir.join("device-auth.json")
}

/// The stored token for (device, role), ignoring a file written for another device.
pub fn load_device_token(
    paths: &Paths,
    device_id: &str,
    role: &str,
) -> Result<Option<StoredDeviceToken>> {
    let Some(bytes) = fsutil::read_optional(&auth_file(paths))? else {
        return Ok(None);
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(None);
    };
    if v.get("deviceId").and_then(|d| d.as_str()) != Some(device_id) {
        return Ok(None);
    }
    Ok(v.pointer(&format!("/tokens/{role}"))
        .and_then(|t| serde_json::from_value(t.clone()).ok()))
}

fn load_auth_doc(paths: &Paths, device_id: &str) -> Result<Map<String, Value>> {
    let tokens = match fsutil::read_optional(&auth_file(paths))? {
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.get("deviceId").and_then(|d| d.as_str()) == Some(device_id) => v
                .get("tokens")
                .and_then(|t| t.as_object())
                .cloned()
                .unwrap_or_default(),
            _ => Map::new(),
        },
        None => Map::new(),
    };
    Ok(tokens)
}

fn save_auth_doc(paths: &Paths, device_id: &str, tokens: Map<String, Value>) -> Result<()> {
    let doc = serde_json::json!({"version": 1, "deviceId": device_id, "tokens": tokens});
    fsutil::write_atomic(
        &auth_file(paths),
        crate::jsonfmt::to_pretty_nl(&doc).as_bytes(),
    )
}

/// Stores the token `hello-ok.auth` carried.
pub fn store_device_token(
    paths: &Paths,
    device_id: &str,
    role: &str,
    token: &str,
    scopes: &[String],
    now: i64,
) -> Result<()> {
    let mut tokens = load_auth_doc(paths, device_id)?;
    let rec = StoredDeviceToken {
        token: token.to_string(),
        role: role.to_string(),
        scopes: scopes.to_vec(),
        updated_at_ms: now,
    };
    tokens.insert(
        role.to_string(),
        serde_json::to_value(rec).unwrap_or(Value::Null),
    );
    save_auth_doc(paths, device_id, tokens)
}

/// Deletes the role's token (after a close reason containing `device token mismatch`).
pub fn clear_device_token(paths: &Paths, device_id: &str, role: &str) -> Result<()> {
    let mut tokens = load_auth_doc(paths, device_id)?;
    if tokens.remove(role).is_some() {
        save_auth_doc(paths, device_id, tokens)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_fixtures as fixtures;

    #[test]
    fn fixture_identity_round_trips() {
        let text = fixtures::read("devices/client-identity/device.json");
        let v: Value = serde_json::from_str(&text).unwrap();
        let id = DeviceIdentity::from_json(&v).unwrap();
        assert_eq!(
            id.device_id,
            "9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169"
        );
        assert_eq!(crate::jsonfmt::to_pretty_nl(&id.to_json()), text);
    }

    #[test]
    fn auth_file_format() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let d = "9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169";
        store_device_token(
            &paths,
            d,
            "node",
            "zFQ-tJ9PXZZtQNPNxUGZ-sFtHXY-ckF8AKW_p3Gvu5M",
            &[],
            1795469150650,
        )
        .unwrap();
        let written =
            std::fs::read_to_string(dir.path().join("identity/device-auth.json")).unwrap();
        assert_eq!(
            written,
            fixtures::read("devices/client-identity/device-auth.json")
        );
        assert_eq!(
            fsutil::mode_of(&dir.path().join("identity/device-auth.json")),
            Some(0o600)
        );
        assert!(load_device_token(&paths, d, "node").unwrap().is_some());
        assert!(load_device_token(&paths, "other", "node")
            .unwrap()
            .is_none());
        clear_device_token(&paths, d, "node").unwrap();
        assert!(load_device_token(&paths, d, "node").unwrap().is_none());
        let id = load_or_create_identity(&paths, 5).unwrap();
        let again = load_or_create_identity(&paths, 6).unwrap();
        assert_eq!(id.device_id, again.device_id);
        assert_eq!(
            fsutil::mode_of(&dir.path().join("identity/device.json")),
            Some(0o600)
        );
    }
}
