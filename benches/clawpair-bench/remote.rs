//! The console attached to a gateway over WebSocket (`clawpair --url`),
//! against the release `clawpair gateway` over loopback:
//!
//! 1. approve round trip: the `a` key handled by the engine until the
//!    gateway's `device.pair.resolved` for that request is seen (by a second
//!    operator connection in the same process), 200 requests;
//! 2. event → row drawn: a node's `device.pair.requested` seen until a frame
//!    showing its row is drawn (the engine re-lists on the event);
//! 3. idle CPU of the real attached console in tmux (60 s, or
//!    `CONSOLE_BENCH_IDLE_SECS`);
//! 4. RSS of the real attached console with 1,000 paired devices listed;
//! 5. the same approval through whole processes: `clawpair devices approve
//!    --url` and the real `openclaw devices approve --url` (OpenClaw 2026.2.26,
//!    whose CLI speaks protocol 3 like clawpair's gateway), and the ratio to
//!    the console's round trip; skipped with a row saying so when OpenClaw is
//!    not installed (`scripts/install-openclaw.sh`).

use std::process::Command;
use std::time::{Duration, Instant};

use clawpair::app::msg::Msg;
use clawpair::app::state::Pane;
use clawpair::node::client::{self, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use clawpair::operator::session::{self, ConnectSpec, Credentials, Shared};
use clawpair::operator::{api, ConfigDir, GatewayUrl, Remote};
use clawpair::runtime::{Engine, Options};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::gateway::{rss_kib, start_gateway, TOKEN};
use crate::tmux::TmuxConsole;
use crate::Row;

struct Null;
impl clawpair::runtime::Output for Null {
    fn emit(&mut self, _: &clawpair::app::Event) {}
    fn notify(&mut self, _: &str) {}
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn remote(url: &str, cfg: &std::path::Path) -> Remote {
    Remote {
        url: GatewayUrl::parse(url).unwrap(),
        shared: Some(Shared::Token(TOKEN.into())),
        explicit_pin: None,
        as_device: false,
        config: ConfigDir::at(cfg),
    }
}

/// A node asks to pair (its connect ends in NOT_PAIRED); returns the request id.
async fn node_request(url: &str) -> String {
    let id = DeviceIdentity::generate(clawpair::clock::now_ms());
    let mut o = ConnectOptions::node(Some("bench-node".into()));
    o.token = Some(TOKEN.into());
    let (mut ws, nonce) = client::open(url).await.unwrap();
    let a = client::handshake(&mut ws, &o, Some(&id), &nonce, clawpair::clock::now_ms())
        .await
        .unwrap();
    match a {
        client::ConnectAnswer::Refused { error, .. } => {
            error["details"]["requestId"].as_str().unwrap().to_string()
        }
        other => panic!("expected pairing required, got {other:?}"),
    }
}

/// Parts 1 and 2. Returns the approve round trips (ms) for part 5's ratio.
fn round_trips(rows: &mut Vec<Row>, url: &str) -> Vec<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let n: usize = std::env::var("BENCH_REMOTE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let theme = clawpair::ui::Theme::color();
    let (mut approve, mut drawn) = rt.block_on(async {
        let opts = Options {
            port: 0,
            remote: Some(remote(url, cfg.path())),
            ..Options::new(clawpair::paths::Paths::resolve(Some(cfg.path())))
        };
        let mut engine = Engine::start(&opts, Box::new(clawpair::clipboard::MemoryClipboard::default()), Box::new(Null));
        let listener = session::connect(&ConnectSpec::operator(
            GatewayUrl::parse(url).unwrap(),
            Credentials { shared: Some(Shared::Token(TOKEN.into())), ..Credentials::default() },
            // Protocol 4: approving a node needs operator.admin (the console asks for it too).
            api::scopes(&[api::PAIRING, api::ADMIN]),
        ))
        .await
        .unwrap();
        let mut events = listener.subscribe();
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        // Until attached and listed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(engine.state.remote.as_ref().is_some_and(|r| r.is_connected()) && engine.state.devices_loaded) {
            assert!(Instant::now() < deadline, "console did not attach");
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), engine.rx.recv()).await {
                engine.handle(m);
            }
        }
        engine.state.focus = Pane::Devices;
        let (mut approve, mut drawn) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let url2 = url.to_string();
            let node = tokio::spawn(async move { node_request(&url2).await });
            // 2. event → row drawn.
            let mut t_ev: Option<Instant> = None;
            let mut rid: Option<String> = None;
            loop {
                tokio::select! {
                    e = events.recv() => {
                        let e = e.unwrap();
                        if e.name == "device.pair.requested" && t_ev.is_none() {
                            t_ev = Some(Instant::now());
                            rid = e.payload["requestId"].as_str().map(str::to_string);
                        }
                    }
                    Some(m) = engine.rx.recv() => engine.handle(m),
                }
                while let Ok(m) = engine.rx.try_recv() {
                    engine.handle(m);
                }
                if let (Some(t), Some(r)) = (t_ev, &rid) {
                    if engine.state.devices.iter().any(|x| &x.item.request_id == r) {
                        term.draw(|f| clawpair::ui::render(f, &engine.state, &theme)).unwrap();
                        drawn.push(t.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                }
            }
            let rid = rid.unwrap();
            assert_eq!(node.await.unwrap(), rid);
            // 1. key → resolved seen. `a` opens the approval card, `y` sends the
            // approval: timed from `y`. A key within 0.5 s of the selected row
            // changing by itself is ignored, so let that pass first (untimed).
            let settle = Instant::now() + Duration::from_millis(600);
            while Instant::now() < settle {
                if let Ok(Some(m)) =
                    tokio::time::timeout(Duration::from_millis(50), engine.rx.recv()).await
                {
                    engine.handle(m);
                }
            }
            engine.handle(Msg::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)));
            assert!(
                matches!(engine.state.mode, clawpair::app::state::Mode::Card(_)),
                "a did not open the approval card"
            );
            let t0 = Instant::now();
            engine.handle(Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE)));
            let mut seen = false;
            while !seen || engine.state.devices.iter().any(|x| x.item.request_id == rid) {
                tokio::select! {
                    e = events.recv() => {
                        let e = e.unwrap();
                        if !seen && e.name == "device.pair.resolved" && e.payload["requestId"].as_str() == Some(rid.as_str()) {
                            approve.push(t0.elapsed().as_secs_f64() * 1000.0);
                            seen = true;
                        }
                    }
                    Some(m) = engine.rx.recv() => engine.handle(m),
                }
            }
        }
        // The same approval as one RPC on the listener's own connection: what
        // the gateway itself takes (its durable write), without the console.
        let mut direct = Vec::new();
        for _ in 0..n.min(50) {
            let rid = node_request(url).await;
            let t0 = Instant::now();
            listener
                .call("device.pair.approve", serde_json::json!({"requestId": rid}), api::CALL_TIMEOUT)
                .await
                .unwrap();
            direct.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        let (d50, d99) = (pct(&mut direct, 0.5), pct(&mut direct, 0.99));
        println!("the same approval as a bare RPC (resolved event and answer): p50 {d50:.2} ms, p99 {d99:.2} ms");
        listener.close().await;
        engine.shutdown().await;
        (approve, drawn)
    });
    let keep = approve.clone();
    let (a50, a99) = (pct(&mut approve, 0.5), pct(&mut approve, 0.99));
    let (d50, d99) = (pct(&mut drawn, 0.5), pct(&mut drawn, 0.99));
    println!("approve round trip (key → device.pair.resolved seen): p50 {a50:.2} ms, p99 {a99:.2} ms (n={n})");
    println!("event → row drawn: p50 {d50:.2} ms, p99 {d99:.2} ms (n={n})");
    rows.push(Row::new(
        &format!("remote console: approve round trip, key → device.pair.resolved ({n} requests)"),
        format!("p50 {a50:.2} ms, p99 {a99:.2} ms"),
        "p99 ≤ 20 ms",
        Some(a99 <= 20.0),
    ));
    rows.push(Row::new(
        &format!("remote console: event → row drawn ({n} requests)"),
        format!("p50 {d50:.2} ms, p99 {d99:.2} ms"),
        "p99 ≤ 50 ms",
        Some(d99 <= 50.0),
    ));
    keep
}

