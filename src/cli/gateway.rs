//! `clawpair gateway`, `clawpair gateway token`, `clawpair setup-code` and
//! `clawpair join`.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{CliResult, Ctx, Failure, GatewayArgs};
use crate::clock;
use crate::gateway::token::{find_token_with_source, resolve_token_with_source, TokenSource};
use crate::gateway::{advert, setup, GatewayConfig, GatewayEvent};
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
    /// Gateway URL to put in the code (default: the listening gateway's own
    /// address: its LAN address when it binds to one, else loopback).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Lifetime of the one-time token (e.g. 10m, 90s, 1h).
    #[arg(long, default_value = setup::DEFAULT_TTL_ARG)]
    pub ttl: String,
    /// Print JSON: {setupCode, gatewayUrl, auth, urlSource, expiresAtMs, …}.
    #[arg(long)]
    pub json: bool,
    /// Issue a 2026.2.26 code ({url, token}) for older nodes instead of a
    /// 2026.9 one ({url, bootstrapToken, expiresAtMs}).
    #[arg(long)]
    pub legacy: bool,
    /// Print the code as an `oc-pair://` URL.
    #[arg(long)]
    pub oc_pair: bool,
    /// The port the gateway must be listening on (checked; default: whatever
    /// the state dir's gateway listens on).
    #[arg(long)]
    pub port: Option<u16>,
    /// Ignored: the address comes from the listening gateway.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub bind: Option<String>,
}

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
    if let Some(ms) = args.handshake_timeout_ms {
        cfg.handshake_timeout_ms = ms;
    }
    if args.tls || args.tls_cert.is_some() {
        let src = crate::gateway::tls::TlsSource {
            cert: args.tls_cert.clone(),
            key: args.tls_key.clone(),
        };
        let tls = crate::gateway::tls::load_or_generate(&ctx.paths, &src)
            .map_err(|e| Failure::error(format!("cannot set up TLS: {e}")))?;
        if tls.generated {
            eprintln!(
                "clawpair: generated a self-signed TLS certificate: {}",
                tls.cert_path.display()
            );
        }
        cfg.tls = Some(tls);
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
        let mut history = GatewayHistory::start(ctx);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = sigterm.recv() => break,
                ev = rx.recv() => match ev {
                    Some(GatewayEvent::Listening { addr, tls_fingerprint: None }) => {
                        eprintln!("clawpair gateway listening on ws://{addr} (shared token: {src})");
                    }
                    Some(GatewayEvent::Listening { addr, tls_fingerprint: Some(fp) }) => {
                        eprintln!("clawpair gateway listening on wss://{addr} (shared token: {src})");
                        let colons = crate::gateway::tls::parse_fingerprint(&fp)
                            .map(|f| crate::gateway::tls::fingerprint_colons(&f))
                            .unwrap_or_default();
                        eprintln!("TLS certificate SHA-256: {fp}");
                        eprintln!("  (openssl form {colons}; a node pins it with `openclaw node run --tls --tls-fingerprint {fp}`)");
                    }
                    Some(GatewayEvent::Stopped) | None => {
                        history.flush().await;
                        return Ok(());
                    }
                    Some(e) => {
                        history.note(&e);
                        log_event(&e);
                    }
                }
            }
        }
        handle.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), handle.wait()).await;
        history.flush().await;
        eprintln!("clawpair gateway stopped");
        Ok(())
    })
}

/// The decisions the standalone gateway makes or announces, in the audit log
/// beside the state: a setup code redeemed, and requests resolved (a local
/// client approved silently, a decision through its RPCs, or one noticed in
/// the files — recorded unless whoever made it recorded it first).
struct GatewayHistory {
    recorder: crate::runtime::recorder::Recorder,
}

impl GatewayHistory {
    fn start(ctx: &Ctx) -> GatewayHistory {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        GatewayHistory {
            recorder: crate::runtime::recorder::Recorder::start(
                crate::audit::Place::Local(ctx.paths.state_dir.clone()),
                crate::audit::Via::Gateway,
                tx,
            ),
        }
    }

    fn note(&mut self, e: &GatewayEvent) {
        use crate::app::effect::{Decided, Origin};
        use crate::audit::{Action, Subject};
        let d = match e {
            GatewayEvent::SetupCodeUsed { device_id } => Decided {
                action: Action::SetupCodeRedeemed,
                subject: Subject::SetupCode {
                    url: None,
                    expires: None,
                    device_id: Some(device_id.clone()),
                },
                origin: Origin::Gateway,
                failed: None,
            },
            GatewayEvent::DevicePairResolved {
                request_id,
                device_id,
                decision,
            } => Decided {
                action: match decision {
                    crate::gateway::Decision::Approved => Action::Approve,
                    crate::gateway::Decision::Rejected => Action::Reject,
                },
                subject: Subject::device(device_id, None, Some(request_id)),
                origin: Origin::AnnouncedByGateway,
                failed: None,
            },
            _ => return,
        };
        self.recorder.record(d);
    }

