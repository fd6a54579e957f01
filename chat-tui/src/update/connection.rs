//! The connection state machine: connecting, backoff, catching up after a welcome.

use super::*;

pub(crate) fn connect(model: &mut Model, attempt: u32, fx: &mut Vec<Effect>) {
    let Some(token) = model.token.clone() else {
        model.screen = Screen::Login;
        model.conn = Connection::Offline;
        return;
    };
    model.conn = Connection::Connecting { attempt };
    fx.push(Effect::Connect {
        url: model.server_url.clone(),
        auth: Auth::Token { token },
    });
}

/// Forget everything that only lives as long as one connection.
pub(crate) fn connection_reset(model: &mut Model) {
    model.outbox.requeue();
    model.typing_sent = None;
    for room in model.rooms.values_mut() {
        room.typing.clear();
        room.fetching_after = false;
        room.loading_older = false;
        room.members_loaded = false;
    }
}

pub(crate) fn on_connection_lost(
    model: &mut Model,
    reason: String,
    auth: bool,
    fx: &mut Vec<Effect>,
) {
    let previous = std::mem::replace(&mut model.conn, Connection::Offline);
    connection_reset(model);
    if model.logging_out {
        // The server closes the connection of a token it revoked: that is the logout done.
        let reason = (!auth).then(|| NOT_REVOKED.to_string());
        logout(model, reason, fx);
        return;
    }
    if auth {
        let reason = if model.screen == Screen::Login {
            reason
        } else {
            format!("logged out by the server ({reason}); log in again")
        };
        if model.screen == Screen::Login {
            model.login.error = Some(reason);
        } else {
            logout(model, Some(reason), fx);
        }
        return;
    }
    if model.screen == Screen::Login {
        model.login.error = Some(reason);
        return;
    }
    let attempt = match previous {
        Connection::Connected { since, .. } if model.now - since >= STABLE_MS => 0,
        Connection::Connected { .. } => 1,
        Connection::Connecting { attempt } => attempt + 1,
        Connection::Waiting { attempt, .. } => attempt,
        Connection::Offline => 0,
    };
    let delay = backoff::delay_ms(attempt, &mut model.rng) as i64;
    model.conn = Connection::Waiting {
        attempt,
        retry_at: model.now + delay,
        reason,
    };
}

pub(crate) fn on_tick(model: &mut Model, fx: &mut Vec<Effect>) {
    let now = model.now;
    if let Connection::Waiting {
        attempt, retry_at, ..
    } = model.conn
    {
        if now >= retry_at {
            connect(model, attempt, fx);
        }
    }
    for room in model.rooms.values_mut() {
        room.typing.retain(|(_, until)| *until > now);
    }
    if model
        .notice
        .as_ref()
        .is_some_and(|n| now - n.at >= NOTICE_MS)
    {
        model.notice = None;
    }
    pump_outbox(model, fx);
    save_draft(model, fx);
}

pub(crate) fn on_connected(model: &mut Model, welcome: Welcome, fx: &mut Vec<Effect>) {
    model.conn = Connection::Connected {
        since: model.now,
        rtt_ms: None,
        ping_sent: None,
    };
    // The account's own cache is loaded by now (`install_account`); a different id under the
    // same name is a new account (the server's database was replaced, say): its rooms are not
    // ours, and messages queued for the old one must not go to rooms of the same number. They
    // stay, failed, for /unsent to copy back.
    let new_account = model.me.as_ref().is_some_and(|me| me.id != welcome.user.id);
    if new_account {
        model.rooms.clear();
        model.selected = None;
        fx.push(Effect::Cache(CacheOp::ClearHistory));
        let reason = format!(
            "written for an earlier account named {} on this server",
            welcome.user.username
        );
        let ids: Vec<String> = model
            .outbox
            .items()
            .iter()
            .filter(|i| !matches!(i.state, OutboxState::Failed(_)))
            .map(|i| i.client_id.clone())
            .collect();
        for client_id in ids {
            model.outbox.fail(&client_id, reason.clone());
            fx.push(Effect::Cache(CacheOp::OutboxFailed {
                client_id,
                reason: reason.clone(),
            }));
        }
    }
    if let Some(token) = welcome.token.clone() {
        model.token = Some(token.clone());
        fx.push(Effect::SaveSession {
            server: model.server_url.clone(),
            username: welcome.user.username.clone(),
            token,
        });
    }
    model.me = Some(welcome.user.clone());
    fx.push(Effect::Cache(CacheOp::Me(welcome.user.clone())));
    model.screen = Screen::Chat;
    model.login.password.clear();
    model.login.error = None;
    model.limits = welcome.limits.clone();
    model.online.clear();
    model.last_seen.clear();
    model.away.clear();
    for p in &welcome.presence {
        model.note_presence(p);
    }

    let listed: std::collections::HashSet<RoomId> = welcome.rooms.iter().map(|r| r.id).collect();
    let gone: Vec<RoomId> = model
        .rooms
        .keys()
        .copied()
        .filter(|id| !listed.contains(id))
        .collect();
    for id in gone {
        forget_room(model, id, fx);
    }
    for summary in welcome.rooms {
        upsert_room(model, summary, fx);
    }
    if model
        .selected
        .is_none_or(|id| !model.rooms.contains_key(&id))
    {
        model.selected = model.room_order().first().copied();
    }
    if let Some(id) = model.selected {
        select_room(model, id, fx);
    }
    let ids: Vec<RoomId> = model.rooms.keys().copied().collect();
    for id in ids {
        flush_receipts(model, id, fx);
    }
    pump_outbox(model, fx);
}

