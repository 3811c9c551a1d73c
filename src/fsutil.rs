//! File-system primitives shared by every store: bounded reads, atomic
//! replacement (temp file in the same directory, fsync, rename, fsync of the
//! directory), private modes (files 0600, new directories 0700), and moving a
//! damaged file aside.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// No legitimate state file comes near this; anything larger is refused unread.
pub const MAX_STATE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Creates `dir` and any missing parents with mode 0700 (existing ones keep their mode).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StoreError::io(dir, e))
}

/// Reads a whole state file. `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    read_capped(path, MAX_STATE_FILE_BYTES)
}

/// [`read_optional`] with an explicit size limit: a larger file is refused
/// by its size, unread, so memory stays bounded whatever is on disk.
pub fn read_capped(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if meta.len() > limit {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| StoreError::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(Some(buf))
}

/// Opens an existing state file for reading, refusing what is not a regular
/// file: a symbolic link is not followed (`O_NOFOLLOW`), and a FIFO or device
/// is opened without blocking (`O_NONBLOCK`) and refused. `Ok(None)` when
/// nothing is there.
pub fn open_regular(path: &Path) -> Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && is_symlink(path) => {
            return Err(symlink_error(path))
        }
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if meta.is_dir() {
        return Err(StoreError::io(
            path,
            io::Error::other("is a directory, expected a JSON file"),
        ));
    }
    if !meta.is_file() {
        return Err(not_regular_error(path));
    }
    Ok(Some(file))
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The error for a symbolic link where clawpair expects its own file or directory.
pub fn symlink_error(path: &Path) -> StoreError {
    StoreError::io(
        path,
        io::Error::other(
            "is a symbolic link; clawpair does not follow links inside the state dir \
             (replace the link with the real file or directory)",
        ),
    )
}

fn not_regular_error(path: &Path) -> StoreError {
    StoreError::io(
        path,
        io::Error::other("is not a regular file (a FIFO, socket or device); refusing to use it"),
    )
}

/// Checks that a state sub-directory (`credentials/`, `devices/`) is a real
/// directory and not a symbolic link; a missing one is fine (it is created
/// 0700 on the first write).
pub fn check_state_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_error(dir)),
        Ok(m) if !m.is_dir() => Err(StoreError::io(dir, io::Error::other("is not a directory"))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

/// Refuses to replace anything but a regular file (or nothing): a planted
/// symbolic link, FIFO or directory stays as it is and is reported.
fn check_replaceable(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_error(path)),
        Ok(m) if m.is_dir() => Err(StoreError::io(
            path,
            io::Error::other("is a directory, expected a JSON file"),
        )),
        Ok(m) if !m.is_file() => Err(not_regular_error(path)),
        _ => Ok(()),
    }
}

/// Parses JSON, turning a syntax error into [`StoreError::Malformed`] with the
/// line and column. A leading UTF-8 byte-order mark is ignored.
pub fn parse_json(path: &Path, bytes: &[u8]) -> Result<serde_json::Value> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| StoreError::Malformed {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// True when the bytes hold nothing but white space (an empty file loses
/// nothing when replaced).
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(bytes)
        .iter()
        .all(|b| b.is_ascii_whitespace())
}

/// Replaces `path` atomically with `contents`: a sibling temp file
/// `<name>.<uuid>.tmp` created 0600, written, fsynced, renamed over the
/// target, then the directory is fsynced. A crash leaves either the old or the
/// new file, never a mix.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    replace_file(path, contents)?;
    sync_dir(&parent_of(path));
    Ok(())
}

/// [`write_atomic`] without the final directory fsync, for a caller that
/// replaces several files in one directory and then calls [`sync_dir`] once.
pub fn replace_file(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = parent_of(path);
    ensure_private_dir(&dir)?;
    check_replaceable(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{}: not a file path", path.display())))?;
    let tmp = dir.join(format!(
        "{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4()
    ));
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.sync_all()?;
        drop(f);
        // Checked again just before the rename: a link planted meanwhile is
        // not replaced either (the temp file is removed below).
        if is_symlink(path) {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        if is_symlink(path) {
            return Err(symlink_error(path));
        }
        return Err(StoreError::io(path, e));
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Moves a damaged file aside to `<name>.corrupt-<UTC stamp>` and returns the new path.
pub fn move_aside(path: &Path, now_ms: i64) -> Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = crate::clock::format_compact_utc(now_ms);
    let mut target = parent_of(path).join(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while target.exists() {
        target = parent_of(path).join(format!("{name}.corrupt-{stamp}-{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(|e| StoreError::io(path, e))?;
    // What is set aside may hold tokens or codes: private, whatever it was before.
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600))
        .map_err(|e| StoreError::io(&target, e))?;
    Ok(target)
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Permission bits of a path, if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_is_private_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/file.json");
        write_atomic(&target, b"{}").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"{}");
        assert_eq!(mode_of(&target), Some(0o600));
        assert_eq!(mode_of(&dir.path().join("a")), Some(0o700));
        assert_eq!(mode_of(&dir.path().join("a/b")), Some(0o700));
        write_atomic(&target, b"[1]").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"[1]");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn malformed_reports_position() {
        let err = parse_json(Path::new("x.json"), b"{\n  \"a\": ,\n}").unwrap_err();
        match err {
            StoreError::Malformed { line, column, .. } => assert_eq!((line, column), (2, 8)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_json(Path::new("x"), b"\xEF\xBB\xBF{}").is_ok());
    }

    #[test]
    fn move_aside_keeps_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        fs::write(&p, b"{bad").unwrap();
        let moved = move_aside(&p, 1_772_366_400_000).unwrap();
        assert!(!p.exists());
        assert!(moved.ends_with("x.json.corrupt-20260301T120000Z"));
        assert_eq!(fs::read(moved).unwrap(), b"{bad");
    }
}
