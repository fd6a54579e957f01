//! A token bucket: a burst of requests, then a steady rate.

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
