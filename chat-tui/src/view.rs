//! `view`: draws the model. It only reads; nothing here changes state or does I/O.

mod login;
mod message_overlays;
mod overlay;
#[cfg(test)]
mod preview_tests;
mod sidebar;
#[cfg(test)]
pub(crate) mod tests;
pub mod theme;

use crate::layout::{self, Areas, PROMPT};
use crate::model::{typing_text, Compose, Connection, EditTarget, Model, Screen, Scroll};
use crate::pane::{self, Geometry};
use crate::update::SelectionRights;
use crate::wrap;
use chat_protocol::RoomKind;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// An image preview's place on screen: the band of the message pane it is drawn in (and cut
/// to), and its spot there, `row` counted from the band's top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewPlace {
    pub spot: pane::PreviewSpot,
    pub band: Rect,
}

/// Draw the model; the places left for image previews, which the runtime draws the pictures
/// into (none while a window is open over the pane: a picture would cover it).
pub fn view(model: &Model, frame: &mut Frame<'_>) -> Vec<PreviewPlace> {
    let places = match model.screen {
        Screen::Login => {
            login::draw(model, frame);
            Vec::new()
        }
        Screen::Chat => draw_chat(model, frame),
    };
    overlay::draw(model, frame);
    theme::apply(frame.buffer_mut(), model.settings.theme);
    if model.overlay.is_some() {
        return Vec::new();
    }
    places
}

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

fn draw_chat(model: &Model, frame: &mut Frame<'_>) -> Vec<PreviewPlace> {
    let areas = layout::areas(model);
    sidebar::draw(model, frame, areas.sidebar);
    if areas.sidebar.width > 0 {
        let line_x = areas.sidebar.right();
        let divider: Vec<Line<'_>> = (0..areas.sidebar.height)
            .map(|_| Line::styled("│", dim()))
            .collect();
        frame.render_widget(
            Paragraph::new(divider),
            Rect::new(line_x, 0, 1, areas.sidebar.height),
        );
    }
    draw_header(model, frame, areas.header);
    let places = draw_messages(model, frame, areas.messages);
    draw_typing(model, frame, areas.typing);
    draw_input(model, frame, &areas);
    draw_status(model, frame, areas.status);
    places
}

