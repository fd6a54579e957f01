//! Edits, deletes and reactions: who may, what everyone sees live and in history, retries,
//! and resuming across them.

use crate::raw;
use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{
    ChatMessage, ErrorCode, EventContent, MessageId, RoomEvent, RoomKind, Seq, ServerFrame,
};
use futures_util::SinkExt;
use std::collections::BTreeMap;
use tokio_tungstenite::tungstenite::Message;

/// The next event whose content `pick` accepts.
async fn next_change<T>(client: &mut Client, mut pick: impl FnMut(&RoomEvent) -> Option<T>) -> T {
    wait_for(client, |f| match f {
        ServerFrame::Event(e) => pick(&e),
        _ => None,
    })
    .await
}

/// Every event of a room, oldest first, paging forward from the start.
async fn all_events(client: &Client, room_id: i64) -> Vec<RoomEvent> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = client.history_after(room_id, after, 100).await.unwrap();
        if let Some(last) = page.events.last() {
            after = last.seq;
        }
        events.extend(page.events);
        if !page.more {
            return events;
        }
    }
}

/// The messages of a room as history serves them now: id -> (seq, message).
async fn messages_now(client: &Client, room_id: i64) -> BTreeMap<MessageId, (Seq, ChatMessage)> {
    all_events(client, room_id)
        .await
        .into_iter()
        .filter_map(|e| match e.content {
            EventContent::Message(m) => Some((m.message_id, (e.seq, m))),
            _ => None,
        })
        .collect()
}

/// Apply events to held messages the way PROTOCOL.md tells clients to.
fn apply(held: &mut BTreeMap<MessageId, (Seq, ChatMessage)>, event: &RoomEvent) {
    if let EventContent::Message(m) = &event.content {
        held.insert(m.message_id, (event.seq, m.clone()));
    }
    if let Some(id) = event.changed_message() {
        if let Some((seq, message)) = held.get_mut(&id) {
            message.apply(*seq, event);
        }
        for (_, message) in held.values_mut() {
            message.apply_to_quote(event);
        }
    }
}

/// Every raw frame of a room's history, paging back from the end, as received.
async fn raw_history(server: &TestServer, user: &str, room_id: i64) -> String {
    let mut ws = raw::connect(&server.url, None).await;
    raw::login(&mut ws, user).await;
    let mut all = String::new();
    let mut before = i64::MAX;
    for request_id in 1.. {
        let request = format!(
            r#"{{"type":"get_history","request_id":{request_id},"room_id":{room_id},"before":{before},"limit":3}}"#
        );
        ws.send(Message::text(request)).await.unwrap();
        let frame = loop {
            let text = raw::next_text(&mut ws).await.expect("a history frame");
            if text.starts_with(r#"{"type":"history""#) {
                break text;
            }
        };
        all.push_str(&frame);
        let parsed: chat_protocol::History = match serde_json::from_str(&frame).unwrap() {
            ServerFrame::History(h) => h,
            other => panic!("{other:?}"),
        };
        match parsed.events.first() {
            Some(first) if parsed.more => before = first.seq,
            _ => break,
        }
    }
    all
}

async fn group(server: &TestServer) -> (Client, Client, Client, i64) {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let room = alice
        .create_room(RoomKind::Group, "crew", &["bob", "carol"])
        .await
        .unwrap();
    (alice, bob, carol, room.id)
}

