//! A connection that stays up: connect, and on every loss reconnect with a
//! capped, jittered backoff, publishing where it stands ([`RemoteStatus`])
//! and what the gateway sends ([`LinkEvent`]). A request made while there is
//! no connection is refused at once ([`RpcError::Offline`]), never queued.
//!
//! Also here: how a [`Remote`] becomes a [`ConnectSpec`] (credentials, the
//! remembered pin and device token) and what a finished handshake leaves in
//! the config dir, shared with the one-shot CLI connections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::session::{
    self, ConnectError, ConnectSpec, Credentials, Ended, GwEvent, RpcError, Session, Shared,
};
use super::store::ConfigDir;
use super::tls::{Fingerprint, TlsPolicy};
use super::transport::OpenError;
use super::url::GatewayUrl;
use crate::app::rows::{RemoteState, RemoteStatus};
use crate::clock::now_ms;
use crate::devices::model::short_fingerprint;

/// Where and how to reach a gateway, from the command line.
#[derive(Clone)]
pub struct Remote {
    pub url: GatewayUrl,
    pub shared: Option<Shared>,
    /// `--tls-fingerprint`.
    pub explicit_pin: Option<Fingerprint>,
    /// Sign with clawpair's own operator identity even with a shared secret
    /// (`--as-device`). Without a shared secret the identity is always used.
    pub as_device: bool,
    pub config: ConfigDir,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url.display())
            .field("shared", &self.shared)
            .field("as_device", &self.as_device)
            .finish_non_exhaustive()
    }
}

impl Remote {
    fn uses_identity(&self) -> bool {
        self.as_device || self.shared.is_none()
    }

    /// The connect spec for `scopes`, with the remembered pin and device token.
    pub fn spec(&self, scopes: &[String]) -> Result<ConnectSpec, String> {
        let rec = self.config.gateway(&self.url).map_err(|e| e.to_string())?;
        let mut creds = Credentials {
            shared: self.shared.clone(),
            ..Credentials::default()
        };
        if self.uses_identity() {
            let id = self.config.identity(now_ms()).map_err(|e| e.to_string())?;
            if rec.device_id.as_deref() == Some(id.device_id.as_str()) {
                creds.device_token = rec.device_token.clone();
            }
            creds.identity = Some(id);
        }
        let mut spec = ConnectSpec::operator(self.url.clone(), creds, scopes.to_vec());
        spec.tls = TlsPolicy {
            explicit_pin: self.explicit_pin,
            stored_pin: rec.tls_pin,
        };
        Ok(spec)
    }

    /// What a `hello-ok` leaves behind: the verified certificate's pin and
    /// the device token issued to our identity.
    pub fn after_connect(&self, spec: &ConnectSpec, s: &Session) {
        let now = now_ms();
        if let Some(fp) = s.tls_seen {
            match self.config.remember_pin(&self.url, fp, now) {
                Ok(true) => tracing::info!("remembered the TLS pin of {}", self.url.display()),
                Ok(false) => {}
                Err(e) => tracing::warn!("cannot remember the TLS pin: {e}"),
            }
        }
        if let (Some(id), Some(auth)) = (&spec.creds.identity, &s.hello.auth) {
            if let Some(t) = &auth.device_token {
                if let Err(e) = self.config.set_device_token(
                    &self.url,
                    &id.device_id,
                    Some((t, &auth.scopes)),
                    now,
                ) {
                    tracing::warn!("cannot keep the device token: {e}");
                }
            }
        }
    }

    /// Forgets the device token the gateway refused (as OpenClaw's client does).
    pub fn forget_device_token(&self, spec: &ConnectSpec) {
        if let Some(id) = &spec.creds.identity {
            let _ = self
                .config
                .set_device_token(&self.url, &id.device_id, None, now_ms());
        }
    }

    /// One connection for one command (the CLI): connect, keep what it
    /// leaves, or explain why not.
    pub async fn connect_once(&self, scopes: &[String]) -> Result<Session, String> {
        let spec = self.spec(scopes)?;
        match session::connect(&spec).await {
            Ok(s) => {
                self.after_connect(&spec, &s);
                Ok(s)
            }
            Err(e) => {
                let c = classify(&e, &spec);
                if c.forget_token {
                    self.forget_device_token(&spec);
                }
                Err(explain(&c.state, &self.url))
            }
        }
    }
}

