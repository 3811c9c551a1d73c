//! Protocol 4 on real WebSocket connections on 127.0.0.1, with the crate's
//! own client: what OpenClaw 2026.9.6 answers (openclaw-2026.9 §8–§10, §12),
//! bootstrap setup codes, revocation that closes connections (and how fast),
//! and TLS.

mod support;

use std::time::{Duration, Instant};

use clawpair::devices::DeviceStore;
use clawpair::gateway::{setup, tls, GatewayConfig};
use clawpair::node::client::{self, ClientWs, ConnectAnswer, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn v4_operator(scopes: &[&str]) -> ConnectOptions {
    let mut o = ConnectOptions::cli_operator(TOKEN).offering(4, 4);
    o.version = "2026.9.6".into();
    o.scopes = scopes.iter().map(|s| s.to_string()).collect();
    o
}

fn v4_node(token: Option<&str>) -> ConnectOptions {
    let mut o = node_opts(token).offering(4, 4);
    o.device_family = Some("Linux".into());
    o
}

/// Opens a connection that looks remote (as the fixtures' proxy made it).
async fn open_remote(url: &str) -> (ClientWs, String) {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", "192.168.77.10".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let ch = next_json(&mut ws, 3000).await.unwrap();
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    (ws, nonce)
}

async fn connect_remote(
    url: &str,
    opts: &ConnectOptions,
    id: &DeviceIdentity,
) -> (ClientWs, ConnectAnswer) {
    let (mut ws, nonce) = open_remote(url).await;
    let a = client::handshake(&mut ws, opts, Some(id), &nonce, now())
        .await
        .unwrap();
    (ws, a)
}

async fn call(ws: &mut ClientWs, method: &str, params: Value) -> (Value, Vec<Value>) {
    client::call(ws, method, params).await.unwrap()
}

#[tokio::test]
async fn hello_ok_and_admission_as_2026_9_6() {
    let gw = gateway(cfg()).await;
    // The 2026.9.6 CLI: no device, gateway token, operator.pairing, 4..4.
    let (mut ws, a) = connect(&gw.url, &v4_operator(&["operator.pairing"]), None).await;
    let h = hello(&a).clone();
    assert_eq!(h["protocol"], 4);
    let keys: Vec<&str> = h.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["type", "protocol", "server", "features", "snapshot", "auth", "policy"]
    );
    let auth = h["auth"].as_object().unwrap();
    assert_eq!(
        auth.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["method", "role", "scopes", "recoveryScope"]
    );
    assert_eq!(h["auth"]["method"], "token");
    assert_eq!(h["auth"]["scopes"], json!(["operator.pairing"]));
    assert_eq!(h["auth"]["recoveryScope"].as_str().unwrap().len(), 43);
    assert!(h["snapshot"].get("stateDir").is_none(), "admins only");
    assert_eq!(h["snapshot"]["suspension"], json!({"phase": "accepting"}));
    let methods = h["features"]["methods"].as_array().unwrap();
    assert!(methods.contains(&json!("device.pair.rename")));
    let (r, _) = call(&mut ws, "device.pair.list", json!({})).await;
    assert_eq!(r["payload"], json!({"pending": [], "paired": []}));
    // What clawpair does not offer is `unknown method`, whatever the scopes.
    for m in ["node.pair.list", "chat.send", "device.pair.setupCode"] {
        let (r, _) = call(&mut ws, m, json!({})).await;
        assert_eq!(r["error"]["message"], format!("unknown method: {m}"));
    }
    // v4 params errors are worded as 2026.9.6's.
    let (r, _) = call(&mut ws, "device.pair.list", json!({"extra": 1})).await;
    assert_eq!(
        r["error"]["message"],
        "invalid device.pair.list params: at root: unexpected property 'extra'"
    );
    // Admins get the paths.
    let (_, a) = connect(&gw.url, &v4_operator(&["operator.admin"]), None).await;
    assert!(hello(&a)["snapshot"]["stateDir"].is_string());
    // A probe offering 3..4 is admitted as 4; 3..3 as 3 (2026.2.26 answers).
    let mut probe = v4_operator(&[]).offering(3, 4);
    probe.client_id = "openclaw-probe".into();
    probe.client_mode = "probe".into();
    let (_, a) = connect(&gw.url, &probe, None).await;
    assert_eq!(hello(&a)["protocol"], 4);
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    assert_eq!(hello(&a)["protocol"], 3);
    assert!(
        hello(&a).get("auth").is_none(),
        "2026.2.26: no device, no auth"
    );
    // An extended-schema field is refused on 3, accepted on 4.
    let (mut ws, nonce) = client::open(&gw.url).await.unwrap();
    let mut p = ConnectOptions::cli_operator(TOKEN).params(None, &nonce, now());
    p["client"]["buildId"] = json!("b1");
    ws.send(Message::text(
        json!({"type":"req","id":"1","method":"connect","params":p}).to_string(),
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws, 2000).await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "invalid connect params: data/client must NOT have additional properties (buildId)"
    );
    let (mut ws, nonce) = client::open(&gw.url).await.unwrap();
    let mut p = v4_operator(&["operator.pairing"]).params(None, &nonce, now());
    p["client"]["buildId"] = json!("b1");
    p["client"]["timeZone"] = json!("Europe/Berlin");
    p["auth"]["agentRuntimeIdentityToken"] = json!("x");
    p["bogus"] = json!(1);
    ws.send(Message::text(
        json!({"type":"req","id":"1","method":"connect","params":p,"traceparent":"00-x"})
            .to_string(),
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws, 2000).await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "invalid connect params: at root: unexpected property 'bogus'"
    );
    // Wrong token: 2026.9.6's hint (a local cli) and recovery details.
    let id = DeviceIdentity::generate(now());
    let mut o = v4_operator(&["operator.pairing"]);
    o.token = Some("wrong".into());
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    let (e, close) = refused(&a);
    assert_eq!(
        e["message"],
        "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)"
    );
    assert_eq!(
        e["details"],
        json!({"code": "AUTH_TOKEN_MISMATCH", "authReason": "token_mismatch",
               "canRetryWithDeviceToken": true, "recommendedNextStep": "retry_with_device_token"})
    );
    assert_eq!(close.unwrap().0, 1008);
}