/// The remote console attached to `url` in tmux (its token from a file).
fn start_console(url: &str, cfg: &std::path::Path) -> TmuxConsole {
    let bin = env!("CARGO_BIN_EXE_clawpair");
    let tf = cfg.join("token");
    std::fs::write(&tf, TOKEN).unwrap();
    let name = format!(
        "clawpair-bench-remote-{}-{}",
        std::process::id(),
        rand_suffix()
    );
    let cmd = format!(
        "exec env XDG_CONFIG_HOME={} {bin} --url {url} --token-file {} --no-notify",
        cfg.display(),
        tf.display()
    );
    TmuxConsole::start(name, &cmd, Duration::from_millis(500))
}

fn rand_suffix() -> u32 {
    rand::random::<u32>() % 100_000
}

/// Parts 3 and 4.
fn attached(rows: &mut Vec<Row>) {
    if Command::new("tmux").arg("-V").output().is_err() {
        rows.push(Row::new(
            "remote console idle CPU / RSS",
            "not measured: no tmux".into(),
            "",
            None,
        ));
        return;
    }
    // 1,000 paired devices in the gateway's state.
    let state = tempfile::tempdir().unwrap();
    let paths = clawpair::paths::Paths::resolve(Some(state.path()));
    let store = clawpair::devices::DeviceStore::new(paths.devices_dir.clone());
    let t = clawpair::clock::now_ms();
    store
        .mutate(t, |st| {
            for i in 0..1000 {
                let id = DeviceIdentity::generate(t);
                let out = st.request(
                    clawpair::devices::RequestInput {
                        device_id: id.device_id.clone(),
                        public_key: id.public_key_b64url(),
                        display_name: Some(format!("node-{i}")),
                        platform: Some("linux".into()),
                        client_id: Some("node-host".into()),
                        client_mode: Some("node".into()),
                        role: Some("node".into()),
                        ..Default::default()
                    },
                    uuid::Uuid::new_v4().to_string(),
                    t,
                );
                st.approve(&out.request.request_id, clawpair::devices::new_token(), t)?;
            }
            Ok(())
        })
        .unwrap();
    let gw = start_gateway(state.path());
    let cfg = tempfile::tempdir().unwrap();
    let c = start_console(&gw.url, cfg.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.screen().contains("Paired devices (1000)") {
        assert!(
            Instant::now() < deadline,
            "no 1,000 paired rows; screen:\n{}",
            c.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_kib(c.pid) as f64 / 1024.0;
    println!("attached console RSS with 1,000 paired devices: {rss:.1} MiB");
    rows.push(Row::new(
        "remote console RSS, 1,000 paired devices listed",
        format!("{rss:.1} MiB"),
        "≤ 30 MiB",
        Some(rss <= 30.0),
    ));
    let secs: u64 = std::env::var("CONSOLE_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let t0 = c.cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let used = (c.cpu_ticks() - t0) as f64 / hz;
    let wall = start.elapsed().as_secs_f64();
    let pct_core = 100.0 * used / wall;
    println!(
        "attached console idle CPU over {wall:.0} s: {pct_core:.3} % of one core ({used:.2} s CPU)"
    );
    rows.push(Row::new(
        &format!("remote console idle CPU over {wall:.0} s (attached, 1,000 paired)"),
        format!("{pct_core:.3} % of one core"),
        "< 1 %",
        Some(pct_core < 1.0),
    ));
}

/// OpenClaw 2026.2.26's node and entry point, when installed.
fn openclaw() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let cache = std::env::var_os("CLAWPAIR_OPENCLAW_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("XDG_CACHE_HOME").unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache")
                    .into_os_string()
            }))
            .join("clawpair/openclaw")
        });
    let node = cache.join("node-24.21.0/package/bin/node");
    let oc = cache.join("openclaw-2026.2.26/node_modules/openclaw/openclaw.mjs");
    (node.exists() && oc.exists()).then_some((node, oc))
}

