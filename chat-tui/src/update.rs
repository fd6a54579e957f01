//! `update`: the one place where the model changes. It does no I/O; what should happen outside
//! (connect, send a frame, write the cache, ring the bell) comes back as [`Effect`]s.

use crate::backoff::{self, STABLE_MS};
use crate::commands::{self, Command};
use crate::complete;
use crate::layout;
use crate::model::{Connection, LoginField, Model, Notice, Overlay, Picker, Room, Screen, Scroll};
use crate::msg::{CacheOp, Effect, Msg, RequestError, Tag};
use crate::outbox::{OutboxItem, OutboxState};
use crate::pane::{self, Geometry};
use crate::timeline::Timeline;
use chat_protocol::{
    AddMember, Auth, ChannelInfo, ClientFrame, CreateRoom, ErrorCode, EventContent, GetHistory,
    JoinRoom, LeaveRoom, ListChannels, ListMembers, OpenDirect, RemoveMember, RenameRoom,
    RoomEvent, RoomId, RoomKind, RoomSummary, SendMessage, ServerFrame, SetReceipt, SetTopic,
    SetTyping, Welcome,
};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// Events per history request.
pub const PAGE: u32 = 100;
/// Typing is re-announced at most this often while keys are pressed (the server forgets it
/// after its typing timeout, 5 s by default).
const TYPING_REPEAT_MS: i64 = 3_000;
/// Typing we heard about is dropped after this long without a refresh.
const TYPING_EXPIRY_MS: i64 = 6_000;
const NOTICE_MS: i64 = 10_000;
/// Rows per mouse wheel step.
const WHEEL_ROWS: usize = 3;

/// What to do when the client starts: connect with the saved token, or show the login screen.
pub fn start(model: &mut Model) -> Vec<Effect> {
    let mut fx = Vec::new();
    if model.token.is_some() {
        model.screen = Screen::Chat;
        if model.selected.is_none() {
            model.selected = model.room_order().first().copied();
        }
        connect(model, 0, &mut fx);
    } else {
        model.screen = Screen::Login;
    }
    fx
}

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => on_key(model, key, &mut fx),
        Msg::Paste(text) => on_paste(model, &text, &mut fx),
        Msg::Mouse(mouse) => on_mouse(model, mouse, &mut fx),
        Msg::Resize(w, h) => model.size = (w, h),
        Msg::Tick => on_tick(model, &mut fx),
        Msg::Connected(welcome) => on_connected(model, *welcome, &mut fx),
        Msg::ConnectFailed { error, auth } => on_connection_lost(model, error, auth, &mut fx),
        Msg::Disconnected { reason, auth } => on_connection_lost(model, reason, auth, &mut fx),
        Msg::Server(frame) => on_frame(model, frame, &mut fx),
        Msg::Response { tag, result } => on_response(model, tag, result, &mut fx),
        Msg::Rtt(ms) => {
            if let Connection::Connected { rtt_ms, .. } = &mut model.conn {
                *rtt_ms = Some(ms);
            }
        }
        Msg::CachedOlder {
            room_id,
            before,
            events,
        } => on_cached_older(model, room_id, before, events, &mut fx),
    }
    fx
}

fn notice(model: &mut Model, text: impl Into<String>, error: bool) {
    model.notice = Some(Notice {
        text: text.into(),
        error,
        at: model.now,
    });
}

fn is_connected(model: &Model) -> bool {
    matches!(model.conn, Connection::Connected { .. })
}

fn request(fx: &mut Vec<Effect>, tag: Tag, frame: ClientFrame) {
    fx.push(Effect::Request { tag, frame });
}

// ---------------------------------------------------------------------------------------------
// Keys, paste, mouse

fn on_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        let draft = model.screen == Screen::Chat && !model.input.text().trim().is_empty();
        if draft && !model.confirm_quit {
            model.confirm_quit = true;
            notice(
                model,
                "press Ctrl-C again to quit (the unsent draft will be lost)",
                true,
            );
            return;
        }
        model.quit = true;
        fx.push(Effect::Quit);
        return;
    }
    if model.confirm_quit {
        model.confirm_quit = false;
        model.notice = None;
    }
    if ctrl && key.code == KeyCode::Char('l') {
        fx.push(Effect::Redraw);
        return;
    }
    if key.code == KeyCode::F(1) {
        model.overlay = match model.overlay {
            Some(Overlay::Help) => None,
            _ => Some(Overlay::Help),
        };
        return;
    }
    if model.overlay.is_some() {
        on_overlay_key(model, key, fx);
        return;
    }
    match model.screen {
        Screen::Login => on_login_key(model, key, fx),
        Screen::Chat => on_chat_key(model, key, fx),
    }
}

