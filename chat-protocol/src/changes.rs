//! Applying change events (edits, deletes, reactions, replies) to the messages a client holds,
//! the same way the server applies them to the messages it serves. A client that applies every
//! event it receives, live or from history, in any order of pages, ends with the messages as
//! the server's history shows them.

use crate::text::excerpt;
use crate::{ChatMessage, EventContent, MessageId, ReactionCount, RoomEvent, Seq, ThreadSummary};

impl RoomEvent {
    /// The message this event changes: the edited, deleted or reacted-to message, or the
    /// message a reply answers (its thread grows).
    pub fn changed_message(&self) -> Option<MessageId> {
        match &self.content {
            EventContent::MessageEdited(e) => Some(e.message_id),
            EventContent::MessageDeleted(d) => Some(d.message_id),
            EventContent::ReactionAdded(r) | EventContent::ReactionRemoved(r) => Some(r.message_id),
            EventContent::Message(m) => m.reply_to.as_ref().map(|q| q.message_id),
            _ => None,
        }
    }
}

impl ChatMessage {
    /// The seq of the newest change this message shows, given the seq it was sent at.
    pub fn state_seq(&self, sent_seq: Seq) -> Seq {
        self.updated_seq.unwrap_or(sent_seq).max(sent_seq)
    }

    /// Apply `event`, which [`RoomEvent::changed_message`] says concerns this message (sent
    /// at `sent_seq`), unless the message already shows it (its seq is not above
    /// [`ChatMessage::state_seq`]). Returns whether the message changed.
    pub fn apply(&mut self, sent_seq: Seq, event: &RoomEvent) -> bool {
        if event.changed_message() != Some(self.message_id) || event.seq <= self.state_seq(sent_seq)
        {
            return false;
        }
        match &event.content {
            EventContent::MessageEdited(e) => {
                self.text = e.text.clone();
                self.edited_at = Some(e.edited_at);
                self.mentions = e.mentions.clone();
                self.mentions_room = e.mentions_room;
            }
            EventContent::MessageDeleted(_) => {
                self.text.clear();
                self.deleted = true;
                self.deleted_by = Some(event.sender.clone());
                self.mentions.clear();
                self.mentions_room = false;
                self.reactions.clear();
                self.attachments.clear();
            }
            EventContent::ReactionAdded(r) | EventContent::ReactionRemoved(r) => {
                let at = self.reactions.iter().position(|x| x.emoji == r.emoji);
                match at {
                    Some(i) if r.count == 0 => {
                        self.reactions.remove(i);
                    }
                    Some(i) => {
                        self.reactions[i].count = r.count;
                        self.reactions[i].users = r.users.clone();
                    }
                    None if r.count > 0 => self.reactions.push(ReactionCount {
                        emoji: r.emoji.clone(),
                        count: r.count,
                        users: r.users.clone(),
                    }),
                    None => {}
                }
            }
            EventContent::Message(_) => {
                let replies = self.thread.as_ref().map_or(0, |t| t.replies) + 1;
                self.thread = Some(ThreadSummary {
                    replies,
                    last_reply_ts: event.ts,
                });
            }
            _ => return false,
        }
        self.updated_seq = Some(event.seq);
        true
    }

    /// Bring this reply's quote up to date with an edit or delete of the message it answers.
    /// Edit events always carry the message's current text, so this needs no ordering.
    pub fn apply_to_quote(&mut self, event: &RoomEvent) -> bool {
        let Some(quote) = self.reply_to.as_mut() else {
            return false;
        };
        if event.changed_message() != Some(quote.message_id) {
            return false;
        }
        match &event.content {
            EventContent::MessageEdited(e) if !quote.deleted && !e.text.is_empty() => {
                quote.excerpt = excerpt(&e.text);
            }
            EventContent::MessageDeleted(_) => {
                quote.excerpt.clear();
                quote.deleted = true;
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageDeleted, MessageEdited, ReactionChange, UserRef};

    fn user(id: i64) -> UserRef {
        UserRef {
            id,
            username: format!("u{id}"),
        }
    }

    fn event(seq: Seq, sender: i64, content: EventContent) -> RoomEvent {
        RoomEvent {
            room_id: 1,
            seq,
            ts: seq * 10,
            sender: user(sender),
            content,
        }
    }

    #[test]
    fn changes_apply_once_and_only_when_newer() {
        let mut m = ChatMessage {
            message_id: 7,
            text: "first".into(),
            ..Default::default()
        };
        let edit = |seq, text: &str| {
            event(
                seq,
                1,
                EventContent::MessageEdited(MessageEdited {
                    message_id: 7,
                    text: text.into(),
                    edited_at: seq * 10,
                    mentions: vec![],
                    mentions_room: false,
                }),
            )
        };
        assert!(m.apply(3, &edit(5, "second")));
        assert!(!m.apply(3, &edit(4, "stale")), "older than the state shown");
        assert!(!m.apply(3, &edit(5, "second")), "the same event twice");
        let react = event(
            6,
            2,
            EventContent::ReactionAdded(ReactionChange {
                message_id: 7,
                emoji: "👍".into(),
                count: 1,
                users: vec![user(2)],
            }),
        );
        assert!(m.apply(3, &react));
        assert_eq!(m.reactions[0].count, 1);
        let delete = event(
            8,
            9,
            EventContent::MessageDeleted(MessageDeleted {
                message_id: 7,
                by_moderator: true,
            }),
        );
        assert!(m.apply(3, &delete));
        assert!(m.deleted && m.text.is_empty() && m.reactions.is_empty());
        assert_eq!(m.deleted_by, Some(user(9)));
        assert_eq!(m.updated_seq, Some(8));
    }
}
