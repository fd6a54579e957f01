//! File transfers over the server's HTTP API (PROTOCOL.md, "Files"): uploads streamed from
//! disk, downloads streamed to disk, each reporting its progress, and opening a downloaded
//! file with the desktop's program for it. This is the runtime's side; `update` decides.

use crate::pane::limit_size;
use bytes::Bytes;
use chat_protocol::Attachment;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Progress is reported at most this often (and at the end).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// A transfer that moves nothing for this long (connecting, sending, waiting for the answer,
/// receiving) has failed: a server that stops answering does not hold it forever.
const STALL: Duration = Duration::from_secs(30);
/// An error answer is read up to this many bytes (ours are a few hundred).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where the HTTP API of a WebSocket server address is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    /// `host:port` to connect to.
    pub address: String,
    /// The `Host` header.
    pub host: String,
    /// The address's path without a trailing `/` (a reverse proxy may serve the chat under one).
    pub prefix: String,
    /// How long a transfer may move nothing.
    pub stall: Duration,
}

impl ApiBase {
    /// The HTTP side of `ws://host:port/path`.
    pub fn of(server: &str) -> Result<ApiBase, String> {
        if server.starts_with("wss://") {
            return Err(
                "file transfers over wss:// need TLS, which chat-tui does not speak yet; \
                 use the HTTP API with curl (PROTOCOL.md, \"Files\")"
                    .into(),
            );
        }
        let uri: Uri = server
            .parse()
            .map_err(|e| format!("the server address {server:?}: {e}"))?;
        if uri.scheme_str() != Some("ws") {
            return Err(format!("the server address {server:?} is not ws://"));
        }
        // An IPv6 host keeps its brackets: `[::1]:7800`.
        let host = uri.host().ok_or("the server address has no host")?;
        let port = uri.port_u16().unwrap_or(80);
        Ok(ApiBase {
            address: format!("{host}:{port}"),
            host: uri.authority().map_or(host, |a| a.as_str()).to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
            stall: STALL,
        })
    }

    fn uri(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.prefix)
    }
}

/// How far a transfer is: bytes done of the total.
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

/// When a transfer last moved, for the watchdog in [`send`].
#[derive(Clone)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last movement.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// One request on a connection of its own, until its answer's head: failed if nothing moves
/// (`activity`, touched by the body as it is sent) for the stall time.
async fn send(
    base: &ApiBase,
    request: Request<RequestBody>,
    activity: &Activity,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let stall = base.stall;
    let stream = tokio::time::timeout(stall, tokio::net::TcpStream::connect(&base.address))
        .await
        .map_err(|_| format!("no answer from {} in {} s", base.address, stall.as_secs()))?
        .map_err(|e| format!("cannot reach {}: {e}", base.address))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("file transfer connection: {e}");
        }
    });
    activity.touch();
    let answer = sender.send_request(request);
    tokio::pin!(answer);
    let mut check = tokio::time::interval((stall / 4).max(Duration::from_millis(10)));
    loop {
        tokio::select! {
            answer = &mut answer => {
                return answer.map_err(|e| format!("the server closed the transfer: {e}"));
            }
            _ = check.tick() => {
                if activity.idle() >= stall {
                    return Err(format!("the server stopped answering ({} s)", stall.as_secs()));
                }
            }
        }
    }
}

/// A small answer body, whole: at most [`MAX_ANSWER_BYTES`], within the stall time.
async fn small_body(base: &ApiBase, body: hyper::body::Incoming) -> Result<Bytes, String> {
    let limited = http_body_util::Limited::new(body, MAX_ANSWER_BYTES).collect();
    match tokio::time::timeout(base.stall, limited).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) => Err(format!("the answer was cut off or too long: {e}")),
        Err(_) => Err("the server stopped answering".into()),
    }
}

/// The message of an error answer: the `error` frame's, else the status.
async fn refusal(base: &ApiBase, response: hyper::Response<hyper::body::Incoming>) -> String {
    let status = response.status();
    let body = small_body(base, response.into_body())
        .await
        .unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("the server answered {status}"))
}

