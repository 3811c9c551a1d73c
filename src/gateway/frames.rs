//! Frame envelopes (spec gateway-protocol §2) and the closed `connect` params
//! schema (§3.2; protocol 4: openclaw-2026.9 §8.3). Incoming frames are
//! validated by hand against the same closed schemas the real gateways use;
//! outgoing frames are built here so no extra key can slip in (the real client
//! ignores frames with unknown keys).
//!
//! Two dialects: [`Dialect::V3`] answers exactly as OpenClaw 2026.2.26 (schema,
//! error texts), [`Dialect::V4`] as OpenClaw 2026.9.6.

use serde_json::{json, Map, Value};

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

/// `connect.client`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientInfo {
    pub id: String,
    pub display_name: Option<String>,
    pub version: String,
    pub platform: String,
    pub device_family: Option<String>,
    pub model_identifier: Option<String>,
    pub mode: String,
    pub instance_id: Option<String>,
}

/// `connect.auth`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthParams {
    pub token: Option<String>,
    pub device_token: Option<String>,
    pub password: Option<String>,
    /// Protocol 4 only: a setup code's bootstrap token.
    pub bootstrap_token: Option<String>,
}

/// `connect.device`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceParams {
    pub id: String,
    pub public_key: String,
    pub signature: String,
    pub signed_at: i64,
    pub nonce: String,
}

/// Validated `connect` params.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectParams {
    pub min_protocol: i64,
    pub max_protocol: i64,
    pub client: ClientInfo,
    /// As sent; `None` means the default `operator`.
    pub role: Option<String>,
    pub scopes: Vec<String>,
    pub caps: Vec<String>,
    pub commands: Option<Vec<String>>,
    pub auth: Option<AuthParams>,
    pub device: Option<DeviceParams>,
}

impl ConnectParams {
    pub fn role(&self) -> &str {
        self.role.as_deref().unwrap_or("operator")
    }
    /// The token that went into the signature: `auth.token`, else
    /// `auth.deviceToken`, else (protocol 4) `auth.bootstrapToken`.
    pub fn signed_token(&self) -> &str {
        self.auth
            .as_ref()
            .and_then(|a| {
                a.token
                    .as_deref()
                    .or(a.device_token.as_deref())
                    .or(a.bootstrap_token.as_deref())
            })
            .unwrap_or("")
    }

    /// The fields `device` signed, as this connect states them.
    pub fn signed_fields<'a>(
        &'a self,
        device: &'a DeviceParams,
    ) -> super::crypto::SignedFields<'a> {
        super::crypto::SignedFields {
            device_id: &device.id,
            client_id: &self.client.id,
            client_mode: &self.client.mode,
            role: self.role(),
            scopes: &self.scopes,
            signed_at: device.signed_at,
            token: self.signed_token(),
            nonce: &device.nonce,
            platform: Some(&self.client.platform),
            device_family: self.client.device_family.as_deref(),
        }
    }
}

/// The validator's error texts: ajv's `errorsText` (`data/client/id must …`)
/// for 2026.2.26, 2026.9.6's `formatValidationErrors` (`at /client/id: …`,
/// `at root: unexpected property 'x'`) for protocol 4.
#[derive(Debug, Clone, Copy)]
pub struct Texts(pub Dialect);

impl Texts {
    fn at(self, path: &str, msg: &str) -> String {
        match self.0 {
            Dialect::V3 => format!("data{path} {msg}"),
            Dialect::V4 if path.is_empty() => msg.to_string(),
            Dialect::V4 => format!("at {path}: {msg}"),
        }
    }
    /// A key the closed object does not allow.
    pub fn additional(self, path: &str, key: &str) -> String {
        match self.0 {
            Dialect::V3 => format!("data{path} must NOT have additional properties ({key})"),
            Dialect::V4 => {
                let at = if path.is_empty() { "root" } else { path };
                format!("at {at}: unexpected property '{key}'")
            }
        }
    }
    /// A required key is missing.
    pub fn missing(self, path: &str, key: &str) -> String {
        self.at(path, &format!("must have required property '{key}'"))
    }
    /// A value of the wrong JSON type.
    pub fn typ(self, path: &str, ty: &str) -> String {
        self.at(path, &format!("must be {ty}"))
    }
    /// A string shorter than `n`.
    pub fn too_short(self, path: &str, n: usize) -> String {
        self.at(path, &format!("must NOT have fewer than {n} characters"))
    }
    /// A string longer than `n`.
    pub fn too_long(self, path: &str, n: usize) -> String {
        self.at(path, &format!("must NOT have more than {n} characters"))
    }
    /// A number below `min`.
    pub fn below(self, path: &str, min: i64) -> String {
        self.at(path, &format!("must be >= {min}"))
    }
    /// Not the one allowed constant.
    pub fn constant(self, path: &str) -> String {
        self.at(path, "must be equal to constant")
    }
    /// Not one of the allowed values (a union of literals in 2026.9.6).
    pub fn one_of(self, path: &str) -> String {
        match self.0 {
            Dialect::V3 => self.at(path, "must be equal to one of the allowed values"),
            Dialect::V4 => format!(
                "{}; {}",
                self.at(path, "must be equal to constant"),
                self.at(path, "must match a schema in anyOf")
            ),
        }
    }
}

