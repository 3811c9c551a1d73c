//! OpenClaw's own gateway beside an OpenClaw 2026.7+ state dir: where it
//! listens and how clawpair attaches to it, in one place for the CLI and the
//! console. On such a state dir every device decision is the gateway's
//! (approving mints the token and scope baseline), so clawpair makes it
//! through the gateway's RPCs, as the device-less operator client holding the
//! shared secret, over loopback:
//!
//! * port: `openclaw.json` `gateway.port`, else 18789;
//! * TLS: `gateway.tls.enabled` → `wss://`, pinned to the gateway's own
//!   certificate (`gateway.tls.certPath`, else `<state>/gateway/tls/gateway-cert.pem`);
//! * secret: `gateway.auth.mode` `token` | `password` with `gateway.auth.token`
//!   / `gateway.auth.password` (a `${VAR}` value is read from the environment),
//!   else `$OPENCLAW_GATEWAY_TOKEN` / `$OPENCLAW_GATEWAY_PASSWORD`.
//!
//! Secrets are never logged or printed ([`LocalGateway`]'s `Debug` redacts them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::openclaw_config::OpenClawConfig;
use crate::operator::api::CALL_TIMEOUT;
use crate::operator::tls::{self, Fingerprint};
use crate::operator::{ConfigDir, GatewayUrl, Remote, RpcError, Session, Shared};
use crate::paths::Paths;

/// OpenClaw's default gateway port.
pub const DEFAULT_PORT: u16 = 18789;

/// OpenClaw's gateway as `openclaw.json` configures it, and whether it listens now.
#[derive(Clone)]
pub struct LocalGateway {
    pub port: u16,
    pub tls: bool,
    pub listening: bool,
    shared: Option<Shared>,
    /// With TLS: the SHA-256 of the gateway's certificate, or why it is unknown.
    pin: Result<Option<Fingerprint>, String>,
}

