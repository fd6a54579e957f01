//! Write jobs. Each runs on the writer thread inside a savepoint of a group transaction, checks
//! permissions against the database, appends room events with the room's next seq, and queues
//! the frames to push once the transaction commits.

use super::queries::{self, member_room, user_by_name_or_refuse, RoomRow};
use super::{Publication, StoreError, WriteCtx};
use chat_protocol::{
    to_json, ErrorCode, EventContent, Millis, Receipt, Role, RoomAdded, RoomEvent, RoomId,
    RoomKind, RoomRemoved, RoomSummary, Seq, ServerFrame, Unread, UserId, UserRef,
};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) fn refuse(code: ErrorCode, message: impl Into<String>) -> StoreError {
    StoreError::refused(code, message)
}

/// The room's next seq: one past the highest stored event, found by one descent of the
/// events_by_room index. Gap-free because only the writer thread stores events,
/// every job stores the event of a seq it took before it ends, and a failed job's savepoint
/// (or the whole batch) rolls the event back. Reading it here instead of counting in the rooms
/// table spares every send an UPDATE and a dirty rooms page per commit.
pub(super) fn next_seq(conn: &Connection, room_id: RoomId) -> Result<Seq, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM events WHERE room_id = ?1")?;
    Ok(stmt.query_row([room_id], |r| r.get(0))?)
}

