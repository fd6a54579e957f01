//! Read queries. Each takes a plain connection, so write jobs can use them inside their
//! transaction and sessions through the read pool.

use super::StoreError;
use chat_protocol::{
    ChannelInfo, ErrorCode, NotifyLevel, Role, RoomId, RoomKind, RoomSettings, RoomSummary, Seq,
    UserId, UserRef,
};
use rusqlite::{params, Connection, OptionalExtension};

/// A room's own row.
#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: RoomId,
    pub kind: RoomKind,
    pub title: String,
    pub topic: String,
    pub last_seq: Seq,
    /// Archived by an owner or admin: read-only for everyone.
    pub archived: bool,
}

fn kind_from_sql(s: String) -> rusqlite::Result<RoomKind> {
    RoomKind::parse(&s)
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(0, s, rusqlite::types::Type::Text))
}

fn role_from_sql(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s)
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(0, s, rusqlite::types::Type::Text))
}

/// SQL for a room's last seq: its highest stored event (one descent of the events_by_room
/// index), in a query that names the room `r`. A macro so queries can `concat!` it into
/// string literals, the one definition for every query that needs it.
macro_rules! last_seq_of_r {
    () => {
        "(SELECT coalesce(max(e.seq), 0) FROM events e WHERE e.room_id = r.id)"
    };
}
pub(crate) use last_seq_of_r;

pub fn room(conn: &Connection, room_id: RoomId) -> Result<Option<RoomRow>, StoreError> {
    // Runs for every send (the posting check): a literal, not a string built per call.
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT r.id, r.kind, r.title, r.topic, ",
        last_seq_of_r!(),
        ", r.archived_at IS NOT NULL FROM rooms r WHERE r.id = ?1"
    ))?;
    Ok(stmt
        .query_row([room_id], |r| {
            Ok(RoomRow {
                id: r.get(0)?,
                kind: kind_from_sql(r.get(1)?)?,
                title: r.get(2)?,
                topic: r.get(3)?,
                last_seq: r.get(4)?,
                archived: r.get(5)?,
            })
        })
        .optional()?)
}

pub fn role_of(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<Option<Role>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT role FROM members WHERE room_id = ?1 AND user_id = ?2")?;
    let role: Option<String> = stmt
        .query_row([room_id, user_id], |r| r.get(0))
        .optional()?;
    Ok(role.map(role_from_sql).transpose()?)
}

/// The room and the caller's role, if the caller is a member. Private rooms the caller is not
/// in are reported as missing, so their existence does not leak.
pub fn member_room(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<(RoomRow, Role), StoreError> {
    let not_found =
        || StoreError::refused(ErrorCode::NotFound, format!("no room with id {room_id}"));
    let room = room(conn, room_id)?.ok_or_else(not_found)?;
    match role_of(conn, room_id, user_id)? {
        Some(role) => Ok((room, role)),
        None if room.kind.is_public() => Err(StoreError::refused(
            ErrorCode::Forbidden,
            format!("you are not a member of \"{}\"; join it first", room.title),
        )),
        None => Err(not_found()),
    }
}

pub fn user_by_name(conn: &Connection, username: &str) -> Result<Option<UserRef>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, username FROM users WHERE username = ?1")?;
    Ok(stmt
        .query_row([username], |r| {
            Ok(UserRef {
                id: r.get(0)?,
                username: r.get(1)?,
            })
        })
        .optional()?)
}

pub fn user_by_name_or_refuse(conn: &Connection, username: &str) -> Result<UserRef, StoreError> {
    user_by_name(conn, username)?.ok_or_else(|| {
        StoreError::refused(ErrorCode::NotFound, format!("no user named \"{username}\""))
    })
}

/// A user and their password hash (None for token-only accounts), for a password login.
pub fn login_record(
    conn: &Connection,
    username: &str,
) -> Result<Option<(UserRef, Option<String>)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, username, password_hash FROM users WHERE username = ?1")?;
    Ok(stmt
        .query_row([username], |r| {
            Ok((
                UserRef {
                    id: r.get(0)?,
                    username: r.get(1)?,
                },
                r.get(2)?,
            ))
        })
        .optional()?)
}

