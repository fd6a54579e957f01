//! What the server says: pushed frames and the answers to requests.

use super::*;

pub(crate) fn on_frame(model: &mut Model, frame: ServerFrame, fx: &mut Vec<Effect>) {
    match frame {
        ServerFrame::Event(event) => on_live_event(model, event, fx),
        ServerFrame::Receipt(r) => {
            if model.me.as_ref().is_some_and(|me| me.id == r.user_id) {
                return;
            }
            if let Some(room) = model.rooms.get_mut(&r.room_id) {
                let entry = room.receipts.entry(r.user_id).or_insert((0, 0));
                entry.0 = entry.0.max(r.delivered_seq);
                entry.1 = entry.1.max(r.read_seq);
            }
        }
        ServerFrame::Unread(u) => {
            if let Some(room) = model.rooms.get_mut(&u.room_id) {
                room.read_sent = room.read_sent.max(u.read_seq);
                if u.read_seq >= room.summary.read_seq {
                    room.summary.read_seq = u.read_seq;
                    room.summary.unread = u.unread;
                    room.summary.mentions = u.mentions;
                }
                if room.summary.unread == 0 {
                    room.mention = false;
                }
                fx.push(Effect::Cache(CacheOp::Room {
                    summary: room.summary.clone(),
                    synced_to: room.timeline.synced_to(),
                }));
            }
        }
        ServerFrame::Typing(t) => {
            if model.is_me(&t.user) {
                return;
            }
            let until = model.now + TYPING_EXPIRY_MS;
            if let Some(room) = model.rooms.get_mut(&t.room_id) {
                room.typing.retain(|(u, _)| u.id != t.user.id);
                if t.typing {
                    room.typing.push((t.user, until));
                }
            }
        }
        ServerFrame::Presence(p) => model.note_presence(&p),
        ServerFrame::RoomAdded(added) => {
            let room_id = added.room.id;
            upsert_room(model, added.room, fx);
            if model.selected.is_none() {
                select_room(model, room_id, fx);
            }
        }
        ServerFrame::RoomRemoved(removed) => remove_room(model, removed.room_id, fx),
        ServerFrame::RoomSettings(changed) => {
            if let Some(room) = model.rooms.get_mut(&changed.room_id) {
                room.summary.settings = changed.settings;
                fx.push(Effect::Cache(CacheOp::Room {
                    summary: room.summary.clone(),
                    synced_to: room.timeline.synced_to(),
                }));
            }
            // Archived for me while open: on to the next room.
            let hidden = model
                .selected_room()
                .is_some_and(|r| r.id() == changed.room_id && r.summary.settings.hidden);
            if hidden {
                let next = model
                    .room_order()
                    .into_iter()
                    .find(|&id| id != changed.room_id);
                if let Some(next) = next {
                    select_room(model, next, fx);
                }
            }
        }
        ServerFrame::Error(e) => notice(model, format!("server: {}", e.message), true),
        _ => {}
    }
}

pub(crate) fn remove_room(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if !forget_room(model, room_id, fx) {
        return;
    }
    if model.selected == Some(room_id) {
        model.selected = None;
        if let Some(&next) = model.room_order().first() {
            select_room(model, next, fx);
        }
    }
}

/// I am no longer in a room: drop it and its cache. Messages still waiting for it are kept as
/// failed, naming the room and why, for the user to copy, retry or discard (/unsent).
pub(crate) fn forget_room(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) -> bool {
    let Some(room) = model.rooms.remove(&room_id) else {
        return false;
    };
    fx.push(Effect::Cache(CacheOp::RemoveRoom(room_id)));
    let name = room.display_name();
    let reason = format!("you are no longer a member of {name}");
    // A half-written message for the room is kept like a queued one.
    let draft = if model.selected == Some(room_id) {
        model.input.take()
    } else {
        model.drafts.remove(&room_id).unwrap_or_default()
    };
    if !draft.trim().is_empty() && !draft.starts_with('/') {
        let item = OutboxItem {
            client_id: model.rng.client_id(),
            room_id,
            room_name: name.clone(),
            text: draft.trim_end().to_string(),
            created: model.now,
            state: OutboxState::Queued,
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        };
        fx.push(Effect::Cache(CacheOp::OutboxPut(item.clone())));
        model.outbox.push(item);
    }
    let failed = model.outbox.fail_room(room_id, &reason);
    if !failed.is_empty() {
        let count = match failed.len() {
            1 => "1 message".to_string(),
            n => format!("{n} messages"),
        };
        notice(model, format!("{reason}: {count} kept in /unsent"), true);
    }
    for client_id in failed {
        fx.push(Effect::Cache(CacheOp::OutboxFailed {
            client_id,
            reason: reason.clone(),
        }));
    }
    true
}

