//! The WebSocket upgrade, `connect.challenge` and the first request (spec
//! gateway-protocol §1–3.2).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::server::{
    Request as HsRequest, Response as HsResponse,
};
use tokio_tungstenite::tungstenite::Error as WsError;

use super::connect::connect;
use super::hub::{now, Hub};
use super::limits::canonical_ip;
use super::session::run_session;
use super::wire::{
    close, close_on_error, fail, send_text, text_of, ws_config, Conn, Incoming, Peer,
};
use crate::gateway::frames::{self, Dialect, ErrorShape, FrameError};

/// What the upgrade request's headers say about locality.
#[derive(Default)]
struct Headers {
    host: Option<String>,
    origin: Option<String>,
    proxied: bool,
}

/// One accepted socket, from upgrade to close, within `ip`'s socket slots.
pub(super) async fn handle_socket(hub: Arc<Hub>, tcp: TcpStream, addr: SocketAddr) {
    let ip = canonical_ip(addr.ip());
    if !hub.open_addr_socket(ip) {
        return;
    }
    // The handshaking slot is given back once the first request arrived
    // (inside), or here when the socket ended without one.
    let mut slot = HandshakeSlot {
        hub: &hub,
        ip,
        held: true,
    };
    handle_socket_inner(&hub, tcp, addr, ip, &mut slot).await;
    slot.release();
    hub.close_addr_socket(ip);
}

/// A socket's handshaking slot at its address.
struct HandshakeSlot<'a> {
    hub: &'a Hub,
    ip: IpAddr,
    held: bool,
}

impl HandshakeSlot<'_> {
    fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            self.hub.handshake_over(self.ip);
        }
    }
}

/// Upgrade, `connect.challenge`, the first request, `connect`, then the session.
async fn handle_socket_inner(
    hub: &Arc<Hub>,
    tcp: TcpStream,
    addr: SocketAddr,
    ip: IpAddr,
    slot: &mut HandshakeSlot<'_>,
) {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(hub.cfg.handshake_timeout_ms);
    let mut hdr = Headers::default();
    let cb = |req: &HsRequest, resp: HsResponse| {
        let h = req.headers();
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        hdr.host = get("host");
        hdr.origin = get("origin");
        hdr.proxied = ["x-forwarded-for", "x-real-ip", "x-forwarded-host"]
            .iter()
            .any(|k| h.contains_key(*k));
        Ok(resp)
    };
    // With --tls the TLS handshake comes first, inside this connection's own
    // task and deadline: a failed one (a wrong pin, plain HTTP, a scanner)
    // only drops this socket.
    let conn = match &hub.cfg.tls {
        None => Conn::Plain(tcp),
        Some(t) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(t.config.clone());
            match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => Conn::Tls(Box::new(s)),
                Ok(Err(e)) => {
                    tracing::debug!("tls handshake from {addr} failed: {e}");
                    hub.record_failure(ip);
                    return;
                }
                // Too slow: like a socket that never sends `connect`.
                Err(_) => return,
            }
        }
    };
    let accepted = tokio::time::timeout_at(
        deadline,
        Box::pin(tokio_tungstenite::accept_hdr_async_with_config(
            conn,
            cb,
            Some(ws_config(&hub.cfg)),
        )),
    )
    .await;
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        // Not a WebSocket upgrade (junk, plain HTTP): a failed handshake.
        Ok(Err(_)) => {
            hub.record_failure(ip);
            return;
        }
        // Too slow to upgrade: like a socket that never sends `connect`.
        Err(_) => return,
    };
    let (mut sink, mut stream) = ws.split();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = frames::event(
        "connect.challenge",
        json!({"nonce": nonce, "ts": now()}),
        None,
    );
    if !send_text(&mut sink, challenge).await {
        return;
    }
    let local = is_local(ip, &hdr);
    let mut shutdown = hub.shutdown_signal();
    // Handshake: the first request must be `connect`.
    let first = loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close(&mut sink, 1012, "service restart").await;
                return;
            }
            r = tokio::time::timeout_at(deadline, stream.next()) => match r {
                // Never sent `connect`: timed out, not a failed authentication.
                Err(_) => {
                    close(&mut sink, 1000, "").await;
                    return;
                }
                Ok(None) => return,
                Ok(Some(Err(e))) => {
                    // Junk on the wire counts; a socket that just went away does not.
                    if !went_away(&e) {
                        hub.record_failure(ip);
                    }
                    close_on_error(&mut sink, &e).await;
                    return;
                }
                Ok(Some(Ok(msg))) => match text_of(msg) {
                    Incoming::Text(t) => break t,
                    Incoming::Skip => continue,
                    Incoming::Closed => return,
                    Incoming::NotText => {
                        hub.record_failure(ip);
                        close(&mut sink, 1003, "unsupported data").await;
                        return;
                    }
                }
            }
        }
    };
    slot.release();
    // The dialect is not known before `connect`: the first frame may carry
    // protocol 4's envelope fields.
    let req = match frames::parse_request_as(&first, Dialect::V4) {
        Ok(r) => r,
        Err(FrameError::NotJson) => {
            hub.record_failure(ip);
            close(&mut sink, 1000, "").await;
            return;
        }
        Err(FrameError::Invalid { .. }) => {
            hub.record_failure(ip);
            close(&mut sink, 1008, "invalid request frame").await;
            return;
        }
    };
    if req.method != "connect" {
        hub.record_failure(ip);
        let e = ErrorShape::invalid("invalid handshake: first request must be connect");
        fail(&mut sink, &req.id, &e, 1008, None).await;
        return;
    }
    let peer = Peer {
        ip,
        addr,
        local,
        origin: hdr.origin.clone(),
        nonce,
    };
    // Boxed: the connect state machine is large and short-lived; the session task keeps only what it needs.
    let session = match Box::pin(connect(hub, &req, &peer)).await {
        Ok(s) => s,
        Err(f) => {
            if f.counts_as_failure {
                hub.record_failure(ip);
            }
            fail(
                &mut sink,
                &req.id,
                &f.error,
                f.close_code,
                f.close_reason.as_deref(),
            )
            .await;
            return;
        }
    };
    run_session(hub, sink, stream, req.id, session, peer).await;
}

/// The peer closed or reset the socket (no junk was sent).
fn went_away(e: &WsError) -> bool {
    matches!(
        e,
        WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Io(_)
            | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)
    )
}

/// Local per spec node-pairing §7 (no trusted proxies are configured here).
fn is_local(ip: IpAddr, hdr: &Headers) -> bool {
    if !ip.is_loopback() || hdr.proxied {
        return false;
    }
    let Some(host) = hdr.host.as_deref() else {
        return true;
    };
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("").to_string()
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or(host.clone())
    };
    name == "localhost"
        || name.ends_with(".ts.net")
        || name.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}
