//! The decision history: one JSON line per decision clawpair makes (approve,
//! reject, remove, revoke, rotate, setup code issued, redeemed or expired),
//! from the console, the CLI, headless mode or through a remote gateway, and
//! per decision it observed being made elsewhere.
//!
//! * Where: beside the state the decision changed: `<state>/clawpair-audit.jsonl`
//!   for local state, `<config>/clawpair/audit.jsonl` (`$XDG_CONFIG_HOME`, else
//!   `~/.config`) for decisions made through a remote gateway (each record
//!   names the gateway).
//! * How: opened `O_APPEND | O_NOFOLLOW`, created 0600, one `write` per line
//!   under an advisory `flock` (so two processes never interleave and a
//!   rotation never loses a line), then `fsync`. Past [`ROTATE_BYTES`] the file
//!   moves to `.1` (then `.2`, `.3`; the oldest goes).
//! * What never goes in: a DM pairing code, a token or a setup code. The
//!   [`Record`] type has no field that could hold one.
//! * Reading is tolerant: a damaged line is counted and skipped, the rest is read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{Result, StoreError};
use crate::fsutil;

/// The log's file name in a state dir.
pub const FILE_NAME: &str = "clawpair-audit.jsonl";
/// The log's file name in clawpair's config dir (remote gateways).
pub const REMOTE_FILE_NAME: &str = "audit.jsonl";
/// A log larger than this is rotated before the next append.
pub const ROTATE_BYTES: u64 = 1024 * 1024;
/// Rotated files kept (`.1` … `.3`).
pub const KEEP: usize = 3;
/// An observed decision is not recorded again when a record of the same
/// action on the same subject is this recent (the process that made it
/// recorded it, or another console saw it first).
pub const OBSERVED_WINDOW_MS: i64 = 120_000;
/// Longest line read back; anything longer is counted as damaged.
const MAX_LINE: usize = 64 * 1024;

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "approve")]
    Approve,
    #[serde(rename = "reject")]
    Reject,
    /// A paired device removed.
    #[serde(rename = "remove")]
    Remove,
    /// A device token or an allow-list entry revoked.
    #[serde(rename = "revoke")]
    Revoke,
    /// A device token rotated.
    #[serde(rename = "rotate")]
    Rotate,
    #[serde(rename = "setup_code.issued")]
    SetupCodeIssued,
    #[serde(rename = "setup_code.redeemed")]
    SetupCodeRedeemed,
    #[serde(rename = "setup_code.expired")]
    SetupCodeExpired,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Remove => "remove",
            Action::Revoke => "revoke",
            Action::Rotate => "rotate",
            Action::SetupCodeIssued => "setup_code.issued",
            Action::SetupCodeRedeemed => "setup_code.redeemed",
            Action::SetupCodeExpired => "setup_code.expired",
        }
    }
}

/// What the decision was about. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A DM sender: a pairing request, or an allow-list entry.
    Dm {
        channel: String,
        account: String,
        sender: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A device: a pairing request, a paired device or one of its tokens.
    Device {
        device_id: String,
        fingerprint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// The token's role (rotate, revoke).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// What an approval granted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scopes: Vec<String>,
    },
    /// A setup code: where it points and until when (never the code).
    SetupCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<String>,
        /// The device that redeemed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<String>,
    },
}

impl Subject {
    /// A DM sender (`account` `None` is `default`).
    pub fn dm(channel: &str, account: Option<&str>, sender: &str, name: Option<String>) -> Subject {
        Subject::Dm {
            channel: channel.to_string(),
            account: account.unwrap_or("default").to_string(),
            sender: sender.to_string(),
            name: name.filter(|n| !n.trim().is_empty()),
        }
    }

