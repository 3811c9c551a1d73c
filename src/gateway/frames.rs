//! Frame envelopes (spec gateway-protocol §2) and the closed `connect` params
//! schema (§3.2). Incoming frames are validated by hand against the same
//! closed schemas the real gateway uses; outgoing frames are built here so no
//! extra key can slip in (the real client ignores frames with unknown keys).

use serde_json::{json, Map, Value};

/// The protocol version this gateway speaks.
pub const PROTOCOL: i64 = 3;

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

/// `client.mode` values the real schema accepts.
pub const CLIENT_MODES: &[&str] = &["webchat", "cli", "ui", "backend", "node", "probe", "test"];

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

/// Parses one incoming text frame as a request (the only frame kind a client sends).
pub fn parse_request(text: &str) -> Result<Request, FrameError> {
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
    match m.get("type") {
        Some(Value::String(t)) if t == "req" => {}
        None => return Err(invalid("data must have required property 'type'".into())),
        _ => return Err(invalid("data/type must be equal to constant".into())),
    }
    let Some(id_s) = id.clone() else {
        return Err(invalid(match m.get("id") {
            None => "data must have required property 'id'".into(),
            Some(Value::String(_)) => "data/id must NOT have fewer than 1 characters".into(),
            Some(_) => "data/id must be string".into(),
        }));
    };
    let method = match m.get("method") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(invalid(
                "data/method must NOT have fewer than 1 characters".into(),
            ))
        }
        Some(_) => return Err(invalid("data/method must be string".into())),
        None => return Err(invalid("data must have required property 'method'".into())),
    };
    if let Some(extra) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "id" | "method" | "params"))
    {
        return Err(invalid(format!(
            "data must NOT have additional properties ({extra})"
        )));
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
    /// The token that went into the signature: `auth.token`, else `auth.deviceToken`.
    pub fn signed_token(&self) -> &str {
        self.auth
            .as_ref()
            .and_then(|a| a.token.as_deref().or(a.device_token.as_deref()))
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

struct V<'a> {
    path: String,
    obj: &'a Map<String, Value>,
}

fn type_name_err(path: &str, ty: &str) -> String {
    format!("data{path} must be {ty}")
}

impl<'a> V<'a> {
    fn of(path: &str, v: &'a Value) -> Result<Self, String> {
        match v {
            Value::Object(obj) => Ok(V {
                path: path.to_string(),
                obj,
            }),
            _ => Err(type_name_err(path, "object")),
        }
    }
    fn closed(&self, allowed: &[&str]) -> Result<(), String> {
        match self.obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "data{} must NOT have additional properties ({k})",
                self.path
            )),
            None => Ok(()),
        }
    }
    fn p(&self, k: &str) -> String {
        format!("{}/{k}", self.path)
    }
    fn missing(&self, k: &str) -> String {
        format!("data{} must have required property '{k}'", self.path)
    }
    fn opt_str(&self, k: &str) -> Result<Option<String>, String> {
        match self.obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(type_name_err(&self.p(k), "string")),
        }
    }
    fn req_str(&self, k: &str, min1: bool) -> Result<String, String> {
        let s = self.opt_str(k)?.ok_or_else(|| self.missing(k))?;
        if min1 && s.is_empty() {
            return Err(format!(
                "data{} must NOT have fewer than 1 characters",
                self.p(k)
            ));
        }
        Ok(s)
    }
    fn req_int(&self, k: &str, min: i64) -> Result<i64, String> {
        let v = self.obj.get(k).ok_or_else(|| self.missing(k))?;
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| type_name_err(&self.p(k), "integer"))?;
        if n < min {
            return Err(format!("data{} must be >= {min}", self.p(k)));
        }
        Ok(n)
    }
    fn opt_str_list(&self, k: &str) -> Result<Option<Vec<String>>, String> {
        match self.obj.get(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| type_name_err(&format!("{}/{i}", self.p(k)), "string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(type_name_err(&self.p(k), "array")),
        }
    }
    fn enum_str(&self, k: &str, allowed: &[&str]) -> Result<String, String> {
        let s = self.req_str(k, false)?;
        if !allowed.contains(&s.as_str()) {
            return Err(format!(
                "data{} must be equal to one of the allowed values",
                self.p(k)
            ));
        }
        Ok(s)
    }
}

/// Validates `connect` params against the closed schema. The error text
/// follows ajv's `errorsText` style (`data/client/id must be …`).
pub fn parse_connect_params(params: Option<&Value>) -> Result<ConnectParams, String> {
    let root = V::of("", params.unwrap_or(&Value::Null))?;
    root.closed(&[
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
    ])?;
    let min_protocol = root.req_int("minProtocol", 1)?;
    let max_protocol = root.req_int("maxProtocol", 1)?;
    let client_v = root
        .obj
        .get("client")
        .ok_or_else(|| root.missing("client"))?;
    let c = V::of("/client", client_v)?;
    c.closed(&[
        "id",
        "displayName",
        "version",
        "platform",
        "deviceFamily",
        "modelIdentifier",
        "mode",
        "instanceId",
    ])?;
    let client = ClientInfo {
        id: c.enum_str("id", CLIENT_IDS)?,
        display_name: c.opt_str("displayName")?,
        version: c.req_str("version", true)?,
        platform: c.req_str("platform", true)?,
        device_family: c.opt_str("deviceFamily")?,
        model_identifier: c.opt_str("modelIdentifier")?,
        mode: c.enum_str("mode", CLIENT_MODES)?,
        instance_id: c.opt_str("instanceId")?,
    };
    let caps = root.opt_str_list("caps")?.unwrap_or_default();
    let commands = root.opt_str_list("commands")?;
    if let Some(p) = root.obj.get("permissions") {
        let pv = V::of("/permissions", p)?;
        for (k, v) in pv.obj {
            if !v.is_boolean() {
                return Err(type_name_err(&pv.p(k), "boolean"));
            }
        }
    }
    root.opt_str("pathEnv")?;
    root.opt_str("locale")?;
    root.opt_str("userAgent")?;
    let role = root.opt_str("role")?;
    let scopes = root.opt_str_list("scopes")?.unwrap_or_default();
    let auth = match root.obj.get("auth") {
        None => None,
        Some(a) => {
            let av = V::of("/auth", a)?;
            av.closed(&["token", "deviceToken", "password"])?;
            Some(AuthParams {
                token: av.opt_str("token")?,
                device_token: av.opt_str("deviceToken")?,
                password: av.opt_str("password")?,
            })
        }
    };
    let device = match root.obj.get("device") {
        None => None,
        Some(d) => {
            let dv = V::of("/device", d)?;
            dv.closed(&["id", "publicKey", "signature", "signedAt", "nonce"])?;
            Some(DeviceParams {
                id: dv.req_str("id", true)?,
                public_key: dv.req_str("publicKey", true)?,
                signature: dv.req_str("signature", true)?,
                signed_at: dv.req_int("signedAt", 0)?,
                nonce: dv.req_str("nonce", false)?,
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
