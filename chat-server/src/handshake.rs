//! A new connection up to its session: the WebSocket upgrade and `hello`, both within one
//! deadline (`handshake_timeout_ms`), then authentication. A refused handshake gets an
//! `error` frame and a close code; a peer that closes first gets its Close frame answered.

use crate::address_slots::AddressSlot;
use crate::auth::{self, Identity};
use crate::hasher::HashError;
use crate::requests::{error_frame, rate_limited_frame};
use crate::server::Shared;
use crate::store::{ops, queries, StoreError};
use crate::ws::{self, ReadEnd, Ws};
use chat_protocol::{close_code, Auth, ClientFrame, ErrorCode, Hello, PROTOCOL_VERSION};
use futures_util::StreamExt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Why a handshake did not become a session.
#[derive(Debug)]
enum Refusal {
    /// Send this error frame (if any), then close with this code and reason.
    Close {
        error: Option<String>,
        code: u16,
        reason: String,
    },
    /// The peer closed first: answer its Close frame.
    PeerClosed,
    /// The socket is gone: nothing to say.
    Gone,
}

impl Refusal {
    fn close(code: u16, reason: impl Into<String>) -> Refusal {
        Refusal::Close {
            error: None,
            code,
            reason: reason.into(),
        }
    }

    /// An error frame with `message`, then a close with the same words.
    fn with_error(close: u16, error: ErrorCode, message: impl Into<String>) -> Refusal {
        let message = message.into();
        Refusal::Close {
            error: Some(error_frame(None, error, &message)),
            code: close,
            reason: message,
        }
    }
}

/// Why authentication failed: the error for the client, and how long to wait if throttled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl AuthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AuthError {
        AuthError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn throttled(message: impl Into<String>, retry_after: Duration) -> AuthError {
        AuthError {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    fn refusal(self) -> Refusal {
        let close = match self.code {
            ErrorCode::RateLimited => close_code::TRY_LATER,
            ErrorCode::Internal => close_code::POLICY_VIOLATION,
            _ => close_code::UNAUTHORIZED,
        };
        let error = match self.retry_after {
            Some(wait) => rate_limited_frame(None, &self.message, wait),
            None => error_frame(None, self.code, &self.message),
        };
        Refusal::Close {
            error: Some(error),
            code: close,
            reason: self.message,
        }
    }
}

impl From<(ErrorCode, String)> for AuthError {
    fn from((code, message): (ErrorCode, String)) -> AuthError {
        AuthError::new(code, message)
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> AuthError {
        e.to_client().into()
    }
}

/// Serve one TCP connection to the end. `slot` is its claim on its address's connection
/// allowance (Err: the address has the limit open already). Errors end this connection only.
pub async fn serve(
    stream: TcpStream,
    slot: Result<AddressSlot, usize>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let Ok(peer_addr) = stream.peer_addr() else {
        return;
    };
    let peer = Some(peer_addr);
    let _ = stream.set_nodelay(true);
    let config = &shared.config;
    let deadline = Instant::now() + Duration::from_millis(config.handshake_timeout_ms);
    let over_limit = slot.as_ref().err().copied();
    let upgrade = crate::http::serve(
        stream,
        peer_addr,
        over_limit,
        shared.clone(),
        shutdown.clone(),
    );
    let Some(upgraded) = upgrade.await else {
        return;
    };
    let mut ws = upgraded.ws;
    // The deadline runs from the accept for a connection that came to upgrade, and from the
    // upgrade for one that served HTTP requests first (a long-poll takes its time).
    let deadline = if upgraded.first_request {
        deadline
    } else {
        Instant::now() + Duration::from_millis(config.handshake_timeout_ms)
    };
    if shared.config.conformance_echo {
        return crate::session::run_echo(ws, shared, shutdown).await;
    }
    let slot = match slot {
        Ok(slot) => slot,
        Err(open) => {
            let refusal = Refusal::with_error(
                close_code::TRY_LATER,
                ErrorCode::RateLimited,
                format!("too many connections from your address ({open} open, the limit)"),
            );
            return refuse(&mut ws, peer, refusal).await;
        }
    };
    let hello = match timeout_at(deadline, read_hello(&mut ws)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(refusal)) => return refuse(&mut ws, peer, refusal).await,
        Err(_) => {
            let secs = config.handshake_timeout_ms as f64 / 1000.0;
            let refusal = Refusal::with_error(
                close_code::POLICY_VIOLATION,
                ErrorCode::BadRequest,
                format!("no hello within {secs} s of connecting"),
            );
            return refuse(&mut ws, peer, refusal).await;
        }
    };
    let label = token_label(hello.client.as_deref());
    let identity = match authenticate(&shared, hello.auth, label, slot.address()).await {
        Ok(identity) => identity,
        Err(e) => return refuse(&mut ws, peer, e.refusal()).await,
    };
    let metrics = shared.metrics.clone();
    let _counted = metrics.session_started(hello.client.as_deref());
    tracing::info!(?peer, user = %identity.user.username, "connected");
    crate::session::run(ws, identity, shared, shutdown).await;
    tracing::info!(?peer, "disconnected");
    drop(slot);
}

/// Longest client name kept as a token's label.
const MAX_LABEL_CHARS: usize = 100;

/// The client's name for itself, as a token label: one line, of bounded length.
pub(crate) fn token_label(client: Option<&str>) -> String {
    let label: String = client
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_LABEL_CHARS)
        .collect();
    match label.trim() {
        "" => "unnamed client".into(),
        trimmed => trimmed.to_string(),
    }
}

