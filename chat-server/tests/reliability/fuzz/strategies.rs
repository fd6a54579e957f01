//! What the request fuzzer sends: values kept symbolic (which room, how many repeats) so
//! that a failing batch prints small and shrinks, rendered to frames against the live fixture.

use crate::raw;
use chat_protocol::{close_code, ClientFrame};
use tokio_tungstenite::tungstenite::Message;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// What the fuzzer sends. Values are kept symbolic (which room, how many repeats) so that a
// failing batch prints small and shrinks, and render to text against the live fixture.

#[derive(Debug, Clone, Copy)]
pub(super) enum RoomPick {
    /// The group of alice and bob that the invariants are checked on.
    Shared,
    /// bob's channel: public, alice may join.
    Lobby,
    /// bob's private group without alice: must look like no room at all.
    Secret,
    /// The direct room of alice and bob: cannot be left, renamed or grown.
    Direct,
    Id(i64),
}

#[derive(Debug, Clone)]
pub(super) enum Val {
    Json(Value),
    /// A literal `Value` cannot hold: huge or signed-zero numbers.
    Raw(&'static str),
    Room(RoomPick),
    /// A string of this character this many times (a compact way to reach the limits).
    Repeat(char, usize),
    /// `[[[...1...]]]` this deep.
    Nested(usize),
}

#[derive(Debug, Clone)]
pub(super) enum ByteEdit {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A request, its fields right, missing or wrong, as JSON text, then maybe byte-edited.
    Request {
        ty: Option<Val>,
        type_last: bool,
        fields: Vec<(String, Val)>,
        edits: Vec<ByteEdit>,
    },
    Json(Value),
    Text(String),
    /// A valid ping padded to exactly `max_frame_bytes + over` bytes: the limit's edge.
    SizedPing {
        request_id: u64,
        over: i64,
    },
    /// Protocol abuse the server must close for: 1003.
    Binary(Vec<u8>),
    /// A text frame that is not UTF-8: 1007.
    NotUtf8(Vec<u8>),
}

pub(super) const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "18446744073709551616",
    "-9223372036854775809",
    "-0",
    "0.0",
    "1E2",
    "3.0",
];

/// Frame types the fuzzer sends: all of them but `logout`, which would end the very session
/// whose invariants are being checked (it has a test of its own).
pub(super) fn kinds() -> Vec<&'static str> {
    ClientFrame::TYPES
        .iter()
        .copied()
        .filter(|kind| *kind != "logout")
        .collect()
}

pub(super) fn json<T: Into<Value>>(v: T) -> Val {
    Val::Json(v.into())
}

pub(super) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((field_name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Mostly the names frames use, so extra fields become duplicates and type confusion.
pub(super) fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "type", "request_id", "room_id", "text", "client_id", "after", "limit", "auth",
            "members", "future", "__proto__",
        ])
        .prop_map(String::from),
        1 => "[a-z_]{1,12}",
    ]
}

/// Lengths around every limit (64-character client ids, titles, topics, message text), and
/// up to past the frame limit.
pub(super) fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        7 => prop::sample::select(vec![
            1usize, 63, 64, 65, 99, 100, 101, 499, 500, 501, 1000, 3999, 4000, 4001, 8000,
        ]),
        1 => 1000usize..16_000,
        // Past the frame limit for most characters: 1009 closes, kept to a few batches in 20.
        1 => 16_000usize..70_000,
    ]
}

pub(super) fn text() -> BoxedStrategy<Val> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ]{0,24}".prop_map(json),
        2 => ".{0,40}".prop_map(json),
        1 => prop::sample::select(vec!["", " ", "  \n\t ", "\u{200B}", "\u{FEFF}", "\u{0}"])
            .prop_map(json),
        1 => (prop::sample::select(vec!['x', 'é', '😀', '\0', '"', '\n']), length())
            .prop_map(|(c, n)| Val::Repeat(c, n)),
    ]
    .boxed()
}

