//! The HTTP API: the WebSocket protocol's requests with a bearer token, JSON in and out, for
//! scripts and for clients that cannot keep a WebSocket open (PROTOCOL.md, "HTTP API").
//!
//! Every route builds the protocol's own request frame and runs it through
//! [`requests::dispatch`], so both paths share every check, limit and invariant; the answer is
//! the frame the WebSocket would have sent, with the error codes as HTTP statuses.

// A refusal is the response itself, built once on a path that ends the request: boxing it
// would buy nothing.
#![allow(clippy::result_large_err)]

use super::reply::{self, Response};
use super::{files, Conn, Request};
use crate::auth;
use crate::requests::{self, Answer, RequestCtx, WriteOrder};
use crate::store::queries;
use chat_protocol::{Auth, ClientFrame, ErrorCode, ErrorFrame, RoomId, Seq, UserRef};
use http_body_util::{BodyExt, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH};
use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::time::Duration;

type Fields = Map<String, Value>;

/// The header whose value becomes a send's `client_id`: a retried send is stored once, and
/// once only whichever way (HTTP or WebSocket) each attempt came.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Who a request comes from, by its bearer token.
struct Caller {
    user: UserRef,
    token_id: i64,
}

/// What a path under `/api/v1/` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint<'a> {
    Login,
    Rooms,
    Messages(&'a str),
    Events(&'a str),
    Search,
    Files,
    File(&'a str),
    Requests,
}

impl<'a> Endpoint<'a> {
    /// The endpoint of the path segments after `/api/v1/`.
    fn parse(route: &[&'a str]) -> Option<Self> {
        Some(match *route {
            ["login"] => Endpoint::Login,
            ["rooms"] => Endpoint::Rooms,
            ["rooms", room, "messages"] => Endpoint::Messages(room),
            ["rooms", room, "events"] => Endpoint::Events(room),
            ["search"] => Endpoint::Search,
            ["files"] => Endpoint::Files,
            // The name after the id is for the URL's reader (and a saved file's name).
            ["files", id] | ["files", id, _] => Endpoint::File(id),
            ["requests"] => Endpoint::Requests,
            _ => return None,
        })
    }

    /// The methods it answers, as the `Allow` header lists them.
    fn allow(self) -> &'static str {
        match self {
            Endpoint::Rooms | Endpoint::Events(_) | Endpoint::Search | Endpoint::File(_) => {
                "GET, HEAD"
            }
            Endpoint::Login | Endpoint::Messages(_) | Endpoint::Files | Endpoint::Requests => {
                "POST"
            }
        }
    }

    /// The query parameters it takes; any other is refused, so a typo is not silently ignored.
    fn parameters(self) -> &'static [&'static str] {
        match self {
            Endpoint::Rooms => &["after"],
            Endpoint::Events(_) => &["after", "before", "limit", "wait"],
            Endpoint::Search => &["q", "room_id", "from", "before", "after", "limit", "offset"],
            Endpoint::Files => &["name"],
            _ => &[],
        }
    }
}

pub async fn handle(conn: &Conn, request: Request) -> Response {
    if let Some(open) = conn.over_limit {
        return reply::rate_limited(
            format!("too many connections from your address ({open} open, the limit)"),
            Duration::from_secs(1),
        );
    }
    let path = request.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return reply::not_found(&path);
    };
    let route: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let Some(endpoint) = Endpoint::parse(&route) else {
        return reply::not_found(&path);
    };
    // The path and method are checked before the token: a wrong method is a 405 for
    // everyone, and says which method the path takes.
    let method = request.method().clone();
    let allow = endpoint.allow();
    if !allow.split(", ").any(|m| m == method.as_str()) {
        return reply::method_not_allowed(allow);
    }
    let query = match query_fields(request.uri().query(), endpoint.parameters()) {
        Ok(query) => query,
        Err(refused) => return refused,
    };
    if endpoint == Endpoint::Login {
        return login(conn, request).await;
    }
    let caller = match authenticate(conn, &request).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let shared = &conn.shared;
    if let Err(wait) = shared.http_buckets.try_take(caller.token_id) {
        shared.metrics.rate_limited.inc();
        let limits = &shared.limits;
        return reply::rate_limited(
            format!(
                "too many requests: at most {} per second after a burst of {}",
                limits.requests_per_second, limits.request_burst
            ),
            wait,
        );
    }
    match endpoint {
        Endpoint::Login => login(conn, request).await,
        Endpoint::Rooms => {
            let frame = query_frame(query, ClientFrame::ListRooms, &[]);
            run(conn, &caller, frame).await
        }
        Endpoint::Messages(room) => send(conn, &caller, room, request).await,
        Endpoint::Events(room) => events(conn, &caller, room, query).await,
        Endpoint::Search => search(conn, &caller, query).await,
        Endpoint::Files => {
            let name = query
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string);
            files::upload(conn, &caller.user, request, name.as_deref()).await
        }
        Endpoint::File(id) => {
            let head = method == Method::HEAD;
            files::download(conn, &caller.user, id, request.headers(), head).await
        }
        Endpoint::Requests => match read_json(conn, request).await {
            Ok(fields) => {
                let kind = match fields.get("type") {
                    Some(Value::String(kind)) => kind.clone(),
                    _ => {
                        return reply::error(
                            ErrorCode::BadRequest,
                            "give the request's \"type\", as in {\"type\":\"list_rooms\"} \
                             (PROTOCOL.md lists them)",
                        )
                    }
                };
                if kind == "hello" {
                    return reply::error(
                        ErrorCode::BadRequest,
                        "HTTP requests authenticate with their bearer token, not hello",
                    );
                }
                run(conn, &caller, frame_of(&kind, fields)).await
            }
            Err(refused) => refused,
        },
    }
}

