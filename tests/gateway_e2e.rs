//! Loopback tests of the gateway: a real WebSocket on 127.0.0.1:0.

mod support;

use std::time::Duration;

use clawpair::gateway::{setup, GatewayEvent};
use clawpair::node::client::{self, ConnectAnswer, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn challenge_then_operator_without_device() {
    let gw = gateway(cfg()).await;
    let (mut ws, nonce) = client::open(&gw.url).await.unwrap();
    assert_eq!(nonce.len(), 36);
    let opts = ConnectOptions::cli_operator(TOKEN);
    let a = client::handshake(&mut ws, &opts, None, &nonce, now())
        .await
        .unwrap();
    let h = hello(&a);
    for k in [
        "type", "protocol", "server", "features", "snapshot", "policy",
    ] {
        assert!(h.get(k).is_some(), "hello-ok.{k}");
    }
    assert_eq!(h["type"], "hello-ok");
    assert_eq!(h["protocol"], 3);
    assert!(h["server"]["version"].is_string() && h["server"]["connId"].is_string());
    assert!(h["features"]["methods"].is_array() && h["features"]["events"].is_array());
    for k in ["presence", "health", "stateVersion", "uptimeMs"] {
        assert!(h["snapshot"].get(k).is_some(), "snapshot.{k}");
    }
    for k in ["maxPayload", "maxBufferedBytes", "tickIntervalMs"] {
        assert!(h["policy"][k].is_u64(), "policy.{k}");
    }
    assert!(h.get("auth").is_none(), "no device, no auth");
    // Operator methods work, unknown methods are named.
    let (r, _) = client::call(&mut ws, "device.pair.list", json!({}))
        .await
        .unwrap();
    assert_eq!(r["ok"], true);
    assert_eq!(r["payload"], json!({"pending": [], "paired": []}));
    let (r, _) = client::call(&mut ws, "no.such", json!({})).await.unwrap();
    assert_eq!(r["error"]["message"], "unknown method: no.such");
    let (r, _) = client::call(&mut ws, "device.pair.approve", json!({"requestId": "x"}))
        .await
        .unwrap();
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert_eq!(r["error"]["message"], "unknown requestId");
    let (r, _) = client::call(&mut ws, "device.pair.approve", json!({"bogus": 1}))
        .await
        .unwrap();
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid device.pair.approve params: "));
    // Invalid frames after the handshake are answered, not fatal.
    ws.send(Message::text(r#"{"type":"req","method":"x"}"#))
        .await
        .unwrap();
    let v = next_json(&mut ws, 2000).await.unwrap();
    assert_eq!(v["id"], "invalid");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid request frame: "));
}

#[tokio::test]
async fn auth_failures_match_openclaw() {
    let gw = gateway(cfg()).await;
    let mut opts = ConnectOptions::cli_operator("wrong");
    let (_, a) = connect(&gw.url, &opts, None).await;
    let (e, close) = refused(&a);
    assert_eq!(
        e["message"],
        "unauthorized: gateway token mismatch (set gateway.remote.token to match gateway.auth.token)"
    );
    assert_eq!(
        e["details"],
        json!({"code": "AUTH_TOKEN_MISMATCH", "authReason": "token_mismatch"})
    );
    assert_eq!(close.unwrap().0, 1008);
    // Node without device identity.
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), None).await;
    let (e, close) = refused(&a);
    assert_eq!(e["code"], "NOT_PAIRED");
    assert_eq!(e["message"], "device identity required");
    assert_eq!(e["details"], json!({"code": "DEVICE_IDENTITY_REQUIRED"}));
    assert_eq!(close.unwrap(), (1008, "device identity required".into()));
    // Node with a device but no secret.
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(None), Some(&id)).await;
    let (e, _) = refused(&a);
    assert_eq!(
        e["message"],
        "unauthorized: gateway token missing (provide gateway auth token)"
    );
    assert_eq!(e["details"]["code"], "AUTH_TOKEN_MISSING");
    // An offer with neither 3 nor 4: 2026.9.6's mismatch answer, close 1002.
    opts = ConnectOptions::cli_operator(TOKEN);
    let (mut ws, nonce) = client::open(&gw.url).await.unwrap();
    let mut p = opts.params(None, &nonce, now());
    p["minProtocol"] = json!(5);
    p["maxProtocol"] = json!(6);
    ws.send(Message::text(
        json!({"type":"req","id":"1","method":"connect","params":p}).to_string(),
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws, 2000).await.unwrap();
    assert_eq!(v["error"]["message"], "protocol mismatch");
    assert_eq!(
        v["error"]["details"],
        json!({"code": "PROTOCOL_MISMATCH", "clientMinProtocol": 5, "clientMaxProtocol": 6,
               "expectedProtocol": 4, "minimumProbeProtocol": 3})
    );
    assert_eq!(
        read_close(&mut ws, 2000).await.unwrap(),
        (1002, "protocol mismatch".into())
    );
}

async fn raw_connect(
    url: &str,
    mutate: impl FnOnce(&mut Value, &str),
) -> (Value, Option<(u16, String)>) {
    let id = DeviceIdentity::generate(now());
    let (mut ws, nonce) = client::open(url).await.unwrap();
    let mut p = node_opts(Some(TOKEN)).params(Some(&id), &nonce, now());
    mutate(&mut p, &nonce);
    ws.send(Message::text(
        json!({"type":"req","id":"c1","method":"connect","params":p}).to_string(),
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws, 3000).await.unwrap_or(Value::Null);
    (v, read_close(&mut ws, 3000).await)
}

#[tokio::test]
async fn device_checks_in_spec_order() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 1000;
    let gw = gateway(c).await;
    type Mutation = Box<dyn FnOnce(&mut Value, &str)>;
    let cases: Vec<(&str, &str, Mutation)> = vec![
        (
            "device identity mismatch",
            "device-id-mismatch",
            Box::new(|p, _| p["device"]["id"] = json!("00")),
        ),
        (
            "device signature expired",
            "device-signature-stale",
            Box::new(|p, _| p["device"]["signedAt"] = json!(now() - 121_000)),
        ),
        (
            "device nonce mismatch",
            "device-nonce-mismatch",
            Box::new(|p, _| p["device"]["nonce"] = json!("replayed-nonce")),
        ),
        (
            "device nonce required",
            "device-nonce-missing",
            Box::new(|p, _| p["device"]["nonce"] = json!("")),
        ),
        (
            "device signature invalid",
            "device-signature",
            Box::new(|p, _| {
                p["client"]["displayName"] = json!("x");
                p["scopes"] = json!(["tampered"]);
            }),
        ),
    ];
    for (msg, reason, f) in cases {
        let (v, close) = raw_connect(&gw.url, f).await;
        assert_eq!(v["error"]["code"], "INVALID_REQUEST", "{msg}: {v}");
        assert_eq!(v["error"]["message"], msg);
        assert_eq!(
            v["error"]["details"],
            json!({"code": "DEVICE_AUTH_INVALID", "reason": reason})
        );
        assert_eq!(close.unwrap(), (1008, msg.to_string()));
    }
    // A nonce from another connection (replay) is refused.
    let id = DeviceIdentity::generate(now());
    let (_ws1, nonce1) = client::open(&gw.url).await.unwrap();
    let (mut ws2, _nonce2) = client::open(&gw.url).await.unwrap();
    let a = client::handshake(&mut ws2, &node_opts(Some(TOKEN)), Some(&id), &nonce1, now())
        .await
        .unwrap();
    assert_eq!(refused(&a).0["message"], "device nonce mismatch");
    // Schema failures.
    let (v, close) = raw_connect(&gw.url, |p, _| p["client"]["id"] = json!("ios-node")).await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid connect params: "));
    assert_eq!(close.unwrap().0, 1008);
    let (v, _) = raw_connect(&gw.url, |p, _| p["role"] = json!("admin")).await;
    assert_eq!(v["error"]["message"], "invalid role");
}

#[tokio::test]
async fn malformed_and_oversize_frames_close_cleanly() {
    let mut c = cfg();
    c.max_message_bytes = 64 * 1024;
    c.handshake_timeout_ms = 400;
    c.max_failed_handshakes_per_minute = 1000;
    let gw = gateway(c).await;
    // Not JSON: no answer, close 1000.
    let (mut ws, _) = client::open(&gw.url).await.unwrap();
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(
        read_close(&mut ws, 2000).await.unwrap(),
        (1000, String::new())
    );
    // JSON but not a request frame.
    let (mut ws, _) = client::open(&gw.url).await.unwrap();
    ws.send(Message::text(r#"{"type":"req","method":"connect"}"#))
        .await
        .unwrap();
    assert_eq!(
        read_close(&mut ws, 2000).await.unwrap(),
        (1008, "invalid request frame".into())
    );
    // A request other than connect first.
    let (mut ws, _) = client::open(&gw.url).await.unwrap();
    ws.send(Message::text(
        r#"{"type":"req","id":"9","method":"device.pair.list","params":{}}"#,
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws, 2000).await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "invalid handshake: first request must be connect"
    );
    assert_eq!(read_close(&mut ws, 2000).await.unwrap().0, 1008);
    // Oversize message.
    let (mut ws, _) = client::open(&gw.url).await.unwrap();
    let _ = ws.send(Message::text("x".repeat(200 * 1024))).await;
    let c = read_close(&mut ws, 2000).await;
    assert!(c.is_none() || c.unwrap().0 == 1009);
    // Handshake that never completes.
    let (mut ws, _) = client::open(&gw.url).await.unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(
        read_close(&mut ws, 3000).await.unwrap(),
        (1000, String::new())
    );
    assert!(t0.elapsed() >= Duration::from_millis(300));
    // The gateway still serves.
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
}

#[tokio::test]
async fn failed_handshakes_are_rate_limited_per_address() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 3;
    let gw = gateway(c).await;
    // From a remote-looking address (the owner's 127.0.0.1 and ::1 are exempt).
    for _ in 0..3 {
        let (_, a) =
            connect_from(REMOTE, &gw.url, &ConnectOptions::cli_operator("bad"), None).await;
        assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    let (_, a) = connect_from(REMOTE, &gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    let (e, _) = refused(&a);
    assert_eq!(e["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(e["retryable"], true);
    // The owner's own loopback is served.
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    hello(&a);
}

#[tokio::test]
async fn node_pairing_flow_with_events_and_device_token() {
    let mut gw = gateway(cfg()).await;
    let mut listener = operator(&gw.url, &["operator.pairing", "operator.read"]).await;
    let mut reader = operator(&gw.url, &["operator.read"]).await;
    let id = DeviceIdentity::generate(now());
    // First connect: pending, NOT_PAIRED, 1008 pairing required.
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let (e, close) = refused(&a);
    assert_eq!(e["code"], "NOT_PAIRED");
    assert_eq!(e["message"], "pairing required");
    let rid = e["details"]["requestId"].as_str().unwrap().to_string();
    assert_eq!(
        e["details"],
        json!({"code": "PAIRING_REQUIRED", "requestId": rid, "reason": "not-paired"})
    );
    assert_eq!(close.unwrap(), (1008, "pairing required".into()));
    let ev = wait_event(&mut listener, "device.pair.requested", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["requestId"], json!(rid));
    assert!(ev["seq"].is_u64());
    assert_eq!(ev["payload"]["isRepair"], false);
    assert_eq!(ev["payload"]["silent"], false);
    assert!(
        ev["payload"].get("remoteIp").is_none(),
        "loopback: no remoteIp"
    );
    let pending = pending_json(&gw.paths);
    assert_eq!(pending[&rid]["deviceId"], json!(id.device_id));
    assert_eq!(
        clawpair::fsutil::mode_of(&gw.paths.pending_devices()),
        Some(0o600)
    );
    // A second connect merges into the same request and sends no event.
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    assert_eq!(refused(&a).0["details"]["requestId"], json!(rid));
    // Read-only operators neither get the event nor may list.
    let (r, evs) = client::call(&mut reader, "device.pair.list", json!({}))
        .await
        .unwrap();
    assert_eq!(r["error"]["message"], "missing scope: operator.pairing");
    assert!(evs.iter().all(|e| e["event"] != "device.pair.requested"));
    // Approve over RPC: the resolved event arrives before the response.
    let mut cli = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None)
        .await
        .0;
    let (r, evs) = client::call(&mut cli, "device.pair.approve", json!({"requestId": rid}))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert!(evs
        .iter()
        .any(|e| e["event"] == "device.pair.resolved" && e["payload"]["decision"] == "approved"));
    assert_eq!(r["payload"]["device"]["deviceId"], json!(id.device_id));
    assert!(r["payload"]["device"]["tokens"][0].get("token").is_none());
    let ev = wait_event(&mut listener, "device.pair.resolved", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["requestId"], json!(rid));
    // Reconnect with the shared token: hello-ok with the device token.
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let h = hello(&a);
    let token = h["auth"]["deviceToken"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43);
    assert_eq!(h["auth"]["role"], "node");
    assert_eq!(h["auth"]["scopes"], json!([]));
    // Device-token login (auth.token = auth.deviceToken), lastUsedAtMs written.
    let mut o = node_opts(Some(&token));
    o.device_token = Some(token.clone());
    let (_ws2, a) = connect(&gw.url, &o, Some(&id)).await;
    assert_eq!(hello(&a)["auth"]["deviceToken"], json!(token));
    assert!(paired_json(&gw.paths)[&id.device_id]["tokens"]["node"]["lastUsedAtMs"].is_i64());
    // Presence: connected now, with address and last-seen time.
    let pres = gw.handle.presence();
    let me = pres.iter().find(|p| p.device_id == id.device_id).unwrap();
    assert!(me.connected && me.connections == 2 && me.remote_addr.starts_with("127.0.0.1:"));
    assert_eq!(me.role, "node");
    assert_eq!(me.display_name.as_deref(), Some("test-node"));
    drop(_ws);
    drop(_ws2);
    let mut disconnected = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let p = gw.handle.presence();
        let me = p.iter().find(|p| p.device_id == id.device_id).unwrap();
        if !me.connected {
            assert!(me.last_seen_ms > 0);
            disconnected = true;
            break;
        }
    }
    assert!(disconnected, "presence notices the disconnect");
    // Wrong device token: the close reason keeps "device token mismatch".
    let mut o = node_opts(Some("nope"));
    o.device_token = Some("nope".into());
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    let (e, close) = refused(&a);
    assert_eq!(e["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH");
    assert!(close.unwrap().1.contains("device token mismatch"));
    // Revoke, then the device token is refused.
    let (r, _) = client::call(
        &mut cli,
        "device.token.revoke",
        json!({"deviceId": id.device_id, "role": "node"}),
    )
    .await
    .unwrap();
    assert!(r["payload"]["revokedAtMs"].is_i64());
    let mut o = node_opts(Some(&token));
    o.device_token = Some(token.clone());
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    assert!(refused(&a).1.unwrap().1.contains("device token mismatch"));
    // Rotate returns a new token string.
    let (r, _) = client::call(
        &mut cli,
        "device.token.rotate",
        json!({"deviceId": id.device_id, "role": "node"}),
    )
    .await
    .unwrap();
    assert_eq!(r["payload"]["token"].as_str().unwrap().len(), 43);
    assert_eq!(r["payload"]["role"], "node");
    // A node may not call operator methods.
    let mut o = node_opts(None);
    let t2 = r["payload"]["token"].as_str().unwrap().to_string();
    o.token = Some(t2.clone());
    o.device_token = Some(t2);
    let (mut nws, a) = connect(&gw.url, &o, Some(&id)).await;
    hello(&a);
    let (r, _) = client::call(&mut nws, "device.pair.list", json!({}))
        .await
        .unwrap();
    assert_eq!(r["error"]["message"], "unauthorized role: node");
    // Remove: the device token stops working.
    let (r, _) = client::call(
        &mut cli,
        "device.pair.remove",
        json!({"deviceId": id.device_id}),
    )
    .await
    .unwrap();
    assert_eq!(r["payload"], json!({"deviceId": id.device_id}));
    // Console events.
    let mut seen = Vec::new();
    while let Ok(e) = gw.events.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().any(
        |e| matches!(e, GatewayEvent::DevicePairRequested { request_id, .. } if *request_id == rid)
    ));
    assert!(seen
        .iter()
        .any(|e| matches!(e, GatewayEvent::DeviceConnected { device_id, .. } if *device_id == id.device_id)));
}

#[tokio::test]
async fn reject_and_repair_and_key_change() {
    let gw = gateway(cfg()).await;
    let mut cli = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None)
        .await
        .0;
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let rid = refused(&a).0["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    let (r, evs) = client::call(&mut cli, "device.pair.reject", json!({"requestId": rid}))
        .await
        .unwrap();
    assert_eq!(
        r["payload"],
        json!({"requestId": rid, "deviceId": id.device_id})
    );
    assert!(evs.iter().any(|e| e["payload"]["decision"] == "rejected"));
    let (r, _) = client::call(&mut cli, "device.pair.reject", json!({"requestId": rid}))
        .await
        .unwrap();
    assert_eq!(r["error"]["message"], "unknown requestId");
    // Next connect: a new request.
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let rid2 = refused(&a).0["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rid, rid2);
    client::call(&mut cli, "device.pair.approve", json!({"requestId": rid2}))
        .await
        .unwrap();
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    hello(&a);
    // Role upgrade: the same key asking for operator -> role-upgrade, isRepair.
    let mut o = ConnectOptions::cli_operator(TOKEN);
    o.scopes = vec!["operator.read".into()];
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    let (e, _) = refused(&a);
    assert_eq!(e["details"]["reason"], "role-upgrade");
    let p = pending_json(&gw.paths);
    let req = &p[e["details"]["requestId"].as_str().unwrap()];
    assert_eq!(req["isRepair"], true);
    // Metadata upgrade: another platform.
    let mut o = node_opts(Some(TOKEN));
    o.platform = "darwin".into();
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    assert_eq!(refused(&a).0["details"]["reason"], "metadata-upgrade");
    // Key change: the paired entry keeps the old key -> not-paired, isRepair.
    let mut paired = paired_json(&gw.paths);
    paired[&id.device_id]["publicKey"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    // Written as another process would (temp + rename): a plain truncating
    // write can be read half-done by the gateway's watcher, which then writes
    // back what it read (an empty paired.json); seen once in a full run.
    clawpair::fsutil::write_atomic(&gw.paths.paired_devices(), paired.to_string().as_bytes())
        .unwrap();
    clawpair::fsutil::write_atomic(&gw.paths.pending_devices(), b"{}").unwrap();
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let (e, _) = refused(&a);
    assert_eq!(e["details"]["reason"], "not-paired");
    let p = pending_json(&gw.paths);
    assert_eq!(
        p[e["details"]["requestId"].as_str().unwrap()]["isRepair"],
        true
    );
}

#[tokio::test]
async fn silent_local_approval() {
    let mut c = cfg();
    c.auto_approve_local = true;
    let gw = gateway(c).await;
    let mut listener = operator(&gw.url, &["operator.pairing"]).await;
    let id = DeviceIdentity::generate(now());
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    assert!(hello(&a)["auth"]["deviceToken"].is_string());
    let ev = wait_event(&mut listener, "device.pair.resolved", 2000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["decision"], "approved");
    assert_eq!(pending_json(&gw.paths), json!({}));
    assert!(paired_json(&gw.paths)[&id.device_id]
        .get("remoteIp")
        .is_none());
    // Role upgrades are never silent.
    let mut o = ConnectOptions::cli_operator(TOKEN);
    o.scopes = vec!["operator.read".into()];
    let (_, a) = connect(&gw.url, &o, Some(&id)).await;
    assert_eq!(refused(&a).0["details"]["reason"], "role-upgrade");
}

#[tokio::test]
async fn approvals_made_elsewhere_are_noticed() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let gw = gateway(cfg()).await;
    let mut listener = operator(&gw.url, &["operator.admin"]).await;
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let rid = refused(&a).0["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_event(&mut listener, "device.pair.requested", 2000)
        .await
        .unwrap();
    // Another process approves by writing the files.
    let store = clawpair::devices::DeviceStore::new(gw.paths.devices_dir.clone());
    store.approve(&rid, now()).unwrap();
    let ev = wait_event(&mut listener, "device.pair.resolved", 3000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["requestId"], json!(rid));
    assert_eq!(ev["payload"]["decision"], "approved");
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    hello(&a);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        wait_event(&mut listener, "device.pair.resolved", 300)
            .await
            .is_none(),
        "resolved once"
    );
    let mut gw = gw;
    let mut n = 0;
    while let Ok(e) = gw.events.try_recv() {
        if matches!(e, GatewayEvent::DevicePairResolved { .. }) {
            n += 1;
        }
    }
    assert_eq!(n, 1);
}

#[tokio::test]
async fn setup_tokens_are_short_lived_and_bound() {
    let gw = gateway(cfg()).await;
    let mut cli = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None)
        .await
        .0;
    let st = setup::create(&gw.paths, 60_000, now()).unwrap();
    // Never operator access.
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(&st.token), None).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    let op_id = DeviceIdentity::generate(now());
    let (_, a) = connect(
        &gw.url,
        &ConnectOptions::cli_operator(&st.token),
        Some(&op_id),
    )
    .await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized"));
    // A node presenting it gets a pending request, not unauthorized.
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&id)).await;
    let (e, _) = refused(&a);
    assert_eq!(e["message"], "pairing required");
    let rid = e["details"]["requestId"].as_str().unwrap().to_string();
    // Bound to that device: another device is refused.
    let other = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&other)).await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized: gateway token mismatch"));
    client::call(&mut cli, "device.pair.approve", json!({"requestId": rid}))
        .await
        .unwrap();
    // After approval the device collects its token with the setup token…
    let (_ws, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&id)).await;
    let token = hello(&a)["auth"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 43);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …after which it is spent: the paired device may keep presenting it (as a
    // real node host keeps sending its configured token) and gets the same token…
    let (_ws2, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&id)).await;
    assert_eq!(hello(&a)["auth"]["deviceToken"], json!(token));
    // …but only while the device's token is live.
    let (r, _) = client::call(
        &mut cli,
        "device.token.revoke",
        json!({"deviceId": id.device_id, "role": "node"}),
    )
    .await
    .unwrap();
    assert_eq!(r["ok"], true);
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&id)).await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized: gateway token mismatch"));
    // Removed: refused, and no new request can be made with it.
    client::call(
        &mut cli,
        "device.pair.remove",
        json!({"deviceId": id.device_id}),
    )
    .await
    .unwrap();
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&id)).await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized"));
    assert_eq!(pending_json(&gw.paths), json!({}));
    // Expired tokens are refused.
    let old = setup::create(&gw.paths, 1, now() - 10).unwrap();
    let fresh = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&old.token)), Some(&fresh)).await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized"));
    // Rejection voids a bound token.
    let st2 = setup::create(&gw.paths, 60_000, now()).unwrap();
    let d2 = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&st2.token)), Some(&d2)).await;
    let rid2 = refused(&a).0["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    client::call(&mut cli, "device.pair.reject", json!({"requestId": rid2}))
        .await
        .unwrap();
    let (_, a) = connect(&gw.url, &node_opts(Some(&st2.token)), Some(&d2)).await;
    assert!(refused(&a).0["message"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized"));
}

#[tokio::test]
async fn ticks_and_clean_shutdown() {
    let mut c = cfg();
    c.tick_interval_ms = 100;
    let gw = gateway(c).await;
    let (mut ws, a) = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None).await;
    assert_eq!(hello(&a)["policy"]["tickIntervalMs"], 100);
    let t1 = wait_event(&mut ws, "tick", 1000).await.unwrap();
    let t2 = wait_event(&mut ws, "tick", 1000).await.unwrap();
    assert!(t2["seq"].as_u64() > t1["seq"].as_u64());
    assert!(t1["payload"]["ts"].is_i64());
    gw.handle.shutdown();
    let ev = wait_event(&mut ws, "shutdown", 2000).await.unwrap();
    assert!(ev["payload"]["reason"].is_string());
    assert_eq!(
        read_close(&mut ws, 2000).await.unwrap(),
        (1012, "service restart".into())
    );
    tokio::time::timeout(Duration::from_secs(5), gw.handle.wait())
        .await
        .unwrap();
    assert!(client::open(&gw.url).await.is_err());
}

#[tokio::test]
async fn bind_failure_is_an_event() {
    let gw = gateway(cfg()).await;
    let port = gw.handle.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let h = clawpair::gateway::start(
        clawpair::gateway::GatewayConfig::new("127.0.0.1", port, TOKEN),
        clawpair::paths::Paths::resolve(Some(dir.path())),
        tx,
    )
    .await;
    assert!(h.local_addr().is_none());
    assert!(matches!(
        rx.recv().await,
        Some(GatewayEvent::BindFailed { .. })
    ));
    h.shutdown();
    h.wait().await;
    let _ = ConnectAnswer::Closed(None);
}

#[tokio::test]
async fn pending_requests_are_limited_per_address() {
    let mut c = cfg();
    c.max_pending_per_addr = 2;
    let gw = gateway(c).await;
    let ids: Vec<DeviceIdentity> = (0..3).map(|_| DeviceIdentity::generate(now())).collect();
    for id in &ids[..2] {
        let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(id)).await;
        assert_eq!(refused(&a).0["message"], "pairing required");
    }
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&ids[2])).await;
    let (e, close) = refused(&a);
    assert_eq!(e["code"], "UNAVAILABLE");
    assert_eq!(e["retryable"], true);
    assert_eq!(close.unwrap().0, 1008);
    assert_eq!(pending_json(&gw.paths).as_object().unwrap().len(), 2);
    // Devices already pending may still reconnect (merge).
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&ids[0])).await;
    assert_eq!(refused(&a).0["message"], "pairing required");
}

