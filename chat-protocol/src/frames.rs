//! The frames: what a client sends ([`ClientFrame`]) and what the server sends ([`ServerFrame`]).
//!
//! Every request carries a client-chosen `request_id` and gets exactly one response that echoes
//! it. Pushed events carry none. Readers ignore unknown fields so the protocol can grow.

use crate::{
    ChannelInfo, ErrorCode, FileId, Limits, Member, MessageId, Millis, NotifyLevel, PresenceInfo,
    RequestId, Role, RoomEvent, RoomId, RoomKind, RoomSettings, RoomSummary, Seq, UserId, UserRef,
};
use serde::{Deserialize, Serialize};

/// How a client proves who it is in `hello`, tagged by `"method"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Auth {
    /// A token from an earlier password login or from `chat-server token create`.
    Token { token: String },
    /// Log in; the welcome carries a new token for later connections.
    Password { username: String, password: String },
    /// Create an account (if the server allows registration) and log in.
    Register { username: String, password: String },
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame of a connection: protocol version and credentials.
    Hello(Hello),
    Ping(Ping),
    SendMessage(SendMessage),
    GetHistory(GetHistory),
    ListRooms(ListRooms),
    ListChannels(ListChannels),
    CreateRoom(CreateRoom),
    OpenDirect(OpenDirect),
    JoinRoom(JoinRoom),
    LeaveRoom(LeaveRoom),
    AddMember(AddMember),
    RemoveMember(RemoveMember),
    SetRole(SetRole),
    RenameRoom(RenameRoom),
    SetTopic(SetTopic),
    ListMembers(ListMembers),
    SetReceipt(SetReceipt),
    SetTyping(SetTyping),
    Logout(Logout),
    SetAway(SetAway),
    EditMessage(EditMessage),
    DeleteMessage(DeleteMessage),
    AddReaction(Reaction),
    RemoveReaction(Reaction),
    GetThread(GetThread),
    ListMentions(ListMentions),
    ArchiveRoom(ArchiveRoom),
    UnarchiveRoom(ArchiveRoom),
    TransferOwnership(TransferOwnership),
    SetRoomSettings(SetRoomSettings),
    Search(Search),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub auth: Auth,
    /// Free-form name of the client program, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Round-trip check; answered with `pong`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub request_id: RequestId,
}

/// Post a message. A retry with the same `client_id` gets the original acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub request_id: RequestId,
    pub room_id: RoomId,
    /// Chosen by the client, unique per sender (a UUID or a counter with a device prefix).
    pub client_id: String,
    pub text: String,
    /// Answer this message (same room): the event carries a quote of it, and it joins the
    /// message's thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// An action (`/me waves`), drawn as `* alice waves`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// Files the sender uploaded (`POST /api/v1/files`), at most 10; with any, the text may
    /// be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<FileId>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Replace the text of one of the caller's own messages. Editing to the current text is a
/// harmless no-op, so a retry is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub message_id: MessageId,
    pub text: String,
}

/// Delete a message: one's own, or anyone's as an owner or admin. Deleting a deleted message
/// is a harmless no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub message_id: MessageId,
}

/// Add (`add_reaction`) or take back (`remove_reaction`) the caller's reaction. Adding one
/// that is there, or removing one that is not, is a harmless no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub message_id: MessageId,
    /// An emoji or a short string, at most `limits.max_reaction_chars` characters.
    pub emoji: String,
}

/// The replies to a message, oldest first, a page at a time; answered with `thread`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetThread {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub message_id: MessageId,
    /// Replies with a seq greater than this (paging on from the last one held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Seq>,
    /// At most the server's `max_history_page`; defaults to 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Archive (`archive_room`) or unarchive (`unarchive_room`) a room: owners and admins. An
/// archived room is read-only for everyone and listed as archived; doing it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRoom {
    pub request_id: RequestId,
    pub room_id: RoomId,
}

/// Make `username` the room's owner; the caller (an owner) becomes an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOwnership {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub username: String,
}

