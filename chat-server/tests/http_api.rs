//! The HTTP side of the server's port: health checks, metrics, the API with bearer tokens,
//! its refusals, idempotent sends shared with the WebSocket, and long-polls.

use crate::http_client::{addr_of, call, parse, request, HttpResponse};
use crate::support::{
    alice_and_bob, next_message, test_config, token_of, TestServer, PASSWORD, WAIT,
};
use serde_json::json;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    let (alice, _bob, room) = alice_and_bob(&server).await;
    alice.send_message(room, "c1", "hello").await.unwrap();

    let health = request(&server.url, "GET", "/healthz", &[], b"").await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let ready = request(&server.url, "GET", "/readyz", &[], b"").await;
    assert_eq!(
        (ready.status, ready.json()["status"].clone()),
        (200, json!("ready"))
    );

    let metrics = request(&server.url, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers["content-type"].starts_with("application/openmetrics-text"));
    let text = metrics.text();
    for line in [
        "chat_sessions 2",
        "chat_events_committed_total ",
        "chat_commit_batch_jobs_count ",
        "chat_commit_seconds_bucket",
        "chat_frames_received_total ",
        "chat_frames_sent_total ",
        "chat_outbound_queued_bytes ",
        "chat_indexer_lag_messages ",
        "chat_search_seconds_count 0",
        "chat_http_requests_total{status=\"200\"}",
        "# EOF",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let posted = request(&server.url, "POST", "/healthz", &[], b"").await;
    assert_eq!(posted.status, 405);
    assert_eq!(posted.headers["allow"], "GET, HEAD", "HEAD is answered too");
}

#[tokio::test]
async fn a_plain_request_for_the_websocket_is_told_what_the_port_is() {
    let server = TestServer::start().await;
    let root = request(&server.url, "GET", "/", &[], b"").await;
    assert_eq!(root.status, 426);
    assert!(root.text().contains("WebSocket"), "{}", root.text());
    let unknown = request(&server.url, "GET", "/nowhere", &[], b"").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], "not_found");
    // An upgrade that is not one: a clear 400, not a hang.
    let broken = request(
        &server.url,
        "GET",
        "/",
        &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
        b"",
    )
    .await;
    assert_eq!(broken.status, 426, "no Sec-WebSocket-Version");
    assert_eq!(broken.headers["sec-websocket-version"], "13");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let none = request(&server.url, "GET", "/api/v1/rooms", &[], b"").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    assert_eq!(none.json()["code"], "unauthorized");
    let wrong = call(&server.url, "GET", "/api/v1/rooms", "chat_0000", None).await;
    assert_eq!(wrong.status, 401);
    let basic = request(
        &server.url,
        "GET",
        "/api/v1/rooms",
        &[("Authorization", "Basic YWxpY2U6cGFzcw==")],
        b"",
    )
    .await;
    assert_eq!(basic.status, 401);

    let token = token_of(&alice);
    let listed = call(&server.url, "GET", "/api/v1/rooms", &token, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["type"], "rooms");
    alice.logout().await.unwrap();
    let revoked = call(&server.url, "GET", "/api/v1/rooms", &token, None).await;
    assert_eq!(revoked.status, 401);
}

#[tokio::test]
async fn login_over_http_gives_a_token_and_is_throttled_like_hello() {
    let server = TestServer::start().await;
    drop(server.register("alice").await);
    let body = json!({"username": "alice", "password": PASSWORD, "client": "curl bot"});
    let login = request(
        &server.url,
        "POST",
        "/api/v1/login",
        &[],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["token"].as_str().unwrap().to_string();
    assert_eq!(login.json()["user"]["username"], "alice");
    let listed = call(&server.url, "GET", "/api/v1/rooms", &token, None).await;
    assert_eq!(listed.status, 200);

    let wrong = json!({"username": "alice", "password": "not it"}).to_string();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = request(&server.url, "POST", "/api/v1/login", &[], wrong.as_bytes()).await;
        if r.status == 429 {
            assert!(r.headers.contains_key("retry-after"));
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], 401);
    assert!(
        statuses.contains(&429),
        "guessing is throttled: {statuses:?}"
    );
    let empty = request(&server.url, "POST", "/api/v1/login", &[], b"{}").await;
    assert_eq!(empty.status, 400);
}

