//! An attacker's handshakes: password guessing, account enumeration, registration floods,
//! login floods and connection floods. Each is bounded, and real users keep getting in.

use crate::raw;
use crate::support::*;
use chat_protocol::client::ClientError;
use chat_protocol::{close_code, Auth, ErrorCode};
use std::time::Duration;

fn password(username: &str, password: &str) -> Auth {
    Auth::Password {
        username: username.into(),
        password: password.into(),
    }
}

fn register(username: &str) -> Auth {
    Auth::Register {
        username: username.into(),
        password: PASSWORD.into(),
    }
}

/// The error a refused handshake got.
async fn refused(server: &TestServer, auth: Auth) -> ClientError {
    match server.connect(auth).await {
        Ok(_) => panic!("the handshake was accepted"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn password_guessing_is_slowed_per_account_without_locking_out_tokens() {
    let server = TestServer::start_with(chat_server::Config {
        login_free_failures_per_account: 3,
        login_lockout_base_ms: 300,
        login_lockout_max_ms: 600,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let token = alice.welcome().token.clone().unwrap();
    drop(alice);

    for _ in 0..4 {
        let e = refused(&server, password("alice", "guess")).await;
        assert_eq!(e.code(), Some(ErrorCode::Unauthorized));
    }
    let e = refused(&server, password("alice", "guess")).await;
    assert_eq!(e.code(), Some(ErrorCode::RateLimited), "{e}");
    let wait = e.retry_after().expect("a retry hint");
    assert!(wait <= Duration::from_millis(300), "{wait:?}");
    let e = refused(&server, password("ALICE", PASSWORD)).await;
    assert_eq!(
        e.code(),
        Some(ErrorCode::RateLimited),
        "while locked even the right password waits"
    );

    let by_token = server.connect(Auth::Token { token }).await;
    assert!(by_token.is_ok(), "logged-in devices are not locked out");

    tokio::time::sleep(wait).await;
    assert!(
        server.connect(password("alice", PASSWORD)).await.is_ok(),
        "after the hint, the real user gets in"
    );
}

#[tokio::test]
async fn unknown_users_and_bots_cost_a_full_hash_like_a_wrong_password() {
    // One hashing thread and no queue: if unknown users are hashed, a burst of them finds the
    // hasher busy. Without the dummy hash they were answered at once, 18 times faster than a
    // wrong password, which told an attacker which names exist.
    let server = TestServer::start_with(chat_server::Config {
        password_hash_workers: 1,
        password_hash_queue: 1,
        login_free_failures_per_address: 1000,
        login_free_failures_per_account: 1000,
        ..test_config()
    })
    .await;
    drop(server.register("alice").await);
    chat_server::admin::create_user(&open_db(&server), "helper-bot", None).unwrap();
    for name in ["nobody", "helper-bot"] {
        let attempts = (0..6).map(|_| server.connect(password(name, "whatever pass")));
        let codes: Vec<_> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(code)
            .collect();
        assert!(
            codes.contains(&Some(ErrorCode::RateLimited)),
            "{name}: every attempt goes through the hasher: {codes:?}"
        );
        assert!(codes.contains(&Some(ErrorCode::Unauthorized)), "{codes:?}");
    }
}

#[tokio::test]
async fn registrations_per_address_are_limited() {
    let server = TestServer::start_with(chat_server::Config {
        registrations_per_address_per_hour: 3,
        ..test_config()
    })
    .await;
    drop(server.register("u1").await);
    for _ in 0..5 {
        let e = refused(&server, register("U1")).await;
        assert_eq!(e.code(), Some(ErrorCode::Conflict), "{e}");
    }
    for name in ["u2", "u3"] {
        drop(server.register(name).await);
    }
    // Refusals are not accounts: a taken name uses up nothing.
    for _ in 0..5 {
        let e = refused(&server, register("U1")).await;
        assert_eq!(e.code(), Some(ErrorCode::Conflict), "{e}");
    }
    let e = refused(&server, register("u4")).await;
    assert_eq!(e.code(), Some(ErrorCode::RateLimited), "{e}");
    let wait = e.retry_after().expect("a retry hint");
    assert!(wait > Duration::from_secs(60 * 19), "{wait:?}");
    assert!(
        server.connect(password("u1", PASSWORD)).await.is_ok(),
        "logins are not registrations"
    );
}

#[tokio::test]
async fn concurrent_logins_beyond_the_hashing_queue_are_refused_with_a_hint() {
    // One worker and one place: a hash takes tens of milliseconds, so a burst of 32 arriving
    // together finds the pool full even on a busy machine.
    let server = TestServer::start_with(chat_server::Config {
        password_hash_workers: 1,
        password_hash_queue: 1,
        ..test_config()
    })
    .await;
    drop(server.register("alice").await);
    let attempts = (0..32).map(|_| server.connect(password("alice", PASSWORD)));
    let results = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.code() == Some(ErrorCode::RateLimited))
        .collect();
    assert!(!busy.is_empty(), "32 at once over 1 worker and 1 place");
    assert!(busy.iter().all(|e| e.retry_after().is_some()));
    assert!(
        results.iter().filter(|r| r.is_ok()).count() >= 2,
        "the worker and the queue were served"
    );
}

#[tokio::test]
async fn connections_are_capped_per_user_and_per_address() {
    let server = TestServer::start_with(chat_server::Config {
        max_connections_per_user: 2,
        max_connections_per_address: 4,
        ..test_config()
    })
    .await;
    let alice = server.register("alice").await;
    let token = Auth::Token {
        token: alice.welcome().token.clone().unwrap(),
    };
    let second = server.connect(token.clone()).await.unwrap();
    let e = refused(&server, token.clone()).await;
    assert_eq!(e.code(), Some(ErrorCode::RateLimited), "{e}");
    drop(second);
    // The slot comes back once the server has seen the connection end.
    let mut third = None;
    for _ in 0..50 {
        if let Ok(c) = server.connect(token.clone()).await {
            third = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(third.is_some(), "a closed connection frees its place");

    // Two connections of alice are open; two more sockets reach the address cap of 4.
    let _a = raw::connect(&server.url, None).await;
    let _b = raw::connect(&server.url, None).await;
    let mut fifth = raw::connect(&server.url, None).await;
    let ending = raw::read_to_end(&mut fifth).await;
    assert_eq!(
        ending.close.as_ref().map(|c| c.0),
        Some(close_code::TRY_LATER)
    );
    assert!(
        ending.texts[0].contains("too many connections"),
        "{:?}",
        ending.texts
    );
}

#[tokio::test]
async fn registrations_refused_as_busy_do_not_use_up_the_allowance() {
    let server = TestServer::start_with(chat_server::Config {
        registrations_per_address_per_hour: 3,
        password_hash_workers: 1,
        password_hash_queue: 1,
        ..test_config()
    })
    .await;
    // A burst that finds the hashing pool busy: some are refused for that, not created.
    let burst = (0..8).map(|i| server.connect(register(&format!("burst{i}"))));
    let results = futures_util::future::join_all(burst).await;
    let mut created = results.iter().filter(|r| r.is_ok()).count();
    let busy = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.to_string().contains("busy"))
        .count();
    assert!(busy > 0, "the pool was busy for some of the burst");
    // One at a time, the address may create accounts until it has created three in all.
    for i in 0..10 {
        match server.connect(register(&format!("later{i}"))).await {
            Ok(_) => created += 1,
            Err(e) => {
                assert!(e.to_string().contains("too many accounts"), "{e}");
                break;
            }
        }
    }
    assert_eq!(
        created, 3,
        "the allowance counts accounts created, nothing else"
    );
}