/// The user and token id of a live (unrevoked) token, by the token's hash.
/// Offline contacts for the welcome: each user's name and when they were last seen.
pub fn offline_presence(
    conn: &Connection,
    user_ids: &[UserId],
) -> Result<Vec<chat_protocol::PresenceInfo>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for all of them (a reconnect storm runs this for every client), the ids
    // passed as a JSON array.
    let ids = serde_json::to_string(user_ids)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, last_seen FROM users
         WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok(chat_protocol::PresenceInfo {
            user: UserRef {
                id: r.get(0)?,
                username: r.get(1)?,
            },
            online: false,
            last_seen: r.get(2)?,
            away: None,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether the token is still valid (not revoked).
pub fn token_is_live(conn: &Connection, token_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tokens WHERE id = ?1 AND revoked_at IS NULL")?
        .query_row([token_id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn token_owner(
    conn: &Connection,
    token_hash: &[u8],
) -> Result<Option<(UserRef, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username, t.id FROM tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL",
    )?;
    Ok(stmt
        .query_row([token_hash], |r| {
            Ok((
                UserRef {
                    id: r.get(0)?,
                    username: r.get(1)?,
                },
                r.get(2)?,
            ))
        })
        .optional()?)
}

const SUMMARY_SELECT: &str = concat!(
    "SELECT r.id, r.kind, r.title, r.topic, m.role, r.archived_at IS NOT NULL, ",
    last_seq_of_r!(),
    ", m.read_seq,
           (SELECT count(*) FROM members c WHERE c.room_id = r.id),
           (SELECT count(*) FROM events g
             WHERE g.room_id = r.id AND g.seq > m.read_seq AND g.kind = 'message'
               AND g.sender_id <> m.user_id)
           , (SELECT count(DISTINCT n.seq) FROM mentions n
             WHERE n.room_id = r.id AND n.seq > m.read_seq AND n.sender_id <> m.user_id
               AND n.user_id IN (m.user_id, CASE m.notify WHEN 'none' THEN m.user_id ELSE 0 END))
           , m.notify, m.pin_position, m.hidden
           , (SELECT d.text FROM drafts d WHERE d.user_id = m.user_id AND d.room_id = r.id)
    FROM members m JOIN rooms r ON r.id = m.room_id"
);

fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoomSummary> {
    Ok(RoomSummary {
        id: r.get(0)?,
        kind: kind_from_sql(r.get(1)?)?,
        title: r.get(2)?,
        topic: r.get(3)?,
        role: role_from_sql(r.get(4)?)?,
        archived: r.get(5)?,
        last_seq: r.get(6)?,
        read_seq: r.get(7)?,
        member_count: r.get(8)?,
        unread: r.get(9)?,
        mentions: r.get(10)?,
        peer: None,
        settings: RoomSettings {
            notify: notify_from_sql(r.get(11)?)?,
            pinned: r.get(12)?,
            hidden: r.get(13)?,
            draft: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
        },
    })
}

pub fn notify_from_sql(s: String) -> rusqlite::Result<NotifyLevel> {
    NotifyLevel::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown notify level {s}").into(),
        )
    })
}

/// Direct rooms are titled after the other person, whoever looks at them.
fn fill_direct_peer(
    conn: &Connection,
    summary: &mut RoomSummary,
    user_id: UserId,
) -> Result<(), StoreError> {
    if summary.kind != RoomKind::Direct {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 AND m.user_id <> ?2",
    )?;
    let peer = stmt
        .query_row([summary.id, user_id], |r| {
            Ok(UserRef {
                id: r.get(0)?,
                username: r.get(1)?,
            })
        })
        .optional()?;
    if let Some(peer) = peer {
        summary.title = peer.username.clone();
        summary.peer = Some(peer);
    }
    Ok(())
}

/// Every room of a user, with unread counts, oldest room first.
/// Rooms read at most at once for a page of summaries.
const SUMMARY_PAGE_ROOMS: u32 = 200;
/// About how many bytes of room summaries one frame carries (a welcome, a `welcome_rooms`
/// page, a `rooms` answer).
pub const ROOM_PAGE_BYTES: usize = 128 * 1024;

/// The caller's rooms with ids above `after`, by id, as many as fit in about `max_bytes` of
/// JSON (at least one), and whether more follow. The welcome and `list_rooms` are sent in
/// such pages, so neither grows with the number of rooms (or the size of their drafts).
pub fn room_summaries_page(
    conn: &Connection,
    user_id: UserId,
    after: RoomId,
    max_bytes: usize,
) -> Result<(Vec<RoomSummary>, bool), StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SUMMARY_SELECT} WHERE m.user_id = ?1 AND m.room_id > ?2 ORDER BY m.room_id LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![user_id, after, SUMMARY_PAGE_ROOMS + 1])?;
    let mut rooms = Vec::new();
    let mut bytes = 0;
    while let Some(row) = rows.next()? {
        if rooms.len() == SUMMARY_PAGE_ROOMS as usize {
            return Ok((rooms, true));
        }
        let mut room = summary_from_row(row)?;
        fill_direct_peer(conn, &mut room, user_id)?;
        // Its share of the frame, with the comma between rooms.
        bytes += serde_json::to_vec(&room).map_or(0, |json| json.len()) + 1;
        if bytes > max_bytes && !rooms.is_empty() {
            return Ok((rooms, true));
        }
        rooms.push(room);
    }
    Ok((rooms, false))
}

