//! Fuzzing of frame decoding (proptest, so it runs on stable Rust and in CI): no input makes
//! decoding panic, and every frame the types can hold survives a trip through JSON unchanged.
//!
//! `PROPTEST_CASES` sets the number of cases per test (256 by default, the long run uses 2000);
//! failures are kept in `fuzz_frames.proptest-regressions` next to this file and replayed first.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use chat_protocol::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;

fn config() -> ProptestConfig {
    ProptestConfig {
        // proptest's own default would look for a lib.rs above tests/, warn, and fall back to this.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Valid frames.

/// Strings as users and bots type them, plus the awkward ones: control characters, quotes,
/// astral code points and long runs (a decoder that copies or escapes badly shows it there).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => any::<String>(),
        2 => "[a-z0-9_.-]{1,32}",
        1 => (any::<char>(), 0usize..5000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

fn room_kind() -> impl Strategy<Value = RoomKind> {
    prop_oneof![
        Just(RoomKind::Direct),
        Just(RoomKind::Group),
        Just(RoomKind::Channel),
        Just(RoomKind::Announcement),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Member), Just(Role::Admin), Just(Role::Owner)]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        text().prop_map(|token| Auth::Token { token }),
        (text(), text()).prop_map(|(username, password)| Auth::Password { username, password }),
        (text(), text()).prop_map(|(username, password)| Auth::Register { username, password }),
    ]
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    let id = any::<u64>;
    prop_oneof![
        (any::<u32>(), auth(), proptest::option::of(text())).prop_map(
            |(protocol, auth, client)| ClientFrame::Hello(Hello {
                protocol,
                auth,
                client
            })
        ),
        id().prop_map(|request_id| ClientFrame::Ping(Ping { request_id })),
        (
            id(),
            any::<i64>(),
            text(),
            text(),
            proptest::option::of(any::<i64>()),
            any::<bool>(),
            proptest::collection::vec(any::<i64>(), 0..3)
        )
            .prop_map(
                |(request_id, room_id, client_id, text, reply_to, action, attachments)| {
                    ClientFrame::SendMessage(SendMessage {
                        request_id,
                        room_id,
                        client_id,
                        text,
                        reply_to,
                        action,
                        attachments,
                    })
                }
            ),
        (
            id(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(request_id, room_id, before, after, limit)| {
                ClientFrame::GetHistory(GetHistory {
                    request_id,
                    room_id,
                    before,
                    after,
                    limit,
                })
            }),
        (id(), proptest::option::of(any::<i64>())).prop_map(|(request_id, after)| {
            ClientFrame::ListRooms(ListRooms { request_id, after })
        }),
        id().prop_map(|request_id| ClientFrame::ListChannels(ListChannels { request_id })),
        (
            id(),
            room_kind(),
            text(),
            text(),
            proptest::collection::vec(text(), 0..4)
        )
            .prop_map(|(request_id, kind, title, topic, members)| {
                ClientFrame::CreateRoom(CreateRoom {
                    request_id,
                    kind,
                    title,
                    topic,
                    members,
                })
            }),
        (id(), text()).prop_map(|(request_id, username)| {
            ClientFrame::OpenDirect(OpenDirect {
                request_id,
                username,
            })
        }),
        (id(), any::<i64>()).prop_map(|(request_id, room_id)| {
            ClientFrame::JoinRoom(JoinRoom {
                request_id,
                room_id,
            })
        }),
        (id(), any::<i64>()).prop_map(|(request_id, room_id)| {
            ClientFrame::LeaveRoom(LeaveRoom {
                request_id,
                room_id,
            })
        }),
        (id(), any::<i64>(), text()).prop_map(|(request_id, room_id, username)| {
            ClientFrame::AddMember(AddMember {
                request_id,
                room_id,
                username,
            })
        }),
        (id(), any::<i64>(), text()).prop_map(|(request_id, room_id, username)| {
            ClientFrame::RemoveMember(RemoveMember {
                request_id,
                room_id,
                username,
            })
        }),
        (id(), any::<i64>(), text(), role()).prop_map(|(request_id, room_id, username, role)| {
            ClientFrame::SetRole(SetRole {
                request_id,
                room_id,
                username,
                role,
            })
        }),
        (id(), any::<i64>(), text()).prop_map(|(request_id, room_id, title)| {
            ClientFrame::RenameRoom(RenameRoom {
                request_id,
                room_id,
                title,
            })
        }),
        (id(), any::<i64>(), text()).prop_map(|(request_id, room_id, topic)| {
            ClientFrame::SetTopic(SetTopic {
                request_id,
                room_id,
                topic,
            })
        }),
        (id(), any::<i64>()).prop_map(|(request_id, room_id)| {
            ClientFrame::ListMembers(ListMembers {
                request_id,
                room_id,
            })
        }),
        (
            id(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>())
        )
            .prop_map(|(request_id, room_id, delivered_seq, read_seq)| {
                ClientFrame::SetReceipt(SetReceipt {
                    request_id,
                    room_id,
                    delivered_seq,
                    read_seq,
                })
            }),
        (id(), any::<i64>(), any::<bool>()).prop_map(|(request_id, room_id, typing)| {
            ClientFrame::SetTyping(SetTyping {
                request_id,
                room_id,
                typing,
            })
        }),
        id().prop_map(|request_id| ClientFrame::Logout(Logout { request_id })),
        (id(), proptest::option::of(text())).prop_map(|(request_id, message)| {
            ClientFrame::SetAway(SetAway {
                request_id,
                message,
            })
        }),
        (id(), any::<i64>(), any::<i64>(), text()).prop_map(
            |(request_id, room_id, message_id, text)| {
                ClientFrame::EditMessage(EditMessage {
                    request_id,
                    room_id,
                    message_id,
                    text,
                })
            }
        ),
        (id(), any::<i64>(), any::<i64>()).prop_map(|(request_id, room_id, message_id)| {
            ClientFrame::DeleteMessage(DeleteMessage {
                request_id,
                room_id,
                message_id,
            })
        }),
        (id(), any::<i64>(), any::<i64>(), text(), any::<bool>()).prop_map(
            |(request_id, room_id, message_id, emoji, add)| {
                let r = Reaction {
                    request_id,
                    room_id,
                    message_id,
                    emoji,
                };
                if add {
                    ClientFrame::AddReaction(r)
                } else {
                    ClientFrame::RemoveReaction(r)
                }
            }
        ),
        (
            id(),
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(request_id, room_id, message_id, after, limit)| {
                ClientFrame::GetThread(GetThread {
                    request_id,
                    room_id,
                    message_id,
                    after,
                    limit,
                })
            }),
        (
            id(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(request_id, before, limit)| {
                ClientFrame::ListMentions(ListMentions {
                    request_id,
                    before,
                    limit,
                })
            }),
        (id(), any::<i64>(), any::<bool>()).prop_map(|(request_id, room_id, archive)| {
            let r = ArchiveRoom {
                request_id,
                room_id,
            };
            if archive {
                ClientFrame::ArchiveRoom(r)
            } else {
                ClientFrame::UnarchiveRoom(r)
            }
        }),
        (id(), any::<i64>(), text()).prop_map(|(request_id, room_id, username)| {
            ClientFrame::TransferOwnership(TransferOwnership {
                request_id,
                room_id,
                username,
            })
        }),
        (
            (id(), any::<i64>()),
            proptest::option::of(notify_level()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(text()),
        )
            .prop_map(
                |((request_id, room_id), notify, pinned, pin_position, hidden, draft)| {
                    ClientFrame::SetRoomSettings(SetRoomSettings {
                        request_id,
                        room_id,
                        notify,
                        pinned,
                        pin_position,
                        hidden,
                        draft,
                    })
                }
            ),
        (
            (id(), text()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(text()),
            (
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<i64>())
            ),
            (
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>())
            ),
        )
            .prop_map(
                |((request_id, query), room_id, from, (before, after), (limit, offset))| {
                    ClientFrame::Search(Search {
                        request_id,
                        query,
                        room_id,
                        from,
                        before,
                        after,
                        limit,
                        offset,
                    })
                }
            ),
    ]
}

fn search_hit() -> impl Strategy<Value = SearchHit> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        user(),
        text(),
        proptest::collection::vec(any::<[u32; 2]>(), 0..3),
    )
        .prop_map(
            |((room_id, seq, message_id, ts), sender, snippet, highlights)| SearchHit {
                room_id,
                seq,
                message_id,
                ts,
                sender,
                snippet,
                highlights,
            },
        )
}

fn notify_level() -> impl Strategy<Value = NotifyLevel> {
    prop_oneof![
        Just(NotifyLevel::All),
        Just(NotifyLevel::Mentions),
        Just(NotifyLevel::None),
    ]
}

fn room_settings() -> impl Strategy<Value = RoomSettings> {
    (
        notify_level(),
        proptest::option::of(any::<u32>()),
        any::<bool>(),
        text(),
    )
        .prop_map(|(notify, pinned, hidden, draft)| RoomSettings {
            notify,
            pinned,
            hidden,
            draft,
        })
}

fn user() -> impl Strategy<Value = UserRef> {
    (any::<i64>(), text()).prop_map(|(id, username)| UserRef { id, username })
}

fn room_summary() -> impl Strategy<Value = RoomSummary> {
    (
        (any::<i64>(), room_kind(), text(), text(), role()),
        (
            any::<u32>(),
            any::<i64>(),
            any::<i64>(),
            any::<u32>(),
            proptest::option::of(user()),
            any::<u32>(),
            any::<bool>(),
        ),
        room_settings(),
    )
        .prop_map(
            |(
                (id, kind, title, topic, role),
                (member_count, last_seq, read_seq, unread, peer, mentions, archived),
                settings,
            )| {
                RoomSummary {
                    id,
                    kind,
                    title,
                    topic,
                    role,
                    member_count,
                    last_seq,
                    read_seq,
                    unread,
                    mentions,
                    peer,
                    archived,
                    settings,
                }
            },
        )
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        (
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
        ),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>()),
        (any::<usize>(), any::<u64>(), any::<u32>(), any::<u32>()),
    )
        .prop_map(|((a, b, c, d), (e, f, g, h), (i, j, k, l))| Limits {
            max_frame_bytes: a,
            max_message_chars: b,
            max_title_chars: c,
            max_topic_chars: d,
            max_history_page: e,
            requests_per_second: f,
            request_burst: g,
            typing_timeout_ms: h,
            max_reaction_chars: i,
            max_upload_bytes: j,
            max_rooms_per_user: k,
            max_search_ms: l,
        })
}

