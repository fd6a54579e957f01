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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// A bounded read ([`Store::read_bounded`]) ran out of its time.
    #[error("the request needed more than {0} ms of the server's work")]
    OverBudget(u64),
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
            StoreError::OverBudget(_) => (ErrorCode::TooBroad, format!("{self}; narrow it")),
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
        std::thread::sleep(Duration::from_micros(100));
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

/// Read-only connections handed out to blocking tasks, at most `max` at once; bounded reads
/// (searches) may hold at most half of them, so the other reads always have the rest.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    bounded_permits: Arc<Semaphore>,
}

impl ReadPool {
    pub fn new(path: &Path, max: usize) -> ReadPool {
        let max = max.max(1);
        ReadPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max)),
            bounded_permits: Arc::new(Semaphore::new((max / 2).max(1))),
        }
    }

    /// Run a read on a pooled connection on the blocking pool.
    pub async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        // Held by the blocking task: a read whose caller has gone still counts until it ends.
        let permit = acquire(&pool.permits).await?;
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give_back(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|_| StoreError::ReadCancelled)?
    }

    /// A read whose cost a client chooses (a search): it runs on at most half of the read
    /// connections, is interrupted after `budget` of work ([`StoreError::OverBudget`]), and
    /// as soon as the future is dropped (its client has gone), so it never runs for nobody.
    pub async fn read_bounded<R, F>(
        self: &Arc<Self>,
        budget: Duration,
        f: F,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancelled.clone());
        let share = acquire(&pool.bounded_permits).await?;
        let permit = acquire(&pool.permits).await?;
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            // The budget counts from the start of the work, not from the wait for a connection.
            let deadline = Instant::now() + budget;
            let over = Arc::new(AtomicBool::new(false));
            let (flag, over_flag) = (cancelled.clone(), over.clone());
            conn.progress_handler(
                PROGRESS_STEPS,
                Some(move || {
                    if Instant::now() >= deadline {
                        over_flag.store(true, Ordering::Relaxed);
                    }
                    over_flag.load(Ordering::Relaxed) || flag.load(Ordering::Relaxed)
                }),
            );
            let result = f(&conn);
            conn.progress_handler(0, None::<fn() -> bool>);
            pool.give_back(conn);
            drop((permit, share));
            match result {
                Err(StoreError::Sqlite(e)) if interrupted(&e) => {
                    Err(if over.load(Ordering::Relaxed) {
                        StoreError::OverBudget(budget.as_millis() as u64)
                    } else {
                        StoreError::ReadCancelled
                    })
                }
                other => other,
            }
        })
        .await
        .map_err(|_| StoreError::ReadCancelled)?
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
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

/// SQLite virtual-machine steps between two looks at a bounded read's deadline.
const PROGRESS_STEPS: i32 = 1000;

/// Raises the flag when the future that owns it is dropped: its caller has gone.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
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
        self.reads.read(f).await
    }

    /// A read whose cost a client chooses (a search): see [`ReadPool::read_bounded`].
    pub async fn read_bounded<R, F>(&self, budget: Duration, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.reads.read_bounded(budget, f).await
    }
}

/// A permit held by whoever it moves into (the blocking task), not by the waiting future.
async fn acquire(permits: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, StoreError> {
    permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| StoreError::ReadCancelled)
}

fn interrupted(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query that never ends by itself.
    fn forever(conn: &Connection) -> Result<i64, StoreError> {
        Ok(conn.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
             SELECT count(*) FROM n",
            [],
            |r| r.get(0),
        )?)
    }

    fn pool(dir: &tempfile::TempDir, max: usize) -> Arc<ReadPool> {
        let path = dir.path().join("chat.sqlite");
        drop(open_write_connection(&path, Durability::Normal).expect("create"));
        Arc::new(ReadPool::new(&path, max))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bounded_read_stops_at_its_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir, 4);
        let err = pool
            .read_bounded(Duration::from_millis(50), forever)
            .await
            .expect_err("stopped");
        assert!(matches!(err, StoreError::OverBudget(50)), "{err}");
        assert_eq!(err.to_client().0, ErrorCode::TooBroad);
        // The connection went back clean: the next read on it is not interrupted.
        let one: i64 = pool
            .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get(0))?))
            .await
            .expect("read");
        assert_eq!(one, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bounded_read_whose_caller_goes_stops_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir, 4);
        let (ended_tx, ended) = std::sync::mpsc::channel();
        let read = pool.read_bounded(Duration::from_secs(600), move |conn| {
            let result = forever(conn);
            let _ = ended_tx.send(());
            result
        });
        // The caller gives up (its client closed the connection): the future is dropped.
        let _ = tokio::time::timeout(Duration::from_millis(100), read).await;
        ended
            .recv_timeout(Duration::from_secs(10))
            .expect("the query stopped when its caller went");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_reads_leave_half_the_connections_to_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = pool(&dir, 4);
        // Five expensive reads at once: two run, three wait for their share.
        let expensive: Vec<_> = (0..5)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(
                    async move { pool.read_bounded(Duration::from_secs(5), forever).await },
                )
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.permits.available_permits(), 2, "two searches hold two");
        // Every other read still has a connection at once.
        let cheap = (0..8).map(|_| {
            let pool = pool.clone();
            async move {
                pool.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                    .await
            }
        });
        let answered = tokio::time::timeout(
            Duration::from_secs(2),
            futures_util::future::join_all(cheap),
        )
        .await
        .expect("other reads are not starved by searches");
        assert!(answered.iter().all(|r| r.is_ok()));
        for read in expensive {
            read.abort();
        }
    }
}
