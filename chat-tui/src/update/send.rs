//! Sending messages through the outbox, and running /commands.

use super::*;
use crate::model::Compose;
use chat_protocol::{NotifyLevel, SetRoomSettings};

pub(crate) fn submit(model: &mut Model, fx: &mut Vec<Effect>) {
    // A reply or an edit belongs to the room it was started in.
    let compose_room = match &model.compose {
        Some(Compose::Reply { room_id, .. } | Compose::Edit { room_id, .. }) => Some(*room_id),
        None => None,
    };
    if compose_room.is_some() && compose_room != model.selected {
        model.compose = None;
    }
    if let Some(Compose::Edit { room_id, target }) = model.compose.clone() {
        submit_edit(model, room_id, target, fx);
        return;
    }
    let text = model.input.text().trim_end().to_string();
    if text.trim().is_empty() {
        return;
    }
    if text.starts_with('/') && !text.starts_with("//") {
        match commands::parse(&text) {
            Ok(command) => {
                model.input.take();
                run_command(model, command, fx);
            }
            Err(message) => notice(model, message, true),
        }
        return;
    }
    // "//text" sends "/text".
    let text = text
        .strip_prefix('/')
        .filter(|t| t.starts_with('/'))
        .unwrap_or(&text)
        .to_string();
    let reply_to = match model.compose.take() {
        Some(Compose::Reply { message_id, .. }) => Some(message_id),
        _ => None,
    };
    queue_message(model, text, reply_to, false, fx);
}

/// Put a message in the outbox (sent at once when connected) for the room in view.
pub(crate) fn queue_message(
    model: &mut Model,
    text: String,
    reply_to: Option<chat_protocol::MessageId>,
    action: bool,
    fx: &mut Vec<Effect>,
) {
    let Some(room_id) = model.selected else {
        notice(model, "no room open: /join a channel or /dm someone", true);
        return;
    };
    if over_length(model, &text) || !may_post(model, room_id) {
        return;
    }
    model.input.take();
    stop_typing(model, fx);
    enqueue(model, room_id, text, reply_to, action, Vec::new(), fx);
}

/// Whether I may post in the room; says why not if I may not.
pub(crate) fn may_post(model: &mut Model, room_id: RoomId) -> bool {
    let Some(room) = model.rooms.get(&room_id) else {
        notice(model, "that room is gone", true);
        return false;
    };
    if room.summary.kind == RoomKind::Announcement && !room.summary.role.can_manage() {
        notice(model, "only admins can post in an announcement room", true);
        return false;
    }
    true
}

/// Put a message in the outbox of `room_id` and send it when its turn comes.
pub(crate) fn enqueue(
    model: &mut Model,
    room_id: RoomId,
    text: String,
    reply_to: Option<chat_protocol::MessageId>,
    action: bool,
    attachments: Vec<chat_protocol::Attachment>,
    fx: &mut Vec<Effect>,
) {
    let Some(room) = model.rooms.get_mut(&room_id) else {
        return;
    };
    room.scroll = Scroll::Bottom;
    room.unseen_below = 0;
    let item = OutboxItem {
        client_id: model.rng.client_id(),
        room_id,
        room_name: room.display_name(),
        text,
        created: model.now,
        state: OutboxState::Queued,
        reply_to,
        action,
        attachments,
    };
    fx.push(Effect::Cache(CacheOp::OutboxPut(item.clone())));
    model.outbox.push(item);
    pump_outbox(model, fx);
}

/// Whether `text` is longer than the server takes; says so if it is.
pub(crate) fn over_length(model: &mut Model, text: &str) -> bool {
    let chars = text.chars().count();
    let limit = model.limits.max_message_chars;
    if chars > limit {
        notice(
            model,
            format!("message is {chars} characters; the limit is {limit}"),
            true,
        );
    }
    chars > limit
}

/// Send the next queued message if the connection is up and nothing is in flight.
pub(crate) fn pump_outbox(model: &mut Model, fx: &mut Vec<Effect>) {
    if !is_connected(model) || model.now < model.outbox_retry_at {
        return;
    }
    if let Some(item) = model.outbox.take_next() {
        let frame = ClientFrame::SendMessage(SendMessage {
            request_id: 0,
            room_id: item.room_id,
            client_id: item.client_id.clone(),
            text: item.text.clone(),
            reply_to: item.reply_to,
            action: item.action,
            attachments: item.attachments.iter().map(|a| a.id).collect(),
        });
        let tag = Tag::Send {
            client_id: item.client_id.clone(),
        };
        request(fx, tag, frame);
    }
}

