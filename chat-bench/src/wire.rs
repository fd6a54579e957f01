//! What the clients say, in both protocols: chat-server's JSON frames and socket.io's
//! Engine.IO v4 packets (`0{..}` open, `40` connect, `42[..]` event, `43` ack, `2`/`3` ping
//! and pong). Received frames are classified by scanning, not parsed, so a load generator on
//! the same two cores spends little of them on its own work.

use crate::net::Ws;
use crate::target::Kind;
use anyhow::{bail, Context};
use chat_protocol::{
    to_json, Auth, ClientFrame, CreateRoom, GetHistory, Hello, RoomId, RoomKind, SendMessage,
    ServerFrame, Welcome, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a login or a join may take before the connection counts as failed.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The text of a benchmark message: the phase and send time up front, padded to `len` bytes.
pub fn marker_text(phase: usize, sent_us: u64, len: usize) -> String {
    let mut text = format!("b{phase}.{sent_us}.");
    while text.len() < len {
        text.push('x');
    }
    text
}

/// The phase and send time of the benchmark message in a frame, if it carries one.
pub fn scan_marker(frame: &str) -> Option<(usize, u64)> {
    const KEY: &str = "\"text\":\"b";
    let start = frame.find(KEY)? + KEY.len();
    let rest = &frame[start..];
    let (phase, rest) = rest.split_once('.')?;
    let (sent, _) = rest.split_once('.')?;
    Some((phase.parse().ok()?, sent.parse().ok()?))
}

/// What a received frame is, as far as the benchmark cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A benchmark message reached a member.
    Delivery {
        phase: usize,
        sent_us: u64,
    },
    /// A send was acknowledged (chat-server: committed).
    Ack,
    /// The server refused a request.
    Refused,
    /// socket.io's heartbeat, to be answered with a pong.
    Ping,
    Other,
}

pub fn classify(kind: Kind, frame: &str) -> Incoming {
    match kind {
        Kind::Chat => {
            if frame.starts_with(r#"{"type":"event""#) {
                scan_marker(frame).map_or(Incoming::Other, |(phase, sent_us)| Incoming::Delivery {
                    phase,
                    sent_us,
                })
            } else if frame.starts_with(r#"{"type":"message_sent""#) {
                Incoming::Ack
            } else if frame.starts_with(r#"{"type":"error""#) {
                Incoming::Refused
            } else {
                Incoming::Other
            }
        }
        Kind::SocketIo => {
            if frame == "2" {
                Incoming::Ping
            } else if frame.starts_with(r#"42["message""#) {
                scan_marker(frame).map_or(Incoming::Other, |(phase, sent_us)| Incoming::Delivery {
                    phase,
                    sent_us,
                })
            } else if frame.starts_with("43") {
                Incoming::Ack
            } else {
                Incoming::Other
            }
        }
    }
}

/// A send of `text` to a room, as a frame. chat-server rooms are ids; socket.io rooms names.
pub fn send_frame(
    kind: Kind,
    request_id: u64,
    room: RoomId,
    client_id: String,
    text: String,
) -> String {
    match kind {
        Kind::Chat => to_json(&ClientFrame::SendMessage(SendMessage {
            request_id,
            room_id: room,
            client_id,
            text,
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        })),
        // With an ack id, so the peer confirms each message as chat-server does.
        Kind::SocketIo => format!(
            "42{request_id}{}",
            serde_json::json!(["message", {"room": format!("r{room}"), "text": text}])
        ),
    }
}

pub fn history_after(request_id: u64, room_id: RoomId, after: i64, limit: u32) -> String {
    to_json(&ClientFrame::GetHistory(GetHistory {
        request_id,
        room_id,
        after: Some(after),
        before: None,
        limit: Some(limit),
    }))
}

pub fn history_before(request_id: u64, room_id: RoomId, before: i64, limit: u32) -> String {
    to_json(&ClientFrame::GetHistory(GetHistory {
        request_id,
        room_id,
        after: None,
        before: Some(before),
        limit: Some(limit),
    }))
}

/// Read the next text frame (answering nothing; tungstenite answers WebSocket pings).
pub async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_string()),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
        }
    }
}

/// Authenticate a chat-server connection with a token and return the welcome.
pub async fn chat_login(ws: &mut Ws, token: &str) -> anyhow::Result<Welcome> {
    hello(
        ws,
        Auth::Token {
            token: token.to_string(),
        },
    )
    .await
}

/// Create an account on a chat-server that allows registration; the welcome carries a token.
pub async fn chat_register(ws: &mut Ws, username: &str, password: &str) -> anyhow::Result<Welcome> {
    hello(
        ws,
        Auth::Register {
            username: username.to_string(),
            password: password.to_string(),
        },
    )
    .await
}

