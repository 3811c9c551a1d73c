//! The state transitions: request (create or merge), approve, reject, remove,
//! rotate, revoke, connect metadata, and device-token auth.

use super::*;

/// A token record replacing `old` (or the first one for the role): fresh
/// string, `createdAtMs` kept, `rotatedAtMs = now` if there was one,
/// `revokedAtMs` cleared, `lastUsedAtMs` kept (spec §5, §8).
pub fn mint_record(
    old: Option<&TokenRecord>,
    role: &str,
    scopes: Vec<String>,
    token: String,
    now_ms: i64,
) -> TokenRecord {
    TokenRecord {
        token,
        role: role.to_string(),
        scopes,
        created_at_ms: old.map(|o| o.created_at_ms).unwrap_or(now_ms),
        rotated_at_ms: old.map(|_| now_ms),
        revoked_at_ms: None,
        last_used_at_ms: old.and_then(|o| o.last_used_at_ms),
        extra: old.map(|o| o.extra.clone()).unwrap_or_default(),
    }
}

impl DeviceState {
    /// Drops pending requests older than the TTL; returns how many.
    pub fn prune_expired(&mut self, now_ms: i64) -> usize {
        let before = self.pending.len();
        self.pending.retain(|p| !p.is_expired(now_ms));
        before - self.pending.len()
    }

    /// Creates the device's pending request or merges into the one it has
    /// (spec §3). `new_request_id` is used only when a request is created.
    pub fn request(
        &mut self,
        input: RequestInput,
        new_request_id: String,
        now_ms: i64,
    ) -> RequestOutcome {
        let is_paired = self.paired_by_id(&input.device_id).is_some();
        if let Some(existing) = self
            .pending
            .iter_mut()
            .find(|p| p.device_id == input.device_id)
        {
            fn take(new: Option<String>, old: &mut Option<String>) {
                if new.is_some() {
                    *old = new;
                }
            }
            take(input.display_name, &mut existing.display_name);
            take(input.platform, &mut existing.platform);
            take(input.device_family, &mut existing.device_family);
            take(input.client_id, &mut existing.client_id);
            take(input.client_mode, &mut existing.client_mode);
            take(input.remote_ip, &mut existing.remote_ip);
            let roles = union([
                opt_slice(&existing.roles),
                &role_slice(&existing.role),
                &role_slice(&input.role),
            ]);
            if existing.role.is_none() {
                existing.role = input.role;
            }
            existing.roles = non_empty(roles);
            existing.scopes = non_empty(union([opt_slice(&existing.scopes), &input.scopes]));
            existing.silent = existing.silent && input.silent;
            existing.is_repair = existing.is_repair || is_paired;
            existing.ts = now_ms;
            return RequestOutcome {
                request: existing.clone(),
                created: false,
            };
        }
        let request = PendingRequest {
            request_id: new_request_id,
            device_id: input.device_id,
            public_key: input.public_key,
            display_name: input.display_name,
            platform: input.platform,
            device_family: input.device_family,
            client_id: input.client_id,
            client_mode: input.client_mode,
            roles: input.role.clone().map(|r| vec![r]),
            role: input.role,
            scopes: Some(union([input.scopes.as_slice()])),
            remote_ip: input.remote_ip,
            silent: input.silent,
            is_repair: is_paired,
            ts: now_ms,
            extra: Default::default(),
        };
        self.pending.push(request.clone());
        RequestOutcome {
            request,
            created: true,
        }
    }

