//! One room's events in seq order, and how far they are known to be complete.
//!
//! Events arrive live, from history pages and from the cache, in any order and sometimes twice.
//! The timeline keeps them sorted and unique by seq. `synced_to` is the highest seq up to which
//! nothing is missing (from the first loaded event on): a live event beyond `synced_to + 1`
//! reveals a gap, which the client fills by asking for history after `synced_to`.

use chat_protocol::{ChatMessage, EventContent, MessageId, RoomEvent, Seq};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    events: Vec<RoomEvent>,
    synced_to: Seq,
    /// Messages as the server sent them, by seq, for those that held change events (edits,
    /// deletes, reactions, replies) were applied to: the shown state is always re-derived
    /// from this and every held change in seq order, so the order in which pages and live
    /// events arrive (a gap filled late) never matters.
    received: HashMap<Seq, ChatMessage>,
    /// Seqs of messages whose shown state changed since [`Timeline::take_changed`].
    changed: Vec<Seq>,
}

impl Timeline {
    /// Events loaded from the cache, contiguous and ending at `synced_to`.
    pub fn from_cache(events: Vec<RoomEvent>, synced_to: Seq) -> Timeline {
        let mut t = Timeline {
            events: Vec::with_capacity(events.len()),
            ..Timeline::default()
        };
        t.insert_all(events);
        t.synced_to = synced_to.max(t.synced_to);
        t
    }

    pub fn events(&self) -> &[RoomEvent] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn synced_to(&self) -> Seq {
        self.synced_to
    }

    pub fn first_seq(&self) -> Option<Seq> {
        self.events.first().map(|e| e.seq)
    }

    pub fn last_seq(&self) -> Seq {
        self.events.last().map_or(0, |e| e.seq)
    }

    /// Whether the oldest event of the room (seq 1) is loaded.
    pub fn reached_start(&self) -> bool {
        self.first_seq().is_some_and(|s| s <= 1)
    }

    /// Index of the event with `seq`, or where it would go.
    pub fn position(&self, seq: Seq) -> Result<usize, usize> {
        self.events.binary_search_by_key(&seq, |e| e.seq)
    }

    /// Add one event; false if it was already there.
    pub fn insert(&mut self, event: RoomEvent) -> bool {
        !self.insert_all(vec![event]).is_empty()
    }

    /// Add many events (any order); returns the ones that were new.
    pub fn insert_all(&mut self, events: Vec<RoomEvent>) -> Vec<RoomEvent> {
        let mut added = Vec::new();
        for event in events {
            if let Err(i) = self.position(event.seq) {
                added.push(event.clone());
                self.events.insert(i, event);
            }
        }
        self.advance();
        self.apply_changes(&added);
        added
    }

    /// The messages whose shown state changed (an edit, delete, reaction or reply applied)
    /// since the last call, as shown now.
    pub fn take_changed(&mut self) -> Vec<RoomEvent> {
        let mut seqs = std::mem::take(&mut self.changed);
        seqs.sort_unstable();
        seqs.dedup();
        seqs.into_iter()
            .filter_map(|seq| self.position(seq).ok())
            .map(|i| self.events[i].clone())
            .collect()
    }

