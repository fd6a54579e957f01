//! The admin subcommands of the real binary, against a running server's database.

use crate::support::*;
use chat_protocol::client::Client;
use chat_protocol::{close_code, Auth, ErrorCode};
use std::io::Write;
use std::process::{Command, Stdio};

pub fn admin(server: &TestServer, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("--db")
        .arg(&server.db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chat-server");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "chat-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn a_bot_token_from_the_cli_works_until_revoked_and_revoking_closes_the_connection() {
    let server = TestServer::start().await;
    admin(&server, &["user", "add", "helper", "--bot"], "");
    let token = admin(
        &server,
        &["token", "create", "helper", "--label", "test"],
        "",
    )
    .trim()
    .to_string();
    let mut bot = server
        .connect(Auth::Token {
            token: token.clone(),
        })
        .await
        .expect("token login");
    assert_eq!(bot.welcome().user.username, "helper");
    bot.ping().await.unwrap();

    let listing = admin(&server, &["token", "list", "helper"], "");
    let id = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("a token row")
        .to_string();
    admin(&server, &["token", "revoke", &id], "");
    assert_eq!(wait_closed(&mut bot).await, Some(close_code::TOKEN_REVOKED));
    assert_eq!(
        refusal(&server, Auth::Token { token }).await,
        Some(ErrorCode::Unauthorized)
    );
}

#[tokio::test]
async fn users_made_by_the_cli_can_log_in_and_passwords_can_be_reset() {
    let server = TestServer::start().await;
    let carol_with = |password: &str| Auth::Password {
        username: "carol".into(),
        password: password.into(),
    };
    admin(&server, &["user", "add", "carol"], "first password\n");
    let mut carol = server
        .connect(carol_with("first password"))
        .await
        .expect("the new user logs in");
    let listing = admin(&server, &["user", "list"], "");
    assert!(listing.contains("carol"), "{listing}");
    admin(&server, &["user", "passwd", "carol"], "second password\n");
    assert_eq!(
        refusal(&server, carol_with("first password")).await,
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        wait_closed(&mut carol).await,
        Some(close_code::TOKEN_REVOKED),
        "a reset signs out every device"
    );
    assert!(
        server.connect(carol_with("second password")).await.is_ok(),
        "the new password works"
    );
}

/// Run the binary with `args`; its exit status and stderr, or a failure if it keeps running.
fn run_briefly(args: &[&std::ffi::OsStr]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run chat-server");
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status, stderr);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("chat-server {args:?} kept running");
}

#[cfg(unix)]
#[tokio::test]
async fn a_second_server_on_the_same_database_exits_with_a_clear_message() {
    let server = TestServer::start().await;
    let (status, stderr) = run_briefly(&[
        "--db".as_ref(),
        server.db.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains("already serving"), "{stderr}");
    // Through a symlink or a hard link it is the same database, and still refused.
    let dir = server.db.parent().unwrap();
    let (soft, hard) = (dir.join("soft.sqlite"), dir.join("hard.sqlite"));
    std::os::unix::fs::symlink(&server.db, &soft).unwrap();
    std::fs::hard_link(&server.db, &hard).unwrap();
    for other in [&soft, &hard] {
        let (status, stderr) = run_briefly(&[
            "--db".as_ref(),
            other.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ]);
        assert!(!status.success(), "{}", other.display());
        assert!(stderr.contains("already serving"), "{stderr}");
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour escapes in a pipe: {stderr:?}"
    );
    // The admin subcommands still work next to the running server.
    admin(&server, &["user", "list"], "");
}

#[tokio::test]
async fn admin_subcommands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("chat.sqlte");
    for args in [&["user", "list"][..], &["token", "create", "bot"][..]] {
        let mut all: Vec<&std::ffi::OsStr> = vec!["--db".as_ref(), typo.as_os_str()];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        let (status, stderr) = run_briefly(&all);
        assert!(!status.success(), "{args:?}");
        assert!(stderr.contains("no database at"), "{stderr}");
        assert!(!typo.exists(), "nothing was created by {args:?}");
    }
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let (status, stderr) = run_briefly(&[
        "--db".as_ref(),
        empty.as_os_str(),
        "user".as_ref(),
        "list".as_ref(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains("is empty"), "{stderr}");
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "left as it was"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_and_shm_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    alice
        .create_room(chat_protocol::RoomKind::Group, "secrets", &[])
        .await
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", server.db.display());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{path} has mode {mode:o}");
    }
}

#[tokio::test]
async fn logout_revokes_the_token_and_closes_every_connection_using_it() {
    let server = TestServer::start().await;
    let first = server.register("alice").await;
    let token = first
        .welcome()
        .token
        .clone()
        .expect("registration issues a token");
    let auth = Auth::Token {
        token: token.clone(),
    };
    let mut same_token = server.connect(auth.clone()).await.expect("token login");
    let mut other_device = server.login("alice").await;

    let mut first = first;
    first.logout().await.expect("logout answered ok");
    for client in [&mut first, &mut same_token] {
        assert_eq!(wait_closed(client).await, Some(close_code::TOKEN_REVOKED));
        assert_eq!(client.close_info().expect("close").reason, "logged out");
    }
    assert_eq!(
        refusal(&server, auth).await,
        Some(ErrorCode::Unauthorized),
        "a logged-out token no longer logs in"
    );
    other_device
        .ping()
        .await
        .expect("another login of the same user is untouched");
    assert!(other_device.drain_events().await.is_ok());
    let listing = admin(&server, &["token", "list", "alice"], "");
    // One row per token: id, username, created "… ago", then revoked "… ago" or "-".
    let ends: Vec<bool> = listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(5) == Some("ago"))
        .collect();
    assert_eq!(
        ends,
        [true, false],
        "registration token revoked, the other live:\n{listing}"
    );
}

