//! SIGKILL under write load, round after round: every acknowledged message is stored exactly
//! once with the seq it was acknowledged with, seqs stay gap-free, the database passes
//! `PRAGMA integrity_check`, and a retry after the restart gets the original acknowledgement.

use super::harness::{knob, ServerProcess};
use chat_protocol::client::Client;
use chat_protocol::{Auth, RoomKind};
use futures_util::stream::{FuturesUnordered, StreamExt};
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONFIG: &str = "requests_per_second = 1000000\nrequest_burst = 1000000\n\
    max_connections_per_address = 100000\nregistrations_per_address_per_hour = 100000\n\
    presence_grace_ms = 50";

/// Sends in flight per writer: the load pipelines, as a busy bot would.
const WINDOW: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    room_id: i64,
    message_id: i64,
    seq: i64,
    ts: i64,
}

impl From<chat_protocol::MessageSent> for Ack {
    fn from(sent: chat_protocol::MessageSent) -> Ack {
        Ack {
            room_id: sent.room_id,
            message_id: sent.message_id,
            seq: sent.seq,
            ts: sent.ts,
        }
    }
}

/// One message a writer tried to send.
#[derive(Debug, Clone)]
struct Attempt {
    writer: usize,
    room_id: i64,
    client_id: String,
}

