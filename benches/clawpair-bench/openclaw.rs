//! clawpair's gateway beside the real OpenClaw gateways, in one run, on the
//! same machine, with the same load generator (the crate's client: TCP +
//! WebSocket upgrade + challenge + signed `connect` + answer, one fresh
//! connection per handshake):
//!
//! * new devices: a node host's first connect (gateway token) ends in
//!   `NOT_PAIRED`, a pending request written;
//! * paired devices: 50 devices approved over RPC beforehand, each
//!   connecting again and again, end in `hello-ok` with their device token;
//!
//! each at 1 and at 50 concurrent clients (closed loop), then the gateway's
//! RSS idle (after start and warm-up) and with 1,000 idle paired node
//! connections (1,000 distinct devices approved over RPC). OpenClaw's RSS is
//! its whole process tree (the gateway and its workers). Each gateway gets
//! the protocol of its own clients: 4 for clawpair and 2026.9.6, 3 for
//! 2026.2.26. Local auto-approval is off everywhere (2026.2.26 has no switch:
//! loopback is declared a trusted proxy, as in the interop tests).
//!
//! Every gateway gets the same numbers of handshakes (`BENCH_OC_N` at 50
//! clients, default 300; a tenth at 1 client), and what a new-device phase
//! left pending is rejected over RPC (untimed) before the next phase.
//!
//! Needs `scripts/install-openclaw.sh`; without it the rows say so.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawpair::node::client::{self, ConnectAnswer, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;
use serde_json::{json, Value};

use crate::gateway::{percentile, rss_kib, start_gateway, TOKEN};
use crate::Row;

fn cache_dir() -> PathBuf {
    std::env::var_os("CLAWPAIR_OPENCLAW_CACHE")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/clawpair/openclaw")
        })
}

/// The whole process tree's RSS (KiB) under `pid`.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = rss_kib(pid);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    let mut children: Vec<u32> = Vec::new();
    let procs: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let after = stat.rsplit_once(')')?.1;
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp) in &procs {
            if *pp == parent && !children.contains(p) {
                children.push(*p);
                frontier.push(*p);
            }
        }
    }
    for c in children {
        total += rss_kib(c);
    }
    total
}