/// `GET /api/v1/search?q=…` and the search request's other fields as parameters.
async fn search(conn: &Conn, caller: &Caller, mut query: Fields) -> Response {
    let Some(q) = query.remove("q") else {
        return reply::error(
            ErrorCode::BadRequest,
            "give the words to look for: /api/v1/search?q=brown%20fox",
        );
    };
    query.insert("query".into(), q);
    let frame = query_frame(query, ClientFrame::Search, &[("query", "q")]);
    run(conn, caller, frame).await
}

/// The caller of a request with `Authorization: Bearer TOKEN`.
async fn authenticate(conn: &Conn, request: &Request) -> Result<Caller, Response> {
    let header = request.headers().get(AUTHORIZATION);
    let Some(header) = header else {
        return Err(reply::error(
            ErrorCode::Unauthorized,
            "send your token as \"Authorization: Bearer TOKEN\" (POST /api/v1/login gives one)",
        ));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return Err(reply::error(
            ErrorCode::Unauthorized,
            "the Authorization header must be \"Bearer TOKEN\"",
        ));
    }
    // The WebSocket's own token check: the same lookup, the same refusal.
    let auth = Auth::Token {
        token: token.to_string(),
    };
    let address = conn.peer.ip();
    match crate::handshake::authenticate(&conn.shared, auth, String::new(), address).await {
        Ok(identity) => Ok(Caller {
            user: identity.user,
            token_id: identity.token_id,
        }),
        Err(e) => Err(auth_refused(e)),
    }
}

fn auth_refused(e: crate::handshake::AuthError) -> Response {
    match e.retry_after {
        Some(wait) => reply::rate_limited(e.message, wait),
        None => reply::error(e.code, e.message),
    }
}

/// `POST /api/v1/login` with `{"username","password"}` (and `client`, the token's label):
/// a new token, as a password `hello` gives, with the same throttling.
async fn login(conn: &Conn, request: Request) -> Response {
    let fields = match read_json(conn, request).await {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(username), Some(password)) = (text("username"), text("password")) else {
        return reply::error(
            ErrorCode::BadRequest,
            "give {\"username\": …, \"password\": …}",
        );
    };
    let label = crate::handshake::token_label(text("client").as_deref().or(Some("http")));
    let auth = Auth::Password { username, password };
    match crate::handshake::authenticate(&conn.shared, auth, label, conn.peer.ip()).await {
        Ok(identity) => reply::json(
            StatusCode::OK,
            serde_json::json!({ "token": identity.issued_token, "user": identity.user })
                .to_string(),
        ),
        Err(e) => auth_refused(e),
    }
}

