//! Turns one request frame into its one response.
//!
//! [`dispatch`] validates synchronously and queues any write job right away, then returns a
//! future for the response. Sessions run those futures concurrently but answer in request
//! order, and because jobs are queued at dispatch, a connection's writes commit in the order
//! it sent them (the offline queue of a client relies on that).

use crate::hub::{ConnId, Hub};
use crate::store::{messages as msg_ops, ops, queries, room_admin, settings, Store, StoreError};
use chat_protocol::{
    to_json, Channels, ClientFrame, ErrorCode, ErrorFrame, Member, Members, OkResponse, Pong,
    RequestId, RoomResponse, RoomSummary, Rooms, ServerFrame, SetRoomSettings, UserRef,
};
use chat_protocol::{Limits, RoomId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

mod account;
mod messages;
mod search;

/// A response on its way.
pub type Reply = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Something a request does to the hub (typing), applied by the session in request order.
pub type Effect = Box<dyn FnOnce() + Send>;

/// A serialised response, the hub effect to apply just before it is queued, and one to apply
/// just after (closing the connection once the answer is on its way).
pub struct Answer {
    pub frame: String,
    pub effect: Option<Effect>,
    pub after: Option<Effect>,
}

impl From<String> for Answer {
    fn from(frame: String) -> Answer {
        Answer {
            frame,
            effect: None,
            after: None,
        }
    }
}

/// A response that needs no effect.
fn reply(frame: impl Future<Output = String> + Send + 'static) -> Reply {
    Box::pin(async move { Answer::from(frame.await) })
}

/// What a request handler needs to know about its connection.
pub struct RequestCtx {
    pub store: Arc<Store>,
    pub hub: Arc<Hub>,
    pub limits: Limits,
    pub me: UserRef,
    pub conn_id: ConnId,
    /// The token the connection authenticated with.
    pub token_id: i64,
    pub order: WriteOrder,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Read-your-writes on one connection. Writes are queued at dispatch and commit in the order
/// sent; reads run on the read pool, so a read pipelined right after a write could otherwise
/// run before that write commits (a `get_history` after a `send_message` missing the message,
/// a `list_members` after a `join_room` refused). Each read waits until every write sent
/// before it is done; a connection that does not pipeline never waits.
#[derive(Debug)]
pub struct WriteOrder {
    submitted: AtomicU64,
    done: watch::Sender<u64>,
}

impl Default for WriteOrder {
    fn default() -> Self {
        WriteOrder {
            submitted: AtomicU64::new(0),
            done: watch::Sender::new(0),
        }
    }
}

impl WriteOrder {
    /// Count a write just queued; its answer marks it done.
    fn write(&self, reply: Reply) -> Reply {
        let n = self.submitted.fetch_add(1, Ordering::Relaxed) + 1;
        let done = self.done.clone();
        Box::pin(async move {
            let answer = reply.await;
            done.send_if_modified(|d| {
                let moved = *d < n;
                *d = (*d).max(n);
                moved
            });
            answer
        })
    }

    /// Start `reply` (a read, not started yet) only once every write sent before it is done.
    fn read(&self, reply: Reply) -> Reply {
        let need = self.submitted.load(Ordering::Relaxed);
        if *self.done.borrow() >= need {
            return reply;
        }
        let mut done = self.done.subscribe();
        Box::pin(async move {
            // The sender lives in the connection's context, as long as its requests do.
            let _ = done.wait_for(|d| *d >= need).await;
            reply.await
        })
    }
}

/// How a request touches the state other requests see.
enum Access {
    /// Changes the database through the writer.
    Write,
    /// Reads the database (the answer must reflect earlier writes).
    Read,
    /// Neither (ping, or refused before it started).
    Neither,
}

fn access(frame: &ClientFrame) -> Access {
    match frame {
        ClientFrame::SendMessage(_)
        | ClientFrame::CreateRoom(_)
        | ClientFrame::OpenDirect(_)
        | ClientFrame::JoinRoom(_)
        | ClientFrame::LeaveRoom(_)
        | ClientFrame::AddMember(_)
        | ClientFrame::RemoveMember(_)
        | ClientFrame::SetRole(_)
        | ClientFrame::RenameRoom(_)
        | ClientFrame::SetTopic(_)
        | ClientFrame::SetReceipt(_)
        | ClientFrame::Logout(_)
        | ClientFrame::EditMessage(_)
        | ClientFrame::DeleteMessage(_)
        | ClientFrame::AddReaction(_)
        | ClientFrame::RemoveReaction(_)
        | ClientFrame::ArchiveRoom(_)
        | ClientFrame::UnarchiveRoom(_)
        | ClientFrame::TransferOwnership(_)
        | ClientFrame::SetRoomSettings(_) => Access::Write,
        // set_typing checks membership in the database before it changes the hub.
        ClientFrame::GetHistory(_)
        | ClientFrame::ListRooms(_)
        | ClientFrame::ListChannels(_)
        | ClientFrame::ListMembers(_)
        | ClientFrame::SetTyping(_)
        | ClientFrame::GetThread(_)
        | ClientFrame::ListMentions(_)
        | ClientFrame::Search(_) => Access::Read,
        // Away lives in the hub only; it needs no ordering with the database.
        ClientFrame::Hello(_) | ClientFrame::Ping(_) | ClientFrame::SetAway(_) => Access::Neither,
    }
}

pub fn error_frame(
    request_id: Option<RequestId>,
    code: ErrorCode,
    message: impl Into<String>,
) -> String {
    to_json(&ServerFrame::Error(ErrorFrame {
        request_id,
        code,
        message: message.into(),
        retry_after_ms: None,
    }))
}

/// A `rate_limited` error with its retry hint.
pub fn rate_limited_frame(
    request_id: Option<RequestId>,
    message: impl Into<String>,
    retry_after: std::time::Duration,
) -> String {
    to_json(&ServerFrame::Error(ErrorFrame {
        request_id,
        code: ErrorCode::RateLimited,
        message: message.into(),
        // At least 1 ms: a hint of 0 reads as "retry at once" and invites a busy loop.
        retry_after_ms: Some((retry_after.as_millis() as u64).max(1)),
    }))
}

pub fn ready(frame: String) -> Reply {
    Box::pin(std::future::ready(Answer::from(frame)))
}

fn store_error(request_id: RequestId, e: &StoreError) -> String {
    let (code, message) = e.to_client();
    error_frame(Some(request_id), code, message)
}

/// Await a write job and turn its result into a frame.
fn answer<R: Send + 'static>(
    request_id: RequestId,
    job: oneshot::Receiver<Result<R, StoreError>>,
    ok: impl FnOnce(R) -> ServerFrame + Send + 'static,
) -> Reply {
    reply(async move {
        match job.await.unwrap_or(Err(StoreError::WriterGone)) {
            Ok(value) => to_json(&ok(value)),
            Err(e) => store_error(request_id, &e),
        }
    })
}

fn ok(request_id: RequestId) -> impl FnOnce(()) -> ServerFrame {
    move |()| ServerFrame::Ok(OkResponse { request_id })
}

fn room(request_id: RequestId) -> impl FnOnce(RoomSummary) -> ServerFrame {
    move |room| ServerFrame::Room(RoomResponse { request_id, room })
}

/// Check a title or topic: trimmed, within `max` characters, non-empty if `required`.
fn check_text(
    what: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, (ErrorCode, String)> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err((ErrorCode::BadRequest, format!("the {what} cannot be empty")));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err((
            ErrorCode::TooLarge,
            format!("the {what} has {chars} characters; the limit is {max}"),
        ));
    }
    Ok(value.to_string())
}

