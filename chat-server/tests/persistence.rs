//! Durability: what was acknowledged survives a restart.

use crate::support::*;
use chat_protocol::{close_code, RoomKind};

#[tokio::test]
async fn a_restarted_server_still_has_every_acknowledged_message() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let token = alice
        .welcome()
        .token
        .clone()
        .expect("registration issues a token");
    let room = alice
        .create_room(RoomKind::Channel, "lobby", &[])
        .await
        .unwrap();
    // Many sends in flight at once, so they commit in groups.
    let sends = (0..200).map(|i| alice.send_message(room.id, format!("p{i}"), format!("kept {i}")));
    let acks = futures_util::future::join_all(sends).await;
    let acked: Vec<i64> = acks.into_iter().map(|a| a.unwrap().seq).collect();
    let mut watcher = server.login("alice").await;

    let server = server.restart().await;
    assert_eq!(
        wait_closed(&mut watcher).await,
        Some(close_code::GOING_AWAY),
        "shutdown says goodbye with 1001"
    );
    drop(alice);
    let alice = server
        .connect(chat_protocol::Auth::Token { token })
        .await
        .expect("the token still works");
    let summary = welcome_room(&alice, room.id);
    let (stored, after) = messages_after(&alice, room.id, 0).await;
    assert_eq!(stored.len(), 200);
    for seq in acked {
        assert!(
            stored.iter().any(|(s, _)| *s == seq),
            "acknowledged seq {seq} survived"
        );
    }
    assert_eq!(summary.last_seq, after, "no seq was lost or skipped");
    // And the room keeps counting from where it was.
    let next = alice
        .send_message(room.id, "after-restart", "still here")
        .await
        .unwrap();
    assert_eq!(next.seq, after + 1);
}