/// A gateway under test.
struct Target {
    name: String,
    child: Child,
    url: String,
    protocol: i64,
    /// Handshakes at 50 clients (a tenth at 1).
    n: usize,
    _dir: tempfile::TempDir,
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real OpenClaw `version`'s gateway, ready; `None` when not installed.
fn start_openclaw(version: &str, n: usize) -> Option<Result<Target, String>> {
    let cache = cache_dir();
    let pkg = cache.join(format!("openclaw-{version}/node_modules/openclaw"));
    let node = std::fs::read_dir(&cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("package/bin/node"))
        .find(|p| p.is_file())?;
    if !pkg.join("openclaw.mjs").is_file() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    let port = free_port();
    let mut cfg = json!({
        "gateway": {"mode": "local", "port": port, "bind": "loopback",
                    "auth": {"mode": "token", "token": TOKEN}},
        "update": {"checkOnStart": false},
        "discovery": {"mdns": {"mode": "off"}},
        "logging": {"file": dir.path().join("openclaw.log")},
    });
    if version == "2026.2.26" {
        cfg["gateway"]["trustedProxies"] = json!(["127.0.0.1", "::1"]);
    } else {
        cfg["gateway"]["nodes"] = json!({"pairing": {"autoApproveLocal": false}});
        cfg["models"] = json!({"catalogRefresh": {"enabled": false}});
    }
    std::fs::write(state.join("openclaw.json"), cfg.to_string()).unwrap();
    let log = dir.path().join("gateway.out");
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(&node);
    cmd.arg(pkg.join("openclaw.mjs"))
        .args(["gateway", "run", "--port", &port.to_string()])
        .args(["--bind", "loopback", "--allow-unconfigured"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path().join("home"))
        .env("OPENCLAW_STATE_DIR", &state)
        .env("TMPDIR", cache.join(format!("openclaw-{version}/tmp")))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
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
        cmd.env(k, v);
    }
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let child = cmd.spawn().unwrap();
    let ready = if version == "2026.2.26" {
        "[gateway] listening on ws://"
    } else {
        "[gateway] ready"
    };
    let t = Instant::now();
    let target = Target {
        name: format!("OpenClaw {version}"),
        child,
        url: format!("ws://127.0.0.1:{port}"),
        protocol: if version == "2026.2.26" { 3 } else { 4 },
        n,
        _dir: dir,
    };
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(ready) {
            println!(
                "{}: ready in {:.1} s",
                target.name,
                t.elapsed().as_secs_f64()
            );
            return Some(Ok(target));
        }
        if t.elapsed() > Duration::from_secs(300) {
            return Some(Err(format!("{} not ready after 300 s", target.name)));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What one handshake ended in.
enum Answer {
    Hello,
    Pending(String),
    Other(String),
}

async fn handshake(t: &TargetRef, id: &DeviceIdentity) -> (Duration, Answer) {
    let t0 = Instant::now();
    let mut opts = ConnectOptions::node(Some("bench-node".into())).offering(t.protocol, t.protocol);
    opts.token = Some(TOKEN.into());
    let answer = match client::open(&t.url).await {
        Ok((mut ws, nonce)) => {
            let a = client::handshake(&mut ws, &opts, Some(id), &nonce, clawpair::clock::now_ms())
                .await;
            let _ = ws.close(None).await;
            match a {
                Ok(ConnectAnswer::Hello(h)) if h["auth"]["deviceToken"].is_string() => {
                    Answer::Hello
                }
                Ok(ConnectAnswer::Refused { error, .. })
                    if error["details"]["code"] == "PAIRING_REQUIRED" =>
                {
                    Answer::Pending(
                        error["details"]["requestId"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    )
                }
                other => Answer::Other(format!("{other:?}").chars().take(200).collect()),
            }
        }
        Err(e) => Answer::Other(e),
    };
    (t0.elapsed(), answer)
}

#[derive(Clone)]
struct TargetRef {
    url: String,
    protocol: i64,
}

struct Stats {
    rate: f64,
    p99: f64,
    wrong: usize,
    example: Option<String>,
    pending: Vec<String>,
}

/// `ids` handshakes over `clients` concurrent clients (closed loop).
async fn phase(t: &TargetRef, ids: Arc<Vec<DeviceIdentity>>, clients: usize, hello: bool) -> Stats {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (ids, t) = (ids.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = c;
            while i < ids.len() {
                out.push(handshake(&t, &ids[i]).await);
                i += clients;
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let (mut wrong, mut example, mut pending) = (0, None, Vec::new());
    for task in tasks {
        for (d, a) in task.await.unwrap() {
            lat.push(d);
            match (a, hello) {
                (Answer::Hello, true) => {}
                (Answer::Pending(r), false) => pending.push(r),
                (Answer::Other(e), _) => {
                    wrong += 1;
                    example.get_or_insert(e);
                }
                _ => wrong += 1,
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    Stats {
        rate: ids.len() as f64 / secs,
        p99: percentile(&lat, 0.99),
        wrong,
        example,
        pending,
    }
}

/// Decides every request over RPC as a device-less admin operator
/// (`device.pair.approve` or `device.pair.reject`); returns how many succeeded.
async fn decide_all(t: &TargetRef, rids: &[String], method: &str) -> usize {
    if rids.is_empty() {
        return 0;
    }
    let mut o = ConnectOptions::cli_operator(TOKEN).offering(t.protocol, t.protocol);
    o.scopes = vec!["operator.admin".into(), "operator.pairing".into()];
    // OpenClaw answers 503 while busy: try a few times.
    let mut conn = None;
    for _ in 0..20 {
        if let Ok((mut ws, nonce)) = client::open(&t.url).await {
            if let Ok(ConnectAnswer::Hello(_)) =
                client::handshake(&mut ws, &o, None, &nonce, clawpair::clock::now_ms()).await
            {
                conn = Some(ws);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let Some(mut ws) = conn else {
        println!("  {method}: no admin connection");
        return 0;
    };
    let mut ok = 0;
    let mut example = None;
    for rid in rids {
        match client::call(&mut ws, method, json!({"requestId": rid})).await {
            Ok((r, _)) if r["ok"] == Value::Bool(true) => ok += 1,
            Ok((r, _)) => {
                example.get_or_insert_with(|| r["error"].to_string());
            }
            Err(e) => {
                example.get_or_insert(e);
            }
        }
    }
    if let Some(e) = example {
        println!("  {method}: {ok}/{} ok, e.g. {e}", rids.len());
    }
    ok
}

/// Creates and approves pending requests for `ids` (50 at a time).
async fn pair(t: &TargetRef, ids: &[DeviceIdentity]) -> usize {
    let s = phase(t, Arc::new(ids.to_vec()), 50, false).await;
    if s.wrong > 0 {
        println!(
            "  pairing: {} of {} connects unexpected, e.g. {}",
            s.wrong,
            ids.len(),
            s.example.as_deref().unwrap_or("?")
        );
    }
    decide_all(t, &s.pending, "device.pair.approve").await
}

/// Rejects (untimed) what a new-device phase left pending, so every phase
/// starts from the same nearly empty pending list on every gateway.
async fn clear(t: &TargetRef, s: &Stats) {
    decide_all(t, &s.pending, "device.pair.reject").await;
}

/// Opens `ids.len()` paired node connections and keeps them; returns them.
async fn hold(t: &TargetRef, ids: &[DeviceIdentity]) -> Vec<client::ClientWs> {
    let mut socks = Vec::new();
    for chunk in ids.chunks(50) {
        let mut tasks = Vec::new();
        for id in chunk {
            let (t, id) = (t.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let mut opts = ConnectOptions::node(Some("bench-node".into()))
                    .offering(t.protocol, t.protocol);
                opts.token = Some(TOKEN.into());
                let (mut ws, nonce) = client::open(&t.url).await.ok()?;
                match client::handshake(
                    &mut ws,
                    &opts,
                    Some(&id),
                    &nonce,
                    clawpair::clock::now_ms(),
                )
                .await
                {
                    Ok(ConnectAnswer::Hello(_)) => Some(ws),
                    _ => None,
                }
            }));
        }
        for task in tasks {
            if let Ok(Some(ws)) = task.await {
                socks.push(ws);
            }
        }
    }
    socks
}

struct Figures {
    name: String,
    new1: Stats,
    new50: Stats,
    paired1: Stats,
    paired50: Stats,
    rss_idle_kib: u64,
    rss_1000_kib: u64,
    held: usize,
}

/// Every figure of one gateway: `url` spoken at `protocol`, its process `pid`.
fn measure(
    rt: &tokio::runtime::Runtime,
    name: &str,
    url: &str,
    protocol: i64,
    n: usize,
    pid: u32,
) -> Figures {
    let t = TargetRef {
        url: url.to_string(),
        protocol,
    };
    let now = clawpair::clock::now_ms();
    let gen = |k: usize| -> Arc<Vec<DeviceIdentity>> {
        Arc::new((0..k).map(|_| DeviceIdentity::generate(now)).collect())
    };
    rt.block_on(async {
        // Warm-up: a few new devices.
        let warm = phase(&t, gen(20), 5, false).await;
        clear(&t, &warm).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_idle_kib = tree_rss_kib(pid);
        let new1 = phase(&t, gen((n / 10).max(10)), 1, false).await;
        clear(&t, &new1).await;
        let new50 = phase(&t, gen(n), 50, false).await;
        clear(&t, &new50).await;
        let devices: Vec<DeviceIdentity> =
            (0..1000).map(|_| DeviceIdentity::generate(now)).collect();
        let paired = pair(&t, &devices[..50]).await;
        println!("{name}: {paired}/50 devices paired over RPC");
        let cycle = |k: usize| -> Arc<Vec<DeviceIdentity>> {
            Arc::new((0..k).map(|i| devices[i % 50].clone()).collect())
        };
        let paired1 = phase(&t, cycle((n / 10).max(10)), 1, true).await;
        let paired50 = phase(&t, cycle(n), 50, true).await;
        let more = pair(&t, &devices[50..]).await;
        println!("{name}: {more} more devices paired over RPC");
        let socks = hold(&t, &devices).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss_1000_kib = tree_rss_kib(pid);
        let held = socks.len();
        drop(socks);
        Figures {
            name: name.to_string(),
            new1,
            new50,
            paired1,
            paired50,
            rss_idle_kib,
            rss_1000_kib,
            held,
        }
    })
}

fn print(f: &Figures) {
    for (label, s) in [
        ("new devices, 1 client", &f.new1),
        ("new devices, 50 clients", &f.new50),
        ("paired devices, 1 client", &f.paired1),
        ("paired devices, 50 clients", &f.paired50),
    ] {
        println!(
            "{:<18} {label:<28} {:>8.1}/s  p99 {:>8.2} ms  unexpected={}{}",
            f.name,
            s.rate,
            s.p99,
            s.wrong,
            s.example
                .as_ref()
                .map(|e| format!(" (e.g. {e})"))
                .unwrap_or_default()
        );
    }
    println!(
        "{:<18} RSS idle {:.1} MiB, with {} idle paired connections {:.1} MiB",
        f.name,
        f.rss_idle_kib as f64 / 1024.0,
        f.held,
        f.rss_1000_kib as f64 / 1024.0
    );
}

fn cell(s: &Stats) -> String {
    let wrong = if s.wrong > 0 {
        format!(", {} unexpected", s.wrong)
    } else {
        String::new()
    };
    format!("{:.0}/s, p99 {:.1} ms{wrong}", s.rate, s.p99)
}

pub fn run(rows: &mut Vec<Row>) {
    let oc_n: usize = std::env::var("BENCH_OC_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = {
        let gw = start_gateway(dir.path());
        measure(&rt, "clawpair", &gw.url, 4, oc_n, gw.child.id())
    };
    print(&ours);
    let mut theirs: Vec<(String, Result<Figures, String>)> = Vec::new();
    for v in ["2026.9.6", "2026.2.26"] {
        match start_openclaw(v, oc_n) {
            None => theirs.push((
                v.into(),
                Err("not installed (scripts/install-openclaw.sh)".into()),
            )),
            Some(Err(e)) => theirs.push((v.into(), Err(e))),
            Some(Ok(target)) => {
                let f = measure(
                    &rt,
                    &target.name,
                    &target.url,
                    target.protocol,
                    target.n,
                    target.child.id(),
                );
                print(&f);
                theirs.push((v.into(), Ok(f)));
                drop(target);
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
    for (what, get) in [
        (
            "new devices, 1 client",
            (|f: &Figures| &f.new1) as fn(&Figures) -> &Stats,
        ),
        ("new devices, 50 clients", |f: &Figures| &f.new50),
        ("paired devices, 1 client", |f: &Figures| &f.paired1),
        ("paired devices, 50 clients", |f: &Figures| &f.paired50),
    ] {
        rows.push(Row::new(
            &format!("vs OpenClaw: handshakes, {what}, clawpair"),
            cell(get(&ours)),
            "",
            None,
        ));
        for (v, f) in &theirs {
            let (result, met) = match f {
                Ok(f) => {
                    let ratio = get(&ours).rate / get(f).rate.max(1e-9);
                    let target_row = what.ends_with("50 clients") && v == "2026.9.6";
                    (
                        format!("{} (clawpair ×{ratio:.1})", cell(get(f))),
                        target_row.then_some(ratio >= 10.0 && get(&ours).wrong == 0),
                    )
                }
                Err(e) => (format!("skipped: {e}"), None),
            };
            let target = if what.ends_with("50 clients") && v == "2026.9.6" {
                "clawpair ≥ 10×"
            } else {
                ""
            };
            rows.push(Row::new(
                &format!("vs OpenClaw: handshakes, {what}, OpenClaw {v}"),
                result,
                target,
                met,
            ));
        }
    }
    let mib = |k: u64| k as f64 / 1024.0;
    for (what, get) in [
        (
            "RSS idle",
            (|f: &Figures| f.rss_idle_kib) as fn(&Figures) -> u64,
        ),
        ("RSS with 1,000 idle paired connections", |f: &Figures| {
            f.rss_1000_kib
        }),
    ] {
        rows.push(Row::new(
            &format!("vs OpenClaw: {what}, clawpair"),
            format!("{:.1} MiB", mib(get(&ours))),
            "",
            None,
        ));
        for (v, f) in &theirs {
            let (result, met) = match f {
                Ok(f) => {
                    let share = get(&ours) as f64 / get(f).max(1) as f64;
                    let held = if what.contains("1,000") {
                        format!(" ({} held)", f.held)
                    } else {
                        String::new()
                    };
                    (
                        format!("{:.1} MiB{held} (clawpair {:.3}×)", mib(get(f)), share),
                        (v == "2026.9.6").then_some(share <= 0.1),
                    )
                }
                Err(e) => (format!("skipped: {e}"), None),
            };
            rows.push(Row::new(
                &format!("vs OpenClaw: {what}, OpenClaw {v}"),
                result,
                if v == "2026.9.6" {
                    "clawpair ≤ 1/10"
                } else {
                    ""
                },
                met,
            ));
        }
    }
}
