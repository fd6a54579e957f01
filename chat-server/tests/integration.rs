//! Integration tests: real servers on 127.0.0.1:0 with temporary databases, spoken to over
//! real WebSocket connections with the protocol crate's client.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[allow(dead_code)] // not every helper in every test
mod http_client;
#[allow(dead_code)] // shared with the reliability binary, which uses all of it
mod raw;
mod support;

mod abuse;
mod admin_cli;
mod bad_input;
mod closing;
mod files;
mod http_api;
mod message_changes;
mod messaging;
mod persistence;
mod presence_typing;
mod promises;
mod receipts;
mod room_settings;
mod rooms;
mod search;
mod slow_clients;
mod threads_mentions;
mod welcome;
