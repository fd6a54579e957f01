//! Persistence: SQLite behind a narrow interface.
//!
//! Writes go to the single writer thread ([`Writer`]) as jobs that commit in groups; reads
//! run on a small pool of read-only connections on the blocking thread pool. WAL mode lets
//! reads proceed while the writer commits. Sessions never see SQL: they call [`ops`] jobs
//! and [`queries`] through [`Store`].

pub mod checkpoint;
pub mod files;
pub mod messages;
pub mod ops;
pub mod queries;
pub mod room_admin;
pub mod schema;
pub mod search;
pub mod settings;
pub mod threads;
mod writer;

pub use writer::{CommitListener, WriteCtx, Writer};

use chat_protocol::{ErrorCode, Millis, RoomId, UserId};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Why a store call failed. `Refused` is the client's fault and becomes an error frame as is;
/// the rest are the server's and are reported as `internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{1}")]
    Refused(ErrorCode, String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("encoding an event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("commit failed: {0}")]
    CommitFailed(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("a database read was cancelled")]
    ReadCancelled,
    #[error("{0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> StoreError {
        StoreError::Refused(code, message.into())
    }

    /// The error code and message for an error frame. Server faults hide their details from
    /// clients; they are logged instead.
    pub fn to_client(&self) -> (ErrorCode, String) {
        match self {
            StoreError::Refused(code, message) => (*code, message.clone()),
            other => {
                tracing::error!("store error: {other}");
                (
                    ErrorCode::Internal,
                    "internal server error; try again".to_string(),
                )
            }
        }
    }
}

/// Something to push to clients once the write that caused it has committed. Frames are
/// serialised by the writer once; the fan-out sends the same bytes to every recipient.
#[derive(Debug, Clone, PartialEq)]
pub enum Publication {
    /// A room timeline event for every member. `joined` becomes a member before delivery;
    /// `left` stops being one after it, so both hear about their own change.
    RoomEvent {
        room_id: RoomId,
        frame: String,
        joined: Option<UserId>,
        left: Option<UserId>,
    },
    /// A frame for every member's connections (receipts).
    ToRoom { room_id: RoomId, frame: String },
    /// A frame for all connections of one user (room added/removed, unread counts).
    ToUser { user_id: UserId, frame: String },
}

/// How hard SQLite works to make each commit survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync the WAL on every commit (group commit amortises it). Survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only. Survives a crash of the server, not of the machine.
    Normal,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Create the database file, readable by its owner only, if it does not exist. SQLite gives
/// the `-wal` and `-shm` files the database file's permissions, so they are private too.
/// Returns true if it was created.
fn create_private(path: &Path) -> Result<bool, StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Warn when an existing database can be read by other local users: it holds every private
/// message and the password hashes.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} can be read by other users (mode {mode:o}); it holds private messages \
                     and password hashes: chmod 600 it (and its -wal and -shm files)",
                    path.display()
                );
            }
        }
    }
}

/// Open (creating it, private to its owner, if missing) and migrate the database; returns
/// the connection for the writer thread.
pub fn open_write_connection(
    path: &Path,
    durability: Durability,
) -> Result<Connection, StoreError> {
    if create_private(path)? {
        tracing::info!("created a new database at {}", path.display());
    } else {
        warn_if_shared(path);
    }
    configure_writer(Connection::open(path)?, durability)
}

/// Open an existing database for the admin subcommands: a mistyped path is an error, never a
/// new empty database.
pub fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    let len = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    match len {
        None => {
            return Err(StoreError::Unavailable(format!(
            "no database at {} (check --db; chat-server creates its database when it first serves)",
            path.display()
        )))
        }
        // SQLite would make an empty file a new database; it is not a chat-server's.
        Some(0) => {
            return Err(StoreError::Unavailable(format!(
                "{} is empty, not a chat-server database (check --db)",
                path.display()
            )))
        }
        Some(_) => warn_if_shared(path),
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    configure_writer(Connection::open_with_flags(path, flags)?, Durability::Full)
}

fn configure_writer(
    mut conn: Connection,
    durability: Durability,
) -> Result<Connection, StoreError> {
    // While the search indexer or the checkpointer holds the write lock for a moment, retry
    // every 100 µs (SQLite's own handler sleeps in steps of up to 100 ms), for at most 5 s.
    conn.busy_handler(Some(|attempt: i32| {
        std::thread::sleep(std::time::Duration::from_micros(100));
        attempt < 50_000
    }))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    set_synchronous(&conn, durability)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 32 MiB of page cache: a group commit touches a page per active room and sender, and
    // re-reading them from the OS for every batch showed up in profiles.
    conn.pragma_update(None, "cache_size", -32768)?;
    conn.set_prepared_statement_cache_capacity(64);
    schema::migrate(&mut conn)?;
    Ok(conn)
}

fn set_synchronous(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(())
}

/// An exclusive lock on a database for one serving process, held as long as this lives. It
/// is an advisory `flock` on the database file itself, so it holds through any path to it
/// (symlinks, hard links), and it is separate from SQLite's own (fcntl) locks: the admin
/// subcommands, which do not take it, still work while the server runs.
#[derive(Debug)]
pub struct ServeLock {
    _file: std::fs::File,
}

impl ServeLock {
    /// Lock `db_path` (creating the database file, private to its owner, if missing).
    pub fn acquire(db_path: &Path) -> Result<ServeLock, StoreError> {
        if create_private(db_path)? {
            tracing::info!("created a new database at {}", db_path.display());
        }
        let unavailable = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot lock {}: {e}", db_path.display()))
        };
        let file = std::fs::File::open(db_path).map_err(unavailable)?;
        match file.try_lock() {
            Ok(()) => Ok(ServeLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
                "another chat-server is already serving {} (perhaps under another path); stop \
                 it first (the user and token subcommands work while it runs)",
                db_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(unavailable(e)),
        }
    }
}

/// The server's writer connection: as [`open_write_connection`], with checkpoints moved off
/// the writer thread to the returned [`checkpoint::Checkpointer`].
pub fn open_server_writer(
    path: &Path,
    durability: Durability,
) -> Result<(Connection, checkpoint::Checkpointer), StoreError> {
    let conn = open_write_connection(path, durability)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let checkpointer = checkpoint::spawn(path, durability)?;
    Ok((conn, checkpointer))
}

/// Read-only connections handed out to blocking tasks, at most `max` at once.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    pub fn new(path: &Path, max: usize) -> ReadPool {
        ReadPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max.max(1)),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

/// The store as sessions see it: a writer for jobs and a pool for reads.
pub struct Store {
    pub writer: Writer,
    reads: Arc<ReadPool>,
}

impl Store {
    pub fn new(writer: Writer, reads: ReadPool) -> Store {
        Store {
            writer,
            reads: Arc::new(reads),
        }
    }

    /// Run a read on a pooled connection on the blocking pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let pool = self.reads.clone();
        let _permit = pool
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::ReadCancelled)?;
        let pool2 = pool.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool2.take()?;
            let result = f(&conn);
            pool2.give_back(conn);
            result
        })
        .await
        .map_err(|_| StoreError::ReadCancelled)?
    }
}