#[tokio::test]
async fn tokens_are_labelled_with_the_clients_name_for_itself() {
    let server = TestServer::start().await;
    server.register("alice").await;
    let password = |name: &str| Auth::Password {
        username: name.into(),
        password: PASSWORD.into(),
    };
    Client::connect_as(
        &server.url,
        password("alice"),
        "chat-tui 0.1 on laptop (profile work)",
    )
    .await
    .expect("login");
    let hostile = format!("evil\x1b[2J\nname {}", "x".repeat(500));
    Client::connect_as(&server.url, password("alice"), hostile)
        .await
        .expect("login");
    let listing = admin(&server, &["token", "list", "alice"], "");
    assert!(
        listing.contains("chat-tui 0.1 on laptop (profile work)"),
        "{listing}"
    );
    assert!(!listing.contains('\x1b'), "{listing:?}");
    assert!(
        !listing.contains(&"x".repeat(101)),
        "labels are capped: {listing}"
    );
}

#[tokio::test]
async fn audit_shows_earlier_texts_that_clients_never_see_again() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = alice
        .create_room(chat_protocol::RoomKind::Group, "ops", &["bob"])
        .await
        .unwrap()
        .id;
    let sent = bob
        .send_message(room, "b1", "db password: swordfish\nsecond line")
        .await
        .unwrap();
    bob.edit_message(room, sent.message_id, "db password: [redacted]")
        .await
        .unwrap();
    alice.delete_message(room, sent.message_id).await.unwrap();

    let by_title = admin(&server, &["audit", "ops"], "");
    let by_id = admin(&server, &["audit", &room.to_string()], "");
    assert_eq!(by_title, by_id);
    let lines: Vec<&str> = by_title.lines().collect();
    assert!(lines[0].contains("2 edit(s) and deletion(s)"), "{by_title}");
    assert!(
        lines[2].contains(" edit ") && lines[2].contains("bob"),
        "{by_title}"
    );
    assert!(
        lines[2].contains(r#""db password: swordfish\nsecond line""#),
        "one line per change, escaped: {by_title}"
    );
    assert!(lines[3].contains(" delete ") && lines[3].contains("alice"));
    assert!(lines[3].contains("[redacted]"));

    let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("--db")
        .arg(&server.db)
        .args(["audit", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room with id or title"));
}

#[tokio::test]
async fn a_logout_is_answered_before_its_close_however_soon_revocations_are_polled() {
    // The poller that closes the connections of tokens revoked by the admin CLI sees a
    // logout's revocation too; polled every millisecond, it once closed the connection with
    // "token revoked" before the logout's answer went out.
    let server = TestServer::start_with(chat_server::config::Config {
        revocation_poll_ms: 1,
        ..test_config()
    })
    .await;
    drop(server.register("alice").await);
    for round in 0..40 {
        let mut client = server.login("alice").await;
        client
            .logout()
            .await
            .unwrap_or_else(|e| panic!("round {round}: logout not answered: {e:?}"));
        assert_eq!(
            wait_closed(&mut client).await,
            Some(close_code::TOKEN_REVOKED)
        );
        assert_eq!(client.close_info().expect("close").reason, "logged out");
    }
}
