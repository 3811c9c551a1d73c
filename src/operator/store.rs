//! What clawpair keeps about the gateways it administers, in its own config
//! dir and never in OpenClaw's state: `$XDG_CONFIG_HOME/clawpair/` (else
//! `~/.config/clawpair/`), mode 0700, every file 0600, written atomically.
//!
//! * `identity.json` — the operator identity (Ed25519), in OpenClaw's
//!   `identity/device.json` format (`{version, deviceId, publicKeyPem,
//!   privateKeyPem, createdAtMs}`), made on first use;
//! * `gateways/<scheme>-<host>-<port>.json` — per gateway: its URL, the TLS
//!   pin remembered after the first verified `wss://` connection
//!   (`tlsFingerprint`, 64 lower-case hex), and the device token issued to our
//!   identity (`deviceTokens.operator {token, scopes, updatedAtMs}`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::tls::{self, Fingerprint};
use super::url::GatewayUrl;
use crate::error::{Result, StoreError};
use crate::fsutil;
use crate::identity::DeviceIdentity;

/// Largest file read from the config dir.
const MAX_FILE: u64 = 1024 * 1024;

/// clawpair's own config dir.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    pub dir: PathBuf,
}

/// What is remembered about one gateway.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GatewayRecord {
    pub url: String,
    pub tls_pin: Option<Fingerprint>,
    /// The device id the token below belongs to.
    pub device_id: Option<String>,
    pub device_token: Option<String>,
    pub granted_scopes: Vec<String>,
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for GatewayRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayRecord")
            .field("url", &self.url)
            .field("tls_pin", &self.tls_pin.map(|p| tls::fingerprint_hex(&p)))
            .field("device_id", &self.device_id)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ConfigDir {
    /// `$XDG_CONFIG_HOME/clawpair`, else `$HOME/.config/clawpair`.
    pub fn resolve() -> ConfigDir {
        ConfigDir {
            dir: crate::paths::clawpair_config_dir(),
        }
    }

    pub fn at(dir: impl Into<PathBuf>) -> ConfigDir {
        ConfigDir { dir: dir.into() }
    }

    fn ensure(&self) -> Result<()> {
        fsutil::ensure_private_dir(&self.dir)?;
        // Our own directory: tightened if someone loosened it.
        if fsutil::mode_of(&self.dir).is_some_and(|m| m & 0o077 != 0) {
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::io(&self.dir, e))?;
        }
        Ok(())
    }

    pub fn identity_file(&self) -> PathBuf {
        self.dir.join("identity.json")
    }

    pub fn gateway_file(&self, url: &GatewayUrl) -> PathBuf {
        self.dir
            .join("gateways")
            .join(format!("{}.json", url.key()))
    }

    fn read_json(path: &Path) -> Result<Option<Value>> {
        match fsutil::read_capped(path, MAX_FILE)? {
            None => Ok(None),
            Some(b) if fsutil::is_blank(&b) => Ok(None),
            Some(b) => Ok(Some(fsutil::parse_json(path, &b)?)),
        }
    }

    fn write_json(&self, path: &Path, v: &Value) -> Result<()> {
        self.ensure()?;
        fsutil::ensure_private_dir(&fsutil::parent_of(path))?;
        fsutil::write_atomic(path, crate::jsonfmt::to_pretty_nl(v).as_bytes())
    }

    /// The operator identity, made (and written) on first use.
    pub fn identity(&self, now_ms: i64) -> Result<DeviceIdentity> {
        let file = self.identity_file();
        if let Some(v) = Self::read_json(&file)? {
            return DeviceIdentity::from_json(&v).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "{}: not a device identity (move it aside to make a new one)",
                    file.display()
                ))
            });
        }
        let id = DeviceIdentity::generate(now_ms);
        self.write_json(&file, &id.to_json())?;
        Ok(id)
    }

    /// The record of a gateway (empty when there is none yet).
    pub fn gateway(&self, url: &GatewayUrl) -> Result<GatewayRecord> {
        let Some(v) = Self::read_json(&self.gateway_file(url))? else {
            return Ok(GatewayRecord {
                url: url.display(),
                ..GatewayRecord::default()
            });
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let tok = v.pointer("/deviceTokens/operator");
        Ok(GatewayRecord {
            url: s("url").unwrap_or_else(|| url.display()),
            tls_pin: s("tlsFingerprint").and_then(|p| tls::parse_fingerprint(&p).ok()),
            device_id: s("deviceId"),
            device_token: tok
                .and_then(|t| t.get("token"))
                .and_then(Value::as_str)
                .map(str::to_string),
            granted_scopes: tok
                .map(|t| super::api::strs(t, "scopes"))
                .unwrap_or_default(),
            updated_at_ms: v.get("updatedAtMs").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// Writes the record of a gateway (0600).
    pub fn save_gateway(&self, url: &GatewayUrl, rec: &GatewayRecord) -> Result<()> {
        let mut m = Map::new();
        m.insert("version".into(), json!(1));
        m.insert("url".into(), json!(url.display()));
        if let Some(p) = &rec.tls_pin {
            m.insert("tlsFingerprint".into(), json!(tls::fingerprint_hex(p)));
        }
        if let Some(d) = &rec.device_id {
            m.insert("deviceId".into(), json!(d));
        }
        if let Some(t) = &rec.device_token {
            m.insert(
                "deviceTokens".into(),
                json!({"operator": {"token": t, "role": "operator", "scopes": rec.granted_scopes, "updatedAtMs": rec.updated_at_ms}}),
            );
        }
        m.insert("updatedAtMs".into(), json!(rec.updated_at_ms));
        self.write_json(&self.gateway_file(url), &Value::Object(m))
    }

    /// Remembers the pin of a verified connection (when it changed).
    pub fn remember_pin(&self, url: &GatewayUrl, fp: Fingerprint, now_ms: i64) -> Result<bool> {
        let mut rec = self.gateway(url)?;
        if rec.tls_pin == Some(fp) {
            return Ok(false);
        }
        rec.tls_pin = Some(fp);
        rec.updated_at_ms = now_ms;
        self.save_gateway(url, &rec)?;
        Ok(true)
    }

    /// Stores (or, with `None`, forgets) the device token of `device_id`.
    pub fn set_device_token(
        &self,
        url: &GatewayUrl,
        device_id: &str,
        token: Option<(&str, &[String])>,
        now_ms: i64,
    ) -> Result<()> {
        let mut rec = self.gateway(url)?;
        match token {
            Some((t, scopes)) => {
                if rec
                    .device_token
                    .as_deref()
                    .is_some_and(|old| crate::secret::secrets_equal(old, t))
                    && rec.granted_scopes == scopes
                    && rec.device_id.as_deref() == Some(device_id)
                {
                    return Ok(());
                }
                rec.device_id = Some(device_id.to_string());
                rec.device_token = Some(t.to_string());
                rec.granted_scopes = scopes.to_vec();
            }
            None => {
                if rec.device_token.is_none() {
                    return Ok(());
                }
                rec.device_token = None;
                rec.granted_scopes = Vec::new();
            }
        }
        rec.updated_at_ms = now_ms;
        self.save_gateway(url, &rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = ConfigDir::at(tmp.path().join("clawpair"));
        let url = GatewayUrl::parse("wss://gw.example:8443").unwrap();
        assert_eq!(cfg.gateway(&url).unwrap().tls_pin, None);
        let id = cfg.identity(5).unwrap();
        assert_eq!(cfg.identity(6).unwrap().device_id, id.device_id);
        assert!(cfg.remember_pin(&url, [7; 32], 1).unwrap());
        assert!(!cfg.remember_pin(&url, [7; 32], 2).unwrap());
        cfg.set_device_token(
            &url,
            &id.device_id,
            Some(("tok", &["operator.pairing".to_string()])),
            3,
        )
        .unwrap();
        let rec = cfg.gateway(&url).unwrap();
        assert_eq!(rec.tls_pin, Some([7; 32]));
        assert_eq!(rec.device_token.as_deref(), Some("tok"));
        assert!(!format!("{rec:?}").contains("tok\""));
        cfg.set_device_token(&url, &id.device_id, None, 4).unwrap();
        assert_eq!(cfg.gateway(&url).unwrap().device_token, None);
        for f in [cfg.identity_file(), cfg.gateway_file(&url)] {
            assert_eq!(
                fsutil::mode_of(&f).unwrap() & 0o777,
                0o600,
                "{}",
                f.display()
            );
        }
        assert_eq!(fsutil::mode_of(&cfg.dir).unwrap() & 0o777, 0o700);
    }
}
