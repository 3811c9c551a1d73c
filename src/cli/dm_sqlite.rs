//! `clawpair pairing …` on an OpenClaw 2026.7+ state dir: the same verbs and
//! output shapes as on the 2026.2.26 files, on `state/openclaw.sqlite`.
//! Reads use a read-only connection and change nothing (OpenClaw's own `pairing
//! list` persists its pruning; clawpair prunes only what it shows). `approve`
//! and `reject` go through OpenClaw's running gateway (`channels.pairing.approve`
//! / `dismiss`) when it offers them for that request's account, else, like
//! `revoke`, they are the one DM transaction of
//! [`crate::statedb::dm::write_channel`]. `openclaw.json` is never touched: when
//! no command owner is configured, the owner is told the one command that sets it.

use std::path::Path;

use serde_json::{json, Value};

use super::dm::{
    blank_to_none, channel_and_code, render_requests, resolve_channel, PairingCommand,
};
use super::{CliResult, Ctx, Failure};
use crate::clock;
use crate::dm::{keys, DmStore, PairingRequest};
use crate::sanitize::for_terminal;
use crate::statedb::{self, dm, StateDb};

fn open(db: &Path) -> Result<StateDb, Failure> {
    StateDb::open_read(db).map_err(|e| Failure::error(e.to_string()))
}

fn read(db: &Path) -> Result<dm::DmRows, Failure> {
    let s = open(db)?;
    dm::read(&s).map_err(|e| Failure::error(e.to_string()))
}

/// A channel as the database keys it.
fn key(channel: &str) -> Result<String, Failure> {
    dm::channel_key(channel)
        .ok_or_else(|| Failure::error(format!("Invalid channel: {}", for_terminal(channel))))
}

