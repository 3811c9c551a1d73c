//! kill -9 at random moments: several threads run real `clawpair` processes
//! (`pairing request|approve|reject|list`, `devices approve|reject|list`)
//! against one state dir, half of them SIGKILLed after a random delay, while
//! a `clawpair --headless` console with its gateway runs on the same dir and
//! writes too (`clawpair join` nodes on loopback are approved silently by it)
//! until it is itself SIGKILLed at a random moment.
//!
//! After every round: every file in `credentials/` and `devices/` parses as
//! JSON, leftover locks name dead processes (so the next writer breaks them at
//! once), and no operation whose process exited 0 is lost. The RNG seed is
//! printed; `CLAWPAIR_FAULT_SEED=<n>` replays a run's choices.
//!
//! tests/dm_locking.rs proves the same without kills (nothing lost, no lock
//! or temp file left); this file is about processes that die mid-write.

mod fault_support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clawpair::devices::{DeviceStore, RequestInput};
use fault_support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const ROUNDS: usize = 4;
const ROUND: Duration = Duration::from_millis(2500);
const WORKERS: u64 = 3;
const CHANNELS: [&str; 3] = ["telegram", "signal", "discord"];
/// Chance that a spawned CLI process is SIGKILLed, and the latest moment.
const KILL_PERCENT: u32 = 50;
/// (A debug build's CLI process lives about 3 to 15 ms here.)
const KILL_WITHIN_MS: u64 = 12;

/// What the test knows about every operation it started.
#[derive(Default)]
struct Ledger {
    /// code -> DM request whose `pairing request` printed it (exit 0).
    dm: BTreeMap<String, DmReq>,
    /// Senders a `pairing request` was started for (also killed ones).
    senders: BTreeSet<(String, String)>,
    /// request id -> device request written by this test.
    dev: BTreeMap<String, DevReq>,
    /// Device ids of `clawpair join` nodes that said they were approved.
    joined: BTreeSet<String>,
    next_sender: u64,
    ops: u64,
    kills: u64,
}

#[derive(Default, Debug)]
struct DmReq {
    channel: String,
    sender: String,
    approve_ok: bool,
    approve_killed: bool,
    reject_ok: bool,
    reject_killed: bool,
}

#[derive(Default, Debug)]
struct DevReq {
    device_id: String,
    approve_ok: bool,
    approve_killed: bool,
    reject_ok: bool,
    reject_killed: bool,
}

enum Outcome {
    Ok(String),
    /// Exited non-zero (a clean refusal: checked by the caller).
    Failed(String),
    Killed,
}

/// Runs one CLI process; with `kill_after` it is SIGKILLed after that delay
/// (if still running).
fn run_cli(state: &Path, args: &[&str], kill_after: Option<Duration>) -> Outcome {
    let started = Instant::now();
    let mut child = cmd(state, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(d) = kill_after {
        std::thread::sleep(d);
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    // Contention costs a few backoff steps at most; 15 s means a writer sat
    // out the 30 s stale rule (an empty lock left by a kill used to do that).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{args:?} stalled for {:?}: {stderr}",
        started.elapsed()
    );
    match out.status.code() {
        Some(0) => Outcome::Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(_) => Outcome::Failed(stderr),
        None => Outcome::Killed,
    }
}

/// The only refusals a racing operation may meet: its target was taken by
/// another process. Anything else (a torn file, a lock timeout) is a failure.
fn expected_refusal(stderr: &str) -> bool {
    stderr.contains("No pending pairing request found for code")
        || stderr.contains("unknown requestId")
}

fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> Option<&'a T> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.random_range(0..v.len())])
    }
}

