//! The message pane's lines: how each event is drawn and how tall it is (with the rows left
//! for image previews); `scroll` moves through them by rows.
//!
//! Both `view` (drawing) and `update` (scrolling) use these functions, so a scroll step of N rows
//! moves exactly N rows of what is on screen.

mod scroll;

pub use scroll::{
    pending_rows, scrolled_down, scrolled_up, showing_from, shows, visible, visible_lines, Visible,
};

use crate::model::{delivery, Delivery, Model, Room};
use crate::outbox::{OutboxItem, OutboxState};
use crate::preview::PreviewBox;
use crate::wrap;
use chat_protocol::{Attachment, EventContent, Millis, RoomEvent, RoomKind};
use chrono::{DateTime, FixedOffset};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Consecutive messages of one sender closer than this share one name and time.
const GROUP_MS: Millis = 5 * 60 * 1000;

/// Column widths of the pane: `HH:MM  nick  text…`.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub width: usize,
    pub nick_width: usize,
    /// Cells of a formatted time (`time_format`; 5 for `%H:%M`).
    pub time_width: usize,
    /// The box image previews fit in; none when images are shown by name only.
    pub preview: Option<PreviewBox>,
}

impl Geometry {
    /// The pane of `model` at `width` cells.
    pub fn of(model: &Model, width: u16) -> Geometry {
        let width = width as usize;
        let nick_width = if width < 50 { 8 } else { 12 };
        let mut g = Geometry {
            width,
            nick_width,
            time_width: model.settings.time_width(),
            preview: None,
        };
        g.preview = model
            .cell_pixels
            .and_then(|cell| PreviewBox::new(cell, g.text_width(), model.size.1));
        g
    }

    /// Cells before the text: time, space, nick, two spaces.
    pub fn prefix(&self) -> usize {
        self.time_width + 1 + self.nick_width + 2
    }

    fn text_width(&self) -> usize {
        self.width.saturating_sub(self.prefix()).max(8)
    }
}

pub fn local_time(ts: Millis, offset_secs: i32) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(offset_secs)?;
    Some(DateTime::from_timestamp_millis(ts)?.with_timezone(&offset))
}

fn day_of(ts: Millis, offset_secs: i32) -> i64 {
    (ts / 1000 + i64::from(offset_secs)).div_euclid(86_400)
}

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

fn rule(label: &str, width: usize, style: Style) -> Line<'static> {
    let label = format!(" {label} ");
    let side = width.saturating_sub(wrap::width(&label)) / 2;
    let right = width.saturating_sub(side + wrap::width(&label));
    Line::from(vec![
        Span::styled("─".repeat(side), dim()),
        Span::styled(label, style),
        Span::styled("─".repeat(right), dim()),
    ])
}

/// A stable colour per user, so a name is easy to follow down the pane.
pub fn user_color(user_id: i64) -> Color {
    const COLORS: [Color; 6] = [
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::Magenta,
        Color::Blue,
        Color::LightRed,
    ];
    COLORS[user_id.rem_euclid(COLORS.len() as i64) as usize]
}

/// Where an image's preview goes: rows left blank in the pane for the picture drawn over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewSpot {
    pub file: Attachment,
    /// The first row, counted from the top of the rows drawn; negative when the top of the
    /// picture is scrolled out of view.
    pub row: i32,
    pub cols: u16,
    pub rows: u16,
}

/// An event as drawn: its rows, how many of them at the top are rules (the day, "new
/// messages") rather than the event itself, and its image previews (`row` counted from the
/// event's first row).
struct Parts {
    rules: usize,
    lines: Vec<Line<'static>>,
    previews: Vec<PreviewSpot>,
}

/// The rows event `i` of `room` takes, including a day separator and the "new" line above it.
pub fn event_lines(model: &Model, room: &Room, i: usize, g: Geometry) -> Vec<Line<'static>> {
    event_parts(model, room, i, g).lines
}

