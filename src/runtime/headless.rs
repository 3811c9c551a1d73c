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

struct JsonLines;

impl Output for JsonLines {
    fn emit(&mut self, ev: &Event) {
        let mut v = match serde_json::to_value(ev) {
            Ok(v) => v,
            Err(_) => return,
        };
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "ts".into(),
                serde_json::Value::String(crate::clock::format_iso_ms(now_ms())),
            );
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
        eprintln!("clawpair: {}", human(ev));
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
        Event::RemoteStatus {
            url, state, detail, ..
        } => match detail {
            Some(d) => format!("{} {state}: {}", c(url), c(d)),
            None => format!("{} {state}", c(url)),
        },
    }
}

pub async fn run(opts: Options) -> Result<(), String> {
    let mut engine = Engine::start(
        &opts,
        Box::new(MemoryClipboard::default()),
        Box::new(JsonLines),
    );
    match &opts.remote {
        Some(r) => eprintln!("clawpair: headless on gateway {}", r.url.display()),
        None => eprintln!(
            "clawpair: headless on {} (watching by {})",
            opts.paths.state_dir.display(),
            engine.watching_by()
        ),
    }
    {
        let tx = engine.tx.clone();
        // A plain thread: blocking stdin must not hold up shutdown.
        let _ = std::thread::Builder::new()
            .name("clawpair-stdin".into())
            .spawn(move || {
                for l in std::io::stdin().lines() {
                    let Ok(l) = l else { break };
                    if matches!(l.trim(), "setup-code" | "s")
                        && tx.send(Msg::RequestSetupCode).is_err()
                    {
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
    eprintln!("clawpair: stopping");
    engine.shutdown().await;
    Ok(())
}