pub(crate) fn on_live_event(model: &mut Model, event: RoomEvent, fx: &mut Vec<Effect>) {
    let room_id = event.room_id;
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    if room.timeline.is_gap(event.seq) && !room.timeline.is_empty() {
        // Something between what we hold and this event went past us: fetch it.
        catch_up_after_gap(room, fx);
    }
    let added = add_events(model, room_id, vec![event.clone()], fx);
    if added.is_empty() {
        return;
    }
    let watching = model.is_watching(room_id);
    let mine = model.is_me(&event.sender);
    let mentions = message_mentions_me(model, &event);
    note_live_change(model, &event);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    if let EventContent::Message(_) = &event.content {
        room.typing.retain(|(u, _)| u.id != event.sender.id);
        if !mine {
            if !watching {
                if event.seq > room.summary.read_seq {
                    room.summary.unread += 1;
                }
                if mentions {
                    room.mention = true;
                    if event.seq > room.summary.read_seq {
                        room.summary.mentions += 1;
                    }
                }
                if model.selected == Some(room_id) && room.scroll != Scroll::Bottom {
                    room.unseen_below += 1;
                }
            }
            // Muted rooms never ring; "mentions" rooms ring for mentions only.
            let notify = !watching
                && match room.summary.settings.notify {
                    NotifyLevel::None => false,
                    NotifyLevel::Mentions => mentions,
                    NotifyLevel::All => room.summary.kind == RoomKind::Direct || mentions,
                };
            if notify {
                let title = if room.summary.kind == RoomKind::Direct {
                    event.sender.username.clone()
                } else {
                    format!("{} in {}", event.sender.username, room.display_name())
                };
                let body = crate::model::message_text(&event)
                    .unwrap_or_default()
                    .to_string();
                fx.push(Effect::Notify { title, body });
            }
        }
    }
    if watching {
        mark_read(model, room_id, fx);
    } else {
        flush_receipts(model, room_id, fx);
    }
}

/// Whether a message from someone else mentions me as the server counts it: by name, or as
/// `@room` unless I muted the room.
pub(crate) fn message_mentions_me(model: &Model, event: &RoomEvent) -> bool {
    let (Some(me), EventContent::Message(message)) = (&model.me, &event.content) else {
        return false;
    };
    if model.is_me(&event.sender) {
        return false;
    }
    let muted = model.rooms.get(&event.room_id).is_some_and(Room::muted);
    message.mentions.contains(&me.id) || (message.mentions_room && !muted)
}

/// My own reactions as they come live, and replies into an open thread.
fn note_live_change(model: &mut Model, event: &RoomEvent) {
    let mine = model.is_me(&event.sender);
    if let Some(room) = model.rooms.get_mut(&event.room_id) {
        match &event.content {
            EventContent::ReactionAdded(r) if mine => {
                room.my_reactions.insert((r.message_id, r.emoji.clone()));
            }
            EventContent::ReactionRemoved(r) if mine => {
                room.my_reactions.remove(&(r.message_id, r.emoji.clone()));
            }
            _ => {}
        }
    }
    let reply_to = match &event.content {
        EventContent::Message(m) => m.reply_to.as_ref().map(|q| q.message_id),
        _ => None,
    };
    if let Some(Overlay::Thread {
        room_id,
        parent,
        loaded: Some(thread),
    }) = &mut model.overlay
    {
        if *room_id == event.room_id && reply_to == Some(*parent) {
            thread.1.push(event.clone());
        }
    }
}

