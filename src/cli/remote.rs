//! The CLI verbs through a gateway: `--url ws[s]://HOST:PORT` with `--token`,
//! `--token-file`, `--password` or `$OPENCLAW_GATEWAY_TOKEN`, and
//! `--tls-fingerprint`. Each verb opens one operator connection asking for
//! the least scope its action needs, and prints what the local verb prints
//! (`devices …`, `pairing …`) or what `openclaw nodes …` prints (`nodes …`),
//! built from the RPC answers. Secrets never appear in an error or a log line.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::table::{self, Column};
use super::{CliResult, Failure};
use crate::audit::{Action, Place, Subject};
use crate::devices::PendingRequest;
use crate::jsonfmt;
use crate::operator::api::{self, ADMIN, CALL_TIMEOUT, PAIRING};
use crate::operator::{tls, ConfigDir, GatewayUrl, Remote, RpcError, Session, Shared};
use crate::sanitize::for_terminal;

macro_rules! remote_args {
    ($name:ident, $global:literal) => {
        /// How to reach a gateway as an operator.
        #[derive(Clone, Default, Args)]
        pub struct $name {
            /// Act through this gateway (ws://HOST:PORT or wss://HOST:PORT) instead of the state files.
            #[arg(long, value_name = "URL", global = $global)]
            pub url: Option<String>,
            /// The gateway's shared token (else --token-file, else $OPENCLAW_GATEWAY_TOKEN).
            #[arg(long, value_name = "TOKEN", global = $global)]
            pub token: Option<String>,
            /// Read the gateway token from this file (keeps it out of the process list).
            #[arg(long, value_name = "FILE", global = $global)]
            pub token_file: Option<PathBuf>,
            /// The gateway's password (gateway.auth.mode=password).
            #[arg(long, value_name = "PASSWORD", global = $global)]
            pub password: Option<String>,
            /// Pin the gateway's TLS certificate (SHA-256: 64 hex digits or AA:BB:… pairs).
            #[arg(long, value_name = "SHA256", global = $global)]
            pub tls_fingerprint: Option<String>,
            /// Connect with clawpair's own operator identity even with a token
            /// (it is paired once; later runs need no token).
            #[arg(long, global = $global)]
            pub as_device: bool,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("url", &self.url)
                    .field("token", &self.token.as_ref().map(|_| "<redacted>"))
                    .field("token_file", &self.token_file)
                    .field("password", &self.password.as_ref().map(|_| "<redacted>"))
                    .field("tls_fingerprint", &self.tls_fingerprint)
                    .field("as_device", &self.as_device)
                    .finish()
            }
        }
    };
}

remote_args!(RemoteArgs, false);
remote_args!(GlobalRemoteArgs, true);

impl From<GlobalRemoteArgs> for RemoteArgs {
    fn from(g: GlobalRemoteArgs) -> RemoteArgs {
        RemoteArgs {
            url: g.url,
            token: g.token,
            token_file: g.token_file,
            password: g.password,
            tls_fingerprint: g.tls_fingerprint,
            as_device: g.as_device,
        }
    }
}

/// The gateway to act through, when `--url` was given.
pub fn resolve(a: &RemoteArgs) -> Result<Option<Remote>, Failure> {
    let Some(raw) = &a.url else {
        if a.token.is_some()
            || a.token_file.is_some()
            || a.password.is_some()
            || a.tls_fingerprint.is_some()
            || a.as_device
        {
            return Err(Failure::usage(
                "--token, --token-file, --password, --tls-fingerprint and --as-device need --url",
            ));
        }
        return Ok(None);
    };
    let url = GatewayUrl::parse(raw).map_err(Failure::usage)?;
    url.check_policy().map_err(Failure::usage)?;
    let given = [
        a.token.is_some(),
        a.token_file.is_some(),
        a.password.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(Failure::usage(
            "give one of --token, --token-file, --password",
        ));
    }
    let shared = if let Some(t) = &a.token {
        Some(Shared::Token(nonempty(t, "--token")?))
    } else if let Some(f) = &a.token_file {
        let bytes = crate::fsutil::read_capped(f, 64 * 1024)
            .map_err(|e| Failure::error(e.to_string()))?
            .ok_or_else(|| Failure::error(format!("{}: no such file", f.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::error(format!("{}: not UTF-8 text", f.display())))?;
        Some(Shared::Token(nonempty(text.trim(), "--token-file")?))
    } else if let Some(p) = &a.password {
        Some(Shared::Password(nonempty(p, "--password")?))
    } else {
        std::env::var("OPENCLAW_GATEWAY_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(Shared::Token)
    };
    let explicit_pin = match &a.tls_fingerprint {
        None => None,
        Some(_) if !url.tls => return Err(Failure::usage("--tls-fingerprint needs a wss:// URL")),
        Some(fp) => Some(tls::parse_fingerprint(fp).map_err(Failure::usage)?),
    };
    Ok(Some(Remote {
        url,
        shared,
        explicit_pin,
        as_device: a.as_device,
        config: ConfigDir::resolve(),
    }))
}

fn nonempty(s: &str, what: &str) -> Result<String, Failure> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Failure::usage(format!("{what} is empty")));
    }
    Ok(t.to_string())
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let rt = super::tokio_runtime()?;
    let r = rt.block_on(f);
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    r
}

