//! The one writer thread: owns the write connection and commits waiting jobs in groups.
//!
//! It blocks for the first job, takes every other job already waiting (up to a batch cap),
//! runs each inside its own savepoint of one transaction, commits once, and hands the batch's
//! publications and answers to the fan-out thread, which gives the publications to the
//! listener in commit order and then answers each job. A job that fails rolls back its
//! savepoint alone; the rest of the batch still commits.
//!
//! Fan-out has a thread of its own because pushing an event to thousands of connections took
//! a fifth of the writer's time under load (chat-bench chat), time in which nothing committed.
//! The writer starts on the next batch while the fan-out thread delivers this one.

use super::{Publication, StoreError};
use chat_protocol::Millis;
use rusqlite::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// What a write job sees: the connection inside the open transaction, the clock of the batch,
/// and where to put what must be pushed to clients once the batch commits.
pub struct WriteCtx<'a> {
    pub conn: &'a Connection,
    pub now: Millis,
    pub publications: &'a mut Vec<Publication>,
    /// Set when a job without a savepoint failed after it may have written: the whole batch
    /// must roll back, since its partial writes cannot be undone alone.
    pub(crate) broken: bool,
}

/// Receives each committed batch's publications, in commit order, on the fan-out thread,
/// before any job of the batch is answered.
pub trait CommitListener: Send + Sync + 'static {
    fn committed(&self, publications: Vec<Publication>);
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> Reply + Send>;

/// Most jobs in one transaction: bounds the latency the first job of a batch can see.
const MAX_BATCH: usize = 1024;

/// A handle to submit jobs to the writer thread. Cloning is cheap.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the writer thread on `conn`.
    /// Start the writer thread on `conn`. A `checkpointer` given here lives as long as the
    /// writer thread and stops with it.
    pub fn spawn(
        conn: Connection,
        listener: std::sync::Arc<dyn CommitListener>,
        checkpointer: Option<super::checkpoint::Checkpointer>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> std::io::Result<Writer> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (committed, to_publish) = mpsc::channel::<Committed>();
        std::thread::Builder::new()
            .name("chat-fanout".into())
            .spawn(move || {
                // Ends when the writer thread drops its sender.
                while let Ok(batch) = to_publish.recv() {
                    if !batch.publications.is_empty() {
                        listener.committed(batch.publications);
                    }
                    for reply in batch.replies {
                        reply(Ok(()));
                    }
                }
            })?;
        std::thread::Builder::new()
            .name("chat-db-writer".into())
            .spawn(move || {
                run(conn, rx, &committed, &metrics);
                drop(checkpointer);
            })?;
        Ok(Writer { jobs })
    }

    /// Queue `job` now (so jobs from one connection commit in the order they were submitted)
    /// and return a receiver for its result, which arrives after its batch committed.
    pub fn submit<R, F>(&self, job: F) -> oneshot::Receiver<Result<R, StoreError>>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let boxed: Job = Box::new(move |ctx: &mut WriteCtx<'_>| {
            let outcome = run_in_savepoint(ctx, job);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = tx.send(committed.and(outcome));
            }) as Reply
        });
        // If the thread is gone the receiver sees a closed channel: reported as WriterGone.
        let _ = self.jobs.send(boxed);
        rx
    }

    /// Like [`Writer::submit`] but without a savepoint around the job, for the hot path
    /// (sending a message), where the savepoint and its page journal were a tenth of the
    /// writer's time. The job must make every check that can refuse it
    /// ([`StoreError::Refused`]) before its first write; any other error rolls back the whole
    /// batch, and every job in it gets the error.
    pub fn submit_checked_first<R, F>(&self, job: F) -> oneshot::Receiver<Result<R, StoreError>>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let boxed: Job = Box::new(move |ctx: &mut WriteCtx<'_>| {
            let outcome = job(ctx);
            if matches!(&outcome, Err(e) if !matches!(e, StoreError::Refused(..))) {
                ctx.broken = true;
            }
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = tx.send(committed.and(outcome));
            }) as Reply
        });
        let _ = self.jobs.send(boxed);
        rx
    }

    /// Submit and wait.
    pub async fn write<R, F>(&self, job: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(job)
            .await
            .unwrap_or(Err(StoreError::WriterGone))
    }
}

fn run_in_savepoint<R>(
    ctx: &mut WriteCtx<'_>,
    job: impl FnOnce(&mut WriteCtx<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let published_before = ctx.publications.len();
    // Cached statements: a send is a few microseconds of work, and parsing these statements
    // anew for every job was a noticeable share of it.
    ctx.conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match job(ctx) {
        Ok(value) => {
            ctx.conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            ctx.publications.truncate(published_before);
            ctx.conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
            ctx.conn.prepare_cached("RELEASE job")?.execute([])?;
            Err(e)
        }
    }
}

/// A committed batch on its way to the fan-out thread.
struct Committed {
    publications: Vec<Publication>,
    replies: Vec<Reply>,
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    committed_batches: &mpsc::Sender<Committed>,
    metrics: &crate::metrics::Metrics,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let mut publications = Vec::new();
        let mut replies: Vec<Reply> = Vec::with_capacity(size);
        let started = std::time::Instant::now();
        let committed = (|| -> Result<(), StoreError> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut ctx = WriteCtx {
                conn: &conn,
                now: super::now_ms(),
                publications: &mut publications,
                broken: false,
            };
            for job in batch.drain(..) {
                replies.push(job(&mut ctx));
            }
            if ctx.broken {
                return Err(StoreError::CommitFailed(
                    "a write failed part-way; its batch was rolled back".into(),
                ));
            }
            conn.execute_batch("COMMIT")?;
            Ok(())
        })();
        // Jobs not run because BEGIN failed are dropped; their callers see WriterGone-like
        // closed channels only if the thread dies, so answer them explicitly here.
        for job in batch.drain(..) {
            drop(job);
        }
        match committed {
            Ok(()) => {
                tracing::trace!(size, "committed batch");
                metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.commit_batch_jobs.observe(size as f64);
                let events = publications
                    .iter()
                    .filter(|p| matches!(p, Publication::RoomEvent { .. }))
                    .count();
                metrics.events_committed.inc_by(events as u64);
                let batch = Committed {
                    publications,
                    replies,
                };
                // The fan-out thread outlives this one: it stops when this sender is dropped.
                let _ = committed_batches.send(batch);
            }
            Err(e) => {
                tracing::error!("batch of {size} writes failed to commit: {e}");
                let _ = conn.execute_batch("ROLLBACK");
                let message = e.to_string();
                for reply in replies {
                    reply(Err(StoreError::CommitFailed(message.clone())));
                }
            }
        }
    }
    tracing::debug!("database writer stopped");
}
