//! Message selection mode (Esc from an empty input, or Shift-Up) and what it leads to: edit,
//! delete, reply, react, thread, copy, who has read it. Also the edits and replies written in
//! the input, and the overlays they open.

use super::*;
use crate::model::{Compose, EditTarget, QUICK_REACTIONS};
use chat_protocol::{
    ChatMessage, DeleteMessage, EditMessage, GetThread, ListMentions, MessageId, Reaction,
    ReplyQuote, Seq,
};

/// Messages that can be selected: drawn and not deleted.
fn selectable(event: &RoomEvent) -> Option<&ChatMessage> {
    match &event.content {
        EventContent::Message(m) if !m.deleted => Some(m),
        _ => None,
    }
}

/// The selected message of the room in view.
fn selected_message(model: &Model) -> Option<(RoomId, RoomEvent)> {
    let seq = model.selection?;
    let room = model.selected_room()?;
    let i = room.timeline.position(seq).ok()?;
    let event = room.timeline.events()[i].clone();
    selectable(&event)?;
    Some((room.id(), event))
}

fn message_of(event: &RoomEvent) -> &ChatMessage {
    match &event.content {
        EventContent::Message(m) => m,
        _ => unreachable!("only messages are selected"),
    }
}

/// Select the newest message of the room in view.
pub(crate) fn start_selection(model: &mut Model) {
    let Some(room) = model.selected_room() else {
        return;
    };
    let newest = room
        .timeline
        .events()
        .iter()
        .rev()
        .find(|e| selectable(e).is_some())
        .map(|e| e.seq);
    match newest {
        Some(seq) => select_message(model, seq),
        None => notice(model, "no message here to select", false),
    }
}

/// Select `seq` and scroll so it is in view.
pub(crate) fn select_message(model: &mut Model, seq: Seq) {
    model.selection = Some(seq);
    let (g, pane_rows) = geometry(model);
    let Some(room) = model.selected_room() else {
        return;
    };
    if pane::shows(model, room, seq, g, pane_rows) {
        return;
    }
    let room_id = room.id();
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.scroll = Scroll::At { seq, rows_below: 0 };
    }
}

pub(crate) fn leave_selection(model: &mut Model) {
    model.selection = None;
}

fn step_selection(model: &mut Model, up: bool, fx: &mut Vec<Effect>) {
    let (Some(current), Some(room)) = (model.selection, model.selected_room()) else {
        return;
    };
    let events = room.timeline.events();
    let at = room.timeline.position(current).unwrap_or_else(|i| i);
    let next = if up {
        events[..at].iter().rev().find(|e| selectable(e).is_some())
    } else {
        events
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .find(|e| selectable(e).is_some())
    };
    match next.map(|e| e.seq) {
        Some(seq) => select_message(model, seq),
        // Past the newest: back to the input, at the bottom.
        None if !up => {
            leave_selection(model);
            scroll_to_bottom(model, fx);
        }
        None => {
            let room_id = room.id();
            if let Some(room) = model.rooms.get_mut(&room_id) {
                load_older_if_needed(room, true, fx);
            }
        }
    }
}

/// The selected message was deleted (or is gone): select the nearest older one instead,
/// else the nearest newer, else leave selection mode.
fn repair_selection(model: &mut Model) {
    let (Some(seq), Some(room)) = (model.selection, model.selected_room()) else {
        return;
    };
    if selected_message(model).is_some() {
        return;
    }
    let events = room.timeline.events();
    let at = room.timeline.position(seq).unwrap_or_else(|i| i);
    let older = events[..at].iter().rev().find(|e| selectable(e).is_some());
    let newer = events
        .get(at..)
        .unwrap_or_default()
        .iter()
        .find(|e| selectable(e).is_some());
    model.selection = older.or(newer).map(|e| e.seq);
}

/// What the selected message allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionRights {
    pub mine: bool,
    pub may_delete: bool,
    /// It carries files (to save or open).
    pub files: bool,
}

