//! The WebSocket opening handshake (RFC 6455 section 4.2) on hyper: check the request, answer
//! 101, and leave the socket for [`super::serve`] to hand back once hyper lets go of it.

use super::reply::{self, Response};
use super::{Conn, Request};
use chat_protocol::ErrorCode;
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Method, StatusCode, Version};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Whether the request asks for a WebSocket (it may still be a malformed ask).
pub fn is_websocket(request: &Request) -> bool {
    header_has(request, UPGRADE, "websocket")
}

fn header_has(request: &Request, name: hyper::header::HeaderName, token: &str) -> bool {
    request.headers().get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Answer an upgrade request: 101 and the socket kept for the session, or why not.
pub fn accept(conn: &Conn, mut request: Request) -> Response {
    if request.method() != Method::GET {
        return reply::method_not_allowed("GET");
    }
    if request.version() < Version::HTTP_11 {
        return reply::error(ErrorCode::BadRequest, "a WebSocket upgrade needs HTTP/1.1");
    }
    if !header_has(&request, CONNECTION, "upgrade") {
        return reply::error(
            ErrorCode::BadRequest,
            "a WebSocket upgrade needs \"Connection: Upgrade\"",
        );
    }
    if request
        .headers()
        .get(SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        let mut response = reply::json(
            StatusCode::UPGRADE_REQUIRED,
            crate::requests::error_frame(
                None,
                ErrorCode::BadRequest,
                "this server speaks WebSocket version 13",
            ),
        );
        response
            .headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = request.headers().get(SEC_WEBSOCKET_KEY) else {
        return reply::error(
            ErrorCode::BadRequest,
            "a WebSocket upgrade needs Sec-WebSocket-Key",
        );
    };
    let accept_key = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    *conn.upgrade.lock().unwrap_or_else(|e| e.into_inner()) = Some(on_upgrade);
    let mut response = hyper::Response::new(reply::full(""));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&accept_key) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// A plain request for the WebSocket's address: say what it is.
pub fn required() -> Response {
    let mut response = reply::text(
        StatusCode::UPGRADE_REQUIRED,
        "This is a chat-server. Connect with a WebSocket client (chat-tui, or any bot; see \
         PROTOCOL.md), or use the HTTP API under /api/v1.\n",
    );
    response
        .headers_mut()
        .insert(UPGRADE, HeaderValue::from_static("websocket"));
    response
}