#[tokio::test]
async fn loopback_bind_also_listens_on_ipv6() {
    let gw = gateway(cfg()).await;
    let port = gw.handle.local_addr().unwrap().port();
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return; // no IPv6 loopback here
    }
    let (_, a) = connect(
        &format!("ws://[::1]:{port}"),
        &ConnectOptions::cli_operator(TOKEN),
        None,
    )
    .await;
    hello(&a);
}

#[tokio::test]
async fn unreadable_devices_file_is_never_overwritten() {
    let gw = gateway(cfg()).await;
    std::fs::create_dir_all(&gw.paths.devices_dir).unwrap();
    clawpair::fsutil::write_atomic(&gw.paths.paired_devices(), b"{not json").unwrap();
    let id = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    let (e, _) = refused(&a);
    assert_eq!(e["code"], "UNAVAILABLE");
    assert_eq!(e["retryable"], true);
    assert_eq!(
        std::fs::read_to_string(gw.paths.paired_devices()).unwrap(),
        "{not json"
    );
    let mut cli = connect(&gw.url, &ConnectOptions::cli_operator(TOKEN), None)
        .await
        .0;
    let (r, _) = client::call(&mut cli, "device.pair.list", json!({}))
        .await
        .unwrap();
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    // Repaired by hand: the gateway works again without a restart.
    clawpair::fsutil::write_atomic(&gw.paths.paired_devices(), b"{}").unwrap();
    let (_, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&id)).await;
    assert_eq!(refused(&a).0["message"], "pairing required");
}
