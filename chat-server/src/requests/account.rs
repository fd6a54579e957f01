//! Requests about the login itself.

use super::{store_error, Answer, Reply, RequestCtx};
use crate::store::{ops, StoreError};
use chat_protocol::{close_code, to_json, OkResponse, RequestId, ServerFrame};

/// `logout`: revoke the connection's token, answer, then close every connection using it.
/// The revocation is logged like the admin CLI's, so servers sharing the database close theirs.
pub fn logout(ctx: &RequestCtx, request_id: RequestId) -> Reply {
    let token_id = ctx.token_id;
    let hub = ctx.hub.clone();
    let job = ctx
        .store
        .writer
        .submit(move |w| ops::revoke_token(w.conn, token_id, w.now));
    Box::pin(async move {
        match job.await.unwrap_or(Err(StoreError::WriterGone)) {
            // Revoked now, or already (a retry after a lost answer): logged out either way.
            Ok(_) => Answer {
                frame: to_json(&ServerFrame::Ok(OkResponse { request_id })),
                effect: None,
                after: Some(Box::new(move || {
                    hub.close_token(token_id, close_code::TOKEN_REVOKED, "logged out");
                })),
            },
            Err(e) => store_error(request_id, &e).into(),
        }
    })
}
