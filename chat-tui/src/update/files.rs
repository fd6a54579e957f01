//! Files: `/upload PATH` (Tab completes the path), a pasted file offered for upload, the
//! transfers' progress and ends, and saving or opening the files of the selected message.

use super::*;
use crate::model::{PastedFile, Transfer, TransferKind, UPLOADS_AT_ONCE};
use crate::pane::human_size;
use chat_protocol::Attachment;

/// What `/upload ` is followed by in the input, if that is what it holds.
const UPLOAD_PREFIX: &str = "/upload ";

fn start_transfer(
    model: &mut Model,
    name: String,
    file_id: Option<chat_protocol::FileId>,
    kind: TransferKind,
) -> u64 {
    let id = model.next_transfer;
    model.next_transfer += 1;
    model.transfers.push(Transfer {
        id,
        name,
        file_id,
        kind,
        done: 0,
        total: 0,
        waiting: None,
        up: None,
    });
    id
}

/// Upload the file at `path` (as typed) and send it to the room in view once it is up.
pub(crate) fn start_upload(model: &mut Model, path: &str, fx: &mut Vec<Effect>) {
    let Some(room_id) = model.selected else {
        notice(model, "no room open: /join a channel or /dm someone", true);
        return;
    };
    if !may_post(model, room_id) {
        return;
    }
    if model.token.is_none() {
        notice(model, "log in first", true);
        return;
    }
    let path = crate::paths::pasted_path(path).unwrap_or_else(|| path.trim().to_string());
    upload_path(model, room_id, path, fx);
}

/// Upload the file at `path` (as it is, already unquoted) to `room_id`: now, or once fewer
/// than [`UPLOADS_AT_ONCE`] are going.
fn upload_path(model: &mut Model, room_id: RoomId, path: String, fx: &mut Vec<Effect>) {
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    start_transfer(model, name, None, TransferKind::Upload { room_id });
    if let Some(transfer) = model.transfers.last_mut() {
        transfer.waiting = Some(path);
    }
    start_waiting_upload(model, fx);
}

/// The first waiting upload goes, if fewer than [`UPLOADS_AT_ONCE`] are going: called when
/// one is asked for and when one ends.
fn start_waiting_upload(model: &mut Model, fx: &mut Vec<Effect>) {
    if model.transfers.iter().filter(|t| t.is_uploading()).count() >= UPLOADS_AT_ONCE {
        return;
    }
    let next = model.transfers.iter_mut().find(|t| t.waiting.is_some());
    if let Some(transfer) = next {
        if let Some(path) = transfer.waiting.take() {
            fx.push(Effect::Upload {
                id: transfer.id,
                path,
                max_bytes: model.limits.max_upload_bytes,
            });
        }
    }
}

/// Tab after `/upload `: ask for the completions of the path typed so far.
pub(crate) fn complete_upload_path(model: &mut Model, fx: &mut Vec<Effect>) -> bool {
    let Some(typed) = model.input.text().strip_prefix(UPLOAD_PREFIX) else {
        return false;
    };
    if model.completion.is_some() {
        // Tab again: the next of the candidates already listed.
        complete::complete(model);
        return true;
    }
    fx.push(Effect::ListPaths {
        typed: typed.to_string(),
    });
    true
}

