//! The only code that touches the outside world: the engine (watchers,
//! loaders, effect executor, gateway task) shared by the terminal console
//! and headless mode, plus the terminal event loop.

pub mod console;
pub mod headless;
pub mod hook;
pub mod notify;
pub mod recorder;
pub mod source;
pub mod term;
pub mod watcher;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::app::effect::{Effect, Event};
use crate::app::msg::Msg;
use crate::app::state::State;
use crate::app::update::update;
use crate::clipboard::Clipboard;
use crate::clock::now_ms;
use crate::paths::Paths;
pub use source::pretty_dir;
use source::{files::FileSource, Changed, Source, Watching};

/// Where engine output goes: the terminal console or headless stdout/stderr.
pub trait Output: Send {
    /// A machine-readable event (headless prints it; the console ignores it).
    fn emit(&mut self, ev: &Event);
    /// A new request: bell and desktop notification (console only).
    fn notify(&mut self, text: &str);
}

/// What the engine needs from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Paths,
    /// The gateway to run in the background; `None` with `--no-gateway`.
    pub gateway: Option<crate::gateway::GatewayConfig>,
    /// Bind address and port for setup-code URLs (also with `--no-gateway`).
    pub bind: String,
    pub port: u16,
    pub notify: bool,
    pub force_poll: bool,
    /// Who makes the decisions taken here, for the audit log (console or headless).
    pub via: crate::audit::Via,
    /// `--quick-approve`: DM codes are approved without the card.
    pub quick_approve: bool,
    /// `--exec-on-request`: a command run for every new request.
    pub hook: Option<hook::HookConfig>,
    /// Attach to this gateway over WebSocket instead of the state files.
    pub remote: Option<crate::operator::Remote>,
}

impl Options {
    /// The options of the console on `paths` with everything else at its default.
    pub fn new(paths: Paths) -> Options {
        Options {
            paths,
            gateway: None,
            bind: "127.0.0.1".into(),
            port: 18789,
            notify: false,
            force_poll: false,
            via: crate::audit::Via::Console,
            quick_approve: false,
            hook: None,
            remote: None,
        }
    }
}

/// The source, watcher, loaders, effect executor and gateway task around one `State`.
pub struct Engine {
    pub state: State,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    source: Arc<dyn Source>,
    dm_reload: Arc<Notify>,
    dev_reload: Arc<Notify>,
    clipboard: Arc<Mutex<Box<dyn Clipboard>>>,
    output: Box<dyn Output>,
    notify: bool,
    tasks: Vec<JoinHandle<()>>,
    watch: Box<dyn Watching>,
    gateway: Arc<Mutex<Option<Arc<crate::gateway::GatewayHandle>>>>,
    gateway_started: Option<tokio::sync::oneshot::Receiver<()>>,
    watch_dead: bool,
    /// Appends decisions to the audit log.
    recorder: recorder::Recorder,
    hook: Option<hook::Hook>,
}

/// A loader: waits for `wanted`, asks the source, sends what it got. A
/// `Notify` coalesces bursts of "changed" into one read.
fn spawn_loader<T: Send + 'static>(
    name: &'static str,
    tx: mpsc::UnboundedSender<Msg>,
    wanted: Arc<Notify>,
    load: impl Fn(i64) -> source::Pending<T> + Send + 'static,
    msg: fn(T) -> Msg,
) -> JoinHandle<()> {
    // Test hook: make the DM loader panic (the console must keep a working
    // screen and say so).
    let panic_for_test =
        name == "DM loader" && std::env::var_os("CLAWPAIR_TEST_PANIC_DM_LOADER").is_some();
    spawn_supervised(name, tx.clone(), async move {
        loop {
            wanted.notified().await;
            if panic_for_test {
                panic!("test panic in the DM loader");
            }
            if tx.send(msg(load(now_ms()).await)).is_err() {
                break;
            }
        }
    })
}

impl Engine {
    /// Starts the watcher and loaders on the state files of `opts.paths` and
    /// asks for the first reads. Needs a tokio runtime.
    pub fn start(opts: &Options, clipboard: Box<dyn Clipboard>, output: Box<dyn Output>) -> Engine {
        let source: Arc<dyn Source> = if let Some(r) = &opts.remote {
            Arc::new(source::gateway::GatewaySource::start(r.clone()))
        } else if crate::statedb::Generation::detect(&opts.paths.state_dir).is_sqlite() {
            Arc::new(source::sqlite::SqliteSource::new(&opts.paths))
        } else {
            Arc::new(FileSource::new(&opts.paths, &opts.bind, opts.port))
        };
        Engine::with_source(opts, source, clipboard, output)
    }