/// Store an event under an already taken seq and queue it for fan-out.
pub(super) fn store_event(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    seq: Seq,
    sender: &UserRef,
    content: EventContent,
    joined: Option<UserId>,
    left: Option<UserId>,
) -> Result<(), StoreError> {
    let kind = match &content {
        EventContent::Message(_) => "message",
        EventContent::RoomCreated { .. } => "room_created",
        EventContent::MemberJoined { .. } => "member_joined",
        EventContent::MemberLeft { .. } => "member_left",
        EventContent::MemberAdded { .. } => "member_added",
        EventContent::MemberRemoved { .. } => "member_removed",
        EventContent::RoleChanged { .. } => "role_changed",
        EventContent::Renamed { .. } => "renamed",
        EventContent::TopicChanged { .. } => "topic_changed",
        EventContent::MessageEdited(_) => "message_edited",
        EventContent::MessageDeleted(_) => "message_deleted",
        EventContent::ReactionAdded(_) => "reaction_added",
        EventContent::ReactionRemoved(_) => "reaction_removed",
        EventContent::RoomArchived {} => "room_archived",
        EventContent::RoomUnarchived {} => "room_unarchived",
    };
    let event = RoomEvent {
        room_id,
        seq,
        ts: ctx.now,
        sender: sender.clone(),
        content,
    };
    let json = serde_json::to_string(&event)?;
    ctx.conn
        .prepare_cached("INSERT INTO events (room_id, seq, ts, kind, sender_id, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![room_id, seq, ctx.now, kind, sender.id, json])?;
    // The event frame is the stored JSON with the frame tag in front: `{"type":"event",...}`.
    let frame = format!(r#"{{"type":"event",{}"#, &json[1..]);
    ctx.publications.push(Publication::RoomEvent {
        room_id,
        frame,
        joined,
        left,
    });
    Ok(())
}

pub(super) fn append_event(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    sender: &UserRef,
    content: EventContent,
    joined: Option<UserId>,
    left: Option<UserId>,
) -> Result<Seq, StoreError> {
    let seq = next_seq(ctx.conn, room_id)?;
    store_event(ctx, room_id, seq, sender, content, joined, left)?;
    Ok(seq)
}

/// A member row whose membership event has seq `joined_seq`; their receipts start there.
fn insert_member(
    ctx: &WriteCtx<'_>,
    room_id: RoomId,
    user_id: UserId,
    role: Role,
    joined_seq: Seq,
) -> Result<(), StoreError> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO members (room_id, user_id, role, joined_at, delivered_seq, read_seq, joined_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
        )?
        .execute(params![room_id, user_id, role.as_str(), ctx.now, joined_seq])?;
    Ok(())
}

/// Refuse to put `user` in one more room when they are in `max` already (`max_rooms_per_user`):
/// nobody can bury an account under rooms, and a welcome stays a bounded amount of work.
fn check_room_allowance(
    conn: &Connection,
    user: &UserRef,
    me: UserId,
    max: u32,
) -> Result<(), StoreError> {
    let rooms: u32 = conn
        .prepare_cached("SELECT count(*) FROM members WHERE user_id = ?1")?
        .query_row([user.id], |r| r.get(0))?;
    if rooms < max {
        return Ok(());
    }
    let message = if user.id == me {
        format!("you are in {rooms} rooms, the most one account may be in; leave one first")
    } else {
        format!(
            "{} is in {rooms} rooms, the most one account may be in",
            user.username
        )
    };
    Err(refuse(ErrorCode::Forbidden, message))
}

fn summary(conn: &Connection, room_id: RoomId, user_id: UserId) -> Result<RoomSummary, StoreError> {
    queries::room_summary(conn, room_id, user_id)?
        .ok_or_else(|| refuse(ErrorCode::Internal, "room vanished while being read"))
}

pub(super) fn publish_to_user(ctx: &mut WriteCtx<'_>, user_id: UserId, frame: &ServerFrame) {
    ctx.publications.push(Publication::ToUser {
        user_id,
        frame: to_json(frame),
    });
}

/// A member to add: who, with which role, announced by which event.
struct NewMember {
    user: UserRef,
    role: Role,
    content: EventContent,
}

/// Add a member and tell them: `room_added` to the new member, then the membership event to
/// everyone including them. Their read receipt starts at the event, so joining a room with a
/// long history does not flood them with unread messages.
fn add_member_with_event(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    actor: &UserRef,
    user: &UserRef,
    role: Role,
    content: EventContent,
) -> Result<(), StoreError> {
    let member = NewMember {
        user: user.clone(),
        role,
        content,
    };
    add_members_with_events(ctx, room_id, actor, vec![member])
}

/// Add several members at once (a new room's creator and its first members): every member
/// row and event first, then each new member's `room_added`, then the events in seq order. So
/// every `room_added` describes the room as it is at the end (all members counted, a direct
/// room's peer and title known), and still reaches its member before any event of the room.
fn add_members_with_events(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    actor: &UserRef,
    members: Vec<NewMember>,
) -> Result<(), StoreError> {
    let published_before = ctx.publications.len();
    let mut added = Vec::with_capacity(members.len());
    for member in members {
        let seq = next_seq(ctx.conn, room_id)?;
        insert_member(ctx, room_id, member.user.id, member.role, seq)?;
        let joined = Some(member.user.id);
        store_event(ctx, room_id, seq, actor, member.content, joined, None)?;
        added.push(member.user.id);
    }
    let events = ctx.publications.split_off(published_before);
    for user_id in added {
        let room = summary(ctx.conn, room_id, user_id)?;
        publish_to_user(ctx, user_id, &ServerFrame::RoomAdded(RoomAdded { room }));
    }
    ctx.publications.extend(events);
    Ok(())
}

fn remove_member_with_event(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    actor: &UserRef,
    user: &UserRef,
    content: EventContent,
) -> Result<(), StoreError> {
    append_event(ctx, room_id, actor, content, None, Some(user.id))?;
    ctx.conn
        .prepare_cached("DELETE FROM members WHERE room_id = ?1 AND user_id = ?2")?
        .execute([room_id, user.id])?;
    super::settings::forget_draft(ctx.conn, room_id, user.id)?;
    publish_to_user(
        ctx,
        user.id,
        &ServerFrame::RoomRemoved(RoomRemoved { room_id }),
    );
    Ok(())
}

/// Create a group, channel or announcement room owned by `creator`, with initial members.
pub fn create_room(
    ctx: &mut WriteCtx<'_>,
    creator: &UserRef,
    kind: RoomKind,
    title: String,
    topic: String,
    member_names: Vec<String>,
    max_rooms: u32,
) -> Result<RoomSummary, StoreError> {
    if kind == RoomKind::Direct {
        return Err(refuse(
            ErrorCode::BadRequest,
            "direct rooms are opened with open_direct, not created",
        ));
    }
    let mut invited: Vec<UserRef> = Vec::new();
    for name in &member_names {
        let user = user_by_name_or_refuse(ctx.conn, name)?;
        if user.id != creator.id && !invited.iter().any(|u| u.id == user.id) {
            invited.push(user);
        }
    }
    for user in std::iter::once(creator).chain(&invited) {
        check_room_allowance(ctx.conn, user, creator.id, max_rooms)?;
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO rooms (kind, title, topic, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![kind.as_str(), title, topic, ctx.now])?;
    let room_id = ctx.conn.last_insert_rowid();
    append_event(
        ctx,
        room_id,
        creator,
        EventContent::RoomCreated {
            room_kind: kind,
            title,
        },
        None,
        None,
    )?;
    let mut members = vec![NewMember {
        user: creator.clone(),
        role: Role::Owner,
        content: EventContent::MemberJoined {
            user: creator.clone(),
            role: Role::Owner,
        },
    }];
    members.extend(invited.into_iter().map(|user| NewMember {
        content: EventContent::MemberAdded {
            user: user.clone(),
            role: Role::Member,
        },
        user,
        role: Role::Member,
    }));
    add_members_with_events(ctx, room_id, creator, members)?;
    summary(ctx.conn, room_id, creator.id)
}

/// The direct room of two users, created on first use.
pub fn open_direct(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    username: &str,
    max_rooms: u32,
) -> Result<RoomSummary, StoreError> {
    let peer = user_by_name_or_refuse(ctx.conn, username)?;
    if peer.id == me.id {
        return Err(refuse(
            ErrorCode::BadRequest,
            "a direct room needs another person; you cannot open one with yourself",
        ));
    }
    let key = format!("{}:{}", me.id.min(peer.id), me.id.max(peer.id));
    let existing: Option<RoomId> = ctx
        .conn
        .prepare_cached("SELECT id FROM rooms WHERE direct_key = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    if let Some(room_id) = existing {
        return summary(ctx.conn, room_id, me.id);
    }
    check_room_allowance(ctx.conn, me, me.id, max_rooms)?;
    check_room_allowance(ctx.conn, &peer, me.id, max_rooms)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO rooms (kind, title, direct_key, created_at) VALUES ('direct', '', ?1, ?2)",
        )?
        .execute(params![key, ctx.now])?;
    let room_id = ctx.conn.last_insert_rowid();
    let created = EventContent::RoomCreated {
        room_kind: RoomKind::Direct,
        title: String::new(),
    };
    append_event(ctx, room_id, me, created, None, None)?;
    let members = vec![
        NewMember {
            user: me.clone(),
            role: Role::Member,
            content: EventContent::MemberJoined {
                user: me.clone(),
                role: Role::Member,
            },
        },
        NewMember {
            user: peer.clone(),
            role: Role::Member,
            content: EventContent::MemberAdded {
                user: peer.clone(),
                role: Role::Member,
            },
        },
    ];
    add_members_with_events(ctx, room_id, me, members)?;
    summary(ctx.conn, room_id, me.id)
}

/// Join a public room; joining one you are already in just returns it.
pub fn join_room(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    max_rooms: u32,
) -> Result<RoomSummary, StoreError> {
    let room = queries::room(ctx.conn, room_id)?
        .filter(|r| r.kind.is_public())
        .ok_or_else(|| {
            refuse(
                ErrorCode::NotFound,
                format!("no public room with id {room_id}"),
            )
        })?;
    if queries::role_of(ctx.conn, room.id, me.id)?.is_none() {
        queries::check_not_archived(&room)?;
        check_room_allowance(ctx.conn, me, me.id, max_rooms)?;
        let joined = EventContent::MemberJoined {
            user: me.clone(),
            role: Role::Member,
        };
        add_member_with_event(ctx, room_id, me, me, Role::Member, joined)?;
    }
    summary(ctx.conn, room_id, me.id)
}

/// Leave a room. When its last owner leaves, the longest-standing admin (else member), by the
/// seq of their membership event, becomes owner, so no room is left unmanageable.
pub fn leave_room(ctx: &mut WriteCtx<'_>, me: &UserRef, room_id: RoomId) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    if room.kind == RoomKind::Direct {
        return Err(refuse(ErrorCode::Forbidden, "direct rooms cannot be left"));
    }
    remove_member_with_event(
        ctx,
        room_id,
        me,
        me,
        EventContent::MemberLeft { user: me.clone() },
    )?;
    if role == Role::Owner {
        let owners: i64 = ctx
            .conn
            .prepare_cached("SELECT count(*) FROM members WHERE room_id = ?1 AND role = 'owner'")?
            .query_row([room_id], |r| r.get(0))?;
        if owners == 0 {
            let heir = ctx
                .conn
                .prepare_cached(
                    "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id
                     WHERE m.room_id = ?1
                     ORDER BY CASE m.role WHEN 'admin' THEN 0 ELSE 1 END, m.joined_seq, m.user_id LIMIT 1",
                )?
                .query_row([room_id], |r| Ok(UserRef { id: r.get(0)?, username: r.get(1)? }))
                .optional()?;
            if let Some(heir) = heir {
                update_role(ctx, room_id, me, &heir, Role::Owner)?;
            }
        }
    }
    Ok(())
}

