//! `clawpair join`: pair this machine as a node with a setup code, then
//! stay connected.

use super::*;

/// `clawpair join …`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The setup code printed by `clawpair setup-code` or `openclaw qr`
    /// (2026.9 or 2026.2.26 format, optionally `oc-pair://…`).
    pub setup_code: String,
    /// Name shown to the approver (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Pin the gateway's TLS certificate (SHA-256: 64 hex digits or colon
    /// pairs, optionally `sha256:`); default: the code's `tlsFingerprint`,
    /// else the system's root certificates.
    #[arg(long, value_name = "SHA256")]
    pub tls_fingerprint: Option<String>,
}

/// Longest a join waits for approval before giving up.
const JOIN_GIVE_UP_MS: i64 = 20 * 60_000;

/// What `clawpair join` presents before it holds a device token.
#[derive(Debug, Clone)]
enum JoinSecret {
    /// A 2026.9 code: `auth.bootstrapToken` (protocol 4 only).
    Bootstrap(String),
    /// A 2026.2.26 code: `auth.token`.
    Legacy(String),
}

pub fn run_join(ctx: &Ctx, a: JoinArgs) -> CliResult {
    let payload = setup::decode(&a.setup_code).ok_or_else(|| {
        Failure::usage(
            "invalid setup code (expected a clawpair or OpenClaw setup code: base64url JSON with \
             url and bootstrapToken or token, optionally as oc-pair://…)",
        )
    })?;
    let secret = match (&payload.bootstrap_token, &payload.token) {
        (Some(b), _) => JoinSecret::Bootstrap(b.clone()),
        (None, Some(t)) => JoinSecret::Legacy(t.clone()),
        (None, None) => {
            return Err(Failure::error(
                "password setup codes are not supported by clawpair join",
            ))
        }
    };
    if let Some(exp) = payload.expires_at_ms {
        if exp <= clock::now_ms() {
            return Err(Failure::error(format!(
                "the setup code has expired (at {}); ask for a new one",
                clock::format_iso_ms(exp)
            )));
        }
    }
    let url = match secret {
        JoinSecret::Bootstrap(_) => setup::normalize_url_with_path(&payload.url),
        JoinSecret::Legacy(_) => setup::normalize_url(&payload.url),
    }
    .ok_or_else(|| {
        Failure::usage(format!(
            "invalid gateway URL in setup code: {}",
            payload.url
        ))
    })?;
    let pin = match a.tls_fingerprint.as_deref() {
        Some(f) => Some(crate::gateway::tls::parse_fingerprint(f).ok_or_else(|| {
            Failure::usage(
                "invalid --tls-fingerprint (expected a SHA-256 certificate fingerprint: 64 hex \
                 digits or 32 colon-separated pairs, optionally sha256:)",
            )
        })?),
        None => payload
            .tls_fingerprint
            .as_deref()
            .and_then(crate::gateway::tls::parse_fingerprint),
    };
    let name = a.name.clone().or_else(hostname);
    let id = identity::load_or_create_identity(&ctx.paths, clock::now_ms())?;
    say(&format!("device {}", id.device_id));
    let rt = crate::cli::tokio_runtime()?;
    let j = Join {
        ctx,
        url,
        pin,
        secret,
        name,
        id,
        expires_at_ms: payload.expires_at_ms,
    };
    rt.block_on(j.run())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// One `clawpair join`: offers protocol 4 first and falls back to 3 when the
/// gateway answers a mismatch expecting 3, as a 2026.9.6 node host does.
struct Join<'a> {
    ctx: &'a Ctx,
    url: String,
    pin: Option<[u8; 32]>,
    secret: JoinSecret,
    name: Option<String>,
    id: identity::DeviceIdentity,
    expires_at_ms: Option<i64>,
}

