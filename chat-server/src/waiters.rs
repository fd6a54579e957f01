//! Long-polls waiting for a room's next event. The fan-out thread wakes a room's waiters after
//! each commit that gives it an event; with nobody waiting anywhere, that costs one atomic load.

use chat_protocol::RoomId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct RoomWaiters {
    waiting: AtomicUsize,
    rooms: Mutex<HashMap<RoomId, Arc<Notify>>>,
}

impl RoomWaiters {
    fn rooms(&self) -> MutexGuard<'_, HashMap<RoomId, Arc<Notify>>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start waiting for `room_id`. Enable the guard's `notified()` future before checking
    /// for events, so one committed in between still wakes it.
    pub fn wait(&self, room_id: RoomId) -> Waiting<'_> {
        let notify = self.rooms().entry(room_id).or_default().clone();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting {
            waiters: self,
            room_id,
            notify,
        }
    }

    /// Wake everyone waiting for `room_id`.
    pub fn wake(&self, room_id: RoomId) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(notify) = self.rooms().get(&room_id) {
            notify.notify_waiters();
        }
    }
}

/// One long-poll's place among a room's waiters.
pub struct Waiting<'a> {
    waiters: &'a RoomWaiters,
    room_id: RoomId,
    notify: Arc<Notify>,
}

impl Waiting<'_> {
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.waiters.waiting.fetch_sub(1, Ordering::SeqCst);
        let mut rooms = self.waiters.rooms();
        // The map's and this guard's: nobody else waits here.
        if Arc::strong_count(&self.notify) == 2 {
            rooms.remove(&self.room_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_wake_reaches_the_rooms_waiters_only() {
        let waiters = RoomWaiters::default();
        {
            let here = waiters.wait(1);
            let elsewhere = waiters.wait(2);
            let woken = here.notify().notified();
            let not_woken = elsewhere.notify().notified();
            tokio::pin!(woken, not_woken);
            woken.as_mut().enable();
            not_woken.as_mut().enable();
            waiters.wake(1);
            tokio::time::timeout(Duration::from_secs(1), woken)
                .await
                .expect("woken");
            let slept = tokio::time::timeout(Duration::from_millis(20), not_woken).await;
            assert!(slept.is_err());
        }
        assert!(waiters.rooms().is_empty());
        assert_eq!(waiters.waiting.load(Ordering::SeqCst), 0);
    }
}