#[tokio::test]
async fn an_edit_reaches_everyone_and_history_shows_only_the_new_text() {
    let server = TestServer::start().await;
    let (alice, mut bob, _carol, room) = group(&server).await;
    let sent = alice
        .send_message(room, "a1", "meet at 5 in room B")
        .await
        .unwrap();
    alice
        .edit_message(room, sent.message_id, "meet at 6 in room C")
        .await
        .unwrap();
    let edit = next_change(&mut bob, |e| match &e.content {
        EventContent::MessageEdited(x) => Some((e.seq, x.clone())),
        _ => None,
    })
    .await;
    assert_eq!(edit.0, sent.seq + 1, "the edit is the room's next event");
    assert_eq!(edit.1.message_id, sent.message_id);
    assert_eq!(edit.1.text, "meet at 6 in room C");

    // A retry of the same edit (its answer was lost) changes nothing and succeeds.
    alice
        .edit_message(room, sent.message_id, "meet at 6 in room C")
        .await
        .unwrap();
    let rooms = bob.list_rooms().await.unwrap();
    let last_seq = rooms.iter().find(|r| r.id == room).unwrap().last_seq;
    assert_eq!(last_seq, edit.0, "no second edit event");

    let messages = messages_now(&bob, room).await;
    let (_, message) = &messages[&sent.message_id];
    assert_eq!(message.text, "meet at 6 in room C");
    assert_eq!(message.edited_at, Some(edit.1.edited_at));
    assert_eq!(message.updated_seq, Some(edit.0));
    alice
        .edit_message(room, sent.message_id, "meet at 7, room D")
        .await
        .unwrap();
    let raw = raw_history(&server, "bob", room).await;
    assert!(!raw.contains("room B"), "the first text is gone: {raw}");
    assert!(
        !raw.contains("room C"),
        "so is the second, even in the first edit event"
    );
    assert_eq!(raw.matches("meet at 7, room D").count(), 3, "{raw}");
}

