//! One operator connection: the handshake (challenge → signed or device-less
//! `connect` offering protocols 3..4 → `hello-ok` or a refusal), then a task
//! that owns the socket and multiplexes requests by id (bounded in-flight,
//! per-call deadlines), forwards events into a bounded broadcast channel
//! (a slow reader sees `Lagged` and re-lists), and closes with 4000
//! `tick timeout` when the gateway falls silent for two tick intervals.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::tls::{Fingerprint, TlsPolicy};
use super::transport::{self, OpenError, Ws};
use super::url::GatewayUrl;
use super::wire::{self, GatewayError, Hello, Incoming};
use crate::gateway::crypto::{self, SignedFields};
use crate::identity::DeviceIdentity;

/// Protocols offered: both generations admit 3..4 for an operator
/// (2026.2.26 answers 3, 2026.9.6 answers 4; docs/interop).
pub const OFFER: (i64, i64) = (3, 4);
/// Requests in flight on one connection.
pub const MAX_IN_FLIGHT: usize = 64;
/// Events buffered for a reader before it lags.
pub const EVENT_BUFFER: usize = 1024;
/// Frames tolerated before the challenge / the connect answer.
const MAX_PREAMBLE_FRAMES: usize = 256;

/// The shared gateway secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Shared {
    Token(String),
    Password(String),
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Shared::Token(_) => "Token(<redacted>)",
            Shared::Password(_) => "Password(<redacted>)",
        })
    }
}

/// How to authenticate.
#[derive(Clone, Default)]
pub struct Credentials {
    pub shared: Option<Shared>,
    /// Sign `connect` with this identity (else connect without a device).
    pub identity: Option<DeviceIdentity>,
    /// A device token issued to `identity` for role operator.
    pub device_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("shared", &self.shared)
            .field(
                "identity",
                &self.identity.as_ref().map(|i| i.device_id.clone()),
            )
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Everything one connect attempt needs.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    pub url: GatewayUrl,
    pub tls: TlsPolicy,
    pub creds: Credentials,
    pub scopes: Vec<String>,
    pub protocol: (i64, i64),
    pub client_id: String,
    pub client_mode: String,
    pub display_name: Option<String>,
    pub open_timeout: Duration,
    pub answer_timeout: Duration,
}

impl ConnectSpec {
    /// An operator connect as clawpair makes it (client `cli`/`cli`, protocols 3..4).
    pub fn operator(url: GatewayUrl, creds: Credentials, scopes: Vec<String>) -> ConnectSpec {
        ConnectSpec {
            url,
            tls: TlsPolicy::default(),
            creds,
            scopes,
            protocol: OFFER,
            client_id: "cli".into(),
            client_mode: "cli".into(),
            display_name: Some("clawpair".into()),
            open_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(15),
        }
    }

    /// The `connect` params, signed over `nonce` when an identity is set.
    pub fn params(&self, nonce: &str, signed_at: i64) -> Value {
        let mut client = Map::new();
        client.insert("id".into(), json!(self.client_id));
        if let Some(d) = &self.display_name {
            client.insert("displayName".into(), json!(d));
        }
        client.insert(
            "version".into(),
            json!(concat!("clawpair-", env!("CARGO_PKG_VERSION"))),
        );
        client.insert("platform".into(), json!(std::env::consts::OS));
        client.insert("mode".into(), json!(self.client_mode));
        client.insert("instanceId".into(), json!(uuid::Uuid::new_v4().to_string()));
        let mut p = Map::new();
        p.insert("minProtocol".into(), json!(self.protocol.0));
        p.insert("maxProtocol".into(), json!(self.protocol.1));
        p.insert("client".into(), Value::Object(client));
        p.insert("caps".into(), json!([]));
        let mut auth = Map::new();
        let mut signed_token = String::new();
        match &self.creds.shared {
            Some(Shared::Token(t)) => {
                auth.insert("token".into(), json!(t));
                signed_token = t.clone();
            }
            Some(Shared::Password(pw)) => {
                auth.insert("password".into(), json!(pw));
            }
            None => {}
        }
        if let (Some(dt), Some(_)) = (&self.creds.device_token, &self.creds.identity) {
            if !auth.contains_key("token") {
                // As OpenClaw's client: the device token in both fields.
                auth.insert("token".into(), json!(dt));
                signed_token = dt.clone();
            }
            auth.insert("deviceToken".into(), json!(dt));
        }
        if !auth.is_empty() {
            p.insert("auth".into(), Value::Object(auth));
        }
        p.insert("role".into(), json!("operator"));
        p.insert("scopes".into(), json!(self.scopes));
        if let Some(id) = &self.creds.identity {
            let platform = std::env::consts::OS;
            let fields = SignedFields {
                device_id: &id.device_id,
                client_id: &self.client_id,
                client_mode: &self.client_mode,
                role: "operator",
                scopes: &self.scopes,
                signed_at,
                token: &signed_token,
                nonce,
                platform: Some(platform),
                device_family: None,
            };
            p.insert(
                "device".into(),
                json!({
                    "id": id.device_id,
                    "publicKey": id.public_key_b64url(),
                    "signature": crypto::sign(&id.key, &crypto::payload_v3(&fields)),
                    "signedAt": signed_at,
                    "nonce": nonce,
                }),
            );
        }
        Value::Object(p)
    }
}

