//! The hub: who is connected, who is in which room, and pushing frames to them.
//!
//! Memberships are mirrored in memory (loaded at start-up, then updated by the writer thread's
//! commit listener in commit order), so fan-out never touches the database and a member added
//! by seq N hears every event from N on. Each connection has a bounded queue; a connection whose
//! queue is full is closed as too slow rather than slowing the sender or anyone else.
//! Presence and typing are ephemeral and live only here.

use crate::outbox::Outbox;
use crate::store::{CommitListener, Publication};
use chat_protocol::{to_json, PresenceInfo, RoomId, ServerFrame, Typing, UserId, UserRef};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub type ConnId = u64;

pub use crate::outbox::{Closer, Frame};

/// What the hub holds of one live connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub user_id: UserId,
    pub token_id: i64,
    pub outbox: Arc<Outbox>,
}

#[derive(Debug)]
struct UserEntry {
    username: String,
    conns: Vec<ConnId>,
    /// Away with this message (`set_away`); forgotten when the user goes offline.
    away: Option<String>,
    /// Bumped whenever the user connects or starts going offline, so a stale grace timer
    /// cannot mark a reconnected user offline.
    presence_generation: u64,
}

#[derive(Debug)]
struct TypingEntry {
    conn: ConnId,
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    conns: HashMap<ConnId, ConnHandle>,
    /// Users online now, or within the grace period after their last connection closed.
    users: HashMap<UserId, UserEntry>,
    room_members: HashMap<RoomId, HashSet<UserId>>,
    user_rooms: HashMap<UserId, HashSet<RoomId>>,
    typing: HashMap<(RoomId, UserId), TypingEntry>,
}

impl State {
    fn deliver_to_user(&self, user_id: UserId, frame: &Frame) {
        if let Some(user) = self.users.get(&user_id) {
            for conn in &user.conns {
                if let Some(handle) = self.conns.get(conn) {
                    push(handle, frame);
                }
            }
        }
    }

    fn deliver_to_room(&self, room_id: RoomId, frame: &Frame, except: Option<UserId>) {
        if let Some(members) = self.room_members.get(&room_id) {
            for &member in members {
                if Some(member) != except {
                    self.deliver_to_user(member, frame);
                }
            }
        }
    }

    /// Online users who share at least one room of at most `max_room` members with `user_id`.
    fn online_contacts(&self, user_id: UserId, max_room: usize) -> HashSet<UserId> {
        let mut contacts = self.all_contacts(user_id, max_room);
        contacts.retain(|member| self.users.contains_key(member));
        contacts
    }

    fn broadcast_presence(&self, info: PresenceInfo, max_room: usize) {
        let user_id = info.user.id;
        self.deliver_to_contacts(user_id, &presence_frame(info), max_room);
    }

    fn deliver_to_contacts(&self, user_id: UserId, frame: &Frame, max_room: usize) {
        for contact in self.online_contacts(user_id, max_room) {
            self.deliver_to_user(contact, frame);
        }
    }

    /// `newcomer` just joined `room_id`: if the room is small enough to carry presence, tell
    /// the newcomer about its online members and them about the newcomer, for every pair that
    /// shared no such room before (they just became contacts). Members in `already` (joined
    /// in the same batch, introduced just before) have met the newcomer.
    fn introduce(
        &self,
        room_id: RoomId,
        newcomer: UserId,
        max_room: usize,
        already: &HashSet<(RoomId, UserId)>,
    ) {
        let Some(members) = self.room_members.get(&room_id) else {
            return;
        };
        if members.len() > max_room {
            return;
        }
        let newcomer_ref = self.users.get(&newcomer).map(|u| {
            let user = UserRef {
                id: newcomer,
                username: u.username.clone(),
            };
            (user, u.away.clone())
        });
        for &member in members {
            let Some(entry) = self.users.get(&member) else {
                continue;
            };
            if member == newcomer
                || already.contains(&(room_id, member))
                || self.shared_elsewhere(newcomer, member, room_id, max_room)
            {
                continue;
            }
            let member_ref = UserRef {
                id: member,
                username: entry.username.clone(),
            };
            let info = PresenceInfo::online_away(member_ref, entry.away.clone());
            self.deliver_to_user(newcomer, &presence_frame(info));
            if let Some((newcomer_ref, away)) = &newcomer_ref {
                let info = PresenceInfo::online_away(newcomer_ref.clone(), away.clone());
                self.deliver_to_user(member, &presence_frame(info));
            }
        }
    }