pub fn selection_rights(model: &Model) -> Option<SelectionRights> {
    let seq = model.selection?;
    let room = model.selected_room()?;
    let event = &room.timeline.events()[room.timeline.position(seq).ok()?];
    let message = selectable(event)?;
    let mine = model.is_me(&event.sender);
    let manager = room.summary.role.can_manage() && room.summary.kind != RoomKind::Direct;
    Some(SelectionRights {
        mine,
        may_delete: mine || manager,
        files: !message.attachments.is_empty(),
    })
}

pub(crate) fn on_selection_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    repair_selection(model);
    let Some((room_id, event)) = selected_message(model) else {
        // Nothing left to select: the key does what it does in the input.
        leave_selection(model);
        on_chat_key(model, key, fx);
        return;
    };
    let message = message_of(&event).clone();
    let mine = model.is_me(&event.sender);
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => step_selection(model, true, fx),
        KeyCode::Down | KeyCode::Char('j') => step_selection(model, false, fx),
        // Back to the input, and to the newest messages it writes after.
        KeyCode::Esc | KeyCode::Char('q') => {
            leave_selection(model);
            scroll_to_bottom(model, fx);
        }
        KeyCode::Char('e') if mine => {
            leave_selection(model);
            start_edit(
                model,
                room_id,
                EditTarget::Sent(message.message_id),
                &message.text,
            );
        }
        KeyCode::Char('e') => notice(model, "you can only edit your own messages", true),
        KeyCode::Char('d') => {
            let manager = model
                .rooms
                .get(&room_id)
                .is_some_and(|r| r.summary.role.can_manage() && r.summary.kind != RoomKind::Direct);
            if mine || manager {
                model.overlay = Some(Overlay::ConfirmDelete {
                    room_id,
                    message_id: message.message_id,
                });
            } else {
                notice(
                    model,
                    "you can delete your own messages (owners and admins: any)",
                    true,
                );
            }
        }
        KeyCode::Char('r') | KeyCode::Enter => {
            leave_selection(model);
            start_reply(model, room_id, &event);
        }
        KeyCode::Char('+') | KeyCode::Char('a') => {
            // The reaction ends selection mode, as the other actions do.
            leave_selection(model);
            model.overlay = Some(Overlay::React {
                room_id,
                message_id: message.message_id,
                picker: Picker::default(),
            });
        }
        KeyCode::Char('t') => open_thread(model, room_id, message.message_id, fx),
        KeyCode::Char('s') => save_files(model, &message.attachments, fx),
        KeyCode::Char('o') => open_files(model, &message.attachments, fx),
        KeyCode::Char('y') | KeyCode::Char('c') if !ctrl => {
            fx.push(Effect::Copy(message.text.clone()));
            leave_selection(model);
            notice(model, "message copied to the clipboard", false);
        }
        KeyCode::Char('i') => {
            model.overlay = Some(Overlay::ReadBy {
                room_id,
                seq: event.seq,
            });
            refresh_members(model, room_id, fx);
        }
        // Anything else goes back to the input and does what it does there.
        _ => {
            leave_selection(model);
            on_chat_key(model, key, fx);
        }
    }
}

fn refresh_members(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if is_connected(model) {
        let frame = ClientFrame::ListMembers(ListMembers {
            request_id: 0,
            room_id,
        });
        request(fx, Tag::Members { room_id }, frame);
    }
}

fn start_edit(model: &mut Model, room_id: RoomId, target: EditTarget, text: &str) {
    leave_selection(model);
    model.notice = None;
    model.input.take();
    model.input.insert_str(text);
    model.compose = Some(Compose::Edit { room_id, target });
}

pub(crate) fn start_reply(model: &mut Model, room_id: RoomId, event: &RoomEvent) {
    leave_selection(model);
    model.notice = None;
    let message = message_of(event);
    model.compose = Some(Compose::Reply {
        room_id,
        message_id: message.message_id,
        sender: event.sender.username.clone(),
        excerpt: chat_protocol::text::excerpt(&message.text),
    });
}

