//! Values that appear inside frames: users, rooms, room events, receipts.

use crate::{FileId, MessageId, Millis, RoomId, Seq, UserId};
use serde::{Deserialize, Serialize};

/// A user as other people see them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserRef {
    pub id: UserId,
    pub username: String,
}

/// The four kinds of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Exactly two people; opening it again for the same pair returns the same room.
    Direct,
    /// Private; members are added by its owner and admins.
    Group,
    /// Public: anyone can list and join it.
    Channel,
    /// Public like a channel, but only the owner and admins may post.
    Announcement,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Direct => "direct",
            RoomKind::Group => "group",
            RoomKind::Channel => "channel",
            RoomKind::Announcement => "announcement",
        }
    }

    pub fn parse(s: &str) -> Option<RoomKind> {
        Some(match s {
            "direct" => RoomKind::Direct,
            "group" => RoomKind::Group,
            "channel" => RoomKind::Channel,
            "announcement" => RoomKind::Announcement,
            _ => return None,
        })
    }

    /// Public rooms appear in the directory and can be joined without an invitation.
    pub fn is_public(self) -> bool {
        matches!(self, RoomKind::Channel | RoomKind::Announcement)
    }
}

/// A member's role in a room. Owners and admins manage members and titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }

    /// Owners and admins may add and remove members, rename, set the topic and post in
    /// announcement rooms.
    pub fn can_manage(self) -> bool {
        self >= Role::Admin
    }
}

/// One room as the requesting user sees it: enough to render a conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub kind: RoomKind,
    /// For direct rooms, the other person's username.
    pub title: String,
    pub topic: String,
    /// The caller's role.
    pub role: Role,
    pub member_count: u32,
    /// Seq of the newest event in the room (0 when there is none).
    pub last_seq: Seq,
    /// How far the caller has read.
    pub read_seq: Seq,
    /// Messages from other people after `read_seq`.
    pub unread: u32,
    /// Unread messages that mention the caller (by name, or `@room` unless the room is
    /// muted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u32,
    /// The other person of a direct room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<UserRef>,
    /// Archived by an owner or admin: read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// The caller's own settings for the room, the same on all their devices.
    #[serde(default, skip_serializing_if = "RoomSettings::is_default")]
    pub settings: RoomSettings,
}

/// How much of a room's activity should reach a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message (the default).
    #[default]
    All,
    /// Only messages that mention the user, by name or as `@room`.
    Mentions,
    /// Muted: nothing but direct mentions by name; `@room` is not counted.
    None,
}

impl NotifyLevel {
    pub fn is_all(&self) -> bool {
        *self == NotifyLevel::All
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyLevel> {
        match s {
            "all" => Some(NotifyLevel::All),
            "mentions" => Some(NotifyLevel::Mentions),
            "none" => Some(NotifyLevel::None),
            _ => None,
        }
    }
}

/// One user's settings for one room, kept by the server and pushed to all their devices
/// (`room_settings`) whenever one of them changes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSettings {
    #[serde(default, skip_serializing_if = "NotifyLevel::is_all")]
    pub notify: NotifyLevel,
    /// Pinned to the top of the room list, lower positions first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<u32>,
    /// Archived for this user alone: left out of the room list until the next message
    /// arrives (the server then clears it, unless the room is muted).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// Text typed but not sent, so another device can carry on with it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub draft: String,
}

impl RoomSettings {
    pub fn is_default(&self) -> bool {
        *self == RoomSettings::default()
    }
}

/// A public room in the channel directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub id: RoomId,
    pub kind: RoomKind,
    pub title: String,
    pub topic: String,
    pub member_count: u32,
    /// Whether the caller is already a member.
    pub joined: bool,
    /// Archived: read-only, and nobody can join.
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
}

/// A member of a room, with receipts and presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: UserRef,
    pub role: Role,
    pub online: bool,
    pub delivered_seq: Seq,
    pub read_seq: Seq,
}

/// One entry of a room's timeline. Every room event has the next per-room seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    pub room_id: RoomId,
    pub seq: Seq,
    /// Server time of the event, ms since the Unix epoch.
    pub ts: Millis,
    /// Who caused the event.
    pub sender: UserRef,
    pub content: EventContent,
}

