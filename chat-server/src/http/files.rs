//! `POST /api/v1/files?name=NAME` (the body is the file) and `GET /api/v1/files/ID`, with
//! `Range` for resuming and seeking.

use super::reply::{self, Body, Response};
use super::Conn;
use crate::files::{self, UploadError, UPLOADS_PER_USER};
use crate::store::files::{self as file_rows, NewFile, StoredFile};
use crate::store::StoreError;
use bytes::Bytes;
use chat_protocol::{ErrorCode, FileId, UserRef};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use hyper::StatusCode;
use std::io::SeekFrom;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Longest file name kept.
const MAX_NAME_CHARS: usize = 255;

pub async fn upload(
    conn: &Conn,
    me: &UserRef,
    request: hyper::Request<Incoming>,
    name: Option<&str>,
) -> Response {
    let shared = &conn.shared;
    let max = shared.config.max_upload_bytes;
    let name = match name.map(clean_name) {
        Some(name) if !name.is_empty() => name,
        _ => {
            return reply::error(
                ErrorCode::BadRequest,
                "name the file: POST /api/v1/files?name=report.pdf",
            )
        }
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large(max);
    }
    let media_type = declared_media_type(request.headers());
    if media_type == "multipart/form-data" {
        return reply::error(
            ErrorCode::BadRequest,
            "send the file itself as the body (curl --data-binary @FILE), not a form (-F)",
        );
    }
    let Some(_slot) = shared.upload_slots.try_take(me.id) else {
        return reply::rate_limited(
            format!("at most {UPLOADS_PER_USER} uploads at once; wait for one to finish"),
            Duration::from_secs(1),
        );
    };
    let body = request.into_body().into_data_stream();
    let received = match shared.blobs.receive(body, max, conn.body_stall()).await {
        Ok(received) => received,
        Err(UploadError::TooLarge(max)) => return too_large(max),
        Err(UploadError::Stalled(stall)) => return reply::body_stalled(stall),
        Err(e @ UploadError::Body(_)) => return reply::error(ErrorCode::BadRequest, e.to_string()),
        Err(e @ UploadError::Io(_)) => {
            tracing::error!("upload failed: {e}");
            return reply::error(ErrorCode::Internal, "cannot store the file; try again");
        }
    };
    shared.metrics.upload_bytes.inc_by(received.size);
    let path = received.path.clone();
    let image = tokio::task::spawn_blocking(move || files::image_info(&path))
        .await
        .ok()
        .flatten();
    let (media_type, width, height) = match image {
        Some((image_type, width, height)) => (image_type.to_string(), Some(width), Some(height)),
        None => (media_type, None, None),
    };
    let file = NewFile {
        sha256: received.sha256,
        size: received.size,
        name,
        media_type,
        width,
        height,
    };
    let uploader = me.id;
    let stored = shared
        .store
        .writer
        .write(move |w| file_rows::insert_file(w.conn, uploader, file, w.now))
        .await;
    match stored {
        Ok(attachment) => reply::json(
            StatusCode::CREATED,
            serde_json::to_string(&attachment).unwrap_or_default(),
        ),
        Err(e) => store_error(&e),
    }
}

fn too_large(max: u64) -> Response {
    reply::error(
        ErrorCode::TooLarge,
        format!("the file is larger than the server's limit of {max} bytes"),
    )
}

fn store_error(e: &StoreError) -> Response {
    let (code, message) = e.to_client();
    reply::error(code, message)
}

/// A name without folders, control or bidirectional characters, of bounded length.
fn clean_name(name: &str) -> String {
    chat_protocol::text::clean_file_name(name, MAX_NAME_CHARS)
}

