//! `clawpair devices …`: the device pairing store from the command line, with
//! the verbs and output shapes of `openclaw devices` (spec node-pairing §11).
//!
//! Text output goes through [`crate::sanitize::for_terminal`] for every value
//! that came from a file (a device chooses its own display name). `--json`
//! output is 2-space JSON plus a newline. Only `rotate` prints a token: that
//! is its purpose, and it goes to stdout only.

use std::io::Write;

use super::table::{self, Column};
use super::{CliResult, Ctx, Failure};
use crate::clock;
use crate::devices::new_token;
use crate::devices::payload;
use crate::devices::payload::list_payload_of;
use crate::devices::store::DeviceStore;
use crate::jsonfmt;
use crate::sanitize::for_terminal;
use clap::{Args, Subcommand};
use serde_json::Value;

/// `clawpair devices` and its flags (`--url …` acts through a gateway).
#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    pub cmd: DevicesCommand,
    #[command(flatten)]
    pub remote: super::remote::GlobalRemoteArgs,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List pending pairing requests and paired devices.
    List {
        /// Print the `device.pair.list` payload as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request (no id, or --latest: the newest one).
    Approve {
        /// The request to approve.
        #[arg(value_name = "REQUEST_ID")]
        request_id: Option<String>,
        /// Approve the most recent pending request.
        #[arg(long, conflicts_with = "request_id")]
        latest: bool,
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Reject a pending request.
    Reject {
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Remove a paired device.
    Remove {
        #[arg(value_name = "DEVICE_ID")]
        device_id: String,
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Issue a new token for a device role (prints it, as JSON).
    Rotate {
        #[arg(long, value_name = "ID")]
        device: String,
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Scope for the new token (repeatable; default: the current token's).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Accepted for compatibility: the output is always JSON.
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Revoke a device role's token (prints the result as JSON).
    Revoke {
        #[arg(long, value_name = "ID")]
        device: String,
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Accepted for compatibility: the output is always JSON.
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
}

/// OpenClaw's message when `approve` finds nothing to approve.
pub const NOTHING_TO_APPROVE: &str = "No pending device pairing requests to approve";

pub fn run(ctx: &Ctx, cmd: DevicesCommand) -> CliResult {
    if let crate::statedb::Generation::Sqlite { db } =
        crate::statedb::Generation::detect(&ctx.paths.state_dir)
    {
        return super::devices_sqlite::run(ctx, &db, cmd);
    }
    let store = DeviceStore::new(&ctx.paths.devices_dir);
    let now = clock::now_ms();
    match cmd {
        DevicesCommand::List { json } => {
            let state = store.load(now)?;
            if json {
                emit(&jsonfmt::to_pretty_nl(&list_payload_of(&state)))
            } else {
                emit(&render_list(
                    &list_payload_of(&state),
                    now,
                    table::target_width(),
                ))
            }
        }
        DevicesCommand::Approve {
            request_id,
            latest: _,
            json,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let token = new_token();
            let approved = store.decide(now, |st| {
                let id = match &request_id {
                    Some(id) => id.clone(),
                    None => match st.latest_pending() {
                        Some(p) => p.request_id.clone(),
                        None => {
                            return Err(crate::error::StoreError::NotFound(
                                NOTHING_TO_APPROVE.to_string(),
                            ))
                        }
                    },
                };
                st.approve(&id, token.clone(), now)
            })?;
            if json {
                emit(&jsonfmt::to_pretty_nl(&payload::approve_payload(&approved)))
            } else {
                emit(&format!(
                    "Approved {} ({})\n",
                    for_terminal(&approved.device.device_id),
                    for_terminal(&approved.request.request_id)
                ))
            }
        }
        DevicesCommand::Reject {
            request_id,
            json,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let req = store.reject(&request_id, now)?;
            if json {
                emit(&jsonfmt::to_pretty_nl(&payload::reject_payload(&req)))
            } else {
                emit(&format!("Rejected {}\n", for_terminal(&req.device_id)))
            }
        }
        DevicesCommand::Remove {
            device_id,
            json,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let dev = store.remove(&device_id, now)?;
            if json {
                emit(&jsonfmt::to_pretty_nl(&payload::remove_payload(&dev)))
            } else {
                emit(&format!("Removed {}\n", for_terminal(&dev.device_id)))
            }
        }
        DevicesCommand::Rotate {
            device,
            role,
            scopes,
            json: _,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let scopes = if scopes.is_empty() {
                None
            } else {
                Some(scopes)
            };
            let rec = store.rotate(&device, &role, scopes, now)?;
            emit(&jsonfmt::to_pretty_nl(&payload::rotate_payload(
                &device, &rec,
            )))
        }
        DevicesCommand::Revoke {
            device,
            role,
            json: _,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let rec = store.revoke(&device, &role, now)?;
            emit(&jsonfmt::to_pretty_nl(&payload::revoke_payload(
                &device, &rec,
            )))
        }
    }
}

fn maybe_repair(store: &DeviceStore, repair: bool, now: i64) -> CliResult {
    if repair {
        for moved in store.repair(now)? {
            eprintln!(
                "clawpair: moved unreadable file aside to {}",
                moved.display()
            );
        }
    }
    Ok(())
}

/// Writes to stdout; a closed pipe is not an error worth a panic.
pub fn emit(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::error(format!("cannot write output: {e}"))),
    }
}

/// How long ago `ts` was, the way the list shows it.
pub fn format_age(now_ms: i64, ts: i64) -> String {
    match crate::clock::coarse(now_ms.saturating_sub(ts)) {
        (_, 's') => "just now".to_string(),
        (n, unit) => format!("{n}{unit} ago"),
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .map(for_terminal)
        .unwrap_or_default()
}

/// The display name, else the device id.
fn label(v: &Value) -> String {
    match v.get("displayName").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => for_terminal(n),
        _ => text(v, "deviceId"),
    }
}

fn join(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(for_terminal)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn pending_row(p: &Value, now_ms: i64) -> Vec<String> {
    let ts = p.get("ts").and_then(Value::as_i64).unwrap_or(now_ms);
    vec![
        text(p, "requestId"),
        label(p),
        text(p, "role"),
        text(p, "remoteIp"),
        format_age(now_ms, ts),
        if p.get("isRepair").and_then(Value::as_bool) == Some(true) {
            "repair".to_string()
        } else {
            String::new()
        },
    ]
}

/// A paired device of the payload: `tokens` is the redacted array, sorted by role.
fn paired_row(d: &Value) -> Vec<String> {
    let tokens: Vec<String> = d
        .get("tokens")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|t| {
                    let role = text(t, "role");
                    if t.get("revokedAtMs").is_some_and(|r| !r.is_null()) {
                        format!("{role} (revoked)")
                    } else {
                        role
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    vec![
        label(d),
        join(d, "roles"),
        join(d, "scopes"),
        tokens.join(", "),
        text(d, "remoteIp"),
    ]
}

/// The text of `devices list` from a `device.pair.list` payload (local state
/// through [`list_payload_of`], or a gateway's answer): a `Pending (n)` table
/// and a `Paired (n)` table, or `No device pairing entries.`
pub fn render_list(payload: &Value, now_ms: i64, width: usize) -> String {
    let list = |k: &str| -> Vec<Value> {
        payload
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (pending, paired) = (list("pending"), list("paired"));
    if pending.is_empty() && paired.is_empty() {
        return "No device pairing entries.\n".to_string();
    }
    let mut out = String::new();
    if !pending.is_empty() {
        let cols = [
            Column::new("Request", 10, false),
            Column::new("Device", 16, true),
            Column::new("Role", 8, false),
            Column::new("IP", 12, false),
            Column::new("Age", 8, false),
            Column::new("Flags", 8, false),
        ];
        let rows: Vec<Vec<String>> = pending.iter().map(|p| pending_row(p, now_ms)).collect();
        out.push_str(&format!("Pending ({})\n", rows.len()));
        out.push_str(&table::render(&cols, &rows, width));
    }
    if !paired.is_empty() {
        let cols = [
            Column::new("Device", 10, true),
            Column::new("Roles", 12, false),
            Column::new("Scopes", 12, true),
            Column::new("Tokens", 12, false),
            Column::new("IP", 12, false),
        ];
        let rows: Vec<Vec<String>> = paired.iter().map(paired_row).collect();
        out.push_str(&format!("Paired ({})\n", rows.len()));
        out.push_str(&table::render(&cols, &rows, width));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(format_age(10_000, 10_000), "just now");
        assert_eq!(format_age(69_999, 10_000), "just now");
        assert_eq!(format_age(70_000, 10_000), "1m ago");
        assert_eq!(
            format_age(0, 10_000),
            "just now",
            "clock skew is not negative"
        );
        assert_eq!(format_age(3 * 3_600_000, 0), "3h ago");
        assert_eq!(format_age(2 * 86_400_000, 0), "2d ago");
    }
}
