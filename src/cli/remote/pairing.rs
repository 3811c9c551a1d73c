//! `clawpair pairing … --url`: DM requests through `channels.pairing.*`.

use serde_json::{json, Value};

use super::*;
use crate::audit::{Action, Place, Subject};
use crate::cli::table::{self, Column};
use crate::cli::{CliResult, Failure};
use crate::jsonfmt;
use crate::operator::api::{CALL_TIMEOUT, PAIRING};
use crate::operator::{Remote, Session};
use crate::sanitize::for_terminal;

/// `clawpair pairing list|approve|reject --url` through `channels.pairing.*`.
pub fn pairing(r: Remote, place: Place, cmd: crate::cli::dm::PairingCommand) -> CliResult {
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

async fn pairing_on(s: &Session, place: &Place, cmd: crate::cli::dm::PairingCommand) -> CliResult {
    use crate::cli::dm::PairingCommand as P;
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
    crate::cli::record_at(
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
