//! `clawpair pairing …` and `clawpair doctor` (being written by the lead).

use clap::Subcommand;

use super::{CliResult, Ctx, Failure};

#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// List pending pairing requests.
    List,
}

pub fn run(_ctx: &Ctx, _cmd: PairingCommand) -> CliResult {
    Err(Failure::error("pairing commands are being built"))
}

pub fn doctor(_ctx: &Ctx, _repair: bool) -> CliResult {
    Err(Failure::error("doctor is being built"))
}
