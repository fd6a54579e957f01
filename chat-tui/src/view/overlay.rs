//! Boxes drawn over the screen: help, the quick switcher, the channel directory.

use super::message_overlays;
use crate::commands::COMMANDS;
use crate::keymap::Action;
use crate::model::{Model, Overlay, Picker};
use crate::update::{channel_matches, switcher_matches};
use crate::wrap;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The keys that cannot be rebound, as the help screen lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the message or run the /command"),
    ("Alt-Enter, Shift-Enter, Ctrl-J", "new line in the message"),
    (
        "Up, Down",
        "move in the input; in an empty one, Up edits your last message",
    ),
    ("Ctrl-Up, Ctrl-Down", "browse what you sent"),
    ("Tab", "complete /commands, @names and #rooms (again: next)"),
    ("PgUp, PgDn, mouse wheel", "scroll the messages"),
    ("End (empty input), Esc", "back to the newest message"),
    (
        "Ctrl-A, Ctrl-E, Ctrl-U, Ctrl-W",
        "start, end, delete to line start, delete word",
    ),
    ("Ctrl-C", "quit (drafts and unsent messages are kept)"),
];

pub fn draw(model: &Model, frame: &mut Frame<'_>) {
    match &model.overlay {
        None => {}
        Some(Overlay::Help) => draw_help(model, frame),
        Some(Overlay::Unsent { selected }) => draw_unsent(model, frame, *selected),
        Some(Overlay::Members { room_id }) => draw_members(model, frame, *room_id),
        Some(Overlay::React { picker, .. }) => message_overlays::draw_react(frame, picker),
        Some(Overlay::ConfirmDelete {
            room_id,
            message_id,
        }) => message_overlays::draw_confirm_delete(model, frame, *room_id, *message_id),
        Some(Overlay::Thread { loaded, .. }) => {
            message_overlays::draw_thread(model, frame, loaded.as_deref())
        }
        Some(Overlay::ReadBy { room_id, seq }) => {
            message_overlays::draw_read_by(model, frame, *room_id, *seq)
        }
        Some(Overlay::Mentions { selected, events }) => {
            message_overlays::draw_mentions(model, frame, *selected, events.as_ref())
        }
        Some(Overlay::ConfirmUpload { files, .. }) => {
            message_overlays::draw_confirm_upload(model, frame, files)
        }
        Some(Overlay::Files { files, selected }) => {
            message_overlays::draw_files(frame, files, *selected)
        }
        Some(Overlay::Search {
            picker,
            hits,
            searched,
        }) => message_overlays::draw_search(model, frame, picker, hits.as_ref(), searched),
        Some(Overlay::Switcher(picker)) => {
            let rows: Vec<Line<'static>> = switcher_matches(model, &picker.query)
                .into_iter()
                .filter_map(|id| model.rooms.get(&id))
                .map(|room| {
                    let unread = if room.summary.settings.hidden {
                        "  (archived)".to_string()
                    } else if room.summary.unread > 0 {
                        format!("  ({} unread)", room.summary.unread)
                    } else {
                        String::new()
                    };
                    Line::from(vec![
                        Span::raw(room.shown_name()),
                        Span::styled(unread, Style::default().fg(Color::DarkGray)),
                    ])
                })
                .collect();
            draw_picker(frame, " Go to conversation ", picker, rows, "no match");
        }
        Some(Overlay::Channels { picker, channels }) => {
            let (rows, empty) = match channels {
                None => (Vec::new(), "loading the directory…"),
                Some(channels) => {
                    let rows = channel_matches(channels, &picker.query)
                        .into_iter()
                        .map(|c| {
                            let joined = if c.joined { " · joined" } else { "" };
                            let topic = if c.topic.is_empty() {
                                String::new()
                            } else {
                                format!(" — {}", wrap::sanitize(&c.topic))
                            };
                            Line::from(vec![
                                Span::raw(format!("#{}", wrap::sanitize(&c.title))),
                                Span::styled(
                                    format!(
                                        "  {} member{}{joined}{topic}",
                                        c.member_count,
                                        if c.member_count == 1 { "" } else { "s" }
                                    ),
                                    Style::default().fg(Color::DarkGray),
                                ),
                            ])
                        })
                        .collect();
                    (rows, "no public channels match")
                }
            };
            draw_picker(
                frame,
                " Public channels · Enter joins ",
                picker,
                rows,
                empty,
            );
        }
    }
}

