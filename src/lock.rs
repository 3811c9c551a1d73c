//! The `<data file>.lock` protocol OpenClaw 2026.2.26 uses for its credential
//! files, so clawpair and a running OpenClaw never lose each other's updates.
//!
//! * exclusive create of `<canonical dir>/<name>.lock` holding
//!   `{"pid": <pid>, "createdAt": "<ISO ms Z>"}` (2-space JSON, no newline),
//!   complete from the first moment (written to a temp file, then hard-linked);
//! * an existing lock is stale when its pid is dead (or a zombie), when its
//!   `createdAt` is unparseable or older than 30 s, when its mtime is older
//!   than 30 s, or when it cannot be stat-ed; a stale lock is removed and the
//!   create retried at once;
//! * otherwise up to 11 attempts with OpenClaw's jittered exponential backoff
//!   (≈100 ms doubling to 10 s), then `file lock timeout for <data file>`;
//! * a stale lock is removed only if it is still the very file judged (inode,
//!   mtime, content), checked and removed under a `flock` of the directory so
//!   that two clawpair breakers cannot remove a fresh lock between them;
//! * released by deleting the lock file, but only while it is still ours;
//! * a lock path that is a symbolic link or not a regular file is reported,
//!   never followed, read through or removed.
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
        with_dir_flock(&self.lock_path, || {
            if read_lock(&self.lock_path).as_deref() == Some(self.content.as_str()) {
                let _ = fs::remove_file(&self.lock_path);
            }
        });
    }
}

