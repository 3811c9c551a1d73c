//! Command-line interface: global flags, subcommands, and dispatch. Every
//! subcommand runs before any terminal is touched; `clawpair` with no
//! subcommand opens the console (or runs headless with `--headless`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::paths::Paths;

pub mod completions;
pub mod console;
pub mod devices;
pub mod devices_sqlite;
pub mod dm;
pub mod dm_sqlite;
pub mod doctor;
pub mod doctor_sqlite;
pub mod gateway;
pub mod history;
pub mod remote;
pub mod table;
pub mod validate;

/// Terminal approval console for OpenClaw DM pairing and node device pairing.
#[derive(Debug, Parser)]
#[command(
    name = "clawpair",
    version,
    about = "Terminal approval console for OpenClaw DM pairing and node device pairing",
    long_about = "Terminal approval console for OpenClaw DM pairing and node device pairing.\n\n\
                  Without a subcommand, clawpair opens the console on the state dir (with its \
                  gateway in the background); with --headless it runs the same engine without \
                  a terminal, printing one JSON event per line.",
    after_help = "With no subcommand, clawpair opens the console (--headless: JSON events on stdout)."
)]
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
    /// Approve DM pairing codes with `a` at once, without the confirmation
    /// card (device requests always show it).
    #[arg(long)]
    pub quick_approve: bool,
    /// Run this shell command for every new request, with the event's JSON
    /// line (no code, no token) on stdin and $CLAWPAIR_EVENT set (e.g. to
    /// forward it to a phone); at most 4 at once, each killed after --exec-timeout.
    #[arg(long, value_name = "CMD")]
    pub exec_on_request: Option<String>,
    /// Seconds an --exec-on-request command may run.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "exec_on_request",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub exec_timeout: u64,
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
    /// For load tests and benchmarks from a single address only (hidden from
    /// the help; see the README).
    #[arg(long, value_name = "N", hide = true)]
    pub max_pending_per_addr: Option<usize>,
    /// Concurrent sockets per address (default 1024; tests only).
    #[arg(long, value_name = "N", hide = true)]
    pub max_conns_per_addr: Option<usize>,
    /// Failed handshakes per address per minute before it is refused
    /// (`AUTH_RATE_LIMITED`; default 30; tests only).
    #[arg(long, value_name = "N", hide = true)]
    pub max_failed_handshakes_per_minute: Option<u32>,
    /// Milliseconds a socket has from its TCP accept to `hello-ok` (default
    /// 10000; tests only: a load test on a busy 2-core machine needs more).
    #[arg(long, value_name = "MS", hide = true)]
    pub handshake_timeout_ms: Option<u64>,
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
    /// The decision history: every approval, rejection, removal, revocation,
    /// rotation and setup code, who made it and where.
    History(history::HistoryArgs),
    /// Print a shell completion script (bash, zsh or fish) to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print the man page (roff) to stdout: `clawpair man > clawpair.1`.
    Man,
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
    /// Printed as it is after the one line (a list to choose from).
    pub more: Option<String>,
}

impl Failure {
    /// Exit 1: the operation failed, nothing changed.
    pub fn error(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
            more: None,
        }
    }
    /// Exit 2: the command line itself is wrong.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
            more: None,
        }
    }
    /// Lines printed after the message (already sanitised, ending in a newline).
    pub fn with_more(mut self, more: impl Into<String>) -> Self {
        self.more = Some(more.into());
        self
    }
}

/// Appends a decision this command made to the audit log beside the state
/// dir. The decision stands whatever happens here; a failure to record it is
/// said on stderr.
pub fn record(ctx: &Ctx, action: crate::audit::Action, subject: crate::audit::Subject) {
    record_at(
        &crate::audit::Place::Local(ctx.paths.state_dir.clone()),
        action,
        subject,
    );
}

/// [`record`] for a decision on `place` (a gateway reached with `--url`, or
/// a local state dir acted on through its gateway).
pub fn record_at(
    place: &crate::audit::Place,
    action: crate::audit::Action,
    subject: crate::audit::Subject,
) {
    use crate::audit::{self, Record, Via};
    let rec = Record::new(crate::clock::now_ms(), action, subject, Via::Cli, place);
    let path = place.log_path();
    match audit::append(&path, &rec) {
        Ok(()) => tracing::debug!("recorded {} in {}", action.as_str(), path.display()),
        Err(e) => eprintln!(
            "clawpair: warning: done, but not recorded in the decision history: {}",
            e.to_string().replace('\n', " ")
        ),
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

/// Writes command output to stdout. A closed pipe (`clawpair … | head`)
/// ends the output quietly; other write errors are failures.
pub fn write_stdout(text: &str) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::error(format!("cannot write output: {e}"))),
    }
}