pub(super) fn require_manager(room: &RoomRow, role: Role, what: &str) -> Result<(), StoreError> {
    if room.kind == RoomKind::Direct {
        return Err(refuse(
            ErrorCode::Forbidden,
            format!("direct rooms cannot {what}"),
        ));
    }
    if !role.can_manage() {
        return Err(refuse(
            ErrorCode::Forbidden,
            format!("only the owner and admins of \"{}\" can {what}", room.title),
        ));
    }
    Ok(())
}

pub fn add_member(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    username: &str,
    max_rooms: u32,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    require_manager(&room, role, "add members")?;
    queries::check_not_archived(&room)?;
    let user = user_by_name_or_refuse(ctx.conn, username)?;
    if queries::role_of(ctx.conn, room_id, user.id)?.is_some() {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("{} is already a member", user.username),
        ));
    }
    check_room_allowance(ctx.conn, &user, me.id, max_rooms)?;
    let added = EventContent::MemberAdded {
        user: user.clone(),
        role: Role::Member,
    };
    add_member_with_event(ctx, room_id, me, &user, Role::Member, added)
}

pub fn remove_member(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    username: &str,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    require_manager(&room, role, "remove members")?;
    let user = user_by_name_or_refuse(ctx.conn, username)?;
    if user.id == me.id {
        return Err(refuse(
            ErrorCode::BadRequest,
            "to remove yourself, leave the room",
        ));
    }
    let their_role = queries::role_of(ctx.conn, room_id, user.id)?.ok_or_else(|| {
        refuse(
            ErrorCode::NotFound,
            format!("{} is not a member", user.username),
        )
    })?;
    if role != Role::Owner && their_role.can_manage() {
        return Err(refuse(
            ErrorCode::Forbidden,
            "only an owner can remove owners and admins",
        ));
    }
    remove_member_with_event(
        ctx,
        room_id,
        me,
        &user,
        EventContent::MemberRemoved { user: user.clone() },
    )
}