fn on_login_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let form = &mut model.login;
    let next = |f| match f {
        LoginField::Server => LoginField::Username,
        LoginField::Username => LoginField::Password,
        LoginField::Password => LoginField::Server,
    };
    let prev = |f| match f {
        LoginField::Server => LoginField::Password,
        LoginField::Username => LoginField::Server,
        LoginField::Password => LoginField::Username,
    };
    let field = match form.focus {
        LoginField::Server => &mut form.server,
        LoginField::Username => &mut form.username,
        LoginField::Password => &mut form.password,
    };
    match key.code {
        KeyCode::Char('r') if ctrl => form.register = !form.register,
        KeyCode::Char('u') if ctrl => field.clear(),
        KeyCode::Char(c) if !ctrl => field.push(c),
        KeyCode::Backspace => {
            field.pop();
        }
        KeyCode::Tab | KeyCode::Down => form.focus = next(form.focus),
        KeyCode::BackTab | KeyCode::Up => form.focus = prev(form.focus),
        KeyCode::Enter => {
            if form.focus != LoginField::Password && form.password.is_empty() {
                form.focus = next(form.focus);
            } else {
                submit_login(model, fx);
            }
        }
        _ => {}
    }
}

fn submit_login(model: &mut Model, fx: &mut Vec<Effect>) {
    if matches!(model.conn, Connection::Connecting { .. }) {
        return;
    }
    let form = &mut model.login;
    let server = form.server.trim().to_string();
    let username = form.username.trim().to_string();
    let error = if !(server.starts_with("ws://") || server.starts_with("wss://")) {
        Some("the server address starts with ws:// or wss://")
    } else if username.is_empty() {
        Some("enter a username")
    } else if form.password.is_empty() {
        Some("enter a password")
    } else {
        None
    };
    if let Some(error) = error {
        form.error = Some(error.into());
        return;
    }
    form.error = None;
    let password = form.password.clone();
    let auth = if form.register {
        Auth::Register { username, password }
    } else {
        Auth::Password { username, password }
    };
    model.server_url = server.clone();
    model.conn = Connection::Connecting { attempt: 0 };
    fx.push(Effect::Connect { url: server, auth });
}

fn on_overlay_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(overlay) = model.overlay.as_mut() else {
        return;
    };
    let picker = match overlay {
        Overlay::Help => {
            // Any key closes help; `?` and Esc are the obvious ones.
            model.overlay = None;
            return;
        }
        Overlay::Switcher(p) => p,
        Overlay::Channels { picker, .. } => picker,
    };
    match key.code {
        KeyCode::Esc => model.overlay = None,
        KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Tab => picker.selected += 1,
        KeyCode::Backspace => {
            picker.query.pop();
            picker.selected = 0;
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            picker.query.push(c);
            picker.selected = 0;
        }
        KeyCode::Enter => choose_from_overlay(model, fx),
        _ => {}
    }
}

/// The rooms the quick switcher offers for `query`, best match first.
pub fn switcher_matches(model: &Model, query: &str) -> Vec<RoomId> {
    let mut scored: Vec<(i64, usize, RoomId)> = model
        .room_order()
        .into_iter()
        .enumerate()
        .filter_map(|(rank, id)| {
            let name = model.rooms.get(&id)?.display_name();
            complete::fuzzy_score(query, &name).map(|score| (-score, rank, id))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, _, id)| id).collect()
}

/// The directory entries the /channels overlay shows for `query`.
pub fn channel_matches<'a>(channels: &'a [ChannelInfo], query: &str) -> Vec<&'a ChannelInfo> {
    let mut scored: Vec<(i64, usize, &ChannelInfo)> = channels
        .iter()
        .enumerate()
        .filter_map(|(i, c)| complete::fuzzy_score(query, &c.title).map(|s| (-s, i, c)))
        .collect();
    scored.sort_by_key(|(score, i, _)| (*score, *i));
    scored.into_iter().map(|(_, _, c)| c).collect()
}

