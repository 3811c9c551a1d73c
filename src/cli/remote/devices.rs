//! `clawpair devices … --url`: the device verbs as RPCs, recorded in the history.

use serde_json::{json, Value};

use super::*;
use crate::audit::{Action, Place, Subject};
use crate::cli::table::{self};
use crate::cli::{CliResult, Failure};
use crate::devices::PendingRequest;
use crate::jsonfmt;
use crate::operator::api::PAIRING;
use crate::operator::Remote;

/// `clawpair devices … --url` (or through an OpenClaw 2026.7+ state dir's own
/// gateway); each decision is recorded for `place`.
pub fn devices(r: Remote, place: Place, cmd: crate::cli::devices::DevicesCommand) -> CliResult {
    use crate::cli::devices::{render_list, DevicesCommand as D, NOTHING_TO_APPROVE};
    block_on(async move {
        match cmd {
            D::List { json } => {
                let p = call_once(&r, &[PAIRING], "device.pair.list", json!({})).await?;
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&render_list(
                        &p,
                        crate::clock::now_ms(),
                        table::target_width(),
                    ))
                }
            }
            D::Approve {
                request_id,
                latest,
                json,
                ..
            } => {
                let id = match request_id {
                    Some(id) => id,
                    None => {
                        let p = call_once(&r, &[PAIRING], "device.pair.list", json!({})).await?;
                        if latest {
                            newest_pending(&p).ok_or_else(|| Failure::error(NOTHING_TO_APPROVE))?
                        } else {
                            // As the local verb (and OpenClaw 2026.9): only the
                            // one pending request; with several, none.
                            let now = crate::clock::now_ms();
                            let pending = pending_requests(&p);
                            let refs: Vec<&PendingRequest> = pending.iter().collect();
                            let one = crate::cli::devices::only_one(&refs, now)?;
                            eprintln!(
                                "clawpair: approving the only pending request: {}",
                                crate::cli::devices::pending_summary(one, now)
                            );
                            one.request_id.clone()
                        }
                    }
                };
                let p = call_with_admin_retry(&r, "device.pair.approve", json!({"requestId": id}))
                    .await?;
                let dev = p.get("device").cloned().unwrap_or(Value::Null);
                let mut subject = device_subject(&dev, p.get("requestId"));
                if let Subject::Device { roles, scopes, .. } = &mut subject {
                    *roles = strs(&dev, "roles");
                    *scopes = strs(&dev, "scopes");
                }
                crate::cli::record_at(&place, Action::Approve, subject);
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    let dev = p.get("device").cloned().unwrap_or(Value::Null);
                    emit(&format!(
                        "Approved {} ({})\n",
                        field(&dev, "deviceId"),
                        field(&p, "requestId")
                    ))
                }
            }
            D::Reject {
                request_id, json, ..
            } => {
                let p = call_with_admin_retry(
                    &r,
                    "device.pair.reject",
                    json!({"requestId": request_id}),
                )
                .await?;
                crate::cli::record_at(
                    &place,
                    Action::Reject,
                    device_subject(&p, p.get("requestId")),
                );
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&format!("Rejected {}\n", field(&p, "deviceId")))
                }
            }
            D::Remove {
                device_id, json, ..
            } => {
                let p =
                    call_with_admin_retry(&r, "device.pair.remove", json!({"deviceId": device_id}))
                        .await?;
                crate::cli::record_at(&place, Action::Remove, device_subject(&p, None));
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&format!("Removed {}\n", field(&p, "deviceId")))
                }
            }
            D::Rotate {
                device,
                role,
                scopes,
                ..
            } => {
                let mut params = json!({"deviceId": device, "role": role});
                if !scopes.is_empty() {
                    params["scopes"] = json!(scopes);
                }
                let p = call_with_admin_retry(&r, "device.token.rotate", params).await?;
                crate::cli::record_at(&place, Action::Rotate, token_subject(&p));
                emit(&jsonfmt::to_pretty_nl(&p))
            }
            D::Revoke { device, role, .. } => {
                let p = call_with_admin_retry(
                    &r,
                    "device.token.revoke",
                    json!({"deviceId": device, "role": role}),
                )
                .await?;
                crate::cli::record_at(&place, Action::Revoke, token_subject(&p));
                emit(&jsonfmt::to_pretty_nl(&p))
            }
        }
    })
}

/// The pending requests of a `device.pair.list` payload, newest first (the
/// entries have the shape of `pending.json`'s; one that does not parse is left out).
fn pending_requests(p: &Value) -> Vec<PendingRequest> {
    let mut v: Vec<PendingRequest> = p
        .get("pending")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter_map(|r| serde_json::from_value(r.clone()).ok())
        .collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.ts));
    v
}

/// The device an RPC answer names (`deviceId`, `displayName`), for the
/// decision history.
pub(super) fn device_subject(v: &Value, request_id: Option<&Value>) -> Subject {
    let g = |k: &str| v.get(k).and_then(Value::as_str);
    Subject::device(
        g("deviceId").or(g("nodeId")).unwrap_or(""),
        g("displayName"),
        request_id.and_then(Value::as_str),
    )
}

/// A token rotation or revocation answer (`{deviceId, role, scopes?}`).
fn token_subject(v: &Value) -> Subject {
    let mut s = device_subject(v, None);
    if let Subject::Device { role, scopes, .. } = &mut s {
        *role = v.get("role").and_then(Value::as_str).map(str::to_string);
        *scopes = strs(v, "scopes");
    }
    s
}

pub(super) use crate::operator::api::strs;

/// The newest pending request of a `device.pair.list` payload.
fn newest_pending(p: &Value) -> Option<String> {
    p.get("pending")?
        .as_array()?
        .iter()
        .max_by_key(|r| r.get("ts").and_then(Value::as_i64).unwrap_or(0))
        .and_then(|r| r.get("requestId"))
        .and_then(Value::as_str)
        .map(str::to_string)
}
