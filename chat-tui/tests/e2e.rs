//! End to end: the real `chat-tui` binary in pseudo-terminals against a real server.
//!
//! Two people log in through the login screen and chat. The server goes away: the status bar
//! says so, a message typed offline shows as pending, survives quitting the client, and arrives
//! exactly once after the server comes back.
#![allow(clippy::unwrap_used)]

use chat_protocol::client::Client;
use chat_protocol::{Auth, EventContent, RoomKind};
use chat_server::config::Config;
use chat_server::server::{spawn, RunningServer};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";
const ROWS: u16 = 30;
const COLS: u16 = 100;

/// One `chat-tui` process in a pseudo-terminal, with its screen parsed by vt100.
struct Tui {
    name: &'static str,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    /// A terminal that answers no questions (as vt100 does not): chat-tui shows file names.
    fn start(name: &'static str, home: &Path, url: &str) -> Tui {
        Tui::start_answering(name, home, url, b"")
    }

    /// A terminal that answers chat-tui's graphics question with `answers`, as kitty or a
    /// sixel terminal would.
    fn start_answering(name: &'static str, home: &Path, url: &str, answers: &'static [u8]) -> Tui {
        Tui::spawn(name, home, url, answers, &[])
    }

    /// With more arguments after `--server URL --user NAME` (`--profile bob`).
    fn start_with(name: &'static str, home: &Path, url: &str, args: &[&str]) -> Tui {
        Tui::spawn(name, home, url, b"", args)
    }

    fn spawn(
        name: &'static str,
        home: &Path,
        url: &str,
        answers: &'static [u8],
        args: &[&str],
    ) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_chat-tui"));
        cmd.args(["--server", url, "--user", name]);
        cmd.args(args);
        cmd.env("XDG_DATA_HOME", home.join("data"));
        cmd.env("XDG_CONFIG_HOME", home.join("config"));
        cmd.env("HOME", home);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(home);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let screen = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (screen_in, raw_in, answer_out) = (screen.clone(), raw.clone(), writer.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut answered = answers.is_empty();
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen_in.lock().unwrap().process(&buf[..n]);
                let mut raw = raw_in.lock().unwrap();
                raw.extend_from_slice(&buf[..n]);
                // The question ends with a status request, which every terminal answers.
                if !answered && raw.windows(4).any(|w| w == b"\x1b[5n") {
                    answered = true;
                    let mut out = answer_out.lock().unwrap();
                    out.write_all(answers).unwrap();
                    out.flush().unwrap();
                }
            }
        });
        Tui {
            name,
            screen,
            raw,
            writer,
            child,
            _master: pair.master,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Write over the screen as another program sharing the terminal would (`wall`, a
    /// background job): the client does not know, so only a full repaint removes it.
    fn scribble(&self, bytes: &str) {
        self.screen.lock().unwrap().process(bytes.as_bytes());
    }

    fn keys(&mut self, bytes: &str) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(bytes.as_bytes()).unwrap();
        writer.flush().unwrap();
    }

    /// Type a line and press Enter (a short pause lets the client see the keys apart, as a
    /// person's typing would).
    fn line(&mut self, text: &str) {
        self.keys(text);
        std::thread::sleep(Duration::from_millis(50));
        self.keys("\r");
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.contents();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out waiting for {what}; screen:\n{screen}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text))
    }

    /// The exit of a client that ends by itself, with what it printed.
    fn wait_exit(mut self) -> (portable_pty::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let printed = String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned();
        (status, printed)
    }

    /// Quit with Ctrl-C and check the terminal was given back (alternate screen left).
    fn quit(mut self) {
        self.keys("\x03");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not quit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{} exited with {status:?}", self.name);
        std::thread::sleep(Duration::from_millis(100));
        let raw = self.raw.lock().unwrap();
        let leave_alternate = b"\x1b[?1049l";
        assert!(
            raw.windows(leave_alternate.len())
                .any(|w| w == leave_alternate),
            "{} left the alternate screen on",
            self.name
        );
    }
}

