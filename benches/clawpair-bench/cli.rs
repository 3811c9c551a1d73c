//! Whole-process benchmark of the scriptable CLI on a realistic store:
//! 3 pending requests and 10,000 allow-list entries. Measures wall time per
//! invocation (spawn to exit) and the child's peak RSS (from `wait4`), for
//! `pairing list --json` and `pairing approve`. Targets: ≤ 5 ms, ≤ 10 MiB.
//!
//! Run alone: `cargo bench --bench clawpair-bench -- cli`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Row;

const RUNS: usize = 200;
const ENTRIES: usize = 10_000;

fn pending_doc() -> String {
    let now = clawpair::clock::system_now_ms();
    let mut reqs = Vec::new();
    for (i, code) in ["AAAAAAA2", "BBBBBBB3", "CCCCCCC4"].iter().enumerate() {
        let t = clawpair::clock::format_iso_ms(now - 60_000 * (3 - i as i64));
        reqs.push(serde_json::json!({
            "id": format!("10{i}"), "code": code, "createdAt": t, "lastSeenAt": t,
            "meta": {"username": format!("user{i}"), "accountId": "default"}
        }));
    }
    clawpair::jsonfmt::to_pretty_nl(&serde_json::json!({"version": 1, "requests": reqs}))
}

fn allow_doc() -> String {
    let entries: Vec<String> = (0..ENTRIES)
        .map(|i| format!("{}", 100_000_000 + i))
        .collect();
    clawpair::jsonfmt::to_pretty_nl(&serde_json::json!({"version": 1, "allowFrom": entries}))
}

/// Spawns the command and returns (wall time, peak RSS in KiB). The child is
/// reaped by `wait4` (which also yields its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (Duration, u64) {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid out-pointers.
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    assert_eq!(rc, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "command failed"
    );
    (wall, usage.ru_maxrss as u64)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Prints one line of the detailed table; returns (p50 ms, p99 ms, peak MiB).
fn report(name: &str, mut times: Vec<Duration>, rss: Vec<u64>) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = (ms(pct(&times, 0.5)), ms(pct(&times, 0.99)));
    let peak = *rss.iter().max().unwrap_or(&0) as f64 / 1024.0;
    println!(
        "| {name:<26} | {p50:>7.2} | {:>7.2} | {p99:>7.2} | {peak:>9.1} |",
        ms(pct(&times, 0.95)),
    );
    (p50, p99, peak)
}

fn row(rows: &mut Vec<Row>, what: &str, (p50, p99, peak): (f64, f64, f64)) {
    rows.push(Row::new(
        what,
        format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
        "p50 ≤ 5 ms",
        Some(p50 <= 5.0),
    ));
    rows.push(Row::new(
        &format!("{what}: peak RSS"),
        format!("{peak:.1} MiB"),
        "≤ 10 MiB",
        Some(peak <= 10.0),
    ));
}

fn reset(creds: &Path, pending: &str, allow: &str) {
    fs::write(creds.join("telegram-pairing.json"), pending).unwrap();
    fs::write(creds.join("telegram-default-allowFrom.json"), allow).unwrap();
}

pub fn run(rows: &mut Vec<Row>) {
    let bin = env!("CARGO_BIN_EXE_clawpair");
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let creds = state.join("credentials");
    fs::create_dir_all(&creds).unwrap();
    let (pending, allow) = (pending_doc(), allow_doc());
    reset(&creds, &pending, &allow);
    let base = || {
        let mut c = Command::new(bin);
        c.arg("--state-dir").arg(&state).env_remove("CLAWPAIR_NOW");
        c
    };

    println!("clawpair CLI: {RUNS} runs each, 3 pending + {ENTRIES} allow-list entries");
    println!("| command                    | p50 ms  | p95 ms  | p99 ms  | peak MiB  |");
    println!("|----------------------------|---------|---------|---------|-----------|");

    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (w, rss) = measure(base().args(["pairing", "list", "telegram", "--json"]));
        t.push(w);
        r.push(rss);
    }
    let list = report("pairing list --json", t, r);

    let (mut t, mut r) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        reset(&creds, &pending, &allow);
        let code = ["AAAAAAA2", "BBBBBBB3", "CCCCCCC4"][i % 3];
        let (w, rss) = measure(base().args(["pairing", "approve", "telegram", code]));
        t.push(w);
        r.push(rss);
    }
    let approve = report("pairing approve", t, r);

    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (w, rss) = measure(Command::new("/bin/true").arg("x"));
        t.push(w);
        r.push(rss);
    }
    let floor = report("(baseline: /bin/true)", t, r);
    row(rows, "CLI `pairing list --json`", list);
    row(rows, "CLI `pairing approve`", approve);
    rows.push(Row::new(
        "process start-up floor (`/bin/true`)",
        format!("p50 {:.2} ms", floor.0),
        "",
        None,
    ));
}