    /// Whether two users share a presence-carrying room other than `except`.
    fn shared_elsewhere(&self, a: UserId, b: UserId, except: RoomId, max_room: usize) -> bool {
        self.user_rooms.get(&a).into_iter().flatten().any(|room| {
            *room != except
                && self
                    .room_members
                    .get(room)
                    .is_some_and(|m| m.len() <= max_room && m.contains(&b))
        })
    }

    /// Every user (online or not) who shares a room of at most `max_room` members with
    /// `user_id`. Big rooms carry no presence: in a channel of thousands, every login would
    /// otherwise push a frame to every member (quadratic work as everyone connects).
    fn all_contacts(&self, user_id: UserId, max_room: usize) -> HashSet<UserId> {
        let mut contacts = HashSet::new();
        for room in self.user_rooms.get(&user_id).into_iter().flatten() {
            if let Some(members) = self.room_members.get(room).filter(|m| m.len() <= max_room) {
                contacts.extend(members.iter().copied().filter(|&m| m != user_id));
            }
        }
        contacts
    }

    fn add_member(&mut self, room_id: RoomId, user_id: UserId) {
        self.room_members
            .entry(room_id)
            .or_default()
            .insert(user_id);
        self.user_rooms.entry(user_id).or_default().insert(room_id);
    }

    fn remove_member(&mut self, room_id: RoomId, user_id: UserId) {
        if let Some(members) = self.room_members.get_mut(&room_id) {
            members.remove(&user_id);
        }
        if let Some(rooms) = self.user_rooms.get_mut(&user_id) {
            rooms.remove(&room_id);
        }
    }
}

/// Queue a frame without waiting; a connection that cannot take it is evicted (4008).
fn push(handle: &ConnHandle, frame: &Frame) {
    handle.outbox.push(frame);
}

/// The hub. Shared by every session as `Arc<Hub>`.
#[derive(Debug)]
pub struct Hub {
    state: RwLock<State>,
    typing_timeout: Duration,
    /// Rooms larger than this do not share presence.
    presence_max_room: usize,
    generations: AtomicU64,
    /// HTTP long-polls waiting for a room's next event.
    pub waiters: crate::waiters::RoomWaiters,
    /// Tokens revoked, as they are: a waiting long-poll on one ends at once.
    revoked: tokio::sync::broadcast::Sender<i64>,
    /// Tokens a `logout` on this server is revoking: the logout closes their connections once
    /// its answer is on its way, so the revocation poller leaves them alone (its close would
    /// otherwise overtake the answer).
    logging_out: std::sync::Mutex<HashSet<i64>>,
}

impl Hub {
    /// A hub that knows every membership of the database.
    pub fn new(
        memberships: impl IntoIterator<Item = (RoomId, UserId)>,
        typing_timeout: Duration,
        presence_max_room: usize,
    ) -> Arc<Hub> {
        let mut state = State::default();
        for (room_id, user_id) in memberships {
            state.add_member(room_id, user_id);
        }
        Arc::new(Hub {
            state: RwLock::new(state),
            typing_timeout,
            presence_max_room,
            generations: AtomicU64::new(1),
            waiters: Default::default(),
            revoked: tokio::sync::broadcast::channel(64).0,
            logging_out: Default::default(),
        })
    }

