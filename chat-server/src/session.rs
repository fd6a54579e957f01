//! One client connection: the handshake, then a reader loop and a writer task.
//!
//! The reader decodes frames, applies the rate limit and dispatches requests (answered in
//! order, up to [`MAX_IN_FLIGHT`] at once). The writer drains the connection's bounded queue
//! (responses and pushed events alike) and flushes once per batch, pings the client, and sends
//! the close frame with the reason when the connection is ended by anyone.

use crate::auth::{self, Identity};
use crate::hub::{Closer, ConnHandle, Frame};
use crate::requests::{self, error_frame, Reply, RequestCtx};
use crate::server::Shared;
use crate::store::{ops, queries, StoreError};
use chat_protocol::{
    close_code, to_json, Auth, ClientFrame, ErrorCode, ServerFrame, Welcome, PROTOCOL_VERSION,
};
use futures_util::stream::{FuturesOrdered, SplitSink};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Requests of one connection being worked on at once; beyond that the reader pauses, which
/// pushes back on the client through TCP.
const MAX_IN_FLIGHT: usize = 64;
/// Most queued frames written before one flush.
const MAX_BATCH: usize = 256;

type Ws = WebSocketStream<TcpStream>;

/// Why a handshake failed: close code and reason.
struct Refusal(u16, String);

pub fn websocket_config(max_frame_bytes: usize) -> WebSocketConfig {
    // Chat frames are small: a few KiB of buffers per connection, not tungstenite's 128 KiB
    // defaults, keeps idle connections cheap.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

/// Serve one TCP connection to the end. Errors end this connection only.
pub async fn serve(stream: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let config = &shared.config;
    let handshake_timeout = Duration::from_millis(config.handshake_timeout_ms);
    let accepted = timeout(
        handshake_timeout,
        tokio_tungstenite::accept_async_with_config(
            stream,
            Some(websocket_config(config.max_frame_bytes)),
        ),
    )
    .await;
    let mut ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(?peer, "websocket upgrade failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(?peer, "websocket upgrade timed out");
            return;
        }
    };
    let identity = match timeout(handshake_timeout, handshake(&mut ws, &shared)).await {
        Ok(Ok(identity)) => identity,
        Ok(Err(Refusal(code, reason))) => {
            tracing::info!(?peer, code, "handshake refused: {reason}");
            close(&mut ws, code, &reason).await;
            return;
        }
        Err(_) => {
            close(
                &mut ws,
                close_code::POLICY_VIOLATION,
                "no hello within the handshake timeout",
            )
            .await;
            return;
        }
    };
    tracing::info!(?peer, user = %identity.user.username, "connected");
    run_session(ws, identity, shared, shutdown).await;
    tracing::info!(?peer, "disconnected");
}

async fn close(ws: &mut Ws, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}

async fn send_error(ws: &mut Ws, code: ErrorCode, message: &str) {
    let _ = ws
        .send(Message::text(error_frame(None, code, message)))
        .await;
}

/// Wait for `hello`, authenticate, and refuse with an error frame and a close code on failure.
async fn handshake(ws: &mut Ws, shared: &Shared) -> Result<Identity, Refusal> {
    let text = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                return Err(Refusal(
                    close_code::UNSUPPORTED_DATA,
                    "binary frames are not supported".into(),
                ))
            }
            _ => {
                return Err(Refusal(
                    close_code::POLICY_VIOLATION,
                    "connection ended before hello".into(),
                ))
            }
        }
    };
    let hello = match serde_json::from_str::<ClientFrame>(&text) {
        Ok(ClientFrame::Hello(hello)) => hello,
        Ok(_) => {
            let msg = "the first frame must be hello";
            send_error(ws, ErrorCode::BadRequest, msg).await;
            return Err(Refusal(close_code::POLICY_VIOLATION, msg.into()));
        }
        Err(e) => {
            let msg = format!("invalid hello: {e}");
            send_error(ws, ErrorCode::BadRequest, &msg).await;
            return Err(Refusal(close_code::POLICY_VIOLATION, msg));
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        let msg = format!(
            "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
            hello.protocol
        );
        send_error(ws, ErrorCode::BadRequest, &msg).await;
        return Err(Refusal(close_code::POLICY_VIOLATION, msg));
    }
    let label = hello.client.unwrap_or_else(|| "unnamed client".into());
    match authenticate(shared, hello.auth, label).await {
        Ok(identity) => Ok(identity),
        Err((code, message)) => {
            send_error(ws, code, &message).await;
            let close = if code == ErrorCode::Internal {
                close_code::POLICY_VIOLATION
            } else {
                close_code::UNAUTHORIZED
            };
            Err(Refusal(close, message))
        }
    }
}