/// A connect failure, as the status line shows it and how soon to retry.
pub struct Classified {
    pub state: RemoteState,
    /// Fixed delay instead of the exponential backoff.
    pub retry_after: Option<Duration>,
    pub forget_token: bool,
}

fn hint_for(code: Option<&str>, spec: &ConnectSpec) -> String {
    match code {
        Some("AUTH_TOKEN_MISMATCH") => "the token is not this gateway's gateway.auth.token: check --token, --token-file or $OPENCLAW_GATEWAY_TOKEN".into(),
        Some("AUTH_TOKEN_MISSING") | Some("AUTH_PASSWORD_MISSING") => "the gateway wants its shared token: pass --token or --token-file, or set $OPENCLAW_GATEWAY_TOKEN (add --as-device once to pair this console's own identity; later runs then need no token)".into(),
        Some("AUTH_PASSWORD_MISMATCH") => "the password is not this gateway's gateway.auth.password: check --password".into(),
        Some("AUTH_DEVICE_TOKEN_MISMATCH") => "this console's device token was refused: its device was removed, or the token revoked or rotated on the gateway. clawpair forgot it; connect once with --token (and --as-device) to be paired again".into(),
        Some("AUTH_RATE_LIMITED") => "too many failed attempts from this address; wait and check the token".into(),
        Some("DEVICE_IDENTITY_REQUIRED") => "the gateway wants a device identity or its shared token: pass --token".into(),
        _ if spec.creds.shared.is_some() => "check --token / --password".into(),
        _ => "pass the gateway's token with --token".into(),
    }
}

/// Sorts a connect failure into a status and a retry policy.
pub fn classify(e: &ConnectError, spec: &ConnectSpec) -> Classified {
    let plain = |reason: String| Classified {
        state: RemoteState::Reconnecting {
            reason,
            retry_in_ms: 0,
        },
        retry_after: None,
        forget_token: false,
    };
    match e {
        ConnectError::Refused(err) => {
            let code = err.detail_code();
            let msg = crate::sanitize::for_terminal(&err.message);
            if code == Some("PAIRING_REQUIRED")
                || (err.code == "NOT_PAIRED" && msg.contains("pairing required"))
            {
                let device = spec
                    .creds
                    .identity
                    .as_ref()
                    .map(|i| short_fingerprint(&i.device_id))
                    .unwrap_or_default();
                return Classified {
                    state: RemoteState::PairingRequired {
                        request_id: crate::sanitize::for_terminal(
                            err.detail_str("requestId").unwrap_or("?"),
                        ),
                        device_key: device,
                    },
                    retry_after: Some(Duration::from_secs(3)),
                    forget_token: false,
                };
            }
            if code == Some("PROTOCOL_MISMATCH") || msg.contains("protocol mismatch") {
                let expected = err.details.get("expectedProtocol").and_then(Value::as_i64);
                let reason = match expected {
                    Some(p) => format!(
                        "the gateway speaks protocol {p}; clawpair offers {}..{}",
                        spec.protocol.0, spec.protocol.1
                    ),
                    None => msg,
                };
                return Classified {
                    state: RemoteState::ProtocolMismatch { reason },
                    retry_after: Some(Duration::from_secs(30)),
                    forget_token: false,
                };
            }
            if err.code == "UNAVAILABLE" || err.retryable {
                let mut c = plain(msg);
                c.retry_after = Some(Duration::from_millis(
                    err.retry_after_ms.unwrap_or(1000).clamp(250, 30_000),
                ));
                return c;
            }
            if msg.starts_with("unauthorized")
                || code.is_some_and(|c| c.starts_with("AUTH_"))
                || code == Some("DEVICE_IDENTITY_REQUIRED")
            {
                let forget = code == Some("AUTH_DEVICE_TOKEN_MISMATCH")
                    || msg.contains("device token mismatch");
                let code = if forget {
                    Some("AUTH_DEVICE_TOKEN_MISMATCH")
                } else {
                    code
                };
                return Classified {
                    state: RemoteState::Unauthorized {
                        reason: msg,
                        hint: hint_for(code, spec),
                    },
                    retry_after: if forget {
                        Some(Duration::from_secs(1))
                    } else {
                        None
                    },
                    forget_token: forget,
                };
            }
            plain(msg)
        }
        ConnectError::Open(OpenError::Tls(r)) => Classified {
            state: RemoteState::TlsRefused {
                reason: r.to_string(),
            },
            retry_after: Some(Duration::from_secs(30)),
            forget_token: false,
        },
        ConnectError::Open(OpenError::Policy(p)) => Classified {
            state: RemoteState::TlsRefused { reason: p.clone() },
            retry_after: Some(Duration::from_secs(600)),
            forget_token: false,
        },
        ConnectError::Closed {
            code: Some(1013), ..
        } => {
            let mut c = plain("gateway starting".into());
            c.retry_after = Some(Duration::from_secs(1));
            c
        }
        other => plain(other.to_string()),
    }
}

