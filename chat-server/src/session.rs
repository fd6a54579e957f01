//! One authenticated connection: a reader loop and a writer task.
//!
//! The reader decodes frames, applies the rate limit and dispatches requests (answered in
//! order, up to [`MAX_IN_FLIGHT`] at once; each answer's effect on the hub, such as a typing
//! change, is applied in that same order). The writer drains the connection's [`Outbox`]
//! (responses and pushed events alike) and flushes once per batch, pings the client, and ends
//! the connection: it answers a client's Close frame, sends the server's own with its reason,
//! and resets a socket that does not take its Close frame within [`ws::CLOSE_TIMEOUT`].

use crate::auth::Identity;
use crate::hub::{ConnHandle, Frame};
use crate::outbox::{Closer, Ending, Outbox};
use crate::ratelimit::TokenBucket;
use crate::requests::{self, error_frame, rate_limited_frame, Answer, Reply, RequestCtx};
use crate::server::Shared;
use crate::store::{ops, queries};
use crate::ws::{self, ReadEnd, Ws};
use chat_protocol::{close_code, to_json, ClientFrame, ErrorCode, ServerFrame, Welcome};
use chat_protocol::{Millis, UserId, UserRef, WelcomeRooms, PROTOCOL_VERSION};
use futures_util::stream::{FuturesOrdered, SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

/// Requests of one connection being worked on at once; beyond that the reader pauses, which
/// pushes back on the client through TCP.
const MAX_IN_FLIGHT: usize = 64;
/// Most queued frames written before one flush, and taken from the outbox at once (one lock
/// per batch: the fan-out thread pushes into the same outbox). The writer's buffer for them
/// grows only as batches do, so an idle connection carries none of it.
const MAX_BATCH: usize = 256;

/// Run an authenticated connection until it ends.
pub async fn run(mut ws: Ws, identity: Identity, shared: Arc<Shared>, shutdown: CancellationToken) {
    let conn_id = shared.next_conn_id();
    let closer = Arc::new(Closer::default());
    let outbox = Outbox::new(shared.queue_limits, closer.clone());
    let me = identity.user.clone();
    // Register before reading the room list: an event committed in between is both counted in
    // last_seq and queued live, which a client tolerates (it ignores seqs it has); the other
    // order could lose it.
    let handle = ConnHandle {
        user_id: me.id,
        token_id: identity.token_id,
        outbox: outbox.clone(),
    };
    let max_conns = shared.config.max_connections_per_user;
    if let Err(open) = shared.hub.register(conn_id, handle, &me, max_conns) {
        let message = format!(
            "too many connections for {} ({open} open, the limit); close one first",
            me.username
        );
        let error = error_frame(None, ErrorCode::RateLimited, &message);
        ws::refuse(&mut ws, Some(error), close_code::TRY_LATER, &message).await;
        return;
    }

    let user_id = me.id;
    if !send_welcome(&mut ws, &shared, &identity, &me).await {
        end_presence(&shared, conn_id, me.id, crate::store::now_ms());
        return;
    }

    let ctx = RequestCtx {
        store: shared.store.clone(),
        hub: shared.hub.clone(),
        limits: shared.limits.clone(),
        me,
        conn_id,
        token_id: identity.token_id,
        order: requests::WriteOrder::default(),
        metrics: shared.metrics.clone(),
    };
    let config = &shared.config;
    let mut bucket = TokenBucket::new(config.requests_per_second, config.request_burst);
    let left_at = drive(ws, &outbox, &shared, &shutdown, |text| {
        on_text(&ctx, &mut bucket, text)
    })
    .await;
    // Unregistered only now, with the socket released: the closed outbox already refused
    // every frame pushed since the connection started ending.
    if outbox.closer().code() == Some(close_code::TOO_SLOW) {
        shared.metrics.evictions.inc();
    }
    end_presence(&shared, conn_id, user_id, left_at);
    outbox.clear();
}

/// Send the welcome and, when the caller has more rooms than one frame should carry, the
/// rest in `welcome_rooms` pages, before anything else; all within one deadline, since a
/// client that never reads must not hold the session here. False if the connection is over
/// (refused with a reason, or reset).
async fn send_welcome(ws: &mut Ws, shared: &Shared, identity: &Identity, me: &UserRef) -> bool {
    let user_id = me.id;
    let (mut presence, offline) = shared.hub.contacts(user_id);
    let deadline = Instant::now() + ws::CLOSE_TIMEOUT * 5;
    let read = shared
        .store
        .read(move |c| {
            let page = queries::room_summaries_page(c, user_id, 0, queries::ROOM_PAGE_BYTES)?;
            Ok((page, queries::offline_presence(c, &offline)?))
        })
        .await;
    let ((rooms, mut more), offline) = match read {
        Ok(read) => read,
        Err(e) => {
            refuse_welcome(ws, &e).await;
            return false;
        }
    };
    presence.extend(offline);
    let mut after = rooms.last().map_or(0, |r| r.id);
    let mut frame = to_json(&ServerFrame::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        user: me.clone(),
        token: identity.issued_token.clone(),
        limits: shared.limits.clone(),
        rooms,
        presence,
        more_rooms: more,
    }));
    loop {
        let sent = tokio::time::timeout_at(deadline, ws.send(Message::text(frame))).await;
        if !matches!(sent, Ok(Ok(()))) {
            tracing::debug!(user = %me.username, "welcome not delivered; ending the connection");
            ws::abort(ws.get_ref());
            return false;
        }
        if !more {
            return true;
        }
        let page = shared
            .store
            .read(move |c| {
                queries::room_summaries_page(c, user_id, after, queries::ROOM_PAGE_BYTES)
            })
            .await;
        let rooms;
        (rooms, more) = match page {
            Ok(page) => page,
            Err(e) => {
                refuse_welcome(ws, &e).await;
                return false;
            }
        };
        after = rooms.last().map_or(after, |r| r.id);
        frame = to_json(&ServerFrame::WelcomeRooms(WelcomeRooms { rooms, more }));
    }
}

