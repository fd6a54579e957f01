//! Ending connections by the rules of RFC 6455: a client's Close is answered, violations get
//! their own close codes, and the handshake has one deadline with an error frame before the
//! close.

use crate::raw;
use crate::support::*;
use chat_protocol::close_code;
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

fn goodbye() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
}

fn close_code_of(ending: &raw::Ending) -> Option<u16> {
    ending.close.as_ref().map(|(code, _)| *code)
}

#[tokio::test]
async fn a_clients_close_is_answered_in_a_session_and_before_hello() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);

    let mut ws = raw::connect(&server.url, None).await;
    raw::login(&mut ws, "alice").await;
    ws.send(goodbye()).await.unwrap();
    let ending = raw::read_to_end(&mut ws).await;
    assert_eq!(
        close_code_of(&ending),
        Some(close_code::NORMAL),
        "a clean logout is answered, not seen as 1006"
    );

    let mut ws = raw::connect(&server.url, None).await;
    ws.send(goodbye()).await.unwrap();
    let ending = raw::read_to_end(&mut ws).await;
    assert_eq!(close_code_of(&ending), Some(close_code::NORMAL));
}

#[tokio::test]
async fn framing_violations_close_with_1002_and_bad_utf8_with_1007() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);

    for in_session in [true, false] {
        let mut ws = raw::connect(&server.url, None).await;
        if in_session {
            raw::login(&mut ws, "alice").await;
        }
        ws.send(raw::frame_with_reserved_bit()).await.unwrap();
        let ending = raw::read_to_end(&mut ws).await;
        assert_eq!(
            close_code_of(&ending),
            Some(close_code::PROTOCOL_ERROR),
            "in session: {in_session}"
        );

        let mut ws = raw::connect(&server.url, None).await;
        if in_session {
            raw::login(&mut ws, "alice").await;
        }
        ws.send(raw::text_frame_bytes(
            b"{\"type\":\"ping\",\"x\":\"\xff\xfe\"}",
        ))
        .await
        .unwrap();
        let ending = raw::read_to_end(&mut ws).await;
        assert_eq!(
            close_code_of(&ending),
            Some(close_code::INVALID_DATA),
            "in session: {in_session}"
        );
    }
}