/// Why a setup code was refused, in words, from 2026.9.6's answer (and
/// clawpair's `bootstrapTokenState` detail, when the gateway is clawpair).
fn setup_refusal(error: &Value, expires_at_ms: Option<i64>, waiting: Option<&str>) -> String {
    let state = error["details"]["bootstrapTokenState"]
        .as_str()
        .and_then(setup::Refusal::parse);
    let expired_here = expires_at_ms.is_some_and(|e| e <= clock::now_ms());
    match state {
        Some(setup::Refusal::Expired) => "the setup code has expired; ask for a new one".into(),
        Some(setup::Refusal::Used) => {
            "the setup code was already used (it is spent once its device is paired, and works \
             for one device only); ask for a new one"
                .into()
        }
        Some(setup::Refusal::Revoked) => match waiting {
            Some(rid) => format!(
                "request {rid} was rejected, which revoked the setup code; ask for a new one"
            ),
            None => "the setup code was revoked (its pairing request was rejected)".into(),
        },
        Some(setup::Refusal::Unknown) => {
            "the setup code is unknown to this gateway (never issued here, or issued for another \
             gateway)"
                .into()
        }
        Some(setup::Refusal::RoleNotAllowed) => {
            "a setup code only admits a node, never an operator".into()
        }
        None if expired_here => "the setup code has expired; ask for a new one".into(),
        None => {
            let msg = error["message"].as_str().unwrap_or("refused");
            match waiting {
                Some(rid) => format!(
                    "the gateway refused the setup code after request {rid}: rejected, expired, \
                     revoked or already used (it does not say which: {msg})"
                ),
                None => format!(
                    "the gateway refused the setup code: invalid, expired, revoked or already used \
                     (it does not say which: {msg})"
                ),
            }
        }
    }
}

