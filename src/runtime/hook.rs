//! `--exec-on-request CMD`: for every new DM or device request, `sh -c CMD`
//! runs with the event's JSON line on stdin (the same line headless mode
//! prints: no code, no token) and `CLAWPAIR_EVENT` set to its name, so an
//! owner can forward requests to a phone with a one-line script.
//!
//! The engine hands events over without waiting (a bounded queue; past it,
//! events are dropped with a warning). At most [`HookConfig::max_running`]
//! commands run at once; each gets [`HookConfig::timeout`], then its process
//! group is killed. Failures (exit status, timeout, spawn errors, stderr's
//! first line) are logged; nothing a hook does reaches the engine.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::app::effect::Event;

/// Events waiting for a free slot beyond this are dropped (and logged).
const QUEUE: usize = 4096;

#[derive(Debug, Clone)]
pub struct HookConfig {
    /// A shell command line.
    pub command: String,
    pub max_running: usize,
    pub timeout: Duration,
}

impl HookConfig {
    pub fn new(command: impl Into<String>) -> HookConfig {
        HookConfig {
            command: command.into(),
            max_running: 4,
            timeout: Duration::from_secs(30),
        }
    }
}

pub struct Hook {
    queue: mpsc::Sender<(String, String)>,
    dispatcher: JoinHandle<()>,
}

impl Hook {
    /// Starts the dispatcher (needs a tokio runtime); failures go to the log.
    pub fn start(cfg: HookConfig) -> Hook {
        let (queue, mut rx) = mpsc::channel::<(String, String)>(QUEUE);
        let dispatcher = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(cfg.max_running.max(1)));
            let mut running = Vec::new();
            while let Some((name, line)) = rx.recv().await {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let cfg = cfg.clone();
                running.retain(|t: &JoinHandle<()>| !t.is_finished());
                running.push(tokio::spawn(async move {
                    run_one(&cfg, &name, &line).await;
                    drop(permit);
                }));
            }
            for t in running {
                let _ = t.await;
            }
        });
        Hook { queue, dispatcher }
    }

    /// Queues `ev` for the command; never waits.
    pub fn send(&self, ev: &Event) {
        let Some(line) = super::headless::event_line(ev) else {
            return;
        };
        let name = event_name(ev);
        if let Err(e) = self.queue.try_send((name, line)) {
            tracing::warn!("--exec-on-request: event dropped ({e}); the hook is too slow");
        }
    }

    /// No more events; waits up to `within` for the running commands.
    pub async fn finish(self, within: Duration) {
        drop(self.queue);
        let mut d = self.dispatcher;
        if tokio::time::timeout(within, &mut d).await.is_err() {
            d.abort();
        }
    }
}

fn event_name(ev: &Event) -> String {
    serde_json::to_value(ev)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn run_one(cfg: &HookConfig, name: &str, line: &str) {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&cfg.command)
        .env("CLAWPAIR_EVENT", name)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("--exec-on-request: cannot start /bin/sh: {e}");
            return;
        }
    };
    let pid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores its input may close stdin early: not an error.
        let _ = stdin.write_all(line.as_bytes()).await;
        let _ = stdin.write_all(b"\n").await;
    }
    let mut stderr = child.stderr.take();
    let work = async {
        let mut err = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(4096).read_to_end(&mut err).await;
        }
        (child.wait().await, err)
    };
    match tokio::time::timeout(cfg.timeout, work).await {
        Ok((Ok(status), _)) if status.success() => {
            tracing::debug!("--exec-on-request: {name} delivered");
        }
        Ok((Ok(status), err)) => {
            let first = String::from_utf8_lossy(&err)
                .lines()
                .next()
                .map(crate::sanitize::for_terminal)
                .unwrap_or_default();
            tracing::warn!("--exec-on-request: the command failed for {name} ({status}): {first}");
        }
        Ok((Err(e), _)) => tracing::warn!("--exec-on-request: waiting for the command: {e}"),
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: signalling the process group we created for the command.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
            }
            tracing::warn!(
                "--exec-on-request: the command ran longer than {}s for {name} and was killed",
                cfg.timeout.as_secs()
            );
        }
    }
}