    /// A device by id, with what else is known about it.
    pub fn device(device_id: &str, name: Option<&str>, request_id: Option<&str>) -> Subject {
        Subject::Device {
            device_id: device_id.to_string(),
            fingerprint: crate::devices::model::short_fingerprint(device_id),
            name: name.map(str::to_string).filter(|n| !n.trim().is_empty()),
            request_id: request_id.map(str::to_string),
            role: None,
            roles: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// Same subject for de-duplicating observations: the sender of a channel
    /// account, the device, the setup code's device.
    fn same(&self, other: &Subject) -> bool {
        match (self, other) {
            (
                Subject::Dm {
                    channel,
                    account,
                    sender,
                    ..
                },
                Subject::Dm {
                    channel: c,
                    account: a,
                    sender: s,
                    ..
                },
            ) => channel == c && account == a && sender == s,
            (Subject::Device { device_id, .. }, Subject::Device { device_id: d, .. }) => {
                device_id == d
            }
            (Subject::SetupCode { device_id, .. }, Subject::SetupCode { device_id: d, .. }) => {
                device_id == d
            }
            _ => false,
        }
    }

    /// One line for people: `telegram/default 123456789 (Alice)`,
    /// `device studio-mac key 9aee:8cff:109f:16dc`.
    pub fn describe(&self) -> String {
        use crate::sanitize::for_terminal as c;
        match self {
            Subject::Dm {
                channel,
                account,
                sender,
                name,
            } => {
                let mut s = format!("{}/{} {}", c(channel), c(account), c(sender));
                if let Some(n) = name {
                    s.push_str(&format!(" ({})", c(n)));
                }
                s
            }
            Subject::Device {
                fingerprint,
                name,
                role,
                ..
            } => {
                let mut s = match name {
                    Some(n) => format!("{} key {fingerprint}", c(n)),
                    None => format!("device key {fingerprint}"),
                };
                if let Some(r) = role {
                    s.push_str(&format!(" role {}", c(r)));
                }
                s
            }
            Subject::SetupCode {
                url,
                expires,
                device_id,
            } => {
                let mut parts = vec!["setup code".to_string()];
                if let Some(u) = url {
                    parts.push(format!("for {}", c(u)));
                }
                if let Some(d) = device_id {
                    parts.push(format!(
                        "by key {}",
                        crate::devices::model::short_fingerprint(d)
                    ));
                }
                if let Some(e) = expires {
                    parts.push(format!("until {}", c(e)));
                }
                parts.join(" ")
            }
        }
    }
}

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Console,
    Cli,
    Headless,
    /// clawpair's own gateway (a setup code redeemed, a local client approved).
    Gateway,
    /// Another process or OpenClaw itself; recorded by whoever observed it.
    Elsewhere,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Cli => "cli",
            Via::Headless => "headless",
            Via::Gateway => "gateway",
            Via::Elsewhere => "elsewhere",
        }
    }
}

/// Which state the decision changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A local state dir (OpenClaw's files or database).
    Local(PathBuf),
    /// A gateway reached over WebSocket (`wss://host:port`).
    Gateway(String),
}

impl Place {
    /// The log file for decisions on this state.
    pub fn log_path(&self) -> PathBuf {
        match self {
            // An OpenClaw 2026.7+ state dir gets no file of clawpair's:
            // its decisions are logged in the config dir, as remote ones.
            Place::Local(dir) if crate::statedb::Generation::detect(dir).is_sqlite() => {
                config_dir().join(REMOTE_FILE_NAME)
            }
            Place::Local(dir) => dir.join(FILE_NAME),
            Place::Gateway(_) => config_dir().join(REMOTE_FILE_NAME),
        }
    }

    /// How a record names it.
    pub fn label(&self) -> String {
        match self {
            Place::Local(dir) => dir.display().to_string(),
            Place::Gateway(url) => url.clone(),
        }
    }
}

