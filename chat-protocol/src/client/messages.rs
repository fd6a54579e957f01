//! Requests about single messages: replies, edits, deletes, reactions, threads, mentions.

use super::{unexpected, ClientError, ClientHandle};
use crate::{
    ClientFrame, DeleteMessage, EditMessage, GetThread, ListMentions, Mentions, MessageId,
    MessageSent, Reaction, RoomId, SendMessage, Seq, ServerFrame, Thread,
};

impl ClientHandle {
    /// Post `text` as a reply to `reply_to` (a message of the same room).
    pub async fn send_reply(
        &self,
        room_id: RoomId,
        client_id: impl Into<String>,
        text: impl Into<String>,
        reply_to: MessageId,
    ) -> Result<MessageSent, ClientError> {
        self.send(SendMessage {
            request_id: 0,
            room_id,
            client_id: client_id.into(),
            text: text.into(),
            reply_to: Some(reply_to),
            action: false,
            attachments: Vec::new(),
        })
        .await
    }

    /// Post any `send_message` (a reply, an action).
    pub async fn send(&self, message: SendMessage) -> Result<MessageSent, ClientError> {
        match self.request(ClientFrame::SendMessage(message)).await? {
            ServerFrame::MessageSent(ack) => Ok(ack),
            other => Err(unexpected(other)),
        }
    }

    /// Replace the text of one of my messages.
    pub async fn edit_message(
        &self,
        room_id: RoomId,
        message_id: MessageId,
        text: impl Into<String>,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::EditMessage(EditMessage {
            request_id: 0,
            room_id,
            message_id,
            text: text.into(),
        });
        self.request(frame).await.map(drop)
    }

    /// Delete my message, or anyone's as a room owner or admin.
    pub async fn delete_message(
        &self,
        room_id: RoomId,
        message_id: MessageId,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::DeleteMessage(DeleteMessage {
            request_id: 0,
            room_id,
            message_id,
        });
        self.request(frame).await.map(drop)
    }

    /// React to a message with `emoji`.
    pub async fn add_reaction(
        &self,
        room_id: RoomId,
        message_id: MessageId,
        emoji: impl Into<String>,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::AddReaction(reaction(room_id, message_id, emoji));
        self.request(frame).await.map(drop)
    }

    /// Take back my `emoji` reaction.
    pub async fn remove_reaction(
        &self,
        room_id: RoomId,
        message_id: MessageId,
        emoji: impl Into<String>,
    ) -> Result<(), ClientError> {
        let frame = ClientFrame::RemoveReaction(reaction(room_id, message_id, emoji));
        self.request(frame).await.map(drop)
    }

    /// The replies to `message_id` after seq `after` (0 for the first page).
    pub async fn get_thread(
        &self,
        room_id: RoomId,
        message_id: MessageId,
        after: Seq,
        limit: u32,
    ) -> Result<Thread, ClientError> {
        let frame = ClientFrame::GetThread(GetThread {
            request_id: 0,
            room_id,
            message_id,
            after: Some(after),
            limit: Some(limit),
        });
        match self.request(frame).await? {
            ServerFrame::Thread(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    /// Messages that mention me, newest first, older than message `before` if given.
    pub async fn list_mentions(
        &self,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Mentions, ClientError> {
        let frame = ClientFrame::ListMentions(ListMentions {
            request_id: 0,
            before,
            limit: Some(limit),
        });
        match self.request(frame).await? {
            ServerFrame::Mentions(m) => Ok(m),
            other => Err(unexpected(other)),
        }
    }
}

fn reaction(room_id: RoomId, message_id: MessageId, emoji: impl Into<String>) -> Reaction {
    Reaction {
        request_id: 0,
        room_id,
        message_id,
        emoji: emoji.into(),
    }
}
