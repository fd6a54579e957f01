//! Password hashing on a fixed pool of threads, off the async workers and the writer.
//!
//! argon2id at its default parameters fills 19 MiB per hash. Run on the blocking pool, every
//! concurrent login allocated its own 19 MiB (up to 512 at once), and the allocator kept the
//! high-water mark: 64 concurrent logins left a server at 2.5 GB. Here each worker owns one
//! memory block and reuses it for every hash, so hashing memory is `workers` × 19 MiB whatever
//! the load; a bounded queue in front refuses the excess (`Busy`) instead of growing.

use crate::auth;
use argon2::Block;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

enum Task {
    Hash(String),
    /// `stored` None: verify against a dummy hash, so an unknown user or a bot account costs
    /// the same time as a wrong password and the answer's timing says nothing.
    Verify {
        password: String,
        stored: Option<String>,
    },
}

enum Done {
    Hashed(String),
    Verified(bool),
}

struct Job {
    task: Task,
    reply: oneshot::Sender<Result<Done, HashError>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full: refuse (rate_limited) rather than wait.
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// A handle to the pool; cloning is cheap. The workers stop when the last handle is dropped.
#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    /// Jobs admitted and not yet done (waiting or being hashed), at most `capacity`. Counted
    /// here rather than left to the channel's bound, whose room depends on whether an idle
    /// worker has taken the job before it yet: a burst could find 1 worker + 1 place full
    /// after a single job.
    in_pool: Arc<AtomicUsize>,
    capacity: usize,
}

impl Hasher {
    /// Start `workers` threads behind a queue of `queue` waiting jobs.
    pub fn spawn(workers: usize, queue: usize) -> std::io::Result<Hasher> {
        let workers = workers.max(1);
        let capacity = workers + queue;
        let (jobs, rx) = mpsc::sync_channel::<Job>(capacity);
        let rx = Arc::new(Mutex::new(rx));
        let in_pool = Arc::new(AtomicUsize::new(0));
        for n in 0..workers {
            let (rx, in_pool) = (rx.clone(), in_pool.clone());
            std::thread::Builder::new()
                .name(format!("chat-hasher-{n}"))
                .spawn(move || work(&rx, &in_pool))?;
        }
        Ok(Hasher {
            jobs,
            in_pool,
            capacity,
        })
    }

    async fn run(&self, task: Task) -> Result<Done, HashError> {
        let (reply, done) = oneshot::channel();
        if self.in_pool.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_pool.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        // The channel holds `capacity` jobs, so an admitted job always fits.
        match self.jobs.try_send(Job { task, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.in_pool.fetch_sub(1, Ordering::AcqRel);
                return Err(HashError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.in_pool.fetch_sub(1, Ordering::AcqRel);
                return Err(HashError::Failed("the hashing threads stopped".into()));
            }
        }
        done.await
            .unwrap_or_else(|_| Err(HashError::Failed("a hashing thread stopped".into())))
    }

    /// Hash a new password (PHC string).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        match self.run(Task::Hash(password)).await? {
            Done::Hashed(hash) => Ok(hash),
            Done::Verified(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }

    /// Check a password against a stored hash; `stored` None (no such user, or a bot
    /// account) takes as long and is always false.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        match self.run(Task::Verify { password, stored }).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }
}

fn work(jobs: &Mutex<Receiver<Job>>, in_pool: &AtomicUsize) {
    // Allocated at the first job and kept: idle servers (and tests) hold none of it.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // The lock is held only while waiting for the next job; a poisoned lock means another
        // worker panicked, which leaves the receiver itself intact.
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let done = match job.task {
            Task::Hash(password) => auth::hash_password_with(&password, &mut memory)
                .map(Done::Hashed)
                .map_err(|e| HashError::Failed(e.to_string())),
            Task::Verify { password, stored } => {
                let verified = match stored {
                    Some(stored) => auth::verify_password_with(&password, &stored, &mut memory),
                    None => {
                        let _ =
                            auth::verify_password_with(&password, auth::dummy_hash(), &mut memory);
                        false
                    }
                };
                Ok(Done::Verified(verified))
            }
        };
        // Done, whether or not anyone still waits for the answer: its place is free.
        in_pool.fetch_sub(1, Ordering::AcqRel);
        let _ = job.reply.send(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_do() {
        let hasher = Hasher::spawn(2, 8).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hasher
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify("wrong horse".into(), Some(hash))
            .await
            .unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_growing() {
        let hasher = Hasher::spawn(1, 1).unwrap();
        let attempts = (0..8).map(|_| hasher.verify("password".into(), None));
        let results = futures_util::future::join_all(attempts).await;
        let busy = results
            .iter()
            .filter(|r| **r == Err(HashError::Busy))
            .count();
        assert!(
            busy >= 1,
            "one worker and one queued job: the rest are refused"
        );
        assert!(results.contains(&Ok(false)), "some were served");
        let served = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            served >= 2,
            "the worker and the place both took one: {served}"
        );
    }
}
