//! chat-tui: the terminal client. Elm-style: [`update`] changes the [`model::Model`] in response
//! to a [`msg::Msg`] and returns effects; [`view`] draws the model; the runtime in [`app`]
//! connects the two to the terminal, the network and the local cache.

pub mod app;
pub mod backoff;
pub mod cache;
pub mod commands;
pub mod complete;
pub mod config;
pub mod editor;
pub mod graphics;
pub mod keymap;
pub mod layout;
pub mod model;
pub mod msg;
pub mod net;
pub mod outbox;
pub mod pane;
pub mod paths;
pub mod preview;
pub mod session;
pub mod terminal;
pub mod timeline;
pub mod transfer;
pub mod update;
pub mod view;
pub mod wrap;
