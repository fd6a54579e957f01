//! `update` on its own: no terminal, no network, no clock but the model's.

use super::*;
use crate::backoff::{ceiling_ms, Rng};
use crate::model::{delivery, Delivery, Settings};
use chat_protocol::{Limits, MessageSent, PresenceInfo, Receipt, Role, RoomEvent, Typing, UserRef};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod account;
mod drafts;
mod files;
mod messages;
mod opening;
mod unsent;

pub fn user(id: i64, name: &str) -> UserRef {
    UserRef {
        id,
        username: name.into(),
    }
}

pub fn summary(id: RoomId, kind: RoomKind, title: &str, last_seq: i64) -> RoomSummary {
    RoomSummary {
        id,
        kind,
        title: title.into(),
        topic: String::new(),
        role: Role::Member,
        member_count: 2,
        last_seq,
        read_seq: last_seq,
        unread: 0,
        mentions: 0,
        archived: false,
        peer: (kind == RoomKind::Direct).then(|| user(2, "bob")),
        settings: Default::default(),
    }
}

/// A message as the server sends it: `@alice` and `@bob` in the text are listed as mentions.
pub fn message(room_id: RoomId, seq: i64, from: &UserRef, text: &str) -> RoomEvent {
    let mentions = chat_protocol::text::mentioned_names(text)
        .iter()
        .filter_map(|name| match name.to_ascii_lowercase().as_str() {
            "alice" => Some(1),
            "bob" => Some(2),
            _ => None,
        })
        .collect();
    RoomEvent {
        room_id,
        seq,
        ts: 1_700_000_000_000 + seq * 1000,
        sender: from.clone(),
        content: EventContent::Message(chat_protocol::ChatMessage {
            message_id: seq,
            client_id: format!("c{seq}"),
            text: text.into(),
            mentions,
            ..Default::default()
        }),
    }
}

pub const GENERAL: RoomId = 10;
pub const DIRECT: RoomId = 11;

pub fn welcome(rooms: Vec<RoomSummary>) -> Welcome {
    Welcome {
        protocol: 1,
        user: user(1, "alice"),
        token: None,
        limits: Limits::default(),
        rooms,
        presence: vec![PresenceInfo::online(user(2, "bob"))],
        more_rooms: false,
    }
}

/// Alice, connected, with #general (3 messages) open and a direct room with bob.
pub fn connected_model() -> Model {
    let mut model = Model::new(
        "ws://127.0.0.1:7800".into(),
        Some("alice".into()),
        Settings::default(),
        Rng::new(42),
    );
    model.now = 1_700_000_100_000;
    model.size = (100, 30);
    model.token = Some("token".into());
    start(&mut model);
    let rooms = vec![
        summary(GENERAL, RoomKind::Channel, "general", 3),
        summary(DIRECT, RoomKind::Direct, "bob", 0),
    ];
    update(&mut model, Msg::Connected(Box::new(welcome(rooms))));
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    let history = chat_protocol::History {
        request_id: 0,
        room_id: GENERAL,
        events: vec![
            message(GENERAL, 1, &bob, "hi"),
            message(GENERAL, 2, &alice, "hello bob"),
            message(GENERAL, 3, &bob, "how are you?"),
        ],
        more: false,
        reacted: vec![],
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::HistoryLatest { room_id: GENERAL },
            result: Ok(ServerFrame::History(history)),
        },
    );
    select_room(&mut model, GENERAL, &mut Vec::new());
    model
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn type_text(model: &mut Model, text: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for c in text.chars() {
        fx.extend(update(model, key(KeyCode::Char(c))));
    }
    fx
}

pub fn requests(fx: &[Effect]) -> Vec<&ClientFrame> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Request { frame, .. } => Some(frame),
            _ => None,
        })
        .collect()
}

pub fn sends(fx: &[Effect]) -> Vec<(String, String)> {
    requests(fx)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::SendMessage(s) => Some((s.client_id.clone(), s.text.clone())),
            _ => None,
        })
        .collect()
}

pub fn lose_connection(model: &mut Model) -> Vec<Effect> {
    update(
        model,
        Msg::Disconnected {
            reason: "connection lost".into(),
            auth: false,
        },
    )
}