    // A panic while the lock is held cannot leave the maps inconsistent in a way that matters
    // more than taking the whole server down, so poisoned locks are used as they are.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed)
    }

    /// Start routing frames to a new connection, unless its user has `max_conns` open already
    /// (Err holds how many). Tells the user's contacts they came online unless they already
    /// were (another device, or a reconnect within the grace period).
    pub fn register(
        &self,
        conn_id: ConnId,
        handle: ConnHandle,
        user: &UserRef,
        max_conns: usize,
    ) -> Result<(), usize> {
        let generation = self.next_generation();
        let mut state = self.write();
        let open = state.users.get(&user.id).map_or(0, |u| u.conns.len());
        if open >= max_conns {
            return Err(open);
        }
        state.conns.insert(conn_id, handle);
        let came_online = !state.users.contains_key(&user.id);
        let entry = state.users.entry(user.id).or_insert_with(|| UserEntry {
            username: user.username.clone(),
            conns: Vec::new(),
            away: None,
            presence_generation: generation,
        });
        entry.conns.push(conn_id);
        entry.presence_generation = generation;
        if came_online {
            state.broadcast_presence(PresenceInfo::online(user.clone()), self.presence_max_room);
        }
        Ok(())
    }

    /// Stop routing to a connection and end the typing indicators it owned. Returns the
    /// presence generation to pass to [`Hub::expire_presence`] after the grace period if this
    /// was the user's last connection.
    pub fn unregister(&self, conn_id: ConnId) -> Option<u64> {
        let generation = self.next_generation();
        let mut state = self.write();
        let handle = state.conns.remove(&conn_id)?;
        let user_id = handle.user_id;
        let stale: Vec<RoomId> = state
            .typing
            .iter()
            .filter(|(&(_, uid), t)| uid == user_id && t.conn == conn_id)
            .map(|(&(room, _), _)| room)
            .collect();
        let username = state
            .users
            .get(&user_id)
            .map(|u| u.username.clone())
            .unwrap_or_default();
        for room_id in stale {
            state.typing.remove(&(room_id, user_id));
            let user = UserRef {
                id: user_id,
                username: username.clone(),
            };
            let frame = typing_frame(room_id, user, false);
            state.deliver_to_room(room_id, &frame, Some(user_id));
        }
        let entry = state.users.get_mut(&user_id)?;
        entry.conns.retain(|&c| c != conn_id);
        if entry.conns.is_empty() {
            entry.presence_generation = generation;
            Some(generation)
        } else {
            None
        }
    }

    /// After the grace period: if the user has not come back, they are offline now. Returns the
    /// user id when they went offline (so the caller can record last-seen).
    pub fn expire_presence(
        &self,
        user_id: UserId,
        generation: u64,
        now: chat_protocol::Millis,
    ) -> bool {
        let mut state = self.write();
        let gone = state
            .users
            .get(&user_id)
            .is_some_and(|u| u.conns.is_empty() && u.presence_generation == generation);
        if !gone {
            return false;
        }
        if let Some(entry) = state.users.remove(&user_id) {
            let user = UserRef {
                id: user_id,
                username: entry.username,
            };
            let gone = PresenceInfo {
                user,
                online: false,
                last_seen: Some(now),
                away: None,
            };
            state.broadcast_presence(gone, self.presence_max_room);
        }
        true
    }

    /// Away with `message`, or back: contacts hear it, and so do the user's other devices.
    pub fn set_away(&self, user: &UserRef, message: Option<String>) {
        let mut state = self.write();
        let Some(entry) = state.users.get_mut(&user.id) else {
            return;
        };
        if entry.away == message {
            return;
        }
        entry.away = message.clone();
        // Serialised once, for the user's own devices and for every contact.
        let frame = presence_frame(PresenceInfo::online_away(user.clone(), message));
        state.deliver_to_user(user.id, &frame);
        state.deliver_to_contacts(user.id, &frame, self.presence_max_room);
    }

    pub fn is_online(&self, user_id: UserId) -> bool {
        self.read().users.contains_key(&user_id)
    }

    /// The contacts of `user_id` for the welcome: those online now, and the ids of the others
    /// (whose last-seen time is in the database).
    pub fn contacts(&self, user_id: UserId) -> (Vec<PresenceInfo>, Vec<UserId>) {
        let state = self.read();
        let mut online = Vec::new();
        let mut offline = Vec::new();
        for id in state.all_contacts(user_id, self.presence_max_room) {
            match state.users.get(&id) {
                Some(entry) => online.push(PresenceInfo::online_away(
                    UserRef {
                        id,
                        username: entry.username.clone(),
                    },
                    entry.away.clone(),
                )),
                None => offline.push(id),
            }
        }
        online.sort_by_key(|p| p.user.id);
        offline.sort_unstable();
        (online, offline)
    }

    /// Start or stop `user`'s typing indicator in a room (the caller checked membership).
    /// Only changes are pushed; a start refreshes the expiry timer.
    pub fn set_typing(
        self: &Arc<Self>,
        room_id: RoomId,
        user: &UserRef,
        conn_id: ConnId,
        typing: bool,
    ) {
        let key = (room_id, user.id);
        // Every sent message stops its sender's indicator; most senders were not typing, and the
        // write lock would contend with fan-out on every send.
        if !typing && !self.read().typing.contains_key(&key) {
            return;
        }
        let mut state = self.write();
        let changed = if typing {
            let generation = self.next_generation();
            let was = state.typing.insert(
                key,
                TypingEntry {
                    conn: conn_id,
                    generation,
                },
            );
            let hub = Arc::clone(self);
            let timeout = self.typing_timeout;
            let user = user.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                hub.expire_typing(room_id, &user, generation);
            });
            was.is_none()
        } else {
            state.typing.remove(&key).is_some()
        };
        if changed {
            state.deliver_to_room(
                room_id,
                &typing_frame(room_id, user.clone(), typing),
                Some(user.id),
            );
        }
    }

    fn expire_typing(&self, room_id: RoomId, user: &UserRef, generation: u64) {
        let mut state = self.write();
        let key = (room_id, user.id);
        if state
            .typing
            .get(&key)
            .is_some_and(|t| t.generation == generation)
        {
            state.typing.remove(&key);
            state.deliver_to_room(
                room_id,
                &typing_frame(room_id, user.clone(), false),
                Some(user.id),
            );
        }
    }

    /// Keep all connections' queued bytes under `max_total`, evicting the biggest queues.
    pub fn enforce_queue_total(&self, max_total: usize) -> usize {
        let state = self.read();
        crate::outbox::enforce_total(state.conns.values().map(|h| &h.outbox), max_total)
    }

    /// Bytes waiting in all connections' queues (for metrics).
    pub fn queued_bytes(&self) -> usize {
        let state = self.read();
        state.conns.values().map(|h| h.outbox.queued_bytes()).sum()
    }

    /// A `logout` of `token_id` begins: until the guard is dropped, [`Hub::is_logging_out`]
    /// says so; dropped, it closes the token's connections ("logged out") unless the logout
    /// failed. The logout drops it once its answer is queued, or when the answer is dropped
    /// with its connection, so the token's other connections close either way.
    pub fn begin_logout(self: &Arc<Self>, token_id: i64) -> LogoutGuard {
        self.logging_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token_id);
        LogoutGuard {
            hub: self.clone(),
            token_id,
            failed: false,
        }
    }

    /// A logout on this server is revoking `token_id` and will close its connections.
    pub fn is_logging_out(&self, token_id: i64) -> bool {
        self.logging_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&token_id)
    }

    /// Close every connection authenticated with a revoked token.
    pub fn close_token(&self, token_id: i64, code: u16, reason: &str) -> usize {
        // Nobody listening is fine: no long-poll is waiting.
        let _ = self.revoked.send(token_id);
        let state = self.read();
        let mut closed = 0;
        for handle in state.conns.values().filter(|h| h.token_id == token_id) {
            handle.outbox.closer().close(code, reason);
            closed += 1;
        }
        closed
    }
}

