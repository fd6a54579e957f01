//! WebSocket plumbing shared by the handshake and the session: buffer and size settings, what a
//! read error means for the close code (RFC 6455 section 7.4.1), and ending a socket within a
//! bounded time whatever the peer does.

use chat_protocol::close_code;
use futures_util::SinkExt;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// How long the server tries to deliver its Close frame (and, for a peer that closed first,
/// the reply) before it drops the TCP connection anyway.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn config(max_frame_bytes: usize) -> WebSocketConfig {
    // Chat frames are small: a few KiB of buffers per connection, not tungstenite's 128 KiB
    // defaults, keeps idle connections cheap. The write buffer bound only has to hold the
    // largest frame: the writer flushes every batch and waits for the socket.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

/// What ended reading, when it was the peer's fault or choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// The peer broke the protocol: close with this code and reason.
    Violation(u16, String),
    /// The connection is gone (reset, EOF without a Close frame): nothing can be sent.
    Gone,
}

/// Map a read error to how the connection ends: 1009 for an oversize message, 1007 for text
/// that is not UTF-8, 1002 for broken framing, nothing for a dead socket.
pub fn read_error(error: &WsError) -> ReadEnd {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => ReadEnd::Violation(
            close_code::TOO_BIG,
            format!("a message of {size} bytes exceeds the limit of {max_size}"),
        ),
        WsError::Capacity(e) => ReadEnd::Violation(close_code::TOO_BIG, format!("too large: {e}")),
        WsError::Utf8(_) => ReadEnd::Violation(
            close_code::INVALID_DATA,
            "a text frame is not valid UTF-8".into(),
        ),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)
        | WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Io(_) => ReadEnd::Gone,
        WsError::Protocol(e) => ReadEnd::Violation(close_code::PROTOCOL_ERROR, e.to_string()),
        other => ReadEnd::Violation(close_code::PROTOCOL_ERROR, other.to_string()),
    }
}

pub fn close_frame(code: u16, reason: &str) -> CloseFrame {
    // A close reason is at most 123 bytes (a control frame carries 125, two are the code).
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason[..end].into(),
    }
}

/// Send a Close frame (within [`CLOSE_TIMEOUT`]) on a socket not yet split.
pub async fn close(ws: &mut Ws, code: u16, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(close_frame(code, reason)))).await;
}

/// Refuse a connection not yet split: the error frame (if any), then the Close frame, then
/// linger so the client reads both even if it sent more.
pub async fn refuse(ws: &mut Ws, error: Option<String>, code: u16, reason: &str) {
    if let Some(error) = error {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.send(Message::text(error))).await;
    }
    close(ws, code, reason).await;
    linger(ws.get_mut()).await;
}

/// Answer a peer's Close frame: tungstenite has queued the reply, closing flushes it.
pub async fn answer_close<S>(sink: &mut S) -> bool
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    matches!(
        tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await,
        Ok(Ok(()))
    )
}

/// Most bytes read and thrown away while lingering.
const LINGER_BYTES: usize = 1024 * 1024;

/// Close the way a client can read: after the Close frame went out, send FIN and read (and
/// throw away) what the client still sends until it closes too, for at most [`CLOSE_TIMEOUT`]
/// and [`LINGER_BYTES`]. Dropping a socket with unread data makes the kernel answer with a
/// reset, and a reset makes the client's kernel discard what it had not read yet: the error
/// frame and the Close frame of a client that pipelined frames after the one refused.
pub async fn linger(stream: &mut TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    // On the heap, only while lingering: an array here would live in the async state of every
    // session (this is awaited inside it), 4 KiB per connection for its whole life.
    let mut buf = vec![0u8; 4096];
    let mut read = 0;
    let drain = async {
        while read < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
}

/// Drop a TCP connection with a reset instead of a FIN, so the kernel discards what is
/// unsent at once: for peers that stopped reading, whose socket would otherwise linger with
/// megabytes queued for as long as they keep the window shut.
pub fn abort(stream: &TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!("cannot set SO_LINGER to reset a connection: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let long = "é".repeat(100);
        let frame = close_frame(1000, &long);
        assert!(frame.reason.len() <= 123);
        assert!(long.starts_with(frame.reason.as_str()));
    }

    #[test]
    fn read_errors_map_to_rfc_close_codes() {
        let too_long = WsError::Capacity(CapacityError::MessageTooLong {
            size: 10,
            max_size: 5,
        });
        assert!(matches!(read_error(&too_long), ReadEnd::Violation(1009, _)));
        let framing = WsError::Protocol(ProtocolError::NonZeroReservedBits);
        assert!(matches!(read_error(&framing), ReadEnd::Violation(1002, _)));
        let reset = WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(read_error(&reset), ReadEnd::Gone);
    }
}