/// Runs `f` — a look at a lock file followed by its removal — while holding
/// an advisory `flock` on the lock's directory, so that among clawpair
/// processes "it is still the file I judged, so I remove it" is one step: no
/// other process can remove that file and create a new lock in between (a
/// breaker preempted after its check would otherwise delete the next
/// holder's fresh lock). Creating a lock needs no flock: it never removes
/// anything. Best effort: without the flock `f` still runs.
fn with_dir_flock<T>(lock_path: &Path, f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let dir = fs::File::open(fsutil::parent_of(lock_path));
    if let Ok(d) = &dir {
        // SAFETY: flock on a descriptor we own; released when it is closed.
        unsafe { libc::flock(d.as_raw_fd(), libc::LOCK_EX) };
    }
    let out = f();
    drop(dir);
    out
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
        match create_complete(&lock_path, &content) {
            Ok(file) => {
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
            Seen::Foreign(what) => {
                return Err(StoreError::io(
                    &lock_path,
                    std::io::Error::other(format!(
                        "{what}, not a lock file; clawpair does not follow or replace it \
                         (remove it if nothing else owns it)"
                    )),
                ))
            }
            Seen::Vanished if vanished < 10_000 => {
                vanished += 1;
                continue;
            }
            Seen::Stale { reason, judged } => {
                // Remove only the very file judged stale: if it was replaced by
                // a fresh lock meanwhile, deleting it would let two writers in.
                // The inode number alone does not tell: a lock created right
                // after the stale one was removed often reuses it.
                with_dir_flock(&lock_path, || {
                    if judged.is_some() && Ident::of(&lock_path) == judged {
                        tracing::warn!(lock = %lock_path.display(), %reason, "breaking stale lock");
                        let _ = fs::remove_file(&lock_path);
                    }
                });
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

/// Creates the lock file exclusively with its content already in it: the
/// content goes into a private temp file that is then hard-linked to the lock
/// path (`link` fails when the path exists, like `O_EXCL`). A process killed
/// at any moment leaves either no lock or a complete one naming its pid,
/// never an empty lock that others would have to wait 30 s for; at worst a
/// `*.tmp` file, which `doctor --repair` removes. Where hard links are not
/// supported this falls back to create-then-write.
fn create_complete(lock_path: &Path, content: &str) -> std::io::Result<fs::File> {
    let name = lock_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = lock_path.with_file_name(format!("{name}.{}.tmp", uuid::Uuid::new_v4()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let linked = file
        .write_all(content.as_bytes())
        .and_then(|()| fs::hard_link(&tmp, lock_path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(file),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::EOPNOTSUPP | libc::EXDEV | libc::EMLINK)
            ) =>
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(lock_path)?;
            if let Err(e) = file.write_all(content.as_bytes()) {
                let _ = fs::remove_file(lock_path);
                return Err(e);
            }
            Ok(file)
        }
        Err(e) => Err(e),
    }
}

/// What a look at an existing lock file found.
enum Seen {
    /// Gone already (released by its holder).
    Vanished,
    /// A symbolic link, FIFO, directory…: nothing a lock holder creates.
    Foreign(&'static str),
    /// To be respected.
    Held,
    /// Breakable; `judged` identifies the file that was judged.
    Stale {
        reason: &'static str,
        judged: Option<Ident>,
    },
}

/// What tells one lock file from another at the same path: inode number,
/// modification time to the nanosecond and content. A new lock that reuses
/// the inode number of a removed one still differs in time and content
/// (its own pid and `createdAt`).
#[derive(Debug, PartialEq, Eq)]
struct Ident {
    ino: u64,
    mtime_ns: i128,
    content: Option<String>,
}

impl Ident {
    fn of(lock_path: &Path) -> Option<Ident> {
        let m = fs::symlink_metadata(lock_path).ok()?;
        Some(Ident {
            ino: m.ino(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            content: read_lock(lock_path),
        })
    }
}

fn inspect(lock_path: &Path, now_ms: i64) -> Seen {
    match fs::symlink_metadata(lock_path) {
        Ok(m) if m.file_type().is_symlink() => return Seen::Foreign("is a symbolic link"),
        Ok(m) if !m.is_file() => return Seen::Foreign("is not a regular file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Seen::Vanished,
        _ => {}
    }
    let before = Ident::of(lock_path);
    let verdict = stale_reason(lock_path, now_ms);
    // Judged on one and the same file, or not at all (it changed meanwhile).
    let judged = before.filter(|b| Ident::of(lock_path).as_ref() == Some(b));
    match verdict {
        None => Seen::Held,
        Some("vanished") => Seen::Vanished,
        Some(reason) => Seen::Stale { reason, judged },
    }
}

/// Runs `f` while holding the lock of `data_path`.
pub fn with_lock<T>(data_path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _guard = acquire(data_path)?;
    f()
}

/// Who a lock file says holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: i64,
    pub created_at: String,
}

/// Reads lock-file text (`{"pid": …, "createdAt": "…"}`); `None` for anything else.
pub fn parse_holder(text: &str) -> Option<Holder> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let pid = v.get("pid")?.as_f64()?;
    let created_at = v.get("createdAt")?.as_str()?.to_string();
    Some(Holder {
        pid: pid as i64,
        created_at,
    })
}

/// No lock file written by OpenClaw or clawpair comes near this; a larger
/// one is read only this far (and then is garbage, judged by its mtime).
const MAX_LOCK_BYTES: u64 = 4096;

/// The text of a lock file: never through a symbolic link, never blocking on
/// a FIFO, at most [`MAX_LOCK_BYTES`]. `None` when it cannot be read as such.
fn read_lock(lock_path: &Path) -> Option<String> {
    use std::io::Read;
    let file = fsutil::open_regular(lock_path).ok()??;
    let mut buf = Vec::new();
    file.take(MAX_LOCK_BYTES).read_to_end(&mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn describe_holder(lock_path: &Path) -> String {
    match read_lock(lock_path).as_deref().and_then(parse_holder) {
        Some(h) => format!("pid {} since {}", h.pid, h.created_at),
        None => "unknown holder".to_string(),
    }
}

/// Why an existing lock may be broken, or `None` when it must be respected.
pub fn stale_reason(lock_path: &Path, now_ms: i64) -> Option<&'static str> {
    let meta = match fs::symlink_metadata(lock_path) {
        Ok(m) if m.file_type().is_symlink() => return Some("a symbolic link, not a lock file"),
        Ok(m) if !m.is_file() => return Some("not a regular file"),
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some("vanished"),
        Err(_) => return Some("cannot stat"),
    };
    if let Some(h) = read_lock(lock_path).as_deref().and_then(parse_holder) {
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
    fn a_lock_replaced_at_the_same_inode_is_not_the_one_judged() {
        let dir = tempfile::tempdir().unwrap();
        let lp = dir.path().join("x.lock");
        let now = clock::system_now_ms();
        fs::write(
            &lp,
            format!(
                "{{\"pid\": 2147483000, \"createdAt\": \"{}\"}}",
                clock::format_iso_ms(now)
            ),
        )
        .unwrap();
        let Seen::Stale { judged, .. } = inspect(&lp, now) else {
            panic!("a dead holder's lock is stale");
        };
        assert_eq!(Ident::of(&lp), judged, "unchanged: the same file");
        // A live holder's fresh lock at the same inode number (as when the
        // stale one was removed and the number reused): not the judged file.
        let ino = fs::metadata(&lp).unwrap().ino();
        fs::write(
            &lp,
            format!(
                "{{\"pid\": {}, \"createdAt\": \"{}\"}}",
                std::process::id(),
                clock::format_iso_ms(now)
            ),
        )
        .unwrap();
        assert_eq!(fs::metadata(&lp).unwrap().ino(), ino);
        assert_ne!(Ident::of(&lp), judged);
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
