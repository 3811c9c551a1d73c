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
use crate::identity;
use crate::node::client::{self, ConnectAnswer, ConnectOptions};

mod join;
mod setup_code;
mod token;

pub use join::*;
pub use setup_code::*;
use token::*;

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