fn draw_header(model: &Model, frame: &mut Frame<'_>, area: Rect) {
    let style = Style::default().bg(Color::DarkGray).fg(Color::White);
    let Some(room) = model.selected_room() else {
        let text = " no conversations yet: /join a channel, /dm someone or /create one";
        frame.render_widget(Paragraph::new(text).style(style), area);
        return;
    };
    let mut spans = vec![Span::styled(
        format!(" {}", room.shown_name()),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if room.summary.kind == RoomKind::Direct {
        let presence = match model.peer_away(room) {
            Some(message) => format!(" · away: {}", wrap::sanitize(message)),
            None if model.peer_online(room) => " · online".into(),
            None => " · offline".into(),
        };
        spans.push(Span::raw(presence));
    } else {
        let count = room.summary.member_count;
        spans.push(Span::raw(format!(
            " · {count} member{}",
            if count == 1 { "" } else { "s" }
        )));
        if room.summary.kind == RoomKind::Announcement {
            spans.push(Span::raw(" · announcements"));
        }
    }
    if !room.summary.topic.is_empty() {
        spans.push(Span::raw(format!(
            " — {}",
            wrap::sanitize(&room.summary.topic)
        )));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
}

fn draw_messages(model: &Model, frame: &mut Frame<'_>, area: Rect) -> Vec<PreviewPlace> {
    let Some(room) = model.selected_room() else {
        return Vec::new();
    };
    let g = Geometry::of(model, area.width);
    let pane_height = usize::from(area.height);
    let pane::Visible {
        mut lines,
        previews,
    } = pane::visible(model, room, g, pane_height);
    if lines.is_empty() {
        let text = if room.fetching_after || room.loading_older {
            "loading…"
        } else {
            "no messages yet: say hello"
        };
        lines.push(Line::styled(format!("  {text}"), dim()));
    }
    // Short conversations sit at the bottom, next to the input.
    let top_pad = pane_height.saturating_sub(lines.len());
    let mut padded: Vec<Line<'_>> = vec![Line::raw(""); top_pad];
    if top_pad > 0 && room.loading_older {
        padded[0] = Line::styled("  loading older messages…", dim());
    }
    padded.extend(lines);
    frame.render_widget(Paragraph::new(padded), area);
    let hint = (room.scroll != Scroll::Bottom && area.height > 0).then(|| {
        if room.unseen_below > 0 {
            format!(" ↓ {} new below · Esc to jump ", room.unseen_below)
        } else {
            " ↓ more below · Esc to jump ".to_string()
        }
    });
    let hint_area = hint.as_ref().map(|hint| {
        let width = (wrap::width(hint) as u16).min(area.width);
        Rect::new(area.right() - width, area.bottom() - 1, width, 1)
    });
    // Pictures start after the time and name; one that reaches under the "more below" hint
    // stops above it.
    let left = (g.prefix() as u16).min(area.width);
    let places = previews
        .into_iter()
        .map(|spot| {
            let mut band = Rect::new(
                area.x + left,
                area.y,
                spot.cols.min(area.width - left),
                area.height,
            );
            if hint_area.is_some_and(|h| band.right() > h.x) {
                band.height -= 1;
            }
            PreviewPlace {
                band,
                spot: pane::PreviewSpot {
                    row: spot.row + top_pad as i32,
                    ..spot
                },
            }
        })
        .collect();
    if let (Some(hint), Some(hint_area)) = (hint, hint_area) {
        frame.render_widget(Clear, hint_area);
        frame.render_widget(
            Paragraph::new(hint).style(Style::default().bg(Color::Blue).fg(Color::White)),
            hint_area,
        );
    }
    places
}

/// The keys of message selection mode, as its hint line and the help list them.
pub const SELECTION_KEYS: &[(&str, &str)] = &[
    (
        "Esc (empty input), Shift-Up",
        "select a message; Up, Down move",
    ),
    (
        "e",
        "edit your message (Up in an empty input: your last one)",
    ),
    ("d", "delete (yours; any as owner or admin), after a y"),
    ("r, Enter", "reply"),
    (
        "+",
        "react: the usual emoji or any text; again takes it back",
    ),
    ("t", "the thread: the message and its replies"),
    (
        "o, s",
        "open its file (xdg-open, open), or save its files to your downloads",
    ),
    ("y", "copy the text to the clipboard"),
    ("i", "who has read it"),
    ("Esc", "back to the input"),
];

/// The keys the selected message allows, in words when they fit, else as bare keys.
fn selection_hint(rights: SelectionRights, width: usize) -> String {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if rights.files {
        keys.extend([("o", "open"), ("s", "save")]);
    }
    if rights.mine {
        keys.push(("e", "edit"));
    }
    if rights.may_delete {
        keys.push(("d", "delete"));
    }
    keys.extend([
        ("r", "reply"),
        ("+", "react"),
        ("t", "thread"),
        ("y", "copy"),
        ("i", "read by"),
    ]);
    let words: Vec<String> = keys.iter().map(|(k, w)| format!("{k} {w}")).collect();
    let long = format!(" {}  Esc", words.join("  "));
    if wrap::width(&long) <= width {
        return long;
    }
    let bare: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    format!(" {} Esc · F1", bare.join(" "))
}

fn draw_typing(model: &Model, frame: &mut Frame<'_>, area: Rect) {
    let compose = match &model.compose {
        Some(Compose::Reply {
            sender, excerpt, ..
        }) => Some(format!(
            "↳ replying to {sender}: {} · Esc cancels",
            wrap::sanitize(excerpt).replace('\n', " ")
        )),
        Some(Compose::Edit { target, .. }) => Some(match target {
            EditTarget::Sent(_) => {
                "editing your message · Enter saves (empty: delete) · Esc cancels".to_string()
            }
            EditTarget::Queued(_) => {
                "editing your unsent message · Enter saves (empty: discard) · Esc cancels"
                    .to_string()
            }
        }),
        None => None,
    };
    let selected = crate::update::selection_rights(model);
    let line = if let (Some(rights), None) = (selected, &model.notice) {
        Line::styled(
            selection_hint(rights, usize::from(area.width)),
            Style::default().fg(Color::Cyan),
        )
    } else if let (Some(text), None) = (&compose, &model.notice) {
        Line::styled(
            wrap::truncate(&format!(" {text}"), usize::from(area.width)),
            Style::default().fg(Color::Cyan),
        )
    } else if let Some(notice) = &model.notice {
        let color = if notice.error {
            Color::Red
        } else {
            Color::Green
        };
        let mut rows = layout::notice_lines(model, area.width);
        let fits = usize::from(area.height.max(1));
        if rows.len() > fits {
            // Longer than the rows it may take: the last one says so.
            rows.truncate(fits);
            let last = rows.pop().unwrap_or_default();
            rows.push(wrap::truncate(&format!("{last}…"), usize::from(area.width)));
        }
        let lines: Vec<Line<'_>> = rows.into_iter().map(Line::raw).collect();
        frame.render_widget(
            Paragraph::new(lines).style(Style::default().fg(color)),
            area,
        );
        return;
    } else {
        let names: Vec<&str> = model
            .selected_room()
            .map(|r| r.typing.iter().map(|(u, _)| u.username.as_str()).collect())
            .unwrap_or_default();
        match typing_text(&names) {
            Some(text) => Line::styled(format!(" {text}"), dim().add_modifier(Modifier::ITALIC)),
            None => Line::raw(""),
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_input(model: &Model, frame: &mut Frame<'_>, areas: &Areas) {
    let area = areas.input;
    let prompt_width = PROMPT.chars().count() as u16;
    let text_width = area.width.saturating_sub(prompt_width);
    let text = model.input.text();
    if text.is_empty() {
        let hint = match (&model.conn, model.selected_room()) {
            (_, None) => "type /help for commands".to_string(),
            (_, Some(room))
                if room.summary.kind == RoomKind::Announcement
                    && !room.summary.role.can_manage() =>
            {
                "read-only: only admins post in this announcement room".to_string()
            }
            (Connection::Connected { .. }, Some(room)) => {
                format!(
                    "message {} · Alt-Enter new line · F1 help",
                    room.shown_name()
                )
            }
            (_, Some(_)) => "offline: messages wait here and go out on reconnect".to_string(),
        };
        let line = Line::from(vec![
            Span::styled(PROMPT, Style::default().fg(Color::Cyan)),
            Span::styled(hint, dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        frame.set_cursor_position(Position::new(area.x + prompt_width, area.y));
        return;
    }
    let rows = wrap::hard_wrap(text, text_width.into());
    let cursor = model.input.cursor();
    let cursor_row = rows.iter().rposition(|r| r.start <= cursor).unwrap_or(0);
    let visible = usize::from(area.height).max(1);
    let first = (cursor_row + 1).saturating_sub(visible);
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, range)| {
            let prompt = if i == 0 { PROMPT } else { "  " };
            Line::from(vec![
                Span::styled(prompt, Style::default().fg(Color::Cyan)),
                Span::raw(wrap::sanitize(&text[range.clone()])),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
    let row = &rows[cursor_row];
    let column = wrap::width(&wrap::sanitize(
        &text[row.start..cursor.min(row.end).max(row.start)],
    )) as u16;
    frame.set_cursor_position(Position::new(
        area.x + prompt_width + column.min(text_width),
        area.y + (cursor_row - first) as u16,
    ));
}

/// A ping unanswered for this long makes the round trip unknown, and says so.
const PING_OVERDUE_MS: i64 = 2_000;

/// The connection state in words, as the status bar shows it: the state itself first, then the
/// details in the order they are given up when the window is narrow.
pub fn connection_text(model: &Model) -> (String, Vec<String>, Color) {
    let queued = model.outbox.waiting();
    let mut details = Vec::new();
    if queued > 0 {
        details.push(format!("{queued} queued"));
    }
    if let Some(message) = model.me.as_ref().and_then(|me| model.away.get(&me.id)) {
        details.push(format!("away: {}", wrap::sanitize(message)));
    }
    if layout::areas(model).sidebar.width == 0 {
        // No sidebar in a narrow window: say where there is something new, as irssi's act list.
        if let Some(activity) = activity(model) {
            details.push(activity);
        }
    }
    let unsent = model.outbox.failed().count();
    if unsent > 0 {
        details.push(format!("{unsent} not sent (/unsent)"));
    }
    details.extend(crate::update::transfers_text(model));
    match &model.conn {
        Connection::Connected {
            rtt_ms, ping_sent, ..
        } => {
            let overdue = ping_sent.filter(|sent| model.now - sent >= PING_OVERDUE_MS);
            if let Some(sent) = overdue {
                let secs = (model.now - sent) / 1000;
                details.insert(0, format!("no answer for {secs} s"));
                return ("● connected".into(), details, Color::Yellow);
            }
            if let Some(ms) = rtt_ms {
                details.push(format!("{ms} ms"));
            }
            ("● connected".into(), details, Color::Green)
        }
        Connection::Connecting { attempt } => {
            if *attempt > 0 {
                details.push(format!("attempt {}", attempt + 1));
            }
            ("◌ connecting…".into(), details, Color::Yellow)
        }
        Connection::Waiting {
            attempt,
            retry_at,
            reason,
        } => {
            let secs = ((retry_at - model.now).max(0) + 999) / 1000;
            details.push(reason.clone());
            details.push(format!("reconnecting in {secs} s"));
            details.push(format!("attempt {}", attempt + 1));
            ("○ offline".into(), details, Color::Red)
        }
        Connection::Offline => ("○ offline".into(), details, Color::Red),
    }
}

/// Rooms other than the one in view with unread messages, mentions first: `new: @bob 2, #dev 5`.
fn activity(model: &Model) -> Option<String> {
    let mut rooms: Vec<_> = model
        .room_order()
        .into_iter()
        .filter(|id| Some(*id) != model.selected)
        .filter_map(|id| model.rooms.get(&id))
        .filter(|r| r.summary.unread > 0)
        .collect();
    rooms.sort_by_key(|r| !r.mention);
    if rooms.is_empty() {
        return None;
    }
    let listed: Vec<String> = rooms
        .iter()
        .map(|r| {
            let at = if r.mention { "@" } else { "" };
            format!("{at}{} {}", r.shown_name(), r.summary.unread)
        })
        .collect();
    Some(format!("new: {}", listed.join(", ")))
}

/// The status bar: connection state and queue count are the last things a narrow window cuts;
/// who and where come after them, then the help hint.
pub fn status_line(model: &Model, width: usize) -> (String, String, Color) {
    let (state, details, color) = connection_text(model);
    let mut left = format!(" {state}");
    for detail in details {
        let longer = format!("{left} · {detail}");
        if wrap::width(&longer) > width {
            break;
        }
        left = longer;
    }
    let left = wrap::truncate(&left, width);
    let room = width.saturating_sub(wrap::width(&left) + 2);
    let user = model.me.as_ref().map(|me| me.username.as_str());
    let candidates = [
        user.map(|u| format!("{u} @ {} · F1 help ", model.server_url)),
        Some(format!("{} · F1 help ", model.server_url)),
        user.map(|u| format!("{u} · F1 help ")),
        user.map(|u| format!("{u} ")),
    ];
    let right = candidates
        .into_iter()
        .flatten()
        .find(|c| wrap::width(c) <= room)
        .unwrap_or_default();
    (left, right, color)
}

fn draw_status(model: &Model, frame: &mut Frame<'_>, area: Rect) {
    let width = usize::from(area.width);
    let (left, right, color) = status_line(model, width);
    let pad = width.saturating_sub(wrap::width(&left) + wrap::width(&right));
    let line = Line::from(vec![
        Span::styled(left, Style::default().fg(color)),
        Span::raw(" ".repeat(pad)),
        Span::styled(right, dim()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}