/// Parses the process arguments and runs the chosen mode.
impl Cli {
    /// Parses `args`; the console's flags with a subcommand (which would
    /// ignore them) are a usage error, as any unknown flag is.
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let m = cmd.try_get_matches_from_mut(args)?;
        if let Some((sub, sub_m)) = m.subcommand() {
            let given = |m: &clap::ArgMatches, id: &str| {
                m.try_get_raw(id).is_ok_and(|v| v.is_some())
                    && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            };
            let console_only: Vec<String> = ConsoleArgs::augment_args(clap::Command::new("x"))
                .get_arguments()
                // `pairing`, `devices` and `nodes` take the gateway flags
                // themselves (after the subcommand's name).
                .filter(|a| !given(sub_m, a.get_id().as_str()))
                .filter(|a| given(&m, a.get_id().as_str()))
                .map(|a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())))
                .collect();
            if !console_only.is_empty() {
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "{} only {} to the console (clawpair with no subcommand), not to `clawpair {sub}`",
                        console_only.join(", "),
                        if console_only.len() == 1 { "applies" } else { "apply" }
                    ),
                ));
            }
        }
        Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::try_parse_checked(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if cli.command.is_some() {
        // A subcommand's output to a closed pipe (`clawpair … | head`) ends
        // it quietly, as for any Unix tool, instead of a panic in println!.
        // The console and headless mode keep SIGPIPE ignored: headless stops
        // cleanly when its reader goes (see runtime/headless.rs). Sockets
        // are unaffected (Rust sends with MSG_NOSIGNAL).
        // SAFETY: setting a signal disposition before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    crate::logfile::init();
    let ctx = Ctx {
        paths: Paths::resolve(cli.state_dir.as_deref()),
    };
    // An explicit state dir that does not exist is a mistake to report, for
    // reads and writes alike: nothing creates it. `paths` still shows where
    // everything would be.
    tracing::debug!(
        "state dir {} ({}), credentials {}, devices {}",
        ctx.paths.state_dir.display(),
        ctx.paths.state_source,
        ctx.paths.credentials_dir.display(),
        ctx.paths.devices_dir.display()
    );
    let unusable = ctx.paths.unusable_state_dir();
    let result = match (cli.command, unusable) {
        (Some(Command::Completions { shell }), _) => completions::print(shell),
        (Some(Command::Man), _) => completions::man(),
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
            if let Some(more) = &f.more {
                eprint!("{more}");
            }
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
            Some(r) => {
                let place = crate::audit::Place::Gateway(r.url.display());
                remote::pairing(r, place, a.cmd)
            }
            None => dm::run(ctx, a.cmd),
        },
        Some(Command::Devices(a)) => match remote::resolve(&a.remote.into())? {
            Some(r) => {
                let place = crate::audit::Place::Gateway(r.url.display());
                remote::devices(r, place, a.cmd)
            }
            None => devices::run(ctx, a.cmd),
        },
        Some(Command::Nodes(a)) => remote::nodes(&ctx.paths, a),
        Some(Command::Doctor { repair }) => doctor::run(ctx, repair),
        Some(Command::Gateway(cmd)) => gateway::run_gateway(ctx, cmd),
        Some(Command::SetupCode(a)) => gateway::run_setup_code(ctx, a),
        Some(Command::Join(a)) => gateway::run_join(ctx, a),
        Some(Command::History(a)) => history::run(ctx, a),
        Some(Command::Completions { shell }) => completions::print(shell),
        Some(Command::Man) => completions::man(),
        None => console::run(ctx, console),
    }
}

/// Targets whose verbose logs print WebSocket frames (and so secrets).
pub use crate::logfile::carries_frames;

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
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// Every subcommand and every argument says what it is for.
    #[test]
    fn every_argument_has_a_description() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{p} (about)"));
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "clawpair", &mut missing);
        assert!(missing.is_empty(), "no description: {missing:#?}");
    }

    #[test]
    fn the_help_says_no_subcommand_opens_the_console_and_hides_test_limits() {
        use clap::CommandFactory;
        let help = super::Cli::command().render_help().to_string();
        assert!(
            help.contains("With no subcommand, clawpair opens the console"),
            "{help}"
        );
        assert!(!help.contains("max-pending-per-addr"), "{help}");
    }

    #[test]
    fn console_flags_are_refused_with_a_subcommand() {
        for args in [
            &["clawpair", "--headless", "devices", "list"][..],
            &["clawpair", "--no-gateway", "pairing", "list"],
            &["clawpair", "--port", "1", "history"],
        ] {
            let e = super::Cli::try_parse_checked(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("only applies to the console"), "{e}");
        }
        let ok = |a: &[&str]| super::Cli::try_parse_checked(a).is_ok();
        assert!(ok(&["clawpair", "--state-dir", "/x", "history"]));
        assert!(ok(&["clawpair", "history", "--state-dir", "/x"]));
        assert!(ok(&["clawpair", "--headless", "--no-gateway"]));
        // `clawpair gateway` has flags of the same names of its own.
        assert!(ok(&["clawpair", "gateway", "--port", "1"]));
        // So have the verbs that act through a gateway (`--url` & co. are global
        // within `devices`, `nodes` and `pairing`).
        let url = "ws://127.0.0.1:1";
        for args in [
            &[
                "clawpair", "devices", "list", "--json", "--url", url, "--token", "t",
            ][..],
            &[
                "clawpair",
                "devices",
                "--url",
                url,
                "--token-file",
                "/f",
                "list",
            ],
            &[
                "clawpair",
                "--state-dir",
                "/x",
                "nodes",
                "pending",
                "--url",
                url,
            ],
            &["clawpair", "pairing", "list", "telegram", "--url", url],
            &[
                "clawpair",
                "devices",
                "list",
                "--url",
                "wss://127.0.0.1:1",
                "--tls-fingerprint",
                "sha256:00",
                "--password",
                "p",
            ],
        ] {
            let cli =
                super::Cli::try_parse_checked(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(cli.command.is_some(), "{args:?}");
        }
        // … but the console's own --url still is the console's.
        let e = super::Cli::try_parse_checked(["clawpair", "--headless", "--url", url, "history"])
            .unwrap_err();
        assert!(e.to_string().contains("only apply to the console"), "{e}");
    }
}