fn config(listen: SocketAddr) -> Config {
    Config {
        listen,
        ..Config::default()
    }
}

async fn start_server(db: &Path, listen: SocketAddr) -> RunningServer {
    // The port may take a moment to be free again after a stop.
    for _ in 0..50 {
        if let Ok(server) = spawn(config(listen), db).await {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not start on {listen}");
}

/// Characters of the emoji blocks (and the heart), wherever they are on screen.
fn emoji_on(screen: &str) -> Vec<char> {
    screen
        .chars()
        .filter(|&c| matches!(c, '\u{2764}' | '\u{1f000}'..='\u{1faff}'))
        .collect()
}

/// A TCP relay in front of the server that can be frozen: it stops passing bytes both ways but
/// keeps every socket open, as a server stopped with SIGSTOP does.
struct Relay {
    url: String,
    frozen: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, flag.clone()));
                tokio::spawn(pump(server_read, client_write, flag.clone()));
            }
        });
        Relay { url, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Accounts for alice and bob on the server, and a home folder for each one's chat-tui.
async fn register_alice_and_bob(url: &str, dir: &Path) -> [PathBuf; 2] {
    for name in ["alice", "bob"] {
        let auth = Auth::Register {
            username: name.into(),
            password: PASSWORD.into(),
        };
        Client::connect(url, auth).await.unwrap().close();
    }
    let homes = [dir.join("alice"), dir.join("bob")];
    for home in &homes {
        std::fs::create_dir_all(home).unwrap();
    }
    homes
}

/// alice and bob, each in a chat-tui of their own, logged in and connected.
fn log_in_alice_and_bob(homes: &[PathBuf; 2], url: &str) -> (Tui, Tui) {
    let mut alice = Tui::start("alice", &homes[0], url);
    let mut bob = Tui::start("bob", &homes[1], url);
    for tui in [&mut alice, &mut bob] {
        tui.wait_text("log in");
        // --user filled in the name; the cursor waits in the password field.
        tui.line(PASSWORD);
        tui.wait_text("● connected");
    }
    (alice, bob)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_chat_and_an_offline_message_arrives_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let url = server.url();
    let homes = register_alice_and_bob(&url, dir.path()).await;

    let (alice, bob) = tokio::task::spawn_blocking({
        let (url, homes) = (url.clone(), homes.clone());
        move || {
            let (mut alice, mut bob) = log_in_alice_and_bob(&homes, &url);
            alice.line("/create channel general @bob");
            alice.wait_text("alice created channel general");
            bob.wait_text("#general");
            alice.line("hello from alice");
            bob.wait_text("hello from alice");
            bob.line("hi alice, bob here");
            alice.wait_text("hi alice, bob here");
            // Bob has read it all, so alice's message shows as read.
            alice.wait_text("hello from alice ✓✓ read");
            (alice, bob)
        }
    })
    .await
    .unwrap();

    server.stop().await;

    let (alice, bob) = tokio::task::spawn_blocking(move || {
        let mut alice = alice;
        alice.wait_text("reconnecting in");
        bob.wait_text("reconnecting in");
        alice.line("typed while offline");
        let screen = alice.wait_text("typed while offline ◷ sending");
        assert!(screen.contains("1 queued"), "{screen}");
        // Quitting does not lose it: the outbox is on disk.
        alice.quit();
        (Tui::start("alice", &homes[0], &url), bob)
    })
    .await
    .unwrap();

    let alice = tokio::task::spawn_blocking(move || {
        // Started with the server down: the cache shows the conversation and the queue.
        let screen = alice.wait_text("typed while offline ◷ sending");
        assert!(screen.contains("hi alice, bob here"), "{screen}");
        alice
    })
    .await
    .unwrap();

    let server = start_server(&db, addr).await;

    let (alice, bob) = tokio::task::spawn_blocking(move || {
        bob.wait_text("typed while offline");
        alice.wait_for("the message to be sent", |s| {
            s.contains("● connected") && !s.contains("◷ sending")
        });
        // Give a duplicate time to show up if there were going to be one.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(count(&bob.contents(), "typed while offline"), 1);
        assert_eq!(count(&alice.contents(), "typed while offline"), 1);
        (alice, bob)
    })
    .await
    .unwrap();

    // The server agrees: stored exactly once.
    assert_eq!(
        stored_in_bobs_channel(&server.url(), "typed while offline").await,
        1
    );

    tokio::task::spawn_blocking(move || {
        alice.quit();
        bob.quit();
    })
    .await
    .unwrap();
    server.stop().await;
}

/// Emoji sequences that terminals measure differently from Unicode (flags, ZWJ families, skin
/// tones, VS16, keycaps) must not leave stray glyphs: the vt100 parser measures them as tmux and
/// xterm do, so where the client and the terminal disagree, glyphs stay behind in cells the
/// client believes blank. Bob's lines end in the sequences, so nothing is drawn after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emoji_sequences_leave_no_stray_glyphs() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let url = server.url();
    let register = |name: &str| Auth::Register {
        username: name.into(),
        password: PASSWORD.into(),
    };
    Client::connect(&url, register("alice"))
        .await
        .unwrap()
        .close();
    let bob = Client::connect(&url, register("bob")).await.unwrap();
    let home = dir.path().join("alice");
    std::fs::create_dir_all(&home).unwrap();

    let alice = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let mut alice = Tui::start("alice", &home, &url);
            alice.wait_text("log in");
            alice.line(PASSWORD);
            alice.wait_text("● connected");
            alice
        }
    })
    .await
    .unwrap();
    // A direct conversation bob opens shows him online in alice's sidebar at once, before
    // she opens it.
    let dm = bob.open_direct("alice").await.unwrap();
    bob.send_message(dm.id, "d1", "psst").await.unwrap();
    let alice = tokio::task::spawn_blocking(move || {
        let mut alice = alice;
        alice.wait_for("bob online in the sidebar", |s| {
            s.lines().any(|l| l.contains("● bob"))
        });
        alice.line("/create channel emoji @bob");
        alice.wait_text("alice created channel emoji");
        alice
    })
    .await
    .unwrap();
    let room = loop {
        let rooms = bob.list_rooms().await.unwrap();
        if let Some(room) = rooms.iter().find(|r| r.kind == RoomKind::Channel) {
            break room.id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines = [
        "flag 🇫🇷",
        "family 👨‍👩‍👧",
        "skin 👍🏽",
        "heart ❤️",
        "keycap 1️⃣",
        "rainbow 🏳️‍🌈",
        "plain one",
        "plain two",
    ];
    for (i, text) in lines.into_iter().enumerate() {
        bob.send_message(room, format!("e{i}"), text).await.unwrap();
    }

    tokio::task::spawn_blocking(move || {
        let mut alice = alice;
        let screen = alice.wait_text("plain two");
        // Drawn in pieces of certain width.
        for drawn in [
            "flag [FR]",
            "family 👨👩👧",
            "skin 👍",
            "heart ❤",
            "keycap 1",
            "rainbow 🏳🌈",
        ] {
            assert!(screen.contains(drawn), "{drawn:?} not on screen:\n{screen}");
        }
        // Ctrl-L repaints every cell: what another program wrote over the screen goes.
        alice.scribble("\x1b[5;30HBROADCAST FROM ROOT\x1b[20;40HGARBAGE");
        assert!(alice.contents().contains("GARBAGE"));
        alice.keys("\x0c");
        alice.wait_for("Ctrl-L to repaint", |s| {
            !s.contains("GARBAGE") && !s.contains("BROADCAST") && s.contains("plain two")
        });
        // Another room: nothing of the emoji room may remain anywhere.
        alice.line("/create channel quiet");
        alice.wait_text("alice created channel quiet");
        std::thread::sleep(Duration::from_millis(300));
        let screen = alice.contents();
        assert_eq!(
            emoji_on(&screen),
            Vec::<char>::new(),
            "stray glyphs:\n{screen}"
        );
        // The help overlay is drawn over the same cells.
        alice.keys("\x1bOP");
        let screen = alice.wait_text("Help");
        assert_eq!(
            emoji_on(&screen),
            Vec::<char>::new(),
            "stray glyphs:\n{screen}"
        );
        alice.keys("\x1b");
        alice.quit();
    })
    .await
    .unwrap();
    server.stop().await;
}

/// A server that stops answering (SIGSTOP: sockets open, nothing moves) is noticed within two
/// missed pings: the round trip shows as unknown first, then the client says why it is offline
/// and reconnects once the server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_is_noticed_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let auth = Auth::Register {
        username: "alice".into(),
        password: PASSWORD.into(),
    };
    Client::connect(&server.url(), auth).await.unwrap().close();
    let relay = Relay::start(server.addr).await;
    let home = dir.path().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    let url = relay.url.clone();
    let relay = Arc::new(relay);
    let frozen = relay.clone();
    tokio::task::spawn_blocking(move || {
        let mut alice = Tui::start("alice", &home, &url);
        alice.wait_text("log in");
        alice.line(PASSWORD);
        alice.wait_for("a round trip", |s| {
            s.contains("● connected ·") && s.contains(" ms")
        });
        frozen.freeze(true);
        let screen = alice.wait_text("no answer for");
        assert!(!screen.contains(" ms "), "{screen}");
        alice.wait_text("○ offline · no answer from the server");
        frozen.freeze(false);
        alice.wait_for("the reconnection", |s| s.contains("● connected"));
        alice.quit();
    })
    .await
    .unwrap();
    server.stop().await;
}