pub(crate) fn run_command(model: &mut Model, command: Command, fx: &mut Vec<Effect>) {
    match command {
        Command::Help => {
            model.help_scroll = 0;
            model.overlay = Some(Overlay::Help);
            return;
        }
        Command::Quit => {
            save_draft(model, fx);
            model.quit = true;
            fx.push(Effect::Quit);
            return;
        }
        Command::Unsent => {
            let waiting = model.outbox.waiting();
            if model.outbox.failed().next().is_none() {
                let text = match waiting {
                    0 => "every message was sent".to_string(),
                    n => format!(
                        "none failed; {n} queued go out when connected (Up in an empty input edits them)"
                    ),
                };
                notice(model, text, false);
            } else {
                model.overlay = Some(Overlay::Unsent { selected: 0 });
            }
            return;
        }
        Command::Names => {
            let Some(room_id) = model.selected else {
                notice(model, "no room open", true);
                return;
            };
            model.overlay = Some(Overlay::Members { room_id });
            if is_connected(model) {
                // Fresh roles and read marks; the list shows what is known meanwhile.
                let frame = ClientFrame::ListMembers(ListMembers {
                    request_id: 0,
                    room_id,
                });
                request(fx, Tag::Members { room_id }, frame);
            }
            return;
        }
        Command::Mentions => {
            open_mentions(model, fx);
            return;
        }
        Command::Search(query) => {
            open_search(model, &query, fx);
            return;
        }
        Command::Me(action) => {
            queue_message(model, action, None, true, fx);
            return;
        }
        Command::Upload(path) => {
            start_upload(model, &path, fx);
            return;
        }
        Command::Whois(name) => {
            let text = whois(model, &name);
            notice(model, text, false);
            return;
        }
        Command::Reconnect => {
            if is_connected(model) || matches!(model.conn, Connection::Connecting { .. }) {
                fx.push(Effect::Disconnect);
                connection_reset(model);
            }
            connect(model, 0, fx);
            return;
        }
        Command::Logout => {
            let waiting = model.outbox.waiting();
            if waiting > 0 && !model.confirm_logout {
                model.confirm_logout = true;
                let me = model.me.as_ref().map_or("you", |m| m.username.as_str());
                notice(
                    model,
                    format!("{waiting} message(s) not sent yet stay on this device until {me} logs in again: /logout again to log out"),
                    true,
                );
                return;
            }
            if is_connected(model) {
                // The token is revoked first; the answer (or the connection's end) logs out.
                model.logging_out = true;
                notice(model, "logging out…", false);
                request(
                    fx,
                    Tag::Logout,
                    ClientFrame::Logout(Logout { request_id: 0 }),
                );
            } else {
                logout(model, Some(NOT_REVOKED.into()), fx);
            }
            return;
        }
        _ => {}
    }
    if !is_connected(model) {
        notice(model, "not connected: this command needs the server", true);
        return;
    }
    let room = model.selected_room().map(|r| (r.id(), r.display_name()));
    let need_room = || room.clone().ok_or("no room open");
    let (tag, frame) = match command {
        Command::Join(name) => match name.parse::<RoomId>() {
            Ok(room_id) => (
                Tag::OpenRoom,
                ClientFrame::JoinRoom(JoinRoom {
                    request_id: 0,
                    room_id,
                }),
            ),
            Err(_) => (
                Tag::JoinByName(name),
                ClientFrame::ListChannels(ListChannels { request_id: 0 }),
            ),
        },
        Command::Create {
            kind,
            title,
            members,
        } => (
            Tag::OpenRoom,
            ClientFrame::CreateRoom(CreateRoom {
                request_id: 0,
                kind,
                title,
                topic: String::new(),
                members,
            }),
        ),
        Command::Dm(username) => (
            Tag::OpenRoom,
            ClientFrame::OpenDirect(OpenDirect {
                request_id: 0,
                username,
            }),
        ),
        Command::Away(message) => (
            Tag::Action(match &message {
                Some(m) => format!("you are away: {m}"),
                None => "you are back".into(),
            }),
            ClientFrame::SetAway(SetAway {
                request_id: 0,
                message,
            }),
        ),
        Command::Channels => {
            model.overlay = Some(Overlay::Channels {
                picker: Picker::default(),
                channels: None,
            });
            (
                Tag::Channels,
                ClientFrame::ListChannels(ListChannels { request_id: 0 }),
            )
        }
        room_command => {
            let (room_id, name) = match need_room() {
                Ok(r) => r,
                Err(e) => {
                    notice(model, e, true);
                    return;
                }
            };
            match room_command {
                Command::Leave => (
                    Tag::Action(format!("you left {name}")),
                    ClientFrame::LeaveRoom(LeaveRoom {
                        request_id: 0,
                        room_id,
                    }),
                ),
                Command::Invite(username) => (
                    Tag::Action(format!("added {username} to {name}")),
                    ClientFrame::AddMember(AddMember {
                        request_id: 0,
                        room_id,
                        username,
                    }),
                ),
                Command::Kick(username) => (
                    Tag::Action(format!("removed {username} from {name}")),
                    ClientFrame::RemoveMember(RemoveMember {
                        request_id: 0,
                        room_id,
                        username,
                    }),
                ),
                Command::Topic(topic) => (
                    Tag::Action("topic set".into()),
                    ClientFrame::SetTopic(SetTopic {
                        request_id: 0,
                        room_id,
                        topic,
                    }),
                ),
                Command::Notify(level) => (
                    Tag::Action(match level {
                        NotifyLevel::All => format!("{name}: every message alerts you"),
                        NotifyLevel::Mentions => format!("{name}: only mentions alert you"),
                        NotifyLevel::None => format!("{name} muted"),
                    }),
                    ClientFrame::SetRoomSettings(SetRoomSettings {
                        notify: Some(level),
                        room_id,
                        ..SetRoomSettings::default()
                    }),
                ),
                Command::Pin(pinned) => (
                    Tag::Action(format!(
                        "{name} {}",
                        if pinned { "pinned" } else { "unpinned" }
                    )),
                    ClientFrame::SetRoomSettings(SetRoomSettings {
                        pinned: Some(pinned),
                        room_id,
                        ..SetRoomSettings::default()
                    }),
                ),
                Command::Archive(hidden) => (
                    Tag::Action(if hidden {
                        format!("{name} archived: back when someone writes in it; Ctrl-K finds it")
                    } else {
                        format!("{name} is listed again")
                    }),
                    ClientFrame::SetRoomSettings(SetRoomSettings {
                        hidden: Some(hidden),
                        room_id,
                        ..SetRoomSettings::default()
                    }),
                ),
                Command::Rename(title) => (
                    Tag::Action(format!("renamed to {title}")),
                    ClientFrame::RenameRoom(RenameRoom {
                        request_id: 0,
                        room_id,
                        title,
                    }),
                ),
                _ => return,
            }
        }
    };
    request(fx, tag, frame);
}

