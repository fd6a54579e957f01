//! Files: upload over HTTP, attach to messages, download as a member (with Range), refusals,
//! deduplication, collection after the last message sharing a file is deleted, has:file.

use crate::admin_cli::admin;
use crate::http_client::{call, request};
use crate::support::code;
use crate::support::{alice_and_bob, test_config, token_of, TestServer, WAIT};
use chat_protocol::client::{Client, ClientError};
use chat_protocol::ErrorCode;
use chat_protocol::{SendMessage, ServerFrame};
use serde_json::{json, Value};

/// The first bytes of a PNG of `width` × `height`: signature and IHDR, all a reader of sizes
/// needs.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

async fn upload(server: &TestServer, token: &str, name: &str, body: &[u8]) -> Value {
    let auth = format!("Bearer {token}");
    let path = format!("/api/v1/files?name={name}");
    let r = request(
        &server.url,
        "POST",
        &path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/pdf"),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn download(
    server: &TestServer,
    token: &str,
    id: &Value,
    range: Option<&str>,
) -> crate::http_client::HttpResponse {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(range) = range {
        headers.push(("Range", range));
    }
    request(
        &server.url,
        "GET",
        &format!("/api/v1/files/{id}"),
        &headers,
        b"",
    )
    .await
}

async fn send_with(
    client: &Client,
    room: i64,
    cid: &str,
    text: &str,
    files: &[i64],
) -> Result<ServerFrame, ClientError> {
    let frame = chat_protocol::ClientFrame::SendMessage(SendMessage {
        request_id: 0,
        room_id: room,
        client_id: cid.into(),
        text: text.into(),
        reply_to: None,
        action: false,
        attachments: files.to_vec(),
    });
    client.request(frame).await
}

fn stored_blobs(server: &TestServer) -> usize {
    let dir = server.db.with_file_name("chat.sqlite.files");
    let Ok(shards) = std::fs::read_dir(dir) else {
        return 0;
    };
    shards
        .flatten()
        .filter(|s| s.file_name() != "tmp")
        .map(|s| std::fs::read_dir(s.path()).map_or(0, |d| d.count()))
        .sum()
}

#[tokio::test]
async fn a_shared_file_is_downloaded_by_members_only() {
    let server = TestServer::start().await;
    let (alice, mut bob, room) = alice_and_bob(&server).await;
    let carol = server.register("carol").await;
    let (alice_token, bob_token) = (token_of(&alice), token_of(&bob));
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let file = upload(&server, &alice_token, "q3%20report.pdf", &content).await;
    assert_eq!(file["name"], "q3 report.pdf");
    assert_eq!(file["size"], 100_000);
    assert_eq!(file["media_type"], "application/pdf");
    let id = file["id"].clone();
    // Before it is shared: the uploader only.
    assert_eq!(download(&server, &alice_token, &id, None).await.status, 200);
    assert_eq!(download(&server, &bob_token, &id, None).await.status, 404);

    let sent = send_with(&alice, room, "f1", "", &[id.as_i64().unwrap()]).await;
    assert!(matches!(sent, Ok(ServerFrame::MessageSent(_))), "{sent:?}");
    let event = crate::support::wait_for(&mut bob, |f| match f {
        ServerFrame::Event(e) if matches!(e.content, chat_protocol::EventContent::Message(_)) => {
            Some(e)
        }
        _ => None,
    })
    .await;
    let event = serde_json::to_value(&event).unwrap();
    assert_eq!(
        event["content"]["attachments"][0]["name"], "q3 report.pdf",
        "{event}"
    );

    let got = download(&server, &bob_token, &id, None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, content);
    assert_eq!(got.headers["content-type"], "application/pdf");
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(got.headers["content-disposition"].contains("q3%20report.pdf"));
    let part = download(&server, &bob_token, &id, Some("bytes=10-19")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, content[10..20]);
    assert_eq!(part.headers["content-range"], "bytes 10-19/100000");
    let tail = download(&server, &bob_token, &id, Some("bytes=-5")).await;
    assert_eq!(tail.body, content[99_995..]);
    let malformed = download(&server, &bob_token, &id, Some("bytes=abc")).await;
    assert_eq!(
        malformed.status, 200,
        "a malformed range is ignored (RFC 9110)"
    );
    assert_eq!(malformed.body.len(), content.len());
    let outside = download(&server, &bob_token, &id, Some("bytes=100000-")).await;
    assert_eq!(outside.status, 416);
    assert_eq!(outside.headers["content-range"], "bytes */100000");

    // Not a member: as if there were no such file. No token: 401.
    assert_eq!(
        download(&server, &token_of(&carol), &id, None).await.status,
        404
    );
    let anonymous = request(&server.url, "GET", &format!("/api/v1/files/{id}"), &[], b"").await;
    assert_eq!(anonymous.status, 401);
    // bob leaves: no more downloads for him.
    bob.leave_room(room).await.unwrap();
    assert_eq!(download(&server, &bob_token, &id, None).await.status, 404);
}

#[tokio::test]
async fn uploads_are_checked_and_stored_once() {
    let server = TestServer::start_with(chat_server::Config {
        max_upload_bytes: 1000,
        ..test_config()
    })
    .await;
    let (alice, bob, room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let auth = format!("Bearer {token}");
    let image = upload(&server, &token, "cat.png", &png(640, 480)).await;
    assert_eq!(
        (
            image["media_type"].clone(),
            image["width"].clone(),
            image["height"].clone()
        ),
        (json!("image/png"), json!(640), json!(480)),
        "found in the file, whatever the upload said"
    );
    let again = upload(&server, &token, "same-cat.png", &png(640, 480)).await;
    assert_ne!(again["id"], image["id"]);
    assert_eq!(stored_blobs(&server), 1, "the same bytes are stored once");

    let big = request(
        &server.url,
        "POST",
        "/api/v1/files?name=big.bin",
        &[("Authorization", &auth)],
        &[0u8; 1001],
    )
    .await;
    assert_eq!(big.status, 413, "{}", big.text());
    let unnamed = request(
        &server.url,
        "POST",
        "/api/v1/files",
        &[("Authorization", &auth)],
        b"x",
    )
    .await;
    assert_eq!(unnamed.status, 400);
    let anonymous = request(&server.url, "POST", "/api/v1/files?name=a", &[], b"x").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        stored_blobs(&server),
        1,
        "refused uploads leave nothing behind"
    );

    // Only one's own uploads can be attached, each once, ten at most.
    let id = image["id"].as_i64().unwrap();
    let bobs = send_with(&bob, room, "b1", "mine?", &[id]).await;
    assert_eq!(code(bobs), Some(ErrorCode::NotFound));
    let twice = send_with(&alice, room, "a1", "x", &[id, id]).await;
    assert_eq!(code(twice), Some(ErrorCode::BadRequest));
    let many = send_with(&alice, room, "a2", "x", &[id; 11]).await;
    assert_eq!(code(many), Some(ErrorCode::TooLarge));
    let blank = send_with(&alice, room, "a3", " ", &[]).await;
    assert_eq!(
        code(blank),
        Some(ErrorCode::BadRequest),
        "text is needed without files"
    );
}

#[tokio::test]
async fn deleting_the_last_message_sharing_a_file_lets_gc_remove_it() {
    let server = TestServer::start().await;
    let (alice, bob, room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let kept = upload(&server, &token, "kept.txt", b"kept").await;
    let gone = upload(&server, &token, "gone.txt", b"gone").await;
    let unsent = upload(&server, &token, "unsent.txt", b"never sent").await;
    let kept_id = kept["id"].as_i64().unwrap();
    send_with(&alice, room, "k", "kept", &[kept_id])
        .await
        .unwrap();
    let gone_id = gone["id"].as_i64().unwrap();
    let Ok(ServerFrame::MessageSent(sent)) = send_with(&alice, room, "g", "gone", &[gone_id]).await
    else {
        panic!("sent")
    };
    alice.delete_message(room, sent.message_id).await.unwrap();
    assert_eq!(
        download(&server, &token_of(&bob), &gone["id"], None)
            .await
            .status,
        404
    );
    // Deleted messages carry no attachments in history.
    let page = alice.history_after(room, 0, 100).await.unwrap();
    let text = serde_json::to_string(&page).unwrap();
    assert!(!text.contains("gone.txt"), "{text}");
    assert_eq!(stored_blobs(&server), 3);

    let out = admin(&server, &["files", "gc"], "");
    assert!(
        out.contains("0 stored file(s) removed"),
        "young files are kept: {out}"
    );
    let out = admin(&server, &["files", "gc", "--unshared-hours", "0"], "");
    assert!(out.contains("2 stored file(s) removed"), "{out}");
    assert_eq!(stored_blobs(&server), 1);
    let got = download(&server, &token_of(&bob), &kept["id"], None).await;
    assert_eq!(got.body, b"kept");
    let _ = unsent;
}

#[tokio::test]
async fn has_file_finds_messages_with_files_and_names_are_searched() {
    let server = TestServer::start().await;
    let (alice, _bob, room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let file = upload(&server, &token, "budget-2027.xlsx", b"numbers").await;
    let file_id = file["id"].as_i64().unwrap();
    send_with(&alice, room, "f", "the budget", &[file_id])
        .await
        .unwrap();
    alice
        .send_message(room, "t", "budget talk, no file")
        .await
        .unwrap();
    let search = |q: &'static str| {
        let token = token.clone();
        let url = server.url.clone();
        async move {
            tokio::time::timeout(WAIT, async {
                loop {
                    let r = call(&url, "GET", &format!("/api/v1/search?q={q}"), &token, None).await;
                    let page = r.json();
                    if page["pending"].as_u64() == Some(0) || page.get("pending").is_none() {
                        return page;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            })
            .await
            .expect("indexed")
        }
    };
    let with_file = search("budget%20has:file").await;
    assert_eq!(
        with_file["hits"].as_array().unwrap().len(),
        1,
        "{with_file}"
    );
    let only_files = search("has:file").await;
    assert_eq!(
        only_files["hits"].as_array().unwrap().len(),
        1,
        "{only_files}"
    );
    let by_name = search("xlsx").await;
    assert_eq!(by_name["hits"].as_array().unwrap().len(), 1, "{by_name}");
    let both = search("budget").await;
    assert_eq!(both["hits"].as_array().unwrap().len(), 2, "{both}");
}

#[tokio::test]
async fn one_user_has_a_few_uploads_under_way_at_most() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let (alice, _bob, _room) = alice_and_bob(&server).await;
    let token = token_of(&alice);
    let addr = crate::http_client::addr_of(&server.url);
    // An upload that sends a little and then waits: it holds a temporary file.
    let start_slow_upload = |i: usize| {
        let (addr, token) = (addr.clone(), token.clone());
        async move {
            let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /api/v1/files?name=slow{i}.bin HTTP/1.1\r\nHost: x\r\n\
                 Authorization: Bearer {token}\r\nContent-Length: 100000\r\n\r\n"
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&[1u8; 1000]).await.unwrap();
            socket
        }
    };
    let mut held = Vec::new();
    for i in 0..4 {
        held.push(start_slow_upload(i).await);
    }
    let fifth = tokio::time::timeout(WAIT, async {
        loop {
            // The server takes the slow uploads' heads in any order, so a probe may have come
            // first and taken a slot, and a slow one was answered 429 instead: start it again.
            for (i, socket) in held.iter_mut().enumerate() {
                let mut answer = [0u8; 64];
                if socket.try_read(&mut answer).is_ok() {
                    *socket = start_slow_upload(i).await;
                }
            }
            let auth = format!("Bearer {token}");
            let r = request(
                &server.url,
                "POST",
                "/api/v1/files?name=fifth.txt",
                &[("Authorization", &auth)],
                b"five",
            )
            .await;
            if r.status == 429 {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the fifth upload at once is refused");
    assert!(fifth.json()["message"]
        .as_str()
        .unwrap()
        .contains("uploads at once"));
    assert!(fifth.headers.contains_key("retry-after"));
    // One ends (its client goes away): another may start.
    drop(held.pop());
    tokio::time::timeout(WAIT, async {
        loop {
            let auth = format!("Bearer {token}");
            let r = request(
                &server.url,
                "POST",
                "/api/v1/files?name=later.txt",
                &[("Authorization", &auth)],
                b"later",
            )
            .await;
            if r.status == 201 {
                return;
            }
            assert_eq!(r.status, 429, "{}", r.text());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a slot comes free when an upload ends");
}

#[tokio::test]
async fn a_reply_to_a_file_without_words_quotes_the_file_name() {
    let server = TestServer::start().await;
    let (alice, bob, room) = alice_and_bob(&server).await;
    let file = upload(&server, &token_of(&alice), "cat.png", &png(640, 480)).await;
    let sent = send_with(&alice, room, "photo", "", &[file["id"].as_i64().unwrap()]).await;
    let Ok(ServerFrame::MessageSent(sent)) = sent else {
        panic!("{sent:?}");
    };
    let reply = chat_protocol::ClientFrame::SendMessage(SendMessage {
        request_id: 0,
        room_id: room,
        client_id: "re".into(),
        text: "so fluffy".into(),
        reply_to: Some(sent.message_id),
        action: false,
        attachments: vec![],
    });
    let replied = bob.request(reply).await;
    assert!(
        matches!(replied, Ok(ServerFrame::MessageSent(_))),
        "{replied:?}"
    );
    let history = alice.history_after(room, 0, 100).await.unwrap();
    let quote = history
        .events
        .iter()
        .find_map(|e| match &e.content {
            chat_protocol::EventContent::Message(m) => m.reply_to.clone(),
            _ => None,
        })
        .expect("the reply");
    assert_eq!(quote.excerpt, "📎 cat.png");
}