pub(super) const NAMES: &[&str] = &[
    "alice", "bob", "Bob", "ALICE", "carol", "ghost", "bob ", " bob", "böb", "",
];

pub(super) fn username() -> BoxedStrategy<Val> {
    prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(json),
        1 => text(),
    ]
    .boxed()
}

pub(super) fn room() -> BoxedStrategy<Val> {
    prop_oneof![
        6 => Just(RoomPick::Shared),
        1 => Just(RoomPick::Lobby),
        1 => Just(RoomPick::Secret),
        1 => Just(RoomPick::Direct),
        2 => (-2i64..64).prop_map(RoomPick::Id),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1]).prop_map(RoomPick::Id),
    ]
    .prop_map(Val::Room)
    .boxed()
}

pub(super) fn seq() -> BoxedStrategy<Val> {
    prop_oneof![
        4 => (-2i64..64).prop_map(json),
        1 => (64i64..100_000).prop_map(json),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX]).prop_map(json),
    ]
    .boxed()
}

/// A value of the wrong type, or of the right type but out of every range.
pub(super) fn wrong() -> BoxedStrategy<Val> {
    prop_oneof![
        3 => json_value().prop_map(Val::Json),
        2 => prop::sample::select(vec![
            Value::from(i64::MIN),
            Value::from(i64::MAX),
            Value::from(u64::MAX),
            Value::from(-1),
            Value::from(0),
            Value::from(1.5),
            Value::from(-0.0),
            Value::from(f64::MAX),
            Value::from(u64::from(u32::MAX) + 1),
        ])
        .prop_map(Val::Json),
        2 => prop::sample::select(RAW_NUMBERS).prop_map(Val::Raw),
        1 => (1usize..300).prop_map(Val::Nested),
        1 => (300usize..20_000).prop_map(Val::Nested),
    ]
    .boxed()
}

type Field = BoxedStrategy<Option<(String, Val)>>;

pub(super) fn field(name: &'static str, good: BoxedStrategy<Val>, optional: bool) -> Field {
    let missing = if optional { 40 } else { 3 };
    prop_oneof![
        missing => Just(None),
        90 => good.prop_map(move |v| Some((name.to_string(), v))),
        7 => wrong().prop_map(move |v| Some((name.to_string(), v))),
    ]
    .boxed()
}

pub(super) fn auth() -> BoxedStrategy<Val> {
    prop_oneof![
        ".{0,40}".prop_map(|token| json(serde_json::json!({"method": "token", "token": token}))),
        (
            prop::sample::select(vec!["password", "register", "oauth", ""]),
            prop::sample::select(NAMES),
            ".{0,30}"
        )
            .prop_map(|(method, username, password)| {
                let auth = serde_json::json!({
                    "method": method, "username": username, "password": password
                });
                json(auth)
            }),
    ]
    .boxed()
}