    /// Approves `request_id` exactly as spec §8 "Approve in detail";
    /// `token` becomes the request role's new token.
    pub fn approve(&mut self, request_id: &str, token: String, now_ms: i64) -> Result<Approved> {
        let idx = self
            .pending
            .iter()
            .position(|p| p.request_id == request_id)
            .ok_or_else(|| StoreError::NotFound(UNKNOWN_REQUEST.to_string()))?;
        let request = self.pending.remove(idx);
        let existing = self.paired_by_id(&request.device_id).cloned();

        let roles = union([
            existing
                .as_ref()
                .map(|e| opt_slice(&e.roles))
                .unwrap_or(&[]),
            &existing
                .as_ref()
                .map(|e| role_slice(&e.role))
                .unwrap_or_default(),
            opt_slice(&request.roles),
            &role_slice(&request.role),
        ]);
        let stored_approved: &[String] = match existing.as_ref() {
            Some(e) => match &e.approved_scopes {
                Some(a) => a,
                None => opt_slice(&e.scopes),
            },
            None => &[],
        };
        let approved_scopes = union([stored_approved, opt_slice(&request.scopes)]);

        let mut tokens: TokenMap = existing
            .as_ref()
            .and_then(|e| e.tokens.clone())
            .unwrap_or_default();
        if let Some(role) = request.role.as_deref().filter(|r| !r.is_empty()) {
            let old = tokens.get(role).cloned();
            let requested = sorted_scopes(opt_slice(&request.scopes));
            let scopes = if !requested.is_empty() {
                requested
            } else if let Some(o) = &old {
                sorted_scopes(&o.scopes)
            } else {
                sorted_scopes(&approved_scopes)
            };
            tokens.insert(role, mint_record(old.as_ref(), role, scopes, token, now_ms));
        }

        let device = PairedDevice {
            device_id: request.device_id.clone(),
            public_key: request.public_key.clone(),
            display_name: request.display_name.clone(),
            platform: request.platform.clone(),
            device_family: request.device_family.clone(),
            client_id: request.client_id.clone(),
            client_mode: request.client_mode.clone(),
            role: request.role.clone(),
            roles: non_empty(roles),
            scopes: non_empty(approved_scopes.clone()),
            approved_scopes: non_empty(approved_scopes),
            remote_ip: request.remote_ip.clone(),
            tokens: if tokens.is_empty() {
                None
            } else {
                Some(tokens)
            },
            created_at_ms: existing.as_ref().map(|e| e.created_at_ms).unwrap_or(now_ms),
            approved_at_ms: now_ms,
            extra: existing.map(|e| e.extra).unwrap_or_default(),
        };
        match self.paired_mut(&device.device_id) {
            Some(slot) => *slot = device.clone(),
            None => self.paired.push(device.clone()),
        }
        Ok(Approved { request, device })
    }

    /// Removes the request; nothing is remembered.
    pub fn reject(&mut self, request_id: &str) -> Result<PendingRequest> {
        let idx = self
            .pending
            .iter()
            .position(|p| p.request_id == request_id)
            .ok_or_else(|| StoreError::NotFound(UNKNOWN_REQUEST.to_string()))?;
        Ok(self.pending.remove(idx))
    }

    /// Deletes a paired device.
    pub fn remove(&mut self, device_id: &str) -> Result<PairedDevice> {
        let idx = self
            .paired
            .iter()
            .position(|d| d.device_id == device_id)
            .ok_or_else(|| StoreError::NotFound(UNKNOWN_DEVICE.to_string()))?;
        Ok(self.paired.remove(idx))
    }