#[tokio::test]
async fn an_oversize_first_frame_closes_with_1009() {
    let server = TestServer::start().await;
    let mut ws = raw::connect(&server.url, None).await;
    let pad = "x".repeat(server.config.max_frame_bytes);
    let hello = format!(r#"{{"type":"hello","protocol":1,"pad":"{pad}"}}"#);
    ws.send(Message::text(hello)).await.unwrap();
    let ending = raw::read_to_end(&mut ws).await;
    assert_eq!(close_code_of(&ending), Some(close_code::TOO_BIG));
}

#[tokio::test]
async fn no_hello_in_time_gets_an_error_frame_then_1008() {
    let server = TestServer::start_with(chat_server::Config {
        handshake_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let mut ws = raw::connect(&server.url, None).await;
    let ending = raw::read_to_end(&mut ws).await;
    assert_eq!(close_code_of(&ending), Some(close_code::POLICY_VIOLATION));
    assert_eq!(ending.texts.len(), 1, "one error frame before the close");
    let error: serde_json::Value = serde_json::from_str(&ending.texts[0]).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "bad_request");
    assert!(
        error["message"].as_str().unwrap().contains("no hello"),
        "{error}"
    );
}

#[tokio::test]
async fn one_deadline_covers_the_upgrade_and_the_hello() {
    let timeout_ms = 600;
    let server = TestServer::start_with(chat_server::Config {
        handshake_timeout_ms: timeout_ms,
        ..test_config()
    })
    .await;
    drop(server.register("alice").await);
    // Each step takes two thirds of the deadline: each alone would fit, both do not.
    let step = Duration::from_millis(timeout_ms * 2 / 3);
    let addr = server.url.trim_start_matches("ws://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(step).await;
    let (mut ws, _) = tokio_tungstenite::client_async(&server.url, stream)
        .await
        .unwrap();
    tokio::time::sleep(step).await;
    let hello = format!(
        r#"{{"type":"hello","protocol":1,"auth":{{"method":"password","username":"alice","password":"{PASSWORD}"}}}}"#
    );
    let _ = ws.send(Message::text(hello)).await;
    let ending = raw::read_to_end(&mut ws).await;
    assert!(
        !ending
            .texts
            .iter()
            .any(|t| t.contains(r#""type":"welcome""#)),
        "a handshake over the deadline is not welcomed"
    );
    assert_eq!(close_code_of(&ending), Some(close_code::POLICY_VIOLATION));
}

#[tokio::test]
async fn a_hello_after_login_is_refused_with_its_own_request_id() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);
    let mut ws = raw::connect(&server.url, None).await;
    raw::login(&mut ws, "alice").await;
    let again =
        r#"{"type":"hello","protocol":1,"request_id":5,"auth":{"method":"token","token":"x"}}"#;
    ws.send(Message::text(again)).await.unwrap();
    let answer: serde_json::Value =
        serde_json::from_str(&raw::next_text(&mut ws).await.unwrap()).unwrap();
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["request_id"], 5);
}

/// Send `first`, then ten pings at once without reading, and see how the connection ends.
async fn refused_with_more_in_flight(
    server: &TestServer,
    login: bool,
    first: Message,
) -> raw::Ending {
    let mut ws = raw::connect(&server.url, None).await;
    if login {
        raw::login(&mut ws, "alice").await;
    }
    ws.feed(first).await.unwrap();
    for n in 0..10 {
        let _ = ws
            .feed(Message::text(format!(
                r#"{{"type":"ping","request_id":{n}}}"#
            )))
            .await;
    }
    let _ = ws.flush().await;
    raw::read_to_end(&mut ws).await
}

#[tokio::test]
async fn the_close_code_survives_frames_the_client_sent_after_the_refused_one() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);
    let oversize = || Message::text("x".repeat(server.config.max_frame_bytes + 10));
    for round in 0..5 {
        for (login, first, code) in [
            (true, oversize(), close_code::TOO_BIG),
            (
                true,
                Message::binary(vec![1, 2, 3]),
                close_code::UNSUPPORTED_DATA,
            ),
            (
                true,
                raw::text_frame_bytes(b"\"\xff\""),
                close_code::INVALID_DATA,
            ),
            (
                false,
                Message::text("garbage"),
                close_code::POLICY_VIOLATION,
            ),
            (false, oversize(), close_code::TOO_BIG),
        ] {
            let ending = refused_with_more_in_flight(&server, login, first).await;
            assert_eq!(
                close_code_of(&ending),
                Some(code),
                "round {round}, login {login}"
            );
            if !login {
                assert!(
                    ending
                        .texts
                        .first()
                        .is_some_and(|t| t.contains(r#""type":"error""#)),
                    "a failed handshake gets its error frame: {:?}",
                    ending.texts
                );
            }
        }
    }
}

#[tokio::test]
async fn a_binary_or_oversize_first_frame_gets_an_error_frame_before_its_close() {
    let server = TestServer::start().await;
    for (first, code, error) in [
        (
            Message::binary(vec![0u8; 4]),
            close_code::UNSUPPORTED_DATA,
            "bad_request",
        ),
        (
            Message::text("y".repeat(server.config.max_frame_bytes + 1)),
            close_code::TOO_BIG,
            "too_large",
        ),
        (
            raw::text_frame_bytes(b"\xc3\x28"),
            close_code::INVALID_DATA,
            "bad_request",
        ),
    ] {
        let mut ws = raw::connect(&server.url, None).await;
        ws.send(first).await.unwrap();
        let ending = raw::read_to_end(&mut ws).await;
        assert_eq!(close_code_of(&ending), Some(code));
        let frame: serde_json::Value = serde_json::from_str(&ending.texts[0]).unwrap();
        assert_eq!(
            (frame["type"].as_str(), frame["code"].as_str()),
            (Some("error"), Some(error))
        );
    }
}
