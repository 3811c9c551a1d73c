//! A minimal gateway client speaking the same handshake as OpenClaw's
//! GatewayClient: wait for `connect.challenge`, sign the `v3` payload, send
//! `connect`, read the answer. Protocol 3 or 4 (the offer is the caller's),
//! over `ws://` or `wss://` (system roots, or a pinned SHA-256 fingerprint).
//! Used by `clawpair join`, the tests and the benchmark.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::gateway::crypto::{self, SignedFields};
use crate::identity::DeviceIdentity;

pub type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What to send in `connect`.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub client_id: String,
    pub client_mode: String,
    pub display_name: Option<String>,
    pub version: String,
    pub platform: String,
    pub device_family: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    pub token: Option<String>,
    pub device_token: Option<String>,
    /// Protocol 4 only: a 2026.9 setup code's token.
    pub bootstrap_token: Option<String>,
    pub caps: Vec<String>,
    /// The offered protocol range (3..3 unless set).
    pub min_protocol: i64,
    pub max_protocol: i64,
}

impl ConnectOptions {
    /// A headless node (`node-host`, mode `node`, role `node`).
    pub fn node(display_name: Option<String>) -> Self {
        ConnectOptions {
            client_id: "node-host".into(),
            client_mode: "node".into(),
            display_name,
            version: concat!("clawpair-", env!("CARGO_PKG_VERSION")).into(),
            platform: std::env::consts::OS.into(),
            device_family: None,
            role: "node".into(),
            scopes: vec![],
            token: None,
            device_token: None,
            bootstrap_token: None,
            caps: vec![],
            min_protocol: 3,
            max_protocol: 3,
        }
    }

    /// The same options offering protocol `min..=max`.
    pub fn offering(mut self, min: i64, max: i64) -> Self {
        self.min_protocol = min;
        self.max_protocol = max;
        self
    }

    /// An operator like `openclaw devices` (client `cli`, all five scopes).
    pub fn cli_operator(token: &str) -> Self {
        ConnectOptions {
            client_id: "cli".into(),
            client_mode: "cli".into(),
            display_name: None,
            version: "dev".into(),
            platform: std::env::consts::OS.into(),
            device_family: None,
            role: "operator".into(),
            scopes: [
                "operator.admin",
                "operator.read",
                "operator.write",
                "operator.approvals",
                "operator.pairing",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            token: Some(token.into()),
            device_token: None,
            bootstrap_token: None,
            caps: vec![],
            min_protocol: 3,
            max_protocol: 3,
        }
    }

    /// The `connect` params, signed with `identity` over `nonce` when given.
    pub fn params(&self, identity: Option<&DeviceIdentity>, nonce: &str, signed_at: i64) -> Value {
        let mut client = serde_json::Map::new();
        client.insert("id".into(), json!(self.client_id));
        if let Some(d) = &self.display_name {
            client.insert("displayName".into(), json!(d));
        }
        client.insert("version".into(), json!(self.version));
        client.insert("platform".into(), json!(self.platform));
        if let Some(f) = &self.device_family {
            client.insert("deviceFamily".into(), json!(f));
        }
        client.insert("mode".into(), json!(self.client_mode));
        let mut p = serde_json::Map::new();
        p.insert("minProtocol".into(), json!(self.min_protocol));
        p.insert("maxProtocol".into(), json!(self.max_protocol));
        p.insert("client".into(), Value::Object(client));
        p.insert("caps".into(), json!(self.caps));
        let mut auth = serde_json::Map::new();
        if let Some(t) = &self.token {
            auth.insert("token".into(), json!(t));
        }
        if let Some(t) = &self.bootstrap_token {
            auth.insert("bootstrapToken".into(), json!(t));
        }
        if let Some(t) = &self.device_token {
            auth.insert("deviceToken".into(), json!(t));
        }
        if !auth.is_empty() {
            p.insert("auth".into(), Value::Object(auth));
        }
        p.insert("role".into(), json!(self.role));
        p.insert("scopes".into(), json!(self.scopes));
        if let Some(id) = identity {
            let token = self
                .token
                .as_deref()
                .or(self.device_token.as_deref())
                .or(self.bootstrap_token.as_deref())
                .unwrap_or("");
            let fields = SignedFields {
                device_id: &id.device_id,
                client_id: &self.client_id,
                client_mode: &self.client_mode,
                role: &self.role,
                scopes: &self.scopes,
                signed_at,
                token,
                nonce,
                platform: Some(&self.platform),
                device_family: self.device_family.as_deref(),
            };
            let sig = crypto::sign(&id.key, &crypto::payload_v3(&fields));
            p.insert(
                "device".into(),
                json!({
                    "id": id.device_id,
                    "publicKey": id.public_key_b64url(),
                    "signature": sig,
                    "signedAt": signed_at,
                    "nonce": nonce,
                }),
            );
        }
        Value::Object(p)
    }
}

/// The answer to `connect`.
#[derive(Debug, Clone)]
pub enum ConnectAnswer {
    /// `hello-ok` payload.
    Hello(Value),
    /// The error object, plus the close code/reason when one arrived.
    Refused {
        error: Value,
        close: Option<(u16, String)>,
    },
    /// Closed without an answer.
    Closed(Option<(u16, String)>),
}

/// Opens a socket and waits for the challenge; returns the nonce.
pub async fn open(url: &str) -> Result<(ClientWs, String), String> {
    open_with(url, None).await
}

/// [`open`], pinning the server certificate's SHA-256 for `wss://` (without
/// a pin the system's root certificates decide).
pub async fn open_with(url: &str, pin: Option<[u8; 32]>) -> Result<(ClientWs, String), String> {
    let ws = if url.starts_with("wss://") {
        connect_tls(url, pin).await?
    } else {
        tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("connect to {url} failed: {e}"))?
            .0
    };
    challenge(ws).await
}

