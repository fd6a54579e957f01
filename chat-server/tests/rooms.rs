//! Room kinds, membership, roles and who may see what.

use crate::support::*;
use chat_protocol::{
    ClientFrame, ErrorCode, EventContent, ListChannels, ListMembers, RemoveMember, RenameRoom,
    Role, RoomKind, ServerFrame, SetRole, SetTopic,
};

#[tokio::test]
async fn a_non_member_cannot_read_send_or_hear_a_room() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let _bob = server.register("bob").await;
    let mut eve = server.register("eve").await;
    let private = alice
        .create_room(RoomKind::Group, "secret plans", &["bob"])
        .await
        .unwrap();
    let channel = alice
        .create_room(RoomKind::Channel, "public", &[])
        .await
        .unwrap();

    for room_id in [private.id, channel.id] {
        let read = eve.history_before(room_id, None, 10).await.unwrap_err();
        let send = eve
            .send_message(room_id, format!("e{room_id}"), "let me in")
            .await
            .unwrap_err();
        let typing = eve.set_typing(room_id, true).await.unwrap_err();
        let receipts = eve.set_receipt(room_id, None, Some(1)).await.unwrap_err();
        let expected = if room_id == private.id {
            ErrorCode::NotFound
        } else {
            ErrorCode::Forbidden
        };
        for err in [read, send, typing, receipts] {
            assert_eq!(err.code(), Some(expected), "{err}");
        }
    }
    let err = eve.add_member(private.id, "eve").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::NotFound),
        "a private room's existence does not leak"
    );
    let err = eve.join_room(private.id).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::NotFound),
        "private rooms cannot be joined"
    );

    alice
        .send_message(private.id, "s1", "the plan")
        .await
        .unwrap();
    alice
        .send_message(channel.id, "s2", "public but not for outsiders")
        .await
        .unwrap();
    alice.set_typing(private.id, true).await.unwrap();
    let heard = eve.drain_events().await.unwrap();
    assert!(heard.is_empty(), "eve heard nothing: {heard:?}");
    let unknown = eve.history_before(999_999, None, 10).await.unwrap_err();
    assert_eq!(unknown.code(), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn members_cannot_post_in_announcement_rooms_but_admins_can() {
    let server = TestServer::start().await;
    let boss = server.register("boss").await;
    let mut member = server.register("member").await;
    let room = boss
        .create_room(RoomKind::Announcement, "news", &[])
        .await
        .unwrap();
    member.join_room(room.id).await.unwrap();

    let err = member
        .send_message(room.id, "m1", "can I?")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
    let err = member.set_typing(room.id, true).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));

    boss.send_message(room.id, "b1", "release on friday")
        .await
        .unwrap();
    assert_eq!(next_message(&mut member).await.2, "release on friday");

    let promote = ClientFrame::SetRole(SetRole {
        request_id: 0,
        room_id: room.id,
        username: "member".into(),
        role: Role::Admin,
    });
    boss.request(promote).await.unwrap();
    member
        .send_message(room.id, "m2", "now I can")
        .await
        .unwrap();
}

#[tokio::test]
async fn public_channels_are_listed_and_joinable_and_joining_starts_read() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let channel = alice
        .create_room(RoomKind::Channel, "general", &[])
        .await
        .unwrap();
    alice
        .create_room(RoomKind::Group, "hidden", &[])
        .await
        .unwrap();
    for i in 0..3 {
        alice
            .send_message(channel.id, format!("g{i}"), "old news")
            .await
            .unwrap();
    }
    let ServerFrame::Channels(dir) = bob
        .request(ClientFrame::ListChannels(ListChannels { request_id: 0 }))
        .await
        .unwrap()
    else {
        panic!("expected channels")
    };
    assert_eq!(
        dir.channels
            .iter()
            .map(|c| (c.title.as_str(), c.joined))
            .collect::<Vec<_>>(),
        [("general", false)]
    );

    let joined = bob.join_room(channel.id).await.unwrap();
    assert_eq!(
        (joined.role, joined.unread, joined.member_count),
        (Role::Member, 0, 2),
        "no flood of old unread"
    );
    let page = bob.history_before(channel.id, None, 50).await.unwrap();
    assert!(
        page.events.iter().any(
            |e| matches!(&e.content, EventContent::Message(chat_protocol::ChatMessage { text, .. }) if text == "old news")
        ),
        "channel history is readable after joining"
    );
    let again = bob.join_room(channel.id).await.unwrap();
    assert_eq!(again.member_count, 2, "joining twice changes nothing");
}

