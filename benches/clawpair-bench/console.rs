//! Console benchmarks (figures, not pass/fail tests).
//!
//! 1. File change → row: a request written by another "process" (the DM store,
//!    as `clawpair pairing request` does) until the engine's state holds the
//!    row, and until a frame showing it has been drawn; p50/p99 over 100 runs.
//! 2. Render time per frame with 50 DM requests and 10,000 paired devices
//!    (target ≤ 16 ms), plus the cost of merging a 10,000-device reload.
//! 3. Idle CPU of the real binary in tmux over 60 s (target < 1 %), with
//!    requests on screen so the 1 Hz countdown redraw is included.
//!
//! Run alone: `cargo bench --bench clawpair-bench -- console`.
//! `CONSOLE_BENCH_IDLE_SECS` shortens step 3.

use std::process::Command;
use std::time::{Duration, Instant};

use clawpair::app::effect::Event;
use clawpair::app::msg::Msg;
use clawpair::app::rows::*;
use clawpair::app::state::State;
use clawpair::app::update;
use clawpair::runtime::{Engine, Options, Output};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::Row;

struct Null;
impl Output for Null {
    fn emit(&mut self, _: &Event) {}
    fn notify(&mut self, _: &str) {}
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn latency(rows: &mut Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let paths = clawpair::paths::Paths::resolve(Some(dir.path()));
    std::fs::create_dir_all(&paths.credentials_dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let theme = clawpair::ui::Theme::color();
    let (to_state, to_frame) = rt.block_on(async {
        let opts = Options::new(paths.clone());
        let mut engine = Engine::start(
            &opts,
            Box::new(clawpair::clipboard::MemoryClipboard::default()),
            Box::new(Null),
        );
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let store = clawpair::dm::store::DmStore::new(paths.credentials_dir.clone());
        tokio::time::sleep(Duration::from_millis(300)).await;
        while let Ok(m) = engine.rx.try_recv() {
            engine.handle(m);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..100 {
            let id = format!("bench{i}");
            let t0 = Instant::now();
            let s2 = store.clone();
            let id2 = id.clone();
            tokio::task::spawn_blocking(move || {
                s2.upsert(
                    "telegram",
                    &id2,
                    None,
                    &[],
                    clawpair::clock::system_now_ms(),
                )
                .unwrap()
            })
            .await
            .unwrap();
            loop {
                let m = tokio::time::timeout(Duration::from_secs(5), engine.rx.recv())
                    .await
                    .expect("row within 5 s")
                    .unwrap();
                engine.handle(m);
                if engine.state.dm.iter().any(|r| r.item.id == id) {
                    break;
                }
            }
            a.push(t0.elapsed().as_secs_f64() * 1000.0);
            term.draw(|f| clawpair::ui::render(f, &engine.state, &theme))
                .unwrap();
            b.push(t0.elapsed().as_secs_f64() * 1000.0);
            // Clear it again (the cap is 3 per channel) and let that reload land.
            let code = engine
                .state
                .dm
                .iter()
                .find(|r| r.item.id == id)
                .unwrap()
                .item
                .code
                .clone();
            let s2 = store.clone();
            tokio::task::spawn_blocking(move || {
                s2.reject("telegram", &code, None, clawpair::clock::system_now_ms())
                    .unwrap()
            })
            .await
            .unwrap();
            loop {
                let m = tokio::time::timeout(Duration::from_secs(5), engine.rx.recv())
                    .await
                    .unwrap()
                    .unwrap();
                engine.handle(m);
                if !engine
                    .state
                    .dm
                    .iter()
                    .any(|r| r.item.id == id && !r.status.is_gone())
                {
                    break;
                }
            }
        }
        println!("watcher: {}", engine.watching_by());
        engine.shutdown().await;
        (a, b)
    });
    let (mut a, mut b) = (to_state, to_frame);
    println!(
        "file change → row in state: p50 {:.1} ms, p99 {:.1} ms (n=100)",
        pct(&mut a, 0.5),
        pct(&mut a, 0.99)
    );
    let (p50, p99) = (pct(&mut b, 0.5), pct(&mut b, 0.99));
    println!("file change → frame drawn:  p50 {p50:.1} ms, p99 {p99:.1} ms (n=100)");
    rows.push(Row::new(
        "file change → frame drawn (100 requests)",
        format!("p50 {p50:.1} ms, p99 {p99:.1} ms"),
        "≤ 250 ms",
        Some(p99 <= 250.0),
    ));
}

fn big_state() -> (State, DeviceSnapshot) {
    let now = 1_772_366_400_000i64;
    let mut s = State::new("~/.openclaw", now);
    let mut reqs = Vec::new();
    for i in 0..50 {
        reqs.push(DmRequest {
            channel: format!("chan{}", i / 3),
            account: None,
            id: format!("{}", 100_000 + i),
            code: format!("CODE{i:04}"),
            created_at_ms: Some(now - i * 30_000),
            last_seen_at_ms: None,
            meta: vec![("username".into(), format!("user{i}"))],
            request_id: None,
        });
    }
    update(
        &mut s,
        Msg::DmLoaded(Ok(DmSnapshot {
            requests: reqs,
            allow: vec![],
            errors: vec![],
            ..Default::default()
        })),
    );
    let paired: Vec<PairedDevice> = (0..10_000)
        .map(|i| PairedDevice {
            device_id: format!("{i:064x}"),
            display_name: Some(format!("device-{i}")),
            platform: Some("linux".into()),
            client_id: Some("node-host".into()),
            roles: vec!["node".into()],
            scopes: vec!["node.invoke".into()],
            token_state: TokenState::Active,
            active_roles: vec!["node".into()],
            last_used_ms: Some(now - 60_000),
            approved_at_ms: now - i as i64,
            pending_surface: None,
        })
        .collect();
    let snap = DeviceSnapshot {
        pending: vec![],
        paired,
        errors: vec![],
    };
    update(&mut s, Msg::DevicesLoaded(Ok(snap.clone())));
    // Select a device deep in the list so the window is not at the top.
    s.focus = clawpair::app::state::Pane::Paired;
    s.selected[2] = Some(clawpair::app::state::RowKey::Paired(format!(
        "{:064x}",
        7_500
    )));
    (s, snap)
}

fn render(rows: &mut Vec<Row>) {
    let (s, snap) = big_state();
    let theme = clawpair::ui::Theme::color();
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut v = Vec::new();
        for _ in 0..300 {
            let t0 = Instant::now();
            term.draw(|f| clawpair::ui::render(f, &s, &theme)).unwrap();
            v.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = (pct(&mut v, 0.5), pct(&mut v, 0.99));
        println!(
            "render {w}×{h}, 50 DM + 10,000 paired: p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms per frame",
            v.iter().cloned().fold(0.0, f64::max)
        );
        if (w, h) != (200, 60) {
            rows.push(Row::new(
                &format!("frame render {w}×{h}, 50 DM + 10,000 paired devices"),
                format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
                "≤ 16 ms",
                Some(p99 <= 16.0),
            ));
        }
    }
    let mut v = Vec::new();
    for _ in 0..30 {
        let mut s2 = s.clone();
        let t0 = Instant::now();
        update(&mut s2, Msg::DevicesLoaded(Ok(snap.clone())));
        v.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "merge a 10,000-device reload into the state: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut v, 0.5),
        pct(&mut v, 0.99)
    );
}

fn idle(rows: &mut Vec<Row>) {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("idle CPU: skipped (no tmux)");
        rows.push(Row::new(
            "console idle CPU",
            "not measured: no tmux".into(),
            "< 1 %",
            None,
        ));
        return;
    }
    let secs: u64 = std::env::var("CONSOLE_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let bin = env!("CARGO_BIN_EXE_clawpair");
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().to_str().unwrap();
    for id in ["111", "222", "333"] {
        Command::new(bin)
            .args(["--state-dir", sp, "pairing", "request", "telegram", id])
            .output()
            .unwrap();
    }
    let name = format!("clawpair-bench-{}", std::process::id());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cmd = format!("{bin} --state-dir {sp} --port {port} --no-notify");
    let c = crate::tmux::TmuxConsole::start(name, &cmd, Duration::from_secs(2));
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let t0 = c.cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let used = (c.cpu_ticks() - t0) as f64 / hz;
    let wall = start.elapsed().as_secs_f64();
    drop(c);
    let pct_core = 100.0 * used / wall;
    println!(
        "idle CPU over {wall:.0} s (gateway on, 3 countdowns on screen): {pct_core:.3} % of one core ({used:.2} s CPU)"
    );
    rows.push(Row::new(
        &format!("console idle CPU over {wall:.0} s (gateway on, 3 countdowns)"),
        format!("{pct_core:.3} % of one core"),
        "< 1 %",
        Some(pct_core < 1.0),
    ));
}

pub fn run(rows: &mut Vec<Row>) {
    latency(rows);
    render(rows);
    idle(rows);
}