#[test]
fn reconnects_back_off_with_jitter_and_reset_after_a_stable_connection() {
    let mut model = connected_model();
    // The connection was young: the next waits come from a doubling window.
    lose_connection(&mut model);
    let mut windows = Vec::new();
    for _ in 0..8 {
        let Connection::Waiting {
            attempt, retry_at, ..
        } = model.conn.clone()
        else {
            panic!("waiting expected, got {:?}", model.conn);
        };
        let wait = (retry_at - model.now) as u64;
        assert!(
            wait <= ceiling_ms(attempt),
            "{wait} > {}",
            ceiling_ms(attempt)
        );
        windows.push(ceiling_ms(attempt));
        // Nothing happens before the time comes.
        if wait > 0 {
            let early = update(&mut model, Msg::Tick);
            assert!(!early.iter().any(|e| matches!(e, Effect::Connect { .. })));
        }
        model.now = retry_at;
        let fx = update(&mut model, Msg::Tick);
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Connect { .. })),
            "retry at the scheduled time"
        );
        update(
            &mut model,
            Msg::ConnectFailed {
                error: "connection refused".into(),
                auth: false,
                answered: false,
            },
        );
    }
    assert_eq!(
        windows,
        [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    );

    // A connection that lived 30 s was stable: the schedule starts again.
    let Connection::Waiting { retry_at, .. } = model.conn.clone() else {
        panic!()
    };
    model.now = retry_at;
    update(&mut model, Msg::Tick);
    update(&mut model, Msg::Connected(Box::new(welcome(vec![]))));
    model.now += 31_000;
    lose_connection(&mut model);
    assert!(matches!(model.conn, Connection::Waiting { attempt: 0, .. }));
}

#[test]
fn offline_messages_show_at_once_and_go_out_in_order_one_at_a_time() {
    let mut model = connected_model();
    lose_connection(&mut model);
    let mut stored = Vec::new();
    for text in ["one", "two", "three"] {
        let fx = type_text(&mut model, text);
        assert!(requests(&fx).is_empty(), "no typing frames while offline");
        let fx = update(&mut model, key(KeyCode::Enter));
        assert!(sends(&fx).is_empty(), "nothing is sent while offline");
        stored.extend(fx.into_iter().filter_map(|e| match e {
            Effect::Cache(CacheOp::OutboxPut(item)) => Some(item.text),
            _ => None,
        }));
    }
    assert_eq!(stored, ["one", "two", "three"], "each is on disk at once");
    assert_eq!(model.outbox.waiting(), 3);
    assert!(model.input.is_empty());

    let rooms = vec![
        summary(GENERAL, RoomKind::Channel, "general", 3),
        summary(DIRECT, RoomKind::Direct, "bob", 0),
    ];
    let fx = update(&mut model, Msg::Connected(Box::new(welcome(rooms))));
    let first = sends(&fx);
    assert_eq!(first.len(), 1, "one in flight at a time");
    assert_eq!(first[0].1, "one");

    // The connection drops before the ack: the same message, same client id, goes again.
    lose_connection(&mut model);
    let rooms = vec![summary(GENERAL, RoomKind::Channel, "general", 3)];
    let fx = update(&mut model, Msg::Connected(Box::new(welcome(rooms))));
    assert_eq!(sends(&fx), first);

    let mut seq = 4;
    let mut sent = vec![first[0].1.clone()];
    let mut next = first[0].clone();
    loop {
        let ack = MessageSent {
            request_id: 1,
            room_id: GENERAL,
            client_id: next.0.clone(),
            message_id: seq,
            seq,
            ts: model.now,
        };
        seq += 1;
        let fx = update(
            &mut model,
            Msg::Response {
                tag: Tag::Send {
                    client_id: next.0.clone(),
                },
                result: Ok(ServerFrame::MessageSent(ack)),
            },
        );
        assert!(fx.contains(&Effect::Cache(CacheOp::OutboxRemove(next.0.clone()))));
        match sends(&fx).first() {
            Some(s) => {
                sent.push(s.1.clone());
                next = s.clone();
            }
            None => break,
        }
    }
    assert_eq!(sent, ["one", "two", "three"]);
    assert_eq!(model.outbox.waiting(), 0);
    let room = &model.rooms[&GENERAL];
    assert_eq!(
        room.timeline.last_seq(),
        6,
        "acked messages are in the timeline"
    );
}

#[test]
fn a_refused_message_is_marked_failed_with_the_reason_and_the_next_goes_out() {
    let mut model = connected_model();
    type_text(&mut model, "first");
    let fx = update(&mut model, key(KeyCode::Enter));
    let (id, _) = sends(&fx)[0].clone();
    type_text(&mut model, "second");
    assert!(sends(&update(&mut model, key(KeyCode::Enter))).is_empty());
    let fx = update(
        &mut model,
        Msg::Response {
            tag: Tag::Send {
                client_id: id.clone(),
            },
            result: Err(RequestError {
                code: Some(ErrorCode::Forbidden),
                message: "you are not a member of this room".into(),
            }),
        },
    );
    assert_eq!(sends(&fx)[0].1, "second");
    let failed = &model.outbox.items()[0];
    assert_eq!(
        failed.state,
        OutboxState::Failed("you are not a member of this room".into())
    );
    assert!(model.notice.as_ref().is_some_and(|n| n.error));
}

