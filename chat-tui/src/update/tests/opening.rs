//! Opening a room with more unread messages than fit starts at the first of them.

use super::*;
use crate::model::Scroll;
use crate::pane::{self, Geometry};

const BUSY: RoomId = 12;

/// #busy: 50 messages from bob, of which alice has read 9.
fn with_busy_room() -> Model {
    let mut model = connected_model();
    let mut room = summary(BUSY, RoomKind::Channel, "busy", 50);
    room.read_seq = 9;
    room.unread = 41;
    upsert(&mut model, room);
    let bob = user(2, "bob");
    let history = chat_protocol::History {
        request_id: 0,
        room_id: BUSY,
        events: (1..=50)
            .map(|seq| message(BUSY, seq, &bob, &format!("line {seq}")))
            .collect(),
        more: false,
        reacted: vec![],
    };
    update(
        &mut model,
        Msg::Response {
            tag: Tag::HistoryLatest { room_id: BUSY },
            result: Ok(ServerFrame::History(history)),
        },
    );
    model
}

fn upsert(model: &mut Model, room: RoomSummary) {
    update(
        model,
        Msg::Server(ServerFrame::RoomAdded(chat_protocol::RoomAdded { room })),
    );
}

fn visible_text(model: &Model) -> Vec<String> {
    let room = model.selected_room().expect("a room in view");
    let area = layout::areas(model).messages;
    pane::visible_lines(
        model,
        room,
        Geometry::of(model, area.width),
        usize::from(area.height),
    )
    .iter()
    .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
    .collect()
}

#[test]
fn a_room_with_many_unread_opens_at_the_first_unread() {
    let mut model = with_busy_room();
    select_room(&mut model, BUSY, &mut Vec::new());
    let rows = visible_text(&model);
    assert!(rows[0].contains("new messages"), "{rows:#?}");
    assert!(rows[1].contains("line 10"), "{rows:#?}");
    let room = &model.rooms[&BUSY];
    assert!(matches!(room.scroll, Scroll::At { .. }));
    assert!(room.unseen_below > 0, "the hint counts what is below");
    assert!(
        room.summary.unread > 0 && room.summary.unread < 41,
        "only what is on screen is read: {}",
        room.summary.unread
    );
    // Paging down counts down what is left below.
    let below = model.rooms[&BUSY].unseen_below;
    update(&mut model, key(KeyCode::PageDown));
    let room = &model.rooms[&BUSY];
    assert!(
        room.unseen_below < below,
        "{} then {}",
        below,
        room.unseen_below
    );
    assert_eq!(room.unseen_below, room.summary.unread);
    // Reading on to the end reads it all.
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.rooms[&BUSY].summary.unread, 0);
    assert_eq!(model.rooms[&BUSY].scroll, Scroll::Bottom);
}

#[test]
fn a_room_whose_unread_fit_opens_at_the_bottom() {
    let mut model = with_busy_room();
    if let Some(room) = model.rooms.get_mut(&BUSY) {
        room.summary.read_seq = 47;
        room.summary.unread = 3;
    }
    select_room(&mut model, BUSY, &mut Vec::new());
    assert_eq!(model.rooms[&BUSY].scroll, Scroll::Bottom);
    let rows = visible_text(&model);
    assert!(rows.iter().any(|r| r.contains("new messages")), "{rows:#?}");
    assert!(
        rows.last().is_some_and(|r| r.contains("line 50")),
        "{rows:#?}"
    );
}

#[test]
fn alt_a_jumps_to_the_next_room_with_unread_messages() {
    let mut model = with_busy_room();
    assert_eq!(model.selected, Some(GENERAL));
    let alt_a = Msg::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::ALT));
    update(&mut model, alt_a.clone());
    assert_eq!(model.selected, Some(BUSY));
    // Read it all: nothing else is unread, so Alt-A stays and says so.
    update(&mut model, key(KeyCode::Esc));
    update(&mut model, alt_a);
    assert_eq!(model.selected, Some(BUSY));
    assert!(model
        .notice
        .as_ref()
        .is_some_and(|n| n.text == "nothing unread"));
}

#[test]
fn rebound_keys_do_what_they_are_bound_to() {
    use crate::keymap::{Action, KeyMap};
    let mut model = connected_model();
    let custom = std::collections::HashMap::from([(Action::Switcher, vec!["ctrl-g".into()])]);
    model.settings.keys = KeyMap::new(&custom).unwrap();
    update(&mut model, ctrl('k'));
    assert_eq!(model.overlay, None, "Ctrl-K is free");
    update(&mut model, ctrl('g'));
    assert!(matches!(model.overlay, Some(Overlay::Switcher(_))));
}

#[test]
fn a_new_device_fetches_back_to_the_first_unread_and_marks_nothing_it_did_not_show() {
    let mut model = connected_model();
    // #flood: 120 messages from bob, none read; this device holds nothing of it.
    let mut room = summary(BUSY, RoomKind::Channel, "flood", 120);
    room.read_seq = 0;
    room.unread = 120;
    upsert(&mut model, room);
    select_room(&mut model, BUSY, &mut Vec::new());
    let bob = user(2, "bob");
    let page = |from, to, more| {
        Ok(ServerFrame::History(chat_protocol::History {
            request_id: 0,
            room_id: BUSY,
            events: (from..=to)
                .map(|seq| message(BUSY, seq, &bob, &format!("flood {seq}")))
                .collect(),
            more,
            reacted: vec![],
        }))
    };
    // The newest page (21..=120) arrives: nothing is marked read, older events are asked for.
    let fx = update(
        &mut model,
        Msg::Response {
            tag: Tag::HistoryLatest { room_id: BUSY },
            result: page(21, 120, true),
        },
    );
    assert_eq!(
        model.rooms[&BUSY].summary.read_seq, 0,
        "flood 1-20 were never shown"
    );
    assert!(fx.contains(&Effect::LoadOlder {
        room_id: BUSY,
        before: 21
    }));
    // Not in the local cache: the server's page before 21.
    update(
        &mut model,
        Msg::CachedOlder {
            room_id: BUSY,
            before: 21,
            events: Vec::new(),
        },
    );
    update(
        &mut model,
        Msg::Response {
            tag: Tag::HistoryBefore { room_id: BUSY },
            result: page(1, 20, false),
        },
    );
    let rows = visible_text(&model);
    let marker = rows.iter().position(|r| r.contains("new messages"));
    assert!(marker.is_some_and(|m| m <= 1), "{rows:#?}");
    assert!(
        rows[marker.unwrap_or(0) + 1].contains("flood 1"),
        "{rows:#?}"
    );
    let room = &model.rooms[&BUSY];
    assert!(
        room.summary.read_seq < 30,
        "only what is on screen: {}",
        room.summary.read_seq
    );
    update(&mut model, key(KeyCode::Esc));
    assert_eq!(model.rooms[&BUSY].summary.unread, 0);
}

#[test]
fn live_messages_into_a_room_still_loading_are_not_marked_read() {
    let mut model = connected_model();
    let mut room = summary(BUSY, RoomKind::Channel, "flood", 177);
    room.read_seq = 0;
    room.unread = 177;
    upsert(&mut model, room);
    select_room(&mut model, BUSY, &mut Vec::new());
    let bob = user(2, "bob");
    update(
        &mut model,
        Msg::Server(ServerFrame::Event(message(
            BUSY,
            178,
            &bob,
            "still sending",
        ))),
    );
    assert_eq!(model.rooms[&BUSY].summary.read_seq, 0);
    assert!(model.rooms[&BUSY].summary.unread >= 177);
}
