//! A message that cannot be sent stays visible and retrievable: where it was going, why it
//! failed, and keys to copy it back, retry it or discard it.

use super::*;
use crate::outbox::OutboxState;

/// Alice writes to #general while offline, and is removed from it before she reconnects.
fn removed_while_offline() -> (Model, Vec<Effect>) {
    let mut model = connected_model();
    lose_connection(&mut model);
    type_text(&mut model, "my queued thought");
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.outbox.waiting(), 1);
    let rooms = vec![summary(DIRECT, RoomKind::Direct, "bob", 0)];
    let fx = update(&mut model, Msg::Connected(Box::new(welcome(rooms))));
    (model, fx)
}

#[test]
fn a_message_queued_for_a_room_i_was_removed_from_is_kept_with_the_room_and_the_reason() {
    let (model, fx) = removed_while_offline();
    assert!(!model.rooms.contains_key(&GENERAL));
    assert!(sends(&fx).is_empty(), "not sent to a room I left");
    let failed: Vec<_> = model.outbox.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].text, "my queued thought");
    assert_eq!(
        failed[0].state,
        OutboxState::Failed("you are no longer a member of #general".into())
    );
    assert!(fx.contains(&Effect::Cache(CacheOp::OutboxFailed {
        client_id: failed[0].client_id.clone(),
        reason: "you are no longer a member of #general".into(),
    })));
    let notice = model.notice.clone().expect("a notice");
    assert!(notice.error);
    assert!(notice.text.contains("#general"), "{}", notice.text);
    assert!(notice.text.contains("/unsent"), "{}", notice.text);
}

#[test]
fn unsent_messages_can_be_copied_back_to_the_input_or_discarded() {
    let (mut model, _) = removed_while_offline();
    type_text(&mut model, "/unsent");
    update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.overlay, Some(Overlay::Unsent { selected: 0 }));
    // Retrying into a room I am not in is refused, and says why.
    update(&mut model, key(KeyCode::Char('r')));
    assert!(model
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("no longer in #general")));
    assert_eq!(model.outbox.failed().count(), 1);
    // Enter puts the text back in the input, to send elsewhere.
    let fx = update(&mut model, key(KeyCode::Enter));
    assert_eq!(model.overlay, None);
    assert_eq!(model.input.text(), "my queued thought");
    assert_eq!(model.outbox.failed().count(), 0);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Cache(CacheOp::OutboxRemove(_)))));

    // Discarding: d.
    let (mut model, _) = removed_while_offline();
    model.overlay = Some(Overlay::Unsent { selected: 0 });
    update(&mut model, key(KeyCode::Char('d')));
    assert_eq!(model.outbox.items().len(), 0);
    assert_eq!(model.overlay, None, "closes when nothing is left");
}

#[test]
fn a_refused_message_can_be_retried_and_stays_after_switching_rooms() {
    let mut model = connected_model();
    type_text(&mut model, "first");
    let fx = update(&mut model, key(KeyCode::Enter));
    let (id, _) = sends(&fx)[0].clone();
    update(
        &mut model,
        Msg::Response {
            tag: Tag::Send {
                client_id: id.clone(),
            },
            result: Err(RequestError {
                code: Some(ErrorCode::BadRequest),
                message: "message too long".into(),
            }),
        },
    );
    assert!(model
        .notice
        .as_ref()
        .is_some_and(|n| n.text.contains("to #general")));
    select_room(&mut model, DIRECT, &mut Vec::new());
    select_room(&mut model, GENERAL, &mut Vec::new());
    assert_eq!(
        model.outbox.failed().count(),
        1,
        "not dropped by looking away"
    );
    model.overlay = Some(Overlay::Unsent { selected: 0 });
    let fx = update(&mut model, key(KeyCode::Char('r')));
    assert_eq!(sends(&fx), [(id.clone(), "first".to_string())]);
    assert!(fx.contains(&Effect::Cache(CacheOp::OutboxRetry(id))));
}

#[test]
fn a_draft_in_a_room_i_am_removed_from_is_kept_in_unsent() {
    let mut model = connected_model();
    type_text(&mut model, "half-written reply to the group");
    update(
        &mut model,
        Msg::Server(ServerFrame::RoomRemoved(chat_protocol::RoomRemoved {
            room_id: GENERAL,
        })),
    );
    assert_eq!(model.selected, Some(DIRECT));
    assert_eq!(model.input.text(), "", "not carried into another room");
    let kept: Vec<_> = model.outbox.failed().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].text, "half-written reply to the group");
    let notice = model.notice.clone().expect("a notice").text;
    assert!(
        notice.contains("no longer a member of #general"),
        "{notice}"
    );
    assert!(notice.contains("/unsent"), "{notice}");
}
