//! The `<data file>.lock` protocol OpenClaw 2026.2.26 uses for its credential
//! files, so clawpair and a running OpenClaw never lose each other's updates.
//!
//! * exclusive create of `<canonical dir>/<name>.lock` holding
//!   `{"pid": <pid>, "createdAt": "<ISO ms Z>"}` (2-space JSON, no newline);
//! * an existing lock is stale when its pid is dead (or a zombie), when its
//!   `createdAt` is unparseable or older than 30 s, when its mtime is older
//!   than 30 s, or when it cannot be stat-ed; a stale lock is removed and the
//!   create retried at once;
//! * otherwise up to 11 attempts with OpenClaw's jittered exponential backoff
//!   (≈100 ms doubling to 10 s), then `file lock timeout for <data file>`;
//! * released by deleting the lock file, but only while it is still ours.
//!
//! One deliberate difference: a pid that exists but belongs to another user
//! (`kill(pid, 0)` → EPERM) counts as alive here. OpenClaw counts it as dead;
//! breaking a live holder's lock could lose an update, waiting cannot.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::clock;
use crate::error::{Result, StoreError};
use crate::fsutil;

/// Age after which any lock is broken.
pub const STALE_MS: i64 = 30_000;
/// Number of create attempts before giving up.
pub const ATTEMPTS: u32 = 11;

/// Timing of the retry loop. [`LockPolicy::openclaw`] is what every real
/// operation uses; tests may shorten it.
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    pub attempts: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl LockPolicy {
    pub const fn openclaw() -> Self {
        LockPolicy {
            attempts: ATTEMPTS,
            base_ms: 100,
            max_ms: 10_000,
        }
    }

    /// Sleep before attempt `k + 1`, as OpenClaw computes it:
    /// `min(max, round(min(max, max(base, base·2^k)) · (1 + r)))`, r ∈ [0, 1).
    pub fn delay_ms(&self, k: u32, r: f64) -> u64 {
        let exp = self.base_ms.saturating_mul(1u64 << k.min(30));
        let raw = exp.max(self.base_ms).min(self.max_ms) as f64;
        ((raw * (1.0 + r)).round() as u64).min(self.max_ms)
    }
}

impl LockPolicy {
    /// For `devices/`, which OpenClaw does not lock: the same lock files, but
    /// a short capped backoff (2 ms doubling to 50 ms, about as long in all
    /// as OpenClaw's schedule). Its holders need milliseconds, and the
    /// gateway's single writer holds up every handshake while it waits:
    /// OpenClaw's 100 ms → 10 s schedule stalled connects for over 15 s
    /// behind a burst of `devices approve` (tests/load_headless.rs).
    pub const fn short() -> Self {
        LockPolicy {
            attempts: 1_000,
            base_ms: 2,
            max_ms: 50,
        }
    }
}

impl Default for LockPolicy {
    fn default() -> Self {
        Self::openclaw()
    }
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    lock_path: PathBuf,
    content: String,
    _file: fs::File,
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Only delete what is still our own lock: if someone broke it as stale
        // and took it, theirs must survive.
        if let Ok(current) = fs::read_to_string(&self.lock_path) {
            if current == self.content {
                let _ = fs::remove_file(&self.lock_path);
            }
        }
    }
}