fn worker(state: &Path, ledger: &Mutex<Ledger>, seed: u64, until: Instant) {
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < until {
        let kill_after = (rng.random_range(0..100) < KILL_PERCENT)
            .then(|| Duration::from_millis(rng.random_range(0..KILL_WITHIN_MS)));
        let op = rng.random_range(0..100);
        let (open_codes, open_devs) = {
            let l = ledger.lock().unwrap();
            let codes: Vec<(String, String)> =
                l.dm.iter()
                    .filter(|(_, r)| !r.approve_ok && !r.reject_ok)
                    .map(|(c, r)| (c.clone(), r.channel.clone()))
                    .collect();
            let devs: Vec<String> = l
                .dev
                .iter()
                .filter(|(_, r)| !r.approve_ok && !r.reject_ok)
                .map(|(id, _)| id.clone())
                .collect();
            (codes, devs)
        };
        let result = match op {
            0..35 => {
                let channel = *pick(&mut rng, &CHANNELS).unwrap();
                let sender = {
                    let mut l = ledger.lock().unwrap();
                    l.next_sender += 1;
                    let s = format!("s{}", l.next_sender);
                    l.senders.insert((channel.to_string(), s.clone()));
                    s
                };
                let r = run_cli(state, &["pairing", "request", channel, &sender], kill_after);
                if let Outcome::Ok(out) = &r {
                    let v: Value = serde_json::from_str(out.trim()).unwrap();
                    let code = v["code"].as_str().unwrap().to_string();
                    if v["created"] == true {
                        ledger.lock().unwrap().dm.insert(
                            code,
                            DmReq {
                                channel: channel.into(),
                                sender,
                                ..Default::default()
                            },
                        );
                    }
                }
                r
            }
            35..70 => {
                let Some((code, channel)) = pick(&mut rng, &open_codes).cloned() else {
                    continue;
                };
                let approve = op < 58;
                let verb = if approve { "approve" } else { "reject" };
                let r = run_cli(state, &["pairing", verb, &channel, &code], kill_after);
                let mut l = ledger.lock().unwrap();
                let e = l.dm.get_mut(&code).unwrap();
                match (&r, approve) {
                    (Outcome::Ok(out), true) => {
                        assert!(out.starts_with("Approved"), "{out}");
                        e.approve_ok = true
                    }
                    (Outcome::Ok(_), false) => e.reject_ok = true,
                    (Outcome::Killed, true) => e.approve_killed = true,
                    (Outcome::Killed, false) => e.reject_killed = true,
                    _ => {}
                }
                drop(l);
                r
            }
            70..92 => {
                let Some(id) = pick(&mut rng, &open_devs).cloned() else {
                    continue;
                };
                let approve = op < 84;
                let verb = if approve { "approve" } else { "reject" };
                let r = run_cli(state, &["devices", verb, &id], kill_after);
                let mut l = ledger.lock().unwrap();
                let e = l.dev.get_mut(&id).unwrap();
                match (&r, approve) {
                    (Outcome::Ok(_), true) => e.approve_ok = true,
                    (Outcome::Ok(_), false) => e.reject_ok = true,
                    (Outcome::Killed, true) => e.approve_killed = true,
                    (Outcome::Killed, false) => e.reject_killed = true,
                    _ => {}
                }
                drop(l);
                r
            }
            92..96 => {
                let channel = *pick(&mut rng, &CHANNELS).unwrap();
                run_cli(state, &["pairing", "list", channel, "--json"], kill_after)
            }
            _ => run_cli(state, &["devices", "list", "--json"], kill_after),
        };
        let mut l = ledger.lock().unwrap();
        l.ops += 1;
        match result {
            Outcome::Killed => l.kills += 1,
            Outcome::Failed(err) => {
                assert!(
                    expected_refusal(&err),
                    "seed {seed}: unexpected failure: {err}"
                )
            }
            Outcome::Ok(_) => {}
        }
    }
}

/// A `clawpair join` node with a fresh setup code: a silent loopback approval
/// written by the headless console. Reports the node's device id into the
/// ledger once it says it was approved.
fn start_join(state: &Path, node: &Path, port: u16, ledger: Arc<Mutex<Ledger>>) -> Option<Killed> {
    let out = cmd(
        state,
        &["setup-code", "--port", &port.to_string(), "--json"],
    )
    .output()
    .unwrap();
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = v["setupCode"].as_str().unwrap().to_string();
    let mut child = Killed(
        cmd(node, &["join", &code, "--name", "crash-node"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let node = node.to_path_buf();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if l.contains("approved; device token stored") {
                let text = fs::read_to_string(node.join("identity/device.json")).unwrap();
                let v: Value = serde_json::from_str(&text).unwrap();
                let id = v["deviceId"].as_str().unwrap().to_string();
                ledger.lock().unwrap().joined.insert(id);
            }
        }
    });
    Some(child)
}

