//! An async client for bots, tests and the terminal client (feature `client`).
//!
//! [`Client::connect`] opens a WebSocket, says `hello` and waits for the `welcome`. One task owns
//! the socket: it writes requests, routes each response to the caller waiting for its
//! `request_id`, and queues everything else (pushed events) for [`Client::next_event`].

use crate::{
    to_json, AddMember, Auth, ClientFrame, CreateRoom, ErrorCode, GetHistory, Hello, History,
    JoinRoom, LeaveRoom, Logout, MessageSent, Ping, RequestId, RoomId, RoomKind, RoomSummary,
    SendMessage, Seq, ServerFrame, SetAway, SetReceipt, SetTyping, Welcome, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

mod messages;
mod search;
mod settings;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("server error {code}: {message}")]
    Server {
        code: ErrorCode,
        message: String,
        /// With `rate_limited`: how long the server asks to wait, in milliseconds.
        retry_after_ms: Option<u64>,
    },
    #[error("connection closed{}", .0.as_ref().map(|c| format!(" ({}: {})", c.code, c.reason)).unwrap_or_default())]
    Closed(Option<CloseInfo>),
    #[error("unexpected frame from server: {0}")]
    Unexpected(String),
    #[error("undecodable frame from server: {0}")]
    Decode(#[from] serde_json::Error),
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// How long the server asked to wait before retrying (with `rate_limited`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ClientError::Server {
                retry_after_ms: Some(ms),
                ..
            } => Some(std::time::Duration::from_millis(*ms)),
            _ => None,
        }
    }
}

/// Whether `url` is a WebSocket address the client can connect to (`ws://host:port` or
/// `wss://…`); the error says what is wrong with it, before any connection is tried.
pub fn check_url(url: &str) -> Result<(), String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err("the server address starts with ws:// or wss://".into());
    }
    let request = url
        .into_client_request()
        .map_err(|e| format!("not a valid server address: {e}"))?;
    let uri = request.uri();
    if uri.host().is_none_or(str::is_empty) {
        return Err("the server address has no host name".into());
    }
    // An unparsable port is no port to `Uri::port`: look at the authority as written.
    let authority = uri.authority().map_or("", |a| a.as_str());
    if let Some((_, port)) = authority
        .rsplit_once(':')
        .filter(|(_, p)| !p.ends_with(']'))
    {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("the port {port:?} is not a number from 1 to 65535"));
        }
    }
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The WebSocket, with TCP_NODELAY: small frames (a ping, a typing flag) go out at once, not
/// after Nagle's algorithm waits for the acknowledgement of the previous one (40 ms and more).
async fn open_socket(url: &str) -> Result<Socket, ClientError> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    Ok(ws)
}

/// The close code and reason the server gave when it ended the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: u16,
    pub reason: String,
}

type Pending = Arc<Mutex<HashMap<RequestId, oneshot::Sender<ServerFrame>>>>;

/// A connected, authenticated client. It derefs to its [`ClientHandle`], which makes the
/// requests; [`Client::split`] separates the two so one task can read events while others
/// make requests.
pub struct Client {
    handle: ClientHandle,
    events: mpsc::Receiver<ServerFrame>,
    welcome: Welcome,
}

/// The request side of a connection: cheap to clone, usable from many tasks at once.
#[derive(Clone)]
pub struct ClientHandle {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_request_id: Arc<AtomicU64>,
    close_info: Arc<Mutex<Option<CloseInfo>>>,
    missed_events: Arc<AtomicU64>,
}

impl std::ops::Deref for Client {
    type Target = ClientHandle;
    fn deref(&self) -> &ClientHandle {
        &self.handle
    }
}

impl Client {
    /// Connect to `url` (e.g. `ws://127.0.0.1:7800`), authenticate, and wait for the welcome.
    /// A token issued by this login is labelled `chat-protocol/VERSION`; [`Client::connect_as`]
    /// names the program and device instead.
    pub async fn connect(url: &str, auth: Auth) -> Result<Client, ClientError> {
        let name = format!("chat-protocol/{}", env!("CARGO_PKG_VERSION"));
        Client::connect_as(url, auth, name).await
    }

