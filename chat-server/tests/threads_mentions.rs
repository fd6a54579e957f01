//! Replies and threads, mentions and their unread counts.

use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{ErrorCode, EventContent, RoomKind, ServerFrame};

fn mentions_in(client: &Client, room_id: i64) -> u32 {
    welcome_room(client, room_id).mentions
}

async fn summary_mentions(client: &Client, room_id: i64) -> u32 {
    let rooms = client.list_rooms().await.unwrap();
    rooms.iter().find(|r| r.id == room_id).unwrap().mentions
}

#[tokio::test]
async fn a_reply_quotes_its_parent_and_the_thread_pages_in_order() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let long_first_line = format!("{}\nsecond line", "word ".repeat(30));
    let parent = alice
        .send_message(room, "a1", long_first_line)
        .await
        .unwrap();
    let mut replies = Vec::new();
    for i in 0..5 {
        let sent = bob
            .send_reply(
                room,
                format!("b{i}"),
                format!("reply {i}"),
                parent.message_id,
            )
            .await
            .unwrap();
        replies.push(sent);
        alice
            .send_message(room, format!("a-noise{i}"), "not in the thread")
            .await
            .unwrap();
    }
    let quote = wait_for(&mut bob, |f| match f {
        ServerFrame::Event(e) => match e.content {
            EventContent::Message(m) => m.reply_to,
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(quote.message_id, parent.message_id);
    assert_eq!(quote.sender.username, "alice");
    assert_eq!(
        quote.excerpt.chars().count(),
        101,
        "cut to 100 and an ellipsis"
    );
    assert!(quote.excerpt.ends_with('…'));

    let first = bob.get_thread(room, parent.message_id, 0, 2).await.unwrap();
    let seqs: Vec<i64> = first.replies.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [replies[0].seq, replies[1].seq]);
    assert!(first.more);
    let EventContent::Message(head) = &first.parent.content else {
        panic!("the parent is a message")
    };
    let thread = head.thread.as_ref().expect("a thread summary");
    assert_eq!(thread.replies, 5);
    let rest = bob
        .get_thread(room, parent.message_id, seqs[1], 50)
        .await
        .unwrap();
    assert_eq!(rest.replies.len(), 3);
    assert!(!rest.more);
    assert_eq!(thread.last_reply_ts, rest.replies[2].ts);

    alice
        .edit_message(room, parent.message_id, "lunch?")
        .await
        .unwrap();
    let again = bob.get_thread(room, parent.message_id, 0, 1).await.unwrap();
    let EventContent::Message(reply) = &again.replies[0].content else {
        panic!("a reply is a message")
    };
    assert_eq!(reply.reply_to.as_ref().unwrap().excerpt, "lunch?");

    // A reply to a message of another room, or to nothing, is refused and stores nothing.
    let other = alice
        .create_room(RoomKind::Group, "other", &[])
        .await
        .unwrap();
    let elsewhere = alice.send_message(other.id, "o1", "x").await.unwrap();
    for target in [elsewhere.message_id, 987_654] {
        let refused = bob.send_reply(room, "b-bad", "?", target).await;
        assert_eq!(code(refused), Some(ErrorCode::NotFound));
    }
    let refused = bob.get_thread(other.id, elsewhere.message_id, 0, 10).await;
    assert_eq!(code(refused), Some(ErrorCode::NotFound), "not a member");
}

#[tokio::test]
async fn mentions_are_counted_until_read_and_follow_edits() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let hi = alice
        .send_message(room, "a1", "hi @Bob, and @nobody or mail bob@example.com")
        .await
        .unwrap();
    alice.send_message(room, "a2", "no mention").await.unwrap();
    let ping = alice.send_message(room, "a3", "ping @bob.").await.unwrap();
    let event = wait_for(&mut bob, |f| match f {
        ServerFrame::Event(e) => match e.content {
            EventContent::Message(m) if m.message_id == hi.message_id => Some(m),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(event.mentions, [bob.welcome().user.id]);
    assert_eq!(summary_mentions(&bob, room).await, 2);
    let phone = server.login("bob").await;
    assert_eq!(mentions_in(&phone, room), 2, "the welcome counts them too");

    // The edit removing a mention uncounts it, and bob's devices hear so at once.
    alice
        .edit_message(room, ping.message_id, "ping, nobody in particular")
        .await
        .unwrap();
    let moved = wait_for(&mut bob, unread).await;
    assert_eq!((moved.room_id, moved.mentions), (room, 1));
    // One that adds a mention counts it.
    alice
        .edit_message(room, ping.message_id, "ping @bob, really")
        .await
        .unwrap();
    assert_eq!(wait_for(&mut bob, unread).await.mentions, 2);
    // Earlier edit events carry the mentions of the current text, as they carry its text.
    let page = bob.history_before(room, None, 50).await.unwrap();
    for event in &page.events {
        if let EventContent::MessageEdited(edit) = &event.content {
            assert_eq!(edit.text, "ping @bob, really");
            assert_eq!(edit.mentions, [bob.welcome().user.id]);
        }
    }

    let mentions = bob.list_mentions(None, 1).await.unwrap();
    assert!(mentions.more);
    let EventContent::Message(newest) = &mentions.events[0].content else {
        panic!("a message")
    };
    assert_eq!(newest.message_id, ping.message_id, "newest first");
    let older = bob.list_mentions(Some(ping.message_id), 10).await.unwrap();
    assert_eq!(older.events.len(), 1);
    assert!(!older.more);

    // Reading moves the count with the receipt.
    bob.set_receipt(room, None, Some(hi.seq)).await.unwrap();
    let after_read = wait_for(&mut bob, unread).await;
    assert_eq!(after_read.mentions, 1);
    alice.delete_message(room, ping.message_id).await.unwrap();
    assert_eq!(wait_for(&mut bob, unread).await.mentions, 0, "deleted");
    assert_eq!(summary_mentions(&bob, room).await, 0);
    assert_eq!(
        bob.list_mentions(None, 10).await.unwrap().events.len(),
        1,
        "a deleted message mentions nobody"
    );
    // Alice mentioning herself counts for nobody.
    alice
        .send_message(room, "a4", "@alice note to self")
        .await
        .unwrap();
    assert_eq!(summary_mentions(&alice, room).await, 0);
}

#[tokio::test]
async fn at_room_marks_everyone_for_moderators_once_a_minute() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let room = alice
        .create_room(RoomKind::Group, "crew", &["bob", "carol"])
        .await
        .unwrap()
        .id;
    bob.send_message(room, "b1", "@room free cake")
        .await
        .expect("a member may write it");
    assert_eq!(summary_mentions(&carol, room).await, 0, "but pages nobody");
    alice
        .send_message(room, "a1", "@all standup now")
        .await
        .unwrap();
    assert_eq!(summary_mentions(&carol, room).await, 1);
    assert_eq!(summary_mentions(&bob, room).await, 1);
    assert_eq!(summary_mentions(&alice, room).await, 0, "not the sender");
    alice
        .send_message(room, "a2", "@room and again")
        .await
        .expect("sent, but too soon to page everyone again");
    assert_eq!(summary_mentions(&carol, room).await, 1);
    // A named mention counts on top.
    alice
        .send_message(room, "a3", "@carol see above")
        .await
        .unwrap();
    assert_eq!(summary_mentions(&carol, room).await, 2);

    // Someone who joins later is not counted for mentions made before.
    let dave = server.register("dave").await;
    alice.add_member(room, "dave").await.unwrap();
    assert_eq!(summary_mentions(&dave, room).await, 0);
    assert!(dave
        .list_mentions(None, 10)
        .await
        .unwrap()
        .events
        .is_empty());
}