/// Change some of the caller's own settings for a room; fields left out stay as they are.
/// Answered with `ok`; every connection of the caller, this one included, gets the settings
/// as a `room_settings` frame first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRoomSettings {
    pub request_id: RequestId,
    pub room_id: RoomId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyLevel>,
    /// `true` pins the room (after the pinned ones, unless `pin_position` says where);
    /// `false` unpins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// Where to pin it (lower first); pins the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_position: Option<u32>,
    /// Archive the room for the caller alone (`true`) or bring it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// The unsent text for the room; empty clears it. At most `limits.max_message_chars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
}

/// Full-text search over the messages of the caller's rooms; answered with `search_results`.
/// The query holds words, `"quoted phrases"`, `prefix*`, `-excluded` words and the filters
/// `in:#room`, `from:user`, `before:YYYY-MM-DD`, `after:YYYY-MM-DD`; the optional fields
/// below are the same filters for programs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Search {
    pub request_id: RequestId,
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<RoomId>,
    /// A username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only messages sent before this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Millis>,
    /// Only messages sent at or after this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Millis>,
    /// Hits per page: 20 by default, at most the server's `max_history_page`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Hits to skip (the next page starts at the previous offset plus its hits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// Messages that mention the caller, across rooms, newest first; answered with `mentions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMentions {
    pub request_id: RequestId,
    /// Mentions in messages with an id lower than this (paging back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
    /// At most the server's `max_history_page`; defaults to 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A page of a room's timeline. With `after`, the events after that seq in ascending order
/// (catching up); otherwise the newest events before `before` (or the end), also ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetHistory {
    pub request_id: RequestId,
    pub room_id: RoomId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Seq>,
    /// At most the server's `max_history_page`; defaults to 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The caller's rooms with unread counts; answered with `rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRooms {
    pub request_id: RequestId,
    /// Rooms with ids above this one: the next page after a `rooms` answer with `more`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RoomId>,
}

/// The public room directory; answered with `channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChannels {
    pub request_id: RequestId,
}

/// Create a group, channel or announcement room (direct rooms come from `open_direct`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    pub request_id: RequestId,
    pub kind: RoomKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// Usernames to add as members right away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// Open the direct room with a user, creating it the first time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDirect {
    pub request_id: RequestId,
    pub username: String,
}

/// Join a public room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    pub request_id: RequestId,
    pub room_id: RoomId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoom {
    pub request_id: RequestId,
    pub room_id: RoomId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMember {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub username: String,
}

/// Change a member's role; only owners may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameRoom {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTopic {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub topic: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMembers {
    pub request_id: RequestId,
    pub room_id: RoomId,
}

/// Move the caller's receipts forward. They never move back; reading implies delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReceipt {
    pub request_id: RequestId,
    pub room_id: RoomId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_seq: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_seq: Option<Seq>,
}

/// Start (refresh every few seconds while typing) or stop a typing indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTyping {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub typing: bool,
}

/// End this login: the token the connection authenticated with is revoked. Answered with
/// `ok`; then every connection that uses the token, this one included, is closed with 4003
/// (reason `logged out`), and the token no longer logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logout {
    pub request_id: RequestId,
}

