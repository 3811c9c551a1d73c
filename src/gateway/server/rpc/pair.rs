//! `device.pair.*`: list, approve/reject, remove and rename, with each
//! dialect's policy.

use super::*;

/// A paired device as `device.pair.list` shows it in protocol 4: redacted,
/// with `lastSeenAtMs`/`lastSeenReason` (when seen since the gateway started)
/// and `connected` before the token summaries, as in 2026.9.6.
fn device_view_v4(device: &PairedDevice, presence: Option<&HashMap<String, (i64, bool)>>) -> Value {
    let mut m = match payload::redact_device(device) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // 2026.9.6 records `scopes: []` for a node; the 2026.2.26 files leave it out.
    if !m.contains_key("scopes") {
        m.insert("scopes".into(), json!([]));
    }
    let tokens = m.shift_remove("tokens");
    if let Some(presence) = presence {
        let seen = presence.get(&device.device_id);
        if let Some((at, _)) = seen {
            m.insert("lastSeenAtMs".into(), json!(at));
            m.insert("lastSeenReason".into(), json!("connect"));
        }
        m.insert("connected".into(), json!(seen.is_some_and(|(_, c)| *c)));
    }
    m.insert("tokens".into(), tokens.unwrap_or_else(|| json!([])));
    Value::Object(m)
}

/// `device.pair.list`: pending requests and paired devices, tokens redacted.
/// Protocol 4: a device caller without admin sees only its own device.
pub(super) async fn pair_list(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    params_of(c.texts(), "device.pair.list", params, &[], &[])?;
    let store = hub.store.clone();
    if !c.v4() {
        return match tokio::task::spawn_blocking(move || store.list_payload(now())).await {
            Ok(r) => r.map_err(store_error),
            Err(_) => Err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
        };
    }
    let st = match tokio::task::spawn_blocking(move || store.load(now())).await {
        Ok(r) => r.map_err(store_error)?,
        Err(_) => return Err(ErrorShape::new("UNAVAILABLE", "device store unavailable")),
    };
    let own = |id: &str| !c.limited() || c.device_id.as_deref() == Some(id);
    let presence: HashMap<String, (i64, bool)> = hub
        .presence_list()
        .into_iter()
        .map(|p| (p.device_id, (p.last_seen_ms, p.connected)))
        .collect();
    let pending: Vec<Value> = st
        .pending_newest_first()
        .into_iter()
        .filter(|p| own(&p.device_id))
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    let paired: Vec<Value> = st
        .paired_newest_first()
        .into_iter()
        .filter(|d| own(&d.device_id))
        .map(|d| device_view_v4(d, Some(&presence)))
        .collect();
    Ok(json!({"pending": pending, "paired": paired}))
}

/// Whether a pending request asks for a role other than `operator`.
fn non_operator_request(p: &PendingRequest) -> bool {
    p.role.iter().chain(p.roles.iter().flatten()).any(|r| {
        let r = r.trim();
        !r.is_empty() && r != "operator"
    })
}

/// Whether a paired device holds a role other than `operator`.
fn non_operator_device(d: &PairedDevice) -> bool {
    d.all_roles()
        .iter()
        .chain(d.tokens.iter().flat_map(|t| t.iter().map(|(r, _)| r)))
        .any(|r| {
            let r = r.trim();
            !r.is_empty() && r != "operator"
        })
}

/// Protocol 4's approval policy: admin for non-operator requests and for
/// unknown ids; a device caller only for its own request; an operator
/// request's scopes within the caller's (`missing scope: …`).
fn may_approve(st: &DeviceState, c: &Caller, rid: &str) -> Result<(), Refused> {
    const DENIED: &str = "device pairing approval denied";
    let Some(p) = st.pending_by_id(rid) else {
        if c.admin {
            return Ok(()); // approve answers `unknown requestId`
        }
        return Err(Refused::Policy(DENIED.into()));
    };
    if !c.admin {
        if c.device_id.as_deref().is_some_and(|d| d != p.device_id) {
            return Err(Refused::Policy(DENIED.into()));
        }
        if non_operator_request(p) {
            return Err(Refused::Policy(DENIED.into()));
        }
        let wanted = p.scopes.clone().unwrap_or_default();
        if let Some(s) = wanted
            .iter()
            .find(|s| !scopes_cover("operator", &c.scopes, std::slice::from_ref(*s)))
        {
            return Err(Refused::Policy(format!("missing scope: {s}")));
        }
    }
    Ok(())
}

/// Protocol 4's rejection policy: a device caller without admin only for its own request.
fn may_reject(st: &DeviceState, c: &Caller, rid: &str) -> Result<(), Refused> {
    const DENIED: &str = "device pairing rejection denied";
    if !c.limited() {
        return Ok(());
    }
    match st.pending_by_id(rid) {
        Some(p) if c.device_id.as_deref() == Some(p.device_id.as_str()) => Ok(()),
        _ => Err(Refused::Policy(DENIED.into())),
    }
}

