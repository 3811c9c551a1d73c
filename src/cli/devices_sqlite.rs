//! `clawpair devices …` on an OpenClaw 2026.7+ state dir. `list` reads the
//! device tables (read-only) and prints the same shapes as on the 2026.2.26
//! files, plus the columns 2026.9 added (`approvedVia`, `nodeSurface`,
//! `pendingNodeSurface`, …; token strings never). Every decision is
//! OpenClaw's gateway's: approve, reject, remove, rotate and revoke go
//! through it ([`LocalGateway`]: the `--url` verbs of [`super::remote`] on
//! `ws://127.0.0.1:<gateway.port>` with its shared secret, same output).
//! Without a running gateway they are refused with what to run instead,
//! because hand-written device rows are rows OpenClaw rejects (a paired node
//! without its scope baseline is locked out), and OpenClaw 2026.9.6's own CLI
//! cannot decide without a running gateway either.

use std::path::Path;

use super::devices::{render_list, DevicesCommand};
use super::{CliResult, Ctx, Failure};
use crate::clock;
use crate::devices::payload::list_payload_of;
use crate::devices::DeviceState;
use crate::jsonfmt;
use crate::statedb::{devices, LocalGateway, StateDb};

pub fn run(ctx: &Ctx, db: &Path, cmd: DevicesCommand) -> CliResult {
    let now = clock::now_ms();
    match cmd {
        DevicesCommand::List { json } => {
            let s = StateDb::open_read(db).map_err(|e| Failure::error(e.to_string()))?;
            let rows = devices::read(&s, now).map_err(|e| Failure::error(e.to_string()))?;
            drop(s);
            let surfaces: Vec<(String, devices::NodeSurfaceRequest)> = rows
                .paired
                .iter()
                .filter_map(|d| {
                    devices::pending_surface(d).map(|p| {
                        (
                            d.display_name
                                .clone()
                                .unwrap_or_else(|| d.device_id.clone()),
                            p,
                        )
                    })
                })
                .collect();
            let state = DeviceState {
                pending: rows.pending,
                paired: rows.paired,
            };
            if json {
                print!("{}", jsonfmt::to_pretty_nl(&list_payload_of(&state)));
            } else {
                print!(
                    "{}",
                    render_list(&list_payload_of(&state), now, super::table::target_width())
                );
                if !surfaces.is_empty() {
                    println!("Node capabilities awaiting approval ({}):", surfaces.len());
                    for (name, s) in surfaces {
                        println!(
                            "  {} {}: {} caps, {} commands (needs {})",
                            crate::sanitize::for_terminal(&s.request_id),
                            crate::sanitize::for_terminal(&name),
                            s.caps.len(),
                            s.commands.len(),
                            s.required_scopes().join(" + ")
                        );
                    }
                }
            }
            Ok(())
        }
        decision => {
            let remote = LocalGateway::find(&ctx.paths)
                .remote()
                .map_err(Failure::error)?;
            super::remote::devices(
                remote,
                crate::audit::Place::Local(ctx.paths.state_dir.clone()),
                decision,
            )
        }
    }
}
