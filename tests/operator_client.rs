//! The operator client against clawpair's own gateway on 127.0.0.1 (real
//! sockets) and against hostile fake gateways (junk, oversize frames, floods,
//! silence, bad TLS): it must answer as the spec says, never panic, and keep
//! its memory bounded.

mod support;

use std::time::{Duration, Instant};

use clawpair::app::rows::RemoteState;
use clawpair::node::identity::DeviceIdentity;
use clawpair::operator::session::{
    self, ConnectError, ConnectSpec, Credentials, Ended, RpcError, Shared,
};
use clawpair::operator::tls::{self, TlsPolicy, TlsRefusal};
use clawpair::operator::transport::OpenError;
use clawpair::operator::{api, ConfigDir, GatewayUrl, Link, LinkEvent, Remote};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn url_of(gw: &Gw) -> GatewayUrl {
    GatewayUrl::parse(&gw.url).unwrap()
}

fn token_spec(url: GatewayUrl, token: &str, scopes: &[&str]) -> ConnectSpec {
    ConnectSpec::operator(
        url,
        Credentials {
            shared: Some(Shared::Token(token.into())),
            ..Credentials::default()
        },
        api::scopes(scopes),
    )
}

fn remote(
    url: GatewayUrl,
    shared: Option<Shared>,
    as_device: bool,
    cfg: &std::path::Path,
) -> Remote {
    Remote {
        url,
        shared,
        explicit_pin: None,
        as_device,
        config: ConfigDir::at(cfg),
    }
}

async fn wait_state(link: &Link, pred: impl Fn(&RemoteState) -> bool, ms: u64) -> RemoteState {
    let mut rx = link.status();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        let st = rx.borrow_and_update().state.clone();
        if pred(&st) {
            return st;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            panic!("state not reached in {ms} ms; last {st:?}");
        }
    }
}

