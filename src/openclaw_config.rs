//! Read-only access to OpenClaw's own configuration file, `<state>/openclaw.json`
//! (JSON5). clawpair never writes it. A missing file is an empty config; an
//! unreadable or malformed one is reported as a warning and treated as empty,
//! because it belongs to OpenClaw and nothing here depends on it for safety.

use std::path::Path;

use serde_json::Value;

use crate::error::StoreError;

/// Config files larger than this are not read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Deepest nesting of objects and arrays accepted (serde_json's own limit).
const MAX_CONFIG_DEPTH: usize = 128;

/// The deepest nesting of `{`/`[` in JSON5 text, ignoring brackets inside
/// strings and comments. An over-estimate is harmless (the file is refused
/// with a message); an under-estimate is not possible for valid JSON5.
fn nesting_depth(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

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
        match crate::fsutil::read_capped(path, MAX_CONFIG_BYTES)? {
            Some(bytes) => Self::parse(path, &bytes),
            None => Ok(OpenClawConfig::default()),
        }
    }

    /// Parses the bytes of `openclaw.json` (JSON5); errors name `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<OpenClawConfig, StoreError> {
        // Not `Shape`: that message sends the user to `doctor --repair`,
        // which never moves OpenClaw's own file.
        let shape = |message: String| StoreError::Invalid(format!("{}: {message}", path.display()));
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(shape("too large for a config file".into()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| shape("not UTF-8".into()))?;
        let text = text.trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            return Ok(OpenClawConfig::default());
        }
        // The json5 parser recurses once per nesting level with no limit of
        // its own: refuse deep nesting before it can overflow the stack.
        if nesting_depth(text) > MAX_CONFIG_DEPTH {
            return Err(shape(format!(
                "nested deeper than {MAX_CONFIG_DEPTH} levels"
            )));
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
        assert!(c.channel_enabled("telegram") && c.channel_enabled("line"));
        assert!(!c.channel_enabled("discord") && !c.channel_enabled("slack"));
        assert_eq!(
            c.get("gateway.auth.token").and_then(Value::as_str),
            Some("abc")
        );
        std::fs::write(&p, "{broken").unwrap();
        assert!(OpenClawConfig::try_load(&p).is_err());
        assert!(!OpenClawConfig::load(&p).channel_enabled("telegram"));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        std::fs::write(&p, &deep).unwrap();
        let err = OpenClawConfig::try_load(&p).unwrap_err().to_string();
        assert!(err.contains("nested deeper"), "{err}");
        std::fs::write(&p, "{a: '[[[[', /* {{{{ */ b: [[1]], // [[[[\n}").unwrap();
        assert!(OpenClawConfig::try_load(&p).is_ok());
        assert!(OpenClawConfig::load(&dir.path().join("missing"))
            .get("x")
            .is_none());
    }
}
