//! Write jobs on messages: sending (with replies and mentions), editing, deleting, reacting.
//!
//! Each change is a room event with the room's next seq. It also rewrites, once, the stored
//! events it makes stale, so history keeps serving stored bytes that show the current state:
//! the message itself (text and `edited_at`, tombstone, reactions, thread), the earlier edit
//! events of the message (which carry its text), and the quotes of its replies. Earlier texts
//! go to `message_history` for the audit subcommand and are never served.

use super::ops::{next_seq, publish_to_user, refuse, store_event};
use super::queries::{self, member_room};
use super::{StoreError, WriteCtx};
use chat_protocol::text::{mentioned_names, mentions_everyone, quote_excerpt};
use chat_protocol::{
    ChatMessage, ErrorCode, EventContent, MessageDeleted, MessageEdited, MessageId, Millis,
    ReactionChange, ReplyQuote, RoomEvent, RoomId, RoomKind, Seq, ServerFrame, Unread, UserId,
    UserRef,
};
use rusqlite::{params, Connection, OptionalExtension};

/// What a successful send returns, and what a retry with the same client id returns again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAck {
    pub room_id: RoomId,
    pub client_id: String,
    pub message_id: MessageId,
    pub seq: Seq,
    pub ts: Millis,
}

/// A message to post.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub client_id: String,
    pub text: String,
    pub reply_to: Option<MessageId>,
    pub action: bool,
    /// Ids of the sender's uploads.
    pub attachments: Vec<chat_protocol::FileId>,
}

/// Most distinct names one message can mention; the rest are not marked.
const MAX_MENTIONS: usize = 50;
/// `@room` marks everyone at most once a minute per room; more often, the text still goes
/// out but nobody is marked again.
const ROOM_MENTION_INTERVAL_MS: Millis = 60_000;
/// Most edits of one message: each edit rewrites the earlier edit events (they carry the
/// current text), so this bounds the work one message can cost the writer.
pub const MAX_EDITS_PER_MESSAGE: usize = 50;
/// Most distinct reactions on one message.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 50;
/// How many of the users who reacted with an emoji a message lists.
const REACTION_USERS_SHOWN: usize = 3;

/// A message's own row.
struct MessageRow {
    room_id: RoomId,
    seq: Seq,
    sender_id: UserId,
    deleted: bool,
}

fn message_row(conn: &Connection, message_id: MessageId) -> Result<Option<MessageRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT room_id, seq, sender_id, deleted_at IS NOT NULL FROM messages WHERE id = ?1",
    )?;
    Ok(stmt
        .query_row([message_id], |r| {
            Ok(MessageRow {
                room_id: r.get(0)?,
                seq: r.get(1)?,
                sender_id: r.get(2)?,
                deleted: r.get(3)?,
            })
        })
        .optional()?)
}

/// The message `message_id` of `room_id`, which the caller must be able to see.
fn message_in_room(
    conn: &Connection,
    room_id: RoomId,
    message_id: MessageId,
) -> Result<MessageRow, StoreError> {
    message_row(conn, message_id)?
        .filter(|m| m.room_id == room_id)
        .ok_or_else(|| {
            refuse(
                ErrorCode::NotFound,
                format!("no message with id {message_id} in room {room_id}"),
            )
        })
}

/// A stored event, decoded (for rewriting; never on the history path).
fn stored_event(conn: &Connection, room_id: RoomId, seq: Seq) -> Result<RoomEvent, StoreError> {
    let json: String = conn
        .prepare_cached("SELECT json FROM events WHERE room_id = ?1 AND seq = ?2")?
        .query_row([room_id, seq], |r| r.get(0))?;
    Ok(serde_json::from_str(&json)?)
}

/// Rewrite one stored event in place: history serves the new bytes from now on.
fn rewrite_event(
    conn: &Connection,
    room_id: RoomId,
    seq: Seq,
    change: impl FnOnce(&mut EventContent),
) -> Result<(), StoreError> {
    let mut event = stored_event(conn, room_id, seq)?;
    change(&mut event.content);
    let json = serde_json::to_string(&event)?;
    conn.prepare_cached("UPDATE events SET json = ?3 WHERE room_id = ?1 AND seq = ?2")?
        .execute(params![room_id, seq, json])?;
    Ok(())
}

/// The message of `row` as stored now.
fn stored_message(conn: &Connection, row: &MessageRow) -> Result<ChatMessage, StoreError> {
    match stored_event(conn, row.room_id, row.seq)?.content {
        EventContent::Message(m) => Ok(m),
        _ => Err(refuse(
            ErrorCode::Internal,
            "the message's event is not a message",
        )),
    }
}