/// The welcome could not be read: say so and close.
async fn refuse_welcome(ws: &mut Ws, e: &crate::store::StoreError) {
    let (code, message) = e.to_client();
    let error = error_frame(None, code, &message);
    ws::refuse(ws, Some(error), close_code::INTERNAL_ERROR, &message).await;
}

/// A connection of a server started with `--conformance-echo` (never on a chat server): no
/// hello, no requests; every text message comes back as it was sent, through the same
/// reader, outbox, writer and close handling as a chat session. The Autobahn suite drives
/// this, so it checks the framing, UTF-8, fragmentation and close handling of real sessions.
pub async fn run_echo(ws: Ws, shared: Arc<Shared>, shutdown: CancellationToken) {
    let outbox = Outbox::new(shared.queue_limits, Arc::default());
    drive(ws, &outbox, &shared, &shutdown, |text| {
        requests::ready(text.to_string())
    })
    .await;
    outbox.clear();
}

/// Run the reader here and the writer on its own task until the connection ends, then make
/// sure the socket is gone: reset if its goodbye did not go out in time. Returns when the
/// peer was last heard from (the reader's end).
async fn drive(
    ws: Ws,
    outbox: &Arc<Outbox>,
    shared: &Shared,
    shutdown: &CancellationToken,
    on_text: impl FnMut(&str) -> Reply,
) -> Millis {
    let (sink, mut stream) = ws.split();
    let ping_every = Duration::from_millis(shared.config.ping_interval_ms);
    let metrics = shared.metrics.clone();
    let mut writer = tokio::spawn(write_loop(sink, outbox.clone(), ping_every, metrics));
    read_loop(&mut stream, shared, outbox, shutdown, on_text).await;
    let left_at = crate::store::now_ms();
    // The writer ends once it has sent the close frame, answered the client's, or given up.
    let grace = Duration::from_millis(shared.config.shutdown_grace_ms).max(ws::CLOSE_TIMEOUT * 2);
    match timeout(grace, &mut writer).await {
        Ok(Ok(WriterEnd { sink, clean })) => {
            if let Ok(mut ws) = sink.reunite(stream) {
                if clean {
                    ws::linger(ws.get_mut()).await;
                } else {
                    ws::abort(ws.get_ref());
                }
            }
        }
        _ => writer.abort(),
    }
    left_at
}

/// Unregister the connection; if it was the user's last, mark them offline after the grace
/// period unless they come back, with the time they were last seen (`left_at`), not the end
/// of the grace period.
fn end_presence(shared: &Arc<Shared>, conn_id: u64, user_id: UserId, left_at: Millis) {
    if let Some(generation) = shared.hub.unregister(conn_id) {
        let shared = shared.clone();
        let grace = Duration::from_millis(shared.config.presence_grace_ms);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if shared.hub.expire_presence(user_id, generation, left_at) {
                let _ = shared
                    .store
                    .writer
                    .write(move |w| ops::set_last_seen(w, user_id, left_at))
                    .await;
            }
        });
    }
}

