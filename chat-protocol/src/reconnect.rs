//! A connection for long-running programs (bots): it comes back by itself.
//!
//! When the server restarts or the network drops, [`Reconnecting`] connects again with backoff
//! (0.5 s doubling to 30 s, with jitter) and catches up by seq on every room, so the program
//! sees each event once, including those sent while it was away. Only a refused login (a
//! revoked token) ends it.

use crate::client::{Client, ClientError, ClientHandle};
use crate::{close_code, Auth, ErrorCode, MessageSent, RoomId, Seq, ServerFrame, UserRef};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Events per history request while catching up.
const PAGE: u32 = 200;
/// A room first seen after a reconnect is caught up on its newest events only.
const NEW_ROOM_EVENTS: Seq = 100;

/// A client that reconnects and catches up; see the module documentation.
pub struct Reconnecting {
    url: String,
    auth: Auth,
    client_name: String,
    client: Client,
    /// The newest seq handed to the program, per room.
    seen: HashMap<RoomId, Seq>,
    /// Events fetched while catching up, handed out before live ones.
    backlog: VecDeque<ServerFrame>,
}

impl Reconnecting {
    /// Connect (retrying until the server answers) with a token: a password login would issue a
    /// new token at every reconnection. Events from before this call are not replayed.
    pub async fn connect(
        url: &str,
        token: &str,
        client_name: &str,
    ) -> Result<Reconnecting, ClientError> {
        let auth = Auth::Token {
            token: token.to_string(),
        };
        let client = connect_with_backoff(url, &auth, client_name).await?;
        let seen = client
            .welcome()
            .rooms
            .iter()
            .map(|r| (r.id, r.last_seq))
            .collect();
        Ok(Reconnecting {
            url: url.to_string(),
            auth,
            client_name: client_name.to_string(),
            client,
            seen,
            backlog: VecDeque::new(),
        })
    }

    /// Who the program is logged in as.
    pub fn me(&self) -> &UserRef {
        &self.client.welcome().user
    }

    /// The current connection's request side (it changes after a reconnection).
    pub fn handle(&self) -> &ClientHandle {
        &self.client
    }

    /// The next pushed frame, reconnecting and catching up as needed. Room events come once
    /// each, in seq order per room. Fails only when the server refuses the token.
    pub async fn next_event(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            if let Some(frame) = self.backlog.pop_front() {
                return Ok(frame);
            }
            match self.client.next_event().await {
                Some(ServerFrame::Event(event)) => {
                    let seen = self.seen.entry(event.room_id).or_insert(0);
                    if event.seq <= *seen {
                        continue;
                    }
                    *seen = event.seq;
                    return Ok(ServerFrame::Event(event));
                }
                Some(frame) => return Ok(frame),
                None => self.reconnect().await?,
            }
        }
    }

    /// Post `text`; if the connection drops on the way, the same client id is sent again on
    /// the next one, so the message is stored exactly once.
    pub async fn send_message(
        &mut self,
        room_id: RoomId,
        client_id: &str,
        text: &str,
    ) -> Result<MessageSent, ClientError> {
        loop {
            match self.client.send_message(room_id, client_id, text).await {
                Err(e) if is_connection_loss(&e) => self.reconnect().await?,
                other => return other,
            }
        }
    }

    async fn reconnect(&mut self) -> Result<(), ClientError> {
        if let Some(close) = self.client.close_info() {
            if close.code == close_code::TOKEN_REVOKED || close.code == close_code::UNAUTHORIZED {
                return Err(ClientError::Closed(Some(close)));
            }
        }
        tracing::info!("connection lost; reconnecting to {}", self.url);
        let client = connect_with_backoff(&self.url, &self.auth, &self.client_name).await?;
        let rooms: Vec<(RoomId, Seq)> = client
            .welcome()
            .rooms
            .iter()
            .map(|r| (r.id, r.last_seq))
            .collect();
        self.client = client;
        for (room_id, last_seq) in rooms {
            let from = *self
                .seen
                .entry(room_id)
                .or_insert_with(|| (last_seq - NEW_ROOM_EVENTS).max(0));
            if last_seq > from {
                self.catch_up(room_id, from).await?;
            }
        }
        Ok(())
    }

    /// Fetch what a room said after `after` into the backlog.
    async fn catch_up(&mut self, room_id: RoomId, mut after: Seq) -> Result<(), ClientError> {
        loop {
            let page = match self.client.history_after(room_id, after, PAGE).await {
                Ok(page) => page,
                // Lost again: the next reconnection starts from what was fetched.
                Err(e) if is_connection_loss(&e) => return Ok(()),
                // Left or removed meanwhile: nothing to catch up on.
                Err(ClientError::Server { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            for event in page.events {
                after = after.max(event.seq);
                self.seen.insert(room_id, after);
                self.backlog.push_back(ServerFrame::Event(event));
            }
            if !page.more {
                return Ok(());
            }
        }
    }
}

fn is_connection_loss(e: &ClientError) -> bool {
    matches!(e, ClientError::Closed(_) | ClientError::WebSocket(_))
}

/// Connect, waiting and retrying while the server is unreachable or busy; a refused token
/// is an error at once.
async fn connect_with_backoff(
    url: &str,
    auth: &Auth,
    client_name: &str,
) -> Result<Client, ClientError> {
    let mut delay = FIRST_DELAY;
    loop {
        match Client::connect_as(url, auth.clone(), client_name).await {
            Ok(client) => return Ok(client),
            Err(e) if e.code() == Some(ErrorCode::Unauthorized) => return Err(e),
            Err(e) => {
                let wait = e.retry_after().unwrap_or(delay);
                tracing::info!("cannot connect to {url} ({e}); retrying in {wait:?}");
                tokio::time::sleep(jitter(wait)).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// Between 75% and 100% of `delay`, so bots restarted together do not reconnect in step.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    delay.mul_f64(0.75 + f64::from(nanos % 1000) / 4000.0)
}
