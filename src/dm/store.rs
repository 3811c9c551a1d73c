//! The DM pairing store over `credentials/`: every operation re-reads the
//! files, takes OpenClaw's `<file>.lock` for anything that writes, and writes
//! atomically. Reads (`list`, the allow-lists, the console's view) never
//! create, lock or rewrite anything: a missing directory or file is empty. Files that cannot be parsed are reported and never written
//! over, unless the store was opened with `repair`, which first moves them
//! aside to `<name>.corrupt-<UTC time>`.

use std::path::{Path, PathBuf};

use super::allowlist::AllowDoc;
use super::keys;
use super::pairing::{PairingDoc, PairingRequest, Upserted};
use crate::error::{Result, StoreError};
use crate::openclaw_config::OpenClawConfig;
use crate::{fsutil, lock};

/// An approval: the sender id as stored and the removed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Approved {
    pub id: String,
    pub entry: PairingRequest,
    /// The allow-list file the sender was added to.
    pub allow_file: PathBuf,
    /// False when the sender was already on that list.
    pub added: bool,
}

/// One allow-list file as found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowList {
    pub channel: String,
    /// Account key from the file name; `None` for the unscoped file.
    pub account: Option<String>,
    pub path: PathBuf,
    /// Normalised, de-duplicated entries (empty when `error` is set).
    pub entries: Vec<String>,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
}

/// The pairing-related files of one channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelFiles {
    pub channel: String,
    pub pairing: Option<PathBuf>,
    /// `(account key or None, path)`.
    pub allowlists: Vec<(Option<String>, PathBuf)>,
}

/// Handle on one credentials directory.
#[derive(Debug, Clone)]
pub struct DmStore {
    dir: PathBuf,
    /// Channels whose plugin OpenClaw would load (their normalisers apply).
    loaded: Vec<String>,
    repair: bool,
}

impl DmStore {
    /// A store with no channel plugin loaded (OpenClaw with an empty config).
    pub fn new(credentials_dir: impl Into<PathBuf>) -> Self {
        DmStore {
            dir: credentials_dir.into(),
            loaded: Vec::new(),
            repair: false,
        }
    }

    /// A store that applies the normalisers of the channels enabled in
    /// `openclaw.json`, exactly as OpenClaw with that config does.
    pub fn for_paths(paths: &crate::paths::Paths) -> Self {
        let cfg = OpenClawConfig::load(&paths.config_file);
        Self::new(&paths.credentials_dir).with_config(&cfg)
    }

    pub fn with_config(mut self, cfg: &OpenClawConfig) -> Self {
        self.loaded = super::normalize::enabled_channels(cfg)
            .into_iter()
            .map(String::from)
            .collect();
        self
    }

    /// Move unparseable files aside instead of refusing to write.
    pub fn with_repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn plugin_loaded(&self, channel: &str) -> bool {
        self.loaded.iter().any(|c| c == channel)
    }

    /// Channels whose plugins are loaded, in OpenClaw's order.
    pub fn loaded_channels(&self) -> &[String] {
        &self.loaded
    }

    /// Every operation reaches its files through these two paths, so the
    /// check that the directory is not a symbolic link lives here.
    pub fn pairing_path(&self, channel: &str) -> Result<PathBuf> {
        let name = keys::pairing_file_name(channel)?;
        fsutil::check_state_dir(&self.dir)?;
        Ok(self.dir.join(name))
    }

    pub fn allow_path(&self, channel: &str, account: Option<&str>) -> Result<PathBuf> {
        let name = keys::allow_file_name(channel, account)?;
        fsutil::check_state_dir(&self.dir)?;
        Ok(self.dir.join(name))
    }

    /// Takes the lock of `path`, creates the file when missing (as every
    /// OpenClaw write operation does) and reads it for a change. A damaged file
    /// is an error, or with `repair` is first moved aside.
    ///
    /// OpenClaw creates the missing file *before* taking the lock, which lets a
    /// racing writer rename an empty file over a request another process just
    /// wrote; clawpair does it while holding the lock.
    fn open<D: Doc>(&self, path: &Path) -> Result<(lock::LockGuard, D)> {
        let guard = lock::acquire(path)?;
        if path.symlink_metadata().is_err() {
            fsutil::write_atomic(path, D::default().to_json().as_bytes())?;
        }
        let doc = match read::<D>(path) {
            Err(
                e @ (StoreError::Malformed { .. }
                | StoreError::Shape { .. }
                | StoreError::TooLarge { .. }),
            ) if self.repair => {
                let moved = fsutil::move_aside(path, crate::clock::system_now_ms())?;
                tracing::warn!("{e}; moved it aside to {}", moved.display());
                D::default()
            }
            other => other?,
        };
        Ok((guard, doc))
    }