/// My messages in the room in view that can be edited, oldest first: the sent ones loaded,
/// then the queued ones (not the one on its way).
fn my_editable(model: &Model) -> Vec<(EditTarget, String)> {
    let Some(room) = model.selected_room() else {
        return Vec::new();
    };
    let sent = room
        .timeline
        .events()
        .iter()
        .filter(|e| model.is_me(&e.sender))
        .filter_map(selectable)
        .map(|m| (EditTarget::Sent(m.message_id), m.text.clone()));
    let queued = model
        .outbox
        .in_room(room.id())
        .filter(|i| i.state != OutboxState::InFlight)
        .map(|i| (EditTarget::Queued(i.client_id.clone()), i.text.clone()));
    sent.chain(queued).collect()
}

/// Up in an empty input: edit my newest message here, the queued copy if it is not sent yet.
/// False when there is none (Up then browses what I sent, as before).
pub(crate) fn edit_last(model: &mut Model) -> bool {
    let Some((target, text)) = my_editable(model).pop() else {
        return false;
    };
    let Some(room_id) = model.selected else {
        return false;
    };
    start_edit(model, room_id, target, &text);
    true
}

/// Up (Down) on the first (last) line of an edit not changed yet: edit my message before
/// (after) it instead. False when there is none, or the text was changed.
pub(crate) fn edit_neighbour(model: &mut Model, older: bool) -> bool {
    let Some(Compose::Edit { room_id, target }) = model.compose.clone() else {
        return false;
    };
    let mine = my_editable(model);
    let Some(at) = mine.iter().position(|(t, _)| *t == target) else {
        return false;
    };
    if mine[at].1 != model.input.text() {
        return false;
    }
    let next = if older {
        at.checked_sub(1)
    } else {
        Some(at + 1)
    };
    let Some((target, text)) = next.and_then(|i| mine.get(i)).cloned() else {
        return false;
    };
    start_edit(model, room_id, target, &text);
    true
}

/// Enter while editing: the new text goes to the server, or into the queued copy. An empty
/// text deletes (after asking, for a sent message).
pub(crate) fn submit_edit(
    model: &mut Model,
    room_id: RoomId,
    target: EditTarget,
    fx: &mut Vec<Effect>,
) {
    let text = model.input.text().trim_end().to_string();
    match target {
        EditTarget::Queued(client_id) if text.trim().is_empty() => {
            model.outbox.remove(&client_id);
            fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id)));
            finish_compose(model, fx);
            notice(model, "the unsent message was discarded", false);
        }
        EditTarget::Queued(client_id) => {
            if model.outbox.set_text(&client_id, &text) {
                fx.push(Effect::Cache(CacheOp::OutboxText { client_id, text }));
                finish_compose(model, fx);
            } else {
                notice(model, "it is on its way: edit it once it is sent", true);
            }
        }
        EditTarget::Sent(message_id) if text.trim().is_empty() => {
            let files_and_old_text = model
                .rooms
                .get(&room_id)
                .and_then(|r| r.message(message_id))
                .map(message_of)
                .filter(|m| !m.attachments.is_empty())
                .map(|m| m.text.trim().is_empty());
            match files_and_old_text {
                // A file sent without words, still without words: nothing changed.
                Some(true) => {
                    finish_compose(model, fx);
                    return;
                }
                // Emptying it would delete its files with it: that is `d`, asked for plainly.
                Some(false) => {
                    let text =
                        "a message with files keeps some text; to delete it, select it and press d";
                    notice(model, text, true);
                    return;
                }
                None => {}
            }
            finish_compose(model, fx);
            model.overlay = Some(Overlay::ConfirmDelete {
                room_id,
                message_id,
            });
        }
        EditTarget::Sent(message_id) => {
            let unchanged = model
                .rooms
                .get(&room_id)
                .and_then(|r| r.message(message_id))
                .is_some_and(|e| message_of(e).text == text);
            if unchanged {
                finish_compose(model, fx);
                return;
            }
            if over_length(model, &text) {
                return;
            }
            if !is_connected(model) {
                notice(model, "not connected: edits need the server", true);
                return;
            }
            let frame = ClientFrame::EditMessage(EditMessage {
                request_id: 0,
                room_id,
                message_id,
                text,
            });
            request(fx, Tag::Change, frame);
            finish_compose(model, fx);
        }
    }
}

