//! A gateway reached over WebSocket as a [`Source`]: the rows come from the
//! pairing RPCs (`device.pair.list`, `node.pair.list`, `channels.pairing.list`),
//! changes from the gateway's events (`device.pair.*`, `node.pair.*`: re-list at
//! once) and, for DM requests, which have no event, from polling every 2 s;
//! every reconnection re-lists everything, so nothing decided while offline
//! stays invisible. Acts are RPCs; one made while offline is refused at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::{Changed, Pending, Source, SourceInfo, SourceKind, Watching};
use crate::app::effect::{Act, ActionError, DmTarget, Done};
use crate::app::rows::{DeviceSnapshot, DmSnapshot, SetupCode};
use crate::operator::api::{self, CALL_TIMEOUT};
use crate::operator::session::RpcError;
use crate::operator::{Link, LinkEvent, Remote, Session};

/// How often DM requests are re-listed (they have no event).
pub const DM_POLL: Duration = Duration::from_secs(2);

pub struct GatewaySource {
    link: Link,
}

impl GatewaySource {
    /// Starts connecting (needs a tokio runtime) with the console's scopes.
    pub fn start(remote: Remote) -> GatewaySource {
        GatewaySource {
            link: Link::start(remote, api::console_scopes()),
        }
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The session, waiting a little for a first connection.
    async fn session(link: &Link) -> Result<Arc<Session>, String> {
        let mut status = link.status();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = link.session() {
                return Ok(s);
            }
            let pending = matches!(
                status.borrow().state,
                crate::app::rows::RemoteState::Connecting
            );
            if !pending {
                return Err("not connected".into());
            }
            if tokio::time::timeout_at(deadline, status.changed())
                .await
                .is_err()
            {
                return Err("not connected".into());
            }
        }
    }
}

impl Drop for GatewaySource {
    fn drop(&mut self) {
        self.link.stop();
    }
}

struct Watch(JoinHandle<()>);

impl Watching for Watch {
    fn alive(&self) -> bool {
        !self.0.is_finished()
    }
    fn how(&self) -> &'static str {
        "gateway events"
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn is_pairing_event(name: &str) -> bool {
    name.starts_with("device.pair.") || name.starts_with("node.pair.")
}

pub fn gone_or_failed(e: RpcError) -> ActionError {
    match &e {
        RpcError::Gateway(g) => {
            let m = g.message.to_lowercase();
            if m.contains("unknown requestid")
                || m.contains("unknown deviceid")
                || m.contains("unknown node pairing requestid")
                || m.contains("no longer exists")
            {
                ActionError::Gone(format!("{e} (expired or decided elsewhere)"))
            } else if api::needs_admin(&e) {
                ActionError::Failed(format!(
                    "{e}: needs operator.admin, which this console was not granted"
                ))
            } else {
                ActionError::Failed(e.to_string())
            }
        }
        _ => ActionError::Failed(e.to_string()),
    }
}

fn str_at(v: &Value, path: &str) -> Option<String> {
    v.pointer(path)
        .and_then(Value::as_str)
        .map(|s| crate::operator::wire::bounded(s, 1024))
}

async fn act(link: Link, act: Act) -> Result<Done, ActionError> {
    let Some(s) = link.session() else {
        return Err(ActionError::Failed(
            RpcError::Offline(format!(
                "not connected to {} ({})",
                link.url().display(),
                link.status_now().state_text()
            ))
            .to_string(),
        ));
    };
    act_on(s, act).await
}

/// One decision as an RPC on the session `s` (also the SQLite source's
/// device and node decisions, through OpenClaw's own gateway).
pub async fn act_on(s: Arc<Session>, act: Act) -> Result<Done, ActionError> {
    let call = |method: &'static str, params: Value| {
        let s = s.clone();
        async move {
            s.call(method, params, CALL_TIMEOUT)
                .await
                .map_err(gone_or_failed)
        }
    };
    match act {
        Act::ApproveDevice { request_id } => {
            let p = call("device.pair.approve", json!({"requestId": request_id})).await?;
            Ok(Done::DeviceApproved {
                device_id: str_at(&p, "/device/deviceId").unwrap_or_default(),
                display_name: str_at(&p, "/device/displayName"),
            })
        }
        Act::RejectDevice { request_id } => {
            let p = call("device.pair.reject", json!({"requestId": request_id})).await?;
            Ok(Done::DeviceRejected {
                device_id: str_at(&p, "/deviceId").unwrap_or_default(),
            })
        }
        Act::RemoveDevice { device_id } => {
            call("device.pair.remove", json!({"deviceId": device_id})).await?;
            Ok(Done::DeviceRemoved { device_id })
        }
        Act::ApproveNode { request_id } => {
            let p = call("node.pair.approve", json!({"requestId": request_id})).await?;
            Ok(Done::NodeApproved {
                node_id: str_at(&p, "/node/nodeId").unwrap_or_default(),
                display_name: str_at(&p, "/node/displayName"),
            })
        }
        Act::RejectNode { request_id } => {
            let p = call("node.pair.reject", json!({"requestId": request_id})).await?;
            Ok(Done::NodeRejected {
                node_id: str_at(&p, "/nodeId").unwrap_or_default(),
            })
        }
        Act::ApproveDm(t) => {
            let p = call("channels.pairing.approve", dm_params(&t)?).await?;
            Ok(Done::DmApproved {
                channel: t.channel,
                id: str_at(&p, "/senderId").unwrap_or(t.id),
            })
        }
        Act::RejectDm(t) => {
            let p = call("channels.pairing.dismiss", dm_params(&t)?).await?;
            Ok(Done::DmRejected {
                channel: t.channel,
                id: str_at(&p, "/senderId").unwrap_or(t.id),
            })
        }
        Act::RevokeAllow(_) => Err(ActionError::Failed(
            "allow-lists cannot be changed through the gateway; use clawpair or openclaw on its host".into(),
        )),
    }
}