/// The rows a file's preview takes under its name, left blank for the picture.
fn reserve_preview(
    model: &Model,
    file: &Attachment,
    g: Geometry,
    lines: &mut Vec<Line<'static>>,
    previews: &mut Vec<PreviewSpot>,
) {
    let Some(preview) = g.preview else {
        return;
    };
    if model.no_preview.contains(&file.id) {
        return;
    }
    let Some((cols, rows)) = preview.cells(file) else {
        return;
    };
    previews.push(PreviewSpot {
        file: file.clone(),
        row: lines.len() as i32,
        cols,
        rows,
    });
    lines.extend((0..rows).map(|_| Line::raw(" ".repeat(g.prefix()))));
}

fn event_parts(model: &Model, room: &Room, i: usize, g: Geometry) -> Parts {
    let events = room.timeline.events();
    let event = &events[i];
    // Changes to messages are not drawn: the line above is the last drawn event.
    let prev = events[..i].iter().rev().find(|e| !is_change(e));
    if says_nothing_new(room.summary.kind, event, prev) {
        return Parts {
            rules: 0,
            lines: Vec::new(),
            previews: Vec::new(),
        };
    }
    let mut previews = Vec::new();
    let offset = model.utc_offset_secs;
    let mut lines = Vec::new();
    let new_day = prev.is_none_or(|p| day_of(p.ts, offset) != day_of(event.ts, offset));
    if new_day {
        let label = local_time(event.ts, offset)
            .map(|t| t.format("%A, %-d %B %Y").to_string())
            .unwrap_or_default();
        lines.push(rule(&label, g.width, dim()));
    }
    let marked = room.marker == Some(event.seq);
    if marked {
        lines.push(rule(
            "new messages",
            g.width,
            Style::default().fg(Color::LightRed),
        ));
    }
    let rules = lines.len();
    let continues = !new_day
        && !marked
        && prev.is_some_and(|p| {
            is_message(p)
                && is_message(event)
                // A reply's quote line would look like part of the message above it.
                && !matches!(&event.content, EventContent::Message(m) if m.reply_to.is_some())
                && p.sender.id == event.sender.id
                && event.ts - p.ts < GROUP_MS
        });
    let time = local_time(event.ts, offset)
        .map(|t| t.format(&model.settings.time_format).to_string())
        .unwrap_or_default();
    match &event.content {
        EventContent::Message(message) => {
            let text = &message.text;
            let mine = model.is_me(&event.sender);
            // One mark per run of my messages, on its last: receipts only move forward, so
            // the earlier ones are at least as far along.
            let run_goes_on = events[i + 1..]
                .iter()
                .find(|e| !is_change(e))
                .is_some_and(|next| {
                    model.is_me(&next.sender)
                        && matches!(&next.content, EventContent::Message(m) if !m.deleted)
                });
            // A tombstone has nothing left to be delivered or read.
            let mark = if mine && !run_goes_on && !message.deleted {
                model.me.as_ref().map(|me| delivery(room, me.id, event.seq))
            } else {
                None
            };
            let group = room.summary.kind != RoomKind::Direct;
            let nick = (!continues).then(|| {
                Span::styled(
                    event.sender.username.clone(),
                    Style::default()
                        .fg(user_color(event.sender.id))
                        .add_modifier(Modifier::BOLD),
                )
            });
            let mut time = if continues { String::new() } else { time };
            let mut nick = nick;
            // A reply starts with its quote, on the row with the time and name, so the quote
            // reads as part of the reply and not of the message above.
            if let Some(quote) = &message.reply_to {
                let quote = wrap::truncate(&quote_text(quote), g.text_width());
                lines.extend(body_lines(&time, nick.take(), &quote, dim(), None, g));
                time.clear();
            }
            let mut style = if !mine && model.mentions_me(text) {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default()
            };
            let shown = if message.deleted {
                style = dim().add_modifier(Modifier::ITALIC);
                match &message.deleted_by {
                    Some(by) if by.id != event.sender.id => {
                        format!("message deleted by {}", by.username)
                    }
                    _ => "message deleted".to_string(),
                }
            } else if message.action {
                format!("* {} {text}", event.sender.username)
            } else {
                text.clone()
            };
            let files: &[Attachment] = if message.deleted {
                &[]
            } else {
                &message.attachments
            };
            // A file sent without words takes the text's place on the message's first row.
            let file_in_text = shown.trim().is_empty() && !files.is_empty();
            let shown = if file_in_text {
                attachment_label(&files[0])
            } else {
                shown
            };
            let mark = mark.map(|m| mark_span(&m, group));
            let mark = match (message.edited_at.is_some() && !message.deleted, mark) {
                (true, Some(m)) => Some(Span::styled(format!("(edited) {}", m.content), m.style)),
                (true, None) => Some(Span::styled("(edited)", dim())),
                (false, mark) => mark,
            };
            lines.extend(body_lines(&time, nick, &shown, style, mark, g));
            if file_in_text {
                reserve_preview(model, &files[0], g, &mut lines, &mut previews);
            }
            for file in &files[usize::from(file_in_text)..] {
                // Wrapped like text, so a long name never hides the size.
                let label = attachment_label(file);
                lines.extend(body_lines("", None, &label, Style::default(), None, g));
                reserve_preview(model, file, g, &mut lines, &mut previews);
            }
            if !message.reactions.is_empty() {
                lines.push(reactions_line(model, message, g));
            }
            if let Some(thread) = &message.thread {
                let n = thread.replies;
                let label = if n == 1 {
                    "1 reply".to_string()
                } else {
                    format!("{n} replies")
                };
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(g.prefix())),
                    Span::styled(format!("└ {label}"), dim()),
                ]));
            }
        }
        other => {
            let text = describe(event, other, room.summary.kind);
            let nick = Span::styled("—", dim());
            lines.extend(body_lines(&time, Some(nick), &text, dim(), None, g));
        }
    }
    Parts {
        rules,
        lines,
        previews,
    }
}