pub fn run(ctx: &Ctx, db: &Path, cmd: PairingCommand) -> CliResult {
    // Only for channel resolution: which channels openclaw.json enables.
    let store = DmStore::for_paths(&ctx.paths);
    let now = clock::now_ms();
    match cmd {
        PairingCommand::List {
            channel_arg,
            opts,
            json,
        } => {
            let channel =
                resolve_channel(&store, opts.channel.as_deref().or(channel_arg.as_deref()))?;
            let ch = key(&channel)?;
            let account = blank_to_none(opts.account.as_deref()).map(|a| dm::account_key(Some(a)));
            let rows = read(db)?;
            let requests: Vec<PairingRequest> = rows
                .visible(now)
                .into_iter()
                .filter(|r| r.channel == ch && account.as_deref().is_none_or(|a| r.account == a))
                .filter_map(|r| PairingRequest::from_value(&r.to_json()))
                .collect();
            if json {
                let list: Vec<Value> = requests.iter().map(|r| r.raw.clone()).collect();
                print!(
                    "{}",
                    crate::jsonfmt::to_pretty_nl(&json!({"channel": channel, "requests": list}))
                );
            } else if requests.is_empty() {
                println!("No pending {channel} pairing requests.");
            } else {
                print!(
                    "{}",
                    render_requests(&store, &channel, &requests, super::table::target_width())
                );
            }
            Ok(())
        }
        PairingCommand::Approve { args, opts, .. } => decide(
            ctx,
            db,
            &store,
            true,
            &args,
            opts.channel.as_deref(),
            opts.account.as_deref(),
            now,
        ),
        PairingCommand::Reject { args, opts, .. } => decide(
            ctx,
            db,
            &store,
            false,
            &args,
            opts.channel.as_deref(),
            opts.account.as_deref(),
            now,
        ),
        PairingCommand::Request { .. } => Err(Failure::error(format!(
            "{}: on an OpenClaw 2026.7+ state dir DM requests come from OpenClaw's channels; \
             clawpair does not write them",
            db.display()
        ))),
        PairingCommand::Allowlist {
            channel,
            account,
            json,
        } => allowlist(db, &store, channel.as_deref(), account.as_deref(), json),
        PairingCommand::Revoke {
            channel,
            entry,
            account,
            ..
        } => {
            let channel = resolve_channel(&store, Some(&channel))?;
            let acct = dm::account_key(blank_to_none(account.as_deref()));
            let op = dm::Op::Revoke {
                account: acct.clone(),
                entry: entry.clone(),
            };
            let out = dm::write_channel(db, &key(&channel)?, &op, now)
                .map_err(|e| Failure::error(e.to_string()))?;
            if !out.allow_changed {
                return Err(Failure::error(format!(
                    "{} is not on the {channel} allow-list of account {acct}",
                    for_terminal(&entry)
                )));
            }
            println!(
                "Revoked {channel} sender {} (account {acct}, {}).",
                for_terminal(&entry),
                statedb::db_path(&ctx.paths.state_dir).display()
            );
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    ctx: &Ctx,
    db: &Path,
    store: &DmStore,
    approve: bool,
    args: &[String],
    channel_flag: Option<&str>,
    account: Option<&str>,
    now: i64,
) -> CliResult {
    let verb = if approve { "approve" } else { "reject" };
    let (channel, code) = channel_and_code(store, verb, args, channel_flag)?;
    let account = blank_to_none(account).map(str::to_string);
    let action = if approve {
        crate::audit::Action::Approve
    } else {
        crate::audit::Action::Reject
    };
    if let Some((sender, acct)) =
        through_gateway(ctx, db, &channel, &code, account.as_deref(), approve, now)
    {
        super::record(
            ctx,
            action,
            crate::audit::Subject::dm(&channel, Some(&acct), &sender, None),
        );
        let done = if approve { "Approved" } else { "Rejected" };
        println!("{done} {channel} sender {}.", for_terminal(&sender));
        if approve {
            owner_hint(ctx, &channel, &sender);
        }
        return Ok(());
    }
    let op = if approve {
        dm::Op::Approve {
            code: code.clone(),
            account,
        }
    } else {
        dm::Op::Dismiss {
            code: code.clone(),
            account,
        }
    };
    let out = dm::write_channel(db, &key(&channel)?, &op, now)
        .map_err(|e| Failure::error(e.to_string()))?;
    let Some((sender, acct)) = out.request.as_ref() else {
        return Err(Failure::error(format!(
            "No pending pairing request found for code: {}",
            for_terminal(&code)
        )));
    };
    super::record(
        ctx,
        action,
        crate::audit::Subject::dm(&channel, Some(acct), sender, None),
    );
    let done = if approve { "Approved" } else { "Rejected" };
    println!("{done} {channel} sender {}.", for_terminal(sender));
    if approve {
        owner_hint(ctx, &channel, sender);
    }
    Ok(())
}

fn owner_hint(ctx: &Ctx, channel: &str, sender: &str) {
    if statedb::owner_missing(&ctx.paths) {
        // OpenClaw's own first approval would make this sender the command
        // owner by rewriting openclaw.json as strict JSON (comments lost);
        // clawpair leaves the file alone and says how.
        println!(
            "No command owner is configured (commands.ownerAllowFrom is empty); clawpair leaves \
             openclaw.json alone. To make this sender the owner, run: {}",
            for_terminal(&statedb::owner_command(channel, sender))
        );
    }
}

/// The decision through OpenClaw's running gateway (`channels.pairing.approve`
/// / `dismiss`, which leave the same rows as the transaction and, without
/// `bootstrapCommandOwner`, the config alone): the sender when it was made
/// there; `None` when there is no usable gateway, it does not offer the RPC or
/// does not list this request (then the caller runs the DM transaction).
fn through_gateway(
    ctx: &Ctx,
    db: &Path,
    channel: &str,
    code: &str,
    account: Option<&str>,
    approve: bool,
    now: i64,
) -> Option<(String, String)> {
    let gw = statedb::LocalGateway::find(&ctx.paths);
    if gw.unavailable().is_some() {
        return None;
    }
    let rows = read(db).ok()?;
    let ch = dm::channel_key(channel)?;
    let want = code.trim().to_uppercase();
    let acct = account.map(|a| dm::account_key(Some(a)));
    let req = rows.visible(now).into_iter().find(|r| {
        r.channel == ch
            && r.code.to_uppercase() == want
            && acct.as_deref().is_none_or(|a| r.account == a)
    })?;
    let (account, sender) = (req.account.clone(), req.sender.clone());
    let rt = super::tokio_runtime().ok()?;
    let out = rt.block_on(async {
        let s = gw
            .attach(&crate::operator::api::scopes(&[
                crate::operator::api::PAIRING,
            ]))
            .await?;
        let r = statedb::gateway::dm_decide(&s, approve, &ch, &account, &sender).await;
        s.close().await;
        r.map_err(|e| e.to_string())
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match out {
        Ok(Some(p)) => Some((
            p.get("senderId")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(sender),
            account,
        )),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(
                "DM decision through OpenClaw's gateway failed ({e}); using the DM transaction"
            );
            None
        }
    }
}

fn allowlist(
    db: &Path,
    store: &DmStore,
    channel: Option<&str>,
    account: Option<&str>,
    json: bool,
) -> CliResult {
    let rows = read(db)?;
    if let Some(acc) = blank_to_none(account) {
        let channel = resolve_channel(store, channel)?;
        let ch = key(&channel)?;
        let acc = keys::request_account(Some(acc));
        let entries: Vec<String> = rows
            .allow
            .iter()
            .find(|a| a.channel == ch && a.account == acc)
            .map(|a| a.entries.clone())
            .unwrap_or_default();
        super::dm::print_account_allowlist(&channel, &acc, &entries, json);
        return Ok(());
    }
    let wanted = match channel {
        Some(c) => Some(key(&resolve_channel(store, Some(c))?)?),
        None => None,
    };
    let lists: Vec<&dm::Allow> = rows
        .allow
        .iter()
        .filter(|l| wanted.as_deref().is_none_or(|w| w == l.channel))
        .collect();
    if json {
        super::dm::print_allowlists_json(lists.iter().map(|l| {
            (
                l.channel.as_str(),
                json!(l.account),
                None,
                l.entries.as_slice(),
            )
        }));
        return Ok(());
    }
    if lists.is_empty() {
        match wanted {
            Some(c) => println!("No {c} allow-list entries."),
            None => println!("No allow-list entries."),
        }
        return Ok(());
    }
    let cols = [
        super::table::Column::new("Channel", 10, false),
        super::table::Column::new("Account", 10, false),
        super::table::Column::new("Sender", 12, true),
    ];
    let mut out_rows = Vec::new();
    for l in &lists {
        for e in &l.entries {
            out_rows.push(vec![
                for_terminal(&l.channel),
                for_terminal(&l.account),
                for_terminal(e),
            ]);
        }
    }
    let total: usize = lists.iter().map(|l| l.entries.len()).sum();
    print!(
        "Allow-lists ({total} senders)\n{}",
        super::table::render(&cols, &out_rows, super::table::target_width())
    );
    Ok(())
}