async fn authenticate(
    shared: &Shared,
    auth: Auth,
    label: String,
) -> Result<Identity, (ErrorCode, String)> {
    let store = &shared.store;
    let wrong = || {
        (
            ErrorCode::Unauthorized,
            "wrong username or password".to_string(),
        )
    };
    match auth {
        Auth::Token { token } => {
            let hash = auth::token_hash(&token);
            let found = store
                .read(move |c| queries::token_owner(c, &hash))
                .await
                .map_err(|e| e.to_client())?;
            let (user, token_id) = found.ok_or((
                ErrorCode::Unauthorized,
                "invalid or revoked token; log in again".to_string(),
            ))?;
            Ok(Identity {
                user,
                token_id,
                issued_token: None,
            })
        }
        Auth::Password { username, password } => {
            let name = username.clone();
            let record = store
                .read(move |c| queries::login_record(c, &name))
                .await
                .map_err(|e| e.to_client())?;
            let (user, hash) = record.ok_or_else(wrong)?;
            let hash = hash.ok_or_else(wrong)?;
            let verified =
                tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
                    .await
                    .unwrap_or(false);
            if !verified {
                return Err(wrong());
            }
            issue_token(shared, user, label).await
        }
        Auth::Register { username, password } => {
            if !shared.config.allow_registration {
                return Err((
                    ErrorCode::Forbidden,
                    "registration is closed on this server; ask an admin for an account".into(),
                ));
            }
            auth::check_username(&username)?;
            auth::check_password(&password)?;
            let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
                .await
                .map_err(|_| (ErrorCode::Internal, "password hashing failed".to_string()))?
                .map_err(|_| (ErrorCode::Internal, "password hashing failed".to_string()))?;
            let token = auth::new_token();
            let token_hash = auth::token_hash(&token);
            let (user, token_id) = store
                .writer
                .write(move |w| {
                    let user = ops::insert_user(w.conn, &username, Some(&hash), w.now)?;
                    let token_id = ops::insert_token(w.conn, user.id, &token_hash, &label, w.now)?;
                    Ok::<_, StoreError>((user, token_id))
                })
                .await
                .map_err(|e| e.to_client())?;
            Ok(Identity {
                user,
                token_id,
                issued_token: Some(token),
            })
        }
    }
}

async fn issue_token(
    shared: &Shared,
    user: chat_protocol::UserRef,
    label: String,
) -> Result<Identity, (ErrorCode, String)> {
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let user_id = user.id;
    let token_id = shared
        .store
        .writer
        .write(move |w| ops::insert_token(w.conn, user_id, &hash, &label, w.now))
        .await
        .map_err(|e| e.to_client())?;
    Ok(Identity {
        user,
        token_id,
        issued_token: Some(token),
    })
}

async fn run_session(
    mut ws: Ws,
    identity: Identity,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let conn_id = shared.next_conn_id();
    let (queue, queue_rx) = mpsc::channel::<Frame>(shared.config.outbound_queue_frames);
    let closer = Arc::new(Closer::default());
    let me = identity.user.clone();
    // Register before reading the room list: an event committed in between is both counted in
    // last_seq and queued live, which a client tolerates (it ignores seqs it has); the other
    // order could lose it.
    let handle = ConnHandle {
        user_id: me.id,
        token_id: identity.token_id,
        queue: queue.clone(),
        closer: closer.clone(),
    };
    shared.hub.register(conn_id, handle, &me);

    let user_id = me.id;
    let rooms = shared
        .store
        .read(move |c| queries::room_summaries(c, user_id))
        .await;
    let welcome_sent = match rooms {
        Ok(rooms) => {
            let welcome = ServerFrame::Welcome(Welcome {
                protocol: PROTOCOL_VERSION,
                user: me.clone(),
                token: identity.issued_token.clone(),
                limits: shared.limits.clone(),
                rooms,
                presence: shared.hub.online_contacts(me.id),
            });
            ws.send(Message::text(to_json(&welcome))).await.is_ok()
        }
        Err(e) => {
            let (code, message) = e.to_client();
            send_error(&mut ws, code, &message).await;
            false
        }
    };
    if !welcome_sent {
        end_presence(&shared, conn_id, me.id);
        return;
    }

    let (sink, stream) = ws.split();
    let ping_every = Duration::from_millis(shared.config.ping_interval_ms);
    let writer = tokio::spawn(write_loop(sink, queue_rx, closer.clone(), ping_every));
    let ctx = RequestCtx {
        store: shared.store.clone(),
        hub: shared.hub.clone(),
        limits: shared.limits.clone(),
        me,
        conn_id,
    };
    read_loop(stream, &ctx, &shared, &queue, &closer, &shutdown).await;

    end_presence(&shared, conn_id, ctx.me.id);
    drop(queue);
    drop(ctx);
    // The writer ends once it has sent the close frame (or the queue is closed).
    let _ = timeout(
        Duration::from_millis(shared.config.shutdown_grace_ms),
        writer,
    )
    .await;
}

