//! `search`: the query parsed and checked here, run on the read pool.

use super::{error_frame, reply, store_error, Reply, RequestCtx};

type Refusal = (ErrorCode, String);
use crate::search_query;
use crate::store::{queries, search, StoreError};
use chat_protocol::{to_json, ErrorCode, Search, SearchResults, ServerFrame};

/// Hits per page unless asked otherwise.
const DEFAULT_HITS: u32 = 20;
/// Deepest offset served: ranked results are for reading, not for dumping the archive.
const MAX_OFFSET: u32 = 1_000;
/// Characters a prefix needs before its `*`: `a*` stands for a good part of every word.
pub const MIN_PREFIX_CHARS: usize = 2;

pub fn search(ctx: &RequestCtx, r: Search) -> Result<Reply, Refusal> {
    let rid = r.request_id;
    if r.query.chars().count() > ctx.limits.max_message_chars {
        return Err((ErrorCode::TooLarge, "the query is too long".into()));
    }
    let mut query = search_query::parse(&r.query).map_err(|e| (ErrorCode::BadRequest, e))?;
    if let Some(short) = query
        .terms
        .iter()
        .find(|t| t.prefix && t.text.chars().count() < MIN_PREFIX_CHARS)
    {
        return Err((
            ErrorCode::TooBroad,
            format!(
                "{}*: a prefix needs at least {MIN_PREFIX_CHARS} characters before the *",
                short.text
            ),
        ));
    }
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
    let budget = std::time::Duration::from_millis(u64::from(ctx.limits.max_search_ms));
    Ok(reply(async move {
        let started = std::time::Instant::now();
        let found = store
            .read_bounded(budget, move |conn| {
                let room_id = match (room_id, room_name) {
                    (Some(id), _) => {
                        // As `in:ID`: a room one is not in is not found, public or not.
                        queries::member_room(conn, id, me).map_err(|e| match e {
                            StoreError::Refused(ErrorCode::Forbidden, _) => StoreError::refused(
                                ErrorCode::NotFound,
                                format!("room_id {id}: you are in no room with that id"),
                            ),
                            other => other,
                        })?;
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
            Err(StoreError::OverBudget(ms)) => error_frame(
                Some(rid),
                ErrorCode::TooBroad,
                format!(
                    "the search needed more than {ms} ms of the server's work; narrow it with more or longer words, in: or from:"
                ),
            ),
            Err(e) => store_error(rid, &e),
        }
    }))
}
