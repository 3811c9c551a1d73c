//! `clawpair --headless`: the same engine (watchers, expiry, gateway) with no
//! terminal. One JSON object per line on stdout for every event, human log
//! lines on stderr. A line `setup-code` on stdin asks for a setup code (the only
//! secret ever printed). SIGINT/SIGTERM stop it cleanly.

use std::io::Write;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::app::effect::Event;
use crate::app::msg::Msg;
use crate::clipboard::MemoryClipboard;
use crate::clock::now_ms;
use crate::runtime::{Engine, Options, Output};

/// One event as headless mode prints it (and `--exec-on-request` gets it):
/// the event's JSON with a `ts`.
pub fn event_line(ev: &Event) -> Option<String> {
    let mut v = serde_json::to_value(ev).ok()?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "ts".into(),
            serde_json::Value::String(crate::clock::format_iso_ms(now_ms())),
        );
    }
    Some(v.to_string())
}

struct JsonLines {
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    closed: bool,
}

impl Output for JsonLines {
    fn emit(&mut self, ev: &Event) {
        let Some(line) = event_line(ev) else {
            return;
        };
        if !self.closed {
            let mut out = std::io::stdout().lock();
            if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                // Whoever read our events is gone: stop cleanly (the gateway
                // tells its clients), instead of dying on SIGPIPE.
                self.closed = true;
                crate::logfile::line(&format!("stdout closed ({e}); stopping"));
                let _ = self.tx.send(Msg::Shutdown);
            }
        }
        crate::logfile::line(&human(ev));
    }
    fn notify(&mut self, _text: &str) {}
}

fn human(ev: &Event) -> String {
    use crate::sanitize::for_terminal as c;
    match ev {
        Event::DmCreated { channel, id, .. } => {
            format!("new {} pairing request from {}", c(channel), c(id))
        }
        Event::DmUpdated { channel, id, .. } => {
            format!("{} request from {} seen again", c(channel), c(id))
        }
        Event::DmExpired { channel, id, .. } => {
            format!("{} request from {} expired", c(channel), c(id))
        }
        Event::DmApproved {
            channel, id, by, ..
        } => format!("{} request from {} approved ({by})", c(channel), c(id)),
        Event::DmRejected {
            channel, id, by, ..
        } => format!("{} request from {} rejected ({by})", c(channel), c(id)),
        Event::DeviceCreated {
            device_id,
            display_name,
            ..
        } => format!(
            "new device pairing request from {} (key {})",
            c(display_name.as_deref().unwrap_or("unnamed device")),
            crate::devices::model::short_fingerprint(device_id)
        ),
        Event::DeviceApproved { request_id, by, .. } => {
            format!("device request {} approved ({by})", c(request_id))
        }
        Event::DeviceRejected { request_id, by, .. } => {
            format!("device request {} rejected ({by})", c(request_id))
        }
        Event::DeviceExpired { request_id, .. } => {
            format!("device request {} expired", c(request_id))
        }
        Event::DeviceConnected {
            device_id, role, ..
        } => format!(
            "device {} connected as {}",
            crate::devices::model::short_fingerprint(device_id),
            c(role)
        ),
        Event::DeviceDisconnected { device_id } => format!(
            "device {} disconnected",
            crate::devices::model::short_fingerprint(device_id)
        ),
        Event::DeviceClosed {
            device_id,
            role,
            code,
            reason,
        } => format!(
            "device {} ({}) disconnected by the gateway: {code} {}",
            crate::devices::model::short_fingerprint(device_id),
            c(role),
            c(reason)
        ),
        Event::SetupCodeIssued { .. } => "setup code issued (see stdout)".into(),
        Event::SetupCodeRefused { reason } => format!("no setup code: {}", c(reason)),
        Event::SetupCodeUsed { device_id } => format!(
            "setup code used by {}",
            crate::devices::model::short_fingerprint(device_id)
        ),
        Event::SetupCodeExpired => "setup code expired".into(),
        Event::GatewayListening {
            addr,
            tls_fingerprint: None,
        } => format!("gateway listening on {addr}"),
        Event::GatewayListening {
            addr,
            tls_fingerprint: Some(fp),
        } => format!("gateway listening on wss://{addr} (TLS certificate sha256 {fp})"),
        Event::GatewayBindFailed { addr, error } => format!(
            "gateway port busy on {addr} ({}); watching the files only",
            c(error)
        ),
        Event::GatewayStopped => "gateway stopped".into(),
        Event::DmPending { channel, id, .. } => {
            format!("{} pairing request from {} is pending", c(channel), c(id))
        }
        Event::DevicePending {
            device_id,
            display_name,
            ..
        } => format!(
            "device pairing request from {} (key {}) is pending",
            c(display_name.as_deref().unwrap_or("unnamed device")),
            crate::devices::model::short_fingerprint(device_id)
        ),
        Event::Ready {
            dm_pending,
            device_pending,
        } => format!("ready: {dm_pending} DM and {device_pending} device request(s) pending"),
        Event::DecisionRecorded { decision } => format!(
            "recorded: {} {} ({})",
            decision.action.as_str(),
            decision.subject.describe(),
            decision.via.as_str()
        ),
        Event::InputUnknown { error } => c(error),
        Event::RemoteStatus {
            url, state, detail, ..
        } => match detail {
            Some(d) => format!("{} {state}: {}", c(url), c(d)),
            None => format!("{} {state}", c(url)),
        },
    }
}

pub async fn run(opts: Options) -> Result<(), String> {
    let (otx, orx) = tokio::sync::mpsc::unbounded_channel();
    let mut engine = Engine::start(
        &opts,
        Box::new(MemoryClipboard::default()),
        Box::new(JsonLines {
            tx: otx,
            closed: false,
        }),
    );
    forward(orx, engine.tx.clone());
    match &opts.remote {
        Some(r) => crate::logfile::line(&format!("headless on gateway {}", r.url.display())),
        None => crate::logfile::line(&format!(
            "headless on {} (watching by {})",
            opts.paths.state_dir.display(),
            engine.watching_by()
        )),
    }
    {
        let tx = engine.tx.clone();
        // A plain thread: blocking stdin must not hold up shutdown.
        let _ = std::thread::Builder::new()
            .name("clawpair-stdin".into())
            .spawn(move || {
                for l in std::io::stdin().lines() {
                    let Ok(l) = l else { break };
                    let msg = match l.trim() {
                        "setup-code" | "s" => Msg::RequestSetupCode,
                        "" => continue,
                        // The line itself is not repeated: it may be a pasted secret.
                        other => Msg::UnknownInput(format!(
                            "unknown command on stdin ({} characters); the one command is `setup-code`",
                            other.chars().count()
                        )),
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            });
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Created once, before the loop, so a signal that arrives while a message
    // is being handled is not lost.
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            biased;
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            Some(msg) = engine.rx.recv() => engine.handle(msg),
            _ = tick.tick() => engine.handle(Msg::Tick(now_ms())),
        }
        if engine.state.quit {
            break;
        }
    }
    crate::logfile::line("stopping");
    engine.shutdown().await;
    Ok(())
}

/// Messages the output sends (stdout closed) go to the engine.
fn forward(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Msg>,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
) {
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if tx.send(m).is_err() {
                break;
            }
        }
    });
}