/// Mark myself away with a message (shown to contacts in presence), or back with none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAway {
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ClientFrame {
    /// The `type` of every client frame, in declaration order: one list for docs, tests and
    /// fuzzers to be checked against, kept complete by [`ClientFrame::type_name`]'s match.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "ping",
        "send_message",
        "get_history",
        "list_rooms",
        "list_channels",
        "create_room",
        "open_direct",
        "join_room",
        "leave_room",
        "add_member",
        "remove_member",
        "set_role",
        "rename_room",
        "set_topic",
        "list_members",
        "set_receipt",
        "set_typing",
        "logout",
        "set_away",
        "edit_message",
        "delete_message",
        "add_reaction",
        "remove_reaction",
        "get_thread",
        "list_mentions",
        "archive_room",
        "unarchive_room",
        "transfer_ownership",
        "set_room_settings",
        "search",
    ];

    /// This frame's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientFrame::Hello(_) => "hello",
            ClientFrame::Ping(_) => "ping",
            ClientFrame::SendMessage(_) => "send_message",
            ClientFrame::GetHistory(_) => "get_history",
            ClientFrame::ListRooms(_) => "list_rooms",
            ClientFrame::ListChannels(_) => "list_channels",
            ClientFrame::CreateRoom(_) => "create_room",
            ClientFrame::OpenDirect(_) => "open_direct",
            ClientFrame::JoinRoom(_) => "join_room",
            ClientFrame::LeaveRoom(_) => "leave_room",
            ClientFrame::AddMember(_) => "add_member",
            ClientFrame::RemoveMember(_) => "remove_member",
            ClientFrame::SetRole(_) => "set_role",
            ClientFrame::RenameRoom(_) => "rename_room",
            ClientFrame::SetTopic(_) => "set_topic",
            ClientFrame::ListMembers(_) => "list_members",
            ClientFrame::SetReceipt(_) => "set_receipt",
            ClientFrame::SetTyping(_) => "set_typing",
            ClientFrame::Logout(_) => "logout",
            ClientFrame::SetAway(_) => "set_away",
            ClientFrame::EditMessage(_) => "edit_message",
            ClientFrame::DeleteMessage(_) => "delete_message",
            ClientFrame::AddReaction(_) => "add_reaction",
            ClientFrame::RemoveReaction(_) => "remove_reaction",
            ClientFrame::GetThread(_) => "get_thread",
            ClientFrame::ListMentions(_) => "list_mentions",
            ClientFrame::ArchiveRoom(_) => "archive_room",
            ClientFrame::UnarchiveRoom(_) => "unarchive_room",
            ClientFrame::TransferOwnership(_) => "transfer_ownership",
            ClientFrame::SetRoomSettings(_) => "set_room_settings",
            ClientFrame::Search(_) => "search",
        }
    }

    /// The request id, for every frame but `hello`.
    pub fn request_id(&self) -> Option<RequestId> {
        Some(match self {
            ClientFrame::Hello(_) => return None,
            ClientFrame::Ping(f) => f.request_id,
            ClientFrame::SendMessage(f) => f.request_id,
            ClientFrame::GetHistory(f) => f.request_id,
            ClientFrame::ListRooms(f) => f.request_id,
            ClientFrame::ListChannels(f) => f.request_id,
            ClientFrame::CreateRoom(f) => f.request_id,
            ClientFrame::OpenDirect(f) => f.request_id,
            ClientFrame::JoinRoom(f) => f.request_id,
            ClientFrame::LeaveRoom(f) => f.request_id,
            ClientFrame::AddMember(f) => f.request_id,
            ClientFrame::RemoveMember(f) => f.request_id,
            ClientFrame::SetRole(f) => f.request_id,
            ClientFrame::RenameRoom(f) => f.request_id,
            ClientFrame::SetTopic(f) => f.request_id,
            ClientFrame::ListMembers(f) => f.request_id,
            ClientFrame::SetReceipt(f) => f.request_id,
            ClientFrame::SetTyping(f) => f.request_id,
            ClientFrame::Logout(f) => f.request_id,
            ClientFrame::SetAway(f) => f.request_id,
            ClientFrame::EditMessage(f) => f.request_id,
            ClientFrame::DeleteMessage(f) => f.request_id,
            ClientFrame::AddReaction(f) | ClientFrame::RemoveReaction(f) => f.request_id,
            ClientFrame::GetThread(f) => f.request_id,
            ClientFrame::ListMentions(f) => f.request_id,
            ClientFrame::ArchiveRoom(f) | ClientFrame::UnarchiveRoom(f) => f.request_id,
            ClientFrame::TransferOwnership(f) => f.request_id,
            ClientFrame::SetRoomSettings(f) => f.request_id,
            ClientFrame::Search(f) => f.request_id,
        })
    }

    /// Overwrite the request id (no-op for `hello`); clients use it to number requests.
    pub fn set_request_id(&mut self, id: RequestId) {
        let slot = match self {
            ClientFrame::Hello(_) => return,
            ClientFrame::Ping(f) => &mut f.request_id,
            ClientFrame::SendMessage(f) => &mut f.request_id,
            ClientFrame::GetHistory(f) => &mut f.request_id,
            ClientFrame::ListRooms(f) => &mut f.request_id,
            ClientFrame::ListChannels(f) => &mut f.request_id,
            ClientFrame::CreateRoom(f) => &mut f.request_id,
            ClientFrame::OpenDirect(f) => &mut f.request_id,
            ClientFrame::JoinRoom(f) => &mut f.request_id,
            ClientFrame::LeaveRoom(f) => &mut f.request_id,
            ClientFrame::AddMember(f) => &mut f.request_id,
            ClientFrame::RemoveMember(f) => &mut f.request_id,
            ClientFrame::SetRole(f) => &mut f.request_id,
            ClientFrame::RenameRoom(f) => &mut f.request_id,
            ClientFrame::SetTopic(f) => &mut f.request_id,
            ClientFrame::ListMembers(f) => &mut f.request_id,
            ClientFrame::SetReceipt(f) => &mut f.request_id,
            ClientFrame::SetTyping(f) => &mut f.request_id,
            ClientFrame::Logout(f) => &mut f.request_id,
            ClientFrame::SetAway(f) => &mut f.request_id,
            ClientFrame::EditMessage(f) => &mut f.request_id,
            ClientFrame::DeleteMessage(f) => &mut f.request_id,
            ClientFrame::AddReaction(f) | ClientFrame::RemoveReaction(f) => &mut f.request_id,
            ClientFrame::GetThread(f) => &mut f.request_id,
            ClientFrame::ListMentions(f) => &mut f.request_id,
            ClientFrame::ArchiveRoom(f) | ClientFrame::UnarchiveRoom(f) => &mut f.request_id,
            ClientFrame::TransferOwnership(f) => &mut f.request_id,
            ClientFrame::SetRoomSettings(f) => &mut f.request_id,
            ClientFrame::Search(f) => &mut f.request_id,
        };
        *slot = id;
    }
}