pub(super) fn centered(frame: &Frame<'_>, width: u16, height: u16) -> Rect {
    let area = frame.area();
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// The keys `[client.keys]` can rebind, with what they do; the help shows the keys in force.
const BOUND: &[(Action, &str)] = &[
    (Action::NextRoom, "next conversation"),
    (Action::PrevRoom, "previous conversation"),
    (
        Action::NextUnread,
        "next conversation with unread messages (mentions first)",
    ),
    (Action::Switcher, "jump to a conversation by name"),
    (Action::Search, "search messages (the last search again)"),
    (Action::Redraw, "repaint the screen"),
    (Action::Help, "this help (also /help)"),
];

/// Keys of the login screen, which the help shows there.
const LOGIN_KEYS: &[(&str, &str)] = &[
    ("Enter", "log in (or create the account, after Ctrl-R)"),
    ("Tab, Down / Shift-Tab, Up", "next / previous field"),
    (
        "Ctrl-R",
        "switch between logging in and creating an account",
    ),
    ("Ctrl-U", "clear the field"),
    ("Ctrl-C", "quit"),
];

fn draw_help(model: &Model, frame: &mut Frame<'_>) {
    let key_style = Style::default().fg(Color::Cyan);
    let heading = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::DarkGray);
    let area = frame.area();
    let rect_width = area.width.min(100);
    let inner_width = usize::from(rect_width.saturating_sub(2));
    // Keys and what they do side by side when there is room, else one under the other.
    let side_by_side = inner_width >= 34 + 2 + 30;
    let mut lines = Vec::new();
    let section = |lines: &mut Vec<Line<'static>>, title: &str, rows: Vec<(String, String)>| {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(title.to_string(), heading));
        for (keys, what) in rows {
            if side_by_side {
                // What a key does wraps in its own column rather than being cut at the edge.
                let rows = wrap::wrap(&what, inner_width.saturating_sub(36));
                for (i, row) in rows.into_iter().enumerate() {
                    let keys = if i == 0 { keys.as_str() } else { "" };
                    lines.push(Line::from(vec![
                        Span::styled(format!("  {keys:<34}"), key_style),
                        Span::raw(row),
                    ]));
                }
            } else {
                lines.push(Line::styled(format!(" {keys}"), key_style));
                for row in wrap::wrap(&what, inner_width.saturating_sub(4)) {
                    lines.push(Line::raw(format!("    {row}")));
                }
            }
        }
    };
    if model.screen == crate::model::Screen::Login {
        let rows = LOGIN_KEYS
            .iter()
            .map(|(k, w)| (k.to_string(), w.to_string()))
            .collect();
        section(&mut lines, "Login", rows);
    } else {
        let bound = BOUND
            .iter()
            .map(|(action, what)| (model.settings.keys.describe(*action), what.to_string()));
        let fixed = KEYS
            .iter()
            .map(|(keys, what)| (keys.to_string(), what.to_string()));
        section(&mut lines, "Keys", bound.chain(fixed).collect());
        let selection = crate::view::SELECTION_KEYS
            .iter()
            .map(|(keys, what)| (keys.to_string(), what.to_string()))
            .collect();
        section(&mut lines, "Messages", selection);
        let commands = COMMANDS
            .iter()
            .map(|(_, usage, what)| (usage.to_string(), what.to_string()))
            .collect();
        section(&mut lines, "Commands", commands);
        lines.push(Line::raw(""));
        let marks = "Marks (on the last of your messages in a row): ◷ sending · ✓ sent · \
                     ✓✓ delivered · ✓✓ read (by N, by all) · ✗ not sent";
        for row in wrap::wrap(marks, inner_width.saturating_sub(1)) {
            lines.push(Line::styled(row, dim));
        }
    }
    // Scrolled with Up/Down/PgUp/PgDn; the last row says how to get around.
    let height = (lines.len() as u16 + 3).min(area.height);
    let visible = usize::from(height.saturating_sub(3));
    let max_scroll = lines.len().saturating_sub(visible);
    let scroll = usize::from(model.help_scroll).min(max_scroll);
    let mut shown: Vec<Line<'static>> = lines.into_iter().skip(scroll).take(visible).collect();
    let footer = if max_scroll > 0 {
        "↑↓ PgUp PgDn scroll · other keys close"
    } else {
        "Any key closes this help (a letter is also typed)"
    };
    shown.push(Line::styled(wrap::truncate(footer, inner_width), dim));
    let rect = centered(frame, rect_width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(shown).block(Block::default().borders(Borders::ALL).title(" Help ")),
        rect,
    );
}