async fn refuse(ws: &mut Ws, peer: Option<SocketAddr>, refusal: Refusal) {
    match refusal {
        Refusal::Close {
            error,
            code,
            reason,
        } => {
            tracing::info!(?peer, code, "handshake refused: {reason}");
            ws::refuse(ws, error, code, &reason).await;
        }
        Refusal::PeerClosed => {
            if ws::answer_close(ws).await {
                ws::linger(ws.get_mut()).await;
            }
        }
        Refusal::Gone => {}
    }
}

/// Wait for the first text frame and check that it is a `hello` this server speaks.
async fn read_hello(ws: &mut Ws) -> Result<Hello, Refusal> {
    let text = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                return Err(Refusal::with_error(
                    close_code::UNSUPPORTED_DATA,
                    ErrorCode::BadRequest,
                    "binary frames are not supported; send JSON text frames",
                ))
            }
            Some(Ok(Message::Close(_))) => return Err(Refusal::PeerClosed),
            None => return Err(Refusal::Gone),
            Some(Err(e)) => {
                return Err(match ws::read_error(&e) {
                    ReadEnd::Violation(close_code::PROTOCOL_ERROR, reason) => {
                        // Broken framing: nothing more can be trusted to get through.
                        Refusal::close(close_code::PROTOCOL_ERROR, reason)
                    }
                    ReadEnd::Violation(code, reason) => {
                        let error = if code == close_code::TOO_BIG {
                            ErrorCode::TooLarge
                        } else {
                            ErrorCode::BadRequest
                        };
                        Refusal::with_error(code, error, reason)
                    }
                    ReadEnd::Gone => Refusal::Gone,
                });
            }
        }
    };
    let policy = close_code::POLICY_VIOLATION;
    let hello = match serde_json::from_str::<ClientFrame>(&text) {
        Ok(ClientFrame::Hello(hello)) => hello,
        Ok(_) => {
            return Err(Refusal::with_error(
                policy,
                ErrorCode::BadRequest,
                "the first frame must be hello",
            ))
        }
        Err(e) => {
            return Err(Refusal::with_error(
                policy,
                ErrorCode::BadRequest,
                format!("invalid hello: {e}"),
            ))
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Refusal::with_error(
            policy,
            ErrorCode::BadRequest,
            format!(
                "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                hello.protocol
            ),
        ));
    }
    Ok(hello)
}

