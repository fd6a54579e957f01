//! Both example bots, run as real processes against a real server: a user DMs the bot and
//! gets the answers.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use chat_protocol::client::Client;
use chat_protocol::{Auth, EventContent, ServerFrame};
use chat_server::server::{spawn, RunningServer};
use chat_server::{admin, store, Config};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn next_reply(client: &mut Client, from: &str) -> String {
    let wait = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match client.next_event().await.expect("connection open") {
                ServerFrame::Event(e) if e.sender.username == from => {
                    if let EventContent::Message(chat_protocol::ChatMessage { text, .. }) =
                        e.content
                    {
                        return text;
                    }
                }
                _ => {}
            }
        }
    });
    wait.await.expect("the bot answered in time")
}

/// Start a server, make a bot account, DM it, start `bot` with its token, and chat.
async fn chat_with_bot(bot: &str, mut command: Command) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.sqlite");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let server = spawn(config, &db).await.unwrap();
    let conn = store::open_write_connection(&db, store::Durability::Normal).unwrap();
    admin::create_user(&conn, bot, None).unwrap();
    let (_, token) = admin::create_token(&conn, bot, "test").unwrap();

    let auth = Auth::Register {
        username: "human".into(),
        password: "a long password".into(),
    };
    let mut human = Client::connect(&server.url(), auth).await.unwrap();
    let room = human.open_direct(bot).await.unwrap();
    let bot_process = KillOnDrop(
        command
            .env("CHAT_URL", server.url())
            .env("CHAT_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The bot shares the DM, so its coming online is pushed to us: then it is listening.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), human.next_event()).await {
            Ok(Some(ServerFrame::Presence(p))) if p.user.username == bot && p.online => break,
            Ok(Some(_)) => {}
            other => panic!("the bot did not come online: {other:?}"),
        }
    }
    human.send_message(room.id, "1", "!ping").await.unwrap();
    assert_eq!(next_reply(&mut human, bot).await, "pong");
    human
        .send_message(room.id, "2", "just chatting")
        .await
        .unwrap();
    human
        .send_message(room.id, "3", "!echo hello, bot ✓")
        .await
        .unwrap();
    assert_eq!(
        next_reply(&mut human, bot).await,
        "hello, bot ✓",
        "plain messages get no answer"
    );

    // The server restarts; what is said before the bot is back is answered once it is.
    let addr = server.addr;
    server.stop().await;
    let server = restart(addr, &db).await;
    let auth = Auth::Password {
        username: "human".into(),
        password: "a long password".into(),
    };
    let mut human = Client::connect(&server.url(), auth).await.unwrap();
    human
        .send_message(room.id, "4", "!echo said while you were away")
        .await
        .unwrap();
    assert_eq!(
        next_reply(&mut human, bot).await,
        "said while you were away"
    );
    human.send_message(room.id, "5", "!ping").await.unwrap();
    assert_eq!(next_reply(&mut human, bot).await, "pong", "live again");

    // The bot stalls (SIGSTOP) with a message waiting for it; the server closes its silent
    // connection; when the bot resumes, the message is still answered, once.
    let pid = bot_process.0.id().to_string();
    signal(&pid, "-STOP");
    human
        .send_message(room.id, "6", "!echo frozen then thawed")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await; // past the idle timeout
    signal(&pid, "-CONT");
    assert_eq!(next_reply(&mut human, bot).await, "frozen then thawed");
    let history = human.history_after(room.id, 0, 100).await.unwrap();
    let answers = history
        .events
        .iter()
        .filter(|e| matches!(&e.content, EventContent::Message(chat_protocol::ChatMessage { text, .. }) if text == "said while you were away"))
        .filter(|e| e.sender.username == bot)
        .count();
    assert_eq!(answers, 1, "answered exactly once");
    server.stop().await;
}

fn signal(pid: &str, which: &str) {
    let status = Command::new("kill").args([which, pid]).status().unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

/// Start the server again on the same address and database (the port may take a moment),
/// closing silent connections after 1.5 s so a stalled bot is noticed quickly.
async fn restart(addr: std::net::SocketAddr, db: &std::path::Path) -> RunningServer {
    for _ in 0..50 {
        let config = Config {
            listen: addr,
            ping_interval_ms: 500,
            idle_timeout_ms: 1_500,
            ..Config::default()
        };
        if let Ok(server) = spawn(config, db).await {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start again on {addr}");
}

#[tokio::test]
async fn the_rust_echo_bot_answers() {
    chat_with_bot("rustbot", Command::new(env!("CARGO_BIN_EXE_echo-bot"))).await;
}

/// The test command (scripts/test.sh) installs `websockets` into a venv and points
/// CHAT_PYTHON at it.
#[tokio::test]
async fn the_python_echo_bot_answers() {
    let python = std::env::var("CHAT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../python/echo_bot.py");
    let check = Command::new(&python)
        .args(["-c", "import websockets"])
        .status();
    assert!(
        check.is_ok_and(|s| s.success()),
        "{python} cannot import websockets: run scripts/test.sh, or pip install -r examples/python/requirements.txt"
    );
    let mut command = Command::new(python);
    command.arg(script);
    chat_with_bot("pybot", command).await;
}

/// A bot that falls behind (5,000 messages arrive while it reads nothing, more than the
/// client's queue of 4,096 holds) still gets every message, once and in order: the dropped
/// ones are fetched by seq, a page at a time.
#[tokio::test]
async fn a_reconnecting_client_that_falls_behind_gets_every_message_once() {
    use chat_protocol::reconnect::Reconnecting;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.sqlite");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        requests_per_second: 100_000,
        request_burst: 100_000,
        ..Config::default()
    };
    let server = spawn(config, &db).await.unwrap();
    let conn = store::open_write_connection(&db, store::Durability::Normal).unwrap();
    admin::create_user(&conn, "slowbot", None).unwrap();
    let (_, token) = admin::create_token(&conn, "slowbot", "test").unwrap();
    let auth = Auth::Register {
        username: "human".into(),
        password: "a long password".into(),
    };
    let human = Client::connect(&server.url(), auth).await.unwrap();
    let room = human.open_direct("slowbot").await.unwrap();
    let mut bot = Reconnecting::connect(&server.url(), &token, "slowbot test")
        .await
        .unwrap();

    const COUNT: usize = 5_000;
    for i in 0..COUNT {
        human
            .send_message(room.id, format!("c{i}"), format!("m{i}"))
            .await
            .unwrap();
    }
    let mut texts = Vec::with_capacity(COUNT);
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while texts.len() < COUNT {
            if let ServerFrame::Event(e) = bot.next_event().await.unwrap() {
                if let EventContent::Message(chat_protocol::ChatMessage { text, .. }) = e.content {
                    texts.push(text);
                }
            }
        }
    });
    read.await.expect("every message arrived");
    let expected: Vec<String> = (0..COUNT).map(|i| format!("m{i}")).collect();
    assert!(texts == expected, "out of order or duplicated");
    assert!(bot.handle().missed_events() > 0, "the queue did overflow");
    server.stop().await;
}
