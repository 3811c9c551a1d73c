//! `clawpair gateway`, `clawpair gateway token`, `clawpair setup-code` and
//! `clawpair join`.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{CliResult, Ctx, Failure, GatewayArgs};
use crate::clock;
use crate::gateway::token::{find_token_with_source, resolve_token_with_source, TokenSource};
use crate::gateway::{setup, GatewayConfig, GatewayEvent};
use crate::node::client::{self, ConnectAnswer, ConnectOptions};
use crate::node::identity;

/// `clawpair gateway …`.
#[derive(Debug, Args)]
pub struct GatewayCmd {
    #[command(subcommand)]
    pub action: Option<GatewayAction>,
    #[command(flatten)]
    pub args: GatewayArgs,
}

#[derive(Debug, Subcommand)]
pub enum GatewayAction {
    /// Print the shared gateway token the gateway uses (a read: see --generate).
    Token {
        /// When no token is configured or generated yet, generate one into
        /// <state>/clawpair-gateway-token (as `clawpair gateway` does on its
        /// first start); an existing token is kept and printed.
        #[arg(long)]
        generate: bool,
    },
}

/// `clawpair setup-code …`.
#[derive(Debug, Args)]
pub struct SetupCodeArgs {
    /// Gateway URL to put in the code (default: this host's LAN address when
    /// the gateway binds to one, else loopback).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Lifetime of the one-time token (e.g. 10m, 90s, 1h).
    #[arg(long, default_value = setup::DEFAULT_TTL_ARG)]
    pub ttl: String,
    /// Print JSON: {setupCode, gatewayUrl, auth, urlSource, expiresAtMs}.
    #[arg(long)]
    pub json: bool,
    /// The address the gateway listens on (to pick the URL).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// The port the gateway listens on.
    #[arg(long, default_value_t = 18789)]
    pub port: u16,
}

/// `clawpair join …`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The setup code printed by `clawpair setup-code` (or `openclaw qr`).
    pub setup_code: String,
    /// Name shown to the approver (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Builds the gateway configuration from the flags.
pub fn config_from_args(
    args: &GatewayArgs,
    ctx: &Ctx,
) -> Result<(GatewayConfig, TokenSource), Failure> {
    let (token, source) =
        resolve_token_with_source(args.gateway_token.as_deref(), &ctx.paths, &|k| {
            std::env::var(k).ok()
        })?;
    let mut cfg = GatewayConfig::new(args.bind.clone(), args.port, token);
    cfg.auto_approve_local = !args.no_auto_approve_local;
    if let Some(n) = args.max_pending_per_addr {
        cfg.max_pending_per_addr = n;
    }
    if let Some(n) = args.max_conns_per_addr {
        cfg.max_conns_per_addr = n;
    }
    if let Some(n) = args.max_failed_handshakes_per_minute {
        cfg.max_failed_handshakes_per_minute = n;
    }
    Ok((cfg, source))
}

pub fn run_gateway(ctx: &Ctx, cmd: GatewayCmd) -> CliResult {
    if let Some(GatewayAction::Token { generate }) = cmd.action {
        return print_token(&cmd.args, ctx, generate);
    }
    let (cfg, source) = config_from_args(&cmd.args, ctx)?;
    let src = match &source {
        TokenSource::Flag => "--gateway-token".to_string(),
        TokenSource::Env => "$OPENCLAW_GATEWAY_TOKEN".to_string(),
        TokenSource::Config(p) => format!("gateway.auth.token in {}", p.display()),
        TokenSource::Generated(p) => {
            format!("{} (`clawpair gateway token` prints it)", p.display())
        }
    };
    let rt = super::tokio_runtime()?;
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = crate::gateway::start(cfg, ctx.paths.clone(), tx).await;
        if handle.local_addr().is_none() {
            if let Some(GatewayEvent::BindFailed { addr, error }) = rx.recv().await {
                return Err(Failure::error(format!("cannot listen on {addr}: {error}")));
            }
            return Err(Failure::error("cannot listen"));
        }
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::error(e.to_string()))?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = sigterm.recv() => break,
                ev = rx.recv() => match ev {
                    Some(GatewayEvent::Listening { addr }) => {
                        eprintln!("clawpair gateway listening on ws://{addr} (shared token: {src})");
                    }
                    Some(GatewayEvent::Stopped) | None => return Ok(()),
                    Some(e) => log_event(&e),
                }
            }
        }
        handle.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), handle.wait()).await;
        eprintln!("clawpair gateway stopped");
        Ok(())
    })
}

