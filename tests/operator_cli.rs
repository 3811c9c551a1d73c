//! The CLI verbs and the headless console with `--url`, against clawpair's
//! own gateway on 127.0.0.1: the same output as the local verbs on the same
//! state, clear failures, and no secret in any output or log line.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clawpair::node::identity::DeviceIdentity;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

struct Out {
    ok: bool,
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_env(args: &[&str], env: &[(&str, &str)], cfg: &std::path::Path) -> Out {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env("XDG_CONFIG_HOME", cfg)
        .env("CLAWPAIR_LOG", "trace")
        .env("COLUMNS", "120");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    Out {
        ok: o.status.success(),
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

async fn run(args: Vec<String>, cfg: std::path::PathBuf) -> Out {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run_env(&a, &[], &cfg)
    })
    .await
    .unwrap()
}

fn args(base: &[&str], url: &str) -> Vec<String> {
    let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    v.extend([
        "--url".to_string(),
        url.to_string(),
        "--token".to_string(),
        TOKEN.to_string(),
    ]);
    v
}

fn local(base: &[&str], state: &std::path::Path) -> Vec<String> {
    let mut v = vec!["--state-dir".to_string(), state.display().to_string()];
    v.extend(base.iter().map(|s| s.to_string()));
    v
}

async fn pending_node(gw: &Gw, id: &DeviceIdentity) -> String {
    let (_ws, a) = connect(&gw.url, &node_opts(Some(TOKEN)), Some(id)).await;
    let (e, _) = refused(&a);
    e["details"]["requestId"].as_str().unwrap().to_string()
}

fn no_secret(o: &Out) {
    assert!(
        !o.stderr.contains(TOKEN) && !o.stderr.contains(&TOKEN[..16]),
        "token in stderr: {}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_verbs_through_the_gateway_print_what_the_local_verbs_print() {
    let gw = gateway(cfg()).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfgdir = tmp.path().to_path_buf();
    let state = gw.paths.state_dir.clone();
    let a = DeviceIdentity::generate(now());
    let b = DeviceIdentity::generate(now());
    let ra = pending_node(&gw, &a).await;
    let rb = pending_node(&gw, &b).await;

    // list: the same JSON and the same table.
    for base in [&["devices", "list", "--json"][..], &["devices", "list"][..]] {
        let remote = run(args(base, &gw.url), cfgdir.clone()).await;
        let here = run(local(base, &state), cfgdir.clone()).await;
        assert!(remote.ok, "{}", remote.stderr);
        assert_eq!(remote.stdout, here.stdout, "{base:?}");
        no_secret(&remote);
    }
    // approve (explicit id), text.
    let o = run(args(&["devices", "approve", &ra], &gw.url), cfgdir.clone()).await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(o.stdout, format!("Approved {} ({ra})\n", a.device_id));
    // reject, --json.
    let o = run(
        args(&["devices", "reject", &rb, "--json"], &gw.url),
        cfgdir.clone(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["deviceId"], serde_json::json!(b.device_id));
    // rotate prints the new token (the owner asked for it), revoke its time.
    let o = run(
        args(
            &[
                "devices",
                "rotate",
                "--device",
                &a.device_id,
                "--role",
                "node",
            ],
            &gw.url,
        ),
        cfgdir.clone(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    // Protocol 4 (as OpenClaw 2026.9): the new token goes only to the device
    // itself; another operator is told it was withheld.
    assert_eq!(v["tokenDelivery"], "withheld-cross-device", "{v}");
    assert!(v.get("token").is_none(), "{v}");
    assert!(v["rotatedAtMs"].as_i64().is_some(), "{v}");
    let o = run(
        args(
            &[
                "devices",
                "revoke",
                "--device",
                &a.device_id,
                "--role",
                "node",
            ],
            &gw.url,
        ),
        cfgdir.clone(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("revokedAtMs"));
    // remove.
    let o = run(
        args(&["devices", "remove", &a.device_id], &gw.url),
        cfgdir.clone(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(o.stdout, format!("Removed {}\n", a.device_id));
    // An unknown id: the gateway's message, exit 1.
    let o = run(
        args(&["devices", "reject", "nope"], &gw.url),
        cfgdir.clone(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("unknown requestId"), "{}", o.stderr);
    // approve with no id takes the newest; nothing pending says so.
    let o = run(args(&["devices", "approve"], &gw.url), cfgdir.clone()).await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("No pending device pairing requests to approve"),
        "{}",
        o.stderr
    );
    let c = DeviceIdentity::generate(now());
    let rc = pending_node(&gw, &c).await;
    let o = run(
        args(&["devices", "approve", "--latest"], &gw.url),
        cfgdir.clone(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains(&rc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_flags_files_or_the_environment_and_are_never_echoed() {
    let gw = gateway(cfg()).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfgdir = tmp.path().to_path_buf();
    let tf = tmp.path().join("token");
    std::fs::write(&tf, format!("{TOKEN}\n")).unwrap();
    let url = gw.url.clone();
    let o = {
        let (url, tf, cfgdir) = (url.clone(), tf.clone(), cfgdir.clone());
        tokio::task::spawn_blocking(move || {
            run_env(
                &[
                    "devices",
                    "list",
                    "--json",
                    "--url",
                    &url,
                    "--token-file",
                    tf.to_str().unwrap(),
                ],
                &[],
                &cfgdir,
            )
        })
        .await
        .unwrap()
    };
    assert!(o.ok, "{}", o.stderr);
    let o = {
        let (url, cfgdir) = (url.clone(), cfgdir.clone());
        tokio::task::spawn_blocking(move || {
            run_env(
                &["devices", "list", "--json", "--url", &url],
                &[("OPENCLAW_GATEWAY_TOKEN", TOKEN)],
                &cfgdir,
            )
        })
        .await
        .unwrap()
    };
    assert!(o.ok, "{}", o.stderr);
    no_secret(&o);
    // A wrong token: explained, not echoed.
    let wrong = "wrong-token-0123456789abcdefghijkl";
    let o = {
        let (url, cfgdir) = (url.clone(), cfgdir.clone());
        tokio::task::spawn_blocking(move || {
            run_env(
                &["devices", "list", "--url", &url, "--token", wrong],
                &[],
                &cfgdir,
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("gateway token mismatch") && o.stderr.contains("--token"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains(wrong) && !o.stdout.contains(wrong));
    // Usage errors: flags without --url, plain ws:// to a public address, a bad pin.
    let o = run(
        vec![
            "devices".into(),
            "list".into(),
            "--token".into(),
            "x".into(),
        ],
        cfgdir.clone(),
    )
    .await;
    assert_eq!(o.code, 2, "{}", o.stderr);
    let o = run(
        args(&["devices", "list"], "ws://8.8.8.8:18789"),
        cfgdir.clone(),
    )
    .await;
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("wss://"), "{}", o.stderr);
    let o = run(
        args(
            &["devices", "list", "--tls-fingerprint", "zz"],
            "wss://127.0.0.1:1",
        ),
        cfgdir.clone(),
    )
    .await;
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("Invalid TLS fingerprint"), "{}", o.stderr);
    // Unreachable: exit 1 at once with what was tried.
    let o = run(
        args(&["devices", "list"], "ws://127.0.0.1:1"),
        cfgdir.clone(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("not reachable"), "{}", o.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_and_node_verbs_say_plainly_what_this_gateway_lacks() {
    let gw = gateway(cfg()).await;
    let tmp = tempfile::tempdir().unwrap();
    let o = run(
        args(&["pairing", "list", "telegram"], &gw.url),
        tmp.path().to_path_buf(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no DM pairing RPCs"), "{}", o.stderr);
    let o = run(
        args(&["nodes", "pending"], &gw.url),
        tmp.path().to_path_buf(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no node pairing RPCs"), "{}", o.stderr);
    let o = run(
        vec!["nodes".into(), "pending".into()],
        tmp.path().to_path_buf(),
    )
    .await;
    assert_eq!(o.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_remote_console_streams_status_and_requests() {
    let gw = gateway(cfg()).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--headless", "--url", &gw.url, "--token", TOKEN])
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("CLAWPAIR_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let t2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = t2.send(l);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let (etx, erx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(l);
        }
    });
    let mut seen = Vec::new();
    let mut expect = |needle: &str, secs: u64| -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = seen.iter().find(|l: &&String| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {needle:?} in {seen:?}"));
            if let Ok(l) = rx.recv_timeout(left) {
                seen.push(l);
            }
        }
    };
    let l = tokio::task::block_in_place(|| expect(r#""state":"connected""#, 10));
    assert!(
        l.contains(r#""event":"remote.status""#) && l.contains("operator.pairing"),
        "{l}"
    );
    // Let the first listing land: a request already there when it does is not "new".
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let node = DeviceIdentity::generate(now());
    let t0 = Instant::now();
    let rid = pending_node(&gw, &node).await;
    let l = tokio::task::block_in_place(|| expect("device_request.created", 5));
    assert!(l.contains(&rid), "{l}");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "shown within 1 s of the request: {:?}",
        t0.elapsed()
    );
    // Approved by someone else (the files' owner): "elsewhere".
    clawpair::devices::DeviceStore::new(gw.paths.devices_dir.clone())
        .approve(&rid, now())
        .unwrap();
    // The clawpair gateway notices the file change and announces it.
    let l = tokio::task::block_in_place(|| expect("device_request.approved", 10));
    assert!(l.contains("elsewhere"), "{l}");
    // The gateway goes away: reconnecting.
    gw.handle.shutdown();
    let _ = tokio::task::block_in_place(|| expect(r#""state":"reconnecting""#, 10));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success());
    let stderr: Vec<String> = erx.try_iter().collect();
    let all = format!("{}\n{}", stderr.join("\n"), seen.join("\n"));
    assert!(
        !all.contains(TOKEN) && !all.contains(&TOKEN[..16]),
        "a secret was printed"
    );
}

/// Regression: `--url` & co. after a verb are the verb's own flags, not the
/// console's (the check that refuses console flags with a subcommand saw them
/// too, so every verb with `--url` exited 2 before it reached the gateway).
#[test]
fn url_flags_after_a_verb_reach_the_verb() {
    let cfg = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tf = cfg.path().join("token");
    std::fs::write(&tf, "x").unwrap();
    // A port nobody listens on: the verb must get as far as connecting.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let st = state.path().to_str().unwrap();
    for a in [
        &["devices", "list", "--json", "--url", &url, "--token", "x"][..],
        &[
            "devices",
            "--url",
            &url,
            "--token-file",
            tf.to_str().unwrap(),
            "list",
        ],
        &[
            "--state-dir",
            st,
            "nodes",
            "pending",
            "--json",
            "--url",
            &url,
            "--token",
            "x",
        ],
        &["devices", "approve", "r1", "--url", &url, "--password", "x"],
        &["pairing", "list", "telegram", "--url", &url, "--token", "x"],
    ] {
        let o = run_env(a, &[], cfg.path());
        assert!(
            !o.stderr.contains("only apply to the console"),
            "{a:?}: {}",
            o.stderr
        );
        assert_eq!(o.code, 1, "{a:?}: {}", o.stderr);
    }
}

/// `devices approve --url` without an id approves only the one pending
/// request (as the local verb and OpenClaw 2026.9); with several it lists
/// them and approves none. Every decision made with `--url` is in clawpair's
/// config-dir history, named by the gateway's URL, with no token in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_without_an_id_and_the_history_of_url_decisions() {
    let gw = gateway(cfg()).await;
    let cfgdir = tempfile::tempdir().unwrap();
    let (a, b) = (
        DeviceIdentity::generate(now()),
        DeviceIdentity::generate(now()),
    );
    let ra = pending_node(&gw, &a).await;
    let rb = pending_node(&gw, &b).await;
    let o = run(
        args(&["devices", "approve"], &gw.url),
        cfgdir.path().to_path_buf(),
    )
    .await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("2 pending device pairing requests; approved none"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&ra) && o.stderr.contains(&rb),
        "{}",
        o.stderr
    );
    // Reject one; the other is then the only one.
    let o = run(
        args(&["devices", "reject", &rb], &gw.url),
        cfgdir.path().to_path_buf(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    let o = run(
        args(&["devices", "approve"], &gw.url),
        cfgdir.path().to_path_buf(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stderr.contains("approving the only pending request"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, format!("Approved {} ({ra})\n", a.device_id));
    let o = run(
        args(&["devices", "remove", &a.device_id], &gw.url),
        cfgdir.path().to_path_buf(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);

    let log = std::fs::read_to_string(cfgdir.path().join("clawpair/audit.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["subject"]["device_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("reject", b.device_id.as_str()),
            ("approve", a.device_id.as_str()),
            ("remove", a.device_id.as_str()),
        ],
        "{log}"
    );
    for r in &recs {
        assert_eq!(r["via"], "cli");
        assert_eq!(r["result"], "ok");
        assert_eq!(r["where"], gw.url.as_str(), "{r}");
    }
    assert_eq!(recs[1]["subject"]["request_id"], ra.as_str());
    assert!(!log.contains(TOKEN), "the gateway token in the history");
    // `clawpair history` shows them.
    let o = run(
        vec!["history".into(), "--json".into()],
        cfgdir.path().to_path_buf(),
    )
    .await;
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains(&a.device_id), "{}", o.stdout);
}