/// One sentence for a CLI user: what went wrong and what to do.
pub fn explain(state: &RemoteState, url: &GatewayUrl) -> String {
    let u = url.display();
    match state {
        RemoteState::Reconnecting { reason, .. } => format!("{u}: {reason}"),
        RemoteState::Unauthorized { reason, hint } => format!("{u}: {reason}; {hint}"),
        RemoteState::PairingRequired { request_id, device_key } => format!(
            "{u}: this clawpair is waiting for approval — on the gateway run `openclaw devices approve {request_id}` (device key {device_key}), then run this again"
        ),
        RemoteState::ProtocolMismatch { reason } => format!("{u}: protocol mismatch: {reason}"),
        RemoteState::TlsRefused { reason } => format!("{u}: {reason}"),
        RemoteState::Connecting | RemoteState::Connected => u,
    }
}

/// What a link reports besides its status.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// A (re)connection: everything should be re-listed.
    Up,
    Down,
    Event(GwEvent),
    /// Events were dropped (a slow reader): re-list.
    Lagged,
}

struct Inner {
    remote: Remote,
    scopes: Vec<String>,
    session: Mutex<Option<Arc<Session>>>,
    status: watch::Sender<RemoteStatus>,
    events: broadcast::Sender<LinkEvent>,
    stop: watch::Sender<bool>,
}

/// A reconnecting operator connection.
#[derive(Clone)]
pub struct Link {
    inner: Arc<Inner>,
}

/// Backoff: 0.5 s doubling to 30 s, each wait drawn from its upper half.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6)).min(30_000);
    let ms = rand::rng().random_range(base / 2..=base);
    Duration::from_millis(ms)
}

impl Link {
    /// Starts connecting in the background (needs a tokio runtime).
    pub fn start(remote: Remote, scopes: Vec<String>) -> Link {
        let (status, _) = watch::channel(RemoteStatus::connecting(remote.url.display()));
        let (events, _) = broadcast::channel(session::EVENT_BUFFER);
        let (stop, _) = watch::channel(false);
        let link = Link {
            inner: Arc::new(Inner {
                remote,
                scopes,
                session: Mutex::new(None),
                status,
                events,
                stop,
            }),
        };
        let inner = link.inner.clone();
        tokio::spawn(supervise(inner));
        link
    }

    pub fn status(&self) -> watch::Receiver<RemoteStatus> {
        self.inner.status.subscribe()
    }

    pub fn status_now(&self) -> RemoteStatus {
        self.inner.status.borrow().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LinkEvent> {
        self.inner.events.subscribe()
    }

    pub fn url(&self) -> &GatewayUrl {
        &self.inner.remote.url
    }

    /// The current session, when connected.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.inner.session.lock().ok().and_then(|s| s.clone())
    }

    /// One request on the current connection; refused at once when offline.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        match self.session() {
            Some(s) => s.call(method, params, timeout).await,
            None => Err(RpcError::Offline(format!(
                "not connected to {} ({})",
                self.inner.remote.url.display(),
                self.status_now().state_text()
            ))),
        }
    }

    /// Stops reconnecting and closes the connection.
    pub fn stop(&self) {
        let _ = self.inner.stop.send(true);
    }
}