    /// New token string for (device, role) (spec §8 "Rotate"). Scopes default
    /// to the token's, else the device's; expanded, they must lie within the
    /// device's approved scopes (else `scopes`, else the token's).
    pub fn rotate(
        &mut self,
        device_id: &str,
        role: &str,
        scopes: Option<Vec<String>>,
        token: String,
        now_ms: i64,
    ) -> Result<TokenRecord> {
        let unknown = || StoreError::NotFound(UNKNOWN_DEVICE_ROLE.to_string());
        let device = self.paired_mut(device_id).ok_or_else(unknown)?;
        let old = device.token(role).cloned();
        if role.trim().is_empty()
            || (old.is_none() && !device.all_roles().iter().any(|r| r == role))
        {
            return Err(unknown());
        }
        let requested: Vec<String> = match scopes {
            Some(s) => s,
            None => match &old {
                Some(o) => o.scopes.clone(),
                None => device.scopes.clone().unwrap_or_default(),
            },
        };
        let allowed: Vec<String> = match (&device.approved_scopes, &device.scopes, &old) {
            (Some(a), _, _) => a.clone(),
            (None, Some(s), _) => s.clone(),
            (None, None, Some(o)) => o.scopes.clone(),
            _ => Vec::new(),
        };
        let allowed = expand_scopes(&allowed);
        if !expand_scopes(&requested)
            .iter()
            .all(|s| allowed.contains(s))
        {
            return Err(unknown());
        }
        let rec = mint_record(old.as_ref(), role, sorted_scopes(&requested), token, now_ms);
        let mut rec = rec;
        rec.rotated_at_ms = Some(now_ms);
        device
            .tokens
            .get_or_insert_with(TokenMap::default)
            .insert(role, rec.clone());
        Ok(rec)
    }

    /// Sets `revokedAtMs` on the role's token (the string is kept).
    pub fn revoke(&mut self, device_id: &str, role: &str, now_ms: i64) -> Result<TokenRecord> {
        let unknown = || StoreError::NotFound(UNKNOWN_DEVICE_ROLE.to_string());
        let device = self.paired_mut(device_id).ok_or_else(unknown)?;
        let rec = device
            .tokens
            .as_mut()
            .and_then(|t| t.get_mut(role))
            .ok_or_else(unknown)?;
        rec.revoked_at_ms = Some(now_ms);
        Ok(rec.clone())
    }

    /// Metadata patch of an accepted connect (spec §4).
    pub fn update_on_connect(
        &mut self,
        device_id: &str,
        meta: ConnectMeta,
    ) -> Result<PairedDevice> {
        let device = self
            .paired_mut(device_id)
            .ok_or_else(|| StoreError::NotFound(UNKNOWN_DEVICE.to_string()))?;
        let roles = union([
            opt_slice(&device.roles),
            &role_slice(&device.role),
            &role_slice(&meta.role),
        ]);
        device.display_name = meta.display_name;
        device.client_id = meta.client_id;
        device.client_mode = meta.client_mode;
        device.role = meta.role;
        device.remote_ip = meta.remote_ip;
        device.roles = non_empty(roles);
        device.scopes = non_empty(union([opt_slice(&device.scopes), &meta.scopes]));
        Ok(device.clone())
    }

    /// Device-token auth (spec §5). On success `lastUsedAtMs = now`.
    pub fn verify_token(
        &mut self,
        device_id: &str,
        role: &str,
        token: &str,
        scopes: &[String],
        now_ms: i64,
    ) -> std::result::Result<(), TokenFailure> {
        let device = self
            .paired_mut(device_id)
            .ok_or(TokenFailure::DeviceNotPaired)?;
        if role.trim().is_empty() {
            return Err(TokenFailure::RoleMissing);
        }
        let has_role = device.all_roles().iter().any(|r| r == role);
        let rec = match device.tokens.as_mut().and_then(|t| t.get_mut(role)) {
            Some(r) => r,
            None if !has_role => return Err(TokenFailure::RoleMissing),
            None => return Err(TokenFailure::TokenMissing),
        };
        if rec.revoked_at_ms.is_some() {
            return Err(TokenFailure::TokenRevoked);
        }
        if !tokens_equal(token, &rec.token) {
            return Err(TokenFailure::TokenMismatch);
        }
        if !scopes_cover(role, &rec.scopes, scopes) {
            return Err(TokenFailure::ScopeMismatch);
        }
        rec.last_used_at_ms = Some(now_ms);
        Ok(())
    }