/// Messages that change: bob replies to alice, reacts to her message, edits and deletes his
/// own, each typed as a person would (selection mode, Up to edit), and alice sees each change
/// on her screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_deletes_reactions_and_replies_reach_the_other_screen() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let url = server.url();
    let homes = register_alice_and_bob(&url, dir.path()).await;
    tokio::task::spawn_blocking(move || {
        let (mut alice, mut bob) = log_in_alice_and_bob(&homes, &url);
        alice.line("/create channel general @bob");
        bob.wait_text("#general");
        alice.line("lunch at noon?");
        bob.wait_text("lunch at noon?");

        // Esc from the empty input selects alice's message; r replies to it.
        bob.keys("\x1b");
        bob.wait_text("r reply  + react");
        std::thread::sleep(Duration::from_millis(100));
        bob.keys("r");
        bob.wait_text("replying to alice");
        bob.line("count me in");
        alice.wait_text("↳ alice: lunch at noon?");
        alice.wait_text("count me in");
        alice.wait_text("└ 1 reply");

        // Up in the empty input edits bob's last message.
        std::thread::sleep(Duration::from_millis(100));
        bob.keys("\x1b[A");
        bob.wait_text("editing your message");
        bob.keys("\x15");
        bob.line("count me in, and carol too");
        alice.wait_text("count me in, and carol too (edited)");

        // React to alice's message: select it (Esc, then Up past bob's), + and 1 for 👍.
        bob.keys("\x1b");
        bob.wait_text("r reply  + react");
        std::thread::sleep(Duration::from_millis(100));
        bob.keys("\x1b[A");
        std::thread::sleep(Duration::from_millis(100));
        bob.keys("+");
        bob.wait_text("React");
        bob.keys("1");
        alice.wait_text("👍 1");

        // Delete bob's reply (the newest message), after the confirmation.
        bob.keys("\x1b");
        std::thread::sleep(Duration::from_millis(100));
        bob.keys("d");
        bob.wait_text("Delete this message for everyone?");
        bob.keys("y");
        let screen = alice.wait_text("message deleted");
        assert!(!screen.contains("carol too"), "{screen}");
        assert!(screen.contains("👍 1"), "{screen}");
        alice.quit();
        bob.quit();
    })
    .await
    .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_up_from_one_screen_and_is_saved_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let url = server.url();
    let homes = register_alice_and_bob(&url, dir.path()).await;
    let notes = "minutes of the meeting\n".repeat(5000);
    std::fs::write(homes[0].join("notes.txt"), &notes).unwrap();
    std::fs::write(homes[0].join("cat photo.txt"), "a cat").unwrap();
    // Bob saves into a folder of his choosing.
    let bob_config = homes[1].join("config/chat-tui");
    std::fs::create_dir_all(&bob_config).unwrap();
    let downloads = homes[1].join("dl");
    std::fs::write(
        bob_config.join("config.toml"),
        format!(
            "[client]\ndownload_dir = {:?}\n",
            downloads.display().to_string()
        ),
    )
    .unwrap();

    tokio::task::spawn_blocking({
        let homes = homes.clone();
        move || {
            let (mut alice, mut bob) = log_in_alice_and_bob(&homes, &url);
            alice.line("/create channel files @bob");
            alice.wait_text("alice created channel files");
            bob.wait_text("#files");
            bob.keys("\x0b");
            bob.wait_text("Go to conversation");
            bob.line("files");
            // Tab completes the path (the home folder is alice's working folder too).
            alice.keys("/upload ~/no");
            std::thread::sleep(Duration::from_millis(100));
            alice.keys("\t");
            alice.wait_text("/upload ~/notes.txt");
            alice.keys("\r");
            bob.wait_text("📎 notes.txt  115.0 kB");
            alice.wait_for("the upload to be delivered", |s| {
                s.contains("📎 notes.txt") && !s.contains("◷ sending")
            });
            // A file dropped on the terminal (pasted as its quoted path) is offered.
            let dropped = format!("'{}'", homes[0].join("cat photo.txt").display());
            alice.keys(&format!("\x1b[200~{dropped}\x1b[201~"));
            alice.wait_text("Send cat photo.txt (5 B) to #files?");
            alice.keys("\r");
            bob.wait_text("📎 cat photo.txt  5 B");
            // Bob selects the notes (the message above the newest) and saves them.
            bob.keys("\x1b");
            bob.wait_text("o open  s save");
            std::thread::sleep(Duration::from_millis(100));
            bob.keys("\x1b[A");
            std::thread::sleep(Duration::from_millis(100));
            bob.keys("s");
            bob.wait_text("saved ~/dl/notes.txt");
            // Two files dropped at once: one question, both sent.
            let both = ["notes.txt", "cat photo.txt"].map(|name| {
                let path = homes[0].join(name).display().to_string();
                format!("'{path}'")
            });
            alice.keys(&format!("\x1b[200~{}\x1b[201~", both.join(" ")));
            alice.wait_text("Send 2 files (115.0 kB) to #files?");
            alice.keys("\r");
            bob.wait_for("both files a second time", |s| {
                s.matches("📎 notes.txt").count() == 2 && s.matches("📎 cat photo.txt").count() == 2
            });
            alice.quit();
            bob.quit();
        }
    })
    .await
    .unwrap();
    let saved = std::fs::read_to_string(downloads.join("notes.txt")).unwrap();
    assert_eq!(saved, notes, "the same bytes");
    server.stop().await;
}