pub(super) fn fields(kind: &str) -> Vec<Field> {
    let one_of = |names: Vec<&'static str>| {
        prop_oneof![
            4 => prop::sample::select(names).prop_map(json),
            1 => text(),
        ]
        .boxed()
    };
    if kind == "hello" {
        return vec![
            field(
                "protocol",
                prop_oneof![4 => Just(1u32), 1 => any::<u32>()]
                    .prop_map(json)
                    .boxed(),
                false,
            ),
            field("auth", auth(), false),
            field("client", text(), true),
        ];
    }
    let request_id = prop_oneof![any::<u64>(), 0u64..1000].prop_map(json).boxed();
    let mut out = vec![field("request_id", request_id, false)];
    match kind {
        "send_message" => {
            out.push(field("room_id", room(), false));
            out.push(field("client_id", text(), false));
            out.push(field("text", text(), false));
            out.push(field("reply_to", seq(), true));
            out.push(field("action", any::<bool>().prop_map(json).boxed(), true));
        }
        "edit_message" => {
            out.push(field("room_id", room(), false));
            out.push(field("message_id", seq(), false));
            out.push(field("text", text(), false));
        }
        "delete_message" => {
            out.push(field("room_id", room(), false));
            out.push(field("message_id", seq(), false));
        }
        "add_reaction" | "remove_reaction" => {
            out.push(field("room_id", room(), false));
            out.push(field("message_id", seq(), false));
            let emoji = prop_oneof![
                3 => prop::sample::select(vec!["👍", "🎉", "+1", "👨‍👩‍👧", "🇫🇷"]).prop_map(json),
                1 => text(),
            ];
            out.push(field("emoji", emoji.boxed(), false));
        }
        "get_thread" => {
            out.push(field("room_id", room(), false));
            out.push(field("message_id", seq(), false));
            out.push(field("after", seq(), true));
            let limit = prop_oneof![0u32..=101, Just(u32::MAX)];
            out.push(field("limit", limit.prop_map(json).boxed(), true));
        }
        "list_mentions" => {
            out.push(field("before", seq(), true));
            let limit = prop_oneof![0u32..=101, Just(u32::MAX)];
            out.push(field("limit", limit.prop_map(json).boxed(), true));
        }
        "get_history" => {
            out.push(field("room_id", room(), false));
            out.push(field("before", seq(), true));
            out.push(field("after", seq(), true));
            let limit = prop_oneof![0u32..=101, Just(u32::MAX), any::<u32>()];
            out.push(field("limit", limit.prop_map(json).boxed(), true));
        }
        "create_room" => {
            let kinds = vec!["group", "channel", "announcement", "direct", "Group", "dm"];
            out.push(field("kind", one_of(kinds), false));
            out.push(field("title", text(), false));
            out.push(field("topic", text(), true));
            let members = prop_oneof![
                4 => proptest::collection::vec(prop::sample::select(NAMES), 0..4)
                    .prop_map(json),
                1 => (1usize..2000).prop_map(|n| json(vec!["bob"; n])),
            ];
            out.push(field("members", members.boxed(), true));
        }
        "open_direct" => out.push(field("username", username(), false)),
        "join_room" | "leave_room" | "list_members" | "archive_room" | "unarchive_room" => {
            out.push(field("room_id", room(), false));
        }
        "add_member" | "remove_member" | "transfer_ownership" => {
            out.push(field("room_id", room(), false));
            out.push(field("username", username(), false));
        }
        "set_role" => {
            out.push(field("room_id", room(), false));
            out.push(field("username", username(), false));
            let roles = vec!["member", "admin", "owner", "Owner", "root"];
            out.push(field("role", one_of(roles), false));
        }
        "rename_room" => {
            out.push(field("room_id", room(), false));
            out.push(field("title", text(), false));
        }
        "set_topic" => {
            out.push(field("room_id", room(), false));
            out.push(field("topic", text(), false));
        }
        "set_receipt" => {
            out.push(field("room_id", room(), false));
            out.push(field("delivered_seq", seq(), true));
            out.push(field("read_seq", seq(), true));
        }
        "set_typing" => {
            out.push(field("room_id", room(), false));
            out.push(field("typing", any::<bool>().prop_map(json).boxed(), false));
        }
        "set_away" => out.push(field("message", text(), true)),
        "search" => {
            let queries = vec![
                "hello",
                "brown -fox",
                "\"a phrase\"",
                "pre*",
                "東京",
                "in:#general x",
                "from:bob x",
                "x before:2026-11-22",
                "-only",
                "\"open",
                "OR NEAR(",
            ];
            out.push(field("query", one_of(queries), false));
            out.push(field("room_id", room(), true));
            out.push(field("from", username(), true));
            out.push(field("before", seq(), true));
            out.push(field("after", seq(), true));
            let limit = prop_oneof![0u32..=101, Just(u32::MAX)];
            out.push(field("limit", limit.prop_map(json).boxed(), true));
            let offset = prop_oneof![0u32..50, Just(1_001u32), Just(u32::MAX)];
            out.push(field("offset", offset.prop_map(json).boxed(), true));
        }
        "set_room_settings" => {
            out.push(field("room_id", room(), false));
            let levels = vec!["all", "mentions", "none", "None", "muted"];
            out.push(field("notify", one_of(levels), true));
            out.push(field("pinned", any::<bool>().prop_map(json).boxed(), true));
            let position = prop_oneof![0u32..5, Just(u32::MAX)];
            out.push(field("pin_position", position.prop_map(json).boxed(), true));
            out.push(field("hidden", any::<bool>().prop_map(json).boxed(), true));
            out.push(field("draft", text(), true));
        }
        _ => {}
    }
    out
}

