//! `clawpair doctor [--repair]`: checks every state file clawpair and OpenClaw
//! share. Reports files that cannot be parsed (with line and column), files
//! and directories readable by others, symlinks, stale lock files and
//! leftover temp files. `--repair` moves unparseable files aside to
//! `<name>.corrupt-<UTC time>`, tightens modes to 0600/0700, and removes stale
//! locks and old temp files. Exit status 1 while any problem remains.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{CliResult, Ctx, Failure};
use crate::devices::store;
use crate::dm::allowlist::AllowDoc;
use crate::dm::pairing::PairingDoc;
use crate::error::StoreError;
use crate::{clock, fsutil, lock};

/// Temp files older than this are leftovers of a crashed writer.
const TEMP_AGE_MS: i64 = 60_000;

struct Report {
    repair: bool,
    problems: usize,
    fixed: usize,
    checked: usize,
    now_ms: i64,
}

impl Report {
    fn problem(&mut self, path: &Path, what: &str) {
        self.problems += 1;
        println!("problem  {}: {what}", path.display());
    }
    fn fixed(&mut self, path: &Path, what: &str) {
        self.fixed += 1;
        println!("fixed    {}: {what}", path.display());
    }
}

pub fn run(ctx: &Ctx, repair: bool) -> CliResult {
    if let crate::statedb::Generation::Sqlite { db } =
        crate::statedb::Generation::detect(&ctx.paths.state_dir)
    {
        return super::doctor_sqlite::run_sqlite(ctx, &db, repair);
    }
    let p = &ctx.paths;
    let mut r = Report {
        repair,
        problems: 0,
        fixed: 0,
        checked: 0,
        now_ms: clock::system_now_ms(),
    };
    for dir in [
        &p.state_dir,
        &p.credentials_dir,
        &p.devices_dir,
        &p.identity_dir,
    ] {
        check_dir_mode(&mut r, dir);
    }
    check_config(&mut r, &p.config_file);
    for file in list_files(&p.credentials_dir) {
        let name = file_name(&file);
        if name.ends_with("-pairing.json") {
            check_file(&mut r, &file, |path, b| {
                PairingDoc::parse(path, b).map(|_| ())
            });
        } else if name.ends_with("-allowFrom.json") {
            check_file(&mut r, &file, |path, b| {
                AllowDoc::parse(path, b).map(|_| ())
            });
        } else {
            check_aux(&mut r, &file);
        }
    }
    for file in list_files(&p.devices_dir) {
        match file_name(&file).as_str() {
            "pending.json" => check_file(&mut r, &file, |path, b| {
                b.map_or(Ok(()), |b| store::parse_pending(path, b).map(|_| ()))
            }),
            "paired.json" => check_file(&mut r, &file, |path, b| {
                b.map_or(Ok(()), |b| store::parse_paired(path, b).map(|_| ()))
            }),
            _ => check_aux(&mut r, &file),
        }
    }
    for file in list_files(&p.identity_dir) {
        if file_name(&file).ends_with(".json") {
            check_file(&mut r, &file, |path, b| match b {
                Some(bytes) if !fsutil::is_blank(bytes) => {
                    fsutil::parse_json(path, bytes).map(|_| ())
                }
                _ => Ok(()),
            });
        } else {
            check_aux(&mut r, &file);
        }
    }
    for line in super::doctor_sqlite::upgrade_forecast(ctx) {
        println!("upgrade  OpenClaw 2026.9: {line}");
    }
    let remaining = r.problems - r.fixed;
    println!(
        "checked {} files: {} problem(s){}",
        r.checked,
        r.problems,
        if r.fixed > 0 {
            format!(", {} fixed", r.fixed)
        } else {
            String::new()
        }
    );
    if remaining > 0 {
        let hint = if repair {
            ""
        } else {
            " (run `clawpair doctor --repair`)"
        };
        return Err(Failure::error(format!(
            "{remaining} problem(s) remain{hint}"
        )));
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of a state directory; none when it is a symbolic link (it is
/// reported as such and nothing behind it is read or repaired).
fn list_files(dir: &Path) -> Vec<PathBuf> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Vec::new();
    }
    let mut out: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn check_dir_mode(r: &mut Report, dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if meta.file_type().is_symlink() {
        r.problem(
            dir,
            "is a symbolic link (not followed by doctor; check where it points)",
        );
        return;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        r.problem(
            dir,
            &format!("directory mode {mode:04o} lets other users in (want 0700)"),
        );
        if r.repair && fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).is_ok() {
            r.fixed(dir, "mode set to 0700");
        }
    }
}

fn check_mode(r: &mut Report, path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if meta.file_type().is_symlink() {
        r.problem(
            path,
            "is a symbolic link; clawpair replaces files, it does not write through links",
        );
        return false;
    }
    if !meta.is_file() {
        r.problem(path, "is not a regular file");
        return false;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        r.problem(
            path,
            &format!("file mode {mode:04o} is readable by others (want 0600)"),
        );
        if r.repair && fs::set_permissions(path, fs::Permissions::from_mode(0o600)).is_ok() {
            r.fixed(path, "mode set to 0600");
        }
    }
    true
}

fn check_file(
    r: &mut Report,
    path: &Path,
    parse: impl Fn(&Path, Option<&[u8]>) -> Result<(), StoreError>,
) {
    r.checked += 1;
    if !check_mode(r, path) {
        return;
    }
    let result = fsutil::read_optional(path).and_then(|b| parse(path, b.as_deref()));
    if let Err(e) = result {
        let msg = match &e {
            StoreError::Malformed {
                line,
                column,
                message,
                ..
            } => format!("malformed JSON at line {line}, column {column}: {message}"),
            StoreError::Shape { message, .. } => format!("unexpected content: {message}"),
            other => other.to_string(),
        };
        r.problem(path, &msg);
        if r.repair {
            match fsutil::move_aside(path, r.now_ms) {
                Ok(to) => r.fixed(path, &format!("moved aside to {}", to.display())),
                Err(e) => println!("         could not move it aside: {e}"),
            }
        }
    }
}

/// `openclaw.json` belongs to OpenClaw: a problem is reported (clawpair then
/// runs as with an empty config) but never repaired, moved or rewritten.
fn check_config(r: &mut Report, path: &Path) {
    if fs::symlink_metadata(path).is_err() {
        return;
    }
    r.checked += 1;
    if let Err(e) = crate::openclaw_config::OpenClawConfig::try_load(path) {
        let msg = e.to_string();
        let prefix = format!("{}: ", path.display());
        let msg = msg.strip_prefix(&prefix).unwrap_or(&msg).to_string();
        r.problem(
            path,
            &format!("{msg} (OpenClaw's file: not repaired by clawpair; fix it by hand)"),
        );
    }
}

/// Lock files, temp files and anything else beside the state files.
fn check_aux(r: &mut Report, path: &Path) {
    let name = file_name(path);
    if name.ends_with(".lock") {
        if let Some(reason) = lock::stale_reason(path, r.now_ms) {
            r.problem(path, &format!("stale lock ({reason})"));
            if r.repair && fs::remove_file(path).is_ok() {
                r.fixed(path, "removed");
            }
        }
    } else if name.ends_with(".tmp") {
        let age = fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| r.now_ms - d.as_millis() as i64)
            .unwrap_or(0);
        if age > TEMP_AGE_MS {
            r.problem(path, "leftover temporary file of an interrupted write");
            if r.repair && fs::remove_file(path).is_ok() {
                r.fixed(path, "removed");
            }
        }
    } else if name.contains(".corrupt-") {
        // Kept on purpose by an earlier repair; nothing to do.
    } else {
        r.checked += 1;
        check_mode(r, path);
    }
}