#[test]
fn unread_counts_mentions_and_notifications() {
    let mut model = connected_model();
    let bob = user(2, "bob");
    // #general is open: a new message there is read at once.
    let fx = update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 4, &bob, "still here?"))),
    );
    assert_eq!(model.rooms[&GENERAL].summary.unread, 0);
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::SetReceipt(r) if r.room_id == GENERAL && r.read_seq == Some(4))));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Notify { .. })));

    // The direct room is not in view: it counts up and notifies.
    let fx = update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(DIRECT, 1, &bob, "psst"))),
    );
    assert_eq!(model.rooms[&DIRECT].summary.unread, 1);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Notify { title, .. } if title.contains("bob"))));
    // A direct message's notification is titled with the sender, not "bob in bob".
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Notify { title, .. } if title == "bob")));
    // Delivered (not read) goes back for it.
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::SetReceipt(r) if r.room_id == DIRECT && r.delivered_seq == Some(1) && r.read_seq.is_none())));

    // A mention in a room not in view marks it.
    update(&mut model, ctrl('n'));
    assert_eq!(model.selected, Some(DIRECT));
    assert_eq!(
        model.rooms[&DIRECT].summary.unread, 0,
        "opening it reads it"
    );
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 5, &bob, "@Alice look"))),
    );
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(
            GENERAL,
            6,
            &bob,
            "@alicex is someone else",
        ))),
    );
    let general = &model.rooms[&GENERAL];
    assert_eq!(general.summary.unread, 2);
    assert!(general.mention);

    // Another device of mine read it: the count follows.
    update(
        &mut model,
        Msg::Server(ServerFrame::Unread(chat_protocol::Unread {
            room_id: GENERAL,
            read_seq: 6,
            unread: 0,
            mentions: 0,
        })),
    );
    assert_eq!(model.rooms[&GENERAL].summary.unread, 0);
    assert!(!model.rooms[&GENERAL].mention);
}

#[test]
fn a_gap_in_live_events_is_filled_from_history() {
    let mut model = connected_model();
    let bob = user(2, "bob");
    let fx = update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(
            GENERAL,
            7,
            &bob,
            "where did 4-6 go?",
        ))),
    );
    let asked: Vec<_> = requests(&fx)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::GetHistory(h) => Some((h.room_id, h.after)),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [(GENERAL, Some(3))]);
    assert_eq!(model.rooms[&GENERAL].timeline.synced_to(), 3);
}

#[test]
fn receipts_turn_my_messages_delivered_then_read() {
    let mut model = connected_model();
    let me = 1;
    let receipt = |delivered, read| {
        Msg::Server(ServerFrame::Receipt(Receipt {
            room_id: GENERAL,
            user_id: 2,
            delivered_seq: delivered,
            read_seq: read,
        }))
    };
    update(&mut model, receipt(1, 1));
    assert_eq!(delivery(&model.rooms[&GENERAL], me, 2), Delivery::Sent);
    update(&mut model, receipt(2, 1));
    assert_eq!(delivery(&model.rooms[&GENERAL], me, 2), Delivery::Delivered);
    update(&mut model, receipt(3, 3));
    assert_eq!(delivery(&model.rooms[&GENERAL], me, 2), Delivery::Read);
}

#[test]
fn typing_shows_and_expires() {
    let mut model = connected_model();
    let typing = |id, name: &str, on| {
        Msg::Server(ServerFrame::Typing(Typing {
            room_id: GENERAL,
            user: user(id, name),
            typing: on,
        }))
    };
    update(&mut model, typing(2, "bob", true));
    update(&mut model, typing(3, "carol", true));
    update(&mut model, typing(1, "alice", true));
    let names: Vec<&str> = model.rooms[&GENERAL]
        .typing
        .iter()
        .map(|(u, _)| u.username.as_str())
        .collect();
    assert_eq!(names, ["bob", "carol"], "my own typing is not shown");
    update(&mut model, typing(3, "carol", false));
    assert_eq!(model.rooms[&GENERAL].typing.len(), 1);
    model.now += 7_000;
    update(&mut model, Msg::Tick);
    assert!(
        model.rooms[&GENERAL].typing.is_empty(),
        "expired without a refresh"
    );

    assert_eq!(crate::model::typing_text(&[]), None);
    assert_eq!(
        crate::model::typing_text(&["alice"]).as_deref(),
        Some("alice is typing…")
    );
    assert_eq!(
        crate::model::typing_text(&["alice", "bob"]).as_deref(),
        Some("alice and bob are typing…")
    );
    assert_eq!(
        crate::model::typing_text(&["a", "b", "c"]).as_deref(),
        Some("several people are typing…")
    );
}