    /// "Ensure token" (spec §5): keeps a non-revoked token whose scopes cover
    /// `scopes`, else stores a new one (`token`) with `scopes` sorted. Returns
    /// the record and whether it changed.
    pub fn ensure_token(
        &mut self,
        device_id: &str,
        role: &str,
        scopes: &[String],
        token: String,
        now_ms: i64,
    ) -> Result<(TokenRecord, bool)> {
        let device = self
            .paired_mut(device_id)
            .ok_or_else(|| StoreError::NotFound(UNKNOWN_DEVICE.to_string()))?;
        if role.trim().is_empty() {
            return Err(StoreError::Invalid("role is required".to_string()));
        }
        let old = device.token(role).cloned();
        if let Some(o) = &old {
            if o.revoked_at_ms.is_none() && scopes_cover(role, &o.scopes, scopes) {
                return Ok((o.clone(), false));
            }
        }
        let rec = mint_record(old.as_ref(), role, sorted_scopes(scopes), token, now_ms);
        device
            .tokens
            .get_or_insert_with(TokenMap::default)
            .insert(role, rec.clone());
        Ok((rec, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const NODE: &str = "9aee8cff109f16dccb9cfa1d36e3419895adf087582a248c6f324d156891a169";

    fn node_input() -> RequestInput {
        RequestInput {
            device_id: NODE.into(),
            public_key: "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20".into(),
            display_name: Some("oracle-node".into()),
            platform: Some("linux".into()),
            client_id: Some("node-host".into()),
            client_mode: Some("node".into()),
            role: Some("node".into()),
            scopes: vec![],
            remote_ip: Some("192.168.77.10".into()),
            ..Default::default()
        }
    }

    #[test]
    fn new_request_has_spec_fields() {
        let mut st = DeviceState::default();
        let out = st.request(node_input(), "rid-1".into(), 1000);
        assert!(out.created);
        let r = &out.request;
        assert_eq!(r.request_id, "rid-1");
        assert_eq!(r.roles, Some(s(&["node"])));
        assert_eq!(
            r.scopes,
            Some(vec![]),
            "fresh node request keeps scopes: []"
        );
        assert!(!r.is_repair && !r.silent);
        assert_eq!(r.ts, 1000);
        assert_eq!(st.pending.len(), 1);
    }

    #[test]
    fn merge_keeps_id_and_first_role_unions_roles_and_scopes() {
        let mut st = DeviceState::default();
        let mut first = node_input();
        first.silent = true;
        st.request(first, "rid-1".into(), 1000);
        let second = RequestInput {
            device_id: NODE.into(),
            public_key: "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20".into(),
            display_name: None,
            platform: Some("Linux".into()),
            role: Some("operator".into()),
            scopes: s(&["operator.read"]),
            silent: false,
            ..Default::default()
        };
        let out = st.request(second, "rid-2".into(), 2000);
        assert!(!out.created);
        let r = &out.request;
        assert_eq!(r.request_id, "rid-1");
        assert_eq!(r.role.as_deref(), Some("node"), "first role wins");
        assert_eq!(r.roles, Some(s(&["node", "operator"])));
        assert_eq!(r.scopes, Some(s(&["operator.read"])));
        assert_eq!(
            r.display_name.as_deref(),
            Some("oracle-node"),
            "old kept when absent"
        );
        assert_eq!(r.platform.as_deref(), Some("Linux"), "new value wins");
        assert_eq!(r.remote_ip.as_deref(), Some("192.168.77.10"));
        assert!(!r.silent, "silent = old AND new");
        assert_eq!(r.ts, 2000);
        assert_eq!(st.pending.len(), 1);
    }

    #[test]
    fn merge_drops_empty_scopes_and_sets_repair_when_paired() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        // Pair the device in the meantime.
        st.approve("rid-1", "t".into(), 1500).unwrap();
        st.request(node_input(), "rid-2".into(), 1600);
        let out = st.request(node_input(), "rid-3".into(), 1700);
        assert!(!out.created);
        assert_eq!(out.request.request_id, "rid-2");
        assert_eq!(
            out.request.scopes, None,
            "empty union is dropped after a merge"
        );
        assert!(out.request.is_repair);
    }

    #[test]
    fn expiry_boundary() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 0);
        assert_eq!(st.prune_expired(300_000), 0, "exactly 5 min is still valid");
        assert_eq!(st.prune_expired(300_001), 1, "one ms later it is gone");
    }