struct V<'a> {
    path: String,
    obj: &'a Map<String, Value>,
    t: Texts,
}

impl<'a> V<'a> {
    fn of(t: Texts, path: &str, v: &'a Value) -> Result<Self, String> {
        match v {
            Value::Object(obj) => Ok(V {
                path: path.to_string(),
                obj,
                t,
            }),
            _ => Err(t.typ(path, "object")),
        }
    }
    fn v4(&self) -> bool {
        self.t.0 == Dialect::V4
    }
    fn closed(&self, allowed: &[&str]) -> Result<(), String> {
        match self.obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.t.additional(&self.path, k)),
            None => Ok(()),
        }
    }
    fn p(&self, k: &str) -> String {
        format!("{}/{k}", self.path)
    }
    fn missing(&self, k: &str) -> String {
        self.t.missing(&self.path, k)
    }
    fn opt_str(&self, k: &str) -> Result<Option<String>, String> {
        match self.obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.t.typ(&self.p(k), "string")),
        }
    }
    /// An optional string of `min..=max` characters.
    fn opt_str_len(
        &self,
        k: &str,
        min: usize,
        max: Option<usize>,
    ) -> Result<Option<String>, String> {
        let s = self.opt_str(k)?;
        if let Some(v) = &s {
            let n = v.chars().count();
            if n < min {
                return Err(self.t.too_short(&self.p(k), min));
            }
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(self.t.too_long(&self.p(k), max));
            }
        }
        Ok(s)
    }
    /// An optional string, non-empty in protocol 4 (`NonEmptyString`).
    fn opt_text(&self, k: &str) -> Result<Option<String>, String> {
        self.opt_str_len(k, usize::from(self.v4()), None)
    }
    fn req_str(&self, k: &str, min1: bool) -> Result<String, String> {
        let s = self.opt_str(k)?.ok_or_else(|| self.missing(k))?;
        if min1 && s.is_empty() {
            return Err(self.t.too_short(&self.p(k), 1));
        }
        Ok(s)
    }
    fn req_int(&self, k: &str, min: i64) -> Result<i64, String> {
        let v = self.obj.get(k).ok_or_else(|| self.missing(k))?;
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| self.t.typ(&self.p(k), "integer"))?;
        if n < min {
            return Err(self.t.below(&self.p(k), min));
        }
        Ok(n)
    }
    /// An optional list of strings (non-empty strings in protocol 4).
    fn opt_str_list(&self, k: &str) -> Result<Option<Vec<String>>, String> {
        let v4 = self.v4();
        match self.obj.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let at = format!("{}/{i}", self.p(k));
                    match x.as_str() {
                        Some("") if v4 => Err(self.t.too_short(&at, 1)),
                        Some(s) => Ok(s.to_string()),
                        None => Err(self.t.typ(&at, "string")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.t.typ(&self.p(k), "array")),
        }
    }
    fn enum_str(&self, k: &str, allowed: &[&str]) -> Result<String, String> {
        let s = match self.obj.get(k) {
            None => return Err(self.missing(k)),
            Some(Value::String(s)) => s.clone(),
            Some(_) if self.v4() => return Err(self.t.one_of(&self.p(k))),
            Some(_) => return Err(self.t.typ(&self.p(k), "string")),
        };
        if !allowed.contains(&s.as_str()) {
            return Err(self.t.one_of(&self.p(k)));
        }
        Ok(s)
    }
    /// An optional object (its content is not checked here).
    fn opt_object(&self, k: &str) -> Result<(), String> {
        match self.obj.get(k) {
            None | Some(Value::Object(_)) => Ok(()),
            Some(_) => Err(self.t.typ(&self.p(k), "object")),
        }
    }
}

/// Validates `connect` params against the closed 2026.2.26 schema. The error
/// text follows ajv's `errorsText` style (`data/client/id must be …`).
pub fn parse_connect_params(params: Option<&Value>) -> Result<ConnectParams, String> {
    parse_connect_params_as(params, Dialect::V3)
}

