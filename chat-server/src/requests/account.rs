//! Requests about the login itself.

use super::{check_text, store_error, Answer, Reply, RequestCtx};
use crate::store::{ops, StoreError};
use chat_protocol::{to_json, ErrorCode, OkResponse, RequestId, ServerFrame, SetAway};

/// Longest away message, in characters.
pub const MAX_AWAY_CHARS: usize = 200;

/// `set_away`: away with a message (one line, trimmed), or back with none or an empty one.
/// Contacts and the user's other devices get a `presence` frame; it ends with the last
/// connection.
pub fn set_away(ctx: &RequestCtx, r: SetAway) -> Result<Reply, (ErrorCode, String)> {
    let message = match r.message.as_deref() {
        Some(text) if text.chars().any(char::is_control) => {
            return Err((
                ErrorCode::BadRequest,
                "the away message is one line of text".into(),
            ))
        }
        Some(text) => Some(check_text("away message", text, MAX_AWAY_CHARS, false)?),
        None => None,
    }
    .filter(|m| !m.is_empty());
    let hub = ctx.hub.clone();
    let me = ctx.me.clone();
    let answer = to_json(&ServerFrame::Ok(OkResponse {
        request_id: r.request_id,
    }));
    Ok(Box::pin(async move {
        Answer {
            frame: answer,
            effect: Some(Box::new(move || hub.set_away(&me, message))),
            after: None,
        }
    }))
}

/// `logout`: revoke the connection's token, answer, then close every connection using it.
/// The revocation is logged like the admin CLI's, so servers sharing the database close theirs;
/// this server's revocation poller leaves the token to the logout, whose answer goes first.
pub fn logout(ctx: &RequestCtx, request_id: RequestId) -> Reply {
    let token_id = ctx.token_id;
    // Before the revocation commits, so the poller cannot see it first.
    let logging_out = ctx.hub.begin_logout(token_id);
    let job = ctx
        .store
        .writer
        .submit(move |w| ops::revoke_token(w.conn, token_id, w.now));
    Box::pin(async move {
        match job.await.unwrap_or(Err(StoreError::WriterGone)) {
            // Revoked now, or already (a retry after a lost answer): logged out either way.
            // Dropping the guard after the answer closes the token's connections.
            Ok(_) => Answer {
                frame: to_json(&ServerFrame::Ok(OkResponse { request_id })),
                effect: None,
                after: Some(Box::new(move || drop(logging_out))),
            },
            Err(e) => {
                logging_out.failed();
                store_error(request_id, &e).into()
            }
        }
    })
}
