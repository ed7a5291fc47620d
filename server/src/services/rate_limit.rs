//! The per-client rate limit on state-changing API requests (`rate_limit_per_minute`,
//! `rate_limit_burst`): a token bucket per (client, endpoint class), kept where the database
//! says (issue 14).
//!
//! - SQLite (one instance): [`LocalBuckets`], in this process's memory.
//! - PostgreSQL (any number of instances behind a load balancer): [`SharedBuckets`], the same
//!   token bucket stored in the database as GCRA (`rate_buckets`, one upsert per counted
//!   request, see [`rate_counters::take_token`]), so a client cannot multiply its budget by
//!   the number of instances; plus a local deny cache: once an instance learned that a bucket
//!   is empty until T, it refuses that client locally until T without asking the database.
//!
//! Both apply the same rule with the same keys, so a configuration means the same budget on
//! either database. When the database cannot be asked, the check fails closed
//! ([`LimitError::Unavailable`], answered 503 with `Retry-After`): only state-changing API
//! requests are limited, each of which needs the database anyway, so failing open would buy
//! no availability and would drop the protection exactly when the database is strained.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::storage::rate_counters::{self, Take};
use crate::storage::{Backend, Db, StorageError};

/// Entries a map of buckets (or of denials) holds before the stale ones are swept.
const SWEEP_AT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("too many requests; retry in {retry_after:?}")]
    Exceeded { retry_after: Duration },
    #[error("the rate-limit store cannot be asked: {0}")]
    Unavailable(#[from] StorageError),
}

/// Whole seconds to wait, rounded up, at least 1 (what `Retry-After` says).
pub fn seconds(wait: Duration) -> u64 {
    let s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    s.max(1)
}

/// The rate-limit bucket of a client address: an IPv4 address is its own bucket (also when it
/// arrives IPv4-mapped, `::ffff:a.b.c.d`); an IPv6 address counts for its /64, the smallest
/// network a subscriber usually gets, so hopping between addresses of one's own /64 gains
/// nothing.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
        )),
    }
}

/// The limiter of one instance: its buckets in memory or in the database.
pub enum Limiter {
    Local(LocalBuckets),
    Shared(SharedBuckets),
}

impl Limiter {
    /// The backend the database calls for: in memory on SQLite (a single instance), shared
    /// in the database on PostgreSQL. `per_minute` 0 turns the limit off.
    pub fn for_database(db: &Db, per_minute: u32, burst: u32) -> Self {
        match db.backend() {
            Backend::Sqlite => Self::Local(LocalBuckets::new(per_minute, burst)),
            Backend::Postgres => Self::Shared(SharedBuckets::new(db.clone(), per_minute, burst)),
        }
    }

    /// No limit (a router without limited routes).
    pub fn off() -> Self {
        Self::Local(LocalBuckets::new(0, 1))
    }

    /// Counts one request of `ip` (see [`rate_key`]) in `class`.
    pub async fn check(&self, ip: IpAddr, class: &'static str) -> Result<(), LimitError> {
        match self {
            Self::Local(l) => l
                .check(ip, class)
                .map_err(|retry_after| LimitError::Exceeded {
                    retry_after: Duration::from_secs(retry_after),
                }),
            Self::Shared(s) => s.check(ip, class).await,
        }
    }
}

/// Tokens left and when they were counted.
type Bucket = (f64, Instant);