/// Why a connect attempt did not end in `hello-ok`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectError {
    Open(OpenError),
    /// No `connect.challenge` in time.
    NoChallenge,
    /// The gateway answered `ok:false`.
    Refused(GatewayError),
    /// Closed before answering.
    Closed {
        code: Option<u16>,
        reason: String,
    },
    /// No answer in time, or an answer that is not `hello-ok`.
    Protocol(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Open(e) => e.fmt(f),
            ConnectError::NoChallenge => {
                f.write_str("connect challenge timeout (is this an OpenClaw gateway?)")
            }
            ConnectError::Refused(e) => f.write_str(&crate::sanitize::for_terminal(&e.message)),
            ConnectError::Closed { code, reason } => match code {
                Some(c) => write!(
                    f,
                    "gateway closed the connection ({c} {})",
                    crate::sanitize::for_terminal(reason)
                ),
                None => f.write_str("gateway closed the connection"),
            },
            ConnectError::Protocol(e) => f.write_str(e),
        }
    }
}

/// An event from the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct GwEvent {
    pub name: String,
    pub payload: Value,
    pub seq: Option<u64>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    Gateway(GatewayError),
    Timeout(Duration),
    /// The connection went away; the request may or may not have been carried out.
    Lost(String),
    Busy,
    /// There is no connection now; nothing was sent.
    Offline(String),
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcError::Gateway(e) => f.write_str(&crate::sanitize::for_terminal(&e.message)),
            RpcError::Timeout(d) => {
                write!(f, "no answer from the gateway within {} s", d.as_secs())
            }
            RpcError::Lost(why) => write!(
                f,
                "connection lost before the answer ({why}); check whether it happened"
            ),
            RpcError::Busy => f.write_str("too many requests in flight"),
            RpcError::Offline(why) => write!(f, "offline: {why}; nothing was done"),
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The gateway closed (code, reason).
    Closed(Option<u16>, String),
    TickTimeout,
    Error(String),
    /// We closed it.
    ByUs,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::sanitize::for_terminal as c;
        match self {
            Ended::Closed(Some(code), r) if r.is_empty() => write!(f, "closed ({code})"),
            Ended::Closed(Some(code), r) => write!(f, "closed ({code} {})", c(r)),
            Ended::Closed(None, _) => f.write_str("connection closed"),
            Ended::TickTimeout => f.write_str("tick timeout: the gateway fell silent"),
            Ended::Error(e) => write!(f, "connection error: {}", c(e)),
            Ended::ByUs => f.write_str("closed"),
        }
    }
}

enum Cmd {
    Call {
        method: String,
        params: Value,
        timeout: Duration,
        reply: oneshot::Sender<Result<Value, RpcError>>,
    },
    Close,
}

/// A connected, authenticated operator session.
pub struct Session {
    cmd: mpsc::Sender<Cmd>,
    events: broadcast::Sender<GwEvent>,
    pub hello: Arc<Hello>,
    /// The server certificate fingerprint (for `wss://`).
    pub tls_seen: Option<Fingerprint>,
    ended: watch::Receiver<Option<Ended>>,
}