pub(super) fn update_role(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    actor: &UserRef,
    user: &UserRef,
    role: Role,
) -> Result<(), StoreError> {
    ctx.conn
        .prepare_cached("UPDATE members SET role = ?3 WHERE room_id = ?1 AND user_id = ?2")?
        .execute(params![room_id, user.id, role.as_str()])?;
    append_event(
        ctx,
        room_id,
        actor,
        EventContent::RoleChanged {
            user: user.clone(),
            role,
        },
        None,
        None,
    )?;
    Ok(())
}

/// Only owners change roles, and not their own (an owner steps down by leaving or by making
/// someone else owner first).
pub fn set_role(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    username: &str,
    role: Role,
) -> Result<(), StoreError> {
    let (room, my_role) = member_room(ctx.conn, room_id, me.id)?;
    if room.kind == RoomKind::Direct {
        return Err(refuse(
            ErrorCode::Forbidden,
            "direct rooms have no roles to change",
        ));
    }
    if my_role != Role::Owner {
        return Err(refuse(
            ErrorCode::Forbidden,
            format!("only an owner of \"{}\" can change roles", room.title),
        ));
    }
    let user = user_by_name_or_refuse(ctx.conn, username)?;
    if user.id == me.id {
        return Err(refuse(
            ErrorCode::BadRequest,
            "owners cannot change their own role",
        ));
    }
    let current = queries::role_of(ctx.conn, room_id, user.id)?.ok_or_else(|| {
        refuse(
            ErrorCode::NotFound,
            format!("{} is not a member", user.username),
        )
    })?;
    if current != role {
        update_role(ctx, room_id, me, &user, role)?;
    }
    Ok(())
}