    /// [`Engine::start`] on any source.
    pub fn with_source(
        opts: &Options,
        source: Arc<dyn Source>,
        clipboard: Box<dyn Clipboard>,
        output: Box<dyn Output>,
    ) -> Engine {
        let (tx, rx) = mpsc::unbounded_channel();
        let dm_reload = Arc::new(Notify::new());
        let dev_reload = Arc::new(Notify::new());
        let mut tasks = Vec::new();

        let src = source.clone();
        tasks.push(spawn_loader(
            "DM loader",
            tx.clone(),
            dm_reload.clone(),
            move |now| src.clone().load_dm(now),
            Msg::DmLoaded,
        ));
        let src = source.clone();
        tasks.push(spawn_loader(
            "device loader",
            tx.clone(),
            dev_reload.clone(),
            move |now| src.clone().load_devices(now),
            Msg::DevicesLoaded,
        ));
        let watch = {
            let (dn, vn, stx) = (dm_reload.clone(), dev_reload.clone(), tx.clone());
            source.watch(
                opts.force_poll,
                Box::new(move |c| match c {
                    Changed::Dm => dn.notify_one(),
                    Changed::Devices => vn.notify_one(),
                    Changed::Remote(st) => {
                        let _ = stx.send(Msg::Remote(st));
                    }
                    Changed::OpenClawGateway { port, reachable } => {
                        let _ = stx.send(Msg::OpenClawGateway { port, reachable });
                    }
                }),
            )
        };
        dm_reload.notify_one();
        dev_reload.notify_one();

        // The gateway: its events become messages; a bind failure is one of them.
        let gateway = Arc::new(Mutex::new(None));
        let mut gateway_started = None;
        if let Some(cfg) = opts.gateway.clone() {
            let (gtx, mut grx) = mpsc::unbounded_channel();
            let fwd = tx.clone();
            tasks.push(spawn_supervised("gateway events", tx.clone(), async move {
                while let Some(ev) = grx.recv().await {
                    if fwd.send(Msg::Gateway(ev)).is_err() {
                        break;
                    }
                }
            }));
            let _ = tx.send(Msg::GatewayStarting(format!("{}:{}", cfg.bind, cfg.port)));
            let (slot, paths) = (gateway.clone(), opts.paths.clone());
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            gateway_started = Some(done_rx);
            tasks.push(spawn_supervised("gateway", tx.clone(), async move {
                let h = crate::gateway::start(cfg, paths, gtx).await;
                if let Ok(mut s) = slot.lock() {
                    *s = Some(Arc::new(h));
                }
                let _ = done_tx.send(());
            }));
        }
        let info = source.info();
        let place = match &info.kind {
            source::SourceKind::Files | source::SourceKind::Sqlite { .. } => {
                crate::audit::Place::Local(opts.paths.state_dir.clone())
            }
            source::SourceKind::Gateway { url } => crate::audit::Place::Gateway(url.clone()),
        };
        let recorder = recorder::Recorder::start(place, opts.via, tx.clone());
        let mut state = State::new(info.location, now_ms());
        state.quick_approve = opts.quick_approve;
        state.dm_cap = info.kind.dm_cap();
        if let source::SourceKind::Sqlite { .. } = info.kind {
            // OpenClaw 2026.9's gateway owns the devices there; clawpair's does not start.
            state.gateway = crate::app::rows::GatewayStatus::OpenClawOwns {
                port: crate::statedb::gateway::configured_port(
                    &crate::openclaw_config::OpenClawConfig::load(&opts.paths.config_file),
                ),
                reachable: None,
            };
        }
        let hook = opts.hook.clone().map(hook::Hook::start);
        Engine {
            recorder,
            hook,
            state,
            tx,
            rx,
            source,
            dm_reload,
            dev_reload,
            clipboard: Arc::new(Mutex::new(clipboard)),
            output,
            notify: opts.notify,
            tasks,
            watch,
            gateway,
            gateway_started,
            watch_dead: false,
        }
    }