pub fn room_summary(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<Option<RoomSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SUMMARY_SELECT} WHERE m.user_id = ?1 AND m.room_id = ?2"
    ))?;
    let summary = stmt
        .query_row([user_id, room_id], summary_from_row)
        .optional()?;
    match summary {
        Some(mut s) => {
            fill_direct_peer(conn, &mut s, user_id)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

/// Unread messages of a member: messages from others after their read receipt. Counted on
/// the events_by_room index alone (it carries sender and kind), never reading the rows.
pub fn unread_count(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
    read_seq: Seq,
) -> Result<u32, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*) FROM events
         WHERE room_id = ?1 AND seq > ?2 AND kind = 'message' AND sender_id <> ?3",
    )?;
    Ok(stmt.query_row(params![room_id, read_seq, user_id], |r| r.get(0))?)
}

/// Unread messages of a member that mention them: by name, or as everyone unless they muted
/// the room.
pub fn unread_mentions(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
    read_seq: Seq,
) -> Result<u32, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(DISTINCT seq) FROM mentions
         WHERE room_id = ?1 AND seq > ?2 AND sender_id <> ?3
           AND user_id IN (?3, (SELECT CASE notify WHEN 'none' THEN ?3 ELSE 0 END
                                FROM members WHERE room_id = ?1 AND user_id = ?3))",
    )?;
    Ok(stmt.query_row(params![room_id, read_seq, user_id], |r| r.get(0))?)
}

