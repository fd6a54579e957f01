//! Test harness: start, stop and restart servers; connect users; wait for events.

use chat_protocol::client::Client;
use chat_protocol::{Auth, EventContent, RoomEvent, ServerFrame};
use chat_server::server::{spawn, RunningServer};
use chat_server::Config;
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

/// Long enough for a loaded CI machine, short enough that a hang fails fast.
pub const WAIT: Duration = Duration::from_secs(10);

pub const PASSWORD: &str = "correct horse battery";

/// Settings for tests: fast presence and typing timers, no rate limit getting in the way of
/// bulk sends (the rate-limit test sets its own).
pub fn test_config() -> Config {
    Config {
        requests_per_second: 100_000,
        request_burst: 100_000,
        presence_grace_ms: 50,
        typing_timeout_ms: 300,
        revocation_poll_ms: 50,
        // Every test client comes from 127.0.0.1.
        registrations_per_address_per_hour: 100_000,
        ..Config::default()
    }
}

pub struct TestServer {
    pub url: String,
    pub db: PathBuf,
    pub config: Config,
    dir: TempDir,
    running: RunningServer,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        TestServer::start_in(dir, config).await
    }

    /// Start on the database `chat.sqlite` in `dir` (seeded already, say).
    pub async fn start_in(dir: TempDir, config: Config) -> TestServer {
        let db = dir.path().join("chat.sqlite");
        let listen = "127.0.0.1:0".parse().expect("loopback address");
        let running = spawn(
            Config {
                listen,
                ..config.clone()
            },
            &db,
        )
        .await
        .expect("start server");
        TestServer {
            url: running.url(),
            db,
            config,
            dir,
            running,
        }
    }

    /// Shut down gracefully and start again on the same database (on a new port).
    pub async fn restart(self) -> TestServer {
        self.running.stop().await;
        TestServer::start_in(self.dir, self.config).await
    }

    pub async fn connect(&self, auth: Auth) -> Result<Client, chat_protocol::client::ClientError> {
        Client::connect(&self.url, auth).await
    }

    /// Register `name` and return the connected client.
    pub async fn register(&self, name: &str) -> Client {
        let auth = Auth::Register {
            username: name.into(),
            password: PASSWORD.into(),
        };
        self.connect(auth)
            .await
            .unwrap_or_else(|e| panic!("register {name}: {e}"))
    }

    /// Another device of an existing user (password login).
    pub async fn login(&self, name: &str) -> Client {
        let auth = Auth::Password {
            username: name.into(),
            password: PASSWORD.into(),
        };
        self.connect(auth)
            .await
            .unwrap_or_else(|e| panic!("login {name}: {e}"))
    }
}

/// Wait for the first pushed frame that `pick` accepts, skipping others.
pub async fn wait_for<T>(client: &mut Client, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(frame) = client.next_event().await {
            if let Some(value) = pick(frame) {
                return Some(value);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(value)) => value,
        Ok(None) => panic!(
            "connection closed while waiting ({:?})",
            client.close_info()
        ),
        Err(_) => panic!("timed out waiting for an event"),
    }
}

/// Wait for the next message event: (seq, sender, text).
pub async fn next_message(client: &mut Client) -> (i64, String, String) {
    wait_for(client, |f| match f {
        ServerFrame::Event(RoomEvent {
            seq,
            sender,
            content: EventContent::Message(chat_protocol::ChatMessage { text, .. }),
            ..
        }) => Some((seq, sender.username, text)),
        _ => None,
    })
    .await
}

/// Message texts among frames.
pub fn texts(frames: &[ServerFrame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Event(RoomEvent {
                content: EventContent::Message(chat_protocol::ChatMessage { text, .. }),
                ..
            }) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Wait until the connection is closed by the server; returns the close code, if any.
pub async fn wait_closed(client: &mut Client) -> Option<u16> {
    let closed =
        tokio::time::timeout(WAIT, async { while client.next_event().await.is_some() {} }).await;
    assert!(closed.is_ok(), "the server did not close the connection");
    client.close_info().map(|c| c.code)
}

/// Page through a room's history after `after` until `more` is false, checking the page cap.
/// Returns (seq, text) of every message and the last seq seen.
pub async fn messages_after(
    client: &Client,
    room_id: i64,
    mut after: i64,
) -> (Vec<(i64, String)>, i64) {
    let mut messages = Vec::new();
    loop {
        let page = client
            .history_after(room_id, after, 100)
            .await
            .expect("history page");
        assert!(page.events.len() <= 100, "pages are capped");
        for event in &page.events {
            if let EventContent::Message(chat_protocol::ChatMessage { text, .. }) = &event.content {
                messages.push((event.seq, text.clone()));
            }
            after = event.seq;
        }
        if !page.more {
            return (messages, after);
        }
    }
}

/// The error code a handshake with `auth` is refused with (None if it succeeds).
pub async fn refusal(server: &TestServer, auth: Auth) -> Option<chat_protocol::ErrorCode> {
    code(server.connect(auth).await)
}

/// The room with `room_id` as the client's welcome described it.
pub fn welcome_room(client: &Client, room_id: i64) -> chat_protocol::RoomSummary {
    let rooms = &client.welcome().rooms;
    rooms
        .iter()
        .find(|r| r.id == room_id)
        .cloned()
        .expect("the room is in the welcome")
}

/// The error code a request failed with (None if it succeeded).
pub fn code<T>(
    result: Result<T, chat_protocol::client::ClientError>,
) -> Option<chat_protocol::ErrorCode> {
    result.err().and_then(|e| e.code())
}

/// Picker for [`wait_for`]: the room of a `room_added`.
pub fn room_added(frame: ServerFrame) -> Option<chat_protocol::RoomSummary> {
    match frame {
        ServerFrame::RoomAdded(r) => Some(r.room),
        _ => None,
    }
}

/// Picker for [`wait_for`]: a `receipt`.
pub fn receipt(frame: ServerFrame) -> Option<chat_protocol::Receipt> {
    match frame {
        ServerFrame::Receipt(r) => Some(r),
        _ => None,
    }
}

/// Picker for [`wait_for`]: an `unread`.
pub fn unread(frame: ServerFrame) -> Option<chat_protocol::Unread> {
    match frame {
        ServerFrame::Unread(u) => Some(u),
        _ => None,
    }
}

/// alice and bob, registered, in a group room "crew" of alice's.
pub async fn alice_and_bob(server: &TestServer) -> (Client, Client, i64) {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = alice
        .create_room(chat_protocol::RoomKind::Group, "crew", &["bob"])
        .await
        .unwrap()
        .id;
    (alice, bob, room)
}

/// A connection to the server's database, as the admin subcommands open it.
pub fn open_db(server: &TestServer) -> rusqlite::Connection {
    chat_server::store::open_write_connection(&server.db, chat_server::store::Durability::Full)
        .expect("open the test database")
}

/// The token a password login or registration issued to `client` (for the HTTP API).
pub fn token_of(client: &Client) -> String {
    client
        .welcome()
        .token
        .clone()
        .expect("a login issues a token")
}
