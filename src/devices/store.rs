//! `<state>/devices/pending.json` and `paired.json` on disk.
//!
//! * Reading: a missing, empty or whitespace-only file is an empty map. A file
//!   that is not JSON is [`StoreError::Malformed`] (line, column); valid JSON of
//!   the wrong shape is [`StoreError::Shape`] naming the file, entry and field.
//!   Either way nothing is written: unlike OpenClaw, clawpair never replaces a
//!   file it could not read. [`DeviceStore::repair`] moves such files aside.
//! * Every mutation takes `pending.json.lock` then `paired.json.lock` (the
//!   credential-file lock protocol; OpenClaw itself has none for `devices/`,
//!   but clawpair processes must never lose each other's updates), re-reads
//!   both files, applies the pure transition from [`super::state`], and
//!   atomically rewrites each file whose bytes change (which also persists
//!   pending-expiry pruning) as 2-space JSON without a trailing newline.
//! * A failed operation (unknown id, bad scopes, unreadable file) writes nothing.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::model::{PairedDevice, PendingRequest, TokenRecord};
pub use super::state::{
    expand_scopes, scopes_cover, sorted_scopes, tokens_equal, Approved, ConnectClaim, ConnectMeta,
    DeviceState, PairingReason, RequestInput, RequestOutcome, TokenFailure, UNKNOWN_DEVICE,
    UNKNOWN_DEVICE_ROLE, UNKNOWN_REQUEST,
};
use crate::error::{Result, StoreError};
use crate::{fsutil, jsonfmt, lock};

pub use crate::secret::new_token;

/// The devices store rooted at `<state>/devices`.
#[derive(Debug, Clone)]
pub struct DeviceStore {
    devices_dir: PathBuf,
}

/// One file as read: its parsed state and the exact bytes (None = missing).
struct Loaded<T> {
    entries: Vec<T>,
    raw: Option<Vec<u8>>,
}

impl DeviceStore {
    pub fn new(devices_dir: impl Into<PathBuf>) -> Self {
        DeviceStore {
            devices_dir: devices_dir.into(),
        }
    }

    pub fn devices_dir(&self) -> &Path {
        &self.devices_dir
    }

    pub fn pending_path(&self) -> PathBuf {
        self.devices_dir.join("pending.json")
    }

    pub fn paired_path(&self) -> PathBuf {
        self.devices_dir.join("paired.json")
    }

    /// Reads both files (no lock, no write); expired pending requests are
    /// dropped in memory only.
    pub fn load(&self, now_ms: i64) -> Result<DeviceState> {
        fsutil::check_state_dir(&self.devices_dir)?;
        let pending = read_pending(&self.pending_path())?;
        let paired = read_paired(&self.paired_path())?;
        let mut state = DeviceState {
            pending: pending.entries,
            paired: paired.entries,
        };
        state.prune_expired(now_ms);
        Ok(state)
    }

    /// The `device.pair.list` payload: `{"pending": [...], "paired": [...]}`,
    /// pending newest `ts` first, paired newest `approvedAtMs` first and
    /// redacted (see [`super::payload::redact_device`]).
    pub fn list_payload(&self, now_ms: i64) -> Result<Value> {
        Ok(super::payload::list_payload_of(&self.load(now_ms)?))
    }

    /// Runs `f` on the freshly read state under both locks and writes back
    /// whatever changed (including expiry pruning). If `f` fails nothing is
    /// written. This is the building block of every mutation; the gateway may
    /// use it to combine steps (for example request + silent approval).
    pub fn mutate<T>(
        &self,
        now_ms: i64,
        f: impl FnOnce(&mut DeviceState) -> Result<T>,
    ) -> Result<T> {
        fsutil::check_state_dir(&self.devices_dir)?;
        let pending_path = self.pending_path();
        let paired_path = self.paired_path();
        let _pending_lock = lock::acquire_with(&pending_path, lock::LockPolicy::short())?;
        let _paired_lock = lock::acquire_with(&paired_path, lock::LockPolicy::short())?;
        let pending = read_pending(&pending_path)?;
        let paired = read_paired(&paired_path)?;
        let mut state = DeviceState {
            pending: pending.entries,
            paired: paired.entries,
        };
        state.prune_expired(now_ms);
        let out = f(&mut state)?;
        let pending_text = render_pending(&state.pending)?;
        let paired_text = render_paired(&state.paired)?;
        // paired.json first: a crash between the two renames then leaves an
        // approved request still pending (approving it again is harmless)
        // rather than a request gone and its device not paired.
        if paired.raw.as_deref() != Some(paired_text.as_bytes()) {
            fsutil::write_atomic(&paired_path, paired_text.as_bytes())?;
        }
        if pending.raw.as_deref() != Some(pending_text.as_bytes()) {
            fsutil::write_atomic(&pending_path, pending_text.as_bytes())?;
        }
        Ok(out)
    }

