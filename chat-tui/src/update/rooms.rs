//! Rooms in view: selecting, scrolling, marking read, receipts and typing.

use super::*;

pub(crate) fn step_room(model: &mut Model, step: isize, fx: &mut Vec<Effect>) {
    let order = model.room_order();
    if order.is_empty() {
        return;
    }
    let current = model
        .selected
        .and_then(|id| order.iter().position(|&r| r == id))
        .unwrap_or(0) as isize;
    let next = (current + step).rem_euclid(order.len() as isize) as usize;
    select_room(model, order[next], fx);
}

/// Alt-A, as in WeeChat: the next conversation with unread messages (mentions first), in
/// sidebar order after the one in view.
pub(crate) fn next_unread_room(model: &mut Model, fx: &mut Vec<Effect>) {
    let order = model.room_order();
    let current = model
        .selected
        .and_then(|id| order.iter().position(|&r| r == id))
        .map_or(0, |i| i + 1);
    let after_current = order.iter().cycle().skip(current).take(order.len());
    let unread: Vec<&Room> = after_current
        .filter_map(|id| model.rooms.get(id))
        .filter(|r| r.summary.unread > 0 && Some(r.id()) != model.selected)
        .collect();
    let next = unread
        .iter()
        .find(|r| r.mention)
        .or_else(|| unread.first())
        .map(|r| r.id());
    match next {
        Some(id) => select_room(model, id, fx),
        None => notice(model, "nothing unread", false),
    }
}

pub fn select_room(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if !model.rooms.contains_key(&room_id) {
        return;
    }
    let opening = model.selected != Some(room_id);
    if opening {
        stop_typing(model, fx);
        if let Some(old) = model.selected.and_then(|id| model.rooms.get_mut(&id)) {
            old.marker = None;
        }
        switch_draft(model, room_id, fx);
        // An answer about the room left behind (/whois, "topic set") is not about this one.
        if model.notice.as_ref().is_some_and(|n| !n.error) {
            model.notice = None;
        }
        model.selected = Some(room_id);
        model.completion = None;
        model.selection = None;
        fx.push(Effect::Cache(CacheOp::Selected(room_id)));
    }
    let connected = is_connected(model);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    room.mention = false;
    room.marker = first_unread(room, model.me.as_ref().map(|m| m.id));
    if opening {
        if room.summary.unread > 0 && !room.unread_loaded() {
            // The first unread is older than what is loaded: fetch back to it first.
            room.finding_first_unread = true;
            room.marker = None;
            load_older_if_needed(room, true, fx);
        } else {
            open_at_marker(model, room_id);
        }
    }
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    if connected && !room.members_loaded {
        room.members_loaded = true;
        let frame = ClientFrame::ListMembers(ListMembers {
            request_id: 0,
            room_id,
        });
        request(fx, Tag::Members { room_id }, frame);
    }
    mark_read(model, room_id, fx);
}

/// A room opened with more unread than fits shows its first unread message at the top (under
/// the "new messages" line), as WeeChat and Slack do; reading on scrolls down to the rest.
pub(crate) fn open_at_marker(model: &mut Model, room_id: RoomId) {
    let (g, pane_height) = geometry(model);
    let me = model.me.as_ref().map(|m| m.id);
    let Some(room) = model.rooms.get(&room_id) else {
        return;
    };
    let scroll = match room.marker {
        Some(seq) => pane::showing_from(model, room, seq, g, pane_height),
        None => Scroll::Bottom,
    };
    let below = match scroll {
        Scroll::At { seq, .. } => unread_after(room, me, seq),
        Scroll::Bottom => 0,
    };
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.scroll = scroll;
        room.unseen_below = below;
    }
}

/// Most unread messages fetched to find the first of them; with more, the room opens at the
/// newest and reading it marks the rest read.
const FIND_UNREAD_LIMIT: u32 = 1_000;

