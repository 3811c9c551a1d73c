//! Locking against other writers, with real processes: OpenClaw-style lock
//! files planted in the credentials dir, and several `clawpair` processes
//! racing on the same files. Nothing may be lost.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use clawpair::clock;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clawpair"));
    c.env_remove("CLAWPAIR_NOW")
        .env_remove("OPENCLAW_OAUTH_DIR");
    c
}

fn run(state: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

fn request(state: &Path, channel: &str, sender: &str) -> (String, bool) {
    let out = run(state, &["pairing", "request", channel, sender]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["code"].as_str().unwrap().to_string(),
        v["created"].as_bool().unwrap(),
    )
}

fn setup() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap(); // an explicit --state-dir must exist
    let (code, created) = request(&state, "telegram", "111");
    assert!(created);
    (tmp, state, code)
}

fn plant(state: &Path, content: &str, age: Duration) -> PathBuf {
    let lock = state.join("credentials/telegram-pairing.json.lock");
    fs::write(&lock, content).unwrap();
    let f = fs::File::options().write(true).open(&lock).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
    lock
}

fn holder(pid: i64, created_ms: i64) -> String {
    format!(
        "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\"\n}}",
        clock::format_iso_ms(created_ms)
    )
}

fn approve_timed(state: &Path, code: &str) -> (Output, Duration) {
    let t = Instant::now();
    let out = run(state, &["pairing", "approve", "telegram", code]);
    (out, t.elapsed())
}

#[test]
fn stale_locks_are_broken_at_once() {
    let now = clock::system_now_ms();
    let dead_pid = 2_147_483_000_i64;
    let me = std::process::id() as i64;
    for (what, content, age) in [
        ("dead pid", holder(dead_pid, now), Duration::ZERO),
        (
            "createdAt 31 s old",
            holder(me, now - 31_000),
            Duration::ZERO,
        ),
        (
            "unparseable createdAt",
            format!("{{\"pid\": {me}, \"createdAt\": \"soon\"}}"),
            Duration::ZERO,
        ),
        (
            "garbage, mtime 40 s old",
            "garbage".to_string(),
            Duration::from_secs(40),
        ),
    ] {
        let (_tmp, state, code) = setup();
        plant(&state, &content, age);
        let (out, took) = approve_timed(&state, &code);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
        assert!(
            !state
                .join("credentials/telegram-pairing.json.lock")
                .exists(),
            "{what}: released"
        );
    }
}

#[test]
fn a_live_lock_is_waited_for_with_a_message() {
    let (_tmp, state, code) = setup();
    let me = std::process::id() as i64;
    let lock = plant(&state, &holder(me, clock::system_now_ms()), Duration::ZERO);
    let child = bin()
        .arg("--state-dir")
        .arg(&state)
        .args(["pairing", "approve", "telegram", &code])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // Still waiting: the request has not been approved yet.
    assert!(!state
        .join("credentials/telegram-default-allowFrom.json")
        .exists());
    fs::remove_file(&lock).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Approved telegram sender 111.\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for lock") && err.contains(&format!("pid {me}")),
        "{err}"
    );
    assert!(
        fs::read_to_string(state.join("credentials/telegram-default-allowFrom.json"))
            .unwrap()
            .contains("\"111\"")
    );
}

#[test]
fn fresh_garbage_and_pid_zero_locks_are_respected() {
    for content in ["garbage".to_string(), holder(0, clock::system_now_ms())] {
        let (_tmp, state, code) = setup();
        let lock = plant(&state, &content, Duration::ZERO);
        let child = bin()
            .arg("--state-dir")
            .arg(&state)
            .args(["pairing", "approve", "telegram", &code])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !state
                .join("credentials/telegram-default-allowFrom.json")
                .exists(),
            "{content}: must wait"
        );
        fs::remove_file(&lock).unwrap();
        assert!(child.wait_with_output().unwrap().status.success());
    }
}

/// Six worker threads each drive their own sequence of `clawpair` processes
/// against one state dir: request a code, approve it; retry when the channel's
/// cap of 3 is momentarily full. Every sender must end on its allow-list.
#[test]
fn concurrent_processes_lose_nothing() {
    const WORKERS: usize = 6;
    const PER_WORKER: usize = 8;
    const CHANNELS: [&str; 3] = ["telegram", "signal", "discord"];
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap(); // an explicit --state-dir must exist
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let state = state.clone();
            std::thread::spawn(move || {
                for i in 0..PER_WORKER {
                    let channel = CHANNELS[(w + i) % CHANNELS.len()];
                    let sender = format!("w{w}-{i}");
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let code = loop {
                        let (code, created) = request(&state, channel, &sender);
                        if created {
                            break code;
                        }
                        assert!(Instant::now() < deadline, "cap never freed for {sender}");
                        std::thread::sleep(Duration::from_millis(20 + (w as u64) * 7));
                    };
                    let out = run(&state, &["pairing", "approve", channel, &code]);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let creds = state.join("credentials");
    for (ci, channel) in CHANNELS.iter().enumerate() {
        let text =
            fs::read_to_string(creds.join(format!("{channel}-default-allowFrom.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut got: Vec<String> = serde_json::from_value(v["allowFrom"].clone()).unwrap();
        got.sort();
        let mut want: Vec<String> = (0..WORKERS)
            .flat_map(|w| {
                (0..PER_WORKER)
                    .filter(move |i| (w + i) % CHANNELS.len() == ci)
                    .map(move |i| format!("w{w}-{i}"))
            })
            .collect();
        want.sort();
        assert_eq!(got, want, "{channel}: no approval lost");
        let pairing: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(creds.join(format!("{channel}-pairing.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            pairing["requests"],
            serde_json::json!([]),
            "{channel}: every request resolved"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(&creds)
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