/// `clawpair gateway token [--generate]`: the token a gateway started with
/// the same flags would use. Without `--generate` it only reads: when there is
/// none yet it says how one is made instead of creating a file.
fn print_token(args: &GatewayArgs, ctx: &Ctx, generate: bool) -> CliResult {
    let env = |k: &str| std::env::var(k).ok();
    let flag = args.gateway_token.as_deref();
    let token = if generate {
        resolve_token_with_source(flag, &ctx.paths, &env)?.0
    } else {
        match find_token_with_source(flag, &ctx.paths, &env)? {
            Some((t, _)) => t,
            None => {
                return Err(Failure::error(format!(
                    "no gateway token yet: none in --gateway-token, ${} or gateway.auth.token in \
                     {}, and {} does not exist; `clawpair gateway token --generate` creates one \
                     (so does the first start of `clawpair gateway` or the console)",
                    crate::gateway::token::TOKEN_ENV,
                    ctx.paths.config_file.display(),
                    ctx.paths
                        .state_dir
                        .join(crate::gateway::token::GENERATED_TOKEN_FILE)
                        .display()
                )))
            }
        }
    };
    println!("{token}");
    Ok(())
}

fn log_event(e: &GatewayEvent) {
    let line = match e {
        GatewayEvent::DevicePairRequested {
            request_id,
            device_id,
        } => format!("pairing requested: request {request_id} device {device_id}"),
        GatewayEvent::DevicePairResolved {
            request_id,
            device_id,
            decision,
        } => format!("pairing {decision}: request {request_id} device {device_id}"),
        GatewayEvent::DeviceConnected {
            device_id,
            role,
            remote_addr,
        } => format!("connected: {device_id} ({role}) from {remote_addr}"),
        GatewayEvent::DeviceDisconnected { device_id } => format!("disconnected: {device_id}"),
        GatewayEvent::SetupCodeUsed { device_id } => format!("setup code used by {device_id}"),
        other => format!("{other:?}"),
    };
    eprintln!("{}", crate::sanitize::for_terminal(&line));
}