/// clawpair's own config dir: `$XDG_CONFIG_HOME/clawpair`, else `~/.config/clawpair`.
pub fn config_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".config")
        });
    base.join("clawpair")
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Tried and failed; nothing changed.
    Failed,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When, ISO-8601 UTC with milliseconds.
    pub ts: String,
    pub action: Action,
    pub subject: Subject,
    /// Where it was made.
    pub via: Via,
    /// For `via: elsewhere`: which of ours saw it (console, headless, gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_by: Option<Via>,
    /// The state it changed: a state dir, or a gateway URL.
    #[serde(rename = "where")]
    pub place: String,
    /// The OS user clawpair ran as (for observed decisions: who observed).
    pub user: String,
    pub result: Outcome,
    /// Why it failed, or a note ("auto-approved local client").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Record {
    /// A successful decision made here, now.
    pub fn new(now_ms: i64, action: Action, subject: Subject, via: Via, place: &Place) -> Record {
        Record {
            ts: clock::format_iso_ms(now_ms),
            action,
            subject,
            via,
            observed_by: None,
            place: place.label(),
            user: os_user(),
            result: Outcome::Ok,
            detail: None,
        }
    }

    /// A decision made elsewhere and noticed by `by`.
    pub fn observed(
        now_ms: i64,
        action: Action,
        subject: Subject,
        by: Via,
        place: &Place,
    ) -> Record {
        Record {
            observed_by: Some(by),
            ..Record::new(now_ms, action, subject, Via::Elsewhere, place)
        }
    }

    pub fn failed(mut self, why: impl Into<String>) -> Record {
        self.result = Outcome::Failed;
        self.detail = Some(why.into());
        self
    }

    pub fn with_detail(mut self, note: impl Into<String>) -> Record {
        self.detail = Some(note.into());
        self
    }

    pub fn ts_ms(&self) -> Option<i64> {
        clock::parse_iso_ms(&self.ts)
    }

    pub fn is_observed(&self) -> bool {
        self.via == Via::Elsewhere
    }

    /// Whether `self` is the same decision as `other` (for observations).
    fn same_decision(&self, other: &Record, window_ms: i64) -> bool {
        self.action == other.action
            && self.subject.same(&other.subject)
            && match (self.ts_ms(), other.ts_ms()) {
                (Some(a), Some(b)) => (a - b).abs() <= window_ms,
                _ => false,
            }
    }
}

/// The OS user this process runs as: its login name, else `uid N`.
pub fn os_user() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into our buffers.
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0u8; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() && !pw.pw_name.is_null() {
        // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        if let Ok(n) = name.to_str() {
            if !n.is_empty() {
                return n.to_string();
            }
        }
    }
    format!("uid {uid}")
}

/// Appends `rec` to the log at `path`.
pub fn append(path: &Path, rec: &Record) -> Result<()> {
    append_with(path, rec, |_| true).map(|_| ())
}

/// Appends an observed decision unless the log already holds it (within
/// [`OBSERVED_WINDOW_MS`]): the process that made it, or another observer,
/// recorded it first. True when it was appended.
pub fn append_observed(path: &Path, rec: &Record) -> Result<bool> {
    append_with(path, rec, |recent| {
        !recent
            .iter()
            .any(|r| r.same_decision(rec, OBSERVED_WINDOW_MS))
    })
}

/// Opens (creating 0600) the log for appending, refusing a symbolic link or
/// anything but a regular file.
fn open_log(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                fsutil::symlink_error(path)
            } else {
                StoreError::io(path, e)
            }
        })?;
    let meta = f.metadata().map_err(|e| StoreError::io(path, e))?;
    if !meta.is_file() {
        return Err(StoreError::io(
            path,
            io::Error::other("is not a regular file; refusing to use it as the audit log"),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::io(path, e))?;
    }
    Ok(f)
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The shared write path: under the file's `flock`, on the file the path
/// names now (a rotation by another process may have renamed the one we
/// opened), `keep(recent)` decides, then one write and an fsync.
fn append_with(path: &Path, rec: &Record, keep: impl Fn(&[Record]) -> bool) -> Result<bool> {
    let dir = fsutil::parent_of(path);
    fsutil::ensure_private_dir(&dir)?;
    let mut line = serde_json::to_string(rec)
        .map_err(|e| StoreError::Invalid(format!("cannot encode the audit record: {e}")))?;
    line.push('\n');
    for _ in 0..10 {
        let existed = fs::symlink_metadata(path).is_ok();
        let mut f = open_log(path)?;
        // SAFETY: flock on a descriptor we own; released when it is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(StoreError::io(path, io::Error::last_os_error()));
        }
        let ours = f.metadata().map_err(|e| StoreError::io(path, e))?;
        match fs::symlink_metadata(path) {
            Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {}
            // Renamed (rotated) or removed since we opened it: open again.
            _ => continue,
        }
        if ours.len() > 0 && ours.len() + line.len() as u64 > ROTATE_BYTES {
            rotate(path)?;
            continue;
        }
        let recent = tail_records(&mut f, 64 * 1024);
        if !keep(&recent) {
            return Ok(false);
        }
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(|e| StoreError::io(path, e))?;
        if !existed {
            fsutil::sync_dir(&dir);
        }
        return Ok(true);
    }
    Err(StoreError::io(
        path,
        io::Error::other("the audit log kept moving while it was being written"),
    ))
}

