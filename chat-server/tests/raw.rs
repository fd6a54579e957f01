//! Raw WebSocket connections for tests that must misbehave the way real peers do: never read,
//! send crafted frames, close first. The protocol crate's client is too polite for that.

use crate::support::{PASSWORD, WAIT};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type RawWs = WebSocketStream<TcpStream>;

/// Open a WebSocket to `url` (`ws://127.0.0.1:PORT`). With `recv_buffer`, the socket's
/// receive buffer is that small, so a client that stops reading stalls the server quickly.
pub async fn connect(url: &str, recv_buffer: Option<u32>) -> RawWs {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .parse()
        .expect("a ws://IP:PORT url");
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    ws
}

/// Open a WebSocket from a given loopback source address (127.0.0.2 and up are all local
/// on Linux), so one test can look like many client addresses.
pub async fn connect_from(url: &str, source: std::net::IpAddr) -> RawWs {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .parse()
        .expect("a ws://IP:PORT url");
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    ws
}

/// Send a `hello` and return the first frame answered (a welcome or an error), parsed.
pub async fn hello(ws: &mut RawWs, auth: &chat_protocol::Auth) -> Option<serde_json::Value> {
    let hello = chat_protocol::ClientFrame::Hello(chat_protocol::Hello {
        protocol: chat_protocol::PROTOCOL_VERSION,
        auth: auth.clone(),
        client: None,
    });
    ws.send(Message::text(chat_protocol::to_json(&hello)))
        .await
        .ok()?;
    let text = next_text(ws).await?;
    serde_json::from_str(&text).ok()
}

/// Send `hello` with a password login for `username`, and wait for the welcome.
pub async fn login(ws: &mut RawWs, username: &str) {
    let hello = format!(
        r#"{{"type":"hello","protocol":1,"auth":{{"method":"password","username":"{username}","password":"{PASSWORD}"}}}}"#
    );
    ws.send(Message::text(hello)).await.unwrap();
    let first = next_text(ws).await.expect("a welcome");
    assert!(first.starts_with(r#"{"type":"welcome""#), "{first}");
}

/// The next text frame, or None when the connection ended.
pub async fn next_text(ws: &mut RawWs) -> Option<String> {
    let read = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            match message {
                Message::Text(text) => return Some(text.to_string()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
        None
    });
    read.await.expect("a frame or the end in time")
}

/// How a connection ended, as the client saw it.
#[derive(Debug, Default)]
pub struct Ending {
    /// The close code and reason of the server's Close frame; None for no Close frame (1006).
    pub close: Option<(u16, String)>,
    /// Text frames read before the end.
    pub texts: Vec<String>,
    /// Bytes of those frames.
    pub bytes: usize,
}

/// Read until the connection ends (within [`WAIT`]), keeping what arrived.
pub async fn read_to_end(ws: &mut RawWs) -> Ending {
    let mut ending = Ending::default();
    let read = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            match message {
                Message::Text(text) => {
                    ending.bytes += text.len();
                    ending.texts.push(text.to_string());
                }
                Message::Close(frame) => {
                    ending.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                _ => {}
            }
        }
    });
    read.await.expect("the connection ended in time");
    ending
}

/// A text frame with arbitrary payload bytes (possibly not UTF-8).
pub fn text_frame_bytes(payload: &[u8]) -> Message {
    Message::Frame(Frame::message(
        payload.to_vec(),
        OpCode::Data(Data::Text),
        true,
    ))
}

/// A text frame with the RSV1 bit set, which no extension was negotiated for.
pub fn frame_with_reserved_bit() -> Message {
    let mut frame = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    Message::Frame(frame)
}
