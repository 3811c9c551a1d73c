//! Interop with the real OpenClaw on 127.0.0.1, protocol 4: the 2026.9.6 node host and
//! `openclaw devices … --url` against clawpair's gateway; `openclaw node run --pair` with a
//! clawpair setup code; `clawpair join` with an `openclaw qr` code against the real 2026.9.6
//! gateway; a real node pinning clawpair's TLS certificate (and refusing a wrong pin); a revoked
//! node disconnected within 100 ms; the 2026.2.26 node host and CLI still on protocol 3.
//!
//! A module of the interop target: its scenarios take the target's one-at-a-time lock, skip
//! (or fail under `CI=true`) as the others do, and record their result in the summary that
//! `.ci/run` checks. They drive clawpair's gateway in-process (tests/support), so they are
//! async and keep their own process helpers. Facts relied on: docs/interop/openclaw-2026.9.6.md.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::interop_support;
use crate::support::{self, cfg, gateway, now, Gw, TOKEN};
use clawpair::devices::DeviceStore;
use clawpair::gateway::{setup, tls, GatewayEvent};
use clawpair::node::client;
use serde_json::{json, Value};

/// One `openclaw` CLI run: 2–4 s here, more on a loaded machine.
const OC_CLI: Duration = Duration::from_secs(180);
/// A node host's start to its first connect: 3–15 s here.
const NODE_START: Duration = Duration::from_secs(120);

/// One installed OpenClaw and the Node that runs it.
struct Oc {
    version: &'static str,
    node: PathBuf,
    entry: PathBuf,
    tmpdir: PathBuf,
}

fn install(version: &'static str) -> Option<Oc> {
    let cache = interop_support::cache_dir();
    let dir = cache.join(format!("openclaw-{version}"));
    let entry = dir.join("node_modules/openclaw/openclaw.mjs");
    let node = std::fs::read_dir(&cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("package/bin/node"))
        .find(|p| p.is_file())?;
    (entry.is_file()).then(|| Oc {
        version,
        node,
        entry,
        tmpdir: dir.join("tmp"),
    })
}

