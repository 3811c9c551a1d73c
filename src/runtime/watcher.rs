//! Watches `credentials/` and `devices/` and says "this dir changed"; the
//! runtime re-reads it (the files stay the source of truth).
//!
//! - Bursts are debounced (a short trailing window, well inside the 250 ms
//!   budget for showing a change made elsewhere).
//! - A directory that does not exist yet is waited for by watching its
//!   nearest existing ancestor; once it appears it is watched itself and
//!   reported as changed. A directory deleted and re-created is re-armed.
//! - Atomic writes (temp file + rename) show up as create/rename events on
//!   the directory, which is what we watch, so they are seen.
//! - When the native watcher cannot be created or cannot watch, a
//!   `PollWatcher` takes over (network file systems, WSL, exhausted inotify).
//! - Both directories are flat (OpenClaw keeps no subdirectories there), so
//!   each is watched non-recursively; a missing one is waited for through
//!   its ancestor instead of watching the whole state dir recursively.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

/// Which watched directory changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Dm,
    Devices,
}

/// Trailing debounce window.
pub const DEBOUNCE: Duration = Duration::from_millis(25);
/// Poll interval of the fallback watcher.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);
/// How often the watch targets are re-checked (a directory created or deleted).
const REARM_EVERY: Duration = Duration::from_millis(1000);

/// Which kind of watcher is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Native,
    Poll,
}

