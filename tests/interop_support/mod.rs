//! Harness for the interop tests that drive the real OpenClaw beside clawpair
//! (`tests/interop_openclaw.rs`; the 2026.9.6 scenarios reuse it).
//!
//! * [`Install`] finds what `scripts/install-openclaw.sh` installed: `$CLAWPAIR_OPENCLAW_CACHE`,
//!   else `${XDG_CACHE_HOME:-~/.cache}/clawpair/openclaw`.
//! * [`begin`] runs one scenario at a time (a process-wide lock: each real gateway takes
//!   ~450 MB and a core), skips it with one line when OpenClaw is not installed — or fails
//!   under `CI=true` — and gives it a scratch directory.
//! * [`Scenario`] builds commands for the real OpenClaw (quiet env, scratch `HOME`, its own
//!   state dir, the install's warm `TMPDIR`), our Node drivers in `tests/interop/` and clawpair,
//!   runs them with timeouts, spawns them as [`Proc`]s (own process group, killed on drop, output
//!   in log files), and prints every log when the scenario fails (the scratch dir is kept).
//! * [`Scenario::pass`] appends a line to the run summary
//!   (`target/tmp/interop-openclaw.jsonl`), which `.ci/run` checks: the proof that the interop
//!   target really ran, which scenarios, against which OpenClaw version.
#![allow(dead_code)]

#[path = "../support/tmux.rs"]
pub mod tmux;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The clawpair binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_clawpair");

/// The one line a skipped scenario prints.
pub const SKIP_LINE: &str =
    "interop: skipped — OpenClaw not installed; run scripts/install-openclaw.sh";

/// The environment that keeps every OpenClaw process quiet and local
/// (docs/interop/openclaw-2026.2.26.md §a, spec openclaw-2026.9.md §14).
pub const QUIET_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_SKIP_CHANNELS", "1"),
    ("OPENCLAW_DISABLE_BONJOUR", "1"),
    ("OPENCLAW_SKIP_CRON", "1"),
    ("OPENCLAW_SKIP_GMAIL_WATCHER", "1"),
    ("OPENCLAW_SKIP_BROWSER_CONTROL_SERVER", "1"),
    ("OPENCLAW_SKIP_CANVAS_HOST", "1"),
    ("OPENCLAW_NO_RESPAWN", "1"),
    ("OPENCLAW_NO_AUTO_UPDATE", "1"),
    ("OPENCLAW_HIDE_BANNER", "1"),
    ("NO_COLOR", "1"),
];

/// The shared gateway token of every scenario.
pub const TOKEN: &str = "interop-gateway-token-0123456789abcdef";

/// Whether a missing prerequisite is a failure (CI) or a skip (a developer's machine).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `tests/interop/` (our Node drivers).
pub fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Where `.ci/run` looks for the proof that the interop target ran.
pub fn summary_file() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-openclaw.jsonl")
}

/// The install cache, as `scripts/install-openclaw.sh` computes it.
pub fn cache_dir() -> PathBuf {
    if let Some(c) = std::env::var_os("CLAWPAIR_OPENCLAW_CACHE").filter(|c| !c.is_empty()) {
        return PathBuf::from(c);
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        });
    xdg.join("clawpair/openclaw")
}

/// What differs between OpenClaw versions as far as the harness is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    /// The stdout line that says the gateway accepts connections.
    pub ready_line: &'static str,
}

pub fn flavor(version: &str) -> Flavor {
    match version {
        "2026.2.26" => Flavor {
            ready_line: "[gateway] listening on ws://",
        },
        // openclaw-2026.9.md §14.
        v if v.starts_with("2026.9.") => Flavor {
            ready_line: "[gateway] ready",
        },
        v => panic!("interop: no flavor for OpenClaw {v}; add it to tests/interop_support"),
    }
}