#[tokio::test]
async fn only_the_sender_edits_and_nobody_edits_a_deleted_message() {
    let server = TestServer::start().await;
    let (alice, bob, _carol, room) = group(&server).await;
    let sent = alice.send_message(room, "a1", "mine").await.unwrap();
    let refused = bob.edit_message(room, sent.message_id, "yours").await;
    assert_eq!(code(refused), Some(ErrorCode::Forbidden));
    let too_long = "x".repeat(server.config.max_message_chars + 1);
    let refused = alice.edit_message(room, sent.message_id, too_long).await;
    assert_eq!(
        code(refused),
        Some(ErrorCode::TooLarge),
        "the sending limit"
    );
    let refused = alice.edit_message(room, sent.message_id, "  ").await;
    assert_eq!(code(refused), Some(ErrorCode::BadRequest));
    let refused = alice.edit_message(room, 999_999, "nothing").await;
    assert_eq!(code(refused), Some(ErrorCode::NotFound));

    alice.delete_message(room, sent.message_id).await.unwrap();
    alice
        .delete_message(room, sent.message_id)
        .await
        .expect("deleting again is a harmless retry");
    let refused = alice.edit_message(room, sent.message_id, "back").await;
    assert_eq!(code(refused), Some(ErrorCode::Conflict));
    let refused = bob.add_reaction(room, sent.message_id, "👍").await;
    assert_eq!(code(refused), Some(ErrorCode::Conflict));

    // Someone outside the private room cannot even learn that it exists.
    let mallory = server.register("mallory").await;
    for result in [
        mallory.edit_message(room, sent.message_id, "x").await,
        mallory.delete_message(room, sent.message_id).await,
        mallory.add_reaction(room, sent.message_id, "👍").await,
    ] {
        assert_eq!(code(result), Some(ErrorCode::NotFound));
    }
    // A message id from another room is not found in this one.
    let other = mallory
        .create_room(RoomKind::Group, "elsewhere", &[])
        .await
        .unwrap();
    let theirs = mallory.send_message(other.id, "m1", "hm").await.unwrap();
    let refused = alice.delete_message(room, theirs.message_id).await;
    assert_eq!(code(refused), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn moderators_delete_others_messages_and_the_text_never_comes_back() {
    let server = TestServer::start().await;
    let (alice, mut bob, carol, room) = group(&server).await;
    let sent = bob
        .send_message(room, "b1", "my password is hunter2")
        .await
        .unwrap();
    bob.edit_message(room, sent.message_id, "my password is hunter3")
        .await
        .unwrap();
    let reply = carol
        .send_reply(room, "c1", "bob, delete that!", sent.message_id)
        .await
        .unwrap();
    let refused = carol.delete_message(room, sent.message_id).await;
    assert_eq!(
        code(refused),
        Some(ErrorCode::Forbidden),
        "members delete only their own"
    );
    alice.delete_message(room, sent.message_id).await.unwrap();
    let deleted = next_change(&mut bob, |e| match &e.content {
        EventContent::MessageDeleted(d) => Some((e.sender.username.clone(), d.clone())),
        _ => None,
    })
    .await;
    assert_eq!(deleted.0, "alice");
    assert!(deleted.1.by_moderator);

    let messages = messages_now(&carol, room).await;
    let (_, tombstone) = &messages[&sent.message_id];
    assert!(tombstone.deleted && tombstone.text.is_empty());
    assert_eq!(tombstone.deleted_by.as_ref().unwrap().username, "alice");
    let (_, answer) = &messages[&reply.message_id];
    let quote = answer.reply_to.as_ref().unwrap();
    assert!(quote.deleted && quote.excerpt.is_empty(), "{quote:?}");

    let raw = raw_history(&server, "carol", room).await;
    assert!(!raw.contains("hunter"), "deleted text in history: {raw}");
    let thread = carol
        .get_thread(room, sent.message_id, 0, 10)
        .await
        .unwrap();
    assert!(!format!("{thread:?}").contains("hunter"));
    // Kept for audit only.
    let db = open_db(&server);
    let kept: Vec<String> = db
        .prepare("SELECT old_text FROM message_history ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, ["my password is hunter2", "my password is hunter3"]);
}

#[tokio::test]
async fn reactions_aggregate_over_users_and_devices() {
    let server = TestServer::start().await;
    let (alice, bob, carol, room) = group(&server).await;
    let bob_phone = server.login("bob").await;
    let sent = alice.send_message(room, "a1", "ship it?").await.unwrap();
    bob.add_reaction(room, sent.message_id, "👍").await.unwrap();
    bob_phone
        .add_reaction(room, sent.message_id, "👍")
        .await
        .expect("the same reaction from a second device is harmless");
    carol
        .add_reaction(room, sent.message_id, "👍")
        .await
        .unwrap();
    carol
        .add_reaction(room, sent.message_id, "🎉")
        .await
        .unwrap();
    bob_phone
        .remove_reaction(room, sent.message_id, "🎉")
        .await
        .expect("removing what is not there is harmless");
    alice
        .add_reaction(room, sent.message_id, "+1")
        .await
        .unwrap();
    alice
        .remove_reaction(room, sent.message_id, "+1")
        .await
        .unwrap();

    let page = bob.history_before(room, None, 50).await.unwrap();
    let message = page
        .events
        .iter()
        .find_map(|e| match &e.content {
            EventContent::Message(m) if m.message_id == sent.message_id => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    let summary: Vec<(&str, u32, Vec<&str>)> = message
        .reactions
        .iter()
        .map(|r| {
            let users = r.users.iter().map(|u| u.username.as_str()).collect();
            (r.emoji.as_str(), r.count, users)
        })
        .collect();
    assert_eq!(
        summary,
        [("👍", 2, vec!["bob", "carol"]), ("🎉", 1, vec!["carol"])]
    );
    let mine: Vec<&str> = page.reacted.iter().map(|r| r.emoji.as_str()).collect();
    assert_eq!(mine, ["👍"], "bob's own reactions come with the page");
    let page = alice.history_before(room, None, 50).await.unwrap();
    assert!(page.reacted.is_empty(), "alice took hers back");

    for bad in ["", "   ", "a\nb", &"x".repeat(33)] {
        let refused = bob.add_reaction(room, sent.message_id, bad).await;
        assert!(
            matches!(
                code(refused),
                Some(ErrorCode::BadRequest | ErrorCode::TooLarge)
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn pipelined_reactions_and_edits_apply_in_the_order_sent() {
    let server = TestServer::start().await;
    let (alice, bob, _carol, room) = group(&server).await;
    let sent = alice.send_message(room, "a1", "v0").await.unwrap();
    // Sent back to back without waiting for answers.
    let (e1, e2, e3, r1, r2, r3) = tokio::join!(
        alice.edit_message(room, sent.message_id, "v1"),
        alice.edit_message(room, sent.message_id, "v2"),
        alice.edit_message(room, sent.message_id, "v3"),
        bob.add_reaction(room, sent.message_id, "a"),
        bob.add_reaction(room, sent.message_id, "b"),
        bob.remove_reaction(room, sent.message_id, "a"),
    );
    for result in [e1, e2, e3, r1, r2, r3] {
        result.unwrap();
    }
    let messages = messages_now(&bob, room).await;
    let (_, message) = &messages[&sent.message_id];
    assert_eq!(message.text, "v3");
    let emoji: Vec<&str> = message.reactions.iter().map(|r| r.emoji.as_str()).collect();
    assert_eq!(emoji, ["b"]);
}

#[tokio::test]
async fn resuming_across_edits_deletes_and_reactions_gives_the_servers_state() {
    let server = TestServer::start().await;
    let (alice, bob, carol, room) = group(&server).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let sent = alice
            .send_message(room, format!("a{i}"), format!("message {i}"))
            .await
            .unwrap();
        ids.push(sent.message_id);
    }
    // Bob reads everything, then goes away.
    let mut held = BTreeMap::new();
    let mut seen = 0;
    for event in all_events(&bob, room).await {
        seen = event.seq;
        apply(&mut held, &event);
    }
    bob.close();

    alice
        .edit_message(room, ids[0], "message 0, fixed")
        .await
        .unwrap();
    carol.add_reaction(room, ids[1], "👀").await.unwrap();
    alice.add_reaction(room, ids[1], "👀").await.unwrap();
    carol.remove_reaction(room, ids[1], "👀").await.unwrap();
    let reply = carol
        .send_reply(room, "c1", "about 2", ids[2])
        .await
        .unwrap();
    alice
        .edit_message(room, ids[2], "message 2, edited")
        .await
        .unwrap();
    alice.delete_message(room, ids[3]).await.unwrap();
    alice.edit_message(room, ids[4], "4, once").await.unwrap();
    alice.edit_message(room, ids[4], "4, twice").await.unwrap();
    carol
        .add_reaction(room, reply.message_id, "✅")
        .await
        .unwrap();
    alice.delete_message(room, ids[2]).await.unwrap();

    // Back: catch up by seq in small pages, applying each event.
    let bob = server.login("bob").await;
    loop {
        let page = bob.history_after(room, seen, 2).await.unwrap();
        for event in &page.events {
            seen = event.seq;
            apply(&mut held, event);
        }
        if !page.more {
            break;
        }
    }
    let now = messages_now(&bob, room).await;
    assert_eq!(held, now, "resumed state differs from the server's");
    // And a client that paged backwards from the end, applying every page as it came (newest
    // pages first), ends the same.
    let mut backwards = BTreeMap::new();
    let mut before = None;
    loop {
        let page = bob.history_before(room, before, 3).await.unwrap();
        for event in &page.events {
            apply(&mut backwards, event);
        }
        match page.events.first() {
            Some(first) if page.more => before = Some(first.seq),
            _ => break,
        }
    }
    assert_eq!(backwards, now);
}

#[tokio::test]
async fn a_message_takes_a_bounded_number_of_edits() {
    // Every edit rewrites the message's earlier edit events, so unbounded edits of one message
    // would let one user make each write cost the shared writer more and more.
    let server = TestServer::start().await;
    let (alice, _bob, _carol, room) = group(&server).await;
    let sent = alice.send_message(room, "a1", "v0").await.unwrap();
    let max = chat_server::store::messages::MAX_EDITS_PER_MESSAGE;
    for i in 1..=max {
        alice
            .edit_message(room, sent.message_id, format!("v{i}"))
            .await
            .unwrap();
    }
    let refused = alice.edit_message(room, sent.message_id, "one more").await;
    assert_eq!(code(refused), Some(ErrorCode::TooLarge));
    alice
        .edit_message(room, sent.message_id, format!("v{max}"))
        .await
        .expect("repeating the current text is still a harmless retry");
    alice
        .delete_message(room, sent.message_id)
        .await
        .expect("and it can still be deleted");
}