/// `log.2` → `log.3`, `log.1` → `log.2`, `log` → `log.1` (the oldest goes).
/// Called with the current file's `flock` held.
fn rotate(path: &Path) -> Result<()> {
    for n in (1..KEEP).rev() {
        let from = rotated(path, n);
        if fs::symlink_metadata(&from).is_ok() {
            fs::rename(&from, rotated(path, n + 1)).map_err(|e| StoreError::io(&from, e))?;
        }
    }
    fs::rename(path, rotated(path, 1)).map_err(|e| StoreError::io(path, e))?;
    fsutil::sync_dir(&fsutil::parent_of(path));
    Ok(())
}

/// The records in the last `bytes` of an open log (damaged lines skipped).
fn tail_records(f: &mut File, bytes: u64) -> Vec<Record> {
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(bytes);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(bytes).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        // The first line is probably cut.
        text = text
            .split_once('\n')
            .map(|x| x.1.to_string())
            .unwrap_or_default();
    }
    parse_lines(&text).0
}

/// Parses JSON lines; returns the records and how many lines were damaged.
pub fn parse_lines(text: &str) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut damaged = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            damaged += 1;
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) => damaged += 1,
        }
    }
    (out, damaged)
}

/// Everything in a log and its rotated files, oldest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct History {
    pub records: Vec<Record>,
    /// Lines that could not be read (reported; the rest is still read).
    pub damaged: usize,
    /// Files that could not be opened at all.
    pub errors: Vec<String>,
}

/// Reads a log (and its rotated files, oldest first). A missing log is
/// empty. Never creates or changes anything.
pub fn read(path: &Path) -> History {
    let mut h = History::default();
    let mut files: Vec<PathBuf> = (1..=KEEP).rev().map(|n| rotated(path, n)).collect();
    files.push(path.to_path_buf());
    for p in files {
        match fsutil::read_capped(&p, ROTATE_BYTES * 4) {
            Ok(None) => {}
            Ok(Some(bytes)) => {
                let (recs, bad) = parse_lines(&String::from_utf8_lossy(&bytes));
                h.records.extend(recs);
                h.damaged += bad;
            }
            Err(e) => h.errors.push(e.to_string()),
        }
    }
    h
}

/// Reads several logs and merges them by time (stable for equal times).
pub fn read_all(paths: &[PathBuf]) -> History {
    let mut h = History::default();
    for p in paths {
        let one = read(p);
        h.records.extend(one.records);
        h.damaged += one.damaged;
        h.errors.extend(one.errors);
    }
    h.records.sort_by_key(|r| r.ts_ms().unwrap_or(i64::MIN));
    h
}

/// Which records to show.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only records at or after this time.
    pub since_ms: Option<i64>,
    /// A device id, its prefix, fingerprint or name (case-insensitive).
    pub device: Option<String>,
    /// A DM channel.
    pub channel: Option<String>,
}

