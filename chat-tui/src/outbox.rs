//! Messages the user wrote that the server has not acknowledged yet.
//!
//! Each has a client id chosen when it was written, so sending it again after a lost connection
//! is safe: the server answers a retry with the original acknowledgement. One message is in
//! flight at a time, which keeps them in the order they were written even when one is refused.

use chat_protocol::{Attachment, MessageId, Millis, RoomId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub client_id: String,
    pub room_id: RoomId,
    /// The room's name when the message was written: still known if the room goes away.
    pub room_name: String,
    pub text: String,
    pub created: Millis,
    pub state: OutboxState,
    /// A reply to this message.
    pub reply_to: Option<MessageId>,
    /// An action (`/me waves`).
    pub action: bool,
    /// Files uploaded already, sent with the text.
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for a connection or for the message before it.
    Queued,
    /// Sent; the acknowledgement has not come back yet.
    InFlight,
    /// Refused by the server, with its reason; never sent again.
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct Outbox {
    items: Vec<OutboxItem>,
}

impl Outbox {
    pub fn from_items(items: Vec<OutboxItem>) -> Outbox {
        Outbox { items }
    }

    pub fn items(&self) -> &[OutboxItem] {
        &self.items
    }

    pub fn push(&mut self, item: OutboxItem) {
        self.items.push(item);
    }

    /// The next message to send, now marked in flight; none while one is still in flight.
    pub fn take_next(&mut self) -> Option<&OutboxItem> {
        if self.items.iter().any(|i| i.state == OutboxState::InFlight) {
            return None;
        }
        let item = self
            .items
            .iter_mut()
            .find(|i| i.state == OutboxState::Queued)?;
        item.state = OutboxState::InFlight;
        Some(item)
    }

    /// Change the text of a message not sent yet; false if it is gone or on its way (the
    /// server may have it already).
    pub fn set_text(&mut self, client_id: &str, text: &str) -> bool {
        match self.items.iter_mut().find(|i| i.client_id == client_id) {
            Some(item) if item.state != OutboxState::InFlight => {
                item.text = text.to_string();
                true
            }
            _ => false,
        }
    }

    /// The server stored it: it leaves the outbox.
    pub fn remove(&mut self, client_id: &str) -> Option<OutboxItem> {
        let i = self.items.iter().position(|i| i.client_id == client_id)?;
        Some(self.items.remove(i))
    }

    /// Refused: kept, with the reason, until the user retries, edits or discards it.
    pub fn fail(&mut self, client_id: &str, reason: String) -> Option<&OutboxItem> {
        let item = self.items.iter_mut().find(|i| i.client_id == client_id)?;
        item.state = OutboxState::Failed(reason);
        Some(item)
    }

    /// The room went away: its waiting messages fail with `reason`; returns their client ids.
    pub fn fail_room(&mut self, room_id: RoomId, reason: &str) -> Vec<String> {
        self.items
            .iter_mut()
            .filter(|i| i.room_id == room_id && i.state == OutboxState::Queued)
            .map(|i| {
                i.state = OutboxState::Failed(reason.to_string());
                i.client_id.clone()
            })
            .collect()
    }

    /// A failed message goes back in the queue, after the others.
    pub fn retry(&mut self, client_id: &str) -> bool {
        let Some(i) = self.items.iter().position(|i| i.client_id == client_id) else {
            return false;
        };
        let mut item = self.items.remove(i);
        item.state = OutboxState::Queued;
        self.items.push(item);
        true
    }

    /// Messages the server refused or whose room went away, oldest first.
    pub fn failed(&self) -> impl Iterator<Item = &OutboxItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.state, OutboxState::Failed(_)))
    }

    /// The connection dropped: whatever was in flight is sent again (with the same client id)
    /// on the next connection.
    pub fn requeue(&mut self) {
        for item in &mut self.items {
            if item.state == OutboxState::InFlight {
                item.state = OutboxState::Queued;
            }
        }
    }

    /// Messages still to be delivered (queued or in flight).
    pub fn waiting(&self) -> usize {
        self.items
            .iter()
            .filter(|i| !matches!(i.state, OutboxState::Failed(_)))
            .count()
    }

    pub fn in_room(&self, room_id: RoomId) -> impl Iterator<Item = &OutboxItem> {
        self.items.iter().filter(move |i| i.room_id == room_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, room_id: RoomId) -> OutboxItem {
        OutboxItem {
            client_id: id.into(),
            room_id,
            room_name: "#general".into(),
            text: format!("text {id}"),
            created: 0,
            state: OutboxState::Queued,
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn messages_go_out_one_at_a_time_in_order() {
        let mut outbox = Outbox::default();
        for id in ["a", "b", "c"] {
            outbox.push(item(id, 1));
        }
        assert_eq!(
            outbox.take_next().map(|i| i.client_id.clone()),
            Some("a".into())
        );
        assert!(outbox.take_next().is_none(), "a is still in flight");
        outbox.remove("a");
        assert_eq!(
            outbox.take_next().map(|i| i.client_id.clone()),
            Some("b".into())
        );
        assert_eq!(outbox.waiting(), 2);
    }

    #[test]
    fn a_queued_message_can_be_rewritten_until_it_is_on_its_way() {
        let mut outbox = Outbox::default();
        outbox.push(item("a", 1));
        outbox.push(item("b", 1));
        outbox.take_next();
        assert!(
            !outbox.set_text("a", "new"),
            "in flight: the server may have it"
        );
        assert!(outbox.set_text("b", "new"));
        assert_eq!(outbox.items()[1].text, "new");
        assert!(!outbox.set_text("gone", "x"));
    }

    #[test]
    fn a_lost_connection_resends_the_same_message_first() {
        let mut outbox = Outbox::default();
        outbox.push(item("a", 1));
        outbox.push(item("b", 1));
        outbox.take_next();
        outbox.requeue();
        assert_eq!(
            outbox.take_next().map(|i| i.client_id.clone()),
            Some("a".into())
        );
    }

    #[test]
    fn a_refused_message_does_not_block_the_rest() {
        let mut outbox = Outbox::default();
        outbox.push(item("a", 1));
        outbox.push(item("b", 2));
        outbox.take_next();
        outbox.fail("a", "too large".into());
        assert_eq!(
            outbox.take_next().map(|i| i.client_id.clone()),
            Some("b".into())
        );
        assert_eq!(outbox.waiting(), 1);
        assert_eq!(outbox.failed().count(), 1, "kept until dealt with");
        outbox.remove("a");
        assert_eq!(outbox.items().len(), 1);
    }

    #[test]
    fn a_gone_rooms_messages_fail_and_a_retry_goes_last() {
        let mut outbox = Outbox::default();
        outbox.push(item("a", 1));
        outbox.push(item("b", 2));
        outbox.push(item("c", 1));
        assert_eq!(outbox.fail_room(1, "gone"), ["a", "c"]);
        assert_eq!(outbox.waiting(), 1);
        assert!(outbox.retry("a"));
        let order: Vec<&str> = outbox
            .items()
            .iter()
            .map(|i| i.client_id.as_str())
            .collect();
        assert_eq!(order, ["b", "c", "a"]);
    }
}