fn dm_params(t: &DmTarget) -> Result<Value, ActionError> {
    let Some(rid) = &t.request_id else {
        return Err(ActionError::Failed(
            "this request has no gateway request id".into(),
        ));
    };
    Ok(json!({
        "channel": t.channel,
        "accountId": t.account.as_deref().unwrap_or("default"),
        "requestId": rid,
    }))
}

impl Source for GatewaySource {
    fn info(&self) -> SourceInfo {
        let url = self.link.url().display();
        SourceInfo {
            kind: SourceKind::Gateway { url: url.clone() },
            location: url,
        }
    }

    fn watch(
        &self,
        _force_poll: bool,
        changed: Box<dyn Fn(Changed) + Send + Sync>,
    ) -> Box<dyn Watching> {
        let link = self.link.clone();
        let task = tokio::spawn(async move {
            let mut events = link.subscribe();
            let mut status = link.status();
            changed(Changed::Remote(status.borrow_and_update().clone()));
            let mut poll = tokio::time::interval(DM_POLL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Ok(LinkEvent::Up) | Ok(LinkEvent::Lagged) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            changed(Changed::Devices);
                            changed(Changed::Dm);
                        }
                        Ok(LinkEvent::Event(e)) => {
                            if is_pairing_event(&e.name) {
                                changed(Changed::Devices);
                            }
                        }
                        Ok(LinkEvent::Down) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    r = status.changed() => {
                        if r.is_err() {
                            break;
                        }
                        changed(Changed::Remote(status.borrow_and_update().clone()));
                    }
                    _ = poll.tick() => {
                        if link.session().is_some_and(|s| s.hello.has_method("channels.pairing.list")) {
                            changed(Changed::Dm);
                        }
                    }
                }
            }
        });
        Box::new(Watch(task))
    }

    fn load_dm(self: Arc<Self>, _now_ms: i64) -> Pending<Result<DmSnapshot, String>> {
        let link = self.link.clone();
        Box::pin(async move {
            let s = Self::session(&link).await?;
            if !s.hello.has_method("channels.pairing.list") {
                return Ok(DmSnapshot {
                    unavailable: Some(format!(
                        "{} has no DM pairing RPCs (channels.pairing.*, OpenClaw 2026.7+): DM codes are approved on the gateway host (clawpair pairing / openclaw pairing)",
                        s.hello.server_label()
                    )),
                    ..DmSnapshot::default()
                });
            }
            let list = s
                .call("channels.pairing.list", json!({}), CALL_TIMEOUT)
                .await
                .map_err(|e| format!("DM requests: {e}"))?;
            Ok(api::dm_snapshot(&list))
        })
    }

    fn load_devices(self: Arc<Self>, _now_ms: i64) -> Pending<Result<DeviceSnapshot, String>> {
        let link = self.link.clone();
        Box::pin(async move {
            let s = Self::session(&link).await?;
            let list = s
                .call("device.pair.list", json!({}), CALL_TIMEOUT)
                .await
                .map_err(|e| format!("devices: {e}"))?;
            let nodes = if s.hello.has_method("node.pair.list") {
                s.call("node.pair.list", json!({}), CALL_TIMEOUT).await.ok()
            } else {
                None
            };
            Ok(api::device_snapshot(&list, nodes.as_ref()))
        })
    }

    fn act(self: Arc<Self>, a: Act, _now_ms: i64) -> Pending<Result<Done, ActionError>> {
        Box::pin(act(self.link.clone(), a))
    }

    fn issue_setup_code(
        self: Arc<Self>,
        _listening_port: Option<u16>,
        _now_ms: i64,
    ) -> Pending<Result<(SetupCode, Option<String>), String>> {
        let link = self.link.clone();
        Box::pin(async move {
            let s = link
                .session()
                .ok_or_else(|| "offline: not connected to the gateway".to_string())?;
            if s.hello.protocol < 4 {
                return Err("a protocol-3 gateway's setup codes carry its shared token: make one on the gateway host (clawpair setup-code, openclaw qr)".into());
            }
            let p = s
                .call(
                    "device.pair.setupCode",
                    json!({"bootstrapProfile": "node"}),
                    CALL_TIMEOUT,
                )
                .await
                .map_err(|e| e.to_string())?;
            let code = str_at(&p, "/setupCode").ok_or("the gateway sent no setup code")?;
            Ok((
                SetupCode {
                    code,
                    url: str_at(&p, "/gatewayUrl").unwrap_or_default(),
                    expires_at_ms: p
                        .get("expiresAtMs")
                        .and_then(Value::as_i64)
                        .unwrap_or(crate::clock::now_ms() + 600_000),
                },
                None,
            ))
        })
    }
}