/// Store the change event `content` (seq `seq`, by `sender`) and apply it to the stored
/// message of `row` it changes, the way clients apply it ([`ChatMessage::apply`]): one
/// definition of what an edit, delete, reaction or reply does to a message.
fn store_change(
    ctx: &mut WriteCtx<'_>,
    row: &MessageRow,
    seq: Seq,
    sender: &UserRef,
    content: EventContent,
) -> Result<(), StoreError> {
    let event = RoomEvent {
        room_id: row.room_id,
        seq,
        ts: ctx.now,
        sender: sender.clone(),
        content,
    };
    rewrite_event(ctx.conn, row.room_id, row.seq, |stored| {
        if let EventContent::Message(m) = stored {
            m.apply(row.seq, &event);
        }
    })?;
    store_event(ctx, row.room_id, seq, sender, event.content, None, None)
}

/// The quote a reply to this message carries.
fn quote_of(event: &RoomEvent) -> Option<ReplyQuote> {
    let EventContent::Message(m) = &event.content else {
        return None;
    };
    Some(ReplyQuote {
        message_id: m.message_id,
        sender: event.sender.clone(),
        excerpt: if m.deleted {
            String::new()
        } else {
            quote_excerpt(&m.text, m.attachments.first().map(|a| a.name.as_str()))
        },
        deleted: m.deleted,
    })
}

/// Who `text` mentions in the room: named members (not the sender), and whether everyone is
/// (owners and admins only, at most once per [`ROOM_MENTION_INTERVAL_MS`]).
fn resolve_mentions(
    ctx: &WriteCtx<'_>,
    room_id: RoomId,
    sender: &UserRef,
    text: &str,
) -> Result<(Vec<UserId>, bool), StoreError> {
    let mut ids = Vec::new();
    let mut stmt = ctx.conn.prepare_cached(
        "SELECT u.id FROM users u JOIN members m ON m.user_id = u.id
         WHERE u.username = ?2 AND m.room_id = ?1",
    )?;
    for name in mentioned_names(text).into_iter().take(MAX_MENTIONS) {
        let id: Option<UserId> = stmt
            .query_row(params![room_id, name], |r| r.get(0))
            .optional()?;
        if let Some(id) = id.filter(|id| *id != sender.id) {
            ids.push(id);
        }
    }
    let mut everyone = false;
    if mentions_everyone(text) {
        let room = queries::room(ctx.conn, room_id)?;
        let role = queries::role_of(ctx.conn, room_id, sender.id)?;
        let may = room.is_some_and(|r| r.kind != RoomKind::Direct)
            && role.is_some_and(|r| r.can_manage());
        if may {
            let last: Option<Millis> = ctx
                .conn
                .prepare_cached("SELECT max(at) FROM mentions WHERE room_id = ?1 AND user_id = 0")?
                .query_row([room_id], |r| r.get(0))?;
            everyone = last.is_none_or(|at| ctx.now - at >= ROOM_MENTION_INTERVAL_MS);
        }
    }
    Ok((ids, everyone))
}

