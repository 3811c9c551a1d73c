//! `hello-ok` (spec gateway-protocol §5; protocol 4: openclaw-2026.9 §8.5):
//! what a completed handshake is told.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::hub::{now, Hub};
use crate::devices::TokenRecord;
use crate::gateway::crypto;
use crate::gateway::frames::{ConnectParams, Dialect};
use crate::gateway::GatewayConfig;

/// Methods this gateway implements (advertised in `hello-ok.features.methods`).
pub const METHODS: &[&str] = &[
    "health",
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.token.rotate",
    "device.token.revoke",
    "node.invoke.result",
    "node.event",
    "skills.bins",
];
/// Methods of a protocol-4 session: the 2026.2.26 ones plus `device.pair.rename`
/// and the publications a 2026.9.6 node host makes after `hello-ok`.
pub const METHODS_V4: &[&str] = &[
    "health",
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.pair.rename",
    "device.token.rotate",
    "device.token.revoke",
    "node.invoke.result",
    "node.event",
    "node.skills.update",
    "node.pluginTools.update",
    "node.runnerInventory.update",
    "skills.bins",
];
/// Events this gateway may send.
pub const EVENTS: &[&str] = &[
    "connect.challenge",
    "tick",
    "shutdown",
    "device.pair.requested",
    "device.pair.resolved",
];
/// Events of a protocol-4 session (adds `device.pair.changed`).
pub const EVENTS_V4: &[&str] = &[
    "connect.challenge",
    "tick",
    "shutdown",
    "device.pair.changed",
    "device.pair.requested",
    "device.pair.resolved",
];
/// Most presence entries sent in a `hello-ok` snapshot.
pub(super) const PRESENCE_IN_HELLO: usize = 32;

/// How the connection authenticated (`hello-ok.auth.method` in protocol 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthMethod {
    /// The shared gateway token.
    Token,
    /// A device token.
    DeviceToken,
    /// A setup code's token.
    BootstrapToken,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::DeviceToken => "device-token",
            AuthMethod::BootstrapToken => "bootstrap-token",
        }
    }
}

/// What an accepted `connect` was granted.
pub(super) struct Granted {
    pub(super) method: AuthMethod,
    /// The paired device, when the client presented one.
    pub(super) device_id: Option<String>,
    /// Authenticated with a device token: device-scoped RPC limits apply.
    pub(super) device_caller: bool,
    /// The role's device token (absent without a device).
    pub(super) token: Option<TokenRecord>,
    /// The scopes of the session (as asked for).
    pub(super) scopes: Vec<String>,
}

impl Granted {
    /// An operator without a device, admitted with the shared token.
    pub(super) fn shared(p: &ConnectParams) -> Self {
        Granted {
            method: AuthMethod::Token,
            device_id: None,
            device_caller: false,
            token: None,
            scopes: p.scopes.clone(),
        }
    }
}

/// A completed handshake.
pub(super) struct Session {
    pub(super) dialect: Dialect,
    pub(super) role: String,
    pub(super) scopes: Vec<String>,
    /// The paired device, when the client presented one.
    pub(super) device_id: Option<String>,
    /// Authenticated with a device token (protocol-4 ownership limits).
    pub(super) device_caller: bool,
    /// SHA-256 of the device token the session holds (revocation check).
    pub(super) token_digest: Option<[u8; 32]>,
    pub(super) display_name: Option<String>,
    pub(super) client_mode: String,
    /// The `hello-ok` payload, taken when it is sent.
    pub(super) hello: Value,
    /// The setup token to void once `hello-ok` delivered the device token.
    pub(super) setup_token_used: Option<String>,
    /// The hub's revocation epoch before the pairing decision.
    pub(super) epoch: u64,
}

/// SHA-256 of a token (what a session keeps to notice rotation).
pub(super) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `hello-ok.policy`.
fn policy(cfg: &GatewayConfig) -> Value {
    json!({
        "maxPayload": cfg.max_message_bytes,
        "maxBufferedBytes": cfg.max_message_bytes * 2,
        "tickIntervalMs": cfg.tick_interval_ms,
    })
}

/// `hello-ok.snapshot.health`, also the `health` RPC's answer.
pub(super) fn health() -> Value {
    json!({
        "ok": true,
        "ts": now(),
        "durationMs": 0,
        "channels": {},
        "channelOrder": [],
        "channelLabels": {},
        "heartbeatSeconds": 0,
        "defaultAgentId": "main",
        "agents": [],
        "sessions": {"path": "", "count": 0, "recent": []},
    })
}

/// `hello-ok.snapshot.presence`: connected devices, most recent first.
fn presence_snapshot(hub: &Hub) -> Vec<Value> {
    // Bounded: a hello-ok must not grow with the number of connected devices.
    hub.live_presence(PRESENCE_IN_HELLO)
        .into_iter()
        .map(|e| {
            let mut m = serde_json::Map::new();
            m.insert(
                "host".into(),
                json!(e
                    .display_name
                    .clone()
                    .unwrap_or_else(|| e.device_id.clone())),
            );
            if let Some(ip) = &e.remote_ip {
                m.insert("ip".into(), json!(ip));
            }
            m.insert("mode".into(), json!(e.client_mode));
            m.insert("deviceId".into(), json!(e.device_id));
            m.insert("roles".into(), json!([e.role]));
            m.insert("instanceId".into(), json!(e.device_id));
            m.insert("reason".into(), json!("connect"));
            m.insert("ts".into(), json!(e.last_seen_ms));
            Value::Object(m)
        })
        .collect()
}

