//! Slow consumers and network faults, through a proxy: a stalled reader is evicted and its
//! socket released in bounded time; clients whose connections are cut again and again resume
//! by seq and retry by client id, and end with every message exactly once.

use super::harness::knob;
use super::proxy::Proxy;
use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{Auth, EventContent, RoomKind, ServerFrame};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn token_auth(client: &Client) -> Auth {
    Auth::Token {
        token: client.welcome().token.clone().unwrap(),
    }
}

/// Connect until it works (the proxy may be cutting connections).
async fn connect_retrying(url: &str, auth: &Auth) -> Client {
    for _ in 0..500 {
        if let Ok(client) = Client::connect(url, auth.clone()).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("could not connect through the proxy");
}

/// Messages of a room from history after `after`, paged, with a check that seqs come without
/// gaps or repeats: seq → client id.
async fn history_after(
    client: &Client,
    room_id: i64,
    mut after: i64,
) -> Option<BTreeMap<i64, String>> {
    let mut found = BTreeMap::new();
    loop {
        let page = client.history_after(room_id, after, 100).await.ok()?;
        for event in &page.events {
            assert_eq!(
                event.seq,
                after + 1,
                "history pages have no gaps or repeats"
            );
            after = event.seq;
            if let EventContent::Message(chat_protocol::ChatMessage { client_id, .. }) =
                &event.content
            {
                found.insert(event.seq, client_id.clone());
            }
        }
        if !page.more {
            return Some(found);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_evicted_released_in_bounded_time_and_resumes_exactly() {
    let server = TestServer::start_with(chat_server::Config {
        outbound_queue_bytes: 256 * 1024,
        ..test_config()
    })
    .await;
    let mut alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let bob_auth = token_auth(&bob);
    drop(bob);
    let room = alice
        .create_room(RoomKind::Group, "busy", &["bob"])
        .await
        .unwrap();
    let proxy = Proxy::start(&server.url).await;
    let mut bob = Client::connect(&proxy.url, bob_auth.clone()).await.unwrap();
    let base = welcome_room(&bob, room.id).last_seq;

    // The network stalls; alice keeps talking: 6 MB, more than the kernel's socket buffers
    // (up to 4 MB on loopback) and the queue bound of 256 KiB together.
    proxy.stall(true);
    let text = "x".repeat(4000);
    let total = 1500;
    for i in 0..total {
        alice
            .send_message(room.id, format!("m{i}"), text.clone())
            .await
            .unwrap();
    }
    let stalled_at = Instant::now();
    wait_for(&mut alice, |f| match f {
        ServerFrame::Presence(p) if p.user.username == "bob" && !p.online => Some(()),
        _ => None,
    })
    .await;
    let released_after = stalled_at.elapsed();
    proxy.stall(false);

    // What bob's old connection still delivers after the stall: only what sat in buffers.
    let mut live = BTreeMap::new();
    while let Some(frame) = tokio::time::timeout(WAIT, bob.next_event()).await.unwrap() {
        if let ServerFrame::Event(e) = frame {
            if let EventContent::Message(chat_protocol::ChatMessage { client_id, .. }) = e.content {
                live.insert(e.seq, client_id);
            }
        }
    }
    let drained = proxy.drained();
    assert!(
        drained < 1024 * 1024,
        "the evicted queue was dropped: {drained} bytes came after the stall"
    );

    // Resume from the last seq held without a hole, as a client does.
    let mut synced = base;
    while live.contains_key(&(synced + 1)) {
        synced += 1;
    }
    let bob = Client::connect(&proxy.url, bob_auth).await.unwrap();
    let caught_up = history_after(&bob, room.id, synced).await.unwrap();
    let mut all: Vec<String> = live.range(..=synced).map(|(_, c)| c.clone()).collect();
    all.extend(caught_up.into_values());
    let expected: Vec<String> = (0..total).map(|i| format!("m{i}")).collect();
    assert_eq!(all, expected, "every message exactly once, in order");
    println!(
        "stalled reader: evicted and released {:.2} s after the last send; {} messages arrived \
         live, {drained} bytes after the stall; the other {} came from history",
        released_after.as_secs_f64(),
        live.len(),
        total - live.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_again_and_again_lose_nothing_and_double_nothing() {
    let total = knob("CHAT_CUT_MESSAGES", 150);
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = alice.open_direct("bob").await.unwrap();
    let (alice_auth, bob_auth) = (token_auth(&alice), token_auth(&bob));
    let base = room.last_seq;
    drop((alice, bob));

    let proxy = Arc::new(Proxy::start(&server.url).await);
    proxy.delay(Duration::from_millis(2));
    let cutter = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let mut cuts = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(120 + u64::from(cuts % 5) * 40)).await;
                proxy.cut_all();
                cuts += 1;
            }
        })
    };

    // The sender keeps an outbox: one message in flight, retried with its client id after
    // every cut until acknowledged (what chat-tui does).
    let sender = {
        let url = proxy.url.clone();
        tokio::spawn(async move {
            let mut next = 0;
            let mut reconnects = 0;
            while next < total {
                let alice = connect_retrying(&url, &alice_auth).await;
                reconnects += 1;
                while next < total {
                    let cid = format!("c{next}");
                    match alice
                        .send_message(room.id, cid.clone(), format!("text {cid}"))
                        .await
                    {
                        Ok(_) => next += 1,
                        Err(_) => break,
                    }
                }
            }
            reconnects
        })
    };

    // The receiver resumes by seq after every cut and drops what it already has.
    let mut received: BTreeMap<i64, String> = BTreeMap::new();
    let mut synced = base;
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.len() < total {
        assert!(
            Instant::now() < deadline,
            "the receiver got {} of {total}",
            received.len()
        );
        let mut bob = connect_retrying(&proxy.url, &bob_auth).await;
        reconnects += 1;
        let Some(caught_up) = history_after(&bob, room.id, synced).await else {
            continue;
        };
        for (seq, cid) in caught_up {
            received.insert(seq, cid);
        }
        synced = received
            .keys()
            .last()
            .copied()
            .unwrap_or(synced)
            .max(synced);
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(2), bob.next_event()).await;
            let Ok(Some(frame)) = frame else { break };
            if let ServerFrame::Event(e) = frame {
                if e.seq <= synced {
                    continue; // already held
                }
                if e.seq != synced + 1 {
                    break; // a gap: catch up from history on the next round
                }
                synced = e.seq;
                if let EventContent::Message(chat_protocol::ChatMessage { client_id, .. }) =
                    e.content
                {
                    received.insert(e.seq, client_id);
                }
            }
            if received.len() >= total {
                break;
            }
        }
    }
    let sender_reconnects = sender.await.unwrap();
    cutter.abort();
    let got: Vec<String> = received.into_values().collect();
    let expected: Vec<String> = (0..total).map(|i| format!("c{i}")).collect();
    assert_eq!(
        got, expected,
        "every message exactly once, in the order sent"
    );
    println!(
        "cut connections: {total} messages through a proxy cutting every ~200 ms; sender \
         connected {sender_reconnects} times, receiver {reconnects} times; none lost or doubled"
    );
}
