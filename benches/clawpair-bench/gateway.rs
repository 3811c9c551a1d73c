//! Gateway benchmark over loopback (not a timed test). Starts the release
//! `clawpair gateway` as its own process and drives it with 100 concurrent
//! clients:
//!
//! 1. new devices: every handshake ends in `NOT_PAIRED` plus a `pending.json` write;
//! 2. paired devices: every handshake ends in `hello-ok` (with `auth.deviceToken`);
//! 3. the gateway's RSS with 1,000 idle paired connections.
//!
//! Phases 1 and 2 run twice: closed loop (each client starts its next
//! handshake as soon as the last finished: maximum throughput, latency then
//! is mostly queueing, L = λW) and open loop at the target rate (300/s new,
//! 1,000/s paired) to measure latency at that load.
//!
//! Run alone: `cargo bench --bench clawpair-bench -- gateway` (env `BENCH_N` =
//! handshakes per phase).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawpair::node::client::{self, ConnectAnswer, ConnectOptions};
use clawpair::node::identity::DeviceIdentity;

use crate::Row;

pub(crate) const TOKEN: &str = "bench-gateway-token-0123456789abcdef";
const CLIENTS: usize = 100;

pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn start_gateway(state: &std::path::Path) -> Gateway {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_clawpair"))
        .args([
            "--state-dir",
            state.to_str().unwrap(),
            "gateway",
            "--port",
            &port.to_string(),
            "--gateway-token",
            TOKEN,
            "--no-auto-approve-local",
            "--max-pending-per-addr",
            "1000000",
            "--max-conns-per-addr",
            "100000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Gateway { child, url }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Stats {
    n: usize,
    secs: f64,
    lat: Vec<Duration>,
    wrong: usize,
}

impl Stats {
    /// Prints the detailed line; returns (handshakes/s, p99 ms, unexpected answers).
    fn print(&self, label: &str) -> (f64, f64, usize) {
        let mut l = self.lat.clone();
        l.sort();
        let (rate, p99) = (self.n as f64 / self.secs, percentile(&l, 0.99));
        println!(
            "{label:<34} n={:<5} {:>7.0} handshakes/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  unexpected={}",
            self.n,
            self.n as f64 / self.secs,
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            percentile(&l, 1.0),
            self.wrong
        );
        (rate, p99, self.wrong)
    }
}

/// One full handshake: TCP + WebSocket upgrade + challenge + signed connect + answer.
async fn handshake(url: &str, id: &DeviceIdentity, expect_hello: bool) -> (Duration, bool) {
    let t0 = Instant::now();
    let mut opts = ConnectOptions::node(Some("bench-node".into()));
    opts.token = Some(TOKEN.into());
    let ok = match client::open(url).await {
        Ok((mut ws, nonce)) => {
            let a = client::handshake(&mut ws, &opts, Some(id), &nonce, clawpair::clock::now_ms())
                .await;
            let good = match a {
                Ok(ConnectAnswer::Hello(h)) => expect_hello && h["auth"]["deviceToken"].is_string(),
                Ok(ConnectAnswer::Refused { error, .. }) => {
                    !expect_hello && error["details"]["code"] == "PAIRING_REQUIRED"
                }
                _ => false,
            };
            let _ = ws.close(None).await;
            good
        }
        Err(_) => false,
    };
    (t0.elapsed(), ok)
}

/// `ids` split across CLIENTS tasks; `rate` = total handshakes/s (None = closed loop).
async fn phase(
    url: &str,
    ids: Arc<Vec<DeviceIdentity>>,
    expect_hello: bool,
    rate: Option<f64>,
) -> Stats {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let ids = ids.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut wrong = 0;
            let mut k = 0usize;
            let mut i = c;
            while i < ids.len() {
                if let Some(r) = rate {
                    // Open loop: handshake i is due at i / rate seconds.
                    let due = start + Duration::from_secs_f64(i as f64 / r);
                    tokio::time::sleep_until(due.into()).await;
                }
                let (d, ok) = handshake(&url, &ids[i], expect_hello).await;
                lat.push(d);
                if !ok {
                    wrong += 1;
                }
                k += 1;
                i = c + k * CLIENTS;
            }
            (lat, wrong)
        }));
    }
    let mut lat = Vec::new();
    let mut wrong = 0;
    for t in tasks {
        let (l, w) = t.await.unwrap();
        lat.extend(l);
        wrong += w;
    }
    Stats {
        n: ids.len(),
        secs: start.elapsed().as_secs_f64(),
        lat,
        wrong,
    }
}

/// Pairs `ids` directly in the files (as an owner approving them would).
fn pair_directly(state: &std::path::Path, ids: &[DeviceIdentity]) {
    let store = clawpair::devices::DeviceStore::new(state.join("devices"));
    let now = clawpair::clock::now_ms();
    store
        .mutate(now, |st| {
            for id in ids {
                let out = st.request(
                    clawpair::devices::RequestInput {
                        device_id: id.device_id.clone(),
                        public_key: id.public_key_b64url(),
                        display_name: Some("bench-node".into()),
                        platform: Some(std::env::consts::OS.into()),
                        client_id: Some("node-host".into()),
                        client_mode: Some("node".into()),
                        role: Some("node".into()),
                        ..Default::default()
                    },
                    uuid::Uuid::new_v4().to_string(),
                    now,
                );
                st.approve(&out.request.request_id, clawpair::devices::new_token(), now)?;
            }
            Ok(())
        })
        .unwrap();
}

fn clear_pending(state: &std::path::Path) {
    let store = clawpair::devices::DeviceStore::new(state.join("devices"));
    store
        .mutate(clawpair::clock::now_ms(), |st| {
            st.pending.clear();
            Ok(())
        })
        .unwrap();
}

