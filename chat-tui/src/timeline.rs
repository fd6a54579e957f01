//! One room's events in seq order, and how far they are known to be complete.
//!
//! Events arrive live, from history pages and from the cache, in any order and sometimes twice.
//! The timeline keeps them sorted and unique by seq. `synced_to` is the highest seq up to which
//! nothing is missing (from the first loaded event on): a live event beyond `synced_to + 1`
//! reveals a gap, which the client fills by asking for history after `synced_to`.

use chat_protocol::{RoomEvent, Seq};

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    events: Vec<RoomEvent>,
    synced_to: Seq,
}

impl Timeline {
    /// Events loaded from the cache, contiguous and ending at `synced_to`.
    pub fn from_cache(events: Vec<RoomEvent>, synced_to: Seq) -> Timeline {
        let mut t = Timeline {
            events: Vec::with_capacity(events.len()),
            synced_to: 0,
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
        let added = match self.position(event.seq) {
            Ok(_) => false,
            Err(i) => {
                self.events.insert(i, event);
                true
            }
        };
        self.advance();
        added
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
        added
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
            content: EventContent::Message(chat_protocol::ChatMessage {
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