fn set_state(inner: &Inner, state: RemoteState) {
    inner.status.send_modify(|s| s.state = state);
}

async fn supervise(inner: Arc<Inner>) {
    let mut stop = inner.stop.subscribe();
    let mut attempt: u32 = 0;
    loop {
        if *stop.borrow() {
            break;
        }
        let spec = match inner.remote.spec(&inner.scopes) {
            Ok(s) => s,
            Err(e) => {
                set_state(
                    &inner,
                    RemoteState::Reconnecting {
                        reason: e,
                        retry_in_ms: 30_000,
                    },
                );
                if wait_or_stop(&mut stop, Duration::from_secs(30)).await {
                    break;
                }
                continue;
            }
        };
        let result = tokio::select! {
            r = session::connect(&spec) => r,
            _ = stop.changed() => break,
        };
        let delay = match result {
            Ok(sess) => {
                inner.remote.after_connect(&spec, &sess);
                let sess = Arc::new(sess);
                let granted = sess
                    .hello
                    .auth
                    .as_ref()
                    .map(|a| a.scopes.clone())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| spec.scopes.clone());
                let mut events = sess.subscribe();
                if let Ok(mut g) = inner.session.lock() {
                    *g = Some(sess.clone());
                }
                inner.status.send_modify(|s| {
                    s.state = RemoteState::Connected;
                    s.server = Some(sess.hello.server_label());
                    s.protocol = Some(sess.hello.protocol);
                    s.scopes = granted;
                });
                let _ = inner.events.send(LinkEvent::Up);
                let up_at = Instant::now();
                let ended = loop {
                    tokio::select! {
                        ev = events.recv() => match ev {
                            Ok(e) => { let _ = inner.events.send(LinkEvent::Event(e)); }
                            Err(broadcast::error::RecvError::Lagged(_)) => { let _ = inner.events.send(LinkEvent::Lagged); }
                            Err(broadcast::error::RecvError::Closed) => break sess.wait_ended().await,
                        },
                        e = sess.wait_ended() => break e,
                        _ = stop.changed() => { sess.close().await; break Ended::ByUs; }
                    }
                };
                if let Ok(mut g) = inner.session.lock() {
                    *g = None;
                }
                let _ = inner.events.send(LinkEvent::Down);
                if ended == Ended::ByUs {
                    break;
                }
                if up_at.elapsed() > Duration::from_secs(30) {
                    attempt = 0;
                }
                let removed = matches!(&ended, Ended::Closed(Some(4001), _));
                if removed && spec.creds.identity.is_some() {
                    inner.remote.forget_device_token(&spec);
                }
                let reason = if removed {
                    "this console's device was removed or its token revoked on the gateway"
                        .to_string()
                } else {
                    ended.to_string()
                };
                let d = if attempt == 0 {
                    Duration::from_millis(rand::rng().random_range(100..400))
                } else {
                    backoff(attempt)
                };
                attempt += 1;
                set_state(
                    &inner,
                    RemoteState::Reconnecting {
                        reason,
                        retry_in_ms: d.as_millis() as u64,
                    },
                );
                d
            }
            Err(e) => {
                let c = classify(&e, &spec);
                if c.forget_token {
                    inner.remote.forget_device_token(&spec);
                }
                let d = c
                    .retry_after
                    .map(|d| {
                        let j = rand::rng().random_range(0..=d.as_millis() as u64 / 4);
                        d + Duration::from_millis(j)
                    })
                    .unwrap_or_else(|| backoff(attempt));
                attempt = attempt.saturating_add(1);
                let state = match c.state {
                    RemoteState::Reconnecting { reason, .. } => RemoteState::Reconnecting {
                        reason,
                        retry_in_ms: d.as_millis() as u64,
                    },
                    s => s,
                };
                set_state(&inner, state);
                d
            }
        };
        if wait_or_stop(&mut stop, delay).await {
            break;
        }
    }
    if let Ok(mut g) = inner.session.lock() {
        *g = None;
    }
}

/// Sleeps `d`; true when asked to stop meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}
