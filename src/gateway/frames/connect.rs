//! The closed `connect` params schema of protocol 3 and 4: the params'
//! types, the signed fields, and the validator.

use super::*;

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
    ) -> crate::gateway::crypto::SignedFields<'a> {
        crate::gateway::crypto::SignedFields {
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
