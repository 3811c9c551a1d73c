//! The CLI verbs through a gateway: `--url ws[s]://HOST:PORT` with `--token`,
//! `--token-file`, `--password` or `$OPENCLAW_GATEWAY_TOKEN`, and
//! `--tls-fingerprint`. Each verb opens one operator connection asking for
//! the least scope its action needs, and prints what the local verb prints
//! (`devices …`, `pairing …`) or what `openclaw nodes …` prints (`nodes …`),
//! built from the RPC answers. Secrets never appear in an error or a log line.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::{CliResult, Failure};
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

pub(super) fn nonempty(s: &str, what: &str) -> Result<String, Failure> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Failure::usage(format!("{what} is empty")));
    }
    Ok(t.to_string())
}

pub(super) fn block_on<T>(
    f: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let rt = super::tokio_runtime()?;
    let r = rt.block_on(f);
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    r
}

pub(super) fn fail(e: RpcError) -> Failure {
    Failure::error(e.to_string())
}

pub(super) async fn connect(r: &Remote, scopes: &[&str]) -> Result<Session, Failure> {
    r.connect_once(&api::scopes(scopes))
        .await
        .map_err(Failure::error)
}

/// `method` on a `[operator.pairing]` connection; once more with
/// `[operator.admin]` when the gateway says the action needs it.
pub(super) async fn call_with_admin_retry(
    r: &Remote,
    method: &str,
    params: Value,
) -> Result<Value, Failure> {
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

pub(super) async fn call_once(
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

pub(super) fn emit(text: &str) -> CliResult {
    super::devices::emit(text)
}

pub(super) fn field(v: &Value, k: &str) -> String {
    for_terminal(v.get(k).and_then(Value::as_str).unwrap_or(""))
}

mod devices;
mod nodes;
mod pairing;

pub use devices::devices;
pub use nodes::{nodes, render_nodes_pending, NodesArgs, NodesCommand};
pub use pairing::pairing;
