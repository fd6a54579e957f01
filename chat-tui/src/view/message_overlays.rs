//! Overlays about messages: the reaction picker, the delete confirmation, a thread, who has
//! read a message, and /mentions.

use super::overlay::centered;
use crate::model::{Model, Picker, QUICK_REACTIONS};
use crate::pane::{local_time, user_color};
use crate::wrap;
use chat_protocol::{EventContent, MessageId, RoomEvent, RoomId, Seq};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

fn boxed(frame: &mut Frame<'_>, title: &str, lines: Vec<Line<'static>>, width: u16) {
    let height = (lines.len() as u16 + 2).min(frame.area().height);
    let rect = centered(frame, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_string()),
        ),
        rect,
    );
}

pub fn draw_react(frame: &mut Frame<'_>, picker: &Picker) {
    // Two rows of four when the window is narrow.
    let per_row = if frame.area().width < 52 { 4 } else { 8 };
    let mut lines = Vec::new();
    for (row, emojis) in QUICK_REACTIONS.chunks(per_row).enumerate() {
        let mut quick = vec![Span::raw(" ")];
        for (j, emoji) in emojis.iter().enumerate() {
            let i = row * per_row + j;
            // Drawn as the terminal can (❤️ as ❤), sent as it is.
            let label = format!("{} {} ", i + 1, wrap::sanitize(emoji));
            let style = if i == picker.selected && picker.query.is_empty() {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            quick.push(Span::styled(label, style));
        }
        lines.push(Line::from(quick));
    }
    lines.extend([
        Line::from(vec![
            Span::styled(" or type: ", dim()),
            Span::raw(wrap::sanitize(&picker.query)),
        ]),
        Line::styled(" 1-8, or ←→ Enter; again: take back", dim()),
    ]);
    boxed(frame, " React · Esc ", lines, 50);
}

pub fn draw_confirm_delete(
    model: &Model,
    frame: &mut Frame<'_>,
    room_id: RoomId,
    message_id: MessageId,
) {
    let width = frame.area().width.min(70);
    let inner = usize::from(width.saturating_sub(2));
    let mut lines = vec![Line::raw(" Delete this message for everyone?")];
    if let Some(event) = model
        .rooms
        .get(&room_id)
        .and_then(|r| r.message(message_id))
    {
        lines.push(message_row(model, event, inner, false));
    }
    lines.push(Line::styled(" y: delete · n, Esc: keep it", dim()));
    boxed(frame, " Delete ", lines, width);
}

/// One message as a row: time, name, first line, and its room when `with_room`.
fn message_row(model: &Model, event: &RoomEvent, width: usize, with_room: bool) -> Line<'static> {
    let time = local_time(event.ts, model.utc_offset_secs)
        .map(|t| t.format(&model.settings.time_format).to_string())
        .unwrap_or_default();
    let text = match &event.content {
        EventContent::Message(m) if m.deleted => "message deleted".to_string(),
        EventContent::Message(m) => wrap::sanitize(m.text.lines().next().unwrap_or_default()),
        _ => String::new(),
    };
    let name = event.sender.username.clone();
    let room = model
        .rooms
        .get(&event.room_id)
        .filter(|_| with_room)
        .map(|r| format!(" · {}", r.shown_name()))
        .unwrap_or_default();
    let used = wrap::width(&time) + wrap::width(&name) + wrap::width(&room) + 3;
    Line::from(vec![
        Span::styled(format!(" {time} "), dim()),
        Span::styled(
            name,
            Style::default()
                .fg(user_color(event.sender.id))
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::raw(wrap::truncate(&text, width.saturating_sub(used))),
        Span::styled(room, dim()),
    ])
}

pub fn draw_thread(
    model: &Model,
    frame: &mut Frame<'_>,
    loaded: Option<&(RoomEvent, Vec<RoomEvent>)>,
) {
    let width = frame.area().width.min(90);
    let inner = usize::from(width.saturating_sub(2));
    let mut lines = Vec::new();
    match loaded {
        None => lines.push(Line::styled(" loading the thread…", dim())),
        Some((parent, replies)) => {
            lines.push(message_row(model, parent, inner, false));
            let n = replies.len();
            lines.push(Line::styled(
                format!(" {n} repl{}", if n == 1 { "y" } else { "ies" }),
                dim(),
            ));
            let room_for = usize::from(frame.area().height.saturating_sub(6)).max(1);
            for reply in replies.iter().skip(n.saturating_sub(room_for)) {
                lines.push(message_row(model, reply, inner, false));
            }
        }
    }
    lines.push(Line::styled(" r, Enter: reply · Esc: close", dim()));
    boxed(frame, " Thread ", lines, width);
}

pub fn draw_read_by(model: &Model, frame: &mut Frame<'_>, room_id: RoomId, seq: Seq) {
    let Some(room) = model.rooms.get(&room_id) else {
        return;
    };
    let sender = room
        .timeline
        .position(seq)
        .ok()
        .map(|i| room.timeline.events()[i].sender.id);
    let mut read = Vec::new();
    let mut unread = Vec::new();
    for user in &room.members {
        // Neither I nor the one who wrote it are news here.
        if model.is_me(user) || Some(user.id) == sender {
            continue;
        }
        let has_read = room.receipts.get(&user.id).is_some_and(|(_, r)| *r >= seq);
        if has_read {
            read.push(user.username.clone());
        } else {
            unread.push(user.username.clone());
        }
    }
    let list = |names: &[String]| {
        if names.is_empty() {
            "nobody".to_string()
        } else {
            names.join(", ")
        }
    };
    let width = frame.area().width.min(70);
    let inner = usize::from(width.saturating_sub(3));
    let mut lines = Vec::new();
    if !room.members_loaded || room.members.is_empty() {
        lines.push(Line::styled(" loading the members…", dim()));
    }
    for (label, names) in [("read it", &read), ("not yet", &unread)] {
        lines.push(Line::styled(
            format!(" {label}:"),
            Style::default().fg(Color::Cyan),
        ));
        for row in wrap::wrap(&list(names), inner.saturating_sub(2)) {
            lines.push(Line::raw(format!("   {row}")));
        }
    }
    boxed(frame, " Read by · any key closes ", lines, width);
}

pub fn draw_mentions(
    model: &Model,
    frame: &mut Frame<'_>,
    selected: usize,
    events: Option<&Vec<RoomEvent>>,
) {
    let width = frame.area().width.min(90);
    let inner = usize::from(width.saturating_sub(2));
    let visible = usize::from(frame.area().height.saturating_sub(3)).max(1);
    let mut lines = Vec::new();
    match events {
        None => lines.push(Line::styled(" loading…", dim())),
        Some(events) if events.is_empty() => {
            lines.push(Line::styled(" nobody has mentioned you yet", dim()))
        }
        Some(events) => {
            let selected = selected.min(events.len() - 1);
            let first = (selected + 1).saturating_sub(visible);
            for (i, event) in events.iter().enumerate().skip(first).take(visible) {
                let mut row = message_row(model, event, inner, true);
                if i == selected {
                    row = row.style(Style::default().add_modifier(Modifier::REVERSED));
                }
                lines.push(row);
            }
        }
    }
    boxed(frame, " Mentions · Enter: go there · Esc ", lines, width);
}