impl std::fmt::Debug for LocalGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGateway")
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("listening", &self.listening)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// `gateway.port` of `openclaw.json`, else 18789.
pub fn configured_port(cfg: &OpenClawConfig) -> u16 {
    cfg.get("gateway.port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_PORT)
}

/// Whether something accepts TCP connections on `127.0.0.1:port` now.
pub fn listening(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// A config string, or the environment variable a `${VAR}` value names.
fn secret_value(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    let s = match s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(var) => std::env::var(var).ok()?,
        None => s.to_string(),
    };
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn env_secret(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The shared secret a device-less operator presents.
fn shared_secret(cfg: &OpenClawConfig) -> Option<Shared> {
    let mode = cfg.get_str("gateway.auth.mode").unwrap_or_default();
    let token = || {
        secret_value(cfg.get("gateway.auth.token"))
            .or_else(|| env_secret("OPENCLAW_GATEWAY_TOKEN"))
            .map(Shared::Token)
    };
    let password = || {
        secret_value(cfg.get("gateway.auth.password"))
            .or_else(|| env_secret("OPENCLAW_GATEWAY_PASSWORD"))
            .map(Shared::Password)
    };
    match mode.as_str() {
        "password" => password(),
        "token" => token(),
        _ => token().or_else(password),
    }
}

fn cert_path(cfg: &OpenClawConfig, state_dir: &Path) -> PathBuf {
    match cfg
        .get_str("gateway.tls.certPath")
        .filter(|p| !p.is_empty())
    {
        Some(p) => {
            if let Some(rest) = p.strip_prefix("~/") {
                if let Some(home) = std::env::var_os("HOME") {
                    return PathBuf::from(home).join(rest);
                }
            }
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                state_dir.join(p)
            }
        }
        None => state_dir
            .join("gateway")
            .join("tls")
            .join("gateway-cert.pem"),
    }
}

/// The SHA-256 pin of the first certificate in a PEM file.
pub fn cert_pin(path: &Path) -> Result<Fingerprint, String> {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_file(path).map_err(|e| {
        format!(
            "OpenClaw's gateway uses TLS, but its certificate {} cannot be read: {e}",
            path.display()
        )
    })?;
    Ok(tls::fingerprint_of(&der))
}

impl LocalGateway {
    /// Reads `openclaw.json` (and the certificate with TLS) and probes the port.
    pub fn find(paths: &Paths) -> LocalGateway {
        let cfg = OpenClawConfig::load(&paths.config_file);
        let port = configured_port(&cfg);
        let tls = cfg
            .get("gateway.tls.enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let pin = if tls {
            cert_pin(&cert_path(&cfg, &paths.state_dir)).map(Some)
        } else {
            Ok(None)
        };
        LocalGateway {
            port,
            tls,
            listening: listening(port),
            shared: shared_secret(&cfg),
            pin,
        }
    }

    /// `ws://127.0.0.1:PORT` (`wss://` with TLS).
    pub fn url(&self) -> GatewayUrl {
        let scheme = if self.tls { "wss" } else { "ws" };
        GatewayUrl::parse(&format!("{scheme}://127.0.0.1:{}", self.port))
            .expect("a loopback URL parses")
    }

    /// Why clawpair cannot act through the gateway now; `None` when it can try.
    pub fn unavailable(&self) -> Option<String> {
        if !self.listening {
            return Some(format!(
                "on an OpenClaw 2026.9 state dir only OpenClaw's gateway changes devices \
                 (approving one mints its token and scope baseline), and none is running \
                 (port {}): start `openclaw gateway`, then try again (clawpair acts through it)",
                self.port
            ));
        }
        if let Err(e) = &self.pin {
            return Some(e.clone());
        }
        if self.shared.is_none() {
            return Some(format!(
                "OpenClaw's gateway listens on port {}, but openclaw.json has no gateway.auth \
                 token or password and neither $OPENCLAW_GATEWAY_TOKEN nor \
                 $OPENCLAW_GATEWAY_PASSWORD is set: clawpair attaches with the gateway's shared \
                 secret",
                self.port
            ));
        }
        None
    }

    /// The operator client's view of it: device-less, with the shared secret,
    /// pinned to the gateway's own certificate with TLS.
    pub fn remote(&self) -> Result<Remote, String> {
        if let Some(why) = self.unavailable() {
            return Err(why);
        }
        Ok(Remote {
            url: self.url(),
            shared: self.shared.clone(),
            explicit_pin: self.pin.clone().ok().flatten(),
            as_device: false,
            config: ConfigDir::resolve(),
        })
    }

    /// One operator connection asking for `scopes`.
    pub async fn attach(&self, scopes: &[String]) -> Result<Session, String> {
        self.remote()?.connect_once(scopes).await
    }

    /// For the status line: where device actions go and whether it is up.
    pub fn status_text(port: u16, reachable: Option<bool>) -> String {
        match reachable {
            Some(true) => format!("actions via OpenClaw's gateway :{port} (up)"),
            Some(false) => format!("actions via OpenClaw's gateway :{port} (down)"),
            None => format!("actions via OpenClaw's gateway :{port}"),
        }
    }
}

/// A DM decision through `channels.pairing.approve` / `dismiss`: the request
/// of `sender` on `channel`/`account` as the gateway lists it. `Ok(None)` when
/// the gateway does not offer those methods or does not list that request
/// (an account it does not cover): the caller then uses the DM transaction.
pub async fn dm_decide(
    s: &Session,
    approve: bool,
    channel: &str,
    account: &str,
    sender: &str,
) -> Result<Option<Value>, RpcError> {
    let method = if approve {
        "channels.pairing.approve"
    } else {
        "channels.pairing.dismiss"
    };
    if !s.hello.has_method("channels.pairing.list") || !s.hello.has_method(method) {
        return Ok(None);
    }
    let list = s
        .call(
            "channels.pairing.list",
            json!({"channel": channel}),
            CALL_TIMEOUT,
        )
        .await?;
    let g = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let Some(req) = list
        .get("requests")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter().find(|r| {
                g(r, "channel").eq_ignore_ascii_case(channel)
                    && g(r, "accountId").eq_ignore_ascii_case(account)
                    && g(r, "senderId") == sender
            })
        })
    else {
        return Ok(None);
    };
    let params = json!({
        "channel": g(req, "channel"),
        "accountId": g(req, "accountId"),
        "requestId": g(req, "requestId"),
    });
    let out = s.call(method, params, CALL_TIMEOUT).await?;
    tracing::info!(
        "{method} through OpenClaw's gateway ({} {}, request {})",
        crate::sanitize::for_terminal(&g(req, "channel")),
        crate::sanitize::for_terminal(&g(req, "accountId")),
        crate::sanitize::for_terminal(&g(req, "requestId"))
    );
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> OpenClawConfig {
        OpenClawConfig::from_value(v)
    }

    #[test]
    fn port_and_secret_come_from_the_config() {
        let c =
            cfg(json!({"gateway": {"port": 4242, "auth": {"mode": "token", "token": " t0k "}}}));
        assert_eq!(configured_port(&c), 4242);
        assert!(
            matches!(shared_secret(&c), Some(Shared::Token(t)) if crate::secret::secrets_equal(&t, "t0k"))
        );
        assert_eq!(configured_port(&cfg(json!({}))), DEFAULT_PORT);
        let c =
            cfg(json!({"gateway": {"auth": {"mode": "password", "password": "pw", "token": "x"}}}));
        assert!(matches!(shared_secret(&c), Some(Shared::Password(p)) if p == "pw"));
        let d = format!(
            "{:?}",
            LocalGateway {
                port: 1,
                tls: false,
                listening: false,
                shared: shared_secret(&c),
                pin: Ok(None),
            }
        );
        assert!(!d.contains("pw"), "{d}");
    }
}
