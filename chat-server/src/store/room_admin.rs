//! Write jobs that administer a room as a whole: archiving and handing over ownership.

use super::ops::{append_event, refuse, require_manager, update_role};
use super::queries::{self, member_room, user_by_name_or_refuse};
use super::{StoreError, WriteCtx};
use chat_protocol::{ErrorCode, EventContent, Role, RoomId, UserRef};
use rusqlite::params;

/// Archive (read-only for everyone) or unarchive a room: owners and admins, not in direct
/// rooms. Asking for the state it is already in changes nothing.
pub fn set_archived(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    archived: bool,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    if room.kind == chat_protocol::RoomKind::Direct {
        return Err(refuse(
            ErrorCode::Forbidden,
            "direct rooms cannot be archived",
        ));
    }
    let what = if archived {
        "archive it"
    } else {
        "unarchive it"
    };
    require_manager(&room, role, what)?;
    if room.archived == archived {
        return Ok(());
    }
    ctx.conn
        .prepare_cached("UPDATE rooms SET archived_at = ?2 WHERE id = ?1")?
        .execute(params![room_id, archived.then_some(ctx.now)])?;
    let content = if archived {
        EventContent::RoomArchived {}
    } else {
        EventContent::RoomUnarchived {}
    };
    append_event(ctx, room_id, me, content, None, None)?;
    Ok(())
}

/// Make `username` owner and the caller (an owner) admin, in that order, so the room is
/// never without an owner.
pub fn transfer_ownership(
    ctx: &mut WriteCtx<'_>,
    me: &UserRef,
    room_id: RoomId,
    username: &str,
) -> Result<(), StoreError> {
    let (room, role) = member_room(ctx.conn, room_id, me.id)?;
    if room.kind == chat_protocol::RoomKind::Direct {
        return Err(refuse(ErrorCode::Forbidden, "direct rooms have no owner"));
    }
    let heir = user_by_name_or_refuse(ctx.conn, username)?;
    let heir_role = queries::role_of(ctx.conn, room_id, heir.id)?;
    // A retry after the hand-over went through (its answer lost) finds it done.
    if role == Role::Admin && heir_role == Some(Role::Owner) {
        return Ok(());
    }
    if role != Role::Owner {
        return Err(refuse(
            ErrorCode::Forbidden,
            format!("only an owner of \"{}\" can hand it over", room.title),
        ));
    }
    if heir.id == me.id {
        return Err(refuse(ErrorCode::BadRequest, "you already own it"));
    }
    let heir_role = heir_role.ok_or_else(|| {
        refuse(
            ErrorCode::NotFound,
            format!("{} is not a member", heir.username),
        )
    })?;
    if heir_role != Role::Owner {
        update_role(ctx, room_id, me, &heir, Role::Owner)?;
    }
    update_role(ctx, room_id, me, me, Role::Admin)
}
