//! Write jobs on a member's own settings for a room: notification level, pin, archived for
//! them alone (`hidden`), and the draft. Every change is pushed to all of the member's
//! connections as a `room_settings` frame, so their devices agree.

use super::messages::push_unread;
use super::ops::publish_to_user;
use super::queries::{self, member_room};
use super::{StoreError, WriteCtx};
use chat_protocol::{
    NotifyLevel, RoomId, RoomSettings, RoomSettingsChanged, ServerFrame, SetRoomSettings, UserId,
    UserRef,
};
use rusqlite::{params, Connection, OptionalExtension};

/// The settings of a member (defaults for a room they are not in).
pub fn settings_of(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
) -> Result<RoomSettings, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT notify, pin_position, hidden FROM members WHERE room_id = ?1 AND user_id = ?2",
        )?
        .query_row([room_id, user_id], |r| {
            Ok((queries::notify_from_sql(r.get(0)?)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((notify, pinned, hidden)) = row else {
        return Ok(RoomSettings::default());
    };
    let draft: Option<String> = conn
        .prepare_cached("SELECT text FROM drafts WHERE user_id = ?1 AND room_id = ?2")?
        .query_row([user_id, room_id], |r| r.get(0))
        .optional()?;
    Ok(RoomSettings {
        notify,
        pinned,
        hidden,
        draft: draft.unwrap_or_default(),
    })
}

/// Apply the fields a `set_room_settings` gives. Asking for what is already set changes
/// nothing and pushes nothing, so a retry is harmless.
pub fn set_room_settings(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    change: SetRoomSettings,
) -> Result<(), StoreError> {
    let room_id = change.room_id;
    member_room(ctx.conn, room_id, me.id)?;
    let old = settings_of(ctx.conn, room_id, me.id)?;
    let mut new = old.clone();
    if let Some(notify) = change.notify {
        new.notify = notify;
    }
    match (change.pinned, change.pin_position) {
        (Some(false), _) => new.pinned = None,
        (_, Some(position)) => new.pinned = Some(position),
        (Some(true), None) if old.pinned.is_none() => {
            new.pinned = Some(next_pin_position(ctx.conn, me.id)?)
        }
        _ => {}
    }
    if let Some(hidden) = change.hidden {
        new.hidden = hidden;
    }
    if let Some(draft) = change.draft {
        new.draft = draft;
    }
    if new == old {
        return Ok(());
    }
    ctx.conn
        .prepare_cached(
            "UPDATE members SET notify = ?3, pin_position = ?4, hidden = ?5
             WHERE room_id = ?1 AND user_id = ?2",
        )?
        .execute(params![
            room_id,
            me.id,
            new.notify.as_str(),
            new.pinned,
            new.hidden
        ])?;
    if new.draft != old.draft {
        save_draft(ctx.conn, room_id, me.id, &new.draft)?;
    }
    let mutes_changed = (old.notify == NotifyLevel::None) != (new.notify == NotifyLevel::None);
    publish_settings(ctx, room_id, me.id, new);
    if mutes_changed {
        // Muting stops counting `@room`, unmuting counts it again.
        push_unread(ctx, room_id, &[me.id])?;
    }
    Ok(())
}

/// After the pins a user has: the position `pinned: true` gives.
fn next_pin_position(conn: &Connection, user_id: UserId) -> Result<u32, StoreError> {
    let highest: Option<u32> = conn
        .prepare_cached("SELECT max(pin_position) FROM members WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    Ok(highest.map_or(0, |p| p.saturating_add(1)))
}

fn save_draft(
    conn: &Connection,
    room_id: RoomId,
    user_id: UserId,
    text: &str,
) -> Result<(), StoreError> {
    if text.is_empty() {
        return forget_draft(conn, room_id, user_id);
    }
    conn.prepare_cached(
        "INSERT INTO drafts (user_id, room_id, text) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, room_id) DO UPDATE SET text = excluded.text",
    )?
    .execute(params![user_id, room_id, text])?;
    Ok(())
}

/// A member who leaves takes no draft along (nor finds it if they come back).
pub fn forget_draft(conn: &Connection, room_id: RoomId, user_id: UserId) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM drafts WHERE user_id = ?1 AND room_id = ?2")?
        .execute([user_id, room_id])?;
    Ok(())
}

/// A new message brings the room back for members who archived it for themselves, unless
/// they also muted it and it does not name them. Found through a partial index, so rooms
/// nobody hid cost one index probe.
pub fn bring_back_hidden(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    mentioned: &[UserId],
) -> Result<(), StoreError> {
    // Nearly always nobody hid the room: a read of the partial index settles that, far
    // cheaper than an UPDATE (which opens write cursors on the table and its indexes).
    let anyone_hid = ctx
        .conn
        .prepare_cached(
            "SELECT 1 FROM members INDEXED BY members_hidden
             WHERE room_id = ?1 AND hidden = 1 LIMIT 1",
        )?
        .exists([room_id])?;
    if !anyone_hid {
        return Ok(());
    }
    let mut users: Vec<UserId> = ctx
        .conn
        .prepare_cached(
            "UPDATE members SET hidden = 0
             WHERE room_id = ?1 AND hidden = 1 AND notify <> 'none'
             RETURNING user_id",
        )?
        .query_map([room_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for &user_id in mentioned {
        let named: Option<UserId> = ctx
            .conn
            .prepare_cached(
                "UPDATE members SET hidden = 0
                 WHERE room_id = ?1 AND user_id = ?2 AND hidden = 1 RETURNING user_id",
            )?
            .query_row([room_id, user_id], |r| r.get(0))
            .optional()?;
        users.extend(named);
    }
    for user_id in users {
        let settings = settings_of(ctx.conn, room_id, user_id)?;
        publish_settings(ctx, room_id, user_id, settings);
    }
    Ok(())
}

fn publish_settings(
    ctx: &mut WriteCtx<'_>,
    room_id: RoomId,
    user_id: UserId,
    settings: RoomSettings,
) {
    publish_to_user(
        ctx,
        user_id,
        &ServerFrame::RoomSettings(RoomSettingsChanged { room_id, settings }),
    );
}