/// A child in its own process group, output into a log file; killed (group) on drop.
struct Proc {
    label: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_log(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let l = self.log();
            if ok(&l) {
                return l;
            }
            if t.elapsed() > timeout {
                panic!("{}: no {what} within {timeout:?}; log:\n{l}", self.label);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

struct Scenario {
    name: &'static str,
    oc: Oc,
    dir: tempfile::TempDir,
    started: Instant,
    passed: bool,
    _serial: std::sync::MutexGuard<'static, ()>,
}

fn begin(name: &'static str, version: &'static str) -> Option<Scenario> {
    let serial = interop_support::serial();
    let Some(oc) = install(version) else {
        interop_support::skipped(name, version, &format!("OpenClaw {version} not installed"));
        return None;
    };
    let dir = tempfile::Builder::new()
        .prefix(&format!("clawpair-interop-{}-", name.replace("::", "-")))
        .tempdir()
        .unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    Some(Scenario {
        name,
        oc,
        dir,
        started: Instant::now(),
        passed: false,
        _serial: serial,
    })
}

impl Scenario {
    fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn step(&self, what: &str) {
        eprintln!(
            "[{:7.2}s] {}: {what}",
            self.started.elapsed().as_secs_f64(),
            self.name
        );
    }

    /// `node openclaw.mjs ARGS` with OpenClaw's quiet, local environment.
    fn oc(&self, state: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.oc.node);
        c.arg(&self.oc.entry).args(args).env_clear();
        for k in ["PATH", "LANG", "LC_ALL"] {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.env("HOME", self.dir.path().join("home"))
            .env("OPENCLAW_STATE_DIR", state)
            .env("TMPDIR", &self.oc.tmpdir)
            .current_dir(self.dir.path());
        for (k, v) in [
            ("OPENCLAW_SKIP_CHANNELS", "1"),
            ("OPENCLAW_DISABLE_BONJOUR", "1"),
            ("OPENCLAW_SKIP_CRON", "1"),
            ("OPENCLAW_SKIP_GMAIL_WATCHER", "1"),
            ("OPENCLAW_SKIP_BROWSER_CONTROL_SERVER", "1"),
            ("OPENCLAW_SKIP_CANVAS_HOST", "1"),
            ("OPENCLAW_NO_RESPAWN", "1"),
            ("OPENCLAW_NO_AUTO_UPDATE", "1"),
            ("NO_COLOR", "1"),
        ] {
            c.env(k, v);
        }
        c
    }

    fn spawn(&self, label: &str, mut cmd: Command) -> Proc {
        let log = self.dir.path().join(format!("{label}.log"));
        let f = std::fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; children die with the test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start: {e}"));
        Proc {
            label: label.to_string(),
            child,
            log,
        }
    }

    /// Runs to the end; returns (exit code, stdout + stderr).
    async fn run(&self, label: &str, cmd: Command, timeout: Duration) -> (i32, String) {
        let mut p = self.spawn(label, cmd);
        let s = p
            .wait_exit(timeout)
            .await
            .unwrap_or_else(|| panic!("{label}: still running after {timeout:?}:\n{}", p.log()));
        (s.code().unwrap_or(-1), p.log())
    }

    async fn run_ok(&self, label: &str, cmd: Command, timeout: Duration) -> String {
        let (code, out) = self.run(label, cmd, timeout).await;
        assert_eq!(code, 0, "{label} failed:\n{out}");
        out
    }

    /// `openclaw node run` against `127.0.0.1:port` with the gateway token.
    fn node_host(&self, label: &str, state: &Path, port: u16, extra: &[&str]) -> Proc {
        let p = port.to_string();
        let mut args = vec![
            "node",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &p,
            "--display-name",
            label,
        ];
        args.extend_from_slice(extra);
        let mut c = self.oc(state, &args);
        c.env("OPENCLAW_GATEWAY_TOKEN", TOKEN);
        self.spawn(label, c)
    }

    /// `openclaw devices ARGS --url ws://127.0.0.1:port --token T`.
    fn devices(&self, url: &str, args: &[&str]) -> Command {
        let cli = self.mkdir("cli-state");
        let mut a = vec!["devices"];
        a.extend_from_slice(args);
        a.extend(["--url", url, "--token", TOKEN]);
        self.oc(&cli, &a)
    }

    fn pass(mut self) {
        let secs = self.started.elapsed().as_secs_f64();
        interop_support::passed(self.name, self.oc.version, secs);
        self.passed = true;
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if !self.passed {
            interop_support::failed(self.name, self.oc.version);
        }
    }
}

/// The pending request of the device named `name` in the gateway's files.
async fn pending_of(gw: &Gw, name: &str, timeout: Duration) -> (String, String) {
    let store = DeviceStore::new(gw.paths.devices_dir.clone());
    let t = Instant::now();
    loop {
        if let Ok(st) = store.load(now()) {
            if let Some(p) = st
                .pending
                .iter()
                .find(|p| p.display_name.as_deref() == Some(name))
            {
                return (p.request_id.clone(), p.device_id.clone());
            }
        }
        assert!(t.elapsed() < timeout, "no pending request from {name}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a gateway event matching `f`.
async fn event(gw: &mut Gw, timeout: Duration, f: impl Fn(&GatewayEvent) -> bool) -> GatewayEvent {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, gw.events.recv()).await {
            Ok(Some(e)) if f(&e) => return e,
            Ok(Some(_)) => {}
            _ => panic!("no such gateway event within {timeout:?}"),
        }
    }
}

fn connected(id: &str) -> impl Fn(&GatewayEvent) -> bool + '_ {
    move |e| matches!(e, GatewayEvent::DeviceConnected { device_id, .. } if device_id == id)
}

fn port_of(gw: &Gw) -> u16 {
    gw.handle.local_addr().unwrap().port()
}

/// An admin operator connection (protocol 4, no device) on `gw`.
async fn admin(gw: &Gw) -> client::ClientWs {
    let mut o = client::ConnectOptions::cli_operator(TOKEN).offering(4, 4);
    o.scopes = vec!["operator.admin".into()];
    let (ws, a) = support::connect(&gw.url, &o, None).await;
    support::hello(&a);
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2026_9_6_node_host_and_devices_cli_on_protocol_4() {
    let Some(s) = begin(
        "protocol4::v2026_9_6_node_host_and_devices_cli_on_protocol_4",
        "2026.9.6",
    ) else {
        return;
    };
    let mut gw = gateway(cfg()).await;
    let port = port_of(&gw);
    let n1_state = s.mkdir("n1");
    // The node host offers 4..4 and gets clawpair's protocol-4 `pairing required`.
    let n1 = s.node_host("n1", &n1_state, port, &[]);
    n1.wait_log("a paused reconnect", NODE_START, |l| {
        l.contains("reconnect paused") && l.contains("waiting for operator action")
    })
    .await;
    assert!(!n1.log().contains("protocol mismatch"), "{}", n1.log());
    let (rid, n1_id) = pending_of(&gw, "n1", Duration::from_secs(10)).await;
    s.step("node host pending on protocol 4");
    // `openclaw devices list --json --url`: the 2026.9.6 CLI connects on 4 and lists it.
    let out = s
        .run_ok(
            "devices-list",
            s.devices(&gw.url, &["list", "--json"]),
            OC_CLI,
        )
        .await;
    let json_start = out.find('{').unwrap();
    let v: Value = serde_json::from_str(&out[json_start..]).unwrap();
    assert_eq!(v["pending"][0]["requestId"], json!(rid), "{out}");
    // `devices approve`: denied for operator.pairing, retried as admin by the CLI.
    let out = s
        .run_ok(
            "devices-approve",
            s.devices(&gw.url, &["approve", &rid]),
            OC_CLI,
        )
        .await;
    assert!(out.contains(&format!("Approved {n1_id} ({rid})")), "{out}");
    s.step("openclaw devices list/approve --url");
    // The paused node must be restarted (as against OpenClaw); it connects on protocol 4.
    drop(n1);
    let n1 = s.node_host("n1b", &n1_state, port, &[]);
    event(&mut gw, NODE_START, connected(&n1_id)).await;
    n1.wait_log("connected", Duration::from_secs(10), |l| {
        l.contains("node host gateway connected")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = n1.log();
    assert!(!log.contains("unknown method"), "{log}");
    assert!(!log.contains("unauthorized role"), "{log}");
    s.step("node host connected, its publications answered");
    // A second node, rejected with the real CLI.
    let n2_state = s.mkdir("n2");
    let _n2 = s.node_host("n2", &n2_state, port, &[]);
    let (rid2, n2_id) = pending_of(&gw, "n2", NODE_START).await;
    let out = s
        .run_ok(
            "devices-reject",
            s.devices(&gw.url, &["reject", &rid2]),
            OC_CLI,
        )
        .await;
    assert!(out.contains(&format!("Rejected {n2_id}")), "{out}");
    s.step("openclaw devices reject --url");
    // Revoked over RPC: the node's connection is closed within 100 ms.
    let mut ws = admin(&gw).await;
    let t0 = Instant::now();
    let (r, _) = client::call(
        &mut ws,
        "device.token.revoke",
        json!({"deviceId": n1_id, "role": "node"}),
    )
    .await
    .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    event(&mut gw, Duration::from_secs(2), |e| {
        matches!(e, GatewayEvent::DeviceClosed { device_id, code: 4001, .. } if *device_id == n1_id)
    })
    .await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "revoked node closed after {took:?}"
    );
    n1.wait_log("4001", Duration::from_secs(10), |l| {
        l.contains("closed (4001): device removed")
    })
    .await;
    // Its reconnect with the gateway token asks for a repair (2026.9.6's behaviour).
    n1.wait_log("a role upgrade", Duration::from_secs(30), |l| {
        l.contains("role upgrade pending approval")
    })
    .await;
    s.step(&format!("revoked node disconnected after {took:?}"));
    // `devices remove` with the real CLI.
    let out = s
        .run_ok(
            "devices-remove",
            s.devices(&gw.url, &["remove", &n1_id]),
            OC_CLI,
        )
        .await;
    assert!(out.contains(&format!("Removed {n1_id}")), "{out}");
    let out = s
        .run_ok(
            "devices-list-2",
            s.devices(&gw.url, &["list", "--json"]),
            OC_CLI,
        )
        .await;
    let v: Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    assert_eq!(v["paired"], json!([]), "{out}");
    s.step("openclaw devices remove --url");
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2026_9_6_node_run_pair_with_a_clawpair_setup_code() {
    let Some(s) = begin(
        "protocol4::v2026_9_6_node_run_pair_with_a_clawpair_setup_code",
        "2026.9.6",
    ) else {
        return;
    };
    let mut gw = gateway(cfg()).await;
    let t = setup::create(&gw.paths, 600_000, now()).unwrap();
    let code = setup::encode_v4(&gw.url, &t.token, t.expires_at_ms, None);
    let b_state = s.mkdir("boot");
    let node = s.spawn(
        "boot",
        s.oc(
            &b_state,
            &["node", "run", "--pair", &code, "--display-name", "boot"],
        ),
    );
    let (rid, id) = pending_of(&gw, "boot", NODE_START).await;
    // pauseReconnect:false: it keeps retrying by itself.
    node.wait_log("two attempts", Duration::from_secs(30), |l| {
        l.matches("device pairing required").count() >= 2
    })
    .await;
    assert!(!node.log().contains("reconnect paused"), "{}", node.log());
    s.step("pending, retrying by itself");
    let out = Command::new(env!("CARGO_BIN_EXE_clawpair"))
        .arg("--state-dir")
        .arg(&gw.paths.state_dir)
        .args(["devices", "approve", &rid])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let t0 = Instant::now();
    // Its backoff doubles to 16 s, so it may take that long to come back.
    event(&mut gw, Duration::from_secs(60), connected(&id)).await;
    s.step(&format!(
        "approved in another process; connected {:.1}s later",
        t0.elapsed().as_secs_f64()
    ));
    // The same code on another node: spent (bound to the first), the node gives up.
    let o_state = s.mkdir("other");
    let mut other = s.spawn(
        "other",
        s.oc(
            &o_state,
            &["node", "run", "--pair", &code, "--display-name", "other"],
        ),
    );
    other
        .wait_log("the refusal", NODE_START, |l| {
            l.contains("setup code invalid, expired, revoked, or already used")
        })
        .await;
    assert!(other.wait_exit(Duration::from_secs(60)).await.is_some());
    // An expired code is refused by the node itself, before connecting.
    let expired = setup::encode_v4(&gw.url, "x".repeat(43).as_str(), 1000, None);
    let (code_rc, out) = s
        .run(
            "expired",
            s.oc(&s.mkdir("exp"), &["node", "run", "--pair", &expired]),
            OC_CLI,
        )
        .await;
    assert_ne!(code_rc, 0);
    assert!(out.contains("Pairing setup code has expired."), "{out}");
    s.step("spent and expired codes refused");
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2026_9_6_node_pins_the_tls_fingerprint() {
    let Some(s) = begin(
        "protocol4::v2026_9_6_node_pins_the_tls_fingerprint",
        "2026.9.6",
    ) else {
        return;
    };
    let st = s.mkdir("gw");
    let paths = clawpair::paths::Paths::resolve(Some(&st));
    let cert = tls::load_or_generate(&paths, &tls::TlsSource::default()).unwrap();
    let fp = cert.fingerprint;
    let mut c = cfg();
    c.tls = Some(cert);
    let gw = gateway(c).await;
    let port = port_of(&gw);
    // OpenClaw's colon form, as `openssl x509 -fingerprint -sha256` prints it.
    let good = tls::fingerprint_colons(&fp);
    let pinned = s.node_host(
        "pinned",
        &s.mkdir("pinned"),
        port,
        &["--tls", "--tls-fingerprint", &good],
    );
    pending_of(&gw, "pinned", NODE_START).await;
    pinned
        .wait_log("pairing required", Duration::from_secs(10), |l| {
            l.contains("pairing required")
        })
        .await;
    s.step("pinned node reached the wss:// gateway");
    let mut bad = fp;
    bad[31] ^= 0xff;
    let wrong = s.node_host(
        "wrong",
        &s.mkdir("wrong"),
        port,
        &["--tls", "--tls-fingerprint", &tls::fingerprint_hex(&bad)],
    );
    wrong
        .wait_log("a pin mismatch", NODE_START, |l| {
            l.contains("gateway tls fingerprint mismatch")
        })
        .await;
    let store = DeviceStore::new(gw.paths.devices_dir.clone());
    let st = store.load(now()).unwrap();
    assert!(
        !st.pending
            .iter()
            .any(|p| p.display_name.as_deref() == Some("wrong")),
        "a wrongly pinned node got through"
    );
    // The pinned session was not disturbed by the refused TLS handshakes.
    assert!(!pinned.log().contains("closed (1006)"), "{}", pinned.log());
    s.step("wrong pin refused");
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2026_9_6_clawpair_join_with_an_openclaw_qr_code() {
    let Some(s) = begin(
        "protocol4::v2026_9_6_clawpair_join_with_an_openclaw_qr_code",
        "2026.9.6",
    ) else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let st = s.mkdir("oc-gw");
    let log_file = s.dir.path().join("oc-gw-file.log");
    std::fs::write(
        st.join("openclaw.json"),
        serde_json::to_string_pretty(&json!({
            "gateway": {"mode": "local", "port": port, "bind": "loopback",
                        "auth": {"mode": "token", "token": TOKEN},
                        "nodes": {"pairing": {"autoApproveLocal": false}}},
            "update": {"checkOnStart": false},
            "discovery": {"mdns": {"mode": "off"}},
            "models": {"catalogRefresh": {"enabled": false}},
            "logging": {"file": log_file},
        }))
        .unwrap(),
    )
    .unwrap();
    let p = port.to_string();
    let gwp = s.spawn(
        "oc-gw",
        s.oc(
            &st,
            &[
                "gateway",
                "run",
                "--port",
                &p,
                "--bind",
                "loopback",
                "--allow-unconfigured",
            ],
        ),
    );
    gwp.wait_log("[gateway] ready", Duration::from_secs(300), |l| {
        l.contains("[gateway] ready")
    })
    .await;
    s.step("real 2026.9.6 gateway ready");
    let url = format!("ws://127.0.0.1:{port}");
    let out = s
        .run_ok(
            "qr",
            s.oc(&st, &["qr", "--setup-code-only", "--url", &url]),
            OC_CLI,
        )
        .await;
    let code = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ey"))
        .unwrap_or_else(|| panic!("no code in {out}"))
        .to_string();
    let decoded = setup::decode(&code).unwrap();
    assert!(decoded.bootstrap_token.is_some() && decoded.expires_at_ms.is_some());
    let node = s.mkdir("join");
    let mut j = Command::new(env!("CARGO_BIN_EXE_clawpair"));
    j.arg("--state-dir")
        .arg(&node)
        .args(["join", &code, "--name", "joiner"]);
    let join = s.spawn("join", j);
    let l = join
        .wait_log("waiting for approval", Duration::from_secs(60), |l| {
            l.contains("waiting for approval (request ")
        })
        .await;
    let rid = l
        .split("(request ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_string();
    s.step("clawpair join pending on the real gateway");
    s.run_ok("approve", s.devices(&url, &["approve", &rid]), OC_CLI)
        .await;
    join.wait_log("connected", Duration::from_secs(60), |l| {
        l.lines().any(|x| x == "connected")
    })
    .await;
    assert!(join.log().contains("gateway protocol 4"), "{}", join.log());
    s.step("clawpair join connected with its device token");
    s.pass();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2026_2_26_node_host_and_cli_still_on_protocol_3() {
    let Some(s) = begin(
        "protocol4::v2026_2_26_node_host_and_cli_still_on_protocol_3",
        "2026.2.26",
    ) else {
        return;
    };
    // 2026.2.26's CLI always sends a device block: paired silently on loopback,
    // as by OpenClaw 2026.2.26 itself (and so is the loopback node).
    let mut c = cfg();
    c.auto_approve_local = true;
    let mut gw = gateway(c).await;
    let port = port_of(&gw);
    let _n = s.node_host("n", &s.mkdir("n"), port, &[]);
    let id = match event(
        &mut gw,
        NODE_START,
        |e| matches!(e, GatewayEvent::DeviceConnected { role, .. } if role == "node"),
    )
    .await
    {
        GatewayEvent::DeviceConnected { device_id, .. } => device_id,
        _ => unreachable!(),
    };
    let out = s
        .run_ok(
            "devices-list",
            s.devices(&gw.url, &["list", "--json"]),
            OC_CLI,
        )
        .await;
    let v: Value = serde_json::from_str(&out[out.find('{').unwrap()..]).unwrap();
    assert!(
        v["paired"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["deviceId"] == json!(id)),
        "{out}"
    );
    s.step("2026.2.26 node host and CLI on protocol 3");
    s.pass();
}