/// Upload the file at `path` as `name`; the attachment to send it with.
pub async fn upload(
    base: &ApiBase,
    token: &str,
    path: &Path,
    name: &str,
    mut progress: Progress,
) -> Result<Attachment, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    progress(0, size);
    let mut sent = 0u64;
    let mut reported = Instant::now();
    let activity = Activity::new();
    let moved = activity.clone();
    // The server takes each chunk as it can: one taken is one more moment it is alive.
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).map(move |chunk| {
        let chunk = chunk?;
        moved.touch();
        sent += chunk.len() as u64;
        if reported.elapsed() >= PROGRESS_EVERY || sent == size {
            reported = Instant::now();
            progress(sent, size);
        }
        Ok::<_, std::io::Error>(Frame::data(chunk))
    });
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    let request = Request::builder()
        .method(Method::POST)
        .uri(base.uri(&format!("/api/v1/files?{query}")))
        .header(HOST, &base.host)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_LENGTH, size)
        .header(CONTENT_TYPE, media_type_of(name))
        .body(BodyExt::boxed_unsync(StreamBody::new(chunks)))
        .map_err(|e| format!("cannot build the upload: {e}"))?;
    let response = send(base, request, &activity).await?;
    if response.status() != StatusCode::CREATED {
        return Err(refusal(base, response).await);
    }
    let body = small_body(base, response.into_body()).await?;
    serde_json::from_slice(&body).map_err(|e| format!("an answer chat-tui does not read: {e}"))
}

/// Why a file could not be fetched: the server refused it (asking again will not help), or it
/// could not be had now (the server is down, the connection broke).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Refused(String),
    Failed(String),
}

impl FetchError {
    pub fn message(&self) -> &str {
        match self {
            FetchError::Refused(m) | FetchError::Failed(m) => m,
        }
    }
}

/// Ask for `file`: its body once the server answers OK.
async fn get_file(
    base: &ApiBase,
    token: &str,
    file: &Attachment,
) -> Result<hyper::body::Incoming, FetchError> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(base.uri(&format!("/api/v1/files/{}", file.id)))
        .header(HOST, &base.host)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(
            Empty::new()
                .map_err(|never: std::convert::Infallible| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| FetchError::Refused(format!("cannot build the download: {e}")))?;
    let response = send(base, request, &Activity::new())
        .await
        .map_err(FetchError::Failed)?;
    match response.status() {
        StatusCode::OK => Ok(response.into_body()),
        // A token being replaced, or too many requests: worth asking again later.
        StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {
            Err(FetchError::Failed(refusal(base, response).await))
        }
        status if status.is_client_error() => {
            Err(FetchError::Refused(refusal(base, response).await))
        }
        _ => Err(FetchError::Failed(refusal(base, response).await)),
    }
}

