//! Scrolling the message pane by rows, and the rows in view. Work is bounded by the pane
//! height, not by the size of the room: scrolling is anchored on an event, never counted from
//! the bottom.

use super::{event_lines, event_parts, pending_lines, Geometry, Parts, PreviewSpot};
use crate::model::{Model, Room, Scroll};
use chat_protocol::Seq;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;

fn height(model: &Model, room: &Room, i: usize, g: Geometry) -> usize {
    event_lines(model, room, i, g).len()
}

/// Rows of my unsent messages under the newest event.
pub fn pending_rows(model: &Model, room: &Room, g: Geometry) -> usize {
    model
        .outbox
        .in_room(room.id())
        .map(|item| pending_lines(model, item, g).len())
        .sum()
}

/// Where the pane is after scrolling `rows` towards older messages.
pub fn scrolled_up(model: &Model, room: &Room, rows: usize, g: Geometry, pane: usize) -> Scroll {
    let events = room.timeline.events();
    if events.is_empty() {
        return Scroll::Bottom;
    }
    let (mut i, mut below) = match room.scroll {
        Scroll::Bottom => (
            events.len() - 1,
            rows.saturating_sub(pending_rows(model, room, g)),
        ),
        Scroll::At { seq, rows_below } => (anchor_index(room, seq), rows_below + rows),
    };
    while i > 0 && below >= height(model, room, i, g) {
        below -= height(model, room, i, g);
        i -= 1;
    }
    // Never scroll past the top: at least a pane of content must remain above the bottom edge.
    let mut above = 0;
    for j in (0..=i).rev() {
        above += height(model, room, j, g);
        if above >= below + pane {
            return Scroll::At {
                seq: events[i].seq,
                rows_below: below,
            };
        }
    }
    top_of(model, room, g, pane)
}

/// Where the pane is after scrolling `rows` towards newer messages.
pub fn scrolled_down(model: &Model, room: &Room, rows: usize, g: Geometry) -> Scroll {
    let Scroll::At { seq, rows_below } = room.scroll else {
        return Scroll::Bottom;
    };
    let events = room.timeline.events();
    let mut i = anchor_index(room, seq);
    let mut below = rows_below as isize - rows as isize;
    while below < 0 {
        i += 1;
        if i >= events.len() {
            return Scroll::Bottom;
        }
        below += height(model, room, i, g) as isize;
    }
    Scroll::At {
        seq: events[i].seq,
        rows_below: below as usize,
    }
}

/// The scroll position that shows the oldest loaded event at the top of the pane.
fn top_of(model: &Model, room: &Room, g: Geometry, pane: usize) -> Scroll {
    top_at(model, room, 0, g, pane)
}

/// The scroll position that puts event `seq` (with the lines above it: the day and the "new
/// messages" rule) at the top of the pane; the bottom if everything from it on fits.
pub fn showing_from(model: &Model, room: &Room, seq: Seq, g: Geometry, pane: usize) -> Scroll {
    match room.timeline.position(seq) {
        Ok(i) => top_at(model, room, i, g, pane),
        Err(_) => Scroll::Bottom,
    }
}

fn top_at(model: &Model, room: &Room, start: usize, g: Geometry, pane: usize) -> Scroll {
    let events = room.timeline.events();
    let mut total = 0;
    for (i, event) in events.iter().enumerate().skip(start) {
        total += height(model, room, i, g);
        if total >= pane {
            if i + 1 == events.len() && total == pane {
                return Scroll::Bottom;
            }
            return Scroll::At {
                seq: event.seq,
                rows_below: total - pane,
            };
        }
    }
    Scroll::Bottom
}

/// Whether all of event `seq` is on screen at the room's scroll position.
pub fn shows(model: &Model, room: &Room, seq: Seq, g: Geometry, pane: usize) -> bool {
    let Ok(target) = room.timeline.position(seq) else {
        return false;
    };
    let (end, skip_bottom) = match room.scroll {
        Scroll::Bottom => (room.timeline.len(), 0),
        Scroll::At { seq, rows_below } => (anchor_index(room, seq) + 1, rows_below),
    };
    if target >= end {
        return false;
    }
    let mut below = if room.scroll == Scroll::Bottom {
        pending_rows(model, room, g)
    } else {
        0
    };
    for i in target + 1..end {
        below += height(model, room, i, g);
    }
    let Some(below) = below.checked_sub(skip_bottom) else {
        return false;
    };
    below + height(model, room, target, g) <= pane
}

fn anchor_index(room: &Room, seq: Seq) -> usize {
    let len = room.timeline.len();
    room.timeline
        .position(seq)
        .unwrap_or_else(|i| i.min(len.saturating_sub(1)))
}

/// What the pane shows: its rows top to bottom (at most a pane of them), and where image
/// previews go in them.
#[derive(Debug, Default)]
pub struct Visible {
    pub lines: Vec<Line<'static>>,
    /// Each at least partly in view; `row` counts from the first of `lines`.
    pub previews: Vec<PreviewSpot>,
}

/// The rows to draw, top to bottom, at most `pane` of them.
pub fn visible_lines(model: &Model, room: &Room, g: Geometry, pane: usize) -> Vec<Line<'static>> {
    visible(model, room, g, pane).lines
}

/// The rows to draw and the previews in them.
pub fn visible(model: &Model, room: &Room, g: Geometry, pane: usize) -> Visible {
    let events = room.timeline.events();
    let (end, skip_bottom) = match room.scroll {
        Scroll::Bottom => (events.len(), 0),
        Scroll::At { seq, rows_below } => (anchor_index(room, seq) + 1, rows_below),
    };
    let mut chunks: Vec<Parts> = Vec::new();
    let mut total = 0;
    if room.scroll == Scroll::Bottom {
        let pending: Vec<Line<'static>> = model
            .outbox
            .in_room(room.id())
            .flat_map(|item| pending_lines(model, item, g))
            .collect();
        total += pending.len();
        chunks.push(Parts {
            rules: 0,
            lines: pending,
            previews: Vec::new(),
        });
    }
    for i in (0..end.min(events.len())).rev() {
        if total >= pane + skip_bottom {
            break;
        }
        let mut parts = event_parts(model, room, i, g);
        if model.selection == Some(events[i].seq) {
            // The selected message (selection mode) in reverse video, readable on any theme;
            // the rules above it are not part of it.
            let selected = Style::default().add_modifier(Modifier::REVERSED);
            for line in parts
                .lines
                .iter_mut()
                .skip(parts.rules)
                .filter(|l| !l.spans.is_empty())
            {
                line.style = line.style.patch(selected);
            }
        }
        total += parts.lines.len();
        chunks.push(parts);
    }
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(total);
    let mut previews = Vec::new();
    for parts in chunks.into_iter().rev() {
        let top = lines.len() as i32;
        previews.extend(parts.previews.into_iter().map(|mut spot| {
            spot.row += top;
            spot
        }));
        lines.extend(parts.lines);
    }
    lines.truncate(lines.len().saturating_sub(skip_bottom));
    let start = lines.len().saturating_sub(pane);
    let lines = lines.split_off(start);
    let shown = lines.len() as i32;
    let previews = previews
        .into_iter()
        .map(|mut spot| {
            spot.row -= start as i32;
            spot
        })
        .filter(|spot| spot.row < shown && spot.row + i32::from(spot.rows) > 0)
        .collect();
    Visible { lines, previews }
}