/// A node connects and waits: returns its request id.
async fn pending_node(gw: &Gw, id: &DeviceIdentity) -> String {
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(id)).await;
    let (e, _) = refused(&a);
    e["details"]["requestId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn device_less_operator_lists_approves_and_sees_events() {
    let gw = gateway(cfg()).await;
    let s = session::connect(&token_spec(url_of(&gw), TOKEN, &[api::PAIRING]))
        .await
        .unwrap();
    assert_eq!(
        s.hello.protocol, 4,
        "clawpair's gateway speaks 4 (and 3); we offered 3..4"
    );
    let mut events = s.subscribe();
    let node = DeviceIdentity::generate(now());
    let rid = pending_node(&gw, &node).await;
    // The request's event arrives.
    let ev = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let e = events.recv().await.unwrap();
            if e.name == "device.pair.requested" {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(ev.payload["requestId"], json!(rid));
    let list = s
        .call("device.pair.list", json!({}), api::CALL_TIMEOUT)
        .await
        .unwrap();
    let snap = api::device_snapshot(&list, None);
    assert_eq!(snap.pending.len(), 1);
    assert_eq!(snap.pending[0].request_id, rid);
    // Protocol 4 (as OpenClaw 2026.9): approving a node needs operator.admin;
    // the denial is one the clients recognise and retry with admin.
    let denied = s
        .call(
            "device.pair.approve",
            json!({"requestId": rid}),
            api::CALL_TIMEOUT,
        )
        .await
        .unwrap_err();
    assert!(api::needs_admin(&denied), "{denied:?}");
    s.close().await;
    let s = session::connect(&token_spec(url_of(&gw), TOKEN, &[api::ADMIN]))
        .await
        .unwrap();
    let mut events = s.subscribe();
    // Approve: the resolved event, then the answer.
    let t0 = Instant::now();
    let p = s
        .call(
            "device.pair.approve",
            json!({"requestId": rid}),
            api::CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(p["device"]["deviceId"], json!(node.device_id));
    let resolved = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let e = events.recv().await.unwrap();
            if e.name == "device.pair.resolved" {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(resolved.payload["decision"], json!("approved"));
    assert!(t0.elapsed() < Duration::from_secs(2));
    // The node gets in now.
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(&node)).await;
    hello(&a);
    // Unknown ids are the gateway's error, typed.
    let e = s
        .call(
            "device.pair.reject",
            json!({"requestId": "nope"}),
            api::CALL_TIMEOUT,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, RpcError::Gateway(g) if g.message.contains("unknown requestId")),
        "{e:?}"
    );
    // Remove, rotate, revoke over RPC.
    let rot = s
        .call(
            "device.token.rotate",
            json!({"deviceId": node.device_id, "role": "node"}),
            api::CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(rot["role"], json!("node"));
    let rev = s
        .call(
            "device.token.revoke",
            json!({"deviceId": node.device_id, "role": "node"}),
            api::CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert!(rev["revokedAtMs"].is_i64());
    s.call(
        "device.pair.remove",
        json!({"deviceId": node.device_id}),
        api::CALL_TIMEOUT,
    )
    .await
    .unwrap();
    s.close().await;
    assert_eq!(s.ended(), Some(Ended::ByUs));
    let e = s
        .call("device.pair.list", json!({}), api::CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, RpcError::Offline(_)));
}

#[tokio::test]
async fn wrong_token_is_unauthorized_with_a_hint() {
    let gw = gateway(cfg()).await;
    let e = session::connect(&token_spec(url_of(&gw), "wrong", &[api::PAIRING]))
        .await
        .unwrap_err();
    let ConnectError::Refused(g) = &e else {
        panic!("{e:?}")
    };
    assert!(
        g.message.contains("gateway token mismatch"),
        "{}",
        g.message
    );
    let tmp = tempfile::tempdir().unwrap();
    let link = Link::start(
        remote(
            url_of(&gw),
            Some(Shared::Token("wrong".into())),
            false,
            tmp.path(),
        ),
        api::console_scopes(),
    );
    let st = wait_state(
        &link,
        |s| matches!(s, RemoteState::Unauthorized { .. }),
        5000,
    )
    .await;
    let RemoteState::Unauthorized { hint, .. } = st else {
        unreachable!()
    };
    assert!(hint.contains("--token"), "{hint}");
    // Offline: an action is refused at once, nothing queued.
    let t0 = Instant::now();
    let e = link
        .call("device.pair.list", json!({}), api::CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, RpcError::Offline(_)), "{e:?}");
    assert!(t0.elapsed() < Duration::from_millis(100));
    link.stop();
}

#[tokio::test]
async fn link_reconnects_after_a_restart_and_relists() {
    let mut c = cfg();
    c.port = 0;
    let gw = gateway(c).await;
    let addr = gw.handle.local_addr().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let link = Link::start(
        remote(
            url_of(&gw),
            Some(Shared::Token(TOKEN.into())),
            false,
            tmp.path(),
        ),
        api::console_scopes(),
    );
    let mut ev = link.subscribe();
    wait_state(&link, |s| *s == RemoteState::Connected, 5000).await;
    assert_eq!(link.status_now().scopes, api::console_scopes());
    assert_eq!(link.status_now().protocol, Some(4));
    gw.handle.shutdown();
    gw.handle.wait().await;
    wait_state(
        &link,
        |s| matches!(s, RemoteState::Reconnecting { .. }),
        5000,
    )
    .await;
    // Same port, same state dir.
    let mut c = cfg();
    c.port = addr.port();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let h2 = clawpair::gateway::start(c, gw.paths.clone(), tx).await;
    assert!(h2.local_addr().is_some());
    wait_state(&link, |s| *s == RemoteState::Connected, 15_000).await;
    // Up came twice (first connect, reconnect): each means "re-list".
    let mut ups = 0;
    while let Ok(e) = ev.try_recv() {
        if e == LinkEvent::Up {
            ups += 1;
        }
    }
    assert_eq!(ups, 2);
    link.stop();
    h2.shutdown();
}

#[tokio::test]
async fn own_identity_waits_for_approval_then_proceeds_and_keeps_its_token() {
    let gw = gateway(cfg()).await;
    let tmp = tempfile::tempdir().unwrap();
    let r = remote(
        url_of(&gw),
        Some(Shared::Token(TOKEN.into())),
        true,
        tmp.path(),
    );
    let link = Link::start(r.clone(), api::console_scopes());
    let st = wait_state(
        &link,
        |s| matches!(s, RemoteState::PairingRequired { .. }),
        5000,
    )
    .await;
    let RemoteState::PairingRequired {
        request_id,
        device_key,
    } = st
    else {
        unreachable!()
    };
    let id = ConfigDir::at(tmp.path()).identity(0).unwrap();
    assert_eq!(
        device_key,
        clawpair::devices::model::short_fingerprint(&id.device_id)
    );
    assert!(link
        .status_now()
        .state_text()
        .contains(&format!("openclaw devices approve {request_id}")));
    // The owner approves on the gateway host.
    clawpair::devices::DeviceStore::new(gw.paths.devices_dir.clone())
        .approve(&request_id, now())
        .unwrap();
    wait_state(&link, |s| *s == RemoteState::Connected, 10_000).await;
    link.stop();
    let rec = ConfigDir::at(tmp.path()).gateway(&url_of(&gw)).unwrap();
    assert!(rec.device_token.is_some());
    // The files are private.
    for f in [
        ConfigDir::at(tmp.path()).identity_file(),
        ConfigDir::at(tmp.path()).gateway_file(&url_of(&gw)),
    ] {
        assert_eq!(clawpair::fsutil::mode_of(&f).unwrap() & 0o777, 0o600);
    }
    // Later: no shared secret, the device token alone.
    let r2 = remote(url_of(&gw), None, false, tmp.path());
    let s = r2
        .connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap();
    s.call("device.pair.list", json!({}), api::CALL_TIMEOUT)
        .await
        .unwrap();
    s.close().await;
    // Removed on the gateway: the token is refused, forgotten, explained.
    clawpair::devices::DeviceStore::new(gw.paths.devices_dir.clone())
        .remove(&id.device_id, now())
        .unwrap();
    let e = r2
        .connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap_err();
    assert!(e.contains("device token") || e.contains("token"), "{e}");
    assert!(ConfigDir::at(tmp.path())
        .gateway(&url_of(&gw))
        .unwrap()
        .device_token
        .is_none());
}

// ---------------------------------------------------------------------------
// Hostile gateways.

/// A fake gateway: accepts one connection at a time and runs `script` on it.
async fn fake<F, Fut>(script: F) -> GatewayUrl
where
    F: Fn(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let script = std::sync::Arc::new(script);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let cfg = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(64 << 20))
                    .max_frame_size(Some(64 << 20));
                if let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(cfg)).await {
                    script(ws).await;
                }
            });
        }
    });
    GatewayUrl::parse(&format!("ws://127.0.0.1:{port}")).unwrap()
}