fn finish_compose(model: &mut Model, fx: &mut Vec<Effect>) {
    model.compose = None;
    model.input.take();
    // Keys pressed while editing announced typing; nothing new is coming.
    stop_typing(model, fx);
}

/// Esc while writing a reply or an edit: back to a plain message (an edit's text goes).
pub(crate) fn cancel_compose(model: &mut Model) -> bool {
    match model.compose.take() {
        Some(Compose::Edit { .. }) => {
            model.input.take();
            true
        }
        Some(Compose::Reply { .. }) => true,
        None => false,
    }
}

/// The quote my own reply shows until the server's copy of it arrives.
pub(crate) fn quote_for(model: &Model, room_id: RoomId, parent: MessageId) -> Option<ReplyQuote> {
    let event = model.rooms.get(&room_id)?.message(parent)?;
    let message = message_of(event);
    Some(ReplyQuote {
        message_id: parent,
        sender: event.sender.clone(),
        excerpt: chat_protocol::text::excerpt(&message.text),
        deleted: message.deleted,
    })
}

fn open_thread(model: &mut Model, room_id: RoomId, parent: MessageId, fx: &mut Vec<Effect>) {
    if !is_connected(model) {
        notice(model, "not connected: threads come from the server", true);
        return;
    }
    model.overlay = Some(Overlay::Thread {
        room_id,
        parent,
        loaded: None,
    });
    let frame = ClientFrame::GetThread(GetThread {
        request_id: 0,
        room_id,
        message_id: parent,
        after: None,
        limit: Some(PAGE),
    });
    request(fx, Tag::Thread { room_id, parent }, frame);
}

pub(crate) fn open_mentions(model: &mut Model, fx: &mut Vec<Effect>) {
    if !is_connected(model) {
        notice(model, "not connected: /mentions asks the server", true);
        return;
    }
    model.overlay = Some(Overlay::Mentions {
        selected: 0,
        events: None,
    });
    let frame = ClientFrame::ListMentions(ListMentions {
        request_id: 0,
        before: None,
        limit: Some(PAGE),
    });
    request(fx, Tag::Mentions, frame);
}

/// Keys of the react, delete, thread, read-by and mentions overlays.
pub(crate) fn on_message_overlay_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(overlay) = model.overlay.take() else {
        return;
    };
    match overlay {
        Overlay::React {
            room_id,
            message_id,
            mut picker,
        } => match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => {
                let emoji = match picker.query.trim() {
                    "" => QUICK_REACTIONS[picker.selected.min(QUICK_REACTIONS.len() - 1)],
                    typed => typed,
                };
                react(model, room_id, message_id, emoji.to_string(), fx);
            }
            KeyCode::Char(c @ '1'..='8') if picker.query.is_empty() => {
                let emoji = QUICK_REACTIONS[usize::from(c as u8 - b'1')];
                react(model, room_id, message_id, emoji.to_string(), fx);
            }
            code => {
                match code {
                    KeyCode::Left | KeyCode::Up => {
                        picker.selected = picker.selected.saturating_sub(1)
                    }
                    KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                        picker.selected = (picker.selected + 1).min(QUICK_REACTIONS.len() - 1)
                    }
                    KeyCode::Backspace => {
                        picker.query.pop();
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        picker.query.push(c)
                    }
                    _ => {}
                }
                model.overlay = Some(Overlay::React {
                    room_id,
                    message_id,
                    picker,
                });
            }
        },
        Overlay::ConfirmDelete {
            room_id,
            message_id,
        } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                delete(model, room_id, message_id, fx);
                leave_selection(model);
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
            _ => {
                model.overlay = Some(Overlay::ConfirmDelete {
                    room_id,
                    message_id,
                })
            }
        },
        Overlay::Thread {
            room_id,
            parent,
            loaded,
        } => match (key.code, loaded) {
            (KeyCode::Char('r') | KeyCode::Enter, Some(thread)) => {
                start_reply(model, room_id, &thread.0);
            }
            (KeyCode::Esc | KeyCode::Char('q'), _) => {}
            (_, loaded) => {
                model.overlay = Some(Overlay::Thread {
                    room_id,
                    parent,
                    loaded,
                });
            }
        },
        Overlay::ReadBy { .. } => {}
        Overlay::Mentions {
            mut selected,
            events,
        } => {
            let count = events.as_ref().map_or(0, Vec::len);
            match key.code {
                KeyCode::Esc => return,
                KeyCode::Enter => {
                    if let Some(event) = events.as_ref().and_then(|e| e.get(selected)) {
                        jump_to(model, event.room_id, event.seq, fx);
                    }
                    return;
                }
                KeyCode::Up => selected = selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Tab => {
                    selected = (selected + 1).min(count.saturating_sub(1))
                }
                _ => {}
            }
            model.overlay = Some(Overlay::Mentions { selected, events });
        }
        other => model.overlay = Some(other),
    }
}

