//! The local cache: rooms, recent events and the outbox, in SQLite in the profile folder.
//!
//! Start-up reads it so the last state shows at once, also with the server down. Writes come
//! from `update` as [`CacheOp`]s and are applied on a thread of their own, many per
//! transaction, so the UI never waits on the disk. The outbox lives here too: a message written
//! offline survives quitting the client.

use crate::msg::{CacheOp, Msg};
use crate::outbox::{OutboxItem, OutboxState};
use chat_protocol::{RoomEvent, RoomId, RoomSummary, Seq, UserRef};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::mpsc::UnboundedSender;

/// Events per room read at start-up; older ones are read when the user scrolls up.
pub const STARTUP_EVENTS: usize = 1000;
/// Events per page read when scrolling up.
pub const OLDER_PAGE: usize = 500;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    summary TEXT NOT NULL,
    synced_to INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    room_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    room_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    created INTEGER NOT NULL,
    room_name TEXT NOT NULL DEFAULT '',
    failed TEXT
);
CREATE TABLE IF NOT EXISTS drafts (room_id INTEGER PRIMARY KEY, text TEXT NOT NULL);
";

/// Columns added to caches made by earlier versions.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("outbox", "room_name", "TEXT NOT NULL DEFAULT ''"),
    ("outbox", "failed", "TEXT"),
    ("outbox", "reply_to", "INTEGER"),
    ("outbox", "action", "INTEGER NOT NULL DEFAULT 0"),
    // JSON: the uploaded files the message carries.
    ("outbox", "attachments", "TEXT NOT NULL DEFAULT '[]'"),
];

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cache contents: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot move the cache: {0}")]
    Move(String),
}

/// What the cache held at start-up.
#[derive(Debug, Clone, Default)]
pub struct Cached {
    pub me: Option<UserRef>,
    /// Each room with its newest contiguous run of events.
    pub rooms: Vec<(RoomSummary, Vec<RoomEvent>)>,
    pub outbox: Vec<OutboxItem>,
    /// Unsent text per room.
    pub drafts: HashMap<RoomId, String>,
    /// The room that was open when the client last ran.
    pub selected: Option<RoomId>,
}

pub struct Cache {
    conn: Connection,
}

impl Cache {
    pub fn open(path: &Path) -> Result<Cache, CacheError> {
        let conn = Connection::open(path)?;
        Cache::init(conn)
    }

