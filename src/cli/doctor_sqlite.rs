//! `clawpair doctor` across the OpenClaw 2026.9 storage change.
//!
//! * On a SQLite state dir: the schema, a read-only `PRAGMA quick_check`,
//!   what the pairing tables hold, nodes imported without a scope baseline
//!   (OpenClaw 2026.9 refuses them), modes, and the legacy JSON left beside
//!   it. Nothing is repaired there: clawpair changes nothing in OpenClaw's
//!   database but DM decisions (`openclaw doctor --fix` is OpenClaw's repair).
//! * On a 2026.2.26 JSON state dir: what OpenClaw 2026.9's first start (its
//!   migration) will do to it, and what to do first (spec openclaw-2026.9 §7).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{CliResult, Ctx, Failure};
use crate::devices::{DeviceStore, PairedDevice};
use crate::dm::DmStore;
use crate::openclaw_config::OpenClawConfig;
use crate::statedb::{self, devices, dm, StateDb};

/// A paired node with neither `approvedScopes` nor `scopes`: after the
/// import OpenClaw resolves no token baseline and refuses it at connect.
fn lacks_baseline(d: &PairedDevice) -> bool {
    d.all_roles().iter().any(|r| r == "node") && d.approved_scopes.is_none() && d.scopes.is_none()
}

fn label(d: &PairedDevice) -> String {
    crate::sanitize::for_terminal(d.display_name.as_deref().unwrap_or(&d.device_id))
}

pub fn run_sqlite(ctx: &Ctx, db: &Path, repair: bool) -> CliResult {
    let mut problems = 0usize;
    println!(
        "generation: {}",
        statedb::Generation::detect(&ctx.paths.state_dir).explain()
    );
    let s = match StateDb::open_read(db) {
        Ok(s) => s,
        Err(e) => return Err(Failure::error(e.to_string())),
    };
    match s.quick_check() {
        Ok(lines) if lines == ["ok"] => {
            println!("ok       {}: PRAGMA quick_check: ok", db.display())
        }
        Ok(lines) => {
            problems += 1;
            println!(
                "problem  {}: PRAGMA quick_check: {}",
                db.display(),
                lines.join("; ")
            );
        }
        Err(e) => {
            problems += 1;
            println!("problem  {e}");
        }
    }
    let now = crate::clock::now_ms();
    let rows = dm::read(&s).map_err(|e| Failure::error(e.to_string()))?;
    let dev = devices::read(&s, now).map_err(|e| Failure::error(e.to_string()))?;
    drop(s);
    let allowed: usize = rows.allow.iter().map(|a| a.entries.len()).sum();
    let surfaces = dev
        .paired
        .iter()
        .filter(|d| devices::pending_surface(d).is_some())
        .count();
    println!(
        "ok       DM: {} pending request(s) shown of {} row(s), {allowed} allowed sender(s); \
         devices: {} pending, {} paired, {surfaces} node capability surface(s) awaiting approval",
        rows.visible(now).len(),
        rows.requests.len(),
        dev.pending.len(),
        dev.paired.len()
    );
    for d in dev.paired.iter().filter(|d| lacks_baseline(d)) {
        problems += 1;
        println!(
            "problem  node {} ({}) has no scope baseline (imported from 2026.2.26): OpenClaw 2026.9 \
             refuses its connects (`authenticated node pairing identity unavailable`); remove it \
             (`openclaw devices remove {}`) and pair it again",
            label(d),
            d.device_id,
            d.device_id
        );
    }
    for (path, want) in [
        (ctx.paths.state_dir.clone(), 0o700),
        (crate::fsutil::parent_of(db), 0o700),
        (db.to_path_buf(), 0o600),
    ] {
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                problems += 1;
                println!(
                    "problem  {}: mode {mode:04o}, readable by others (OpenClaw keeps {want:04o}; \
                     `openclaw doctor --fix` or chmod {want:o})",
                    path.display()
                );
            }
        }
    }
    for w in statedb::legacy_leftovers(&ctx.paths) {
        println!("warning  {w}");
    }
    if repair {
        println!(
            "note     --repair changes nothing on an OpenClaw 2026.9 state dir: OpenClaw's own \
             repair is `openclaw doctor --fix`"
        );
    }
    println!("checked the state database: {problems} problem(s)");
    if problems > 0 {
        return Err(Failure::error(format!("{problems} problem(s) found")));
    }
    Ok(())
}

/// Whether OpenClaw 2026.9's migration can place an allow-list file: the
/// unscoped file and `default` always; another account only when
/// `openclaw.json` configures it (`channels.<ch>.accounts.<account>`).
fn account_resolvable(cfg: &OpenClawConfig, channel: &str, account: Option<&str>) -> bool {
    match account {
        None | Some("default") => crate::dm::normalize::PAIRING_CHANNELS.contains(&channel),
        Some(a) => cfg
            .get(&format!("channels.{channel}.accounts"))
            .and_then(serde_json::Value::as_object)
            .is_some_and(|m| m.keys().any(|k| k.trim().eq_ignore_ascii_case(a))),
    }
}

/// What OpenClaw 2026.9's first start will do to this 2026.2.26 state dir.
/// Informational lines (no problem counted); empty when nothing applies.
pub fn upgrade_forecast(ctx: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    let now = crate::clock::now_ms();
    let cfg = OpenClawConfig::load(&ctx.paths.config_file);
    if let Ok(st) = DeviceStore::new(&ctx.paths.devices_dir).load(now) {
        if !st.pending.is_empty() {
            out.push(format!(
                "{} pending device request(s) will be dropped: the migration archives \
                 devices/pending.json as pending.json.migrated without importing it. Approve or \
                 reject them first (`clawpair devices list`)",
                st.pending.len()
            ));
        }
        for d in st.paired.iter().filter(|d| lacks_baseline(d)) {
            out.push(format!(
                "node {} ({}) is paired without scopes: after the import OpenClaw 2026.9 \
                 refuses it until it is removed and approved again",
                label(d),
                d.device_id
            ));
        }
    }
    if let Ok(lists) = DmStore::for_paths(&ctx.paths).allowlists() {
        for l in lists {
            if !account_resolvable(&cfg, &l.channel, l.account.as_deref()) {
                out.push(format!(
                    "{}: account {} of {} is not configured in openclaw.json: the migration leaves \
                     this file in place and OpenClaw's gateway then refuses to start. Configure \
                     the account (channels.{}.accounts.{}) or move the file out of the state dir \
                     first",
                    l.path.display(),
                    l.account.as_deref().unwrap_or("default"),
                    l.channel,
                    l.channel,
                    l.account.as_deref().unwrap_or("default")
                ));
            }
        }
    }
    if !out.is_empty() {
        out.push(
            "the pending DM cap becomes 3 per account (was 3 per channel); requests, allow-lists \
             and paired devices are imported into state/openclaw.sqlite and the JSON files \
             deleted or renamed *.migrated"
                .into(),
        );
    }
    out
}
