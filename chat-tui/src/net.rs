//! The network task: one per connection attempt. It connects, forwards pushed frames as
//! [`Msg::Server`], carries out requests, pings for the round-trip time, and reports the end of
//! the connection. All decisions (when to retry, what to resend) are `update`'s.

use crate::msg::{Msg, RequestError, Tag};
use chat_protocol::client::{Client, ClientError};
use chat_protocol::{close_code, Auth, ClientFrame, ErrorCode};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinSet;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A ping goes out this often (one at a time), for the round trip and to notice a server that
/// stopped answering: a hung process keeps its sockets open, so only silence gives it away.
const PING_EVERY: Duration = Duration::from_secs(5);
/// A ping unanswered after two rounds means the connection is dead.
const PING_DEAD_AFTER: Duration = Duration::from_secs(10);

/// Messages from a connection carry its generation, so those of an abandoned one are ignored.
pub type Envelope = (Option<u64>, Msg);

/// Handle to a running connection task; dropping it ends the connection.
pub struct Connection {
    pub generation: u64,
    requests: UnboundedSender<(Tag, ClientFrame)>,
    task: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Connect to `url` as `client_name` (the label of a token this login is issued).
    pub fn spawn(
        generation: u64,
        url: String,
        auth: Auth,
        client_name: String,
        msgs: UnboundedSender<Envelope>,
    ) -> Connection {
        let (requests, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(generation, url, auth, client_name, msgs, rx));
        Connection {
            generation,
            requests,
            task,
        }
    }

    pub fn request(&self, tag: Tag, frame: ClientFrame) {
        let _ = self.requests.send((tag, frame));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn request_error(e: &ClientError) -> RequestError {
    match e {
        ClientError::Server { code, message, .. } => RequestError {
            code: Some(*code),
            message: message.clone(),
        },
        other => RequestError {
            code: None,
            message: other.to_string(),
        },
    }
}

/// Whether the server refused who we are (bad credentials, revoked token).
fn is_auth_failure(e: &ClientError) -> bool {
    match e {
        ClientError::Server { code, .. } => *code == ErrorCode::Unauthorized,
        ClientError::Closed(Some(info)) => {
            info.code == close_code::UNAUTHORIZED || info.code == close_code::TOKEN_REVOKED
        }
        _ => false,
    }
}

async fn run(
    generation: u64,
    url: String,
    auth: Auth,
    client_name: String,
    msgs: UnboundedSender<Envelope>,
    mut commands: mpsc::UnboundedReceiver<(Tag, ClientFrame)>,
) {
    let send = |msg: Msg| {
        let _ = msgs.send((Some(generation), msg));
    };
    let client =
        match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect_as(&url, auth, client_name))
            .await
        {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                send(Msg::ConnectFailed {
                    auth: is_auth_failure(&e),
                    answered: matches!(e, ClientError::Server { .. }),
                    error: short_error(&e),
                });
                return;
            }
            Err(_) => {
                send(Msg::ConnectFailed {
                    error: "timed out".into(),
                    auth: false,
                    answered: false,
                });
                return;
            }
        };
    let (handle, mut events, welcome) = client.split();
    send(Msg::Connected(Box::new(welcome)));
    // Requests run concurrently; dropping the set (when this task ends) cancels them.
    let mut requests = JoinSet::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (pongs, mut pong) = mpsc::unbounded_channel::<u32>();
    let mut ping_started: Option<Instant> = None;
    let reason = loop {
        tokio::select! {
            frame = events.recv() => match frame {
                Some(frame) => send(Msg::Server(frame)),
                None => break handle.close_info().map_or_else(
                    || ("connection lost".to_string(), false),
                    |c| {
                        let auth = c.code == close_code::UNAUTHORIZED
                            || c.code == close_code::TOKEN_REVOKED;
                        (close_reason(c.code, &c.reason), auth)
                    },
                ),
            },
            command = commands.recv() => match command {
                Some((tag, frame)) => {
                    let handle = handle.clone();
                    let msgs = msgs.clone();
                    requests.spawn(async move {
                        let result = handle.request(frame).await.map_err(|e| request_error(&e));
                        let _ = msgs.send((Some(generation), Msg::Response { tag, result }));
                    });
                }
                None => {
                    handle.close();
                    return;
                }
            },
            Some(ms) = pong.recv() => {
                ping_started = None;
                send(Msg::Rtt(ms));
            }
            _ = ping.tick() => match ping_started {
                Some(started) if started.elapsed() >= PING_DEAD_AFTER => {
                    break ("no answer from the server".to_string(), false);
                }
                Some(_) => {}
                None => {
                    ping_started = Some(Instant::now());
                    send(Msg::PingSent);
                    let handle = handle.clone();
                    let pongs = pongs.clone();
                    requests.spawn(async move {
                        let started = Instant::now();
                        if server_answered(&handle.ping().await) {
                            let ms = started.elapsed().as_millis().min(u128::from(u32::MAX));
                            let _ = pongs.send(ms as u32);
                        }
                    });
                }
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
        }
    };
    send(Msg::Disconnected {
        reason: reason.0,
        auth: reason.1,
    });
}

/// Whether a ping was answered. A refusal is an answer too: a burst of sends can use up the
/// request allowance the ping counts against, and the server is alive all the same.
fn server_answered(ping: &Result<(), ClientError>) -> bool {
    matches!(ping, Ok(()) | Err(ClientError::Server { .. }))
}

fn close_reason(code: u16, reason: &str) -> String {
    let what = match code {
        close_code::GOING_AWAY => "server restarting",
        close_code::TOKEN_REVOKED => "token revoked",
        close_code::UNAUTHORIZED => "not authorised",
        close_code::TOO_SLOW => "connection too slow",
        close_code::IDLE_TIMEOUT => "idle timeout",
        _ => "closed by the server",
    };
    // The server's reason often says the same ("token revoked"): say it once.
    if reason.is_empty() || what.contains(reason) {
        what.to_string()
    } else {
        format!("{what}: {reason}")
    }
}

/// A connection error in a few words for the status bar.
fn short_error(e: &ClientError) -> String {
    match e {
        ClientError::Server { message, .. } => message.clone(),
        ClientError::WebSocket(e) => {
            let text = e.to_string();
            if text.contains("Connection refused") {
                "connection refused".into()
            } else {
                text
            }
        }
        ClientError::Closed(Some(info)) => close_reason(info.code, &info.reason),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_ping_still_shows_the_server_is_alive() {
        let limited = Err(ClientError::Server {
            code: ErrorCode::RateLimited,
            message: "too many requests".into(),
            retry_after_ms: Some(200),
        });
        assert!(server_answered(&limited));
        assert!(server_answered(&Ok(())));
        assert!(!server_answered(&Err(ClientError::Closed(None))));
    }

    #[test]
    fn a_close_reason_is_said_once() {
        assert_eq!(
            close_reason(close_code::TOKEN_REVOKED, "token revoked"),
            "token revoked"
        );
        assert_eq!(
            close_reason(close_code::TOKEN_REVOKED, "logged out"),
            "token revoked: logged out"
        );
        assert_eq!(
            close_reason(close_code::GOING_AWAY, ""),
            "server restarting"
        );
    }
}
