//! Frame envelopes (spec gateway-protocol §2) and the closed `connect` params
//! schema (§3.2; protocol 4: openclaw-2026.9 §8.3). Incoming frames are
//! validated by hand against the same closed schemas the real gateways use;
//! outgoing frames are built here so no extra key can slip in (the real client
//! ignores frames with unknown keys).
//!
//! Two dialects: [`Dialect::V3`] answers exactly as OpenClaw 2026.2.26 (schema,
//! error texts), [`Dialect::V4`] as OpenClaw 2026.9.6.

use serde_json::{json, Map, Value};

mod connect;
mod texts;

pub use connect::*;
pub use texts::*;

/// The protocol version of OpenClaw 2026.2.26 (the [`Dialect::V3`] answers).
pub const PROTOCOL: i64 = 3;
/// The current protocol (OpenClaw 2026.9.6, [`Dialect::V4`]).
pub const PROTOCOL_V4: i64 = 4;
/// The lowest protocol a probe may offer (`minimumProbeProtocol`).
pub const MIN_PROBE_PROTOCOL: i64 = 3;

/// Which OpenClaw a connection is answered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Protocol 3, OpenClaw 2026.2.26: offers that include 3 but not 4.
    V3,
    /// Protocol 4, OpenClaw 2026.9.6: offers that include 4 (and everything refused).
    V4,
}

impl Dialect {
    /// The `hello-ok.protocol` of the dialect.
    pub fn protocol(self) -> i64 {
        match self {
            Dialect::V3 => PROTOCOL,
            Dialect::V4 => PROTOCOL_V4,
        }
    }

    /// The dialect an offer `min..=max` is answered in: V4 when it includes 4,
    /// V3 when it includes 3 (any role: the 2026.9 window for nodes and probes,
    /// plus every protocol-3 operator of 2026.2.26), `None` for a mismatch.
    pub fn negotiate(min: i64, max: i64) -> Option<Dialect> {
        if min <= PROTOCOL_V4 && PROTOCOL_V4 <= max {
            Some(Dialect::V4)
        } else if min <= PROTOCOL && PROTOCOL <= max {
            Some(Dialect::V3)
        } else {
            None
        }
    }

    /// The dialect whose schema checks the `connect` params: read from the
    /// offer before validation (V3 only for a readable offer of 3 without 4;
    /// anything else is checked, and refused, as today's OpenClaw would).
    pub fn of_connect_params(params: Option<&Value>) -> Dialect {
        let n = |k: &str| params.and_then(|p| p.get(k)).and_then(Value::as_i64);
        match (n("minProtocol"), n("maxProtocol")) {
            (Some(min), Some(max)) => match Dialect::negotiate(min, max) {
                Some(Dialect::V3) => Dialect::V3,
                _ => Dialect::V4,
            },
            _ => Dialect::V4,
        }
    }
}

/// `client.id` values the real schema accepts.
pub const CLIENT_IDS: &[&str] = &[
    "webchat-ui",
    "openclaw-control-ui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-ios",
    "openclaw-android",
    "node-host",
    "test",
    "fingerprint",
    "openclaw-probe",
];

/// `client.id` values of the protocol-4 schema (2026.9.6).
pub const CLIENT_IDS_V4: &[&str] = &[
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-browser-copilot",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-linux",
    "openclaw-ios",
    "openclaw-watchos",
    "openclaw-android",
    "node-host",
    "openclaw-worker",
    "test",
    "fingerprint",
    "openclaw-probe",
];

/// `client.mode` values the real schema accepts.
pub const CLIENT_MODES: &[&str] = &["webchat", "cli", "ui", "backend", "node", "probe", "test"];

/// `client.mode` values of the protocol-4 schema (adds `worker`).
pub const CLIENT_MODES_V4: &[&str] = &[
    "webchat", "cli", "ui", "backend", "node", "worker", "probe", "test",
];

/// A validated request frame.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub method: String,
    pub params: Option<Value>,
}

/// Why a text frame is not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all.
    NotJson,
    /// JSON, but not a valid `req` frame; carries the ajv-style detail and the id if one was readable.
    Invalid { detail: String, id: Option<String> },
}

/// Parses one incoming text frame as a request (the only frame kind a client
/// sends), with the 2026.2.26 envelope.
pub fn parse_request(text: &str) -> Result<Request, FrameError> {
    parse_request_as(text, Dialect::V3)
}

