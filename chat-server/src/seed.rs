//! Bulk set-up of a database before the server starts: accounts with tokens, rooms with members,
//! and messages. `chat-bench` uses it to build its test worlds in seconds; going through the
//! protocol would spend minutes in argon2 for thousands of accounts.
//!
//! Everything goes through the same write jobs as the live server ([`ops`]), inside one
//! transaction per [`Seeder`], so seeded data is exactly what clients would have produced. The
//! server must not be running on the file: the hub loads memberships only at start-up.

use crate::auth;
use crate::store::{self, messages, now_ms, ops, Durability, Publication, StoreError, WriteCtx};
use chat_protocol::{MessageId, RoomId, RoomKind, Seq, UserRef};
use rusqlite::Connection;
use std::path::Path;

/// An open seeding transaction on a database file.
pub struct Seeder {
    conn: Connection,
    now: chat_protocol::Millis,
    /// What the write jobs would push to clients; nobody is connected, so it is dropped.
    scratch: Vec<Publication>,
}

impl Seeder {
    /// Open (creating and migrating if needed) the database and begin a transaction.
    pub fn open(path: &Path) -> Result<Seeder, StoreError> {
        // Seeding is redone from scratch if interrupted, so it skips the fsyncs.
        let conn = store::open_write_connection(path, Durability::Normal)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Seeder {
            conn,
            now: now_ms(),
            scratch: Vec::new(),
        })
    }

    fn job<R>(
        &mut self,
        f: impl FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut ctx = WriteCtx {
            conn: &self.conn,
            now: self.now,
            publications: &mut self.scratch,
            broken: false,
        };
        let result = f(&mut ctx);
        self.scratch.clear();
        result
    }

    /// A token-only (bot) account and a fresh token for it.
    pub fn user_with_token(&mut self, username: &str) -> Result<(UserRef, String), StoreError> {
        auth::check_username(username)
            .map_err(|(code, message)| StoreError::Refused(code, message))?;
        let user = ops::insert_user(&self.conn, username, None, self.now)?;
        let token = auth::new_token();
        ops::insert_token(
            &self.conn,
            user.id,
            &auth::token_hash(&token),
            "seed",
            self.now,
        )?;
        Ok((user, token))
    }

    /// A room owned by `owner` with `members` (usernames) added, as `create_room` makes it.
    pub fn room(
        &mut self,
        owner: &UserRef,
        kind: RoomKind,
        title: &str,
        members: Vec<String>,
    ) -> Result<RoomId, StoreError> {
        let title = title.to_string();
        // Seeding sets up benchmarks and tests as asked: no cap on rooms per user.
        self.job(|ctx| ops::create_room(ctx, owner, kind, title, String::new(), members, u32::MAX))
            .map(|summary| summary.id)
    }

    /// Post a message as `sender`, as `send_message` does; returns its seq.
    pub fn message(
        &mut self,
        sender: &UserRef,
        room_id: RoomId,
        client_id: String,
        text: String,
    ) -> Result<Seq, StoreError> {
        self.message_with_id(sender, room_id, client_id, text)
            .map(|(seq, _)| seq)
    }

    /// Post a message as `sender`; returns its seq and message id.
    pub fn message_with_id(
        &mut self,
        sender: &UserRef,
        room_id: RoomId,
        client_id: String,
        text: String,
    ) -> Result<(Seq, MessageId), StoreError> {
        self.job(|ctx| {
            let message = messages::NewMessage {
                client_id,
                text,
                ..Default::default()
            };
            messages::send_message(ctx, sender, room_id, message)
        })
        .map(|ack| (ack.seq, ack.message_id))
    }

    /// Edit a message as `sender`, as `edit_message` does.
    pub fn edit(
        &mut self,
        sender: &UserRef,
        room_id: RoomId,
        message_id: MessageId,
        text: String,
    ) -> Result<(), StoreError> {
        self.job(|ctx| messages::edit_message(ctx, sender, room_id, message_id, text))
    }

    /// React to a message as `user`, as `add_reaction` does.
    pub fn react(
        &mut self,
        user: &UserRef,
        room_id: RoomId,
        message_id: MessageId,
        emoji: &str,
    ) -> Result<(), StoreError> {
        let emoji = emoji.to_string();
        self.job(|ctx| messages::react(ctx, user, room_id, message_id, emoji, true))
    }

    /// Commit everything seeded, and index it for search, so a server started on the file
    /// has nothing to catch up on.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        store::search::index_all(&mut self.conn)?;
        checkpoint(&self.conn)
    }

    /// Commit everything seeded, leaving the search index to whoever times it.
    pub fn commit_unindexed(self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        checkpoint(&self.conn)
    }
}

/// Leave a small WAL behind so the server does not start by checkpointing gigabytes.
fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// How many messages the database holds (to check a seeded file, or count what was persisted).
pub fn message_count(path: &Path) -> Result<i64, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
}

/// Every room's last seq, for checking that nothing was lost.
pub fn room_last_seqs(path: &Path) -> Result<Vec<(RoomId, Seq)>, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(concat!(
        "SELECT r.id, ",
        crate::store::queries::last_seq_of_r!(),
        " FROM rooms r ORDER BY r.id"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_worlds_look_like_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.sqlite");
        let mut seeder = Seeder::open(&path).unwrap();
        let (alice, token) = seeder.user_with_token("alice").unwrap();
        seeder.user_with_token("bob").unwrap();
        let room = seeder
            .room(&alice, RoomKind::Group, "crew", vec!["bob".into()])
            .unwrap();
        // room_created, alice joined, bob added: the first message is seq 4
        let seq = seeder
            .message(&alice, room, "c1".into(), "hi".into())
            .unwrap();
        assert_eq!(seq, 4);
        seeder.commit().unwrap();
        assert_eq!(message_count(&path).unwrap(), 1);
        assert_eq!(room_last_seqs(&path).unwrap(), vec![(room, 4)]);
        let conn = store::open_write_connection(&path, Durability::Normal).unwrap();
        let (owner, _) = store::queries::token_owner(&conn, &auth::token_hash(&token))
            .unwrap()
            .unwrap();
        assert_eq!(owner.username, "alice");
    }
}
