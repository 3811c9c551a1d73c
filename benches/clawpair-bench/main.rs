//! `clawpair-bench`: every figure clawpair publishes, measured in one run and
//! printed as one table (plus each part's detailed lines as it goes).
//!
//! ```text
//! cargo bench --bench clawpair-bench                 # everything, about 4 minutes
//! cargo bench --bench clawpair-bench -- cli gateway  # only the parts named
//! ```
//!
//! Parts: `cli` (process time and peak memory), `gateway` (handshakes/s, p99,
//! RSS at 1,000 connections), `console` (file change → frame, render time at
//! 10,000 devices, idle CPU), `remote` (the console attached to a gateway over
//! WebSocket: approve round trip, event → row drawn, idle CPU, RSS with 1,000
//! paired devices, and the real `openclaw devices approve --url` for
//! comparison), `sqlite` (the CLI against the real OpenClaw 2026.9.6 on its
//! SQLite state, commit → frame, idle CPU with the WAL watcher), `openclaw`
//! (clawpair's gateway beside the real OpenClaw 2026.9.6 and 2026.2.26
//! gateways, same load generator). Wall-clock figures depend on the machine
//! and its load, so the table starts with both.

mod cli;
mod console;
mod gateway;
mod openclaw;
mod remote;
mod sqlite;
mod tmux;

/// One line of the final table.
pub struct Row {
    what: String,
    result: String,
    target: &'static str,
    met: Option<bool>,
}

impl Row {
    pub fn new(what: &str, result: String, target: &'static str, met: Option<bool>) -> Row {
        Row {
            what: what.to_string(),
            result,
            target,
            met,
        }
    }
}

/// A part of the benchmark: measures, prints details, appends its rows.
type Part = fn(&mut Vec<Row>);

const PARTS: &[(&str, Part)] = &[
    ("cli", cli::run),
    ("gateway", gateway::run),
    ("console", console::run),
    ("remote", remote::run),
    ("sqlite", sqlite::run),
    ("openclaw", openclaw::run),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn machine() -> String {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = read("/proc/sys/kernel/osrelease");
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), {mem_gib:.0} GiB, Linux {}, {rustc}",
        kernel.trim()
    )
}

fn load() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes `--list`-style flags.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    if let Some(bad) = wanted.iter().find(|w| !PARTS.iter().any(|(p, _)| p == *w)) {
        eprintln!(
            "clawpair-bench: unknown part {bad:?} (parts: cli, gateway, console, remote, sqlite, openclaw)"
        );
        std::process::exit(2);
    }
    let machine = machine();
    let load_before = load();
    let mut rows = Vec::new();
    for (name, run) in PARTS {
        if wanted.is_empty() || wanted.contains(name) {
            println!("\n== {name} ==");
            run(&mut rows);
        }
    }
    println!("\n## clawpair figures");
    println!("machine: {machine}");
    println!("load average: {load_before} at start, {} at end", load());
    println!();
    println!("| measurement | result | target | met |");
    println!("|---|---|---|---|");
    for r in &rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        println!("| {} | {} | {} | {met} |", r.what, r.result, r.target);
    }
}