/// Frames the server sends: the welcome, responses (with `request_id`) and pushed events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to a successful `hello`.
    Welcome(Welcome),
    /// The rest of a welcome's rooms, when it said `more_rooms`.
    WelcomeRooms(WelcomeRooms),
    // Responses.
    Pong(Pong),
    /// The acknowledgement of `send_message`, sent after the message is committed.
    MessageSent(MessageSent),
    History(History),
    /// Answer to `get_thread`.
    Thread(Thread),
    /// Answer to `list_mentions`.
    Mentions(Mentions),
    /// Answer to `search`.
    SearchResults(SearchResults),
    Rooms(Rooms),
    Channels(Channels),
    /// Answer to `create_room`, `open_direct` and `join_room`.
    Room(RoomResponse),
    Members(Members),
    /// Answer to requests that return nothing else.
    Ok(OkResponse),
    /// A failed request (with its `request_id`), or a frame that could not be read (without).
    Error(ErrorFrame),
    // Pushed events.
    /// A room timeline event: message, membership, title or topic change.
    Event(RoomEvent),
    Receipt(Receipt),
    Unread(Unread),
    Typing(Typing),
    Presence(PresenceInfo),
    /// The caller became a member of a room (joined on another device, was added, got a DM).
    RoomAdded(RoomAdded),
    /// The caller is no longer a member of a room (left on another device, was removed).
    RoomRemoved(RoomRemoved),
    /// The caller's settings for a room changed (on any of their devices, or by the server
    /// bringing an archived room back).
    RoomSettings(RoomSettingsChanged),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub user: UserRef,
    /// A new token, when the client logged in or registered with a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub limits: Limits,
    /// The caller's rooms by id, or the first of them: with `more_rooms`, `welcome_rooms`
    /// frames follow with the rest, before any other frame.
    pub rooms: Vec<RoomSummary>,
    /// Users who share a room with the caller and are online now.
    pub presence: Vec<PresenceInfo>,
    /// More rooms follow in `welcome_rooms` frames (a welcome stays a few hundred KiB
    /// however many rooms the caller is in).
    #[serde(default, skip_serializing_if = "is_false")]
    pub more_rooms: bool,
}