    /// Re-derive every held message that the new events concern: targets of new changes,
    /// replies quoting a message just edited or deleted, and new messages that held changes
    /// (which may have arrived before them) concern. Two passes with hash lookups; only the
    /// messages concerned are re-derived.
    fn apply_changes(&mut self, added: &[RoomEvent]) {
        let mut new_messages: HashSet<Seq> = HashSet::new();
        let mut changed: HashSet<MessageId> = HashSet::new();
        let mut requoted: HashSet<MessageId> = HashSet::new();
        for event in added {
            if let EventContent::Message(_) = &event.content {
                new_messages.insert(event.seq);
            }
            if let Some(id) = event.changed_message() {
                changed.insert(id);
                if matches!(
                    event.content,
                    EventContent::MessageEdited(_) | EventContent::MessageDeleted(_)
                ) {
                    requoted.insert(id);
                }
            }
        }
        if new_messages.is_empty() && changed.is_empty() {
            return;
        }
        self.forget_deleted_texts(added);
        let held_changes: HashSet<MessageId> = if new_messages.is_empty() {
            HashSet::new()
        } else {
            self.events
                .iter()
                .filter_map(RoomEvent::changed_message)
                .collect()
        };
        let affected: Vec<usize> = self
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let EventContent::Message(m) = &e.content else {
                    return None;
                };
                let quoted = m.reply_to.as_ref().map(|q| q.message_id);
                let concerned = changed.contains(&m.message_id)
                    || quoted.is_some_and(|q| requoted.contains(&q))
                    || (new_messages.contains(&e.seq)
                        && (held_changes.contains(&m.message_id)
                            || quoted.is_some_and(|q| held_changes.contains(&q))));
                concerned.then_some(i)
            })
            .collect();
        for i in affected {
            self.rederive(i);
        }
    }

    /// Empty the text of held edit events of messages now deleted, as the server does.
    fn forget_deleted_texts(&mut self, added: &[RoomEvent]) {
        let deleted: Vec<MessageId> = added
            .iter()
            .filter_map(|e| match &e.content {
                EventContent::MessageDeleted(d) => Some(d.message_id),
                _ => None,
            })
            .collect();
        if deleted.is_empty() {
            return;
        }
        for event in &mut self.events {
            if let EventContent::MessageEdited(edit) = &mut event.content {
                if deleted.contains(&edit.message_id) && !edit.text.is_empty() {
                    edit.text.clear();
                    self.changed.push(event.seq);
                }
            }
        }
    }

    /// The message at `i` as received, with every held change to it (and to the message it
    /// quotes) newer than it applied in seq order.
    fn rederive(&mut self, i: usize) {
        let seq = self.events[i].seq;
        let EventContent::Message(shown) = &self.events[i].content else {
            return;
        };
        // Only messages that changed keep a copy as received; the rest are their own base.
        let mut message = self.received.get(&seq).unwrap_or(shown).clone();
        let quoted = message.reply_to.as_ref().map(|q| q.message_id);
        for event in &self.events[i + 1..] {
            let concerns = event.changed_message();
            if concerns == Some(message.message_id) {
                message.apply(seq, event);
            } else if concerns.is_some() && concerns == quoted {
                message.apply_to_quote(event);
            }
        }
        if let EventContent::Message(shown) = &mut self.events[i].content {
            if *shown != message {
                let original = std::mem::replace(shown, message);
                self.received.entry(seq).or_insert(original);
                self.changed.push(seq);
            }
        }
    }

    /// The newest page of a room we held nothing of: everything up to its last seq is now
    /// "synced" in the sense that nothing newer is missing; older events are paged in on demand.
    pub fn mark_synced_to(&mut self, seq: Seq) {
        self.synced_to = self.synced_to.max(seq);
        self.advance();
    }

    /// Whether an event with this seq would leave a hole after `synced_to`.
    pub fn is_gap(&self, seq: Seq) -> bool {
        seq > self.synced_to + 1
    }

    fn advance(&mut self) {
        if self.synced_to == 0 {
            // Nothing was known: the first event we hold starts the synced range (older events
            // are paged in on demand when the user scrolls up).
            match self.events.first() {
                Some(first) => self.synced_to = first.seq,
                None => return,
            }
        }
        let mut i = match self.position(self.synced_to) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        while i < self.events.len() && self.events[i].seq <= self.synced_to + 1 {
            self.synced_to = self.synced_to.max(self.events[i].seq);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_protocol::{EventContent, UserRef};

    pub fn event(seq: Seq) -> RoomEvent {
        RoomEvent {
            room_id: 1,
            seq,
            ts: seq * 1000,
            sender: UserRef {
                id: 1,
                username: "alice".into(),
            },
            content: EventContent::Message(ChatMessage {
                message_id: seq,
                client_id: format!("c{seq}"),
                text: format!("m{seq}"),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn events_stay_sorted_and_unique() {
        let mut t = Timeline::default();
        for seq in [3, 1, 2, 2, 5, 4, 1] {
            t.insert(event(seq));
        }
        let seqs: Vec<Seq> = t.events().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(t.synced_to(), 5);
    }

    #[test]
    fn a_hole_stops_synced_to_until_it_is_filled() {
        let mut t = Timeline::default();
        t.insert_all((1..=10).map(event).collect());
        assert_eq!(t.synced_to(), 10);
        assert!(t.is_gap(13));
        assert!(!t.is_gap(11));
        t.insert(event(13));
        t.insert(event(14));
        assert_eq!(t.synced_to(), 10, "11 and 12 are missing");
        let added = t.insert_all(vec![event(11), event(12), event(13)]);
        assert_eq!(added.len(), 2, "13 was already there");
        assert_eq!(t.synced_to(), 14);
    }

    #[test]
    fn the_newest_page_of_an_unknown_room_counts_as_synced() {
        let mut t = Timeline::default();
        t.insert_all((451..=500).map(event).collect());
        t.mark_synced_to(500);
        assert_eq!(t.synced_to(), 500);
        assert!(!t.reached_start());
        t.insert_all((401..=450).map(event).collect());
        assert_eq!(t.first_seq(), Some(401));
        assert_eq!(t.synced_to(), 500);
        t.insert(event(501));
        assert_eq!(t.synced_to(), 501);
    }

    #[test]
    fn a_cached_timeline_keeps_its_synced_mark() {
        let t = Timeline::from_cache((1..=20).map(event).collect(), 20);
        assert_eq!(t.synced_to(), 20);
        assert!(t.reached_start());
    }
}

#[cfg(test)]
mod change_tests {
    use super::tests::event;
    use super::*;
    use chat_protocol::{
        MessageDeleted, MessageEdited, ReactionChange, ReplyQuote, RoomEvent, UserRef,
    };

    fn change(seq: Seq, content: EventContent) -> RoomEvent {
        RoomEvent {
            content,
            ..event(seq)
        }
    }

    fn edit(seq: Seq, id: MessageId, text: &str) -> RoomEvent {
        change(
            seq,
            EventContent::MessageEdited(MessageEdited {
                message_id: id,
                text: text.into(),
                edited_at: seq,
                mentions: vec![],
                mentions_room: false,
            }),
        )
    }

    fn react(seq: Seq, id: MessageId, count: u32) -> RoomEvent {
        change(
            seq,
            EventContent::ReactionAdded(ReactionChange {
                message_id: id,
                emoji: "👍".into(),
                count,
                users: vec![UserRef {
                    id: 2,
                    username: "bob".into(),
                }],
            }),
        )
    }

    fn message(t: &Timeline, seq: Seq) -> ChatMessage {
        match &t.events()[t.position(seq).unwrap()].content {
            EventContent::Message(m) => m.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_late_edit_still_applies_before_a_newer_reaction() {
        let mut t = Timeline::default();
        t.insert_all((1..=3).map(event).collect());
        t.insert(react(6, 2, 1));
        // The gap (4, 5) is filled after the reaction arrived.
        t.insert_all(vec![edit(4, 2, "m2, fixed"), edit(5, 2, "m2, fixed again")]);
        let m = message(&t, 2);
        assert_eq!(m.text, "m2, fixed again");
        assert_eq!(m.reactions[0].count, 1);
        assert_eq!(m.updated_seq, Some(6));
    }

    #[test]
    fn changes_held_before_their_message_apply_when_it_arrives() {
        let mut t = Timeline::default();
        t.insert_all(vec![edit(8, 5, "five, edited"), react(9, 5, 2)]);
        t.insert(event(5));
        assert_eq!(message(&t, 5).text, "five, edited");
        assert_eq!(message(&t, 5).reactions[0].count, 2);
    }

    #[test]
    fn a_delete_empties_the_message_its_edits_and_quotes_of_it() {
        let mut t = Timeline::default();
        t.insert_all((1..=2).map(event).collect());
        let mut reply = event(3);
        if let EventContent::Message(m) = &mut reply.content {
            m.reply_to = Some(ReplyQuote {
                message_id: 1,
                sender: reply.sender.clone(),
                excerpt: "m1".into(),
                deleted: false,
            });
        }
        t.insert(reply);
        t.insert(edit(4, 1, "secret"));
        assert_eq!(message(&t, 3).reply_to.unwrap().excerpt, "secret");
        t.take_changed();
        t.insert(change(
            5,
            EventContent::MessageDeleted(MessageDeleted {
                message_id: 1,
                by_moderator: false,
            }),
        ));
        let m = message(&t, 1);
        assert!(m.deleted && m.text.is_empty());
        assert!(message(&t, 3).reply_to.unwrap().deleted);
        let changed = t.take_changed();
        let text = format!("{changed:?}");
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            changed.len(),
            3,
            "the message, its edit and the reply quoting it"
        );
    }
}