/// A PNG of `width`×`height`: red above, white below.
fn red_over_white(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |_, y| {
        if y < height / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let mut png = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// The background colours of screen row `row`.
fn backgrounds(tui: &Tui, row: usize) -> Vec<vt100::Color> {
    let parser = tui.screen.lock().unwrap();
    (0..COLS)
        .filter_map(|col| parser.screen().cell(row as u16, col))
        .map(|cell| cell.bgcolor())
        .collect()
}

fn row_with(screen: &str, text: &str) -> usize {
    screen
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no row with {text:?}:\n{screen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_are_previewed_in_kitty_graphics_and_in_coloured_blocks() {
    const KITTY: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c\x1b[6;20;10t\x1b[0n";
    const RED: vt100::Color = vt100::Color::Rgb(255, 0, 0);
    const WHITE: vt100::Color = vt100::Color::Rgb(255, 255, 255);
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let url = server.url();
    let homes = register_alice_and_bob(&url, dir.path()).await;
    std::fs::write(homes[0].join("flag.png"), red_over_white(300, 200)).unwrap();
    // Not a picture after all: the server reads its header, the decoder finds the rest gone.
    let mut cut = red_over_white(300, 200);
    cut.truncate(60);
    std::fs::write(homes[0].join("cut.png"), cut).unwrap();
    let bob_config = homes[1].join("config/chat-tui");
    std::fs::create_dir_all(&bob_config).unwrap();
    std::fs::write(
        bob_config.join("config.toml"),
        "[client]\nimages = \"blocks\"\n",
    )
    .unwrap();

    tokio::task::spawn_blocking({
        let homes = homes.clone();
        move || {
            // alice's terminal says it is kitty; bob's answers nothing, but asked for blocks.
            let mut alice = Tui::start_answering("alice", &homes[0], &url, KITTY);
            let mut bob = Tui::start("bob", &homes[1], &url);
            for tui in [&mut alice, &mut bob] {
                tui.wait_text("log in");
                tui.line(PASSWORD);
                tui.wait_text("● connected");
            }
            alice.line("/create channel pics @bob");
            alice.wait_text("alice created channel pics");
            bob.wait_text("#pics");
            bob.keys("\x0b");
            bob.wait_text("Go to conversation");
            bob.line("pics");
            alice.line("/upload ~/flag.png");
            alice.line("/upload ~/cut.png");
            alice.line("after the pictures");

            // bob: 300×200 px in 10×20 px cells is 30 columns by 10 rows, red over white.
            let screen = bob.wait_for("the picture in blocks", |s| {
                s.contains("after the pictures") && s.contains('▄')
            });
            let label = row_with(&screen, "📎 flag.png");
            let top = backgrounds(&bob, label + 1);
            assert_eq!(top.iter().filter(|c| **c == RED).count(), 30, "{top:?}");
            let bottom = backgrounds(&bob, label + 10);
            assert_eq!(bottom.iter().filter(|c| **c == WHITE).count(), 30);
            assert_eq!(row_with(&screen, "📎 cut.png"), label + 11, "{screen}");
            // The cut file gives its rows back: the next message follows its name.
            let screen = bob.wait_for("the cut picture to take no rows", |s| {
                row_with(s, "after the pictures") == row_with(s, "📎 cut.png") + 1
            });
            assert!(screen.contains("📎 cut.png  60 B  300×200"));

            // alice: the picture sent to the terminal once in kitty's protocol, placed with
            // kitty's placeholder characters in the cells under the name.
            alice.wait_for("kitty placeholders", |s| s.contains('\u{10EEEE}'));
            let raw = alice.raw.lock().unwrap().clone();
            let raw = String::from_utf8_lossy(&raw);
            assert_eq!(raw.matches("a=T,U=1,f=32").count(), 1, "transmitted once");
            assert!(raw.contains("s=300,v=200"), "at its own size: it fits");
            drop(raw);
            alice.quit();
            bob.quit();
        }
    })
    .await
    .unwrap();
    server.stop().await;
}

/// The README's way to chat with yourself, followed by someone who skipped a step: a second
/// client on alice's profile is refused and names `--profile`; bob runs on a profile of his
/// own. Later bob logs in on alice's (default) profile while she is away: her message queued
/// offline waits in her account's cache, and goes out, once, when she logs in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_has_one_client_and_each_users_queue_survives_the_other_logging_in() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("chat.sqlite");
    let server = start_server(&db, "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let url = server.url();
    let homes = register_alice_and_bob(&url, dir.path()).await;
    // One person's machine: alice's home for both.
    let home = homes[0].clone();

    let (alice, bob) = tokio::task::spawn_blocking({
        let (url, home) = (url.clone(), home.clone());
        move || {
            let mut alice = Tui::start("alice", &home, &url);
            alice.wait_text("log in");
            alice.line(PASSWORD);
            alice.wait_text("● connected");
            alice.line("/create channel general @bob");
            alice.wait_text("alice created channel general");

            let (status, printed) = Tui::start("bob", &home, &url).wait_exit();
            assert!(!status.success());
            assert!(
                printed.contains(r#"another chat-tui is using profile "default""#),
                "{printed}"
            );
            assert!(printed.contains("--profile"), "{printed}");
            assert!(
                !printed.contains("\x1b[?1049h"),
                "refused before the terminal was taken: {printed:?}"
            );
            alice.wait_text("● connected");

            let mut bob = Tui::start_with("bob", &home, &url, &["--profile", "bob"]);
            bob.wait_text("log in");
            bob.line(PASSWORD);
            bob.wait_text("#general");
            (alice, bob)
        }
    })
    .await
    .unwrap();

    server.stop().await;

    tokio::task::spawn_blocking(move || {
        let mut alice = alice;
        alice.wait_text("reconnecting in");
        alice.line("alice queued this while offline");
        alice.wait_text("alice queued this while offline ◷ sending");
        alice.quit();
        bob.quit();
    })
    .await
    .unwrap();

    let server = start_server(&db, addr).await;

    tokio::task::spawn_blocking({
        let (url, home) = (url.clone(), home.clone());
        move || {
            // bob on the default profile, alice's client gone: allowed, and his own account.
            let mut bob = Tui::start("bob", &home, &url);
            bob.wait_text("log in");
            bob.line(PASSWORD);
            let screen = bob.wait_text("● connected");
            assert!(!screen.contains("◷ sending"), "{screen}");
            bob.quit();

            // alice again (the saved login is bob's now, so she logs in): her queue is there.
            let mut alice = Tui::start("alice", &home, &url);
            alice.wait_text("log in");
            alice.line(PASSWORD);
            alice.wait_for("the queued message to be sent", |s| {
                s.contains("● connected")
                    && s.contains("alice queued this while offline")
                    && !s.contains("◷ sending")
            });
            alice.keys("/unsent");
            std::thread::sleep(Duration::from_millis(50));
            alice.keys("\r");
            alice.wait_text("every message was sent");
            alice.keys("\x1b");
            alice.quit();
        }
    })
    .await
    .unwrap();

    assert_eq!(
        stored_in_bobs_channel(&server.url(), "alice queued this while offline").await,
        1,
        "sent exactly once"
    );
    server.stop().await;
}

/// How many messages of bob's (first) channel, as the server stores them, say `text`.
async fn stored_in_bobs_channel(url: &str, text: &str) -> usize {
    let auth = Auth::Password {
        username: "bob".into(),
        password: PASSWORD.into(),
    };
    let checker = Client::connect(url, auth).await.unwrap();
    let room = checker
        .welcome()
        .rooms
        .iter()
        .find(|r| r.kind == RoomKind::Channel)
        .unwrap()
        .id;
    let history = checker.history_after(room, 0, 100).await.unwrap();
    history
        .events
        .iter()
        .filter(|e| {
            matches!(&e.content, EventContent::Message(chat_protocol::ChatMessage { text: t, .. }) if t == text)
        })
        .count()
}
