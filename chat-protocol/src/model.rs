//! Values that appear inside frames: users, rooms, room events, receipts.

use crate::{MessageId, Millis, RoomId, Seq, UserId};
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
    /// The other person of a direct room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<UserRef>,
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
pub enum EventContent {
    /// A message; `client_id` is the id its sender chose.
    Message {
        message_id: MessageId,
        client_id: String,
        text: String,
    },
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
