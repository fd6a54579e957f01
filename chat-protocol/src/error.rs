//! Stable machine-readable error codes and WebSocket close codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request failed. Codes are stable; the accompanying message is for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is malformed, of an unknown type, or has invalid arguments.
    BadRequest,
    /// Authentication failed or is missing.
    Unauthorized,
    /// Authenticated, but not allowed to do this (not a member, wrong role).
    Forbidden,
    /// The room or user does not exist (or is not visible to the caller).
    NotFound,
    /// The request clashes with existing state (a taken username, a reused client id).
    Conflict,
    /// A text, title or frame exceeds the server's limits.
    TooLarge,
    /// Too many requests; slow down and retry.
    RateLimited,
    /// A search would cost the server more work than one request may: narrow it.
    TooBroad,
    /// The server failed; the request may be retried.
    Internal,
    /// A code this version of the crate does not know yet.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooBroad => "too_broad",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses when it ends a connection.
pub mod close_code {
    /// A normal close: the client said goodbye (the server echoes its code).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame where only text frames are allowed.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Broken WebSocket framing (RFC 6455): reserved bits, bad opcodes, unmasked frames.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The handshake failed or was not completed in time.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame larger than the server's frame limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (its `error` frame says what); reconnect later.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Authentication failed during the handshake.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The token this connection authenticated with was revoked.
    pub const TOKEN_REVOKED: u16 = 4003;
    /// The connection fell too far behind the events sent to it; resume by seq.
    pub const TOO_SLOW: u16 = 4008;
    /// Nothing was heard from the client (not even a pong) for the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4009;
    /// Too many: connections for this user or address, or failed logins; the error frame
    /// before it (if any) says when to retry.
    pub const TRY_LATER: u16 = 4029;
}