#[tokio::test]
async fn membership_and_title_changes_are_timeline_events() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let _carol = server.register("carol").await;
    let room = alice
        .create_room(RoomKind::Group, "team", &[])
        .await
        .unwrap();
    alice.add_member(room.id, "bob").await.unwrap();
    let added = wait_for(&mut bob, room_added).await;
    assert_eq!(added.title, "team");

    alice
        .request(ClientFrame::RenameRoom(RenameRoom {
            request_id: 0,
            room_id: room.id,
            title: "core team".into(),
        }))
        .await
        .unwrap();
    alice
        .request(ClientFrame::SetTopic(SetTopic {
            request_id: 0,
            room_id: room.id,
            topic: "ship it".into(),
        }))
        .await
        .unwrap();
    alice.add_member(room.id, "carol").await.unwrap();
    let err = bob.add_member(room.id, "carol").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::Forbidden),
        "plain members cannot add people"
    );
    let remove = ClientFrame::RemoveMember(RemoveMember {
        request_id: 0,
        room_id: room.id,
        username: "carol".into(),
    });
    alice.request(remove).await.unwrap();

    let kinds: Vec<String> = alice
        .history_after(room.id, 0, 100)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| {
            serde_json::to_value(&e.content).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "room_created",
            "member_joined",
            "member_added",
            "renamed",
            "topic_changed",
            "member_added",
            "member_removed"
        ]
    );
    let seqs: Vec<i64> = alice
        .history_after(room.id, 0, 100)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=7).collect::<Vec<_>>(),
        "every room event has the next seq"
    );

    let renamed = wait_for(&mut bob, |f| match f {
        ServerFrame::Event(e) => match e.content {
            EventContent::Renamed { title } => Some(title),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(renamed, "core team");
    let _ = alice.drain_events().await;
}

#[tokio::test]
async fn leaving_and_removal_end_access_and_ownership_passes_on() {
    let server = TestServer::start().await;
    let owner = server.register("owner").await;
    let admin = server.register("admin").await;
    let mut member = server.register("member").await;
    let room = owner
        .create_room(RoomKind::Group, "club", &["admin", "member"])
        .await
        .unwrap();
    let promote = ClientFrame::SetRole(SetRole {
        request_id: 0,
        room_id: room.id,
        username: "admin".into(),
        role: Role::Admin,
    });
    owner.request(promote).await.unwrap();

    let remove_owner = ClientFrame::RemoveMember(RemoveMember {
        request_id: 0,
        room_id: room.id,
        username: "owner".into(),
    });
    let err = admin.request(remove_owner).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::Forbidden),
        "admins cannot remove owners"
    );

    owner.leave_room(room.id).await.unwrap();
    let ServerFrame::Members(list) = admin
        .request(ClientFrame::ListMembers(ListMembers {
            request_id: 0,
            room_id: room.id,
        }))
        .await
        .unwrap()
    else {
        panic!("expected members")
    };
    let roles: Vec<(String, Role)> = list
        .members
        .iter()
        .map(|m| (m.user.username.clone(), m.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("admin".to_string(), Role::Owner),
            ("member".to_string(), Role::Member)
        ],
        "the admin inherited the room"
    );

    let remove = ClientFrame::RemoveMember(RemoveMember {
        request_id: 0,
        room_id: room.id,
        username: "member".into(),
    });
    admin.request(remove).await.unwrap();
    let removed = wait_for(&mut member, |f| match f {
        ServerFrame::RoomRemoved(r) => Some(r.room_id),
        _ => None,
    })
    .await;
    assert_eq!(removed, room.id);
    let err = member.history_before(room.id, None, 10).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    admin
        .send_message(room.id, "after", "not for member")
        .await
        .unwrap();
    assert!(
        texts(&member.drain_events().await.unwrap()).is_empty(),
        "a removed member hears nothing more"
    );

    let direct = owner.open_direct("admin").await.unwrap();
    assert_eq!(
        owner.leave_room(direct.id).await.unwrap_err().code(),
        Some(ErrorCode::Forbidden)
    );
}