/// The rest of the welcome's rooms, in pages, sent right after a welcome with `more_rooms`
/// and before anything else; the last page has `more: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomeRooms {
    pub rooms: Vec<RoomSummary>,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub request_id: RequestId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSent {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub client_id: String,
    pub message_id: MessageId,
    pub seq: Seq,
    pub ts: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub request_id: RequestId,
    pub room_id: RoomId,
    /// Ascending by seq.
    pub events: Vec<RoomEvent>,
    /// More events remain in the direction asked for.
    pub more: bool,
    /// The caller's own reactions to the messages of this page (reaction counts list only
    /// the first few users).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reacted: Vec<OwnReaction>,
}

/// One of the caller's reactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnReaction {
    pub message_id: MessageId,
    pub emoji: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub request_id: RequestId,
    pub room_id: RoomId,
    /// The message replied to, as it is now.
    pub parent: RoomEvent,
    /// Replies, ascending by seq.
    pub replies: Vec<RoomEvent>,
    /// More replies follow the last one.
    pub more: bool,
    /// The caller's own reactions to the parent and these replies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reacted: Vec<OwnReaction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentions {
    pub request_id: RequestId,
    /// Message events that mention the caller, newest first, from every room they are in.
    pub events: Vec<RoomEvent>,
    /// Older mentions remain (page on with `before` = the last event's message id).
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub request_id: RequestId,
    /// Best first: relevance, newer messages ahead of older ones that match as well.
    pub hits: Vec<SearchHit>,
    /// More hits follow (ask again with `offset` moved on).
    pub more: bool,
    /// Messages and changes not indexed yet (the index follows the writes within moments).
    /// Deleted messages are never found, and edited ones never by their earlier text, even
    /// meanwhile.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub pending: u64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub room_id: RoomId,
    pub seq: Seq,
    pub message_id: MessageId,
    pub ts: Millis,
    pub sender: UserRef,
    /// The part of the text around the match (`…` where it is cut).
    pub snippet: String,
    /// What matched, as `[start, end)` character offsets into `snippet`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<[u32; 2]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rooms {
    pub request_id: RequestId,
    pub rooms: Vec<RoomSummary>,
    /// More rooms follow: ask again with `after` set to the last id of this page.
    #[serde(default, skip_serializing_if = "is_false")]
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub request_id: RequestId,
    pub channels: Vec<ChannelInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomResponse {
    pub request_id: RequestId,
    pub room: RoomSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    pub request_id: RequestId,
    pub room_id: RoomId,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkResponse {
    pub request_id: RequestId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    pub code: ErrorCode,
    pub message: String,
    /// With `rate_limited`: how long to wait before trying again, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// A member's receipts moved forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub room_id: RoomId,
    pub user_id: UserId,
    pub delivered_seq: Seq,
    pub read_seq: Seq,
}

/// The caller's unread count in a room changed because one of their devices read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unread {
    pub room_id: RoomId,
    pub read_seq: Seq,
    pub unread: u32,
    /// Unread messages that mention the caller.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub room_id: RoomId,
    pub user: UserRef,
    pub typing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomAdded {
    pub room: RoomSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRemoved {
    pub room_id: RoomId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettingsChanged {
    pub room_id: RoomId,
    /// All of the settings, as they are now.
    pub settings: RoomSettings,
}

impl ServerFrame {
    /// The `type` of every server frame, kept complete by [`ServerFrame::type_name`]'s match.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "welcome_rooms",
        "pong",
        "message_sent",
        "history",
        "thread",
        "mentions",
        "search_results",
        "rooms",
        "channels",
        "room",
        "members",
        "ok",
        "error",
        "event",
        "receipt",
        "unread",
        "typing",
        "presence",
        "room_added",
        "room_removed",
        "room_settings",
    ];

    /// This frame's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerFrame::Welcome(_) => "welcome",
            ServerFrame::WelcomeRooms(_) => "welcome_rooms",
            ServerFrame::Pong(_) => "pong",
            ServerFrame::MessageSent(_) => "message_sent",
            ServerFrame::History(_) => "history",
            ServerFrame::Thread(_) => "thread",
            ServerFrame::Mentions(_) => "mentions",
            ServerFrame::SearchResults(_) => "search_results",
            ServerFrame::Rooms(_) => "rooms",
            ServerFrame::Channels(_) => "channels",
            ServerFrame::Room(_) => "room",
            ServerFrame::Members(_) => "members",
            ServerFrame::Ok(_) => "ok",
            ServerFrame::Error(_) => "error",
            ServerFrame::Event(_) => "event",
            ServerFrame::Receipt(_) => "receipt",
            ServerFrame::Unread(_) => "unread",
            ServerFrame::Typing(_) => "typing",
            ServerFrame::Presence(_) => "presence",
            ServerFrame::RoomAdded(_) => "room_added",
            ServerFrame::RoomRemoved(_) => "room_removed",
            ServerFrame::RoomSettings(_) => "room_settings",
        }
    }

    /// The request id of a response; `None` for the welcome and pushed events.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            ServerFrame::Pong(f) => Some(f.request_id),
            ServerFrame::MessageSent(f) => Some(f.request_id),
            ServerFrame::History(f) => Some(f.request_id),
            ServerFrame::Thread(f) => Some(f.request_id),
            ServerFrame::Mentions(f) => Some(f.request_id),
            ServerFrame::SearchResults(f) => Some(f.request_id),
            ServerFrame::Rooms(f) => Some(f.request_id),
            ServerFrame::Channels(f) => Some(f.request_id),
            ServerFrame::Room(f) => Some(f.request_id),
            ServerFrame::Members(f) => Some(f.request_id),
            ServerFrame::Ok(f) => Some(f.request_id),
            ServerFrame::Error(f) => f.request_id,
            ServerFrame::Welcome(_)
            | ServerFrame::WelcomeRooms(_)
            | ServerFrame::Event(_)
            | ServerFrame::Receipt(_)
            | ServerFrame::Unread(_)
            | ServerFrame::Typing(_)
            | ServerFrame::Presence(_)
            | ServerFrame::RoomAdded(_)
            | ServerFrame::RoomRemoved(_)
            | ServerFrame::RoomSettings(_) => None,
        }
    }
}

/// Serialise a frame; infallible for these types (string keys, no maps with non-string keys).
pub fn to_json<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| {
        // Unreachable for the protocol's types; keep the connection alive with a clear error.
        format!(r#"{{"type":"error","code":"internal","message":"cannot encode frame: {e}"}}"#)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_round_trips_through_set() {
        let mut f = ClientFrame::Ping(Ping { request_id: 1 });
        f.set_request_id(42);
        assert_eq!(f.request_id(), Some(42));
        let json = to_json(&f);
        assert_eq!(json, r#"{"type":"ping","request_id":42}"#);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"ping","request_id":3,"future":true}"#).unwrap();
        assert_eq!(f, ClientFrame::Ping(Ping { request_id: 3 }));
    }

    #[test]
    fn unknown_error_codes_decode_as_unknown() {
        let f: ServerFrame =
            serde_json::from_str(r#"{"type":"error","code":"teapot","message":"x"}"#).unwrap();
        let ServerFrame::Error(e) = f else {
            panic!("not an error")
        };
        assert_eq!(e.code, ErrorCode::Unknown);
    }
}