pub(super) fn frame_type(kind: &'static str) -> BoxedStrategy<Option<Val>> {
    prop_oneof![
        60 => Just(Some(json(kind))),
        1 => Just(None),
        1 => "[a-z_]{0,14}".prop_map(|t| Some(json(t))),
        1 => prop::sample::select(vec!["Ping", "PING", "send-message", "sendMessage", " ping"])
            .prop_map(|t| Some(json(t))),
        1 => wrong().prop_map(Some),
    ]
    .boxed()
}

pub(super) fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    let edit = prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| ByteEdit::Flip(i, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        any::<Index>().prop_map(ByteEdit::Delete),
        any::<Index>().prop_map(ByteEdit::Truncate),
    ];
    prop_oneof![
        10 => Just(Vec::new()),
        1 => proptest::collection::vec(edit, 1..4),
    ]
}

pub(super) fn request() -> impl Strategy<Value = Item> {
    // Posting and reading history drive the timeline the invariants are about: more of them.
    let mut kinds = kinds();
    kinds.extend(["send_message", "send_message", "get_history"]);
    prop::sample::select(kinds)
        .prop_flat_map(|kind| {
            let extras = prop_oneof![
                6 => Just(Vec::new()),
                1 => proptest::collection::vec(
                    (field_name(), json_value().prop_map(Val::Json)),
                    1..3,
                ),
            ];
            (
                frame_type(kind),
                any::<bool>(),
                fields(kind),
                extras,
                byte_edits(),
            )
        })
        .prop_map(|(ty, type_last, fields, extras, edits)| {
            let mut fields: Vec<(String, Val)> = fields.into_iter().flatten().collect();
            fields.extend(extras);
            Item::Request {
                ty,
                type_last,
                fields,
                edits,
            }
        })
}

pub(super) fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        600 => request(),
        40 => json_value().prop_map(Item::Json),
        40 => prop_oneof![
            ".{0,100}",
            r#"[{}\[\]":,0-9a-z_ .eE+\\-]{0,80}"#,
            prop::sample::select(vec!["", "null", "[]", "{}", r#"{"type":null}"#, r#""ping""#])
                .prop_map(String::from),
        ]
        .prop_map(Item::Text),
        4 => (any::<u64>(), prop::sample::select(vec![-2i64, -1, 0, 1, 2]))
            .prop_map(|(request_id, over)| Item::SizedPing { request_id, over }),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Item::Binary),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(|rest| {
            // 0xFF never occurs in UTF-8.
            let mut bytes = br#"{"type":"ping","request_id":1,"x":""#.to_vec();
            bytes.push(0xFF);
            bytes.extend(rest);
            Item::NotUtf8(bytes)
        }),
    ]
}

pub(super) fn batch() -> impl Strategy<Value = Vec<Item>> {
    proptest::collection::vec(item(), 1..24)
}

// ---------------------------------------------------------------------------------------------
// Rendering to frames.

#[derive(Debug, Clone, Copy)]
pub(super) struct Rooms {
    pub(super) shared: i64,
    pub(super) lobby: i64,
    pub(super) secret: i64,
    pub(super) direct: i64,
}

pub(super) enum Wire {
    Text(String),
    Binary(Vec<u8>),
    NotUtf8(Vec<u8>),
}

