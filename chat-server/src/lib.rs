//! The chat server as a library: the binary's `main` is a thin CLI over this, and the
//! integration tests start real servers through it.

pub mod address_slots;
pub mod admin;
pub mod auth;
pub mod config;
pub mod files;
mod handshake;
pub mod hasher;
mod http;
pub mod hub;
pub mod login_guard;
pub mod metrics;
pub mod outbox;
mod ratelimit;
pub mod requests;
pub mod search_fold;
pub mod search_query;
pub mod seed;
pub mod server;
mod session;
pub mod store;
mod waiters;
mod ws;

pub use config::Config;
pub use server::Server;
