//! HTTP responses: JSON bodies, and the protocol's error codes as HTTP statuses.

use crate::requests::{error_frame, rate_limited_frame};
use bytes::Bytes;
use chat_protocol::ErrorCode;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::StatusCode;
use std::time::Duration;

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Response = hyper::Response<Body>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response {
    let mut response = hyper::Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response {
    with_type(status, "application/json", body)
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// The HTTP status of a protocol error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooBroad => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An `error` frame, as the WebSocket sends it, with the code's status.
pub fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    let mut response = json(status_of(code), error_frame(None, code, message));
    if code == ErrorCode::Unauthorized {
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// 429 with `Retry-After` (whole seconds, at least 1) and the wait in milliseconds in the body.
pub fn rate_limited(message: impl Into<String>, wait: Duration) -> Response {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        rate_limited_frame(None, message, wait),
    );
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// 408: the request's body stopped coming. The connection closes after it.
pub fn body_stalled(stall: Duration) -> Response {
    let mut response = json(
        StatusCode::REQUEST_TIMEOUT,
        error_frame(
            None,
            ErrorCode::BadRequest,
            format!(
                "the request body stopped: nothing came for {} ms",
                stall.as_millis()
            ),
        ),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

pub fn not_found(path: &str) -> Response {
    error(
        ErrorCode::NotFound,
        format!("no such path: {path} (the HTTP API is under /api/v1; see PROTOCOL.md)"),
    )
}

pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = json(
        StatusCode::METHOD_NOT_ALLOWED,
        error_frame(
            None,
            ErrorCode::BadRequest,
            format!("this path answers {allow} only"),
        ),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_a_status() {
        assert_eq!(status_of(ErrorCode::TooLarge), 413);
        assert_eq!(status_of(ErrorCode::Conflict), 409);
        let limited = rate_limited("slow down", Duration::from_millis(1500));
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()[RETRY_AFTER], "2");
        let denied = error(ErrorCode::Unauthorized, "no token");
        assert_eq!(denied.headers()[hyper::header::WWW_AUTHENTICATE], "Bearer");
    }
}
