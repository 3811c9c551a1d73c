//! On an OpenClaw 2026.9.6 state dir (copies of the shipped databases) with
//! OpenClaw's gateway running, clawpair's device, node and DM decisions go
//! through that gateway: a stand-in protocol-4 gateway at `gateway.port`
//! records what is sent (the RPC, its params, the connect's scopes, the
//! shared secret and no device block) and answers as 2026.9.6 does. The CLI
//! (`devices`, `nodes`, `pairing approve|reject` without `--url`) and the
//! console's SQLite source both; without a gateway the clear refusal.

mod fault_support;
#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clawpair::app::effect::{Act, ActionError, DmTarget, Done};
use clawpair::runtime::source::sqlite::SqliteSource;
use clawpair::runtime::source::Source;
use clawpair::statedb;
use fault_support::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "stand-in-token-0123456789abcdef";
const REQ: &str = "cdab7896-5e2e-428f-aef2-58d2159ac0ff";
const DEV: &str = "8f4c4a9ade8d35e47b655e4bdafbdc6e048e3eab2a3a69367bd29655c9282b50";
/// Between moments 01 and 02 of the fixtures: every DM request of 01 is live.
const AT_01: &str = "2026-12-01T22:40:00.000Z";

/// One RPC as the stand-in saw it.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    params: Value,
    scopes: Vec<String>,
}

#[derive(Default)]
struct Seen {
    connects: Vec<Value>,
    calls: Vec<Call>,
}

struct StandIn {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    _rt: tokio::runtime::Runtime,
}

impl StandIn {
    fn calls(&self, method: &str) -> Vec<Call> {
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }
}

/// A protocol-4 gateway on 127.0.0.1 answering 2026.9.6's pairing RPCs;
/// `dm_rpcs`: whether hello-ok offers `channels.pairing.*`.
fn stand_in(dm_rpcs: bool) -> StandIn {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let l = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let st = seen.clone();
    rt.spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let st = st.clone();
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                tx.send(Message::text(json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1}}).to_string())).await.ok();
                let mut scopes: Vec<String> = vec![];
                while let Some(Ok(m)) = rx.next().await {
                    let Ok(v) = serde_json::from_str::<Value>(m.to_text().unwrap_or("")) else {
                        continue;
                    };
                    let method = v["method"].as_str().unwrap_or("").to_string();
                    let p = v["params"].clone();
                    let payload = if method == "connect" {
                        scopes = p["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
                        st.lock().unwrap().connects.push(p.clone());
                        let mut methods = vec!["device.pair.list","device.pair.approve","device.pair.reject","device.pair.remove","device.token.rotate","device.token.revoke","node.pair.list","node.pair.approve","node.pair.reject"];
                        if dm_rpcs {
                            methods.extend(["channels.pairing.list","channels.pairing.approve","channels.pairing.dismiss"]);
                        }
                        json!({"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6","connId":"c"},
                            "features":{"methods":methods,"events":[]},
                            "auth":{"method":"token","role":"operator","scopes":scopes},"policy":{"tickIntervalMs":30000}})
                    } else {
                        st.lock().unwrap().calls.push(Call { method: method.clone(), params: p.clone(), scopes: scopes.clone() });
                        match method.as_str() {
                            "device.pair.list" => json!({"pending":[{"requestId":REQ,"deviceId":DEV,"displayName":"fx-node-1","role":"node","roles":["node"],"scopes":[],"ts":1}],"paired":[]}),
                            "device.pair.approve" => json!({"requestId": p["requestId"], "device": {"deviceId": DEV, "displayName":"fx-node-1"}}),
                            "device.pair.reject" => json!({"requestId": p["requestId"], "deviceId": DEV}),
                            "device.pair.remove" => json!({"deviceId": p["deviceId"]}),
                            "device.token.rotate" => json!({"deviceId": p["deviceId"], "role": p["role"], "scopes": [], "rotatedAtMs": 5}),
                            "device.token.revoke" => json!({"deviceId": p["deviceId"], "role": p["role"], "revokedAtMs": 5}),
                            "node.pair.list" => json!({"pending":[{"requestId":"s1","nodeId":DEV,"displayName":"fx-node-1","requiredApproveScopes":["operator.pairing","operator.admin"],"ts":1}],"paired":[]}),
                            "node.pair.approve" => json!({"requestId": p["requestId"], "node": {"nodeId": DEV, "displayName":"fx-node-1"}}),
                            "node.pair.reject" => json!({"requestId": p["requestId"], "nodeId": DEV}),
                            "channels.pairing.list" => json!({"accounts":[],"requests":[
                                {"requestId":"rq-111","channel":"telegram","accountId":"default","senderId":"111"},
                                {"requestId":"rq-222","channel":"telegram","accountId":"work","senderId":"222"}]}),
                            "channels.pairing.approve" | "channels.pairing.dismiss" => {
                                let sender = if p["requestId"] == "rq-222" { "222" } else { "111" };
                                json!({"requestId": p["requestId"], "senderId": sender, "notification":"not-requested","commandOwnerBootstrap":"not-requested"})
                            }
                            _ => json!({}),
                        }
                    };
                    tx.send(Message::text(json!({"type":"res","id":v["id"],"ok":true,"payload":payload}).to_string())).await.ok();
                }
            });
        }
    });
    StandIn {
        port,
        seen,
        _rt: rt,
    }
}