/// Part 5.
fn processes(rows: &mut Vec<Row>, console_p50: f64) {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(state.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_clawpair");
    let timed = |cmd: &mut Command| -> (f64, bool, String) {
        let t0 = Instant::now();
        let o = cmd.output().unwrap();
        (
            t0.elapsed().as_secs_f64() * 1000.0,
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let mut ours = Vec::new();
    for _ in 0..20 {
        let rid = rt.block_on(node_request(&gw.url));
        let (ms, ok, err) = timed(
            Command::new(bin)
                .args([
                    "devices", "approve", &rid, "--url", &gw.url, "--token", TOKEN,
                ])
                .env("XDG_CONFIG_HOME", cfg.path()),
        );
        assert!(ok, "{err}");
        ours.push(ms);
    }
    let p50 = pct(&mut ours, 0.5);
    println!("clawpair devices approve --url (whole process): p50 {p50:.1} ms (n=20)");
    rows.push(Row::new(
        "`clawpair devices approve --url` (whole process, 20 runs)",
        format!("p50 {p50:.1} ms"),
        "",
        None,
    ));
    let Some((node, oc)) = openclaw() else {
        println!("openclaw: not installed (scripts/install-openclaw.sh); comparison skipped");
        rows.push(Row::new(
            "`openclaw devices approve --url` (real OpenClaw)",
            "skipped: OpenClaw not installed".into(),
            "",
            None,
        ));
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let oc_state = home.path().join("state");
    std::fs::create_dir_all(&oc_state).unwrap();
    let run_oc = |args: &[&str]| {
        let mut c = Command::new(&node);
        c.arg(&oc)
            .args(args)
            .args(["--url", &gw.url, "--token", TOKEN])
            .env("HOME", home.path())
            .env("OPENCLAW_STATE_DIR", &oc_state)
            .env("OPENCLAW_HIDE_BANNER", "1")
            .env("OPENCLAW_NO_RESPAWN", "1")
            .env("OPENCLAW_NO_AUTO_UPDATE", "1")
            .env("OPENCLAW_DISABLE_BONJOUR", "1")
            .env("NO_COLOR", "1");
        c
    };
    // The CLI connects as its own device: the first call asks to pair it; approve that once.
    let _ = run_oc(&["devices", "list", "--json"]).output();
    let cli_req = rt.block_on(async {
        let s = session::connect(&ConnectSpec::operator(
            GatewayUrl::parse(&gw.url).unwrap(),
            Credentials {
                shared: Some(Shared::Token(TOKEN.into())),
                ..Credentials::default()
            },
            // The real CLI's own device asks for operator.admin: approving it needs admin.
            api::scopes(&[api::PAIRING, api::ADMIN]),
        ))
        .await
        .unwrap();
        let l = s
            .call("device.pair.list", serde_json::json!({}), api::CALL_TIMEOUT)
            .await
            .unwrap();
        let rid = l["pending"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["clientId"] == "cli"))
            .and_then(|p| p["requestId"].as_str())
            .map(str::to_string);
        if let Some(r) = &rid {
            s.call(
                "device.pair.approve",
                serde_json::json!({"requestId": r}),
                api::CALL_TIMEOUT,
            )
            .await
            .unwrap();
        }
        s.close().await;
        rid
    });
    println!("openclaw CLI device paired: {}", cli_req.is_some());
    let mut theirs = Vec::new();
    for _ in 0..5 {
        let rid = rt.block_on(node_request(&gw.url));
        let (ms, ok, err) = timed(&mut run_oc(&["devices", "approve", &rid, "--json"]));
        if !ok {
            println!(
                "openclaw devices approve failed: {}",
                err.lines().take(3).collect::<Vec<_>>().join(" / ")
            );
            rows.push(Row::new(
                "`openclaw devices approve --url` (real OpenClaw 2026.2.26)",
                "failed (see log)".into(),
                "",
                None,
            ));
            return;
        }
        theirs.push(ms);
    }
    let o50 = pct(&mut theirs, 0.5);
    println!("openclaw 2026.2.26 devices approve --url: p50 {o50:.0} ms (n=5)");
    rows.push(Row::new(
        "`openclaw devices approve --url` (OpenClaw 2026.2.26, a Node process per call, 5 runs)",
        format!(
            "p50 {o50:.0} ms: {:.0}× the console's round trip, {:.0}× `clawpair devices approve --url`",
            o50 / console_p50.max(0.001),
            o50 / p50.max(0.001)
        ),
        "",
        None,
    ));
}

pub fn run(rows: &mut Vec<Row>) {
    let state = tempfile::tempdir().unwrap();
    let gw = start_gateway(state.path());
    let mut rt = round_trips(rows, &gw.url);
    drop(gw);
    let p50 = pct(&mut rt, 0.5);
    attached(rows);
    processes(rows, p50);
}