fn check_username_arg(username: &str) -> Result<(), (ErrorCode, String)> {
    if username.trim().is_empty() {
        return Err((ErrorCode::BadRequest, "a username is required".into()));
    }
    Ok(())
}

/// A message text: not blank, within `max` characters.
fn check_message_text(text: &str, max: usize) -> Result<(), (ErrorCode, String)> {
    if text.trim().is_empty() {
        return Err((ErrorCode::BadRequest, "the message text is empty".into()));
    }
    check_text_length(text, max)
}

/// A message text within `max` characters.
fn check_text_length(text: &str, max: usize) -> Result<(), (ErrorCode, String)> {
    let chars = text.chars().count();
    if chars > max {
        return Err((
            ErrorCode::TooLarge,
            format!("the message has {chars} characters; the limit is {max}"),
        ));
    }
    Ok(())
}

/// A `set_room_settings` that says something, and nothing contradictory or too long.
fn check_settings(r: &SetRoomSettings, max_draft: usize) -> Result<(), (ErrorCode, String)> {
    if r.notify.is_none()
        && r.pinned.is_none()
        && r.pin_position.is_none()
        && r.hidden.is_none()
        && r.draft.is_none()
    {
        return Err((
            ErrorCode::BadRequest,
            "give at least one of notify, pinned, pin_position, hidden, draft".into(),
        ));
    }
    if r.pinned == Some(false) && r.pin_position.is_some() {
        return Err((
            ErrorCode::BadRequest,
            "pin_position pins the room; it cannot come with pinned: false".into(),
        ));
    }
    let chars = r.draft.as_deref().map_or(0, |d| d.chars().count());
    if chars > max_draft {
        return Err((
            ErrorCode::TooLarge,
            format!("the draft has {chars} characters; the limit is {max_draft}"),
        ));
    }
    Ok(())
}

