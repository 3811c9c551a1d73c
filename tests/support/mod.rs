//! Shared helpers for the gateway loopback tests.
#![allow(dead_code)]

use std::time::Duration;

use clawpair::gateway::{start, GatewayConfig, GatewayEvent, GatewayHandle};
use clawpair::node::client::{self, ClientWs, ConnectAnswer, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use clawpair::paths::Paths;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub const TOKEN: &str = "test-gateway-token-0123456789abcdef";

pub struct Gw {
    pub handle: GatewayHandle,
    pub url: String,
    pub paths: Paths,
    pub events: mpsc::UnboundedReceiver<GatewayEvent>,
    pub _dir: tempfile::TempDir,
}

pub fn cfg() -> GatewayConfig {
    let mut c = GatewayConfig::new("127.0.0.1", 0, TOKEN);
    c.auto_approve_local = false;
    c.watch_interval_ms = 100;
    c
}

pub async fn gateway(cfg: GatewayConfig) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::resolve(Some(dir.path()));
    let (tx, events) = mpsc::unbounded_channel();
    let handle = start(cfg, paths.clone(), tx).await;
    let url = format!("ws://{}", handle.local_addr().unwrap());
    Gw {
        handle,
        url,
        paths,
        events,
        _dir: dir,
    }
}

pub fn now() -> i64 {
    clawpair::clock::now_ms()
}

/// Opens, connects, returns the socket and the answer.
pub async fn connect(
    url: &str,
    opts: &ConnectOptions,
    id: Option<&DeviceIdentity>,
) -> (ClientWs, ConnectAnswer) {
    let (mut ws, nonce) = client::open(url).await.unwrap();
    let a = client::handshake(&mut ws, opts, id, &nonce, now())
        .await
        .unwrap();
    (ws, a)
}

/// [`connect`] from another local address (127.0.0.2 stands in for a LAN host).
pub async fn connect_from(
    local: std::net::IpAddr,
    url: &str,
    opts: &ConnectOptions,
    id: Option<&DeviceIdentity>,
) -> (ClientWs, ConnectAnswer) {
    let (mut ws, nonce) = client::open_from(url, local).await.unwrap();
    let a = client::handshake(&mut ws, opts, id, &nonce, now())
        .await
        .unwrap();
    (ws, a)
}

/// The stand-in for a LAN host: a second loopback address.
pub const REMOTE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

pub fn node_opts(token: Option<&str>) -> ConnectOptions {
    let mut o = ConnectOptions::node(Some("test-node".into()));
    o.token = token.map(str::to_string);
    o
}

pub fn hello(a: &ConnectAnswer) -> &Value {
    match a {
        ConnectAnswer::Hello(v) => v,
        other => panic!("expected hello-ok, got {other:?}"),
    }
}

pub fn refused(a: &ConnectAnswer) -> (&Value, Option<(u16, String)>) {
    match a {
        ConnectAnswer::Refused { error, close } => (error, close.clone()),
        other => panic!("expected refusal, got {other:?}"),
    }
}

/// Next text frame (JSON) within `ms`.
pub async fn next_json(ws: &mut ClientWs, ms: u64) -> Option<Value> {
    tokio::time::timeout(Duration::from_millis(ms), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
                Ok(Message::Close(_)) | Err(_) => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Waits for an event frame with this name.
pub async fn wait_event(ws: &mut ClientWs, name: &str, ms: u64) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let v = next_json(ws, left.as_millis() as u64).await?;
        if v["type"] == "event" && v["event"] == name {
            return Some(v);
        }
    }
}

/// Reads until the close frame; returns (code, reason).
pub async fn read_close(ws: &mut ClientWs, ms: u64) -> Option<(u16, String)> {
    tokio::time::timeout(Duration::from_millis(ms), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(c)) => {
                    return c.map(|c| (u16::from(c.code), c.reason.as_str().to_string()))
                }
                Err(_) => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// An operator listening for pairing events (like the transcript's listener).
pub async fn operator(url: &str, scopes: &[&str]) -> ClientWs {
    let mut o = ConnectOptions::cli_operator(TOKEN);
    o.client_id = "gateway-client".into();
    o.client_mode = "backend".into();
    o.scopes = scopes.iter().map(|s| s.to_string()).collect();
    let (ws, a) = connect(url, &o, None).await;
    hello(&a);
    ws
}

pub fn paired_json(paths: &Paths) -> Value {
    std::fs::read_to_string(paths.paired_devices())
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

pub fn pending_json(paths: &Paths) -> Value {
    std::fs::read_to_string(paths.pending_devices())
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// Pairs `ids` in the files, as an owner approving them would; returns the node tokens.
pub fn seed_paired(
    store: &clawpair::devices::DeviceStore,
    ids: &[DeviceIdentity],
    revoke: bool,
) -> Vec<String> {
    let t = clawpair::clock::now_ms();
    store
        .mutate(t, |st| {
            let mut tokens = Vec::new();
            for id in ids {
                let out = st.request(
                    clawpair::devices::RequestInput {
                        device_id: id.device_id.clone(),
                        public_key: id.public_key_b64url(),
                        display_name: Some("test-node".into()),
                        platform: Some(std::env::consts::OS.into()),
                        client_id: Some("node-host".into()),
                        client_mode: Some("node".into()),
                        role: Some("node".into()),
                        ..Default::default()
                    },
                    uuid::Uuid::new_v4().to_string(),
                    t,
                );
                let a = st.approve(&out.request.request_id, clawpair::devices::new_token(), t)?;
                tokens.push(a.device.token("node").unwrap().token.clone());
                if revoke {
                    st.revoke(&id.device_id, "node", t)?;
                }
            }
            Ok(tokens)
        })
        .unwrap()
}

/// A child process killed and reaped when the test is done with it (or fails).
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