/// `hello-ok.auth.recoveryScope`: a non-secret, stable hash naming this
/// gateway (its state dir) and the device, as 2026.9.6 sends operators.
fn recovery_scope(hub: &Hub, device_id: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(b"clawpair.recoveryScope.v1\0");
    h.update(hub.paths.state_dir.to_string_lossy().as_bytes());
    h.update(b"\0");
    h.update(device_id.unwrap_or("").as_bytes());
    crypto::b64url(&h.finalize())
}

/// `hello-ok.auth`. Protocol 3 sends it only with a device token
/// (`{deviceToken, role, scopes, issuedAtMs}`); protocol 4 always, in
/// 2026.9.6's key order, scopes as granted.
fn auth_value(hub: &Hub, p: &ConnectParams, d: Dialect, g: &Granted) -> Option<Value> {
    match d {
        Dialect::V3 => g.token.as_ref().map(|token| {
            json!({
                "deviceToken": token.token,
                "role": token.role,
                "scopes": token.scopes,
                "issuedAtMs": token.rotated_at_ms.unwrap_or(token.created_at_ms),
            })
        }),
        Dialect::V4 => {
            let mut a = Map::new();
            a.insert("method".into(), json!(g.method.as_str()));
            a.insert("role".into(), json!(p.role()));
            a.insert("scopes".into(), json!(g.scopes));
            if p.role() == "operator" {
                a.insert(
                    "recoveryScope".into(),
                    json!(recovery_scope(hub, g.device_id.as_deref())),
                );
                if g.token.is_some() {
                    a.insert("recoveryMigrationAllowed".into(), json!(true));
                }
            }
            if let Some(t) = &g.token {
                a.insert("deviceToken".into(), json!(t.token));
                a.insert(
                    "issuedAtMs".into(),
                    json!(t.rotated_at_ms.unwrap_or(t.created_at_ms)),
                );
            }
            Some(Value::Object(a))
        }
    }
}

/// `hello-ok.snapshot`. Protocol 4 adds `suspension` and, as 2026.9.6 does,
/// gives `configPath`, `stateDir` and `authMode` to admins only.
fn snapshot(hub: &Hub, p: &ConnectParams, d: Dialect, scopes: &[String]) -> Value {
    // Nodes never read the snapshot; keeping their hello-ok small keeps
    // the per-connection write buffer small.
    let presence = if p.role() == "node" {
        Vec::new()
    } else {
        presence_snapshot(hub)
    };
    let defaults = json!({"defaultAgentId": "main", "mainKey": "main", "mainSessionKey": "agent:main:main", "scope": "per-sender"});
    match d {
        Dialect::V3 => json!({
            "presence": presence,
            "health": health(),
            "stateVersion": {"presence": 0, "health": 0},
            "uptimeMs": hub.uptime_ms(),
            "stateDir": hub.paths.state_dir.to_string_lossy(),
            "configPath": hub.paths.config_file.to_string_lossy(),
            "sessionDefaults": defaults,
            "authMode": "token",
        }),
        Dialect::V4 => {
            let mut m = Map::new();
            m.insert("suspension".into(), json!({"phase": "accepting"}));
            m.insert("presence".into(), json!(presence));
            m.insert("health".into(), health());
            m.insert("stateVersion".into(), json!({"presence": 0, "health": 0}));
            m.insert("uptimeMs".into(), json!(hub.uptime_ms()));
            m.insert("sessionDefaults".into(), defaults);
            let admin = p.role() == "operator" && scopes.iter().any(|s| s == "operator.admin");
            if admin {
                m.insert(
                    "configPath".into(),
                    json!(hub.paths.config_file.to_string_lossy()),
                );
                m.insert(
                    "stateDir".into(),
                    json!(hub.paths.state_dir.to_string_lossy()),
                );
                m.insert("authMode".into(), json!("token"));
            }
            Value::Object(m)
        }
    }
}

/// The session a completed `connect` opens, with its `hello-ok` payload in
/// the connection's dialect.
pub(super) fn hello_ok(hub: &Hub, p: &ConnectParams, d: Dialect, g: Granted) -> Session {
    let conn_id = uuid::Uuid::new_v4().to_string();
    let (methods, events) = match d {
        Dialect::V3 => (METHODS, EVENTS),
        Dialect::V4 => (METHODS_V4, EVENTS_V4),
    };
    let mut hello = serde_json::Map::new();
    hello.insert("type".into(), json!("hello-ok"));
    hello.insert("protocol".into(), json!(d.protocol()));
    hello.insert(
        "server".into(),
        json!({"version": env!("CARGO_PKG_VERSION"), "connId": conn_id}),
    );
    hello.insert(
        "features".into(),
        json!({"methods": methods, "events": events}),
    );
    hello.insert("snapshot".into(), snapshot(hub, p, d, &g.scopes));
    if let Some(a) = auth_value(hub, p, d, &g) {
        hello.insert("auth".into(), a);
    }
    hello.insert("policy".into(), policy(&hub.cfg));
    Session {
        dialect: d,
        role: p.role().to_string(),
        scopes: p.scopes.clone(),
        token_digest: g.token.as_ref().map(|t| token_digest(&t.token)),
        device_id: g.device_id,
        device_caller: g.device_caller,
        display_name: p.client.display_name.clone(),
        client_mode: p.client.mode.clone(),
        hello: Value::Object(hello),
        setup_token_used: None,
        epoch: 0,
    }
}