    /// Read-only view of a channel's requests: expired and over-cap requests
    /// dropped in memory, nothing written, no lock. For watchers and renderers.
    pub fn read_requests(&self, channel: &str, now_ms: i64) -> Result<Vec<PairingRequest>> {
        let mut doc: PairingDoc = read(&self.pairing_path(channel)?)?;
        doc.prune(now_ms);
        Ok(doc.visible(None))
    }

    /// OpenClaw's list, as a pure read: expired and over-cap requests are
    /// dropped in memory only, then the rest is filtered by account and sorted
    /// by `createdAt`. OpenClaw's list also creates a missing file (and its
    /// lock) and rewrites a pruned one; clawpair leaves that to the next
    /// write, which prunes the same way, so a look never changes the state
    /// (nor plants a legacy file for a newer OpenClaw to migrate).
    pub fn list(
        &self,
        channel: &str,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<PairingRequest>> {
        let mut doc: PairingDoc = read(&self.pairing_path(channel)?)?;
        doc.prune(now_ms);
        Ok(doc.visible(account))
    }

    /// What a channel adapter does when an unknown sender writes.
    pub fn upsert(
        &self,
        channel: &str,
        id: &str,
        account: Option<&str>,
        meta: &[(String, String)],
        now_ms: i64,
    ) -> Result<Upserted> {
        let path = self.pairing_path(channel)?;
        let (_guard, mut doc) = self.open::<PairingDoc>(&path)?;
        let (result, write) = doc.upsert(id, account, meta, now_ms)?;
        if write {
            save(&path, &doc)?;
        }
        Ok(result)
    }

    /// Finds the first live request matching `code` (and `account`) and
    /// removes it from the document, which is returned unwritten with the lock
    /// still held; `dirty` says whether the file must be rewritten (a request
    /// was taken or expired ones were dropped). `None` when there is no
    /// pairing file at all.
    fn take_request(
        &self,
        path: &Path,
        code: &str,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Taken>> {
        // No file, no request: nothing to lock or create (an approval of a
        // code that cannot exist must not plant an empty pairing file).
        if path
            .symlink_metadata()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Ok(None);
        }
        let (guard, mut doc) = self.open::<PairingDoc>(path)?;
        let expired = doc.drop_expired(now_ms);
        let taken = doc.find_code(code, account).map(|i| doc.requests.remove(i));
        let dirty = taken.is_some() || expired;
        Ok(Some(Taken {
            _guard: guard,
            doc,
            taken,
            dirty,
        }))
    }

    /// Approves the request with `code`: removes it and (still holding the
    /// pairing lock) adds its sender to the allow-list of the given account,
    /// else of the request's `meta.accountId`, else the unscoped list.
    /// `Ok(None)` when no such request exists.
    ///
    /// The allow-list is written (and made durable) before the pairing file:
    /// if the second write fails or the process dies in between, the sender
    /// is allowed and the request is still pending (approving it again is
    /// harmless), instead of the request being gone with the sender not allowed.
    pub fn approve(
        &self,
        channel: &str,
        code: &str,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Approved>> {
        let path = self.pairing_path(channel)?;
        let Some(t) = self.take_request(&path, code, account, now_ms)? else {
            return Ok(None);
        };
        let Some(raw) = t.taken.clone() else {
            if t.dirty {
                fsutil::write_atomic(&path, t.doc.to_json().as_bytes())?;
            }
            return Ok(None);
        };
        let entry = PairingRequest::from_value(&raw).ok_or_else(|| {
            StoreError::Invalid(format!(
                "{}: the matching request has no sender id",
                path.display()
            ))
        })?;
        let given = account.map(str::trim).filter(|a| !a.is_empty());
        let stored = raw
            .get("meta")
            .and_then(|m| m.get("accountId"))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|a| !a.is_empty());
        let (allow_file, added) = self.allow_update(channel, given.or(stored), |doc, loaded| {
            doc.add(channel, &entry.id, loaded)
        })?;
        fsutil::write_atomic(&path, t.doc.to_json().as_bytes())?;
        Ok(Some(Approved {
            id: entry.id.clone(),
            entry,
            allow_file,
            added,
        }))
    }

    /// Dismisses the request with `code` without allowing its sender (an
    /// addition of clawpair's; OpenClaw only lets requests expire). The sender
    /// gets a new code if they write again.
    pub fn reject(
        &self,
        channel: &str,
        code: &str,
        account: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<PairingRequest>> {
        let path = self.pairing_path(channel)?;
        let Some(t) = self.take_request(&path, code, account, now_ms)? else {
            return Ok(None);
        };
        if t.dirty {
            fsutil::write_atomic(&path, t.doc.to_json().as_bytes())?;
        }
        Ok(t.taken.as_ref().and_then(PairingRequest::from_value))
    }

    /// A locked change of one allow-list file; written only when `change` says it changed.
    fn allow_update(
        &self,
        channel: &str,
        account: Option<&str>,
        change: impl FnOnce(&mut AllowDoc, bool) -> bool,
    ) -> Result<(PathBuf, bool)> {
        let path = self.allow_path(channel, account)?;
        let (_guard, mut doc) = self.open::<AllowDoc>(&path)?;
        let changed = change(&mut doc, self.plugin_loaded(channel));
        if changed {
            save(&path, &doc)?;
        }
        Ok((path, changed))
    }

    /// Adds `entry` to an allow-list file; true when it was not there yet.
    pub fn allow_add(&self, channel: &str, account: Option<&str>, entry: &str) -> Result<bool> {
        let update = self.allow_update(channel, account, |doc, loaded| {
            doc.add(channel, entry, loaded)
        })?;
        Ok(update.1)
    }

    /// Removes `entry` from one allow-list file; true when it was there.
    pub fn allow_remove(&self, channel: &str, account: Option<&str>, entry: &str) -> Result<bool> {
        let update = self.allow_update(channel, account, |doc, loaded| {
            doc.remove(channel, entry, loaded)
        })?;
        Ok(update.1)
    }

    /// Revokes a sender from everything that makes up an account's effective
    /// list: the scoped file, and for `default` also the unscoped file.
    /// Returns the files it was removed from.
    pub fn revoke(
        &self,
        channel: &str,
        account: Option<&str>,
        entry: &str,
    ) -> Result<Vec<PathBuf>> {
        let account = keys::request_account(account);
        let mut targets: Vec<Option<&str>> = vec![Some(account.as_str())];
        if account == "default" {
            targets.push(None);
        }
        let mut removed_from = Vec::new();
        for target in targets {
            let path = self.allow_path(channel, target)?;
            if !path.exists() {
                continue;
            }
            if self.allow_remove(channel, target, entry)? {
                removed_from.push(path);
            }
        }
        Ok(removed_from)
    }

    /// The allow-list of one file, normalised (no lock, no write).
    pub fn allow_entries(&self, channel: &str, account: Option<&str>) -> Result<Vec<String>> {
        let path = self.allow_path(channel, account)?;
        Ok(read::<AllowDoc>(&path)?.normalized(channel, self.plugin_loaded(channel)))
    }

    /// What the bot accepts from the store for `account`: for `default` the
    /// scoped default file then the unscoped file; otherwise the scoped file only.
    pub fn effective_allowlist(&self, channel: &str, account: Option<&str>) -> Result<Vec<String>> {
        let account = keys::request_account(account);
        let mut all = self.allow_entries(channel, Some(&account))?;
        if account == "default" {
            all.extend(self.allow_entries(channel, None)?);
        }
        Ok(super::normalize::normalize_list(
            channel,
            all.iter().map(String::as_str),
            self.plugin_loaded(channel),
        ))
    }

    /// Every channel with a pairing or allow-list file in the directory, sorted.
    pub fn channels(&self) -> Result<Vec<ChannelFiles>> {
        fsutil::check_state_dir(&self.dir)?;
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut pairing: Vec<(String, PathBuf)> = Vec::new();
        let mut allow: Vec<(String, PathBuf)> = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix("-pairing.json") {
                pairing.push((stem.to_string(), ent.path()));
            } else if let Some(stem) = name.strip_suffix("-allowFrom.json") {
                allow.push((stem.to_string(), ent.path()));
            }
        }
        let mut known: Vec<String> = pairing.iter().map(|(c, _)| c.clone()).collect();
        known.extend(
            super::normalize::PAIRING_CHANNELS
                .iter()
                .map(|c| c.to_string()),
        );
        let mut out: Vec<ChannelFiles> = Vec::new();
        let slot = |out: &mut Vec<ChannelFiles>, ch: &str| -> usize {
            match out.iter().position(|c| c.channel == ch) {
                Some(i) => i,
                None => {
                    out.push(ChannelFiles {
                        channel: ch.to_string(),
                        ..Default::default()
                    });
                    out.len() - 1
                }
            }
        };
        for (ch, p) in pairing {
            let i = slot(&mut out, &ch);
            out[i].pairing = Some(p);
        }
        for (stem, p) in allow {
            let (ch, acc) = split_allow_stem(&stem, &known);
            let i = slot(&mut out, &ch);
            out[i].allowlists.push((acc, p));
        }
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        for c in &mut out {
            c.allowlists.sort();
        }
        Ok(out)
    }

    /// Every allow-list file with its entries; a damaged file is reported in `error`.
    pub fn allowlists(&self) -> Result<Vec<AllowList>> {
        let mut out = Vec::new();
        for ch in self.channels()? {
            for (acc, path) in &ch.allowlists {
                let (entries, error) = match read::<AllowDoc>(path) {
                    Ok(d) => (
                        d.normalized(&ch.channel, self.plugin_loaded(&ch.channel)),
                        None,
                    ),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                out.push(AllowList {
                    channel: ch.channel.clone(),
                    account: acc.clone(),
                    path: path.clone(),
                    entries,
                    error,
                });
            }
        }
        Ok(out)
    }
}

/// A request taken out of a pairing document that is not written yet.
struct Taken {
    _guard: lock::LockGuard,
    doc: PairingDoc,
    taken: Option<serde_json::Value>,
    dirty: bool,
}

/// A credentials document: how it is parsed and how it is written.
trait Doc: Default + Sized {
    fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<Self>;
    fn to_json(&self) -> String;
}

impl Doc for PairingDoc {
    fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<Self> {
        PairingDoc::parse(path, bytes)
    }
    fn to_json(&self) -> String {
        PairingDoc::to_json(self)
    }
}

impl Doc for AllowDoc {
    fn parse(path: &Path, bytes: Option<&[u8]>) -> Result<Self> {
        AllowDoc::parse(path, bytes)
    }
    fn to_json(&self) -> String {
        AllowDoc::to_json(self)
    }
}

/// Reads a document without locking (a missing file is the empty document).
fn read<D: Doc>(path: &Path) -> Result<D> {
    let bytes = fsutil::read_optional(path)?;
    D::parse(path, bytes.as_deref())
}

fn save<D: Doc>(path: &Path, doc: &D) -> Result<()> {
    fsutil::write_atomic(path, doc.to_json().as_bytes())
}

/// Splits `<channel>[-<account>]` using the longest known channel that fits;
/// an unknown channel is taken to end at the first `-`.
fn split_allow_stem(stem: &str, known: &[String]) -> (String, Option<String>) {
    let best = known
        .iter()
        .filter(|k| stem == k.as_str() || stem.starts_with(&format!("{k}-")))
        .max_by_key(|k| k.len());
    match best {
        Some(k) if stem == k.as_str() => (k.clone(), None),
        Some(k) => (k.clone(), Some(stem[k.len() + 1..].to_string())),
        None => match stem.split_once('-') {
            Some((c, a)) => (c.to_string(), Some(a.to_string())),
            None => (stem.to_string(), None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::split_allow_stem;

    #[test]
    fn allow_file_names_split_on_known_channels() {
        let known = vec!["telegram".to_string(), "synology-chat".to_string()];
        assert_eq!(
            split_allow_stem("telegram", &known),
            ("telegram".into(), None)
        );
        assert_eq!(
            split_allow_stem("telegram-work", &known),
            ("telegram".into(), Some("work".into()))
        );
        assert_eq!(
            split_allow_stem("synology-chat", &known),
            ("synology-chat".into(), None)
        );
        assert_eq!(
            split_allow_stem("synology-chat-default", &known),
            ("synology-chat".into(), Some("default".into()))
        );
        assert_eq!(
            split_allow_stem("foo-bar", &known),
            ("foo".into(), Some("bar".into()))
        );
        assert_eq!(split_allow_stem("foo", &known), ("foo".into(), None));
    }
}
