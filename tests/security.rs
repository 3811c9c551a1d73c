//! Security checks (issue 5). What `tests/gateway_e2e.rs` already proves is
//! referenced, not repeated; each item has its own test here:
//!
//! * setup tokens: single use, expiry, never operator access, guesses rate
//!   limited per address (`setup_tokens_*`; see also e2e
//!   `setup_tokens_are_short_lived_and_bound` for revoke/remove/reject);
//! * device tokens: compared in constant time (`token_comparison_*`),
//!   revoked and rotated-away tokens refused (`device_tokens_*`; see also e2e
//!   `node_pairing_flow_with_events_and_device_token`);
//! * no token or code in any log line at any level (`no_secret_in_any_log_line`
//!   for headless, CLI and `join`; `no_secret_in_the_console_log_file` for the
//!   terminal console's `$CLAWPAIR_LOG_FILE`; `no_secret_in_remote_mode_logs`
//!   for `--url` with `--token`, `--token-file`, `$OPENCLAW_GATEWAY_TOKEN`,
//!   `--password` and the device token stored in clawpair's config dir);
//! * files 0600 and created directories 0700 after every kind of write, also
//!   when the file existed with a looser mode (`every_write_*`, `existing_*`).

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clawpair::devices::DeviceStore;
use clawpair::gateway::{setup, GatewayConfig};
use clawpair::node::client::ConnectOptions;
use clawpair::node::identity::DeviceIdentity;
use clawpair::paths::Paths;
use serde_json::{json, Value};
use support::*;
#[path = "support/tmux.rs"]
mod tmux;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

// ------------------------------------------------------------ setup tokens

