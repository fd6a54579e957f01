//! A token bucket: a burst of requests, then a steady rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(per_second: u32, burst: u32) -> TokenBucket {
        let capacity = f64::from(burst.max(1));
        TokenBucket {
            capacity,
            per_second: f64::from(per_second.max(1)),
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// Whether the bucket would be full now (no request in the last burst/rate seconds).
    pub fn is_full(&self) -> bool {
        let elapsed = Instant::now().duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }

    /// Take one token if there is one; otherwise say how long until there is.
    pub fn try_take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate() {
        let mut bucket = TokenBucket::new(10, 5);
        assert!(
            (0..5).all(|_| bucket.try_take().is_ok()),
            "the burst is allowed"
        );
        assert_eq!(
            bucket.try_take(),
            Err(Duration::from_millis(100)),
            "then it is empty, and says when the next token comes"
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(
            bucket.try_take().is_ok(),
            "one token refills every 100 ms at 10/s"
        );
        assert!(bucket.try_take().is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..10).filter(|_| bucket.try_take().is_ok()).count(),
            5,
            "refill stops at the burst size"
        );
    }
}

/// Buckets by key (a token), for requests that come without a connection to hold one (HTTP).
#[derive(Debug)]
pub struct KeyedBuckets {
    per_second: u32,
    burst: u32,
    buckets: Mutex<HashMap<i64, TokenBucket>>,
}

impl KeyedBuckets {
    pub fn new(per_second: u32, burst: u32) -> KeyedBuckets {
        KeyedBuckets {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn try_take(&self, key: i64) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(self.per_second, self.burst))
            .try_take()
    }

    /// Drop the buckets that have filled up again: they are as good as new.
    pub fn forget_idle(&self) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.retain(|_, bucket| !bucket.is_full());
    }
}
