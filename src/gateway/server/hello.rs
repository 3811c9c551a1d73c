//! `hello-ok` (spec gateway-protocol §5): what a completed handshake is told.

use serde_json::{json, Value};

use super::hub::{now, Hub};
use crate::gateway::frames::{self, ConnectParams};
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
/// Events this gateway may send.
pub const EVENTS: &[&str] = &[
    "connect.challenge",
    "tick",
    "shutdown",
    "device.pair.requested",
    "device.pair.resolved",
];
/// Most presence entries sent in a `hello-ok` snapshot.
pub(super) const PRESENCE_IN_HELLO: usize = 32;

/// A completed handshake.
pub(super) struct Session {
    pub(super) role: String,
    pub(super) scopes: Vec<String>,
    /// The paired device, when the client presented one.
    pub(super) device_id: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) client_mode: String,
    /// The `hello-ok` payload, taken when it is sent.
    pub(super) hello: Value,
    /// The setup token to void once `hello-ok` delivered the device token.
    pub(super) setup_token_used: Option<String>,
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

/// The session a completed `connect` opens, with its `hello-ok` payload
/// (`auth` carries the device token, when one is issued).
pub(super) fn hello_ok(hub: &Hub, p: &ConnectParams, auth: Option<Value>) -> Session {
    let conn_id = uuid::Uuid::new_v4().to_string();
    let mut hello = serde_json::Map::new();
    hello.insert("type".into(), json!("hello-ok"));
    hello.insert("protocol".into(), json!(frames::PROTOCOL));
    hello.insert(
        "server".into(),
        json!({"version": env!("CARGO_PKG_VERSION"), "connId": conn_id}),
    );
    hello.insert(
        "features".into(),
        json!({"methods": METHODS, "events": EVENTS}),
    );
    hello.insert(
        "snapshot".into(),
        json!({
            // Nodes never read the snapshot; keeping their hello-ok small keeps
            // the per-connection write buffer small.
            "presence": if p.role() == "node" { Vec::new() } else { presence_snapshot(hub) },
            "health": health(),
            "stateVersion": {"presence": 0, "health": 0},
            "uptimeMs": hub.uptime_ms(),
            "stateDir": hub.paths.state_dir.to_string_lossy(),
            "configPath": hub.paths.config_file.to_string_lossy(),
            "sessionDefaults": {"defaultAgentId": "main", "mainKey": "main", "mainSessionKey": "agent:main:main", "scope": "per-sender"},
            "authMode": "token",
        }),
    );
    if let Some(a) = auth {
        hello.insert("auth".into(), a);
    }
    hello.insert("policy".into(), policy(&hub.cfg));
    Session {
        role: p.role().to_string(),
        scopes: p.scopes.clone(),
        device_id: None,
        display_name: p.client.display_name.clone(),
        client_mode: p.client.mode.clone(),
        hello: Value::Object(hello),
        setup_token_used: None,
    }
}
