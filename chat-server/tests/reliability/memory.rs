//! Memory under abuse, at the default settings: clients that ask for big history pages and
//! never read, floods of failed logins and of registrations from many addresses, and a
//! thousand idle connections. The server's peak resident memory (VmHWM) must stay under
//! 256 MB, and two real users keep chatting through all of it.

use super::harness::{knob, ServerProcess};
use crate::raw;
use crate::support::{PASSWORD, WAIT};
use chat_protocol::client::Client;
use chat_protocol::{Auth, EventContent, RoomKind, ServerFrame};
use futures_util::stream::{self, StreamExt};
use futures_util::SinkExt;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The bound the issue set for the whole server at the defaults.
const PEAK_BOUND_MB: u64 = 256;

/// Loopback source addresses 127.0.0.2 and up: the floods come from `n` "machines".
fn sources(n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::from([127, 0, 0, 2 + i as u8]))
        .collect()
}

fn register(name: &str) -> Auth {
    Auth::Register {
        username: name.into(),
        password: PASSWORD.into(),
    }
}

/// Send, waiting out the default rate limit (20 a second after a burst of 50) when told to.
async fn send_patiently(client: &Client, room_id: i64, client_id: String, text: &str) {
    loop {
        match client.send_message(room_id, client_id.clone(), text).await {
            Ok(_) => return,
            // (Servers before retry hints said only rate_limited.)
            Err(e) if e.code() == Some(chat_protocol::ErrorCode::RateLimited) => {
                let wait = e.retry_after().unwrap_or(Duration::from_millis(100));
                tokio::time::sleep(wait).await;
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

/// alice says something and bob hears it: chat works for real users right now.
async fn chat_still_works(alice: &Client, bob: &mut Client, room_id: i64, n: usize) {
    let text = format!("still chatting {n}");
    send_patiently(alice, room_id, format!("alive-{n}"), &text).await;
    let heard = tokio::time::timeout(WAIT, async {
        while let Some(frame) = bob.next_event().await {
            if let ServerFrame::Event(e) = frame {
                if matches!(&e.content, EventContent::Message(chat_protocol::ChatMessage { text: t, .. }) if *t == text) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert!(
        matches!(heard, Ok(true)),
        "bob heard alice during the abuse ({n})"
    );
}

/// Run `count` handshakes with `auth(i)`, `parallel` at a time, spread over the sources;
/// returns how many were answered with each error code.
async fn flood(
    url: &str,
    count: usize,
    parallel: usize,
    auth: impl Fn(usize) -> Auth,
) -> std::collections::BTreeMap<String, usize> {
    let from = sources(16);
    let answers: Vec<String> = stream::iter(0..count)
        .map(|i| {
            let auth = auth(i);
            let source = from[i % from.len()];
            async move {
                let mut ws = raw::connect_from(url, source).await;
                let answer = raw::hello(&mut ws, &auth).await;
                let _ = ws.close(None).await;
                match answer {
                    Some(v) if v["type"] == "welcome" => "welcome".to_string(),
                    Some(v) => v["code"].as_str().unwrap_or("?").to_string(),
                    None => "closed".to_string(),
                }
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut tally = std::collections::BTreeMap::new();
    for answer in answers {
        *tally.entry(answer).or_insert(0) += 1;
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_memory_stays_bounded_under_abuse_at_the_defaults() {
    let failed_logins = knob("CHAT_ABUSE_LOGINS", 300);
    let registrations = knob("CHAT_ABUSE_REGISTRATIONS", 160);
    let idle_connections = knob("CHAT_ABUSE_CONNECTIONS", 1000);
    let non_readers = knob("CHAT_ABUSE_NON_READERS", 30);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.sqlite");
    let server = ServerProcess::start(&db, "");
    let url = server.url.clone();
    let started = Instant::now();
    let mut figures = Vec::new();
    let mut mark = |what: &str, server: &ServerProcess| {
        let (peak, now) = (server.status_kb("VmHWM"), server.status_kb("VmRSS"));
        println!("{what}: peak {} MB, now {} MB", peak / 1024, now / 1024);
        figures.push((what.to_string(), peak));
    };

    let alice = Client::connect(&url, register("alice")).await.unwrap();
    let mut bob = Client::connect(&url, register("bob")).await.unwrap();
    let mallory = Client::connect(&url, register("mallory")).await.unwrap();
    let room = alice
        .create_room(RoomKind::Group, "big pages", &["bob", "mallory"])
        .await
        .unwrap();
    let long = "long message ".repeat(300);
    for i in 0..100 {
        send_patiently(&alice, room.id, format!("long-{i}"), &long).await;
    }
    drop(mallory);
    mark("after set-up", &server);

    // 1. Non-readers: each asks for 40 pages of ~400 KB through a 4 KiB window.
    let mut hogs = Vec::new();
    for _ in 0..non_readers {
        let mut ws = raw::connect(&url, Some(4096)).await;
        raw::login(&mut ws, "mallory").await;
        for request_id in 1..=40 {
            let ask = format!(
                r#"{{"type":"get_history","request_id":{request_id},"room_id":{},"limit":100}}"#,
                room.id
            );
            ws.feed(Message::text(ask)).await.unwrap();
        }
        ws.flush().await.unwrap();
        hogs.push(ws);
    }
    chat_still_works(&alice, &mut bob, room.id, 1).await;
    // Evicted within the 2 s close timeout, whatever they do.
    tokio::time::sleep(Duration::from_secs(3)).await;
    mark("after non-readers asked for 40 big pages each", &server);
    drop(hogs);

    // 2. Failed logins for made-up names (each costs a full hash), 8 at a time, 16 addresses.
    let tally = flood(&url, failed_logins, 8, |i| Auth::Password {
        username: format!("ghost{i}"),
        password: "not the password".into(),
    })
    .await;
    println!("{failed_logins} failed logins: {tally:?}");
    chat_still_works(&alice, &mut bob, room.id, 2).await;
    mark("after the failed logins", &server);

    // 3. A registration flood, 8 at a time, from 16 addresses.
    let tally = flood(&url, registrations, 8, |i| register(&format!("spam{i}"))).await;
    println!("{registrations} registrations: {tally:?}");
    chat_still_works(&alice, &mut bob, room.id, 3).await;
    mark("after the registration flood", &server);

    // 4. Idle connections that never say hello, 200 per address (under the cap of 256), plus
    // one address over its cap.
    let from = sources(idle_connections.div_ceil(200));
    let mut idle = Vec::new();
    for i in 0..idle_connections {
        idle.push(raw::connect_from(&url, from[i % from.len()]).await);
    }
    let crowded = IpAddr::from([127, 0, 0, 99]);
    let mut refused = 0;
    for _ in 0..300 {
        let mut ws = raw::connect_from(&url, crowded).await;
        // Over the cap the server answers at once; under it, it waits for a hello.
        if let Ok(Some(Ok(Message::Text(_)))) =
            tokio::time::timeout(Duration::from_millis(20), ws.next()).await
        {
            refused += 1;
        }
        idle.push(ws);
    }
    println!(
        "{} idle connections; {refused} of 300 from one address refused",
        idle.len()
    );
    chat_still_works(&alice, &mut bob, room.id, 4).await;
    mark("with the idle connections open", &server);
    drop(idle);

    let peak_mb = server.status_kb("VmHWM") / 1024;
    println!(
        "memory under abuse: peak {peak_mb} MB (bound {PEAK_BOUND_MB} MB) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        refused >= 40,
        "one address cannot open more than 256 connections"
    );
    assert!(
        peak_mb < PEAK_BOUND_MB,
        "peak resident memory {peak_mb} MB over the bound: {figures:?}"
    );
    server.stop();
}