/// One installed OpenClaw version and the Node that runs it.
#[derive(Debug, Clone)]
pub struct Install {
    pub version: String,
    pub cache: PathBuf,
    /// `<cache>/node-<v>/package/bin/node`
    pub node: PathBuf,
    /// `<cache>/openclaw-<v>/node_modules/openclaw`
    pub package: PathBuf,
    /// `<package>/openclaw.mjs`
    pub entry: PathBuf,
    /// `<cache>/openclaw-<v>/tmp`: `TMPDIR` of every OpenClaw process. OpenClaw compiles its
    /// TypeScript extensions into `$TMPDIR/jiti` (60–86 s the first time) and Node keeps its
    /// compile cache in `$TMPDIR/node-compile-cache`; the install script warms both here.
    pub tmpdir: PathBuf,
}

impl Install {
    /// The install of `version`, or why there is none.
    pub fn find(version: &str) -> Result<Install, String> {
        let cache = cache_dir();
        let dir = cache.join(format!("openclaw-{version}"));
        if !dir.join(".clawpair-installed").is_file() {
            return Err(format!("{} is not installed", dir.display()));
        }
        let mut nodes: Vec<PathBuf> = std::fs::read_dir(&cache)
            .map_err(|e| format!("{}: {e}", cache.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("node-") && !n.ends_with(".tmp"))
                    && p.join(".clawpair-installed").is_file()
            })
            .collect();
        nodes.sort();
        let node = nodes
            .last()
            .map(|d| d.join("package/bin/node"))
            .filter(|n| n.is_file())
            .ok_or_else(|| format!("no Node in {}", cache.display()))?;
        let package = dir.join("node_modules/openclaw");
        let pkg: Value = std::fs::read_to_string(package.join("package.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| format!("{}: no package.json", package.display()))?;
        if pkg["version"] != version {
            return Err(format!(
                "{} is OpenClaw {}, not {version}",
                package.display(),
                pkg["version"]
            ));
        }
        let tmpdir = dir.join("tmp");
        std::fs::create_dir_all(&tmpdir).map_err(|e| format!("{}: {e}", tmpdir.display()))?;
        Ok(Install {
            version: version.to_string(),
            cache,
            node,
            entry: package.join("openclaw.mjs"),
            package,
            tmpdir,
        })
    }

    /// Whether the install script has warmed the compile caches.
    pub fn warmed(&self) -> bool {
        self.tmpdir.join(".clawpair-warmed").is_file()
    }
}

/// Things a scenario needs besides OpenClaw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Tmux,
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Writes to the real stderr, past libtest's capture, so the line shows in a plain `cargo test`.
pub fn say(line: &str) {
    // One write, so the line stays whole beside libtest's own output.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

fn record(entry: Value) {
    let path = summary_file();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    writeln!(f, "{entry}").unwrap();
}

fn now_iso() -> String {
    clawpair::clock::format_iso_ms(clawpair::clock::system_now_ms())
}

/// The interop target's one-at-a-time lock (every scenario holds it while it runs).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records scenario `name` as skipped for `why` and says so; under `CI=true` that is a failure.
pub fn skipped(name: &str, version: &str, why: &str) {
    skipped_saying(SKIP_LINE, name, version, why);
}

fn skipped_saying(line: &str, name: &str, version: &str, why: &str) {
    if ci() {
        panic!("{name}: {why}; CI=true, so the interop target must run (.ci/run installs OpenClaw with scripts/install-openclaw.sh)");
    }
    say(&format!("{line} ({name}: {why})"));
    record(
        json!({"scenario": name, "version": version, "result": "skipped", "why": why, "at": now_iso()}),
    );
}

/// Records scenario `name` as passed after `secs` and says so.
pub fn passed(name: &str, version: &str, secs: f64) {
    record(json!({
        "scenario": name,
        "version": version,
        "result": "passed",
        "secs": (secs * 10.0).round() / 10.0,
        "at": now_iso(),
    }));
    say(&format!(
        "interop: {name} passed against OpenClaw {version} in {secs:.1}s"
    ));
}

/// Records scenario `name` as failed.
pub fn failed(name: &str, version: &str) {
    record(json!({"scenario": name, "version": version, "result": "failed", "at": now_iso()}));
}

/// Starts scenario `name` against OpenClaw `version`, after the one before it has finished.
/// `None`: skipped (printed and recorded); under `CI=true` a missing prerequisite panics.
pub fn begin(name: &str, version: &str, needs: &[Need]) -> Option<Scenario> {
    let serial = serial();
    let missing = match Install::find(version) {
        Err(why) => Some((SKIP_LINE.to_string(), why)),
        Ok(_) if needs.contains(&Need::Tmux) && !tmux::Tmux::installed() => Some((
            "interop: skipped — tmux not installed; apt-get install tmux".to_string(),
            "tmux not found".to_string(),
        )),
        Ok(_) => None,
    };
    if let Some((line, why)) = missing {
        skipped_saying(&line, name, version, &why);
        return None;
    }
    let oc = Install::find(version).unwrap();
    static COLD_NOTE: std::sync::Once = std::sync::Once::new();
    if !oc.warmed() {
        COLD_NOTE.call_once(|| say(&format!(
            "interop: the OpenClaw {version} compile caches are not warm; the first OpenClaw runs may take over a minute (scripts/install-openclaw.sh warms them)"
        )));
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("clawpair-interop-{}-", name.replace("::", "-")))
        .tempdir()
        .unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    Some(Scenario {
        name: name.to_string(),
        oc,
        dir: RefCell::new(Some(dir)),
        started: Instant::now(),
        last_step: Cell::new(Instant::now()),
        steps: RefCell::new(Vec::new()),
        logs: RefCell::new(Vec::new()),
        labels: RefCell::new(Default::default()),
        passed: Cell::new(false),
        _serial: serial,
    })
}

/// One running scenario: scratch dir, logs, timings.
pub struct Scenario {
    pub name: String,
    pub oc: Install,
    dir: RefCell<Option<tempfile::TempDir>>,
    started: Instant,
    last_step: Cell<Instant>,
    steps: RefCell<Vec<(String, f64)>>,
    logs: RefCell<Vec<(String, PathBuf)>>,
    labels: RefCell<std::collections::HashMap<String, usize>>,
    passed: Cell<bool>,
    _serial: MutexGuard<'static, ()>,
}

impl Scenario {
    pub fn dir(&self) -> PathBuf {
        self.dir.borrow().as_ref().unwrap().path().to_path_buf()
    }

    /// A directory inside the scratch dir (created).
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.dir().join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn home(&self) -> PathBuf {
        self.dir().join("home")
    }

    /// Marks the end of a step: its time goes into the summary and the log.
    pub fn step(&self, what: &str) {
        let now = Instant::now();
        let secs = now.duration_since(self.last_step.get()).as_secs_f64();
        self.last_step.set(now);
        eprintln!(
            "[{:7.2}s] {} ({secs:.2}s)",
            self.started.elapsed().as_secs_f64(),
            what
        );
        self.steps.borrow_mut().push((what.to_string(), secs));
    }

    /// A fresh log file path for `label` (registered: printed if the scenario fails).
    pub fn log_file(&self, label: &str, ext: &str) -> PathBuf {
        let mut labels = self.labels.borrow_mut();
        let n = labels.entry(format!("{label}.{ext}")).or_insert(0);
        *n += 1;
        let name = if *n == 1 {
            format!("{label}.{ext}")
        } else {
            format!("{label}-{n}.{ext}")
        };
        let p = self.dir().join("logs").join(name);
        self.logs.borrow_mut().push((label.to_string(), p.clone()));
        p
    }

    fn base_env(&self, c: &mut Command) {
        c.env_clear();
        for k in ["PATH", "LANG", "LC_ALL", "TERM"] {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.env("HOME", self.home()).current_dir(self.dir());
    }

    /// The real OpenClaw CLI (`node openclaw.mjs ARGS`) on `state`.
    pub fn oc(&self, state: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.oc.node);
        c.arg(&self.oc.entry).args(args);
        self.oc_env(&mut c, state);
        c
    }

    /// One of our drivers in `tests/interop/` (e.g. `oc2/dm-store.mjs`), run by the install's
    /// Node with the same environment as OpenClaw.
    pub fn driver(&self, state: &Path, script: &str, args: &[&str]) -> Command {
        let mut c = Command::new(&self.oc.node);
        c.arg(drivers_dir().join(script)).args(args);
        self.oc_env(&mut c, state);
        c.env("OPENCLAW_PKG_DIR", &self.oc.package)
            .env("CLAWPAIR_OPENCLAW_CACHE", &self.oc.cache);
        c
    }

    fn oc_env(&self, c: &mut Command, state: &Path) {
        self.base_env(c);
        c.envs(QUIET_ENV.iter().copied())
            .env("OPENCLAW_STATE_DIR", state)
            .env("TMPDIR", &self.oc.tmpdir);
    }

    /// `clawpair --state-dir STATE ARGS`.
    pub fn clawpair(&self, state: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        self.base_env(&mut c);
        c.arg("--state-dir").arg(state).args(args);
        c
    }

    /// Runs `cmd` to the end (at most `timeout`); its output is kept as a log.
    pub fn run(&self, label: &str, cmd: Command, timeout: Duration) -> Out {
        let mut p = self.spawn(label, cmd);
        let status = p.wait(timeout);
        Out {
            label: label.to_string(),
            status,
            stdout: p.stdout(),
            stderr: p.stderr(),
        }
    }

    /// Runs `cmd` and insists on exit status 0.
    pub fn run_ok(&self, label: &str, cmd: Command, timeout: Duration) -> Out {
        let o = self.run(label, cmd, timeout);
        o.ok();
        o
    }

    /// Starts `cmd` in its own process group, stdout and stderr into log files.
    pub fn spawn(&self, label: &str, mut cmd: Command) -> Proc {
        let out = self.log_file(label, "out");
        let err = self.log_file(label, "err");
        let fo = std::fs::File::create(&out).unwrap();
        let fe = std::fs::File::create(&err).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(fo)
            .stderr(fe)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the child dies with the test's thread even if the
        // test process is killed before the guards run.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start {cmd:?}: {e}"));
        Proc {
            label: label.to_string(),
            child,
            out,
            err,
            status: None,
        }
    }

    /// The real gateway on `state`, `127.0.0.1`/`[::1]` `port`, token auth with [`TOKEN`],
    /// and every loopback client needing manual approval; returns once it is ready.
    pub fn oc_gateway(&self, label: &str, state: &Path, port: u16) -> OcGateway {
        let log_file = self.log_file(&format!("{label}-file"), "log");
        let mut cfg = json!({
            "gateway": {
                "mode": "local",
                "port": port,
                "bind": "loopback",
                "auth": { "mode": "token", "token": TOKEN },
            },
            "update": { "checkOnStart": false },
            "discovery": { "mdns": { "mode": "off" } },
            "logging": { "file": log_file },
        });
        match self.oc.version.as_str() {
            // No switch for local auto-approval in 2026.2.26: trusting loopback as a proxy makes
            // every direct loopback client "not local" (docs/interop/openclaw-2026.2.26.md, 1).
            "2026.2.26" => cfg["gateway"]["trustedProxies"] = json!(["127.0.0.1", "::1"]),
            // 2026.9 has the switch; its model catalog refresh would reach the network
            // (docs/interop/openclaw-2026.9.6.md).
            v if v.starts_with("2026.9.") => {
                cfg["gateway"]["nodes"] = json!({ "pairing": { "autoApproveLocal": false } });
                cfg["models"] = json!({ "catalogRefresh": { "enabled": false } });
            }
            v => panic!("interop: no gateway config for OpenClaw {v} yet"),
        }
        std::fs::create_dir_all(state).unwrap();
        std::fs::write(
            state.join("openclaw.json"),
            serde_json::to_string_pretty(&cfg).unwrap(),
        )
        .unwrap();
        let p = port.to_string();
        let cmd = self.oc(
            state,
            &[
                "gateway",
                "run",
                "--port",
                &p,
                "--bind",
                "loopback",
                "--allow-unconfigured",
            ],
        );
        let t = Instant::now();
        let mut proc = self.spawn(label, cmd);
        let ready = flavor(&self.oc.version).ready_line;
        // A cold compile cache took 60–86 s on an idle machine.
        proc.wait_output(label, Duration::from_secs(300), |o, _| o.contains(ready));
        let secs = t.elapsed().as_secs_f64();
        eprintln!("{label}: ready in {secs:.1}s");
        if secs > 30.0 {
            say(&format!(
                "interop: {}: the OpenClaw gateway took {secs:.0}s to start (cold caches?)",
                self.name
            ));
        }
        OcGateway {
            proc,
            port,
            url: format!("ws://127.0.0.1:{port}"),
            state: state.to_path_buf(),
            log_file,
        }
    }

    /// `openclaw node run` against `127.0.0.1:port` with [`TOKEN`], its own state dir.
    pub fn node_host(&self, label: &str, node_state: &Path, port: u16, name: &str) -> Proc {
        let p = port.to_string();
        let mut cmd = self.oc(
            node_state,
            &[
                "node",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &p,
                "--display-name",
                name,
            ],
        );
        cmd.env("OPENCLAW_GATEWAY_TOKEN", TOKEN);
        self.spawn(label, cmd)
    }

    /// Our logging WebSocket proxy in front of `127.0.0.1:target`; every frame goes to its log.
    pub fn ws_proxy(&self, label: &str, target: u16) -> WsProxy {
        let port = free_port();
        let log = self.log_file(&format!("{label}-frames"), "jsonl");
        let (p, t) = (port.to_string(), format!("ws://127.0.0.1:{target}"));
        let cmd = self.driver(
            &self.dir(),
            "ws-log-proxy.mjs",
            &[
                "--listen",
                &p,
                "--target",
                &t,
                "--log",
                log.to_str().unwrap(),
            ],
        );
        let mut proc = self.spawn(label, cmd);
        proc.wait_output(label, Duration::from_secs(30), |_, e| {
            e.contains("proxy listening on")
        });
        WsProxy { proc, port, log }
    }

    /// Ends the scenario as passed: prints its time and records it in the summary.
    pub fn pass(self) {
        let secs = self.started.elapsed().as_secs_f64();
        let steps: Vec<Value> = self
            .steps
            .borrow()
            .iter()
            .map(|(w, s)| json!({"step": w, "secs": (s * 100.0).round() / 100.0}))
            .collect();
        record(json!({
            "scenario": self.name,
            "version": self.oc.version,
            "result": "passed",
            "secs": (secs * 10.0).round() / 10.0,
            "steps": steps,
            "at": now_iso(),
        }));
        say(&format!(
            "interop: {} passed against OpenClaw {} in {secs:.1}s",
            self.name, self.oc.version
        ));
        self.passed.set(true);
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if self.passed.get() {
            return;
        }
        record(
            json!({"scenario": self.name, "version": self.oc.version, "result": "failed", "at": now_iso()}),
        );
        // Keep the scratch dir for a look, and print every log (libtest shows it under the
        // failed test's output).
        let dir = self.dir.borrow_mut().take().map(|d| d.keep());
        for (label, path) in self.logs.borrow().iter() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(80);
            eprintln!(
                "----- {label}: {} ({} lines{}) -----",
                path.display(),
                lines.len(),
                if from > 0 { ", last 80" } else { "" }
            );
            for l in &lines[from..] {
                eprintln!("{}", l.chars().take(400).collect::<String>());
            }
        }
        if let Some(d) = dir {
            eprintln!("----- scratch dir kept: {} -----", d.display());
        }
    }
}

/// The result of [`Scenario::run`].
#[derive(Debug)]
pub struct Out {
    pub label: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> &Self {
        assert!(
            self.status.success(),
            "{}: {}\nstdout:\n{}\nstderr:\n{}",
            self.label,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.label, self.stdout, self.stderr
            )
        })
    }
}