/// The public room directory, busiest first.
pub fn channels(conn: &Connection, user_id: UserId) -> Result<Vec<ChannelInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.kind, r.title, r.topic,
                (SELECT count(*) FROM members c WHERE c.room_id = r.id) AS n,
                EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?1),
                r.archived_at IS NOT NULL
         FROM rooms r WHERE r.kind IN ('channel', 'announcement')
         ORDER BY n DESC, r.id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ChannelInfo {
            id: r.get(0)?,
            kind: kind_from_sql(r.get(1)?)?,
            title: r.get(2)?,
            topic: r.get(3)?,
            member_count: r.get(4)?,
            joined: r.get(5)?,
            archived: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A member row: who, role, receipts.
pub type MemberRow = (UserRef, Role, Seq, Seq);

/// Members of a room the caller belongs to.
pub fn members(
    conn: &Connection,
    room_id: RoomId,
    caller: UserId,
) -> Result<Vec<MemberRow>, StoreError> {
    member_room(conn, room_id, caller)?;
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username, m.role, m.delivered_seq, m.read_seq
         FROM members m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?1 ORDER BY u.username",
    )?;
    let rows = stmt.query_map([room_id], |r| {
        Ok((
            UserRef {
                id: r.get(0)?,
                username: r.get(1)?,
            },
            role_from_sql(r.get(2)?)?,
            r.get(3)?,
            r.get(4)?,
        ))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Where a history page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Events with seq greater than this, oldest first.
    After(Seq),
    /// The newest events with seq less than this.
    Before(Seq),
}

/// A page of stored events: their JSON in ascending seq order, whether more remain beyond it,
/// and the caller's own reactions to its messages.
#[derive(Debug, Default)]
pub struct HistoryPage {
    pub events: Vec<String>,
    pub more: bool,
    pub reacted: Vec<chat_protocol::OwnReaction>,
}

/// How aggregated reactions appear in a stored message's JSON.
const REACTIONS_KEY: &str = "\"reactions\":[";

pub fn history(
    conn: &Connection,
    caller: UserId,
    room_id: RoomId,
    page: Page,
    limit: u32,
) -> Result<HistoryPage, StoreError> {
    member_room(conn, room_id, caller)?;
    let fetch = i64::from(limit) + 1;
    let mut rows: Vec<(Seq, String)> = match page {
        Page::After(after) => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, json FROM events WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![room_id, after, fetch], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
        Page::Before(before) => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, json FROM events WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![room_id, before, fetch], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if let Page::Before(_) = page {
        rows.reverse();
    }
    // Only a message someone reacted to carries `reactions` in its stored JSON: a page
    // without any (most pages) needs no look-up of the caller's own.
    let any_reactions = rows.iter().any(|(_, json)| json.contains(REACTIONS_KEY));
    let reacted = match (rows.first(), rows.last()) {
        (Some((first, _)), Some((last, _))) if any_reactions => {
            super::threads::own_reactions_in(conn, caller, room_id, *first, *last)?
        }
        _ => Vec::new(),
    };
    Ok(HistoryPage {
        events: rows.into_iter().map(|(_, json)| json).collect(),
        more,
        reacted,
    })
}

/// Refuse changes to an archived room.
pub fn check_not_archived(room: &RoomRow) -> Result<(), StoreError> {
    if room.archived {
        return Err(StoreError::refused(
            ErrorCode::Forbidden,
            format!("\"{}\" is archived: it is read-only", room.title),
        ));
    }
    Ok(())
}

/// The room and the caller's role, if the caller may change things in it: a member, and the
/// room not archived (editing, reacting).
pub fn check_can_write(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<(RoomRow, Role), StoreError> {
    let (room, role) = member_room(conn, room_id, user_id)?;
    check_not_archived(&room)?;
    Ok((room, role))
}

/// Whether the caller may post (or show a typing indicator) in the room: members of a room
/// that is not archived, and in announcement rooms only those who may post.
pub fn check_can_post(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<RoomRow, StoreError> {
    let (room, role) = check_can_write(conn, room_id, user_id)?;
    if room.kind == RoomKind::Announcement && !role.can_manage() {
        return Err(StoreError::refused(
            ErrorCode::Forbidden,
            "only the owner and admins can post in an announcement room",
        ));
    }
    Ok(room)
}

/// Token revocations logged after `after`: (log seq, token id).
pub fn revocations_after(conn: &Connection, after: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, token_id FROM revocations WHERE seq > ?1 ORDER BY seq")?;
    let rows = stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest revocation log seq (0 if none): where polling starts.
pub fn last_revocation(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT coalesce(max(seq), 0) FROM revocations", [], |r| {
            r.get(0)
        })?,
    )
}

/// Every (room, member) pair, to build the in-memory routing table at start-up.
pub fn all_memberships(conn: &Connection) -> Result<Vec<(RoomId, UserId)>, StoreError> {
    let mut stmt = conn.prepare("SELECT room_id, user_id FROM members")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
