//! Replays the client frames of the captured OpenClaw session
//! (`handshake-transcript.jsonl`) against clawpair's gateway — connect frames
//! re-signed with our own keys over our own nonces, ids substituted — and
//! compares the answers' shapes, codes, messages and close codes with what the
//! real gateway sent.

mod support;

use std::collections::BTreeSet;

use clawpair::gateway::crypto::{self, SignedFields};
use clawpair::gateway::frames::parse_connect_params;
use clawpair::node::client::ClientWs;
use clawpair::node::identity::DeviceIdentity;
use futures_util::SinkExt;
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[path = "support/fixtures.rs"]
mod fixtures;

struct Transcript(Vec<Value>);

impl Transcript {
    fn load() -> Self {
        Transcript(
            fixtures::read("devices/handshake-transcript.jsonl")
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        )
    }
    fn frames(&self, conn: &str, dir: &str) -> Vec<Value> {
        self.0
            .iter()
            .filter(|l| l["conn"] == conn && l["dir"] == dir)
            .map(|l| l["frame"].clone())
            .collect()
    }
    fn client(&self, conn: &str, method: &str) -> Value {
        self.frames(conn, "client->server")
            .into_iter()
            .find(|f| f["method"] == method)
            .unwrap_or_else(|| panic!("{conn} {method}"))
    }
    fn server_res(&self, conn: &str, id: &Value) -> Value {
        self.frames(conn, "server->client")
            .into_iter()
            .find(|f| f["type"] == "res" && f["id"] == *id)
            .unwrap()
    }
    fn upstream_close(&self, conn: &str) -> (u16, String) {
        let m = self
            .0
            .iter()
            .find(|l| l["conn"] == conn && l["kind"] == "upstream-close")
            .unwrap();
        (
            m["code"].as_u64().unwrap() as u16,
            m["reason"].as_str().unwrap().to_string(),
        )
    }
    fn event(&self, conn: &str, name: &str, nth: usize) -> Value {
        self.frames(conn, "server->client")
            .into_iter()
            .filter(|f| f["event"] == name)
            .nth(nth)
            .unwrap()
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Same keys, except the ones a loopback replay cannot reproduce.
fn same_shape(ours: &Value, theirs: &Value, ignore: &[&str]) {
    let strip = |s: BTreeSet<String>| -> BTreeSet<String> {
        s.into_iter()
            .filter(|k| !ignore.contains(&k.as_str()))
            .collect()
    };
    assert_eq!(
        strip(keys(ours)),
        strip(keys(theirs)),
        "ours: {ours}\ntheirs: {theirs}"
    );
}

/// Replaces the device block with one signed by `id` over `nonce`, and the
/// auth tokens when given.
fn resign(frame: &Value, id: &DeviceIdentity, nonce: &str, token: Option<&str>) -> Value {
    let mut f = frame.clone();
    if let Some(t) = token {
        let auth = f["params"]["auth"].as_object_mut().unwrap();
        for k in ["token", "deviceToken"] {
            if auth.contains_key(k) {
                auth.insert(k.into(), json!(t));
            }
        }
    }
    f["params"]["device"] = json!({"id": id.device_id, "publicKey": id.public_key_b64url(), "signature": "x", "signedAt": now(), "nonce": nonce});
    let p = parse_connect_params(Some(&f["params"])).unwrap();
    let d = p.device.as_ref().unwrap();
    let fields = SignedFields {
        device_id: &d.id,
        client_id: &p.client.id,
        client_mode: &p.client.mode,
        role: p.role(),
        scopes: &p.scopes,
        signed_at: d.signed_at,
        token: p.signed_token(),
        nonce,
        platform: Some(&p.client.platform),
        device_family: p.client.device_family.as_deref(),
    };
    f["params"]["device"]["signature"] = json!(crypto::sign(&id.key, &crypto::payload_v3(&fields)));
    f
}

async fn open_with(url: &str, forwarded: bool) -> (ClientWs, String) {
    let mut req = url.into_client_request().unwrap();
    if forwarded {
        req.headers_mut()
            .insert("x-forwarded-for", "192.168.77.10".parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let ch = next_json(&mut ws, 3000).await.unwrap();
    assert_eq!(keys(&ch), keys(&json!({"type":0,"event":0,"payload":0})));
    assert_eq!(ch["event"], "connect.challenge");
    assert_eq!(keys(&ch["payload"]), keys(&json!({"nonce":0,"ts":0})));
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    (ws, nonce)
}

async fn send(ws: &mut ClientWs, f: &Value) {
    ws.send(Message::text(f.to_string())).await.unwrap();
}

/// Next response to `id`, plus the events before it.
async fn res_for(ws: &mut ClientWs, id: &Value) -> (Value, Vec<Value>) {
    let mut evs = Vec::new();
    loop {
        let v = next_json(ws, 5000).await.expect("response");
        if v["type"] == "res" && v["id"] == *id {
            return (v, evs);
        }
        evs.push(v);
    }
}

#[tokio::test]
async fn replay_matches_the_real_gateway() {
    let t = Transcript::load();
    let mut c = cfg();
    c.auto_approve_local = true; // operators on loopback are paired silently, as in the capture
    let gw = gateway(c).await;

    // operator-local#1: the listener (gateway-client, backend, pairing+read).
    let listener_id = DeviceIdentity::generate(now());
    let (mut listener, nonce) = open_with(&gw.url, false).await;
    let f = resign(
        &t.client("operator-local#1", "connect"),
        &listener_id,
        &nonce,
        None,
    );
    send(&mut listener, &f).await;
    let (ours, _) = res_for(&mut listener, &f["id"]).await;
    let theirs = t.server_res("operator-local#1", &f["id"]);
    same_shape(&ours, &theirs, &[]);
    same_shape(&ours["payload"], &theirs["payload"], &["canvasHostUrl"]);
    for k in ["server", "features", "policy", "auth"] {
        same_shape(&ours["payload"][k], &theirs["payload"][k], &[]);
    }
    same_shape(
        &ours["payload"]["snapshot"],
        &theirs["payload"]["snapshot"],
        &[],
    );
    assert_eq!(
        ours["payload"]["auth"]["scopes"],
        json!(["operator.pairing", "operator.read"])
    );
    for e in [
        "device.pair.requested",
        "device.pair.resolved",
        "tick",
        "shutdown",
        "connect.challenge",
    ] {
        assert!(ours["payload"]["features"]["events"]
            .as_array()
            .unwrap()
            .contains(&json!(e)));
    }

    // node-remote#1: a remote node host (behind a proxy) -> pending.
    let node = DeviceIdentity::generate(now());
    let (mut nws, nonce) = open_with(&gw.url, true).await;
    let f = resign(&t.client("node-remote#1", "connect"), &node, &nonce, None);
    send(&mut nws, &f).await;
    let (ours, _) = res_for(&mut nws, &f["id"]).await;
    let theirs = t.server_res("node-remote#1", &f["id"]);
    same_shape(&ours, &theirs, &[]);
    same_shape(&ours["error"], &theirs["error"], &[]);
    same_shape(&ours["error"]["details"], &theirs["error"]["details"], &[]);
    assert_eq!(ours["error"]["code"], theirs["error"]["code"]);
    assert_eq!(ours["error"]["message"], theirs["error"]["message"]);
    assert_eq!(
        ours["error"]["details"]["code"],
        theirs["error"]["details"]["code"]
    );
    assert_eq!(
        ours["error"]["details"]["reason"],
        theirs["error"]["details"]["reason"]
    );
    assert_eq!(
        read_close(&mut nws, 3000).await.unwrap(),
        t.upstream_close("node-remote#1")
    );
    let rid = ours["error"]["details"]["requestId"].clone();
    // The listener's device.pair.requested (no remoteIp: the peer is loopback).
    let ev = wait_event(&mut listener, "device.pair.requested", 3000)
        .await
        .unwrap();
    let theirs = t.event("operator-local#1", "device.pair.requested", 0);
    same_shape(&ev, &theirs, &[]);
    same_shape(&ev["payload"], &theirs["payload"], &["remoteIp"]);
    assert_eq!(ev["payload"]["requestId"], rid);
    for k in [
        "displayName",
        "platform",
        "clientId",
        "clientMode",
        "role",
        "roles",
        "scopes",
        "silent",
        "isRepair",
    ] {
        assert_eq!(ev["payload"][k], theirs["payload"][k], "{k}");
    }

    // operator-local#2: the real CLI (paired silently) lists.
    let cli_id = DeviceIdentity::generate(now());
    let (mut cli, nonce) = open_with(&gw.url, false).await;
    let f = resign(
        &t.client("operator-local#2", "connect"),
        &cli_id,
        &nonce,
        None,
    );
    send(&mut cli, &f).await;
    let (ours, _) = res_for(&mut cli, &f["id"]).await;
    assert_eq!(ours["ok"], true);
    let theirs = t.server_res("operator-local#2", &f["id"]);
    same_shape(&ours["payload"]["auth"], &theirs["payload"]["auth"], &[]);
    assert_eq!(
        ours["payload"]["auth"]["scopes"],
        theirs["payload"]["auth"]["scopes"]
    );
    let ev = wait_event(&mut listener, "device.pair.resolved", 3000)
        .await
        .unwrap();
    same_shape(
        &ev,
        &t.event("operator-local#1", "device.pair.resolved", 0),
        &[],
    );
    same_shape(
        &ev["payload"],
        &t.event("operator-local#1", "device.pair.resolved", 0)["payload"],
        &[],
    );
    let lf = t.client("operator-local#2", "device.pair.list");
    send(&mut cli, &lf).await;
    let (ours, _) = res_for(&mut cli, &lf["id"]).await;
    let theirs = t.server_res("operator-local#2", &lf["id"]);
    same_shape(&ours["payload"], &theirs["payload"], &[]);
    same_shape(
        &ours["payload"]["pending"][0],
        &theirs["payload"]["pending"][0],
        &["remoteIp"],
    );
    let their_cli = theirs["payload"]["paired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["clientId"] == "cli")
        .unwrap()
        .clone();
    let our_cli = ours["payload"]["paired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["clientId"] == "cli")
        .unwrap()
        .clone();
    same_shape(&our_cli, &their_cli, &[]);
    same_shape(
        &our_cli["tokens"][0],
        &their_cli["tokens"][0],
        &["lastUsedAtMs"],
    );

    // operator-local#4: approve; the resolved event precedes the response.
    let mut af = t.client("operator-local#4", "device.pair.approve");
    af["params"]["requestId"] = rid.clone();
    send(&mut cli, &af).await;
    let (ours, evs) = res_for(&mut cli, &af["id"]).await;
    let theirs = t.server_res("operator-local#4", &af["id"]);
    assert!(evs.iter().any(|e| e["event"] == "device.pair.resolved"));
    same_shape(&ours, &theirs, &[]);
    same_shape(&ours["payload"], &theirs["payload"], &[]);
    same_shape(
        &ours["payload"]["device"],
        &theirs["payload"]["device"],
        &["remoteIp"],
    );
    same_shape(
        &ours["payload"]["device"]["tokens"][0],
        &theirs["payload"]["device"]["tokens"][0],
        &[],
    );
    let ev = wait_event(&mut listener, "device.pair.resolved", 3000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["decision"], "approved");

    // node-remote#2: reconnect with the gateway token -> hello-ok + device token.
    let (mut nws, nonce) = open_with(&gw.url, true).await;
    let f = resign(&t.client("node-remote#2", "connect"), &node, &nonce, None);
    send(&mut nws, &f).await;
    let (ours, _) = res_for(&mut nws, &f["id"]).await;
    let theirs = t.server_res("node-remote#2", &f["id"]);
    same_shape(&ours["payload"]["auth"], &theirs["payload"]["auth"], &[]);
    assert_eq!(ours["payload"]["auth"]["role"], "node");
    assert_eq!(ours["payload"]["auth"]["scopes"], json!([]));
    assert_eq!(
        ours["payload"]["policy"]["tickIntervalMs"],
        theirs["payload"]["policy"]["tickIntervalMs"]
    );
    let dev_token = ours["payload"]["auth"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_string();

    // node-remote#3: device-token-only login (auth.token = auth.deviceToken).
    let (mut nws3, nonce) = open_with(&gw.url, true).await;
    let f = resign(
        &t.client("node-remote#3", "connect"),
        &node,
        &nonce,
        Some(&dev_token),
    );
    send(&mut nws3, &f).await;
    let (ours, _) = res_for(&mut nws3, &f["id"]).await;
    assert_eq!(ours["ok"], true);
    assert_eq!(ours["payload"]["auth"]["deviceToken"], json!(dev_token));
    assert!(paired_json(&gw.paths)[&node.device_id]["tokens"]["node"]["lastUsedAtMs"].is_i64());

    // operator-local#6: rejecting an unknown id answers exactly like OpenClaw.
    let rf = t.client("operator-local#6", "device.pair.reject");
    send(&mut cli, &rf).await;
    let (ours, _) = res_for(&mut cli, &rf["id"]).await;
    assert_eq!(ours, t.server_res("operator-local#6", &rf["id"]));

    // node-remote#7: the node's key asking for operator -> role-upgrade.
    let (mut w7, nonce) = open_with(&gw.url, true).await;
    let f = resign(&t.client("node-remote#7", "connect"), &node, &nonce, None);
    send(&mut w7, &f).await;
    let (ours, _) = res_for(&mut w7, &f["id"]).await;
    let theirs = t.server_res("node-remote#7", &f["id"]);
    assert_eq!(
        ours["error"]["details"]["reason"],
        theirs["error"]["details"]["reason"]
    );
    assert_eq!(
        read_close(&mut w7, 3000).await.unwrap(),
        t.upstream_close("node-remote#7")
    );
    let ev = wait_event(&mut listener, "device.pair.requested", 3000)
        .await
        .unwrap();
    assert_eq!(ev["payload"]["isRepair"], true);
    assert_eq!(ev["payload"]["role"], "operator");

    // operator-local#11/#12: rotate and revoke with our device id.
    for (conn, method) in [
        ("operator-local#11", "device.token.rotate"),
        ("operator-local#12", "device.token.revoke"),
    ] {
        let mut f = t.client(conn, method);
        f["params"]["deviceId"] = json!(node.device_id);
        send(&mut cli, &f).await;
        let (ours, _) = res_for(&mut cli, &f["id"]).await;
        let theirs = t.server_res(conn, &f["id"]);
        same_shape(&ours["payload"], &theirs["payload"], &[]);
        assert_eq!(ours["payload"]["role"], theirs["payload"]["role"]);
    }
    // The revoked device token is refused with the wording the client keys on.
    let (mut w, nonce) = open_with(&gw.url, true).await;
    let f = resign(
        &t.client("node-remote#3", "connect"),
        &node,
        &nonce,
        Some(&dev_token),
    );
    send(&mut w, &f).await;
    let (ours, _) = res_for(&mut w, &f["id"]).await;
    assert_eq!(
        ours["error"]["message"],
        "unauthorized: device token mismatch (rotate/reissue device token)"
    );
    assert!(read_close(&mut w, 3000)
        .await
        .unwrap()
        .1
        .contains("device token mismatch"));
    let _ = nws.close(None).await;
}