    /// How the source notices changes ("native events", "polling").
    pub fn watching_by(&self) -> &'static str {
        self.watch.how()
    }

    /// Runs `update` and then its effects.
    pub fn handle(&mut self, msg: Msg) {
        if matches!(msg, Msg::Tick(_)) && !self.watch.alive() {
            // The watcher died: say so once, then fall back to re-reading every tick.
            if !self.watch_dead {
                self.watch_dead = true;
                let _ = self.tx.send(Msg::TaskFailed(
                    "file watcher stopped; re-reading every second instead".into(),
                ));
            }
            self.dm_reload.notify_one();
            self.dev_reload.notify_one();
        }
        if matches!(
            msg,
            Msg::Key(_) | Msg::DmLoaded(_) | Msg::DevicesLoaded(_) | Msg::ActionDone { .. }
        ) {
            // Fresh rows are judged against a fresh clock, and a key is timed
            // against the last change of the selection.
            let fx = update(&mut self.state, Msg::Tick(now_ms()));
            for e in fx {
                self.run(e);
            }
        }
        let fx = update(&mut self.state, msg);
        for e in fx {
            self.run(e);
        }
    }

    fn run(&mut self, e: Effect) {
        let tx = self.tx.clone();
        match e {
            Effect::Act { key, act } => {
                let kind = act.kind();
                let work = self.source.clone().act(act, now_ms());
                let (dn, vn) = (self.dm_reload.clone(), self.dev_reload.clone());
                let gateway = self.gateway.clone();
                tokio::spawn(async move {
                    let result = work.await;
                    // The console's own gateway acts on it at once: a removed
                    // device's connections close now, not at its next look.
                    if result.is_ok() {
                        if let Some(h) = gateway.lock().ok().and_then(|g| g.clone()) {
                            h.devices_changed();
                        }
                    }
                    let _ = tx.send(Msg::ActionDone { key, kind, result });
                    dn.notify_one();
                    vn.notify_one();
                });
            }
            Effect::Copy { what, text } => {
                // On the loop's own thread: an OSC 52 write must not interleave
                // with a frame being drawn (arboard hands X11 work to its own thread).
                let result = match self.clipboard.lock() {
                    Ok(mut c) => c.copy(&text),
                    Err(_) => Err("clipboard unavailable".into()),
                };
                let _ = tx.send(Msg::Copied { what, result });
            }
            Effect::IssueSetupCode => {
                let port = self
                    .gateway
                    .lock()
                    .ok()
                    .and_then(|g| g.as_ref().and_then(|h| h.local_addr()))
                    .map(|a| a.port());
                let work = self.source.clone().issue_setup_code(port, now_ms());
                tokio::spawn(async move {
                    match work.await {
                        Ok((code, warning)) => {
                            let _ = tx.send(Msg::SetupCodeIssued(Ok(code)));
                            if let Some(w) = warning {
                                let _ = tx.send(Msg::Info(w));
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::SetupCodeIssued(Err(e)));
                        }
                    }
                });
            }
            Effect::ReloadDevices => self.dev_reload.notify_one(),
            Effect::Notify(text) => {
                if self.notify {
                    self.output.notify(&text);
                }
            }
            Effect::Emit(ev) => {
                if ev.is_new_request() {
                    if let Some(h) = &self.hook {
                        h.send(&ev);
                    }
                }
                self.output.emit(&ev)
            }
            Effect::Record(d) => self.recorder.record(d),
            Effect::LoadHistory => self.recorder.load_history(),
            Effect::Quit => {}
        }
    }

    /// Writes the decisions still on their way to the log (observations
    /// without their wait), then stops the gateway (its clients get
    /// `shutdown`) and handles the messages that produces (its `stopped`
    /// event is the last one), then stops the rest.
    pub async fn shutdown(&mut self) {
        self.recorder.flush(Duration::from_secs(3)).await;
        let mut later = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            if matches!(msg, Msg::Recorded(_)) {
                self.handle(msg);
            } else {
                later.push(msg);
            }
        }
        for m in later {
            let _ = self.tx.send(m);
        }
        if let Some(started) = self.gateway_started.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), started).await;
        }
        let handle = self.gateway.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle {
            h.shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), h.wait()).await;
            // Let the forwarder deliver the last events, then handle them.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
            while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
                let stopped = matches!(msg, Msg::Gateway(crate::gateway::GatewayEvent::Stopped));
                self.handle(msg);
                if stopped {
                    break;
                }
            }
        }
        // A decision announced while the gateway stopped is still written
        // (without its event: `gateway.stopped` stays the last line).
        self.recorder.flush(Duration::from_secs(3)).await;
        if let Some(h) = self.hook.take() {
            h.finish(Duration::from_secs(5)).await;
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

/// Spawns a task and turns its death (panic or early end) into a message.
pub fn spawn_supervised(
    name: &'static str,
    tx: mpsc::UnboundedSender<Msg>,
    fut: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    let inner = tokio::spawn(fut);
    tokio::spawn(async move {
        match inner.await {
            Ok(()) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                let why = term::take_panic_message().unwrap_or_else(|| e.to_string());
                let _ = tx.send(Msg::TaskFailed(format!("{name} stopped: {why}")));
            }
        }
    })
}