fn presence() -> impl Strategy<Value = PresenceInfo> {
    (
        user(),
        any::<bool>(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(text()),
    )
        .prop_map(|(user, online, last_seen, away)| PresenceInfo {
            user,
            online,
            last_seen,
            away,
        })
}

fn reply_quote() -> impl Strategy<Value = ReplyQuote> {
    (any::<i64>(), user(), text(), any::<bool>()).prop_map(
        |(message_id, sender, excerpt, deleted)| ReplyQuote {
            message_id,
            sender,
            excerpt,
            deleted,
        },
    )
}

fn reaction_count() -> impl Strategy<Value = ReactionCount> {
    (
        text(),
        any::<u32>(),
        proptest::collection::vec(user(), 0..3),
    )
        .prop_map(|(emoji, count, users)| ReactionCount {
            emoji,
            count,
            users,
        })
}

/// A message in any state: plain, a reply, mentioning, edited, deleted, reacted to, a thread.
fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (
        (any::<i64>(), text(), text(), any::<bool>()),
        (
            proptest::option::of(reply_quote()),
            proptest::collection::vec(any::<i64>(), 0..3),
            any::<bool>(),
            proptest::option::of(any::<i64>()),
        ),
        (
            any::<bool>(),
            proptest::option::of(user()),
            proptest::collection::vec(reaction_count(), 0..3),
            proptest::option::of((any::<u32>(), any::<i64>())),
            proptest::option::of(any::<i64>()),
            proptest::collection::vec(attachment(), 0..3),
        ),
    )
        .prop_map(
            |(
                (message_id, client_id, text, action),
                (reply_to, mentions, mentions_room, edited_at),
                (deleted, deleted_by, reactions, thread, updated_seq, attachments),
            )| ChatMessage {
                message_id,
                client_id,
                text,
                action,
                reply_to,
                mentions,
                mentions_room,
                edited_at,
                deleted,
                deleted_by,
                reactions,
                thread: thread.map(|(replies, last_reply_ts)| ThreadSummary {
                    replies,
                    last_reply_ts,
                }),
                updated_seq,
                attachments,
            },
        )
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        any::<i64>(),
        text(),
        any::<u64>(),
        text(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(id, name, size, media_type, width, height)| Attachment {
            id,
            name,
            size,
            media_type,
            width,
            height,
        })
}

