//! The welcome of an account in many rooms, and the cap that keeps strangers from burying one.

use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{Auth, ClientFrame, CreateRoom, ErrorCode, RoomKind, ServerFrame};
use chat_protocol::{SetRoomSettings, PROTOCOL_VERSION};
use futures_util::future::join_all;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

/// A topic of 500 characters of three bytes each: 1.5 KB of JSON per room.
fn long_topic(i: usize) -> String {
    format!("{i:05}{}", "議".repeat(495))
}

/// `count` groups of `owner`'s with `members` in them, created by pipelined requests.
async fn create_groups(owner: &Client, count: usize, members: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    let all: Vec<usize> = (0..count).collect();
    for part in all.chunks(200) {
        let made = join_all(part.iter().map(|&i| {
            owner.request(ClientFrame::CreateRoom(CreateRoom {
                request_id: 0,
                kind: RoomKind::Group,
                title: format!("group {i}"),
                topic: long_topic(i),
                members: members.iter().map(|m| m.to_string()).collect(),
            }))
        }))
        .await;
        for frame in made {
            match frame.expect("create a group") {
                ServerFrame::Room(r) => ids.push(r.room.id),
                other => panic!("expected room, got {other:?}"),
            }
        }
    }
    ids
}

#[tokio::test]
async fn a_user_added_to_two_thousand_rooms_with_drafts_still_logs_in() {
    let server = TestServer::start_with(chat_server::Config {
        max_rooms_per_user: 5000,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    // A stranger adds bob to 2,000 groups with long topics (3 MB of room list) ...
    let rooms = create_groups(&alice, 2000, &["bob"]).await;
    // ... and bob keeps long drafts in 400 of them (another 4.8 MB).
    let drafts = join_all(rooms.iter().take(400).map(|&room_id| {
        bob.set_room_settings(SetRoomSettings {
            room_id,
            draft: Some(format!("{room_id} {}", "草".repeat(3990))),
            ..Default::default()
        })
    }))
    .await;
    assert!(drafts.iter().all(Result::is_ok), "drafts are kept");

    // Every login still gets in, with every room, by token and by password.
    let token = token_of(&bob);
    for auth in [
        Auth::Token { token },
        Auth::Password {
            username: "bob".into(),
            password: PASSWORD.into(),
        },
    ] {
        let again = server.connect(auth).await.expect("bob logs in");
        let welcome = again.welcome();
        assert!(!welcome.more_rooms, "the client gathered every page");
        let ids: Vec<i64> = welcome.rooms.iter().map(|r| r.id).collect();
        assert_eq!(ids, rooms, "every room once, by id");
        let with_draft = welcome
            .rooms
            .iter()
            .filter(|r| r.settings.draft.chars().count() > 3990)
            .count();
        assert_eq!(with_draft, 400, "drafts come with their rooms");
        // The session is live after the pages: requests are answered.
        again.ping().await.expect("the session answers");
        let listed = again.list_rooms().await.expect("list_rooms pages too");
        assert_eq!(listed.len(), 2000);
    }
}

#[tokio::test]
async fn no_frame_of_a_long_room_list_is_larger_than_a_page() {
    let server = TestServer::start_with(chat_server::Config {
        max_rooms_per_user: 5000,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let rooms = create_groups(&alice, 600, &[]).await;
    // Read as a bot in another language would: raw frames, in order.
    let mut ws = crate::raw::connect(&server.url, None).await;
    let hello = ClientFrame::Hello(chat_protocol::Hello {
        protocol: PROTOCOL_VERSION,
        auth: Auth::Password {
            username: "alice".into(),
            password: PASSWORD.into(),
        },
        client: None,
    });
    ws.send(Message::text(chat_protocol::to_json(&hello)))
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut kinds = Vec::new();
    loop {
        let text = crate::raw::next_text(&mut ws).await.expect("the next page");
        assert!(text.len() < 200 * 1024, "a frame of {} bytes", text.len());
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rooms = frame["rooms"].as_array().expect("rooms in every page");
        ids.extend(rooms.iter().map(|r| r["id"].as_i64().unwrap()));
        let more = frame["more_rooms"]
            .as_bool()
            .or(frame["more"].as_bool())
            .unwrap_or(false);
        kinds.push(frame["type"].as_str().unwrap().to_string());
        if !more {
            break;
        }
    }
    assert_eq!(kinds[0], "welcome");
    assert!(
        kinds.len() > 2,
        "600 rooms of 1.5 KB come in pages: {kinds:?}"
    );
    assert!(kinds[1..].iter().all(|k| k == "welcome_rooms"), "{kinds:?}");
    assert_eq!(ids, rooms, "every room once, in order");
}

#[tokio::test]
async fn nobody_can_put_an_account_in_more_rooms_than_the_cap() {
    let server = TestServer::start_with(chat_server::Config {
        max_rooms_per_user: 3,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    // alice and bob are in 3 rooms each now.
    let full = create_groups(&alice, 3, &["bob"]).await;
    // A fourth room with bob in it: refused, naming him, and nothing is created.
    let refused = carol
        .create_room(RoomKind::Group, "one more", &["bob"])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden));
    assert!(
        refused.to_string().contains("bob is in 3 rooms"),
        "{refused}"
    );
    assert!(
        carol.list_rooms().await.unwrap().is_empty(),
        "no room was made"
    );
    // Not by adding him, nor by a direct room.
    let lobby = carol
        .create_room(RoomKind::Channel, "lobby", &[])
        .await
        .unwrap();
    let refused = carol.add_member(lobby.id, "bob").await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden));
    let refused = carol.open_direct("bob").await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden));
    // Nor by bob himself, who is told what to do.
    let refused = bob.join_room(lobby.id).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden));
    assert!(refused.to_string().contains("leave one first"), "{refused}");
    // Leaving one makes room.
    bob.leave_room(full[0]).await.unwrap();
    bob.join_room(lobby.id).await.expect("room for one more");
    assert_eq!(bob.welcome().limits.max_rooms_per_user, 3, "announced");
}