/// Add my reaction, or take it back if I gave it already.
fn react(
    model: &mut Model,
    room_id: RoomId,
    message_id: MessageId,
    emoji: String,
    fx: &mut Vec<Effect>,
) {
    let chars = emoji.chars().count();
    if chars > model.limits.max_reaction_chars {
        let limit = model.limits.max_reaction_chars;
        notice(
            model,
            format!("a reaction is at most {limit} characters"),
            true,
        );
        return;
    }
    if !is_connected(model) {
        notice(model, "not connected: reactions need the server", true);
        return;
    }
    let Some(room) = model.rooms.get(&room_id) else {
        return;
    };
    let given = room.my_reactions.contains(&(message_id, emoji.clone()))
        || room.message(message_id).is_some_and(|e| {
            message_of(e)
                .reactions
                .iter()
                .any(|r| r.emoji == emoji && r.users.iter().any(|u| model.is_me(u)))
        });
    let reaction = Reaction {
        request_id: 0,
        room_id,
        message_id,
        emoji,
    };
    let frame = if given {
        ClientFrame::RemoveReaction(reaction)
    } else {
        ClientFrame::AddReaction(reaction)
    };
    request(fx, Tag::Change, frame);
}

fn delete(model: &mut Model, room_id: RoomId, message_id: MessageId, fx: &mut Vec<Effect>) {
    if !is_connected(model) {
        notice(model, "not connected: deleting needs the server", true);
        return;
    }
    let frame = ClientFrame::DeleteMessage(DeleteMessage {
        request_id: 0,
        room_id,
        message_id,
    });
    request(fx, Tag::Change, frame);
}

/// Open a room at a message (from /mentions), fetching older pages until it is loaded.
pub(crate) fn jump_to(model: &mut Model, room_id: RoomId, seq: Seq, fx: &mut Vec<Effect>) {
    if !model.rooms.contains_key(&room_id) {
        notice(model, "you are no longer in that room", true);
        return;
    }
    select_room(model, room_id, fx);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    // The room opens at the message asked for, not at its first unread one (which a fetch
    // still under way would scroll to when it ends).
    room.finding_first_unread = false;
    room.marker = None;
    if room.timeline.position(seq).is_ok() {
        select_message(model, seq);
    } else {
        room.jump_to = Some(seq);
        load_older_if_needed(room, true, fx);
    }
}

/// Older events arrived: if a jump was waiting for them, select its message now, or fetch
/// further back.
pub(crate) fn continue_jump(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    let Some(seq) = room.jump_to else {
        return;
    };
    if room.timeline.position(seq).is_ok() || room.timeline.reached_start() {
        room.jump_to = None;
        if model.selected == Some(room_id) {
            select_message(model, seq);
        }
    } else {
        load_older_if_needed(room, true, fx);
    }
}