/// Owns the watcher thread; dropping it stops the thread.
pub struct WatchHandle {
    stop: std_mpsc::Sender<()>,
    pub kind: Kind,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WatchHandle {
    /// False once the watcher thread has ended (it only ends on drop, or by a panic).
    pub fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum AnyWatcher {
    Native(RecommendedWatcher),
    Poll(PollWatcher),
}

impl AnyWatcher {
    fn watch(&mut self, p: &Path) -> notify::Result<()> {
        match self {
            AnyWatcher::Native(w) => w.watch(p, RecursiveMode::NonRecursive),
            AnyWatcher::Poll(w) => w.watch(p, RecursiveMode::NonRecursive),
        }
    }
    fn unwatch(&mut self, p: &Path) {
        let _ = match self {
            AnyWatcher::Native(w) => w.unwatch(p),
            AnyWatcher::Poll(w) => w.unwatch(p),
        };
    }
}

/// One directory we care about and what we currently watch for it.
struct Target {
    dir: PathBuf,
    which: Changed,
    /// The path actually watched: `dir` itself or an ancestor while `dir` is missing.
    watched: Option<PathBuf>,
    /// Identity of the watched directory, to notice one deleted and re-created.
    ident: Option<(u64, u64)>,
}

fn ident(p: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(p).ok().map(|_| (0, 0))
    }
}

fn nearest_existing(p: &Path) -> Option<PathBuf> {
    let mut cur = Some(p);
    while let Some(c) = cur {
        if c.is_dir() {
            return Some(c.to_path_buf());
        }
        cur = c.parent();
    }
    None
}

/// Starts watching; `on_change` is called from the watcher thread.
/// `force_poll` (or env `CLAWPAIR_POLL_WATCHER=1`) skips the native watcher.
pub fn spawn(
    credentials_dir: PathBuf,
    devices_dir: PathBuf,
    force_poll: bool,
    on_change: impl Fn(Changed) + Send + 'static,
) -> WatchHandle {
    let force_poll =
        force_poll || std::env::var("CLAWPAIR_POLL_WATCHER").is_ok_and(|v| v == "1" || v == "true");
    let (ev_tx, ev_rx) = std_mpsc::channel::<notify::Result<notify::Event>>();
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();

    let make_native = |tx: std_mpsc::Sender<_>| -> notify::Result<AnyWatcher> {
        RecommendedWatcher::new(
            move |e| {
                let _ = tx.send(e);
            },
            notify::Config::default(),
        )
        .map(AnyWatcher::Native)
    };
    let make_poll = |tx: std_mpsc::Sender<_>| -> notify::Result<AnyWatcher> {
        PollWatcher::new(
            move |e| {
                let _ = tx.send(e);
            },
            // mtimes are compared in whole seconds; hash the (small) files instead.
            notify::Config::default()
                .with_poll_interval(POLL_INTERVAL)
                .with_compare_contents(true),
        )
        .map(AnyWatcher::Poll)
    };
    let mut targets = vec![
        Target {
            dir: credentials_dir,
            which: Changed::Dm,
            watched: None,
            ident: None,
        },
        Target {
            dir: devices_dir,
            which: Changed::Devices,
            watched: None,
            ident: None,
        },
    ];
    let mut watcher = if force_poll {
        None
    } else {
        make_native(ev_tx.clone()).ok()
    };
    if let Some(w) = watcher.as_mut() {
        // If the native watcher cannot watch what exists, use polling for everything.
        let ok = targets.iter().all(|t| match nearest_existing(&t.dir) {
            Some(p) => w.watch(&p).is_ok(),
            None => true,
        });
        if !ok {
            tracing::warn!("native file watcher failed; polling instead");
            watcher = None;
        } else {
            for t in targets.iter_mut() {
                t.watched = nearest_existing(&t.dir);
                t.ident = t.watched.as_deref().and_then(ident);
            }
        }
    }
    let mut watcher = match watcher {
        Some(w) => w,
        None => {
            let mut w = make_poll(ev_tx.clone()).expect("poll watcher");
            for t in targets.iter_mut() {
                t.watched = nearest_existing(&t.dir);
                t.ident = t.watched.as_deref().and_then(ident);
                if let Some(p) = &t.watched {
                    let _ = w.watch(p);
                }
            }
            w
        }
    };
    let kind = match watcher {
        AnyWatcher::Native(_) => Kind::Native,
        AnyWatcher::Poll(_) => Kind::Poll,
    };

    let thread = std::thread::Builder::new()
        .name("clawpair-watch".into())
        .spawn(move || {
            let mut last_rearm = Instant::now();
            loop {
                if stop_rx.try_recv().is_ok() {
                    break;
                }
                let mut dirty = [false, false];
                let mut touched_watched = false;
                match ev_rx.recv_timeout(REARM_EVERY) {
                    Ok(first) => {
                        touched_watched |= classify(&first, &targets, &mut dirty);
                        // Trailing debounce: gather the rest of the burst.
                        let deadline = Instant::now() + DEBOUNCE;
                        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                            match ev_rx.recv_timeout(left) {
                                Ok(e) => touched_watched |= classify(&e, &targets, &mut dirty),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                }
                // Re-arm when something happened on an ancestor, or periodically.
                let ancestor_event = targets
                    .iter()
                    .enumerate()
                    .any(|(i, t)| dirty[i] && t.watched.as_deref() != Some(t.dir.as_path()));
                if ancestor_event || touched_watched || last_rearm.elapsed() >= REARM_EVERY {
                    last_rearm = Instant::now();
                    let mut unwatched: Vec<PathBuf> = Vec::new();
                    for (i, t) in targets.iter_mut().enumerate() {
                        let want = nearest_existing(&t.dir);
                        let now_ident = want.as_deref().and_then(ident);
                        let replaced = now_ident != t.ident;
                        if want != t.watched || replaced {
                            if let Some(old) = t.watched.take() {
                                watcher.unwatch(&old);
                                unwatched.push(old);
                            }
                            if let Some(p) = &want {
                                if let Err(e) = watcher.watch(p) {
                                    tracing::warn!("cannot watch {}: {e}", p.display());
                                }
                            }
                            t.watched = want;
                            t.ident = now_ident;
                            // It appeared, vanished or moved: re-read.
                            dirty[i] = true;
                        }
                    }
                    // Two targets may share a watched path (an ancestor): watch it
                    // again for the other one, and re-read it, since a change made
                    // while it was being re-armed may have been absorbed.
                    for (i, t) in targets.iter().enumerate() {
                        if let Some(p) = &t.watched {
                            if !dirty[i] && unwatched.contains(p) {
                                let _ = watcher.watch(p);
                                dirty[i] = true;
                            }
                        }
                    }
                }
                for (i, t) in targets.iter().enumerate() {
                    if dirty[i] {
                        on_change(t.which);
                    }
                }
            }
            drop(watcher);
        })
        .expect("spawn watcher thread");
    WatchHandle {
        stop: stop_tx,
        kind,
        thread: Some(thread),
    }
}

/// Marks which targets an event concerns. Access events and lock files are
/// ignored. Returns true when the event is about a watched directory itself
/// (deleted, moved), which calls for re-arming now.
fn classify(ev: &notify::Result<notify::Event>, targets: &[Target], dirty: &mut [bool; 2]) -> bool {
    let ev = match ev {
        Ok(e) => e,
        Err(_) => {
            // An error from the backend: re-read everything to be safe.
            dirty.iter_mut().for_each(|d| *d = true);
            return true;
        }
    };
    if matches!(ev.kind, EventKind::Access(_)) {
        return false;
    }
    let mut touched = false;
    for p in &ev.paths {
        if targets
            .iter()
            .any(|t| t.watched.as_deref() == Some(p.as_path()))
        {
            touched = true;
        }
        if p.extension().is_some_and(|e| e == "lock") {
            continue;
        }
        for (i, t) in targets.iter().enumerate() {
            let Some(w) = &t.watched else { continue };
            if w == &t.dir {
                if p.starts_with(&t.dir) {
                    dirty[i] = true;
                }
            } else if t.dir.starts_with(p) || p.parent() == Some(w.as_path()) {
                // Something changed next to where the directory will appear.
                dirty[i] = true;
            }
        }
    }
    if ev.paths.is_empty() {
        dirty.iter_mut().for_each(|d| *d = true);
    }
    touched
}
