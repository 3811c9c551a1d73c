//! `clawpair --headless`: JSON lines on stdout while a `clawpair join` node
//! asks to pair, is approved from another shell, connects; SIGTERM stops the
//! gateway first (its `stopped` event is the last line) and the process exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn next_event(
    rx: &mpsc::Receiver<serde_json::Value>,
    name: &str,
    seen: &mut Vec<String>,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) => {
                let ev = v["event"].as_str().unwrap_or("").to_string();
                seen.push(ev.clone());
                if ev == name {
                    return v;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no {name} event; saw {seen:?}");
}

#[test]
fn headless_reports_a_join_as_json_lines() {
    let state = tempfile::tempdir().unwrap();
    let node = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap();
    let port = free_port().to_string();
    let mut headless = Kill(
        Command::new(BIN)
            .args([
                "--state-dir",
                sp,
                "--headless",
                "--port",
                &port,
                "--no-auto-approve-local",
            ])
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let stdout = headless.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let stderr = headless.0.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = etx.send(lines);
    });
    let mut seen = Vec::new();
    next_event(&rx, "gateway.listening", &mut seen);

    // A DM request made by another process shows up too (and carries no code).
    let out = Command::new(BIN)
        .args(["--state-dir", sp, "pairing", "request", "telegram", "555"])
        .output()
        .unwrap();
    let dm_code = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let ev = next_event(&rx, "dm_request.created", &mut seen);
    assert_eq!(ev["id"], "555");
    assert!(
        !ev.to_string().contains(&dm_code),
        "a pairing code leaked: {ev}"
    );

    let out = Command::new(BIN)
        .args(["--state-dir", sp, "setup-code", "--port", &port, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["setupCode"]
        .as_str()
        .unwrap()
        .to_string();
    let _join = Kill(
        Command::new(BIN)
            .args([
                "--state-dir",
                node.path().to_str().unwrap(),
                "join",
                &code,
                "--name",
                "test-node",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    next_event(&rx, "setup_code.used", &mut seen);
    let created = next_event(&rx, "device_request.created", &mut seen);
    assert_eq!(created["display_name"], "test-node");
    let request_id = created["request_id"].as_str().unwrap().to_string();

    let out = Command::new(BIN)
        .args(["--state-dir", sp, "devices", "approve", &request_id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let approved = next_event(&rx, "device_request.approved", &mut seen);
    assert_eq!(approved["request_id"], request_id.as_str());
    assert_eq!(approved["by"], "elsewhere");
    let connected = next_event(&rx, "device.connected", &mut seen);
    assert_eq!(connected["device_id"], created["device_id"]);

    // SIGTERM: the gateway stops first, then the process exits cleanly.
    unsafe {
        libc::kill(headless.0.id() as i32, libc::SIGTERM);
    }
    next_event(&rx, "gateway.stopped", &mut seen);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = headless.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "headless did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let err = erx.recv_timeout(Duration::from_secs(5)).unwrap().join("\n");
    assert!(
        err.contains("new device pairing request from test-node"),
        "{err}"
    );
    assert!(
        !err.contains(&dm_code) && !err.contains(&code),
        "secret on stderr: {err}"
    );
    // Every stdout line was one JSON object (checked by the reader); nothing leaked the token.
    assert!(!seen.is_empty());
}

#[test]
fn headless_keeps_watching_files_when_the_port_is_busy() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let state = tempfile::tempdir().unwrap();
    let sp = state.path().to_str().unwrap();
    let mut headless = Kill(
        Command::new(BIN)
            .args(["--state-dir", sp, "--headless", "--port", &port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdin = headless.0.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = headless.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str::<serde_json::Value>(&line).unwrap())
                .is_err()
            {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let ev = next_event(&rx, "gateway.bind_failed", &mut seen);
    assert!(ev["addr"].as_str().unwrap().ends_with(&port));
    Command::new(BIN)
        .args([
            "--state-dir",
            sp,
            "pairing",
            "request",
            "signal",
            "+15550001",
        ])
        .output()
        .unwrap();
    let ev = next_event(&rx, "dm_request.created", &mut seen);
    assert_eq!(ev["channel"], "signal");
    // No setup code while the port is another gateway's: why, and what instead.
    use std::io::Write;
    writeln!(stdin, "setup-code").unwrap();
    stdin.flush().unwrap();
    let ev = next_event(&rx, "setup_code.refused", &mut seen);
    let why = ev["reason"].as_str().unwrap();
    assert!(why.starts_with("PORT BUSY"), "{why}");
    assert!(
        why.contains("openclaw qr") && why.contains("clawpair --url ws://"),
        "{why}"
    );
    assert!(!state.path().join("clawpair-setup-tokens.json").exists());
    unsafe {
        libc::kill(headless.0.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = headless.0.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(Instant::now() < deadline, "headless did not exit on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(busy);
}