fn choose_from_overlay(model: &mut Model, fx: &mut Vec<Effect>) {
    match model.overlay.take() {
        Some(Overlay::Switcher(picker)) => {
            let matches = switcher_matches(model, &picker.query);
            if let Some(&id) = matches.get(picker.selected.min(matches.len().saturating_sub(1))) {
                select_room(model, id, fx);
            }
        }
        Some(Overlay::Channels {
            picker,
            channels: Some(channels),
        }) => {
            let matches = channel_matches(&channels, &picker.query);
            let Some(channel) = matches
                .get(picker.selected.min(matches.len().saturating_sub(1)))
                .copied()
            else {
                return;
            };
            if channel.joined && model.rooms.contains_key(&channel.id) {
                select_room(model, channel.id, fx);
            } else if is_connected(model) {
                let frame = ClientFrame::JoinRoom(JoinRoom {
                    request_id: 0,
                    room_id: channel.id,
                });
                request(fx, Tag::OpenRoom, frame);
            } else {
                notice(model, "not connected", true);
            }
        }
        other => model.overlay = other,
    }
}

fn on_chat_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    if key.code != KeyCode::Tab {
        model.completion = None;
    }
    let pane_rows = usize::from(layout::areas(model).messages.height)
        .saturating_sub(2)
        .max(1);
    let before = model.input.text().len();
    match key.code {
        KeyCode::Char('k') if ctrl => model.overlay = Some(Overlay::Switcher(Picker::default())),
        KeyCode::Char('n') if ctrl => step_room(model, 1, fx),
        KeyCode::Char('p') if ctrl => step_room(model, -1, fx),
        KeyCode::Down if alt => step_room(model, 1, fx),
        KeyCode::Up if alt => step_room(model, -1, fx),
        KeyCode::Char('?') if model.input.is_empty() && !ctrl && !alt => {
            model.overlay = Some(Overlay::Help);
        }
        KeyCode::PageUp => scroll_up(model, pane_rows, fx),
        KeyCode::PageDown => scroll_down(model, pane_rows, fx),
        KeyCode::End if model.input.is_empty() || ctrl => scroll_to_bottom(model, fx),
        KeyCode::Esc => {
            model.notice = None;
            scroll_to_bottom(model, fx);
        }
        KeyCode::Enter if alt || shift => model.input.insert_char('\n'),
        KeyCode::Char('j') if ctrl => model.input.insert_char('\n'),
        KeyCode::Enter => submit(model, fx),
        KeyCode::Tab => complete::complete(model),
        KeyCode::Up if !model.input.up() => model.input.history_prev(),
        KeyCode::Down if !model.input.down() => model.input.history_next(),
        KeyCode::Left => model.input.left(),
        KeyCode::Right => model.input.right(),
        KeyCode::Home => model.input.home(),
        KeyCode::Char('a') if ctrl => model.input.home(),
        KeyCode::End => model.input.end(),
        KeyCode::Char('e') if ctrl => model.input.end(),
        KeyCode::Backspace => model.input.backspace(),
        KeyCode::Delete => model.input.delete(),
        KeyCode::Char('u') if ctrl => model.input.delete_to_line_start(),
        KeyCode::Char('w') if ctrl => model.input.delete_word(),
        KeyCode::Char(c) if !ctrl => model.input.insert_char(c),
        _ => {}
    }
    if model.input.text().len() != before {
        typing_changed(model, fx);
    }
}

fn on_paste(model: &mut Model, text: &str, fx: &mut Vec<Effect>) {
    match (&mut model.overlay, model.screen) {
        (Some(Overlay::Switcher(p)), _) | (Some(Overlay::Channels { picker: p, .. }), _) => {
            p.query.push_str(text.lines().next().unwrap_or_default());
        }
        (Some(Overlay::Help), _) => {}
        (None, Screen::Login) => {
            let form = &mut model.login;
            let line = text.lines().next().unwrap_or_default();
            match form.focus {
                LoginField::Server => form.server.push_str(line),
                LoginField::Username => form.username.push_str(line),
                LoginField::Password => form.password.push_str(line),
            }
        }
        (None, Screen::Chat) => {
            // The whole block goes into the input, line breaks included: a paste never sends.
            model.completion = None;
            model.input.insert_str(text);
            typing_changed(model, fx);
        }
    }
}

