//! The terminal console: one loop owns the terminal and the state. Keys go
//! first (`biased`), then engine messages, then the 1 Hz tick; every waiting
//! message is handled before one redraw, and only when something changed or a
//! visible countdown ticked.

use std::io::Write;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::time::MissedTickBehavior;

use super::{Engine, Options, Output};
use crate::app::effect::Event;
use crate::app::msg::Msg;
use crate::clipboard::SystemClipboard;
use crate::clock::now_ms;
use crate::ui::{self, Theme};

/// Console output: events are not printed (the screen shows them); new
/// requests ring the bell and raise a desktop notification where supported.
struct ConsoleOutput {
    osc: super::notify::Osc,
    in_tmux: bool,
}

impl Output for ConsoleOutput {
    fn emit(&mut self, ev: &Event) {
        // Never log a secret: the setup code stays on screen only.
        if !matches!(ev, Event::SetupCodeIssued { .. }) {
            tracing::debug!("{}", serde_json::to_string(ev).unwrap_or_default());
        }
    }
    fn notify(&mut self, text: &str) {
        let seq = super::notify::sequence(text, self.osc, self.in_tmux);
        let mut out = std::io::stdout();
        let _ = out.write_all(seq.as_bytes());
        let _ = out.flush();
    }
}

pub async fn run(opts: Options) -> Result<(), String> {
    let env = |k: &str| std::env::var(k).ok();
    let output = ConsoleOutput {
        osc: super::notify::detect(&env),
        in_tmux: env("TMUX").is_some_and(|v| !v.is_empty()),
    };
    let clipboard = SystemClipboard::from_env(Box::new(std::io::stdout()));
    // The terminal (and the panic hook that tells console-thread panics from
    // background ones) comes first: no task may panic before the hook is in place.
    let (mut terminal, guard) = super::term::init();
    let mut engine = Engine::start(&opts, Box::new(clipboard), Box::new(output));
    let theme = Theme::from_env();

    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate());
    let mut sighup = signal(tokio::signal::unix::SignalKind::hangup());
    // Raw mode turns Ctrl-C into a key; a SIGINT from elsewhere still quits cleanly.
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt());
    let mut dirty = true;
    let mut result = Ok(());
    loop {
        if dirty {
            if let Err(e) = terminal.draw(|f| ui::render(f, &engine.state, &theme)) {
                result = Err(format!("drawing failed: {e}"));
                break;
            }
            dirty = false;
        }
        tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => {
                    if k.kind == KeyEventKind::Press {
                        engine.handle(Msg::Key(k));
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    result = Err(format!("reading the terminal failed: {e}"));
                    break;
                }
                None => break,
            },
            Some(msg) = engine.rx.recv() => {
                // No `terminal.clear()` here, ever: it asks the terminal for the
                // cursor position, which needs crossterm's event-reader lock that
                // the EventStream thread holds while it waits for input, and the
                // console would hang. A background panic cannot have written to
                // the screen anyway: the hook is in place before any task starts
                // and stderr is diverted while the console owns the screen.
                engine.handle(msg);
                dirty = true;
            }
            _ = tick.tick() => {
                let before = engine.state.has_countdown();
                engine.handle(Msg::Tick(now_ms()));
                dirty |= before || engine.state.has_countdown();
            }
            _ = recv(&mut sigterm) => engine.handle(Msg::Shutdown),
            _ = recv(&mut sighup) => engine.handle(Msg::Shutdown),
            _ = recv(&mut sigint) => engine.handle(Msg::Shutdown),
        }
        while let Ok(msg) = engine.rx.try_recv() {
            engine.handle(msg);
            dirty = true;
        }
        if engine.state.quit {
            break;
        }
    }
    engine.shutdown().await;
    drop(terminal);
    drop(guard);
    if let Some(p) = super::term::take_panic_message() {
        eprintln!("clawpair: a background task panicked: {p}");
    }
    result
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