#[tokio::test]
async fn an_archived_room_is_read_only_for_everyone_until_unarchived() {
    use chat_protocol::{ArchiveRoom, TransferOwnership};
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let room = alice
        .create_room(RoomKind::Channel, "old-project", &["bob"])
        .await
        .unwrap()
        .id;
    let sent = bob.send_message(room, "b1", "last words").await.unwrap();
    let archive = |id| {
        ClientFrame::ArchiveRoom(ArchiveRoom {
            request_id: 0,
            room_id: id,
        })
    };
    let refused = bob.request(archive(room)).await;
    assert_eq!(code(refused), Some(ErrorCode::Forbidden), "members cannot");
    alice.request(archive(room)).await.unwrap();
    alice
        .request(archive(room))
        .await
        .expect("archiving twice is harmless");
    let event = wait_for(&mut bob, |f| match f {
        ServerFrame::Event(e) if matches!(e.content, EventContent::RoomArchived {}) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(event.sender.username, "alice");

    let listed = bob.list_rooms().await.unwrap();
    assert!(listed.iter().any(|r| r.id == room && r.archived));
    for refused in [
        code(bob.send_message(room, "b2", "hello?").await),
        code(bob.edit_message(room, sent.message_id, "x").await),
        code(bob.add_reaction(room, sent.message_id, "👍").await),
        code(bob.delete_message(room, sent.message_id).await),
        code(bob.set_typing(room, true).await),
        code(alice.send_message(room, "a1", "even the owner").await),
        code(alice.add_member(room, "carol").await),
        code(carol.join_room(room).await),
    ] {
        assert_eq!(refused, Some(ErrorCode::Forbidden));
    }
    // Reading and leaving still work.
    assert!(!bob
        .history_before(room, None, 10)
        .await
        .unwrap()
        .events
        .is_empty());
    bob.set_receipt(room, None, Some(sent.seq)).await.unwrap();

    let unarchive = ClientFrame::UnarchiveRoom(ArchiveRoom {
        request_id: 0,
        room_id: room,
    });
    alice.request(unarchive).await.unwrap();
    bob.send_message(room, "b3", "back again").await.unwrap();

    // Handing over ownership: the new owner first, then the old one steps down to admin.
    let transfer = |name: &str| {
        ClientFrame::TransferOwnership(TransferOwnership {
            request_id: 0,
            room_id: room,
            username: name.into(),
        })
    };
    let refused = bob.request(transfer("bob")).await;
    assert_eq!(code(refused), Some(ErrorCode::Forbidden));
    let refused = alice.request(transfer("carol")).await;
    assert_eq!(code(refused), Some(ErrorCode::NotFound), "not a member");
    alice.request(transfer("bob")).await.unwrap();
    alice
        .request(transfer("bob"))
        .await
        .expect("a retry whose answer was lost finds it done");
    let members = alice.list_members(room).await.unwrap();
    let roles: Vec<(&str, Role)> = members
        .iter()
        .map(|m| (m.user.username.as_str(), m.role))
        .collect();
    assert_eq!(roles, [("alice", Role::Admin), ("bob", Role::Owner)]);
}
