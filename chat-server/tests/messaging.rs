//! Sending, fan-out, idempotent retries, history and resume.

use crate::support::*;
use chat_protocol::{ErrorCode, EventContent, RoomKind};

#[tokio::test]
async fn two_users_in_a_direct_room_exchange_messages() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let mut bob = server.register("bob").await;

    let room = alice.open_direct("bob").await.unwrap();
    assert_eq!((room.kind, room.title.as_str()), (RoomKind::Direct, "bob"));
    let again = bob.open_direct("alice").await.unwrap();
    assert_eq!(
        again.id, room.id,
        "asking again for the same pair returns the same room"
    );
    assert_eq!(again.title, "alice", "each side sees the other's name");

    let ack = alice.send_message(room.id, "a-1", "hi bob").await.unwrap();
    assert_eq!(
        next_message(&mut bob).await,
        (ack.seq, "alice".into(), "hi bob".into())
    );
    let reply = bob
        .send_message(room.id, "b-1", "hello alice 👋")
        .await
        .unwrap();
    assert_eq!(reply.seq, ack.seq + 1, "seqs are per room and gap-free");
    assert_eq!(
        next_message(&mut alice).await.2,
        "hi bob",
        "the sender's own connection gets the event too"
    );
    assert_eq!(
        next_message(&mut alice).await,
        (reply.seq, "bob".into(), "hello alice 👋".into())
    );
}

#[tokio::test]
async fn a_group_of_five_gets_every_message_in_the_same_order() {
    let server = TestServer::start().await;
    let names = ["u1", "u2", "u3", "u4", "u5"];
    let mut clients = Vec::new();
    for name in names {
        clients.push(server.register(name).await);
    }
    let room = clients[0]
        .create_room(RoomKind::Group, "five", &names[1..])
        .await
        .unwrap();
    assert_eq!(room.member_count, 5);
    for (i, client) in clients.iter().enumerate() {
        client
            .send_message(room.id, format!("m{i}"), format!("hello from {}", names[i]))
            .await
            .unwrap();
    }
    let expected: Vec<String> = names.iter().map(|n| format!("hello from {n}")).collect();
    for client in &mut clients {
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(next_message(client).await.2);
        }
        assert_eq!(got, expected);
        assert!(
            texts(&client.drain_events().await.unwrap()).is_empty(),
            "nothing twice"
        );
    }
}

#[tokio::test]
async fn a_retry_with_the_same_client_id_is_acknowledged_again_and_stored_once() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();

    let first = alice
        .send_message(room.id, "dup-1", "only once")
        .await
        .unwrap();
    let retry = alice
        .send_message(room.id, "dup-1", "only once")
        .await
        .unwrap();
    assert_eq!(first, retry.clone_with_request_id(first.request_id));

    // From another device too: the id is per sender, not per connection.
    let alice2 = server.login("alice").await;
    let third = alice2
        .send_message(room.id, "dup-1", "only once")
        .await
        .unwrap();
    assert_eq!((third.message_id, third.seq), (first.message_id, first.seq));

    assert_eq!(next_message(&mut bob).await.2, "only once");
    assert!(
        texts(&bob.drain_events().await.unwrap()).is_empty(),
        "bob heard it once"
    );
    let history = alice.history_after(room.id, 0, 100).await.unwrap();
    let messages = history
        .events
        .iter()
        .filter(|e| matches!(e.content, EventContent::Message(_)))
        .count();
    assert_eq!(messages, 1, "stored once");

    let other = alice
        .create_room(RoomKind::Group, "other", &[])
        .await
        .unwrap();
    let err = alice
        .send_message(other.id, "dup-1", "elsewhere")
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::Conflict),
        "a client id cannot be reused for another room"
    );
}

trait WithRequestId {
    fn clone_with_request_id(&self, id: u64) -> Self;
}

impl WithRequestId for chat_protocol::MessageSent {
    fn clone_with_request_id(&self, id: u64) -> Self {
        chat_protocol::MessageSent {
            request_id: id,
            ..self.clone()
        }
    }
}

#[tokio::test]
async fn a_client_that_was_away_for_500_messages_catches_up_exactly() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = alice
        .create_room(RoomKind::Group, "busy", &["bob"])
        .await
        .unwrap();
    let last_seen = bob.list_rooms().await.unwrap()[0].last_seq;
    bob.close();
    drop(bob);

    let mut sent = Vec::new();
    for i in 0..500 {
        let ack = alice
            .send_message(room.id, format!("c{i}"), format!("message {i}"))
            .await
            .unwrap();
        sent.push((ack.seq, format!("message {i}")));
    }

    let bob = server.login("bob").await;
    let summary = welcome_room(&bob, room.id);
    assert_eq!(summary.last_seq, last_seen + 500);
    assert_eq!(summary.unread, 500);
    let (caught_up, _) = messages_after(&bob, room.id, last_seen).await;
    assert_eq!(
        caught_up, sent,
        "exactly the 500, in order, nothing missed or doubled"
    );
}

#[tokio::test]
async fn history_pages_backwards_from_the_newest() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = alice
        .create_room(RoomKind::Group, "notes", &[])
        .await
        .unwrap();
    for i in 0..30 {
        alice
            .send_message(room.id, format!("n{i}"), format!("note {i}"))
            .await
            .unwrap();
    }
    let newest = alice.history_before(room.id, None, 10).await.unwrap();
    let seqs: Vec<i64> = newest.events.iter().map(|e| e.seq).collect();
    let last = seqs[9];
    assert_eq!(
        seqs,
        ((last - 9)..=last).collect::<Vec<_>>(),
        "the newest ten, ascending"
    );
    assert!(newest.more);
    let older = alice
        .history_before(room.id, Some(seqs[0]), 1000)
        .await
        .unwrap();
    assert_eq!(older.events.last().unwrap().seq, seqs[0] - 1);
    assert_eq!(
        older.events.first().unwrap().seq,
        1,
        "back to the room's creation"
    );
    assert!(!older.more);
}

#[tokio::test]
async fn every_device_of_the_sender_hears_the_message() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut alice_phone = server.login("alice").await;
    let _bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();
    let added = wait_for(&mut alice_phone, room_added).await;
    assert_eq!(
        added.id, room.id,
        "the other device learns about the new room"
    );
    alice
        .send_message(room.id, "x", "from the laptop")
        .await
        .unwrap();
    assert_eq!(next_message(&mut alice_phone).await.2, "from the laptop");
}

#[tokio::test]
async fn a_client_that_never_reads_events_still_gets_every_acknowledgement() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = alice
        .create_room(RoomKind::Group, "loud", &[])
        .await
        .unwrap();
    // More events than the client's event queue holds (4096), none of them read.
    for chunk in 0..25 {
        let sends = (0..200).map(|i| alice.send_message(room.id, format!("{chunk}-{i}"), "x"));
        for ack in futures_util::future::join_all(sends).await {
            ack.unwrap();
        }
    }
    assert!(
        alice.missed_events() > 0,
        "the overflow is reported, so the reader can resume by seq"
    );
}