/// Validates `connect` params against the dialect's closed schema: protocol 4
/// extends it exactly as 2026.9.6 does (openclaw-2026.9 §8.3: more client ids,
/// mode `worker`, `client.buildId`/`timeZone`, `auth.bootstrapToken` and the
/// two runtime tokens, `computerUse`, `workerRuns`, `modelCatalog`; non-empty
/// strings where 2026.9.6 requires them).
pub fn parse_connect_params_as(
    params: Option<&Value>,
    dialect: Dialect,
) -> Result<ConnectParams, String> {
    let t = Texts(dialect);
    let v4 = dialect == Dialect::V4;
    let root = V::of(t, "", params.unwrap_or(&Value::Null))?;
    let mut top = vec![
        "minProtocol",
        "maxProtocol",
        "client",
        "caps",
        "commands",
        "permissions",
        "pathEnv",
        "role",
        "scopes",
        "device",
        "auth",
        "locale",
        "userAgent",
    ];
    if v4 {
        top.extend(["computerUse", "workerRuns", "modelCatalog"]);
    }
    root.closed(&top)?;
    let min_protocol = root.req_int("minProtocol", 1)?;
    let max_protocol = root.req_int("maxProtocol", 1)?;
    let client_v = root
        .obj
        .get("client")
        .ok_or_else(|| root.missing("client"))?;
    let c = V::of(t, "/client", client_v)?;
    let mut client_keys = vec![
        "id",
        "displayName",
        "version",
        "platform",
        "deviceFamily",
        "modelIdentifier",
        "mode",
        "instanceId",
    ];
    if v4 {
        client_keys.extend(["buildId", "timeZone"]);
    }
    c.closed(&client_keys)?;
    let (ids, modes) = if v4 {
        (CLIENT_IDS_V4, CLIENT_MODES_V4)
    } else {
        (CLIENT_IDS, CLIENT_MODES)
    };
    let client = ClientInfo {
        id: c.enum_str("id", ids)?,
        display_name: c.opt_text("displayName")?,
        version: c.req_str("version", true)?,
        platform: c.req_str("platform", true)?,
        device_family: c.opt_text("deviceFamily")?,
        model_identifier: c.opt_text("modelIdentifier")?,
        mode: c.enum_str("mode", modes)?,
        instance_id: c.opt_text("instanceId")?,
    };
    if v4 {
        c.opt_str_len("buildId", 1, Some(96))?;
        c.opt_str_len("timeZone", 1, Some(64))?;
    }
    let caps = root.opt_str_list("caps")?.unwrap_or_default();
    let commands = root.opt_str_list("commands")?;
    if let Some(p) = root.obj.get("permissions") {
        let pv = V::of(t, "/permissions", p)?;
        for (k, v) in pv.obj {
            if !v.is_boolean() {
                return Err(t.typ(&pv.p(k), "boolean"));
            }
        }
    }
    root.opt_str("pathEnv")?;
    root.opt_str("locale")?;
    root.opt_str("userAgent")?;
    if v4 {
        root.opt_object("workerRuns")?;
        root.opt_object("modelCatalog")?;
    }
    let role = root.opt_text("role")?;
    let scopes = root.opt_str_list("scopes")?.unwrap_or_default();
    let auth = match root.obj.get("auth") {
        None => None,
        Some(a) => {
            let av = V::of(t, "/auth", a)?;
            if v4 {
                av.closed(&[
                    "token",
                    "bootstrapToken",
                    "deviceToken",
                    "password",
                    "approvalRuntimeToken",
                    "agentRuntimeIdentityToken",
                ])?;
                av.opt_str("approvalRuntimeToken")?;
                av.opt_str("agentRuntimeIdentityToken")?;
            } else {
                av.closed(&["token", "deviceToken", "password"])?;
            }
            Some(AuthParams {
                token: av.opt_str("token")?,
                device_token: av.opt_str("deviceToken")?,
                password: av.opt_str("password")?,
                bootstrap_token: if v4 {
                    av.opt_str("bootstrapToken")?
                } else {
                    None
                },
            })
        }
    };
    let device = match root.obj.get("device") {
        None => None,
        Some(d) => {
            let dv = V::of(t, "/device", d)?;
            dv.closed(&["id", "publicKey", "signature", "signedAt", "nonce"])?;
            Some(DeviceParams {
                id: dv.req_str("id", true)?,
                public_key: dv.req_str("publicKey", true)?,
                signature: dv.req_str("signature", true)?,
                signed_at: dv.req_int("signedAt", 0)?,
                nonce: dv.req_str("nonce", v4)?,
            })
        }
    };
    Ok(ConnectParams {
        min_protocol,
        max_protocol,
        client,
        role,
        scopes,
        caps,
        commands,
        auth,
        device,
    })
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

    #[test]
    fn connect_schema() {
        let ok = json!({"minProtocol":3,"maxProtocol":3,"client":{"id":"cli","version":"dev","platform":"linux","mode":"cli"}});
        assert!(parse_connect_params(Some(&ok)).is_ok());
        let mut bad = ok.clone();
        bad["client"]["id"] = json!("ios-node");
        assert_eq!(
            parse_connect_params(Some(&bad)).unwrap_err(),
            "data/client/id must be equal to one of the allowed values"
        );
        let mut bad = ok.clone();
        bad["auth"] = json!({"bootstrapToken": "x"});
        assert!(parse_connect_params(Some(&bad))
            .unwrap_err()
            .contains("additional properties"));
        assert!(parse_connect_params(None).is_err());
    }
}
