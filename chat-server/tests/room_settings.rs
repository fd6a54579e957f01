//! Per-user room settings: notification level, pins, archived for oneself, drafts, all synced
//! to every device of the user.

use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{
    ErrorCode, NotifyLevel, RoomKind, RoomSettings, RoomSettingsChanged, ServerFrame,
    SetRoomSettings,
};

fn settings_frame(frame: ServerFrame) -> Option<RoomSettingsChanged> {
    match frame {
        ServerFrame::RoomSettings(s) => Some(s),
        _ => None,
    }
}

fn change(room_id: i64) -> SetRoomSettings {
    SetRoomSettings {
        room_id,
        ..Default::default()
    }
}

async fn listed(client: &Client, room_id: i64) -> RoomSettings {
    let rooms = client.list_rooms().await.unwrap();
    rooms
        .into_iter()
        .find(|r| r.id == room_id)
        .unwrap()
        .settings
}

#[tokio::test]
async fn settings_made_on_one_device_reach_the_other_and_a_new_login() {
    let server = TestServer::start().await;
    let (_alice, bob_phone, room) = alice_and_bob(&server).await;
    let mut bob_laptop = server.login("bob").await;
    bob_phone
        .set_room_settings(SetRoomSettings {
            notify: Some(NotifyLevel::Mentions),
            pinned: Some(true),
            draft: Some("half a thought 🇫🇷".into()),
            ..change(room)
        })
        .await
        .unwrap();
    let pushed = wait_for(&mut bob_laptop, settings_frame).await;
    let expected = RoomSettings {
        notify: NotifyLevel::Mentions,
        pinned: Some(0),
        hidden: false,
        draft: "half a thought 🇫🇷".into(),
    };
    assert_eq!(pushed.room_id, room);
    assert_eq!(pushed.settings, expected);
    assert_eq!(listed(&bob_laptop, room).await, expected);
    let bob_tablet = server.login("bob").await;
    assert_eq!(welcome_room(&bob_tablet, room).settings, expected);

    // Only what a request names changes; the rest stays.
    bob_laptop
        .set_room_settings(SetRoomSettings {
            draft: Some(String::new()),
            ..change(room)
        })
        .await
        .unwrap();
    let cleared = RoomSettings {
        draft: String::new(),
        ..expected
    };
    assert_eq!(listed(&bob_phone, room).await, cleared);
    // Settings are the user's own: alice's stay as they were.
    let alice_again = server.login("alice").await;
    assert_eq!(
        welcome_room(&alice_again, room).settings,
        RoomSettings::default()
    );
}

#[tokio::test]
async fn muting_counts_direct_mentions_only_and_says_so_at_once() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let direct = alice.send_message(room, "a2", "@bob hi").await.unwrap();
    alice
        .send_message(room, "a1", "@room lunch?")
        .await
        .unwrap();
    alice.send_message(room, "a3", "plain").await.unwrap();
    assert_eq!(
        server.login("bob").await.welcome().rooms[0].mentions,
        2,
        "unmuted: @room and @bob"
    );
    bob.drain_events().await.unwrap();
    bob.set_room_settings(SetRoomSettings {
        notify: Some(NotifyLevel::None),
        ..change(room)
    })
    .await
    .unwrap();
    let counts = wait_for(&mut bob, unread).await;
    assert_eq!(
        (counts.room_id, counts.unread, counts.mentions),
        (room, 3, 1),
        "muted: the direct mention alone; the messages stay unread"
    );
    let rooms = bob.list_rooms().await.unwrap();
    assert_eq!(rooms[0].mentions, 1);
    // A mention count after a receipt follows the level too: the @room left unread does
    // not count.
    bob.set_receipt(room, None, Some(direct.seq)).await.unwrap();
    let counts = wait_for(&mut bob, unread).await;
    assert_eq!((counts.unread, counts.mentions), (2, 0));
    // `mentions` keeps counting @room (it is a level of notice, not a mute).
    bob.set_room_settings(SetRoomSettings {
        notify: Some(NotifyLevel::Mentions),
        ..change(room)
    })
    .await
    .unwrap();
    let counts = wait_for(&mut bob, unread).await;
    assert_eq!(counts.mentions, 1);
}