pub fn rename_room(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    title: String,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    if room.kind == RoomKind::Direct {
        return Err(refuse(
            ErrorCode::Forbidden,
            "direct rooms cannot be renamed",
        ));
    }
    require_manager(&room, role, "rename it")?;
    queries::check_not_archived(&room)?;
    if room.title != title {
        ctx.conn
            .prepare_cached("UPDATE rooms SET title = ?2 WHERE id = ?1")?
            .execute(params![room_id, title])?;
        append_event(
            ctx,
            room_id,
            me,
            EventContent::Renamed { title },
            None,
            None,
        )?;
    }
    Ok(())
}

pub fn set_topic(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    topic: String,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    require_manager(&room, role, "change the topic")?;
    queries::check_not_archived(&room)?;
    if room.topic != topic {
        ctx.conn
            .prepare_cached("UPDATE rooms SET topic = ?2 WHERE id = ?1")?
            .execute(params![room_id, topic])?;
        append_event(
            ctx,
            room_id,
            me,
            EventContent::TopicChanged { topic },
            None,
            None,
        )?;
    }
    Ok(())
}

/// Move receipts forward (never back, never past the room's last seq; read implies delivered).
/// Members hear the new receipt; the reader's own devices also get the new unread count.
pub fn set_receipt(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    delivered: Option<Seq>,
    read: Option<Seq>,
) -> Result<(), StoreError> {
    let (room, _) = member_room(ctx.conn, room_id, me.id)?;
    let (old_delivered, old_read): (Seq, Seq) = ctx
        .conn
        .prepare_cached(
            "SELECT delivered_seq, read_seq FROM members WHERE room_id = ?1 AND user_id = ?2",
        )?
        .query_row([room_id, me.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let new_read = read.unwrap_or(0).min(room.last_seq).max(old_read);
    let new_delivered = delivered
        .unwrap_or(0)
        .min(room.last_seq)
        .max(old_delivered)
        .max(new_read);
    if (new_delivered, new_read) == (old_delivered, old_read) {
        return Ok(());
    }
    ctx.conn
        .prepare_cached("UPDATE members SET delivered_seq = ?3, read_seq = ?4 WHERE room_id = ?1 AND user_id = ?2")?
        .execute(params![room_id, me.id, new_delivered, new_read])?;
    let receipt = ServerFrame::Receipt(Receipt {
        room_id,
        user_id: me.id,
        delivered_seq: new_delivered,
        read_seq: new_read,
    });
    ctx.publications.push(Publication::ToRoom {
        room_id,
        frame: to_json(&receipt),
    });
    if new_read != old_read {
        let unread = queries::unread_count(ctx.conn, room_id, me.id, new_read)?;
        let mentions = queries::unread_mentions(ctx.conn, room_id, me.id, new_read)?;
        publish_to_user(
            ctx,
            me.id,
            &ServerFrame::Unread(Unread {
                room_id,
                read_seq: new_read,
                unread,
                mentions,
            }),
        );
    }
    Ok(())
}

pub fn set_last_seen(
    ctx: &mut WriteCtx<'_>,
    user_id: UserId,
    at: Millis,
) -> Result<(), StoreError> {
    ctx.conn
        .prepare_cached("UPDATE users SET last_seen = ?2 WHERE id = ?1")?
        .execute(params![user_id, at])?;
    Ok(())
}

/// Create an account. `password_hash` is None for bot accounts, which log in by token only.
pub fn insert_user(
    conn: &Connection,
    username: &str,
    password_hash: Option<&str>,
    now: Millis,
) -> Result<UserRef, StoreError> {
    let taken = queries::user_by_name(conn, username)?.is_some();
    if taken {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("the username \"{username}\" is taken"),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![username, password_hash, now])?;
    Ok(UserRef {
        id: conn.last_insert_rowid(),
        username: username.to_string(),
    })
}

/// Store a token's hash; returns the token id.
pub fn insert_token(
    conn: &Connection,
    user_id: UserId,
    token_hash: &[u8],
    label: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![user_id, token_hash, label, now])?;
    Ok(conn.last_insert_rowid())
}

/// Revoke a token and log it so the running server closes its connections. Returns false if
/// there is no such live token.
pub fn revoke_token(conn: &Connection, token_id: i64, now: Millis) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![token_id, now])?;
    if changed == 1 {
        conn.prepare_cached("INSERT INTO revocations (token_id) VALUES (?1)")?
            .execute([token_id])?;
    }
    Ok(changed == 1)
}
