//! The login and registration screen.

use crate::model::{Connection, LoginField, Model};
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

pub fn draw(model: &Model, frame: &mut Frame<'_>) {
    let form = &model.login;
    let area = frame.area();
    let width = area.width.min(60);
    let height = 12.min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let rect = Rect::new(x, y, width, height);
    let title = if form.register {
        " chat · create an account "
    } else {
        " chat · log in "
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);

    let masked = "•".repeat(form.password.chars().count());
    let fields = [
        (LoginField::Server, "Server  ", form.server.as_str()),
        (LoginField::Username, "Username", form.username.as_str()),
        (LoginField::Password, "Password", masked.as_str()),
    ];
    let mut lines = vec![Line::raw("")];
    let mut cursor = None;
    for (field, label, value) in fields {
        let focused = form.focus == field;
        let label_style = if focused {
            Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Gray)
        };
        if focused {
            let column = crate::wrap::width(value) as u16;
            cursor = Some(Position::new(
                inner.x + 2 + 10 + column.min(inner.width.saturating_sub(13)),
                inner.y + lines.len() as u16,
            ));
        }
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{label}  "), label_style),
            Span::raw(value.to_string()),
        ]));
    }
    lines.push(Line::raw(""));
    let status = match (&form.error, &model.conn) {
        (_, Connection::Connecting { .. }) => {
            Line::styled("  connecting…", Style::default().fg(Color::Yellow))
        }
        (Some(error), _) => Line::styled(format!("  {error}"), Style::default().fg(Color::Red)),
        (None, _) => Line::raw(""),
    };
    lines.push(status);
    lines.push(Line::raw(""));
    let action = if form.register { "register" } else { "log in" };
    let other = if form.register {
        "log in instead"
    } else {
        "create an account"
    };
    lines.push(Line::styled(
        format!("  Enter {action} · Tab next field · Ctrl-R {other}"),
        Style::default().fg(Color::DarkGray),
    ));
    lines.push(Line::styled(
        "  Ctrl-C quit · F1 help",
        Style::default().fg(Color::DarkGray),
    ));
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some(position) = cursor {
        frame.set_cursor_position(position);
    }
}