/// `POST /api/v1/rooms/ROOM/messages` with `{"text": …}` (and `reply_to`, `action`).
async fn send(conn: &Conn, caller: &Caller, room: &str, request: Request) -> Response {
    let key = request.headers().get(IDEMPOTENCY_KEY).cloned();
    let mut fields = match read_json(conn, request).await {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let room_id = match room_id(room) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    fields.insert("room_id".into(), room_id.into());
    // `to_str` lets a TAB through; a client id is printable.
    let printable = |key: &str| key.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    match key.as_ref().map(HeaderValue::to_str) {
        Some(Ok(key)) if printable(key) => {
            fields.insert("client_id".into(), key.into());
        }
        Some(_) => {
            return reply::error(
                ErrorCode::BadRequest,
                "the Idempotency-Key header must be printable ASCII",
            )
        }
        // Without a key (or a client_id in the body) a retry is a second message.
        None if !fields.contains_key("client_id") => {
            let unique = format!("http-{}", auth::random_hex(16));
            fields.insert("client_id".into(), unique.into());
        }
        None => {}
    }
    run(conn, caller, frame_of("send_message", fields)).await
}

/// `GET /api/v1/rooms/ROOM/events?after=SEQ&wait=SECS&limit=N`: the events after `after`, or
/// if there are none yet, the first to come within `wait` seconds (a long-poll).
async fn events(conn: &Conn, caller: &Caller, room: &str, mut query: Fields) -> Response {
    let room_id = match room_id(room) {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let wait = match query.remove("wait") {
        None => 0,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
        Some(_) => {
            return reply::error(
                ErrorCode::BadRequest,
                "wait is a number of seconds (0 or more)",
            )
        }
    };
    let wait = Duration::from_secs(wait.min(conn.shared.config.long_poll_max_secs));
    let polling = query.contains_key("after") && !wait.is_zero();
    let after = query.get("after").and_then(Value::as_i64);
    query.insert("room_id".into(), room_id.into());
    let frame = match query_frame(query, ClientFrame::GetHistory, &[]) {
        Ok(frame) => frame,
        Err(refused) => return refused,
    };
    if !polling {
        return run(conn, caller, Ok(frame)).await;
    }
    {
        let waiting = conn.shared.hub.waiters.wait(room_id);
        let woken = waiting.notify().notified();
        tokio::pin!(woken);
        // Subscribed before the first look too: a revocation meanwhile ends the wait.
        let revoked = conn.shared.hub.revocation_of(caller.token_id);
        tokio::pin!(revoked);
        // Listening before the first look: an event committed in between still wakes it.
        woken.as_mut().enable();
        let (response, empty) = run_page(conn, caller, Ok(frame.clone())).await;
        if !empty {
            return response;
        }
        if let Some(refused) = past_the_end(conn, room_id, after).await {
            return refused;
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = &mut revoked => {}
            _ = tokio::time::sleep(wait) => return response,
            _ = conn.shutdown.cancelled() => return response,
        }
    }
    // The token may have been revoked while this request waited: what came since is not
    // for it (a WebSocket on that token is closed within a second, the same way).
    let token_id = caller.token_id;
    let live = conn
        .shared
        .store
        .read(move |c| queries::token_is_live(c, token_id))
        .await;
    if !matches!(live, Ok(true)) {
        return reply::error(
            ErrorCode::Unauthorized,
            "the token was revoked; log in again",
        );
    }
    run(conn, caller, Ok(frame)).await
}

/// Run a history request; true if it answered an empty page.
async fn run_page(
    conn: &Conn,
    caller: &Caller,
    frame: Result<ClientFrame, Response>,
) -> (Response, bool) {
    let answer = match execute(conn, caller, frame).await {
        Ok(answer) => answer,
        Err(refused) => return (refused, false),
    };
    let empty = answer.contains(r#""events":[]"#);
    (respond(answer), empty)
}

/// A long-poll from a seq the room has not reached would wait for events the client already
/// believes it has seen: say so (a client restored from a copy of another server's data, or
/// one that mixed up two rooms) instead of waiting.
async fn past_the_end(conn: &Conn, room_id: RoomId, after: Option<Seq>) -> Option<Response> {
    let after = after?;
    let room = conn
        .shared
        .store
        .read(move |c| queries::room(c, room_id))
        .await;
    let last = room.ok()??.last_seq;
    (after > last).then(|| {
        reply::error(
            ErrorCode::BadRequest,
            format!(
                "after={after} is past the room's last event (seq {last}); \
                 wait with after={last} for what comes next"
            ),
        )
    })
}

fn room_id(segment: &str) -> Result<RoomId, Response> {
    segment.parse().map_err(|_| {
        reply::error(
            ErrorCode::BadRequest,
            format!("\"{segment}\" is not a room id (a number, as in /api/v1/rooms/7/messages)"),
        )
    })
}

/// A request frame of `kind` from `fields`: the protocol's own decoding, so a bad field gets
/// the message the WebSocket would give.
fn frame_of(kind: &str, mut fields: Fields) -> Result<ClientFrame, Response> {
    fields.insert("type".into(), kind.into());
    fields.entry("request_id").or_insert(1.into());
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| reply::error(ErrorCode::BadRequest, format!("invalid request: {e}")))
}

/// A request frame from query parameters, decoded as `T`: a bad parameter is named in the
/// refusal (`renamed` maps a field back to the parameter it came from).
fn query_frame<T: DeserializeOwned>(
    fields: Fields,
    wrap: fn(T) -> ClientFrame,
    renamed: &[(&str, &str)],
) -> Result<ClientFrame, Response> {
    let mut fields = fields;
    fields.entry("request_id").or_insert(1.into());
    serde_path_to_error::deserialize::<_, T>(Value::Object(fields))
        .map(wrap)
        .map_err(|e| {
            let field = e.path().to_string();
            let parameter = renamed
                .iter()
                .find(|(from, _)| *from == field)
                .map_or(field.as_str(), |(_, to)| to);
            reply::error(
                ErrorCode::BadRequest,
                format!("query parameter {parameter}: {}", e.inner()),
            )
        })
}

/// Query parameters as JSON fields: numbers and booleans where they parse as such. Only the
/// `known` parameters are taken, each once.
fn query_fields(query: Option<&str>, known: &[&str]) -> Result<Fields, Response> {
    let mut fields = Fields::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !known.contains(&key.as_ref()) {
            let takes = match known {
                [] => "takes no query parameters".to_string(),
                _ => format!("takes {}", known.join(", ")),
            };
            return Err(reply::error(
                ErrorCode::BadRequest,
                format!("unknown query parameter {key}: this path {takes}"),
            ));
        }
        if fields.contains_key(key.as_ref()) {
            return Err(reply::error(
                ErrorCode::BadRequest,
                format!("query parameter {key} is given twice"),
            ));
        }
        let text_only = matches!(key.as_ref(), "q" | "query" | "from" | "name");
        let json = if text_only {
            Value::from(value.as_ref())
        } else if let Ok(n) = value.parse::<i64>() {
            Value::from(n)
        } else if let Ok(b) = value.parse::<bool>() {
            Value::from(b)
        } else {
            Value::from(value.as_ref())
        };
        fields.insert(key.into_owned(), json);
    }
    Ok(fields)
}

/// The body as a JSON object, within the WebSocket's frame size.
async fn read_json(conn: &Conn, request: Request) -> Result<Fields, Response> {
    let max = conn.shared.config.max_frame_bytes;
    let too_large = || {
        reply::error(
            ErrorCode::TooLarge,
            format!("a request body is at most {max} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    // The whole body within the stall time: it is at most one frame.
    let body = Limited::new(request.into_body(), max).collect();
    let stall = conn.body_stall();
    let body = match tokio::time::timeout(stall, body).await {
        Err(_) => return Err(reply::body_stalled(stall)),
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(reply::error(
                ErrorCode::BadRequest,
                format!("cannot read the request body: {e}"),
            ))
        }
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(reply::error(
            ErrorCode::BadRequest,
            "the body must be a JSON object",
        )),
        Err(e) => Err(reply::error(
            ErrorCode::BadRequest,
            format!("malformed JSON: {e}"),
        )),
    }
}

/// Run a request as the caller and answer with its frame.
async fn run(conn: &Conn, caller: &Caller, frame: Result<ClientFrame, Response>) -> Response {
    match execute(conn, caller, frame).await {
        Ok(answer) => respond(answer),
        Err(refused) => refused,
    }
}

/// Run a request through the WebSocket's dispatch: the serialised answer frame.
async fn execute(
    conn: &Conn,
    caller: &Caller,
    frame: Result<ClientFrame, Response>,
) -> Result<String, Response> {
    let frame = frame?;
    let shared = &conn.shared;
    let ctx = RequestCtx {
        store: shared.store.clone(),
        hub: shared.hub.clone(),
        limits: shared.limits.clone(),
        me: caller.user.clone(),
        // A connection id no session has: effects on the hub (typing) touch nobody else's.
        conn_id: shared.next_conn_id(),
        token_id: caller.token_id,
        order: WriteOrder::default(),
        metrics: shared.metrics.clone(),
    };
    let request_id = frame.request_id();
    let Answer {
        frame,
        effect,
        after,
    } = requests::dispatch(&ctx, frame, request_id).await;
    if let Some(effect) = effect {
        effect();
    }
    if let Some(after) = after {
        after();
    }
    Ok(frame)
}

/// The answer frame with its status: 200, or the error code's.
fn respond(frame: String) -> Response {
    if !frame.starts_with(r#"{"type":"error""#) {
        return reply::json(StatusCode::OK, frame);
    }
    let status = match serde_json::from_str::<ErrorFrame>(&frame) {
        Ok(ErrorFrame {
            code: ErrorCode::RateLimited,
            retry_after_ms: Some(ms),
            message,
            ..
        }) => {
            return reply::rate_limited(message, Duration::from_millis(ms));
        }
        Ok(error) => reply::status_of(error.code),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    reply::json(status, frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_become_typed_fields() {
        let known = ["q", "after", "wait", "from", "flag"];
        let query = Some("q=brown%20fox&after=41&wait=30&from=7&flag=true");
        let fields = query_fields(query, &known).unwrap();
        assert_eq!(fields["q"], "brown fox");
        assert_eq!(fields["after"], 41);
        assert_eq!(fields["from"], "7", "usernames stay text");
        assert_eq!(fields["flag"], true);
        assert!(
            query_fields(Some("aftr=3"), &known).is_err(),
            "a typo is refused"
        );
        assert!(query_fields(Some("after=3&after=4"), &known).is_err());
    }

    #[test]
    fn a_bad_query_parameter_is_named() {
        let mut fields = Fields::new();
        fields.insert("room_id".into(), 7.into());
        fields.insert("after".into(), "abc".into());
        let refused = query_frame(fields, ClientFrame::GetHistory, &[]).unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let mut fields = Fields::new();
        fields.insert("query".into(), 5.into());
        assert!(query_frame(fields, ClientFrame::Search, &[("query", "q")]).is_err());
    }

    #[test]
    fn paths_name_their_endpoints() {
        assert_eq!(
            Endpoint::parse(&["files", "2", "a.pdf"]),
            Some(Endpoint::File("2"))
        );
        assert_eq!(Endpoint::parse(&["files", "2", "x", "y"]), None);
        assert_eq!(Endpoint::parse(&["rooms", "7"]), None);
        assert_eq!(Endpoint::Search.allow(), "GET, HEAD");
    }

    #[test]
    fn frames_decode_with_the_protocols_messages() {
        let mut fields = Fields::new();
        fields.insert("room_id".into(), "seven".into());
        let refused = frame_of("get_history", fields).unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let frame = frame_of("list_rooms", Fields::new()).unwrap();
        assert!(matches!(frame, ClientFrame::ListRooms(_)));
    }
}
