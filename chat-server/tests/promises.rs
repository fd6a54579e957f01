//! What PROTOCOL.md promises and a bot author's acceptance suite caught the server breaking:
//! request order for typing, who inherits a room, what `room_added` and presence say.

use crate::raw;
use crate::support::*;
use chat_protocol::{PresenceInfo, Role, RoomKind, ServerFrame};
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn typing_true_then_false_sent_back_to_back_take_effect_in_order() {
    let server = TestServer::start_with(chat_server::Config {
        typing_timeout_ms: 60_000,
        ..test_config()
    })
    .await;
    let mut alice = server.register("alice").await;
    drop(server.register("bob").await);
    let room = alice.open_direct("bob").await.unwrap();
    let mut bob = raw::connect(&server.url, None).await;
    raw::login(&mut bob, "bob").await;
    for round in 0..20 {
        for (n, typing) in [true, false].into_iter().enumerate() {
            let frame = format!(
                r#"{{"type":"set_typing","request_id":{},"room_id":{},"typing":{typing}}}"#,
                round * 2 + n,
                room.id
            );
            bob.feed(Message::text(frame)).await.unwrap();
        }
        bob.flush().await.unwrap();
        let seen = [
            wait_for(&mut alice, typing).await,
            wait_for(&mut alice, typing).await,
        ];
        assert_eq!(seen, [true, false], "round {round}: in the order sent");
    }
}

fn typing(frame: ServerFrame) -> Option<bool> {
    match frame {
        ServerFrame::Typing(t) => Some(t.typing),
        _ => None,
    }
}

#[tokio::test]
async fn the_member_added_first_inherits_the_room_even_within_one_millisecond() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    // bob registers first, so he has the lower user id.
    drop(server.register("bob").await);
    drop(server.register("carol").await);
    for n in 0..3 {
        // Added in this order by one request: the same millisecond, carol's event first.
        let room = alice
            .create_room(RoomKind::Group, format!("handover {n}"), &["carol", "bob"])
            .await
            .unwrap();
        alice.leave_room(room.id).await.unwrap();
        let carol = server.login("carol").await;
        let members = carol.list_members(room.id).await.unwrap();
        let owner = members.iter().find(|m| m.role == Role::Owner).unwrap();
        assert_eq!(
            owner.user.username, "carol",
            "room {n}: carol was added first"
        );
    }
}

#[tokio::test]
async fn room_added_for_a_new_direct_room_is_complete_on_the_openers_devices_too() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut alice_phone = server.login("alice").await;
    let mut bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();
    for (who, client) in [("alice", &mut alice_phone), ("bob", &mut bob)] {
        let added = wait_for(client, room_added).await;
        assert_eq!(added.id, room.id);
        assert_eq!(added.member_count, 2, "{who}");
        assert!(added.peer.is_some(), "{who}: the peer is named");
        assert!(
            !added.title.is_empty(),
            "{who}: titled with the other person"
        );
    }
    let group = alice
        .create_room(RoomKind::Group, "team", &["bob"])
        .await
        .unwrap();
    let added = wait_for(&mut alice_phone, room_added).await;
    assert_eq!((added.id, added.member_count), (group.id, 2));
}

fn presence_of(name: &'static str) -> impl FnMut(ServerFrame) -> Option<PresenceInfo> {
    move |frame| match frame {
        ServerFrame::Presence(p) if p.user.username == name => Some(p),
        _ => None,
    }
}

#[tokio::test]
async fn last_seen_is_when_the_user_left_not_the_end_of_the_grace_period() {
    let grace: i64 = 1000;
    let server = TestServer::start_with(chat_server::Config {
        presence_grace_ms: grace as u64,
        ..test_config()
    })
    .await;
    let mut alice = server.register("alice").await;
    let bob = server.register("bob").await;
    alice.open_direct("bob").await.unwrap();
    let left = chat_server::store::now_ms();
    bob.close();
    drop(bob);
    let gone = wait_for(&mut alice, |f| presence_of("bob")(f).filter(|p| !p.online)).await;
    let last_seen = gone.last_seen.expect("a last-seen time");
    assert!(
        last_seen < left + grace / 2,
        "last seen {} ms after leaving; the grace period is {grace} ms",
        last_seen - left
    );
}