fn merge(all: &mut Option<Stats>, s: Stats) {
    match all {
        None => *all = Some(s),
        Some(a) => {
            a.n += s.n;
            a.secs += s.secs;
            a.lat.extend(s.lat);
            a.wrong += s.wrong;
        }
    }
}

/// New devices in rounds of `round`; `pending.json` is emptied between
/// rounds (untimed), so it holds 0..round requests while measured.
async fn new_devices(
    url: &str,
    state: &std::path::Path,
    n: usize,
    round: usize,
    rate: Option<f64>,
) -> Stats {
    let mut all = None;
    let mut done = 0;
    while done < n {
        let k = round.min(n - done);
        let now = clawpair::clock::now_ms();
        let ids: Arc<Vec<DeviceIdentity>> =
            Arc::new((0..k).map(|_| DeviceIdentity::generate(now)).collect());
        merge(&mut all, phase(url, ids, false, rate).await);
        clear_pending(state);
        done += k;
    }
    all.unwrap()
}

pub fn run(rows: &mut Vec<Row>) {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let round: usize = std::env::var("BENCH_PENDING_ROUND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    let paired_n: usize = std::env::var("BENCH_PAIRED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let gw = start_gateway(state);
    println!(
        "clawpair gateway benchmark: {CLIENTS} concurrent clients over loopback, {} cores visible, gateway pid {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        gw.child.id()
    );
    let (new_max, new_at) = rt.block_on(async {
        new_devices(&gw.url, state, 200, round, None).await; // warm-up
        let max = new_devices(&gw.url, state, n, round, None)
            .await
            .print(&format!(
                "new devices, closed loop (pending.json 0..{round})"
            ));
        let at = new_devices(&gw.url, state, n.min(1500), round, Some(300.0))
            .await
            .print("new devices, open loop 300/s");
        (max, at)
    });
    let now = clawpair::clock::now_ms();
    let devices: Vec<DeviceIdentity> = (0..1000.max(paired_n))
        .map(|_| DeviceIdentity::generate(now))
        .collect();
    pair_directly(state, &devices[..paired_n]);
    let reps: Arc<Vec<DeviceIdentity>> =
        Arc::new((0..n).map(|i| devices[i % paired_n].clone()).collect());
    let (paired_max, paired_at) = rt.block_on(async {
        phase(&gw.url, Arc::new(devices[..paired_n].to_vec()), true, None).await; // warm-up
        let max = phase(&gw.url, reps.clone(), true, None)
            .await
            .print(&format!("paired devices, closed loop ({paired_n} devices)"));
        let at = phase(&gw.url, reps.clone(), true, Some(1000.0))
            .await
            .print("paired devices, open loop 1000/s");
        (max, at)
    });
    let shown = |(rate, p99, wrong): (f64, f64, usize)| {
        let wrong = if wrong > 0 {
            format!(", {wrong} UNEXPECTED ANSWERS")
        } else {
            String::new()
        };
        format!("{rate:.0}/s, p99 {p99:.1} ms{wrong}")
    };
    rows.push(Row::new(
        "gateway handshakes, new devices, maximum rate",
        shown(new_max),
        "≥ 300/s",
        Some(new_max.0 >= 300.0 && new_max.2 == 0),
    ));
    rows.push(Row::new(
        "gateway handshakes, new devices, 300/s offered",
        shown(new_at),
        "p99 ≤ 20 ms",
        Some(new_at.1 <= 20.0 && new_at.2 == 0),
    ));
    rows.push(Row::new(
        "gateway handshakes, paired devices, maximum rate",
        shown(paired_max),
        "≥ 1,000/s",
        Some(paired_max.0 >= 1000.0 && paired_max.2 == 0),
    ));
    rows.push(Row::new(
        "gateway handshakes, paired devices, 1,000/s offered",
        shown(paired_at),
        "p99 ≤ 20 ms",
        Some(paired_at.1 <= 20.0 && paired_at.2 == 0),
    ));
    // 1,000 idle paired connections, each a distinct paired device.
    pair_directly(state, &devices[paired_n..1000.max(paired_n)]);
    let base = rss_kib(gw.child.id());
    let url = gw.url.clone();
    let ids: Vec<DeviceIdentity> = devices[..1000].to_vec();
    let (open, rss) = rt.block_on(async move {
        let mut socks = Vec::new();
        for chunk in ids.chunks(100) {
            let mut tasks = Vec::new();
            for id in chunk {
                let (url, id) = (url.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    let mut opts = ConnectOptions::node(Some("bench-node".into()));
                    opts.token = Some(TOKEN.into());
                    let (mut ws, nonce) = client::open(&url).await.unwrap();
                    let a = client::handshake(
                        &mut ws,
                        &opts,
                        Some(&id),
                        &nonce,
                        clawpair::clock::now_ms(),
                    )
                    .await
                    .unwrap();
                    assert!(matches!(a, ConnectAnswer::Hello(_)));
                    ws
                }));
            }
            for t in tasks {
                socks.push(t.await.unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        (socks.len(), rss_kib(gw.child.id()))
    });
    println!(
        "gateway RSS: {:.1} MiB before, {:.1} MiB with {} idle paired connections",
        base as f64 / 1024.0,
        rss as f64 / 1024.0,
        open
    );
    let mib = rss as f64 / 1024.0;
    rows.push(Row::new(
        &format!("gateway RSS, {open} idle paired connections"),
        format!("{mib:.1} MiB"),
        "≤ 50 MiB",
        Some(mib <= 50.0 && open == 1000),
    ));
}