impl Wire {
    /// The close code this frame must end the connection with, if it is protocol abuse.
    pub(super) fn abuse(&self, max_frame_bytes: usize) -> Option<u16> {
        match self {
            Wire::Text(text) if text.len() > max_frame_bytes => Some(close_code::TOO_BIG),
            Wire::Text(_) => None,
            Wire::Binary(_) => Some(close_code::UNSUPPORTED_DATA),
            Wire::NotUtf8(_) => Some(close_code::INVALID_DATA),
        }
    }

    pub(super) fn message(&self) -> Message {
        match self {
            Wire::Text(text) => Message::text(text.clone()),
            Wire::Binary(bytes) => Message::binary(bytes.clone()),
            Wire::NotUtf8(bytes) => raw::text_frame_bytes(bytes),
        }
    }

    /// For failure reports: long frames cut short.
    pub(super) fn describe(&self) -> String {
        let shown = match self {
            Wire::Text(text) => format!("text {text:?}"),
            Wire::Binary(bytes) => format!("binary {bytes:?}"),
            Wire::NotUtf8(bytes) => format!("not UTF-8 {bytes:?}"),
        };
        let len = match self {
            Wire::Text(text) => text.len(),
            Wire::Binary(b) | Wire::NotUtf8(b) => b.len(),
        };
        if shown.len() > 400 {
            let cut: String = shown.chars().take(400).collect();
            format!("{cut}... ({len} bytes)")
        } else {
            shown
        }
    }
}

impl Val {
    pub(super) fn render(&self, rooms: &Rooms) -> String {
        match self {
            Val::Json(v) => v.to_string(),
            Val::Raw(raw) => raw.to_string(),
            Val::Room(pick) => match pick {
                RoomPick::Shared => rooms.shared,
                RoomPick::Lobby => rooms.lobby,
                RoomPick::Secret => rooms.secret,
                RoomPick::Direct => rooms.direct,
                RoomPick::Id(id) => *id,
            }
            .to_string(),
            Val::Repeat(c, n) => Value::from(c.to_string().repeat(*n)).to_string(),
            Val::Nested(depth) => format!("{}1{}", "[".repeat(*depth), "]".repeat(*depth)),
        }
    }
}

impl Item {
    pub(super) fn render(&self, rooms: &Rooms, max_frame_bytes: usize) -> Wire {
        match self {
            Item::Request {
                ty,
                type_last,
                fields,
                edits,
            } => {
                let mut parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.render(rooms)))
                    .collect();
                if let Some(ty) = ty {
                    let part = format!(r#""type":{}"#, ty.render(rooms));
                    if *type_last {
                        parts.push(part);
                    } else {
                        parts.insert(0, part);
                    }
                }
                let mut bytes = format!("{{{}}}", parts.join(",")).into_bytes();
                for edit in edits {
                    let len = bytes.len();
                    match edit {
                        ByteEdit::Flip(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
                        ByteEdit::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
                        ByteEdit::Delete(i) if len > 0 => {
                            bytes.remove(i.index(len));
                        }
                        ByteEdit::Truncate(i) => bytes.truncate(i.index(len + 1)),
                        _ => {}
                    }
                }
                // Edits that break UTF-8 are repaired: NotUtf8 covers that case on its own.
                Wire::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
            Item::Json(value) => Wire::Text(value.to_string()),
            Item::Text(text) => Wire::Text(text.clone()),
            Item::SizedPing { request_id, over } => {
                let base = format!(r#"{{"type":"ping","request_id":{request_id},"pad":""}}"#);
                let target = (max_frame_bytes as i64 + over) as usize;
                let pad = "p".repeat(target.saturating_sub(base.len()));
                Wire::Text(format!(
                    r#"{{"type":"ping","request_id":{request_id},"pad":"{pad}"}}"#
                ))
            }
            Item::Binary(bytes) => Wire::Binary(bytes.clone()),
            Item::NotUtf8(bytes) => Wire::NotUtf8(bytes.clone()),
        }
    }
}