    /// [`Client::connect`] naming the client, for example `"weather-bot on host1"`: the server
    /// logs it and labels a token issued by this login with it, so `chat-server token list`
    /// tells devices apart.
    pub async fn connect_as(
        url: &str,
        auth: Auth,
        client_name: impl Into<String>,
    ) -> Result<Client, ClientError> {
        let mut ws = open_socket(url).await?;
        let hello = ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            auth,
            client: Some(client_name.into()),
        });
        ws.send(Message::text(to_json(&hello))).await?;
        let mut welcome: Option<Welcome> = None;
        let welcome = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match serde_json::from_str(&text)? {
                    ServerFrame::Welcome(w) if welcome.is_none() => {
                        if !w.more_rooms {
                            break w;
                        }
                        welcome = Some(w);
                    }
                    // The rest of a long room list, before anything else.
                    ServerFrame::WelcomeRooms(page) if welcome.is_some() => {
                        let Some(mut w) = welcome.take() else {
                            continue;
                        };
                        w.rooms.extend(page.rooms);
                        if !page.more {
                            w.more_rooms = false;
                            break w;
                        }
                        welcome = Some(w);
                    }
                    ServerFrame::Error(e) => {
                        return Err(ClientError::Server {
                            code: e.code,
                            message: e.message,
                            retry_after_ms: e.retry_after_ms,
                        })
                    }
                    other => return Err(ClientError::Unexpected(to_json(&other))),
                },
                Some(Ok(Message::Close(frame))) => {
                    return Err(ClientError::Closed(close_info(frame)))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ClientError::Closed(None)),
            }
        };
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        // Bounded so that a program that never reads events does not grow without limit.
        let (events_tx, events) = mpsc::channel(4096);
        let pending: Pending = Arc::default();
        let close_info_slot = Arc::new(Mutex::new(None));
        let missed_events = Arc::new(AtomicU64::new(0));
        tokio::spawn(run_socket(
            ws,
            outgoing_rx,
            events_tx,
            pending.clone(),
            close_info_slot.clone(),
            missed_events.clone(),
        ));
        Ok(Client {
            handle: ClientHandle {
                outgoing,
                pending,
                next_request_id: Arc::new(AtomicU64::new(1)),
                close_info: close_info_slot,
                missed_events,
            },
            events,
            welcome,
        })
    }

    /// What the server said in its welcome: the user, a new token, limits, rooms, presence.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Separate the request handle from the pushed events, which then arrive on the receiver
    /// (closed once the connection has closed and every queued frame was read).
    pub fn split(self) -> (ClientHandle, mpsc::Receiver<ServerFrame>, Welcome) {
        (self.handle, self.events, self.welcome)
    }

    /// The next pushed frame (events, receipts, typing, presence, unmatched errors);
    /// `None` once the connection has closed and every queued frame was read.
    pub async fn next_event(&mut self) -> Option<ServerFrame> {
        self.events.recv().await
    }

    /// A pushed frame that has already arrived, without waiting.
    pub fn try_next_event(&mut self) -> Option<ServerFrame> {
        self.events.try_recv().ok()
    }

    /// Everything that has arrived before the answer to a ping: frames the server queued for
    /// this connection before the ping are all here once it returns.
    pub async fn drain_events(&mut self) -> Result<Vec<ServerFrame>, ClientError> {
        self.ping().await?;
        let mut frames = Vec::new();
        while let Some(frame) = self.try_next_event() {
            frames.push(frame);
        }
        Ok(frames)
    }
}

impl ClientHandle {
    /// Send a request (its request id is assigned here) and wait for its response.
    /// An `error` response becomes [`ClientError::Server`].
    pub async fn request(&self, mut frame: ClientFrame) -> Result<ServerFrame, ClientError> {
        let id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        frame.set_request_id(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        if self.outgoing.send(Message::text(to_json(&frame))).is_err() {
            lock(&self.pending).remove(&id);
            return Err(self.closed());
        }
        match rx.await {
            Ok(ServerFrame::Error(e)) => Err(ClientError::Server {
                code: e.code,
                message: e.message,
                retry_after_ms: e.retry_after_ms,
            }),
            Ok(frame) => Ok(frame),
            Err(_) => Err(self.closed()),
        }
    }

    /// Send a raw text frame, bypassing the typed frames (for tests of malformed input).
    /// Any answer arrives through [`Client::next_event`].
    pub fn send_raw(&self, text: impl Into<String>) -> Result<(), ClientError> {
        self.outgoing
            .send(Message::text(text.into()))
            .map_err(|_| self.closed())
    }

    /// Send a binary frame (the server refuses these; for tests).
    pub fn send_binary(&self, data: Vec<u8>) -> Result<(), ClientError> {
        self.outgoing
            .send(Message::binary(data))
            .map_err(|_| self.closed())
    }

    /// Pushed frames dropped because [`Client::next_event`] was not called often enough to keep
    /// up (the queue holds 4096). When it grows, fetch each room's history after the last seq
    /// you hold: the protocol lets you catch up exactly.
    pub fn missed_events(&self) -> u64 {
        self.missed_events.load(Ordering::Relaxed)
    }

    /// The close code and reason, once the server has closed the connection.
    pub fn close_info(&self) -> Option<CloseInfo> {
        lock(&self.close_info).clone()
    }

    /// Close the connection politely.
    pub fn close(&self) {
        let _ = self.outgoing.send(Message::Close(None));
    }

    fn closed(&self) -> ClientError {
        ClientError::Closed(self.close_info())
    }

    // Typed helpers for the common requests.

    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(ClientFrame::Ping(Ping { request_id: 0 }))
            .await
            .map(drop)
    }