/// What a successful connect returns.
pub type Connected = Session;

async fn next_text(ws: &mut Ws) -> Result<String, Ended> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(c))) => {
                return Err(match c {
                    Some(c) => Ended::Closed(
                        Some(u16::from(c.code)),
                        wire::bounded(c.reason.as_str(), 256),
                    ),
                    None => Ended::Closed(None, String::new()),
                })
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(Ended::Error(e.to_string())),
            None => return Err(Ended::Closed(None, String::new())),
        }
    }
}

fn closed(e: Ended) -> ConnectError {
    match e {
        Ended::Closed(code, reason) => ConnectError::Closed { code, reason },
        other => ConnectError::Closed {
            code: None,
            reason: other.to_string(),
        },
    }
}

/// Connects, authenticates and starts the session task.
pub async fn connect(spec: &ConnectSpec) -> Result<Session, ConnectError> {
    let opened = transport::open(&spec.url, &spec.tls, spec.open_timeout)
        .await
        .map_err(ConnectError::Open)?;
    let mut ws = opened.ws;
    // 1. The challenge.
    let nonce = tokio::time::timeout(Duration::from_secs(5), async {
        for _ in 0..MAX_PREAMBLE_FRAMES {
            let t = next_text(&mut ws).await.map_err(closed)?;
            if let Ok(Incoming::Event { event, payload, .. }) = wire::parse_incoming(&t) {
                if event == "connect.challenge" {
                    return match payload.get("nonce").and_then(Value::as_str) {
                        Some(n) if !n.is_empty() && n.len() <= 256 => Ok(n.to_string()),
                        _ => Err(ConnectError::Protocol(
                            "connect challenge missing nonce".into(),
                        )),
                    };
                }
            }
        }
        Err(ConnectError::Protocol(
            "no connect challenge among the first frames".into(),
        ))
    })
    .await
    .map_err(|_| ConnectError::NoChallenge)??;
    // 2. connect.
    let id = uuid::Uuid::new_v4().to_string();
    let frame = json!({"type": "req", "id": id, "method": "connect", "params": spec.params(&nonce, crate::clock::system_now_ms())});
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(|e| closed(Ended::Error(e.to_string())))?;
    // 3. The answer.
    let answer = tokio::time::timeout(spec.answer_timeout, async {
        for _ in 0..MAX_PREAMBLE_FRAMES {
            let t = next_text(&mut ws).await.map_err(closed)?;
            if let Ok(Incoming::Res {
                id: rid,
                ok,
                payload,
                error,
            }) = wire::parse_incoming(&t)
            {
                if rid != id {
                    continue;
                }
                if !ok {
                    return Err(ConnectError::Refused(
                        error.unwrap_or_else(|| wire::parse_error(&Value::Null)),
                    ));
                }
                return Hello::parse(&payload).ok_or_else(|| {
                    ConnectError::Protocol("the answer to connect is not hello-ok".into())
                });
            }
        }
        Err(ConnectError::Protocol(
            "no answer to connect among the first frames".into(),
        ))
    })
    .await
    .map_err(|_| {
        ConnectError::Protocol(format!(
            "no answer to connect within {} s",
            spec.answer_timeout.as_secs()
        ))
    })?;
    let hello = match answer {
        Ok(h) => Arc::new(h),
        Err(e) => {
            let _ = ws.close(None).await;
            return Err(e);
        }
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(MAX_IN_FLIGHT);
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let (ended_tx, ended) = watch::channel(None);
    let tick = Duration::from_millis(hello.tick_interval_ms);
    tokio::spawn(run(ws, cmd_rx, events.clone(), ended_tx, tick));
    Ok(Session {
        cmd: cmd_tx,
        events,
        hello,
        tls_seen: opened.tls_seen,
        ended,
    })
}

impl Session {
    /// Sends one request and waits for its answer (at most `timeout`).
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        if let Some(e) = self.ended() {
            return Err(RpcError::Offline(e.to_string()));
        }
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Call {
            method: method.to_string(),
            params,
            timeout,
            reply,
        };
        if self.cmd.try_send(cmd).is_err() {
            return Err(match self.ended() {
                Some(e) => RpcError::Offline(e.to_string()),
                None => RpcError::Busy,
            });
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(RpcError::Lost(
                self.ended()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "session ended".into()),
            )),
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<GwEvent> {
        self.events.subscribe()
    }

    /// How it ended, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.ended.borrow().clone()
    }

    /// Resolves when the session has ended.
    pub async fn wait_ended(&self) -> Ended {
        let mut rx = self.ended.clone();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                return Ended::Error("session task gone".into());
            }
        }
    }

    /// Closes the connection (1000) and waits briefly for the task to end.
    pub async fn close(&self) {
        let _ = self.cmd.send(Cmd::Close).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.wait_ended()).await;
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("protocol", &self.hello.protocol)
            .field("server", &self.hello.server_version)
            .field("ended", &self.ended())
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.cmd.try_send(Cmd::Close);
    }
}