/// The next piece of a file's body, counted into `done`; none at its end. A body that stalls,
/// breaks, or runs past the file's size is an error.
async fn next_chunk(
    base: &ApiBase,
    body: &mut hyper::body::Incoming,
    done: &mut u64,
    size: u64,
) -> Result<Option<Bytes>, String> {
    loop {
        let frame = tokio::time::timeout(base.stall, body.frame())
            .await
            .map_err(|_| "the server stopped sending".to_string())?;
        let Some(frame) = frame else {
            return if *done == size {
                Ok(None)
            } else {
                Err(format!("the download ended after {done} of {size} bytes"))
            };
        };
        let frame = frame.map_err(|e| format!("the download was cut off: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        *done += data.len() as u64;
        // More than the file: not the file (and not to be let fill the disk or memory).
        if *done > size {
            return Err(format!("the server sent more than the file's {size} bytes"));
        }
        return Ok(Some(data));
    }
}

/// Download `file` whole into memory, for a preview; at most `max` bytes.
pub async fn fetch(
    base: &ApiBase,
    token: &str,
    file: &Attachment,
    max: u64,
) -> Result<Vec<u8>, FetchError> {
    if file.size > max {
        return Err(FetchError::Refused(format!(
            "{} is larger than {}",
            file.name,
            limit_size(max)
        )));
    }
    let mut body = get_file(base, token, file).await?;
    let mut bytes = Vec::with_capacity(file.size as usize);
    let mut done = 0;
    while let Some(data) = next_chunk(base, &mut body, &mut done, file.size)
        .await
        .map_err(FetchError::Failed)?
    {
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// Download `file` to `dest` (through a temporary file beside it, so a cut-off download never
/// looks complete).
pub async fn download(
    base: &ApiBase,
    token: &str,
    file: &Attachment,
    dest: &Path,
    mut progress: Progress,
) -> Result<(), String> {
    let mut body = get_file(base, token, file)
        .await
        .map_err(|e| e.message().to_string())?;
    let partial = dest.with_file_name(format!(
        ".{}.part",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    let written = async {
        let mut out = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        let mut done = 0u64;
        let mut reported = Instant::now();
        progress(0, file.size);
        while let Some(data) = next_chunk(base, &mut body, &mut done, file.size).await? {
            out.write_all(&data)
                .await
                .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            if reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                progress(done, file.size);
            }
        }
        out.sync_all()
            .await
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        progress(done, file.size);
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

/// The media type a file's name suggests, for the common kinds; the server recognises images
/// from their bytes whatever this says.
pub fn media_type_of(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// A path in `dir` for a file named `name` that does not exist yet: `name`, else
/// `stem (1).ext`, `stem (2).ext`, … as browsers name repeated downloads.
pub fn free_path(dir: &Path, name: &str) -> PathBuf {
    let candidate = dir.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|n| dir.join(format!("{stem} ({n}){extension}")))
        .find(|p| !p.exists())
        .unwrap_or(candidate)
}

/// A file name safe to create: no folders, no control or bidirectional characters, not
/// hidden, not empty.
pub fn safe_name(name: &str) -> String {
    let clean = chat_protocol::text::clean_file_name(name, 255);
    if clean.is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// Open `path` with the desktop's program for it (`xdg-open`, `open` on macOS), without
/// waiting for that program to finish; an error if the opener could not be started or failed.
pub async fn open_with_system(path: &Path) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = tokio::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {opener}: {e}"))?;
    // The opener hands the file to a program and exits; a failure shows in its status.
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{opener} failed ({status})")),
        Ok(Err(e)) => Err(format!("{opener}: {e}")),
        // Still running (some openers wait for the program): it started, which is enough.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_is_on_the_websocket_servers_port() {
        let base = ApiBase::of("ws://127.0.0.1:7800").unwrap();
        assert_eq!(base.address, "127.0.0.1:7800");
        assert_eq!(base.host, "127.0.0.1:7800");
        assert_eq!(base.uri("/api/v1/files"), "/api/v1/files");
        let proxied = ApiBase::of("ws://chat.example.com/chat/").unwrap();
        assert_eq!(proxied.address, "chat.example.com:80");
        assert_eq!(proxied.uri("/api/v1/files/3"), "/chat/api/v1/files/3");
        let v6 = ApiBase::of("ws://[::1]:7800").unwrap();
        assert_eq!(v6.address, "[::1]:7800");
        assert!(ApiBase::of("wss://chat.example.com")
            .unwrap_err()
            .contains("TLS"));
    }

    /// A server that accepts and reads the request but never answers.
    async fn silent_server() -> (ApiBase, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                held.push(tokio::spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut buf = vec![0u8; 64 * 1024];
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                }));
            }
        });
        let mut base = ApiBase::of(&url).unwrap();
        base.stall = Duration::from_millis(300);
        (base, task)
    }

    #[tokio::test]
    async fn a_server_that_stops_answering_ends_the_transfer() {
        let (base, server) = silent_server().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello").unwrap();
        let refused = upload(&base, "t", &path, "a.txt", Box::new(|_, _| {})).await;
        assert!(refused.unwrap_err().contains("stopped answering"));
        let file = Attachment {
            id: 1,
            name: "a.txt".into(),
            size: 5,
            media_type: "text/plain".into(),
            width: None,
            height: None,
        };
        let dest = dir.path().join("copy.txt");
        let refused = download(&base, "t", &file, &dest, Box::new(|_, _| {})).await;
        assert!(refused.unwrap_err().contains("stopped answering"));
        assert!(!dest.exists());
        server.abort();
    }

    #[test]
    fn saved_files_get_free_safe_names() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_path(dir.path(), "a.pdf"), dir.path().join("a.pdf"));
        std::fs::write(dir.path().join("a.pdf"), b"x").unwrap();
        std::fs::write(dir.path().join("a (1).pdf"), b"x").unwrap();
        assert_eq!(free_path(dir.path(), "a.pdf"), dir.path().join("a (2).pdf"));
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a\u{1b}[2Jb.txt"), "a[2Jb.txt");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name("\u{202E}txt.exe"), "txt.exe");
        assert_eq!(media_type_of("Report.PDF"), "application/pdf");
        assert_eq!(media_type_of("noext"), "application/octet-stream");
    }
}