/// The uploader's Content-Type when it is a plain `type/subtype`, else octet-stream.
fn declared_media_type(headers: &HeaderMap) -> String {
    let declared = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let token = |part: &str| {
        !part.is_empty()
            && part.len() <= 64
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    match declared.split_once('/') {
        // curl's default for --data-binary: it says nothing about the file. An image type is
        // believed only when the bytes show an image (a client would try to draw it).
        _ if declared == "application/x-www-form-urlencoded" => "application/octet-stream".into(),
        Some(("image", _)) => "application/octet-stream".into(),
        Some((kind, sub)) if token(kind) && token(sub) => declared.clone(),
        _ => "application/octet-stream".into(),
    }
}

pub async fn download(
    conn: &Conn,
    me: &UserRef,
    id: &str,
    request_headers: &HeaderMap,
    head: bool,
) -> Response {
    let not_found = || reply::error(ErrorCode::NotFound, format!("no file {id} for you"));
    let Ok(file_id) = id.parse::<FileId>() else {
        return reply::error(
            ErrorCode::BadRequest,
            format!("\"{id}\" is not a file id (a number, as in /api/v1/files/12)"),
        );
    };
    let user_id = me.id;
    let found = conn
        .shared
        .store
        .read(move |c| file_rows::downloadable(c, user_id, file_id))
        .await;
    let file = match found {
        Ok(Some(file)) => file,
        Ok(None) => return not_found(),
        Err(e) => return store_error(&e),
    };
    let path = conn.shared.blobs.path_of(&file.sha256);
    let mut opened = match tokio::fs::File::open(&path).await {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(file_id, "file {} is missing: {e}", path.display());
            return not_found();
        }
    };
    let size = file.attachment.size;
    // A range is for the file the client has part of: with an If-Range naming another
    // version, the whole file.
    let etag = format!("\"{}\"", files::hex(&file.sha256));
    let if_range_differs = request_headers
        .get(hyper::header::IF_RANGE)
        .is_some_and(|v| v.as_bytes() != etag.as_bytes());
    let asked = request_headers.get(RANGE).and_then(|v| v.to_str().ok());
    let range = match asked.filter(|_| !if_range_differs) {
        None => None,
        Some(asked) => match parse_range(asked, size) {
            Range::Whole => None,
            Range::Part(start, end) => Some((start, end)),
            Range::Unsatisfiable => {
                let mut response = reply::error(
                    ErrorCode::BadRequest,
                    format!("the range {asked} is outside the file's {size} bytes"),
                );
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(CONTENT_RANGE, value);
                }
                return response;
            }
        },
    };
    let (start, len) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, size),
    };
    let body: Body = if head {
        reply::full(Bytes::new())
    } else {
        if start > 0 {
            if let Err(e) = opened.seek(SeekFrom::Start(start)).await {
                tracing::error!(file_id, "cannot seek in {}: {e}", path.display());
                return reply::error(ErrorCode::Internal, "cannot read the file");
            }
        }
        let stream = ReaderStream::new(opened.take(len)).map_ok(Frame::data);
        BodyExt::boxed(StreamBody::new(stream))
    };
    let mut response = hyper::Response::new(body);
    if let Some((start, end)) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
            response.headers_mut().insert(CONTENT_RANGE, value);
        }
    }
    describe(response.headers_mut(), &file, &etag, len);
    response
}

/// The headers of a download: its type, length, name, and that a browser must not run it.
fn describe(headers: &mut HeaderMap, file: &StoredFile, etag: &str, len: u64) {
    let a = &file.attachment;
    let media_type = HeaderValue::from_str(&a.media_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_TYPE, media_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, etag);
    }
    let disposition = if a.width.is_some() {
        "inline"
    } else {
        "attachment"
    };
    let encoded: String = form_urlencoded::byte_serialize(a.name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename*=UTF-8''{encoded}"))
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// No usable range (several ranges, or not bytes): the whole file, as RFC 9110 allows.
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range of RFC 9110 section 14.1.2: `a-b`, `a-` or `-n`. A header that is not
/// one well-formed range is ignored (the whole file), as the RFC asks; only a range starting
/// past the end is unsatisfiable.
fn parse_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Digits too many for a u64 are past any end.
    let number = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let last_byte = size.saturating_sub(1);
    let (start, end) = match (digits(first), digits(last)) {
        (false, true) if first.is_empty() => match number(last) {
            0 => return Range::Unsatisfiable,
            n => (size.saturating_sub(n), last_byte),
        },
        (true, false) if last.is_empty() => (number(first), last_byte),
        (true, true) if number(first) <= number(last) => {
            (number(first), number(last).min(last_byte))
        }
        _ => return Range::Whole,
    };
    if size == 0 || start >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=95-200", 100), Range::Part(95, 99));
        assert_eq!(parse_range("bytes=-500", 100), Range::Part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), Range::Whole);
        assert_eq!(parse_range("bytes=x-y", 100), Range::Whole);
        assert_eq!(parse_range("bytes=-", 100), Range::Whole);
        assert_eq!(parse_range("bytes=", 100), Range::Whole);
        assert_eq!(parse_range("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=0-18446744073709551616", 100),
            Range::Part(0, 99)
        );
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Whole);
        assert_eq!(parse_range("lines=1-2", 100), Range::Whole);
    }

    #[test]
    fn names_lose_folders_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\nb.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "");
        assert_eq!(clean_name("写真 🎉.png"), "写真 🎉.png");
        assert_eq!(
            clean_name("\u{202E}fdp.exe"),
            "fdp.exe",
            "no right-to-left override"
        );
    }
}
