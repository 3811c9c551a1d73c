//! Whole-process benchmark of the scriptable CLI on a realistic store:
//! 3 pending requests and 10,000 allow-list entries. Measures wall time per
//! invocation (spawn to exit) and the child's peak RSS (from `wait4`), for
//! `pairing list --json` and `pairing approve`. Targets: ≤ 5 ms, ≤ 10 MiB.
//!
//! Run: `cargo bench --bench cli` (prints one table).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn report(name: &str, mut times: Vec<Duration>, rss: Vec<u64>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name:<26} | {:>7.2} | {:>7.2} | {:>7.2} | {:>9.1} |",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.95)),
        ms(pct(&times, 0.99)),
        *rss.iter().max().unwrap_or(&0) as f64 / 1024.0
    );
}

fn reset(creds: &Path, pending: &str, allow: &str) {
    fs::write(creds.join("telegram-pairing.json"), pending).unwrap();
    fs::write(creds.join("telegram-default-allowFrom.json"), allow).unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
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
    report("pairing list --json", t, r);

    let (mut t, mut r) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        reset(&creds, &pending, &allow);
        let code = ["AAAAAAA2", "BBBBBBB3", "CCCCCCC4"][i % 3];
        let (w, rss) = measure(base().args(["pairing", "approve", "telegram", code]));
        t.push(w);
        r.push(rss);
    }
    report("pairing approve", t, r);

    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (w, rss) = measure(Command::new("/bin/true").arg("x"));
        t.push(w);
        r.push(rss);
    }
    report("(baseline: /bin/true)", t, r);
}
