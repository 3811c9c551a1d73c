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
use crate::audit::{Action, Subject};
use crate::clock;
use crate::devices::payload;
use crate::devices::payload::list_payload_of;
use crate::devices::pick::{self, How};
use crate::devices::store::DeviceStore;
use crate::devices::{new_token, PendingRequest, TokenRecord};
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
    /// Approve a pending request (no id: the only one; several are listed
    /// and none is approved; --latest: the newest).
    Approve {
        /// The request: its id or an unambiguous prefix, or its device's id
        /// prefix, fingerprint or display name.
        #[arg(value_name = "REQUEST_ID")]
        request_id: Option<String>,
        /// Approve the most recent pending request.
        #[arg(long, conflicts_with = "request_id")]
        latest: bool,
        /// Print the result as JSON (`{requestId, device}`).
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Reject a pending request.
    Reject {
        /// The request: its id or an unambiguous prefix, or its device's id
        /// prefix, fingerprint or display name.
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        /// Print the result as JSON (`{requestId, deviceId}`).
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Remove a paired device.
    Remove {
        /// The paired device: its id or an unambiguous prefix, fingerprint or display name.
        #[arg(value_name = "DEVICE_ID")]
        device_id: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// First move an unreadable devices file aside (as `doctor --repair`).
        #[arg(long)]
        repair: bool,
    },
    /// Issue a new token for a device role (prints it, as JSON).
    Rotate {
        /// The paired device: its id or an unambiguous prefix, fingerprint or display name.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The role whose token is replaced (node, operator, …).
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
        /// The paired device: its id or an unambiguous prefix, fingerprint or display name.
        #[arg(long, value_name = "ID")]
        device: String,
        /// The role whose token stops working.
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
            latest,
            json,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let chosen = match &request_id {
                Some(given) => Chosen::Given(given.clone()),
                None if latest => Chosen::Latest,
                None => only_pending(&store, now)?,
            };
            let token = new_token();
            let (approved, how) = store.decide(now, |st| {
                let (id, how) = match &chosen {
                    Chosen::Given(given) => {
                        let (p, how) = pick::pending(st, given)?;
                        (p.request_id.clone(), how)
                    }
                    Chosen::Only(id) => (id.clone(), How::Exact),
                    Chosen::Latest => match st.latest_pending() {
                        Some(p) => (p.request_id.clone(), How::Exact),
                        None => {
                            return Err(crate::error::StoreError::NotFound(
                                NOTHING_TO_APPROVE.to_string(),
                            ))
                        }
                    },
                };
                st.approve(&id, token.clone(), now).map(|a| (a, how))
            })?;
            let r = &approved.request;
            if let Some(given) = request_id.as_deref().filter(|_| how != How::Exact) {
                say_matched(
                    given,
                    r.display_name.as_deref(),
                    &r.device_id,
                    &r.request_id,
                );
            } else if matches!(chosen, Chosen::Only(_)) {
                eprintln!(
                    "clawpair: approving the only pending request: {}",
                    pending_summary(r, now)
                );
            }
            let mut subject =
                Subject::device(&r.device_id, r.display_name.as_deref(), Some(&r.request_id));
            if let Subject::Device { roles, scopes, .. } = &mut subject {
                *roles = crate::runtime::source::files::device_request(r.clone()).roles;
                *scopes = r.scopes.clone().unwrap_or_default();
            }
            super::record(ctx, Action::Approve, subject);
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
            let (req, how) = store.decide(now, |st| {
                let (p, how) = pick::pending(st, &request_id)?;
                let id = p.request_id.clone();
                st.reject(&id).map(|r| (r, how))
            })?;
            if how != How::Exact {
                say_matched(
                    &request_id,
                    req.display_name.as_deref(),
                    &req.device_id,
                    &req.request_id,
                );
            }
            super::record(
                ctx,
                Action::Reject,
                Subject::device(
                    &req.device_id,
                    req.display_name.as_deref(),
                    Some(&req.request_id),
                ),
            );
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
            let (dev, how) = store.decide(now, |st| {
                let (d, how) = pick::paired(st, &device_id)?;
                let id = d.device_id.clone();
                st.remove(&id).map(|d| (d, how))
            })?;
            if how != How::Exact {
                say_matched(&device_id, dev.display_name.as_deref(), &dev.device_id, "");
            }
            super::record(
                ctx,
                Action::Remove,
                Subject::device(&dev.device_id, dev.display_name.as_deref(), None),
            );
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
            let token = new_token();
            let (rec, id, name, how) = store.decide(now, |st| {
                let (d, how) = pick::token_owner(st, &device)?;
                let (id, name) = (d.device_id.clone(), d.display_name.clone());
                st.rotate(&id, &role, scopes.clone(), token.clone(), now)
                    .map(|r| (r, id, name, how))
            })?;
            if how != How::Exact {
                say_matched(&device, name.as_deref(), &id, "");
            }
            super::record(ctx, Action::Rotate, token_subject(&id, name, &rec));
            emit(&jsonfmt::to_pretty_nl(&payload::rotate_payload(&id, &rec)))
        }
        DevicesCommand::Revoke {
            device,
            role,
            json: _,
            repair,
        } => {
            maybe_repair(&store, repair, now)?;
            let (rec, id, name, how) = store.decide(now, |st| {
                let (d, how) = pick::token_owner(st, &device)?;
                let (id, name) = (d.device_id.clone(), d.display_name.clone());
                st.revoke(&id, &role, now).map(|r| (r, id, name, how))
            })?;
            if how != How::Exact {
                say_matched(&device, name.as_deref(), &id, "");
            }
            super::record(ctx, Action::Revoke, token_subject(&id, name, &rec));
            emit(&jsonfmt::to_pretty_nl(&payload::revoke_payload(&id, &rec)))
        }
    }
}

