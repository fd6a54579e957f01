//! Clients that stop reading: bounded memory, eviction, and the socket released in bounded
//! time whatever the peer does, while everyone else keeps chatting.

use crate::raw;
use crate::support::*;
use chat_protocol::{PresenceInfo, RoomKind, ServerFrame};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

fn offline(name: &'static str) -> impl FnMut(ServerFrame) -> Option<PresenceInfo> {
    move |frame| match frame {
        ServerFrame::Presence(p) if p.user.username == name && !p.online => Some(p),
        _ => None,
    }
}

#[tokio::test]
async fn a_client_that_asks_for_big_pages_and_never_reads_is_evicted_and_its_socket_reset() {
    non_reader_is_evicted(test_config()).await;
}

#[tokio::test]
async fn the_server_wide_total_evicts_a_non_reader_under_its_own_bound() {
    non_reader_is_evicted(chat_server::Config {
        outbound_queue_bytes: 1 << 30,
        outbound_queue_frames: 1 << 20,
        outbound_total_bytes: 1 << 20,
        ..test_config()
    })
    .await;
}

async fn non_reader_is_evicted(config: chat_server::Config) {
    let server = TestServer::start_with(config).await;
    let alice = server.register("alice").await;
    drop(server.register("mallory").await);
    let room = alice
        .create_room(RoomKind::Group, "big pages", &["mallory"])
        .await
        .unwrap();
    let long = "long message ".repeat(300); // ~3,900 characters
    for i in 0..100 {
        alice
            .send_message(room.id, format!("m{i}"), long.clone())
            .await
            .unwrap();
    }
    let mut watcher = server.login("alice").await;

    // mallory asks for 100 pages of ~400 KB (40 MB in all, within the rate limit of a normal
    // server) through a 4 KiB receive buffer, and never reads.
    let mut mallory = raw::connect(&server.url, Some(4096)).await;
    raw::login(&mut mallory, "mallory").await;
    for request_id in 1..=100 {
        let ask = format!(
            r#"{{"type":"get_history","request_id":{request_id},"room_id":{},"limit":100}}"#,
            room.id
        );
        mallory.feed(Message::text(ask)).await.unwrap();
    }
    mallory.flush().await.unwrap();

    // Presence goes offline when the server has released mallory's connection.
    wait_for(&mut watcher, offline("mallory")).await;
    let ending = raw::read_to_end(&mut mallory).await;
    assert!(
        ending.bytes < 1024 * 1024,
        "the queue was dropped at eviction, not delivered: {} bytes in {} frames arrived after it",
        ending.bytes,
        ending.texts.len()
    );

    let ack = alice.send_message(room.id, "after", "still here").await;
    assert!(ack.is_ok(), "the server kept serving everyone else");
    let (_, _, text) = next_message(&mut watcher).await;
    assert_eq!(text, "still here");
}

#[tokio::test]
async fn a_reader_of_big_pages_is_not_evicted() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = alice
        .create_room(RoomKind::Group, "big pages", &[])
        .await
        .unwrap();
    let long = "x".repeat(3900);
    for i in 0..100 {
        alice
            .send_message(room.id, format!("m{i}"), long.clone())
            .await
            .unwrap();
    }
    // Five pages of ~400 KB asked at once: half the queue's byte bound, each page far over the
    // 64 KiB a frame from a client may have.
    let pages =
        futures_util::future::join_all((0..5).map(|_| alice.history_before(room.id, None, 100)))
            .await;
    assert!(pages
        .iter()
        .all(|p| p.as_ref().is_ok_and(|p| p.events.len() == 100)));
}
