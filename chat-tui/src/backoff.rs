//! Reconnect timing: exponential backoff with full jitter, and the small random source behind it.

/// The first retry waits up to this long.
pub const BASE_MS: u64 = 500;
/// No retry waits longer than this.
pub const CAP_MS: u64 = 30_000;
/// A connection that lived this long was stable: the next failure starts the schedule again.
pub const STABLE_MS: i64 = 30_000;

/// The longest wait before retry number `attempt` (0-based): 0.5 s, 1 s, 2 s, ... up to 30 s.
pub fn ceiling_ms(attempt: u32) -> u64 {
    BASE_MS.saturating_mul(1u64 << attempt.min(16)).min(CAP_MS)
}

/// The wait before retry `attempt`: uniform in `0..=ceiling` ("full jitter"), so that many
/// clients dropped by the same server restart do not all come back in the same instant.
pub fn delay_ms(attempt: u32, rng: &mut Rng) -> u64 {
    rng.below(ceiling_ms(attempt) + 1)
}

/// xorshift64*: deterministic for tests, seeded from the OS in the real client. Used for jitter
/// and client ids, where speed and independence matter and cryptographic strength does not.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A seed from the standard library's per-process random keys.
    pub fn from_os() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        Rng::new(hasher.finish())
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for jitter (n is far below 2^64, so modulo bias is negligible).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A fresh client id for a message: 128 random bits in hex.
    pub fn client_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_half_a_second_to_thirty() {
        let schedule: Vec<u64> = (0..9).map(ceiling_ms).collect();
        assert_eq!(
            schedule,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(
            ceiling_ms(200),
            CAP_MS,
            "no overflow for huge attempt counts"
        );
    }

    #[test]
    fn delays_are_spread_over_the_whole_window() {
        let mut rng = Rng::new(7);
        let delays: Vec<u64> = (0..1000).map(|_| delay_ms(3, &mut rng)).collect();
        assert!(delays.iter().all(|&d| d <= 4000));
        assert!(
            delays.iter().any(|&d| d < 1000),
            "full jitter reaches low values"
        );
        assert!(delays.iter().any(|&d| d > 3000), "and high ones");
    }

    #[test]
    fn client_ids_differ() {
        let mut rng = Rng::new(1);
        let a = rng.client_id();
        let b = rng.client_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
