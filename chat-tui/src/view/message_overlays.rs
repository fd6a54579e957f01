//! Overlays about messages: the reaction picker, the delete confirmation, a thread, who has
//! read a message, /mentions, a pasted file to upload, and a message's files.

use super::overlay::centered;
use crate::model::{Model, PastedFile, Picker, QUICK_REACTIONS};
use crate::pane::{local_time, user_color};
use crate::wrap;
use chat_protocol::{Attachment, EventContent, MessageId, RoomEvent, RoomId, SearchHit, Seq};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use std::path::Path;

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

/// "Send report.pdf (2.1 MB) to #general?" for a pasted file path, or the list of several.
pub fn draw_confirm_upload(model: &Model, frame: &mut Frame<'_>, files: &[PastedFile]) {
    let width = frame.area().width.min(70);
    let inner = usize::from(width.saturating_sub(2));
    let name = |path: &Path| {
        wrap::sanitize(&path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ))
    };
    let room = model
        .selected_room()
        .map(|r| r.shown_name())
        .unwrap_or_default();
    let size = crate::pane::human_size;
    let mut lines = Vec::new();
    if let [file] = files {
        let question = format!(
            " Send {} ({}) to {room}?",
            name(&file.path),
            size(file.size)
        );
        lines.push(Line::raw(wrap::truncate(&question, inner)));
        let path = format!(" {}", wrap::sanitize(&file.path.to_string_lossy()));
        lines.push(Line::styled(wrap::truncate(&path, inner), dim()));
    } else {
        let total = files.iter().map(|f| f.size).sum();
        let question = format!(" Send {} files ({}) to {room}?", files.len(), size(total));
        lines.push(Line::raw(wrap::truncate(&question, inner)));
        // As many as the screen has rows for, then how many more.
        let room_for = usize::from(frame.area().height.saturating_sub(6)).max(1);
        let shown = if files.len() > room_for {
            room_for.saturating_sub(1)
        } else {
            files.len()
        };
        for file in &files[..shown] {
            let row = format!("  📎 {}  {}", name(&file.path), size(file.size));
            lines.push(Line::styled(wrap::truncate(&row, inner), dim()));
        }
        if shown < files.len() {
            let more = format!("  and {} more", files.len() - shown);
            lines.push(Line::styled(more, dim()));
        }
    }
    let keys = if files.len() == 1 {
        " Enter, y: upload it · Esc, n: paste the path as text"
    } else {
        " Enter, y: upload them · Esc, n: paste the paths as text"
    };
    lines.push(Line::styled(keys, dim()));
    let title = if files.len() == 1 {
        " Pasted a file "
    } else {
        " Pasted files "
    };
    boxed(frame, title, lines, width);
}

/// The files of a message, to open or save one.
pub fn draw_files(frame: &mut Frame<'_>, files: &[Attachment], selected: usize) {
    let width = frame.area().width.min(70);
    let inner = usize::from(width.saturating_sub(2));
    let mut lines: Vec<Line<'static>> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let label = wrap::truncate(&format!(" {}", crate::pane::attachment_label(file)), inner);
            if i == selected {
                Line::styled(label, Style::default().add_modifier(Modifier::REVERSED))
            } else {
                Line::raw(label)
            }
        })
        .collect();
    lines.push(Line::styled(
        wrap::truncate(" Enter, o: open · s: save · a: save all · Esc", inner),
        dim(),
    ));
    boxed(frame, " Files ", lines, width);
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
        // A file sent without words is shown by its name, as in the pane.
        EventContent::Message(m) if m.text.trim().is_empty() && !m.attachments.is_empty() => {
            crate::pane::attachment_label(&m.attachments[0])
        }
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

/// The search box: the query, then its hits with what matched highlighted.
pub fn draw_search(
    model: &Model,
    frame: &mut Frame<'_>,
    picker: &Picker,
    hits: Option<&Vec<SearchHit>>,
    searched: &str,
) {
    let width = frame.area().width.min(100);
    let inner = usize::from(width.saturating_sub(2));
    let visible = usize::from(frame.area().height.saturating_sub(4)).max(1);
    let mut lines = vec![Line::from(vec![
        Span::styled("› ", Style::default().fg(Color::Cyan)),
        Span::raw(wrap::sanitize(&picker.query)),
    ])];
    match hits {
        None if searched.is_empty() => lines.push(Line::styled(
            " words, \"phrases\", pre*, -not, in:#room, from:user, after:2026-11-01 · Enter",
            dim(),
        )),
        None => lines.push(Line::styled(" searching…", dim())),
        Some(hits) if hits.is_empty() => lines.push(Line::styled(
            format!(" nothing found for {}", wrap::sanitize(searched)),
            dim(),
        )),
        Some(hits) => {
            let selected = picker.selected.min(hits.len() - 1);
            let first = (selected + 1).saturating_sub(visible);
            for (i, hit) in hits.iter().enumerate().skip(first).take(visible) {
                let mut row = hit_row(model, hit, inner);
                if i == selected {
                    row = row.style(Style::default().add_modifier(Modifier::REVERSED));
                }
                lines.push(row);
            }
        }
    }
    let title = match hits {
        Some(h) if !h.is_empty() => format!(" Search · {} found · Enter: go there · Esc ", h.len()),
        _ => " Search · Esc ".to_string(),
    };
    boxed(frame, &title, lines, width);
}

/// A hit as a row: time, room, name, and the snippet with its matches in bold.
fn hit_row(model: &Model, hit: &SearchHit, width: usize) -> Line<'static> {
    let time = local_time(hit.ts, model.utc_offset_secs)
        .map(|t| t.format("%d %b %H:%M").to_string())
        .unwrap_or_default();
    let room = model
        .rooms
        .get(&hit.room_id)
        .map(|r| r.shown_name())
        .unwrap_or_default();
    let head = format!(" {time} {room} ");
    let name = format!("{}: ", hit.sender.username);
    let mut left = width.saturating_sub(wrap::width(&head) + wrap::width(&name));
    let mut spans = vec![
        Span::styled(head, dim()),
        Span::styled(
            name,
            Style::default()
                .fg(user_color(hit.sender.id))
                .add_modifier(Modifier::BOLD),
        ),
    ];
    // The snippet in pieces: plain, matched, plain, …
    let chars: Vec<char> = hit.snippet.chars().collect();
    let mut at = 0usize;
    let mut pieces: Vec<(String, bool)> = Vec::new();
    for [start, end] in &hit.highlights {
        let (start, end) = (*start as usize, (*end as usize).min(chars.len()));
        if start < at || start >= end {
            continue;
        }
        pieces.push((chars[at..start].iter().collect(), false));
        pieces.push((chars[start..end].iter().collect(), true));
        at = end;
    }
    pieces.push((chars[at.min(chars.len())..].iter().collect(), false));
    for (text, matched) in pieces {
        if left == 0 {
            break;
        }
        let text = wrap::truncate(&wrap::sanitize(&text).replace('\n', " "), left);
        left = left.saturating_sub(wrap::width(&text));
        let style = if matched {
            Style::default()
                .add_modifier(Modifier::BOLD)
                .fg(Color::Yellow)
        } else {
            Style::default()
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}
