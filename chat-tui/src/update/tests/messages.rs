//! Selecting messages and changing them: edit, delete, reply, react, thread; /mentions; the
//! room settings.

use super::*;
use crate::model::{Compose, EditTarget, Overlay};
use chat_protocol::{
    EventContent, Mentions, NotifyLevel, ReactionChange, RoomSettings, RoomSettingsChanged, Thread,
};

fn esc() -> Msg {
    key(KeyCode::Esc)
}

#[test]
fn esc_selects_a_message_and_its_keys_edit_reply_and_refuse_what_is_not_mine() {
    let mut model = connected_model();
    update(&mut model, esc());
    assert_eq!(model.selection, Some(3), "the newest message");
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.selection, Some(2));
    // e on my own message: its text in the input, to edit.
    update(&mut model, key(KeyCode::Char('e')));
    assert_eq!(model.selection, None);
    assert_eq!(model.input.text(), "hello bob");
    assert_eq!(
        model.compose,
        Some(Compose::Edit {
            room_id: GENERAL,
            target: EditTarget::Sent(2)
        })
    );
    type_text(&mut model, "!");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::EditMessage(e) if e.message_id == 2 && e.text == "hello bob!")));
    assert_eq!(model.compose, None);
    assert!(model.input.is_empty());

    // Bob's message: no edit, no delete for a member; r replies.
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Char('e')));
    assert!(model.notice.as_ref().unwrap().error);
    model.notice = None;
    update(&mut model, key(KeyCode::Char('d')));
    assert_eq!(model.overlay, None, "a member cannot delete bob's message");
    model.notice = None;
    update(&mut model, key(KeyCode::Char('r')));
    assert!(matches!(
        &model.compose,
        Some(Compose::Reply { message_id: 3, sender, .. }) if sender == "bob"
    ));
    type_text(&mut model, "fine, thanks");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::SendMessage(s) if s.reply_to == Some(3) && s.text == "fine, thanks")));
    // The reply shows its quote at once, from the message it answers.
    let ack = MessageSent {
        request_id: 0,
        room_id: GENERAL,
        client_id: model.outbox.items()[0].client_id.clone(),
        message_id: 4,
        seq: 4,
        ts: model.now,
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Send {
                client_id: ack.client_id.clone(),
            },
            result: Ok(ServerFrame::MessageSent(ack)),
        },
    );
    let shown = model.rooms[&GENERAL]
        .timeline
        .events()
        .last()
        .unwrap()
        .clone();
    let EventContent::Message(m) = shown.content else {
        panic!("a message")
    };
    assert_eq!(m.reply_to.unwrap().excerpt, "how are you?");
}

#[test]
fn owners_delete_after_a_confirmation_and_an_empty_edit_asks_too() {
    let mut model = connected_model();
    model.rooms.get_mut(&GENERAL).unwrap().summary.role = Role::Owner;
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Char('d')));
    assert_eq!(
        model.overlay,
        Some(Overlay::ConfirmDelete {
            room_id: GENERAL,
            message_id: 3
        })
    );
    let fx = update(&mut model, key(KeyCode::Char('n')));
    assert!(requests(&fx).is_empty(), "n keeps it");
    assert_eq!(model.overlay, None);
    update(&mut model, key(KeyCode::Char('d')));
    let fx = update(&mut model, key(KeyCode::Char('y')));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::DeleteMessage(d) if d.message_id == 3)));

    assert_eq!(model.selection, None, "a delete ends selection mode");
    // Up in the empty input edits my last message; emptied, Enter asks to delete it.
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.input.text(), "hello bob");
    update(&mut model, ctrl('u'));
    update(&mut model, key(KeyCode::Enter));
    assert!(matches!(
        model.overlay,
        Some(Overlay::ConfirmDelete { message_id: 2, .. })
    ));
}

#[test]
fn a_queued_message_is_edited_and_discarded_in_the_outbox() {
    let mut model = connected_model();
    lose_connection(&mut model);
    type_text(&mut model, "sent later");
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.outbox.items().len(), 1);
    let client_id = model.outbox.items()[0].client_id.clone();
    update(&mut model, key(KeyCode::Up));
    assert_eq!(
        model.compose,
        Some(Compose::Edit {
            room_id: GENERAL,
            target: EditTarget::Queued(client_id.clone())
        })
    );
    update(&mut model, ctrl('u'));
    type_text(&mut model, "sent later, fixed");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.outbox.items()[0].text, "sent later, fixed");
    assert!(fx.contains(&Effect::Cache(CacheOp::OutboxText {
        client_id: client_id.clone(),
        text: "sent later, fixed".into()
    })));
    // Emptied: the queued copy goes, on disk too.
    update(&mut model, key(KeyCode::Up));
    update(&mut model, ctrl('u'));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(model.outbox.items().is_empty());
    assert!(fx.contains(&Effect::Cache(CacheOp::OutboxRemove(client_id))));
    // Esc while editing gives the input back empty.
    update(&mut model, key(KeyCode::Up));
    update(&mut model, esc());
    assert_eq!(model.compose, None);
    assert!(model.input.is_empty());
}

