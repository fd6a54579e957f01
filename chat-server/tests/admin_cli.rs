//! The admin subcommands of the real binary, against a running server's database.

use crate::support::*;
use chat_protocol::{close_code, Auth, ErrorCode};
use std::io::Write;
use std::process::{Command, Stdio};

fn admin(server: &TestServer, args: &[&str], stdin: &str) -> String {
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