/// The completions of the path typed: the only one, or what they all start with, or (when
/// that adds nothing) the first, with Tab going through the rest.
pub(crate) fn on_path_candidates(model: &mut Model, typed: &str, candidates: Vec<String>) {
    if model.input.text() != format!("{UPLOAD_PREFIX}{typed}") {
        return; // typed on since: stale
    }
    let start = UPLOAD_PREFIX.len();
    let end = model.input.text().len();
    match candidates.as_slice() {
        [] => notice(model, format!("no file or folder matches {typed}"), true),
        [only] => {
            model.input.replace_range(start..end, only);
        }
        several => {
            let common = common_prefix(several);
            if common.len() > typed.len() {
                model.input.replace_range(start..end, &common);
            } else {
                model.input.replace_range(start..end, &several[0]);
                model.completion = Some(crate::model::Completion {
                    start,
                    candidates: several.to_vec(),
                    index: 0,
                });
            }
            let names: Vec<&str> = several
                .iter()
                .map(|c| {
                    let bare = c.trim_end_matches('/');
                    let cut = bare.rfind('/').map_or(0, |i| i + 1);
                    &c[cut..]
                })
                .collect();
            notice(
                model,
                format!("{} matches: {}", several.len(), names.join("  ")),
                false,
            );
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut end = first.len();
    for word in &words[1..] {
        end = first
            .char_indices()
            .zip(word.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(word.len()), |((i, _), _)| i)
            .min(end);
    }
    first[..end].to_string()
}

/// A paste naming existing files: offer to upload them when nothing else is being written.
/// Files dropped while the offer is open join it.
pub(crate) fn on_pasted_files(
    model: &mut Model,
    text: String,
    files: Vec<PastedFile>,
    fx: &mut Vec<Effect>,
) {
    if let Some(Overlay::ConfirmUpload {
        files: offered,
        text: pasted,
        ..
    }) = &mut model.overlay
    {
        for file in files {
            if !offered.iter().any(|o| o.path == file.path) {
                offered.push(file);
            }
        }
        pasted.push(' ');
        pasted.push_str(&text);
        return;
    }
    let offer = model.screen == Screen::Chat
        && model.overlay.is_none()
        && model.selection.is_none()
        && model.input.is_empty()
        && model.compose.is_none()
        && model.selected_room().is_some()
        && model.token.is_some();
    if offer {
        model.overlay = Some(Overlay::ConfirmUpload {
            files,
            text,
            also: String::new(),
        });
    } else {
        on_paste(model, &text, fx);
    }
}

pub(crate) fn on_confirm_upload_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::ConfirmUpload { files, text, also }) = model.overlay.clone() else {
        return;
    };
    match key.code {
        KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => {
            model.overlay = None;
            if !also.is_empty() {
                on_paste(model, &also, fx);
            }
            let Some(room_id) = model.selected else {
                return;
            };
            if !may_post(model, room_id) {
                return;
            }
            for file in files {
                upload_path(model, room_id, file.path.to_string_lossy().into_owned(), fx);
            }
        }
        KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') => {
            model.overlay = None;
            on_paste(model, &text, fx);
        }
        _ => {}
    }
}

pub(crate) fn on_transfer_progress(model: &mut Model, id: u64, done: u64, total: u64) {
    if let Some(t) = model.transfers.iter_mut().find(|t| t.id == id) {
        t.done = done;
        t.total = total;
    }
}

fn finish_transfer(model: &mut Model, id: u64) -> Option<Transfer> {
    let i = model.transfers.iter().position(|t| t.id == id)?;
    Some(model.transfers.remove(i))
}

pub(crate) fn on_uploaded(
    model: &mut Model,
    id: u64,
    result: Result<Attachment, String>,
    fx: &mut Vec<Effect>,
) {
    let Some(transfer) = model.transfers.iter_mut().find(|t| t.id == id) else {
        return;
    };
    let TransferKind::Upload { room_id } = transfer.kind else {
        return;
    };
    match result {
        Ok(file) => {
            transfer.done = transfer.total;
            transfer.up = Some(file);
        }
        Err(e) => {
            let name = shortened(&transfer.name);
            finish_transfer(model, id);
            notice(model, format!("{name} not sent: {e}"), true);
        }
    }
    start_waiting_upload(model, fx);
    send_uploaded(model, room_id, fx);
}

/// Send the messages of the uploads to `room_id` that are up, in the order they were asked
/// for, up to the first that is still going up.
fn send_uploaded(model: &mut Model, room_id: RoomId, fx: &mut Vec<Effect>) {
    loop {
        let first = model
            .transfers
            .iter()
            .position(|t| t.kind == TransferKind::Upload { room_id });
        let Some(i) = first.filter(|&i| model.transfers[i].up.is_some()) else {
            return;
        };
        let transfer = model.transfers.remove(i);
        let Some(file) = transfer.up else {
            return;
        };
        if !model.rooms.contains_key(&room_id) {
            let text = format!("{} is up, but its room is gone", shortened(&transfer.name));
            notice(model, text, true);
            continue;
        }
        // Through the outbox like any message: kept across a lost connection or a restart.
        enqueue(model, room_id, String::new(), None, false, vec![file], fx);
    }
}

/// A file name for a notice: a long one loses its middle, so the reason after it is read.
fn shortened(name: &str) -> String {
    crate::wrap::truncate_middle(&crate::wrap::sanitize(name), 40)
}