/// A room's members, online first: presence, role, and whether they have read my last message.
fn draw_members(model: &Model, frame: &mut Frame<'_>, room_id: chat_protocol::RoomId) {
    let Some(room) = model.rooms.get(&room_id) else {
        return;
    };
    let my_last = model.me.as_ref().and_then(|me| {
        room.timeline
            .events()
            .iter()
            .rev()
            .find(|e| e.sender.id == me.id && crate::model::message_text(e).is_some())
            .map(|e| e.seq)
    });
    let mut members: Vec<&chat_protocol::UserRef> = room.members.iter().collect();
    let online = |id: i64| model.online.get(&id).copied().unwrap_or(false);
    members.sort_by_key(|u| (!online(u.id), u.username.to_lowercase()));
    let mut lines = Vec::new();
    if members.is_empty() {
        lines.push(Line::styled(
            "  loading…",
            Style::default().fg(Color::DarkGray),
        ));
    }
    for user in members {
        let (icon, color) = if online(user.id) {
            ("●", Color::Green)
        } else {
            ("○", Color::DarkGray)
        };
        let role = room
            .roles
            .get(&user.id)
            .filter(|r| r.can_manage())
            .map_or("", |r| r.as_str());
        let read = match (my_last, room.receipts.get(&user.id)) {
            (Some(seq), Some((_, read))) if *read >= seq => "✓✓ read your last message",
            (Some(_), Some(_)) => "not read your last message yet",
            _ => "",
        };
        let behind = room
            .receipts
            .get(&user.id)
            .map(|(_, read)| read_position(room, *read))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!(" {icon} "), Style::default().fg(color)),
            Span::raw(format!("{:<20}", wrap::truncate(&user.username, 20))),
            Span::styled(format!("{role:<7}"), Style::default().fg(Color::Cyan)),
            Span::styled(
                format!("{behind:<16}"),
                Style::default().fg(Color::DarkGray),
            ),
            Span::styled(read, Style::default().fg(Color::DarkGray)),
        ]));
    }
    let height = (lines.len() as u16 + 2).min(frame.area().height);
    let rect = centered(frame, 86, height);
    frame.render_widget(Clear, rect);
    let title = format!(
        " {} · {} member{} · any key closes ",
        room.shown_name(),
        room.summary.member_count,
        if room.summary.member_count == 1 {
            ""
        } else {
            "s"
        }
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

/// How far a member has read: "read all", or how many messages they have not read yet
/// ("40+" when some of those are older than what is loaded).
fn read_position(room: &crate::model::Room, read: chat_protocol::Seq) -> String {
    let events = room.timeline.events();
    let behind = events
        .iter()
        .filter(|e| e.seq > read && crate::model::message_text(e).is_some())
        .count();
    let more =
        !room.timeline.reached_start() && room.timeline.first_seq().is_some_and(|f| f > read + 1);
    match (behind, more) {
        (0, false) => "read all".into(),
        (n, false) => format!("{n} unread"),
        (n, true) => format!("{n}+ unread"),
    }
}

/// Messages not sent: where to, why, and the text, with the keys that deal with them.
fn draw_unsent(model: &Model, frame: &mut Frame<'_>, selected: usize) {
    let rect = centered(frame, 76, 16);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Not sent · Enter: to the input · r: retry · d: discard · Esc ");
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let width = usize::from(inner.width);
    let items: Vec<_> = model.outbox.failed().collect();
    let selected = selected.min(items.len().saturating_sub(1));
    let per_item = 2;
    let visible = (usize::from(inner.height) / per_item).max(1);
    let first = (selected + 1).saturating_sub(visible);
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate().skip(first).take(visible) {
        let reason = match &item.state {
            crate::outbox::OutboxState::Failed(reason) => reason.as_str(),
            _ => "",
        };
        let head = format!(" {} · {}", wrap::sanitize(&item.room_name), reason);
        let first_line = item.text.lines().next().unwrap_or_default();
        let text = format!("   {}", wrap::sanitize(first_line));
        let mut head = Line::styled(
            wrap::truncate(&head, width),
            Style::default().fg(Color::Red),
        );
        let mut text = Line::raw(wrap::truncate(&text, width));
        if i == selected {
            head = head.style(Style::default().bg(Color::Blue).fg(Color::White));
            text = text.style(Style::default().bg(Color::Blue).fg(Color::White));
        }
        lines.push(head);
        lines.push(text);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_picker(
    frame: &mut Frame<'_>,
    title: &str,
    picker: &Picker,
    rows: Vec<Line<'static>>,
    empty: &str,
) {
    let rect = centered(frame, 64, 16);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title.to_string());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut lines = vec![Line::from(vec![
        Span::styled("› ", Style::default().fg(Color::Cyan)),
        Span::raw(picker.query.clone()),
    ])];
    let visible = usize::from(inner.height.saturating_sub(1));
    let selected = picker.selected.min(rows.len().saturating_sub(1));
    let first = (selected + 1).saturating_sub(visible);
    if rows.is_empty() {
        lines.push(Line::styled(
            format!("  {empty}"),
            Style::default().fg(Color::DarkGray),
        ));
    }
    for (i, row) in rows.into_iter().enumerate().skip(first).take(visible) {
        let mut row = row;
        row.spans.insert(0, Span::raw("  "));
        if i == selected {
            row = row.style(Style::default().bg(Color::Blue).fg(Color::White));
        }
        lines.push(row);
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let cursor_x = inner.x + 2 + wrap::width(&picker.query) as u16;
    frame.set_cursor_position((cursor_x.min(inner.right().saturating_sub(1)), inner.y));
}
