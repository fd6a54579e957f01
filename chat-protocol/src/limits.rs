//! Limits the server enforces, announced to clients in the handshake.

use serde::{Deserialize, Serialize};

/// The server's limits, sent in `welcome` so clients can check input before sending it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest WebSocket frame (and message) the server accepts, in bytes.
    pub max_frame_bytes: usize,
    /// Longest message text, in characters (Unicode scalar values).
    pub max_message_chars: usize,
    /// Longest room title, in characters.
    pub max_title_chars: usize,
    /// Longest room topic, in characters.
    pub max_topic_chars: usize,
    /// Most events one history page returns.
    pub max_history_page: u32,
    /// Steady request rate per connection, per second.
    pub requests_per_second: u32,
    /// Requests a connection may send in a burst above the steady rate.
    pub request_burst: u32,
    /// How long a typing indicator lasts without a refresh, in milliseconds.
    pub typing_timeout_ms: u64,
    /// Longest reaction (an emoji or a short string), in characters.
    #[serde(default = "default_max_reaction_chars")]
    pub max_reaction_chars: usize,
    /// Largest file `POST /api/v1/files` takes, in bytes.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Most rooms one account may be in (direct rooms included). Joining, creating or being
    /// added to one more is refused, so nobody can bury an account under rooms.
    #[serde(default = "default_max_rooms_per_user")]
    pub max_rooms_per_user: u32,
    /// Most work one search may cost the server, in milliseconds: a query that needs more is
    /// refused with `too_broad` (narrow it with more or longer words, `in:` or `from:`).
    #[serde(default = "default_max_search_ms")]
    pub max_search_ms: u32,
}

fn default_max_reaction_chars() -> usize {
    32
}

fn default_max_rooms_per_user() -> u32 {
    1000
}

fn default_max_search_ms() -> u32 {
    1000
}

fn default_max_upload_bytes() -> u64 {
    50 * 1024 * 1024
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 64 * 1024,
            max_message_chars: 4000,
            max_title_chars: 100,
            max_topic_chars: 500,
            max_history_page: 100,
            requests_per_second: 20,
            request_burst: 50,
            typing_timeout_ms: 5000,
            max_reaction_chars: default_max_reaction_chars(),
            max_upload_bytes: default_max_upload_bytes(),
            max_rooms_per_user: default_max_rooms_per_user(),
            max_search_ms: default_max_search_ms(),
        }
    }
}
