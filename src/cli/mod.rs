//! Command-line interface: global flags, subcommands, and dispatch. Every
//! subcommand runs before any terminal is touched; `clawpair` with no
//! subcommand opens the console (or runs headless with `--headless`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::paths::Paths;

pub mod console;
pub mod devices;
pub mod devices_sqlite;
pub mod dm;
pub mod dm_sqlite;
pub mod doctor;
pub mod doctor_sqlite;
pub mod gateway;
pub mod remote;
pub mod table;

/// Terminal approval console for OpenClaw DM pairing and node device pairing.
#[derive(Debug, Parser)]
#[command(name = "clawpair", version, about, long_about = None)]
pub struct Cli {
    /// State directory; must exist (default: $OPENCLAW_STATE_DIR, else ~/.openclaw).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags of the console (`clawpair` with no subcommand).
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Run the engine without a terminal: JSON events on stdout, logs on stderr.
    #[arg(long)]
    pub headless: bool,
    /// Do not start the background gateway; only watch the files.
    #[arg(long)]
    pub no_gateway: bool,
    /// No bell or desktop notification on new requests.
    #[arg(long)]
    pub no_notify: bool,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// `--url …`: attach to a gateway over WebSocket instead of the state files.
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
}

/// Flags shared by `clawpair gateway` and the console's gateway task.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 18789)]
    pub port: u16,
    /// Shared gateway token (else $OPENCLAW_GATEWAY_TOKEN, else gateway.auth.token
    /// in openclaw.json, else one generated and kept in the state dir).
    #[arg(long, value_name = "TOKEN")]
    pub gateway_token: Option<String>,
    /// Require manual approval for loopback clients too.
    #[arg(long)]
    pub no_auto_approve_local: bool,
    /// Outstanding pending requests one address may create (default 16).
    /// Raise only for load tests and benchmarks from a single address.
    #[arg(long, value_name = "N")]
    pub max_pending_per_addr: Option<usize>,
    /// Concurrent sockets per address (default 1024).
    #[arg(long, value_name = "N")]
    pub max_conns_per_addr: Option<usize>,
    /// Failed handshakes per address per minute before it is refused
    /// (`AUTH_RATE_LIMITED`; default 30).
    #[arg(long, value_name = "N")]
    pub max_failed_handshakes_per_minute: Option<u32>,
    /// Serve wss:// (TLS): with a self-signed certificate generated on first
    /// use in <state>/gateway/tls/ (OpenClaw's place), or --tls-cert/--tls-key.
    #[arg(long)]
    pub tls: bool,
    /// The certificate (PEM chain) to serve; implies --tls.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); implies --tls.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resolved state, credentials and devices paths.
    Paths,
    /// DM pairing: codes of unknown senders and the channel allow-lists.
    Pairing(dm::PairingArgs),
    /// Device pairing: pending device requests, paired devices and their tokens.
    Devices(devices::DevicesArgs),
    /// Node capability surfaces (OpenClaw 2026.9's second approval), through --url.
    Nodes(remote::NodesArgs),
    /// Check state files and permissions; --repair moves unreadable files aside.
    Doctor {
        /// Move files that cannot be parsed aside to `<name>.corrupt-<UTC time>`.
        #[arg(long)]
        repair: bool,
    },
    /// Run the pairing gateway (WebSocket, OpenClaw protocol) until SIGINT/SIGTERM.
    Gateway(gateway::GatewayCmd),
    /// Print a setup code with a short-lived, single-device token.
    SetupCode(gateway::SetupCodeArgs),
    /// Join a gateway as a headless node using a setup code.
    Join(gateway::JoinArgs),
}

/// Everything a subcommand needs from the global flags.
pub struct Ctx {
    pub paths: Paths,
}

/// A failure to report: one line on stderr and an exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// Exit 1: the operation failed, nothing changed.
    pub fn error(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
    /// Exit 2: the command line itself is wrong.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<crate::error::StoreError> for Failure {
    fn from(e: crate::error::StoreError) -> Self {
        Failure::error(e.to_string())
    }
}

pub type CliResult = Result<(), Failure>;

/// The one async runtime every command that needs one runs on: two workers.
pub fn tokio_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the async runtime: {e}")))
}

