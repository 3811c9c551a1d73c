//! The gateway source against a fake protocol-4 gateway that answers the
//! 2026.9 RPCs from memory (`device.pair.*`, `node.pair.*`,
//! `channels.pairing.*`) and sends their events: rows (with node capability
//! surfaces and DM requests), changes (events at once, DM by polling), acts
//! with the right params, and the core's keys mapping to the right acts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawpair::app::effect::{Act, DmTarget, Done, Effect};
use clawpair::app::msg::Msg;
use clawpair::app::state::{Pane, RowKey, State};
use clawpair::app::update;
use clawpair::operator::{ConfigDir, GatewayUrl, Remote, Shared};
use clawpair::runtime::source::gateway::GatewaySource;
use clawpair::runtime::source::{Changed, Source};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Fake {
    calls: Vec<(String, Value, Vec<String>)>,
    node_pending: Vec<Value>,
    dm: Vec<Value>,
}

async fn fake_v4(state: Arc<Mutex<Fake>>) -> (GatewayUrl, tokio::sync::broadcast::Sender<String>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (ev_tx, _) = tokio::sync::broadcast::channel::<String>(64);
    let evs = ev_tx.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let state = state.clone();
            let mut evs = evs.subscribe();
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                tx.send(Message::text(json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1,"capabilities":[]}}).to_string())).await.ok();
                let mut scopes: Vec<String> = vec![];
                loop {
                    tokio::select! {
                        m = rx.next() => {
                            let Some(Ok(m)) = m else { break };
                            let Ok(v) = serde_json::from_str::<Value>(m.to_text().unwrap_or("")) else { continue };
                            let id = v["id"].clone();
                            let method = v["method"].as_str().unwrap_or("").to_string();
                            let params = v["params"].clone();
                            let payload = if method == "connect" {
                                assert_eq!((params["minProtocol"].as_i64(), params["maxProtocol"].as_i64()), (Some(3), Some(4)));
                                assert!(params.get("device").is_none(), "a token operator connects without a device");
                                scopes = params["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
                                json!({"type":"hello-ok","protocol":4,"server":{"version":"2026.9.6","connId":"c"},
                                    "features":{"methods":["device.pair.list","device.pair.approve","node.pair.list","node.pair.approve","node.pair.reject","channels.pairing.list","channels.pairing.approve","channels.pairing.dismiss"],"events":[]},
                                    "auth":{"method":"token","role":"operator","scopes":scopes},"policy":{"tickIntervalMs":30000}})
                            } else {
                                let mut st = state.lock().unwrap();
                                st.calls.push((method.clone(), params.clone(), scopes.clone()));
                                match method.as_str() {
                                    "device.pair.list" => json!({"pending":[],"paired":[{"deviceId":"n1","displayName":"kitchen","roles":["node"],"scopes":[],"approvedAtMs":1,"connected":true,"tokens":[{"role":"node","scopes":[],"createdAtMs":1}]}]}),
                                    "node.pair.list" => json!({"pending": st.node_pending, "paired": []}),
                                    "node.pair.approve" => { st.node_pending.clear(); json!({"requestId": params["requestId"], "node": {"nodeId":"n1","displayName":"kitchen"}}) }
                                    "channels.pairing.list" => json!({"accounts":[],"requests": st.dm}),
                                    "channels.pairing.approve" => { st.dm.clear(); json!({"requestId": params["requestId"], "senderId":"111","notification":"not-requested","commandOwnerBootstrap":"not-requested"}) }
                                    _ => json!({}),
                                }
                            };
                            tx.send(Message::text(json!({"type":"res","id":id,"ok":true,"payload":payload}).to_string())).await.ok();
                        }
                        e = evs.recv() => {
                            let Ok(e) = e else { break };
                            tx.send(Message::text(e)).await.ok();
                        }
                    }
                }
            });
        }
    });
    (
        GatewayUrl::parse(&format!("ws://127.0.0.1:{port}")).unwrap(),
        ev_tx,
    )
}