/// A token bucket per (client bucket, endpoint class) in this process; see [`rate_key`].
pub struct LocalBuckets {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<(IpAddr, &'static str), Bucket>>,
}

impl LocalBuckets {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Ok, or the seconds to wait.
    pub fn check(&self, ip: IpAddr, class: &'static str) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_AT {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry((rate_key(ip), class)).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// The token buckets in the database (PostgreSQL), shared by every instance, with a local
/// cache of the denials this instance has seen.
pub struct SharedBuckets {
    db: Db,
    /// One token per this many microseconds (0: the limit is off).
    interval_micros: i64,
    burst: u32,
    /// Buckets known empty, until when (this process's clock).
    denied: Mutex<HashMap<(IpAddr, &'static str), Instant>>,
}

impl SharedBuckets {
    pub fn new(db: Db, per_minute: u32, burst: u32) -> Self {
        Self {
            db,
            interval_micros: if per_minute == 0 {
                0
            } else {
                (60_000_000 / i64::from(per_minute)).max(1)
            },
            burst: burst.max(1),
            denied: Mutex::new(HashMap::new()),
        }
    }

    /// The database row's key: the class, then the client's bucket address.
    fn bucket(key: IpAddr, class: &str) -> String {
        format!("{class}/{key}")
    }

    /// Refused locally while this instance knows the bucket is empty; otherwise one upsert.
    pub async fn check(&self, ip: IpAddr, class: &'static str) -> Result<(), LimitError> {
        if self.interval_micros == 0 {
            return Ok(());
        }
        let key = (rate_key(ip), class);
        if let Some(wait) = self.known_empty(key) {
            return Err(LimitError::Exceeded { retry_after: wait });
        }
        let take = {
            let mut conn = self.db.conn().await?;
            rate_counters::take_token(
                &mut conn,
                &Self::bucket(key.0, class),
                self.interval_micros,
                self.burst,
            )
            .await?
        };
        match take {
            Take::Taken => Ok(()),
            Take::Empty { wait_micros } => {
                let wait = Duration::from_micros(wait_micros.unsigned_abs());
                self.remember_empty(key, wait);
                Err(LimitError::Exceeded { retry_after: wait })
            }
        }
    }

    /// How long the bucket stays empty, when a denial of it is cached and not over yet.
    fn known_empty(&self, key: (IpAddr, &'static str)) -> Option<Duration> {
        let denied = self.denied.lock().unwrap_or_else(|p| p.into_inner());
        let until = *denied.get(&key)?;
        until.checked_duration_since(Instant::now())
    }

    fn remember_empty(&self, key: (IpAddr, &'static str), wait: Duration) {
        let now = Instant::now();
        let mut denied = self.denied.lock().unwrap_or_else(|p| p.into_inner());
        if denied.len() > SWEEP_AT {
            denied.retain(|_, until| *until > now);
        }
        denied.insert(key, now + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let l = LocalBuckets::new(60, 3);
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!(l.check(ip, "login").is_ok());
        assert!(l.check(ip, "login").is_ok());
        assert!(l.check(ip, "login").is_ok());
        assert_eq!(l.check(ip, "login"), Err(1));
        assert!(l.check(ip, "resend").is_ok(), "classes are separate");
        assert!(
            l.check(IpAddr::from([10, 0, 0, 2]), "login").is_ok(),
            "IPs are separate"
        );
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_ipv4_by_address() {
        assert_eq!(rate_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_ne!(rate_key(ip("203.0.113.7")), rate_key(ip("203.0.113.8")));
        assert_eq!(rate_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("::1")), ip("::"));

        let l = LocalBuckets::new(60, 2);
        assert!(l.check(ip("2001:db8:1:2::1"), "login").is_ok());
        assert!(l.check(ip("2001:db8:1:2::2"), "login").is_ok());
        assert!(
            l.check(ip("2001:db8:1:2:dead:beef::3"), "login").is_err(),
            "one /64, one bucket"
        );
        assert!(l.check(ip("2001:db8:1:3::1"), "login").is_ok());
        assert!(l.check(ip("198.51.100.1"), "login").is_ok());
        assert!(l.check(ip("::ffff:198.51.100.1"), "login").is_ok());
        assert!(
            l.check(ip("198.51.100.1"), "login").is_err(),
            "mapped and plain IPv4 share the bucket"
        );
        assert!(l.check(ip("198.51.100.2"), "login").is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::from_micros(1)), 1);
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_secs(2)), 2);
        assert_eq!(seconds(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn shared_bucket_keys_name_class_and_client() {
        assert_eq!(
            SharedBuckets::bucket(rate_key(ip("2001:db8:1:2::9")), "login"),
            "login/2001:db8:1:2::"
        );
        assert_eq!(
            SharedBuckets::bucket(ip("127.0.0.2"), "nonce"),
            "nonce/127.0.0.2"
        );
    }
}