/// A cheap random number (xorshift), seeded per run: the kill moment varies between rounds.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn connect(url: &str, token: &str) -> Client {
    let auth = Auth::Token {
        token: token.to_string(),
    };
    let mut last = None;
    for _ in 0..50 {
        match Client::connect(url, auth.clone()).await {
            Ok(client) => return client,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect: {last:?}");
}

/// Send as fast as the window allows until the connection dies; every attempt and every
/// acknowledgement is recorded.
async fn write_until_killed(
    client: Client,
    writer: usize,
    rooms: Vec<i64>,
    round: usize,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    acks: Arc<Mutex<HashMap<String, Ack>>>,
) {
    let mut in_flight = FuturesUnordered::new();
    let mut n = 0usize;
    loop {
        while in_flight.len() < WINDOW {
            let room_id = rooms[n % rooms.len()];
            let client_id = format!("r{round}-w{writer}-{n}");
            n += 1;
            attempts.lock().unwrap().push(Attempt {
                writer,
                room_id,
                client_id: client_id.clone(),
            });
            let client = &client;
            in_flight.push(async move {
                let sent = client
                    .send_message(room_id, client_id.clone(), format!("message {client_id}"))
                    .await;
                (client_id, sent)
            });
        }
        match in_flight.next().await {
            Some((client_id, Ok(ack))) => {
                acks.lock().unwrap().insert(client_id, Ack::from(ack));
            }
            Some((_, Err(_))) | None => break,
        }
    }
    // Let the rest of the window fail (or succeed, if their acks were already on the way).
    while let Some((client_id, sent)) = in_flight.next().await {
        if let Ok(ack) = sent {
            acks.lock().unwrap().insert(client_id, Ack::from(ack));
        }
    }
}

/// What the database holds, checked: gap-free seqs per room, one event per message, and
/// integrity. Returns the stored (room, message id, seq) of every client id.
fn check_database(db: &Path) -> HashMap<String, (i64, i64, i64)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let gaps: Vec<(i64, i64, i64)> = conn
        .prepare("SELECT room_id, count(*), max(seq) FROM events GROUP BY room_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, count, max)| count != max)
        .collect();
    assert!(
        gaps.is_empty(),
        "rooms with gaps (room, events, max seq): {gaps:?}"
    );
    let (messages, message_events): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM messages),
                    (SELECT count(*) FROM events WHERE kind = 'message')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(messages, message_events, "one event per stored message");
    let mut stored = conn
        .prepare("SELECT client_id, room_id, id, seq FROM messages")
        .unwrap();
    let rows = stored
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_write_load_loses_nothing_acknowledged_and_doubles_nothing() {
    let rounds = knob("CHAT_KILL_ROUNDS", 3);
    let writers = knob("CHAT_KILL_WRITERS", 6);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.sqlite");
    let mut server = ServerProcess::start(&db, CONFIG);

    let mut tokens = Vec::new();
    for n in 0..writers {
        let auth = Auth::Register {
            username: format!("writer{n}"),
            password: crate::support::PASSWORD.into(),
        };
        let client = Client::connect(&server.url, auth).await.unwrap();
        tokens.push(client.welcome().token.clone().unwrap());
    }
    let names: Vec<String> = (1..writers).map(|n| format!("writer{n}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let owner = connect(&server.url, &tokens[0]).await;
    let mut rooms = Vec::new();
    for r in 0..3 {
        let room = owner
            .create_room(RoomKind::Group, format!("load {r}"), &names)
            .await
            .unwrap();
        rooms.push(room.id);
    }
    drop(owner);

    let mut random = 0x9e37_79b9_7f4a_7c15_u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    let started = Instant::now();
    let (mut acked_before_kill, mut stored_after_retry, mut retried_acks) = (0, 0, 0);
    for round in 0..rounds {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let acks = Arc::new(Mutex::new(HashMap::new()));
        let mut load = Vec::new();
        for (writer, token) in tokens.iter().enumerate() {
            let client = connect(&server.url, token).await;
            load.push(tokio::spawn(write_until_killed(
                client,
                writer,
                rooms.clone(),
                round,
                attempts.clone(),
                acks.clone(),
            )));
        }
        let kill_after = Duration::from_millis(150 + next_random(&mut random) % 450);
        tokio::time::sleep(kill_after).await;
        server.kill();
        for writer in load {
            tokio::time::timeout(Duration::from_secs(30), writer)
                .await
                .expect("writers notice the kill")
                .unwrap();
        }
        let acks = acks.lock().unwrap().clone();
        acked_before_kill += acks.len();

        server = ServerProcess::start(&db, CONFIG);
        // Every attempt is retried with its client id: acknowledged ones must get their
        // original acknowledgement back, the others are stored now (once).
        let attempts = attempts.lock().unwrap().clone();
        let mut clients = Vec::new();
        for token in &tokens {
            clients.push(connect(&server.url, token).await);
        }
        for attempt in &attempts {
            let ack = clients[attempt.writer]
                .send_message(
                    attempt.room_id,
                    attempt.client_id.clone(),
                    format!("message {}", attempt.client_id),
                )
                .await
                .unwrap();
            if let Some(original) = acks.get(&attempt.client_id) {
                let again = Ack::from(ack);
                assert_eq!(
                    &again, original,
                    "the retry of {} is answered as before",
                    attempt.client_id
                );
                retried_acks += 1;
            }
        }
        drop(clients);

        let stored = check_database(&db);
        for (client_id, ack) in &acks {
            let found = stored.get(client_id);
            assert_eq!(
                found,
                Some(&(ack.room_id, ack.message_id, ack.seq)),
                "acknowledged {client_id} is stored as acknowledged"
            );
        }
        let this_round = attempts
            .iter()
            .filter(|a| stored.contains_key(&a.client_id))
            .count();
        assert_eq!(
            this_round,
            attempts.len(),
            "every retried message is stored"
        );
        stored_after_retry += this_round;
        println!(
            "round {}: killed after {} ms with {} acknowledged of {} attempted; all stored once",
            round + 1,
            kill_after.as_millis(),
            acks.len(),
            attempts.len()
        );
    }
    server.stop();
    println!(
        "sigkill: {rounds} rounds in {:.1} s, {acked_before_kill} messages acknowledged before a \
         kill, {retried_acks} retries answered with the original ack, {stored_after_retry} stored \
         after retries; lost 0, doubled 0, seq gaps 0, integrity ok",
        started.elapsed().as_secs_f64()
    );
}
