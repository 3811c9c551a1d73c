//! `update(&mut State, Msg) -> Vec<Effect>`: every state transition of the
//! console, pure. No I/O, no clock, no terminal. Keys are handled in
//! [`super::actions`], ticks and reloads in [`super::merge`]; the results of
//! effects and the gateway's reports here.

use super::actions::on_key;
use super::decisions;
use super::effect::{ActionError, ActionKind, Decided, Done, Effect, Event, Origin};
use super::merge::{merge_devices, merge_dm, on_tick};
use super::msg::Msg;
use super::rows::{GatewayStatus, RemoteState, RemoteStatus, SetupCode};
use super::state::{
    allow_key, dm_key, Mode, Pane, RowKey, RowStatus, SetupPopup, State, ToastLevel, HISTORY_MAX,
};
use crate::audit::{Action, Subject};
use crate::gateway::GatewayEvent;

pub fn update(s: &mut State, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    let selected_before = s.selected.clone();
    // The first read of a source puts the cursor on a row; that is no change
    // under the owner's hands.
    let first_read = match &msg {
        Msg::DmLoaded(Ok(_)) if !s.dm_loaded => Some([Pane::Dm, Pane::Allow]),
        Msg::DevicesLoaded(Ok(_)) if !s.devices_loaded => Some([Pane::Devices, Pane::Paired]),
        _ => None,
    };
    let by_owner = matches!(msg, Msg::Key(_));
    let reloaded = matches!(msg, Msg::DmLoaded(_) | Msg::DevicesLoaded(_));
    dispatch(s, msg, &mut fx);
    if !by_owner {
        for (i, p) in Pane::ALL.iter().enumerate() {
            let first = first_read.is_some_and(|ps| ps.contains(p));
            if s.selected[i] != selected_before[i] && !first {
                s.selection_changed_ms[i] = s.now_ms;
            }
        }
    }
    if reloaded {
        if matches!(s.mode, Mode::History { .. }) {
            // A decision made elsewhere may have been recorded meanwhile.
            fx.push(Effect::LoadHistory);
        }
        if s.dm_loaded && s.devices_loaded && !s.ready {
            s.ready = true;
            fx.push(Effect::Emit(Event::Ready {
                dm_pending: s.live_dm_count(),
                device_pending: s.live_device_count(),
            }));
        }
    }
    fx
}

fn dispatch(s: &mut State, msg: Msg, fx: &mut Vec<Effect>) {
    let fx = &mut *fx;
    match msg {
        Msg::Key(k) => on_key(s, k, fx),
        Msg::Tick(now) => on_tick(s, now, fx),
        Msg::DmLoaded(Ok(snap)) => merge_dm(s, snap, fx),
        Msg::DmLoaded(Err(e)) => s.dm_error = Some(e),
        Msg::DevicesLoaded(Ok(snap)) => merge_devices(s, snap, fx),
        Msg::DevicesLoaded(Err(e)) => s.devices_error = Some(e),
        Msg::Gateway(ev) => on_gateway(s, ev, fx),
        Msg::GatewayStarting(addr) => s.gateway = GatewayStatus::Starting { addr },
        Msg::Remote(st) => on_remote(s, st, fx),
        Msg::OpenClawGateway { port, reachable } => {
            s.gateway = GatewayStatus::OpenClawOwns {
                port,
                reachable: Some(reachable),
            }
        }
        Msg::ActionDone { key, kind, result } => on_action_done(s, key, kind, result, fx),
        Msg::Copied { what, result } => match result {
            // `how` says what was done: "copied to the system clipboard",
            // "sent to the terminal's clipboard (OSC 52)…".
            Ok(how) => s.toast(ToastLevel::Info, format!("{} {how}", capitalized(what))),
            Err(e) => s.toast(ToastLevel::Error, format!("Could not copy the {what}: {e}")),
        },
        Msg::SetupCodeIssued(result) => on_setup_code(s, result, fx),
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
        Msg::Recorded(Ok(rec)) => {
            if s.history_loaded {
                s.history.push(rec.clone());
                let over = s.history.len().saturating_sub(HISTORY_MAX);
                s.history.drain(..over);
            }
            fx.push(Effect::Emit(Event::DecisionRecorded { decision: rec }));
        }
        Msg::Recorded(Err(e)) => {
            if s.history_error.is_none() {
                s.toast(
                    ToastLevel::Error,
                    format!("Done, but not recorded in the decision history: {e}"),
                );
            }
            s.history_error = Some(e);
        }
        Msg::HistoryLoaded(h) => {
            let over = h.records.len().saturating_sub(HISTORY_MAX);
            s.history = h.records[over..].to_vec();
            s.history_damaged = h.damaged;
            s.history_loaded = true;
            if let Some(e) = h.errors.first() {
                s.history_error = Some(e.clone());
            }
        }
        Msg::UnknownInput(error) => fx.push(Effect::Emit(Event::InputUnknown { error })),
    }
}