fn pending_devices(paths: &Paths) -> Vec<String> {
    pending_json(paths)
        .as_object()
        .map(|o| {
            o.values()
                .filter_map(|r| r["deviceId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn setup_tokens_are_single_use_expire_and_never_admit_an_operator() {
    let gw = gateway(cfg()).await;
    let st = setup::create(&gw.paths, 60_000, now()).unwrap();
    // Never operator access, with or without a device identity.
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(&st.token), None).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    let op = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &ConnectOptions::cli_operator(&st.token), Some(&op)).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    // The first device gets a pending request; a second device is refused and
    // creates nothing.
    let first = DeviceIdentity::generate(now());
    let second = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&first)).await;
    let rid = refused(&a).0["details"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&second)).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    assert_eq!(pending_devices(&gw.paths), vec![first.device_id.clone()]);
    // Approved, the first device collects its device token; the token is then
    // spent: still nothing for the second device.
    DeviceStore::new(gw.paths.devices_dir.clone())
        .approve(&rid, now())
        .unwrap();
    let (_ws, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&first)).await;
    assert!(hello(&a)["auth"]["deviceToken"].is_string());
    let spent = |paths: &Paths| {
        setup::find(paths, &st.token)
            .unwrap()
            .is_some_and(|e| e.void_reason.as_deref() == Some("paired"))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !spent(&gw.paths) {
        assert!(Instant::now() < deadline, "the token was never spent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&second)).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    assert!(pending_devices(&gw.paths).is_empty());
    // Expired: refused for a fresh device, no request.
    let old = setup::create(&gw.paths, 1_000, now() - 2_000).unwrap();
    let fresh = DeviceIdentity::generate(now());
    let (_, a) = connect(&gw.url, &node_opts(Some(&old.token)), Some(&fresh)).await;
    assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    assert!(pending_devices(&gw.paths).is_empty());
    assert!(setup::find(&gw.paths, &old.token)
        .unwrap()
        .unwrap()
        .device_id
        .is_none());
}

#[tokio::test]
async fn setup_token_guesses_are_rate_limited_per_address() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 5;
    let gw = gateway(c).await;
    let st = setup::create(&gw.paths, 60_000, now()).unwrap();
    // Guesses from a remote-looking address (the owner's 127.0.0.1 is exempt).
    for _ in 0..5 {
        let guess = clawpair::gateway::crypto::new_token();
        let d = DeviceIdentity::generate(now());
        let (_, a) = connect_from(REMOTE, &gw.url, &node_opts(Some(&guess)), Some(&d)).await;
        assert_eq!(refused(&a).0["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    // Locked out: even the right token is refused, and it is not bound.
    let d = DeviceIdentity::generate(now());
    let (_, a) = connect_from(REMOTE, &gw.url, &node_opts(Some(&st.token)), Some(&d)).await;
    let (e, close) = refused(&a);
    assert_eq!(e["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(e["retryable"], true);
    assert!(e["retryAfterMs"].as_u64().unwrap() > 0);
    assert_eq!(close.unwrap().0, 1008);
    let entry = setup::find(&gw.paths, &st.token).unwrap().unwrap();
    assert!(
        entry.device_id.is_none(),
        "a locked-out attempt binds nothing"
    );
    assert!(pending_devices(&gw.paths).is_empty());
    // Per address: another address is not affected.
    let (_, a) = connect(&gw.url, &node_opts(Some(&st.token)), Some(&d)).await;
    assert_eq!(refused(&a).0["message"], "pairing required");
}

// ----------------------------------------------------------- device tokens

#[test]
fn token_comparison_refuses_other_lengths_and_other_bytes() {
    use clawpair::devices::tokens_equal;
    use clawpair::gateway::crypto::secrets_equal;
    let t = clawpair::devices::new_token();
    let mut same_len = t.clone().into_bytes();
    let last = same_len.len() - 1;
    same_len[last] = if same_len[last] == b'A' { b'B' } else { b'A' };
    let same_len = String::from_utf8(same_len).unwrap();
    let first_differs = format!("{}{}", if t.starts_with('x') { 'y' } else { 'x' }, &t[1..]);
    for eq in [tokens_equal, secrets_equal] {
        assert!(eq(&t, &t.clone()));
        assert!(!eq(&t, &same_len), "same length, last byte differs");
        assert!(!eq(&t, &first_differs), "same length, first byte differs");
        assert!(!eq(&t, &t[..t.len() - 1]), "a prefix");
        assert!(!eq(&t, &format!("{t}x")), "an extension");
        assert!(!eq(&t, ""), "empty");
        assert!(!eq("", &t), "empty");
    }
}

fn src_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            src_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Structural: no timing test (it would be flaky); instead the source says
/// how secrets are compared, and this test keeps it that way.
#[test]
fn token_comparison_is_constant_time_by_construction() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let body = |src: &str, sig: &str| {
        let start = src.find(sig).unwrap_or_else(|| panic!("{sig} not found"));
        let end = start + src[start..].find("\n}\n").unwrap();
        src[start..end].to_string()
    };
    // The one comparison function hashes both sides (so length leaks nothing)
    // and compares the digests with `subtle`; device tokens use it by name.
    assert!(read("src/devices/state/mod.rs")
        .contains("pub use crate::secret::secrets_equal as tokens_equal;"));
    let b = body(&read("src/secret.rs"), "pub fn secrets_equal(");
    assert!(b.contains("Sha256::digest(a"), "{b}");
    assert!(b.contains("Sha256::digest(b"), "{b}");
    assert!(b.contains("ct_eq("), "{b}");
    assert!(!b.contains("=="), "{b}");
    // Device-token auth goes through it…
    let verify = body(
        &read("src/devices/state/transitions.rs"),
        "pub fn verify_token(",
    );
    assert!(
        verify.contains("tokens_equal(token, &rec.token)"),
        "{verify}"
    );
    // …and so do the gateway's checks of the shared token and the nonce.
    let mut gateway = Vec::new();
    src_files(&root.join("src/gateway"), &mut gateway);
    let gateway: String = gateway
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(gateway.contains("crypto::secrets_equal(t, &hub.cfg.token)"));
    assert!(gateway.contains("crypto::secrets_equal(&device.nonce, &peer.nonce)"));
    // …and nothing in src compares a token with `==`/`!=` (string literals
    // and the few non-secret names below aside), nor defines a second comparison.
    let mut files = Vec::new();
    src_files(&root.join("src"), &mut files);
    let definitions: Vec<String> = files
        .iter()
        .filter(|f| {
            let s = std::fs::read_to_string(f).unwrap();
            s.contains("fn secrets_equal(") || s.contains("fn tokens_equal(")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(definitions.len(), 1, "{definitions:?}");
    let mut found = Vec::new();
    for f in files {
        for (n, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let mut code = String::new();
            let mut in_str = false;
            for ch in line.split("//").next().unwrap_or("").chars() {
                if ch == '"' {
                    in_str = !in_str;
                } else if !in_str {
                    code.push(ch);
                }
            }
            let code = code
                .to_lowercase()
                .replace("token_state", "")
                .replace("tokenstate", "")
                .replace("token_env", "")
                .replace("device_token.is_none()", "");
            if code.contains("token") && (code.contains("==") || code.contains("!=")) {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "compare secrets with secrets_equal/tokens_equal: {found:#?}"
    );
}

fn seed_paired(paths: &Paths, id: &DeviceIdentity) -> String {
    let store = DeviceStore::new(paths.devices_dir.clone());
    support::seed_paired(&store, std::slice::from_ref(id), false).remove(0)
}

fn with_device_token(t: &str) -> ConnectOptions {
    let mut o = node_opts(Some(t));
    o.device_token = Some(t.to_string());
    o
}

fn assert_token_refused(a: &clawpair::node::client::ConnectAnswer) {
    let (e, close) = refused(a);
    assert_eq!(
        e["message"],
        "unauthorized: device token mismatch (rotate/reissue device token)"
    );
    assert_eq!(
        e["details"],
        json!({"code": "AUTH_DEVICE_TOKEN_MISMATCH", "authReason": "device_token_mismatch"})
    );
    let (code, reason) = close.unwrap();
    assert_eq!(code, 1008);
    assert!(reason.contains("device token mismatch"), "{reason}");
}

#[tokio::test]
async fn device_tokens_wrong_rotated_and_revoked_are_refused() {
    let mut c = cfg();
    c.max_failed_handshakes_per_minute = 1000;
    let gw = gateway(c).await;
    let id = DeviceIdentity::generate(now());
    let t1 = seed_paired(&gw.paths, &id);
    let (_ws, a) = connect(&gw.url, &with_device_token(&t1), Some(&id)).await;
    assert_eq!(hello(&a)["auth"]["deviceToken"], json!(t1));
    // Same length with one byte changed, a prefix, an extension: refused.
    let mut b = t1.clone().into_bytes();
    b[10] = if b[10] == b'A' { b'B' } else { b'A' };
    for wrong in [
        String::from_utf8(b).unwrap(),
        t1[..42].to_string(),
        format!("{t1}A"),
    ] {
        let (_, a) = connect(&gw.url, &with_device_token(&wrong), Some(&id)).await;
        assert_token_refused(&a);
    }
    // Another device's valid token does not admit this one.
    let other = DeviceIdentity::generate(now());
    let t_other = seed_paired(&gw.paths, &other);
    let (_, a) = connect(&gw.url, &with_device_token(&t_other), Some(&id)).await;
    assert_token_refused(&a);
    // Rotated (what `clawpair devices rotate` does): the old token is refused,
    // the new one accepted.
    let store = DeviceStore::new(gw.paths.devices_dir.clone());
    let t2 = store
        .rotate(&id.device_id, "node", None, now())
        .unwrap()
        .token;
    assert_ne!(t1, t2);
    let (_, a) = connect(&gw.url, &with_device_token(&t1), Some(&id)).await;
    assert_token_refused(&a);
    let (_ws2, a) = connect(&gw.url, &with_device_token(&t2), Some(&id)).await;
    assert_eq!(hello(&a)["auth"]["deviceToken"], json!(t2));
    // Revoked: refused, and the revocation stays in the file.
    store.revoke(&id.device_id, "node", now()).unwrap();
    let (_, a) = connect(&gw.url, &with_device_token(&t2), Some(&id)).await;
    assert_token_refused(&a);
    assert!(paired_json(&gw.paths)[&id.device_id]["tokens"]["node"]["revokedAtMs"].is_i64());
}

// ------------------------------------------------------------ no secret logged

/// Everything the processes wrote, split by the rule: a command's *result*
/// (the code `pairing request` prints, the setup code of `setup-code`, the
/// token of `gateway token` and `devices rotate`, the `setup_code.issued`
/// line the owner asked the headless console for) is what the owner asked
/// to see; everything else — every stderr line (tracing at every level and
/// the human lines), every other stdout line, every log file — must not
/// contain any secret.
#[derive(Default)]
struct Output {
    logs: Vec<(String, String)>,
    results: Vec<String>,
}

impl Output {
    /// Runs a CLI command with tracing at its most verbose.
    fn run(&mut self, state: &Path, args: &[&str], stdout_is_result: bool) -> String {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(state)
            .args(args)
            .env("CLAWPAIR_LOG", "trace")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?}: {stderr}");
        self.logs.push((format!("{args:?} stderr"), stderr));
        if stdout_is_result {
            self.results.push(stdout.clone());
        } else {
            self.logs.push((format!("{args:?} stdout"), stdout.clone()));
        }
        stdout
    }
}

/// Lines of a child's stream, forwarded as they come and kept.
fn pipe_lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(
    rx: &mpsc::Receiver<String>,
    kept: &mut Vec<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                kept.push(l.clone());
                if pred(&l) {
                    return l;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no {what}; saw {kept:#?}");
}

fn drain(rx: &mpsc::Receiver<String>, kept: &mut Vec<String>) {
    // The writer has exited or been killed: read to the end of the pipe.
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        kept.push(l);
    }
}

fn setup_token_of(code: &str) -> String {
    setup::decode(code).unwrap().secret().unwrap().to_string()
}

fn spawn_join(node: &Path, code: &str, log: &Path) -> (support::Kill, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("--state-dir")
        .arg(node)
        .args(["join", code, "--name", "sec-node"])
        .env("CLAWPAIR_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let rx = pipe_lines(child.stdout.take().unwrap());
    (support::Kill(child), rx)
}

#[test]
fn no_secret_in_any_log_line() {
    let state_dir = tempfile::tempdir().unwrap();
    let node_dir = tempfile::tempdir().unwrap();
    let logs_dir = tempfile::tempdir().unwrap();
    let (state, node) = (state_dir.path(), node_dir.path());
    for d in [state, node] {
        // Private like a real state dir (doctor would report a 0755 temp dir).
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut out = Output::default();
    let gateway_token = out
        .run(state, &["gateway", "token", "--generate"], true)
        .trim()
        .to_string();
    assert_eq!(gateway_token.len(), 43);

    let mut headless = support::Kill(
        Command::new(BIN)
            .arg("--state-dir")
            .arg(state)
            .args(["--headless", "--port", "0", "--no-auto-approve-local"])
            .env("CLAWPAIR_LOG", "trace")
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdin = headless.0.stdin.take().unwrap();
    let hout = pipe_lines(headless.0.stdout.take().unwrap());
    let herr = pipe_lines(headless.0.stderr.take().unwrap());
    let mut hlines = Vec::new();
    let ev = |name: &'static str| move |l: &str| l.contains(&format!("\"event\":\"{name}\""));
    let listening = wait_line(&hout, &mut hlines, "listening", ev("gateway.listening"));
    let addr = serde_json::from_str::<Value>(&listening).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let port = addr.rsplit(':').next().unwrap().to_string();

    // DM: a request approved and one rejected, from other processes. Wait
    // until the console is past its first read (it reports only what is new).
    let mut dm_codes = Vec::new();
    let mut reported = false;
    for k in 0..10 {
        let ch = format!("probe{k}");
        let v: Value =
            serde_json::from_str(&out.run(state, &["pairing", "request", &ch, "1"], true)).unwrap();
        dm_codes.push(v["code"].as_str().unwrap().to_string());
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(l) = hout.recv_timeout(left) {
                hlines.push(l.clone());
                if l.contains("dm_request.created") && l.contains(&ch) {
                    reported = true;
                    break;
                }
            }
        }
        if reported {
            break;
        }
    }
    assert!(reported, "the console never reported a DM request");
    for (ch, id, verb) in [("telegram", "42", "approve"), ("signal", "43", "reject")] {
        let v: Value =
            serde_json::from_str(&out.run(state, &["pairing", "request", ch, id], true)).unwrap();
        let code = v["code"].as_str().unwrap().to_string();
        wait_line(&hout, &mut hlines, "dm created", |l| {
            l.contains("dm_request.created") && l.contains(ch)
        });
        out.run(state, &["pairing", verb, ch, &code], false);
        dm_codes.push(code);
    }

    // Setup codes: one from the CLI (2026.2.26 form: its node keeps
    // presenting it after a rotation), one asked of the headless console.
    let v: Value = serde_json::from_str(&out.run(
        state,
        &["setup-code", "--port", &port, "--json", "--legacy"],
        true,
    ))
    .unwrap();
    let setup_code = v["setupCode"].as_str().unwrap().to_string();
    writeln!(stdin, "setup-code").unwrap();
    stdin.flush().unwrap();
    let issued = wait_line(&hout, &mut hlines, "issued", ev("setup_code.issued"));
    hlines.pop(); // the owner asked for this one: a result, not a log line
    out.results.push(issued.clone());
    let setup_code2 = serde_json::from_str::<Value>(&issued).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();

    // A node joins with the setup code, is approved from another shell and
    // stores its device token.
    let join_log1 = logs_dir.path().join("join1.log");
    let (join, jout) = spawn_join(node, &setup_code, &join_log1);
    let mut jlines = Vec::new();
    let created = wait_line(
        &hout,
        &mut hlines,
        "device request",
        ev("device_request.created"),
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    let rid = created["request_id"].as_str().unwrap().to_string();
    let device_id = created["device_id"].as_str().unwrap().to_string();
    out.run(state, &["devices", "approve", &rid], false);
    wait_line(&jout, &mut jlines, "connected", |l| l == "connected");
    let auth_file = node.join("identity/device-auth.json");
    let stored = |f: &Path| -> String {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        v["tokens"]["node"]["token"].as_str().unwrap().to_string()
    };
    let t1 = stored(&auth_file);
    drop(join);
    drain(&jout, &mut jlines);

    // Rotated: the new token is the command's result. The node, restarted,
    // is refused with the old one, drops it and gets the new one.
    let rotated: Value = serde_json::from_str(&out.run(
        state,
        &[
            "devices", "rotate", "--device", &device_id, "--role", "node",
        ],
        true,
    ))
    .unwrap();
    let t2 = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(t2.len(), 43, "rotate prints the new token");
    let join_log2 = logs_dir.path().join("join2.log");
    let (join, jout) = spawn_join(node, &setup_code, &join_log2);
    wait_line(&jout, &mut jlines, "reconnected", |l| l == "connected");
    assert_eq!(stored(&auth_file), t2);
    out.run(
        state,
        &[
            "devices", "revoke", "--device", &device_id, "--role", "node",
        ],
        false,
    );
    out.run(state, &["devices", "list"], false);
    out.run(state, &["devices", "list", "--json"], false);
    out.run(state, &["pairing", "list", "telegram", "--json"], false);
    out.run(
        state,
        &["pairing", "allowlist", "telegram", "--json"],
        false,
    );
    out.run(state, &["doctor"], false);
    drop(join);
    drain(&jout, &mut jlines);

    unsafe {
        libc::kill(headless.0.id() as i32, libc::SIGTERM);
    }
    wait_line(&hout, &mut hlines, "stopped", ev("gateway.stopped"));
    drop(stdin);
    let _ = headless.0.wait();
    drain(&hout, &mut hlines);
    let mut herr_lines = Vec::new();
    drain(&herr, &mut herr_lines);

    out.logs.push(("headless stdout".into(), hlines.join("\n")));
    out.logs
        .push(("headless stderr".into(), herr_lines.join("\n")));
    out.logs.push(("join stdout".into(), jlines.join("\n")));
    for f in [&join_log1, &join_log2] {
        out.logs
            .push((f.display().to_string(), std::fs::read_to_string(f).unwrap()));
    }
    // The decision history holds every decision of the session (none twice)
    // and is searched for secrets like every log.
    let audit = std::fs::read_to_string(state.join("clawpair-audit.jsonl")).unwrap();
    let mut decisions: Vec<String> = audit
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                v["action"].as_str().unwrap(),
                v["via"].as_str().unwrap()
            )
        })
        .collect();
    decisions.sort();
    let mut want = vec![
        "approve cli",           // telegram 42
        "reject cli",            // signal 43
        "setup_code.issued cli", // setup-code
        "setup_code.issued headless",
        "setup_code.redeemed gateway",
        "approve cli", // the node
        "rotate cli",
        "revoke cli",
    ];
    want.sort();
    assert_eq!(decisions, want, "{audit}");
    assert!(
        hlines
            .iter()
            .any(|l| l.contains("\"event\":\"decision.recorded\"")),
        "headless reports what it records"
    );
    out.logs.push(("audit log".into(), audit));
    // Tracing was really on: the wire and runtime libraries logged at trace level.
    let herr_text = herr_lines.join("\n");
    assert!(
        herr_text.contains("TRACE") && herr_text.contains("DEBUG"),
        "{herr_text}"
    );

    let mut secrets: HashMap<&str, String> = HashMap::new();
    secrets.insert("gateway token", gateway_token.clone());
    secrets.insert("setup code", setup_code.clone());
    secrets.insert("setup token", setup_token_of(&setup_code));
    secrets.insert("setup code 2", setup_code2.clone());
    secrets.insert("setup token 2", setup_token_of(&setup_code2));
    secrets.insert("device token", t1.clone());
    secrets.insert("rotated device token", t2.clone());
    for (i, c) in dm_codes.iter().enumerate() {
        secrets.insert(
            ["dm code 0", "dm code 1", "dm code 2", "dm code 3"][i.min(3)],
            c.clone(),
        );
    }
    assert!(dm_codes.len() >= 3);
    for (what, secret) in &secrets {
        // Long secrets are also looked for by their first 16 characters (a
        // truncated token is still a leak).
        let needles: Vec<&str> = if secret.len() > 16 {
            vec![secret.as_str(), &secret[..16]]
        } else {
            vec![secret.as_str()]
        };
        for (source, text) in &out.logs {
            for n in &needles {
                assert!(!text.contains(n), "{what} in {source}");
            }
        }
    }
    // The results did carry what they promise (so the rule above is not vacuous).
    let results = out.results.join("\n");
    for s in [&gateway_token, &setup_code, &setup_code2, &t2, &dm_codes[0]] {
        assert!(results.contains(s.as_str()));
    }
}

// ------------------------------------------------------------------ file modes

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every file under `root` is 0600 and every directory 0700. A lock or temp
/// file of a write still in flight (the gateway spends a setup token after
/// `hello-ok`) may vanish during the walk; while it exists it is checked too.
fn assert_all_private(root: &Path, step: &str) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{step}: directory {}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else {
                let m = meta.permissions().mode() & 0o7777;
                assert_eq!(m, 0o600, "{step}: file {}", p.display());
            }
        }
    }
}

fn loosen(p: &Path) {
    if p.exists() {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

fn run_ok(state: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn dm_code(stdout: &str) -> String {
    serde_json::from_str::<Value>(stdout).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every kind of write, each first on a fresh path (directories it creates
/// must be 0700, files 0600) and then over a file loosened to 0644 (the
/// rewrite — temp file created 0600, renamed over — tightens it). After every
/// step the whole state tree is checked, not only the file written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_leaves_files_0600_and_new_directories_0700() {
    let root = tempfile::tempdir().unwrap();
    // The state dirs are the test's (an explicit one must exist), 0700 like
    // OpenClaw's; everything clawpair creates inside them is checked.
    let state = root.path().join("state");
    let node = root.path().join("node");
    for d in [&state, &node] {
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let s = state.as_path();
    let paths = Paths::resolve(Some(s));
    let cred = paths.credentials_dir.clone();
    let step = |name: &str| {
        assert_all_private(&state, name);
        if node.exists() {
            assert_all_private(&node, name);
        }
    };

    // DM requests, approve, reject, allow-list add, revoke.
    let c1 = dm_code(&run_ok(s, &["pairing", "request", "telegram", "1001"]));
    step("pairing request (new files and directories)");
    let pairing = cred.join("telegram-pairing.json");
    loosen(&pairing);
    let c2 = dm_code(&run_ok(s, &["pairing", "request", "telegram", "1002"]));
    step("pairing request over a 0644 file");
    let allow = cred.join("telegram-default-allowFrom.json");
    std::fs::write(&allow, "{\n  \"version\": 1,\n  \"allowFrom\": []\n}\n").unwrap();
    loosen(&allow);
    loosen(&pairing);
    run_ok(s, &["pairing", "approve", "telegram", &c1]);
    step("pairing approve over 0644 pairing and allow-list files");
    loosen(&pairing);
    run_ok(s, &["pairing", "reject", "telegram", &c2]);
    step("pairing reject over a 0644 file");
    let dm = clawpair::dm::store::DmStore::for_paths(&paths);
    dm.allow_add("signal", Some("work"), "77").unwrap();
    step("allow-list add (new file)");
    loosen(&cred.join("signal-work-allowFrom.json"));
    dm.allow_add("signal", Some("work"), "78").unwrap();
    step("allow-list add over a 0644 file");
    loosen(&allow);
    run_ok(s, &["pairing", "revoke", "telegram", "1001"]);
    step("pairing revoke over a 0644 file");

    // Devices: the gateway creates pending.json and writes paired.json.
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let mut c = GatewayConfig::new("127.0.0.1", 0, TOKEN);
    c.auto_approve_local = false;
    let gw = clawpair::gateway::start(c, paths.clone(), tx).await;
    let url = format!("ws://{}", gw.local_addr().unwrap());
    let ids: Vec<DeviceIdentity> = (0..3).map(|_| DeviceIdentity::generate(now())).collect();
    let mut rids = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        if k > 0 {
            loosen(&paths.pending_devices());
        }
        let (_, a) = connect(&url, &node_opts(Some(TOKEN)), Some(id)).await;
        rids.push(
            refused(&a).0["details"]["requestId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        step("gateway: pending request");
    }
    run_ok(s, &["devices", "approve", &rids[0]]);
    step("devices approve (new paired.json)");
    loosen(&paths.pending_devices());
    loosen(&paths.paired_devices());
    run_ok(s, &["devices", "approve", &rids[1]]);
    step("devices approve over 0644 files");
    // A device-token login records lastUsedAtMs: the gateway rewrites paired.json.
    loosen(&paths.paired_devices());
    let t0 = paired_json(&paths)[&ids[0].device_id]["tokens"]["node"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut o = node_opts(Some(&t0));
    o.device_token = Some(t0.clone());
    let (_ws, a) = connect(&url, &o, Some(&ids[0])).await;
    hello(&a);
    assert!(paired_json(&paths)[&ids[0].device_id]["tokens"]["node"]["lastUsedAtMs"].is_i64());
    step("gateway: paired.json written on connect, over a 0644 file");
    loosen(&paths.pending_devices());
    run_ok(s, &["devices", "reject", &rids[2]]);
    step("devices reject over a 0644 file");
    let d0 = ids[0].device_id.as_str();
    loosen(&paths.paired_devices());
    run_ok(s, &["devices", "rotate", "--device", d0, "--role", "node"]);
    step("devices rotate over a 0644 file");
    loosen(&paths.paired_devices());
    run_ok(s, &["devices", "revoke", "--device", d0, "--role", "node"]);
    step("devices revoke over a 0644 file");
    loosen(&paths.paired_devices());
    run_ok(s, &["devices", "remove", &ids[1].device_id]);
    step("devices remove over a 0644 file");

    // Setup tokens and the generated gateway token.
    let port = gw.local_addr().unwrap().port().to_string();
    run_ok(s, &["setup-code", "--port", &port]);
    step("setup-code (new file)");
    loosen(&s.join(setup::SETUP_FILE));
    let code_out = run_ok(s, &["setup-code", "--port", &port, "--json"]);
    step("setup-code over a 0644 file");
    run_ok(s, &["gateway", "token", "--generate"]);
    step("gateway token (generated file)");

    // A file set aside by a repair: by doctor, and by a write command's --repair.
    let broken = cred.join("discord-pairing.json");
    std::fs::write(&broken, "{broken").unwrap();
    loosen(&broken);
    run_ok(s, &["doctor", "--repair"]);
    step("doctor --repair");
    std::fs::write(&broken, "{broken").unwrap();
    loosen(&broken);
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(s)
        .args(["pairing", "approve", "discord", "ABCDEFGH", "--repair"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no such code, but repaired");
    step("pairing approve --repair sets a 0644 file aside");
    // Temp + rename, as another process would: the live gateway's watcher must
    // not catch a truncated file half-written.
    clawpair::fsutil::write_atomic(&paths.paired_devices(), b"{broken").unwrap();
    loosen(&paths.paired_devices());
    let _ = Command::new(BIN)
        .arg("--state-dir")
        .arg(s)
        .args(["devices", "remove", "nobody", "--repair"])
        .output()
        .unwrap();
    step("devices remove --repair sets a 0644 file aside");
    let aside = std::fs::read_dir(&paths.devices_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count();
    assert_eq!(aside, 1, "paired.json was set aside");

    // The identity files `join` creates, in its own state dir.
    let code = serde_json::from_str::<Value>(&code_out).unwrap()["setupCode"]
        .as_str()
        .unwrap()
        .to_string();
    let mut join = support::Kill(
        Command::new(BIN)
            .arg("--state-dir")
            .arg(&node)
            .args(["join", &code, "--name", "mode-node"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let jout = pipe_lines(join.0.stdout.take().unwrap());
    let mut kept = Vec::new();
    let line = wait_line(&jout, &mut kept, "request id", |l| {
        l.starts_with("waiting for approval")
    });
    let rid = line
        .split("(request ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    run_ok(s, &["devices", "approve", &rid]);
    wait_line(&jout, &mut kept, "connected", |l| l == "connected");
    assert!(node.join("identity/device-auth.json").exists());
    step("join: identity/device.json and device-auth.json");
    drop(join);
    gw.shutdown();
    gw.wait().await;
}

/// Existing directories keep their mode (as in OpenClaw, spec dm-pairing §2:
/// "existing directories are not re-moded"); `doctor` reports them and
/// `doctor --repair` tightens them.
#[test]
fn existing_directories_keep_their_mode_until_doctor_repairs_them() {
    let root = tempfile::tempdir().unwrap();
    let s = root.path();
    let cred = s.join("credentials");
    std::fs::create_dir(&cred).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o755)).unwrap();
    run_ok(s, &["pairing", "request", "telegram", "1"]);
    assert_eq!(mode(&cred), 0o755);
    assert_eq!(mode(&cred.join("telegram-pairing.json")), 0o600);
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(s)
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("credentials"));
    run_ok(s, &["doctor", "--repair"]);
    assert_eq!(mode(&cred), 0o700);
    assert_all_private(s, "after doctor --repair");
}

// ------------------------------------------- the terminal console's log file

/// The terminal console writes its logs to `$CLAWPAIR_LOG_FILE`: at trace
/// level, through a DM approval, a setup code shown in the popup and a node
/// pairing over its gateway, the file holds none of the secrets. The popup's
/// setup token is never printed anywhere the test can read, so the log is
/// searched for it by hash: no 43-character window of the log hashes to a
/// stored setup token.
#[test]
#[ignore = "needs tmux (apt-get install tmux): cargo test -- --include-ignored, as .ci/run does"]
fn no_secret_in_the_console_log_file() {
    Tmux::require();
    let state_dir = tempfile::tempdir().unwrap();
    let node_dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let state = state_dir.path();
    let log = logs.path().join("console.log");
    let gateway_token = run_ok(state, &["gateway", "token", "--generate"])
        .trim()
        .to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let cmd = format!(
        "env CLAWPAIR_LOG=trace CLAWPAIR_LOG_FILE={} {BIN} --state-dir {} --port {port} \
         --no-auto-approve-local --no-notify",
        log.display(),
        state.display()
    );
    let t = Tmux::start("sec", 100, 30, &cmd);
    let screen = || t.screen();
    let keys = |k: &str| t.keys(k);
    let wait = |what: &str, ok: &dyn Fn() -> bool| t.wait_for(what, Duration::from_secs(20), ok);
    wait("console", &|| screen().contains("listening"));

    // A DM request approved with `a` (the card) and `y`.
    let dm = dm_code(&run_ok(state, &["pairing", "request", "telegram", "4242"]));
    wait("request on screen", &|| screen().contains(&dm));
    // (Keys within 0.5 s of the cursor landing on the new row are ignored.)
    std::thread::sleep(Duration::from_millis(700));
    keys("a");
    wait("the card", &|| screen().contains("Approve this DM sender?"));
    keys("y");
    let allow = state.join("credentials/telegram-default-allowFrom.json");
    wait("approval", &|| {
        std::fs::read_to_string(&allow).is_ok_and(|s| s.contains("4242"))
    });
    // A setup code shown in the popup.
    keys("s");
    let setup_file = state.join(setup::SETUP_FILE);
    wait("setup code", &|| {
        std::fs::read_to_string(&setup_file).is_ok_and(|s| s.contains("tokenHash"))
    });
    keys("Escape");
    // A node pairs over the console's gateway with a setup code from the CLI.
    let v: Value =
        serde_json::from_str(&run_ok(state, &["setup-code", "--port", &port, "--json"])).unwrap();
    let code = v["setupCode"].as_str().unwrap().to_string();
    let (join, jout) = spawn_join(node_dir.path(), &code, &logs.path().join("join.log"));
    let mut kept = Vec::new();
    let line = wait_line(&jout, &mut kept, "request id", |l| {
        l.starts_with("waiting for approval")
    });
    let rid = line
        .split("(request ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    run_ok(state, &["devices", "approve", &rid]);
    wait_line(&jout, &mut kept, "connected", |l| l == "connected");
    let auth: Value = serde_json::from_str(
        &std::fs::read_to_string(node_dir.path().join("identity/device-auth.json")).unwrap(),
    )
    .unwrap();
    let device_token = auth["tokens"]["node"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    drop(join);
    keys("q");
    t.wait_for("the console to quit", Duration::from_secs(10), || {
        !t.alive()
    });

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("TRACE") && text.contains("DEBUG"), "{text}");
    for (what, s) in [
        ("gateway token", gateway_token.as_str()),
        ("DM code", dm.as_str()),
        ("setup code", code.as_str()),
        ("setup token", &setup_token_of(&code)),
        ("device token", device_token.as_str()),
    ] {
        assert!(!text.contains(s), "{what} in the console log");
    }
    let stored: Vec<String> =
        serde_json::from_str::<Value>(&std::fs::read_to_string(&setup_file).unwrap()).unwrap()
            ["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["tokenHash"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(stored.len(), 2, "the popup's and the CLI's setup tokens");
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for run in text.split(|c: char| !b64url(c)).filter(|r| r.len() >= 43) {
        // A whole setup code (base64url JSON holding the token)…
        if let Some(t) = setup::decode(run).and_then(|p| p.secret().map(str::to_string)) {
            let h = clawpair::gateway::crypto::sha256_hex(&t);
            assert!(!stored.contains(&h), "a setup code in the console log");
        }
        // …or the bare token.
        for i in 0..=run.len() - 43 {
            let h = clawpair::gateway::crypto::sha256_hex(&run[i..i + 43]);
            assert!(!stored.contains(&h), "a setup token in the console log");
        }
    }
}

// ------------------------------------------------------------ remote mode

/// The operator client's secrets — the shared token given with `--token`, in
/// `--token-file` or `$OPENCLAW_GATEWAY_TOKEN`, a password, and the device
/// token issued to clawpair's own identity and stored in its config dir —
/// appear in no log line, no event and no output (whole or by their first 16
/// characters), at `CLAWPAIR_LOG=trace`; the config dir is 0700, its files 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_remote_mode_logs() {
    let gw = gateway(cfg()).await;
    let cfg_dir = tempfile::tempdir().unwrap();
    let xdg = cfg_dir.path().to_path_buf();
    let token_file = xdg.join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let url = gw.url.clone();
    let mut logs: Vec<String> = Vec::new();
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        let xdg = xdg.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut c = Command::new(BIN);
                c.args(&args)
                    .env("CLAWPAIR_LOG", "trace")
                    .env("XDG_CONFIG_HOME", &xdg)
                    .env_remove("OPENCLAW_GATEWAY_TOKEN");
                for (k, v) in env {
                    c.env(k, v);
                }
                let o = c.output().unwrap();
                (
                    o.status.success(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // --token, --token-file, the environment, a wrong password.
    for (args, env) in [
        (
            s(&["devices", "list", "--url", &url, "--token", TOKEN]),
            vec![],
        ),
        (
            s(&[
                "devices",
                "list",
                "--json",
                "--url",
                &url,
                "--token-file",
                token_file.to_str().unwrap(),
            ]),
            vec![],
        ),
        (
            s(&["devices", "list", "--url", &url]),
            vec![("OPENCLAW_GATEWAY_TOKEN", TOKEN.to_string())],
        ),
        (
            s(&[
                "devices",
                "list",
                "--url",
                &url,
                "--password",
                "hunter2-password-0123456789",
            ]),
            vec![],
        ),
        (
            s(&[
                "devices",
                "list",
                "--url",
                &url,
                "--token",
                "wrong-token-0123456789abcdefghijklmn",
            ]),
            vec![],
        ),
    ] {
        let (_, out, err) = run(args, env).await;
        logs.push(out);
        logs.push(err);
    }
    // Pair clawpair's own identity (headless, --as-device), then use its device token alone.
    let mut headless = support::Kill(
        Command::new(BIN)
            .args([
                "--headless",
                "--url",
                &url,
                "--token-file",
                token_file.to_str().unwrap(),
                "--as-device",
            ])
            .env("CLAWPAIR_LOG", "trace")
            .env("XDG_CONFIG_HOME", &xdg)
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let hout = pipe_lines(headless.0.stdout.take().unwrap());
    let herr = pipe_lines(headless.0.stderr.take().unwrap());
    let mut hlines = Vec::new();
    let line = tokio::task::block_in_place(|| {
        wait_line(&hout, &mut hlines, "pairing required", |l| {
            l.contains("pairing_required")
        })
    });
    let rid = serde_json::from_str::<Value>(&line).unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    DeviceStore::new(gw.paths.devices_dir.clone())
        .approve(&rid, now())
        .unwrap();
    tokio::task::block_in_place(|| {
        wait_line(&hout, &mut hlines, "connected", |l| {
            l.contains(r#""state":"connected""#)
        })
    });
    unsafe { libc::kill(headless.0.id() as i32, libc::SIGTERM) };
    let _ = headless.0.wait();
    drain(&hout, &mut hlines);
    drain(&herr, &mut hlines);
    logs.extend(hlines);
    let url_p = clawpair::operator::GatewayUrl::parse(&url).unwrap();
    let store = clawpair::operator::ConfigDir::at(xdg.join("clawpair"));
    let device_token = store
        .gateway(&url_p)
        .unwrap()
        .device_token
        .expect("a stored device token");
    let (ok, out, err) = run(s(&["devices", "list", "--url", &url]), vec![]).await;
    assert!(ok, "the stored device token alone admits: {err}");
    logs.push(out);
    logs.push(err);
    for secret in [
        TOKEN,
        device_token.as_str(),
        "hunter2-password-0123456789",
        "wrong-token-0123456789abcdefghijklmn",
    ] {
        for l in &logs {
            assert!(
                !l.contains(secret) && !l.contains(&secret[..16]),
                "a secret leaked: {l}"
            );
        }
    }
    assert_eq!(mode(&xdg.join("clawpair")), 0o700);
    for f in [store.identity_file(), store.gateway_file(&url_p)] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
