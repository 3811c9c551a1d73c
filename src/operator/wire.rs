//! What a gateway sends an operator, parsed and bounded (spec
//! gateway-protocol §2, §5; openclaw-2026.9 §8.5). The gateway is not
//! trusted: every frame is size-checked before parsing, every string that is
//! kept is cut to a bound, every list is capped, and nothing here panics on any
//! input (the `operator_frame` fuzz target runs exactly [`parse_incoming`] and
//! [`Hello::parse`]).

use std::collections::HashSet;

use serde_json::Value;

/// Largest message the client accepts (the socket refuses larger ones first).
/// A `device.pair.list` of 10,000 devices is about 6 MiB.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Longest request id, event name or error code kept.
pub const MAX_NAME: usize = 128;
/// Longest error message kept (the gateway cuts close reasons to 120 bytes).
pub const MAX_MESSAGE_TEXT: usize = 2048;
/// Most method and event names kept from `hello-ok.features`.
pub const MAX_FEATURES: usize = 4096;

/// An error object of a `res` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub code: String,
    pub message: String,
    /// `details` as sent (already bounded by the message size).
    pub details: Value,
    pub retryable: bool,
    pub retry_after_ms: Option<u64>,
}

impl GatewayError {
    /// `details.code` (`PAIRING_REQUIRED`, `AUTH_TOKEN_MISMATCH`, …).
    pub fn detail_code(&self) -> Option<&str> {
        self.details.get("code").and_then(Value::as_str)
    }
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(Value::as_str)
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One frame from the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Res {
        id: String,
        ok: bool,
        payload: Value,
        error: Option<GatewayError>,
    },
    Event {
        event: String,
        payload: Value,
        seq: Option<u64>,
    },
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    TooLarge(usize),
    NotJson,
    /// JSON, but not a `res` or `event` frame.
    Shape(&'static str),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds the limit"),
            WireError::NotJson => f.write_str("frame is not JSON"),
            WireError::Shape(w) => write!(f, "invalid frame: {w}"),
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn name(v: Option<&Value>, what: &'static str) -> Result<String, WireError> {
    match v {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NAME => Ok(s.clone()),
        Some(Value::String(_)) => Err(WireError::Shape(what)),
        _ => Err(WireError::Shape(what)),
    }
}

/// Parses an error object; missing or odd fields get neutral values.
pub fn parse_error(v: &Value) -> GatewayError {
    let s = |k: &str, max: usize| v.get(k).and_then(Value::as_str).map(|x| bounded(x, max));
    GatewayError {
        code: s("code", MAX_NAME).unwrap_or_else(|| "UNKNOWN".into()),
        message: s("message", MAX_MESSAGE_TEXT).unwrap_or_else(|| "(no message)".into()),
        details: v.get("details").cloned().unwrap_or(Value::Null),
        retryable: v.get("retryable").and_then(Value::as_bool).unwrap_or(false),
        retry_after_ms: v
            .get("retryAfterMs")
            .and_then(Value::as_u64)
            .map(|n| n.min(3_600_000)),
    }
}

/// Parses one text frame. Extra keys are tolerated (2026.9 adds some).
pub fn parse_incoming(text: &str) -> Result<Incoming, WireError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(text.len()));
    }
    // serde_json stops at 128 levels of nesting with an error, never a stack overflow.
    let v: Value = serde_json::from_str(text).map_err(|_| WireError::NotJson)?;
    let Value::Object(mut m) = v else {
        return Err(WireError::Shape("not an object"));
    };
    match m.get("type").and_then(Value::as_str) {
        Some("res") => {
            let id = name(m.get("id"), "res without a usable id")?;
            let ok = m
                .get("ok")
                .and_then(Value::as_bool)
                .ok_or(WireError::Shape("res without ok"))?;
            let payload = m.remove("payload").unwrap_or(Value::Null);
            let error = if ok {
                None
            } else {
                Some(parse_error(m.get("error").unwrap_or(&Value::Null)))
            };
            Ok(Incoming::Res {
                id,
                ok,
                payload,
                error,
            })
        }
        Some("event") => {
            let event = name(m.get("event"), "event without a usable name")?;
            let seq = m.get("seq").and_then(Value::as_u64);
            let payload = m.remove("payload").unwrap_or(Value::Null);
            Ok(Incoming::Event {
                event,
                payload,
                seq,
            })
        }
        _ => Err(WireError::Shape("type is neither res nor event")),
    }
}

/// `hello-ok.auth` (2026.9: always; 2026.2.26: only with a device).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HelloAuth {
    pub role: Option<String>,
    pub scopes: Vec<String>,
    pub method: Option<String>,
    /// The device token issued to our identity (a secret).
    pub device_token: Option<String>,
}

impl std::fmt::Debug for HelloAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloAuth")
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field("method", &self.method)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A parsed `hello-ok` (protocol 3 or 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub protocol: i64,
    pub server_version: String,
    pub conn_id: String,
    pub methods: HashSet<String>,
    pub events: HashSet<String>,
    pub auth: Option<HelloAuth>,
    /// Clamped to 1 s … 10 min (30 s when absent).
    pub tick_interval_ms: u64,
}