fn reaction_change() -> impl Strategy<Value = ReactionChange> {
    (
        any::<i64>(),
        text(),
        any::<u32>(),
        proptest::collection::vec(user(), 0..3),
    )
        .prop_map(|(message_id, emoji, count, users)| ReactionChange {
            message_id,
            emoji,
            count,
            users,
        })
}

fn event_content() -> impl Strategy<Value = EventContent> {
    prop_oneof![
        4 => chat_message().prop_map(EventContent::Message),
        1 => (
            any::<i64>(),
            text(),
            any::<i64>(),
            proptest::collection::vec(any::<i64>(), 0..3),
            any::<bool>()
        )
            .prop_map(|(message_id, text, edited_at, mentions, mentions_room)| {
                EventContent::MessageEdited(MessageEdited {
                    message_id,
                    text,
                    edited_at,
                    mentions,
                    mentions_room,
                })
            }),
        1 => (any::<i64>(), any::<bool>()).prop_map(|(message_id, by_moderator)| {
            EventContent::MessageDeleted(MessageDeleted {
                message_id,
                by_moderator,
            })
        }),
        1 => reaction_change().prop_map(EventContent::ReactionAdded),
        1 => reaction_change().prop_map(EventContent::ReactionRemoved),
        1 => Just(EventContent::RoomArchived {}),
        1 => Just(EventContent::RoomUnarchived {}),
        1 => (room_kind(), text())
            .prop_map(|(room_kind, title)| EventContent::RoomCreated { room_kind, title }),
        1 => (user(), role()).prop_map(|(user, role)| EventContent::MemberJoined { user, role }),
        1 => user().prop_map(|user| EventContent::MemberLeft { user }),
        1 => (user(), role()).prop_map(|(user, role)| EventContent::MemberAdded { user, role }),
        1 => user().prop_map(|user| EventContent::MemberRemoved { user }),
        1 => (user(), role()).prop_map(|(user, role)| EventContent::RoleChanged { user, role }),
        1 => text().prop_map(|title| EventContent::Renamed { title }),
        1 => text().prop_map(|topic| EventContent::TopicChanged { topic }),
    ]
}

