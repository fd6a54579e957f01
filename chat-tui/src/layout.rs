//! Where each part of the screen goes. `view` draws into these areas and `update` sizes scroll
//! steps by them, so both agree on the message pane's size.

use crate::model::Model;
use crate::wrap;
use ratatui::layout::Rect;

pub const SIDEBAR_WIDTH: u16 = 26;
/// The input box grows with its text up to this many rows, then scrolls.
pub const MAX_INPUT_ROWS: u16 = 6;
/// The prompt before the input text.
pub const PROMPT: &str = "› ";
/// A notice longer than its row takes up to this many, so an error is read whole.
pub const MAX_NOTICE_ROWS: u16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub sidebar: Rect,
    pub header: Rect,
    pub messages: Rect,
    pub typing: Rect,
    pub input: Rect,
    pub status: Rect,
}

pub fn areas(model: &Model) -> Areas {
    let (width, height) = model.size;
    let sidebar_width = if width >= 70 { SIDEBAR_WIDTH } else { 0 };
    let main_x = if sidebar_width > 0 {
        sidebar_width + 1
    } else {
        0
    };
    let main_width = width.saturating_sub(main_x);
    let input_width = main_width.saturating_sub(PROMPT.chars().count() as u16);
    let input_rows = (wrap::hard_wrap(model.input.text(), input_width.into()).len() as u16)
        .clamp(1, MAX_INPUT_ROWS);
    let status = Rect::new(0, height.saturating_sub(1), width, height.min(1));
    let body_height = height.saturating_sub(1);
    let header = Rect::new(main_x, 0, main_width, body_height.min(1));
    let input_top = body_height.saturating_sub(input_rows);
    let input = Rect::new(main_x, input_top, main_width, body_height.min(input_rows));
    // The row above the input; a long notice grows it upwards, but never past a third of
    // the body, so the message pane keeps most of a small window.
    let typing_rows = notice_lines(model, main_width)
        .len()
        .clamp(1, usize::from(MAX_NOTICE_ROWS)) as u16;
    let typing_rows = typing_rows.min((body_height / 3).max(1));
    let typing = Rect::new(
        main_x,
        input_top.saturating_sub(typing_rows),
        main_width,
        typing_rows.min(input_top),
    );
    let messages_top = header.bottom();
    let messages = Rect::new(
        main_x,
        messages_top,
        main_width,
        typing.y.saturating_sub(messages_top),
    );
    Areas {
        sidebar: Rect::new(0, 0, sidebar_width, body_height),
        header,
        messages,
        typing,
        input,
        status,
    }
}

/// The notice (if any) as the rows of the line above the input, `width` cells wide: wrapped at
/// spaces, each row after one space.
pub fn notice_lines(model: &Model, width: u16) -> Vec<String> {
    model.notice.as_ref().map_or_else(Vec::new, |notice| {
        let text = wrap::sanitize(&notice.text.replace('\n', " "));
        wrap::wrap(&text, usize::from(width.saturating_sub(1)))
            .into_iter()
            .map(|row| format!(" {row}"))
            .collect()
    })
}
