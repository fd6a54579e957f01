//! Reads about messages beyond the timeline: threads, mentions, the caller's own reactions.
//! Like history, they serve stored event JSON as it is, never decoded.

use super::queries::member_room;
use super::StoreError;
use chat_protocol::{ErrorCode, MessageId, OwnReaction, RoomId, Seq, UserId};
use rusqlite::{params, Connection, OptionalExtension};

/// The caller's reactions to the messages of one room between two seqs (a history page).
pub fn own_reactions_in(
    conn: &Connection,
    caller: UserId,
    room_id: RoomId,
    first: Seq,
    last: Seq,
) -> Result<Vec<OwnReaction>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, emoji FROM reactions
         WHERE user_id = ?1 AND room_id = ?2 AND message_seq BETWEEN ?3 AND ?4
         ORDER BY message_seq, at",
    )?;
    let rows = stmt.query_map(params![caller, room_id, first, last], |r| {
        Ok(OwnReaction {
            message_id: r.get(0)?,
            emoji: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The caller's reactions to some messages.
fn own_reactions_to(
    conn: &Connection,
    caller: UserId,
    message_ids: &[MessageId],
) -> Result<Vec<OwnReaction>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, emoji FROM reactions WHERE message_id = ?1 AND user_id = ?2 ORDER BY at",
    )?;
    let mut out = Vec::new();
    for id in message_ids {
        let rows = stmt.query_map(params![id, caller], |r| {
            Ok(OwnReaction {
                message_id: r.get(0)?,
                emoji: r.get(1)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

/// A page of a thread: the parent's stored JSON, its replies' (ascending), whether more
/// follow, and the caller's reactions to all of them.
#[derive(Debug, Default)]
pub struct ThreadPage {
    pub parent: String,
    pub replies: Vec<String>,
    pub more: bool,
    pub reacted: Vec<OwnReaction>,
}

pub fn thread(
    conn: &Connection,
    caller: UserId,
    room_id: RoomId,
    message_id: MessageId,
    after: Seq,
    limit: u32,
) -> Result<ThreadPage, StoreError> {
    member_room(conn, room_id, caller)?;
    let parent: Option<String> = conn
        .prepare_cached(
            "SELECT e.json FROM messages m JOIN events e ON e.room_id = m.room_id AND e.seq = m.seq
             WHERE m.id = ?1 AND m.room_id = ?2",
        )?
        .query_row([message_id, room_id], |r| r.get(0))
        .optional()?;
    let parent = parent.ok_or_else(|| {
        StoreError::refused(
            ErrorCode::NotFound,
            format!("no message with id {message_id} in room {room_id}"),
        )
    })?;
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, e.json FROM messages m JOIN events e ON e.room_id = m.room_id AND e.seq = m.seq
         WHERE m.reply_to = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3",
    )?;
    let mut rows: Vec<(MessageId, String)> = stmt
        .query_map(params![message_id, after, i64::from(limit) + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut ids = vec![message_id];
    ids.extend(rows.iter().map(|(id, _)| *id));
    Ok(ThreadPage {
        parent,
        replies: rows.into_iter().map(|(_, json)| json).collect(),
        more,
        reacted: own_reactions_to(conn, caller, &ids)?,
    })
}

/// Messages that mention the caller (by name, or everyone) in rooms they are in, sent while
/// they were a member, newest first, with message ids below `before`; and whether more remain.
pub fn mentions(
    conn: &Connection,
    caller: UserId,
    before: MessageId,
    limit: u32,
) -> Result<(Vec<String>, bool), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.json FROM mentions n
         JOIN members me ON me.room_id = n.room_id AND me.user_id = ?1 AND n.seq > me.joined_seq
         JOIN events e ON e.room_id = n.room_id AND e.seq = n.seq
         WHERE n.user_id IN (?1, 0) AND n.sender_id <> ?1 AND n.message_id < ?2
         GROUP BY n.message_id
         ORDER BY n.message_id DESC LIMIT ?3",
    )?;
    let mut rows: Vec<String> = stmt
        .query_map(params![caller, before, i64::from(limit) + 1], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
