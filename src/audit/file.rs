//! Appending to the log: `O_APPEND | O_NOFOLLOW`, 0600, one `write` per line
//! under `flock`, then `fsync`; rotation by size.

use super::*;

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

pub(super) fn rotated(path: &Path, n: usize) -> PathBuf {
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