/// Parses the process arguments and runs the chosen mode.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let ctx = Ctx {
        paths: Paths::resolve(cli.state_dir.as_deref()),
    };
    // An explicit state dir that does not exist is a mistake to report, for
    // reads and writes alike: nothing creates it. `paths` still shows where
    // everything would be.
    let unusable = ctx.paths.unusable_state_dir();
    let result = match (cli.command, unusable) {
        (Some(Command::Paths), unusable) => {
            print_paths(&ctx).and(unusable.map_or(Ok(()), |m| Err(Failure::error(m))))
        }
        (_, Some(m)) => Err(Failure::error(m)),
        (command, None) => run(&ctx, command, &cli.console),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("clawpair: {}", f.message.replace('\n', " "));
            ExitCode::from(f.code)
        }
    }
}

fn run(ctx: &Ctx, command: Option<Command>, console: &ConsoleArgs) -> CliResult {
    if matches!(
        command,
        Some(Command::Gateway(_) | Command::SetupCode(_) | Command::Join(_))
    ) {
        if let crate::statedb::Generation::Sqlite { db } =
            crate::statedb::Generation::detect(&ctx.paths.state_dir)
        {
            return Err(Failure::error(format!(
                "{} exists: this is an OpenClaw 2026.7+ state dir, whose gateway, setup codes \
                 and device identities are OpenClaw's; clawpair's gateway, setup-code and join \
                 write 2026.2.26 files and do not run here (use `openclaw gateway`, \
                 `openclaw qr`, `openclaw node run`)",
                db.display()
            )));
        }
    }
    match command {
        Some(Command::Paths) => print_paths(ctx),
        Some(Command::Pairing(a)) => match remote::resolve(&a.remote.into())? {
            Some(r) => remote::pairing(r, a.cmd),
            None => dm::run(ctx, a.cmd),
        },
        Some(Command::Devices(a)) => match remote::resolve(&a.remote.into())? {
            Some(r) => remote::devices(r, a.cmd),
            None => devices::run(ctx, a.cmd),
        },
        Some(Command::Nodes(a)) => remote::nodes(a),
        Some(Command::Doctor { repair }) => doctor::run(ctx, repair),
        Some(Command::Gateway(cmd)) => gateway::run_gateway(ctx, cmd),
        Some(Command::SetupCode(a)) => gateway::run_setup_code(ctx, a),
        Some(Command::Join(a)) => gateway::run_join(ctx, a),
        None => console::run(ctx, console),
    }
}

/// Logs go to stderr, warnings and up unless `CLAWPAIR_LOG` says otherwise.
/// Whatever it says, the WebSocket libraries log warnings and errors only:
/// their trace output dumps every frame, and frames carry the
/// shared token, setup tokens and device tokens.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLAWPAIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .finish()
        .with(tracing_subscriber::filter::filter_fn(|m| {
            !carries_frames(m.target()) || *m.level() <= tracing::Level::WARN
        }))
        .try_init();
}

/// Targets whose verbose logs print WebSocket frames (and so secrets).
pub fn carries_frames(target: &str) -> bool {
    ["tungstenite", "tokio_tungstenite"]
        .iter()
        .any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

fn print_paths(ctx: &Ctx) -> CliResult {
    let p = &ctx.paths;
    // A path that is not there yet says so (nothing is created to find out).
    let missing = |path: &std::path::Path| {
        if std::fs::symlink_metadata(path).is_err() {
            "  (does not exist)"
        } else {
            ""
        }
    };
    println!(
        "state dir:       {}  ({}){}",
        p.state_dir.display(),
        p.state_source,
        missing(&p.state_dir)
    );
    println!(
        "credentials dir: {}  ({}){}",
        p.credentials_dir.display(),
        p.credentials_source,
        missing(&p.credentials_dir)
    );
    println!(
        "devices dir:     {}{}",
        p.devices_dir.display(),
        missing(&p.devices_dir)
    );
    println!(
        "identity dir:    {}{}",
        p.identity_dir.display(),
        missing(&p.identity_dir)
    );
    println!(
        "config file:     {}{}",
        p.config_file.display(),
        missing(&p.config_file)
    );
    let generation = crate::statedb::Generation::detect(&p.state_dir);
    println!(
        "state database:  {}{}",
        crate::statedb::db_path(&p.state_dir).display(),
        missing(&crate::statedb::db_path(&p.state_dir))
    );
    println!("generation:      {}", generation.explain());
    if generation.is_sqlite() {
        for w in crate::statedb::legacy_leftovers(p) {
            println!("warning:         {w}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn frame_dumping_targets() {
        assert!(super::carries_frames("tungstenite::protocol"));
        assert!(super::carries_frames("tokio_tungstenite"));
        assert!(!super::carries_frames("clawpair::gateway::server"));
        assert!(!super::carries_frames("tungstenite_like"));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