#[test]
fn the_picker_reacts_and_a_second_time_takes_it_back() {
    let mut model = connected_model();
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Char('+')));
    let fx = update(&mut model, key(KeyCode::Char('1')));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::AddReaction(r) if r.message_id == 3 && r.emoji == "👍")));
    assert_eq!(model.overlay, None);
    let alice = user(1, "alice");
    let added = RoomEvent {
        room_id: GENERAL,
        seq: 4,
        ts: model.now,
        sender: alice,
        content: EventContent::ReactionAdded(ReactionChange {
            message_id: 3,
            emoji: "👍".into(),
            count: 1,
            users: vec![],
        }),
    };
    update(&mut model, Msg::Server(ServerFrame::Event(added)));
    assert_eq!(model.selection, None, "reacting ends selection mode");
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Char('+')));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::RemoveReaction(r) if r.emoji == "👍")));
    // Free text works too.
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Char('+')));
    type_text(&mut model, "+1");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::AddReaction(r) if r.emoji == "+1")));
}

#[test]
fn a_thread_opens_fills_live_and_replies() {
    let mut model = connected_model();
    update(&mut model, esc());
    let fx = update(&mut model, key(KeyCode::Char('t')));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::GetThread(t) if t.message_id == 3)));
    let parent = model.rooms[&GENERAL].timeline.events()[2].clone();
    let thread = Thread {
        request_id: 0,
        room_id: GENERAL,
        parent,
        replies: vec![],
        more: false,
        reacted: vec![],
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Thread {
                room_id: GENERAL,
                parent: 3,
            },
            result: Ok(ServerFrame::Thread(thread)),
        },
    );
    let mut reply = message(GENERAL, 4, &user(2, "bob"), "me too");
    if let EventContent::Message(m) = &mut reply.content {
        m.reply_to = Some(chat_protocol::ReplyQuote {
            message_id: 3,
            sender: user(2, "bob"),
            excerpt: "how are you?".into(),
            deleted: false,
        });
    }
    update(&mut model, Msg::Server(ServerFrame::Event(reply)));
    let Some(Overlay::Thread {
        loaded: Some(loaded),
        ..
    }) = &model.overlay
    else {
        panic!("the thread overlay, loaded")
    };
    assert_eq!(loaded.1.len(), 1, "the live reply joined the open thread");
    update(&mut model, key(KeyCode::Char('r')));
    assert!(matches!(
        model.compose,
        Some(Compose::Reply { message_id: 3, .. })
    ));
}

#[test]
fn mentions_list_and_jump_to_the_message() {
    let mut model = connected_model();
    update(&mut model, ctrl('n'));
    assert_eq!(model.selected, Some(DIRECT));
    type_text(&mut model, "/mentions");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx)
        .iter()
        .any(|f| matches!(f, ClientFrame::ListMentions(_))));
    let mention = model.rooms[&GENERAL].timeline.events()[0].clone();
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Mentions,
            result: Ok(ServerFrame::Mentions(Mentions {
                request_id: 0,
                events: vec![mention],
                more: false,
            })),
        },
    );
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.selected, Some(GENERAL));
    assert_eq!(
        model.selection,
        Some(1),
        "the mention is selected, in context"
    );
}

#[test]
fn room_settings_mute_hide_and_pin_as_every_device_is_told() {
    let mut model = connected_model();
    let fx = {
        type_text(&mut model, "/mute");
        update(&mut model, key(KeyCode::Enter))
    };
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::SetRoomSettings(s) if s.room_id == GENERAL && s.notify == Some(NotifyLevel::None))));
    let settings = |room_id, settings| {
        Msg::Server(ServerFrame::RoomSettings(RoomSettingsChanged {
            room_id,
            settings,
        }))
    };
    update(
        &mut model,
        settings(
            GENERAL,
            RoomSettings {
                notify: NotifyLevel::None,
                ..RoomSettings::default()
            },
        ),
    );
    assert!(model.rooms[&GENERAL].muted());
    // A muted room never rings, not even for @room, and @room is not a mention there.
    update(&mut model, ctrl('n'));
    let bob = user(2, "bob");
    let mut everyone = message(GENERAL, 4, &bob, "@room standup");
    if let EventContent::Message(m) = &mut everyone.content {
        m.mentions_room = true;
    }
    let fx = update(&mut model, Msg::Server(ServerFrame::Event(everyone)));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Notify { .. })));
    assert_eq!(model.rooms[&GENERAL].summary.mentions, 0);
    let fx = update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(GENERAL, 5, &bob, "@alice you"))),
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Notify { .. })));
    assert_eq!(
        model.rooms[&GENERAL].summary.mentions, 1,
        "a direct mention still counts"
    );

    // Pinned rooms come first; a room archived for me leaves the list (the open one goes to
    // the next).
    update(
        &mut model,
        settings(
            GENERAL,
            RoomSettings {
                pinned: Some(0),
                ..RoomSettings::default()
            },
        ),
    );
    assert_eq!(model.room_order(), [GENERAL, DIRECT]);
    assert_eq!(model.selected, Some(DIRECT));
    update(
        &mut model,
        settings(
            DIRECT,
            RoomSettings {
                hidden: true,
                ..RoomSettings::default()
            },
        ),
    );
    assert_eq!(model.selected, Some(GENERAL));
    assert_eq!(model.room_order(), [GENERAL]);
    // Ctrl-K still finds it, to go back.
    assert_eq!(switcher_matches(&model, "bob"), [DIRECT]);
}

