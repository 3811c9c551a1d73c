//! `update(&mut State, Msg) -> Vec<Effect>`: every state transition of the
//! console, pure. No I/O, no clock, no terminal. Keys are handled in
//! [`super::actions`], ticks and reloads in [`super::merge`]; the results of
//! effects and the gateway's reports here.

use super::actions::on_key;
use super::effect::{ActionError, ActionKind, Done, Effect, Event};
use super::merge::{merge_devices, merge_dm, on_tick};
use super::msg::Msg;
use super::rows::{GatewayStatus, RemoteState, RemoteStatus, SetupCode};
use super::state::{allow_key, dm_key, Mode, RowKey, RowStatus, SetupPopup, State, ToastLevel};
use crate::gateway::GatewayEvent;

pub fn update(s: &mut State, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(k) => on_key(s, k, &mut fx),
        Msg::Tick(now) => on_tick(s, now, &mut fx),
        Msg::DmLoaded(Ok(snap)) => merge_dm(s, snap, &mut fx),
        Msg::DmLoaded(Err(e)) => s.dm_error = Some(e),
        Msg::DevicesLoaded(Ok(snap)) => merge_devices(s, snap, &mut fx),
        Msg::DevicesLoaded(Err(e)) => s.devices_error = Some(e),
        Msg::Gateway(ev) => on_gateway(s, ev, &mut fx),
        Msg::GatewayStarting(addr) => s.gateway = GatewayStatus::Starting { addr },
        Msg::Remote(st) => on_remote(s, st, &mut fx),
        Msg::ActionDone { key, kind, result } => on_action_done(s, key, kind, result, &mut fx),
        Msg::Copied { what, result } => match result {
            Ok(path) => s.toast(ToastLevel::Info, format!("Copied {what} ({path})")),
            Err(e) => s.toast(ToastLevel::Error, format!("Could not copy {what}: {e}")),
        },
        Msg::SetupCodeIssued(result) => on_setup_code(s, result, &mut fx),
        Msg::TaskFailed(e) => {
            s.task_error = Some(e.clone());
            s.toast(ToastLevel::Error, e);
        }
        Msg::Info(t) => s.toast(ToastLevel::Info, t),
        Msg::RequestSetupCode => fx.push(Effect::IssueSetupCode),
        Msg::Shutdown => {
            s.quit = true;
            fx.push(Effect::Quit);
        }
    }
    fx
}

fn on_action_done(
    s: &mut State,
    key: RowKey,
    kind: ActionKind,
    result: Result<Done, ActionError>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(done) => {
            let before = s.selection_indices();
            let approved = kind == ActionKind::Approve;
            match &key {
                RowKey::Dm {
                    channel,
                    account,
                    id,
                } => {
                    let (channel, account, id) = (channel.clone(), account.clone(), id.clone());
                    s.dm.retain(|r| dm_key(&r.item) != key);
                    fx.push(Effect::Emit(if approved {
                        Event::DmApproved {
                            channel,
                            account,
                            id,
                            by: "console",
                        }
                    } else {
                        Event::DmRejected {
                            channel,
                            account,
                            id,
                            by: "console",
                        }
                    }));
                }
                RowKey::Device(request_id) => {
                    let device_id = s
                        .devices
                        .iter()
                        .find(|r| &r.item.request_id == request_id)
                        .map(|r| r.item.device_id.clone())
                        .unwrap_or_default();
                    s.devices.retain(|r| &r.item.request_id != request_id);
                    let request_id = request_id.clone();
                    fx.push(Effect::Emit(if approved {
                        Event::DeviceApproved {
                            request_id,
                            device_id,
                            by: "console",
                        }
                    } else {
                        Event::DeviceRejected {
                            request_id,
                            device_id,
                            by: "console",
                        }
                    }));
                }
                RowKey::Paired(id) => s.paired.retain(|r| &r.item.device_id != id),
                RowKey::Allow { .. } => s.allow.retain(|r| allow_key(&r.item) != key),
            }
            s.restore_selections(before);
            s.toast(ToastLevel::Info, done.message());
        }
        Err(e) => {
            s.set_status(&key, RowStatus::Failed(e.to_string()));
            s.toast(ToastLevel::Error, format!("Not {}: {e}", kind.verb()));
        }
    }
}

/// The remote connection's new state: kept for the status line, announced
/// when its kind (or its detail) changed, toasted when it is lost or refused.
fn on_remote(s: &mut State, st: RemoteStatus, fx: &mut Vec<Effect>) {
    let (kind, detail) = remote_kind(&st.state);
    let changed = match &s.remote {
        Some(old) => remote_kind(&old.state) != (kind, detail.clone()) || old.scopes != st.scopes,
        None => true,
    };
    if changed {
        fx.push(Effect::Emit(Event::RemoteStatus {
            url: st.url.clone(),
            state: kind,
            detail: detail.clone(),
            server: st.server.clone(),
            protocol: st.protocol,
            scopes: st.scopes.clone(),
        }));
        let was_connected = s.remote.as_ref().is_some_and(|r| r.is_connected());
        let was_lost = s
            .remote
            .as_ref()
            .is_some_and(|r| matches!(r.state, RemoteState::Reconnecting { .. }));
        match &st.state {
            RemoteState::Connected if was_lost => {
                s.toast(ToastLevel::Info, "Reconnected; everything re-listed")
            }
            RemoteState::Reconnecting { reason, .. } if was_connected => s.toast(
                ToastLevel::Error,
                format!("Lost the gateway ({reason}); reconnecting"),
            ),
            RemoteState::PairingRequired { .. } => fx.push(Effect::Notify(
                "This console is waiting for approval".into(),
            )),
            _ => {}
        }
    }
    s.remote = Some(st);
}

