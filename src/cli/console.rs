//! `clawpair` with no subcommand: the console on a terminal, or the same
//! engine headless with `--headless`.

use std::time::Duration;

use super::{gateway, CliResult, ConsoleArgs, Ctx, Failure};
use crate::runtime::{self, Options};

pub fn run(ctx: &Ctx, args: &ConsoleArgs) -> CliResult {
    // On an OpenClaw 2026.9 state dir OpenClaw's gateway owns the devices:
    // clawpair's own does not start (nor makes its token file); decisions go
    // through OpenClaw's when it runs.
    let sqlite = crate::statedb::Generation::detect(&ctx.paths.state_dir).is_sqlite();
    if sqlite && args.headless {
        eprintln!(
            "clawpair: OpenClaw 2026.9 SQLite state ({}): clawpair's gateway does not start; \
             OpenClaw's gateway owns the devices and clawpair's decisions go through it",
            crate::statedb::db_path(&ctx.paths.state_dir).display()
        );
    }
    let remote = super::remote::resolve(&args.remote)?;
    let gateway = if args.no_gateway || sqlite || remote.is_some() {
        None
    } else {
        let (cfg, _) = gateway::config_from_args(&args.gateway, ctx)?;
        Some(cfg)
    };
    let opts = Options {
        paths: ctx.paths.clone(),
        gateway,
        bind: args.gateway.bind.clone(),
        port: args.gateway.port,
        notify: !args.no_notify,
        force_poll: false,
        via: if args.headless {
            crate::audit::Via::Headless
        } else {
            crate::audit::Via::Console
        },
        quick_approve: args.quick_approve,
        hook: args.exec_on_request.as_ref().map(|c| {
            let mut h = crate::runtime::hook::HookConfig::new(c.clone());
            h.timeout = Duration::from_secs(args.exec_timeout);
            h
        }),
        remote,
    };
    if !args.headless && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(Failure::error(
            "the console needs a terminal; use --headless for JSON events",
        ));
    }
    let rt = super::tokio_runtime()?;
    let r = if args.headless {
        rt.block_on(runtime::headless::run(opts))
    } else {
        rt.block_on(runtime::console::run(opts))
    };
    rt.shutdown_timeout(Duration::from_millis(500));
    r.map_err(Failure::error)
}
