//! Requests about messages: sending, history, edits, deletes, reactions, threads, mentions.

use super::{
    answer, check_message_text, check_text_length, ok, push_events, push_reacted, reply,
    store_error, Answer, Reply, RequestCtx,
};
use crate::store::messages::{self as msg_ops, NewMessage};
use crate::store::{queries, threads, StoreError};
use chat_protocol::{
    to_json, EditMessage, ErrorCode, GetHistory, GetThread, ListMentions, MessageSent, Reaction,
    RequestId, RoomId, SendMessage, ServerFrame,
};

/// Most client ids accepted; long enough for any UUID with a prefix.
const MAX_CLIENT_ID_CHARS: usize = 64;

type Refusal = (ErrorCode, String);

pub fn send(ctx: &RequestCtx, m: SendMessage) -> Result<Reply, Refusal> {
    let rid = m.request_id;
    if m.attachments.is_empty() {
        check_message_text(&m.text, ctx.limits.max_message_chars)?;
    } else {
        // A file may go without words.
        check_text_length(&m.text, ctx.limits.max_message_chars)?;
    }
    let cid_chars = m.client_id.chars().count();
    if cid_chars == 0 || cid_chars > MAX_CLIENT_ID_CHARS {
        return Err((
            ErrorCode::BadRequest,
            format!("client_id must be 1 to {MAX_CLIENT_ID_CHARS} characters"),
        ));
    }
    let me = ctx.me.clone();
    let sender = me.clone();
    let room_id = m.room_id;
    let message = NewMessage {
        client_id: m.client_id,
        text: m.text,
        reply_to: m.reply_to,
        action: m.action,
        attachments: m.attachments,
    };
    let job = ctx
        .store
        .writer
        .submit_checked_first(move |w| msg_ops::send_message(w, &sender, room_id, message));
    let hub = ctx.hub.clone();
    let conn_id = ctx.conn_id;
    Ok(Box::pin(async move {
        match job.await.unwrap_or(Err(StoreError::WriterGone)) {
            Ok(ack) => Answer {
                frame: to_json(&ServerFrame::MessageSent(MessageSent {
                    request_id: rid,
                    room_id: ack.room_id,
                    client_id: ack.client_id,
                    message_id: ack.message_id,
                    seq: ack.seq,
                    ts: ack.ts,
                })),
                // Sending ends the sender's typing indicator.
                effect: Some(Box::new(move || {
                    hub.set_typing(room_id, &me, conn_id, false)
                })),
                after: None,
            },
            Err(e) => store_error(rid, &e).into(),
        }
    }))
}

/// A page size: the request's, within 1 and the server's most.
fn page_limit(ctx: &RequestCtx, limit: Option<u32>) -> u32 {
    limit.unwrap_or(50).clamp(1, ctx.limits.max_history_page)
}

pub fn history(ctx: &RequestCtx, h: GetHistory) -> Result<Reply, Refusal> {
    let rid = h.request_id;
    let page = match (h.before, h.after) {
        (Some(_), Some(_)) => {
            return Err((
                ErrorCode::BadRequest,
                "give before or after, not both".into(),
            ))
        }
        (_, Some(after)) if after < 0 => {
            return Err((ErrorCode::BadRequest, "after must be 0 or more".into()))
        }
        (_, Some(after)) => queries::Page::After(after),
        (Some(before), None) => queries::Page::Before(before),
        (None, None) => queries::Page::Before(i64::MAX),
    };
    let limit = page_limit(ctx, h.limit);
    let store = ctx.store.clone();
    let me = ctx.me.id;
    let room_id = h.room_id;
    Ok(reply(async move {
        match store
            .read(move |c| queries::history(c, me, room_id, page, limit))
            .await
        {
            Ok(page) => super::history_frame(rid, room_id, &page),
            Err(e) => store_error(rid, &e),
        }
    }))
}

pub fn edit(ctx: &RequestCtx, r: EditMessage) -> Result<Reply, Refusal> {
    check_message_text(&r.text, ctx.limits.max_message_chars)?;
    let me = ctx.me.clone();
    let job = ctx
        .store
        .writer
        .submit(move |w| msg_ops::edit_message(w, &me, r.room_id, r.message_id, r.text));
    Ok(answer(r.request_id, job, ok(r.request_id)))
}

