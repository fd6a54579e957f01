//! The search box (/search, Ctrl-F): a query typed, its hits listed, Enter opens one in its
//! room with the messages around it. The last query stays for the next time.

use super::*;
use chat_protocol::Search;

/// Hits asked for at once: a screenful or two.
const HITS: u32 = 50;

/// Open the search box: with `query`, search at once; without, offer the last query.
pub(crate) fn open_search(model: &mut Model, query: &str, fx: &mut Vec<Effect>) {
    let query = if query.trim().is_empty() {
        model.last_search.clone()
    } else {
        query.trim().to_string()
    };
    model.overlay = Some(Overlay::Search {
        picker: Picker {
            query: query.clone(),
            selected: 0,
        },
        hits: None,
        searched: String::new(),
    });
    if !query.is_empty() && query != model.last_search {
        run_search(model, fx);
    }
}

fn run_search(model: &mut Model, fx: &mut Vec<Effect>) {
    let Some(Overlay::Search {
        picker,
        hits,
        searched,
    }) = &mut model.overlay
    else {
        return;
    };
    let query = picker.query.trim().to_string();
    if query.is_empty() {
        return;
    }
    picker.selected = 0;
    *hits = None;
    *searched = query.clone();
    model.last_search = query.clone();
    if !is_connected(model) {
        notice(model, "not connected: search asks the server", true);
        return;
    }
    let frame = ClientFrame::Search(Search {
        request_id: 0,
        query,
        limit: Some(HITS),
        ..Search::default()
    });
    request(fx, Tag::Search, frame);
}

pub(crate) fn on_search_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::Search {
        picker,
        hits,
        searched,
    }) = &mut model.overlay
    else {
        return;
    };
    let count = hits.as_ref().map_or(0, Vec::len);
    match key.code {
        KeyCode::Esc => model.overlay = None,
        KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Tab => {
            picker.selected = (picker.selected + 1).min(count.saturating_sub(1))
        }
        KeyCode::Backspace => {
            picker.query.pop();
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => picker.query.push(c),
        // Enter on the hits of this query opens the selected one; after an edit, searches.
        KeyCode::Enter if count > 0 && picker.query.trim() == searched.as_str() => {
            let hit = hits
                .as_ref()
                .and_then(|h| h.get(picker.selected))
                .map(|h| (h.room_id, h.seq));
            model.overlay = None;
            if let Some((room_id, seq)) = hit {
                jump_to(model, room_id, seq, fx);
            }
        }
        KeyCode::Enter => run_search(model, fx),
        _ => {}
    }
}