fn names(v: Option<&Value>) -> HashSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| s.len() <= MAX_NAME)
                .take(MAX_FEATURES)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn str_list(v: Option<&Value>, max: usize) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| s.len() <= MAX_NAME)
                .take(max)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Hello {
    /// Parses a `hello-ok` payload; `None` when it is not one.
    pub fn parse(v: &Value) -> Option<Hello> {
        if v.get("type").and_then(Value::as_str) != Some("hello-ok") {
            return None;
        }
        let protocol = v.get("protocol").and_then(Value::as_i64)?;
        let server = v.get("server");
        let s = |k: &str| {
            server
                .and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .map(|x| bounded(x, MAX_NAME))
        };
        let features = v.get("features");
        let auth = v.get("auth").filter(|a| a.is_object()).map(|a| HelloAuth {
            role: a
                .get("role")
                .and_then(Value::as_str)
                .map(|x| bounded(x, MAX_NAME)),
            scopes: str_list(a.get("scopes"), 64),
            method: a
                .get("method")
                .and_then(Value::as_str)
                .map(|x| bounded(x, MAX_NAME)),
            device_token: a
                .get("deviceToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && t.len() <= 512)
                .map(str::to_string),
        });
        let tick = v
            .get("policy")
            .and_then(|p| p.get("tickIntervalMs"))
            .and_then(Value::as_u64)
            .unwrap_or(30_000)
            .clamp(1_000, 600_000);
        Some(Hello {
            protocol,
            server_version: s("version").unwrap_or_else(|| "unknown".into()),
            conn_id: s("connId").unwrap_or_default(),
            methods: names(features.and_then(|f| f.get("methods"))),
            events: names(features.and_then(|f| f.get("events"))),
            auth,
            tick_interval_ms: tick,
        })
    }

    /// Whether the gateway advertises `method`.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.contains(method)
    }

    /// How the status line names the server: `OpenClaw 2026.9.6`.
    pub fn server_label(&self) -> String {
        server_label(&self.server_version)
    }
}

/// `2026.9.6` → `OpenClaw 2026.9.6`; `dev` → `OpenClaw (dev build)`; else `server <v>`.
pub fn server_label(version: &str) -> String {
    let v = crate::sanitize::for_terminal(version);
    let calendar = v.split('.').count() >= 3
        && v.split('.')
            .next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    if calendar {
        format!("OpenClaw {v}")
    } else if v == "dev" {
        "OpenClaw (dev build)".into()
    } else {
        format!("server {v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames() {
        let r = parse_incoming(r#"{"type":"res","id":"1","ok":false,"error":{"code":"NOT_PAIRED","message":"pairing required","details":{"code":"PAIRING_REQUIRED","requestId":"r1"}}}"#).unwrap();
        let Incoming::Res {
            ok: false,
            error: Some(e),
            ..
        } = r
        else {
            panic!()
        };
        assert_eq!(e.detail_code(), Some("PAIRING_REQUIRED"));
        assert_eq!(e.detail_str("requestId"), Some("r1"));
        let e = parse_incoming(r#"{"type":"event","event":"tick","payload":{"ts":1},"seq":4,"recipientProfileId":"x"}"#).unwrap();
        assert!(matches!(e, Incoming::Event { seq: Some(4), .. }));
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"type":"req","id":"1"}"#,
            r#"{"type":"res","ok":true}"#,
            r#"{"type":"res","id":"1"}"#,
            r#"{"type":"event","event":""}"#,
        ] {
            assert!(parse_incoming(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(parse_incoming(&deep), Err(WireError::NotJson));
        let long = format!(r#"{{"type":"event","event":"{}"}}"#, "e".repeat(500));
        assert!(parse_incoming(&long).is_err());
    }

    #[test]
    fn hello_both_generations() {
        let v3 = json!({"type":"hello-ok","protocol":3,"server":{"version":"dev","connId":"c"},"features":{"methods":["device.pair.list"],"events":["tick"]},"policy":{"tickIntervalMs":30000}});
        let h = Hello::parse(&v3).unwrap();
        assert_eq!((h.protocol, h.auth.is_none()), (3, true));
        assert_eq!(h.server_label(), "OpenClaw (dev build)");
        let v4 = json!({"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6","connId":"c"},"features":{"methods":["channels.pairing.list"],"events":[]},"auth":{"method":"token","role":"operator","scopes":["operator.pairing"]},"policy":{"tickIntervalMs":5}});
        let h = Hello::parse(&v4).unwrap();
        assert_eq!(h.auth.as_ref().unwrap().scopes, vec!["operator.pairing"]);
        assert_eq!(h.tick_interval_ms, 1_000);
        assert_eq!(h.server_label(), "OpenClaw 2026.9.6");
        assert!(h.has_method("channels.pairing.list"));
        assert!(Hello::parse(&json!({"type":"hello"})).is_none());
        assert_eq!(server_label("0.1.0"), "server 0.1.0");
    }
}
