//! End-to-end with the real binary: `clawpair gateway`, `clawpair setup-code`,
//! `clawpair join` and `clawpair devices approve|reject` as separate processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
        }
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it.
    fn expect(&mut self, needle: &str, secs: u64) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line containing {needle:?}; saw {:?}", self.seen);
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new, empty state dir `<dir>/<name>` (an explicit --state-dir must exist).
fn new_state(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir(&p).unwrap();
    p
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn setup_code(gw_state: &str, port: u16, ttl: &str) -> String {
    let url = format!("ws://127.0.0.1:{port}");
    let (ok, out, err) = run(&[
        "--state-dir",
        gw_state,
        "setup-code",
        "--url",
        &url,
        "--ttl",
        ttl,
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["gatewayUrl"], url.as_str());
    v["setupCode"].as_str().unwrap().to_string()
}

fn request_id(line: &str) -> String {
    line.split("(request ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string()
}

#[test]
fn join_pending_approve_via_cli_then_reject_and_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let gw_state = new_state(dir.path(), "gw");
    let gw_state = gw_state.to_str().unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let mut gw = Proc::spawn(&[
        "--state-dir",
        gw_state,
        "gateway",
        "--port",
        &port_s,
        "--no-auto-approve-local",
    ]);
    gw.expect("listening on ws://", 20);
    // The token file is private and the token never appears in the log.
    let (ok, token, _) = run(&["--state-dir", gw_state, "gateway", "token"]);
    assert!(ok);
    let token = token.trim().to_string();
    assert_eq!(token.len(), 43);

    // 1. join -> pending -> `clawpair devices approve` (another process) -> hello-ok with token.
    let code = setup_code(gw_state, port, "10m");
    let node1 = new_state(dir.path(), "node1");
    let mut join = Proc::spawn(&[
        "--state-dir",
        node1.to_str().unwrap(),
        "join",
        &code,
        "--name",
        "node-one",
    ]);
    let line = join.expect("waiting for approval (request ", 20);
    let rid = request_id(&line);
    let (ok, out, err) = run(&["--state-dir", gw_state, "devices", "approve", &rid]);
    assert!(ok, "{out}{err}");
    join.expect("approved; device token stored", 20);
    join.expect("connected", 5);
    let auth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(node1.join("identity/device-auth.json")).unwrap(),
    )
    .unwrap();
    let dev_token = auth["tokens"]["node"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let paired: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("gw/devices/paired.json")).unwrap(),
    )
    .unwrap();
    let device_id = auth["deviceId"].as_str().unwrap();
    assert_eq!(
        paired[device_id]["tokens"]["node"]["token"],
        dev_token.as_str()
    );
    assert_eq!(paired[device_id]["displayName"], "node-one");
    gw.expect(&format!("connected: {device_id}"), 5);

    // 2. The setup code is void now: a second machine cannot use it.
    let node2 = new_state(dir.path(), "node2");
    let (ok, _, err) = run(&["--state-dir", node2.to_str().unwrap(), "join", &code]);
    assert!(!ok);
    assert!(err.contains("setup code"), "{err}");

    // 3. Reject: join reports it and exits non-zero.
    let code2 = setup_code(gw_state, port, "10m");
    let node3 = new_state(dir.path(), "node3");
    let mut join3 = Proc::spawn(&["--state-dir", node3.to_str().unwrap(), "join", &code2]);
    let rid3 = request_id(&join3.expect("waiting for approval (request ", 20));
    let (ok, out, err) = run(&["--state-dir", gw_state, "devices", "reject", &rid3]);
    assert!(ok, "{out}{err}");
    join3.expect("rejected", 30);

    // 4. Expired code refused.
    let code3 = setup_code(gw_state, port, "1ms");
    std::thread::sleep(Duration::from_millis(50));
    let node4 = new_state(dir.path(), "node4");
    let (ok, _, err) = run(&["--state-dir", node4.to_str().unwrap(), "join", &code3]);
    assert!(!ok);
    assert!(err.contains("expired"), "{err}");

    // 5. Clean stop on SIGTERM; the token never reached the log.
    unsafe {
        libc::kill(gw.child.id() as i32, libc::SIGTERM);
    }
    gw.expect("clawpair gateway stopped", 10);
    join.expect("gateway is shutting down", 10);
    gw.drain();
    join.drain();
    let all = gw.seen.join("\n") + &join.seen.join("\n");
    assert!(!all.contains(&token));
    assert!(!all.contains(&dev_token));
    let approvals = gw
        .seen
        .iter()
        .filter(|l| l.contains(&format!("pairing approved: request {rid}")))
        .count();
    assert_eq!(approvals, 1, "{:?}", gw.seen);

    // The decision history: each decision once, where it was made (the
    // gateway records what it did: the setup codes redeemed; the CLI its
    // approval and rejection, which the gateway only announced).
    let log = std::fs::read_to_string(dir.path().join("gw/clawpair-audit.jsonl")).unwrap();
    let mut made: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                v["action"].as_str().unwrap(),
                v["via"].as_str().unwrap()
            )
        })
        .collect();
    made.sort();
    assert_eq!(
        made,
        [
            "approve cli",
            "reject cli",
            "setup_code.issued cli",
            "setup_code.issued cli",
            "setup_code.issued cli",
            "setup_code.redeemed gateway",
            "setup_code.redeemed gateway",
        ],
        "{log}"
    );
    for secret in [&token, &dev_token, &code, &code2] {
        assert!(!log.contains(secret.as_str()), "a secret in the audit log");
    }
}

