//! The conversation list: unread counts, mentions, presence of direct peers.

use crate::model::Model;
use crate::wrap;
use chat_protocol::RoomKind;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(model: &Model, frame: &mut Frame<'_>, area: Rect) {
    if area.width == 0 {
        return;
    }
    let width = usize::from(area.width);
    let mut lines = vec![Line::styled(
        " Conversations",
        Style::default()
            .fg(Color::DarkGray)
            .add_modifier(Modifier::BOLD),
    )];
    for id in model.room_order() {
        let Some(room) = model.rooms.get(&id) else {
            continue;
        };
        let selected = model.selected == Some(id);
        let icon = match room.summary.kind {
            RoomKind::Direct if model.peer_away(room).is_some() => {
                Span::styled("● ", Style::default().fg(Color::Yellow))
            }
            RoomKind::Direct if model.peer_online(room) => {
                Span::styled("● ", Style::default().fg(Color::Green))
            }
            RoomKind::Direct => Span::styled("○ ", Style::default().fg(Color::DarkGray)),
            _ => Span::raw("  "),
        };
        // Muted rooms show no count, only mentions of me by name.
        let unread = if room.muted() { 0 } else { room.summary.unread };
        let mentioned = room.summary.mentions > 0 || room.mention;
        let badge = match (mentioned, unread) {
            (true, _) => format!(" @{} ", room.summary.mentions.max(1)),
            (false, 0) => String::new(),
            (false, n) if n > 999 => " 999+ ".into(),
            (false, n) => format!(" {n} "),
        };
        let name_room = width.saturating_sub(1 + 2 + wrap::width(&badge) + 1);
        let name = wrap::truncate(&room.shown_name(), name_room);
        let pad = width.saturating_sub(1 + 2 + wrap::width(&name) + wrap::width(&badge));
        let mut name_style = Style::default();
        if room.muted() {
            name_style = name_style.fg(Color::DarkGray);
        } else if unread > 0 {
            name_style = name_style.add_modifier(Modifier::BOLD);
        }
        let badge_style = if mentioned {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().fg(Color::Black).bg(Color::Gray)
        };
        let mut line = Line::from(vec![
            Span::raw(" "),
            icon,
            Span::styled(name, name_style),
            Span::raw(" ".repeat(pad)),
            Span::styled(badge, badge_style),
        ]);
        if selected {
            line = line.style(Style::default().bg(Color::Blue).fg(Color::White));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}