/// Older events arrived: if the room in view was waiting for its first unread message, open
/// there now, or fetch further back.
pub(crate) fn older_arrived(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    continue_jump(model, room_id, fx);
    if model.selected != Some(room_id) {
        return;
    }
    let me = model.me.as_ref().map(|m| m.id);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    if !room.finding_first_unread {
        return;
    }
    if room.unread_loaded() || room.summary.unread > FIND_UNREAD_LIMIT {
        room.finding_first_unread = false;
        room.marker = first_unread(room, me);
        open_at_marker(model, room_id);
        mark_read(model, room_id, fx);
    } else {
        load_older_if_needed(room, true, fx);
    }
}

/// Each room keeps its own unsent text: the input's goes with the room left, the draft of the
/// room opened comes back.
fn switch_draft(model: &mut Model, to: RoomId, fx: &mut Vec<Effect>) {
    let leaving = model.input.take();
    if let Some(from) = model.selected {
        if leaving.trim().is_empty() {
            model.drafts.remove(&from);
        } else {
            model.drafts.insert(from, leaving.clone());
        }
        if leaving != model.draft_saved {
            fx.push(Effect::Cache(CacheOp::Draft {
                room_id: from,
                text: leaving,
            }));
        }
    }
    let draft = model.drafts.remove(&to).unwrap_or_default();
    model.input.set(draft.clone());
    model.draft_saved = draft;
}

/// Write the draft of the room in view to the cache if it changed (each tick, and before
/// quitting), so it survives a restart or a crash.
pub(crate) fn save_draft(model: &mut Model, fx: &mut Vec<Effect>) {
    let Some(room_id) = model.selected else {
        return;
    };
    let text = model.input.text();
    if text != model.draft_saved {
        model.draft_saved = text.to_string();
        fx.push(Effect::Cache(CacheOp::Draft {
            room_id,
            text: text.to_string(),
        }));
    }
}

/// The first message from someone else after what I have read, for the "new messages" line.
pub(crate) fn first_unread(room: &Room, me: Option<i64>) -> Option<chat_protocol::Seq> {
    if room.summary.unread == 0 {
        return None;
    }
    let events = room.timeline.events();
    let start = room
        .timeline
        .position(room.summary.read_seq + 1)
        .unwrap_or_else(|i| i);
    events[start..]
        .iter()
        .find(|e| matches!(e.content, EventContent::Message(_)) && Some(e.sender.id) != me)
        .map(|e| e.seq)
}

pub(crate) fn geometry(model: &Model) -> (Geometry, usize) {
    let area = layout::areas(model).messages;
    (Geometry::of(model, area.width), usize::from(area.height))
}

pub(crate) fn scroll_up(model: &mut Model, rows: usize, fx: &mut Vec<Effect>) {
    let Some(room) = model.selected_room() else {
        return;
    };
    let (g, pane_height) = geometry(model);
    let scroll = pane::scrolled_up(model, room, rows, g, pane_height);
    let room_id = room.id();
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    room.scroll = scroll;
    // Near the top of what is loaded: fetch older events before the user gets there.
    let near_top = match scroll {
        Scroll::Bottom => room.timeline.len() < 50,
        Scroll::At { seq, .. } => room.timeline.position(seq).unwrap_or_else(|i| i) < 50,
    };
    load_older_if_needed(room, near_top, fx);
}

pub(crate) fn load_older_if_needed(room: &mut Room, near_top: bool, fx: &mut Vec<Effect>) {
    if near_top && !room.loading_older && !room.timeline.reached_start() {
        if let Some(first) = room.timeline.first_seq() {
            room.loading_older = true;
            fx.push(Effect::LoadOlder {
                room_id: room.id(),
                before: first,
            });
        }
    }
}

pub(crate) fn scroll_down(model: &mut Model, rows: usize, fx: &mut Vec<Effect>) {
    let Some(room) = model.selected_room() else {
        return;
    };
    let (g, _) = geometry(model);
    let scroll = pane::scrolled_down(model, room, rows, g);
    let room_id = room.id();
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.scroll = scroll;
        if scroll == Scroll::Bottom {
            room.unseen_below = 0;
        }
    }
    mark_read(model, room_id, fx);
    // What is below and unread goes down as it comes into view.
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.unseen_below = room.unseen_below.min(room.summary.unread);
    }
}

