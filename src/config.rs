//! Read-only access to OpenClaw's own configuration file, `<state>/openclaw.json`
//! (JSON5). clawpair never writes it. A missing file is an empty config; an
//! unreadable or malformed one is reported as a warning and treated as empty,
//! because it belongs to OpenClaw and nothing here depends on it for safety.

use std::path::Path;

use serde_json::Value;

use crate::error::StoreError;

/// Config files larger than this are not read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// The parsed configuration (an empty object when absent or unreadable).
#[derive(Debug, Clone, Default)]
pub struct OpenClawConfig {
    root: Value,
}

impl OpenClawConfig {
    /// Loads `path`; problems are logged (by file name) and yield an empty config.
    pub fn load(path: &Path) -> OpenClawConfig {
        match Self::try_load(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("{e}; continuing without it");
                OpenClawConfig::default()
            }
        }
    }

    /// Loads `path`; a file that cannot be read or parsed is an error naming it.
    pub fn try_load(path: &Path) -> Result<OpenClawConfig, StoreError> {
        match crate::fsutil::read_optional(path)? {
            Some(bytes) => Self::parse(path, &bytes),
            None => Ok(OpenClawConfig::default()),
        }
    }

    /// Parses the bytes of `openclaw.json` (JSON5); errors name `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<OpenClawConfig, StoreError> {
        let shape = |message: String| StoreError::Shape {
            path: path.to_path_buf(),
            message,
        };
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(shape("too large for a config file".into()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| shape("not UTF-8".into()))?;
        let text = text.trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            return Ok(OpenClawConfig::default());
        }
        let root: Value =
            json5::from_str(text).map_err(|e| shape(format!("not valid JSON5: {e}")))?;
        Ok(OpenClawConfig { root })
    }

    pub fn from_value(root: Value) -> Self {
        OpenClawConfig { root }
    }

    /// A non-blank string by dotted path, trimmed.
    pub fn get_str(&self, dotted: &str) -> Option<String> {
        self.get(dotted)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// A value by dotted path, e.g. `gateway.auth.token`.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        dotted.split('.').try_fold(&self.root, |v, k| v.get(k))
    }

    /// Whether OpenClaw would load channel `id`'s plugin: `channels.<id>.enabled`
    /// or `plugins.entries.<id>.enabled` is `true`.
    pub fn channel_enabled(&self, id: &str) -> bool {
        let on = |v: Option<&Value>| {
            v.and_then(|v| v.get("enabled")).and_then(Value::as_bool) == Some(true)
        };
        on(self.root.get("channels").and_then(|c| c.get(id)))
            || on(self
                .root
                .get("plugins")
                .and_then(|p| p.get("entries"))
                .and_then(|e| e.get(id)))
    }

    /// The pairing-capable channels whose plugins are enabled, in OpenClaw's order.
    pub fn enabled_pairing_channels(&self) -> Vec<&'static str> {
        crate::dm::normalize::PAIRING_CHANNELS
            .iter()
            .copied()
            .filter(|c| self.channel_enabled(c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json5_and_enabled_channels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("openclaw.json");
        std::fs::write(
            &p,
            "{ // comment\n channels: { telegram: { enabled: true }, discord: {enabled: false} },\n plugins: { entries: { line: { enabled: true, }, }, },\n gateway: { auth: { token: 'abc' } } }",
        )
        .unwrap();
        let c = OpenClawConfig::load(&p);
        assert_eq!(c.enabled_pairing_channels(), vec!["telegram", "line"]);
        assert_eq!(
            c.get("gateway.auth.token").and_then(Value::as_str),
            Some("abc")
        );
        std::fs::write(&p, "{broken").unwrap();
        assert!(OpenClawConfig::try_load(&p).is_err());
        assert!(OpenClawConfig::load(&p)
            .enabled_pairing_channels()
            .is_empty());
        assert!(OpenClawConfig::load(&dir.path().join("missing"))
            .get("x")
            .is_none());
    }
}