    /// A decision on what is already there (approve, reject, remove, rotate,
    /// revoke): with neither file on disk there is nothing to decide on, so
    /// `f` runs on the empty state without a lock and fails with the
    /// transition's own `unknown …` error, leaving no `devices/` directory or
    /// lock behind. Otherwise (or should `f` ever succeed on nothing) it is
    /// [`DeviceStore::mutate`].
    pub fn decide<T>(&self, now_ms: i64, f: impl Fn(&mut DeviceState) -> Result<T>) -> Result<T> {
        fsutil::check_state_dir(&self.devices_dir)?;
        let absent = |p: PathBuf| {
            p.symlink_metadata()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        if absent(self.pending_path()) && absent(self.paired_path()) {
            f(&mut DeviceState::default())?;
        }
        self.mutate(now_ms, f)
    }

    /// Approves a pending request (spec §8); `unknown requestId` otherwise.
    pub fn approve(&self, request_id: &str, now_ms: i64) -> Result<Approved> {
        let token = new_token();
        self.decide(now_ms, |st| st.approve(request_id, token.clone(), now_ms))
    }

    /// Removes a pending request; `unknown requestId` otherwise.
    pub fn reject(&self, request_id: &str, now_ms: i64) -> Result<PendingRequest> {
        self.decide(now_ms, |st| st.reject(request_id))
    }

    /// Deletes a paired device; `unknown deviceId` otherwise.
    pub fn remove(&self, device_id: &str, now_ms: i64) -> Result<PairedDevice> {
        self.decide(now_ms, |st| st.remove(device_id))
    }

    /// New token for (device, role); `unknown deviceId/role` otherwise. The
    /// returned record holds the new secret: show it only to the owner.
    pub fn rotate(
        &self,
        device_id: &str,
        role: &str,
        scopes: Option<Vec<String>>,
        now_ms: i64,
    ) -> Result<TokenRecord> {
        let token = new_token();
        self.decide(now_ms, |st| {
            st.rotate(device_id, role, scopes.clone(), token.clone(), now_ms)
        })
    }

    /// Marks the role's token revoked; `unknown deviceId/role` otherwise.
    pub fn revoke(&self, device_id: &str, role: &str, now_ms: i64) -> Result<TokenRecord> {
        self.decide(now_ms, |st| st.revoke(device_id, role, now_ms))
    }

    /// Creates the device's pending request or merges into its existing one
    /// (spec §3); `created` is false for a merge.
    pub fn request_pairing(&self, input: RequestInput, now_ms: i64) -> Result<RequestOutcome> {
        if input.device_id.trim().is_empty() {
            return Err(StoreError::Invalid("deviceId is required".into()));
        }
        if input.public_key.trim().is_empty() {
            return Err(StoreError::Invalid("publicKey is required".into()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.mutate(now_ms, |st| Ok(st.request(input, id, now_ms)))
    }

    /// Silent (local) auto-approval (spec §7, §8): create or merge the
    /// device's request and approve it at once, under one lock, so no other
    /// process ever sees the intermediate request.
    pub fn request_and_approve(
        &self,
        input: RequestInput,
        now_ms: i64,
    ) -> Result<(RequestOutcome, Approved)> {
        if input.device_id.trim().is_empty() || input.public_key.trim().is_empty() {
            return Err(StoreError::Invalid(
                "deviceId and publicKey are required".into(),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let token = new_token();
        self.mutate(now_ms, |st| {
            let outcome = st.request(input, id, now_ms);
            let approved = st.approve(&outcome.request.request_id, token, now_ms)?;
            Ok((outcome, approved))
        })
    }

    /// Metadata patch on an accepted connect of a paired device (spec §4).
    pub fn update_on_connect(
        &self,
        device_id: &str,
        meta: ConnectMeta,
        now_ms: i64,
    ) -> Result<PairedDevice> {
        self.mutate(now_ms, |st| st.update_on_connect(device_id, meta))
    }

    /// Device-token auth (spec §5). `Ok(Err(reason))` is an authentication
    /// failure (nothing written); `Ok(Ok(()))` records `lastUsedAtMs`.
    pub fn verify_device_token(
        &self,
        device_id: &str,
        role: &str,
        token: &str,
        scopes: &[String],
        now_ms: i64,
    ) -> Result<Result<(), TokenFailure>> {
        // Check without writing first, so a failed attempt never touches the files.
        let mut probe = self.load(now_ms)?;
        if let Err(reason) = probe.verify_token(device_id, role, token, scopes, now_ms) {
            return Ok(Err(reason));
        }
        self.mutate(now_ms, |st| {
            Ok(st.verify_token(device_id, role, token, scopes, now_ms))
        })
    }

    /// "Ensure token" (spec §5): reuses a non-revoked token covering `scopes`,
    /// else mints one. Writes only when a token was minted.
    pub fn ensure_token(
        &self,
        device_id: &str,
        role: &str,
        scopes: &[String],
        now_ms: i64,
    ) -> Result<TokenRecord> {
        let mut probe = self.load(now_ms)?;
        let (rec, changed) = probe.ensure_token(device_id, role, scopes, String::new(), now_ms)?;
        if !changed {
            return Ok(rec);
        }
        let token = new_token();
        self.mutate(now_ms, |st| {
            st.ensure_token(device_id, role, scopes, token, now_ms)
                .map(|(r, _)| r)
        })
    }

    /// Moves every devices file that cannot be read (malformed, of the
    /// wrong shape, or absurdly large) aside to `<name>.corrupt-<UTC stamp>`, under the locks,
    /// and returns the new paths. A missing file stays missing (= empty).
    pub fn repair(&self, now_ms: i64) -> Result<Vec<PathBuf>> {
        fsutil::check_state_dir(&self.devices_dir)?;
        let pending_path = self.pending_path();
        let paired_path = self.paired_path();
        let _pending_lock = lock::acquire_with(&pending_path, lock::LockPolicy::short())?;
        let _paired_lock = lock::acquire_with(&paired_path, lock::LockPolicy::short())?;
        let mut moved = Vec::new();
        if needs_repair(read_pending(&pending_path))? {
            moved.push(fsutil::move_aside(&pending_path, now_ms)?);
        }
        if needs_repair(read_paired(&paired_path))? {
            moved.push(fsutil::move_aside(&paired_path, now_ms)?);
        }
        Ok(moved)
    }

    /// Problems with the two files, without changing anything (for `doctor`).
    pub fn check(&self) -> Vec<StoreError> {
        let mut out = Vec::new();
        if let Err(e) = fsutil::check_state_dir(&self.devices_dir) {
            out.push(e);
            return out;
        }
        if let Err(e) = read_pending(&self.pending_path()) {
            out.push(e);
        }
        if let Err(e) = read_paired(&self.paired_path()) {
            out.push(e);
        }
        out
    }
}

fn needs_repair<T>(r: Result<Loaded<T>>) -> Result<bool> {
    match r {
        Ok(_) => Ok(false),
        Err(StoreError::Malformed { .. })
        | Err(StoreError::Shape { .. })
        | Err(StoreError::TooLarge { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------
// Reading and validating

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    StrList,
    Bool,
    Int,
    Object,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::StrList => "a list of strings",
            Kind::Bool => "true or false",
            Kind::Int => "an integer",
            Kind::Object => "an object",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string(),
            Kind::StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::Bool => v.is_boolean(),
            Kind::Int => v.as_i64().is_some(),
            Kind::Object => v.is_object(),
        }
    }
}

/// (field, kind, required). Optional fields may also be `null`.
const PENDING_FIELDS: &[(&str, Kind, bool)] = &[
    ("requestId", Kind::Str, true),
    ("deviceId", Kind::Str, true),
    ("publicKey", Kind::Str, true),
    ("displayName", Kind::Str, false),
    ("platform", Kind::Str, false),
    ("deviceFamily", Kind::Str, false),
    ("clientId", Kind::Str, false),
    ("clientMode", Kind::Str, false),
    ("role", Kind::Str, false),
    ("roles", Kind::StrList, false),
    ("scopes", Kind::StrList, false),
    ("remoteIp", Kind::Str, false),
    ("silent", Kind::Bool, false),
    ("isRepair", Kind::Bool, false),
    ("ts", Kind::Int, false),
];

const PAIRED_FIELDS: &[(&str, Kind, bool)] = &[
    ("deviceId", Kind::Str, true),
    ("publicKey", Kind::Str, true),
    ("displayName", Kind::Str, false),
    ("platform", Kind::Str, false),
    ("deviceFamily", Kind::Str, false),
    ("clientId", Kind::Str, false),
    ("clientMode", Kind::Str, false),
    ("role", Kind::Str, false),
    ("roles", Kind::StrList, false),
    ("scopes", Kind::StrList, false),
    ("approvedScopes", Kind::StrList, false),
    ("remoteIp", Kind::Str, false),
    ("tokens", Kind::Object, false),
    ("createdAtMs", Kind::Int, false),
    ("approvedAtMs", Kind::Int, false),
];

const TOKEN_FIELDS: &[(&str, Kind, bool)] = &[
    ("token", Kind::Str, true),
    ("role", Kind::Str, true),
    ("scopes", Kind::StrList, false),
    ("createdAtMs", Kind::Int, false),
    ("rotatedAtMs", Kind::Int, false),
    ("revokedAtMs", Kind::Int, false),
    ("lastUsedAtMs", Kind::Int, false),
];

/// A key as it may appear in a message: no control characters, bounded length.
fn shown(key: &str) -> String {
    let clean = crate::sanitize::for_terminal(key);
    if clean.chars().count() > 80 {
        let mut s: String = clean.chars().take(80).collect();
        s.push('…');
        s
    } else {
        clean
    }
}

fn check_fields(
    path: &Path,
    what: &str,
    obj: &Map<String, Value>,
    fields: &[(&str, Kind, bool)],
) -> Result<()> {
    for (name, kind, required) in fields {
        match obj.get(*name) {
            None if *required => {
                return Err(StoreError::Shape {
                    path: path.to_path_buf(),
                    message: format!("{what}: field `{name}` is missing"),
                })
            }
            None => {}
            Some(Value::Null) if !*required => {}
            Some(v) if kind.accepts(v) => {}
            Some(_) => {
                // The value itself is never quoted: it could be a secret.
                return Err(StoreError::Shape {
                    path: path.to_path_buf(),
                    message: format!("{what}: field `{name}` must be {}", kind.describe()),
                });
            }
        }
    }
    Ok(())
}

fn top_object(path: &Path, raw: &[u8]) -> Result<Map<String, Value>> {
    if fsutil::is_blank(raw) {
        return Ok(Map::new());
    }
    match fsutil::parse_json(path, raw)? {
        Value::Object(m) => Ok(m),
        _ => Err(StoreError::Shape {
            path: path.to_path_buf(),
            message: "expected a JSON object at the top level".into(),
        }),
    }
}

fn read_pending(path: &Path) -> Result<Loaded<PendingRequest>> {
    let raw = fsutil::read_optional(path)?;
    let entries = match &raw {
        Some(bytes) => parse_pending(path, bytes)?,
        None => Vec::new(),
    };
    Ok(Loaded { entries, raw })
}

fn read_paired(path: &Path) -> Result<Loaded<PairedDevice>> {
    let raw = fsutil::read_optional(path)?;
    let entries = match &raw {
        Some(bytes) => parse_paired(path, bytes)?,
        None => Vec::new(),
    };
    Ok(Loaded { entries, raw })
}

/// Parses the bytes of a `pending.json` exactly as the store does (blank =
/// empty; `Malformed`/`Shape` errors name `path`). `doctor` uses this too, so
/// what it calls healthy is what the store accepts.
pub fn parse_pending(path: &Path, bytes: &[u8]) -> Result<Vec<PendingRequest>> {
    let map = top_object(path, bytes)?;
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let what = format!("entry \"{}\"", shown(&key));
        let Value::Object(obj) = &value else {
            return Err(StoreError::Shape {
                path: path.to_path_buf(),
                message: format!("{what} must be an object"),
            });
        };
        check_fields(path, &what, obj, PENDING_FIELDS)?;
        let req: PendingRequest = from_value(path, &what, value)?;
        if req.request_id != key {
            return Err(StoreError::Shape {
                path: path.to_path_buf(),
                message: format!("{what}: key differs from its `requestId`"),
            });
        }
        entries.push(req);
    }
    Ok(entries)
}

/// Parses the bytes of a `paired.json` exactly as the store does.
pub fn parse_paired(path: &Path, bytes: &[u8]) -> Result<Vec<PairedDevice>> {
    let map = top_object(path, bytes)?;
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let what = format!("entry \"{}\"", shown(&key));
        let Value::Object(obj) = &value else {
            return Err(StoreError::Shape {
                path: path.to_path_buf(),
                message: format!("{what} must be an object"),
            });
        };
        check_fields(path, &what, obj, PAIRED_FIELDS)?;
        if let Some(Value::Object(tokens)) = obj.get("tokens") {
            for (role, t) in tokens {
                let twhat = format!("{what}: token \"{}\"", shown(role));
                let Value::Object(tobj) = t else {
                    return Err(StoreError::Shape {
                        path: path.to_path_buf(),
                        message: format!("{twhat} must be an object"),
                    });
                };
                check_fields(path, &twhat, tobj, TOKEN_FIELDS)?;
            }
        }
        let dev: PairedDevice = from_value(path, &what, value)?;
        if dev.device_id != key {
            return Err(StoreError::Shape {
                path: path.to_path_buf(),
                message: format!("{what}: key differs from its `deviceId`"),
            });
        }
        entries.push(dev);
    }
    Ok(entries)
}

fn from_value<T: serde::de::DeserializeOwned>(path: &Path, what: &str, v: Value) -> Result<T> {
    // serde's message may quote a value (possibly a secret): keep only its
    // first words up to the first quote.
    serde_json::from_value(v).map_err(|e| {
        let msg = e.to_string();
        let cut = msg
            .find(['"', '`'])
            .map(|i| msg[..i].trim_end().to_string())
            .unwrap_or(msg);
        StoreError::Shape {
            path: path.to_path_buf(),
            message: format!("{what}: {cut}"),
        }
    })
}

/// The text of `pending.json` for these requests.
pub fn render_pending(pending: &[PendingRequest]) -> Result<String> {
    let mut m = Map::new();
    for p in pending {
        m.insert(p.request_id.clone(), to_value(p)?);
    }
    Ok(jsonfmt::to_pretty(&Value::Object(m)))
}

/// The text of `paired.json` for these devices.
pub fn render_paired(paired: &[PairedDevice]) -> Result<String> {
    let mut m = Map::new();
    for d in paired {
        m.insert(d.device_id.clone(), to_value(d)?);
    }
    Ok(jsonfmt::to_pretty(&Value::Object(m)))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Invalid(format!("cannot encode entry: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_name_field_without_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeviceStore::new(dir.path());
        std::fs::write(
            store.paired_path(),
            r#"{"d":{"deviceId":"d","publicKey":"k","tokens":{"node":{"token":"SECRET-VALUE","role":"node","createdAtMs":"SECRET-2"}}}}"#,
        )
        .unwrap();
        let err = store.load(0).unwrap_err().to_string();
        assert!(err.contains("createdAtMs"), "{err}");
        assert!(err.contains("paired.json"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
    }
}