#[tokio::test]
async fn an_idempotent_send_is_stored_once_over_http_and_websocket_together() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let path = format!("/api/v1/rooms/{room}/messages");
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Idempotency-Key", "retry-me-1"),
    ];
    let body = json!({"text": "deploy done ✅"}).to_string();
    let first = request(&server.url, "POST", &path, &headers, body.as_bytes()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let sent = first.json();
    assert_eq!(sent["type"], "message_sent");
    assert_eq!(sent["client_id"], "retry-me-1");
    let again = request(&server.url, "POST", &path, &headers, body.as_bytes()).await;
    assert_eq!(
        again.json()["seq"],
        sent["seq"],
        "a retry is the same message"
    );
    // The WebSocket path with the same client id: still the same message.
    let ws = alice
        .send_message(room, "retry-me-1", "deploy done ✅")
        .await
        .unwrap();
    assert_eq!(json!(ws.seq), sent["seq"]);
    let (_, sender, text) = next_message(&mut bob).await;
    assert_eq!(
        (sender.as_str(), text.as_str()),
        ("alice", "deploy done ✅")
    );
    let history = alice.history_after(room, 0, 100).await.unwrap();
    let messages = history
        .events
        .iter()
        .filter(|e| matches!(e.content, chat_protocol::EventContent::Message(_)))
        .count();
    assert_eq!(messages, 1, "stored once");

    // A key with a control character in it (a TAB) is refused, not stored as a client id.
    let tabbed = [
        ("Authorization", auth.as_str()),
        ("Idempotency-Key", "retry\tme"),
    ];
    let refused = request(&server.url, "POST", &path, &tabbed, body.as_bytes()).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("printable ASCII"),
        "{}",
        refused.text()
    );

    // Without a key, each post is its own message.
    let plain = json!({"text": "two"});
    let mut seqs = Vec::new();
    for _ in 0..2 {
        let sent = call(&server.url, "POST", &path, &token, Some(&plain)).await;
        seqs.push(sent.json()["seq"].clone());
    }
    assert_ne!(seqs[0], seqs[1]);
}