/// [`open`] from a chosen local address (plain `ws://` only): tests stand in
/// for another host with a second loopback address such as 127.0.0.2.
pub async fn open_from(url: &str, local: std::net::IpAddr) -> Result<(ClientWs, String), String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("{url}: only ws:// URLs"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let target = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let sock = if target.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| e.to_string())?;
    sock.bind(std::net::SocketAddr::new(local, 0))
        .map_err(|e| format!("bind {local}: {e}"))?;
    let tcp = sock
        .connect(target)
        .await
        .map_err(|e| format!("connect to {url} failed: {e}"))?;
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
        .await
        .map_err(|e| format!("connect to {url} failed: {e}"))?;
    challenge(ws).await
}

/// Waits for `connect.challenge`; returns the socket and the nonce.
async fn challenge(mut ws: ClientWs) -> Result<(ClientWs, String), String> {
    let nonce = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            let Ok(Message::Text(t)) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["event"] == "connect.challenge" {
                return v["payload"]["nonce"].as_str().map(str::to_string);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| "connect challenge timeout".to_string())?;
    Ok((ws, nonce))
}

/// TCP, TLS (rustls, ring) and the WebSocket upgrade for a `wss://` URL.
async fn connect_tls(url: &str, pin: Option<[u8; 32]>) -> Result<ClientWs, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let fail = |e: String| format!("connect to {url} failed: {e}");
    let req = url.into_client_request().map_err(|e| fail(e.to_string()))?;
    let host = req
        .uri()
        .host()
        .ok_or_else(|| fail("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = req.uri().port_u16().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    // The operator client's verifier: the pin when given (its signature still
    // checked), else the system roots.
    let verifier = std::sync::Arc::new(crate::operator::tls::Verifier::new(
        crate::operator::tls::TlsPolicy {
            explicit_pin: pin,
            stored_pin: None,
        },
    ));
    let config = crate::operator::tls::client_config(verifier).map_err(fail)?;
    let name =
        rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| fail(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(req, MaybeTlsStream::Rustls(tls), None)
            .await
            .map_err(|e| fail(e.to_string()))?;
    Ok(ws)
}

/// Sends `connect` and reads until its response (and the close that may follow).
pub async fn handshake(
    ws: &mut ClientWs,
    opts: &ConnectOptions,
    identity: Option<&DeviceIdentity>,
    nonce: &str,
    now_ms: i64,
) -> Result<ConnectAnswer, String> {
    let id = uuid::Uuid::new_v4().to_string();
    let frame = json!({"type": "req", "id": id, "method": "connect", "params": opts.params(identity, nonce, now_ms)});
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let mut error: Option<Value> = None;
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "res" && v["id"] == json!(id) {
                        if v["ok"] == json!(true) {
                            return ConnectAnswer::Hello(v["payload"].clone());
                        }
                        error = Some(v["error"].clone());
                    }
                }
                Ok(Message::Close(c)) => {
                    let close = c.map(|c| (u16::from(c.code), c.reason.as_str().to_string()));
                    return match error.take() {
                        Some(e) => ConnectAnswer::Refused { error: e, close },
                        None => ConnectAnswer::Closed(close),
                    };
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        match error.take() {
            Some(e) => ConnectAnswer::Refused {
                error: e,
                close: None,
            },
            None => ConnectAnswer::Closed(None),
        }
    })
    .await
    .map_err(|_| "no answer to connect".to_string())?;
    Ok(read)
}

/// Sends one request and waits for its response, collecting events seen meanwhile.
pub async fn call(
    ws: &mut ClientWs,
    method: &str,
    params: Value,
) -> Result<(Value, Vec<Value>), String> {
    let id = uuid::Uuid::new_v4().to_string();
    let frame = json!({"type": "req", "id": id, "method": method, "params": params});
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Text(t)) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if v["type"] == "res" && v["id"] == json!(id) {
                    return Ok((v, std::mem::take(&mut events)));
                }
                events.push(v);
            }
        }
        Err("connection closed".to_string())
    })
    .await
    .map_err(|_| "no answer".to_string())?
}