/// Unregister the connection; if it was the user's last, mark them offline after the grace
/// period unless they come back, and record when they were last seen.
fn end_presence(shared: &Arc<Shared>, conn_id: u64, user_id: i64) {
    if let Some(generation) = shared.hub.unregister(conn_id) {
        let shared = shared.clone();
        let grace = Duration::from_millis(shared.config.presence_grace_ms);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let now = crate::store::now_ms();
            if shared.hub.expire_presence(user_id, generation, now) {
                let _ = shared
                    .store
                    .writer
                    .write(move |w| ops::set_last_seen(w, user_id, now))
                    .await;
            }
        });
    }
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Ws>,
    ctx: &RequestCtx,
    shared: &Shared,
    queue: &mpsc::Sender<Frame>,
    closer: &Closer,
    shutdown: &CancellationToken,
) {
    let config = &shared.config;
    let mut bucket =
        crate::ratelimit::TokenBucket::new(config.requests_per_second, config.request_burst);
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
            Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                tokio::select! {
                    sent = queue.send(Frame::from(response)) => if sent.is_err() { break },
                    _ = closer.closed() => break,
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
                        in_flight.push_back(on_text(ctx, &mut bucket, &text));
                    }
                    Some(Ok(Message::Binary(_))) => {
                        closer.close(close_code::UNSUPPORTED_DATA, "binary frames are not supported; send JSON text frames");
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                        closer.close(close_code::TOO_BIG, format!("frame of {size} bytes exceeds the limit of {max_size}"));
                        break;
                    }
                    Some(Err(WsError::Capacity(e))) => {
                        closer.close(close_code::TOO_BIG, format!("frame too large: {e}"));
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::debug!("read failed: {e}");
                        break;
                    }
                }
            }
        }
    }
}

/// Decode and dispatch one text frame. Bad input gets an error frame and the connection lives on.
fn on_text(ctx: &RequestCtx, bucket: &mut crate::ratelimit::TokenBucket, text: &str) -> Reply {
    let frame = serde_json::from_str::<ClientFrame>(text);
    if !bucket.try_take() {
        let request_id = frame
            .as_ref()
            .ok()
            .and_then(ClientFrame::request_id)
            .or_else(|| sniff_request_id(text));
        let limits = &ctx.limits;
        let message = format!(
            "too many requests: at most {} per second after a burst of {}",
            limits.requests_per_second, limits.request_burst
        );
        return Box::pin(std::future::ready(error_frame(
            request_id,
            ErrorCode::RateLimited,
            message,
        )));
    }
    match frame {
        Ok(frame) => requests::dispatch(ctx, frame),
        Err(e) => {
            let (request_id, message) = describe_bad_frame(text, &e);
            Box::pin(std::future::ready(error_frame(
                request_id,
                ErrorCode::BadRequest,
                message,
            )))
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
        Some(kind) if error.to_string().starts_with("unknown variant") => {
            format!("unknown frame type \"{kind}\"")
        }
        Some(kind) => format!("invalid \"{kind}\" frame: {error}"),
    };
    (request_id, message)
}

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut queue: mpsc::Receiver<Frame>,
    closer: Arc<Closer>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    loop {
        tokio::select! {
            biased;
            _ = closer.closed() => break,
            frame = queue.recv() => {
                let Some(frame) = frame else { break };
                if write_batch(&mut sink, &mut queue, frame).await.is_err() {
                    closer.close(close_code::GOING_AWAY, "write failed");
                    return;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    closer.close(close_code::GOING_AWAY, "write failed");
                    return;
                }
            }
        }
    }
    let (code, reason) = closer.reason().cloned().unwrap_or((1000, String::new()));
    let finish = async {
        if code == close_code::GOING_AWAY {
            // Shutting down: deliver what is already queued before saying goodbye.
            while let Ok(frame) = queue.try_recv() {
                if write_batch(&mut sink, &mut queue, frame).await.is_err() {
                    return;
                }
            }
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    };
    let _ = timeout(Duration::from_secs(2), finish).await;
}

/// Write `first` and whatever else is queued (up to a cap), then flush once.
async fn write_batch(
    sink: &mut SplitSink<Ws, Message>,
    queue: &mut mpsc::Receiver<Frame>,
    first: Frame,
) -> Result<(), WsError> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..MAX_BATCH {
        match queue.try_recv() {
            Ok(frame) => sink.feed(Message::Text(frame)).await?,
            Err(_) => break,
        }
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
        let (id, msg) = describe(r#"{"type":"send_message","request_id":6,"room_id":"x"}"#);
        assert_eq!(id, Some(6));
        assert!(msg.starts_with("invalid \"send_message\" frame"), "{msg}");
    }
}
