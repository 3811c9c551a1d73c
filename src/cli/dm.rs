//! `clawpair pairing …`: the same verbs, arguments and output shapes as
//! `openclaw pairing`, plus `reject`, `request`, `allowlist` and `revoke`.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::table::{self, Column};
use super::{CliResult, Ctx, Failure};
use crate::audit::{Action, Subject};
use crate::clock;
use crate::dm::{keys, normalize, DmStore, PairingRequest};
use crate::sanitize::for_terminal;

/// `clawpair pairing` and its flags (`--url …` acts through a gateway).
#[derive(Debug, Args)]
pub struct PairingArgs {
    #[command(subcommand)]
    pub cmd: PairingCommand,
    #[command(flatten)]
    pub remote: super::remote::GlobalRemoteArgs,
}

#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// List pending pairing requests of a channel.
    List {
        /// Channel (telegram, whatsapp, …); optional when exactly one channel is enabled in openclaw.json.
        #[arg(value_name = "CHANNEL")]
        channel_arg: Option<String>,
        #[command(flatten)]
        opts: ChannelOpts,
        /// Print JSON (same shape as `openclaw pairing list --json`).
        #[arg(long)]
        json: bool,
    },
    /// Approve a pairing code: the sender is added to the channel's allow-list.
    Approve {
        /// `[CHANNEL] CODE`
        #[arg(value_name = "CHANNEL_OR_CODE", num_args = 0..)]
        args: Vec<String>,
        #[command(flatten)]
        opts: ChannelOpts,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Dismiss a pairing code without allowing the sender.
    Reject {
        /// `[CHANNEL] CODE`
        #[arg(value_name = "CHANNEL_OR_CODE", num_args = 0..)]
        args: Vec<String>,
        #[command(flatten)]
        opts: ChannelOpts,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Record a DM from an unknown sender, as a channel adapter does; prints {"code","created"}.
    Request {
        /// The channel the sender wrote on (telegram, whatsapp, …).
        channel: String,
        /// The sender's id on that channel.
        sender_id: String,
        /// Account id of the bot on that channel (default: `default`).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Sender details, e.g. `--meta username=alice`.
        #[arg(long, value_name = "KEY=VALUE")]
        meta: Vec<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Show allow-lists (all files of a channel, or one account's effective list).
    Allowlist {
        /// Only this channel's lists (default: every channel).
        channel: Option<String>,
        /// Show the effective list the bot uses for this account.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a sender from an account's allow-list (default: the `default` account).
    Revoke {
        /// The channel of the allow-list.
        channel: String,
        /// The sender to remove, as the allow-list holds it.
        entry: String,
        /// The bot account (default: `default`, which also covers the unscoped file).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        #[command(flatten)]
        write: WriteOpts,
    },
}

#[derive(Debug, Args)]
pub struct ChannelOpts {
    /// Channel, instead of the positional argument.
    #[arg(long)]
    pub channel: Option<String>,
    /// Only this account's requests.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

#[derive(Debug, Args)]
pub struct WriteOpts {
    /// If the file to change cannot be parsed, move it aside
    /// (`<name>.corrupt-<UTC time>`) and start it fresh instead of refusing.
    #[arg(long)]
    pub repair: bool,
}

pub fn run(ctx: &Ctx, cmd: PairingCommand) -> CliResult {
    if let crate::statedb::Generation::Sqlite { db } =
        crate::statedb::Generation::detect(&ctx.paths.state_dir)
    {
        return super::dm_sqlite::run(ctx, &db, cmd);
    }
    let store = DmStore::for_paths(&ctx.paths);
    let now = clock::now_ms();
    match cmd {
        PairingCommand::List {
            channel_arg,
            opts,
            json,
        } => {
            let given = opts.channel.as_deref().or(channel_arg.as_deref());
            let account = blank_to_none(opts.account.as_deref());
            let given = given.map(str::trim).filter(|c| !c.is_empty());
            if given.is_none() && store.loaded_channels().len() != 1 {
                return list_all(&store, account, json, now);
            }
            let channel = resolve_channel(&store, given)?;
            let requests = store.list(&channel, account, now)?;
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
                    render_requests(&store, &channel, &requests, table::target_width())
                );
            }
            Ok(())
        }
        PairingCommand::Approve { args, opts, write } => {
            decide(ctx, store, true, &args, &opts, &write, now)
        }
        PairingCommand::Reject { args, opts, write } => {
            decide(ctx, store, false, &args, &opts, &write, now)
        }
        PairingCommand::Request {
            channel,
            sender_id,
            account,
            meta,
            write,
        } => {
            let channel = resolve_channel(&store, Some(&channel))?;
            let mut pairs = Vec::with_capacity(meta.len());
            for m in &meta {
                let Some((k, v)) = m.split_once('=') else {
                    return Err(Failure::usage(format!(
                        "--meta expects KEY=VALUE, got {m:?}"
                    )));
                };
                if k.trim().is_empty() {
                    return Err(Failure::usage(format!(
                        "--meta expects KEY=VALUE, got {m:?}"
                    )));
                }
                pairs.push((k.trim().to_string(), v.to_string()));
            }
            let store = store.with_repair(write.repair);
            let r = store.upsert(
                &channel,
                &sender_id,
                blank_to_none(account.as_deref()),
                &pairs,
                now,
            )?;
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
            Ok(())
        }
        PairingCommand::Allowlist {
            channel,
            account,
            json,
        } => allowlist(&store, channel.as_deref(), account.as_deref(), json),
        PairingCommand::Revoke {
            channel,
            entry,
            account,
            write,
        } => {
            let channel = resolve_channel(&store, Some(&channel))?;
            let account = blank_to_none(account.as_deref());
            let store = store.with_repair(write.repair);
            let removed = store.revoke(&channel, account, &entry)?;
            if removed.is_empty() {
                return Err(Failure::error(format!(
                    "{} is not on the {channel} allow-list of account {}",
                    for_terminal(&entry),
                    keys::request_account(account)
                )));
            }
            super::record(
                ctx,
                Action::Revoke,
                Subject::dm(
                    &channel,
                    Some(&keys::request_account(account)),
                    &entry,
                    None,
                ),
            );
            let names: Vec<String> = removed
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            println!(
                "Revoked {channel} sender {} ({}).",
                for_terminal(&entry),
                names.join(", ")
            );
            Ok(())
        }
    }
}

/// `pairing list` with no channel (and not exactly one enabled in
/// openclaw.json): every channel that has pending requests.
fn list_all(store: &DmStore, account: Option<&str>, json: bool, now: i64) -> CliResult {
    let mut found = Vec::new();
    for ch in store.channels()? {
        if ch.pairing.is_none() {
            continue;
        }
        let requests = store.list(&ch.channel, account, now)?;
        if !requests.is_empty() {
            found.push((ch.channel, requests));
        }
    }
    if json {
        let channels: Vec<Value> = found
            .iter()
            .map(|(c, r)| {
                let list: Vec<Value> = r.iter().map(|r| r.raw.clone()).collect();
                json!({"channel": c, "requests": list})
            })
            .collect();
        print!(
            "{}",
            crate::jsonfmt::to_pretty_nl(&json!({ "channels": channels }))
        );
    } else if found.is_empty() {
        println!("No pending pairing requests.");
    } else {
        for (i, (channel, requests)) in found.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("Channel {channel}");
            print!(
                "{}",
                render_requests(store, channel, requests, table::target_width())
            );
        }
    }
    Ok(())
}

/// `approve` (allow the sender) or `reject` (dismiss the request) by code.
fn decide(
    ctx: &Ctx,
    store: DmStore,
    approve: bool,
    args: &[String],
    opts: &ChannelOpts,
    write: &WriteOpts,
    now: i64,
) -> CliResult {
    let verb = if approve { "approve" } else { "reject" };
    let (channel, code) = channel_and_code(&store, verb, args, opts.channel.as_deref())?;
    let store = store.with_repair(write.repair);
    let account = blank_to_none(opts.account.as_deref());
    let taken = if approve {
        store
            .approve(&channel, &code, account, now)?
            .map(|a| a.entry)
    } else {
        store.reject(&channel, &code, account, now)?
    };
    match taken {
        Some(r) => {
            let (done, action) = if approve {
                ("Approved", Action::Approve)
            } else {
                ("Rejected", Action::Reject)
            };
            super::record(
                ctx,
                action,
                Subject::dm(
                    &channel,
                    account.or(r.account.as_deref()),
                    &r.id,
                    crate::app::rows::display_name_of(&r.meta),
                ),
            );
            println!("{done} {channel} sender {}.", for_terminal(&r.id));
            Ok(())
        }
        None => Err(Failure::error(format!(
            "No pending pairing request found for code: {}",
            for_terminal(&code)
        ))),
    }
}

pub(super) fn blank_to_none(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Channel from the flag or positional, else the only enabled one (spec §7.1).
pub(super) fn resolve_channel(store: &DmStore, given: Option<&str>) -> Result<String, Failure> {
    let Some(raw) = given.map(str::trim).filter(|s| !s.is_empty()) else {
        let loaded = store.loaded_channels();
        if loaded.len() == 1 {
            return Ok(loaded[0].clone());
        }
        return Err(Failure::usage(format!(
            "Channel required. Use --channel <channel> or pass it as the first argument (expected one of: {})",
            loaded.join(", ")
        )));
    };
    let lowered = raw.to_lowercase();
    if keys::is_valid_channel_id(&lowered) {
        Ok(lowered)
    } else {
        Err(Failure::usage(format!(
            "Invalid channel: {}",
            for_terminal(&lowered)
        )))
    }
}

/// The `[CHANNEL] CODE` forms of approve/reject.
pub(super) fn channel_and_code(
    store: &DmStore,
    verb: &str,
    args: &[String],
    flag: Option<&str>,
) -> Result<(String, String), Failure> {
    let usage = || {
        Failure::usage(format!(
            "Usage: clawpair pairing {verb} <channel> <code> (or: clawpair pairing {verb} --channel <channel> <code>)"
        ))
    };
    match (args, flag) {
        ([], _) => Err(usage()),
        ([_, _], Some(_)) | ([_, _, _, ..], _) => Err(Failure::usage(format!(
            "Too many arguments. Use: clawpair pairing {verb} --channel <channel> <code>"
        ))),
        ([code], Some(ch)) => Ok((resolve_channel(store, Some(ch))?, code.clone())),
        ([code], None) => {
            if store.loaded_channels().len() == 1 {
                Ok((store.loaded_channels()[0].clone(), code.clone()))
            } else {
                Err(usage())
            }
        }
        ([ch, code], None) => Ok((resolve_channel(store, Some(ch))?, code.clone())),
    }
}

/// The `Pairing requests (n)` table.
pub fn render_requests(
    store: &DmStore,
    channel: &str,
    requests: &[PairingRequest],
    width: usize,
) -> String {
    let id_label = if store.plugin_loaded(channel) {
        normalize::id_label(channel).unwrap_or("userId")
    } else {
        "userId"
    };
    let cols = [
        Column::new("Code", 10, false),
        Column::new(id_label, 12, true),
        Column::new("Meta", 8, true),
        Column::new("Requested", 12, false),
    ];
    let rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            let meta = match r.raw.get("meta") {
                Some(m @ Value::Object(_)) => serde_json::to_string(m).unwrap_or_default(),
                _ => String::new(),
            };
            vec![
                for_terminal(&r.code),
                for_terminal(&r.id),
                for_terminal(&meta),
                for_terminal(&r.created_at),
            ]
        })
        .collect();
    format!(
        "Pairing requests ({})\n{}",
        requests.len(),
        table::render(&cols, &rows, width)
    )
}

fn allowlist(
    store: &DmStore,
    channel: Option<&str>,
    account: Option<&str>,
    json: bool,
) -> CliResult {
    let account = blank_to_none(account);
    if let Some(acc) = account {
        let channel = resolve_channel(store, channel)?;
        let entries = store.effective_allowlist(&channel, Some(acc))?;
        let acc = keys::request_account(Some(acc));
        print_account_allowlist(&channel, &acc, &entries, json);
        return Ok(());
    }
    let wanted = match channel {
        Some(c) => Some(resolve_channel(store, Some(c))?),
        None => None,
    };
    let lists: Vec<_> = store
        .allowlists()?
        .into_iter()
        .filter(|l| wanted.as_deref().is_none_or(|w| w == l.channel))
        .collect();
    if let Some(bad) = lists.iter().find_map(|l| l.error.clone()) {
        return Err(Failure::error(bad));
    }
    if json {
        print_allowlists_json(lists.iter().map(|l| {
            (
                l.channel.as_str(),
                json!(l.account),
                l.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                l.entries.as_slice(),
            )
        }));
        return Ok(());
    }
    if lists.is_empty() {
        match wanted {
            Some(c) => println!("No {c} allow-list files."),
            None => println!("No allow-list files."),
        }
        return Ok(());
    }
    let cols = [
        Column::new("Channel", 10, false),
        Column::new("Account", 10, false),
        Column::new("Sender", 12, true),
        Column::new("File", 12, true),
    ];
    let mut rows = Vec::new();
    for l in &lists {
        let file = l
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let account = l.account.clone().unwrap_or_else(|| "(unscoped)".into());
        if l.entries.is_empty() {
            rows.push(vec![
                l.channel.clone(),
                account.clone(),
                "(empty)".into(),
                file.clone(),
            ]);
        }
        for e in &l.entries {
            rows.push(vec![
                l.channel.clone(),
                account.clone(),
                for_terminal(e),
                file.clone(),
            ]);
        }
    }
    let total: usize = lists.iter().map(|l| l.entries.len()).sum();
    print!(
        "Allow-lists ({total} senders)\n{}",
        table::render(&cols, &rows, table::target_width())
    );
    Ok(())
}

/// `pairing allowlist <channel> --account A`: one account's senders (both
/// generations print the same).
pub fn print_account_allowlist(channel: &str, account: &str, entries: &[String], json: bool) {
    if json {
        print!(
            "{}",
            crate::jsonfmt::to_pretty_nl(
                &json!({"channel": channel, "account": account, "allowFrom": entries})
            )
        );
    } else if entries.is_empty() {
        println!("No approved {channel} senders for account {account}.");
    } else {
        println!(
            "Approved {channel} senders for account {account} ({}):",
            entries.len()
        );
        for e in entries {
            println!("  {}", for_terminal(e));
        }
    }
}

/// `pairing allowlist --json`: `{"allowlists": [{channel, account, file, allowFrom}]}`
/// (`file` is null on 2026.9 state, which has none).
pub fn print_allowlists_json<'a>(
    lists: impl Iterator<Item = (&'a str, Value, Option<String>, &'a [String])>,
) {
    let items: Vec<Value> = lists
        .map(|(channel, account, file, entries)| {
            json!({
                "channel": channel,
                "account": account,
                "file": file,
                "allowFrom": entries,
            })
        })
        .collect();
    print!(
        "{}",
        crate::jsonfmt::to_pretty_nl(&json!({ "allowlists": items }))
    );
}