/// Take what an account's cache holds (the runtime reads it when that account logs in, or at
/// start for the saved login): its rooms and history, its queued and failed messages, its
/// drafts and the room that was open. What the model held belonged to another account, whose
/// cache kept it.
pub fn install_account(model: &mut Model, cached: crate::cache::Cached) {
    model.me = cached.me;
    model.rooms.clear();
    for (summary, events) in cached.rooms {
        let last = events.last().map_or(0, |e| e.seq);
        let id = summary.id;
        model
            .rooms
            .insert(id, Room::new(summary, Timeline::from_cache(events, last)));
    }
    model.outbox = crate::outbox::Outbox::from_items(cached.outbox);
    // Back where the user was, with what they were writing there.
    model.drafts = cached.drafts;
    model.selected = cached.selected.filter(|id| model.rooms.contains_key(id));
    let draft = model
        .selected
        .and_then(|id| model.drafts.remove(&id))
        .unwrap_or_default();
    model.input.set(draft.clone());
    model.draft_saved = draft;
}

/// Take the server's word for a room's summary and start catching up on what we lack.
pub(crate) fn upsert_room(model: &mut Model, mut summary: RoomSummary, fx: &mut Vec<Effect>) {
    let room_id = summary.id;
    let me = model.me.as_ref().map(|m| m.id);
    match model.rooms.get_mut(&room_id) {
        Some(room) => {
            // Answers and pushed frames travel separately and can arrive out of order: never
            // let an older summary take back what a newer one said.
            summary.last_seq = summary.last_seq.max(room.summary.last_seq);
            if summary.peer.is_none() && room.summary.peer.is_some() {
                summary.peer = room.summary.peer.clone();
                summary.title = room.summary.title.clone();
            }
            room.read_sent = summary.read_seq;
            if room.summary.read_seq > summary.read_seq {
                // Read here while offline: keep it; the receipt goes out with the next flush.
                summary.read_seq = room.summary.read_seq;
                summary.unread = unread_after(room, me, summary.read_seq);
            }
            room.summary = summary;
        }
        None => {
            model
                .rooms
                .insert(room_id, Room::new(summary, Timeline::default()));
        }
    }
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    fx.push(Effect::Cache(CacheOp::Room {
        summary: room.summary.clone(),
        synced_to: room.timeline.synced_to(),
    }));
    catch_up(room, fx);
}

/// Ask for whatever the room has that we do not: the newest page if we hold nothing, else
/// everything after `synced_to`.
pub(crate) fn catch_up(room: &mut Room, fx: &mut Vec<Effect>) {
    if room.fetching_after || room.timeline.synced_to() >= room.summary.last_seq {
        return;
    }
    room.fetching_after = true;
    let room_id = room.id();
    let (tag, after, before) = if room.timeline.is_empty() {
        (Tag::HistoryLatest { room_id }, None, None)
    } else {
        (
            Tag::HistoryAfter { room_id },
            Some(room.timeline.synced_to()),
            None,
        )
    };
    let frame = ClientFrame::GetHistory(GetHistory {
        request_id: 0,
        room_id,
        before,
        after,
        limit: Some(PAGE),
    });
    request(fx, tag, frame);
}
