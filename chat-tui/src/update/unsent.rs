//! The /unsent overlay: messages the server refused, or whose room went away. Nothing is lost
//! silently: each stays until the user copies it back to the input, sends it again or
//! discards it.

use super::*;

pub(crate) fn on_unsent_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let failed: Vec<OutboxItem> = model.outbox.failed().cloned().collect();
    let Some(Overlay::Unsent { selected }) = &mut model.overlay else {
        return;
    };
    if failed.is_empty() {
        model.overlay = None;
        return;
    }
    *selected = (*selected).min(failed.len() - 1);
    let item = failed[*selected].clone();
    match key.code {
        KeyCode::Esc => model.overlay = None,
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => *selected += 1,
        // Back to the input, in its room if I am still there, to edit and send by hand.
        KeyCode::Enter | KeyCode::Char('e') => {
            model.overlay = None;
            discard(model, &item.client_id, fx);
            if model.rooms.contains_key(&item.room_id) {
                select_room(model, item.room_id, fx);
            }
            if !model.input.is_empty() {
                model.input.insert_str("\n");
            }
            model.input.insert_str(&item.text);
        }
        KeyCode::Char('r') => {
            if !model.rooms.contains_key(&item.room_id) {
                notice(
                    model,
                    format!("cannot retry: you are no longer in {}", item.room_name),
                    true,
                );
                return;
            }
            model.outbox.retry(&item.client_id);
            fx.push(Effect::Cache(CacheOp::OutboxRetry(item.client_id)));
            close_if_empty(model);
            pump_outbox(model, fx);
        }
        KeyCode::Char('d') | KeyCode::Delete => {
            discard(model, &item.client_id, fx);
            close_if_empty(model);
        }
        _ => {}
    }
}

fn discard(model: &mut Model, client_id: &str, fx: &mut Vec<Effect>) {
    model.outbox.remove(client_id);
    fx.push(Effect::Cache(CacheOp::OutboxRemove(client_id.to_string())));
}

fn close_if_empty(model: &mut Model) {
    if model.outbox.failed().next().is_none() {
        model.overlay = None;
    }
}