/// Replace the mention rows of a message (user 0 stands for everyone).
fn store_mentions(
    ctx: &WriteCtx<'_>,
    room_id: RoomId,
    seq: Seq,
    message_id: MessageId,
    sender_id: UserId,
    users: &[UserId],
    everyone: bool,
) -> Result<(), StoreError> {
    ctx.conn
        .prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
        .execute([message_id])?;
    let mut insert = ctx.conn.prepare_cached(
        "INSERT OR IGNORE INTO mentions (user_id, room_id, seq, message_id, sender_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let everyone_row = everyone.then_some(0);
    for user_id in users.iter().copied().chain(everyone_row) {
        insert.execute(params![
            user_id, room_id, seq, message_id, sender_id, ctx.now
        ])?;
    }
    Ok(())
}

/// Post a message, or return the original acknowledgement for a retried client id.
///
/// Runs without a savepoint ([`super::Writer::submit_checked_first`]): every refusal comes
/// before the first write.
pub fn send_message(
    ctx: &mut WriteCtx<'_>,
    sender: &UserRef,
    room_id: RoomId,
    message: NewMessage,
) -> Result<SendAck, StoreError> {
    let NewMessage {
        client_id,
        text,
        reply_to,
        action,
        attachments,
    } = message;
    let earlier = ctx
        .conn
        .prepare_cached(
            "SELECT id, room_id, seq, ts FROM messages WHERE sender_id = ?1 AND client_id = ?2",
        )?
        .query_row(params![sender.id, client_id], |r| {
            Ok((
                r.get::<_, MessageId>(0)?,
                r.get::<_, RoomId>(1)?,
                r.get::<_, Seq>(2)?,
                r.get::<_, Millis>(3)?,
            ))
        })
        .optional()?;
    if let Some((message_id, earlier_room, seq, ts)) = earlier {
        if earlier_room != room_id {
            return Err(refuse(
                ErrorCode::Conflict,
                format!("client id \"{client_id}\" was already used for a message in another room"),
            ));
        }
        return Ok(SendAck {
            room_id,
            client_id,
            message_id,
            seq,
            ts,
        });
    }
    queries::check_can_post(ctx.conn, room_id, sender.id)?;
    let parent = match reply_to {
        Some(parent_id) => {
            let row = message_in_room(ctx.conn, room_id, parent_id)?;
            let quote = quote_of(&stored_event(ctx.conn, room_id, row.seq)?);
            Some((row, quote))
        }
        None => None,
    };
    let (mentions, mentions_room) = resolve_mentions(ctx, room_id, sender, &text)?;
    let named = mentions.clone();
    let attachments = super::files::for_send(ctx.conn, sender.id, &attachments)?;
    // Every refusal is above this line.
    let seq = next_seq(ctx.conn, room_id)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO messages (room_id, seq, sender_id, client_id, ts, reply_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            room_id, seq, sender.id, client_id, ctx.now, reply_to
        ])?;
    let message_id = ctx.conn.last_insert_rowid();
    super::files::attach(ctx.conn, message_id, &attachments)?;
    if !mentions.is_empty() || mentions_room {
        store_mentions(
            ctx,
            room_id,
            seq,
            message_id,
            sender.id,
            &mentions,
            mentions_room,
        )?;
    }
    let content = EventContent::Message(ChatMessage {
        message_id,
        client_id: client_id.clone(),
        text,
        action,
        reply_to: parent.as_ref().and_then(|(_, quote)| quote.clone()),
        mentions,
        mentions_room,
        attachments,
        ..Default::default()
    });
    match parent {
        // A reply changes its parent: the thread grows.
        Some((parent, _)) => store_change(ctx, &parent, seq, sender, content)?,
        None => store_event(ctx, room_id, seq, sender, content, None, None)?,
    }
    super::settings::bring_back_hidden(ctx, room_id, &named)?;
    Ok(SendAck {
        room_id,
        client_id,
        message_id,
        seq,
        ts: ctx.now,
    })
}