    /// End this login: the server revokes the connection's token and closes every connection
    /// that uses it (this one too, after the answer).
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.request(ClientFrame::Logout(Logout { request_id: 0 }))
            .await
            .map(drop)
    }

    /// Away with `message` (contacts see it in presence), or back with `None`.
    pub async fn set_away(&self, message: Option<&str>) -> Result<(), ClientError> {
        let frame = ClientFrame::SetAway(SetAway {
            request_id: 0,
            message: message.map(str::to_string),
        });
        self.request(frame).await.map(drop)
    }

    /// Post `text` with the given client id; retrying with the same id is safe.
    pub async fn send_message(
        &self,
        room_id: RoomId,
        client_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<MessageSent, ClientError> {
        let frame = ClientFrame::SendMessage(SendMessage {
            request_id: 0,
            room_id,
            client_id: client_id.into(),
            text: text.into(),
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        });
        match self.request(frame).await? {
            ServerFrame::MessageSent(ack) => Ok(ack),
            other => Err(unexpected(other)),
        }
    }

    /// Events after `after` (ascending), at most `limit`.
    pub async fn history_after(
        &self,
        room_id: RoomId,
        after: Seq,
        limit: u32,
    ) -> Result<History, ClientError> {
        self.history(GetHistory {
            request_id: 0,
            room_id,
            before: None,
            after: Some(after),
            limit: Some(limit),
        })
        .await
    }

    /// The newest events before `before` (or the newest of all), ascending.
    pub async fn history_before(
        &self,
        room_id: RoomId,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<History, ClientError> {
        self.history(GetHistory {
            request_id: 0,
            room_id,
            before,
            after: None,
            limit: Some(limit),
        })
        .await
    }

    async fn history(&self, req: GetHistory) -> Result<History, ClientError> {
        match self.request(ClientFrame::GetHistory(req)).await? {
            ServerFrame::History(h) => Ok(h),
            other => Err(unexpected(other)),
        }
    }

    pub async fn create_room(
        &self,
        kind: RoomKind,
        title: impl Into<String>,
        members: &[&str],
    ) -> Result<RoomSummary, ClientError> {
        let frame = ClientFrame::CreateRoom(CreateRoom {
            request_id: 0,
            kind,
            title: title.into(),
            topic: String::new(),
            members: members.iter().map(|m| m.to_string()).collect(),
        });
        self.room_request(frame).await
    }

    pub async fn open_direct(
        &self,
        username: impl Into<String>,
    ) -> Result<RoomSummary, ClientError> {
        let frame = ClientFrame::OpenDirect(crate::OpenDirect {
            request_id: 0,
            username: username.into(),
        });
        self.room_request(frame).await
    }

    pub async fn join_room(&self, room_id: RoomId) -> Result<RoomSummary, ClientError> {
        self.room_request(ClientFrame::JoinRoom(JoinRoom {
            request_id: 0,
            room_id,
        }))
        .await
    }

    pub async fn leave_room(&self, room_id: RoomId) -> Result<(), ClientError> {
        self.request(ClientFrame::LeaveRoom(LeaveRoom {
            request_id: 0,
            room_id,
        }))
        .await
        .map(drop)
    }

    pub async fn add_member(
        &self,
        room_id: RoomId,
        username: impl Into<String>,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::AddMember(AddMember {
            request_id: 0,
            room_id,
            username: username.into(),
        });
        self.request(frame).await.map(drop)
    }

    pub async fn set_receipt(
        &self,
        room_id: RoomId,
        delivered_seq: Option<Seq>,
        read_seq: Option<Seq>,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::SetReceipt(SetReceipt {
            request_id: 0,
            room_id,
            delivered_seq,
            read_seq,
        });
        self.request(frame).await.map(drop)
    }

    pub async fn set_typing(&self, room_id: RoomId, typing: bool) -> Result<(), ClientError> {
        self.request(ClientFrame::SetTyping(SetTyping {
            request_id: 0,
            room_id,
            typing,
        }))
        .await
        .map(drop)
    }

    /// Every room the caller is in, by id (asked for page by page).
    pub async fn list_rooms(&self) -> Result<Vec<RoomSummary>, ClientError> {
        let mut rooms: Vec<RoomSummary> = Vec::new();
        loop {
            let after = rooms.last().map(|r| r.id);
            let frame = ClientFrame::ListRooms(crate::ListRooms {
                request_id: 0,
                after,
            });
            match self.request(frame).await? {
                ServerFrame::Rooms(page) => {
                    let more = page.more && !page.rooms.is_empty();
                    rooms.extend(page.rooms);
                    if !more {
                        return Ok(rooms);
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// The members of a room, with their roles, receipts and whether they are online.
    pub async fn list_members(&self, room_id: RoomId) -> Result<Vec<crate::Member>, ClientError> {
        let frame = ClientFrame::ListMembers(crate::ListMembers {
            request_id: 0,
            room_id,
        });
        match self.request(frame).await? {
            ServerFrame::Members(m) => Ok(m.members),
            other => Err(unexpected(other)),
        }
    }

    async fn room_request(&self, frame: ClientFrame) -> Result<RoomSummary, ClientError> {
        match self.request(frame).await? {
            ServerFrame::Room(r) => Ok(r.room),
            other => Err(unexpected(other)),
        }
    }
}

pub(crate) fn unexpected(frame: ServerFrame) -> ClientError {
    ClientError::Unexpected(to_json(&frame))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the maps half-updated (single inserts and
    // removes), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn close_info(frame: Option<CloseFrame>) -> Option<CloseInfo> {
    frame.map(|f| CloseInfo {
        code: f.code.into(),
        reason: f.reason.to_string(),
    })
}

async fn run_socket<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    events: mpsc::Sender<ServerFrame>,
    pending: Pending,
    close_slot: Arc<Mutex<Option<CloseInfo>>>,
    missed: Arc<AtomicU64>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            msg = outgoing.recv() => match msg {
                Some(msg) => {
                    if let Err(e) = ws.send(msg).await {
                        tracing::debug!("client send failed: {e}");
                        break;
                    }
                }
                None => {
                    let _ = ws.close(None).await;
                    break;
                }
            },
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let frame: ServerFrame = match serde_json::from_str(&text) {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!("undecodable server frame: {e}");
                            continue;
                        }
                    };
                    let waiter = frame.request_id().and_then(|id| lock(&pending).remove(&id));
                    match waiter {
                        Some(tx) => { let _ = tx.send(frame); }
                        // Never wait for the event reader: responses must keep flowing even for
                        // a program that only sends. Overflowing events are counted instead;
                        // the reader catches up by seq (see `missed_events`).
                        None => if let Err(mpsc::error::TrySendError::Full(_)) = events.try_send(frame) {
                            missed.fetch_add(1, Ordering::Relaxed);
                        },
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    *lock(&close_slot) = close_info(frame);
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!("client read failed: {e}");
                    break;
                }
                None => break,
            },
        }
    }
    // Dropping the waiters wakes every pending request with "closed".
    lock(&pending).clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_checked_before_connecting() {
        assert_eq!(check_url("ws://127.0.0.1:7800"), Ok(()));
        assert_eq!(check_url("wss://chat.example.com/ws"), Ok(()));
        for bad in [
            "http://x",
            "ws://",
            "ws://host:78OO",
            "ws://ho st:1",
            "127.0.0.1:7800",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_socket_sends_small_frames_without_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            tokio_tungstenite::accept_async(tcp).await.expect("upgrade")
        });
        let ws = open_socket(&url).await.expect("connect");
        let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() else {
            panic!("a ws:// URL gives a plain TCP stream");
        };
        assert!(tcp.nodelay().expect("nodelay"), "TCP_NODELAY is not set");
        drop(server.await);
    }
}
