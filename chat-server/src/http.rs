//! The server's one port speaks HTTP/1.1 first: hyper parses every request, this module only
//! routes. A WebSocket upgrade is answered 101 and the socket goes back to the handshake for
//! `hello`; every other request is the HTTP API (`/api/v1/…`), a health check or the metrics.

mod api;
mod files;
mod ops;
mod reply;
mod upgrade;

use crate::server::Shared;
use crate::ws::{self, Ws};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::Method;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use reply::Response;
pub type Request = hyper::Request<Incoming>;

/// Largest request head (request line and headers) read, in bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What the requests of one connection share.
struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// Connections the peer's address has open when it is over its allowance.
    over_limit: Option<usize>,
    /// Set when an upgrade request was accepted: the socket, once hyper lets go of it.
    upgrade: Mutex<Option<OnUpgrade>>,
    /// Requests received on the connection so far.
    requests: AtomicU32,
    shutdown: CancellationToken,
}

impl Conn {
    /// A request body that sends nothing for this long (the handshake timeout, the time a
    /// request head has) is answered 408 and its connection closed: a client trickling a body
    /// cannot hold a connection, or an upload's temporary file, open.
    fn body_stall(&self) -> Duration {
        Duration::from_millis(self.shared.config.handshake_timeout_ms)
    }
}

/// A connection that upgraded to a WebSocket.
pub struct Upgraded {
    pub ws: Ws,
    /// The upgrade was the connection's first request (its deadline runs from the accept).
    pub first_request: bool,
}

/// Serve HTTP on `stream` until the peer closes, the server shuts down, or a request upgrades
/// to a WebSocket, which is returned. `over_limit`: connections the peer's address has open
/// when it has no allowance left (API requests are refused; an upgrade is refused after it,
/// with an error frame, by the handshake).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    over_limit: Option<usize>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> Option<Upgraded> {
    let head_timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let max_frame_bytes = shared.config.max_frame_bytes;
    let conn = Arc::new(Conn {
        shared,
        peer,
        over_limit,
        upgrade: Mutex::new(None),
        requests: AtomicU32::new(0),
        shutdown: shutdown.clone(),
    });
    let service = {
        let conn = conn.clone();
        service_fn(move |request: Request| {
            let conn = conn.clone();
            async move { Ok::<_, Infallible>(route(&conn, request).await) }
        })
    };
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        // Slow or silent clients: the head of each request (the first included) within the
        // handshake timeout, which also bounds idle keep-alive connections.
        .header_read_timeout(head_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(http);
    let served = tokio::select! {
        served = http.as_mut() => served,
        _ = shutdown.cancelled() => {
            // Finish the request in progress (long-polls return at shutdown), then close.
            http.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(ws::CLOSE_TIMEOUT, http.as_mut()).await;
            return None;
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, "http connection ended: {e}");
    }
    let on_upgrade = conn
        .upgrade
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()?;
    // Resolved already: the connection ended because it upgraded.
    let upgraded = on_upgrade.await.ok()?;
    let parts = upgraded.downcast::<TokioIo<TcpStream>>().ok()?;
    // Bytes the client sent right behind its upgrade request (a pipelined hello) were read
    // by hyper already; they are the start of the WebSocket stream.
    let ws = WebSocketStream::from_partially_read(
        parts.io.into_inner(),
        parts.read_buf.to_vec(),
        Role::Server,
        Some(ws::config(max_frame_bytes)),
    )
    .await;
    Some(Upgraded {
        ws,
        first_request: conn.requests.load(Ordering::Relaxed) == 1,
    })
}

async fn route(conn: &Conn, request: Request) -> Response {
    conn.requests.fetch_add(1, Ordering::Relaxed);
    let response = if upgrade::is_websocket(&request) {
        upgrade::accept(conn, request)
    } else {
        let path = request.uri().path().to_string();
        let read = matches!(*request.method(), Method::GET | Method::HEAD);
        match path.as_str() {
            "/healthz" if read => ops::healthz(),
            "/readyz" if read => ops::readyz(&conn.shared).await,
            "/metrics" if read => ops::metrics(conn).await,
            "/healthz" | "/readyz" | "/metrics" => reply::method_not_allowed("GET, HEAD"),
            "/" if read => upgrade::required(),
            _ if path.starts_with("/api/") => api::handle(conn, request).await,
            _ => reply::not_found(&path),
        }
    };
    conn.shared
        .metrics
        .http_answered(response.status().as_u16());
    response
}
