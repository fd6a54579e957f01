//! Bad input is normal input: errors for the client, nothing broken for anyone.

use crate::support::*;
use chat_protocol::{close_code, Auth, ErrorCode, RoomKind, ServerFrame};

fn error(frame: ServerFrame) -> Option<chat_protocol::ErrorFrame> {
    match frame {
        ServerFrame::Error(e) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let room = alice.create_room(RoomKind::Group, "ok", &[]).await.unwrap();

    alice.send_raw("{this is not json").unwrap();
    let e = wait_for(&mut alice, error).await;
    assert_eq!((e.code, e.request_id), (ErrorCode::BadRequest, None));
    assert!(e.message.starts_with("malformed JSON"), "{}", e.message);

    alice
        .send_raw(r#"{"type":"teleport","request_id":77}"#)
        .unwrap();
    let e = wait_for(&mut alice, error).await;
    assert_eq!(
        (e.code, e.request_id, e.message.as_str()),
        (
            ErrorCode::BadRequest,
            Some(77),
            "unknown frame type \"teleport\""
        )
    );

    alice
        .send_raw(r#"{"type":"send_message","request_id":78,"room_id":"lobby"}"#)
        .unwrap();
    let e = wait_for(&mut alice, error).await;
    assert_eq!((e.code, e.request_id), (ErrorCode::BadRequest, Some(78)));

    let ack = alice
        .send_message(room.id, "still", "still works")
        .await
        .unwrap();
    assert!(ack.seq > 0);
}

#[tokio::test]
async fn invalid_requests_get_clear_errors() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = alice
        .create_room(RoomKind::Group, "limits", &[])
        .await
        .unwrap();
    let limits = alice.welcome().limits.clone();

    let long = "x".repeat(limits.max_message_chars + 1);
    assert_eq!(
        code(alice.send_message(room.id, "l1", long).await),
        Some(ErrorCode::TooLarge)
    );
    assert_eq!(
        code(alice.send_message(room.id, "l2", "  \n ").await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(alice.send_message(room.id, "", "no id").await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(alice.send_message(424242, "l3", "nowhere").await),
        Some(ErrorCode::NotFound)
    );
    let title = "t".repeat(limits.max_title_chars + 1);
    assert_eq!(
        code(alice.create_room(RoomKind::Group, title, &[]).await),
        Some(ErrorCode::TooLarge)
    );
    assert_eq!(
        code(alice.create_room(RoomKind::Group, "   ", &[]).await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(alice.create_room(RoomKind::Direct, "dm", &[]).await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(alice.create_room(RoomKind::Group, "g", &["nobody"]).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(alice.open_direct("alice").await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(alice.open_direct("ghost").await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(alice.set_receipt(room.id, None, Some(-1)).await),
        Some(ErrorCode::BadRequest)
    );

    let failed = alice.history_after(room.id, 0, 100).await.unwrap();
    assert_eq!(
        failed.events.len(),
        2,
        "nothing was stored by the refused requests"
    );
}

#[tokio::test]
async fn an_oversize_frame_closes_the_connection_and_spares_everyone_else() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let max = alice.welcome().limits.max_frame_bytes;
    alice
        .send_raw(format!(
            r#"{{"type":"ping","request_id":1,"pad":"{}"}}"#,
            "x".repeat(max)
        ))
        .unwrap();
    assert_eq!(wait_closed(&mut alice).await, Some(close_code::TOO_BIG));
    bob.ping().await.unwrap();
}

#[tokio::test]
async fn a_binary_frame_closes_the_connection_with_unsupported_data() {
    let server = TestServer::start().await;
    let mut alice = server.register("alice").await;
    alice.send_binary(vec![1, 2, 3]).unwrap();
    assert_eq!(
        wait_closed(&mut alice).await,
        Some(close_code::UNSUPPORTED_DATA)
    );
}

#[tokio::test]
async fn too_many_requests_are_refused_and_the_connection_recovers() {
    let config = chat_server::Config {
        requests_per_second: 5,
        request_burst: 5,
        ..test_config()
    };
    let server = TestServer::start_with(config).await;
    let alice = server.register("alice").await;
    let results = futures_util::future::join_all((0..20).map(|_| alice.ping())).await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == Some(ErrorCode::RateLimited)))
        .count();
    assert!(
        limited >= 10,
        "most of a burst of 20 over a bucket of 5 is refused ({limited})"
    );
    assert!(
        results.iter().take(5).all(|r| r.is_ok()),
        "the burst itself is served"
    );
    let hints: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter_map(|e| e.retry_after())
        .collect();
    assert_eq!(hints.len(), limited, "every refusal says when to retry");
    assert!(
        hints
            .iter()
            .all(|h| *h <= std::time::Duration::from_millis(200)),
        "a token comes every 200 ms at 5 a second: {hints:?}"
    );
}

#[tokio::test]
async fn bad_handshakes_are_refused() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);
    let password = |username: &str, password: &str| Auth::Password {
        username: username.into(),
        password: password.into(),
    };
    let register = |username: &str, password: &str| Auth::Register {
        username: username.into(),
        password: password.into(),
    };
    assert_eq!(
        refusal(&server, password("alice", "wrong password")).await,
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        refusal(&server, password("nobody", PASSWORD)).await,
        Some(ErrorCode::Unauthorized)
    );
    let forged = Auth::Token {
        token: "chat_0000".into(),
    };
    assert_eq!(
        refusal(&server, forged).await,
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        refusal(&server, register("ALICE", PASSWORD)).await,
        Some(ErrorCode::Conflict),
        "usernames ignore case"
    );
    assert_eq!(
        refusal(&server, register("carol", "short")).await,
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        refusal(&server, register("bad name", PASSWORD)).await,
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        refusal(&server, register("carol", &"p".repeat(1025))).await,
        Some(ErrorCode::BadRequest),
        "an over-long password is as invalid as a short one"
    );

    let closed = TestServer::start_with(chat_server::Config {
        allow_registration: false,
        ..test_config()
    })
    .await;
    assert_eq!(
        refusal(&closed, register("dave", PASSWORD)).await,
        Some(ErrorCode::Forbidden)
    );
}

#[tokio::test]
async fn a_connection_that_never_says_hello_is_closed_after_the_handshake_timeout() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let config = chat_server::Config {
        handshake_timeout_ms: 200,
        ..test_config()
    };
    let server = TestServer::start_with(config).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&server.url).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(frame) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("closed in time");
    assert_eq!(closed, Some(close_code::POLICY_VIOLATION));
}