/// What happened in a room event, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Nearly every event is a message: boxing it would cost the common case an allocation to save
// bytes in the rare ones.
#[allow(clippy::large_enum_variant)]
pub enum EventContent {
    /// A message, as it is now when served from history (edited text, tombstone, reactions,
    /// thread); `client_id` is the id its sender chose.
    Message(ChatMessage),
    /// The sender edited `message_id` (only senders edit their own messages).
    MessageEdited(MessageEdited),
    /// The sender deleted `message_id`: its own message, or someone else's as a moderator.
    MessageDeleted(MessageDeleted),
    /// The sender reacted to `message_id` with `emoji`; `count` is that emoji's count now.
    ReactionAdded(ReactionChange),
    /// The sender took back their `emoji` reaction to `message_id`.
    ReactionRemoved(ReactionChange),
    /// The room was created by the sender.
    RoomCreated { room_kind: RoomKind, title: String },
    /// The sender joined (a public room, or as the creator).
    MemberJoined { user: UserRef, role: Role },
    /// The sender left.
    MemberLeft { user: UserRef },
    /// The sender added `user`.
    MemberAdded { user: UserRef, role: Role },
    /// The sender removed `user`.
    MemberRemoved { user: UserRef },
    /// The sender changed `user`'s role (or ownership passed on when an owner left).
    RoleChanged { user: UserRef, role: Role },
    /// The sender renamed the room.
    Renamed { title: String },
    /// The sender set the topic.
    TopicChanged { topic: String },
    /// The sender archived the room: it is read-only until unarchived.
    RoomArchived {},
    /// The sender unarchived the room.
    RoomUnarchived {},
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A message. Fields other than the first three appear only when they say something: a
/// plain message is `{"message_id", "client_id", "text"}`.
///
/// Served from history, a message shows its current state: its latest text with
/// `edited_at`, or a tombstone (`deleted`, empty `text`); its reactions; its thread. Every
/// event that changed it has a seq up to `updated_seq`, so a client applies an edit, delete,
/// reaction or reply to a message it holds only if the event's seq is greater.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub message_id: MessageId,
    pub client_id: String,
    /// Empty once deleted.
    pub text: String,
    /// An action (`/me waves`), drawn as `* alice waves`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// The message this one replies to, as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyQuote>,
    /// Members mentioned by `@username`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// `@room` or `@all` by an owner or admin: every member is mentioned.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mentions_room: bool,
    /// When the text was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Millis>,
    /// Deleted: `text` is empty and `deleted_by` says who deleted it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserRef>,
    /// Reactions, in the order they were first added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
    /// Replies to this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadSummary>,
    /// The seq of the newest event that changed this message (absent: none since it was
    /// sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_seq: Option<Seq>,
    /// Files shared with the message (none once deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file uploaded over HTTP (`POST /api/v1/files`), as a message carries it; downloaded
/// from `GET /api/v1/files/{id}` by members of a room it was shared in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: FileId,
    /// The name it was uploaded with (no directories).
    pub name: String,
    /// In bytes.
    pub size: u64,
    /// `image/png`, `application/pdf`, …: found in the file for images, as uploaded otherwise.
    pub media_type: String,
    /// Pixels, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// What a reply shows of the message it answers: enough to draw `↳ alice: first line…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyQuote {
    pub message_id: MessageId,
    pub sender: UserRef,
    /// The first line of the text, cut to 100 characters (with `…`); absent when deleted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: u32,
    /// The first few (three) who reacted, earliest first.
    pub users: Vec<UserRef>,
}

/// A thread parent's replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub replies: u32,
    pub last_reply_ts: Millis,
}

/// Content of a `message_edited` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub message_id: MessageId,
    /// The message's current text: a later edit rewrites earlier edit events, and a delete
    /// empties them, so no frame ever carries text that was replaced or deleted.
    pub text: String,
    pub edited_at: Millis,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mentions_room: bool,
}

/// Content of a `message_deleted` event; the event's sender is who deleted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub message_id: MessageId,
    /// Deleted by an owner or admin, not by its sender.
    #[serde(default, skip_serializing_if = "is_false")]
    pub by_moderator: bool,
}

/// Content of `reaction_added` and `reaction_removed`; the event's sender is who reacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChange {
    pub message_id: MessageId,
    pub emoji: String,
    /// How many have reacted with `emoji` after this change.
    pub count: u32,
    /// The first few (three) who have, after this change: the message's `reactions` entry
    /// for `emoji` is now `{emoji, count, users}` (gone when `count` is 0).
    pub users: Vec<UserRef>,
}

/// Online state of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceInfo {
    pub user: UserRef,
    pub online: bool,
    /// When the user was last online, for offline users that have been seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Millis>,
    /// Online but away, with the user's message (`set_away`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
}

impl PresenceInfo {
    /// `user` is online now.
    pub fn online(user: UserRef) -> PresenceInfo {
        PresenceInfo {
            user,
            online: true,
            last_seen: None,
            away: None,
        }
    }

    /// `user` is online now, away with `message` if there is one.
    pub fn online_away(user: UserRef, away: Option<String>) -> PresenceInfo {
        PresenceInfo {
            away,
            ..PresenceInfo::online(user)
        }
    }
}