pub(crate) fn catch_up_after_gap(room: &mut Room, fx: &mut Vec<Effect>) {
    if room.fetching_after {
        return;
    }
    room.fetching_after = true;
    let room_id = room.id();
    let frame = ClientFrame::GetHistory(GetHistory {
        request_id: 0,
        room_id,
        before: None,
        after: Some(room.timeline.synced_to()),
        limit: Some(PAGE),
    });
    request(fx, Tag::HistoryAfter { room_id }, frame);
}

/// Put events into a room's timeline and apply what they change (title, topic, members);
/// returns the ones that were new. Messages of mine leave the outbox.
pub(crate) fn add_events(
    model: &mut Model,
    room_id: RoomId,
    events: Vec<RoomEvent>,
    fx: &mut Vec<Effect>,
) -> Vec<RoomEvent> {
    let me = model.me.as_ref().map(|m| m.id);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return Vec::new();
    };
    let added = room.timeline.insert_all(events);
    if added.is_empty() {
        return added;
    }
    let newest = added.iter().map(|e| e.seq).max().unwrap_or(0);
    let live_summary = newest > room.summary.last_seq;
    room.summary.last_seq = room.summary.last_seq.max(newest);
    for event in &added {
        // Summary fields only follow events newer than the summary itself.
        let current = live_summary && event.seq == newest;
        match &event.content {
            EventContent::Renamed { title } if current => room.summary.title = title.clone(),
            EventContent::TopicChanged { topic } if current => room.summary.topic = topic.clone(),
            EventContent::MemberJoined { user, .. } | EventContent::MemberAdded { user, .. }
                if live_summary && !room.members.iter().any(|m| m.id == user.id) =>
            {
                room.members.push(user.clone());
                room.summary.member_count += 1;
            }
            EventContent::MemberLeft { user } | EventContent::MemberRemoved { user }
                if live_summary =>
            {
                room.members.retain(|m| m.id != user.id);
                room.receipts.remove(&user.id);
                room.summary.member_count = room.summary.member_count.saturating_sub(1);
            }
            _ => {}
        }
    }
    fx.push(Effect::Cache(CacheOp::Events(added.clone())));
    // The cache keeps messages as received and re-applies changes on loading, except deleted
    // ones: their text must not stay on disk.
    let deleted: Vec<RoomEvent> = room
        .timeline
        .take_changed()
        .into_iter()
        .filter(|e| match &e.content {
            EventContent::Message(m) => m.deleted,
            EventContent::MessageEdited(_) => true,
            _ => false,
        })
        .collect();
    if !deleted.is_empty() {
        fx.push(Effect::Cache(CacheOp::ReplaceEvents(deleted)));
    }
    fx.push(Effect::Cache(CacheOp::Room {
        summary: room.summary.clone(),
        synced_to: room.timeline.synced_to(),
    }));
    for event in &added {
        if let EventContent::Message(chat_protocol::ChatMessage { client_id, .. }) = &event.content
        {
            if Some(event.sender.id) == me && model.outbox.remove(client_id).is_some() {
                fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id.clone())));
            }
        }
    }
    added
}

