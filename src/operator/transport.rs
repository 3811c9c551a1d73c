//! The socket under a session: TCP (connect timeout, no Nagle), TLS for
//! `wss://` (see [`super::tls`]), then the WebSocket upgrade with bounded
//! message and frame sizes, so a hostile gateway cannot make the client
//! buffer more than [`super::wire::MAX_MESSAGE_BYTES`] for one message.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use super::tls::{self, Fingerprint, TlsPolicy, TlsRefusal, Verifier};
use super::url::GatewayUrl;
use super::wire::MAX_MESSAGE_BYTES;

/// Plain TCP or TLS over TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type Ws = WebSocketStream<Stream>;

/// Why the socket could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// DNS, TCP refused, timeout.
    Unreachable(String),
    Tls(TlsRefusal),
    /// The HTTP upgrade failed (not a gateway, a proxy error page, …).
    Upgrade(String),
    /// `ws://` to a host that needs `wss://`.
    Policy(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Unreachable(e) => write!(f, "gateway not reachable: {e}"),
            OpenError::Tls(r) => r.fmt(f),
            OpenError::Upgrade(e) => write!(f, "WebSocket upgrade failed: {e}"),
            OpenError::Policy(e) => f.write_str(e),
        }
    }
}

/// An open WebSocket and the certificate fingerprint it saw (for `wss://`).
pub struct Opened {
    pub ws: Ws,
    pub tls_seen: Option<Fingerprint>,
}

/// The WebSocket limits of the client side.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_write_buffer_size(4 * 1024 * 1024)
}

/// Connects to `url` (TCP, TLS when `wss://`, WebSocket upgrade) within `timeout`.
pub async fn open(
    url: &GatewayUrl,
    policy: &TlsPolicy,
    timeout: Duration,
) -> Result<Opened, OpenError> {
    url.check_policy().map_err(OpenError::Policy)?;
    match tokio::time::timeout(timeout, open_inner(url, policy)).await {
        Ok(r) => r,
        Err(_) => Err(OpenError::Unreachable(format!(
            "no connection to {} within {} s",
            url.authority(),
            timeout.as_secs()
        ))),
    }
}

async fn open_inner(url: &GatewayUrl, policy: &TlsPolicy) -> Result<Opened, OpenError> {
    let addr = url.authority();
    let tcp = TcpStream::connect(&addr)
        .await
        .map_err(|e| OpenError::Unreachable(format!("{addr}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let (stream, seen) = if url.tls {
        let verifier = Arc::new(Verifier::new(policy.clone()));
        let cfg = tls::client_config(verifier.clone())
            .map_err(|e| OpenError::Tls(TlsRefusal::Handshake(e)))?;
        let name =
            tls::server_name(&url.host).map_err(|e| OpenError::Tls(TlsRefusal::Handshake(e)))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        match connector.connect(name, tcp).await {
            Ok(s) => (Stream::Tls(Box::new(s)), verifier.seen()),
            Err(e) => {
                return Err(OpenError::Tls(
                    verifier
                        .refusal()
                        .unwrap_or_else(|| TlsRefusal::Handshake(e.to_string())),
                ))
            }
        }
    } else {
        (Stream::Plain(tcp), None)
    };
    let (ws, _resp) =
        tokio_tungstenite::client_async_with_config(url.request_url(), stream, Some(ws_config()))
            .await
            .map_err(|e| OpenError::Upgrade(e.to_string()))?;
    Ok(Opened { ws, tls_seen: seen })
}
