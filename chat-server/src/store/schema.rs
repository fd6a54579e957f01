//! Versioned schema migrations, applied in order at start-up (`PRAGMA user_version`).

use rusqlite::Connection;

/// Each entry upgrades the schema by one version. Never edit a released migration; append.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, tokens, rooms, members with receipts, the event log and message index.
    r#"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT,            -- NULL for bot accounts, which only use tokens
        created_at    INTEGER NOT NULL,
        last_seen     INTEGER
    );
    CREATE TABLE tokens (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id),
        token_hash BLOB NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
        label      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    -- The running server polls this log to close connections of tokens revoked by the admin CLI.
    CREATE TABLE revocations (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id INTEGER NOT NULL
    );
    CREATE TABLE rooms (
        id         INTEGER PRIMARY KEY,
        kind       TEXT NOT NULL,
        title      TEXT NOT NULL,
        topic      TEXT NOT NULL DEFAULT '',
        direct_key TEXT UNIQUE,        -- "low_user_id:high_user_id" for direct rooms
        created_at INTEGER NOT NULL,
        last_seq   INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE members (
        room_id       INTEGER NOT NULL REFERENCES rooms(id),
        user_id       INTEGER NOT NULL REFERENCES users(id),
        role          TEXT NOT NULL,
        joined_at     INTEGER NOT NULL,
        delivered_seq INTEGER NOT NULL DEFAULT 0,
        read_seq      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_user ON members(user_id, room_id);
    -- Every room event, stored as the JSON clients receive, so history is served without
    -- re-encoding.
    CREATE TABLE events (
        room_id   INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        ts        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        sender_id INTEGER NOT NULL,
        json      TEXT NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID;
    -- Messages by (sender, client id) for idempotent sends.
    CREATE TABLE messages (
        id        INTEGER PRIMARY KEY,
        room_id   INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        sender_id INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        UNIQUE (sender_id, client_id)
    );
    CREATE INDEX messages_by_room ON messages(room_id, seq, sender_id);
    "#,
    // 2: unread counts read the events table's own (room_id, seq) key; the index kept for
    // them cost every send one more B-tree page per room in each group commit.
    r#"
    DROP INDEX messages_by_room;
    "#,
    // 3: a room's last seq is its highest stored event (read from the events key); counting it
    // in rooms as well cost every event an UPDATE and a dirty rooms page per commit.
    r#"
    ALTER TABLE rooms DROP COLUMN last_seq;
    "#,
    // 4: events in arrival order (a rowid table: new rows go at the end, in pages shared by
    // every event of a group commit) with a small (room_id, seq) index. Keyed by (room_id, seq)
    // itself, each event went into the middle of the tree, next to the start of the following
    // room, and the 250-byte rows kept those pages full: 2.4 WAL pages written per event
    // (chat-bench chat, 6,000 users), where index entries of a few dozen bytes rarely split.
    // The index also carries sender and kind, so unread counts never read the rows; (room_id,
    // seq) is unique by construction (the writer takes the room's max + 1).
    r#"
    CREATE TABLE events_log (
        id        INTEGER PRIMARY KEY,
        room_id   INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        ts        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        sender_id INTEGER NOT NULL,
        json      TEXT NOT NULL
    );
    INSERT INTO events_log (room_id, seq, ts, kind, sender_id, json)
        SELECT room_id, seq, ts, kind, sender_id, json FROM events ORDER BY room_id, seq;
    DROP TABLE events;
    ALTER TABLE events_log RENAME TO events;
    CREATE UNIQUE INDEX events_by_room ON events(room_id, seq, sender_id, kind);
    "#,
    // 5: the seq of each member's membership event, so "longest-standing" is the order in
    // which members joined the room's timeline, not the millisecond clock (two members added
    // in one batch share a joined_at and were ordered by user id). Filled in from each
    // member's latest join or addition event.
    r#"
    ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE members SET joined_seq = coalesce((
        SELECT max(e.seq) FROM events e
        WHERE e.room_id = members.room_id
          AND e.kind IN ('member_joined', 'member_added')
          AND json_extract(e.json, '$.content.user.id') = members.user_id), 0);
    "#,
    // 6: messages that change. Replies (messages.reply_to), deletions (a tombstone keeps the
    // row; the text goes to message_history), the earlier texts of edits and deletions for the
    // audit subcommand (never served to clients), reactions, mentions (user 0: everyone, by
    // @room), and archived rooms.
    r#"
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
    CREATE INDEX messages_by_parent ON messages(reply_to, seq) WHERE reply_to IS NOT NULL;
    CREATE TABLE message_history (
        id         INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL,
        room_id    INTEGER NOT NULL,
        seq        INTEGER NOT NULL,   -- the seq of the edit or delete event
        action     TEXT NOT NULL,      -- 'edit' or 'delete'
        actor_id   INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        old_text   TEXT NOT NULL
    );
    CREATE INDEX message_history_by_message ON message_history(message_id, seq);
    CREATE INDEX message_history_by_room ON message_history(room_id, seq);
    CREATE TABLE reactions (
        message_id  INTEGER NOT NULL,
        emoji       TEXT NOT NULL,
        user_id     INTEGER NOT NULL,
        room_id     INTEGER NOT NULL,
        message_seq INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        PRIMARY KEY (message_id, emoji, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX reactions_by_user ON reactions(user_id, room_id, message_seq);
    CREATE TABLE mentions (
        user_id    INTEGER NOT NULL,
        room_id    INTEGER NOT NULL,
        seq        INTEGER NOT NULL,   -- the message's seq
        message_id INTEGER NOT NULL,
        sender_id  INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX mentions_by_user ON mentions(user_id, message_id);
    CREATE INDEX mentions_by_message ON mentions(message_id);
    ALTER TABLE rooms ADD COLUMN archived_at INTEGER;
    "#,
    // 7: each member's own settings for the room. Drafts live apart so the members rows,
    // read on every send, stay small.
    r#"
    ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
    ALTER TABLE members ADD COLUMN pin_position INTEGER;
    ALTER TABLE members ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    -- Finds the few members to bring back when a message arrives, without a scan.
    CREATE INDEX members_hidden ON members(room_id) WHERE hidden = 1;
    CREATE TABLE drafts (
        user_id INTEGER NOT NULL,
        room_id INTEGER NOT NULL,
        text    TEXT NOT NULL,
        PRIMARY KEY (user_id, room_id)
    ) WITHOUT ROWID;
    "#,
    // 8: full-text search. The indexer (store/search.rs) copies each message's current text
    // into search_docs, following messages.id and message_history.id; two FTS5 indexes over
    // it, kept by triggers: words (diacritics folded), and trigrams (substrings) of the texts
    // with letters of scripts written without spaces, the only ones a substring is needed for.
    r#"
    CREATE TABLE search_docs (
        id        INTEGER PRIMARY KEY,   -- the message id
        room_id   INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        sender_id INTEGER NOT NULL,
        ts        INTEGER NOT NULL,
        text      TEXT NOT NULL,
        spaceless INTEGER NOT NULL       -- has letters of a script without spaces
    );
    CREATE INDEX search_docs_by_room ON search_docs(room_id, ts);
    CREATE VIRTUAL TABLE search_words USING fts5(
        text, content='search_docs', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE search_trigrams USING fts5(
        text, content='search_docs', content_rowid='id', tokenize='trigram'
    );
    CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_words (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER search_docs_insert_trigrams AFTER INSERT ON search_docs
    WHEN new.spaceless BEGIN
        INSERT INTO search_trigrams (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_words (search_words, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER search_docs_delete_trigrams AFTER DELETE ON search_docs
    WHEN old.spaceless BEGIN
        INSERT INTO search_trigrams (search_trigrams, rowid, text)
            VALUES ('delete', old.id, old.text);
    END;
    -- How far the indexer has read: messages up to `messages_to`, changes up to `changes_to`.
    CREATE TABLE search_state (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        messages_to INTEGER NOT NULL,
        changes_to  INTEGER NOT NULL
    );
    INSERT INTO search_state (id, messages_to, changes_to) VALUES (1, 0, 0);
    "#,
    // 9: files uploaded over HTTP, stored by content (`sha256`) beside the database, and the
    // messages that share them.
    r#"
    -- AUTOINCREMENT: an id is never given to another file after `files gc`, so a client's
    -- cached download of file 27 cannot be taken for a later file 27.
    CREATE TABLE files (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        uploader_id INTEGER NOT NULL REFERENCES users(id),
        sha256      BLOB NOT NULL,
        size        INTEGER NOT NULL,
        name        TEXT NOT NULL,
        media_type  TEXT NOT NULL,
        width       INTEGER,
        height      INTEGER,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX files_by_sha256 ON files(sha256);
    CREATE TABLE message_files (
        file_id    INTEGER NOT NULL REFERENCES files(id),
        message_id INTEGER NOT NULL REFERENCES messages(id),
        position   INTEGER NOT NULL,
        PRIMARY KEY (file_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX message_files_by_message ON message_files(message_id);
    "#,
    // 10: search folds what SQLite's unicode61 does not (search_fold.rs): accents of every
    // script, ß, fullwidth forms, ligatures. A text with anything but ASCII is indexed a second
    // time, folded, in the word index's `folded` column. The indexes are rebuilt from scratch:
    // the indexer starts over (in the background; searches report its lag meanwhile).
    r#"
    DROP TRIGGER search_docs_insert;
    DROP TRIGGER search_docs_delete;
    DROP TRIGGER search_docs_insert_trigrams;
    DROP TRIGGER search_docs_delete_trigrams;
    DROP TABLE search_words;
    DROP TABLE search_trigrams;
    DELETE FROM search_docs;
    ALTER TABLE search_docs ADD COLUMN folded TEXT NOT NULL DEFAULT '';
    CREATE VIRTUAL TABLE search_words USING fts5(
        text, folded, content='search_docs', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE search_trigrams USING fts5(
        text, content='search_docs', content_rowid='id', tokenize='trigram'
    );
    CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_words (rowid, text, folded) VALUES (new.id, new.text, new.folded);
    END;
    CREATE TRIGGER search_docs_insert_trigrams AFTER INSERT ON search_docs
    WHEN new.spaceless BEGIN
        INSERT INTO search_trigrams (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_words (search_words, rowid, text, folded)
            VALUES ('delete', old.id, old.text, old.folded);
    END;
    CREATE TRIGGER search_docs_delete_trigrams AFTER DELETE ON search_docs
    WHEN old.spaceless BEGIN
        INSERT INTO search_trigrams (search_trigrams, rowid, text)
            VALUES ('delete', old.id, old.text);
    END;
    UPDATE search_state SET messages_to = 0, changes_to = 0;
    "#,
    // 11: every search bounded in work. The word index holds each message's room and sender as
    // tokens (`scope`: "r5 u2"), so `in:` and `from:` (and a caller in few rooms) narrow the
    // match inside the index instead of after it, and 2- and 3-character prefixes have
    // prefix indexes instead of merging every word that starts with them. Rebuilt from
    // scratch as in 10.
    r#"
    DROP TRIGGER search_docs_insert;
    DROP TRIGGER search_docs_delete;
    DROP TRIGGER search_docs_delete_trigrams;
    DROP TABLE search_words;
    DELETE FROM search_docs;
    INSERT INTO search_trigrams (search_trigrams) VALUES ('delete-all');
    ALTER TABLE search_docs ADD COLUMN scope TEXT NOT NULL DEFAULT '';
    CREATE VIRTUAL TABLE search_words USING fts5(
        text, folded, scope, content='search_docs', content_rowid='id', prefix='2 3',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_words (rowid, text, folded, scope)
            VALUES (new.id, new.text, new.folded, new.scope);
    END;
    CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_words (search_words, rowid, text, folded, scope)
            VALUES ('delete', old.id, old.text, old.folded, old.scope);
    END;
    CREATE TRIGGER search_docs_delete_trigrams AFTER DELETE ON search_docs
    WHEN old.spaceless BEGIN
        INSERT INTO search_trigrams (search_trigrams, rowid, text)
            VALUES ('delete', old.id, old.text);
    END;
    UPDATE search_state SET messages_to = 0, changes_to = 0;
    "#,
];

/// The schema version this build expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the database up to the latest schema, one transaction per migration.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        conn.execute(
            "INSERT INTO users (username, created_at) VALUES ('a', 0)",
            [],
        )
        .unwrap();
        // usernames are unique regardless of case
        assert!(conn
            .execute(
                "INSERT INTO users (username, created_at) VALUES ('A', 0)",
                []
            )
            .is_err());
    }

    #[test]
    fn migration_5_orders_existing_members_by_their_membership_event() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO users (id, username, created_at) VALUES (1, 'a', 0), (3, 'c', 0), (7, 'g', 0);
            INSERT INTO rooms (id, kind, title, created_at) VALUES (1, 'group', 'g', 0);
            INSERT INTO members (room_id, user_id, role, joined_at) VALUES (1, 7, 'member', 5);
            INSERT INTO members (room_id, user_id, role, joined_at) VALUES (1, 3, 'member', 5);
            INSERT INTO events (room_id, seq, ts, kind, sender_id, json) VALUES
              (1, 2, 5, 'member_added', 1, '{"content":{"kind":"member_added","user":{"id":7}}}'),
              (1, 3, 5, 'member_added', 1, '{"content":{"kind":"member_added","user":{"id":3}}}');
            "#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let order: Vec<i64> = conn
            .prepare("SELECT user_id FROM members ORDER BY joined_seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            order,
            [7, 3],
            "user 7 was added first, whatever the ids say"
        );
    }

    #[test]
    fn folding_rebuilds_the_search_indexes_from_the_start() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..9] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 9).unwrap();
        conn.execute_batch(
            "INSERT INTO search_docs (id, room_id, seq, sender_id, ts, text, spaceless)
               VALUES (1, 1, 1, 1, 0, 'Hauptstraße', 0);
             UPDATE search_state SET messages_to = 1, changes_to = 0;",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM search_docs", [], |r| r.get(0))
            .unwrap();
        let from: i64 = conn
            .query_row("SELECT messages_to FROM search_state", [], |r| r.get(0))
            .unwrap();
        assert_eq!((left, from), (0, 0), "the indexer starts over, folding");
        conn.execute_batch(
            "INSERT INTO search_docs (id, room_id, seq, sender_id, ts, text, spaceless, folded)
               VALUES (1, 1, 1, 1, 0, 'Hauptstraße', 0, 'hauptstrasse')",
        )
        .unwrap();
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM search_words WHERE search_words MATCH 'hauptstrasse'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1);
    }
}