/// A state's name in the headless stream, and its detail.
fn remote_kind(st: &RemoteState) -> (&'static str, Option<String>) {
    match st {
        RemoteState::Connecting => ("connecting", None),
        RemoteState::Connected => ("connected", None),
        RemoteState::Reconnecting { reason, .. } => ("reconnecting", Some(reason.clone())),
        RemoteState::Unauthorized { reason, hint } => {
            ("unauthorized", Some(format!("{reason} — {hint}")))
        }
        RemoteState::PairingRequired { request_id, .. } => {
            ("pairing_required", Some(request_id.clone()))
        }
        RemoteState::ProtocolMismatch { reason } => ("protocol_mismatch", Some(reason.clone())),
        RemoteState::TlsRefused { reason } => ("tls_refused", Some(reason.clone())),
    }
}

fn on_setup_code(s: &mut State, result: Result<SetupCode, String>, fx: &mut Vec<Effect>) {
    match result {
        Ok(code) => {
            s.setup_expires_ms = Some(code.expires_at_ms);
            fx.push(Effect::Emit(Event::SetupCodeIssued {
                code: code.code.clone(),
                url: code.url.clone(),
                expires_at_ms: code.expires_at_ms,
            }));
            if matches!(s.mode, Mode::SetupCode(_)) {
                let qr = crate::qr::half_block_lines(&code.code).unwrap_or_default();
                s.mode = Mode::SetupCode(SetupPopup::Ready { code, qr });
            }
        }
        Err(e) => {
            if matches!(s.mode, Mode::SetupCode(_)) {
                s.mode = Mode::SetupCode(SetupPopup::Failed(e.clone()));
            }
            fx.push(Effect::Emit(Event::SetupCodeRefused { reason: e.clone() }));
            s.toast(ToastLevel::Error, format!("No setup code: {e}"));
        }
    }
}

fn on_gateway(s: &mut State, ev: GatewayEvent, fx: &mut Vec<Effect>) {
    match ev {
        GatewayEvent::Listening {
            addr,
            tls_fingerprint,
        } => {
            s.gateway = GatewayStatus::Listening {
                addr: addr.to_string(),
            };
            s.gateway_tls = tls_fingerprint.clone();
            fx.push(Effect::Emit(Event::GatewayListening {
                addr: addr.to_string(),
                tls_fingerprint,
            }));
        }
        GatewayEvent::BindFailed { addr, error } => {
            s.toast(
                ToastLevel::Error,
                format!("Gateway port busy ({addr}); working on the files only"),
            );
            fx.push(Effect::Emit(Event::GatewayBindFailed {
                addr: addr.clone(),
                error: error.clone(),
            }));
            s.gateway = GatewayStatus::PortBusy { addr, error };
        }
        GatewayEvent::DevicePairRequested { .. } | GatewayEvent::DevicePairResolved { .. } => {
            fx.push(Effect::ReloadDevices);
        }
        GatewayEvent::DeviceConnected {
            device_id,
            role,
            remote_addr,
        } => {
            s.online.insert(device_id.clone());
            s.closed_by_gateway.remove(&device_id);
            fx.push(Effect::Emit(Event::DeviceConnected {
                device_id,
                role,
                remote_addr,
            }));
        }
        GatewayEvent::DeviceClosed {
            device_id,
            role,
            code,
            reason,
        } => {
            s.toast(
                ToastLevel::Info,
                format!(
                    "Device {} ({role}) disconnected by the gateway: {code} {reason}",
                    crate::devices::model::short_fingerprint(&device_id)
                ),
            );
            s.closed_by_gateway
                .insert(device_id.clone(), reason.clone());
            fx.push(Effect::Emit(Event::DeviceClosed {
                device_id,
                role,
                code,
                reason,
            }));
            fx.push(Effect::ReloadDevices);
        }
        GatewayEvent::DeviceDisconnected { device_id } => {
            s.online.remove(&device_id);
            fx.push(Effect::Emit(Event::DeviceDisconnected { device_id }));
        }
        GatewayEvent::SetupCodeUsed { device_id } => {
            s.toast(
                ToastLevel::Info,
                format!(
                    "Setup code used by device {}",
                    crate::devices::model::short_fingerprint(&device_id)
                ),
            );
            fx.push(Effect::Emit(Event::SetupCodeUsed { device_id }));
            fx.push(Effect::ReloadDevices);
        }
        GatewayEvent::Stopped => {
            s.gateway = GatewayStatus::Stopped;
            s.online.clear();
            fx.push(Effect::Emit(Event::GatewayStopped));
        }
    }
}