#[tokio::test]
async fn new_contacts_hear_of_each_others_presence_and_the_welcome_has_last_seen() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    // Both online, no room in common: a new DM makes them contacts.
    bob.open_direct("alice").await.unwrap();
    assert!(wait_for(&mut alice, presence_of("bob")).await.online);
    assert!(wait_for(&mut bob, presence_of("alice")).await.online);

    // Being added to a small group is the same.
    let mut carol = server.register("carol").await;
    alice
        .create_room(RoomKind::Group, "team", &["carol"])
        .await
        .unwrap();
    assert!(wait_for(&mut carol, presence_of("alice")).await.online);
    assert!(wait_for(&mut alice, presence_of("carol")).await.online);

    // An offline contact is in the welcome, with when they were last seen.
    carol.close();
    drop(carol);
    wait_for(&mut alice, |f| {
        presence_of("carol")(f).filter(|p| !p.online)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await; // last_seen is written after the grace
    let alice2 = server.login("alice").await;
    let carol_seen = alice2
        .welcome()
        .presence
        .iter()
        .find(|p| p.user.username == "carol")
        .cloned()
        .expect("carol is listed");
    assert!(
        !carol_seen.online && carol_seen.last_seen.is_some(),
        "{carol_seen:?}"
    );
}

/// Send `frames` without waiting, then read until each has been answered; the answers by
/// request id.
async fn pipeline(ws: &mut raw::RawWs, frames: &[String]) -> Vec<serde_json::Value> {
    for frame in frames {
        ws.feed(Message::text(frame.clone())).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < frames.len() {
        let text = raw::next_text(ws).await.expect("an answer");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if value.get("request_id").is_some() {
            answers.push(value);
        }
    }
    answers
}

#[tokio::test]
async fn reads_pipelined_after_writes_see_those_writes() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    drop(server.register("bob").await);
    let channel = alice
        .create_room(RoomKind::Channel, "lobby", &[])
        .await
        .unwrap();
    let mut bob = raw::connect(&server.url, None).await;
    raw::login(&mut bob, "bob").await;
    let id = channel.id;
    let answers = pipeline(
        &mut bob,
        &[
            format!(r#"{{"type":"join_room","request_id":1,"room_id":{id}}}"#),
            format!(r#"{{"type":"send_message","request_id":2,"room_id":{id},"client_id":"b1","text":"hi"}}"#),
            format!(r#"{{"type":"get_history","request_id":3,"room_id":{id},"limit":1}}"#),
            format!(r#"{{"type":"list_members","request_id":4,"room_id":{id}}}"#),
        ],
    )
    .await;
    let kinds: Vec<&str> = answers
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["room", "message_sent", "history", "members"],
        "{answers:?}"
    );
    assert_eq!(
        answers[2]["events"][0]["seq"], answers[1]["seq"],
        "the read saw the send"
    );

    for round in 0..10 {
        let answers = pipeline(
            &mut bob,
            &[
                format!(r#"{{"type":"send_message","request_id":10,"room_id":{id},"client_id":"r{round}","text":"x"}}"#),
                format!(r#"{{"type":"get_history","request_id":11,"room_id":{id},"limit":1}}"#),
                r#"{"type":"list_rooms","request_id":12}"#.to_string(),
            ],
        )
        .await;
        let seq = &answers[0]["seq"];
        assert_eq!(&answers[1]["events"][0]["seq"], seq, "round {round}");
        let listed = answers[2]["rooms"].as_array().unwrap();
        let lobby = listed.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(&lobby["last_seq"], seq, "round {round}");
    }
}

#[tokio::test]
async fn a_room_created_over_the_presence_limit_introduces_nobody() {
    let server = TestServer::start_with(chat_server::Config {
        presence_max_room_members: 2,
        ..test_config()
    })
    .await;
    let p1 = server.register("p1").await;
    let mut p2 = server.register("p2").await;
    drop(server.register("p3").await);
    p1.create_room(RoomKind::Group, "three", &["p2", "p3"])
        .await
        .unwrap();
    // A later, small room is the first thing that makes them contacts.
    let pair = p1
        .create_room(RoomKind::Group, "two", &["p2"])
        .await
        .unwrap();
    let first = wait_for(&mut p2, presence_of("p1")).await;
    assert!(first.online);
    let rooms_before: Vec<ServerFrame> = p2.drain_events().await.unwrap();
    assert!(
        !rooms_before
            .iter()
            .any(|f| matches!(f, ServerFrame::Presence(_))),
        "introduced once, by the room of two ({})",
        pair.id
    );
}
