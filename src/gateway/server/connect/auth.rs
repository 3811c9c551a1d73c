//! Checks #7 and #8: the device's signature over this connection's nonce,
//! then authentication (shared token, setup token, device token).

use super::*;

/// Check #7: the id is the key's, the signature is fresh, signs this
/// connection's nonce and verifies. Returns the public key (base64url).
pub(super) fn device_checks(
    o: &Offer,
    device: &DeviceParams,
    peer: &Peer,
) -> Result<String, Failure> {
    let d = o.d;
    let raw = crypto::decode_public_key(&device.public_key);
    if raw.map(|r| crypto::device_id_for(&r)).as_deref() != Some(device.id.as_str()) {
        return Err(device_invalid(
            d,
            "device identity mismatch",
            "device-id-mismatch",
        ));
    }
    if (now() - device.signed_at).abs() > 120_000 {
        return Err(device_invalid(
            d,
            "device signature expired",
            "device-signature-stale",
        ));
    }
    if device.nonce.trim().is_empty() {
        return Err(device_invalid(
            d,
            "device nonce required",
            "device-nonce-missing",
        ));
    }
    if !crypto::secrets_equal(&device.nonce, &peer.nonce) {
        return Err(device_invalid(
            d,
            "device nonce mismatch",
            "device-nonce-mismatch",
        ));
    }
    let Some(raw) = raw else {
        return Err(device_invalid(
            d,
            "device public key invalid",
            "device-public-key",
        ));
    };
    let fields = o.p.signed_fields(device);
    if crypto::verify_device(&raw, &fields, &device.signature).is_none() {
        return Err(device_invalid(
            d,
            "device signature invalid",
            "device-signature",
        ));
    }
    Ok(crypto::b64url(&raw))
}

/// Check #8: the shared token, else (a node) a setup token — `auth.token` in
/// 2026.2.26 codes, `auth.bootstrapToken` in 2026.9 codes — else a device
/// token to verify in the pairing job.
pub(super) async fn authenticate(
    hub: &Hub,
    o: &Offer,
    device: &DeviceParams,
    auth: &AuthParams,
    shared_ok: bool,
    peer: &Peer,
) -> Result<AuthKind, Failure> {
    if shared_ok {
        return Ok(AuthKind::Shared);
    }
    if let Some(bt) = auth.bootstrap_token.as_deref() {
        if auth.device_token.is_none() && auth.token.is_none() {
            // A bootstrap token only ever admits a node.
            if o.p.role() != "node" {
                let f = AuthFailure::BootstrapInvalid(Refusal::RoleNotAllowed);
                return Err(unauthorized(f, o, peer));
            }
            return match setup_token(hub, bt, &device.id, false).await {
                Ok(kind) => Ok(kind),
                Err(why) => Err(unauthorized(AuthFailure::BootstrapInvalid(why), o, peer)),
            };
        }
    }
    if o.p.role() == "node" && auth.device_token.is_none() {
        if let Some(t) = auth.token.as_deref() {
            if let Ok(kind) = setup_token(hub, t, &device.id, true).await {
                return Ok(kind);
            }
        }
    }
    match (auth.device_token.as_deref(), auth.token.as_deref()) {
        (Some(dt), _) => Ok(AuthKind::DeviceToken {
            token: dt.to_string(),
            explicit: true,
        }),
        (None, Some(t)) => Ok(AuthKind::DeviceToken {
            token: t.to_string(),
            explicit: false,
        }),
        (None, None) => Err(unauthorized(AuthFailure::TokenMissing, o, peer)),
    }
}

/// `token` as a setup token of `device_id`, when it is one and usable.
/// `alias_ok`: a spent token may still admit the paired device it was bound
/// to (2026.2.26 codes only; a 2026.9 node switches to its device token).
async fn setup_token(
    hub: &Hub,
    token: &str,
    device_id: &str,
    alias_ok: bool,
) -> Result<AuthKind, Refusal> {
    let paths = hub.paths.clone();
    let store = hub.store.clone();
    let (tok, dev) = (token.to_string(), device_id.to_string());
    let verdict = tokio::task::spawn_blocking(move || {
        let t_now = now();
        setup::use_for_device(
            &paths,
            &tok,
            &dev,
            |expiry| {
                store
                    .load(t_now)
                    .ok()
                    .and_then(|st| st.paired_by_id(&dev).map(|d| d.approved_at_ms <= expiry))
                    .unwrap_or(false)
            },
            |request_id| {
                store.load(t_now).is_ok_and(|st| {
                    st.paired_by_id(&dev).is_none()
                        && !st.pending.iter().any(|r| r.request_id == request_id)
                })
            },
            t_now,
        )
    })
    .await;
    match verdict {
        Ok(Ok(SetupVerdict::Usable { first_use })) => {
            if first_use {
                hub.emit(GatewayEvent::SetupCodeUsed {
                    device_id: device_id.to_string(),
                });
            }
            Ok(AuthKind::Setup(token.to_string()))
        }
        Ok(Ok(SetupVerdict::PairedAlias)) if alias_ok => Ok(AuthKind::SetupAlias),
        Ok(Ok(SetupVerdict::PairedAlias)) => Err(Refusal::Used),
        Ok(Ok(SetupVerdict::Refused(why))) => {
            tracing::debug!("setup token refused: {}", why.as_str());
            Err(why)
        }
        Ok(Err(e)) => {
            tracing::warn!("setup tokens unreadable: {e}");
            Err(Refusal::Unknown)
        }
        Err(_) => Err(Refusal::Unknown),
    }
}