#[tokio::test]
async fn api_refusals_have_the_protocols_codes_as_statuses() {
    let server = TestServer::start_with(chat_server::Config {
        max_frame_bytes: 4096,
        max_message_chars: 1000,
        ..test_config()
    })
    .await;
    let (alice, bob, room) = alice_and_bob(&server).await;
    let carol = server.register("carol").await;
    let token = token_of(&alice);
    let url = &server.url;
    let post = |path: String, body: serde_json::Value| {
        let token = token.clone();
        async move { call(url, "POST", &path, &token, Some(&body)).await }
    };
    let messages = format!("/api/v1/rooms/{room}/messages");
    let empty = post(messages.clone(), json!({"text": "  "})).await;
    assert_eq!(
        (empty.status, empty.json()["code"].clone()),
        (400, json!("bad_request"))
    );
    let long = post(messages.clone(), json!({"text": "x".repeat(1001)})).await;
    assert_eq!(long.status, 413);
    let huge = post(messages.clone(), json!({"text": "x".repeat(5000)})).await;
    assert_eq!(huge.status, 413, "over the body limit");
    let not_json = request(
        url,
        "POST",
        &messages,
        &[("Authorization", &format!("Bearer {token}"))],
        b"text=hi",
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.json()["message"]
        .as_str()
        .unwrap()
        .contains("JSON"));
    let bad_room = post("/api/v1/rooms/seven/messages".into(), json!({"text": "hi"})).await;
    assert_eq!(bad_room.status, 400);
    let unknown = post(
        "/api/v1/rooms/999999/messages".into(),
        json!({"text": "hi"}),
    )
    .await;
    assert!(
        [403, 404].contains(&unknown.status),
        "{}: {}",
        unknown.status,
        unknown.text()
    );
    let wrong_method = call(url, "DELETE", &messages, &token, None).await;
    assert_eq!(wrong_method.status, 405);
    // carol is not in the room: she reads nothing of it.
    let carol_token = token_of(&carol);
    let peek = call(
        url,
        "GET",
        &format!("/api/v1/rooms/{room}/events?after=0"),
        &carol_token,
        None,
    )
    .await;
    assert!([403, 404].contains(&peek.status), "{}", peek.text());
    // A key the WebSocket used already: its original acknowledgement, nothing stored.
    let first = bob.send_message(room, "b1", "first").await.unwrap();
    let bob_token = token_of(&bob);
    let retried = request(
        url,
        "POST",
        &messages,
        &[
            ("Authorization", &format!("Bearer {bob_token}")),
            ("Idempotency-Key", "b1"),
        ],
        json!({"text": "different"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.json()["seq"], first.seq);
}

#[tokio::test]
async fn http_requests_are_rate_limited_per_token_with_retry_after() {
    let server = TestServer::start_with(chat_server::Config {
        requests_per_second: 1,
        request_burst: 3,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let token = token_of(&alice);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let r = call(&server.url, "GET", "/api/v1/rooms", &token, None).await;
        if r.status == 429 {
            retry_after = r.headers.get("retry-after").cloned();
            assert_eq!(r.json()["code"], "rate_limited");
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    let metrics = request(&server.url, "GET", "/metrics", &[], b"").await;
    assert!(metrics.text().contains("chat_rate_limited_total 2"));
}

#[tokio::test]
async fn a_long_poll_is_woken_by_a_websocket_send() {
    let server = TestServer::start().await;
    let (alice, bob, room) = alice_and_bob(&server).await;
    let last = alice.send_message(room, "a1", "before").await.unwrap().seq;
    let token = token_of(&bob);
    let url = server.url.clone();
    // wait=30 is longer than the test's patience: an answer means it was woken.
    let poll = tokio::spawn(async move {
        let path = format!("/api/v1/rooms/{room}/events?after={last}&wait=30");
        call(&url, "GET", &path, &token, None).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    alice.send_message(room, "a2", "wake up 🔔").await.unwrap();
    let answered = tokio::time::timeout(WAIT, poll)
        .await
        .expect("the long-poll returns once the event is committed")
        .unwrap();
    assert_eq!(answered.status, 200);
    let page = answered.json();
    assert_eq!(page["type"], "history");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["seq"], last + 1);
    assert!(events[0].to_string().contains("wake up 🔔"), "{page}");

    // Nothing new: an empty page once the wait is over.
    let next = events[0]["seq"].as_i64().unwrap();
    let path = format!("/api/v1/rooms/{room}/events?after={next}&wait=1");
    let empty = call(&server.url, "GET", &path, &token_of(&alice), None).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["events"], json!([]));
    // A long-poll whose token is revoked while it waits gets nothing more.
    let url = server.url.clone();
    let bob_token = token_of(&bob);
    let poll = tokio::spawn(async move {
        let path = format!("/api/v1/rooms/{room}/events?after={next}&wait=30");
        call(&url, "GET", &path, &bob_token, None).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    bob.logout().await.unwrap();
    alice.send_message(room, "a3", "not for bob").await.unwrap();
    let refused = tokio::time::timeout(WAIT, poll).await.unwrap().unwrap();
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(!refused.text().contains("not for bob"));
    // Revoked with nothing sent meanwhile: 401 at once, not after the wait.
    let login = request(
        &server.url,
        "POST",
        "/api/v1/login",
        &[],
        json!({"username": "alice", "password": PASSWORD})
            .to_string()
            .as_bytes(),
    )
    .await;
    let second = login.json()["token"].as_str().unwrap().to_string();
    let (url, token) = (server.url.clone(), second.clone());
    let started = std::time::Instant::now();
    let poll = tokio::spawn(async move {
        // The room's end ("not for bob" is next + 1): it waits.
        let path = format!("/api/v1/rooms/{room}/events?after={}&wait=60", next + 1);
        call(&url, "GET", &path, &token, None).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out = call(
        &server.url,
        "POST",
        "/api/v1/requests",
        &second,
        Some(&json!({"type": "logout"})),
    )
    .await;
    assert_eq!(out.status, 200, "{}", out.text());
    let refused = tokio::time::timeout(WAIT, poll).await.unwrap().unwrap();
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let bad = format!("/api/v1/rooms/{room}/events?after={next}&wait=soon");
    assert_eq!(
        call(&server.url, "GET", &bad, &token_of(&alice), None)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn search_and_any_request_work_over_http() {
    let server = TestServer::start().await;
    let (alice, _bob, room) = alice_and_bob(&server).await;
    alice
        .send_message(room, "s1", "the brown fox")
        .await
        .unwrap();
    let token = token_of(&alice);
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let r = call(
                &server.url,
                "GET",
                "/api/v1/search?q=brown%20fox",
                &token,
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let page = r.json();
            if page["hits"].as_array().is_some_and(|h| !h.is_empty()) {
                return page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("indexed in time");
    assert_eq!(found["hits"][0]["room_id"], room);
    let bad = call(&server.url, "GET", "/api/v1/search?q=%22open", &token, None).await;
    assert_eq!(bad.status, 400);

    // Any request of the protocol: create a room, then read its members.
    let created = call(
        &server.url,
        "POST",
        "/api/v1/requests",
        &token,
        Some(&json!({"type": "create_room", "kind": "channel", "title": "ops"})),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let new_room = created.json()["room"]["id"].as_i64().unwrap();
    let members = call(
        &server.url,
        "POST",
        "/api/v1/requests",
        &token,
        Some(&json!({"type": "list_members", "room_id": new_room})),
    )
    .await;
    assert_eq!(members.json()["members"][0]["user"]["username"], "alice");
    let hello = call(
        &server.url,
        "POST",
        "/api/v1/requests",
        &token,
        Some(&json!({"type": "hello", "protocol": 1})),
    )
    .await;
    assert_eq!(hello.status, 400);
    let unknown = call(
        &server.url,
        "POST",
        "/api/v1/requests",
        &token,
        Some(&json!({"type": "fly"})),
    )
    .await;
    assert_eq!(unknown.status, 400);
}

/// A masked client text frame (RFC 6455 section 5.2), for a client that writes its hello
/// in the same packet as its upgrade request.
fn masked_text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut frame = vec![0x81];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test]
async fn a_hello_pipelined_behind_the_upgrade_request_is_read() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start().await;
    drop(server.register("alice").await);
    let mut stream = tokio::net::TcpStream::connect(addr_of(&server.url))
        .await
        .unwrap();
    let hello = json!({"type": "hello", "protocol": 1,
        "auth": {"method": "password", "username": "alice", "password": PASSWORD}});
    let mut bytes = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".to_vec();
    bytes.extend(masked_text_frame(&hello.to_string()));
    stream.write_all(&bytes).await.unwrap();
    let mut seen = Vec::new();
    let welcomed = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains(r#""type":"welcome""#) {
                return text.into_owned();
            }
        }
    })
    .await
    .expect("welcomed");
    assert!(welcomed.starts_with("HTTP/1.1 101"), "{welcomed}");
    assert!(
        welcomed.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "the RFC's accept key"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_handshake_timeout() {
    let server = TestServer::start_with(chat_server::Config {
        handshake_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(addr_of(&server.url))
        .await
        .unwrap();
    // Says nothing at all; then half a request head.
    let ended = read_response_or_eof(&mut stream).await;
    assert!(
        ended.is_empty() || ended.starts_with(b"HTTP/1.1 408"),
        "{ended:?}"
    );
    let mut slow = tokio::net::TcpStream::connect(addr_of(&server.url))
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let ended = read_response_or_eof(&mut slow).await;
    assert!(
        ended.is_empty() || ended.starts_with(b"HTTP/1.1 408"),
        "{ended:?}"
    );
    // A body that stops coming: 408, and the connection closes.
    let mut trickle = tokio::net::TcpStream::connect(addr_of(&server.url))
        .await
        .unwrap();
    trickle
        .write_all(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let ended = parse(&read_response_or_eof(&mut trickle).await);
    assert_eq!(ended.status, 408, "{}", ended.text());
    assert!(ended.json()["message"]
        .as_str()
        .unwrap()
        .contains("stopped"));
    // So does an upload that stops halfway, and it leaves no file behind.
    let alice = server.register("alice").await;
    let token = token_of(&alice);
    let mut upload = tokio::net::TcpStream::connect(addr_of(&server.url))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/files?name=a.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 100000\r\n\r\n"
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    upload.write_all(&[7u8; 5000]).await.unwrap();
    let ended = parse(&read_response_or_eof(&mut upload).await);
    assert_eq!(ended.status, 408, "{}", ended.text());
    // A complete request still works.
    let health = request(&server.url, "GET", "/healthz", &[], b"").await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn paths_methods_and_parameters_are_checked_with_clear_answers() {
    let server = TestServer::start().await;
    let (alice, _bob, room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let url = &server.url;
    // The method is checked before the token: 405 says which one the path takes.
    let wrong = request(url, "DELETE", "/api/v1/rooms", &[], b"").await;
    assert_eq!(wrong.status, 405, "{}", wrong.text());
    assert_eq!(wrong.headers["allow"], "GET, HEAD");
    // HEAD on a JSON route: the GET's status and headers, no body.
    let head = call(url, "HEAD", "/api/v1/rooms", &token, None).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "{}", head.text());
    assert_eq!(head.headers["content-type"], "application/json");
    // Paths that name nothing are 404, whatever the method.
    for path in ["/api/v1/files/2/x/y", "/api/v1/rooms/7", "/api/v1/nothing"] {
        let missing = call(url, "GET", path, &token, None).await;
        assert_eq!(missing.status, 404, "{path}: {}", missing.text());
    }
    // Query parameters: a bad value and an unknown name are named in the refusal.
    let events = |query: &str| format!("/api/v1/rooms/{room}/events?{query}");
    let message = |r: &HttpResponse| r.json()["message"].as_str().unwrap_or("").to_string();
    let bad = call(url, "GET", &events("after=abc"), &token, None).await;
    assert_eq!(bad.status, 400);
    assert!(
        message(&bad).contains("query parameter after"),
        "{}",
        bad.text()
    );
    let typo = call(url, "GET", &events("aftr=1"), &token, None).await;
    assert_eq!(typo.status, 400);
    assert!(message(&typo).contains("aftr"), "{}", typo.text());
    assert!(message(&typo).contains("after, before, limit, wait"));
    let no_query = call(url, "GET", "/api/v1/search", &token, None).await;
    assert_eq!(no_query.status, 400);
    assert!(message(&no_query).contains("?q="), "{}", no_query.text());
    let bad_limit = call(url, "GET", "/api/v1/search?q=x&limit=many", &token, None).await;
    assert!(
        message(&bad_limit).contains("query parameter limit"),
        "{}",
        bad_limit.text()
    );
    let untyped = call(url, "POST", "/api/v1/requests", &token, Some(&json!({}))).await;
    assert_eq!(untyped.status, 400);
    assert!(message(&untyped).contains("\"type\""), "{}", untyped.text());
    // A long-poll from past the room's end would wait for nothing it can use: told at once.
    alice.send_message(room, "m1", "one").await.unwrap();
    let past = call(url, "GET", &events("after=900&wait=30"), &token, None).await;
    assert_eq!(past.status, 400, "{}", past.text());
    assert!(message(&past).contains("last event"), "{}", past.text());
    let at_end = call(url, "GET", &events("after=0&wait=30"), &token, None).await;
    assert_eq!(at_end.status, 200, "{}", at_end.text());
}

async fn read_response_or_eof(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("closed by the server in time")
        .ok();
    raw
}

/// The `sh` blocks of PROTOCOL.md's HTTP section, in order.
fn protocol_md_curl_examples() -> Vec<String> {
    let doc = include_str!("../../PROTOCOL.md");
    let http = &doc[doc.find("## HTTP API").expect("an HTTP section")..];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in http.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[tokio::test]
async fn the_curl_examples_of_protocol_md_work() {
    let server = TestServer::start().await;
    let (alice, _bob, room) = alice_and_bob(&server).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.pdf"), b"%PDF-1.4 the Q3 report").unwrap();
    let examples = protocol_md_curl_examples();
    assert!(examples.len() >= 7, "found {} examples", examples.len());
    let base = format!("http://{}", addr_of(&server.url));
    for example in examples {
        let script = format!("set -euo pipefail\n{example}");
        let mut command = std::process::Command::new("bash");
        command
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .env("CHAT", &base)
            .env("TOKEN", token_of(&alice))
            .env("ROOM", room.to_string());
        // On another thread: this one runs the server curl is talking to.
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("run bash");
        assert!(
            out.status.success(),
            "PROTOCOL.md example failed ({}):\n{example}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "no output from:\n{example}");
    }
    let copy = std::fs::read(dir.path().join("copy.pdf")).expect("downloaded");
    assert_eq!(copy, b"%PDF-1.4 the Q3 report");
}