#[tokio::test]
async fn node_pairing_admin_approval_publications_and_rpc_policy() {
    let gw = gateway(cfg()).await;
    let mut listener = {
        let (ws, a) = connect(
            &gw.url,
            &v4_operator(&["operator.pairing", "operator.read"]),
            None,
        )
        .await;
        hello(&a);
        ws
    };
    let node = DeviceIdentity::generate(now());
    let (_, a) = connect_remote(&gw.url, &v4_node(Some(TOKEN)), &node).await;
    let (e, close) = refused(&a);
    assert_eq!(e["message"], "pairing required: device is not approved yet");
    let rid = e["details"]["requestId"].as_str().unwrap().to_string();
    assert_eq!(
        e["details"],
        json!({"code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": rid,
               "remediationHint": "Approve this device from the pending pairing requests.",
               "deviceId": node.device_id, "requestedRole": "node"})
    );
    assert_eq!(
        close.unwrap(),
        (
            1008,
            format!("pairing required: device is not approved yet (requestId: {rid})")
        )
    );
    let ev = wait_event(&mut listener, "device.pair.requested", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["deviceFamily"], "Linux");
    // operator.pairing may not approve a node (2026.9.6: admin needed); the CLI retries as admin.
    let (mut cli, a) = connect(&gw.url, &v4_operator(&["operator.pairing"]), None).await;
    hello(&a);
    let (r, _) = call(&mut cli, "device.pair.approve", json!({"requestId": rid})).await;
    assert_eq!(r["error"]["message"], "device pairing approval denied");
    let (r, _) = call(
        &mut cli,
        "device.pair.approve",
        json!({"requestId": "nope"}),
    )
    .await;
    assert_eq!(r["error"]["message"], "device pairing approval denied");
    let (mut admin, a) = connect(&gw.url, &v4_operator(&["operator.admin"]), None).await;
    hello(&a);
    let (r, _) = call(
        &mut admin,
        "device.pair.approve",
        json!({"requestId": "nope"}),
    )
    .await;
    assert_eq!(r["error"]["message"], "unknown requestId");
    let (r, evs) = call(&mut admin, "device.pair.approve", json!({"requestId": rid})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(evs.iter().any(|e| e["event"] == "device.pair.resolved"));
    assert_eq!(r["payload"]["device"]["deviceId"], json!(node.device_id));
    // The node reconnects: hello-ok with the v4 auth block.
    let (mut nws, a) = connect_remote(&gw.url, &v4_node(Some(TOKEN)), &node).await;
    let h = hello(&a).clone();
    let auth = h["auth"].as_object().unwrap();
    assert_eq!(
        auth.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["method", "role", "scopes", "deviceToken", "issuedAtMs"]
    );
    assert_eq!(h["auth"]["method"], "token");
    assert_eq!(h["auth"]["scopes"], json!([]));
    // What a 2026.9.6 node host calls after hello-ok is answered, not refused.
    let (r, _) = call(
        &mut nws,
        "node.event",
        json!({"event": "node.host.stats", "payloadJSON": "{}"}),
    )
    .await;
    assert_eq!(r["payload"]["ok"], true);
    for (m, p) in [
        (
            "node.runnerInventory.update",
            json!({"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}}),
        ),
        ("node.skills.update", json!({"skills": []})),
        ("node.pluginTools.update", json!({"tools": []})),
    ] {
        let (r, _) = call(&mut nws, m, p).await;
        assert_eq!(r["ok"], true, "{m}: {r}");
        assert_eq!(r["payload"]["nodeId"], json!(node.device_id));
    }
    let (r, _) = call(&mut nws, "device.pair.list", json!({})).await;
    assert_eq!(r["error"]["message"], "unauthorized role: node");
    let (r, _) = call(&mut nws, "agent.run", json!({})).await;
    assert_eq!(r["error"]["message"], "unknown method: agent.run");
    // The list shows it connected.
    let (r, _) = call(&mut cli, "device.pair.list", json!({})).await;
    let d = &r["payload"]["paired"][0];
    assert_eq!(d["connected"], true);
    assert_eq!(d["lastSeenReason"], "connect");
    assert!(d["tokens"][0].get("token").is_none());
    // Rename: operatorLabel, and device.pair.changed to pairing operators.
    let (r, _) = call(
        &mut cli,
        "device.pair.rename",
        json!({"deviceId": node.device_id, "label": "  Kitchen node "}),
    )
    .await;
    assert_eq!(
        r["payload"],
        json!({"deviceId": node.device_id, "label": "Kitchen node"})
    );
    let ev = wait_event(&mut listener, "device.pair.changed", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"], json!({}));
    let (r, _) = call(&mut cli, "device.pair.list", json!({})).await;
    assert_eq!(r["payload"]["paired"][0]["operatorLabel"], "Kitchen node");
    let (r, _) = call(
        &mut cli,
        "device.pair.rename",
        json!({"deviceId": node.device_id, "label": "   "}),
    )
    .await;
    assert_eq!(r["error"]["message"], "label required");
    // Token management of a node needs admin; a rotation by another caller
    // is withheld, and closes the node's connection (4001).
    let (r, _) = call(
        &mut cli,
        "device.token.rotate",
        json!({"deviceId": node.device_id, "role": "node"}),
    )
    .await;
    assert_eq!(r["error"]["message"], "device token rotation denied");
    let (r, _) = call(
        &mut admin,
        "device.token.rotate",
        json!({"deviceId": node.device_id, "role": "node"}),
    )
    .await;
    assert_eq!(r["payload"]["tokenDelivery"], "withheld-cross-device");
    assert!(r["payload"].get("token").is_none());
    assert_eq!(
        read_close(&mut nws, 2000).await.unwrap(),
        (4001, "device removed".into())
    );
    // Revoked: the node's next connect with the gateway token is a repair
    // request (role-upgrade), not a silently minted token.
    let (r, _) = call(
        &mut admin,
        "device.token.revoke",
        json!({"deviceId": node.device_id, "role": "node"}),
    )
    .await;
    assert!(r["payload"]["revokedAtMs"].is_i64(), "{r}");
    let (_, a) = connect_remote(&gw.url, &v4_node(Some(TOKEN)), &node).await;
    let (e, close) = refused(&a);
    assert_eq!(e["details"]["reason"], "role-upgrade");
    assert_eq!(e["details"]["approvedRoles"], json!(["node"]));
    assert_eq!(
        e["message"],
        "pairing required: device is asking for a higher role than currently approved"
    );
    let reason = close.unwrap().1;
    assert!(reason.len() <= 120 && reason.starts_with("pairing required: device is asking"));
    let ev = wait_event(&mut listener, "device.pair.requested", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["isRepair"], true);
    // Remove drops the device's pending requests too, with no event.
    let (r, _) = call(
        &mut admin,
        "device.pair.remove",
        json!({"deviceId": node.device_id}),
    )
    .await;
    assert_eq!(r["payload"], json!({"deviceId": node.device_id}));
    let (r, _) = call(&mut cli, "device.pair.list", json!({})).await;
    assert_eq!(r["payload"], json!({"pending": [], "paired": []}));
}

#[tokio::test]
async fn protocol_3_node_on_the_same_gateway_is_answered_as_2026_2_26() {
    let gw = gateway(cfg()).await;
    let node = DeviceIdentity::generate(now());
    let (_, a) = connect_remote(&gw.url, &node_opts(Some(TOKEN)), &node).await;
    let (e, close) = refused(&a);
    assert_eq!(e["message"], "pairing required");
    let keys: Vec<&str> = e["details"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["code", "requestId", "reason"]);
    assert_eq!(close.unwrap(), (1008, "pairing required".into()));
}

/// A 2026.9 setup code for `gw`, as `clawpair setup-code` issues it.
fn v4_code(gw: &Gw, ttl_ms: i64) -> (String, String) {
    let t = setup::create(&gw.paths, ttl_ms, now()).unwrap();
    (
        setup::encode_v4(&gw.url, &t.token, t.expires_at_ms, None),
        t.token,
    )
}

fn with_bootstrap(token: &str) -> ConnectOptions {
    let mut o = v4_node(None);
    o.bootstrap_token = Some(token.to_string());
    o
}

#[tokio::test]
async fn bootstrap_tokens_pending_approve_connect_then_spent() {
    let gw = gateway(cfg()).await;
    let (code, token) = v4_code(&gw, 60_000);
    assert_eq!(setup::decode(&code).unwrap().secret(), Some(token.as_str()));
    let node = DeviceIdentity::generate(now());
    // First connect: pending, and told to retry by itself.
    let (_, a) = connect_remote(&gw.url, &with_bootstrap(&token), &node).await;
    let (e, _) = refused(&a);
    let rid = e["details"]["requestId"].as_str().unwrap().to_string();
    assert_eq!(e["details"]["recommendedNextStep"], "wait_then_retry");
    assert_eq!(e["details"]["retryable"], true);
    assert_eq!(e["details"]["pauseReconnect"], false);
    // Another device presenting it is refused: bound to the first.
    let other = DeviceIdentity::generate(now());
    let (_, a) = connect_remote(&gw.url, &with_bootstrap(&token), &other).await;
    let (e, close) = refused(&a);
    assert_eq!(
        e["message"],
        "unauthorized: setup code invalid, expired, revoked, or already used (create a new code; review `openclaw devices list`)"
    );
    assert_eq!(e["details"]["code"], "AUTH_BOOTSTRAP_TOKEN_INVALID");
    assert_eq!(e["details"]["bootstrapTokenState"], "used");
    assert_eq!(e["details"]["canRetryWithDeviceToken"], false);
    assert_eq!(
        e["details"]["recommendedNextStep"],
        "review_auth_configuration"
    );
    assert_eq!(close.unwrap().0, 1008);
    // Approved (as admin), the node's retry gets its device token.
    let (mut admin, a) = connect(&gw.url, &v4_operator(&["operator.admin"]), None).await;
    hello(&a);
    let (r, _) = call(&mut admin, "device.pair.approve", json!({"requestId": rid})).await;
    assert_eq!(r["ok"], true, "{r}");
    let (ws, a) = connect_remote(&gw.url, &with_bootstrap(&token), &node).await;
    let h = hello(&a);
    assert_eq!(h["auth"]["method"], "bootstrap-token");
    let dev_token = h["auth"]["deviceToken"].as_str().unwrap().to_string();
    drop(ws);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Spent: its own device too is refused now (2026.9.6 deletes the row);
    // the device token works.
    let (_, a) = connect_remote(&gw.url, &with_bootstrap(&token), &node).await;
    assert_eq!(refused(&a).0["details"]["bootstrapTokenState"], "used");
    let mut o = v4_node(None);
    o.device_token = Some(dev_token);
    let (_, a) = connect_remote(&gw.url, &o, &node).await;
    assert_eq!(hello(&a)["auth"]["method"], "device-token");
    // Unknown, expired, and an operator presenting one.
    let (_, a) = connect_remote(&gw.url, &with_bootstrap("never-issued"), &other).await;
    assert_eq!(refused(&a).0["details"]["bootstrapTokenState"], "unknown");
    let old = setup::create(&gw.paths, 1, now() - 10).unwrap();
    let (_, a) = connect_remote(&gw.url, &with_bootstrap(&old.token), &other).await;
    assert_eq!(refused(&a).0["details"]["bootstrapTokenState"], "expired");
    let (_, fresh) = v4_code(&gw, 60_000);
    let mut op = v4_operator(&["operator.admin"]);
    op.token = None;
    op.bootstrap_token = Some(fresh);
    let (_, a) = connect(&gw.url, &op, Some(&other)).await;
    assert_eq!(
        refused(&a).0["details"]["bootstrapTokenState"],
        "role-not-allowed"
    );
}

/// Waits for the close frame; returns it and how long it took from `t0`.
async fn closed_within(ws: &mut ClientWs, t0: Instant) -> ((u16, String), Duration) {
    let c = read_close(ws, 3000).await.expect("close frame");
    (c, t0.elapsed())
}

#[tokio::test]
async fn revocation_closes_connections_within_100_ms() {
    let mut c = cfg();
    c.watch_interval_ms = 60_000; // only the RPC path and notify may act
    let gw = gateway(c).await;
    let store = DeviceStore::new(gw.paths.devices_dir.clone());
    let ids: Vec<DeviceIdentity> = (0..4).map(|_| DeviceIdentity::generate(now())).collect();
    let tokens = seed_paired(&store, &ids, false);
    let mut node_ws = Vec::new();
    for (id, t) in ids.iter().zip(&tokens) {
        let mut o = v4_node(None);
        o.device_token = Some(t.clone());
        let (ws, a) = connect(&gw.url, &o, Some(id)).await;
        hello(&a);
        node_ws.push(ws);
    }
    let (mut admin, a) = connect(&gw.url, &v4_operator(&["operator.admin"]), None).await;
    hello(&a);
    let mut it = node_ws.into_iter();
    // 1. device.token.revoke over RPC.
    let mut ws = it.next().unwrap();
    let t0 = Instant::now();
    let (r, _) = call(
        &mut admin,
        "device.token.revoke",
        json!({"deviceId": ids[0].device_id, "role": "node"}),
    )
    .await;
    assert_eq!(r["ok"], true);
    let (close, took) = closed_within(&mut ws, t0).await;
    assert_eq!(close, (4001, "device removed".into()));
    assert!(took < Duration::from_millis(100), "revoke: {took:?}");
    // 2. device.pair.remove over RPC (protocol 3 too).
    let mut ws = it.next().unwrap();
    let (mut v3, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
    let t0 = Instant::now();
    let (r, _) = call(
        &mut v3,
        "device.pair.remove",
        json!({"deviceId": ids[1].device_id}),
    )
    .await;
    assert_eq!(r["ok"], true);
    let (close, took) = closed_within(&mut ws, t0).await;
    assert_eq!(close.0, 4001);
    assert!(took < Duration::from_millis(100), "remove: {took:?}");
    // 3. A change made in this process (the console's own action), then
    // announced with devices_changed().
    let mut ws = it.next().unwrap();
    let t0 = Instant::now();
    store.remove(&ids[2].device_id, now()).unwrap();
    gw.handle.devices_changed();
    let (close, took) = closed_within(&mut ws, t0).await;
    assert_eq!(close.0, 4001);
    assert!(took < Duration::from_millis(100), "in-process: {took:?}");
    // 4. Another process's edit (here: the files written directly), noticed
    // through the notify watch on devices/, without the 1 s look.
    let mut ws = it.next().unwrap();
    let t0 = Instant::now();
    store.revoke(&ids[3].device_id, "node", now()).unwrap();
    let (close, took) = closed_within(&mut ws, t0).await;
    assert_eq!(close.0, 4001);
    assert!(
        took < Duration::from_millis(1000),
        "out of process: {took:?}"
    );
    eprintln!("out-of-process revoke closed the connection after {took:?}");
    // Nothing else was disturbed.
    let (r, _) = call(&mut admin, "device.pair.list", json!({})).await;
    assert_eq!(r["ok"], true);
}

#[tokio::test]
async fn rotation_made_elsewhere_closes_the_old_tokens_connection() {
    let gw = gateway(cfg()).await;
    let store = DeviceStore::new(gw.paths.devices_dir.clone());
    let id = DeviceIdentity::generate(now());
    let t = seed_paired(&store, std::slice::from_ref(&id), false).remove(0);
    let mut o = v4_node(None);
    o.device_token = Some(t.clone());
    let (mut ws, a) = connect(&gw.url, &o, Some(&id)).await;
    hello(&a);
    let rec = store.rotate(&id.device_id, "node", None, now()).unwrap();
    assert_eq!(read_close(&mut ws, 3000).await.unwrap().0, 4001);
    // The old value is refused, the new one admitted.
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    assert_eq!(
        refused(&a).0["details"]["code"],
        "AUTH_DEVICE_TOKEN_MISMATCH"
    );
    o.device_token = Some(rec.token);
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    hello(&a);
}

async fn tls_gateway() -> (Gw, [u8; 32]) {
    let dir = tempfile::tempdir().unwrap();
    let paths = clawpair::paths::Paths::resolve(Some(dir.path()));
    let t = tls::load_or_generate(&paths, &tls::TlsSource::default()).unwrap();
    let fp = t.fingerprint;
    let mut c: GatewayConfig = cfg();
    c.tls = Some(t);
    let mut gw = gateway(c).await;
    gw.url = gw.url.replacen("ws://", "wss://", 1);
    (gw, fp)
}

#[tokio::test]
async fn tls_with_a_pinned_fingerprint_and_failures_that_disturb_nobody() {
    let (gw, fp) = tls_gateway().await;
    assert_eq!(gw.handle.tls_fingerprint(), Some(fp));
    assert!(gw.handle.url().unwrap().starts_with("wss://"));
    // A pinned client connects; a session is up while the port is abused.
    let (mut ws, nonce) = client::open_with(&gw.url, Some(fp)).await.unwrap();
    let a = client::handshake(
        &mut ws,
        &v4_operator(&["operator.pairing"]),
        None,
        &nonce,
        now(),
    )
    .await
    .unwrap();
    hello(&a);
    // A wrong pin is refused by the client.
    let mut wrong = fp;
    wrong[0] ^= 1;
    let e = client::open_with(&gw.url, Some(wrong)).await.unwrap_err();
    assert!(e.contains("fingerprint mismatch"), "{e}");
    // Without a pin the self-signed certificate is not trusted.
    assert!(client::open_with(&gw.url, None).await.is_err());
    // Plain HTTP, plain ws:// and garbage on the TLS port only drop those sockets.
    let addr = gw.handle.local_addr().unwrap();
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &b"\x16\x03\x01\x00\x05garbage"[..],
        &[0u8; 64][..],
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(bytes).await;
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
    }
    assert!(client::open(&gw.url.replacen("wss://", "ws://", 1))
        .await
        .is_err());
    let (r, _) = call(&mut ws, "device.pair.list", json!({})).await;
    assert_eq!(r["ok"], true, "the pinned session is undisturbed");
    // And a new pinned connection still works.
    let (mut ws2, nonce) = client::open_with(&gw.url, Some(fp)).await.unwrap();
    let a = client::handshake(
        &mut ws2,
        &v4_operator(&["operator.pairing"]),
        None,
        &nonce,
        now(),
    )
    .await
    .unwrap();
    hello(&a);
}

/// A gateway that speaks protocol 3 only, as OpenClaw 2026.2.26 answers offers
/// without 3: `protocol mismatch` `{expectedProtocol: 3}`, close 1002.
async fn v3_only_gateway() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let ch = json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n-1","ts":now()}});
                let _ = ws.send(Message::text(ch.to_string())).await;
                let Some(Ok(Message::Text(t))) = ws.next().await else {
                    return;
                };
                let req: Value = serde_json::from_str(t.as_str()).unwrap();
                let _ = tx.send(req["params"].clone());
                let (min, max) = (
                    req["params"]["minProtocol"].as_i64().unwrap(),
                    req["params"]["maxProtocol"].as_i64().unwrap(),
                );
                if min > 3 || max < 3 {
                    let e = json!({"type":"res","id":req["id"],"ok":false,"error":{"code":"INVALID_REQUEST","message":"protocol mismatch","details":{"expectedProtocol":3}}});
                    let _ = ws.send(Message::text(e.to_string())).await;
                    let _ = ws
                        .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                            code: 1002.into(),
                            reason: "protocol mismatch".into(),
                        }))
                        .await;
                    return;
                }
                let hello = json!({"type":"res","id":req["id"],"ok":true,"payload":{"type":"hello-ok","protocol":3,
                    "server":{"version":"dev","connId":"c"},"features":{"methods":[],"events":[]},
                    "snapshot":{"presence":[],"health":{},"stateVersion":{"presence":0,"health":0},"uptimeMs":0},
                    "auth":{"deviceToken":"dt-0123456789","role":"node","scopes":[],"issuedAtMs":1},
                    "policy":{"maxPayload":1048576,"maxBufferedBytes":2097152,"tickIntervalMs":30000}}});
                let _ = ws.send(Message::text(hello.to_string())).await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn join_falls_back_to_protocol_3_for_a_2026_2_26_gateway() {
    let (url, mut offers) = v3_only_gateway().await;
    let node = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_clawpair");
    // A 2026.2.26 code: offered 4 first, then 3 after the mismatch, and connected.
    let legacy = setup::encode(&url, "legacy-setup-token");
    let mut join = support::Kill(
        std::process::Command::new(bin)
            .arg("--state-dir")
            .arg(node.path())
            .args(["join", &legacy])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let first = tokio::time::timeout(Duration::from_secs(10), offers.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first["minProtocol"].clone(), first["maxProtocol"].clone()),
        (json!(4), json!(4))
    );
    let second = tokio::time::timeout(Duration::from_secs(10), offers.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (second["minProtocol"].clone(), second["maxProtocol"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(second["auth"]["token"], "legacy-setup-token");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = join.0.kill();
    let mut child = std::mem::replace(
        &mut join.0,
        std::process::Command::new("true").spawn().unwrap(),
    );
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut text = String::new();
        use std::io::Read;
        for r in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let mut r = r;
            let _ = r.read_to_string(&mut text);
        }
        text
    })
    .await
    .unwrap();
    let text = out;
    assert!(text.contains("offering 3"), "{text}");
    assert!(text.lines().any(|l| l == "connected"), "{text}");
    // A 2026.9 code cannot work there (no bootstrap tokens in 2026.2.26): a
    // fresh node says so and exits 1.
    let code = setup::encode_v4(&url, "b-token", now() + 60_000, None);
    let fresh = tempfile::tempdir().unwrap();
    let dir = fresh.path().to_path_buf();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .arg("--state-dir")
                .arg(dir)
                .args(["join", &code])
                .output()
                .unwrap()
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("speaks protocol 3"), "{err}");
}
