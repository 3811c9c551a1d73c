//! The WebSocket stream and the frame-level helpers every stage uses.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::gateway::frames::{self, ErrorShape};
use crate::gateway::GatewayConfig;

/// A connection's byte stream: plain TCP, or TLS over it (`--tls`).
pub(super) enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub(super) type Ws = WebSocketStream<Conn>;
pub(super) type Sink = SplitSink<Ws, Message>;
pub(super) type Stream = SplitStream<Ws>;

/// Message and frame caps, small buffers.
pub(super) fn ws_config(cfg: &GatewayConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.max_message_bytes * 4 + 65536)
        .max_message_size(Some(cfg.max_message_bytes))
        .max_frame_size(Some(cfg.max_message_bytes))
}

/// The other end of one connection, as the handshake found it.
pub(super) struct Peer {
    /// The canonical address (limits are kept per address).
    pub(super) ip: IpAddr,
    /// `ip:port` as accepted.
    pub(super) addr: SocketAddr,
    /// Local per spec node-pairing §7 (loopback, no proxy headers, local `Host`).
    pub(super) local: bool,
    /// The `Origin` header, when a browser sent one.
    pub(super) origin: Option<String>,
    /// The nonce of this connection's `connect.challenge`.
    pub(super) nonce: String,
}

/// One incoming WebSocket message, as the protocol sees it.
pub(super) enum Incoming {
    /// A text frame, or a binary one holding UTF-8.
    Text(String),
    /// Ping, pong, raw frame: nothing to answer.
    Skip,
    /// The peer closed.
    Closed,
    /// Binary data that is not UTF-8 (closed with 1003).
    NotText,
}

pub(super) fn text_of(msg: Message) -> Incoming {
    match msg {
        Message::Text(t) => Incoming::Text(t.as_str().to_string()),
        Message::Binary(b) => match String::from_utf8(b.to_vec()) {
            Ok(s) => Incoming::Text(s),
            Err(_) => Incoming::NotText,
        },
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Incoming::Skip,
        Message::Close(_) => Incoming::Closed,
    }
}

/// Sends one text frame; a peer that does not read for 10 s is given up on.
pub(super) async fn send_text(sink: &mut Sink, text: String) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(10), sink.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

/// Sends a close frame with `code` and `reason` and closes the sink (2 s at most).
pub(super) async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: frames::close_reason(reason).into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    })
    .await;
}

/// Closes with the code a read error calls for (1009, 1007, 1002), if any.
pub(super) async fn close_on_error(sink: &mut Sink, e: &WsError) {
    match e {
        WsError::Capacity(_) => close(sink, 1009, "message too big").await,
        WsError::Utf8(_) => close(sink, 1007, "invalid utf-8").await,
        WsError::Protocol(_) => close(sink, 1002, "protocol error").await,
        _ => {}
    }
}

/// Answers request `id` with `e`, then closes with `code` and `reason`
/// (the error's message when `None`).
pub(super) async fn fail(
    sink: &mut Sink,
    id: &str,
    e: &ErrorShape,
    code: u16,
    reason: Option<&str>,
) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        sink.send(Message::text(frames::res_err(id, e))),
    )
    .await;
    close(sink, code, reason.unwrap_or(&e.message)).await;
}