/// `📎 report.pdf  2.1 MB`, and an image's size in pixels.
pub fn attachment_label(a: &Attachment) -> String {
    let pixels = match (a.width, a.height) {
        (Some(w), Some(h)) => format!("  {w}×{h}"),
        _ => String::new(),
    };
    format!("📎 {}  {}{pixels}", a.name, human_size(a.size))
}

/// A size in the units a person reads: 512 B, 48.2 kB, 2.1 MB (powers of 1000, as file
/// managers show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A limit as its setting reads: `50 MiB` for the server's 52428800 bytes, which
/// [`human_size`] would show as 52.4 MB; a limit that is no whole number of KiB as a size.
pub fn limit_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    match bytes {
        0 => human_size(0),
        b if b % (1024 * MIB) == 0 => format!("{} GiB", b / (1024 * MIB)),
        b if b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => human_size(b),
    }
}

/// The rows of a message of mine that the server has not stored yet.
pub fn pending_lines(model: &Model, item: &OutboxItem, g: Geometry) -> Vec<Line<'static>> {
    let mark = match &item.state {
        OutboxState::Failed(reason) => Delivery::Failed(reason.clone()),
        _ => Delivery::Pending,
    };
    let time = local_time(item.created, model.utc_offset_secs)
        .map(|t| t.format(&model.settings.time_format).to_string())
        .unwrap_or_default();
    let (name, color) = model
        .me
        .as_ref()
        .map_or(("me".to_string(), Color::Gray), |me| {
            (me.username.clone(), user_color(me.id))
        });
    let nick = Span::styled(
        name,
        Style::default().fg(color).add_modifier(Modifier::BOLD),
    );
    // As a sent message draws them: a file without words takes the text's row.
    let mut files: Vec<String> = item.attachments.iter().map(attachment_label).collect();
    let text = if item.text.trim().is_empty() && !files.is_empty() {
        files.remove(0)
    } else {
        item.text.clone()
    };
    let mut lines = body_lines(
        &time,
        Some(nick),
        &text,
        dim(),
        Some(mark_span(&mark, false)),
        g,
    );
    for file in files {
        lines.extend(body_lines("", None, &file, dim(), None, g));
    }
    lines
}

