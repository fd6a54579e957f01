//! What flows into `update` (messages) and out of it (effects for the runtime to carry out).

use crate::outbox::OutboxItem;
use chat_protocol::{
    Attachment, Auth, ClientFrame, ErrorCode, MessageId, RoomEvent, RoomId, RoomSummary, Seq,
    ServerFrame, UserRef, Welcome,
};
use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use std::path::PathBuf;

/// Everything that can happen to the client.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A bracketed paste: the whole block at once.
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Once a second: countdowns, typing expiry, reconnect timing.
    Tick,
    Connected(Box<Welcome>),
    /// A connection attempt failed; `auth` when the server refused the credentials, `answered`
    /// when the server gave a reason (a weak password, a taken name) rather than the network
    /// failing.
    ConnectFailed {
        error: String,
        auth: bool,
        answered: bool,
    },
    /// An established connection ended; `auth` when the token was revoked.
    Disconnected {
        reason: String,
        auth: bool,
    },
    /// A pushed frame: event, receipt, typing, presence, room added or removed.
    Server(ServerFrame),
    /// The answer to an [`Effect::Request`].
    Response {
        tag: Tag,
        result: Result<ServerFrame, RequestError>,
    },
    /// A ping went out; until its answer the round trip is unknown.
    PingSent,
    /// Round-trip time of the connection's last ping.
    Rtt(u32),
    /// What the cache of the account just logged in to holds (its rooms, history, outbox and
    /// drafts), read by the runtime before that account's welcome: each (server, user) pair
    /// has a cache of its own.
    AccountLoaded(Box<crate::cache::Cached>),
    /// Older events of a room found in the local cache (empty: ask the server).
    CachedOlder {
        room_id: RoomId,
        before: Seq,
        events: Vec<RoomEvent>,
    },
    /// A paste that names existing files (files dropped on the terminal).
    PastedFiles {
        text: String,
        files: Vec<crate::model::PastedFile>,
    },
    /// The completions of a partial path, for [`Effect::ListPaths`].
    PathCandidates {
        typed: String,
        candidates: Vec<String>,
    },
    /// Bytes moved of a transfer.
    TransferProgress {
        id: u64,
        done: u64,
        total: u64,
    },
    /// A file's picture cannot be previewed (not an image after all, refused): show its name.
    NoPreview {
        file_id: chat_protocol::FileId,
    },
    /// An upload ended: the attachment to send, or why not.
    Uploaded {
        id: u64,
        result: Result<Attachment, String>,
    },
    /// A download ended: where the file is, or why not.
    Downloaded {
        id: u64,
        result: Result<PathBuf, String>,
    },
    /// A downloaded file could not be opened.
    OpenFailed(String),
}

/// Why a request got no result: a server refusal (with its code) or a lost connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub code: Option<ErrorCode>,
    pub message: String,
}

/// What a request was for, so its answer can be put in the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    Send {
        client_id: String,
    },
    /// The newest page of a room we hold nothing of.
    HistoryLatest {
        room_id: RoomId,
    },
    /// Catching up after `synced_to`.
    HistoryAfter {
        room_id: RoomId,
    },
    /// Older events, for scrolling up.
    HistoryBefore {
        room_id: RoomId,
    },
    Members {
        room_id: RoomId,
    },
    /// Receipts and typing: nothing to show unless they fail.
    Quiet,
    /// `/join NAME`: the directory, to find the room by name.
    JoinByName(String),
    /// The answer is a room to open (create, dm, join).
    OpenRoom,
    Channels,
    /// A command whose success is reported as this text.
    Action(String),
    /// `/logout`: the server revokes the token.
    Logout,
    /// The replies to a message, for the thread overlay.
    Thread {
        room_id: RoomId,
        parent: MessageId,
    },
    /// `/mentions`.
    Mentions,
    /// An edit, a delete or a reaction: its event shows it; only a refusal is news.
    Change,
    /// The hits of a search.
    Search,
}

/// Side effects `update` asks for; the runtime performs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Connect {
        url: String,
        auth: Auth,
    },
    Disconnect,
    Request {
        tag: Tag,
        frame: ClientFrame,
    },
    SaveSession {
        server: String,
        username: String,
        token: String,
    },
    ForgetSession,
    Cache(CacheOp),
    /// Look for events before `before` in the local cache; answered by [`Msg::CachedOlder`].
    LoadOlder {
        room_id: RoomId,
        before: Seq,
    },
    Notify {
        title: String,
        body: String,
    },
    /// Repaint the whole screen (Ctrl-L).
    Redraw,
    /// Put text on the clipboard (OSC 52, which most terminals and tmux pass on).
    Copy(String),
    /// Upload the file at `path` (as typed: `~` allowed, relative to the working folder),
    /// reporting [`Msg::TransferProgress`] and [`Msg::Uploaded`].
    Upload {
        id: u64,
        path: String,
        /// The server's limit: a larger file is refused before it is sent.
        max_bytes: u64,
    },
    /// Download a file to the download folder, or (`open`) to the profile's folder of opened
    /// files and open it; reporting [`Msg::TransferProgress`] and [`Msg::Downloaded`].
    Download {
        id: u64,
        file: Attachment,
        open: bool,
    },
    /// Complete a partial path; answered by [`Msg::PathCandidates`].
    ListPaths {
        typed: String,
    },
    Quit,
}

/// Writes to the local cache.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheOp {
    Me(UserRef),
    Room {
        summary: RoomSummary,
        synced_to: Seq,
    },
    RemoveRoom(RoomId),
    Events(Vec<RoomEvent>),
    /// Messages to store as they are now, over what was cached (deleted ones, so their text
    /// leaves the disk too).
    ReplaceEvents(Vec<RoomEvent>),
    OutboxPut(OutboxItem),
    OutboxRemove(String),
    /// A queued message rewritten before it went out.
    OutboxText {
        client_id: String,
        text: String,
    },
    /// Refused or its room gone: kept, with the reason, until the user deals with it.
    OutboxFailed {
        client_id: String,
        reason: String,
    },
    /// A failed message queued again.
    OutboxRetry(String),
    /// The unsent text of a room (empty: none).
    Draft {
        room_id: RoomId,
        text: String,
    },
    /// The room in view, to open it again next time.
    Selected(RoomId),
    /// Logged out with nothing left to send: nothing of this account stays on disk.
    Clear,
    /// Everything but the outbox: logged out with messages still to send (kept for the next
    /// login), or the server's account of this name is a new one.
    ClearHistory,
}