pub(crate) fn on_downloaded(
    model: &mut Model,
    id: u64,
    result: Result<std::path::PathBuf, String>,
) {
    let Some(transfer) = finish_transfer(model, id) else {
        return;
    };
    match (result, transfer.kind) {
        (Ok(path), TransferKind::Save) => {
            let home = model.home.clone();
            let shown = |path: &std::path::Path| {
                home.as_ref()
                    .and_then(|home| Some(format!("~/{}", path.strip_prefix(home).ok()?.display())))
                    .unwrap_or_else(|| path.display().to_string())
            };
            // The files of one `s` are told of together, once the last is saved.
            model.saved.push(path.clone());
            let still = model
                .transfers
                .iter()
                .filter(|t| t.kind == TransferKind::Save)
                .count();
            let text = match (still, model.saved.len()) {
                (0, 1) => format!("saved {}", shown(&path)),
                (0, n) => {
                    let names: Vec<String> = model
                        .saved
                        .iter()
                        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
                        .collect();
                    let folder = path.parent().map(shown).unwrap_or_default();
                    format!("saved {n} files to {folder}: {}", names.join(", "))
                }
                (still, n) => format!("saved {n}, {still} to go…"),
            };
            if still == 0 {
                model.saved.clear();
            }
            notice(model, text, false);
        }
        (Ok(_), _) => notice(model, format!("opened {}", transfer.name), false),
        (Err(e), _) => notice(model, format!("{}: {e}", transfer.name), true),
    }
}

/// Download `file`, to keep (`open` false) or to open.
fn download(model: &mut Model, file: &Attachment, open: bool, fx: &mut Vec<Effect>) {
    if model.token.is_none() {
        notice(model, "log in first", true);
        return;
    }
    let kind = if open {
        TransferKind::Open
    } else {
        TransferKind::Save
    };
    // Twice at once would write the same partial file.
    let running = model
        .transfers
        .iter()
        .any(|t| t.file_id == Some(file.id) && t.kind == kind);
    if running {
        notice(model, format!("{} is on its way already", file.name), false);
        return;
    }
    let id = start_transfer(model, file.name.clone(), Some(file.id), kind);
    fx.push(Effect::Download {
        id,
        file: file.clone(),
        open,
    });
}

/// `s` on a message: save each of its files to the download folder.
pub(crate) fn save_files(model: &mut Model, files: &[Attachment], fx: &mut Vec<Effect>) {
    if files.is_empty() {
        notice(model, "this message has no file to save", true);
        return;
    }
    for file in files {
        download(model, file, false, fx);
    }
}

/// `o` on a message: open its file, or choose one of its files.
pub(crate) fn open_files(model: &mut Model, files: &[Attachment], fx: &mut Vec<Effect>) {
    match files {
        [] => notice(model, "this message has no file to open", true),
        [file] => download(model, file, true, fx),
        several => {
            model.overlay = Some(Overlay::Files {
                files: several.to_vec(),
                selected: 0,
            })
        }
    }
}

pub(crate) fn on_files_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::Files { files, selected }) = model.overlay.as_mut() else {
        return;
    };
    let last = files.len().saturating_sub(1);
    let file = files.get(*selected).cloned();
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *selected = (*selected + 1).min(last),
        KeyCode::Enter | KeyCode::Char('o') => {
            if let Some(file) = file {
                download(model, &file, true, fx);
            }
        }
        KeyCode::Char('s') => {
            if let Some(file) = file {
                download(model, &file, false, fx);
            }
        }
        KeyCode::Char('a') => {
            let files = files.clone();
            model.overlay = None;
            save_files(model, &files, fx);
        }
        KeyCode::Esc | KeyCode::Char('q') => model.overlay = None,
        _ => {}
    }
}

/// The transfers as the status bar shows them: how many uploads wait their turn (first, so a
/// narrow window still says so), then each that is going.
pub fn transfers_text(model: &Model) -> Vec<String> {
    let waiting = model
        .transfers
        .iter()
        .filter(|t| t.waiting.is_some())
        .count();
    let going = model.transfers.iter().filter(|t| t.waiting.is_none());
    (waiting > 0)
        .then(|| format!("⇡ {waiting} waiting"))
        .into_iter()
        .chain(going.map(transfer_text))
        .collect()
}

/// A transfer as the status bar shows it: `⇡ report.pdf 45% of 2.1 MB`.
fn transfer_text(transfer: &Transfer) -> String {
    let arrow = match transfer.kind {
        TransferKind::Upload { .. } => "⇡",
        TransferKind::Save | TransferKind::Open => "⇣",
    };
    let name = crate::wrap::truncate(&crate::wrap::sanitize(&transfer.name), 24);
    if transfer.up.is_some() {
        // Up, its message waiting for those before it.
        return format!("{arrow} {name} ✓");
    }
    if transfer.total == 0 {
        return format!("{arrow} {name}");
    }
    let percent = transfer.done * 100 / transfer.total;
    format!(
        "{arrow} {name} {percent}% of {}",
        human_size(transfer.total)
    )
}