pub(crate) fn scroll_to_bottom(model: &mut Model, fx: &mut Vec<Effect>) {
    let Some(room_id) = model.selected else {
        return;
    };
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.scroll = Scroll::Bottom;
        room.unseen_below = 0;
    }
    mark_read(model, room_id, fx);
}

/// Mark what the open room shows as read, and tell the server.
pub(crate) fn mark_read(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if model.screen != Screen::Chat || model.overlay.is_some() || model.selected != Some(room_id) {
        return;
    }
    let me = model.me.as_ref().map(|m| m.id);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    // Never past messages that were not loaded, hence never shown (a new device holds only
    // the newest page): they stay unread until they are.
    let skipping = !room.unread_loaded() && room.summary.unread <= FIND_UNREAD_LIMIT;
    if room.finding_first_unread || skipping {
        flush_receipts(model, room_id, fx);
        return;
    }
    let shown = match room.scroll {
        Scroll::Bottom => room.timeline.last_seq(),
        Scroll::At { seq, .. } => seq,
    };
    if shown > room.summary.read_seq {
        room.summary.read_seq = shown;
        let at_end = room.scroll == Scroll::Bottom && shown >= room.summary.last_seq;
        room.summary.unread = if at_end {
            0
        } else {
            unread_after(room, me, shown)
        };
    }
    if room.summary.unread == 0 {
        room.mention = false;
    }
    flush_receipts(model, room_id, fx);
}

pub(crate) fn unread_after(room: &Room, me: Option<i64>, read_seq: chat_protocol::Seq) -> u32 {
    let events = room.timeline.events();
    let start = room.timeline.position(read_seq + 1).unwrap_or_else(|i| i);
    events[start..]
        .iter()
        .filter(|e| matches!(e.content, EventContent::Message(_)) && Some(e.sender.id) != me)
        .count() as u32
}

/// Send this device's delivered and read marks for a room if they moved.
pub(crate) fn flush_receipts(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if !is_connected(model) {
        return;
    }
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    let delivered = room.timeline.synced_to().max(room.summary.read_seq);
    let read = room.summary.read_seq;
    let send_delivered = delivered > room.delivered_sent;
    let send_read = read > room.read_sent;
    if !(send_delivered || send_read) {
        return;
    }
    room.delivered_sent = room.delivered_sent.max(delivered);
    room.read_sent = room.read_sent.max(read);
    let frame = ClientFrame::SetReceipt(SetReceipt {
        request_id: 0,
        room_id,
        delivered_seq: send_delivered.then_some(delivered),
        read_seq: send_read.then_some(read),
    });
    request(fx, Tag::Quiet, frame);
}

pub(crate) fn typing_changed(model: &mut Model, fx: &mut Vec<Effect>) {
    let text = model.input.text();
    let composing = !text.trim().is_empty() && !text.starts_with('/');
    let Some(room_id) = model.selected else {
        return;
    };
    if !composing {
        stop_typing(model, fx);
        return;
    }
    if !is_connected(model) {
        return;
    }
    let fresh = model
        .typing_sent
        .is_some_and(|(r, at)| r == room_id && model.now - at < TYPING_REPEAT_MS);
    if !fresh {
        model.typing_sent = Some((room_id, model.now));
        let frame = ClientFrame::SetTyping(SetTyping {
            request_id: 0,
            room_id,
            typing: true,
        });
        request(fx, Tag::Quiet, frame);
    }
}

pub(crate) fn stop_typing(model: &mut Model, fx: &mut Vec<Effect>) {
    if let Some((room_id, _)) = model.typing_sent.take() {
        if is_connected(model) {
            let frame = ClientFrame::SetTyping(SetTyping {
                request_id: 0,
                room_id,
                typing: false,
            });
            request(fx, Tag::Quiet, frame);
        }
    }
}
