//! The seam between the engine and wherever the pairing state lives. The
//! console, headless mode and the app core see only rows, changes and the
//! results of acts; a [`Source`] turns those into file reads and writes (the
//! OpenClaw 2026.2.26 JSON state, [`files::FileSource`]) or into the pairing
//! RPCs of a gateway reached over WebSocket ([`gateway::GatewaySource`], whose
//! connection state reaches the status line as [`Changed::Remote`]).
//!
//! ```text
//!   Engine ──load_dm/load_devices──▶ Source ──▶ DmSnapshot / DeviceSnapshot
//!          ◀────── Changed ──────────  (watch: notify, gateway events, DM polling,
//!                                        Remote(status) of the connection)
//!          ──act(Act)──────────────▶        ──▶ Done | ActionError
//!          ──issue_setup_code──────▶        ──▶ SetupCode
//! ```

pub mod files;
pub mod gateway;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::app::effect::{Act, ActionError, Done};
use crate::app::rows::{DeviceSnapshot, DmSnapshot, RemoteStatus, SetupCode};

/// Work a source does in the background; the engine awaits it on a task.
pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which part of the state changed, so only it is re-read; or, for a
/// source reached over a connection, where that connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Dm,
    Devices,
    /// The connection to a remote gateway changed state (status line).
    Remote(RemoteStatus),
    /// OpenClaw's own gateway beside a SQLite state dir started or stopped
    /// listening (status line: device actions go through it).
    OpenClawGateway {
        port: u16,
        reachable: bool,
    },
}

/// What kind of place the state lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// OpenClaw 2026.2.26 JSON files in a state dir.
    Files,
    /// A gateway (OpenClaw 2026.2.26 or 2026.9, or clawpair's own) reached as
    /// an operator over `ws://` / `wss://`.
    Gateway { url: String },
    /// OpenClaw 2026.7+ `state/openclaw.sqlite` (its `user_version`; 0 when
    /// it could not be read). Its gateway owns the devices; the DM cap
    /// counts per account.
    Sqlite { user_version: i64 },
}

/// A source as the status line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Where it is, for people: `~/.openclaw`.
    pub location: String,
}

impl SourceKind {
    /// What the DM cap of three counts: each account on OpenClaw 2026.9's
    /// database, the whole channel on 2026.2.26's files.
    pub fn dm_cap(&self) -> crate::app::rows::DmCap {
        match self {
            SourceKind::Sqlite { .. } => crate::app::rows::DmCap::PerAccount,
            SourceKind::Files | SourceKind::Gateway { .. } => crate::app::rows::DmCap::PerChannel,
        }
    }
}

/// A running change notifier; dropping it stops it.
pub trait Watching: Send {
    /// False once it stopped on its own (the engine then re-reads every tick).
    fn alive(&self) -> bool;
    /// How changes are noticed ("native events", "polling"), for the logs.
    fn how(&self) -> &'static str;
}

/// Everything the engine needs from where the state lives.
pub trait Source: Send + Sync + 'static {
    fn info(&self) -> SourceInfo;
    /// Starts noticing changes; `changed` may be called from any thread.
    fn watch(
        &self,
        force_poll: bool,
        changed: Box<dyn Fn(Changed) + Send + Sync>,
    ) -> Box<dyn Watching>;
    /// The DM requests and allow-lists now.
    fn load_dm(self: Arc<Self>, now_ms: i64) -> Pending<Result<DmSnapshot, String>>;
    /// The device requests and paired devices now.
    fn load_devices(self: Arc<Self>, now_ms: i64) -> Pending<Result<DeviceSnapshot, String>>;
    /// Carries out one decision.
    fn act(self: Arc<Self>, act: Act, now_ms: i64) -> Pending<Result<Done, ActionError>>;
    /// A new setup code; `listening_port` is the port the console's gateway
    /// actually listens on, when it runs. A warning may come with it.
    fn issue_setup_code(
        self: Arc<Self>,
        listening_port: Option<u16>,
        now_ms: i64,
    ) -> Pending<Result<(SetupCode, Option<String>), String>>;
}

/// `/home/me/.openclaw` → `~/.openclaw` for the status line.
pub fn pretty_dir(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    if let Ok(home) = std::env::var("HOME") {
        if !home.is_empty() && home != "/" {
            if let Some(rest) = s.strip_prefix(&home) {
                return format!("~{rest}");
            }
        }
    }
    s
}