#[test]
fn setup_code_only_while_a_gateway_listens_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().to_str().unwrap();
    // Nothing listens for this state dir: no code, and why.
    let (ok, out, err) = run(&["--state-dir", s, "setup-code"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("no clawpair gateway is listening"), "{err}");
    assert!(!dir.path().join("clawpair-setup-tokens.json").exists());

    let port = free_port();
    let port_s = port.to_string();
    let mut gw = Proc::spawn(&["--state-dir", s, "gateway", "--port", &port_s]);
    gw.expect("listening on ws://", 20);
    // The URL and port come from the gateway that listens; loopback is warned about.
    let (ok, out, err) = run(&["--state-dir", s, "setup-code"]);
    assert!(ok, "{err}");
    assert!(err.contains("only bound to loopback"), "{err}");
    assert!(out.contains("Setup code: ey"));
    assert!(
        out.contains(&format!("Gateway: ws://127.0.0.1:{port}")),
        "{out}"
    );
    assert!(out.contains("openclaw node run --pair ey"), "{out}");
    let code = out
        .lines()
        .find_map(|l| l.strip_prefix("Setup code: "))
        .unwrap();
    let p = clawpair::gateway::setup::decode(code).unwrap();
    assert!(p.bootstrap_token.is_some() && p.token.is_none(), "{p:?}");
    assert!(p.expires_at_ms.unwrap() > clawpair::clock::now_ms());
    // 2026.9 codes keep an explicit URL's path; cleartext to a LAN host is warned about.
    let (ok, out, _) = run(&[
        "--state-dir",
        s,
        "setup-code",
        "--url",
        "https://gw.example.ts.net/some/path",
        "--json",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["gatewayUrl"], "wss://gw.example.ts.net/some/path");
    assert_eq!(v["format"], "2026.9");
    let (ok, _, err) = run(&[
        "--state-dir",
        s,
        "setup-code",
        "--url",
        "ws://192.168.77.1:1",
    ]);
    assert!(ok && err.contains("phone apps refuse it"), "{err}");
    // The 2026.2.26 form for older nodes, and the oc-pair:// form.
    let (ok, out, _) = run(&["--state-dir", s, "setup-code", "--legacy", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "2026.2.26");
    let p = clawpair::gateway::setup::decode(v["setupCode"].as_str().unwrap()).unwrap();
    assert!(p.token.is_some() && p.bootstrap_token.is_none() && p.expires_at_ms.is_none());
    let (ok, out, _) = run(&["--state-dir", s, "setup-code", "--oc-pair", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["setupCode"].as_str().unwrap().starts_with("oc-pair://ey"));
    let file = dir.path().join("clawpair-setup-tokens.json");
    let meta = std::fs::metadata(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // A port that is not the listening gateway's is refused.
    let (ok, _, err) = run(&["--state-dir", s, "setup-code", "--port", "1"]);
    assert!(
        !ok && err.contains(&format!("listens on port {port}")),
        "{err}"
    );
    let (ok, _, err) = run(&["--state-dir", s, "setup-code", "--ttl", "soon"]);
    assert!(!ok && err.contains("--ttl"));
    // Once the gateway stops, no more codes.
    let _ = gw.child.kill();
    let _ = gw.child.wait();
    let (ok, _, err) = run(&["--state-dir", s, "setup-code"]);
    assert!(
        !ok && err.contains("no clawpair gateway is listening"),
        "{err}"
    );
}

#[test]
fn key_change_means_a_new_request_and_revoke_refuses_the_old_token() {
    let dir = tempfile::tempdir().unwrap();
    let gw_state = new_state(dir.path(), "gw");
    let gw_state = gw_state.to_str().unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let mut gw = Proc::spawn(&[
        "--state-dir",
        gw_state,
        "gateway",
        "--port",
        &port_s,
        "--no-auto-approve-local",
    ]);
    gw.expect("listening on ws://", 20);
    let node = new_state(dir.path(), "node");
    let node_s = node.to_str().unwrap();
    let pair = |code: &str| {
        let mut join = Proc::spawn(&["--state-dir", node_s, "join", code, "--name", "n"]);
        let dev = join.expect("device ", 20);
        let rid = request_id(&join.expect("waiting for approval (request ", 20));
        let (ok, out, err) = run(&["--state-dir", gw_state, "devices", "approve", &rid]);
        assert!(ok, "{out}{err}");
        join.expect("connected", 20);
        (join, dev.trim_start_matches("device ").to_string())
    };
    let (join, dev1) = pair(&setup_code(gw_state, port, "10m"));
    drop(join);
    // The node's key changes (identity lost): a new device, a new request.
    std::fs::remove_file(node.join("identity/device.json")).unwrap();
    std::fs::remove_file(node.join("identity/device-auth.json")).unwrap();
    let code2 = setup_code(gw_state, port, "10m");
    let (join, dev2) = pair(&code2);
    assert_ne!(dev1, dev2);
    drop(join);
    let tokens = std::fs::read_to_string(dir.path().join("gw/clawpair-setup-tokens.json")).unwrap();
    assert!(tokens.contains("\"voidReason\": \"paired\""), "{tokens}");
    // Revoke the node token: the stored device token is refused, the used
    // setup code cannot bring it back, join says so and exits non-zero.
    let (ok, out, err) = run(&[
        "--state-dir",
        gw_state,
        "devices",
        "revoke",
        "--device",
        &dev2,
        "--role",
        "node",
    ]);
    assert!(ok, "{out}{err}");
    let mut join = Proc::spawn(&["--state-dir", node_s, "join", &code2]);
    join.expect("stored device token refused", 20);
    join.expect("setup code", 20);
    let status = join.child.wait().unwrap();
    assert!(!status.success());
}