/// What is known of `name` without asking the server: presence, last seen, rooms in common.
pub(crate) fn whois(model: &Model, name: &str) -> String {
    let wanted = name.trim_start_matches('@').to_lowercase();
    let mut user = None;
    let mut rooms = Vec::new();
    for id in model.room_order() {
        let Some(room) = model.rooms.get(&id) else {
            continue;
        };
        let found = room
            .members
            .iter()
            .chain(room.summary.peer.iter())
            .find(|u| u.username.to_lowercase() == wanted);
        if let Some(found) = found {
            user = Some(found.clone());
            rooms.push(if room.summary.kind == RoomKind::Direct {
                "your direct conversation".to_string()
            } else {
                room.display_name()
            });
        }
    }
    let Some(user) = user else {
        return format!("{name}: you share no room with {name} (that you have opened)");
    };
    let presence = match (model.online.get(&user.id), model.last_seen.get(&user.id)) {
        (Some(true), _) => match model.away.get(&user.id) {
            Some(message) => format!("away ({message})"),
            None => "online".to_string(),
        },
        (_, Some(at)) => format!("offline, last seen {}", ago(model.now - at)),
        _ => "offline".to_string(),
    };
    format!("{}: {presence} · in {}", user.username, rooms.join(", "))
}

/// "3 min ago", "5 h ago", "2 days ago".
fn ago(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    match mins {
        0 => "just now".into(),
        1..=59 => format!("{mins} min ago"),
        60..=2879 => format!("{} h ago", mins / 60),
        _ => format!("{} days ago", mins / 1440),
    }
}

/// Said on the login screen after logging out without reaching the server.
pub(crate) const NOT_REVOKED: &str =
    "logged out on this device, but the server did not confirm: the login may stay valid until revoked (chat-server token revoke)";

pub(crate) fn logout(model: &mut Model, reason: Option<String>, fx: &mut Vec<Effect>) {
    fx.push(Effect::Disconnect);
    fx.push(Effect::ForgetSession);
    // Messages not sent yet (or refused, not yet looked at) are never thrown away: the
    // account's cache keeps them for its next login; only its history goes.
    fx.push(Effect::Cache(if model.outbox.items().is_empty() {
        CacheOp::Clear
    } else {
        CacheOp::ClearHistory
    }));
    connection_reset(model);
    model.conn = Connection::Offline;
    model.token = None;
    model.me = None;
    model.rooms.clear();
    model.selected = None;
    model.outbox = Default::default();
    model.confirm_logout = false;
    model.logging_out = false;
    model.overlay = None;
    model.notice = None;
    model.screen = Screen::Login;
    model.login.register = false;
    model.login.password.clear();
    model.login.focus = LoginField::Password;
    model.login.error = reason;
}