/// The lock file that guards `data_path`.
pub fn lock_path_for(data_path: &Path) -> Result<PathBuf> {
    let dir = fsutil::parent_of(data_path);
    fsutil::ensure_private_dir(&dir)?;
    let canonical = fs::canonicalize(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let name = data_path
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{}: not a file path", data_path.display())))?;
    Ok(canonical.join(format!("{}.lock", name.to_string_lossy())))
}

/// Takes the lock for `data_path` with OpenClaw's policy.
pub fn acquire(data_path: &Path) -> Result<LockGuard> {
    acquire_with(data_path, LockPolicy::openclaw())
}

/// Takes the lock for `data_path` with an explicit retry policy.
pub fn acquire_with(data_path: &Path, policy: LockPolicy) -> Result<LockGuard> {
    let lock_path = lock_path_for(data_path)?;
    let mut waited_ms = 0u64;
    let mut told = false;
    let mut attempt = 0;
    // A lock released between our failed create and our look at it is not
    // an attempt: retry at once (bounded, so a pathological flapping lock
    // still ends in the normal timeout).
    let mut vanished = 0u32;
    while attempt < policy.attempts {
        let content = format!(
            "{{\n  \"pid\": {},\n  \"createdAt\": \"{}\"\n}}",
            std::process::id(),
            clock::format_iso_ms(clock::system_now_ms())
        );
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&lock_path)
        {
            Ok(mut file) => {
                if let Err(e) = file.write_all(content.as_bytes()) {
                    let _ = fs::remove_file(&lock_path);
                    return Err(StoreError::io(&lock_path, e));
                }
                return Ok(LockGuard {
                    lock_path,
                    content,
                    _file: file,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(&lock_path, e)),
        }
        match inspect(&lock_path, clock::system_now_ms()) {
            Seen::Vanished if vanished < 10_000 => {
                vanished += 1;
                continue;
            }
            Seen::Stale { reason, ino } => {
                // Remove only the very file judged stale: if it was replaced by
                // a fresh lock meanwhile, deleting it would let two writers in.
                let same = fs::symlink_metadata(&lock_path)
                    .map(|m| Some(m.ino()) == ino)
                    .unwrap_or(false);
                if same {
                    tracing::warn!(lock = %lock_path.display(), %reason, "breaking stale lock");
                    let _ = fs::remove_file(&lock_path);
                }
                attempt += 1;
                continue;
            }
            Seen::Vanished | Seen::Held => {}
        }
        if attempt + 1 >= policy.attempts {
            break;
        }
        let r: f64 = rand::rng().random();
        let delay = policy.delay_ms(attempt, r);
        // Say so once the wait is about to pass a second; brief contention stays quiet.
        if !told && waited_ms + delay >= 1000 {
            tracing::warn!(
                lock = %lock_path.display(),
                holder = %describe_holder(&lock_path),
                "waiting for lock held by another process"
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(delay));
        waited_ms += delay;
        attempt += 1;
    }
    Err(StoreError::LockTimeout(data_path.to_path_buf()))
}

/// What a look at an existing lock file found.
enum Seen {
    /// Gone already (released by its holder).
    Vanished,
    /// To be respected.
    Held,
    /// Breakable; `ino` identifies the file that was judged.
    Stale {
        reason: &'static str,
        ino: Option<u64>,
    },
}

fn inspect(lock_path: &Path, now_ms: i64) -> Seen {
    let ino = match fs::symlink_metadata(lock_path) {
        Ok(m) => Some(m.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Seen::Vanished,
        Err(_) => None,
    };
    match stale_reason(lock_path, now_ms) {
        None => Seen::Held,
        Some("vanished") => Seen::Vanished,
        Some(reason) => Seen::Stale { reason, ino },
    }
}

/// Runs `f` while holding the lock of `data_path`.
pub fn with_lock<T>(data_path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _guard = acquire(data_path)?;
    f()
}

struct Holder {
    pid: i64,
    created_at: String,
}

fn parse_holder(text: &str) -> Option<Holder> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let pid = v.get("pid")?.as_f64()?;
    let created_at = v.get("createdAt")?.as_str()?.to_string();
    Some(Holder {
        pid: pid as i64,
        created_at,
    })
}

fn describe_holder(lock_path: &Path) -> String {
    match fs::read_to_string(lock_path)
        .ok()
        .as_deref()
        .and_then(parse_holder)
    {
        Some(h) => format!("pid {} since {}", h.pid, h.created_at),
        None => "unknown holder".to_string(),
    }
}

/// Why an existing lock may be broken, or `None` when it must be respected.
pub fn stale_reason(lock_path: &Path, now_ms: i64) -> Option<&'static str> {
    let meta = match fs::metadata(lock_path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("vanished"),
        Err(_) => return Some("cannot stat"),
    };
    if let Some(h) = fs::read_to_string(lock_path)
        .ok()
        .as_deref()
        .and_then(parse_holder)
    {
        if h.pid != 0 && !pid_alive(h.pid) {
            return Some("holder process is gone");
        }
        match clock::parse_iso_ms(&h.created_at) {
            None => return Some("unparseable createdAt"),
            Some(t) if now_ms - t > STALE_MS => return Some("createdAt older than 30 s"),
            _ => {}
        }
    }
    let mtime_ms = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64);
    match mtime_ms {
        Some(m) if now_ms - m > STALE_MS => Some("lock file older than 30 s"),
        _ => None,
    }
}

/// Signal-0 probe plus a zombie check. EPERM (another user's process) is alive.
pub fn pid_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 performs only the existence/permission check.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself hold ')'.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|s| s == "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> LockPolicy {
        LockPolicy {
            attempts: 3,
            base_ms: 5,
            max_ms: 10,
        }
    }

    #[test]
    fn backoff_matches_openclaw() {
        let p = LockPolicy::openclaw();
        let lows: Vec<u64> = (0..10).map(|k| p.delay_ms(k, 0.0)).collect();
        assert_eq!(
            lows,
            [100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000]
        );
        assert_eq!(p.delay_ms(0, 0.999), 200);
        assert_eq!(p.delay_ms(6, 0.999), 10000);
    }

    #[test]
    fn lock_content_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("telegram-pairing.json");
        let guard = acquire_with(&data, fast()).unwrap();
        let text = fs::read_to_string(guard.path()).unwrap();
        assert!(text.starts_with(&format!(
            "{{\n  \"pid\": {},\n  \"createdAt\": \"",
            std::process::id()
        )));
        assert!(text.ends_with("Z\"\n}"));
        assert!(matches!(
            acquire_with(&data, fast()),
            Err(StoreError::LockTimeout(_))
        ));
        let lp = guard.path().to_path_buf();
        drop(guard);
        assert!(!lp.exists());
    }

    #[test]
    fn stale_rules() {
        let dir = tempfile::tempdir().unwrap();
        let lp = dir.path().join("x.lock");
        let now = clock::system_now_ms();
        let me = std::process::id();
        let write = |s: &str| fs::write(&lp, s).unwrap();
        write(&format!(
            "{{\"pid\": {me}, \"createdAt\": \"{}\"}}",
            clock::format_iso_ms(now)
        ));
        assert_eq!(stale_reason(&lp, now), None, "live fresh lock is respected");
        write(&format!(
            "{{\"pid\": {me}, \"createdAt\": \"{}\"}}",
            clock::format_iso_ms(now - 31_000)
        ));
        assert!(stale_reason(&lp, now).is_some(), "old createdAt");
        write(&format!("{{\"pid\": {me}, \"createdAt\": \"garbage\"}}"));
        assert!(stale_reason(&lp, now).is_some(), "unparseable createdAt");
        write(&format!(
            "{{\"pid\": 2147483000, \"createdAt\": \"{}\"}}",
            clock::format_iso_ms(now)
        ));
        assert!(stale_reason(&lp, now).is_some(), "dead pid");
        write("garbage");
        assert_eq!(stale_reason(&lp, now), None, "fresh garbage is respected");
        assert!(stale_reason(&lp, now + 40_000).is_some(), "old mtime");
        write(&format!(
            "{{\"pid\": \"{me}\", \"createdAt\": \"{}\"}}",
            clock::format_iso_ms(now)
        ));
        assert_eq!(stale_reason(&lp, now), None, "string pid is not a holder");
        write(&format!(
            "{{\"pid\": 0, \"createdAt\": \"{}\"}}",
            clock::format_iso_ms(now)
        ));
        assert_eq!(stale_reason(&lp, now), None, "pid 0 is respected");
    }
}