/// Answer one decoded frame. `request_id` is the one to echo if it is refused: its own, or
/// one found in the JSON of a frame that has none of its own (a `hello` after login).
pub fn dispatch(ctx: &RequestCtx, frame: ClientFrame, request_id: Option<RequestId>) -> Reply {
    let access = access(&frame);
    match handle(ctx, frame) {
        Ok(reply) => match access {
            Access::Write => ctx.order.write(reply),
            Access::Read => ctx.order.read(reply),
            Access::Neither => reply,
        },
        Err((code, message)) => ready(error_frame(request_id, code, message)),
    }
}

fn handle(ctx: &RequestCtx, frame: ClientFrame) -> Result<Reply, (ErrorCode, String)> {
    let writer = &ctx.store.writer;
    let me = ctx.me.clone();
    Ok(match frame {
        ClientFrame::Hello(_) => {
            return Err((
                ErrorCode::BadRequest,
                "already authenticated; hello is only the first frame".into(),
            ))
        }
        ClientFrame::Ping(p) => ready(to_json(&ServerFrame::Pong(Pong {
            request_id: p.request_id,
        }))),
        ClientFrame::SendMessage(m) => messages::send(ctx, m)?,
        ClientFrame::GetHistory(h) => messages::history(ctx, h)?,
        ClientFrame::EditMessage(r) => messages::edit(ctx, r)?,
        ClientFrame::DeleteMessage(r) => {
            let job =
                writer.submit(move |w| msg_ops::delete_message(w, &me, r.room_id, r.message_id));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::AddReaction(r) => messages::react(ctx, r, true)?,
        ClientFrame::RemoveReaction(r) => messages::react(ctx, r, false)?,
        ClientFrame::GetThread(r) => messages::thread(ctx, r),
        ClientFrame::ArchiveRoom(r) => {
            let job = writer.submit(move |w| room_admin::set_archived(w, &me, r.room_id, true));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::UnarchiveRoom(r) => {
            let job = writer.submit(move |w| room_admin::set_archived(w, &me, r.room_id, false));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::TransferOwnership(r) => {
            check_username_arg(&r.username)?;
            let job = writer
                .submit(move |w| room_admin::transfer_ownership(w, &me, r.room_id, &r.username));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::ListMentions(r) => messages::mentions(ctx, r),
        ClientFrame::Search(r) => search::search(ctx, r)?,
        ClientFrame::SetRoomSettings(r) => {
            check_settings(&r, ctx.limits.max_message_chars)?;
            let request_id = r.request_id;
            let job = writer.submit(move |w| settings::set_room_settings(w, &me, r));
            answer(request_id, job, ok(request_id))
        }
        ClientFrame::ListRooms(r) => {
            let store = ctx.store.clone();
            reply(async move {
                let after = r.after.unwrap_or(0);
                let page = move |c: &_| {
                    queries::room_summaries_page(c, me.id, after, queries::ROOM_PAGE_BYTES)
                };
                match store.read(page).await {
                    Ok((rooms, more)) => to_json(&ServerFrame::Rooms(Rooms {
                        request_id: r.request_id,
                        rooms,
                        more,
                    })),
                    Err(e) => store_error(r.request_id, &e),
                }
            })
        }
        ClientFrame::ListChannels(r) => {
            let store = ctx.store.clone();
            reply(async move {
                match store.read(move |c| queries::channels(c, me.id)).await {
                    Ok(channels) => to_json(&ServerFrame::Channels(Channels {
                        request_id: r.request_id,
                        channels,
                    })),
                    Err(e) => store_error(r.request_id, &e),
                }
            })
        }
        ClientFrame::CreateRoom(r) => {
            let title = check_text("room title", &r.title, ctx.limits.max_title_chars, true)?;
            let topic = check_text("topic", &r.topic, ctx.limits.max_topic_chars, false)?;
            if r.members.len() > 1000 {
                return Err((
                    ErrorCode::TooLarge,
                    "at most 1000 initial members; add the rest later".into(),
                ));
            }
            let max = ctx.limits.max_rooms_per_user;
            let job = writer
                .submit(move |w| ops::create_room(w, &me, r.kind, title, topic, r.members, max));
            answer(r.request_id, job, room(r.request_id))
        }
        ClientFrame::OpenDirect(r) => {
            check_username_arg(&r.username)?;
            let max = ctx.limits.max_rooms_per_user;
            let job = writer.submit(move |w| ops::open_direct(w, &me, &r.username, max));
            answer(r.request_id, job, room(r.request_id))
        }
        ClientFrame::JoinRoom(r) => {
            let max = ctx.limits.max_rooms_per_user;
            let job = writer.submit(move |w| ops::join_room(w, &me, r.room_id, max));
            answer(r.request_id, job, room(r.request_id))
        }
        ClientFrame::LeaveRoom(r) => {
            let job = writer.submit(move |w| ops::leave_room(w, &me, r.room_id));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::AddMember(r) => {
            check_username_arg(&r.username)?;
            let max = ctx.limits.max_rooms_per_user;
            let job = writer.submit(move |w| ops::add_member(w, &me, r.room_id, &r.username, max));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::RemoveMember(r) => {
            check_username_arg(&r.username)?;
            let job = writer.submit(move |w| ops::remove_member(w, &me, r.room_id, &r.username));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::SetRole(r) => {
            check_username_arg(&r.username)?;
            let job = writer.submit(move |w| ops::set_role(w, &me, r.room_id, &r.username, r.role));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::RenameRoom(r) => {
            let title = check_text("room title", &r.title, ctx.limits.max_title_chars, true)?;
            let job = writer.submit(move |w| ops::rename_room(w, &me, r.room_id, title));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::SetTopic(r) => {
            let topic = check_text("topic", &r.topic, ctx.limits.max_topic_chars, false)?;
            let job = writer.submit(move |w| ops::set_topic(w, &me, r.room_id, topic));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::ListMembers(r) => {
            let store = ctx.store.clone();
            let hub = ctx.hub.clone();
            let room_id = r.room_id;
            reply(async move {
                match store
                    .read(move |c| queries::members(c, room_id, me.id))
                    .await
                {
                    Ok(rows) => {
                        let members = rows
                            .into_iter()
                            .map(|(user, role, delivered_seq, read_seq)| Member {
                                online: hub.is_online(user.id),
                                user,
                                role,
                                delivered_seq,
                                read_seq,
                            })
                            .collect();
                        to_json(&ServerFrame::Members(Members {
                            request_id: r.request_id,
                            room_id,
                            members,
                        }))
                    }
                    Err(e) => store_error(r.request_id, &e),
                }
            })
        }
        ClientFrame::SetReceipt(r) => {
            if r.delivered_seq.is_some_and(|s| s < 0) || r.read_seq.is_some_and(|s| s < 0) {
                return Err((
                    ErrorCode::BadRequest,
                    "receipt seqs must be 0 or more".into(),
                ));
            }
            if r.delivered_seq.is_none() && r.read_seq.is_none() {
                return Err((
                    ErrorCode::BadRequest,
                    "give delivered_seq, read_seq or both".into(),
                ));
            }
            let job = writer
                .submit(move |w| ops::set_receipt(w, &me, r.room_id, r.delivered_seq, r.read_seq));
            answer(r.request_id, job, ok(r.request_id))
        }
        ClientFrame::Logout(r) => account::logout(ctx, r.request_id),
        ClientFrame::SetAway(r) => account::set_away(ctx, r)?,
        ClientFrame::SetTyping(r) => {
            let store = ctx.store.clone();
            let hub = ctx.hub.clone();
            let conn_id = ctx.conn_id;
            let room_id: RoomId = r.room_id;
            Box::pin(async move {
                let user_id = me.id;
                match store
                    .read(move |c| queries::check_can_post(c, room_id, user_id))
                    .await
                {
                    Ok(_) => Answer {
                        frame: to_json(&ServerFrame::Ok(OkResponse {
                            request_id: r.request_id,
                        })),
                        effect: Some(Box::new(move || {
                            hub.set_typing(room_id, &me, conn_id, r.typing)
                        })),
                        after: None,
                    },
                    Err(e) => store_error(r.request_id, &e).into(),
                }
            })
        }
    })
}

/// A JSON array of stored event JSON, written as is.
fn push_events(out: &mut String, events: &[String]) {
    out.push('[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(event);
    }
    out.push(']');
}

/// The history response, built around the stored event JSON so events are not re-encoded.
/// Equivalent to serialising [`chat_protocol::History`]; a test checks that.
pub fn history_frame(
    request_id: RequestId,
    room_id: RoomId,
    page: &queries::HistoryPage,
) -> String {
    let size: usize = page.events.iter().map(|e| e.len() + 1).sum();
    let mut out = String::with_capacity(size + 96);
    out.push_str(&format!(
        r#"{{"type":"history","request_id":{request_id},"room_id":{room_id},"events":"#
    ));
    push_events(&mut out, &page.events);
    out.push_str(&format!(r#","more":{}"#, page.more));
    push_reacted(&mut out, &page.reacted);
    out.push('}');
    out
}

/// `,"reacted":[...]` when there is any.
fn push_reacted(out: &mut String, reacted: &[chat_protocol::OwnReaction]) {
    if !reacted.is_empty() {
        out.push_str(r#","reacted":"#);
        out.push_str(&to_json(&reacted));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_protocol::{EventContent, History, RoomEvent};

    #[test]
    fn history_frame_matches_the_typed_encoding() {
        let event = RoomEvent {
            room_id: 7,
            seq: 3,
            ts: 1_700_000_000_000,
            sender: UserRef {
                id: 1,
                username: "alice".into(),
            },
            content: EventContent::Message(chat_protocol::ChatMessage {
                message_id: 9,
                client_id: "c1".into(),
                text: "hi \"there\"".into(),
                ..Default::default()
            }),
        };
        let stored = vec![serde_json::to_string(&event).unwrap(); 2];
        let reacted = vec![chat_protocol::OwnReaction {
            message_id: 9,
            emoji: "👍".into(),
        }];
        let page = queries::HistoryPage {
            events: stored,
            more: true,
            reacted: reacted.clone(),
        };
        let raw = history_frame(5, 7, &page);
        let typed = ServerFrame::History(History {
            request_id: 5,
            room_id: 7,
            events: vec![event.clone(), event],
            more: true,
            reacted,
        });
        assert_eq!(raw, to_json(&typed));
        assert_eq!(
            history_frame(1, 2, &queries::HistoryPage::default()),
            to_json(&ServerFrame::History(History {
                request_id: 1,
                room_id: 2,
                events: vec![],
                more: false,
                reacted: vec![],
            }))
        );
    }
}
