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
    let inner_width = width.saturating_sub(2);

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
            cursor = Some((
                2 + 10 + column.min(inner_width.saturating_sub(13)),
                lines.len() as u16,
            ));
        }
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{label}  "), label_style),
            Span::raw(value.to_string()),
        ]));
    }
    lines.push(Line::raw(""));
    let text_width = usize::from(inner_width.saturating_sub(2)).max(10);
    match (&form.error, &model.conn) {
        (_, Connection::Connecting { .. }) => lines.push(Line::styled(
            "  connecting…",
            Style::default().fg(Color::Yellow),
        )),
        // An error is said in full, over as many rows as it needs.
        (Some(error), _) => lines.extend(
            crate::wrap::wrap(&crate::wrap::sanitize(error), text_width)
                .into_iter()
                .map(|row| Line::styled(format!("  {row}"), Style::default().fg(Color::Red))),
        ),
        (None, _) => lines.push(Line::raw("")),
    }
    lines.push(Line::raw(""));
    let action = if form.register { "register" } else { "log in" };
    let other = if form.register {
        "log in instead"
    } else {
        "create an account"
    };
    let hints = [
        format!("Enter {action}"),
        "Tab next field".to_string(),
        format!("Ctrl-R {other}"),
        "Ctrl-C quit".to_string(),
        "F1 help".to_string(),
    ];
    // The hints flow over rows, never cut inside one.
    let mut row = String::new();
    for hint in hints {
        if !row.is_empty() && crate::wrap::width(&row) + 3 + crate::wrap::width(&hint) > text_width
        {
            lines.push(Line::styled(
                format!("  {row}"),
                Style::default().fg(Color::DarkGray),
            ));
            row.clear();
        }
        if !row.is_empty() {
            row.push_str(" · ");
        }
        row.push_str(&hint);
    }
    lines.push(Line::styled(
        format!("  {row}"),
        Style::default().fg(Color::DarkGray),
    ));
    // As tall as what it says, centred.
    let height = (lines.len() as u16 + 2).min(area.height);
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
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((column, row)) = cursor {
        frame.set_cursor_position(Position::new(inner.x + column, inner.y + row));
    }
}
