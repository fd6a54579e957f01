//! `search`: the query parsed and checked here, run on the read pool.

use super::{reply, store_error, Reply, RequestCtx};

type Refusal = (ErrorCode, String);
use crate::search_query;
use crate::store::{queries, search, StoreError};
use chat_protocol::{to_json, ErrorCode, Search, SearchResults, ServerFrame};

/// Hits per page unless asked otherwise.
const DEFAULT_HITS: u32 = 20;
/// Deepest offset served: ranked results are for reading, not for dumping the archive.
const MAX_OFFSET: u32 = 1_000;

pub fn search(ctx: &RequestCtx, r: Search) -> Result<Reply, Refusal> {
    let rid = r.request_id;
    if r.query.chars().count() > ctx.limits.max_message_chars {
        return Err((ErrorCode::TooLarge, "the query is too long".into()));
    }
    let mut query = search_query::parse(&r.query).map_err(|e| (ErrorCode::BadRequest, e))?;
    // The fields, where given, win over the same filters in the query.
    let room_name = query.room.take();
    let from = r.from.clone().or(query.from.take());
    let before = r.before.or(query.before);
    let after = r.after.or(query.after);
    let offset = r.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err((
            ErrorCode::BadRequest,
            format!("offset is at most {MAX_OFFSET}; narrow the search instead"),
        ));
    }
    let limit = r
        .limit
        .unwrap_or(DEFAULT_HITS)
        .clamp(1, ctx.limits.max_history_page);
    let store = ctx.store.clone();
    let me = ctx.me.id;
    let room_id = r.room_id;
    let metrics = ctx.metrics.clone();
    Ok(reply(async move {
        let started = std::time::Instant::now();
        let found = store
            .read(move |conn| {
                let room_id = match (room_id, room_name) {
                    (Some(id), _) => {
                        queries::member_room(conn, id, me)?;
                        Some(id)
                    }
                    (None, Some(name)) => Some(search::room_named(conn, me, &name)?),
                    (None, None) => None,
                };
                let sender_id = match from {
                    Some(name) => Some(queries::user_by_name_or_refuse(conn, &name)?.id),
                    None => None,
                };
                let s = search::Search {
                    query,
                    room_id,
                    sender_id,
                    before,
                    after,
                    limit,
                    offset,
                    now: crate::store::now_ms(),
                };
                // Counted first: the search then sees at least what was indexed by then, so
                // `pending: 0` promises every earlier write is in the results.
                let pending = search::pending(conn)?;
                let (hits, more) = search::search(conn, me, &s)?;
                Ok::<_, StoreError>((hits, more, pending))
            })
            .await;
        metrics
            .search_seconds
            .observe(started.elapsed().as_secs_f64());
        match found {
            Ok((hits, more, pending)) => to_json(&ServerFrame::SearchResults(SearchResults {
                request_id: rid,
                hits,
                more,
                pending,
            })),
            Err(e) => store_error(rid, &e),
        }
    }))
}