impl Join<'_> {
    async fn run(self) -> CliResult {
        let started = clock::now_ms();
        let mut backoff = Duration::from_millis(500);
        let mut waiting_for: Option<String> = None;
        let mut paired_once = false;
        let mut protocol: i64 = 4;
        loop {
            if !paired_once && clock::now_ms() - started > JOIN_GIVE_UP_MS {
                return Err(Failure::error("gave up waiting for approval"));
            }
            let stored = identity::load_device_token(&self.ctx.paths, &self.id.device_id, "node")?;
            let mut opts = ConnectOptions::node(self.name.clone()).offering(protocol, protocol);
            let v4 = protocol == 4;
            match (&stored, &self.secret) {
                (Some(t), _) if v4 => opts.device_token = Some(t.token.clone()),
                (Some(t), _) => {
                    // 2026.2.26 node hosts send the device token as auth.token too.
                    opts.token = Some(t.token.clone());
                    opts.device_token = Some(t.token.clone());
                }
                (None, JoinSecret::Bootstrap(b)) if v4 => opts.bootstrap_token = Some(b.clone()),
                (None, JoinSecret::Bootstrap(_)) => {
                    return Err(Failure::error(
                        "this gateway speaks protocol 3 (OpenClaw 2026.2.26), which has no \
                         bootstrap tokens: ask for a 2026.2.26 code (`clawpair setup-code \
                         --legacy`, or `openclaw qr` of OpenClaw 2026.2.26)",
                    ))
                }
                (None, JoinSecret::Legacy(t)) => opts.token = Some(t.clone()),
            }
            let (mut ws, nonce) = match client::open_with(&self.url, self.pin).await {
                Ok(x) => x,
                Err(e) => {
                    if e.contains("fingerprint mismatch") {
                        eprintln!("{e}: the gateway's certificate is not the pinned one");
                    } else {
                        eprintln!("{e}; retrying in {}s", backoff.as_secs_f32());
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            let answer =
                match client::handshake(&mut ws, &opts, Some(&self.id), &nonce, clock::now_ms())
                    .await
                {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("{e}; retrying");
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
            match answer {
                ConnectAnswer::Hello(h) => {
                    if let Some(tok) = h["auth"]["deviceToken"].as_str() {
                        let scopes: Vec<String> = h["auth"]["scopes"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let role = h["auth"]["role"].as_str().unwrap_or("node");
                        identity::store_device_token(
                            &self.ctx.paths,
                            &self.id.device_id,
                            role,
                            tok,
                            &scopes,
                            clock::now_ms(),
                        )?;
                        let fresh = !stored
                            .as_ref()
                            .is_some_and(|t| crate::secret::secrets_equal(&t.token, tok));
                        if !paired_once && fresh {
                            say(&format!(
                                "approved; device token stored in {}",
                                self.ctx
                                    .paths
                                    .identity_dir
                                    .join("device-auth.json")
                                    .display()
                            ));
                        }
                    }
                    paired_once = true;
                    eprintln!(
                        "gateway protocol {} (offered {protocol})",
                        h["protocol"].as_i64().unwrap_or(0)
                    );
                    say("connected");
                    backoff = Duration::from_millis(500);
                    let tick_ms = h["policy"]["tickIntervalMs"].as_u64().unwrap_or(30_000);
                    match stay_connected(&mut ws, tick_ms).await {
                        Some((4001, reason)) => say(&format!(
                            "the gateway closed the connection: {reason} (this device was removed, \
                             or its token revoked or rotated, by the owner); reconnecting"
                        )),
                        _ => say("disconnected; reconnecting"),
                    }
                    tokio::time::sleep(backoff).await;
                }
                ConnectAnswer::Refused { error, close } => {
                    let code = error["details"]["code"].as_str().unwrap_or("");
                    let msg = error["message"].as_str().unwrap_or("refused").to_string();
                    if msg == "protocol mismatch" {
                        let expected = error["details"]["expectedProtocol"].as_i64();
                        if protocol == 4 && expected == Some(3) {
                            eprintln!("the gateway speaks protocol 3; offering 3");
                            protocol = 3;
                            continue;
                        }
                        return Err(Failure::error(format!(
                            "protocol mismatch: the gateway expects protocol {}",
                            expected.map_or("?".to_string(), |e| e.to_string())
                        )));
                    }
                    if msg.starts_with("invalid connect params") && msg.contains("bootstrapToken") {
                        return Err(Failure::error(
                            "this gateway (OpenClaw 2026.2.26 or older clawpair) does not know \
                             2026.9 setup codes: ask for a 2026.2.26 code (`clawpair setup-code \
                             --legacy`)",
                        ));
                    }
                    if error["code"] == "NOT_PAIRED" && code == "PAIRING_REQUIRED" {
                        let rid = error["details"]["requestId"]
                            .as_str()
                            .unwrap_or("?")
                            .to_string();
                        if waiting_for.as_deref() != Some(rid.as_str()) {
                            say(&format!("waiting for approval (request {rid})"));
                            waiting_for = Some(rid);
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                    let reason = close.map(|c| c.1).unwrap_or_default();
                    if stored.is_some()
                        && (code == "AUTH_DEVICE_TOKEN_MISMATCH"
                            || reason.contains("device token mismatch"))
                    {
                        identity::clear_device_token(&self.ctx.paths, &self.id.device_id, "node")?;
                        say("stored device token refused (revoked, rotated or the device removed); asking again with the setup code");
                        continue;
                    }
                    if code == "AUTH_RATE_LIMITED" {
                        let ms = error["retryAfterMs"].as_u64().unwrap_or(5000);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        continue;
                    }
                    if code == "AUTH_BOOTSTRAP_TOKEN_INVALID" {
                        return Err(Failure::error(setup_refusal(
                            &error,
                            self.expires_at_ms,
                            waiting_for.as_deref(),
                        )));
                    }
                    if msg.starts_with("unauthorized") && stored.is_none() {
                        return Err(Failure::error(match waiting_for {
                            Some(rid) => {
                                format!(
                                    "request {rid} was rejected, or the setup code expired ({msg})"
                                )
                            }
                            None => {
                                format!(
                                    "the setup code is expired, already used or unknown ({msg})"
                                )
                            }
                        }));
                    }
                    return Err(Failure::error(format!("gateway refused: {msg}")));
                }
                ConnectAnswer::Closed(c) => {
                    eprintln!("gateway closed the connection ({c:?}); retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// Reads until the connection ends or ticks stop (2 × interval, like the
/// real client); returns the close frame's code and reason, if one came.
async fn stay_connected(ws: &mut client::ClientWs, tick_ms: u64) -> Option<(u16, String)> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let limit = Duration::from_millis(tick_ms.saturating_mul(2).max(1000));
    loop {
        match tokio::time::timeout(limit, ws.next()).await {
            Err(_) => {
                eprintln!("tick timeout");
                return None;
            }
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(c)))) => {
                return c.map(|c| (u16::from(c.code), c.reason.as_str().to_string()))
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if v["event"] == "shutdown" {
                    say("gateway is shutting down");
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}
