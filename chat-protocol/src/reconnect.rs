//! A connection for long-running programs (bots): it comes back by itself.
//!
//! When the server restarts or the network drops, [`Reconnecting`] connects again with backoff
//! (0.5 s doubling to 30 s, with jitter) and catches up by seq on every room, so the program
//! sees each event once, including those sent while it was away. Only a refused login (a
//! revoked token) ends it.
//!
//! Catching up is lazy: one page of one room at a time, fetched when the program asks for the
//! next event, so memory stays at a page however long it was away. Live events wait in the
//! client's queue meanwhile; if that overflows (the client drops what a reader leaves
//! unread), every room is caught up again from what was handed out.

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
    /// Rooms with events after `seen` still to fetch, the first one in progress.
    behind: VecDeque<RoomId>,
    /// The page being handed out, before anything else.
    backlog: VecDeque<ServerFrame>,
    /// The client's count of dropped events when last looked at.
    missed: u64,
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
            behind: VecDeque::new(),
            backlog: VecDeque::new(),
            missed: 0,
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
            if let Some(&room_id) = self.behind.front() {
                self.fetch_page(room_id).await?;
                continue;
            }
            let missed = self.client.missed_events();
            if missed > self.missed {
                // Live events were dropped unread: fetch what each room said since.
                self.missed = missed;
                self.behind = self.seen.keys().copied().collect();
                continue;
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
        self.missed = 0;
        // The backlog is kept: its events were fetched and count as seen.
        self.behind.clear();
        for (room_id, last_seq) in rooms {
            let from = *self
                .seen
                .entry(room_id)
                .or_insert_with(|| (last_seq - NEW_ROOM_EVENTS).max(0));
            if last_seq > from {
                self.behind.push_back(room_id);
            }
        }
        Ok(())
    }

    /// Hand out the next page of what `room_id` said after what was seen; the room stays
    /// first in line while there is more.
    async fn fetch_page(&mut self, room_id: RoomId) -> Result<(), ClientError> {
        let after = self.seen.get(&room_id).copied().unwrap_or(0);
        match self.client.history_after(room_id, after, PAGE).await {
            Ok(page) => {
                if !page.more {
                    self.behind.pop_front();
                }
                if let Some(last) = page.events.last() {
                    self.seen.insert(room_id, last.seq);
                }
                self.backlog
                    .extend(page.events.into_iter().map(ServerFrame::Event));
                Ok(())
            }
            // Lost again: the reconnection starts over from what was handed out.
            Err(e) if is_connection_loss(&e) => self.reconnect().await,
            // Left or removed meanwhile: nothing to catch up on.
            Err(ClientError::Server { .. }) => {
                self.behind.pop_front();
                Ok(())
            }
            Err(e) => Err(e),
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