pub fn react(ctx: &RequestCtx, r: Reaction, add: bool) -> Result<Reply, Refusal> {
    let emoji = r.emoji.trim().to_string();
    let max = ctx.limits.max_reaction_chars;
    if emoji.is_empty() || emoji.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadRequest,
            "a reaction is an emoji or a short text on one line".into(),
        ));
    }
    if emoji.chars().count() > max {
        return Err((
            ErrorCode::TooLarge,
            format!("a reaction has at most {max} characters"),
        ));
    }
    let me = ctx.me.clone();
    let job = ctx
        .store
        .writer
        .submit(move |w| msg_ops::react(w, &me, r.room_id, r.message_id, emoji, add));
    Ok(answer(r.request_id, job, ok(r.request_id)))
}

pub fn thread(ctx: &RequestCtx, r: GetThread) -> Reply {
    let rid = r.request_id;
    let limit = page_limit(ctx, r.limit);
    let store = ctx.store.clone();
    let me = ctx.me.id;
    let (room_id, message_id, after) = (r.room_id, r.message_id, r.after.unwrap_or(0));
    reply(async move {
        match store
            .read(move |c| threads::thread(c, me, room_id, message_id, after, limit))
            .await
        {
            Ok(page) => thread_frame(rid, room_id, &page),
            Err(e) => store_error(rid, &e),
        }
    })
}

/// The `thread` response around stored event JSON, like `history`.
pub fn thread_frame(request_id: RequestId, room_id: RoomId, page: &threads::ThreadPage) -> String {
    let size: usize = page.replies.iter().map(|e| e.len() + 1).sum();
    let mut out = String::with_capacity(size + page.parent.len() + 128);
    out.push_str(&format!(
        r#"{{"type":"thread","request_id":{request_id},"room_id":{room_id},"parent":"#
    ));
    out.push_str(&page.parent);
    out.push_str(r#","replies":"#);
    push_events(&mut out, &page.replies);
    out.push_str(&format!(r#","more":{}"#, page.more));
    push_reacted(&mut out, &page.reacted);
    out.push('}');
    out
}

pub fn mentions(ctx: &RequestCtx, r: ListMentions) -> Reply {
    let rid = r.request_id;
    let limit = page_limit(ctx, r.limit);
    let store = ctx.store.clone();
    let me = ctx.me.id;
    let before = r.before.unwrap_or(i64::MAX);
    reply(async move {
        match store
            .read(move |c| threads::mentions(c, me, before, limit))
            .await
        {
            Ok((events, more)) => {
                let mut out = format!(r#"{{"type":"mentions","request_id":{rid},"events":"#);
                push_events(&mut out, &events);
                out.push_str(&format!(r#","more":{more}}}"#));
                out
            }
            Err(e) => store_error(rid, &e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_protocol::{ChatMessage, EventContent, OwnReaction, RoomEvent, Thread, UserRef};

    #[test]
    fn thread_frame_matches_the_typed_encoding() {
        let event = |seq| RoomEvent {
            room_id: 7,
            seq,
            ts: 1,
            sender: UserRef {
                id: 1,
                username: "alice".into(),
            },
            content: EventContent::Message(ChatMessage {
                message_id: seq,
                client_id: format!("c{seq}"),
                text: "hi".into(),
                ..Default::default()
            }),
        };
        let json = |seq| serde_json::to_string(&event(seq)).unwrap();
        let reacted = vec![OwnReaction {
            message_id: 3,
            emoji: "🎉".into(),
        }];
        let page = threads::ThreadPage {
            parent: json(3),
            replies: vec![json(4), json(5)],
            more: false,
            reacted: reacted.clone(),
        };
        let typed = ServerFrame::Thread(Thread {
            request_id: 2,
            room_id: 7,
            parent: event(3),
            replies: vec![event(4), event(5)],
            more: false,
            reacted,
        });
        assert_eq!(thread_frame(2, 7, &page), to_json(&typed));
    }
}
