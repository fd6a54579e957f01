//! Throttling of password guessing and of registration floods, in memory.
//!
//! Failed password logins are counted per account (by name, whether or not it exists, so the
//! answer says nothing about existence) and per address. After a number of free failures,
//! each further failure locks that key for an exponentially growing time, capped at
//! `login_lockout_max_ms`: guessing drops to about one try a minute per account and per
//! address. A locked attempt is refused with `rate_limited` and a retry hint before any
//! hashing. The account lockout is capped, forgotten after a quiet period and cleared by a
//! successful login, and it only delays password logins: a real user's devices keep their
//! tokens, so an attacker can slow a user down, never lock them out for good.
//!
//! Registrations are limited per address by a token bucket (`registrations_per_address_per_hour`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Keys tracked per table before stale ones are pruned (bounds memory under a flood of
/// made-up usernames or addresses).
const MAX_TRACKED: usize = 65_536;
/// Failures are forgotten after this long without another.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Usernames are at most 32 characters; longer names in a login are cut for the key.
const MAX_KEY_CHARS: usize = 64;

#[derive(Debug, Clone)]
pub struct GuardConfig {
    pub free_failures_per_account: u32,
    pub free_failures_per_address: u32,
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    pub registrations_per_hour: u32,
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    failures: u32,
    locked_until: Instant,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct Tables {
    accounts: HashMap<String, Strikes>,
    addresses: HashMap<IpAddr, Strikes>,
    registrations: HashMap<IpAddr, Bucket>,
}

#[derive(Debug)]
pub struct LoginGuard {
    config: GuardConfig,
    tables: Mutex<Tables>,
}

fn account_key(username: &str) -> String {
    username
        .chars()
        .take(MAX_KEY_CHARS)
        .collect::<String>()
        .to_lowercase()
}

fn locked<K: Eq + Hash>(table: &HashMap<K, Strikes>, key: &K, now: Instant) -> Option<Duration> {
    let strikes = table.get(key)?;
    (strikes.locked_until > now).then(|| strikes.locked_until - now)
}

/// Drop entries nobody needs any more, when a table is full.
fn prune<K: Eq + Hash>(table: &mut HashMap<K, Strikes>, now: Instant) {
    if table.len() < MAX_TRACKED {
        return;
    }
    table.retain(|_, s| s.locked_until > now || now - s.last < FORGET_AFTER);
    if table.len() >= MAX_TRACKED {
        // Still full of recent keys: keep only those that are locked.
        table.retain(|_, s| s.locked_until > now);
    }
}

impl LoginGuard {
    pub fn new(config: GuardConfig) -> LoginGuard {
        LoginGuard {
            config,
            tables: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // Counters only: a panic mid-update leaves nothing worth refusing service over.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May a password login for `username` from `address` be tried now? Err holds how long
    /// to wait.
    pub fn check_login(&self, username: &str, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let tables = self.tables();
        let wait = [
            locked(&tables.accounts, &account_key(username), now),
            locked(&tables.addresses, &address, now),
        ];
        match wait.into_iter().flatten().max() {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Count a wrong password (or unknown user); returns the lockout it started, if any.
    pub fn login_failed(&self, username: &str, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let config = &self.config;
        let mut tables = self.tables();
        prune(&mut tables.accounts, now);
        prune(&mut tables.addresses, now);
        let account = strike(
            tables
                .accounts
                .entry(account_key(username))
                .or_insert(Strikes {
                    failures: 0,
                    locked_until: now,
                    last: now,
                }),
            now,
            config.free_failures_per_account,
            config,
        );
        let address = strike(
            tables.addresses.entry(address).or_insert(Strikes {
                failures: 0,
                locked_until: now,
                last: now,
            }),
            now,
            config.free_failures_per_address,
            config,
        );
        account.max(address)
    }

    /// A correct password: the account and the address start afresh.
    pub fn login_succeeded(&self, username: &str, address: IpAddr) {
        let mut tables = self.tables();
        tables.accounts.remove(&account_key(username));
        tables.addresses.remove(&address);
    }

    /// Take one registration from `address`'s allowance; Err holds how long until the next.
    pub fn take_registration(&self, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let capacity = f64::from(self.config.registrations_per_hour.max(1));
        let per_second = capacity / 3600.0;
        let mut tables = self.tables();
        if tables.registrations.len() >= MAX_TRACKED {
            // A full bucket is the same as no entry.
            let full_after = Duration::from_secs(3600);
            tables
                .registrations
                .retain(|_, b| now - b.last < full_after);
        }
        let bucket = tables.registrations.entry(address).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = (now - bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// Give back a registration taken by [`LoginGuard::take_registration`] that did not create
    /// an account after all (the hashing pool was busy, the name was taken meanwhile).
    pub fn refund_registration(&self, address: IpAddr) {
        let capacity = f64::from(self.config.registrations_per_hour.max(1));
        if let Some(bucket) = self.tables().registrations.get_mut(&address) {
            bucket.tokens = (bucket.tokens + 1.0).min(capacity);
        }
    }
}

/// One more failure on a key: past the free ones, lock it for base × 2^(failures − free − 1),
/// at most the configured maximum.
fn strike(
    strikes: &mut Strikes,
    now: Instant,
    free: u32,
    config: &GuardConfig,
) -> Option<Duration> {
    if now - strikes.last >= FORGET_AFTER && strikes.locked_until <= now {
        strikes.failures = 0;
    }
    strikes.failures += 1;
    strikes.last = now;
    let over = strikes.failures.checked_sub(free)?.checked_sub(1)?;
    let lockout = config
        .lockout_base
        .saturating_mul(1u32 << over.min(20))
        .min(config.lockout_max);
    strikes.locked_until = now + lockout;
    Some(lockout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LoginGuard {
        LoginGuard::new(GuardConfig {
            free_failures_per_account: 3,
            free_failures_per_address: 10,
            lockout_base: Duration::from_secs(1),
            lockout_max: Duration::from_secs(60),
            registrations_per_hour: 3,
        })
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_locks_after_its_free_failures_and_doubles_up_to_the_cap() {
        let guard = guard();
        for n in 0..3 {
            assert!(guard.check_login("alice", ip(n)).is_ok());
            assert_eq!(guard.login_failed("alice", ip(n)), None, "free failure {n}");
        }
        assert_eq!(
            guard.login_failed("ALICE", ip(9)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            guard.check_login("alice", ip(42)),
            Err(Duration::from_secs(1)),
            "from any address, whatever the case of the name"
        );
        assert!(
            guard.check_login("bob", ip(42)).is_ok(),
            "others are not affected"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(guard.check_login("alice", ip(42)).is_ok());
        assert_eq!(
            guard.login_failed("alice", ip(9)),
            Some(Duration::from_secs(2))
        );
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(60)).await;
            guard.login_failed("alice", ip(9));
        }
        assert_eq!(
            guard.check_login("alice", ip(1)),
            Err(Duration::from_secs(60)),
            "the lockout is capped: a real user waits a minute at most"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn success_and_time_clear_the_strikes() {
        let guard = guard();
        for _ in 0..4 {
            guard.login_failed("alice", ip(1));
        }
        assert!(guard.check_login("alice", ip(1)).is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        guard.login_succeeded("alice", ip(1));
        assert_eq!(
            guard.login_failed("alice", ip(1)),
            None,
            "counting starts again"
        );
        for _ in 0..3 {
            guard.login_failed("alice", ip(1));
        }
        tokio::time::advance(FORGET_AFTER).await;
        assert_eq!(
            guard.login_failed("alice", ip(1)),
            None,
            "forgotten after a quiet while"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_that_sprays_many_accounts_is_locked() {
        let guard = guard();
        for n in 0..10 {
            assert_eq!(guard.login_failed(&format!("user{n}"), ip(7)), None);
        }
        assert!(guard.login_failed("user99", ip(7)).is_some());
        assert!(guard.check_login("fresh", ip(7)).is_err());
        assert!(guard.check_login("fresh", ip(8)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn registrations_per_address_refill_over_the_hour() {
        let guard = guard();
        for _ in 0..3 {
            assert!(guard.take_registration(ip(1)).is_ok());
        }
        let wait = guard.take_registration(ip(1)).unwrap_err();
        assert_eq!(wait.as_secs(), 1200, "one every 20 minutes at 3 an hour");
        assert!(guard.take_registration(ip(2)).is_ok(), "per address");
        guard.refund_registration(ip(1));
        assert!(
            guard.take_registration(ip(1)).is_ok(),
            "a refunded place is free again"
        );
        assert!(guard.take_registration(ip(1)).is_err());
        tokio::time::advance(wait).await;
        assert!(guard.take_registration(ip(1)).is_ok());
    }
}