/// Create a public channel with `members` (usernames) and return its id.
pub async fn create_channel(
    ws: &mut Ws,
    title: &str,
    members: Vec<String>,
) -> anyhow::Result<RoomId> {
    let frame = to_json(&ClientFrame::CreateRoom(CreateRoom {
        request_id: 1,
        kind: RoomKind::Channel,
        title: title.to_string(),
        topic: String::new(),
        members,
    }));
    ws.send(Message::text(frame)).await?;
    loop {
        let text = tokio::time::timeout(SETUP_TIMEOUT, next_text(ws))
            .await
            .context("no answer to create_room in time")??;
        match serde_json::from_str::<ServerFrame>(&text)? {
            ServerFrame::Room(r) => return Ok(r.room.id),
            ServerFrame::Error(e) => bail!("create_room refused: {}", e.message),
            _ => continue,
        }
    }
}

async fn hello(ws: &mut Ws, auth: Auth) -> anyhow::Result<Welcome> {
    let hello = to_json(&ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        auth,
        client: Some("chat-bench".into()),
    }));
    ws.send(Message::text(hello)).await?;
    let mut welcome = match serde_json::from_str::<ServerFrame>(&next_setup_text(ws).await?)? {
        ServerFrame::Welcome(welcome) => welcome,
        ServerFrame::Error(e) => bail!("refused: {}", e.message),
        other => bail!("expected welcome, got {other:?}"),
    };
    // The rest of a long room list comes in pages right after.
    while welcome.more_rooms {
        match serde_json::from_str::<ServerFrame>(&next_setup_text(ws).await?)? {
            ServerFrame::WelcomeRooms(page) => {
                welcome.rooms.extend(page.rooms);
                welcome.more_rooms = page.more;
            }
            other => bail!("expected welcome_rooms, got {other:?}"),
        }
    }
    Ok(welcome)
}

async fn next_setup_text(ws: &mut Ws) -> anyhow::Result<String> {
    tokio::time::timeout(SETUP_TIMEOUT, next_text(ws))
        .await
        .context("no welcome in time")?
}

/// Complete the Engine.IO and socket.io handshakes and join `room` (acknowledged by the peer).
pub async fn socketio_join(ws: &mut Ws, room: RoomId) -> anyhow::Result<()> {
    let setup = async {
        let open = next_text(ws).await?;
        if !open.starts_with('0') {
            bail!("expected an Engine.IO open packet, got {open:?}");
        }
        ws.send(Message::text("40")).await?;
        loop {
            let packet = next_text(ws).await?;
            if packet.starts_with("40") {
                break;
            }
            if packet == "2" {
                ws.send(Message::text("3")).await?;
            }
        }
        ws.send(Message::text(format!("420[\"join\",\"r{room}\"]")))
            .await?;
        loop {
            let packet = next_text(ws).await?;
            if packet.starts_with("430") {
                return Ok(());
            }
            if packet == "2" {
                ws.send(Message::text("3")).await?;
            }
        }
    };
    tokio::time::timeout(SETUP_TIMEOUT, setup)
        .await
        .context("socket.io join timed out")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_survive_both_protocols() {
        let text = marker_text(3, 123456, 100);
        assert_eq!(text.len(), 100);
        let chat = format!(
            r#"{{"type":"event","room_id":1,"seq":9,"ts":1,"sender":{{"id":1,"username":"u"}},"content":{{"kind":"message","message_id":1,"client_id":"c","text":"{text}"}}}}"#
        );
        assert_eq!(
            classify(Kind::Chat, &chat),
            Incoming::Delivery {
                phase: 3,
                sent_us: 123456
            }
        );
        let sio = send_frame(Kind::SocketIo, 7, 4, "c".into(), text.clone());
        assert!(sio.starts_with(r#"427["message",{"#), "{sio}");
        let pushed = format!(r#"42["message",{{"room":"r4","text":"{text}"}}]"#);
        assert_eq!(
            classify(Kind::SocketIo, &pushed),
            Incoming::Delivery {
                phase: 3,
                sent_us: 123456
            }
        );
        assert_eq!(classify(Kind::SocketIo, "2"), Incoming::Ping);
        assert_eq!(
            classify(Kind::Chat, r#"{"type":"message_sent","request_id":1}"#),
            Incoming::Ack
        );
        assert_eq!(
            classify(Kind::Chat, r#"{"type":"presence"}"#),
            Incoming::Other
        );
    }
}