/// "try again in …" for a wait, in the unit a person reads it in.
fn retry_in(wait: Duration) -> String {
    let secs = wait.as_secs_f64().ceil() as u64;
    if secs < 120 {
        format!("{} s", secs.max(1))
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

fn busy(e: HashError) -> AuthError {
    match e {
        HashError::Busy => AuthError::throttled(e.to_string(), Duration::from_secs(1)),
        HashError::Failed(_) => {
            tracing::error!("{e}");
            AuthError::new(ErrorCode::Internal, "password hashing failed; try again")
        }
    }
}

pub(crate) async fn authenticate(
    shared: &Shared,
    auth: Auth,
    label: String,
    address: IpAddr,
) -> Result<Identity, AuthError> {
    let store = &shared.store;
    let guard = &shared.login_guard;
    match auth {
        Auth::Token { token } => {
            let hash = auth::token_hash(&token);
            let found = store.read(move |c| queries::token_owner(c, &hash)).await?;
            let (user, token_id) = found.ok_or_else(|| {
                AuthError::new(
                    ErrorCode::Unauthorized,
                    "invalid or revoked token; log in again",
                )
            })?;
            Ok(Identity {
                user,
                token_id,
                issued_token: None,
            })
        }
        Auth::Password { username, password } => {
            if let Err(wait) = guard.check_login(&username, address) {
                return Err(AuthError::throttled(
                    format!("too many failed logins; try again in {}", retry_in(wait)),
                    wait,
                ));
            }
            let name = username.clone();
            let record = store.read(move |c| queries::login_record(c, &name)).await?;
            // Unknown users and bot accounts (no password) are checked against a dummy hash:
            // every wrong answer takes as long as a wrong password.
            let (user, stored) = match record {
                Some((user, stored)) => (Some(user), stored),
                None => (None, None),
            };
            let verified = shared.hasher.verify(password, stored).await.map_err(busy)?;
            match user {
                Some(user) if verified => {
                    guard.login_succeeded(&username, address);
                    issue_token(shared, user, label).await
                }
                _ => {
                    guard.login_failed(&username, address);
                    Err(AuthError::new(
                        ErrorCode::Unauthorized,
                        "wrong username or password",
                    ))
                }
            }
        }
        Auth::Register { username, password } => {
            if !shared.config.allow_registration {
                return Err(AuthError::new(
                    ErrorCode::Forbidden,
                    "registration is closed on this server; ask an admin for an account",
                ));
            }
            auth::check_username(&username)?;
            auth::check_password(&password)?;
            // A taken name costs no hash and no place in the address's allowance, which
            // counts accounts created.
            let name = username.clone();
            if store
                .read(move |c| queries::user_by_name(c, &name))
                .await?
                .is_some()
            {
                return Err(AuthError::new(
                    ErrorCode::Conflict,
                    format!("the username \"{username}\" is taken"),
                ));
            }
            if let Err(wait) = guard.take_registration(address) {
                return Err(AuthError::throttled(
                    format!(
                        "too many accounts created from your address; try again in {}",
                        retry_in(wait)
                    ),
                    wait,
                ));
            }
            // From here, a registration that creates no account gives its place back.
            let refund = |e: AuthError| {
                guard.refund_registration(address);
                e
            };
            let hash = shared
                .hasher
                .hash(password)
                .await
                .map_err(busy)
                .map_err(refund)?;
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
                .map_err(|e| refund(e.into()))?;
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
) -> Result<Identity, AuthError> {
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let user_id = user.id;
    let token_id = shared
        .store
        .writer
        .write(move |w| ops::insert_token(w.conn, user_id, &hash, &label, w.now))
        .await?;
    Ok(Identity {
        user,
        token_id,
        issued_token: Some(token),
    })
}