pub(crate) fn on_response(
    model: &mut Model,
    tag: Tag,
    result: Result<ServerFrame, RequestError>,
    fx: &mut Vec<Effect>,
) {
    match (tag, result) {
        (Tag::Send { client_id }, Ok(ServerFrame::MessageSent(ack))) => {
            // A complaint about an earlier message is stale once one goes through (the
            // status bar still counts what was not sent).
            if model.notice.as_ref().is_some_and(|n| n.error) {
                model.notice = None;
            }
            let item = model.outbox.remove(&client_id);
            fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id.clone())));
            if let (Some(item), Some(me)) = (item, model.me.clone()) {
                let event = RoomEvent {
                    room_id: ack.room_id,
                    seq: ack.seq,
                    ts: ack.ts,
                    sender: me,
                    content: EventContent::Message(chat_protocol::ChatMessage {
                        message_id: ack.message_id,
                        client_id,
                        text: item.text,
                        action: item.action,
                        // Drawn with its files at once, as every other client draws it.
                        attachments: item.attachments,
                        reply_to: item
                            .reply_to
                            .and_then(|parent| quote_for(model, ack.room_id, parent)),
                        ..Default::default()
                    }),
                };
                if let Some(room) = model.rooms.get_mut(&ack.room_id) {
                    if room.timeline.is_gap(ack.seq) && !room.timeline.is_empty() {
                        catch_up_after_gap(room, fx);
                    }
                }
                add_events(model, ack.room_id, vec![event], fx);
                mark_read(model, ack.room_id, fx);
            }
            pump_outbox(model, fx);
        }
        (Tag::Send { client_id }, Err(e)) => match e.code {
            // The connection went away: it is sent again, same id, on the next one.
            None => {}
            Some(ErrorCode::RateLimited | ErrorCode::Internal) => {
                model.outbox.requeue();
                model.outbox_retry_at = model.now + 2_000;
            }
            Some(_) => {
                let room = model
                    .outbox
                    .fail(&client_id, e.message.clone())
                    .map_or_else(String::new, |item| format!(" to {}", item.room_name));
                fx.push(Effect::Cache(CacheOp::OutboxFailed {
                    client_id,
                    reason: e.message.clone(),
                }));
                notice(
                    model,
                    format!(
                        "message{room} not sent: {}; /unsent to copy, retry or discard",
                        e.message
                    ),
                    true,
                );
                pump_outbox(model, fx);
            }
        },
        (Tag::HistoryLatest { room_id } | Tag::HistoryAfter { room_id }, result) => {
            let Some(room) = model.rooms.get_mut(&room_id) else {
                return;
            };
            room.fetching_after = false;
            let Ok(ServerFrame::History(history)) = result else {
                return;
            };
            let newest_known = room.summary.last_seq;
            note_reacted(model, room_id, &history.reacted);
            add_events(model, room_id, history.events, fx);
            let Some(room) = model.rooms.get_mut(&room_id) else {
                return;
            };
            if !history.more {
                // Everything up to what the server had when it answered is here.
                room.timeline
                    .mark_synced_to(newest_known.min(room.timeline.last_seq()));
            }
            if room.marker.is_none() && model.selected == Some(room_id) {
                if room.summary.unread > 0 && !room.unread_loaded() {
                    // The first unread is older than this page: fetch back to it.
                    room.finding_first_unread = true;
                    load_older_if_needed(room, true, fx);
                } else {
                    room.finding_first_unread = false;
                    room.marker = first_unread(room, model.me.as_ref().map(|m| m.id));
                    if room.marker.is_some() && room.scroll == Scroll::Bottom {
                        open_at_marker(model, room_id);
                    }
                }
            }
            let Some(room) = model.rooms.get_mut(&room_id) else {
                return;
            };
            catch_up(room, fx);
            if model.selected == Some(room_id) {
                mark_read(model, room_id, fx);
            } else {
                flush_receipts(model, room_id, fx);
            }
        }
        (Tag::HistoryBefore { room_id }, result) => {
            if let Some(room) = model.rooms.get_mut(&room_id) {
                room.loading_older = false;
            }
            if let Ok(ServerFrame::History(history)) = result {
                note_reacted(model, room_id, &history.reacted);
                add_events(model, room_id, history.events, fx);
            }
            older_arrived(model, room_id, fx);
        }
        (Tag::Members { room_id }, Ok(ServerFrame::Members(members))) => {
            let me = model.me.as_ref().map(|m| m.id);
            if let Some(room) = model.rooms.get_mut(&room_id) {
                room.members = members.members.iter().map(|m| m.user.clone()).collect();
                room.roles = members
                    .members
                    .iter()
                    .map(|m| (m.user.id, m.role))
                    .collect();
                room.receipts = members
                    .members
                    .iter()
                    .filter(|m| Some(m.user.id) != me)
                    .map(|m| (m.user.id, (m.delivered_seq, m.read_seq)))
                    .collect();
            }
            for m in members.members {
                model.online.insert(m.user.id, m.online);
            }
        }
        (Tag::Members { room_id }, Err(_)) => {
            if let Some(room) = model.rooms.get_mut(&room_id) {
                room.members_loaded = false;
            }
        }
        (Tag::JoinByName(name), Ok(ServerFrame::Channels(list))) => {
            let wanted = name.to_lowercase();
            let found = list
                .channels
                .iter()
                .find(|c| c.title.to_lowercase() == wanted)
                .or_else(|| {
                    let mut prefixed = list
                        .channels
                        .iter()
                        .filter(|c| c.title.to_lowercase().starts_with(&wanted));
                    match (prefixed.next(), prefixed.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                });
            match found {
                Some(c) if c.joined && model.rooms.contains_key(&c.id) => {
                    select_room(model, c.id, fx)
                }
                Some(c) => {
                    let frame = ClientFrame::JoinRoom(JoinRoom {
                        request_id: 0,
                        room_id: c.id,
                    });
                    request(fx, Tag::OpenRoom, frame);
                }
                None => notice(
                    model,
                    format!("no public channel named #{name}; /channels lists them"),
                    true,
                ),
            }
        }
        (Tag::OpenRoom, Ok(ServerFrame::Room(response))) => {
            let room_id = response.room.id;
            upsert_room(model, response.room, fx);
            select_room(model, room_id, fx);
        }
        (Tag::Channels, Ok(ServerFrame::Channels(list))) => {
            if let Some(Overlay::Channels { channels, .. }) = &mut model.overlay {
                *channels = Some(list.channels);
            }
        }
        (Tag::Channels, Err(e)) => {
            model.overlay = None;
            notice(model, e.message, true);
        }
        (Tag::Thread { room_id, parent }, Ok(ServerFrame::Thread(thread))) => {
            note_reacted(model, room_id, &thread.reacted);
            if let Some(Overlay::Thread {
                parent: open,
                loaded,
                ..
            }) = &mut model.overlay
            {
                if *open == parent {
                    *loaded = Some(Box::new((thread.parent, thread.replies)));
                }
            }
        }
        (Tag::Mentions, Ok(ServerFrame::Mentions(list))) => {
            if let Some(Overlay::Mentions { events, .. }) = &mut model.overlay {
                *events = Some(list.events);
            }
        }
        (Tag::Search, Ok(ServerFrame::SearchResults(results))) => {
            if let Some(Overlay::Search { hits, .. }) = &mut model.overlay {
                *hits = Some(results.hits);
            }
        }
        (Tag::Search, Err(e)) => {
            if let Some(Overlay::Search { hits, .. }) = &mut model.overlay {
                *hits = None;
            }
            notice(model, e.message, true);
        }
        (Tag::Thread { .. } | Tag::Mentions, Err(e)) => {
            model.overlay = None;
            notice(model, e.message, true);
        }
        (Tag::Action(text), Ok(_)) => notice(model, text, false),
        (Tag::Logout, Ok(_)) => logout(model, None, fx),
        (Tag::Logout, Err(e)) if e.code.is_none() => logout(model, Some(NOT_REVOKED.into()), fx),
        (Tag::Logout, Err(e)) => {
            model.logging_out = false;
            notice(model, format!("cannot log out: {}", e.message), true);
        }
        (Tag::Quiet, _) => {}
        (_, Err(e)) => notice(model, e.message, true),
        (_, Ok(_)) => {}
    }
}

/// My reactions in a page of history or a thread (reaction counts name only the first few).
fn note_reacted(model: &mut Model, room_id: RoomId, reacted: &[chat_protocol::OwnReaction]) {
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.my_reactions
            .extend(reacted.iter().map(|r| (r.message_id, r.emoji.clone())));
    }
}

pub(crate) fn on_cached_older(
    model: &mut Model,
    room_id: RoomId,
    before: chat_protocol::Seq,
    events: Vec<RoomEvent>,
    fx: &mut Vec<Effect>,
) {
    let connected = is_connected(model);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    // Only a run that ends right before what we hold can be trusted to have no holes.
    let contiguous = events.last().is_some_and(|e| e.seq == before - 1)
        && events.windows(2).all(|w| w[1].seq == w[0].seq + 1);
    if contiguous {
        room.loading_older = false;
        room.timeline.insert_all(events);
        older_arrived(model, room_id, fx);
        return;
    }
    if connected {
        let frame = ClientFrame::GetHistory(GetHistory {
            request_id: 0,
            room_id,
            before: Some(before),
            after: None,
            limit: Some(PAGE),
        });
        request(fx, Tag::HistoryBefore { room_id }, frame);
    } else {
        room.loading_older = false;
    }
}