fn on_mouse(model: &mut Model, mouse: MouseEvent, fx: &mut Vec<Effect>) {
    if model.screen != Screen::Chat || model.overlay.is_some() {
        return;
    }
    match mouse.kind {
        MouseEventKind::ScrollUp => scroll_up(model, WHEEL_ROWS, fx),
        MouseEventKind::ScrollDown => scroll_down(model, WHEEL_ROWS, fx),
        MouseEventKind::Down(MouseButton::Left) => {
            let sidebar = layout::areas(model).sidebar;
            // Row 0 of the sidebar is its heading; rooms follow one per row.
            if mouse.column < sidebar.right() && mouse.row > sidebar.y {
                let index = usize::from(mouse.row - sidebar.y - 1);
                if let Some(&id) = model.room_order().get(index) {
                    select_room(model, id, fx);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Rooms: selecting, scrolling, reading

fn step_room(model: &mut Model, step: isize, fx: &mut Vec<Effect>) {
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

pub fn select_room(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if !model.rooms.contains_key(&room_id) {
        return;
    }
    if model.selected != Some(room_id) {
        stop_typing(model, fx);
        if let Some(old) = model.selected.and_then(|id| model.rooms.get_mut(&id)) {
            old.marker = None;
        }
        if let Some(old) = model.selected {
            model.outbox.forget_failed(old);
        }
        model.selected = Some(room_id);
        model.completion = None;
    }
    let connected = is_connected(model);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    room.mention = false;
    room.marker = first_unread(room, model.me.as_ref().map(|m| m.id));
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

/// The first message from someone else after what I have read, for the "new messages" line.
fn first_unread(room: &Room, me: Option<i64>) -> Option<chat_protocol::Seq> {
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
        .find(|e| matches!(e.content, EventContent::Message { .. }) && Some(e.sender.id) != me)
        .map(|e| e.seq)
}

fn geometry(model: &Model) -> (Geometry, usize) {
    let area = layout::areas(model).messages;
    (Geometry::new(area.width), usize::from(area.height))
}

fn scroll_up(model: &mut Model, rows: usize, fx: &mut Vec<Effect>) {
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

fn load_older_if_needed(room: &mut Room, near_top: bool, fx: &mut Vec<Effect>) {
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

fn scroll_down(model: &mut Model, rows: usize, fx: &mut Vec<Effect>) {
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
}

fn scroll_to_bottom(model: &mut Model, fx: &mut Vec<Effect>) {
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
fn mark_read(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if model.screen != Screen::Chat || model.overlay.is_some() || model.selected != Some(room_id) {
        return;
    }
    let me = model.me.as_ref().map(|m| m.id);
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
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

fn unread_after(room: &Room, me: Option<i64>, read_seq: chat_protocol::Seq) -> u32 {
    let events = room.timeline.events();
    let start = room.timeline.position(read_seq + 1).unwrap_or_else(|i| i);
    events[start..]
        .iter()
        .filter(|e| matches!(e.content, EventContent::Message { .. }) && Some(e.sender.id) != me)
        .count() as u32
}

/// Send this device's delivered and read marks for a room if they moved.
fn flush_receipts(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
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

// ---------------------------------------------------------------------------------------------
// Typing

fn typing_changed(model: &mut Model, fx: &mut Vec<Effect>) {
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

fn stop_typing(model: &mut Model, fx: &mut Vec<Effect>) {
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

// ---------------------------------------------------------------------------------------------
// Sending and commands

fn submit(model: &mut Model, fx: &mut Vec<Effect>) {
    let text = model.input.text().trim_end().to_string();
    if text.trim().is_empty() {
        return;
    }
    if text.starts_with('/') && !text.starts_with("//") {
        match commands::parse(&text) {
            Ok(command) => {
                model.input.take();
                run_command(model, command, fx);
            }
            Err(message) => notice(model, message, true),
        }
        return;
    }
    // "//text" sends "/text".
    let text = text
        .strip_prefix('/')
        .filter(|t| t.starts_with('/'))
        .unwrap_or(&text);
    let Some(room) = model.selected_room() else {
        notice(model, "no room open: /join a channel or /dm someone", true);
        return;
    };
    let chars = text.chars().count();
    if chars > model.limits.max_message_chars {
        let limit = model.limits.max_message_chars;
        notice(
            model,
            format!("message is {chars} characters; the limit is {limit}"),
            true,
        );
        return;
    }
    if room.summary.kind == RoomKind::Announcement && !room.summary.role.can_manage() {
        notice(model, "only admins can post in an announcement room", true);
        return;
    }
    let room_id = room.id();
    let item = OutboxItem {
        client_id: model.rng.client_id(),
        room_id,
        text: text.to_string(),
        created: model.now,
        state: OutboxState::Queued,
    };
    model.input.take();
    stop_typing(model, fx);
    fx.push(Effect::Cache(CacheOp::OutboxPut(item.clone())));
    model.outbox.push(item);
    if let Some(room) = model.rooms.get_mut(&room_id) {
        room.scroll = Scroll::Bottom;
        room.unseen_below = 0;
    }
    pump_outbox(model, fx);
}

/// Send the next queued message if the connection is up and nothing is in flight.
fn pump_outbox(model: &mut Model, fx: &mut Vec<Effect>) {
    if !is_connected(model) || model.now < model.outbox_retry_at {
        return;
    }
    if let Some(item) = model.outbox.take_next() {
        let frame = ClientFrame::SendMessage(SendMessage {
            request_id: 0,
            room_id: item.room_id,
            client_id: item.client_id.clone(),
            text: item.text.clone(),
        });
        let tag = Tag::Send {
            client_id: item.client_id.clone(),
        };
        request(fx, tag, frame);
    }
}

fn run_command(model: &mut Model, command: Command, fx: &mut Vec<Effect>) {
    match command {
        Command::Help => {
            model.overlay = Some(Overlay::Help);
            return;
        }
        Command::Quit => {
            model.quit = true;
            fx.push(Effect::Quit);
            return;
        }
        Command::Reconnect => {
            if is_connected(model) || matches!(model.conn, Connection::Connecting { .. }) {
                fx.push(Effect::Disconnect);
                connection_reset(model);
            }
            connect(model, 0, fx);
            return;
        }
        Command::Logout => {
            let waiting = model.outbox.waiting();
            if waiting > 0 && !model.confirm_logout {
                model.confirm_logout = true;
                notice(
                    model,
                    format!("{waiting} message(s) not sent yet would be lost: /logout again to log out anyway"),
                    true,
                );
                return;
            }
            logout(model, None, fx);
            return;
        }
        _ => {}
    }
    if !is_connected(model) {
        notice(model, "not connected: this command needs the server", true);
        return;
    }
    let room = model.selected_room().map(|r| (r.id(), r.display_name()));
    let need_room = || room.clone().ok_or("no room open");
    let (tag, frame) = match command {
        Command::Join(name) => match name.parse::<RoomId>() {
            Ok(room_id) => (
                Tag::OpenRoom,
                ClientFrame::JoinRoom(JoinRoom {
                    request_id: 0,
                    room_id,
                }),
            ),
            Err(_) => (
                Tag::JoinByName(name),
                ClientFrame::ListChannels(ListChannels { request_id: 0 }),
            ),
        },
        Command::Create {
            kind,
            title,
            members,
        } => (
            Tag::OpenRoom,
            ClientFrame::CreateRoom(CreateRoom {
                request_id: 0,
                kind,
                title,
                topic: String::new(),
                members,
            }),
        ),
        Command::Dm(username) => (
            Tag::OpenRoom,
            ClientFrame::OpenDirect(OpenDirect {
                request_id: 0,
                username,
            }),
        ),
        Command::Channels => {
            model.overlay = Some(Overlay::Channels {
                picker: Picker::default(),
                channels: None,
            });
            (
                Tag::Channels,
                ClientFrame::ListChannels(ListChannels { request_id: 0 }),
            )
        }
        room_command => {
            let (room_id, name) = match need_room() {
                Ok(r) => r,
                Err(e) => {
                    notice(model, e, true);
                    return;
                }
            };
            match room_command {
                Command::Leave => (
                    Tag::Action(format!("you left {name}")),
                    ClientFrame::LeaveRoom(LeaveRoom {
                        request_id: 0,
                        room_id,
                    }),
                ),
                Command::Invite(username) => (
                    Tag::Action(format!("added {username} to {name}")),
                    ClientFrame::AddMember(AddMember {
                        request_id: 0,
                        room_id,
                        username,
                    }),
                ),
                Command::Kick(username) => (
                    Tag::Action(format!("removed {username} from {name}")),
                    ClientFrame::RemoveMember(RemoveMember {
                        request_id: 0,
                        room_id,
                        username,
                    }),
                ),
                Command::Topic(topic) => (
                    Tag::Action("topic set".into()),
                    ClientFrame::SetTopic(SetTopic {
                        request_id: 0,
                        room_id,
                        topic,
                    }),
                ),
                Command::Rename(title) => (
                    Tag::Action(format!("renamed to {title}")),
                    ClientFrame::RenameRoom(RenameRoom {
                        request_id: 0,
                        room_id,
                        title,
                    }),
                ),
                _ => return,
            }
        }
    };
    request(fx, tag, frame);
}

fn logout(model: &mut Model, reason: Option<String>, fx: &mut Vec<Effect>) {
    fx.push(Effect::Disconnect);
    fx.push(Effect::ForgetSession);
    fx.push(Effect::Cache(CacheOp::Clear));
    connection_reset(model);
    model.conn = Connection::Offline;
    model.token = None;
    model.me = None;
    model.rooms.clear();
    model.selected = None;
    model.outbox = Default::default();
    model.confirm_logout = false;
    model.overlay = None;
    model.screen = Screen::Login;
    model.login.password.clear();
    model.login.focus = LoginField::Password;
    model.login.error = reason;
}

// ---------------------------------------------------------------------------------------------
// The connection

fn connect(model: &mut Model, attempt: u32, fx: &mut Vec<Effect>) {
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
fn connection_reset(model: &mut Model) {
    model.outbox.requeue();
    model.typing_sent = None;
    for room in model.rooms.values_mut() {
        room.typing.clear();
        room.fetching_after = false;
        room.loading_older = false;
        room.members_loaded = false;
    }
}

fn on_connection_lost(model: &mut Model, reason: String, auth: bool, fx: &mut Vec<Effect>) {
    let previous = std::mem::replace(&mut model.conn, Connection::Offline);
    connection_reset(model);
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
        model.login.error = Some(format!("cannot connect: {reason}"));
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

fn on_tick(model: &mut Model, fx: &mut Vec<Effect>) {
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
}

fn on_connected(model: &mut Model, welcome: Welcome, fx: &mut Vec<Effect>) {
    let previous_attempt = match model.conn {
        Connection::Connecting { attempt } => attempt,
        _ => 0,
    };
    let _ = previous_attempt;
    model.conn = Connection::Connected {
        since: model.now,
        rtt_ms: None,
    };
    let switched_account = model.me.as_ref().is_some_and(|me| me.id != welcome.user.id);
    if switched_account {
        model.rooms.clear();
        model.outbox = Default::default();
        model.selected = None;
        fx.push(Effect::Cache(CacheOp::Clear));
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
    model.online = welcome
        .presence
        .iter()
        .map(|p| (p.user.id, p.online))
        .collect();

    let listed: std::collections::HashSet<RoomId> = welcome.rooms.iter().map(|r| r.id).collect();
    let gone: Vec<RoomId> = model
        .rooms
        .keys()
        .copied()
        .filter(|id| !listed.contains(id))
        .collect();
    for id in gone {
        model.rooms.remove(&id);
        fx.push(Effect::Cache(CacheOp::RemoveRoom(id)));
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

/// Take the server's word for a room's summary and start catching up on what we lack.
fn upsert_room(model: &mut Model, mut summary: RoomSummary, fx: &mut Vec<Effect>) {
    let room_id = summary.id;
    let me = model.me.as_ref().map(|m| m.id);
    match model.rooms.get_mut(&room_id) {
        Some(room) => {
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
fn catch_up(room: &mut Room, fx: &mut Vec<Effect>) {
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

// ---------------------------------------------------------------------------------------------
// Pushed frames

fn on_frame(model: &mut Model, frame: ServerFrame, fx: &mut Vec<Effect>) {
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
        ServerFrame::Presence(p) => {
            model.online.insert(p.user.id, p.online);
        }
        ServerFrame::RoomAdded(added) => {
            let room_id = added.room.id;
            upsert_room(model, added.room, fx);
            if model.selected.is_none() {
                select_room(model, room_id, fx);
            }
        }
        ServerFrame::RoomRemoved(removed) => remove_room(model, removed.room_id, fx),
        ServerFrame::Error(e) => notice(model, format!("server: {}", e.message), true),
        _ => {}
    }
}

fn remove_room(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    if model.rooms.remove(&room_id).is_none() {
        return;
    }
    fx.push(Effect::Cache(CacheOp::RemoveRoom(room_id)));
    if model.selected == Some(room_id) {
        model.selected = None;
        if let Some(&next) = model.room_order().first() {
            select_room(model, next, fx);
        }
    }
}

fn on_live_event(model: &mut Model, event: RoomEvent, fx: &mut Vec<Effect>) {
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
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    if let EventContent::Message { .. } = &event.content {
        room.typing.retain(|(u, _)| u.id != event.sender.id);
        if !mine {
            if !watching {
                if event.seq > room.summary.read_seq {
                    room.summary.unread += 1;
                }
                if mentions {
                    room.mention = true;
                }
                if model.selected == Some(room_id) && room.scroll != Scroll::Bottom {
                    room.unseen_below += 1;
                }
            }
            let notify = !watching && (room.summary.kind == RoomKind::Direct || mentions);
            if notify {
                let title = format!("{} in {}", event.sender.username, room.display_name());
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

fn message_mentions_me(model: &Model, event: &RoomEvent) -> bool {
    !model.is_me(&event.sender)
        && crate::model::message_text(event).is_some_and(|t| model.mentions_me(t))
}

fn catch_up_after_gap(room: &mut Room, fx: &mut Vec<Effect>) {
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
fn add_events(
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
    fx.push(Effect::Cache(CacheOp::Room {
        summary: room.summary.clone(),
        synced_to: room.timeline.synced_to(),
    }));
    for event in &added {
        if let EventContent::Message { client_id, .. } = &event.content {
            if Some(event.sender.id) == me && model.outbox.remove(client_id).is_some() {
                fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id.clone())));
            }
        }
    }
    added
}

// ---------------------------------------------------------------------------------------------
// Responses

fn describe_error(e: &RequestError) -> String {
    e.message.clone()
}

fn on_response(
    model: &mut Model,
    tag: Tag,
    result: Result<ServerFrame, RequestError>,
    fx: &mut Vec<Effect>,
) {
    match (tag, result) {
        (Tag::Send { client_id }, Ok(ServerFrame::MessageSent(ack))) => {
            let item = model.outbox.remove(&client_id);
            fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id.clone())));
            if let (Some(item), Some(me)) = (item, model.me.clone()) {
                let event = RoomEvent {
                    room_id: ack.room_id,
                    seq: ack.seq,
                    ts: ack.ts,
                    sender: me,
                    content: EventContent::Message {
                        message_id: ack.message_id,
                        client_id,
                        text: item.text,
                    },
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
                model.outbox.fail(&client_id, describe_error(&e));
                fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id)));
                notice(
                    model,
                    format!("message not sent: {}", describe_error(&e)),
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
                room.marker = first_unread(room, model.me.as_ref().map(|m| m.id));
            }
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
                add_events(model, room_id, history.events, fx);
            }
        }
        (Tag::Members { room_id }, Ok(ServerFrame::Members(members))) => {
            let me = model.me.as_ref().map(|m| m.id);
            if let Some(room) = model.rooms.get_mut(&room_id) {
                room.members = members.members.iter().map(|m| m.user.clone()).collect();
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
            notice(model, describe_error(&e), true);
        }
        (Tag::Action(text), Ok(_)) => notice(model, text, false),
        (Tag::Quiet, _) => {}
        (_, Err(e)) => notice(model, describe_error(&e), true),
        (_, Ok(_)) => {}
    }
}

fn on_cached_older(
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
