//! Delivered/read receipts and unread counts across devices.

use crate::support::*;
use chat_protocol::ServerFrame;

#[tokio::test]
async fn receipts_move_unread_counts_for_every_device_of_the_reader() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let bob_laptop = server.register("bob").await;
    let mut bob_phone = server.login("bob").await;
    let room = alice.open_direct("bob").await.unwrap();
    let mut seqs = Vec::new();
    for i in 0..3 {
        seqs.push(
            alice
                .send_message(room.id, format!("r{i}"), format!("unread {i}"))
                .await
                .unwrap()
                .seq,
        );
    }
    let unread_of = |rooms: Vec<chat_protocol::RoomSummary>| {
        rooms.iter().find(|r| r.id == room.id).unwrap().unread
    };
    assert_eq!(unread_of(bob_laptop.list_rooms().await.unwrap()), 3);
    assert_eq!(
        unread_of(alice.list_rooms().await.unwrap()),
        0,
        "your own messages are not unread"
    );

    bob_laptop
        .set_receipt(room.id, None, Some(seqs[1]))
        .await
        .unwrap();
    let unread = wait_for(&mut bob_phone, |f| match f {
        ServerFrame::Unread(u) => Some(u),
        _ => None,
    })
    .await;
    assert_eq!(
        (unread.room_id, unread.read_seq, unread.unread),
        (room.id, seqs[1], 1),
        "the phone follows the laptop"
    );
    assert_eq!(unread_of(bob_phone.list_rooms().await.unwrap()), 1);
    let read = wait_for(&mut alice, receipt).await;
    assert_eq!(
        (read.read_seq, read.delivered_seq),
        (seqs[1], seqs[1]),
        "alice sees bob read it; read implies delivered"
    );

    bob_phone.set_receipt(room.id, None, Some(1)).await.unwrap();
    assert_eq!(
        unread_of(bob_laptop.list_rooms().await.unwrap()),
        1,
        "receipts never move back"
    );
    assert!(
        alice.drain_events().await.unwrap().is_empty(),
        "an unchanged receipt is not pushed"
    );

    bob_phone
        .set_receipt(room.id, Some(seqs[2]), None)
        .await
        .unwrap();
    let delivered = wait_for(&mut alice, receipt).await;
    assert_eq!(
        (delivered.delivered_seq, delivered.read_seq),
        (seqs[2], seqs[1])
    );

    bob_phone
        .set_receipt(room.id, None, Some(1_000_000))
        .await
        .unwrap();
    let summary = bob_laptop
        .list_rooms()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == room.id)
        .unwrap();
    assert_eq!(
        (summary.unread, summary.read_seq),
        (0, summary.last_seq),
        "read is capped at the room's last seq"
    );
}