/// `device.pair.approve` / `device.pair.reject`, then `device.pair.resolved`.
pub(super) async fn pair_decide(
    hub: &Arc<Hub>,
    c: &Caller,
    method: &str,
    params: Option<&Value>,
    decision: Decision,
) -> Result<Value, ErrorShape> {
    let o = params_of(c.texts(), method, params, &["requestId"], &[])?;
    let rid = string_param(&o, "requestId");
    let known = hub.known_pending();
    let policy = c.v4().then(|| Caller {
        d: c.d,
        scopes: c.scopes.clone(),
        admin: c.admin,
        device_id: c.device_id.clone(),
        node_id: c.node_id.clone(),
    });
    let v4 = c.v4();
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                match decision {
                    Decision::Approved => may_approve(st, c, &rid)?,
                    Decision::Rejected => may_reject(st, c, &rid)?,
                }
            }
            let res = match decision {
                Decision::Approved => st.approve(&rid, crate::devices::new_token(), t).map(|a| {
                    let reply = if v4 {
                        json!({"requestId": a.request.request_id, "device": device_view_v4(&a.device, None)})
                    } else {
                        payload::approve_payload(&a)
                    };
                    (reply, a.request)
                }),
                Decision::Rejected => st.reject(&rid).map(|r| (payload::reject_payload(&r), r)),
            }?;
            known.remove(&rid);
            Ok((res, t))
        })
        .await;
    let ((reply, request), t) = refused(r)?;
    if v4 && decision == Decision::Rejected {
        // A rejection also revokes the setup tokens bound to that device.
        let (paths, d) = (hub.paths.clone(), request.device_id.clone());
        let _ = tokio::task::spawn_blocking(move || {
            setup::void_for_device(&paths, &d, "rejected", now())
        })
        .await;
    }
    announce_resolved(hub, &request.request_id, &request.device_id, decision, t).await;
    Ok(reply)
}

/// Protocol 4's management policy for remove and rename: a device caller
/// without admin only for its own device, and not for one with a
/// non-operator role.
fn may_manage(st: &DeviceState, c: &Caller, target: &str, denied: &str) -> Result<(), Refused> {
    if c.cross_device(target) {
        return Err(Refused::Policy(denied.into()));
    }
    if c.limited() && st.paired_by_id(target).is_some_and(non_operator_device) {
        return Err(Refused::Policy(denied.into()));
    }
    Ok(())
}

/// `device.pair.remove`; protocol 4 also drops the device's pending requests.
/// The device's connections are closed.
pub(super) async fn pair_remove(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    let o = params_of(c.texts(), "device.pair.remove", params, &["deviceId"], &[])?;
    let did = string_param(&o, "deviceId");
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, _| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage(st, c, &did, "device pairing removal denied")?;
            }
            let removed = st.remove(&did)?;
            if policy.is_some() {
                st.pending.retain(|p| p.device_id != did);
            }
            Ok((removed, stale_of(st)))
        })
        .await;
    let (removed, stale) = refused(r)?;
    hub.kick(&stale);
    Ok(payload::remove_payload(&removed))
}

/// `device.pair.rename` (protocol 4): sets `operatorLabel` (kept in
/// `paired.json` beside the 2026.2.26 keys) and sends `device.pair.changed`.
pub(super) async fn pair_rename(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    let t = c.texts();
    let o = params_of(t, "device.pair.rename", params, &["deviceId", "label"], &[])?;
    let label_raw = o["label"].as_str().unwrap_or_default();
    if label_raw.chars().count() > 64 {
        return Err(ErrorShape::invalid(format!(
            "invalid device.pair.rename params: {}",
            t.too_long("/label", 64)
        )));
    }
    let label = label_raw.trim().to_string();
    if label.is_empty() {
        return Err(ErrorShape::invalid("label required"));
    }
    let did = string_param(&o, "deviceId");
    let policy = caller_copy(c);
    let l = label.clone();
    let r = hub
        .worker
        .run(move |st, _| -> Result<_, Refused> {
            may_manage(st, &policy, &did, "device pairing rename denied")?;
            let d = st
                .paired
                .iter_mut()
                .find(|d| d.device_id == did)
                .ok_or_else(|| {
                    StoreError::NotFound(crate::devices::state::UNKNOWN_DEVICE.into())
                })?;
            d.extra.insert("operatorLabel".into(), json!(l));
            Ok(did)
        })
        .await;
    let did = refused(r)?;
    hub.broadcast("device.pair.changed", json!({}), Audience::Pairing);
    Ok(json!({"deviceId": did, "label": label}))
}