type Fws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn challenge_and_hello(ws: &mut Fws, tick_ms: u64) -> Option<()> {
    ws.send(Message::text(
        json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n-1","ts":1}})
            .to_string(),
    ))
    .await
    .ok()?;
    let m = ws.next().await?.ok()?;
    let v: Value = serde_json::from_str(m.to_text().ok()?).ok()?;
    let id = v["id"].as_str()?.to_string();
    ws.send(Message::text(json!({"type":"res","id":id,"ok":true,"payload":{"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6","connId":"c"},"features":{"methods":["device.pair.list"],"events":[]},"auth":{"role":"operator","scopes":["operator.pairing"]},"policy":{"tickIntervalMs":tick_ms}}}).to_string())).await.ok()?;
    Some(())
}

fn spec_for(url: GatewayUrl) -> ConnectSpec {
    token_spec(url, "t", &[api::PAIRING])
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn no_challenge_and_junk_before_it() {
    let url = fake(|mut ws| async move {
        for i in 0..300 {
            let _ = ws
                .send(Message::text(if i % 2 == 0 {
                    "not json".to_string()
                } else {
                    "[[[[".repeat(10_000)
                }))
                .await;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let t0 = Instant::now();
    let e = session::connect(&spec_for(url)).await.unwrap_err();
    assert!(
        matches!(e, ConnectError::Protocol(_) | ConnectError::NoChallenge),
        "{e:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(7));
}

#[tokio::test]
async fn a_hello_that_is_not_one_is_refused() {
    let url = fake(|mut ws| async move {
        let _ = ws.send(Message::text(json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n"}}).to_string())).await;
        if let Some(Ok(m)) = ws.next().await {
            let v: Value = serde_json::from_str(m.to_text().unwrap_or("{}")).unwrap_or_default();
            let _ = ws.send(Message::text(json!({"type":"res","id":v["id"],"ok":true,"payload":{"type":"hello-ok","protocol":"four"}}).to_string())).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let e = session::connect(&spec_for(url)).await.unwrap_err();
    assert!(
        matches!(e, ConnectError::Protocol(ref m) if m.contains("hello-ok")),
        "{e:?}"
    );
}

#[tokio::test]
async fn oversize_frames_end_the_session_without_growing() {
    let url = fake(|mut ws| async move {
        challenge_and_hello(&mut ws, 30_000).await;
        // 9 MiB: over the client's 8 MiB message limit.
        let big = format!(
            r#"{{"type":"event","event":"x","payload":"{}"}}"#,
            "a".repeat(9 << 20)
        );
        let _ = ws.send(Message::text(big)).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let s = session::connect(&spec_for(url)).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), s.wait_ended())
        .await
        .unwrap();
    assert!(matches!(ended, Ended::Error(_)), "{ended:?}");
}

#[tokio::test]
async fn event_floods_are_bounded_and_answers_still_arrive() {
    let url = fake(|mut ws| async move {
        challenge_and_hello(&mut ws, 30_000).await;
        let (mut tx, mut rx) = ws.split();
        let flood = tokio::spawn(async move {
            let ev = json!({"type":"event","event":"device.pair.requested","payload":{"requestId":"r","deviceId":"d","pad":"p".repeat(1000)}}).to_string();
            for _ in 0..200_000 {
                if tx.send(Message::text(ev.clone())).await.is_err() {
                    break;
                }
            }
            // Junk of every kind, and an answer to an id nobody asked.
            for j in ["{", "{\"type\":\"res\",\"id\":\"zzz\",\"ok\":true}", "{\"type\":\"event\"}", "null", "\u{0}"] {
                let _ = tx.send(Message::text(j)).await;
            }
            let _ = tx.send(Message::Binary(vec![0u8; 1000].into())).await;
            tx
        });
        let mut tx = flood.await.unwrap();
        while let Some(Ok(m)) = rx.next().await {
            if let Ok(v) = serde_json::from_str::<Value>(m.to_text().unwrap_or("")) {
                let _ = tx.send(Message::text(json!({"type":"res","id":v["id"],"ok":true,"payload":{"pending":[],"paired":[]}}).to_string())).await;
            }
        }
    })
    .await;
    let before = rss_kib();
    let s = session::connect(&spec_for(url)).await.unwrap();
    let mut events = s.subscribe();
    // Nobody reads the events for a while: the buffer stays bounded.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut lagged = false;
    for _ in 0..3000 {
        match events.try_recv() {
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
            Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(
        lagged,
        "a reader that fell behind is told so (and re-lists)"
    );
    let v = s
        .call("device.pair.list", json!({}), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(v["pending"], json!([]));
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test]
async fn a_silent_gateway_is_noticed_by_the_tick_watchdog() {
    let url = fake(|mut ws| async move {
        challenge_and_hello(&mut ws, 1_000).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let s = session::connect(&spec_for(url)).await.unwrap();
    let t0 = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), s.wait_ended())
        .await
        .unwrap();
    assert_eq!(ended, Ended::TickTimeout);
    assert!(t0.elapsed() >= Duration::from_millis(1900));
}

#[tokio::test]
async fn unanswered_calls_time_out_and_in_flight_is_bounded() {
    let url = fake(|mut ws| async move {
        challenge_and_hello(&mut ws, 30_000).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let s = std::sync::Arc::new(session::connect(&spec_for(url)).await.unwrap());
    let e = s
        .call("device.pair.list", json!({}), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, RpcError::Timeout(_)), "{e:?}");
    let mut calls = Vec::new();
    for _ in 0..200 {
        let s = s.clone();
        calls.push(tokio::spawn(async move {
            s.call("x", json!({}), Duration::from_secs(2)).await
        }));
    }
    let mut busy = 0;
    for c in calls {
        if matches!(c.await.unwrap(), Err(RpcError::Busy)) {
            busy += 1;
        }
    }
    assert!(
        busy > 0,
        "more than {} in flight are refused",
        session::MAX_IN_FLIGHT
    );
}

#[tokio::test]
async fn plain_ws_only_to_private_hosts() {
    let u = GatewayUrl::parse("ws://8.8.8.8:18789").unwrap();
    let e = session::connect(&spec_for(u)).await.unwrap_err();
    assert!(
        matches!(e, ConnectError::Open(OpenError::Policy(_))),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------
// TLS.

async fn tls_fake(cert_der: Vec<u8>, key_der: Vec<u8>) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                ws.send(Message::text(
                    json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n"}})
                        .to_string(),
                ))
                .await
                .ok();
                if let Some(Ok(m)) = ws.next().await {
                    let v: Value =
                        serde_json::from_str(m.to_text().unwrap_or("{}")).unwrap_or_default();
                    ws.send(Message::text(json!({"type":"res","id":v["id"],"ok":true,"payload":{"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6","connId":"c"},"features":{"methods":[],"events":[]},"policy":{"tickIntervalMs":30000}}}).to_string())).await.ok();
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    port
}

fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let c = rcgen::generate_simple_self_signed(vec!["openclaw-gateway".to_string()]).unwrap();
    (c.cert.der().to_vec(), c.key_pair.serialize_der())
}

#[tokio::test]
async fn wss_pins_right_wrong_remembered_and_changed() {
    let (cert, key) = self_signed();
    let fp = tls::fingerprint_of(&cert);
    let port = tls_fake(cert, key).await;
    let url = GatewayUrl::parse(&format!("wss://127.0.0.1:{port}")).unwrap();
    // Without a pin: not trusted, the fingerprint shown.
    let e = session::connect(&spec_for(url.clone())).await.unwrap_err();
    let ConnectError::Open(OpenError::Tls(TlsRefusal::Untrusted { got, .. })) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*got, fp);
    assert!(e.to_string().contains(&tls::format_fingerprint(&fp)));
    // The right pin.
    let mut spec = spec_for(url.clone());
    spec.tls = TlsPolicy {
        explicit_pin: Some(fp),
        stored_pin: None,
    };
    let s = session::connect(&spec).await.unwrap();
    assert_eq!(s.tls_seen, Some(fp));
    s.close().await;
    // A wrong pin: refused with both fingerprints.
    let mut spec = spec_for(url.clone());
    spec.tls = TlsPolicy {
        explicit_pin: Some([9; 32]),
        stored_pin: None,
    };
    let e = session::connect(&spec).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("mismatch")
            && text.contains(&tls::format_fingerprint(&fp))
            && text.contains(&tls::format_fingerprint(&[9; 32])),
        "{text}"
    );
    // Remembered after the first verified connection; a new certificate later is refused loudly.
    let tmp = tempfile::tempdir().unwrap();
    let mut r = remote(
        url.clone(),
        Some(Shared::Token("t".into())),
        false,
        tmp.path(),
    );
    r.explicit_pin = Some(fp);
    r.connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap()
        .close()
        .await;
    assert_eq!(
        ConfigDir::at(tmp.path()).gateway(&url).unwrap().tls_pin,
        Some(fp)
    );
    r.explicit_pin = None;
    r.connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap()
        .close()
        .await;
    let (cert2, key2) = self_signed();
    let fp2 = tls::fingerprint_of(&cert2);
    let port2 = tls_fake(cert2, key2).await;
    let url2 = GatewayUrl::parse(&format!("wss://127.0.0.1:{port2}")).unwrap();
    // Same gateway key (scheme, host, port) with a changed certificate: simulate by storing the old pin for url2.
    ConfigDir::at(tmp.path())
        .remember_pin(&url2, fp, 1)
        .unwrap();
    let r2 = remote(
        url2.clone(),
        Some(Shared::Token("t".into())),
        false,
        tmp.path(),
    );
    let e = r2
        .connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap_err();
    assert!(
        e.contains("CHANGED") && e.contains(&tls::format_fingerprint(&fp2)),
        "{e}"
    );
    // The owner confirms with --tls-fingerprint: accepted and remembered.
    let mut r3 = r2.clone();
    r3.explicit_pin = Some(fp2);
    r3.connect_once(&api::scopes(&[api::PAIRING]))
        .await
        .unwrap()
        .close()
        .await;
    assert_eq!(
        ConfigDir::at(tmp.path()).gateway(&url2).unwrap().tls_pin,
        Some(fp2)
    );
}