impl Filter {
    pub fn matches(&self, r: &Record) -> bool {
        if let Some(since) = self.since_ms {
            if r.ts_ms().is_none_or(|t| t < since) {
                return false;
            }
        }
        if let Some(want) = &self.channel {
            match &r.subject {
                Subject::Dm { channel, .. } if channel.eq_ignore_ascii_case(want) => {}
                _ => return false,
            }
        }
        if let Some(want) = &self.device {
            let want = want.to_lowercase();
            let hit = match &r.subject {
                Subject::Device {
                    device_id,
                    fingerprint,
                    name,
                    request_id,
                    ..
                } => {
                    device_id.to_lowercase().starts_with(&want)
                        || fingerprint.starts_with(&want)
                        || name.as_deref().is_some_and(|n| n.to_lowercase() == want)
                        || request_id
                            .as_deref()
                            .is_some_and(|q| q.to_lowercase().starts_with(&want))
                }
                Subject::SetupCode {
                    device_id: Some(d), ..
                } => d.to_lowercase().starts_with(&want),
                _ => false,
            };
            if !hit {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: i64, action: Action, subject: Subject) -> Record {
        Record::new(
            t,
            action,
            subject,
            Via::Cli,
            &Place::Local(PathBuf::from("/state")),
        )
    }

    const T: i64 = 1_772_366_400_000;

    #[test]
    fn appends_private_lines_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let a = rec(T, Action::Approve, Subject::dm("telegram", None, "1", None));
        let b = rec(
            T + 1,
            Action::Remove,
            Subject::device("abcd", Some("phone"), None),
        );
        append(&path, &a).unwrap();
        append(&path, &b).unwrap();
        assert_eq!(fsutil::mode_of(&path), Some(0o600));
        let h = read(&path);
        assert_eq!(h.records, vec![a, b]);
        assert_eq!(h.damaged, 0);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains(r#""action":"approve""#), "{text}");
        assert!(text.contains(r#""where":"/state""#), "{text}");
    }

    #[test]
    fn a_damaged_line_does_not_stop_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let a = rec(T, Action::Reject, Subject::dm("signal", None, "+1", None));
        append(&path, &a).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"ts\":\"2026-03-01T12:00:00.000Z\",\"act\n\xff\xfe garbage\n")
            .unwrap();
        drop(f);
        append(&path, &a).unwrap();
        let h = read(&path);
        assert_eq!(h.records.len(), 2);
        assert_eq!(h.damaged, 2);
    }

    #[test]
    fn rotates_by_size_and_reads_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let big = "x".repeat(20_000);
        let mut n = 0;
        while fs::symlink_metadata(rotated(&path, 2)).is_err() {
            let r = rec(
                T + n,
                Action::Approve,
                Subject::dm("telegram", None, &format!("{n}"), Some(big.clone())),
            );
            append(&path, &r).unwrap();
            n += 1;
        }
        for f in [path.clone(), rotated(&path, 1), rotated(&path, 2)] {
            let size = fs::metadata(&f).unwrap().len();
            assert!(size <= ROTATE_BYTES, "{} is {size}", f.display());
        }
        let h = read(&path);
        assert_eq!(h.records.len() as i64, n, "nothing lost before .3 exists");
        assert!(h.records.windows(2).all(|w| w[0].ts <= w[1].ts));
    }

    #[test]
    fn observed_decisions_are_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let place = Place::Local(dir.path().to_path_buf());
        let subject = Subject::dm("telegram", Some("default"), "7", None);
        let mine = rec(T, Action::Approve, subject.clone());
        append(&path, &mine).unwrap();
        let seen = Record::observed(
            T + 500,
            Action::Approve,
            subject.clone(),
            Via::Console,
            &place,
        );
        assert!(
            !append_observed(&path, &seen).unwrap(),
            "already recorded by its maker"
        );
        let other = Record::observed(
            T + 500,
            Action::Reject,
            subject.clone(),
            Via::Console,
            &place,
        );
        assert!(append_observed(&path, &other).unwrap());
        assert!(
            !append_observed(&path, &other).unwrap(),
            "a second observer"
        );
        let later = Record::observed(
            T + OBSERVED_WINDOW_MS + 10_000,
            Action::Approve,
            subject,
            Via::Console,
            &place,
        );
        assert!(append_observed(&path, &later).unwrap());
        assert_eq!(read(&path).records.len(), 3);
    }

    #[test]
    fn refuses_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = append(
            &path,
            &rec(T, Action::Approve, Subject::dm("a", None, "1", None)),
        )
        .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"");
    }

    #[test]
    fn filters() {
        let d = rec(
            T,
            Action::Approve,
            Subject::device("9aee8cff109f16dc", Some("Mac"), Some("req-1")),
        );
        let m = rec(
            T + 10,
            Action::Reject,
            Subject::dm("telegram", None, "5", None),
        );
        let f = Filter {
            device: Some("9aee".into()),
            ..Filter::default()
        };
        assert!(f.matches(&d) && !f.matches(&m));
        let f = Filter {
            device: Some("mac".into()),
            ..Filter::default()
        };
        assert!(f.matches(&d));
        let f = Filter {
            channel: Some("Telegram".into()),
            since_ms: Some(T + 5),
            ..Filter::default()
        };
        assert!(f.matches(&m) && !f.matches(&d));
    }

    #[test]
    fn os_user_is_named() {
        assert!(!os_user().is_empty());
    }
}