/// A spawned process: own process group, output in two log files; on drop the group gets
/// SIGTERM, then SIGKILL if it is still there after 5 s.
pub struct Proc {
    pub label: String,
    child: Child,
    pub out: PathBuf,
    pub err: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Both outputs, for messages.
    pub fn output(&self) -> String {
        format!(
            "[{} stdout]\n{}[{} stderr]\n{}",
            self.label,
            self.stdout(),
            self.label,
            self.stderr()
        )
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    pub fn running(&mut self) -> bool {
        self.exited().is_none()
    }

    /// Waits until `ok(stdout, stderr)`; panics with the output on timeout, or if the process
    /// exits first without satisfying it.
    pub fn wait_output(&mut self, what: &str, timeout: Duration, ok: impl Fn(&str, &str) -> bool) {
        let start = Instant::now();
        loop {
            let done = self.exited();
            if ok(&self.stdout(), &self.stderr()) {
                return;
            }
            if let Some(st) = done {
                panic!(
                    "{what}: {} exited ({st}) first\n{}",
                    self.label,
                    self.output()
                );
            }
            if start.elapsed() > timeout {
                panic!("{what}: timed out after {timeout:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the process to exit; panics (after killing it) on timeout.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.exited() {
                return st;
            }
            if start.elapsed() > timeout {
                self.kill_group(libc::SIGKILL);
                let _ = self.child.wait();
                panic!(
                    "{}: still running after {timeout:?}; killed\n{}",
                    self.label,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for exit status 0.
    pub fn wait_ok(&mut self, timeout: Duration) {
        let st = self.wait(timeout);
        assert!(st.success(), "{}: {st}\n{}", self.label, self.output());
    }

    pub fn kill_group(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), sig);
        }
    }

    /// SIGTERM to the group; waits (at most `timeout`) and returns the exit status.
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(st) = self.exited() {
            return st;
        }
        self.kill_group(libc::SIGTERM);
        self.wait(timeout)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_some() {
            // The leader is gone; anything left in its group goes too.
            self.kill_group(libc::SIGKILL);
            return;
        }
        self.kill_group(libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if self.exited().is_some() {
                self.kill_group(libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The real OpenClaw gateway (stopped with SIGTERM on drop).
pub struct OcGateway {
    pub proc: Proc,
    pub port: u16,
    pub url: String,
    pub state: PathBuf,
    /// Its own log file (`logging.file`).
    pub log_file: PathBuf,
}

/// `tests/interop/ws-log-proxy.mjs`: one JSON line per frame in `log`.
pub struct WsProxy {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl WsProxy {
    /// Every logged line, parsed.
    pub fn frames(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The first `hello-ok` the server sent (its `res` frame), if any yet.
    pub fn hello_ok(&self) -> Option<Value> {
        self.frames().into_iter().find_map(|f| {
            (f["dir"] == "s2c"
                && f["frame"]["ok"] == true
                && f["frame"]["payload"]["type"] == "hello-ok")
                .then(|| f["frame"].clone())
        })
    }
}

/// A TCP port free on 127.0.0.1 and, where IPv6 is up, on [::1] (the real gateway binds both).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let v6 = std::net::TcpListener::bind(("::1", port));
        match v6 {
            Ok(_) => return port,
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => return port,
            Err(_) => continue,
        }
    }
    panic!("no free port on 127.0.0.1 and [::1]");
}

/// Polls `ok` every 25 ms until it holds; panics with `what` (and `context()`) on timeout.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "timed out after {timeout:?} waiting for {what}\n{}",
        context()
    );
}

/// A JSON file, or `Null` if it is missing or not JSON (yet).
pub fn read_json(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}