fn read_json(p: &Path) -> Value {
    let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}\n{text}", p.display()))
}

/// Checks every invariant against the files. `seed` goes into every message.
fn check(state: &Path, l: &Ledger, seed: u64, round: usize) {
    let ctx = format!("seed {seed}, round {round}");
    // 1. Every state file parses; leftover locks name dead processes.
    for d in ["credentials", "devices"] {
        for n in names(&state.join(d)) {
            let p = state.join(d).join(&n);
            if n.ends_with(".tmp") || n.contains(".corrupt-") {
                assert!(
                    !n.contains(".corrupt-"),
                    "{ctx}: something was judged corrupt: {n}"
                );
                continue;
            }
            let v = read_json(&p);
            if n.ends_with(".lock") {
                let pid = v["pid"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{ctx}: {n}: {v}"));
                assert!(
                    !clawpair::lock::pid_alive(pid),
                    "{ctx}: {n} held by live pid {pid} after the round"
                );
            }
        }
    }
    // 2. DM: nothing that reported success is lost.
    let mut pending: BTreeMap<String, String> = BTreeMap::new(); // code -> sender
    let mut allowed: BTreeSet<(String, String)> = BTreeSet::new();
    for ch in CHANNELS {
        let p = state.join(format!("credentials/{ch}-pairing.json"));
        if p.exists() {
            for r in read_json(&p)["requests"].as_array().unwrap() {
                pending.insert(
                    r["code"].as_str().unwrap().into(),
                    r["id"].as_str().unwrap().into(),
                );
            }
        }
        let p = state.join(format!("credentials/{ch}-default-allowFrom.json"));
        if p.exists() {
            for s in read_json(&p)["allowFrom"].as_array().unwrap() {
                allowed.insert((ch.to_string(), s.as_str().unwrap().to_string()));
            }
        }
    }
    for (code, r) in &l.dm {
        let key = (r.channel.clone(), r.sender.clone());
        let is_pending = pending.get(code) == Some(&r.sender);
        let is_allowed = allowed.contains(&key);
        let what = format!("{ctx}: code {code} {r:?}: pending {is_pending}, allowed {is_allowed}");
        if r.approve_ok {
            assert!(
                is_allowed && !is_pending,
                "{what}: approved but not on the allow-list"
            );
        } else if r.reject_ok {
            assert!(!is_pending, "{what}: rejected but still pending");
            if !r.approve_killed {
                assert!(!is_allowed, "{what}: rejected but allowed");
            }
        } else if !r.reject_killed {
            // Untouched, or only approvals that were killed: the request is
            // still pending or its sender allowed (the allow-list is written
            // first), never neither.
            assert!(is_pending || is_allowed, "{what}: lost");
            if !r.approve_killed {
                assert!(is_pending && !is_allowed, "{what}: changed by nobody");
            }
        }
    }
    for (ch, s) in &allowed {
        // Only a code the test knows can have been approved.
        let attempted =
            l.dm.values()
                .any(|r| &r.channel == ch && &r.sender == s && (r.approve_ok || r.approve_killed));
        assert!(
            attempted && l.senders.contains(&(ch.clone(), s.clone())),
            "{ctx}: {ch} sender {s} allowed without an approval"
        );
    }
    // 3. Devices: the same for requests and joins.
    let pend = read_json(&state.join("devices/pending.json"));
    let paired = read_json(&state.join("devices/paired.json"));
    for (id, r) in &l.dev {
        let is_pending = pend.get(id).is_some();
        let is_paired = paired.get(&r.device_id).is_some();
        let what = format!("{ctx}: request {id} {r:?}: pending {is_pending}, paired {is_paired}");
        if r.approve_ok {
            assert!(is_paired && !is_pending, "{what}: approved but not paired");
        } else if r.reject_ok {
            assert!(!is_pending, "{what}: rejected but still pending");
            if !r.approve_killed {
                assert!(!is_paired, "{what}: rejected but paired");
            }
        } else if !r.reject_killed {
            assert!(is_pending || is_paired, "{what}: lost");
            if !r.approve_killed {
                assert!(is_pending && !is_paired, "{what}: changed by nobody");
            }
        }
    }
    for id in &l.joined {
        assert!(
            paired.get(id).is_some(),
            "{ctx}: joined node {id} not in paired.json"
        );
    }
}

fn seed() -> u64 {
    std::env::var("CLAWPAIR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[test]
fn kill_9_at_random_moments_loses_no_reported_success() {
    let seed = seed();
    println!("kill -9 test seed: {seed} (replay with CLAWPAIR_FAULT_SEED={seed})");
    eprintln!("kill -9 test seed: {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // Private like the state dir clawpair would create (an explicit one must exist).
    std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
        .create(&state)
        .unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let store = DeviceStore::new(state.join("devices"));
    let started = Instant::now();
    for round in 0..ROUNDS {
        // Device requests to approve and reject, written by this test between rounds.
        let now = clawpair::clock::system_now_ms();
        for i in 0..8 {
            let dev = format!("dev-{round}-{i}");
            let r = store
                .request_pairing(
                    RequestInput {
                        device_id: dev.clone(),
                        public_key: format!("key-{dev}"),
                        role: Some("node".into()),
                        ..Default::default()
                    },
                    now,
                )
                .unwrap();
            ledger.lock().unwrap().dev.insert(
                r.request.request_id,
                DevReq {
                    device_id: dev,
                    ..Default::default()
                },
            );
        }
        let port = free_port();
        let mut headless = Some(start_headless(&state, port).0);
        let nodes: Vec<PathBuf> = (0..2)
            .map(|i| tmp.path().join(format!("node-{round}-{i}")))
            .collect();
        let joins: Vec<Killed> = nodes
            .iter()
            .filter_map(|n| start_join(&state, n, port, ledger.clone()))
            .collect();
        let until = Instant::now() + ROUND;
        let kill_headless_at = Instant::now() + ROUND.mul_f64(rng.random_range(0.3..1.0));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let state = state.clone();
                let ledger = ledger.clone();
                let s = seed.wrapping_add(round as u64 * 1000 + w);
                std::thread::spawn(move || worker(&state, &ledger, s, until))
            })
            .collect();
        while Instant::now() < until {
            if headless.is_some() && Instant::now() >= kill_headless_at {
                // SIGKILL, wherever it is.
                drop(headless.take());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(headless);
        for w in workers {
            w.join().unwrap();
        }
        drop(joins);
        let l = ledger.lock().unwrap();
        check(&state, &l, seed, round);
        println!(
            "round {round}: {} ops, {} killed, {} DM requests, {} device requests, {} joined, {} temp files left",
            l.ops,
            l.kills,
            l.dm.len(),
            l.dev.len(),
            l.joined.len(),
            temp_files(&state).len()
        );
    }
    let l = ledger.lock().unwrap();
    assert!(
        l.kills >= 10,
        "seed {seed}: only {} kills: the test did not test",
        l.kills
    );
    assert!(
        l.dm.values().any(|r| r.approve_ok) && l.dev.values().any(|r| r.approve_ok),
        "seed {seed}: no approval succeeded"
    );
    drop(l);
    // Whatever the kills left, the next writer of every file gets through at
    // once: stale locks of dead processes are broken without waiting.
    for args in [
        vec!["pairing", "request", "telegram", "final"],
        vec!["pairing", "request", "signal", "final"],
        vec!["pairing", "request", "discord", "final"],
        vec!["devices", "approve", "--latest"],
    ] {
        let r = run(cmd(&state, &args));
        assert!(
            r.took < Duration::from_secs(5),
            "seed {seed}: {args:?} took {:?}",
            r.took
        );
        assert!(!r.stderr.contains("panicked"), "seed {seed}: {}", r.stderr);
    }
    println!("total {:?}", started.elapsed());
}