/// Seqs of the edit events of a message, oldest first.
fn edit_event_seqs(conn: &Connection, message_id: MessageId) -> Result<Vec<Seq>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq FROM message_history WHERE message_id = ?1 AND action = 'edit' ORDER BY seq",
    )?;
    let rows = stmt.query_map([message_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Give every earlier edit event of a message the text and mentions it has now (none once
/// deleted), so no frame carries a replaced text or mentions it no longer makes.
fn rewrite_edit_events(
    conn: &Connection,
    room_id: RoomId,
    message_id: MessageId,
    text: &str,
    mentions: &[UserId],
    mentions_room: bool,
) -> Result<(), StoreError> {
    for seq in edit_event_seqs(conn, message_id)? {
        rewrite_event(conn, room_id, seq, |content| {
            if let EventContent::MessageEdited(e) = content {
                e.text = text.to_string();
                e.mentions = mentions.to_vec();
                e.mentions_room = mentions_room;
            }
        })?;
    }
    Ok(())
}

/// Update the quotes in the replies to a message after it changed. `old_excerpt`: what they
/// quote now, if the message is not deleted; when it equals the new excerpt (an edit past the
/// first line), no reply is touched.
fn rewrite_reply_quotes(
    conn: &Connection,
    parent: &MessageRow,
    parent_id: MessageId,
    old_excerpt: Option<&str>,
) -> Result<(), StoreError> {
    let quote = quote_of(&stored_event(conn, parent.room_id, parent.seq)?);
    let unchanged = quote
        .as_ref()
        .is_some_and(|q| !q.deleted && Some(q.excerpt.as_str()) == old_excerpt);
    if unchanged {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached("SELECT seq FROM messages WHERE reply_to = ?1")?;
    let seqs: Vec<Seq> = stmt
        .query_map([parent_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for seq in seqs {
        rewrite_event(conn, parent.room_id, seq, |content| {
            if let EventContent::Message(m) = content {
                m.reply_to = quote.clone();
            }
        })?;
    }
    Ok(())
}

/// Keep an earlier text for the audit subcommand.
fn keep_history(
    ctx: &WriteCtx<'_>,
    message_id: MessageId,
    row: &MessageRow,
    seq: Seq,
    action: &str,
    actor: &UserRef,
    old_text: &str,
) -> Result<(), StoreError> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO message_history (message_id, room_id, seq, action, actor_id, at, old_text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            message_id,
            row.room_id,
            seq,
            action,
            actor.id,
            ctx.now,
            old_text
        ])?;
    Ok(())
}

/// Tell users whose mention count in a room may have changed their new counts.
pub(super) fn push_unread(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    users: &[UserId],
) -> Result<(), StoreError> {
    for &user_id in users {
        let read_seq: Option<Seq> = ctx
            .conn
            .prepare_cached("SELECT read_seq FROM members WHERE room_id = ?1 AND user_id = ?2")?
            .query_row([room_id, user_id], |r| r.get(0))
            .optional()?;
        let Some(read_seq) = read_seq else { continue };
        let unread = queries::unread_count(ctx.conn, room_id, user_id, read_seq)?;
        let mentions = queries::unread_mentions(ctx.conn, room_id, user_id, read_seq)?;
        publish_to_user(
            ctx,
            user_id,
            &ServerFrame::Unread(Unread {
                room_id,
                read_seq,
                unread,
                mentions,
            }),
        );
    }
    Ok(())
}

/// Users a message mentions by name now.
fn mentioned_users(conn: &Connection, message_id: MessageId) -> Result<Vec<UserId>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id FROM mentions WHERE message_id = ?1 AND user_id <> 0")?;
    let rows = stmt.query_map([message_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replace the text of the caller's own message. The same text again changes nothing (a retry
/// after a lost answer); a deleted message cannot be edited.
pub fn edit_message(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    message_id: MessageId,
    text: String,
) -> Result<(), StoreError> {
    queries::check_can_write(ctx.conn, room_id, me.id)?;
    let row = message_in_room(ctx.conn, room_id, message_id)?;
    if row.sender_id != me.id {
        return Err(refuse(
            ErrorCode::Forbidden,
            "only its sender can edit a message",
        ));
    }
    if row.deleted {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("message {message_id} was deleted; it cannot be edited"),
        ));
    }
    let old = stored_message(ctx.conn, &row)?;
    if old.text == text {
        return Ok(());
    }
    if edit_event_seqs(ctx.conn, message_id)?.len() >= MAX_EDITS_PER_MESSAGE {
        return Err(refuse(
            ErrorCode::TooLarge,
            format!("a message can be edited {MAX_EDITS_PER_MESSAGE} times; send a new one"),
        ));
    }
    let (mentions, everyone) = resolve_mentions(ctx, room_id, me, &text)?;
    // An edit keeps an @room that was already there, but never adds one past the rate limit.
    let mentions_room = everyone || (old.mentions_room && mentions_everyone(&text));
    let before = mentioned_users(ctx.conn, message_id)?;
    let seq = next_seq(ctx.conn, room_id)?;
    // Earlier edit events first: this edit's is not stored yet.
    rewrite_edit_events(
        ctx.conn,
        room_id,
        message_id,
        &text,
        &mentions,
        mentions_room,
    )?;
    keep_history(ctx, message_id, &row, seq, "edit", me, &old.text)?;
    store_mentions(
        ctx,
        room_id,
        row.seq,
        message_id,
        me.id,
        &mentions,
        mentions_room,
    )?;
    let edited = EventContent::MessageEdited(MessageEdited {
        message_id,
        text,
        edited_at: ctx.now,
        mentions: mentions.clone(),
        mentions_room,
    });
    store_change(ctx, &row, seq, me, edited)?;
    let old_quote = quote_excerpt(&old.text, old.attachments.first().map(|a| a.name.as_str()));
    rewrite_reply_quotes(ctx.conn, &row, message_id, Some(&old_quote))?;
    let mut changed: Vec<UserId> = before
        .iter()
        .filter(|u| !mentions.contains(u))
        .copied()
        .collect();
    changed.extend(mentions.iter().filter(|u| !before.contains(u)));
    push_unread(ctx, room_id, &changed)
}

/// Delete a message: its sender, or an owner or admin of the room. Deleting it again changes
/// nothing. The text leaves every stored event (the message, its edit events, the quotes of
/// its replies) and is kept only in `message_history`.
pub fn delete_message(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    message_id: MessageId,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    queries::check_not_archived(&room)?;
    let row = message_in_room(ctx.conn, room_id, message_id)?;
    let by_moderator = row.sender_id != me.id;
    if by_moderator && !(role.can_manage() && room.kind != RoomKind::Direct) {
        return Err(refuse(
            ErrorCode::Forbidden,
            "only its sender, or an owner or admin of the room, can delete a message",
        ));
    }
    if row.deleted {
        return Ok(());
    }
    let old = stored_message(ctx.conn, &row)?;
    let before = mentioned_users(ctx.conn, message_id)?;
    let seq = next_seq(ctx.conn, room_id)?;
    keep_history(ctx, message_id, &row, seq, "delete", me, &old.text)?;
    ctx.conn
        .prepare_cached("UPDATE messages SET deleted_at = ?2 WHERE id = ?1")?
        .execute(params![message_id, ctx.now])?;
    // A tombstone is no longer an unread message.
    ctx.conn
        .prepare_cached("UPDATE events SET kind = 'tombstone' WHERE room_id = ?1 AND seq = ?2")?
        .execute([room_id, row.seq])?;
    ctx.conn
        .prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
        .execute([message_id])?;
    ctx.conn
        .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([message_id])?;
    // Its files are no longer shared here (and, shared nowhere else, collectable).
    super::files::detach(ctx.conn, message_id)?;
    rewrite_edit_events(ctx.conn, room_id, message_id, "", &[], false)?;
    let deleted = EventContent::MessageDeleted(MessageDeleted {
        message_id,
        by_moderator,
    });
    store_change(ctx, &row, seq, me, deleted)?;
    rewrite_reply_quotes(ctx.conn, &row, message_id, None)?;
    push_unread(ctx, room_id, &before)
}

/// Add or take back the caller's reaction. Adding one that is there, or removing one that is
/// not, changes nothing.
pub fn react(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    message_id: MessageId,
    emoji: String,
    add: bool,
) -> Result<(), StoreError> {
    queries::check_can_write(ctx.conn, room_id, me.id)?;
    let row = message_in_room(ctx.conn, room_id, message_id)?;
    if row.deleted {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("message {message_id} was deleted; it takes no reactions"),
        ));
    }
    let exists: bool = ctx
        .conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3)",
        )?
        .query_row(params![message_id, emoji, me.id], |r| r.get(0))?;
    if exists == add {
        return Ok(());
    }
    if add {
        let (distinct, this_one): (usize, bool) = ctx
            .conn
            .prepare_cached(
                "SELECT count(DISTINCT emoji), EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2)
                 FROM reactions WHERE message_id = ?1",
            )?
            .query_row(params![message_id, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if !this_one && distinct >= MAX_REACTIONS_PER_MESSAGE {
            return Err(refuse(
                ErrorCode::TooLarge,
                format!("a message takes at most {MAX_REACTIONS_PER_MESSAGE} different reactions"),
            ));
        }
        ctx.conn
            .prepare_cached(
                "INSERT INTO reactions (message_id, emoji, user_id, room_id, message_seq, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![message_id, emoji, me.id, room_id, row.seq, ctx.now])?;
    } else {
        ctx.conn
            .prepare_cached(
                "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
            )?
            .execute(params![message_id, emoji, me.id])?;
    }
    let (count, users) = reaction_users(ctx.conn, message_id, &emoji)?;
    let seq = next_seq(ctx.conn, room_id)?;
    let change = ReactionChange {
        message_id,
        emoji,
        count,
        users,
    };
    let content = if add {
        EventContent::ReactionAdded(change)
    } else {
        EventContent::ReactionRemoved(change)
    };
    store_change(ctx, &row, seq, me, content)
}

/// How many reacted to a message with `emoji`, and the first few of them.
fn reaction_users(
    conn: &Connection,
    message_id: MessageId,
    emoji: &str,
) -> Result<(u32, Vec<UserRef>), StoreError> {
    let count: u32 = conn
        .prepare_cached("SELECT count(*) FROM reactions WHERE message_id = ?1 AND emoji = ?2")?
        .query_row(params![message_id, emoji], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username FROM reactions r JOIN users u ON u.id = r.user_id
         WHERE r.message_id = ?1 AND r.emoji = ?2 ORDER BY r.at, r.user_id LIMIT ?3",
    )?;
    let users = stmt
        .query_map(params![message_id, emoji, REACTION_USERS_SHOWN], |r| {
            Ok(UserRef {
                id: r.get(0)?,
                username: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((count, users))
}