/// A logout under way (see [`Hub::begin_logout`]).
pub struct LogoutGuard {
    hub: Arc<Hub>,
    token_id: i64,
    failed: bool,
}

impl LogoutGuard {
    /// The token was not revoked: nothing is closed.
    pub fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for LogoutGuard {
    fn drop(&mut self) {
        if !self.failed {
            self.hub.close_token(
                self.token_id,
                chat_protocol::close_code::TOKEN_REVOKED,
                "logged out",
            );
        }
        self.hub
            .logging_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token_id);
    }
}

fn presence_frame(info: PresenceInfo) -> Frame {
    Frame::from(to_json(&ServerFrame::Presence(info)))
}

fn typing_frame(room_id: RoomId, user: UserRef, typing: bool) -> Frame {
    Frame::from(to_json(&ServerFrame::Typing(Typing {
        room_id,
        user,
        typing,
    })))
}

impl Hub {
    /// Resolves when `token_id` is revoked (or revocations were missed, so it may have been).
    /// Listening starts at the call, not at the first poll.
    pub fn revocation_of(&self, token_id: i64) -> impl std::future::Future<Output = ()> {
        use tokio::sync::broadcast::error::RecvError;
        let mut revoked = self.revoked.subscribe();
        async move {
            loop {
                match revoked.recv().await {
                    Ok(id) if id == token_id => return,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return,
                    // The hub is gone: the server is stopping, and shutdown ends the wait.
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        }
    }
}

impl CommitListener for Hub {
    /// Runs on the writer thread, in commit order: membership changes are applied exactly
    /// between the events that caused them, so routing matches the database at every seq.
    fn committed(&self, publications: Vec<Publication>) {
        let mut state = self.write();
        let mut joined_now = Vec::new();
        for publication in publications {
            match publication {
                Publication::RoomEvent {
                    room_id,
                    frame,
                    joined,
                    left,
                } => {
                    if let Some(user_id) = joined {
                        state.add_member(room_id, user_id);
                    }
                    state.deliver_to_room(room_id, &Frame::from(frame), None);
                    self.waiters.wake(room_id);
                    if let Some(user_id) = joined {
                        joined_now.push((room_id, user_id));
                    }
                    if let Some(user_id) = left {
                        state.remove_member(room_id, user_id);
                        // Someone who left cannot keep typing there.
                        state.typing.remove(&(room_id, user_id));
                    }
                }
                Publication::ToRoom { room_id, frame } => {
                    state.deliver_to_room(room_id, &Frame::from(frame), None)
                }
                Publication::ToUser { user_id, frame } => {
                    state.deliver_to_user(user_id, &Frame::from(frame))
                }
            }
        }
        // Only now, with every membership of the batch applied: a room created with its first
        // members is judged by its final size, so people in a room too big for presence are
        // never introduced (and then never told when the other goes offline).
        let mut introduced = HashSet::new();
        for (room_id, user_id) in joined_now {
            state.introduce(room_id, user_id, self.presence_max_room, &introduced);
            introduced.insert((room_id, user_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::outbox::QueueLimits;
    use chat_protocol::close_code;

    fn outbox(frames: usize) -> Arc<Outbox> {
        let limits = QueueLimits {
            max_frames: frames,
            max_bytes: 1 << 20,
        };
        Outbox::new(limits, Arc::default())
    }

    fn connect(hub: &Hub, conn_id: ConnId, user: &UserRef) -> Arc<Outbox> {
        let out = outbox(16);
        let handle = ConnHandle {
            user_id: user.id,
            token_id: conn_id as i64,
            outbox: out.clone(),
        };
        hub.register(conn_id, handle, user, 8).unwrap();
        out
    }

    fn user(id: UserId, name: &str) -> UserRef {
        UserRef {
            id,
            username: name.into(),
        }
    }

    fn drain(out: &mut Arc<Outbox>) -> Vec<String> {
        let mut batch = std::collections::VecDeque::new();
        while out.take_batch(&mut batch, usize::MAX) {}
        batch.iter().map(|f| f.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn typing_expires_after_the_timeout_unless_refreshed() {
        let hub = Hub::new([(1, 1), (1, 2)], Duration::from_secs(5), 100);
        let (alice, bob) = (user(1, "alice"), user(2, "bob"));
        let _a = connect(&hub, 1, &alice);
        let mut b = connect(&hub, 2, &bob);
        drain(&mut b);
        hub.set_typing(1, &alice, 1, true);
        assert_eq!(
            drain(&mut b),
            vec![
                r#"{"type":"typing","room_id":1,"user":{"id":1,"username":"alice"},"typing":true}"#
            ]
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        hub.set_typing(1, &alice, 1, true);
        assert!(drain(&mut b).is_empty(), "a refresh is not pushed again");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            drain(&mut b).is_empty(),
            "the refresh extended the indicator"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            drain(&mut b),
            vec![
                r#"{"type":"typing","room_id":1,"user":{"id":1,"username":"alice"},"typing":false}"#
            ]
        );
    }

    #[tokio::test]
    async fn big_rooms_carry_no_presence() {
        // Room 1: alice and bob. Room 2: alice, carol and dave, over a limit of 2.
        let hub = Hub::new(
            [(1, 1), (1, 2), (2, 1), (2, 3), (2, 4)],
            Duration::from_secs(5),
            2,
        );
        let mut b = connect(&hub, 2, &user(2, "bob"));
        let mut c = connect(&hub, 3, &user(3, "carol"));
        let _a = connect(&hub, 1, &user(1, "alice"));
        assert_eq!(drain(&mut b).len(), 1, "bob shares a small room with alice");
        assert!(drain(&mut c).is_empty(), "carol shares only a big room");
        let seen: Vec<UserId> = hub.contacts(1).0.iter().map(|p| p.user.id).collect();
        assert_eq!(seen, vec![2]);
    }

    #[tokio::test]
    async fn presence_reaches_only_users_who_share_a_room() {
        let hub = Hub::new([(1, 1), (1, 2)], Duration::from_secs(5), 100);
        let mut b = connect(&hub, 2, &user(2, "bob"));
        let mut c = connect(&hub, 3, &user(3, "carol"));
        let _a = connect(&hub, 1, &user(1, "alice"));
        assert_eq!(drain(&mut b).len(), 1, "bob shares room 1 with alice");
        assert!(drain(&mut c).is_empty(), "carol shares no room with alice");
        let generation = hub.unregister(1).expect("alice's last connection");
        assert!(hub.expire_presence(1, generation, 42));
        let frames = drain(&mut b);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].contains(r#""online":false"#) && frames[0].contains(r#""last_seen":42"#));
        assert!(drain(&mut c).is_empty());
    }

    #[tokio::test]
    async fn reconnecting_within_the_grace_period_does_not_flap() {
        let hub = Hub::new([(1, 1), (1, 2)], Duration::from_secs(5), 100);
        let mut b = connect(&hub, 2, &user(2, "bob"));
        let _a = connect(&hub, 1, &user(1, "alice"));
        drain(&mut b);
        let generation = hub.unregister(1).expect("last connection");
        let _a2 = connect(&hub, 3, &user(1, "alice"));
        assert!(!hub.expire_presence(1, generation, 42), "alice came back");
        assert!(drain(&mut b).is_empty(), "bob saw no offline/online flap");
        assert!(hub.is_online(1));
    }

    #[tokio::test]
    async fn a_full_queue_closes_that_connection_only() {
        let hub = Hub::new([(1, 1), (1, 2)], Duration::from_secs(5), 100);
        let slow = ConnHandle {
            user_id: 1,
            token_id: 1,
            outbox: outbox(1),
        };
        let slow_closer = slow.outbox.closer().clone();
        hub.register(1, slow, &user(1, "alice"), 8).unwrap();
        let mut b = connect(&hub, 2, &user(2, "bob"));
        drain(&mut b);
        for i in 0..3 {
            let frame = format!(r#"{{"type":"event","n":{i}}}"#);
            hub.committed(vec![Publication::RoomEvent {
                room_id: 1,
                frame,
                joined: None,
                left: None,
            }]);
        }
        assert_eq!(slow_closer.code(), Some(close_code::TOO_SLOW));
        assert_eq!(drain(&mut b).len(), 3, "bob got every event");
    }
}
