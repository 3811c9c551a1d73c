//! The only code that touches the outside world: the engine (watchers,
//! loaders, effect executor, gateway task) shared by the terminal console
//! and headless mode, plus the terminal event loop.

pub mod backend;
pub mod console;
pub mod headless;
pub mod notify;
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
use backend::Backend;

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
}

/// Watchers, loaders and the effect executor around one `State`.
pub struct Engine {
    pub state: State,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    backend: Arc<Backend>,
    dm_reload: Arc<Notify>,
    dev_reload: Arc<Notify>,
    clipboard: Arc<Mutex<Box<dyn Clipboard>>>,
    output: Box<dyn Output>,
    notify: bool,
    tasks: Vec<JoinHandle<()>>,
    pub watch_kind: watcher::Kind,
    _watch: watcher::WatchHandle,
    gateway: Arc<Mutex<Option<Arc<crate::gateway::GatewayHandle>>>>,
    gateway_started: Option<tokio::sync::oneshot::Receiver<()>>,
    watch_dead: bool,
}

/// `/home/me/.openclaw` → `~/.openclaw` for the status line.
pub fn pretty_dir(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    if let Ok(home) = std::env::var("HOME") {
        if !home.is_empty() && home != "/" {
            if let Some(rest) = s.strip_prefix(&home) {
                return format!("~{rest}");
            }
        }
    }
    s
}

impl Engine {
    /// Starts the watcher and loaders and asks for the first reads. Needs a tokio runtime.
    pub fn start(opts: &Options, clipboard: Box<dyn Clipboard>, output: Box<dyn Output>) -> Engine {
        let (tx, rx) = mpsc::unbounded_channel();
        let backend = Arc::new(Backend::new(&opts.paths, &opts.bind, opts.port));
        let dm_reload = Arc::new(Notify::new());
        let dev_reload = Arc::new(Notify::new());
        let mut tasks = Vec::new();

        // Loaders: one per directory; a Notify coalesces bursts of "changed".
        {
            let (b, n, tx) = (backend.clone(), dm_reload.clone(), tx.clone());
            // Test hook: make this background task panic (the console must keep a
            // working screen and say so).
            let panic_for_test = std::env::var_os("CLAWPAIR_TEST_PANIC_DM_LOADER").is_some();
            tasks.push(spawn_supervised("DM loader", tx.clone(), async move {
                loop {
                    n.notified().await;
                    if panic_for_test {
                        panic!("test panic in the DM loader");
                    }
                    let b = b.clone();
                    let r = tokio::task::spawn_blocking(move || b.load_dm(now_ms()))
                        .await
                        .unwrap_or_else(|e| Err(format!("reading credentials failed: {e}")));
                    if tx.send(Msg::DmLoaded(r)).is_err() {
                        break;
                    }
                }
            }));
        }
        {
            let (b, n, tx) = (backend.clone(), dev_reload.clone(), tx.clone());
            tasks.push(spawn_supervised("device loader", tx.clone(), async move {
                loop {
                    n.notified().await;
                    let b = b.clone();
                    let r = tokio::task::spawn_blocking(move || b.load_devices(now_ms()))
                        .await
                        .unwrap_or_else(|e| Err(format!("reading devices failed: {e}")));
                    if tx.send(Msg::DevicesLoaded(r)).is_err() {
                        break;
                    }
                }
            }));
        }
        let watch = {
            let (dn, vn) = (dm_reload.clone(), dev_reload.clone());
            watcher::spawn(
                opts.paths.credentials_dir.clone(),
                opts.paths.devices_dir.clone(),
                opts.force_poll,
                move |c| match c {
                    watcher::Changed::Dm => dn.notify_one(),
                    watcher::Changed::Devices => vn.notify_one(),
                },
            )
        };
        if watch.kind == watcher::Kind::Poll {
            tracing::info!("watching the state dir by polling");
        }
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
        let state = State::new(pretty_dir(&opts.paths.state_dir), now_ms());
        Engine {
            state,
            tx,
            rx,
            backend,
            dm_reload,
            dev_reload,
            clipboard: Arc::new(Mutex::new(clipboard)),
            output,
            notify: opts.notify,
            tasks,
            watch_kind: watch.kind,
            _watch: watch,
            gateway,
            gateway_started,
            watch_dead: false,
        }
    }

    /// Runs `update` and then its effects.
    pub fn handle(&mut self, msg: Msg) {
        if matches!(msg, Msg::Tick(_)) && !self._watch.alive() {
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
        if matches!(msg, Msg::DmLoaded(_) | Msg::DevicesLoaded(_)) {
            // Fresh rows are judged against a fresh clock.
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
        let b = self.backend.clone();
        match e {
            Effect::ApproveDm { key, code } => {
                self.action(key.clone(), "approved", move || {
                    b.approve_dm(&key, &code, now_ms())
                });
                self.dm_reload.notify_one();
            }
            Effect::RejectDm { key, code } => {
                self.action(key.clone(), "rejected", move || {
                    b.reject_dm(&key, &code, now_ms())
                });
            }
            Effect::RevokeAllow { key } => {
                self.action(key.clone(), "revoked", move || {
                    b.revoke_allow(&key, now_ms())
                });
            }
            Effect::ApproveDevice { key, request_id } => {
                self.action(key, "approved", move || {
                    b.approve_device(&request_id, now_ms())
                });
            }
            Effect::RejectDevice { key, request_id } => {
                self.action(key, "rejected", move || {
                    b.reject_device(&request_id, now_ms())
                });
            }
            Effect::RemoveDevice { key, device_id } => {
                self.action(key, "removed", move || {
                    b.remove_device(&device_id, now_ms())
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
                tokio::spawn(async move {
                    let r = tokio::task::spawn_blocking(move || b.issue_setup_code(port, now_ms()))
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                    match r {
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
            Effect::Emit(ev) => self.output.emit(&ev),
            Effect::Quit => {}
        }
    }

    /// Runs a store write on a blocking thread and reports it back.
    fn action(
        &self,
        key: crate::app::state::RowKey,
        verb: &'static str,
        f: impl FnOnce() -> Result<String, String> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        let (dn, vn) = (self.dm_reload.clone(), self.dev_reload.clone());
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(f)
                .await
                .unwrap_or_else(|e| Err(format!("internal error: {e}")));
            let _ = tx.send(Msg::ActionDone { key, verb, result });
            dn.notify_one();
            vn.notify_one();
        });
    }

    /// Stops the gateway first (its clients get `shutdown`), handles the
    /// messages that produces (the `stopped` event), then stops the rest.
    pub async fn shutdown(&mut self) {
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