type Pending = HashMap<String, (Instant, Duration, oneshot::Sender<Result<Value, RpcError>>)>;

async fn run(
    mut ws: Ws,
    mut cmds: mpsc::Receiver<Cmd>,
    events: broadcast::Sender<GwEvent>,
    ended_tx: watch::Sender<Option<Ended>>,
    tick: Duration,
) {
    let mut pending: Pending = HashMap::new();
    let mut last_rx = Instant::now();
    let mut junk: u64 = 0;
    let mut watchdog = tokio::time::interval(Duration::from_millis(250));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ended = loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    last_rx = Instant::now();
                    match wire::parse_incoming(t.as_str()) {
                        Ok(Incoming::Res { id, ok, payload, error }) => {
                            if let Some((_, _, reply)) = pending.remove(&id) {
                                let r = if ok { Ok(payload) } else { Err(RpcError::Gateway(error.unwrap_or_else(|| wire::parse_error(&Value::Null)))) };
                                let _ = reply.send(r);
                            }
                        }
                        Ok(Incoming::Event { event, payload, seq }) => {
                            if event != "tick" {
                                let _ = events.send(GwEvent { name: event, payload, seq });
                            }
                        }
                        Err(e) => {
                            junk += 1;
                            if junk.is_power_of_two() {
                                tracing::debug!("ignored {junk} invalid frames from the gateway (last: {e})");
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    break match c {
                        Some(c) => Ended::Closed(Some(u16::from(c.code)), wire::bounded(c.reason.as_str(), 256)),
                        None => Ended::Closed(None, String::new()),
                    };
                }
                Some(Ok(_)) => last_rx = Instant::now(),
                Some(Err(e)) => break Ended::Error(e.to_string()),
                None => break Ended::Closed(None, String::new()),
            },
            c = cmds.recv() => match c {
                Some(Cmd::Call { method, params, timeout, reply }) => {
                    if pending.len() >= MAX_IN_FLIGHT {
                        let _ = reply.send(Err(RpcError::Busy));
                        continue;
                    }
                    let id = uuid::Uuid::new_v4().to_string();
                    let frame = json!({"type": "req", "id": id, "method": method, "params": params});
                    if let Err(e) = ws.send(Message::text(frame.to_string())).await {
                        let _ = reply.send(Err(RpcError::Lost(e.to_string())));
                        break Ended::Error(e.to_string());
                    }
                    pending.insert(id, (Instant::now() + timeout, timeout, reply));
                }
                Some(Cmd::Close) | None => {
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
                    break Ended::ByUs;
                }
            },
            _ = watchdog.tick() => {
                let now = Instant::now();
                let expired: Vec<String> = pending.iter().filter(|(_, (d, _, _))| *d <= now).map(|(k, _)| k.clone()).collect();
                for k in expired {
                    if let Some((_, t, reply)) = pending.remove(&k) {
                        let _ = reply.send(Err(RpcError::Timeout(t)));
                    }
                }
                if now.duration_since(last_rx) > tick * 2 {
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::from(4000), reason: "tick timeout".into() })).await;
                    break Ended::TickTimeout;
                }
            }
        }
    };
    let why = ended.to_string();
    for (_, (_, _, reply)) in pending.drain() {
        let _ = reply.send(Err(RpcError::Lost(why.clone())));
    }
    let _ = ended_tx.send(Some(ended));
}