fn fail(e: RpcError) -> Failure {
    Failure::error(e.to_string())
}

async fn connect(r: &Remote, scopes: &[&str]) -> Result<Session, Failure> {
    r.connect_once(&api::scopes(scopes))
        .await
        .map_err(Failure::error)
}

/// `method` on a `[operator.pairing]` connection; once more with
/// `[operator.admin]` when the gateway says the action needs it.
async fn call_with_admin_retry(r: &Remote, method: &str, params: Value) -> Result<Value, Failure> {
    let s = connect(r, &[PAIRING]).await?;
    let first = s.call(method, params.clone(), CALL_TIMEOUT).await;
    s.close().await;
    match first {
        Err(e) if api::needs_admin(&e) => {
            let s = connect(r, &[ADMIN]).await?;
            let second = s.call(method, params, CALL_TIMEOUT).await;
            s.close().await;
            second.map_err(fail)
        }
        other => other.map_err(fail),
    }
}

async fn call_once(
    r: &Remote,
    scopes: &[&str],
    method: &str,
    params: Value,
) -> Result<Value, Failure> {
    let s = connect(r, scopes).await?;
    let out = s.call(method, params, CALL_TIMEOUT).await;
    s.close().await;
    out.map_err(fail)
}

fn emit(text: &str) -> CliResult {
    super::devices::emit(text)
}

fn field(v: &Value, k: &str) -> String {
    for_terminal(v.get(k).and_then(Value::as_str).unwrap_or(""))
}