pub fn run_setup_code(ctx: &Ctx, a: SetupCodeArgs) -> CliResult {
    let ttl = setup::parse_duration_ms(&a.ttl).ok_or_else(|| {
        Failure::usage(format!("invalid --ttl: {} (use e.g. 10m, 90s, 1h)", a.ttl))
    })?;
    let chosen = setup::choose_url(a.url.as_deref(), &a.bind, a.port).map_err(Failure::usage)?;
    if let Some(w) = &chosen.warning {
        eprintln!("{w}");
    }
    let now = clock::now_ms();
    let t = setup::create(&ctx.paths, ttl, now)?;
    let code = setup::encode(&chosen.url, &t.token);
    if a.json {
        let v = json!({
            "setupCode": code,
            "gatewayUrl": chosen.url,
            "auth": "token",
            "urlSource": chosen.source,
            "expiresAtMs": t.expires_at_ms,
        });
        print!("{}", crate::jsonfmt::to_pretty_nl(&v));
        return Ok(());
    }
    println!("Setup code: {code}");
    println!("Gateway: {}", chosen.url);
    println!(
        "Auth: one-time token, bound to the first device that uses it, expires {}",
        clock::format_iso_ms(t.expires_at_ms)
    );
    println!("Source: {}", chosen.source);
    println!();
    println!("On the new machine:");
    println!("  clawpair join {code}");
    println!("Approve after it connects with:");
    println!("  clawpair devices list");
    println!("  clawpair devices approve <requestId>");
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Longest a join waits for approval before giving up.
const JOIN_GIVE_UP_MS: i64 = 20 * 60_000;

pub fn run_join(ctx: &Ctx, a: JoinArgs) -> CliResult {
    let payload = setup::decode(&a.setup_code).ok_or_else(|| {
        Failure::usage("invalid setup code (expected base64url JSON with url and token)")
    })?;
    let setup_token = payload
        .token
        .clone()
        .ok_or_else(|| Failure::error("password setup codes are not supported by clawpair join"))?;
    let url = setup::normalize_url(&payload.url).ok_or_else(|| {
        Failure::usage(format!(
            "invalid gateway URL in setup code: {}",
            payload.url
        ))
    })?;
    let name = a.name.clone().or_else(hostname);
    let id = identity::load_or_create_identity(&ctx.paths, clock::now_ms())?;
    say(&format!("device {}", id.device_id));
    let rt = super::tokio_runtime()?;
    rt.block_on(join_loop(ctx, &url, &setup_token, name, id))
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

async fn join_loop(
    ctx: &Ctx,
    url: &str,
    setup_token: &str,
    name: Option<String>,
    id: identity::DeviceIdentity,
) -> CliResult {
    let started = clock::now_ms();
    let mut backoff = Duration::from_millis(500);
    let mut waiting_for: Option<String> = None;
    let mut paired_once = false;
    loop {
        if !paired_once && clock::now_ms() - started > JOIN_GIVE_UP_MS {
            return Err(Failure::error("gave up waiting for approval"));
        }
        let stored = identity::load_device_token(&ctx.paths, &id.device_id, "node")?;
        let mut opts = ConnectOptions::node(name.clone());
        match &stored {
            Some(t) => {
                opts.token = Some(t.token.clone());
                opts.device_token = Some(t.token.clone());
            }
            None => opts.token = Some(setup_token.to_string()),
        }
        let (mut ws, nonce) = match client::open(url).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{e}; retrying in {}s", backoff.as_secs_f32());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let answer =
            match client::handshake(&mut ws, &opts, Some(&id), &nonce, clock::now_ms()).await {
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
                        &ctx.paths,
                        &id.device_id,
                        role,
                        tok,
                        &scopes,
                        clock::now_ms(),
                    )?;
                    if !paired_once {
                        say(&format!(
                            "approved; device token stored in {}",
                            ctx.paths.identity_dir.join("device-auth.json").display()
                        ));
                    }
                }
                paired_once = true;
                say("connected");
                backoff = Duration::from_millis(500);
                let tick_ms = h["policy"]["tickIntervalMs"].as_u64().unwrap_or(30_000);
                stay_connected(&mut ws, tick_ms).await;
                say("disconnected; reconnecting");
                tokio::time::sleep(backoff).await;
            }
            ConnectAnswer::Refused { error, close } => {
                let code = error["details"]["code"].as_str().unwrap_or("");
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
                    identity::clear_device_token(&ctx.paths, &id.device_id, "node")?;
                    say("stored device token refused; asking again with the setup code");
                    continue;
                }
                if code == "AUTH_RATE_LIMITED" {
                    let ms = error["retryAfterMs"].as_u64().unwrap_or(5000);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    continue;
                }
                let msg = error["message"].as_str().unwrap_or("refused").to_string();
                if msg.starts_with("unauthorized") && stored.is_none() {
                    return Err(Failure::error(match waiting_for {
                        Some(rid) => {
                            format!("request {rid} was rejected, or the setup code expired ({msg})")
                        }
                        None => {
                            format!("the setup code is expired, already used or unknown ({msg})")
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

/// Reads until the connection ends or ticks stop (2 × interval, like the real client).
async fn stay_connected(ws: &mut client::ClientWs, tick_ms: u64) {
    use futures_util::StreamExt;
    let limit = Duration::from_millis(tick_ms.saturating_mul(2).max(1000));
    loop {
        match tokio::time::timeout(limit, ws.next()).await {
            Err(_) => {
                eprintln!("tick timeout");
                return;
            }
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(m))) => {
                if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["event"] == "shutdown" {
                        say("gateway is shutting down");
                    }
                }
            }
        }
    }
}