    async fn flush(&mut self) {
        self.recorder.flush(Duration::from_secs(3)).await;
    }
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
        GatewayEvent::DeviceClosed {
            device_id,
            role,
            code,
            reason,
        } => format!("closed: {device_id} ({role}) with {code} {reason}"),
        GatewayEvent::SetupCodeUsed { device_id } => format!("setup code used by {device_id}"),
        other => format!("{other:?}"),
    };
    eprintln!("{}", crate::sanitize::for_terminal(&line));
}

/// A setup code that can be redeemed: only while this state dir's gateway
/// listens, with its own address, port and certificate.
pub fn run_setup_code(ctx: &Ctx, a: SetupCodeArgs) -> CliResult {
    let ttl = super::validate::setup_ttl(&a.ttl)?;
    if let Some(u) = &a.url {
        super::validate::gateway_url(u)?;
    }
    if a.legacy && a.oc_pair {
        return Err(Failure::usage(
            "--oc-pair is a 2026.9 form; --legacy codes have none",
        ));
    }
    let Some(gw) = advert::read_live(&ctx.paths) else {
        return Err(Failure::error(format!(
            "no clawpair gateway is listening for {} (start `clawpair gateway`, or the console \
             without --no-gateway), so a setup code could not be redeemed; for another gateway \
             (a real OpenClaw), issue the code there (`openclaw qr`)",
            ctx.paths.state_dir.display()
        )));
    };
    if let Some(p) = a.port.filter(|p| *p != gw.port) {
        return Err(Failure::error(format!(
            "this state dir's gateway listens on port {}, not {p}",
            gw.port
        )));
    }
    let tls = gw.tls_fingerprint.is_some();
    let chosen = setup::choose_url(a.url.as_deref(), &gw.bind, gw.port, tls, !a.legacy)
        .map_err(Failure::usage)?;
    if let Some(w) = &chosen.warning {
        eprintln!("{w}");
    }
    let fingerprint = gw
        .tls_fingerprint
        .clone()
        .filter(|_| chosen.own_address && chosen.url.starts_with("wss://"));
    let now = clock::now_ms();
    let t = setup::create(&ctx.paths, ttl, now)?;
    let code = if a.legacy {
        setup::encode(&chosen.url, &t.token)
    } else {
        setup::encode_v4(
            &chosen.url,
            &t.token,
            t.expires_at_ms,
            fingerprint.as_deref(),
        )
    };
    let shown = if a.oc_pair {
        format!("{}{code}", setup::OC_PAIR_PREFIX)
    } else {
        code.clone()
    };
    super::record(
        ctx,
        crate::audit::Action::SetupCodeIssued,
        crate::audit::Subject::SetupCode {
            url: Some(chosen.url.clone()),
            expires: Some(clock::format_iso_ms(t.expires_at_ms)),
            device_id: None,
        },
    );
    if a.json {
        let mut v = serde_json::Map::new();
        v.insert("setupCode".into(), json!(shown));
        v.insert("gatewayUrl".into(), json!(chosen.url));
        v.insert("auth".into(), json!("token"));
        v.insert("urlSource".into(), json!(chosen.source));
        v.insert("expiresAtMs".into(), json!(t.expires_at_ms));
        v.insert(
            "format".into(),
            json!(if a.legacy { "2026.2.26" } else { "2026.9" }),
        );
        if let Some(fp) = &fingerprint {
            v.insert("tlsFingerprint".into(), json!(fp));
        }
        print!(
            "{}",
            crate::jsonfmt::to_pretty_nl(&serde_json::Value::Object(v))
        );
        return Ok(());
    }
    println!("Setup code: {shown}");
    println!("Gateway: {}", chosen.url);
    if let Some(fp) = &fingerprint {
        println!("TLS certificate SHA-256: {fp}");
    }
    println!(
        "Auth: one-time token, bound to the first device that uses it, expires {}",
        clock::format_iso_ms(t.expires_at_ms)
    );
    println!("Source: {}", chosen.source);
    println!();
    println!("On the new machine:");
    println!("  clawpair join {shown}");
    if !a.legacy {
        println!("  or: openclaw node run --pair {shown}");
    }
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
    let rt = super::tokio_runtime()?;
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
