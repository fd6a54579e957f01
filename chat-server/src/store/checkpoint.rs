//! WAL checkpoints on a thread of their own, so the writer thread never stops in the middle of
//! a stream of commits to copy the log back into the database file.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, which put a
//! stall of tens of milliseconds into one group commit in every few dozen. Here a passive
//! checkpoint runs every [`INTERVAL`] alongside the writer; when a sustained load keeps the log
//! from ever being fully copied (so it cannot start over), a restart checkpoint briefly waits
//! for the writer and lets the log be reused from the beginning.

use super::{Durability, StoreError};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_millis(100);
/// Log size (in pages) at which the checkpointer makes the writer wait so the log can restart.
const RESTART_PAGES: i64 = 16_384;

/// The running checkpoint thread; dropping it stops the thread.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

/// Start checkpointing the database at `path` (already in WAL mode).
pub fn spawn(path: &Path, durability: Durability) -> Result<Checkpointer, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    super::set_synchronous(&conn, durability)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("chat-db-checkpoint".into())
        .spawn(move || run(&conn, &stopped))
        .map_err(|e| {
            StoreError::CommitFailed(format!("cannot start the checkpoint thread: {e}"))
        })?;
    Ok(Checkpointer { _stop: stop })
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        let log_pages = match checkpoint(conn, "PASSIVE") {
            Ok(pages) => pages,
            Err(e) => {
                tracing::warn!("checkpoint failed: {e}");
                continue;
            }
        };
        if log_pages > RESTART_PAGES {
            if let Err(e) = checkpoint(conn, "RESTART") {
                tracing::warn!("restart checkpoint failed: {e}");
            }
        }
    }
    // A last full checkpoint leaves a short log behind for the next start.
    let _ = checkpoint(conn, "TRUNCATE");
}

/// Run a checkpoint; returns the size of the log in pages.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}