/// The mark as drawn; `group` counts readers ("read by 3", "read by all").
fn mark_span(mark: &Delivery, group: bool) -> Span<'static> {
    match mark {
        Delivery::Pending => Span::styled("◷ sending", dim()),
        Delivery::Failed(reason) => Span::styled(
            format!("✗ not sent: {reason}"),
            Style::default().fg(Color::Red),
        ),
        Delivery::Sent => Span::styled("✓", dim()),
        Delivery::Delivered => Span::styled("✓✓", dim()),
        Delivery::ReadBy(n) => Span::styled(format!("✓✓ read by {n}"), dim()),
        Delivery::Read if group => Span::styled("✓✓ read by all", Style::default().fg(Color::Cyan)),
        Delivery::Read => Span::styled("✓✓ read", Style::default().fg(Color::Cyan)),
    }
}

fn body_lines(
    time: &str,
    nick: Option<Span<'static>>,
    text: &str,
    style: Style,
    mark: Option<Span<'static>>,
    g: Geometry,
) -> Vec<Line<'static>> {
    let text = wrap::sanitize(text);
    let text_width = g.text_width();
    let mut rows = wrap::wrap(&text, text_width);
    // The mark goes after the text on the last row when it fits, else on a row of its own.
    let mark_on_own_row = mark.as_ref().is_some_and(|m| {
        rows.last()
            .is_some_and(|last| wrap::width(last) + 1 + m.width() > text_width)
    });
    if mark_on_own_row {
        rows.push(String::new());
    }
    let last = rows.len() - 1;
    rows.into_iter()
        .enumerate()
        .map(|(n, row)| {
            let mut spans = Vec::with_capacity(5);
            if n == 0 {
                let pad = g.time_width.saturating_sub(wrap::width(time));
                spans.push(Span::styled(format!("{}{time} ", " ".repeat(pad)), dim()));
                match &nick {
                    Some(nick) => {
                        let name = wrap::truncate(&nick.content, g.nick_width);
                        let pad = g.nick_width.saturating_sub(wrap::width(&name));
                        spans.push(Span::raw(" ".repeat(pad)));
                        spans.push(Span::styled(name, nick.style));
                        spans.push(Span::raw("  "));
                    }
                    None => spans.push(Span::raw(" ".repeat(g.nick_width + 2))),
                }
            } else {
                spans.push(Span::raw(" ".repeat(g.prefix())));
            }
            let empty_mark_row = n == last && mark_on_own_row;
            if !empty_mark_row {
                spans.push(Span::styled(row, style));
            }
            if n == last {
                if let Some(mark) = &mark {
                    if !empty_mark_row {
                        spans.push(Span::raw(" "));
                    }
                    spans.push(mark.clone());
                }
            }
            Line::from(spans)
        })
        .collect()
}

/// Membership events that only repeat what the line before says: the creator joining the room
/// they just created, and the joins and adds of a direct conversation, whose two members are
/// fixed ("bob started this conversation" says it all).
fn says_nothing_new(kind: RoomKind, event: &RoomEvent, prev: Option<&RoomEvent>) -> bool {
    if is_change(event) {
        return true;
    }
    match &event.content {
        EventContent::MemberJoined { .. } | EventContent::MemberAdded { .. }
            if kind == RoomKind::Direct =>
        {
            true
        }
        EventContent::MemberJoined { user, .. } => prev.is_some_and(|p| {
            matches!(p.content, EventContent::RoomCreated { .. }) && p.sender.id == user.id
        }),
        _ => false,
    }
}

