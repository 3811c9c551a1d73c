//! `--exec-on-request`: the real `clawpair --headless` runs a shell command
//! for every new request with the event's JSON on stdin. Under a burst of 100
//! requests each one reaches the hook exactly once; a slow hook never holds
//! up the engine's events; a hook that overruns its timeout is killed and
//! logged; nothing secret reaches it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clawpair::devices::store::DeviceStore;
use clawpair::devices::RequestInput;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn headless(state: &Path, hook: &str, extra: &[&str]) -> (Kill, mpsc::Receiver<serde_json::Value>) {
    let mut c = Command::new(BIN);
    c.arg("--state-dir")
        .arg(state)
        .args(["--headless", "--no-gateway", "--exec-on-request", hook])
        .args(extra)
        .env("CLAWPAIR_LOG_FILE", state.join("clawpair.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Kill(c.spawn().unwrap());
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    (child, rx)
}

fn wait_event(
    rx: &mpsc::Receiver<serde_json::Value>,
    name: &str,
    within: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if v["event"] == name => return v,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no {name} event");
}

fn device_request(i: usize) -> RequestInput {
    RequestInput {
        device_id: format!("{i:04}{}", "ab".repeat(30)),
        public_key: format!("key-{i}"),
        display_name: Some(format!("burst-{i}")),
        platform: Some("linux".into()),
        client_id: Some("node-host".into()),
        client_mode: Some("node".into()),
        role: Some("node".into()),
        ..RequestInput::default()
    }
}

fn sigterm(c: &mut Kill) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(c.0.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if c.0.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("headless did not stop");
}

#[test]
fn every_new_request_reaches_the_hook_exactly_once_under_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let log = state.join("hook.jsonl");
    let hook = format!(
        "cat >> {} && test \"$CLAWPAIR_EVENT\" = device_request.created -o \"$CLAWPAIR_EVENT\" = dm_request.created",
        log.display()
    );
    // Two already pending: reported as pending at start, not to the hook.
    let store = DeviceStore::new(state.join("devices"));
    let now = clawpair::clock::system_now_ms();
    for i in 1000..1002 {
        store.request_pairing(device_request(i), now).unwrap();
    }
    let (mut child, rx) = headless(state, &hook, &[]);
    wait_event(&rx, "ready", Duration::from_secs(10));
    // The burst: 100 device requests, each its own write, as fast as possible,
    // and a DM request.
    for i in 0..100 {
        store
            .request_pairing(device_request(i), clawpair::clock::system_now_ms())
            .unwrap();
    }
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(["pairing", "request", "telegram", "4242"])
        .output()
        .unwrap();
    let dm_code: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        if lines.len() >= 101 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // A moment more: nothing arrives twice later.
    std::thread::sleep(Duration::from_millis(1500));
    let lines_after = std::fs::read_to_string(&log).unwrap().lines().count();
    sigterm(&mut child);
    assert_eq!(lines.len(), 101, "{lines:#?}");
    assert_eq!(lines_after, 101);
    let mut ids: Vec<String> = lines
        .iter()
        .filter(|v| v["event"] == "device_request.created")
        .map(|v| v["device_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "each device once");
    assert!(
        !ids.iter().any(|d| d.starts_with("100")),
        "pending at start are not new"
    );
    let dm: Vec<_> = lines
        .iter()
        .filter(|v| v["event"] == "dm_request.created")
        .collect();
    assert_eq!(dm.len(), 1);
    assert_eq!(dm[0]["id"], "4242");
    assert!(lines.iter().all(|v| v["ts"].is_string()));
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(
        !all.contains(dm_code["code"].as_str().unwrap()),
        "the DM code reached the hook"
    );
    // The log file is plain text with timestamps, private.
    let text = std::fs::read_to_string(state.join("clawpair.log")).unwrap();
    assert!(!text.contains('\u{1b}'), "no ANSI codes");
    assert!(text.lines().all(|l| l.starts_with("20")), "{text}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.join("clawpair.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_slow_hook_never_holds_up_the_engine_and_overruns_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (mut child, rx) = headless(state, "sleep 30", &["--exec-timeout", "1"]);
    wait_event(&rx, "ready", Duration::from_secs(10));
    let store = DeviceStore::new(state.join("devices"));
    let started = Instant::now();
    for i in 0..12 {
        store
            .request_pairing(device_request(i), clawpair::clock::system_now_ms())
            .unwrap();
        // Every event still arrives promptly while four hooks sleep.
        let v = wait_event(&rx, "device_request.created", Duration::from_secs(5));
        assert_eq!(v["display_name"], format!("burst-{i}"));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Overrunning hooks are killed after a second and logged.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(state.join("clawpair.log")).unwrap_or_default();
        if log.matches("was killed").count() >= 12 {
            break;
        }
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    sigterm(&mut child);
}