fn surface() -> Value {
    json!({"requestId":"s1","nodeId":"n1","clientId":"node-host","clientMode":"node","displayName":"kitchen","platform":"linux","version":"2026.9.6",
        "caps":["system"],"commands":["system.run","system.which"],"requiredApproveScopes":["operator.pairing","operator.admin"],"ts":clawpair::clock::now_ms()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_changes_and_acts_through_a_protocol_4_gateway() {
    let state = Arc::new(Mutex::new(Fake::default()));
    let (url, events) = fake_v4(state.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let src = Arc::new(GatewaySource::start(Remote {
        url,
        shared: Some(Shared::Token("t".into())),
        explicit_pin: None,
        as_device: false,
        config: ConfigDir::at(tmp.path()),
    }));
    let (ctx, mut crx) = tokio::sync::mpsc::unbounded_channel();
    let _w = src.watch(
        false,
        Box::new(move |c| {
            let _ = ctx.send(c);
        }),
    );
    // Connected: the status says so (with the granted scopes), and everything is listed.
    let mut saw = (false, false, false);
    while !(saw.0 && saw.1 && saw.2) {
        match tokio::time::timeout(Duration::from_secs(5), crx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Changed::Remote(st) if st.is_connected() => {
                assert_eq!(st.protocol, Some(4));
                assert_eq!(st.server.as_deref(), Some("OpenClaw 2026.9.6"));
                assert_eq!(st.scopes, vec!["operator.pairing", "operator.admin"]);
                assert!(st
                    .line()
                    .contains("protocol 4 · connected · scopes operator.pairing, operator.admin"));
                saw.0 = true;
            }
            Changed::Devices => saw.1 = true,
            Changed::Dm => saw.2 = true,
            _ => {}
        }
    }
    // A surface request arrives: its event means "re-list now".
    state.lock().unwrap().node_pending.push(surface());
    events
        .send(
            json!({"type":"event","event":"node.pair.requested","payload":surface(),"seq":3})
                .to_string(),
        )
        .unwrap();
    loop {
        if let Changed::Devices = tokio::time::timeout(Duration::from_secs(2), crx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            break;
        }
    }
    let snap = src.clone().load_devices(0).await.unwrap();
    assert_eq!(snap.paired.len(), 1);
    let row = snap.pending.iter().find(|r| r.request_id == "s1").unwrap();
    let sf = row.surface.as_ref().unwrap();
    assert_eq!(sf.commands, vec!["system.run", "system.which"]);
    assert!(
        !row.is_expired(i64::MAX / 2),
        "a surface waits until it is decided"
    );

    // The core: `a` on that row is a node approval.
    let mut s = State::new("ws://x", clawpair::clock::now_ms());
    update(&mut s, Msg::DevicesLoaded(Ok(snap)));
    s.focus = Pane::Devices;
    // Drawn as a capability request: what it may run, who may approve it.
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 30)).unwrap();
    term.draw(|f| clawpair::ui::render(f, &s, &clawpair::ui::Theme::color()))
        .unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains("capabilities") && screen.contains("2 commands [system.run,system.which]"),
        "{screen}"
    );
    assert!(screen.contains("approve needs [operator.pairing,operator.admin]"));
    // `a` opens the approval card (its commands and scopes); `y` approves.
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
    );
    assert_eq!(fx, vec![]);
    let fx = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE)),
    );
    assert_eq!(
        fx,
        vec![Effect::Act {
            key: RowKey::Device("s1".into()),
            act: Act::ApproveNode {
                request_id: "s1".into()
            }
        }]
    );
    let done = src
        .clone()
        .act(
            Act::ApproveNode {
                request_id: "s1".into(),
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        Done::NodeApproved {
            node_id: "n1".into(),
            display_name: Some("kitchen".into())
        }
    );
    let (m, p, scopes) = state
        .lock()
        .unwrap()
        .calls
        .iter()
        .rev()
        .find(|c| c.0 == "node.pair.approve")
        .cloned()
        .unwrap();
    assert_eq!(
        (m.as_str(), p),
        ("node.pair.approve", json!({"requestId": "s1"}))
    );
    assert!(scopes.contains(&"operator.admin".to_string()));

    // DM requests: no event, found by polling within ~2 s; approved by requestId.
    state.lock().unwrap().dm.push(json!({"requestId":"q1","channel":"telegram","channelLabel":"Telegram","accountId":"work","senderId":"111","senderLabel":"telegramUserId","metadata":{"username":"alice"},"createdAt":"2026-12-01T22:31:32.480Z","lastSeenAt":"2026-12-01T22:31:32.480Z","expiresAt":"2026-12-01T23:31:32.480Z"}));
    let t0 = std::time::Instant::now();
    loop {
        if let Changed::Dm = tokio::time::timeout(Duration::from_secs(3), crx.recv())
            .await
            .unwrap()
            .unwrap()
        {
            let d = src.clone().load_dm(0).await.unwrap();
            if !d.requests.is_empty() {
                assert_eq!(d.requests[0].request_id.as_deref(), Some("q1"));
                break;
            }
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(3));
    let t = DmTarget {
        channel: "telegram".into(),
        account: Some("work".into()),
        id: "111".into(),
        code: String::new(),
        request_id: Some("q1".into()),
    };
    let done = src.clone().act(Act::ApproveDm(t), 0).await.unwrap();
    assert_eq!(
        done,
        Done::DmApproved {
            channel: "telegram".into(),
            id: "111".into()
        }
    );
    let (_, p, _) = state
        .lock()
        .unwrap()
        .calls
        .iter()
        .rev()
        .find(|c| c.0 == "channels.pairing.approve")
        .cloned()
        .unwrap();
    assert_eq!(
        p,
        json!({"channel":"telegram","accountId":"work","requestId":"q1"})
    );
}
