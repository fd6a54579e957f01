//! A connection's outbound queue, bounded in frames and in bytes, per connection and across
//! the whole server, and the [`Closer`] that ends a connection from anywhere.
//!
//! Everything a connection is sent (responses and pushed events alike) goes through its
//! [`Outbox`]. Pushing never waits: a connection that cannot take a frame is evicted (close
//! code 4008) and its queue is dropped at once, so a client that stops reading costs the server
//! at most its bound, never the sender's time. The bound on all queues together is enforced
//! by [`enforce_total`], run a few times a second, which evicts the connections holding the
//! most: counting every push in one server-wide counter cost the fan-out a shared cache line
//! per delivery.

use chat_protocol::close_code;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

/// A serialised frame; clones share the bytes, so one encoding serves every recipient.
pub type Frame = Utf8Bytes;

/// Most bytes the writer takes out of the queue at once (at least one frame): what it holds
/// beyond the queue's own bound while it writes.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// How a connection ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server closes it with this code and reason.
    Close(u16, String),
    /// The peer sent a Close frame; the server answers it (RFC 6455 section 5.5.1).
    PeerClosed,
    /// The socket failed or the peer vanished without a Close frame: nothing can be sent.
    Gone,
}

/// Ends a connection from anywhere (hub, revocation, shutdown, the reader) with a reason.
#[derive(Debug, Default)]
pub struct Closer {
    token: CancellationToken,
    ending: OnceLock<Ending>,
}

impl Closer {
    /// Ask the connection to close; the first reason given wins.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.end(Ending::Close(code, reason.into()));
    }

    /// The peer started the close handshake.
    pub fn peer_closed(&self) {
        self.end(Ending::PeerClosed);
    }

    /// The socket is gone.
    pub fn gone(&self) {
        self.end(Ending::Gone);
    }

    fn end(&self, ending: Ending) {
        let _ = self.ending.set(ending);
        self.token.cancel();
    }

    pub fn ending(&self) -> Option<&Ending> {
        self.ending.get()
    }

    /// The close code the server sends, if it is the one closing.
    pub fn code(&self) -> Option<u16> {
        match self.ending.get() {
            Some(Ending::Close(code, _)) => Some(*code),
            _ => None,
        }
    }

    pub async fn closed(&self) {
        self.token.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The bounds of every connection's queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub max_frames: usize,
    pub max_bytes: usize,
}

#[derive(Debug, Default)]
struct Queued {
    frames: VecDeque<Frame>,
    bytes: usize,
}

/// One connection's queue of frames waiting for its writer.
#[derive(Debug)]
pub struct Outbox {
    queued: Mutex<Queued>,
    ready: Notify,
    limits: QueueLimits,
    closer: Arc<Closer>,
}

impl Outbox {
    pub fn new(limits: QueueLimits, closer: Arc<Closer>) -> Arc<Outbox> {
        Arc::new(Outbox {
            queued: Mutex::new(Queued::default()),
            ready: Notify::new(),
            limits,
            closer,
        })
    }

    pub fn closer(&self) -> &Arc<Closer> {
        &self.closer
    }

    // A panic while the lock is held leaves a queue of frames, nothing inconsistent.
    fn lock(&self) -> MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a frame without waiting. Returns false if the connection is closed, or was just
    /// evicted because it cannot take the frame: over its frame or byte bound. A frame is
    /// always admitted into an empty queue, so one large response (a history page) never
    /// evicts a client that reads.
    pub fn push(&self, frame: &Frame) -> bool {
        if self.closer.is_closed() {
            return false;
        }
        let len = frame.len();
        let mut queued = self.lock();
        let over = if queued.frames.is_empty() {
            None
        } else if queued.frames.len() >= self.limits.max_frames {
            Some(format!("{} frames", queued.frames.len()))
        } else if queued.bytes + len > self.limits.max_bytes {
            Some(format!("{} bytes", queued.bytes))
        } else {
            None
        };
        if let Some(over) = over {
            drop(queued);
            self.evict(&over);
            return false;
        }
        queued.frames.push_back(frame.clone());
        queued.bytes += len;
        drop(queued);
        self.ready.notify_one();
        true
    }

    /// Close the connection as too slow and drop what is queued for it.
    fn evict(&self, over: &str) {
        tracing::info!("evicting a slow connection: {over} queued");
        self.closer.close(
            close_code::TOO_SLOW,
            format!("too slow: {over} waiting to be sent; reconnect and resume from your last seq"),
        );
        self.clear();
    }

    /// Drop every queued frame.
    pub fn clear(&self) {
        let mut queued = self.lock();
        queued.bytes = 0;
        queued.frames = VecDeque::new();
    }

    /// Bytes waiting now.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Wait until frames are queued, then move a batch of them (up to `max` frames and about
    /// [`MAX_BATCH_BYTES`]) into `batch`. Cancel-safe: frames leave the queue only when this
    /// returns. Only the connection's writer calls it.
    pub async fn next_batch(&self, batch: &mut VecDeque<Frame>, max: usize) {
        loop {
            if self.take_batch(batch, max) {
                return;
            }
            // `notify_one` stores a permit when the writer is not waiting yet, so a frame
            // pushed between the check above and this wait is not missed.
            self.ready.notified().await;
        }
    }