fn state_with(m: &str, port: u16) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let st = t.path().join("state-dir");
    std::fs::create_dir_all(st.join("state")).unwrap();
    std::fs::copy(
        fixtures::path(&format!("openclaw-2026.9/sqlite/{m}.sqlite")),
        statedb::db_path(&st),
    )
    .unwrap();
    std::fs::write(
        st.join("openclaw.json"),
        format!(
            r#"{{"commands":{{"ownerAllowFrom":["telegram:999"]}},"gateway":{{"port":{port},"auth":{{"mode":"token","token":"{TOKEN}"}}}}}}"#
        ),
    )
    .unwrap();
    (t, st)
}

fn cli(t: &Path, st: &Path, args: &[&str]) -> Ran {
    let mut c = cmd(st, args);
    c.env("XDG_CONFIG_HOME", t.join("xdg"))
        .env("HOME", t)
        .env("CLAWPAIR_NOW", AT_01);
    let r = run(c);
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "the token leaked: {r:?}"
    );
    r
}

fn db_bytes(st: &Path) -> Vec<u8> {
    std::fs::read(statedb::db_path(st)).unwrap()
}

#[test]
fn devices_and_nodes_verbs_go_through_openclaws_gateway() {
    let g = stand_in(true);
    let (t, st) = state_with("03-node-pending", g.port);
    let before = db_bytes(&st);

    let r = cli(t.path(), &st, &["devices", "approve", REQ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout, format!("Approved {DEV} ({REQ})\n"));
    let c = g.calls("device.pair.approve");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].params, json!({"requestId": REQ}));
    assert_eq!(c[0].scopes, vec!["operator.pairing"]);
    // The device-less operator with the shared secret from openclaw.json.
    {
        let seen = g.seen.lock().unwrap();
        let hello = &seen.connects[0];
        assert_eq!(hello["auth"]["token"], TOKEN, "{hello}");
        assert!(hello.get("device").is_none(), "{hello}");
        assert_eq!(hello["role"], "operator");
    }

    let r = cli(t.path(), &st, &["devices", "approve", "--latest"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(g.calls("device.pair.list").len(), 1);
    assert_eq!(g.calls("device.pair.approve").len(), 2);

    let r = cli(t.path(), &st, &["devices", "reject", REQ]);
    assert_eq!(r.stdout, format!("Rejected {DEV}\n"), "{r:?}");
    assert_eq!(
        g.calls("device.pair.reject")[0].params,
        json!({"requestId": REQ})
    );

    let r = cli(t.path(), &st, &["devices", "remove", DEV]);
    assert_eq!(r.stdout, format!("Removed {DEV}\n"), "{r:?}");
    assert_eq!(
        g.calls("device.pair.remove")[0].params,
        json!({"deviceId": DEV})
    );

    let r = cli(
        t.path(),
        &st,
        &["devices", "rotate", "--device", DEV, "--role", "node"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        g.calls("device.token.rotate")[0].params,
        json!({"deviceId": DEV, "role": "node"})
    );
    let r = cli(
        t.path(),
        &st,
        &["devices", "revoke", "--device", DEV, "--role", "node"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        g.calls("device.token.revoke")[0].params,
        json!({"deviceId": DEV, "role": "node"})
    );

    let r = cli(t.path(), &st, &["nodes", "pending", "--json"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["requestId"], "s1");

    let r = cli(t.path(), &st, &["nodes", "approve", "s1"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let c = g.calls("node.pair.approve");
    assert_eq!(c[0].params, json!({"requestId": "s1"}));
    // The surface's requiredApproveScopes: operator.admin as well.
    assert_eq!(c[0].scopes, vec!["operator.pairing", "operator.admin"]);

    let r = cli(t.path(), &st, &["nodes", "reject", "s1"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        g.calls("node.pair.reject")[0].params,
        json!({"requestId": "s1"})
    );
    // clawpair wrote no device row itself.
    assert_eq!(db_bytes(&st), before, "the database changed");
}

#[test]
fn a_password_gateway_gets_the_password_from_the_environment() {
    let g = stand_in(true);
    let (t, st) = state_with("03-node-pending", g.port);
    std::fs::write(
        st.join("openclaw.json"),
        format!(
            r#"{{"gateway":{{"port":{},"auth":{{"mode":"password"}}}}}}"#,
            g.port
        ),
    )
    .unwrap();
    let mut c = cmd(&st, &["devices", "reject", REQ]);
    c.env("XDG_CONFIG_HOME", t.path().join("xdg"))
        .env("OPENCLAW_GATEWAY_PASSWORD", "pw-0123456789");
    let r = run(c);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!r.stdout.contains("pw-0123456789") && !r.stderr.contains("pw-0123456789"));
    let seen = g.seen.lock().unwrap();
    assert_eq!(seen.connects[0]["auth"]["password"], "pw-0123456789");
}

#[test]
fn dm_decisions_go_through_channels_pairing_when_the_gateway_offers_it() {
    let g = stand_in(true);
    let (t, st) = state_with("01-dm-requests", g.port);
    let before = db_bytes(&st);
    let r = cli(
        t.path(),
        &st,
        &["pairing", "approve", "telegram", "VNDALQ7C"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout, "Approved telegram sender 111.\n");
    let c = g.calls("channels.pairing.approve");
    assert_eq!(
        c[0].params,
        json!({"channel": "telegram", "accountId": "default", "requestId": "rq-111"})
    );
    assert_eq!(c[0].scopes, vec!["operator.pairing"]);
    let r = cli(
        t.path(),
        &st,
        &[
            "pairing",
            "reject",
            "telegram",
            "cx2ngfbp",
            "--account",
            "work",
        ],
    );
    assert_eq!(r.stdout, "Rejected telegram sender 222.\n", "{r:?}");
    assert_eq!(
        g.calls("channels.pairing.dismiss")[0].params,
        json!({"channel": "telegram", "accountId": "work", "requestId": "rq-222"})
    );
    // The gateway made the change, not clawpair.
    assert_eq!(db_bytes(&st), before);
    // discord's 333 is not listed by this gateway: the DM transaction.
    let r = cli(
        t.path(),
        &st,
        &["pairing", "approve", "discord", "HHGSZP9K"],
    );
    assert_eq!(r.stdout, "Approved discord sender 333.\n", "{r:?}");
    assert_eq!(g.calls("channels.pairing.approve").len(), 1);
    let r = cli(t.path(), &st, &["pairing", "list", "discord", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["requests"], json!([]), "{v}");
}

#[test]
fn without_channels_pairing_rpcs_dm_decisions_are_the_transaction() {
    let g = stand_in(false);
    let (t, st) = state_with("01-dm-requests", g.port);
    let r = cli(
        t.path(),
        &st,
        &["pairing", "approve", "telegram", "VNDALQ7C"],
    );
    assert_eq!(r.stdout, "Approved telegram sender 111.\n", "{r:?}");
    assert!(g.calls("channels.pairing.approve").is_empty());
    let r = cli(
        t.path(),
        &st,
        &[
            "pairing",
            "allowlist",
            "telegram",
            "--account",
            "default",
            "--json",
        ],
    );
    assert!(r.stdout.contains("\"111\""), "{r:?}");
}

#[test]
fn without_a_gateway_device_and_node_verbs_say_to_start_it() {
    let port = free_port();
    let (t, st) = state_with("03-node-pending", port);
    let before = db_bytes(&st);
    for args in [
        &["devices", "approve", REQ][..],
        &["devices", "reject", REQ],
        &["nodes", "pending"],
        &["nodes", "approve", "s1"],
    ] {
        let r = cli(t.path(), &st, args);
        r.assert_clean_failure("start `openclaw gateway`", &format!("{args:?}"));
        assert!(r.stderr.contains(&format!("port {port}")), "{}", r.stderr);
    }
    assert_eq!(db_bytes(&st), before);
}

fn source(st: &Path) -> Arc<SqliteSource> {
    let paths = clawpair::paths::Paths::resolve(Some(st));
    Arc::new(SqliteSource::new(&paths))
}

#[test]
fn the_console_acts_through_openclaws_gateway() {
    let g = stand_in(true);
    let (t, st) = state_with("03-node-pending", g.port);
    std::env::set_var("XDG_CONFIG_HOME", t.path().join("xdg"));
    let port = free_port();
    let (_t3, st3) = state_with("03-node-pending", port);
    let (t2, st2) = state_with("01-dm-requests", g.port);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(console_acts(&g, &st, &st2, &st3, port));
    drop((t, t2));
}

async fn console_acts(g: &StandIn, st: &Path, st2: &Path, st3: &Path, port: u16) {
    let src = source(st);
    let now = clawpair::clock::now_ms();
    let done = src
        .clone()
        .act(
            Act::ApproveDevice {
                request_id: REQ.into(),
            },
            now,
        )
        .await
        .unwrap();
    assert!(
        matches!(&done, Done::DeviceApproved { device_id, .. } if device_id == DEV),
        "{done:?}"
    );
    let c = g.calls("device.pair.approve");
    assert_eq!(c[0].params, json!({"requestId": REQ}));
    assert_eq!(c[0].scopes, vec!["operator.pairing", "operator.admin"]);
    let done = src
        .clone()
        .act(
            Act::ApproveNode {
                request_id: "s1".into(),
            },
            now,
        )
        .await
        .unwrap();
    assert!(matches!(done, Done::NodeApproved { .. }), "{done:?}");
    src.clone()
        .act(
            Act::RejectNode {
                request_id: "s1".into(),
            },
            now,
        )
        .await
        .unwrap();
    src.clone()
        .act(
            Act::RemoveDevice {
                device_id: DEV.into(),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(g.calls("node.pair.approve").len(), 1);
    assert_eq!(g.calls("node.pair.reject").len(), 1);
    assert_eq!(g.calls("device.pair.remove").len(), 1);

    // A DM request through channels.pairing.approve.
    let before = db_bytes(st2);
    let at = clawpair::clock::parse_iso_ms(AT_01).unwrap();
    let done = source(st2)
        .act(
            Act::ApproveDm(DmTarget {
                channel: "telegram".into(),
                account: Some("default".into()),
                id: "111".into(),
                code: "VNDALQ7C".into(),
                request_id: None,
            }),
            at,
        )
        .await
        .unwrap();
    assert!(
        matches!(&done, Done::DmApproved { id, .. } if id == "111"),
        "{done:?}"
    );
    assert_eq!(g.calls("channels.pairing.approve").len(), 1);
    assert_eq!(db_bytes(st2), before);

    // Nothing listening: the refusal names the port and what to start.
    let err = source(st3)
        .act(
            Act::ApproveDevice {
                request_id: REQ.into(),
            },
            now,
        )
        .await
        .unwrap_err();
    match err {
        ActionError::Failed(m) => {
            assert!(m.contains("start `openclaw gateway`"), "{m}");
            assert!(m.contains(&format!("port {port}")), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

/// `gateway.tls.enabled`: `wss://` pinned to the gateway's own certificate
/// (here clawpair's own gateway with TLS, its certificate named by
/// `gateway.tls.certPath`); a certificate that is not the gateway's is refused.
#[test]
fn a_tls_gateway_is_reached_by_wss_pinned_to_its_own_certificate() {
    use clawpair::gateway::{start, tls, GatewayConfig};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gw_dir = tempfile::tempdir().unwrap();
    let gw_paths = clawpair::paths::Paths::resolve(Some(gw_dir.path()));
    let mut cfg = GatewayConfig::new("127.0.0.1", 0, TOKEN);
    cfg.auto_approve_local = false;
    cfg.tls = Some(tls::load_or_generate(&gw_paths, &tls::TlsSource::default()).unwrap());
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let handle = rt.block_on(start(cfg, gw_paths.clone(), tx));
    let port = handle.local_addr().unwrap().port();
    let (t, st) = state_with("03-node-pending", port);
    let cert = gw_dir.path().join(tls::CERT_FILE);
    let write_cfg = |cert: &Path| {
        std::fs::write(
            st.join("openclaw.json"),
            serde_json::to_string(&json!({"gateway": {
                "port": port,
                "tls": {"enabled": true, "certPath": cert},
                "auth": {"mode": "token", "token": TOKEN},
            }}))
            .unwrap(),
        )
        .unwrap();
    };
    write_cfg(&cert);
    // clawpair's gateway has no pending request: the list came over wss.
    let r = cli(t.path(), &st, &["devices", "approve", "--latest"]);
    r.assert_clean_failure("No pending device pairing requests to approve", "wss");
    let r = cli(t.path(), &st, &["devices", "reject", "nope"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("nope") || r.stderr.contains("unknown"),
        "{r:?}"
    );
    // Another certificate: the pin does not match, nothing is sent.
    let other = tempfile::tempdir().unwrap();
    let other_paths = clawpair::paths::Paths::resolve(Some(other.path()));
    tls::load_or_generate(&other_paths, &tls::TlsSource::default()).unwrap();
    write_cfg(&other.path().join(tls::CERT_FILE));
    let r = cli(t.path(), &st, &["devices", "approve", "--latest"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.to_lowercase().contains("fingerprint") || r.stderr.contains("pin"),
        "{r:?}"
    );
    // No certificate at all: said before connecting.
    write_cfg(&other.path().join("missing.pem"));
    let r = cli(t.path(), &st, &["devices", "approve", "--latest"]);
    r.assert_clean_failure("its certificate", "no cert");
    drop(handle);
}

/// The watcher tells the status line whether OpenClaw's gateway listens, and
/// again when that changes.
#[test]
fn the_watcher_reports_whether_openclaws_gateway_listens() {
    use clawpair::runtime::source::Changed;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (_t, st) = state_with("03-node-pending", port);
    let (tx, rx) = std::sync::mpsc::channel();
    let src = source(&st);
    let _w = src.watch(
        true,
        Box::new(move |c| {
            if let Changed::OpenClawGateway { .. } = c {
                let _ = tx.send(c);
            }
        }),
    );
    let first = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(
        first,
        Changed::OpenClawGateway {
            port,
            reachable: true
        }
    );
    drop(l);
    let next = rx.recv_timeout(std::time::Duration::from_secs(6)).unwrap();
    assert_eq!(
        next,
        Changed::OpenClawGateway {
            port,
            reachable: false
        }
    );
}

/// A paired node's pending capability surface is also a device-request row
/// with its surface, so the console's card approves it (`Act::ApproveNode`).
#[test]
fn a_pending_surface_is_a_request_row_for_the_card() {
    use clawpair::runtime::source::sqlite::device_snapshot;
    use clawpair::statedb::{devices, StateDb};
    let db = fixtures::path("openclaw-2026.9/sqlite/05-node-connected.sqlite");
    let s = StateDb::open_read(&db).unwrap();
    let at = clawpair::clock::parse_iso_ms("2026-12-01T22:32:30.000Z").unwrap();
    let snap = device_snapshot(devices::read(&s, at).unwrap());
    let rows: Vec<_> = snap
        .pending
        .iter()
        .filter(|r| r.surface.is_some())
        .collect();
    assert_eq!(rows.len(), 1, "{:?}", snap.pending);
    let sf = rows[0].surface.as_ref().unwrap();
    assert_eq!((sf.caps.len(), sf.commands.len()), (5, 13));
    assert_eq!(
        sf.required_scopes,
        vec!["operator.pairing", "operator.admin"]
    );
    let paired = snap
        .paired
        .iter()
        .find(|p| p.device_id == rows[0].device_id)
        .unwrap();
    assert_eq!(
        paired
            .pending_surface
            .as_ref()
            .map(|p| p.request_id.as_str()),
        Some(rows[0].request_id.as_str())
    );
}
