//! Typing indicators and presence.

use crate::support::*;
use chat_protocol::{ErrorCode, RoomKind, ServerFrame};

fn typing(frame: ServerFrame) -> Option<(String, bool)> {
    match frame {
        ServerFrame::Typing(t) => Some((t.user.username, t.typing)),
        _ => None,
    }
}

#[tokio::test]
async fn typing_is_pushed_to_others_and_expires_on_its_own() {
    let server = TestServer::start().await; // typing_timeout_ms = 300
    let alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();

    alice.set_typing(room.id, true).await.unwrap();
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), true));
    // No stop is sent: the server ends it after the timeout.
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), false));
}

#[tokio::test]
async fn sending_a_message_or_disconnecting_ends_typing() {
    let server = TestServer::start_with(chat_server::Config {
        typing_timeout_ms: 60_000,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();

    alice.set_typing(room.id, true).await.unwrap();
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), true));
    alice
        .send_message(room.id, "t1", "done typing")
        .await
        .unwrap();
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), false));

    alice.set_typing(room.id, true).await.unwrap();
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), true));
    alice.close();
    drop(alice);
    assert_eq!(wait_for(&mut bob, typing).await, ("alice".into(), false));
}

fn presence(frame: ServerFrame) -> Option<(String, bool, bool)> {
    match frame {
        ServerFrame::Presence(p) => Some((p.user.username, p.online, p.last_seen.is_some())),
        _ => None,
    }
}

#[tokio::test]
async fn presence_goes_offline_after_the_last_connection_and_strangers_never_see_it() {
    let server = TestServer::start().await; // presence_grace_ms = 50
    let alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let mut stranger = server.register("stranger").await;
    alice
        .create_room(RoomKind::Group, "pair", &["bob"])
        .await
        .unwrap();
    assert_eq!(
        wait_for(&mut bob, presence).await,
        ("alice".into(), true, false),
        "becoming contacts, bob hears that alice is online"
    );

    let alice_phone = server.login("alice").await;
    alice.close();
    drop(alice);
    alice_phone.ping().await.unwrap();
    assert!(
        bob.drain_events()
            .await
            .unwrap()
            .iter()
            .all(|f| presence(f.clone()).is_none()),
        "alice is still online on her phone"
    );

    alice_phone.close();
    drop(alice_phone);
    assert_eq!(
        wait_for(&mut bob, presence).await,
        ("alice".into(), false, true),
        "offline, with a last-seen time"
    );

    let alice = server.login("alice").await;
    assert_eq!(
        wait_for(&mut bob, presence).await,
        ("alice".into(), true, false)
    );
    let names: Vec<String> = alice
        .welcome()
        .presence
        .iter()
        .map(|p| p.user.username.clone())
        .collect();
    assert_eq!(
        names,
        ["bob"],
        "the welcome lists contacts, never strangers"
    );

    let heard = stranger.drain_events().await.unwrap();
    assert!(
        heard.iter().all(|f| presence(f.clone()).is_none()),
        "a stranger saw no presence: {heard:?}"
    );
}

#[tokio::test]
async fn away_with_a_message_reaches_contacts_and_my_other_devices_and_ends_offline() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let bob = server.register("bob").await;
    bob.open_direct("alice").await.unwrap();
    let away_of = |name: &'static str| {
        move |f: ServerFrame| match f {
            ServerFrame::Presence(p) if p.user.username == name && p.online => Some(p.away),
            _ => None,
        }
    };
    wait_for(&mut alice, away_of("bob")).await;
    let mut bob_phone = server.login("bob").await;
    bob.set_away(Some("  at lunch  ")).await.unwrap();
    assert_eq!(
        wait_for(&mut alice, away_of("bob")).await.as_deref(),
        Some("at lunch")
    );
    assert_eq!(
        wait_for(&mut bob_phone, away_of("bob")).await.as_deref(),
        Some("at lunch"),
        "my other devices know"
    );
    // A contact connecting now sees it in the welcome.
    let alice2 = server.login("alice").await;
    let bob_seen = alice2
        .welcome()
        .presence
        .iter()
        .find(|p| p.user.username == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_seen.away.as_deref(), Some("at lunch"));
    // Back: no message.
    bob.set_away(None).await.unwrap();
    assert_eq!(wait_for(&mut alice, away_of("bob")).await, None);
    // Bad input is refused and changes nothing.
    let long = "x".repeat(201);
    assert_eq!(
        bob.set_away(Some(&long)).await.unwrap_err().code(),
        Some(ErrorCode::TooLarge)
    );
    assert_eq!(
        bob.set_away(Some("two\nlines")).await.unwrap_err().code(),
        Some(ErrorCode::BadRequest)
    );
}