/// `clawpair devices … --url`.
/// `clawpair devices … --url` (or through an OpenClaw 2026.7+ state dir's own
/// gateway); each decision is recorded for `place`.
pub fn devices(r: Remote, place: Place, cmd: super::devices::DevicesCommand) -> CliResult {
    use super::devices::{render_list, DevicesCommand as D, NOTHING_TO_APPROVE};
    block_on(async move {
        match cmd {
            D::List { json } => {
                let p = call_once(&r, &[PAIRING], "device.pair.list", json!({})).await?;
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&render_list(
                        &p,
                        crate::clock::now_ms(),
                        table::target_width(),
                    ))
                }
            }
            D::Approve {
                request_id,
                latest,
                json,
                ..
            } => {
                let id = match request_id {
                    Some(id) => id,
                    None => {
                        let p = call_once(&r, &[PAIRING], "device.pair.list", json!({})).await?;
                        if latest {
                            newest_pending(&p).ok_or_else(|| Failure::error(NOTHING_TO_APPROVE))?
                        } else {
                            // As the local verb (and OpenClaw 2026.9): only the
                            // one pending request; with several, none.
                            let now = crate::clock::now_ms();
                            let pending = pending_requests(&p);
                            let refs: Vec<&PendingRequest> = pending.iter().collect();
                            let one = super::devices::only_one(&refs, now)?;
                            eprintln!(
                                "clawpair: approving the only pending request: {}",
                                super::devices::pending_summary(one, now)
                            );
                            one.request_id.clone()
                        }
                    }
                };
                let p = call_with_admin_retry(&r, "device.pair.approve", json!({"requestId": id}))
                    .await?;
                let dev = p.get("device").cloned().unwrap_or(Value::Null);
                let mut subject = device_subject(&dev, p.get("requestId"));
                if let Subject::Device { roles, scopes, .. } = &mut subject {
                    *roles = strs(&dev, "roles");
                    *scopes = strs(&dev, "scopes");
                }
                super::record_at(&place, Action::Approve, subject);
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    let dev = p.get("device").cloned().unwrap_or(Value::Null);
                    emit(&format!(
                        "Approved {} ({})\n",
                        field(&dev, "deviceId"),
                        field(&p, "requestId")
                    ))
                }
            }
            D::Reject {
                request_id, json, ..
            } => {
                let p = call_with_admin_retry(
                    &r,
                    "device.pair.reject",
                    json!({"requestId": request_id}),
                )
                .await?;
                super::record_at(
                    &place,
                    Action::Reject,
                    device_subject(&p, p.get("requestId")),
                );
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&format!("Rejected {}\n", field(&p, "deviceId")))
                }
            }
            D::Remove {
                device_id, json, ..
            } => {
                let p =
                    call_with_admin_retry(&r, "device.pair.remove", json!({"deviceId": device_id}))
                        .await?;
                super::record_at(&place, Action::Remove, device_subject(&p, None));
                if json {
                    emit(&jsonfmt::to_pretty_nl(&p))
                } else {
                    emit(&format!("Removed {}\n", field(&p, "deviceId")))
                }
            }
            D::Rotate {
                device,
                role,
                scopes,
                ..
            } => {
                let mut params = json!({"deviceId": device, "role": role});
                if !scopes.is_empty() {
                    params["scopes"] = json!(scopes);
                }
                let p = call_with_admin_retry(&r, "device.token.rotate", params).await?;
                super::record_at(&place, Action::Rotate, token_subject(&p));
                emit(&jsonfmt::to_pretty_nl(&p))
            }
            D::Revoke { device, role, .. } => {
                let p = call_with_admin_retry(
                    &r,
                    "device.token.revoke",
                    json!({"deviceId": device, "role": role}),
                )
                .await?;
                super::record_at(&place, Action::Revoke, token_subject(&p));
                emit(&jsonfmt::to_pretty_nl(&p))
            }
        }
    })
}

/// The pending requests of a `device.pair.list` payload, newest first (the
/// entries have the shape of `pending.json`'s; one that does not parse is left out).
fn pending_requests(p: &Value) -> Vec<PendingRequest> {
    let mut v: Vec<PendingRequest> = p
        .get("pending")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter_map(|r| serde_json::from_value(r.clone()).ok())
        .collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.ts));
    v
}

/// The device an RPC answer names (`deviceId`, `displayName`), for the
/// decision history.
fn device_subject(v: &Value, request_id: Option<&Value>) -> Subject {
    let g = |k: &str| v.get(k).and_then(Value::as_str);
    Subject::device(
        g("deviceId").or(g("nodeId")).unwrap_or(""),
        g("displayName"),
        request_id.and_then(Value::as_str),
    )
}