#[test]
fn typing_is_announced_once_per_few_seconds_and_ended_by_sending() {
    let mut model = connected_model();
    let typing_frames = |fx: &[Effect]| {
        requests(fx)
            .into_iter()
            .filter_map(|f| match f {
                ClientFrame::SetTyping(t) => Some(t.typing),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(typing_frames(&type_text(&mut model, "hel")), [true]);
    model.now += 3_500;
    assert_eq!(typing_frames(&type_text(&mut model, "lo")), [true]);
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(typing_frames(&fx), [false]);
    assert!(
        typing_frames(&type_text(&mut model, "/he")).is_empty(),
        "commands are not typing"
    );
}

#[test]
fn a_message_may_start_with_a_question_mark_and_a_key_closing_help_is_not_lost() {
    let mut model = connected_model();
    type_text(&mut model, "? what do you mean");
    assert_eq!(model.overlay, None);
    assert_eq!(model.input.text(), "? what do you mean");
    model.input.take();
    type_text(&mut model, "??");
    assert_eq!(model.input.text(), "??");
    model.input.take();
    // Help open: the letter that closes it is typed, not swallowed.
    update(&mut model, key(KeyCode::F(1)));
    type_text(&mut model, "ok");
    assert_eq!(model.overlay, None);
    assert_eq!(model.input.text(), "ok");
    // Enter closes the help without sending the draft.
    update(&mut model, key(KeyCode::F(1)));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.overlay, None);
    assert_eq!(model.input.text(), "ok");
    assert!(fx.is_empty(), "{fx:?}");
}

#[test]
fn keys_ctrl_c_help_newlines_and_paste() {
    let mut model = connected_model();
    update(&mut model, key(KeyCode::F(1)));
    assert_eq!(model.overlay, Some(Overlay::Help));
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.overlay, None);
    assert_eq!(model.input.text(), "", "Esc only closes the help");

    type_text(&mut model, "why?");
    assert_eq!(
        model.input.text(),
        "why?",
        "? in a message is just a character"
    );
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
    );
    type_text(&mut model, "line 2");
    assert_eq!(model.input.text(), "why?\nline 2");

    let fx = update(&mut model, Msg::Paste("pasted\nblock\n".into()));
    assert!(sends(&fx).is_empty(), "a paste never sends");
    assert_eq!(model.input.text(), "why?\nline 2pasted\nblock\n");

    // Quitting keeps the draft (it comes back in this room next time), so it does not ask.
    let fx = update(&mut model, ctrl('c'));
    assert!(model.quit);
    assert_eq!(
        fx,
        [
            Effect::Cache(CacheOp::Draft {
                room_id: GENERAL,
                text: "why?\nline 2pasted\nblock\n".into()
            }),
            Effect::Quit
        ]
    );
}

#[test]
fn ctrl_c_quits_at_once_without_a_draft_even_on_the_login_screen() {
    let mut model = Model::new("ws://x".into(), None, Settings::default(), Rng::new(1));
    start(&mut model);
    assert_eq!(model.screen, Screen::Login);
    update(&mut model, key(KeyCode::Char('a')));
    update(&mut model, ctrl('c'));
    assert!(model.quit);
}

#[test]
fn room_switching_keys_and_the_quick_switcher() {
    let mut model = connected_model();
    let order = model.room_order();
    assert_eq!(order, [GENERAL, DIRECT], "most recent activity first");
    update(&mut model, ctrl('n'));
    assert_eq!(model.selected, Some(DIRECT));
    update(&mut model, ctrl('n'));
    assert_eq!(model.selected, Some(GENERAL), "wraps around");
    update(
        &mut model,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
    );
    assert_eq!(model.selected, Some(DIRECT));

    update(&mut model, ctrl('k'));
    type_text(&mut model, "gnrl");
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.selected, Some(GENERAL));
    assert_eq!(model.overlay, None);
}