#[test]
fn a_deleted_selection_moves_to_its_neighbour_and_keys_are_not_lost() {
    let mut model = connected_model();
    update(&mut model, esc());
    assert_eq!(model.selection, Some(3));
    // Bob deletes the selected message: the next key works on the one before it.
    let gone = RoomEvent {
        room_id: GENERAL,
        seq: 4,
        ts: model.now,
        sender: user(2, "bob"),
        content: EventContent::MessageDeleted(chat_protocol::MessageDeleted {
            message_id: 3,
            by_moderator: false,
        }),
    };
    update(&mut model, Msg::Server(ServerFrame::Event(gone)));
    update(&mut model, key(KeyCode::Char('e')));
    assert_eq!(model.input.text(), "hello bob", "seq 2, mine, is edited");
    // A reply from the thread view leaves selection mode, so what is typed next is text.
    update(&mut model, esc());
    update(&mut model, esc());
    assert!(model.selection.is_some());
    update(&mut model, key(KeyCode::Char('r')));
    assert_eq!(model.selection, None);
    type_text(&mut model, "reply");
    assert_eq!(model.input.text(), "reply");
}

#[test]
fn up_and_down_walk_through_my_queued_messages_while_editing() {
    let mut model = connected_model();
    lose_connection(&mut model);
    for text in ["one", "two", "three"] {
        type_text(&mut model, text);
        update(&mut model, key(KeyCode::Enter));
    }
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.input.text(), "three");
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.input.text(), "two");
    update(&mut model, ctrl('u'));
    update(&mut model, key(KeyCode::Enter));
    let texts: Vec<&str> = model
        .outbox
        .items()
        .iter()
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(texts, ["one", "three"], "two, emptied, was discarded");
    // Up past the queued ones reaches my sent message; a changed text stays put.
    update(&mut model, key(KeyCode::Up));
    update(&mut model, key(KeyCode::Up));
    update(&mut model, key(KeyCode::Up));
    assert_eq!(model.input.text(), "hello bob");
    type_text(&mut model, "!");
    update(&mut model, key(KeyCode::Down));
    assert_eq!(model.input.text(), "hello bob!");
    // Up at my oldest message stays there: it does not turn round into what I typed before.
    update(&mut model, esc());
    update(&mut model, key(KeyCode::Up));
    for _ in 0..5 {
        update(&mut model, key(KeyCode::Up));
    }
    assert_eq!(model.input.text(), "hello bob");
    // /unsent says where the queued ones are.
    update(&mut model, esc());
    type_text(&mut model, "/unsent");
    update(&mut model, key(KeyCode::Enter));
    assert!(model.notice.as_ref().unwrap().text.contains("2 queued"));
}

#[test]
fn search_lists_hits_opens_one_in_context_and_remembers_the_query() {
    let mut model = connected_model();
    update(&mut model, ctrl('n'));
    type_text(&mut model, "/search how are");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::Search(s) if s.query == "how are")));
    let hit = chat_protocol::SearchHit {
        room_id: GENERAL,
        seq: 3,
        message_id: 3,
        ts: model.now,
        sender: user(2, "bob"),
        snippet: "how are you?".into(),
        highlights: vec![[0, 3], [4, 7]],
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Search,
            result: Ok(ServerFrame::SearchResults(chat_protocol::SearchResults {
                request_id: 0,
                hits: vec![hit],
                more: false,
                pending: 0,
            })),
        },
    );
    let text = crate::view::tests::render(&model).join("\n");
    assert!(text.contains("bob: how are you?"), "{text}");
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.overlay, None);
    assert_eq!(model.selected, Some(GENERAL));
    assert_eq!(model.selection, Some(3), "the hit, selected in its room");
    // Ctrl-F opens the box again with the last query, not searched again until Enter.
    update(&mut model, esc());
    let fx = update(&mut model, ctrl('f'));
    assert!(requests(&fx).is_empty());
    assert!(matches!(&model.overlay,
        Some(Overlay::Search { picker, .. }) if picker.query == "how are"));
    update(&mut model, key(KeyCode::Backspace));
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(requests(&fx).iter().any(|f| matches!(f,
        ClientFrame::Search(s) if s.query == "how ar")));
}