/// `↳ alice: the first line…`, the first row of a reply.
fn quote_text(quote: &chat_protocol::ReplyQuote) -> String {
    let excerpt = if quote.deleted {
        "message deleted".to_string()
    } else {
        wrap::sanitize(&quote.excerpt).replace('\n', " ")
    };
    format!("↳ {}: {excerpt}", quote.sender.username)
}

/// `👍 3  🎉 1` under a message; the ones I gave are highlighted.
fn reactions_line(
    model: &Model,
    message: &chat_protocol::ChatMessage,
    g: Geometry,
) -> Line<'static> {
    let mut spans = vec![Span::raw(" ".repeat(g.prefix()))];
    let mut used = 0;
    for reaction in &message.reactions {
        let label = format!("{} {}", wrap::sanitize(&reaction.emoji), reaction.count);
        let cells = wrap::width(&label) + 2;
        if used + cells > g.text_width() {
            spans.push(Span::styled("…", dim()));
            break;
        }
        used += cells;
        let mine = reaction.users.iter().any(|u| model.is_me(u));
        let style = if mine {
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw("  "));
    }
    Line::from(spans)
}

/// Edits, deletes and reactions: applied to the messages they change, never drawn.
fn is_change(event: &RoomEvent) -> bool {
    matches!(
        event.content,
        EventContent::MessageEdited(_)
            | EventContent::MessageDeleted(_)
            | EventContent::ReactionAdded(_)
            | EventContent::ReactionRemoved(_)
    )
}

fn is_message(event: &RoomEvent) -> bool {
    matches!(event.content, EventContent::Message(_))
}

/// Membership, title and topic changes as a sentence.
fn describe(event: &RoomEvent, content: &EventContent, kind: RoomKind) -> String {
    let who = &event.sender.username;
    match content {
        EventContent::Message(chat_protocol::ChatMessage { text, .. }) => text.clone(),
        EventContent::RoomCreated { title, .. } => match kind {
            RoomKind::Direct => format!("{who} started this conversation"),
            _ => format!("{who} created {} {title}", kind.as_str()),
        },
        EventContent::MemberJoined { user, .. } => format!("{} joined", user.username),
        EventContent::MemberLeft { user } => format!("{} left", user.username),
        EventContent::MemberAdded { user, .. } => format!("{who} added {}", user.username),
        EventContent::MemberRemoved { user } => format!("{who} removed {}", user.username),
        EventContent::RoleChanged { user, role } => {
            format!("{} is now {}", user.username, role.as_str())
        }
        EventContent::Renamed { title } => format!("{who} renamed the room to {title}"),
        EventContent::TopicChanged { topic } if topic.is_empty() => {
            format!("{who} cleared the topic")
        }
        EventContent::TopicChanged { topic } => format!("{who} set the topic: {topic}"),
        EventContent::RoomArchived {} => format!("{who} archived the room: it is read-only"),
        EventContent::RoomUnarchived {} => format!("{who} unarchived the room"),
        // Changes to messages are applied to the messages they change, not drawn.
        EventContent::MessageEdited(_)
        | EventContent::MessageDeleted(_)
        | EventContent::ReactionAdded(_)
        | EventContent::ReactionRemoved(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_file_managers_show_them_and_limits_as_they_are_set() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(48_213), "48.2 kB");
        assert_eq!(human_size(2_100_000), "2.1 MB");
        assert_eq!(human_size(999_999), "1.0 MB");
        assert_eq!(limit_size(50 * 1024 * 1024), "50 MiB");
        assert_eq!(limit_size(25 * 1024 * 1024), "25 MiB");
        assert_eq!(limit_size(2 * 1024 * 1024 * 1024), "2 GiB");
        assert_eq!(limit_size(64 * 1024), "64 KiB");
        assert_eq!(limit_size(1_000_000), "1.0 MB");
    }
}
