//! `update`: the one place where the model changes. It does no I/O; what should happen outside
//! (connect, send a frame, write the cache, ring the bell) comes back as [`Effect`]s.

use crate::backoff::{self, STABLE_MS};
use crate::commands::{self, Command};
use crate::complete;
use crate::layout;
use crate::model::{Connection, LoginField, Model, Notice, Overlay, Picker, Room, Screen, Scroll};
use crate::msg::{CacheOp, Effect, Msg, RequestError, Tag};
use crate::outbox::{OutboxItem, OutboxState};
use crate::pane::{self, Geometry};
use crate::timeline::Timeline;
use chat_protocol::{
    AddMember, Auth, ChannelInfo, ClientFrame, CreateRoom, ErrorCode, EventContent, GetHistory,
    JoinRoom, LeaveRoom, ListChannels, ListMembers, Logout, NotifyLevel, OpenDirect, RemoveMember,
    RenameRoom, RoomEvent, RoomId, RoomKind, RoomSummary, SendMessage, ServerFrame, SetAway,
    SetReceipt, SetTopic, SetTyping, Welcome,
};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

mod connection;
mod files;
mod frames;
mod keys;
mod rooms;
mod search;
mod select;
mod send;
#[cfg(test)]
pub(crate) mod tests;
mod unsent;

pub use connection::install_account;
use connection::*;
pub use files::transfers_text;
use files::*;
use frames::*;
use keys::*;
pub use keys::{channel_matches, switcher_matches};
pub use rooms::select_room;
use rooms::*;
use search::*;
use select::*;
pub use select::{selection_rights, SelectionRights};
use send::*;
use unsent::*;

/// Events per history request.
pub const PAGE: u32 = 100;
/// Typing is re-announced at most this often while keys are pressed (the server forgets it
/// after its typing timeout, 5 s by default).
const TYPING_REPEAT_MS: i64 = 3_000;
/// Typing we heard about is dropped after this long without a refresh.
const TYPING_EXPIRY_MS: i64 = 6_000;
const NOTICE_MS: i64 = 10_000;
/// Rows per mouse wheel step.
const WHEEL_ROWS: usize = 3;

/// What to do when the client starts: connect with the saved token, or show the login screen.
pub fn start(model: &mut Model) -> Vec<Effect> {
    let mut fx = Vec::new();
    if model.token.is_some() {
        model.screen = Screen::Chat;
        if model.selected.is_none() {
            model.selected = model.room_order().first().copied();
        }
        connect(model, 0, &mut fx);
    } else {
        model.screen = Screen::Login;
    }
    fx
}

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => on_key(model, key, &mut fx),
        Msg::Paste(text) => on_paste(model, &text, &mut fx),
        Msg::Mouse(mouse) => on_mouse(model, mouse, &mut fx),
        Msg::Resize(w, h) => model.size = (w, h),
        Msg::Tick => on_tick(model, &mut fx),
        Msg::Connected(welcome) => on_connected(model, *welcome, &mut fx),
        Msg::ConnectFailed {
            error,
            auth,
            answered,
        } => {
            // On the login screen, a refusal with a reason is the answer, not a network fault.
            let error = if answered || model.screen != Screen::Login {
                error
            } else {
                format!("cannot connect: {error}")
            };
            on_connection_lost(model, error, auth, &mut fx)
        }
        // Logged out already (the answer to /logout came first): the connection's end is old news.
        Msg::Disconnected { .. } if model.conn == Connection::Offline => {}
        Msg::Disconnected { reason, auth } => on_connection_lost(model, reason, auth, &mut fx),
        Msg::Server(frame) => on_frame(model, frame, &mut fx),
        Msg::Response { tag, result } => on_response(model, tag, result, &mut fx),
        Msg::PingSent => {
            if let Connection::Connected { ping_sent, .. } = &mut model.conn {
                *ping_sent = Some(model.now);
            }
        }
        Msg::Rtt(ms) => {
            if let Connection::Connected {
                rtt_ms, ping_sent, ..
            } = &mut model.conn
            {
                *rtt_ms = Some(ms);
                *ping_sent = None;
            }
        }
        Msg::AccountLoaded(cached) => install_account(model, *cached),
        Msg::CachedOlder {
            room_id,
            before,
            events,
        } => on_cached_older(model, room_id, before, events, &mut fx),
        Msg::PastedFiles { text, files } => on_pasted_files(model, text, files, &mut fx),
        Msg::PathCandidates { typed, candidates } => on_path_candidates(model, &typed, candidates),
        Msg::TransferProgress { id, done, total } => on_transfer_progress(model, id, done, total),
        Msg::Uploaded { id, result } => on_uploaded(model, id, result, &mut fx),
        Msg::Downloaded { id, result } => on_downloaded(model, id, result),
        Msg::OpenFailed(e) => notice(model, e, true),
        Msg::NoPreview { file_id } => {
            model.no_preview.insert(file_id);
        }
    }
    fx
}

fn notice(model: &mut Model, text: impl Into<String>, error: bool) {
    model.notice = Some(Notice {
        text: text.into(),
        error,
        at: model.now,
    });
}

fn is_connected(model: &Model) -> bool {
    matches!(model.conn, Connection::Connected { .. })
}

fn request(fx: &mut Vec<Effect>, tag: Tag, frame: ClientFrame) {
    fx.push(Effect::Request { tag, frame });
}
