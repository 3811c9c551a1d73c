//! Which storage generation a state dir is, the legacy JSON left beside a
//! SQLite state, and the command-owner advice of the first DM approval.

use std::path::{Path, PathBuf};

use super::*;

/// Which storage generation a state dir is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generation {
    /// OpenClaw 2026.2.26 JSON files (`credentials/`, `devices/`).
    Json,
    /// OpenClaw 2026.7+ SQLite (`state/openclaw.sqlite`).
    Sqlite { db: PathBuf },
}

impl Generation {
    /// `state/openclaw.sqlite` present → SQLite (spec §1); else JSON. Only
    /// looks (no open, nothing created).
    pub fn detect(state_dir: &Path) -> Generation {
        if crate::paths::is_sqlite_state(state_dir) {
            Generation::Sqlite {
                db: db_path(state_dir),
            }
        } else {
            Generation::Json
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Generation::Sqlite { .. })
    }

    /// One line for `clawpair paths` and the logs: which and why.
    pub fn explain(&self) -> String {
        match self {
            Generation::Json => "OpenClaw 2026.2.26 JSON files (no state/openclaw.sqlite)".into(),
            Generation::Sqlite { db } => match StateDb::open_read(db) {
                Ok(s) => format!(
                    "OpenClaw 2026.7+ SQLite ({} present, {}{})",
                    db.display(),
                    s.schema.describe(),
                    if s.schema.writable() {
                        String::new()
                    } else {
                        format!(
                            "; this clawpair knows {KNOWN_USER_VERSION}: read-only, writes refused"
                        )
                    }
                ),
                Err(e) => format!(
                    "OpenClaw 2026.7+ SQLite ({} present, but unusable: {e})",
                    db.display()
                ),
            },
        }
    }
}

/// Legacy JSON left beside a SQLite state: archives (`*.migrated`) and files
/// OpenClaw has not imported (or will not: unresolved accounts). Shown as
/// warnings, never read as live state.
pub fn legacy_leftovers(paths: &crate::paths::Paths) -> Vec<String> {
    let mut out = Vec::new();
    let mut scan = |dir: &Path, what: &str| {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            if n.ends_with(".json.migrated") {
                out.push(format!(
                    "{}: archive of OpenClaw's migration (not read)",
                    p.display()
                ));
            } else if what == "credentials"
                && (n.ends_with("-pairing.json") || n.ends_with("-allowFrom.json"))
            {
                out.push(format!(
                    "{}: legacy {} file beside the SQLite state: not read (OpenClaw's next \
                     doctor or gateway start imports it, or refuses it when its account is not \
                     configured)",
                    p.display(),
                    if n.ends_with("-pairing.json") {
                        "DM pairing"
                    } else {
                        "allow-list"
                    }
                ));
            } else if what == "devices" && (n == "pending.json" || n == "paired.json") {
                out.push(format!(
                    "{}: legacy devices file beside the SQLite state: not read{}",
                    p.display(),
                    if n == "pending.json" {
                        " (OpenClaw's migration archives it without importing its requests)"
                    } else {
                        " (OpenClaw's next doctor or gateway start imports it)"
                    }
                ));
            }
        }
    };
    scan(&paths.credentials_dir, "credentials");
    scan(&paths.devices_dir, "devices");
    out
}

/// The one command that makes `sender` of `channel` the command owner:
/// `openclaw config set commands.ownerAllowFrom '["telegram:111"]'`, shell-quoted.
pub fn owner_command(channel: &str, sender: &str) -> String {
    let owner = if sender.starts_with(&format!("{channel}:")) {
        sender.to_string()
    } else {
        format!("{channel}:{sender}")
    };
    let json = serde_json::to_string(&vec![owner]).unwrap_or_default();
    format!(
        "openclaw config set commands.ownerAllowFrom '{}'",
        json.replace('\'', r"'\''")
    )
}

/// Whether `openclaw.json` names no command owner yet (OpenClaw's own first
/// `pairing approve` would then rewrite it: spec §4.6).
pub fn owner_missing(paths: &crate::paths::Paths) -> bool {
    let cfg = crate::openclaw_config::OpenClawConfig::load(&paths.config_file);
    match cfg.get("commands.ownerAllowFrom") {
        Some(serde_json::Value::Array(a)) => a.is_empty(),
        _ => true,
    }
}
