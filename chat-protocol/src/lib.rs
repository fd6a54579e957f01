//! The chat wire protocol: typed JSON frames shared by the server, the terminal client and bots.
//!
//! Every WebSocket text frame carries one JSON object tagged by `"type"`. Clients send
//! [`ClientFrame`]s and receive [`ServerFrame`]s; see PROTOCOL.md for every frame with an example.
//! This crate does no I/O unless the `client` feature is enabled.

mod changes;
#[cfg(feature = "client")]
pub mod client;
mod error;
mod frames;
mod limits;
mod model;
#[cfg(feature = "client")]
pub mod reconnect;
pub mod text;

pub use error::{close_code, ErrorCode};
pub use frames::*;
pub use limits::Limits;
pub use model::*;

/// The protocol version this crate speaks; the handshake names it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Database id of a user.
pub type UserId = i64;
/// Database id of a room.
pub type RoomId = i64;
/// An uploaded file.
pub type FileId = i64;
/// Server-assigned id of a message.
pub type MessageId = i64;
/// Per-room sequence number of a room event: 1, 2, 3... with no gaps.
pub type Seq = i64;
/// Client-chosen id that correlates a request with its response.
pub type RequestId = u64;
/// Milliseconds since the Unix epoch (UTC): the one time format on the wire.
pub type Millis = i64;
