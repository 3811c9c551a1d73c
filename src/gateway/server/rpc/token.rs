//! `device.token.rotate` and `device.token.revoke`, with protocol 4's token
//! policy.

use super::*;

/// Protocol 4's token policy: a device caller without admin only for its
/// own device; admin for any role but `operator`; an operator token's
/// scopes within the caller's.
fn may_manage_token(
    st: &DeviceState,
    c: &Caller,
    did: &str,
    role: &str,
    scopes: Option<&[String]>,
    denied: &str,
) -> Result<(), Refused> {
    if c.cross_device(did) || (!c.admin && role.trim() != "operator") {
        return Err(Refused::Policy(denied.into()));
    }
    if !c.admin && role.trim() == "operator" {
        let wanted: Vec<String> = match scopes {
            Some(s) => s.to_vec(),
            None => st
                .paired_by_id(did)
                .and_then(|d| d.token(role))
                .map(|t| t.scopes.clone())
                .unwrap_or_default(),
        };
        if !scopes_cover("operator", &c.scopes, &wanted) {
            return Err(Refused::Policy(denied.into()));
        }
    }
    Ok(())
}

/// `device.token.rotate`: a new token for the role (optionally new scopes).
/// Protocol 4 returns the token only to the device itself (`in-band`). The
/// role's connections of that device are closed.
pub(super) async fn token_rotate(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    const DENIED: &str = "device token rotation denied";
    let o = params_of(
        c.texts(),
        "device.token.rotate",
        params,
        &["deviceId", "role"],
        &["scopes"],
    )?;
    let did = string_param(&o, "deviceId");
    let role = string_param(&o, "role");
    let scopes: Option<Vec<String>> = o.get("scopes").and_then(|s| {
        s.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    });
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage_token(st, c, &did, &role, scopes.as_deref(), DENIED)?;
            }
            let rec = st.rotate(&did, &role, scopes, crate::devices::new_token(), t);
            let rec = match (rec, &policy) {
                (Err(StoreError::NotFound(_)), Some(_)) => {
                    return Err(Refused::Policy(DENIED.into()))
                }
                (r, _) => r?,
            };
            Ok((did, rec, stale_of(st)))
        })
        .await;
    let (did, rec, stale) = refused(r)?;
    hub.kick(&stale);
    if !c.v4() {
        return Ok(payload::rotate_payload(&did, &rec));
    }
    let in_band = c.device_id.as_deref() == Some(did.as_str());
    let mut m = Map::new();
    m.insert("deviceId".into(), json!(did));
    m.insert("role".into(), json!(rec.role));
    if in_band {
        m.insert("token".into(), json!(rec.token));
    }
    m.insert("scopes".into(), json!(rec.scopes));
    m.insert(
        "rotatedAtMs".into(),
        json!(rec.rotated_at_ms.unwrap_or(rec.created_at_ms)),
    );
    m.insert(
        "tokenDelivery".into(),
        json!(if in_band {
            "in-band"
        } else {
            "withheld-cross-device"
        }),
    );
    Ok(Value::Object(m))
}

/// `device.token.revoke`. The role's connections of that device are closed.
pub(super) async fn token_revoke(
    hub: &Arc<Hub>,
    c: &Caller,
    params: Option<&Value>,
) -> Result<Value, ErrorShape> {
    const DENIED: &str = "device token revocation denied";
    let o = params_of(
        c.texts(),
        "device.token.revoke",
        params,
        &["deviceId", "role"],
        &[],
    )?;
    let did = string_param(&o, "deviceId");
    let role = string_param(&o, "role");
    let policy = c.v4().then(|| caller_copy(c));
    let stale_of = stale_hub(hub);
    let r = hub
        .worker
        .run(move |st, t| -> Result<_, Refused> {
            if let Some(c) = &policy {
                may_manage_token(st, c, &did, &role, None, DENIED)?;
            }
            let rec = match (st.revoke(&did, &role, t), &policy) {
                (Err(StoreError::NotFound(_)), Some(_)) => {
                    return Err(Refused::Policy(DENIED.into()))
                }
                (r, _) => r?,
            };
            Ok((did, rec, stale_of(st)))
        })
        .await;
    let (did, rec, stale) = refused(r)?;
    hub.kick(&stale);
    Ok(payload::revoke_payload(&did, &rec))
}