#[test]
fn commands_with_bad_input_explain_and_keep_the_text() {
    let mut model = connected_model();
    type_text(&mut model, "/frobnicate now");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).is_empty());
    assert_eq!(model.input.text(), "/frobnicate now", "kept for fixing");
    let notice = model.notice.clone().unwrap();
    assert!(notice.error && notice.text.contains("unknown command"));

    model.input.take();
    type_text(&mut model, "/topic we ship on friday");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(
        matches!(requests(&fx)[..], [ClientFrame::SetTopic(ref t)] if t.topic == "we ship on friday" && t.room_id == GENERAL)
    );

    lose_connection(&mut model);
    type_text(&mut model, "/dm bob");
    update(&mut model, key(KeyCode::Enter));
    assert!(model
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("not connected"));
}

#[test]
fn a_too_long_message_is_refused_before_sending() {
    let mut model = connected_model();
    model.limits.max_message_chars = 5;
    type_text(&mut model, "toolong");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(sends(&fx).is_empty());
    assert_eq!(model.input.text(), "toolong");
    assert!(model.notice.as_ref().unwrap().text.contains("limit is 5"));
}

#[test]
fn a_revoked_token_returns_to_the_login_screen() {
    let mut model = connected_model();
    let fx = update(
        &mut model,
        Msg::Disconnected {
            reason: "token revoked".into(),
            auth: true,
        },
    );
    assert_eq!(model.screen, Screen::Login);
    assert!(fx.contains(&Effect::ForgetSession));
    assert!(model
        .login
        .error
        .as_deref()
        .unwrap()
        .contains("token revoked"));
    assert_eq!(model.conn, Connection::Offline);
}

#[test]
fn tab_completes_commands_and_names() {
    let mut model = connected_model();
    model.rooms.get_mut(&GENERAL).unwrap().members =
        vec![user(1, "alice"), user(2, "bob"), user(3, "bea")];
    type_text(&mut model, "/to");
    update(&mut model, key(KeyCode::Tab));
    assert_eq!(model.input.text(), "/topic ");
    model.input.take();
    type_text(&mut model, "hey @b");
    update(&mut model, key(KeyCode::Tab));
    assert_eq!(model.input.text(), "hey @bea ");
    update(&mut model, key(KeyCode::Tab));
    assert_eq!(model.input.text(), "hey @bob ", "Tab again cycles");
}

#[test]
fn scrolling_up_far_enough_loads_older_events() {
    let mut model = connected_model();
    let bob = user(2, "bob");
    let events: Vec<RoomEvent> = (100..=300)
        .map(|s| message(GENERAL, s, &bob, "x"))
        .collect();
    // A room we hold only the newest part of.
    model.rooms.get_mut(&GENERAL).unwrap().timeline = Timeline::from_cache(events, 300);
    let mut asked = None;
    for _ in 0..20 {
        let fx = update(&mut model, key(KeyCode::PageUp));
        if let Some(Effect::LoadOlder { before, .. }) =
            fx.iter().find(|e| matches!(e, Effect::LoadOlder { .. }))
        {
            asked = Some(*before);
            break;
        }
    }
    assert_eq!(asked, Some(100));
    assert!(matches!(model.rooms[&GENERAL].scroll, Scroll::At { .. }));
    // The cache has nothing: the server is asked.
    let fx = update(
        &mut model,
        Msg::CachedOlder {
            room_id: GENERAL,
            before: 100,
            events: vec![],
        },
    );
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::GetHistory(h) if h.before == Some(100))));
    // End goes back to the newest.
    update(&mut model, key(KeyCode::End));
    assert_eq!(model.rooms[&GENERAL].scroll, Scroll::Bottom);
}

#[test]
fn a_stale_room_summary_does_not_undo_a_newer_one() {
    let mut model = connected_model();
    let mut fresh = summary(20, RoomKind::Direct, "carol", 3);
    fresh.peer = Some(user(3, "carol"));
    let response = chat_protocol::RoomResponse {
        request_id: 1,
        room: fresh,
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::OpenRoom,
            result: Ok(ServerFrame::Room(response)),
        },
    );
    // The room_added pushed while the room was being created arrives late, without the peer.
    let mut stale = summary(20, RoomKind::Direct, "", 2);
    stale.peer = None;
    update(
        &mut model,
        Msg::Server(ServerFrame::RoomAdded(chat_protocol::RoomAdded {
            room: stale,
        })),
    );
    let room = &model.rooms[&20];
    assert_eq!(room.display_name(), "carol");
    assert_eq!(room.summary.last_seq, 3);
    assert_eq!(model.selected, Some(20), "the room asked for is open");
}
