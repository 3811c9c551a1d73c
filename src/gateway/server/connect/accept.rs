//! The answer to the pairing job's outcome: `hello-ok` with the device
//! token, or the refusal (2026.9.6's `PAIRING_REQUIRED` answers).

use super::*;

/// The answer to the pairing job's outcome: `hello-ok` with the device token,
/// or the refusal (announcing a new request to pairing operators).
pub(super) async fn accept(
    hub: &Hub,
    o: &Offer,
    device: &DeviceParams,
    kind: AuthKind,
    outcome: Outcome,
    peer: &Peer,
) -> Result<Session, Failure> {
    match outcome {
        Outcome::AuthFailed(reason) => {
            tracing::debug!("device token auth failed: {reason}");
            let failure = if matches!(kind, AuthKind::DeviceToken { explicit: true, .. }) {
                AuthFailure::DeviceTokenMismatch
            } else {
                AuthFailure::TokenMismatch
            };
            Err(unauthorized(failure, o, peer))
        }
        Outcome::TooManyPending => Err(Failure {
            error: ErrorShape::new(
                "UNAVAILABLE",
                "too many pending pairing requests from this address",
            )
            .retry_after(PENDING_TTL_MS as u64),
            close_code: 1008,
            close_reason: None,
            counts_as_failure: true,
        }),
        Outcome::PairingRequired {
            request_id,
            reason,
            created,
            request,
            approved,
        } => {
            hub.note_pending(peer.ip, request_id.clone());
            if let AuthKind::Setup(tok) = &kind {
                let (paths, tok, rid) = (hub.paths.clone(), tok.clone(), request_id.clone());
                let _ =
                    tokio::task::spawn_blocking(move || setup::note_request(&paths, &tok, &rid))
                        .await;
            }
            if created {
                hub.broadcast("device.pair.requested", request, Audience::Pairing);
                hub.emit(GatewayEvent::DevicePairRequested {
                    request_id: request_id.clone(),
                    device_id: device.id.clone(),
                });
            }
            match o.d {
                Dialect::V3 => Err(Failure {
                    error: ErrorShape::new("NOT_PAIRED", "pairing required").with_details(json!({
                        "code": "PAIRING_REQUIRED",
                        "requestId": request_id,
                        "reason": reason.as_str(),
                    })),
                    close_code: 1008,
                    close_reason: None,
                    counts_as_failure: false,
                }),
                Dialect::V4 => {
                    // 2026.9.6 asks a node that came with a setup code to
                    // retry by itself, so it connects once approved.
                    let retry = matches!(kind, AuthKind::Setup(_))
                        && reason == PairingReason::NotPaired
                        && o.p.role() == "node"
                        && o.p.scopes.is_empty()
                        && approved.is_none();
                    Err(PairingRequiredV4 {
                        request_id: &request_id,
                        reason,
                        device_id: &device.id,
                        role: o.p.role(),
                        scopes: &o.p.scopes,
                        retry,
                        approved: approved.as_ref(),
                    }
                    .failure())
                }
            }
        }
        Outcome::Accepted {
            token,
            silently_approved,
        } => {
            if let Some(rid) = silently_approved {
                announce_resolved(hub, &rid, &device.id, Decision::Approved, now()).await;
            }
            let granted = Granted {
                method: kind.method(),
                device_id: Some(device.id.clone()),
                device_caller: matches!(kind, AuthKind::DeviceToken { .. }),
                token: Some(token),
                scopes: o.p.scopes.clone(),
            };
            let mut s = hello_ok(hub, &o.p, o.d, granted);
            if let AuthKind::Setup(t) = kind {
                s.setup_token_used = Some(t);
            }
            Ok(s)
        }
    }
}

/// The 2026.9.6 requirement text of a pairing reason.
fn requirement(reason: PairingReason) -> &'static str {
    match reason {
        PairingReason::NotPaired => "device is not approved yet",
        PairingReason::RoleUpgrade => "device is asking for a higher role than currently approved",
        PairingReason::ScopeUpgrade => "device is asking for more scopes than currently approved",
        PairingReason::MetadataUpgrade => "device identity changed and must be re-approved",
    }
}

/// The 2026.9.6 remediation hint of a pairing reason.
fn remediation_hint(reason: PairingReason) -> &'static str {
    match reason {
        PairingReason::NotPaired => "Approve this device from the pending pairing requests.",
        PairingReason::RoleUpgrade => {
            "Review the requested role upgrade, then approve the pending request."
        }
        PairingReason::ScopeUpgrade => {
            "Review the requested scopes, then approve the pending upgrade."
        }
        PairingReason::MetadataUpgrade => {
            "Review the refreshed device details, then approve the pending request."
        }
    }
}

/// What a protocol-4 `pairing required` answer says.
struct PairingRequiredV4<'a> {
    request_id: &'a str,
    reason: PairingReason,
    device_id: &'a str,
    role: &'a str,
    scopes: &'a [String],
    /// The client retries by itself (`wait_then_retry`, `pauseReconnect:false`).
    retry: bool,
    approved: Option<&'a (Vec<String>, Vec<String>)>,
}

impl PairingRequiredV4<'_> {
    /// `NOT_PAIRED` with 2026.9.6's message and details (in its key order,
    /// empty values left out) and the close reason `<message> (requestId: <id>)`.
    fn failure(&self) -> Failure {
        let message = format!("pairing required: {}", requirement(self.reason));
        let mut d = Map::new();
        d.insert("code".into(), json!("PAIRING_REQUIRED"));
        d.insert("reason".into(), json!(self.reason.as_str()));
        d.insert("requestId".into(), json!(self.request_id));
        d.insert(
            "remediationHint".into(),
            json!(remediation_hint(self.reason)),
        );
        if self.retry {
            d.insert("recommendedNextStep".into(), json!("wait_then_retry"));
            d.insert("retryable".into(), json!(true));
            d.insert("pauseReconnect".into(), json!(false));
        }
        d.insert("deviceId".into(), json!(self.device_id));
        d.insert("requestedRole".into(), json!(self.role));
        if !self.scopes.is_empty() {
            d.insert("requestedScopes".into(), json!(self.scopes));
        }
        if let Some((roles, scopes)) = self.approved {
            if !roles.is_empty() {
                d.insert("approvedRoles".into(), json!(roles));
            }
            if !scopes.is_empty() {
                d.insert("approvedScopes".into(), json!(scopes));
            }
        }
        Failure {
            close_reason: Some(format!("{message} (requestId: {})", self.request_id)),
            error: ErrorShape::new("NOT_PAIRED", message).with_details(Value::Object(d)),
            close_code: 1008,
            counts_as_failure: false,
        }
    }
}
