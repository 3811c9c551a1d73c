//! The one-time setup token store: hashes in a 0600 file in the state dir,
//! created, bound to a device, voided and listed.

use super::*;

/// Entries this long past expiry are dropped from the file.
const PRUNE_AFTER_MS: i64 = 24 * 3_600_000;
/// At most this many outstanding tokens are kept.
const MAX_ENTRIES: usize = 256;

/// One outstanding setup token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupEntry {
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SetupFile {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    tokens: Vec<SetupEntry>,
}

fn file_path(paths: &Paths) -> std::path::PathBuf {
    paths.state_dir.join(SETUP_FILE)
}

fn load(paths: &Paths) -> Result<SetupFile> {
    let p = file_path(paths);
    match fsutil::read_optional(&p)? {
        None => Ok(SetupFile::default()),
        Some(b) if fsutil::is_blank(&b) => Ok(SetupFile::default()),
        Some(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Shape {
            path: p,
            message: e.to_string(),
        }),
    }
}

fn save(paths: &Paths, f: &SetupFile) -> Result<()> {
    let v = SetupFile {
        version: 1,
        tokens: f.tokens.clone(),
    };
    fsutil::write_atomic(
        &file_path(paths),
        crate::jsonfmt::to_pretty_nl(&v).as_bytes(),
    )
}

fn mutate<T>(paths: &Paths, f: impl FnOnce(&mut SetupFile) -> T) -> Result<T> {
    fsutil::ensure_private_dir(&paths.state_dir)?;
    crate::lock::with_lock(&file_path(paths), || {
        let mut file = load(paths)?;
        let out = f(&mut file);
        save(paths, &file)?;
        Ok(out)
    })
}

/// A freshly created setup token (the secret is shown once and never stored).
#[derive(Debug, Clone)]
pub struct NewSetupToken {
    pub token: String,
    pub expires_at_ms: i64,
}

/// Creates and records a new setup token valid for `ttl_ms`.
pub fn create(paths: &Paths, ttl_ms: i64, now: i64) -> Result<NewSetupToken> {
    let token = crypto::new_token();
    let entry = SetupEntry {
        token_hash: crypto::sha256_hex(&token),
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ttl_ms),
        device_id: None,
        bound_at_ms: None,
        request_id: None,
        voided_at_ms: None,
        void_reason: None,
    };
    let expires_at_ms = entry.expires_at_ms;
    mutate(paths, |f| {
        f.tokens
            .retain(|e| e.expires_at_ms.saturating_add(PRUNE_AFTER_MS) > now);
        f.tokens.push(entry);
        while f.tokens.len() > MAX_ENTRIES {
            f.tokens.remove(0);
        }
    })?;
    Ok(NewSetupToken {
        token,
        expires_at_ms,
    })
}

/// Looks a presented token up (no lock, no write). `None` when unknown.
pub fn find(paths: &Paths, token: &str) -> Result<Option<SetupEntry>> {
    let hash = crypto::sha256_hex(token);
    let file = load(paths)?;
    Ok(file
        .tokens
        .into_iter()
        .find(|e| crypto::secrets_equal(&e.token_hash, &hash)))
}

/// What a presented setup token allows for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupVerdict {
    /// Usable by this device; `first_use` when it just got bound to it.
    Usable { first_use: bool },
    /// Spent on this (now paired) device. It can no longer create requests or
    /// admit anything else, but the device may keep presenting it — real
    /// OpenClaw nodes keep sending their configured token and never switch to
    /// their device token — which the gateway accepts only while the device is
    /// paired with a live token for the role.
    PairedAlias,
    /// Unknown, void, expired or bound to another device.
    Refused(Refusal),
}

/// Why a setup token is refused. On the wire every cause gets the same
/// answer (as in OpenClaw); clawpair names the cause in one extra detail,
/// `bootstrapTokenState`, so `clawpair join` can say which it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued here (or pruned long ago).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Spent: its device collected its device token, or another device holds it.
    Used,
    /// Void because the request it created was rejected.
    Revoked,
    /// Presented for a role a setup code never grants (operator).
    RoleNotAllowed,
}