    /// Move a batch of queued frames (up to `max` in `batch` and about [`MAX_BATCH_BYTES`])
    /// into `batch` without waiting; false if none was queued.
    pub fn take_batch(&self, batch: &mut VecDeque<Frame>, max: usize) -> bool {
        let mut queued = self.lock();
        let (mut taken, mut bytes) = (0, 0);
        while batch.len() < max && (taken == 0 || bytes < MAX_BATCH_BYTES) {
            let Some(frame) = queued.frames.pop_front() else {
                break;
            };
            bytes += frame.len();
            taken += 1;
            batch.push_back(frame);
        }
        queued.bytes -= bytes;
        taken > 0
    }
}

/// Keep the bytes queued for all connections together under `max_total`: if they are over it,
/// evict the connections holding the most until they are not. Returns how many were evicted.
pub fn enforce_total<'a>(
    outboxes: impl Iterator<Item = &'a Arc<Outbox>>,
    max_total: usize,
) -> usize {
    let mut holding: Vec<(usize, &Arc<Outbox>)> = outboxes
        .map(|o| (o.queued_bytes(), o))
        .filter(|(bytes, _)| *bytes > 0)
        .collect();
    let mut total: usize = holding.iter().map(|(bytes, _)| bytes).sum();
    if total <= max_total {
        return 0;
    }
    holding.sort_unstable_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));
    let mut evicted = 0;
    for (bytes, outbox) in holding {
        if total <= max_total {
            break;
        }
        outbox.evict(&format!(
            "{bytes} bytes (the server's outbound memory is full)"
        ));
        total -= bytes;
        evicted += 1;
    }
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Frame {
        Frame::from("x".repeat(len))
    }

    fn outbox(max_frames: usize, max_bytes: usize) -> Arc<Outbox> {
        let limits = QueueLimits {
            max_frames,
            max_bytes,
        };
        Outbox::new(limits, Arc::default())
    }

    #[test]
    fn a_connection_over_its_bytes_is_evicted_and_its_queue_dropped() {
        let out = outbox(1000, 1000);
        assert!(out.push(&frame(600)));
        assert!(out.push(&frame(300)));
        assert_eq!(out.queued_bytes(), 900);
        assert!(!out.push(&frame(200)), "1,100 bytes is over the bound");
        assert_eq!(out.closer().code(), Some(close_code::TOO_SLOW));
        assert_eq!(out.queued_bytes(), 0, "the queue is dropped at eviction");
        assert!(!out.push(&frame(1)), "nothing more is queued once closed");
    }

    #[test]
    fn one_large_frame_is_admitted_into_an_empty_queue() {
        let out = outbox(10, 1000);
        assert!(out.push(&frame(5000)), "a big history page for a reader");
        let mut batch = VecDeque::new();
        assert!(out.take_batch(&mut batch, 256));
        assert_eq!(batch.len(), 1);
        assert_eq!(out.queued_bytes(), 0);
        assert!(out.closer().code().is_none());
    }

    #[test]
    fn the_frame_bound_still_holds() {
        let out = outbox(2, 1_000_000);
        assert!(out.push(&frame(1)) && out.push(&frame(1)));
        assert!(!out.push(&frame(1)));
        assert_eq!(out.closer().code(), Some(close_code::TOO_SLOW));
    }

    #[test]
    fn over_the_server_total_the_biggest_queues_are_evicted_first() {
        let queues: Vec<Arc<Outbox>> = (0..4).map(|_| outbox(100, 10_000)).collect();
        for (queue, bytes) in queues.iter().zip([100, 3000, 200, 2000]) {
            queue.push(&frame(bytes));
        }
        assert_eq!(enforce_total(queues.iter(), 10_000), 0, "5,300 bytes fit");
        assert_eq!(enforce_total(queues.iter(), 1000), 2, "3,000 then 2,000 go");
        let evicted: Vec<bool> = queues.iter().map(|q| q.closer().is_closed()).collect();
        assert_eq!(evicted, [false, true, false, true]);
        assert_eq!(queues[1].queued_bytes(), 0, "and their bytes with them");
    }

    #[test]
    fn batches_are_bounded_in_bytes_and_frames() {
        let out = outbox(1000, 10_000_000);
        for _ in 0..10 {
            out.push(&frame(MAX_BATCH_BYTES / 4));
        }
        let mut batch = VecDeque::new();
        assert!(out.take_batch(&mut batch, 256));
        assert_eq!(batch.len(), 4);
        batch.clear();
        out.take_batch(&mut batch, 2);
        assert_eq!(batch.len(), 2);
        assert_eq!(
            out.queued_bytes(),
            4 * (MAX_BATCH_BYTES / 4),
            "four are left"
        );
    }

    #[tokio::test]
    async fn the_writer_wakes_for_a_frame_pushed_while_it_waits() {
        let out = outbox(10, 1000);
        let waiter = {
            let out = out.clone();
            tokio::spawn(async move {
                let mut batch = VecDeque::new();
                out.next_batch(&mut batch, 10).await;
                batch.len()
            })
        };
        tokio::task::yield_now().await;
        out.push(&frame(3));
        assert_eq!(waiter.await.unwrap(), 1);
    }
}