/// `pairing code` → `Pairing code`.
fn capitalized(what: &str) -> String {
    let mut c = what.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn on_action_done(
    s: &mut State,
    key: RowKey,
    kind: ActionKind,
    result: Result<Done, ActionError>,
    fx: &mut Vec<Effect>,
) {
    let about = s
        .in_flight
        .iter()
        .position(|(k, ..)| *k == key)
        .map(|i| s.in_flight.remove(i));
    if let Some((_, action, subject)) = about {
        match &result {
            Ok(_) => fx.push(Effect::Record(decisions::made(action, subject))),
            Err(ActionError::Failed(why)) => fx.push(Effect::Record(Decided {
                failed: Some(why.clone()),
                ..decisions::made(action, subject)
            })),
            // Nothing was there to decide.
            Err(ActionError::Gone(_)) => {}
        }
    }
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
            fx.push(Effect::Record(decisions::made(
                Action::SetupCodeIssued,
                Subject::SetupCode {
                    url: Some(code.url.clone()),
                    expires: Some(crate::clock::format_iso_ms(code.expires_at_ms)),
                    device_id: None,
                },
            )));
            fx.push(Effect::Emit(Event::SetupCodeIssued {
                code: code.code.clone(),
                url: code.url.clone(),
                expires_at_ms: code.expires_at_ms,
            }));
            if matches!(s.mode, Mode::SetupCode(_)) {
                let qr = crate::qr::half_block_lines(&code.code).unwrap_or_default();
                s.mode = Mode::SetupCode(SetupPopup::Ready {
                    code,
                    qr,
                    as_text: false,
                });
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
        GatewayEvent::DevicePairRequested { .. } => fx.push(Effect::ReloadDevices),
        GatewayEvent::DevicePairResolved {
            request_id,
            device_id,
            decision,
        } => {
            // Approved silently (a local client), through the gateway's RPCs,
            // or elsewhere and noticed by it; whoever made it and recorded it
            // first wins (the log keeps one record per decision).
            let subject = s
                .devices
                .iter()
                .find(|r| r.item.request_id == request_id)
                .map(|r| decisions::device(&r.item))
                .or_else(|| s.paired_by_id(&device_id).map(decisions::paired))
                .unwrap_or_else(|| Subject::device(&device_id, None, Some(&request_id)));
            let action = match decision {
                crate::gateway::Decision::Approved => Action::Approve,
                crate::gateway::Decision::Rejected => Action::Reject,
            };
            fx.push(Effect::Record(Decided {
                origin: Origin::AnnouncedByGateway,
                ..decisions::made(action, subject)
            }));
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
            fx.push(Effect::Record(Decided {
                origin: Origin::Gateway,
                ..decisions::made(
                    Action::SetupCodeRedeemed,
                    Subject::SetupCode {
                        url: None,
                        expires: None,
                        device_id: Some(device_id.clone()),
                    },
                )
            }));
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