    pub fn in_memory() -> Result<Cache, CacheError> {
        Cache::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Cache, CacheError> {
        // WAL with NORMAL sync: a cache may lose its last writes in a power cut, never its
        // consistency; the outbox write is also flushed before the client exits.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        for (table, column, decl) in ADDED_COLUMNS {
            let present: bool = conn.query_row(
                &format!("SELECT count(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
                [column],
                |r| r.get(0),
            )?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        Ok(Cache { conn })
    }

    pub fn load(&self) -> Result<Cached, CacheError> {
        let me = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'me'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|json| serde_json::from_str(&json))
            .transpose()?;
        let mut rooms = Vec::new();
        let mut stmt = self.conn.prepare("SELECT summary, synced_to FROM rooms")?;
        let rows: Vec<(String, Seq)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (summary, synced_to) in rows {
            let summary: RoomSummary = serde_json::from_str(&summary)?;
            let events = self.newest_run(summary.id, synced_to, STARTUP_EVENTS)?;
            rooms.push((summary, events));
        }
        let mut stmt = self.conn.prepare(
            "SELECT client_id, room_id, text, created, room_name, failed, reply_to, action,
                    attachments
             FROM outbox ORDER BY pos",
        )?;
        let outbox = stmt
            .query_map([], |r| {
                Ok(OutboxItem {
                    client_id: r.get(0)?,
                    room_id: r.get(1)?,
                    text: r.get(2)?,
                    created: r.get(3)?,
                    room_name: r.get(4)?,
                    state: match r.get::<_, Option<String>>(5)? {
                        Some(reason) => OutboxState::Failed(reason),
                        None => OutboxState::Queued,
                    },
                    reply_to: r.get(6)?,
                    action: r.get(7)?,
                    // Unreadable (written by a later version): sent without its files
                    // rather than not at all.
                    attachments: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let drafts = self
            .conn
            .prepare("SELECT room_id, text FROM drafts")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let selected = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'selected'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|v| v.parse().ok());
        Ok(Cached {
            me,
            rooms,
            outbox,
            drafts,
            selected,
        })
    }

    /// The newest events at or below `upto`, cut to the run without holes that ends the newest.
    fn newest_run(
        &self,
        room_id: RoomId,
        upto: Seq,
        limit: usize,
    ) -> Result<Vec<RoomEvent>, CacheError> {
        let mut events = self.older(room_id, upto + 1, limit)?;
        let keep_from = events
            .windows(2)
            .rposition(|w| w[1].seq != w[0].seq + 1)
            .map_or(0, |i| i + 1);
        Ok(events.split_off(keep_from))
    }

    /// Up to `limit` events before `before`, oldest first.
    pub fn older(
        &self,
        room_id: RoomId,
        before: Seq,
        limit: usize,
    ) -> Result<Vec<RoomEvent>, CacheError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT json FROM events WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let mut events = stmt
            .query_map(params![room_id, before, limit as i64], |r| {
                r.get::<_, String>(0)
            })?
            .map(|json| Ok(serde_json::from_str::<RoomEvent>(&json?)?))
            .collect::<Result<Vec<_>, CacheError>>()?;
        events.reverse();
        Ok(events)
    }

    /// Apply writes in one transaction.
    pub fn apply(&mut self, ops: &[CacheOp]) -> Result<(), CacheError> {
        let tx = self.conn.transaction()?;
        for op in ops {
            match op {
                CacheOp::Me(user) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('me', ?1)",
                        [serde_json::to_string(user)?],
                    )?;
                }
                CacheOp::Room { summary, synced_to } => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO rooms (id, summary, synced_to) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![
                        summary.id,
                        serde_json::to_string(summary)?,
                        synced_to
                    ])?;
                }
                CacheOp::RemoveRoom(id) => {
                    tx.execute("DELETE FROM rooms WHERE id = ?1", [id])?;
                    tx.execute("DELETE FROM events WHERE room_id = ?1", [id])?;
                }
                CacheOp::Events(events) => {
                    let mut stmt = tx.prepare_cached(
                        "INSERT OR IGNORE INTO events (room_id, seq, json) VALUES (?1, ?2, ?3)",
                    )?;
                    for e in events {
                        stmt.execute(params![e.room_id, e.seq, serde_json::to_string(e)?])?;
                    }
                }
                CacheOp::ReplaceEvents(events) => {
                    let mut stmt = tx.prepare_cached(
                        "INSERT OR REPLACE INTO events (room_id, seq, json) VALUES (?1, ?2, ?3)",
                    )?;
                    for e in events {
                        stmt.execute(params![e.room_id, e.seq, serde_json::to_string(e)?])?;
                    }
                }
                CacheOp::OutboxPut(item) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO outbox
                           (client_id, room_id, text, created, room_name, reply_to, action,
                            attachments)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            item.client_id,
                            item.room_id,
                            item.text,
                            item.created,
                            item.room_name,
                            item.reply_to,
                            item.action,
                            serde_json::to_string(&item.attachments)?
                        ],
                    )?;
                }
                CacheOp::OutboxText { client_id, text } => {
                    tx.execute(
                        "UPDATE outbox SET text = ?2 WHERE client_id = ?1",
                        params![client_id, text],
                    )?;
                }
                CacheOp::OutboxFailed { client_id, reason } => {
                    tx.execute(
                        "UPDATE outbox SET failed = ?2 WHERE client_id = ?1",
                        params![client_id, reason],
                    )?;
                }
                CacheOp::OutboxRetry(client_id) => {
                    tx.execute(
                        "UPDATE outbox SET failed = NULL WHERE client_id = ?1",
                        [client_id],
                    )?;
                }
                CacheOp::Draft { room_id, text } if text.is_empty() => {
                    tx.execute("DELETE FROM drafts WHERE room_id = ?1", [room_id])?;
                }
                CacheOp::Draft { room_id, text } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO drafts (room_id, text) VALUES (?1, ?2)",
                        params![room_id, text],
                    )?;
                }
                CacheOp::Selected(room_id) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('selected', ?1)",
                        [room_id.to_string()],
                    )?;
                }
                CacheOp::OutboxRemove(client_id) => {
                    tx.execute("DELETE FROM outbox WHERE client_id = ?1", [client_id])?;
                }
                CacheOp::Clear => {
                    tx.execute_batch(
                        "DELETE FROM meta; DELETE FROM rooms; DELETE FROM events; DELETE FROM outbox;
                         DELETE FROM drafts;",
                    )?;
                }
                CacheOp::ClearHistory => {
                    tx.execute_batch(
                        "DELETE FROM meta; DELETE FROM rooms; DELETE FROM events;
                         DELETE FROM drafts;",
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// A cache from before caches were kept per account (`cache.sqlite`, shared by whoever logged
/// in on the profile) goes to the account it names (`me`), so its queued messages are sent
/// when that user logs in; `server` is the server that account was on. A cache that names no
/// account, or whose account has a cache already, stays where it is: nothing is deleted.
pub fn adopt_legacy(paths: &crate::session::ProfilePaths, server: &str) -> Result<(), CacheError> {
    let legacy = &paths.legacy_cache;
    if !legacy.exists() {
        return Ok(());
    }
    // Opened and closed: the last connection to close folds the WAL into the file.
    let me = Cache::open(legacy)?.load()?.me;
    let Some(me) = me else {
        return Ok(());
    };
    let target = paths.cache_for(server, &me.username);
    if target.exists() {
        return Ok(());
    }
    std::fs::rename(legacy, &target).map_err(|e| CacheError::Move(e.to_string()))?;
    for suffix in ["-wal", "-shm"] {
        let mut from = legacy.clone().into_os_string();
        from.push(suffix);
        let mut to = target.clone().into_os_string();
        to.push(suffix);
        if Path::new(&from).exists() {
            std::fs::rename(&from, &to).map_err(|e| CacheError::Move(e.to_string()))?;
        }
    }
    tracing::info!("moved the profile's cache to {}", target.display());
    Ok(())
}

enum Job {
    Write(Vec<CacheOp>),
    Older { room_id: RoomId, before: Seq },
}

/// The cache thread: writes in batches, answers reads with [`Msg::CachedOlder`].
pub struct CacheWorker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CacheWorker {
    pub fn spawn(mut cache: Cache, msgs: UnboundedSender<Msg>) -> CacheWorker {
        let (jobs, rx) = mpsc::channel::<Job>();
        let thread = std::thread::spawn(move || {
            while let Ok(job) = rx.recv() {
                let mut writes = Vec::new();
                let mut reads = Vec::new();
                for job in std::iter::once(job).chain(rx.try_iter()) {
                    match job {
                        Job::Write(ops) => writes.extend(ops),
                        Job::Older { room_id, before } => reads.push((room_id, before)),
                    }
                }
                if !writes.is_empty() {
                    if let Err(e) = cache.apply(&writes) {
                        tracing::error!("cache write failed: {e}");
                    }
                }
                for (room_id, before) in reads {
                    let events = cache
                        .older(room_id, before, OLDER_PAGE)
                        .unwrap_or_else(|e| {
                            tracing::error!("cache read failed: {e}");
                            Vec::new()
                        });
                    let _ = msgs.send(Msg::CachedOlder {
                        room_id,
                        before,
                        events,
                    });
                }
            }
        });
        CacheWorker {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    pub fn write(&self, ops: Vec<CacheOp>) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Write(ops));
        }
    }

    pub fn load_older(&self, room_id: RoomId, before: Seq) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Older { room_id, before });
        }
    }

    /// Finish every queued write, then stop (called on exit so nothing typed is lost, and
    /// before another account's cache is opened).
    pub fn finish(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_protocol::{EventContent, Role, RoomKind};

    fn summary(id: RoomId) -> RoomSummary {
        RoomSummary {
            id,
            kind: RoomKind::Channel,
            title: "general".into(),
            topic: String::new(),
            role: Role::Member,
            member_count: 2,
            last_seq: 10,
            read_seq: 3,
            unread: 7,
            mentions: 0,
            archived: false,
            peer: None,
            settings: Default::default(),
        }
    }

    fn event(room_id: RoomId, seq: Seq) -> RoomEvent {
        RoomEvent {
            room_id,
            seq,
            ts: seq,
            sender: UserRef {
                id: 1,
                username: "a".into(),
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
    fn rooms_events_and_outbox_come_back() {
        let mut cache = Cache::in_memory().expect("open");
        let item = OutboxItem {
            client_id: "x".into(),
            room_id: 1,
            room_name: "#general".into(),
            text: "offline hello".into(),
            created: 5,
            state: OutboxState::InFlight,
            reply_to: None,
            action: false,
            attachments: vec![chat_protocol::Attachment {
                id: 7,
                name: "report.pdf".into(),
                size: 2_100_000,
                media_type: "application/pdf".into(),
                width: None,
                height: None,
            }],
        };
        cache
            .apply(&[
                CacheOp::Room {
                    summary: summary(1),
                    synced_to: 10,
                },
                CacheOp::Events((1..=10).map(|s| event(1, s)).collect()),
                CacheOp::OutboxPut(item.clone()),
            ])
            .expect("write");
        let cached = cache.load().expect("load");
        assert_eq!(cached.rooms.len(), 1);
        assert_eq!(cached.rooms[0].1.len(), 10);
        assert_eq!(cached.outbox.len(), 1);
        assert_eq!(cached.outbox[0].text, "offline hello");
        assert_eq!(
            cached.outbox[0].attachments, item.attachments,
            "its files too"
        );
        assert_eq!(
            cached.outbox[0].state,
            OutboxState::Queued,
            "resent after a restart"
        );
        cache
            .apply(&[CacheOp::OutboxRemove("x".into())])
            .expect("remove");
        assert!(cache.load().expect("load").outbox.is_empty());
    }

    #[test]
    fn failed_messages_drafts_and_the_open_room_come_back() {
        let mut cache = Cache::in_memory().expect("open");
        let item = OutboxItem {
            client_id: "x".into(),
            room_id: 5,
            room_name: "#ops".into(),
            text: "for ops".into(),
            created: 5,
            state: OutboxState::Queued,
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        };
        cache
            .apply(&[
                CacheOp::OutboxPut(item),
                CacheOp::OutboxFailed {
                    client_id: "x".into(),
                    reason: "you are no longer a member of #ops".into(),
                },
                CacheOp::Draft {
                    room_id: 1,
                    text: "half a thought".into(),
                },
                CacheOp::Draft {
                    room_id: 2,
                    text: "gone".into(),
                },
                CacheOp::Draft {
                    room_id: 2,
                    text: String::new(),
                },
                CacheOp::Selected(7),
            ])
            .expect("write");
        let cached = cache.load().expect("load");
        assert_eq!(cached.outbox[0].room_name, "#ops");
        assert_eq!(
            cached.outbox[0].state,
            OutboxState::Failed("you are no longer a member of #ops".into())
        );
        assert_eq!(cached.drafts.len(), 1);
        assert_eq!(cached.drafts[&1], "half a thought");
        assert_eq!(cached.selected, Some(7));
        cache
            .apply(&[CacheOp::OutboxRetry("x".into())])
            .expect("retry");
        assert_eq!(
            cache.load().expect("load").outbox[0].state,
            OutboxState::Queued
        );
    }

    #[test]
    fn a_cache_from_before_failed_messages_is_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache.sqlite");
        let old = Connection::open(&path).expect("open");
        old.execute_batch(
            "CREATE TABLE outbox (pos INTEGER PRIMARY KEY AUTOINCREMENT,
                client_id TEXT NOT NULL UNIQUE, room_id INTEGER NOT NULL,
                text TEXT NOT NULL, created INTEGER NOT NULL);
             INSERT INTO outbox (client_id, room_id, text, created) VALUES ('a', 1, 'hi', 1);",
        )
        .expect("old schema");
        drop(old);
        let cache = Cache::open(&path).expect("upgrade");
        let cached = cache.load().expect("load");
        assert_eq!(cached.outbox[0].text, "hi");
        assert_eq!(cached.outbox[0].state, OutboxState::Queued);
    }

    #[test]
    fn the_old_shared_cache_goes_to_the_account_it_names_with_its_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = crate::session::ProfilePaths::in_dir(dir.path().to_path_buf());
        let mut old = Cache::open(&paths.legacy_cache).expect("open");
        let item = OutboxItem {
            client_id: "x".into(),
            room_id: 1,
            room_name: "#general".into(),
            text: "alice queued this while offline".into(),
            created: 5,
            state: OutboxState::Queued,
            reply_to: None,
            action: false,
            attachments: Vec::new(),
        };
        old.apply(&[
            CacheOp::Me(UserRef {
                id: 1,
                username: "alice".into(),
            }),
            CacheOp::OutboxPut(item),
        ])
        .expect("write");
        drop(old);
        adopt_legacy(&paths, "ws://s:1").expect("adopt");
        assert!(!paths.legacy_cache.exists());
        let alice = Cache::open(&paths.cache_for("ws://s:1", "alice")).expect("open");
        let cached = alice.load().expect("load");
        assert_eq!(cached.outbox[0].text, "alice queued this while offline");
        // Nothing for bob, and adopting again is a no-op.
        let bob = Cache::open(&paths.cache_for("ws://s:1", "bob")).expect("open");
        assert!(bob.load().expect("load").outbox.is_empty());
        adopt_legacy(&paths, "ws://s:1").expect("again");
    }

    #[test]
    fn start_up_keeps_only_the_newest_run_without_holes() {
        let mut cache = Cache::in_memory().expect("open");
        let mut events: Vec<RoomEvent> = (1..=5).map(|s| event(1, s)).collect();
        events.extend((8..=10).map(|s| event(1, s)));
        cache
            .apply(&[
                CacheOp::Room {
                    summary: summary(1),
                    synced_to: 10,
                },
                CacheOp::Events(events),
            ])
            .expect("write");
        let cached = cache.load().expect("load");
        let seqs: Vec<Seq> = cached.rooms[0].1.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            [8, 9, 10],
            "6 and 7 are missing, so 1..=5 is not trusted as near"
        );
        let older: Vec<Seq> = cache
            .older(1, 8, 100)
            .expect("older")
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(older, [1, 2, 3, 4, 5]);
    }
}
