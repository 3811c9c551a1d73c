//! `clawpair nodes …`: OpenClaw 2026.9's node capability-surface approvals (`node.pair.*`).

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::devices::{device_subject, strs};
use super::*;
use crate::audit::{Action, Place, Subject};
use crate::cli::table::{self, Column};
use crate::cli::{CliResult, Failure};
use crate::jsonfmt;
use crate::operator::api::{CALL_TIMEOUT, PAIRING};
use crate::operator::Remote;
use crate::sanitize::for_terminal;

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
                    .map(|p| strs(p, "requiredApproveScopes"))
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
                crate::cli::record_at(place, Action::Approve, node_subject(&out, &request_id));
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
                crate::cli::record_at(place, Action::Reject, node_subject(&out, &request_id));
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
                crate::cli::devices::format_age(
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
