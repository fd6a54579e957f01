//! Keys, pastes and the mouse: what each does on each screen.

use super::*;
use crate::keymap::Action;
use crate::model::Compose;

pub(crate) fn on_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        // Nothing is lost by quitting: the draft and the queue are kept on disk.
        save_draft(model, fx);
        model.quit = true;
        fx.push(Effect::Quit);
        return;
    }
    match model.settings.keys.action(&key) {
        Some(Action::Redraw) => {
            fx.push(Effect::Redraw);
            return;
        }
        Some(Action::Help) => {
            model.help_scroll = 0;
            model.overlay = match model.overlay {
                Some(Overlay::Help) => None,
                _ => Some(Overlay::Help),
            };
            return;
        }
        _ => {}
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

pub(crate) fn on_login_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
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

pub(crate) fn submit_login(model: &mut Model, fx: &mut Vec<Effect>) {
    if matches!(model.conn, Connection::Connecting { .. }) {
        return;
    }
    let form = &mut model.login;
    let server = form.server.trim().to_string();
    let username = form.username.trim().to_string();
    let error = if let Err(e) = chat_protocol::client::check_url(&server) {
        Some(e)
    } else if username.is_empty() {
        Some("enter a username".into())
    } else if form.password.is_empty() {
        Some("enter a password".into())
    } else {
        None
    };
    if let Some(error) = error {
        form.error = Some(error);
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

pub(crate) fn on_overlay_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(overlay) = model.overlay.as_mut() else {
        return;
    };
    let picker = match overlay {
        Overlay::Help
            if matches!(
                key.code,
                KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown
            ) =>
        {
            model.help_scroll = match key.code {
                KeyCode::Up => model.help_scroll.saturating_sub(1),
                KeyCode::Down => model.help_scroll.saturating_add(1),
                KeyCode::PageUp => model.help_scroll.saturating_sub(10),
                _ => model.help_scroll.saturating_add(10),
            };
            return;
        }
        Overlay::Help | Overlay::Members { .. } => {
            // Any key closes help. Esc and Enter only close it; any other key also does what
            // it does, so a letter typed to get out of the help is not lost.
            model.overlay = None;
            if !matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                match model.screen {
                    Screen::Login => on_login_key(model, key, fx),
                    Screen::Chat => on_chat_key(model, key, fx),
                }
            }
            return;
        }
        Overlay::Unsent { .. } => {
            on_unsent_key(model, key, fx);
            return;
        }
        Overlay::React { .. }
        | Overlay::ConfirmDelete { .. }
        | Overlay::Thread { .. }
        | Overlay::ReadBy { .. }
        | Overlay::Mentions { .. } => {
            on_message_overlay_key(model, key, fx);
            return;
        }
        Overlay::Search { .. } => {
            on_search_key(model, key, fx);
            return;
        }
        Overlay::ConfirmUpload { .. } => {
            on_confirm_upload_key(model, key, fx);
            return;
        }
        Overlay::Files { .. } => {
            on_files_key(model, key, fx);
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
    // Rooms archived for me are found here too (after the listed ones), to go back to them.
    let hidden = model
        .rooms
        .values()
        .filter(|r| r.summary.settings.hidden && model.selected != Some(r.id()))
        .map(|r| r.id());
    let mut scored: Vec<(i64, usize, RoomId)> = model
        .room_order()
        .into_iter()
        .chain(hidden)
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

pub(crate) fn choose_from_overlay(model: &mut Model, fx: &mut Vec<Effect>) {
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

pub(crate) fn on_chat_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
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
    if model.selection.is_some() {
        on_selection_key(model, key, fx);
        return;
    }
    if shift && key.code == KeyCode::Up {
        start_selection(model);
        return;
    }
    match model.settings.keys.action(&key) {
        Some(Action::Switcher) => {
            model.overlay = Some(Overlay::Switcher(Picker::default()));
            return;
        }
        Some(Action::NextRoom) => return step_room(model, 1, fx),
        Some(Action::PrevRoom) => return step_room(model, -1, fx),
        Some(Action::NextUnread) => return next_unread_room(model, fx),
        Some(Action::Search) => {
            open_search(model, "", fx);
            return;
        }
        Some(Action::Help | Action::Redraw) | None => {}
    }
    match key.code {
        KeyCode::PageUp => scroll_up(model, pane_rows, fx),
        KeyCode::PageDown => scroll_down(model, pane_rows, fx),
        KeyCode::End if model.input.is_empty() || ctrl => scroll_to_bottom(model, fx),
        KeyCode::Esc if cancel_compose(model) => {}
        KeyCode::Esc => {
            let idle = model.input.is_empty()
                && model
                    .selected_room()
                    .is_some_and(|r| r.scroll == Scroll::Bottom);
            model.notice = None;
            if idle {
                // Esc from an empty input, already at the bottom: select a message.
                start_selection(model);
            } else {
                scroll_to_bottom(model, fx);
            }
        }
        KeyCode::Enter if alt || shift => model.input.insert_char('\n'),
        KeyCode::Char('j') if ctrl => model.input.insert_char('\n'),
        KeyCode::Enter => submit(model, fx),
        KeyCode::Tab if complete_upload_path(model, fx) => {}
        KeyCode::Tab => complete::complete(model),
        KeyCode::Up if ctrl => model.input.history_prev(),
        KeyCode::Down if ctrl => model.input.history_next(),
        KeyCode::Up if model.input.is_empty() && model.compose.is_none() && edit_last(model) => {}
        KeyCode::Up if model.input.up() => {}
        KeyCode::Up if edit_neighbour(model, true) => {}
        // While editing, the oldest (newest) message is where Up (Down) stops.
        KeyCode::Up | KeyCode::Down if matches!(model.compose, Some(Compose::Edit { .. })) => {}
        KeyCode::Up => model.input.history_prev(),
        KeyCode::Down if model.input.down() => {}
        KeyCode::Down if edit_neighbour(model, false) => {}
        KeyCode::Down => model.input.history_next(),
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

pub(crate) fn on_paste(model: &mut Model, text: &str, fx: &mut Vec<Effect>) {
    match (&mut model.overlay, model.screen) {
        (Some(Overlay::Switcher(p)), _) | (Some(Overlay::Channels { picker: p, .. }), _) => {
            p.query.push_str(text.lines().next().unwrap_or_default());
        }
        (Some(Overlay::React { picker, .. } | Overlay::Search { picker, .. }), _) => {
            picker
                .query
                .push_str(text.lines().next().unwrap_or_default());
        }
        (
            Some(Overlay::ConfirmUpload {
                text: pasted, also, ..
            }),
            _,
        ) => {
            // Text pasted while the upload question is open is kept for the input.
            pasted.push_str(text);
            also.push_str(text);
        }
        (Some(_), _) => {}
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

pub(crate) fn on_mouse(model: &mut Model, mouse: MouseEvent, fx: &mut Vec<Effect>) {
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