#[tokio::test]
async fn a_room_archived_for_oneself_comes_back_with_the_next_message_unless_muted() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let quiet = alice
        .create_room(RoomKind::Group, "quiet", &["bob"])
        .await
        .unwrap()
        .id;
    bob.set_room_settings(SetRoomSettings {
        hidden: Some(true),
        ..change(room)
    })
    .await
    .unwrap();
    bob.set_room_settings(SetRoomSettings {
        hidden: Some(true),
        notify: Some(NotifyLevel::None),
        ..change(quiet)
    })
    .await
    .unwrap();
    assert!(listed(&bob, room).await.hidden);
    bob.drain_events().await.unwrap();

    alice.send_message(quiet, "q1", "shh").await.unwrap();
    alice.send_message(room, "r1", "back?").await.unwrap();
    let back = wait_for(&mut bob, settings_frame).await;
    assert_eq!(back.room_id, room, "the muted room stays archived");
    assert!(!back.settings.hidden);
    assert!(!listed(&bob, room).await.hidden);
    assert!(listed(&bob, quiet).await.hidden);
    // A muted room comes back for a mention by name, though.
    alice
        .send_message(quiet, "q2", "@bob a word")
        .await
        .unwrap();
    let named = wait_for(&mut bob, settings_frame).await;
    assert_eq!(named.room_id, quiet);
    assert!(!named.settings.hidden);
    // alice, who hid nothing, got no settings frame.
    let alice_frames = {
        let mut alice = alice;
        alice.ping().await.unwrap();
        alice.drain_events().await.unwrap()
    };
    assert!(!alice_frames
        .iter()
        .any(|f| matches!(f, ServerFrame::RoomSettings(_))));
}

#[tokio::test]
async fn pins_keep_their_order_and_unpin() {
    let server = TestServer::start().await;
    let (alice, bob, first) = alice_and_bob(&server).await;
    let second = alice
        .create_room(RoomKind::Group, "two", &["bob"])
        .await
        .unwrap()
        .id;
    let third = alice
        .create_room(RoomKind::Group, "three", &["bob"])
        .await
        .unwrap()
        .id;
    for room in [second, first] {
        bob.set_room_settings(SetRoomSettings {
            pinned: Some(true),
            ..change(room)
        })
        .await
        .unwrap();
    }
    bob.set_room_settings(SetRoomSettings {
        pin_position: Some(7),
        ..change(third)
    })
    .await
    .unwrap();
    let pins = |rooms: Vec<chat_protocol::RoomSummary>| -> Vec<(i64, Option<u32>)> {
        rooms.iter().map(|r| (r.id, r.settings.pinned)).collect()
    };
    assert_eq!(
        pins(bob.list_rooms().await.unwrap()),
        [(first, Some(1)), (second, Some(0)), (third, Some(7))]
    );
    // Pinning a pinned room again keeps its place (a retry is harmless).
    bob.set_room_settings(SetRoomSettings {
        pinned: Some(true),
        ..change(second)
    })
    .await
    .unwrap();
    bob.set_room_settings(SetRoomSettings {
        pinned: Some(false),
        ..change(first)
    })
    .await
    .unwrap();
    assert_eq!(
        pins(bob.list_rooms().await.unwrap()),
        [(first, None), (second, Some(0)), (third, Some(7))]
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_leaving_forgets_the_draft() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let carol = server.register("carol").await;
    let limit = bob.welcome().limits.max_message_chars;
    let cases = [
        (change(room), ErrorCode::BadRequest),
        (
            SetRoomSettings {
                pinned: Some(false),
                pin_position: Some(1),
                ..change(room)
            },
            ErrorCode::BadRequest,
        ),
        (
            SetRoomSettings {
                draft: Some("x".repeat(limit + 1)),
                ..change(room)
            },
            ErrorCode::TooLarge,
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(code(bob.set_room_settings(request).await), Some(expected));
    }
    let outsider = carol
        .set_room_settings(SetRoomSettings {
            hidden: Some(true),
            ..change(room)
        })
        .await;
    assert_eq!(code(outsider), Some(ErrorCode::NotFound));
    bob.send_raw(format!(
        r#"{{"type":"set_room_settings","request_id":9,"room_id":{room},"notify":"loud"}}"#
    ))
    .unwrap();
    let e = wait_for(&mut bob, |f| match f {
        ServerFrame::Error(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!((e.code, e.request_id), (ErrorCode::BadRequest, Some(9)));

    // Setting what is set already answers ok and pushes nothing.
    bob.set_room_settings(SetRoomSettings {
        draft: Some("later".into()),
        ..change(room)
    })
    .await
    .unwrap();
    bob.drain_events().await.unwrap();
    bob.set_room_settings(SetRoomSettings {
        draft: Some("later".into()),
        ..change(room)
    })
    .await
    .unwrap();
    bob.ping().await.unwrap();
    assert!(bob.drain_events().await.unwrap().is_empty());

    bob.leave_room(room).await.unwrap();
    alice.add_member(room, "bob").await.unwrap();
    assert_eq!(listed(&bob, room).await, RoomSettings::default());
}