/// Which request `devices approve` works on.
enum Chosen {
    Given(String),
    /// No id given and exactly this one was pending.
    Only(String),
    Latest,
}

/// `devices approve` with no id: the one pending request, else nothing (as
/// OpenClaw 2026.9): with several, they are listed and none is approved.
fn only_pending(store: &DeviceStore, now: i64) -> Result<Chosen, Failure> {
    let st = store.load(now)?;
    only_one(&st.pending_newest_first(), now).map(|p| Chosen::Only(p.request_id.clone()))
}

/// The one pending request (newest first in `pending`), else why none is
/// approved: nothing pending, or several, listed with the commands to choose
/// (the local verb and `--url`'s share this rule).
pub fn only_one<'a>(
    pending: &[&'a PendingRequest],
    now: i64,
) -> Result<&'a PendingRequest, Failure> {
    match pending {
        [] => Err(Failure::error(NOTHING_TO_APPROVE)),
        [one] => Ok(one),
        many => {
            let mut more = String::new();
            for p in many {
                more.push_str(&format!(
                    "  clawpair devices approve {}   {}\n",
                    for_terminal(&p.request_id),
                    pending_summary(p, now)
                ));
            }
            more.push_str("or approve the newest with: clawpair devices approve --latest\n");
            Err(Failure::error(format!(
                "{} pending device pairing requests; approved none. Choose one:",
                many.len()
            ))
            .with_more(more))
        }
    }
}

/// `studio-mac (key 9aee:8cff:109f:16dc) · macos · from 192.168.1.20 · 3m ago`.
pub fn pending_summary(p: &PendingRequest, now: i64) -> String {
    let mut parts = vec![pick::label(p.display_name.as_deref(), &p.device_id)];
    if let Some(pl) = &p.platform {
        parts.push(for_terminal(pl));
    }
    if p.is_repair {
        parts.push("repair (key changed)".into());
    }
    if let Some(ip) = &p.remote_ip {
        parts.push(format!("from {}", for_terminal(ip)));
    }
    parts.push(format_age(now, p.ts));
    parts.join(" · ")
}

/// Says, on stderr, what a prefix or name matched.
fn say_matched(given: &str, name: Option<&str>, device_id: &str, request_id: &str) {
    let what = if request_id.is_empty() {
        format!("device {}", for_terminal(device_id))
    } else {
        format!("request {}", for_terminal(request_id))
    };
    eprintln!(
        "clawpair: \"{}\" matched {} ({what})",
        for_terminal(given.trim()),
        pick::label(name, device_id)
    );
}

/// A device token's subject: device, role and the scopes of the token.
fn token_subject(device_id: &str, name: Option<String>, rec: &TokenRecord) -> Subject {
    let mut s = Subject::device(device_id, name.as_deref(), None);
    if let Subject::Device { role, scopes, .. } = &mut s {
        *role = Some(rec.role.clone());
        *scopes = rec.scopes.clone();
    }
    s
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