/// [`parse_request`] in a dialect: protocol 4 also allows `traceparent`
/// (≤ 128 characters) and `expectedProfileId`, and words its errors as
/// 2026.9.6 does (`at root: unexpected property 'x'`).
pub fn parse_request_as(text: &str, dialect: Dialect) -> Result<Request, FrameError> {
    let v: Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    let Value::Object(mut m) = v else {
        return Err(FrameError::Invalid {
            detail: "data must be object".into(),
            id: None,
        });
    };
    let id = match m.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let invalid = |detail: String| FrameError::Invalid {
        detail,
        id: id.clone(),
    };
    let t = Texts(dialect);
    match m.get("type") {
        Some(Value::String(t)) if t == "req" => {}
        None => return Err(invalid(t.missing("", "type"))),
        _ => return Err(invalid(t.constant("/type"))),
    }
    let Some(id_s) = id.clone() else {
        return Err(invalid(match m.get("id") {
            None => t.missing("", "id"),
            Some(Value::String(_)) => t.too_short("/id", 1),
            Some(_) => t.typ("/id", "string"),
        }));
    };
    let method = match m.get("method") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(invalid(t.too_short("/method", 1))),
        Some(_) => return Err(invalid(t.typ("/method", "string"))),
        None => return Err(invalid(t.missing("", "method"))),
    };
    let allowed: &[&str] = match dialect {
        Dialect::V3 => &["type", "id", "method", "params"],
        Dialect::V4 => &[
            "type",
            "id",
            "method",
            "params",
            "traceparent",
            "expectedProfileId",
        ],
    };
    if let Some(extra) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(t.additional("", extra)));
    }
    if dialect == Dialect::V4 {
        match m.get("traceparent") {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err(invalid(t.typ("/traceparent", "string"))),
        }
        if m.get("traceparent")
            .and_then(Value::as_str)
            .is_some_and(|s| s.chars().count() > 128)
        {
            return Err(invalid(t.too_long("/traceparent", 128)));
        }
        match m.get("expectedProfileId") {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err(invalid(t.typ("/expectedProfileId", "string"))),
        }
    }
    Ok(Request {
        id: id_s,
        method,
        params: m.remove("params"),
    })
}

/// An error object (closed: code, message, details?, retryable?, retryAfterMs?).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorShape {
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retryable: Option<bool>,
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ErrorShape {
            code,
            message: message.into(),
            details: None,
            retryable: None,
            retry_after_ms: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("INVALID_REQUEST", message)
    }
    pub fn with_details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }
    pub fn retry_after(mut self, ms: u64) -> Self {
        self.retryable = Some(true);
        self.retry_after_ms = Some(ms);
        self
    }
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(d) = &self.details {
            m.insert("details".into(), d.clone());
        }
        if let Some(r) = self.retryable {
            m.insert("retryable".into(), json!(r));
        }
        if let Some(r) = self.retry_after_ms {
            m.insert("retryAfterMs".into(), json!(r));
        }
        Value::Object(m)
    }
}

/// `{"type":"res","id":…,"ok":true,"payload":…}`.
pub fn res_ok(id: &str, payload: Value) -> String {
    json!({"type": "res", "id": id, "ok": true, "payload": payload}).to_string()
}

/// `{"type":"res","id":…,"ok":false,"error":…}`.
pub fn res_err(id: &str, err: &ErrorShape) -> String {
    json!({"type": "res", "id": id, "ok": false, "error": err.to_value()}).to_string()
}

/// An event frame; `seq` only for broadcasts.
pub fn event(name: &str, payload: Value, seq: Option<u64>) -> String {
    match seq {
        Some(s) => json!({"type": "event", "event": name, "payload": payload, "seq": s}),
        None => json!({"type": "event", "event": name, "payload": payload}),
    }
    .to_string()
}

/// Close reasons are the message truncated to 120 bytes (on a character boundary).
pub fn close_reason(msg: &str) -> String {
    if msg.len() <= 120 {
        return msg.to_string();
    }
    let mut end = 120;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    msg[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_frames() {
        assert_eq!(parse_request("nope").unwrap_err(), FrameError::NotJson);
        let r = parse_request(r#"{"type":"req","id":"1","method":"connect"}"#).unwrap();
        assert_eq!((r.id.as_str(), r.method.as_str()), ("1", "connect"));
        assert!(matches!(
            parse_request(r#"{"type":"req","method":"connect"}"#),
            Err(FrameError::Invalid { id: None, .. })
        ));
        assert!(matches!(
            parse_request(r#"{"type":"req","id":"7","method":"x","extra":1}"#),
            Err(FrameError::Invalid { id: Some(_), .. })
        ));
        assert!(parse_request(r#"{"type":"res","id":"7","method":"x"}"#).is_err());
        assert!(parse_request("[]").is_err());
    }

    #[test]
    fn close_reason_truncates_on_char_boundary() {
        let s = "é".repeat(100);
        let r = close_reason(&s);
        assert!(r.len() <= 120 && r.chars().all(|c| c == 'é'));
    }
}
