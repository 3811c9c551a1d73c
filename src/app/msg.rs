//! Every input to `update`.

use crossterm::event::KeyEvent;

use super::effect::{ActionError, ActionKind, Done};
use super::rows::{DeviceSnapshot, DmSnapshot, RemoteStatus, SetupCode};
use super::state::RowKey;
use crate::gateway::GatewayEvent;

#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press (release/repeat already dropped by the runtime).
    Key(KeyEvent),
    /// The clock moved; the only way `now` changes.
    Tick(i64),
    /// `credentials/` re-read.
    DmLoaded(Result<DmSnapshot, String>),
    /// `devices/` re-read.
    DevicesLoaded(Result<DeviceSnapshot, String>),
    Gateway(GatewayEvent),
    /// The remote gateway connection changed state.
    Remote(RemoteStatus),
    /// OpenClaw's own gateway beside a SQLite state dir: its port, and
    /// whether it listens (device actions go through it).
    OpenClawGateway {
        port: u16,
        reachable: bool,
    },
    /// The gateway task was not started (`--no-gateway`) or has its address.
    GatewayStarting(String),
    /// An act finished at the source.
    ActionDone {
        key: RowKey,
        kind: ActionKind,
        result: Result<Done, ActionError>,
    },
    /// A copy finished; `Ok` names the path used (e.g. "clipboard", "OSC 52").
    Copied {
        what: &'static str,
        result: Result<String, String>,
    },
    SetupCodeIssued(Result<SetupCode, String>),
    /// Something worth a toast (not an error).
    Info(String),
    /// A background task died; shown, and the console keeps going where it can.
    TaskFailed(String),
    /// The owner asked headless mode for a setup code (stdin).
    RequestSetupCode,
    /// SIGINT/SIGTERM or end of input.
    Shutdown,
    /// A decision was appended to the audit log (or could not be).
    Recorded(Result<crate::audit::Record, String>),
    /// The audit log was read (latest decisions, oldest first).
    HistoryLoaded(crate::audit::History),
    /// Headless mode got a stdin line it does not know (what to say about it).
    UnknownInput(String),
}