async fn read_loop(
    stream: &mut SplitStream<Ws>,
    shared: &Shared,
    outbox: &Outbox,
    shutdown: &CancellationToken,
    mut on_text: impl FnMut(&str) -> Reply,
) {
    let config = &shared.config;
    let closer = outbox.closer();
    let idle = Duration::from_millis(config.idle_timeout_ms);
    let mut deadline = Instant::now() + idle;
    let mut in_flight: FuturesOrdered<Reply> = FuturesOrdered::new();
    loop {
        tokio::select! {
            biased;
            _ = closer.closed() => break,
            _ = shutdown.cancelled() => {
                closer.close(close_code::GOING_AWAY, "server shutting down");
                break;
            }
            Some(answer) = in_flight.next(), if !in_flight.is_empty() => {
                let Answer { frame, effect, after } = answer;
                // Effects apply in request order, before the answer is queued: a client that
                // sends typing true then false back to back is seen to stop.
                if let Some(effect) = effect {
                    effect();
                }
                if !outbox.push(&Frame::from(frame)) {
                    break;
                }
                if let Some(after) = after {
                    after();
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                closer.close(close_code::IDLE_TIMEOUT, format!("nothing heard for {} s", idle.as_secs()));
                break;
            }
            incoming = stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                deadline = Instant::now() + idle;
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        in_flight.push_back(on_text(&text));
                    }
                    Some(Ok(Message::Binary(_))) => {
                        closer.close(close_code::UNSUPPORTED_DATA, "binary frames are not supported; send JSON text frames");
                        break;
                    }
                    Some(Ok(Message::Close(_))) => {
                        closer.peer_closed();
                        break;
                    }
                    None => {
                        closer.gone();
                        break;
                    }
                    Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
                    Some(Err(e)) => {
                        match ws::read_error(&e) {
                            ReadEnd::Violation(code, reason) => {
                                tracing::debug!(code, "protocol violation: {reason}");
                                closer.close(code, reason);
                            }
                            ReadEnd::Gone => closer.gone(),
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Decode and dispatch one text frame. Bad input gets an error frame and the connection lives on.
fn on_text(ctx: &RequestCtx, bucket: &mut TokenBucket, text: &str) -> Reply {
    ctx.metrics.frames_in.inc();
    let frame = serde_json::from_str::<ClientFrame>(text);
    // Frames without a typed request id (hello) may still carry one to echo.
    let request_id = || {
        frame
            .as_ref()
            .ok()
            .and_then(ClientFrame::request_id)
            .or_else(|| sniff_request_id(text))
    };
    if let Err(wait) = bucket.try_take() {
        let limits = &ctx.limits;
        let message = format!(
            "too many requests: at most {} per second after a burst of {}",
            limits.requests_per_second, limits.request_burst
        );
        ctx.metrics.rate_limited.inc();
        return requests::ready(rate_limited_frame(request_id(), message, wait));
    }
    match frame {
        Ok(frame) => {
            let request_id = frame.request_id().or_else(|| sniff_request_id(text));
            requests::dispatch(ctx, frame, request_id)
        }
        Err(e) => {
            let (request_id, message) = describe_bad_frame(text, &e);
            requests::ready(error_frame(request_id, ErrorCode::BadRequest, message))
        }
    }
}

fn sniff_request_id(text: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("request_id")?.as_u64()
}

/// A helpful message for a frame that did not decode, and its request id if one can be found.
fn describe_bad_frame(text: &str, error: &serde_json::Error) -> (Option<u64>, String) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return (None, format!("malformed JSON: {error}"));
    };
    let request_id = value.get("request_id").and_then(serde_json::Value::as_u64);
    let Some(object) = value.as_object() else {
        return (request_id, "a frame must be a JSON object".into());
    };
    let message = match object.get("type").and_then(serde_json::Value::as_str) {
        None => "missing \"type\": every frame names its type".to_string(),
        // serde names the unknown variant: the frame's own type, or a value inside a known
        // frame (a room kind, a role), which is an invalid frame, not an unknown one.
        Some(kind)
            if error
                .to_string()
                .starts_with(&format!("unknown variant `{kind}`")) =>
        {
            format!("unknown frame type \"{kind}\"")
        }
        Some(kind) => format!("invalid \"{kind}\" frame: {error}"),
    };
    (request_id, message)
}

/// What the writer hands back: the sink (to reset the socket through), and whether the
/// connection ended cleanly (its Close frame, or the reply to the client's, went out).
struct WriterEnd {
    sink: SplitSink<Ws, Message>,
    clean: bool,
}

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    outbox: Arc<Outbox>,
    ping_every: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) -> WriterEnd {
    let closer = outbox.closer().clone();
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    // Frames taken from the outbox and not yet handed to the socket.
    let mut batch: VecDeque<Frame> = VecDeque::new();
    loop {
        // Every write also waits for the closer: a peer that stopped reading keeps the socket
        // full, and an evicted connection must end now, not when the peer reads again.
        tokio::select! {
            biased;
            _ = closer.closed() => break,
            _ = outbox.next_batch(&mut batch, MAX_BATCH) => {
                metrics.frames_out.inc_by(batch.len() as u64);
                tokio::select! {
                    biased;
                    _ = closer.closed() => break,
                    written = write_batch(&mut sink, &mut batch) => if written.is_err() {
                        closer.gone();
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                tokio::select! {
                    biased;
                    _ = closer.closed() => break,
                    sent = sink.send(Message::Ping(Default::default())) => if sent.is_err() {
                        closer.gone();
                        break;
                    }
                }
            }
        }
    }
    let clean = finish(&mut sink, &outbox, &closer, &mut batch).await;
    WriterEnd { sink, clean }
}

/// End the connection as the closer says; true if the closing frame went out in time.
async fn finish(
    sink: &mut SplitSink<Ws, Message>,
    outbox: &Outbox,
    closer: &Closer,
    batch: &mut VecDeque<Frame>,
) -> bool {
    match closer.ending() {
        Some(Ending::PeerClosed) => ws::answer_close(sink).await,
        Some(Ending::Close(code, reason)) => {
            let goodbye = async {
                if *code == close_code::GOING_AWAY || *code == close_code::TOKEN_REVOKED {
                    // Shutting down, or logged out: deliver what is already queued (the answer
                    // to `logout`) before saying goodbye.
                    loop {
                        write_batch(sink, batch).await?;
                        if !outbox.take_batch(batch, MAX_BATCH) {
                            break;
                        }
                    }
                }
                let frame = ws::close_frame(*code, reason);
                sink.send(Message::Close(Some(frame))).await
            };
            let sent = matches!(timeout(ws::CLOSE_TIMEOUT, goodbye).await, Ok(Ok(())));
            // An evicted client stopped reading: its Close frame sits behind megabytes of
            // stale frames in the kernel's buffers, which a reset discards at once.
            sent && *code != close_code::TOO_SLOW
        }
        Some(Ending::Gone) | None => false,
    }
}

/// Write the batch, then flush once. A frame leaves `batch` only once the socket took it
/// (`feed` waits only before taking it), so a write cut short keeps the unsent frames.
async fn write_batch(
    sink: &mut SplitSink<Ws, Message>,
    batch: &mut VecDeque<Frame>,
) -> Result<(), WsError> {
    while let Some(frame) = batch.front() {
        sink.feed(Message::Text(frame.clone())).await?;
        batch.pop_front();
    }
    sink.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(text: &str) -> (Option<u64>, String) {
        let err = serde_json::from_str::<ClientFrame>(text).unwrap_err();
        describe_bad_frame(text, &err)
    }

    #[test]
    fn bad_frames_get_specific_messages() {
        assert!(describe("{not json").1.starts_with("malformed JSON"));
        assert_eq!(describe("[1,2]").1, "a frame must be a JSON object");
        assert_eq!(
            describe(r#"{"request_id":4}"#),
            (
                Some(4),
                "missing \"type\": every frame names its type".into()
            )
        );
        assert_eq!(
            describe(r#"{"type":"dance","request_id":5}"#),
            (Some(5), "unknown frame type \"dance\"".into())
        );
        let (id, msg) = describe(
            r#"{"type":"set_role","request_id":7,"room_id":1,"username":"b","role":"root"}"#,
        );
        assert_eq!(id, Some(7));
        assert!(
            msg.starts_with("invalid \"set_role\" frame: unknown variant `root`"),
            "{msg}"
        );
        let (id, msg) = describe(r#"{"type":"send_message","request_id":6,"room_id":"x"}"#);
        assert_eq!(id, Some(6));
        assert!(msg.starts_with("invalid \"send_message\" frame"), "{msg}");
    }
}
