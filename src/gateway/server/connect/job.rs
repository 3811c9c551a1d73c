//! Checks #8 (device token) and #9 (pairing) as one job of the devices
//! writer.

use super::*;

/// Checks #8 (device token) and #9 (pairing) as one job of the devices writer.
pub(super) async fn pairing_job(
    hub: &Hub,
    o: &Offer,
    device: &DeviceParams,
    public_key: String,
    kind: &AuthKind,
    peer: &Peer,
) -> Result<Outcome, Failure> {
    let p = &o.p;
    let remote_ip = if peer.local || peer.ip.is_loopback() {
        None
    } else {
        Some(peer.ip.to_string())
    };
    let role = p.role().to_string();
    // 2026.9.6 fills `deviceFamily` for node hosts that omit it.
    let device_family = match (&p.client.device_family, o.d) {
        (None, Dialect::V4) if p.client.id == "node-host" => {
            default_device_family(&p.client.platform)
        }
        (f, _) => f.clone(),
    };
    let job = PairingJob {
        input: RequestInput {
            device_id: device.id.clone(),
            public_key,
            display_name: p.client.display_name.clone(),
            platform: Some(p.client.platform.clone()),
            device_family,
            client_id: Some(p.client.id.clone()),
            client_mode: Some(p.client.mode.clone()),
            role: Some(role.clone()),
            scopes: p.scopes.clone(),
            remote_ip: remote_ip.clone(),
            silent: false,
        },
        meta: ConnectMeta {
            display_name: p.client.display_name.clone(),
            client_id: Some(p.client.id.clone()),
            client_mode: Some(p.client.mode.clone()),
            role: Some(role.clone()),
            remote_ip,
            scopes: p.scopes.clone(),
        },
        role,
        scopes: p.scopes.clone(),
        device_token: match kind {
            AuthKind::DeviceToken { token, .. } => Some(token.clone()),
            _ => None,
        },
        alias: matches!(kind, AuthKind::SetupAlias),
        may_create: hub.may_create_pending(peer.ip),
        silent_ok: hub.cfg.auto_approve_local && peer.local,
        revoked_needs_repair: o.d == Dialect::V4,
    };
    let known = hub.known_pending();
    let outcome = hub.worker.run(move |st, t| job.run(st, &known, t)).await;
    let failed = match outcome {
        Ok(Ok(o)) => return Ok(o),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!("pairing check failed: {failed}");
    Err(Failure {
        error: ErrorShape::new("UNAVAILABLE", "device store unavailable").retry_after(1000),
        close_code: 1011,
        close_reason: None,
        counts_as_failure: false,
    })
}

/// `Linux` for `linux`, as 2026.9.6 stores node hosts that send no family.
fn default_device_family(platform: &str) -> Option<String> {
    let p = platform.trim().to_ascii_lowercase();
    let f = match p.as_str() {
        "linux" => "Linux",
        "darwin" | "macos" => "Mac",
        "win32" | "windows" => "Windows",
        _ => return None,
    };
    Some(f.to_string())
}
