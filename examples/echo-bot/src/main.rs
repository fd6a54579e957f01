//! echo-bot: answers `!ping` with `pong` and `!echo TEXT` with TEXT in every room it is in.
//!
//! Make it an account and a token, then run it (rooms add it like any user):
//!   chat-server --db chat.sqlite user add echo --bot
//!   CHAT_TOKEN=$(chat-server --db chat.sqlite token create echo) cargo run -p echo-bot
//!
//! It runs until its token is revoked: when the server restarts it reconnects (with backoff)
//! and answers what was said while it was away, each message once.
#![allow(clippy::print_stdout)] // a command-line bot reports on stdout
use anyhow::Context;
use chat_protocol::reconnect::Reconnecting;
use chat_protocol::{EventContent, ServerFrame};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("CHAT_URL").unwrap_or_else(|_| "ws://127.0.0.1:7800".into());
    let token = std::env::var("CHAT_TOKEN").context("set CHAT_TOKEN to the bot's token")?;
    let mut client = Reconnecting::connect(&url, &token, "echo-bot").await?;
    let me = client.me().clone();
    println!("{} is listening on {url}", me.username);

    loop {
        let ServerFrame::Event(event) = client.next_event().await? else {
            continue;
        };
        let EventContent::Message(chat_protocol::ChatMessage {
            message_id, text, ..
        }) = &event.content
        else {
            continue;
        };
        if event.sender.id == me.id {
            continue;
        }
        let reply = match text.strip_prefix("!echo ") {
            Some(rest) => rest.to_string(),
            None if text.trim() == "!ping" => "pong".to_string(),
            None => continue,
        };
        // Deriving the client id from the message makes a repeated reply impossible.
        client
            .send_message(event.room_id, &format!("re-{message_id}"), &reply)
            .await?;
    }
}
