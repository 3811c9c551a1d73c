//! Terminal setup and teardown. The terminal is restored on every exit path:
//! normal quit, errors (a drop guard), and panics on the console thread (the
//! panic hook). A panic on a background thread does not touch the screen: it
//! is recorded, the supervisor reports it as a message, and the console keeps
//! a working screen.

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use ratatui::DefaultTerminal;

static CONSOLE_THREAD: OnceLock<ThreadId> = OnceLock::new();
static SAVED_STDERR: OnceLock<i32> = OnceLock::new();
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The message of the last background panic, once.
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take())
}

/// Restores the terminal (and stderr) when dropped.
pub struct Guard {
    saved_stderr: Option<i32>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        ratatui::restore();
        if let Some(fd) = self.saved_stderr.take() {
            // SAFETY: plain descriptor calls on descriptors we own.
            unsafe {
                libc::dup2(fd, 2);
                libc::close(fd);
            }
        }
    }
}

/// While the console owns the screen, stderr (logs, stray prints from any
/// module) goes to `$CLAWPAIR_LOG_FILE` or nowhere, never onto the screen.
fn divert_stderr() -> Option<i32> {
    use std::os::fd::IntoRawFd;
    let target = match std::env::var_os(crate::logfile::LOG_FILE_ENV) {
        Some(p) if !p.is_empty() => crate::logfile::open_private(std::path::Path::new(&p)).ok()?,
        _ => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()?,
    };
    let fd = target.into_raw_fd();
    // SAFETY: plain descriptor calls; `saved` is closed again by the guard.
    unsafe {
        let saved = libc::dup(2);
        if saved < 0 {
            libc::close(fd);
            return None;
        }
        libc::dup2(fd, 2);
        libc::close(fd);
        Some(saved)
    }
}

/// Enters raw mode and the alternate screen, and installs the panic hook.
/// Must be called on the thread that draws.
pub fn init() -> (DefaultTerminal, Guard) {
    let _ = CONSOLE_THREAD.set(std::thread::current().id());
    let saved_stderr = divert_stderr();
    // ratatui::init's hook restores the terminal, then runs the previous hook.
    let terminal = ratatui::init();
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if Some(&std::thread::current().id()) == CONSOLE_THREAD.get() {
            // Put stderr back first so the report is seen.
            if let Some(fd) = SAVED_STDERR.get() {
                // SAFETY: duplicating a descriptor we own onto stderr.
                unsafe {
                    libc::dup2(*fd, 2);
                }
            }
            restore_and_report(info);
        } else {
            let msg = panic_text(info);
            tracing::error!("background task panicked: {msg}");
            if let Ok(mut p) = LAST_PANIC.lock() {
                *p = Some(msg);
            }
        }
    }));
    if let Some(fd) = saved_stderr {
        let _ = SAVED_STDERR.set(fd);
    }
    (terminal, Guard { saved_stderr })
}

fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    match info.location() {
        Some(l) => format!("{payload} at {}:{}", l.file(), l.line()),
        None => payload,
    }
}