    #[test]
    fn approve_new_node_matches_fixture_shape() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        let a = st.approve("rid-1", "TOKEN".into(), 2000).unwrap();
        let d = &a.device;
        assert_eq!(d.role.as_deref(), Some("node"));
        assert_eq!(d.roles, Some(s(&["node"])));
        assert_eq!(d.scopes, None);
        assert_eq!(d.approved_scopes, None);
        assert_eq!((d.created_at_ms, d.approved_at_ms), (2000, 2000));
        let t = d.token("node").unwrap();
        assert_eq!(t.token, "TOKEN");
        assert!(t.scopes.is_empty());
        assert_eq!(t.created_at_ms, 2000);
        assert_eq!(
            (t.rotated_at_ms, t.revoked_at_ms, t.last_used_at_ms),
            (None, None, None)
        );
        assert!(st.pending.is_empty());
        assert_eq!(st.paired.len(), 1);
        assert!(matches!(
            st.approve("rid-1", "x".into(), 3000),
            Err(StoreError::NotFound(m)) if m == "unknown requestId"
        ));
    }

    #[test]
    fn approve_role_upgrade_keeps_other_tokens() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        st.approve("rid-1", "NODE-TOKEN".into(), 2000).unwrap();
        st.verify_token(NODE, "node", "NODE-TOKEN", &[], 2500)
            .unwrap();
        let mut up = node_input();
        up.role = Some("operator".into());
        up.scopes = s(&["operator.read"]);
        let r = st.request(up, "rid-2".into(), 3000);
        assert!(r.created && r.request.is_repair);
        let a = st.approve("rid-2", "OP-TOKEN".into(), 4000).unwrap();
        let d = &a.device;
        assert_eq!(d.role.as_deref(), Some("operator"));
        assert_eq!(d.roles, Some(s(&["node", "operator"])));
        assert_eq!(d.scopes, Some(s(&["operator.read"])));
        assert_eq!(d.approved_scopes, Some(s(&["operator.read"])));
        assert_eq!((d.created_at_ms, d.approved_at_ms), (2000, 4000));
        let node = d.token("node").unwrap();
        assert_eq!(node.token, "NODE-TOKEN");
        assert_eq!(node.last_used_at_ms, Some(2500));
        let op = d.token("operator").unwrap();
        assert_eq!(op.scopes, s(&["operator.read"]));
        assert_eq!(op.created_at_ms, 4000);
        assert_eq!(op.rotated_at_ms, None);
        let roles: Vec<&String> = d.tokens.as_ref().unwrap().iter().map(|(r, _)| r).collect();
        assert_eq!(roles, ["node", "operator"]);
    }

    #[test]
    fn reapprove_same_role_rotates_and_clears_revocation() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        st.approve("rid-1", "A".into(), 2000).unwrap();
        st.verify_token(NODE, "node", "A", &[], 2100).unwrap();
        st.revoke(NODE, "node", 2200).unwrap();
        st.request(node_input(), "rid-2".into(), 3000);
        let d = st.approve("rid-2", "B".into(), 4000).unwrap().device;
        let t = d.token("node").unwrap();
        assert_eq!(t.token, "B");
        assert_eq!(t.created_at_ms, 2000);
        assert_eq!(t.rotated_at_ms, Some(4000));
        assert_eq!(t.revoked_at_ms, None);
        assert_eq!(t.last_used_at_ms, Some(2100));
        assert_eq!(d.created_at_ms, 2000);
    }

    #[test]
    fn approve_token_scopes_fall_back_to_previous_token_then_approved() {
        let mut st = DeviceState::default();
        let mut op = node_input();
        op.role = Some("operator".into());
        op.scopes = s(&["operator.write", "operator.read", "operator.read"]);
        st.request(op.clone(), "r1".into(), 1);
        let d = st.approve("r1", "A".into(), 2).unwrap().device;
        assert_eq!(
            d.token("operator").unwrap().scopes,
            s(&["operator.read", "operator.write"])
        );
        assert_eq!(d.scopes, Some(s(&["operator.write", "operator.read"])));
        op.scopes = vec![];
        st.request(op, "r2".into(), 3);
        let d = st.approve("r2", "B".into(), 4).unwrap().device;
        assert_eq!(
            d.token("operator").unwrap().scopes,
            s(&["operator.read", "operator.write"])
        );
    }

    #[test]
    fn reject_and_remove() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        assert_eq!(st.reject("rid-1").unwrap().device_id, NODE);
        assert!(st.pending.is_empty());
        assert!(
            matches!(st.reject("rid-1"), Err(StoreError::NotFound(m)) if m == "unknown requestId")
        );
        st.request(node_input(), "rid-2".into(), 1000);
        st.approve("rid-2", "t".into(), 1001).unwrap();
        assert_eq!(st.remove(NODE).unwrap().device_id, NODE);
        assert!(matches!(st.remove(NODE), Err(StoreError::NotFound(m)) if m == "unknown deviceId"));
    }

    #[test]
    fn rotate_and_revoke_follow_spec() {
        let mut st = DeviceState::default();
        st.request(node_input(), "rid-1".into(), 1000);
        st.approve("rid-1", "A".into(), 2000).unwrap();
        st.verify_token(NODE, "node", "A", &[], 2100).unwrap();
        let r = st.rotate(NODE, "node", None, "B".into(), 3000).unwrap();
        assert_eq!(r.token, "B");
        assert_eq!((r.created_at_ms, r.rotated_at_ms), (2000, Some(3000)));
        assert_eq!(r.last_used_at_ms, Some(2100));
        assert!(r.scopes.is_empty());
        // A node cannot be rotated into operator scopes.
        let e = st.rotate(NODE, "node", Some(s(&["operator.read"])), "C".into(), 3100);
        assert!(matches!(e, Err(StoreError::NotFound(m)) if m == "unknown deviceId/role"));
        // Unknown role / device.
        assert!(st.rotate(NODE, "operator", None, "C".into(), 3100).is_err());
        assert!(st.rotate("nope", "node", None, "C".into(), 3100).is_err());
        assert!(st.revoke(NODE, "operator", 3100).is_err());
        assert!(st.revoke("nope", "node", 3100).is_err());
        let rv = st.revoke(NODE, "node", 4000).unwrap();
        assert_eq!(rv.revoked_at_ms, Some(4000));
        assert_eq!(rv.token, "B", "revoke keeps the string");
        assert_eq!(
            st.verify_token(NODE, "node", "B", &[], 4100),
            Err(TokenFailure::TokenRevoked)
        );
    }

    #[test]
    fn rotate_scopes_must_be_within_approved_after_expansion() {
        let mut st = DeviceState::default();
        let mut op = node_input();
        op.role = Some("operator".into());
        op.scopes = s(&["operator.admin"]);
        st.request(op, "r1".into(), 1);
        st.approve("r1", "A".into(), 2).unwrap();
        let r = st
            .rotate(NODE, "operator", Some(s(&["operator.read"])), "B".into(), 3)
            .unwrap();
        assert_eq!(r.scopes, s(&["operator.read"]));
        assert!(st
            .rotate(
                NODE,
                "operator",
                Some(s(&["operator.other"])),
                "C".into(),
                4
            )
            .is_err());
    }

    #[test]
    fn verify_token_reasons() {
        let mut st = DeviceState::default();
        let mut op = node_input();
        op.role = Some("operator".into());
        op.scopes = s(&["operator.read"]);
        st.request(op, "r1".into(), 1);
        st.approve("r1", "GOOD".into(), 2).unwrap();
        assert_eq!(
            st.verify_token("x", "operator", "GOOD", &[], 3),
            Err(TokenFailure::DeviceNotPaired)
        );
        assert_eq!(
            st.verify_token(NODE, "node", "GOOD", &[], 3),
            Err(TokenFailure::RoleMissing)
        );
        assert_eq!(
            st.verify_token(NODE, "operator", "BAD", &[], 3),
            Err(TokenFailure::TokenMismatch)
        );
        assert_eq!(
            st.verify_token(NODE, "operator", "GOOD", &s(&["operator.write"]), 3),
            Err(TokenFailure::ScopeMismatch)
        );
        assert_eq!(
            st.paired[0].token("operator").unwrap().last_used_at_ms,
            None
        );
        assert_eq!(
            st.verify_token(NODE, "operator", "GOOD", &s(&["operator.read"]), 9),
            Ok(())
        );
        assert_eq!(
            st.paired[0].token("operator").unwrap().last_used_at_ms,
            Some(9)
        );
        // Role held but no token.
        st.paired[0].roles = Some(s(&["operator", "node"]));
        assert_eq!(
            st.verify_token(NODE, "node", "GOOD", &[], 3),
            Err(TokenFailure::TokenMissing)
        );
    }

    #[test]
    fn ensure_token_reuses_or_mints() {
        let mut st = DeviceState::default();
        let mut op = node_input();
        op.role = Some("operator".into());
        op.scopes = s(&["operator.write"]);
        st.request(op, "r1".into(), 1);
        st.approve("r1", "A".into(), 2).unwrap();
        let (t, changed) = st
            .ensure_token(NODE, "operator", &s(&["operator.read"]), "B".into(), 3)
            .unwrap();
        assert!(!changed);
        assert_eq!(t.token, "A");
        let (t, changed) = st
            .ensure_token(NODE, "operator", &s(&["operator.pairing"]), "C".into(), 4)
            .unwrap();
        assert!(changed);
        assert_eq!(
            (t.token.as_str(), t.created_at_ms, t.rotated_at_ms),
            ("C", 2, Some(4))
        );
        st.revoke(NODE, "operator", 5).unwrap();
        let (t, changed) = st
            .ensure_token(NODE, "operator", &s(&["operator.pairing"]), "D".into(), 6)
            .unwrap();
        assert!(changed, "a revoked token is replaced");
        assert_eq!((t.token.as_str(), t.revoked_at_ms), ("D", None));
        let (t, changed) = st.ensure_token(NODE, "node", &[], "E".into(), 7).unwrap();
        assert!(changed);
        assert_eq!((t.created_at_ms, t.rotated_at_ms), (7, None));
    }

    #[test]
    fn connect_metadata_overwrites_even_when_absent() {
        let mut st = DeviceState::default();
        st.request(node_input(), "r1".into(), 1);
        st.approve("r1", "A".into(), 2).unwrap();
        let d = st
            .update_on_connect(
                NODE,
                ConnectMeta {
                    display_name: None,
                    client_id: Some("node-host".into()),
                    client_mode: Some("node".into()),
                    role: Some("node".into()),
                    remote_ip: None,
                    scopes: vec![],
                },
            )
            .unwrap();
        assert_eq!(d.display_name, None);
        assert_eq!(d.remote_ip, None);
        assert_eq!(d.platform.as_deref(), Some("linux"), "platform preserved");
        assert_eq!(d.token("node").unwrap().token, "A");
        assert_eq!((d.created_at_ms, d.approved_at_ms), (2, 2));
        assert_eq!(d.scopes, None);
        assert!(st
            .update_on_connect("nope", ConnectMeta::default())
            .is_err());
    }

    #[test]
    fn scope_implications() {
        let a = |v: &[&str]| s(v);
        assert!(scopes_cover("operator", &[], &[]));
        assert!(!scopes_cover("operator", &[], &a(&["operator.read"])));
        assert!(scopes_cover(
            "operator",
            &a(&["operator.admin"]),
            &a(&["operator.pairing", "operator.read"])
        ));
        assert!(scopes_cover(
            "operator",
            &a(&["operator.write"]),
            &a(&["operator.read"])
        ));
        assert!(!scopes_cover(
            "operator",
            &a(&["operator.read"]),
            &a(&["operator.write"])
        ));
        assert!(!scopes_cover(
            "operator",
            &a(&["operator.admin"]),
            &a(&["other.x"])
        ));
        assert!(!scopes_cover(
            "node",
            &a(&["operator.admin"]),
            &a(&["operator.read"])
        ));
        assert!(scopes_cover("node", &a(&["x"]), &a(&["x"])));
        assert_eq!(
            expand_scopes(&a(&["operator.admin"])),
            a(&[
                "operator.admin",
                "operator.read",
                "operator.write",
                "operator.approvals",
                "operator.pairing"
            ])
        );
        assert_eq!(
            expand_scopes(&a(&["operator.write"])),
            a(&["operator.write", "operator.read"])
        );
    }

    #[test]
    fn constant_time_compare() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "abcd"));
        assert!(!tokens_equal("", "a"));
        assert!(tokens_equal("", ""));
    }

    #[test]
    fn pairing_reasons_in_order() {
        let mut st = DeviceState::default();
        let key = "cP7FaQv3sOjAxa_Vq-U4c6-4P7Fm_gpDA8452quCF20";
        let claim = |role, scopes, platform| ConnectClaim {
            device_id: NODE,
            public_key: key,
            platform,
            device_family: None,
            role,
            scopes,
        };
        let none: &[String] = &[];
        assert_eq!(
            st.pairing_reason(&claim("node", none, Some("linux"))),
            Some(PairingReason::NotPaired)
        );
        st.request(node_input(), "r1".into(), 1);
        st.approve("r1", "A".into(), 2).unwrap();
        assert_eq!(
            st.pairing_reason(&claim("node", none, Some(" Linux "))),
            None
        );
        let other_key = ConnectClaim {
            public_key: "other",
            ..claim("node", none, Some("linux"))
        };
        assert_eq!(
            st.pairing_reason(&other_key),
            Some(PairingReason::NotPaired)
        );
        assert_eq!(
            st.pairing_reason(&claim("node", none, Some("darwin"))),
            Some(PairingReason::MetadataUpgrade)
        );
        assert_eq!(
            st.pairing_reason(&claim("operator", none, Some("linux"))),
            Some(PairingReason::RoleUpgrade)
        );
        let read = s(&["operator.read"]);
        assert_eq!(
            st.pairing_reason(&claim("node", &read, Some("linux"))),
            Some(PairingReason::ScopeUpgrade)
        );
        assert_eq!(PairingReason::ScopeUpgrade.as_str(), "scope-upgrade");
    }

    #[test]
    fn request_after_remove_is_fresh_not_repair() {
        let mut st = DeviceState::default();
        st.request(node_input(), "r1".into(), 1);
        st.approve("r1", "A".into(), 2).unwrap();
        st.remove(NODE).unwrap();
        let out = st.request(node_input(), "r2".into(), 3);
        assert!(out.created);
        assert!(!out.request.is_repair);
        // Reject forgets the request: the next connect gets a new id.
        st.reject("r2").unwrap();
        let out = st.request(node_input(), "r3".into(), 4);
        assert!(out.created);
        assert_eq!(out.request.request_id, "r3");
    }

    #[test]
    fn latest_pending_is_largest_ts() {
        let mut st = DeviceState::default();
        st.request(node_input(), "old".into(), 5);
        let mut other = node_input();
        other.device_id = "other".into();
        st.request(other, "new".into(), 9);
        assert_eq!(st.latest_pending().unwrap().request_id, "new");
    }
}