/// A token rotation or revocation answer (`{deviceId, role, scopes?}`).
fn token_subject(v: &Value) -> Subject {
    let mut s = device_subject(v, None);
    if let Subject::Device { role, scopes, .. } = &mut s {
        *role = v.get("role").and_then(Value::as_str).map(str::to_string);
        *scopes = strs(v, "scopes");
    }
    s
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The newest pending request of a `device.pair.list` payload.
fn newest_pending(p: &Value) -> Option<String> {
    p.get("pending")?
        .as_array()?
        .iter()
        .max_by_key(|r| r.get("ts").and_then(Value::as_i64).unwrap_or(0))
        .and_then(|r| r.get("requestId"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `clawpair nodes …`: the second approval layer of OpenClaw 2026.9, a paired
/// node's capabilities and commands (`node.pair.*`).
#[derive(Debug, Subcommand)]
pub enum NodesCommand {
    /// List nodes whose capability surface waits for approval.
    Pending {
        /// Print the pending array as JSON (as `openclaw nodes pending --json`).
        #[arg(long)]
        json: bool,
    },
    /// Approve a node's capabilities and commands (prints the result as JSON).
    Approve {
        /// The request id `clawpair nodes pending` shows.
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        /// Accepted for compatibility: the output is always JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reject a node's capability surface (prints the result as JSON).
    Reject {
        /// The request id `clawpair nodes pending` shows.
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        /// Accepted for compatibility: the output is always JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `clawpair nodes` and its flags.
#[derive(Debug, Args)]
pub struct NodesArgs {
    #[command(subcommand)]
    pub cmd: NodesCommand,
    #[command(flatten)]
    pub remote: GlobalRemoteArgs,
}

/// `clawpair nodes …`: through `--url`, else, on an OpenClaw 2026.7+ state
/// dir, through its own running gateway ([`crate::statedb::LocalGateway`]).
pub fn nodes(paths: &crate::paths::Paths, a: NodesArgs) -> CliResult {
    let (r, place) = match resolve(&a.remote.into())? {
        Some(r) => {
            let place = Place::Gateway(r.url.display());
            (r, place)
        }
        None if crate::statedb::Generation::detect(&paths.state_dir).is_sqlite() => (
            crate::statedb::LocalGateway::find(paths)
                .remote()
                .map_err(Failure::error)?,
            Place::Local(paths.state_dir.clone()),
        ),
        None => {
            return Err(Failure::usage(
                "clawpair nodes … needs --url (or an OpenClaw 2026.7+ state dir whose gateway runs): node capability surfaces live in an OpenClaw 2026.9 gateway",
            ))
        }
    };
    nodes_on(r, &place, a.cmd)
}

fn nodes_on(r: Remote, place: &Place, cmd: NodesCommand) -> CliResult {
    block_on(async move {
        let s = connect(&r, &[PAIRING]).await?;
        if !s.hello.has_method("node.pair.list") {
            let label = s.hello.server_label();
            s.close().await;
            return Err(Failure::error(format!(
                "{} ({label}) has no node pairing RPCs (node.pair.*): its nodes need only the device approval (clawpair devices approve)",
                r.url.display()
            )));
        }
        let list = s
            .call("node.pair.list", json!({}), CALL_TIMEOUT)
            .await
            .map_err(fail);
        match cmd {
            NodesCommand::Pending { json } => {
                s.close().await;
                let list = list?;
                let pending = list.get("pending").cloned().unwrap_or(json!([]));
                if json {
                    emit(&jsonfmt::to_pretty_nl(&pending))
                } else {
                    emit(&render_nodes_pending(
                        &pending,
                        crate::clock::now_ms(),
                        table::target_width(),
                    ))
                }
            }
            NodesCommand::Approve { request_id, .. } => {
                let list = list?;
                let required: Vec<String> = list
                    .get("pending")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter().find(|p| {
                            p.get("requestId").and_then(Value::as_str) == Some(request_id.as_str())
                        })
                    })
                    .and_then(|p| p.get("requiredApproveScopes"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut scopes = vec![PAIRING.to_string()];
                for x in required {
                    if !scopes.contains(&x) {
                        scopes.push(x);
                    }
                }
                let out = if scopes.len() == 1 {
                    let o = s
                        .call(
                            "node.pair.approve",
                            json!({"requestId": request_id}),
                            CALL_TIMEOUT,
                        )
                        .await;
                    s.close().await;
                    o
                } else {
                    s.close().await;
                    let s2 = r.connect_once(&scopes).await.map_err(Failure::error)?;
                    let o = s2
                        .call(
                            "node.pair.approve",
                            json!({"requestId": request_id}),
                            CALL_TIMEOUT,
                        )
                        .await;
                    s2.close().await;
                    o
                };
                let out = out.map_err(fail)?;
                super::record_at(place, Action::Approve, node_subject(&out, &request_id));
                emit(&jsonfmt::to_pretty_nl(&out))
            }
            NodesCommand::Reject { request_id, .. } => {
                let out = s
                    .call(
                        "node.pair.reject",
                        json!({"requestId": request_id}),
                        CALL_TIMEOUT,
                    )
                    .await;
                s.close().await;
                let out = out.map_err(fail)?;
                super::record_at(place, Action::Reject, node_subject(&out, &request_id));
                emit(&jsonfmt::to_pretty_nl(&out))
            }
        }
    })
}

/// A node capability-surface decision: the node, the request, and for an
/// approval the commands it may now run (as `scopes` of the record).
fn node_subject(out: &Value, request_id: &str) -> Subject {
    let node = out.get("node").unwrap_or(out);
    let mut s = device_subject(node, Some(&json!(request_id)));
    if let Subject::Device { scopes, .. } = &mut s {
        *scopes = strs(node, "commands");
    }
    s
}

/// The `Pending (n)` table of `nodes pending` (Request, Node, IP, Requested).
pub fn render_nodes_pending(pending: &Value, now_ms: i64, width: usize) -> String {
    let rows: Vec<Vec<String>> = pending
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            let name = p
                .get("displayName")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty());
            vec![
                field(p, "requestId"),
                for_terminal(
                    name.or(p.get("nodeId").and_then(Value::as_str))
                        .unwrap_or(""),
                ),
                field(p, "remoteIp"),
                super::devices::format_age(
                    now_ms,
                    p.get("ts").and_then(Value::as_i64).unwrap_or(now_ms),
                ),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "No pending node pairing requests.\n".into();
    }
    let cols = [
        Column::new("Request", 10, false),
        Column::new("Node", 16, true),
        Column::new("IP", 12, false),
        Column::new("Requested", 10, false),
    ];
    format!(
        "Pending ({})\n{}",
        rows.len(),
        table::render(&cols, &rows, width)
    )
}

/// `clawpair pairing list|approve|reject --url` through `channels.pairing.*`.
pub fn pairing(r: Remote, place: Place, cmd: super::dm::PairingCommand) -> CliResult {
    block_on(async move {
        let s = connect(&r, &[PAIRING]).await?;
        if !s.hello.has_method("channels.pairing.list") {
            let label = s.hello.server_label();
            let proto = s.hello.protocol;
            s.close().await;
            return Err(Failure::error(format!(
                "{} ({label}, protocol {proto}) has no DM pairing RPCs (channels.pairing.*, OpenClaw 2026.7+); run clawpair pairing … or openclaw pairing … on the gateway host",
                r.url.display()
            )));
        }
        let result = pairing_on(&s, &place, cmd).await;
        s.close().await;
        result
    })
}

async fn pairing_on(s: &Session, place: &Place, cmd: super::dm::PairingCommand) -> CliResult {
    use super::dm::PairingCommand as P;
    match cmd {
        P::List {
            channel_arg,
            opts,
            json,
        } => {
            let channel = opts
                .channel
                .or(channel_arg)
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty());
            let mut params = json!({});
            if let Some(c) = &channel {
                params["channel"] = json!(c);
            }
            if let Some(a) = opts
                .account
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
            {
                params["accountId"] = json!(a);
            }
            let p = s
                .call("channels.pairing.list", params, CALL_TIMEOUT)
                .await
                .map_err(fail)?;
            let reqs: Vec<&Value> = p
                .get("requests")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let label = channel.clone().unwrap_or_else(|| "DM".into());
            if json {
                let list: Vec<Value> = reqs.iter().map(|r| remote_request_json(r)).collect();
                let doc = match &channel {
                    Some(c) => json!({"channel": c, "requests": list}),
                    None => json!({"requests": list}),
                };
                emit(&jsonfmt::to_pretty_nl(&doc))
            } else if reqs.is_empty() {
                emit(&format!("No pending {label} pairing requests.\n"))
            } else {
                emit(&render_remote_requests(&reqs, table::target_width()))
            }
        }
        P::Approve { args, opts, .. } => {
            decide(
                s,
                place,
                true,
                &args,
                opts.channel.as_deref(),
                opts.account.as_deref(),
            )
            .await
        }
        P::Reject { args, opts, .. } => {
            decide(
                s,
                place,
                false,
                &args,
                opts.channel.as_deref(),
                opts.account.as_deref(),
            )
            .await
        }
        _ => Err(Failure::usage(
            "pairing request, allowlist and revoke work on the state files only (without --url)",
        )),
    }
}

/// A `channels.pairing.list` request in the local `pairing list --json`
/// shape: `{id, requestId, createdAt, lastSeenAt, meta}` (the gateway never
/// reveals the code; `requestId` is what approve takes instead).
fn remote_request_json(r: &Value) -> Value {
    let mut meta = r
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    if let (Some(m), Some(a)) = (meta.as_object_mut(), r.get("accountId")) {
        m.insert("accountId".into(), a.clone());
    }
    json!({
        "id": r.get("senderId").cloned().unwrap_or(Value::Null),
        "requestId": r.get("requestId").cloned().unwrap_or(Value::Null),
        "createdAt": r.get("createdAt").cloned().unwrap_or(Value::Null),
        "lastSeenAt": r.get("lastSeenAt").cloned().unwrap_or(Value::Null),
        "meta": meta,
    })
}

fn render_remote_requests(reqs: &[&Value], width: usize) -> String {
    let id_label = reqs
        .first()
        .and_then(|r| r.get("senderLabel"))
        .and_then(Value::as_str)
        .map(for_terminal)
        .unwrap_or_else(|| "userId".into());
    let cols = [
        Column::new("Request", 10, false),
        Column::new(&id_label, 12, true),
        Column::new("Account", 8, false),
        Column::new("Meta", 8, true),
        Column::new("Requested", 12, false),
    ];
    let rows: Vec<Vec<String>> = reqs
        .iter()
        .map(|r| {
            let meta = r
                .get("metadata")
                .filter(|m| m.is_object())
                .map(|m| m.to_string())
                .unwrap_or_default();
            vec![
                field(r, "requestId"),
                field(r, "senderId"),
                field(r, "accountId"),
                for_terminal(&meta),
                field(r, "createdAt"),
            ]
        })
        .collect();
    format!(
        "Pairing requests ({})\n{}",
        reqs.len(),
        table::render(&cols, &rows, width)
    )
}

/// approve / reject by request id or sender id (`[CHANNEL] ID`).
async fn decide(
    s: &Session,
    place: &Place,
    approve: bool,
    args: &[String],
    channel: Option<&str>,
    account: Option<&str>,
) -> CliResult {
    let verb = if approve { "approve" } else { "reject" };
    let (channel, id) = match (args, channel) {
        ([id], ch) => (ch.map(|c| c.trim().to_lowercase()), id.clone()),
        ([ch, id], None) => (Some(ch.trim().to_lowercase()), id.clone()),
        _ => {
            return Err(Failure::usage(format!(
                "Usage: clawpair pairing {verb} [<channel>] <requestId|senderId> --url … (the gateway does not reveal codes; see pairing list --url)"
            )))
        }
    };
    let p = s
        .call("channels.pairing.list", json!({}), CALL_TIMEOUT)
        .await
        .map_err(fail)?;
    let account = account
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty());
    let matches: Vec<&Value> = p
        .get("requests")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|r| {
            let g = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            (g("requestId") == id || g("senderId") == id)
                && channel
                    .as_deref()
                    .is_none_or(|c| g("channel").eq_ignore_ascii_case(c))
                && account
                    .as_deref()
                    .is_none_or(|a| g("accountId").eq_ignore_ascii_case(a))
        })
        .collect();
    let req = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(Failure::error(format!(
                "No pending pairing request found for {}",
                for_terminal(&id)
            )))
        }
        _ => {
            return Err(Failure::error(format!(
                "{} matches several requests; give the channel and --account, or the requestId",
                for_terminal(&id)
            )))
        }
    };
    let ch = req
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let params = json!({
        "channel": ch,
        "accountId": req.get("accountId").and_then(Value::as_str).unwrap_or("default"),
        "requestId": req.get("requestId").and_then(Value::as_str).unwrap_or(""),
    });
    let method = if approve {
        "channels.pairing.approve"
    } else {
        "channels.pairing.dismiss"
    };
    let out = s.call(method, params, CALL_TIMEOUT).await.map_err(fail)?;
    let sender = out
        .get("senderId")
        .and_then(Value::as_str)
        .or(req.get("senderId").and_then(Value::as_str))
        .unwrap_or("");
    let name = req
        .get("metadata")
        .and_then(|m| m.get("name").or(m.get("username")))
        .and_then(Value::as_str)
        .map(str::to_string);
    super::record_at(
        place,
        if approve {
            Action::Approve
        } else {
            Action::Reject
        },
        Subject::dm(
            &ch,
            req.get("accountId").and_then(Value::as_str),
            sender,
            name,
        ),
    );
    let done = if approve { "Approved" } else { "Rejected" };
    emit(&format!(
        "{done} {} sender {}.\n",
        for_terminal(&ch),
        for_terminal(sender)
    ))
}