fn room_event() -> impl Strategy<Value = RoomEvent> {
    (
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        user(),
        event_content(),
    )
        .prop_map(|(room_id, seq, ts, sender, content)| RoomEvent {
            room_id,
            seq,
            ts,
            sender,
            content,
        })
}

fn own_reaction() -> impl Strategy<Value = OwnReaction> {
    (any::<i64>(), text()).prop_map(|(message_id, emoji)| OwnReaction { message_id, emoji })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::BadRequest),
        Just(ErrorCode::Unauthorized),
        Just(ErrorCode::Forbidden),
        Just(ErrorCode::NotFound),
        Just(ErrorCode::Conflict),
        Just(ErrorCode::TooLarge),
        Just(ErrorCode::RateLimited),
        Just(ErrorCode::Internal),
        Just(ErrorCode::Unknown),
    ]
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        // The minimal welcome: a new user in no rooms, with no token (a token login).
        1 => (any::<u32>(), user(), limits()).prop_map(|(protocol, user, limits)| {
            ServerFrame::Welcome(Welcome {
                protocol,
                user,
                token: None,
                limits,
                rooms: Vec::new(),
                presence: Vec::new(),
                more_rooms: false,
            })
        }),
        1 => (
            user(),
            proptest::option::of(text()),
            limits(),
            proptest::collection::vec(room_summary(), 0..3),
            proptest::collection::vec(presence(), 0..3),
            any::<bool>()
        )
            .prop_map(|(user, token, limits, rooms, presence, more_rooms)| {
                ServerFrame::Welcome(Welcome {
                    protocol: PROTOCOL_VERSION,
                    user,
                    token,
                    limits,
                    rooms,
                    presence,
                    more_rooms,
                })
            }),
        1 => (proptest::collection::vec(room_summary(), 0..3), any::<bool>())
            .prop_map(|(rooms, more)| ServerFrame::WelcomeRooms(WelcomeRooms { rooms, more })),
        4 => room_event().prop_map(ServerFrame::Event),
        // Errors with and without request id and retry hint.
        4 => (
            proptest::option::of(any::<u64>()),
            error_code(),
            text(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(request_id, code, message, retry_after_ms)| {
                ServerFrame::Error(ErrorFrame {
                    request_id,
                    code,
                    message,
                    retry_after_ms,
                })
            }),
        1 => any::<u64>().prop_map(|request_id| ServerFrame::Pong(Pong { request_id })),
        1 => (any::<u64>(), any::<i64>(), text(), any::<i64>(), any::<i64>(), any::<i64>())
            .prop_map(|(request_id, room_id, client_id, message_id, seq, ts)| {
                ServerFrame::MessageSent(MessageSent {
                    request_id,
                    room_id,
                    client_id,
                    message_id,
                    seq,
                    ts,
                })
            }),
        1 => (
            any::<u64>(),
            any::<i64>(),
            proptest::collection::vec(room_event(), 0..4),
            any::<bool>(),
            proptest::collection::vec(own_reaction(), 0..3)
        )
            .prop_map(|(request_id, room_id, events, more, reacted)| {
                ServerFrame::History(History {
                    request_id,
                    room_id,
                    events,
                    more,
                    reacted,
                })
            }),
        1 => (
            (any::<u64>(), any::<i64>(), room_event()),
            proptest::collection::vec(room_event(), 0..4),
            any::<bool>(),
            proptest::collection::vec(own_reaction(), 0..3)
        )
            .prop_map(|((request_id, room_id, parent), replies, more, reacted)| {
                ServerFrame::Thread(Thread {
                    request_id,
                    room_id,
                    parent,
                    replies,
                    more,
                    reacted,
                })
            }),
        1 => (
            any::<u64>(),
            proptest::collection::vec(room_event(), 0..4),
            any::<bool>()
        )
            .prop_map(|(request_id, events, more)| {
                ServerFrame::Mentions(Mentions {
                    request_id,
                    events,
                    more,
                })
            }),
        1 => (
            any::<u64>(),
            proptest::collection::vec(search_hit(), 0..3),
            any::<bool>(),
            any::<u64>()
        )
            .prop_map(|(request_id, hits, more, pending)| {
                ServerFrame::SearchResults(SearchResults {
                    request_id,
                    hits,
                    more,
                    pending,
                })
            }),
        1 => (any::<u64>(), room_summary())
            .prop_map(|(request_id, room)| ServerFrame::Room(RoomResponse { request_id, room })),
        1 => any::<u64>().prop_map(|request_id| ServerFrame::Ok(OkResponse { request_id })),
        1 => (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()).prop_map(
            |(room_id, user_id, delivered_seq, read_seq)| {
                ServerFrame::Receipt(Receipt {
                    room_id,
                    user_id,
                    delivered_seq,
                    read_seq,
                })
            }
        ),
        1 => (any::<i64>(), any::<i64>(), any::<u32>(), any::<u32>()).prop_map(
            |(room_id, read_seq, unread, mentions)| {
                ServerFrame::Unread(Unread {
                    room_id,
                    read_seq,
                    unread,
                    mentions,
                })
            }
        ),
        1 => (any::<i64>(), user(), any::<bool>()).prop_map(|(room_id, user, typing)| {
            ServerFrame::Typing(Typing {
                room_id,
                user,
                typing,
            })
        }),
        1 => presence().prop_map(ServerFrame::Presence),
        1 => room_summary().prop_map(|room| ServerFrame::RoomAdded(RoomAdded { room })),
        1 => any::<i64>().prop_map(|room_id| ServerFrame::RoomRemoved(RoomRemoved { room_id })),
        1 => (any::<i64>(), room_settings()).prop_map(|(room_id, settings)| {
            ServerFrame::RoomSettings(RoomSettingsChanged { room_id, settings })
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Mutations: what a buggy client, a bit flip or an attacker makes of a valid frame.

/// Number literals `serde_json::Value` cannot hold; spliced into the text after encoding.
const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "18446744073709551616",
    "-9223372036854775809",
    "-0",
    "0.0",
    "1E2",
    "4.2e-400",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Put another JSON value (often of another type) at some node, the root included.
    Replace(Index, Value),
    /// Drop a field or array element.
    Remove(Index),
    /// Add a field (possibly a duplicate key once encoded, if the name exists elsewhere).
    AddField(Index, String, Value),
    RawNumber(Index, &'static str),
    /// `[[[...]]]` this deep at some node: the recursion limit, not the stack, must stop it.
    Nest(Index, usize),
    LongString(Index, char, usize),
    FlipBit(Index, u8),
    InsertByte(Index, u8),
    DeleteByte(Index),
    Truncate(Index),
}

fn leaf_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(Value::from(i64::MIN)),
            Just(Value::from(i64::MAX)),
            Just(Value::from(u64::MAX)),
            Just(Value::from(-1)),
            Just(Value::from(0)),
            Just(Value::from(1.5)),
            Just(Value::from(-0.0)),
            Just(Value::from(f64::MAX)),
        ],
        ".{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("message"),
            Just("group"),
            Just("owner"),
            Just("token"),
            Just("ping")
        ]
        .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf_value().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((field_name(), inner), 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Mostly names the frames use, so mutations collide with real fields and tags.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "type", "request_id", "room_id", "kind", "method", "auth", "text", "seq", "content",
            "code", "user", "limits", "rooms", "events", "before", "after", "typing",
        ])
        .prop_map(String::from),
        1 => ".{0,10}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        4 => (at(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => at().prop_map(Mutation::Remove),
        2 => (at(), field_name(), json_value())
            .prop_map(|(i, k, v)| Mutation::AddField(i, k, v)),
        2 => (at(), prop::sample::select(RAW_NUMBERS))
            .prop_map(|(i, n)| Mutation::RawNumber(i, n)),
        1 => (at(), prop_oneof![1usize..200, 200usize..20_000])
            .prop_map(|(i, d)| Mutation::Nest(i, d)),
        1 => (at(), any::<char>(), 0usize..70_000)
            .prop_map(|(i, c, n)| Mutation::LongString(i, c, n)),
        2 => (at(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (at(), any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        2 => at().prop_map(Mutation::DeleteByte),
        1 => at().prop_map(Mutation::Truncate),
    ]
}

/// JSON pointers of every node of `value`, the root (`""`) first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(at.clone());
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            out.push(at.clone());
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

fn pick(value: &Value, index: &Index, keep: impl Fn(&Value) -> bool) -> Option<String> {
    let mut all = Vec::new();
    pointers(value, String::new(), &mut all);
    all.retain(|p| value.pointer(p).is_some_and(&keep));
    (!all.is_empty()).then(|| all[index.index(all.len())].clone())
}

/// Apply the mutations to the JSON of a valid frame: tree edits first, then the encoded text's
/// splices, then byte edits. The result may be anything, including not UTF-8.
fn mutate(valid: &Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut value = valid.clone();
    // Texts a Value cannot hold (huge literals, deep nesting) stand in as unique strings.
    let mut splices: Vec<(String, String)> = Vec::new();
    let mut splice = |value: &mut Value, at: String, raw: String| {
        let marker = format!("@@splice{}@@", splices.len());
        if let Some(slot) = value.pointer_mut(&at) {
            *slot = Value::String(marker.clone());
            splices.push((format!("\"{marker}\""), raw));
        }
    };
    for m in mutations {
        match m {
            Mutation::Replace(i, v) => {
                if let Some(at) = pick(&value, i, |_| true) {
                    *value.pointer_mut(&at).unwrap() = v.clone();
                }
            }
            Mutation::Remove(i) => {
                let Some(at) = pick(&value, i, |_| true).filter(|p| !p.is_empty()) else {
                    continue;
                };
                let (parent, last) = at.rsplit_once('/').unwrap();
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last);
                    }
                    Some(Value::Array(items)) => {
                        items.remove(last.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            }
            Mutation::AddField(i, k, v) => {
                if let Some(at) = pick(&value, i, Value::is_object) {
                    if let Some(Value::Object(map)) = value.pointer_mut(&at) {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
            Mutation::RawNumber(i, n) => {
                if let Some(at) = pick(&value, i, |_| true) {
                    splice(&mut value, at, n.to_string());
                }
            }
            Mutation::Nest(i, depth) => {
                if let Some(at) = pick(&value, i, |_| true) {
                    let raw = format!("{}1{}", "[".repeat(*depth), "]".repeat(*depth));
                    splice(&mut value, at, raw);
                }
            }
            Mutation::LongString(i, c, n) => {
                if let Some(at) = pick(&value, i, |_| true) {
                    *value.pointer_mut(&at).unwrap() = Value::String(c.to_string().repeat(*n));
                }
            }
            Mutation::FlipBit(..)
            | Mutation::InsertByte(..)
            | Mutation::DeleteByte(_)
            | Mutation::Truncate(_) => {}
        }
    }
    let mut text = serde_json::to_string(&value).unwrap();
    for (marker, raw) in &splices {
        text = text.replacen(marker.as_str(), raw, 1);
    }
    let mut bytes = text.into_bytes();
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::FlipBit(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
            Mutation::InsertByte(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::DeleteByte(i) if len > 0 => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            _ => {}
        }
    }
    bytes
}

/// Decode `bytes` as both sides' frames, through both entry points, and check that whatever
/// is accepted is stable: its encoding decodes to the same frame.
fn decode_everything(bytes: &[u8]) {
    fn stable<T>(decoded: Result<T, serde_json::Error>)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        if let Ok(frame) = decoded {
            let again: T = serde_json::from_str(&to_json(&frame))
                .unwrap_or_else(|e| panic!("{frame:?} was accepted but its JSON is not: {e}"));
            assert_eq!(again, frame, "an accepted frame changed on re-encoding");
        }
    }
    stable(serde_json::from_slice::<ClientFrame>(bytes));
    stable(serde_json::from_slice::<ServerFrame>(bytes));
    let text = String::from_utf8_lossy(bytes);
    stable(serde_json::from_str::<ClientFrame>(&text));
    stable(serde_json::from_str::<ServerFrame>(&text));
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_string_decodes_without_panicking(text in any::<String>()) {
        decode_everything(text.as_bytes());
    }

    /// Random text from JSON's alphabet gets further into the parser than random Unicode.
    #[test]
    fn json_like_text_decodes_without_panicking(
        text in r#"[{}\[\]":,0-9a-z_ .eE+\\-]{0,80}"#,
    ) {
        decode_everything(text.as_bytes());
    }

    #[test]
    fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    #[test]
    fn any_json_value_decodes_without_panicking(value in json_value()) {
        decode_everything(serde_json::to_string(&value).unwrap().as_bytes());
    }

    #[test]
    fn mutated_client_frames_decode_without_panicking(
        frame in client_frame(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let valid = serde_json::to_value(&frame).unwrap();
        decode_everything(&mutate(&valid, &mutations));
    }

    #[test]
    fn mutated_server_frames_decode_without_panicking(
        frame in server_frame(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let valid = serde_json::to_value(&frame).unwrap();
        decode_everything(&mutate(&valid, &mutations));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack(
        depth in prop_oneof![100usize..200, 200usize..100_000],
        object in any::<bool>(),
    ) {
        let (open, close) = if object { (r#"{"a":"#, "}") } else { ("[", "]") };
        let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let whole = format!(r#"{{"type":"ping","request_id":1,"x":{nested}}}"#);
        for text in [nested, whole] {
            decode_everything(text.as_bytes());
            // Over serde_json's recursion limit (128) nothing decodes, even ignored fields.
            if depth > 128 {
                prop_assert!(serde_json::from_str::<ClientFrame>(&text).is_err());
            }
        }
    }

    /// `type_name` and the `TYPES` lists agree with what goes on the wire.
    #[test]
    fn frame_types_are_listed(client in client_frame(), server in server_frame()) {
        let wire = |json: String| -> String {
            let value: Value = serde_json::from_str(&json).unwrap();
            value["type"].as_str().unwrap_or_default().to_string()
        };
        prop_assert_eq!(wire(to_json(&client)), client.type_name());
        prop_assert!(ClientFrame::TYPES.contains(&client.type_name()));
        prop_assert_eq!(wire(to_json(&server)), server.type_name());
        prop_assert!(ServerFrame::TYPES.contains(&server.type_name()));
    }

    #[test]
    fn client_frames_round_trip(frame in client_frame()) {
        let json = to_json(&frame);
        prop_assert_eq!(&json, &serde_json::to_string(&frame).unwrap());
        let back: ClientFrame = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, frame);
    }

    #[test]
    fn server_frames_round_trip(frame in server_frame()) {
        let json = to_json(&frame);
        prop_assert_eq!(&json, &serde_json::to_string(&frame).unwrap());
        let back: ServerFrame = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, frame);
    }

    /// PROTOCOL.md: readers ignore unknown fields, so frames can grow without a new version.
    #[test]
    fn unknown_fields_do_not_change_a_frame(
        client in client_frame(),
        server in server_frame(),
        name in "x_[a-z_]{0,12}",
        extra in json_value(),
    ) {
        let mut json = serde_json::to_value(&client).unwrap();
        json.as_object_mut().unwrap().insert(name.clone(), extra.clone());
        let decoded: ClientFrame = serde_json::from_str(&json.to_string()).unwrap();
        prop_assert_eq!(decoded, client);
        let mut json = serde_json::to_value(&server).unwrap();
        json.as_object_mut().unwrap().insert(name, extra);
        let decoded: ServerFrame = serde_json::from_str(&json.to_string()).unwrap();
        prop_assert_eq!(decoded, server);
    }
}