impl Refusal {
    /// The word in `details.bootstrapTokenState` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Expired => "expired",
            Refusal::Used => "used",
            Refusal::Revoked => "revoked",
            Refusal::RoleNotAllowed => "role-not-allowed",
        }
    }

    /// Reads [`Refusal::as_str`] back.
    pub fn parse(s: &str) -> Option<Refusal> {
        [
            Refusal::Unknown,
            Refusal::Expired,
            Refusal::Used,
            Refusal::Revoked,
            Refusal::RoleNotAllowed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Checks and, on first use, binds the token to `device_id`.
/// `device_paired_before_expiry` lets an approved device collect its device
/// token shortly after the code expired. `request_resolved_unpaired` says
/// whether a request is gone from `pending.json` while the device is not
/// paired: rejected (or lapsed) — decided here from the files, so a device
/// reconnecting right after a rejection made in another process cannot slip
/// in a new request before the gateway's watcher notices.
pub fn use_for_device(
    paths: &Paths,
    token: &str,
    device_id: &str,
    device_paired_before_expiry: impl Fn(i64) -> bool,
    request_resolved_unpaired: impl Fn(&str) -> bool,
    now: i64,
) -> Result<SetupVerdict> {
    let Some(entry) = find(paths, token)? else {
        return Ok(SetupVerdict::Refused(Refusal::Unknown));
    };
    if entry.voided_at_ms.is_some() {
        let paired = entry.void_reason.as_deref() == Some("paired");
        if paired && entry.device_id.as_deref() == Some(device_id) {
            return Ok(SetupVerdict::PairedAlias);
        }
        return Ok(SetupVerdict::Refused(if paired {
            Refusal::Used
        } else {
            Refusal::Revoked
        }));
    }
    if let Some(d) = &entry.device_id {
        if d != device_id {
            return Ok(SetupVerdict::Refused(Refusal::Used));
        }
    }
    if now >= entry.expires_at_ms {
        let grace = entry.device_id.is_some()
            && now < entry.expires_at_ms.saturating_add(DELIVERY_GRACE_MS)
            && device_paired_before_expiry(entry.expires_at_ms);
        if !grace {
            return Ok(SetupVerdict::Refused(Refusal::Expired));
        }
    }
    if entry.device_id.is_some() {
        if let Some(rid) = entry.request_id.as_deref() {
            if request_resolved_unpaired(rid) {
                void_for_request(paths, rid, "rejected", now)?;
                return Ok(SetupVerdict::Refused(Refusal::Revoked));
            }
        }
        return Ok(SetupVerdict::Usable { first_use: false });
    }
    // Bind under the lock; another connection may have won the race.
    let hash = entry.token_hash.clone();
    let device = device_id.to_string();
    mutate(paths, move |f| {
        match f
            .tokens
            .iter_mut()
            .find(|e| crypto::secrets_equal(&e.token_hash, &hash))
        {
            Some(e) if e.voided_at_ms.is_none() => match &e.device_id {
                None => {
                    e.device_id = Some(device);
                    e.bound_at_ms = Some(now);
                    SetupVerdict::Usable { first_use: true }
                }
                Some(d) if *d == device => SetupVerdict::Usable { first_use: false },
                Some(_) => SetupVerdict::Refused(Refusal::Used),
            },
            Some(e) if e.void_reason.as_deref() == Some("paired") => {
                SetupVerdict::Refused(Refusal::Used)
            }
            _ => SetupVerdict::Refused(Refusal::Revoked),
        }
    })
}

/// Records the pending request created for the token's device.
pub fn note_request(paths: &Paths, token: &str, request_id: &str) -> Result<()> {
    let hash = crypto::sha256_hex(token);
    let rid = request_id.to_string();
    mutate(paths, move |f| {
        if let Some(e) = f
            .tokens
            .iter_mut()
            .find(|e| crypto::secrets_equal(&e.token_hash, &hash))
        {
            e.request_id = Some(rid);
        }
    })
}

/// Voids every live token bound to `device_id` (paired or rejected).
pub fn void_for_device(paths: &Paths, device_id: &str, reason: &str, now: i64) -> Result<usize> {
    let file = load(paths)?;
    if !file
        .tokens
        .iter()
        .any(|e| e.voided_at_ms.is_none() && e.device_id.as_deref() == Some(device_id))
    {
        return Ok(0);
    }
    mutate(paths, |f| {
        let mut n = 0;
        for e in f.tokens.iter_mut() {
            if e.voided_at_ms.is_none() && e.device_id.as_deref() == Some(device_id) {
                e.voided_at_ms = Some(now);
                e.void_reason = Some(reason.to_string());
                n += 1;
            }
        }
        n
    })
}

/// Voids the token bound to a request that was rejected.
pub fn void_for_request(paths: &Paths, request_id: &str, reason: &str, now: i64) -> Result<()> {
    let file = load(paths)?;
    if !file
        .tokens
        .iter()
        .any(|e| e.voided_at_ms.is_none() && e.request_id.as_deref() == Some(request_id))
    {
        return Ok(());
    }
    mutate(paths, |f| {
        for e in f.tokens.iter_mut() {
            if e.voided_at_ms.is_none() && e.request_id.as_deref() == Some(request_id) {
                e.voided_at_ms = Some(now);
                e.void_reason = Some(reason.to_string());
            }
        }
    })
}

/// Live (unexpired, not void) entries, for the console.
pub fn outstanding(paths: &Paths, now: i64) -> Result<Vec<SetupEntry>> {
    Ok(load(paths)?
        .tokens
        .into_iter()
        .filter(|e| e.voided_at_ms.is_none() && e.expires_at_ms > now)
        .collect())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(dir.path()));
        let t = create(&paths, 1000, 10_000).unwrap();
        let raw = std::fs::read_to_string(dir.path().join(SETUP_FILE)).unwrap();
        assert!(!raw.contains(&t.token), "only hashes are stored");
        assert_eq!(fsutil::mode_of(&dir.path().join(SETUP_FILE)), Some(0o600));
        let never = |_| false;
        let pending = |_: &str| false;
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_001).unwrap(),
            SetupVerdict::Usable { first_use: true }
        );
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_002).unwrap(),
            SetupVerdict::Usable { first_use: false }
        );
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-b", never, pending, 10_002).unwrap(),
            SetupVerdict::Refused(_)
        ));
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 11_000).unwrap(),
            SetupVerdict::Refused(Refusal::Expired)
        ));
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-a", |_| true, pending, 11_000).unwrap(),
            SetupVerdict::Usable { .. }
        ));
        void_for_device(&paths, "dev-a", "paired", 10_500).unwrap();
        assert_eq!(
            use_for_device(&paths, &t.token, "dev-a", never, pending, 10_600).unwrap(),
            SetupVerdict::PairedAlias
        );
        assert!(matches!(
            use_for_device(&paths, &t.token, "dev-b", never, pending, 10_600).unwrap(),
            SetupVerdict::Refused(_)
        ));
        let r = create(&paths, 1000, 20_000).unwrap();
        use_for_device(&paths, &r.token, "dev-c", never, pending, 20_001).unwrap();
        note_request(&paths, &r.token, "req-c").unwrap();
        void_for_request(&paths, "req-c", "rejected", 20_002).unwrap();
        assert!(matches!(
            use_for_device(&paths, &r.token, "dev-c", never, pending, 20_003).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked)
        ));
        assert!(matches!(
            use_for_device(&paths, "nope", "dev-a", never, pending, 10_600).unwrap(),
            SetupVerdict::Refused(Refusal::Unknown)
        ));
        // A request rejected in another process is noticed from the files at
        // the device's next connect, before any watcher runs.
        let q = create(&paths, 1000, 30_000).unwrap();
        use_for_device(&paths, &q.token, "dev-d", never, pending, 30_001).unwrap();
        note_request(&paths, &q.token, "req-d").unwrap();
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, pending, 30_002).unwrap(),
            SetupVerdict::Usable { first_use: false },
            "still pending"
        );
        let gone = |rid: &str| rid == "req-d";
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, gone, 30_003).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked)
        );
        assert_eq!(
            use_for_device(&paths, &q.token, "dev-d", never, pending, 30_004).unwrap(),
            SetupVerdict::Refused(Refusal::Revoked),
            "and it stays void"
        );
        let decoded = decode(&encode("ws://h:1", &t.token)).unwrap();
        assert_eq!(decoded.token.as_deref(), Some(t.token.as_str()));
    }
}
