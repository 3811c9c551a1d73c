//! Copying codes. One `arboard` handle lives for the whole process (on X11
//! the copied text dies with the last handle); with no display, or over SSH,
//! the OSC 52 escape goes to the terminal instead (wrapped for tmux). Each
//! copy says which path it took. Copies are marked as excluded from
//! clipboard history where the platform supports it.

use std::io::Write;

use base64::Engine as _;

/// Something that can put text on a clipboard.
pub trait Clipboard: Send {
    /// Copies `text`; `Ok` names the path used, for the toast.
    fn copy(&mut self, text: &str) -> Result<String, String>;
}

/// A fake for tests and headless mode: remembers what was copied.
#[derive(Debug, Default)]
pub struct MemoryClipboard {
    pub copied: Vec<String>,
}

impl Clipboard for MemoryClipboard {
    fn copy(&mut self, text: &str) -> Result<String, String> {
        self.copied.push(text.to_string());
        Ok("copied (to memory)".into())
    }
}

/// How the environment says copies should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The desktop clipboard (arboard), falling back to OSC 52 on failure.
    System,
    /// The terminal's clipboard through OSC 52.
    Osc52,
}

/// Chooses the route from environment variables (injectable for tests).
pub fn route(env: &dyn Fn(&str) -> Option<String>) -> Route {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") || set("SSH_CLIENT") {
        return Route::Osc52;
    }
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) && !set("DISPLAY")
        && !set("WAYLAND_DISPLAY")
    {
        return Route::Osc52;
    }
    Route::System
}

/// The OSC 52 sequence for `text`. Inside tmux it is sent twice: plain (tmux
/// takes it with `set-clipboard on`) and wrapped in tmux's DCS passthrough (the
/// outer terminal gets it with `allow-passthrough on`).
pub fn osc52(text: &str, in_tmux: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\u{1b}]52;c;{b64}\u{7}");
    if in_tmux {
        format!("{seq}{}", tmux_wrap(&seq))
    } else {
        seq
    }
}

/// tmux passthrough: `ESC P tmux; <seq with ESC doubled> ESC \`.
pub fn tmux_wrap(seq: &str) -> String {
    format!(
        "\u{1b}Ptmux;{}\u{1b}\\",
        seq.replace('\u{1b}', "\u{1b}\u{1b}")
    )
}

/// What a copy through OSC 52 can honestly say: the terminal never answers.
pub const OSC_SENT: &str =
    "sent to the terminal's clipboard (OSC 52); the terminal cannot confirm it arrived";

/// tmux's `set-clipboard` option (`on`, `external`, `off`), asked once.
fn tmux_set_clipboard() -> String {
    std::process::Command::new("tmux")
        .args(["show-options", "-gv", "set-clipboard"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The copy's outcome inside tmux, given its `set-clipboard` option.
pub fn osc_through_tmux(set_clipboard: &str) -> String {
    match set_clipboard {
        "on" | "external" => format!("{OSC_SENT} (through tmux)"),
        "off" => format!(
            "{OSC_SENT}, but tmux has set-clipboard off and will not pass it on: run \
             `tmux set -g set-clipboard on` (and add `set -g set-clipboard on` to ~/.tmux.conf)"
        ),
        _ => format!(
            "{OSC_SENT}; inside tmux it arrives only with set-clipboard on (`tmux set -g set-clipboard on`)"
        ),
    }
}

/// The real clipboard.
pub struct SystemClipboard {
    route: Route,
    in_tmux: bool,
    /// tmux's set-clipboard, once asked.
    tmux_clipboard: Option<String>,
    /// Created on first use, then kept until the process ends.
    arboard: Option<arboard::Clipboard>,
    out: Box<dyn Write + Send>,
}

impl SystemClipboard {
    pub fn from_env(out: Box<dyn Write + Send>) -> SystemClipboard {
        let env = |k: &str| std::env::var(k).ok();
        SystemClipboard {
            route: route(&env),
            in_tmux: env("TMUX").is_some_and(|v| !v.is_empty()),
            tmux_clipboard: None,
            arboard: None,
            out,
        }
    }

    fn osc(&mut self, text: &str) -> Result<String, String> {
        let seq = osc52(text, self.in_tmux);
        self.out
            .write_all(seq.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|e| e.to_string())?;
        if !self.in_tmux {
            return Ok(OSC_SENT.into());
        }
        if self.tmux_clipboard.is_none() {
            self.tmux_clipboard = Some(tmux_set_clipboard());
        }
        Ok(osc_through_tmux(
            self.tmux_clipboard.as_deref().unwrap_or(""),
        ))
    }

    fn system(&mut self, text: &str) -> Result<(), String> {
        if self.arboard.is_none() {
            self.arboard = Some(arboard::Clipboard::new().map_err(|e| e.to_string())?);
        }
        let cb = self.arboard.as_mut().expect("just set");
        set_excluded(cb, text).map_err(|e| e.to_string())
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn set_excluded(cb: &mut arboard::Clipboard, text: &str) -> Result<(), arboard::Error> {
    use arboard::SetExtLinux;
    cb.set().exclude_from_history().text(text)
}

#[cfg(target_os = "macos")]
fn set_excluded(cb: &mut arboard::Clipboard, text: &str) -> Result<(), arboard::Error> {
    use arboard::SetExtApple;
    cb.set().exclude_from_history().text(text)
}

#[cfg(target_os = "windows")]
fn set_excluded(cb: &mut arboard::Clipboard, text: &str) -> Result<(), arboard::Error> {
    use arboard::SetExtWindows;
    cb.set().exclude_from_history().text(text)
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "macos",
    target_os = "windows"
)))]
fn set_excluded(cb: &mut arboard::Clipboard, text: &str) -> Result<(), arboard::Error> {
    cb.set_text(text)
}

impl Clipboard for SystemClipboard {
    fn copy(&mut self, text: &str) -> Result<String, String> {
        match self.route {
            Route::Osc52 => self.osc(text),
            Route::System => match self.system(text) {
                Ok(()) => Ok("copied to the system clipboard".into()),
                Err(e) => {
                    tracing::debug!("system clipboard failed ({e}); using OSC 52");
                    self.osc(text)
                        .map(|p| format!("{p} (the system clipboard failed: {e})"))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(a, _)| *a == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            route(&env(&[("SSH_TTY", "/dev/pts/1"), ("DISPLAY", ":0")])),
            Route::Osc52
        );
        if cfg!(target_os = "linux") {
            assert_eq!(route(&env(&[])), Route::Osc52);
            assert_eq!(route(&env(&[("DISPLAY", ":0")])), Route::System);
        }
    }

    #[test]
    fn osc52_sequences() {
        assert_eq!(osc52("hi", false), "\u{1b}]52;c;aGk=\u{7}");
        assert_eq!(
            osc52("hi", true),
            "\u{1b}]52;c;aGk=\u{7}\u{1b}Ptmux;\u{1b}\u{1b}]52;c;aGk=\u{7}\u{1b}\\"
        );
    }

    #[test]
    fn osc_route_writes_the_sequence() {
        #[derive(Clone, Default)]
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let mut cb = SystemClipboard {
            route: Route::Osc52,
            in_tmux: false,
            tmux_clipboard: None,
            arboard: None,
            out: Box::new(sink.clone()),
        };
        let how = cb.copy("CODE1234").unwrap();
        assert_eq!(how, OSC_SENT);
        assert!(osc_through_tmux("off").contains("tmux set -g set-clipboard on"));
        assert!(osc_through_tmux("on").ends_with("(through tmux)"));
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(written.starts_with("\u{1b}]52;c;"));
    }
}
