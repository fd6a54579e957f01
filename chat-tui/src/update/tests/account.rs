//! Logging out, and what the login screen shows afterwards.

use super::*;
use crate::msg::Tag;

fn run(model: &mut Model, command: &str) -> Vec<Effect> {
    type_text(model, command);
    update(model, key(KeyCode::Enter))
}

fn logout_request(fx: &[Effect]) -> bool {
    fx.iter().any(|e| {
        matches!(
            e,
            Effect::Request {
                tag: Tag::Logout,
                frame: ClientFrame::Logout(_)
            }
        )
    })
}

fn logout_answered(model: &mut Model) -> Vec<Effect> {
    update(
        model,
        Msg::Response {
            tag: Tag::Logout,
            result: Ok(ServerFrame::Ok(chat_protocol::OkResponse { request_id: 1 })),
        },
    )
}

fn closed_by_logout(model: &mut Model) {
    update(
        model,
        Msg::Disconnected {
            reason: "token revoked: logged out".into(),
            auth: true,
        },
    );
}

#[test]
fn logout_revokes_the_token_on_the_server_then_shows_the_login_form() {
    let mut model = connected_model();
    model.login.register = true;
    let fx = run(&mut model, "/logout");
    assert!(logout_request(&fx), "{fx:?}");
    assert_eq!(model.screen, Screen::Chat, "waits for the server's answer");

    let fx = logout_answered(&mut model);
    assert_eq!(model.screen, Screen::Login);
    assert!(
        !model.login.register,
        "back to logging in, not creating an account"
    );
    assert_eq!(model.login.focus, LoginField::Password);
    assert_eq!(model.login.username, "alice");
    assert_eq!(model.login.error, None);
    assert!(fx.contains(&Effect::ForgetSession));
    assert!(fx.contains(&Effect::Cache(CacheOp::Clear)));
    assert_eq!(model.token, None);
}

#[test]
fn the_servers_close_after_logout_is_the_logout_not_an_error() {
    let mut model = connected_model();
    run(&mut model, "/logout");
    // The close can overtake the answer: it ends the logout quietly.
    closed_by_logout(&mut model);
    assert_eq!(model.screen, Screen::Login);
    assert_eq!(model.login.error, None);
}

#[test]
fn the_servers_close_after_the_answer_to_logout_is_not_an_error_either() {
    let mut model = connected_model();
    run(&mut model, "/logout");
    logout_answered(&mut model);
    closed_by_logout(&mut model);
    assert_eq!(model.screen, Screen::Login);
    assert_eq!(model.login.error, None);
}

#[test]
fn logging_out_offline_says_the_token_was_not_revoked() {
    let mut model = connected_model();
    lose_connection(&mut model);
    let fx = run(&mut model, "/logout");
    assert!(!logout_request(&fx));
    assert_eq!(model.screen, Screen::Login);
    let error = model.login.error.clone().unwrap_or_default();
    assert!(error.contains("server did not confirm"), "{error}");
    assert!(fx.contains(&Effect::ForgetSession));
}

fn login_screen() -> Model {
    let mut model = Model::new(
        "ws://127.0.0.1:7800".into(),
        Some("alice".into()),
        Settings::default(),
        Rng::new(1),
    );
    start(&mut model);
    model
}

#[test]
fn the_login_form_says_what_the_server_answered_and_checks_the_address_first() {
    let mut model = login_screen();
    model.login.register = true;
    type_text(&mut model, "short");
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(fx.iter().any(|e| matches!(e, Effect::Connect { .. })));
    update(
        &mut model,
        Msg::ConnectFailed {
            error: "passwords are at least 8 characters".into(),
            auth: false,
            answered: true,
        },
    );
    assert_eq!(
        model.login.error.as_deref(),
        Some("passwords are at least 8 characters"),
        "a refusal is not a network failure"
    );
    update(
        &mut model,
        Msg::ConnectFailed {
            error: "connection refused".into(),
            auth: false,
            answered: false,
        },
    );
    assert_eq!(
        model.login.error.as_deref(),
        Some("cannot connect: connection refused")
    );
    // A malformed address is caught before connecting.
    model.login.server = "ws://127.0.0.1:78OO".into();
    let fx = update(&mut model, key(KeyCode::Enter));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Connect { .. })));
    let error = model.login.error.clone().unwrap_or_default();
    assert!(error.contains("port"), "{error}");
}

fn queue_offline(model: &mut Model, text: &str) {
    lose_connection(model);
    type_text(model, text);
    update(model, key(KeyCode::Enter));
    assert_eq!(model.outbox.waiting(), 1);
}

#[test]
fn logging_out_with_a_queued_message_keeps_it_for_the_next_login() {
    let mut model = connected_model();
    queue_offline(&mut model, "alice queued this while offline");
    run(&mut model, "/logout");
    let said = model
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(
        said.contains("stay on this device until alice logs in again"),
        "{said}"
    );
    let fx = run(&mut model, "/logout");
    assert_eq!(model.screen, Screen::Login);
    assert!(fx.contains(&Effect::Cache(CacheOp::ClearHistory)), "{fx:?}");
    assert!(
        !fx.contains(&Effect::Cache(CacheOp::Clear)),
        "the outbox on disk is not cleared"
    );
}

#[test]
fn an_account_cache_brings_back_its_queue_and_a_new_account_of_that_name_fails_it_visibly() {
    let mut model = login_screen();
    let queued = OutboxItem {
        client_id: "q1".into(),
        room_id: GENERAL,
        room_name: "#general".into(),
        text: "alice queued this while offline".into(),
        created: 1,
        state: OutboxState::Queued,
        reply_to: None,
        action: false,
        attachments: Vec::new(),
    };
    let cached = crate::cache::Cached {
        me: Some(user(1, "alice")),
        rooms: vec![(summary(GENERAL, RoomKind::Channel, "general", 3), vec![])],
        outbox: vec![queued.clone()],
        ..Default::default()
    };
    // The same account returns: its queue is sent once connected.
    let mut same = login_screen();
    update(&mut same, Msg::AccountLoaded(Box::new(cached.clone())));
    let fx = update(
        &mut same,
        Msg::Connected(Box::new(welcome(vec![summary(
            GENERAL,
            RoomKind::Channel,
            "general",
            3,
        )]))),
    );
    assert_eq!(
        sends(&fx),
        [("q1".to_string(), queued.text.clone())],
        "{fx:?}"
    );

    // Another account under the same name (the server's database was replaced): its rooms
    // are not ours and nothing goes to them, but the message stays in /unsent.
    update(&mut model, Msg::AccountLoaded(Box::new(cached)));
    let mut other = welcome(vec![summary(GENERAL, RoomKind::Channel, "other", 3)]);
    other.user = user(7, "alice");
    let fx = update(&mut model, Msg::Connected(Box::new(other)));
    assert!(sends(&fx).is_empty(), "{fx:?}");
    assert!(fx.contains(&Effect::Cache(CacheOp::ClearHistory)), "{fx:?}");
    assert!(!fx.contains(&Effect::Cache(CacheOp::Clear)));
    let failed: Vec<_> = model.outbox.failed().map(|i| i.text.clone()).collect();
    assert_eq!(failed, [queued.text]);
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Cache(CacheOp::OutboxFailed { client_id, .. }) if client_id == "q1"
    )));
}
